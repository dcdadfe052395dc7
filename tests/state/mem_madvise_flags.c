/*
 * VMA flags set by madvise: regions with MADV_DONTDUMP (dd), MADV_DONTFORK
 * (dc), MADV_WIPEONFORK (wf), MADV_HUGEPAGE (hg), MADV_NOHUGEPAGE (nh),
 * MADV_MERGEABLE (mg) and combinations, with data or untouched, private or
 * shared, writable or read-only, each between PROT_NONE guard pages.  After
 * restart the smaps VmFlags line of every VMA made here (regions and guards)
 * is the same, and every byte too.
 */
#include "vm_flags.h"

#include <sys/mman.h>

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif

enum {
	REGION_PAGES = 4,
	SLOT_PAGES = REGION_PAGES + 1,
	FLAGS_MAX = 160
};

struct advised_region {
	const char *name;
	int advice[3]; /* 0 ends the list */
	bool shared;
	bool filled;
	bool read_only; /* mprotect(PROT_READ) after filling */
	unsigned char *bytes;
	char vm_flags[FLAGS_MAX];
	char guard_flags[FLAGS_MAX]; /* the PROT_NONE page after the region */
};

static struct advised_region regions[] = {
	{ "plain", { 0 }, false, true, false, NULL, "", "" },
	{ "dontdump", { MADV_DONTDUMP }, false, true, false, NULL, "", "" },
	{ "dontdump untouched", { MADV_DONTDUMP }, false, false, false, NULL, "", "" },
	{ "dontfork", { MADV_DONTFORK }, false, true, false, NULL, "", "" },
	{ "wipeonfork", { MADV_WIPEONFORK }, false, true, false, NULL, "", "" },
	{ "hugepage", { MADV_HUGEPAGE }, false, true, false, NULL, "", "" },
	{ "nohugepage", { MADV_NOHUGEPAGE }, false, true, false, NULL, "", "" },
	{ "mergeable", { MADV_MERGEABLE }, false, true, false, NULL, "", "" },
	{ "mergeable untouched", { MADV_MERGEABLE }, false, false, false, NULL, "", "" },
	{ "mergeable dontdump", { MADV_MERGEABLE, MADV_DONTDUMP }, false, true, false, NULL, "", "" },
	{ "mergeable read-only", { MADV_MERGEABLE }, false, true, true, NULL, "", "" },
	{ "dontfork wipeonfork nohugepage",
	  { MADV_DONTFORK, MADV_WIPEONFORK, MADV_NOHUGEPAGE },
	  false,
	  true,
	  false,
	  NULL,
	  "",
	  "" },
	{ "dontdump read-only", { MADV_DONTDUMP }, false, true, true, NULL, "", "" },
	{ "shared dontdump", { MADV_DONTDUMP }, true, true, false, NULL, "", "" },
	{ "shared hugepage dontfork", { MADV_HUGEPAGE, MADV_DONTFORK }, true, true, false, NULL, "", "" },
};

enum {
	REGION_COUNT = sizeof(regions) / sizeof(regions[0])
};

static void advise_region(struct advised_region *region, size_t length)
{
	for (int i = 0; i < 3 && region->advice[i]; i++) {
		if (madvise(region->bytes, length, region->advice[i]) == 0)
			continue;
		if (region->advice[i] == MADV_MERGEABLE && errno == EINVAL)
			state_skip("MADV_MERGEABLE: this kernel has no KSM");
		state_setup_fail("madvise(%d) on region %s: %s", region->advice[i], region->name,
				 strerror(errno));
	}
}

static void map_region(struct advised_region *region, unsigned char *at, uint64_t seed)
{
	size_t length = REGION_PAGES * STATE_PAGE_SIZE;
	int sharing = region->shared ? MAP_SHARED : MAP_PRIVATE;
	void *address =
		mmap(at, length, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_ANONYMOUS | sharing, -1, 0);

	if (address == MAP_FAILED)
		state_setup_fail("mmap region %s: %s", region->name, strerror(errno));
	region->bytes = address;
	advise_region(region, length);
	if (region->filled)
		state_fill(region->bytes, length, seed);
	if (region->read_only && mprotect(region->bytes, length, PROT_READ) != 0)
		state_setup_fail("mprotect region %s: %s", region->name, strerror(errno));
}

static void record_region(struct advised_region *region)
{
	vm_flags_of(region->bytes, region->vm_flags, FLAGS_MAX);
	vm_flags_of(region->bytes + REGION_PAGES * STATE_PAGE_SIZE, region->guard_flags, FLAGS_MAX);
	if (region->vm_flags[0] == '\0' || region->guard_flags[0] == '\0')
		state_setup_fail("no smaps entry for region %s", region->name);
}

static void check_region(const struct advised_region *region, uint64_t seed)
{
	size_t length = REGION_PAGES * STATE_PAGE_SIZE;
	char vm_flags[FLAGS_MAX];
	char what[96];

	vm_flags_of(region->bytes, vm_flags, sizeof(vm_flags));
	snprintf(what, sizeof(what), "VmFlags of region %s", region->name);
	state_expect_equal_text(vm_flags, region->vm_flags, what);
	vm_flags_of(region->bytes + length, vm_flags, sizeof(vm_flags));
	snprintf(what, sizeof(what), "VmFlags of the guard after region %s", region->name);
	state_expect_equal_text(vm_flags, region->guard_flags, what);
	snprintf(what, sizeof(what), "region %s", region->name);
	if (region->filled)
		state_expect_pattern(region->bytes, length, seed, what);
	else
		state_expect(state_is_all_zero(region->bytes, length), "%s is not zero", what);
}

int main(void)
{
	size_t slot = SLOT_PAGES * STATE_PAGE_SIZE;
	unsigned char *area;

	state_init();
	area = mmap(NULL, REGION_COUNT * slot, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		state_setup_fail("mmap the guard area: %s", strerror(errno));
	for (unsigned index = 0; index < REGION_COUNT; index++)
		map_region(&regions[index], area + index * slot, 500 + index);
	for (unsigned index = 0; index < REGION_COUNT; index++)
		record_region(&regions[index]);
	state_ready();
	state_wait_go_signal();
	for (unsigned index = 0; index < REGION_COUNT; index++)
		check_region(&regions[index], 500 + index);
	state_finish();
}
