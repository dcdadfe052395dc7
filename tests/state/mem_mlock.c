/*
 * Locked memory: mlockall(MCL_CURRENT) locks every mapping the program
 * starts with, then mlockall(MCL_FUTURE | MCL_ONFAULT) makes every later
 * mapping locked on fault.  Regions made after that: one mlock2()ed fully
 * (locked and populated), one left locked on fault with one page touched,
 * one munlock()ed, one unlocked and then locked on fault in its middle only
 * (three VMAs).  After restart every VMA of the process has the same
 * address range and the same lock flags ("lo", "lf") in smaps, the
 * regions' VmFlags lines and bytes are the same, VmLck in
 * /proc/self/status is the same, and a new mapping is still locked on
 * fault (MCL_FUTURE | MCL_ONFAULT is per memory map, shown nowhere else).
 */
#include "vm_flags.h"

#include <sys/mman.h>

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

enum {
	REGION_PAGES = 6,
	REGION_BYTES = REGION_PAGES * STATE_PAGE_SIZE,
	FLAGS_MAX = 160
};
enum {
	LOCKS_MAX = 1 << 16
};

enum lock_kind {
	LOCK_FULL,
	LOCK_ON_FAULT,
	UNLOCKED,
	LOCK_MIDDLE_ON_FAULT
};

struct locked_region {
	const char *name;
	enum lock_kind kind;
	unsigned char *bytes;
	char vm_flags[3][FLAGS_MAX]; /* the region's VMAs: 1, or 3 for LOCK_MIDDLE_ON_FAULT */
};

static struct locked_region regions[] = {
	{ "mlock2", LOCK_FULL, NULL, { "" } },
	{ "future on fault", LOCK_ON_FAULT, NULL, { "" } },
	{ "munlocked", UNLOCKED, NULL, { "" } },
	{ "middle on fault", LOCK_MIDDLE_ON_FAULT, NULL, { "" } },
};

enum {
	REGION_COUNT = sizeof(regions) / sizeof(regions[0])
};

static char locks_before[LOCKS_MAX];
static long long locked_kib_before;

static unsigned vma_count_of(const struct locked_region *region)
{
	return region->kind == LOCK_MIDDLE_ON_FAULT ? 3 : 1;
}

static unsigned char *vma_start_of(const struct locked_region *region, unsigned vma)
{
	return region->bytes + (vma == 0 ? 0 : vma == 1 ? 2 : 4) * STATE_PAGE_SIZE;
}

static void lock_region(struct locked_region *region)
{
	int ret = 0;

	if (region->kind == LOCK_FULL)
		ret = (int)syscall(SYS_mlock2, region->bytes, REGION_BYTES, 0);
	else if (region->kind != LOCK_ON_FAULT)
		ret = munlock(region->bytes, REGION_BYTES);
	if (ret == 0 && region->kind == LOCK_MIDDLE_ON_FAULT)
		ret = (int)syscall(SYS_mlock2, region->bytes + 2 * STATE_PAGE_SIZE,
				   2 * STATE_PAGE_SIZE, MLOCK_ONFAULT);
	if (ret != 0)
		state_setup_fail("locking region %s: %s", region->name, strerror(errno));
}

