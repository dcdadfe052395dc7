/*
 * Wipe-on-fork memory (MADV_WIPEONFORK) and MAP_DROPPABLE memory (which is
 * wiped on fork too) in a parent and its forked child.  The root fills
 * both regions and forks: the child's copies start zeroed.  The child then
 * writes pages 0 and 2 of the wipe-on-fork region and page 1 of the
 * droppable one, with patterns of its own.  After restart each process sees
 * its own bytes (the root its patterns, the child its pages and zeros),
 * the VmFlags lines are unchanged, and a child forked after restart again
 * starts with both regions zeroed.  (Droppable pages may be dropped by the
 * kernel under memory pressure: a droppable page may read zero, never
 * another process's bytes.)
 */
#include "vm_flags.h"

#include <sys/mman.h>

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif
#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif

enum {
	REGION_PAGES = 4,
	REGION_BYTES = REGION_PAGES * STATE_PAGE_SIZE,
	FLAGS_MAX = 160
};

#include "tree.h"

static unsigned char *wipe_region;
static unsigned char *droppable_region; /* NULL: the kernel has no MAP_DROPPABLE */
static char wipe_flags[FLAGS_MAX];
static char droppable_flags[FLAGS_MAX];

static uint64_t page_seed(bool child, bool droppable, unsigned page)
{
	return (child ? 7000 : 6000) + (droppable ? 100 : 0) + page;
}

static void fill_pages(unsigned char *region, unsigned pages_mask, bool child, bool droppable)
{
	for (unsigned page = 0; page < REGION_PAGES; page++) {
		if (pages_mask & (1u << page))
			state_fill(region + page * STATE_PAGE_SIZE, STATE_PAGE_SIZE,
				   page_seed(child, droppable, page));
	}
}

/* Pages in pages_mask hold the pattern of `child`, the others are zero. */
static void expect_pages(const unsigned char *region, unsigned pages_mask, bool child,
			 bool droppable, const char *who)
{
	for (unsigned page = 0; page < REGION_PAGES; page++) {
		const unsigned char *bytes = region + page * STATE_PAGE_SIZE;
		bool zero = state_is_all_zero(bytes, STATE_PAGE_SIZE);
		bool ok = zero;

		if (pages_mask & (1u << page))
			ok = state_find_mismatch(bytes, STATE_PAGE_SIZE,
						 page_seed(child, droppable, page)) < 0 ||
			     (droppable && zero);
		state_expect(ok, "%s: %s page %u %s", who, droppable ? "droppable" : "wipe-on-fork",
			     page, pages_mask & (1u << page) ? "lost its data" : "is not zero");
	}
}

static void map_regions(void)
{
	void *address =
		mmap(NULL, REGION_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (address == MAP_FAILED || madvise(address, REGION_BYTES, MADV_WIPEONFORK) != 0)
		state_setup_fail("wipe-on-fork region: %s", strerror(errno));
	wipe_region = address;
	address = mmap(NULL, REGION_BYTES, PROT_READ | PROT_WRITE, MAP_DROPPABLE | MAP_ANONYMOUS,
		       -1, 0);
	if (address != MAP_FAILED)
		droppable_region = address;
	fill_pages(wipe_region, 0xf, false, false);
	if (droppable_region)
		fill_pages(droppable_region, 0xf, false, true);
}

static void record_flags(void)
{
	vm_flags_of(wipe_region, wipe_flags, FLAGS_MAX);
	if (droppable_region)
		vm_flags_of(droppable_region, droppable_flags, FLAGS_MAX);
}

static void expect_flags(const char *who)
{
	char now[FLAGS_MAX];
	char what[64];

	vm_flags_of(wipe_region, now, sizeof(now));
	snprintf(what, sizeof(what), "%s: VmFlags of the wipe-on-fork region", who);
	state_expect_equal_text(now, wipe_flags, what);
	if (!droppable_region)
		return;
	vm_flags_of(droppable_region, now, sizeof(now));
	snprintf(what, sizeof(what), "%s: VmFlags of the droppable region", who);
	state_expect_equal_text(now, droppable_flags, what);
}

static void expect_own_bytes(bool child, const char *who)
{
	expect_pages(wipe_region, child ? 0x5 : 0xf, child, false, who);
	if (droppable_region)
		expect_pages(droppable_region, child ? 0x2 : 0xf, child, true, who);
}

/* After restart: a new child still starts with both regions zeroed. */
static void expect_wiped_in_new_child(void)
{
	pid_t child = fork();

	if (child == 0) {
		bool wiped = state_is_all_zero(wipe_region, REGION_BYTES) &&
			     (!droppable_region || state_is_all_zero(droppable_region, REGION_BYTES));

		_exit(wiped ? 0 : 3);
	}
	state_expect(child > 0, "fork after restart: %s", strerror(errno));
	if (child > 0)
		tree_expect_child_exit(child, 0, "child forked after restart");
}

static void run_child(void)
{
	expect_pages(wipe_region, 0, true, false, "child before writing");
	if (droppable_region)
		expect_pages(droppable_region, 0, true, true, "child before writing");
	fill_pages(wipe_region, 0x5, true, false);
	if (droppable_region)
		fill_pages(droppable_region, 0x2, true, true);
	record_flags();
	tree_report_ready();
	state_wait_go_signal();
	expect_own_bytes(true, "child");
	expect_flags("child");
	tree_child_finish(0);
}

int main(void)
{
	pid_t child;

	tree_init();
	map_regions();
	child = tree_fork();
	if (child == 0) {
		memset(wipe_flags, 0, sizeof(wipe_flags));
		run_child();
	}
	tree_wait_ready(child);
	record_flags();
	state_ready();
	tree_wait_go(&child, 1);
	expect_own_bytes(false, "root");
	expect_flags("root");
	expect_wiped_in_new_child();
	tree_expect_child_exit(child, 0, "child");
	state_finish();
}
