/*
 * Pages that were only read (so they map the kernel's zero page) read back
 * as zero after restart, next to written pages that keep their data, and
 * can still be written afterwards without disturbing their neighbours.  A
 * read-only anonymous mapping that was read also reads zero.
 */
#include "state.h"

#include <sys/mman.h>

enum {
	REGION_PAGES = 64,
	READONLY_PAGES = 16
};

static unsigned char *mixed_region;
static const unsigned char *readonly_region;

static bool page_is_written(size_t page)
{
	return page % 2 == 1 || page % 7 == 0;
}

static unsigned char *page_address(size_t page)
{
	return mixed_region + page * STATE_PAGE_SIZE;
}

static void build_regions(void)
{
	mixed_region = mmap(NULL, REGION_PAGES * STATE_PAGE_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	readonly_region = mmap(NULL, READONLY_PAGES * STATE_PAGE_SIZE, PROT_READ,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mixed_region == MAP_FAILED || readonly_region == MAP_FAILED)
		state_setup_fail("mmap: %s", strerror(errno));
	for (size_t page = 0; page < REGION_PAGES; page++) {
		if (page_is_written(page))
			state_fill(page_address(page), STATE_PAGE_SIZE, 400 + page);
		else
			state_touch_read(page_address(page) + page * 13);
	}
	for (size_t page = 0; page < READONLY_PAGES; page++)
		state_touch_read(readonly_region + page * STATE_PAGE_SIZE + 99);
}

static void check_pages(void)
{
	char what[64];

	for (size_t page = 0; page < REGION_PAGES; page++) {
		snprintf(what, sizeof(what), "written page %zu", page);
		if (page_is_written(page))
			state_expect_pattern(page_address(page), STATE_PAGE_SIZE, 400 + page, what);
		else
			state_expect(state_is_all_zero(page_address(page), STATE_PAGE_SIZE),
				     "read-only-touched page %zu is not zero", page);
	}
	state_expect(state_is_all_zero(readonly_region, READONLY_PAGES * STATE_PAGE_SIZE),
		     "read-only anonymous region is not zero");
}

static void check_zero_pages_writable(void)
{
	char what[64];

	for (size_t page = 0; page < REGION_PAGES; page++) {
		if (!page_is_written(page))
			state_fill(page_address(page), STATE_PAGE_SIZE, 800 + page);
	}
	for (size_t page = 0; page < REGION_PAGES; page++) {
		uint64_t seed = page_is_written(page) ? 400 + page : 800 + page;

		snprintf(what, sizeof(what), "page %zu after writing the zero pages", page);
		state_expect_pattern(page_address(page), STATE_PAGE_SIZE, seed, what);
	}
}

int main(void)
{
	state_init();
	build_regions();
	state_ready();
	state_wait_go_signal();
	check_pages();
	check_zero_pages_writable();
	state_finish();
}