static void make_region(struct locked_region *region, uint64_t seed)
{
	void *address =
		mmap(NULL, REGION_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (address == MAP_FAILED)
		state_setup_fail("mmap region %s: %s", region->name, strerror(errno));
	region->bytes = address;
	lock_region(region);
	state_fill(region->bytes, STATE_PAGE_SIZE, seed); /* the first page */
	if (region->kind == LOCK_FULL)
		state_fill(region->bytes, REGION_BYTES, seed);
}

static void record_region(struct locked_region *region)
{
	for (unsigned vma = 0; vma < vma_count_of(region); vma++)
		vm_flags_of(vma_start_of(region, vma), region->vm_flags[vma], FLAGS_MAX);
}

static void check_region(const struct locked_region *region, uint64_t seed)
{
	char vm_flags[FLAGS_MAX];
	char what[96];

	for (unsigned vma = 0; vma < vma_count_of(region); vma++) {
		vm_flags_of(vma_start_of(region, vma), vm_flags, sizeof(vm_flags));
		snprintf(what, sizeof(what), "VmFlags of region %s (VMA %u)", region->name, vma);
		state_expect_equal_text(vm_flags, region->vm_flags[vma], what);
	}
	snprintf(what, sizeof(what), "region %s", region->name);
	if (region->kind == LOCK_FULL)
		state_expect_pattern(region->bytes, REGION_BYTES, seed, what);
	else
		state_expect_pattern(region->bytes, STATE_PAGE_SIZE, seed, what);
}

/* One line per VMA: its range, then "lo" and "lf" if it has them. */
static void read_lock_flags(char *out, size_t capacity)
{
	static char smaps[1 << 21];
	char *line = smaps;

	out[0] = '\0';
	if (state_read_file("/proc/self/smaps", smaps, sizeof(smaps)) < 0)
		return;
	while (*line != '\0') {
		char *line_end = strchr(line, '\n');
		char entry[96];

		if (line_end)
			*line_end = '\0';
		if (strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(entry, sizeof(entry), "%s%s\n",
				 vm_flags_have(line, "lo") ? " lo" : "",
				 vm_flags_have(line, "lf") ? " lf" : "");
			state_append_text(out, capacity, entry, strlen(entry));
		} else if (strchr(line, '-') && strchr(line, '-') < strchr(line, ' ') &&
			   strstr(line, "[vsyscall]") == NULL) {
			snprintf(entry, sizeof(entry), "%.*s", (int)strcspn(line, " "), line);
			state_append_text(out, capacity, entry, strlen(entry));
		}
		line = line_end ? line_end + 1 : line + strlen(line);
	}
}

static long long locked_kib(void)
{
	static char status[8192];
	const char *field;

	if (state_read_file("/proc/self/status", status, sizeof(status)) < 0)
		return -1;
	field = strstr(status, "VmLck:");
	return field ? strtoll(field + 6, NULL, 10) : -1;
}

/* Reports the first VMA line that differs (the text holds one line per VMA). */
static void expect_same_lock_flags(const char *now, const char *before)
{
	while (*now != '\0' || *before != '\0') {
		size_t now_length = strcspn(now, "\n");
		size_t before_length = strcspn(before, "\n");

		if (now_length != before_length || memcmp(now, before, now_length) != 0) {
			state_expect(false, "VMA lock flags: \"%.*s\", were \"%.*s\"",
				     (int)now_length, now, (int)before_length, before);
			return;
		}
		now += now_length + (now[now_length] == '\n');
		before += before_length + (before[before_length] == '\n');
	}
}

static void check_new_mapping_locked_on_fault(void)
{
	void *address = mmap(NULL, STATE_PAGE_SIZE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char vm_flags[FLAGS_MAX];

	if (!state_expect(address != MAP_FAILED, "mmap after restart: %s", strerror(errno)))
		return;
	vm_flags_of(address, vm_flags, sizeof(vm_flags));
	state_expect(vm_flags_have(vm_flags, "lo") && vm_flags_have(vm_flags, "lf"),
		     "a new mapping is not locked on fault: %s", vm_flags);
	munmap(address, STATE_PAGE_SIZE);
}

int main(void)
{
	static char locks_now[LOCKS_MAX];

	state_init();
	if (mlockall(MCL_CURRENT) != 0 || mlockall(MCL_FUTURE | MCL_ONFAULT) != 0)
		state_setup_fail("mlockall: %s", strerror(errno));
	for (unsigned index = 0; index < REGION_COUNT; index++)
		make_region(&regions[index], 700 + index);
	for (unsigned index = 0; index < REGION_COUNT; index++)
		record_region(&regions[index]);
	read_lock_flags(locks_before, sizeof(locks_before));
	locked_kib_before = locked_kib();
	state_ready();
	state_wait_go_signal();
	read_lock_flags(locks_now, sizeof(locks_now));
	expect_same_lock_flags(locks_now, locks_before);
	state_expect_equal_long(locked_kib(), locked_kib_before, "VmLck");
	for (unsigned index = 0; index < REGION_COUNT; index++)
		check_region(&regions[index], 700 + index);
	check_new_mapping_locked_on_fault();
	state_finish();
}
