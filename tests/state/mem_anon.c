/*
 * Anonymous private mmaps: regions of several sizes and kinds (one at a
 * fixed address, one populated up front, one MAP_NORESERVE, ones with
 * madvise flags) hold patterns.  After restart their /proc/self/maps lines,
 * their smaps VmFlags and every byte are the same.
 */
#include "state.h"

#include <sys/mman.h>

enum {
	REGION_COUNT = 6,
	LINES_MAX = 1024
};

struct anon_region {
	const char *name;
	size_t pages;
	int extra_flags;
	int advice;
	unsigned char *bytes;
	char maps_lines[LINES_MAX];
	char vm_flags[128];
};

#define FIXED_ADDRESS ((void *)0x100000000000UL)

static struct anon_region regions[REGION_COUNT] = {
	{ "one page", 1, 0, -1, NULL, "", "" },
	{ "17 pages", 17, 0, -1, NULL, "", "" },
	{ "fixed address", 8, MAP_FIXED_NOREPLACE, -1, NULL, "", "" },
	{ "populated", 64, MAP_POPULATE, -1, NULL, "", "" },
	{ "noreserve", 32, MAP_NORESERVE, -1, NULL, "", "" },
	{ "dontfork", 5, 0, MADV_DONTFORK, NULL, "", "" },
};

static void smaps_vm_flags(const void *start, char *out, size_t capacity)
{
	static char smaps[1 << 20];
	char header[32];
	char *block;
	char *flags;

	out[0] = '\0';
	if (state_read_file("/proc/self/smaps", smaps, sizeof(smaps)) < 0)
		return;
	snprintf(header, sizeof(header), "%lx-", (unsigned long)start);
	block = strstr(smaps, header);
	if (block == NULL)
		return;
	flags = strstr(block, "VmFlags:");
	if (flags == NULL)
		return;
	snprintf(out, capacity, "%.*s", (int)strcspn(flags, "\n"), flags);
}

static void map_region(struct anon_region *region, uint64_t seed)
{
	size_t length = region->pages * STATE_PAGE_SIZE;
	void *hint = region->extra_flags & MAP_FIXED_NOREPLACE ? FIXED_ADDRESS : NULL;
	void *address = mmap(hint, length, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | region->extra_flags, -1, 0);

	if (address == MAP_FAILED)
		state_setup_fail("mmap %s: %s", region->name, strerror(errno));
	if (hint != NULL && address != hint)
		state_setup_fail("mmap %s landed at %p", region->name, address);
	if (region->advice >= 0 && madvise(address, length, region->advice) != 0)
		state_setup_fail("madvise %s: %s", region->name, strerror(errno));
	region->bytes = address;
	state_fill(region->bytes, length, seed);
}

static void record_region(struct anon_region *region)
{
	uintptr_t start = (uintptr_t)region->bytes;

	state_maps_lines_in(start, start + region->pages * STATE_PAGE_SIZE, region->maps_lines,
			    sizeof(region->maps_lines));
	smaps_vm_flags(region->bytes, region->vm_flags, sizeof(region->vm_flags));
}

static void check_region(const struct anon_region *region, uint64_t seed)
{
	uintptr_t start = (uintptr_t)region->bytes;
	char maps_lines[LINES_MAX];
	char vm_flags[128];
	char what[96];

	state_maps_lines_in(start, start + region->pages * STATE_PAGE_SIZE, maps_lines,
			    sizeof(maps_lines));
	snprintf(what, sizeof(what), "maps of region %s", region->name);
	state_expect_equal_text(maps_lines, region->maps_lines, what);
	smaps_vm_flags(region->bytes, vm_flags, sizeof(vm_flags));
	snprintf(what, sizeof(what), "smaps of region %s", region->name);
	state_expect_equal_text(vm_flags, region->vm_flags, what);
	snprintf(what, sizeof(what), "region %s", region->name);
	state_expect_pattern(region->bytes, region->pages * STATE_PAGE_SIZE, seed, what);
}

int main(void)
{
	state_init();
	for (unsigned index = 0; index < REGION_COUNT; index++)
		map_region(&regions[index], 300 + index);
	for (unsigned index = 0; index < REGION_COUNT; index++)
		record_region(&regions[index]);
	state_ready();
	state_wait_go_signal();
	for (unsigned index = 0; index < REGION_COUNT; index++)
		check_region(&regions[index], 300 + index);
	state_finish();
}
