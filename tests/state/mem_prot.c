/*
 * Read-only and PROT_NONE regions that hold data: after restart the
 * read-only region reads its data and still faults on a write; the
 * PROT_NONE region still faults on a read, and once made readable again
 * shows the data it had before it was protected.
 */
#include "state.h"

#include <sys/mman.h>

enum {
	READONLY_PAGES = 6,
	NONE_PAGES = 4
};

static unsigned char *readonly_region;
static unsigned char *none_region;
static char readonly_maps_before[512];
static char none_maps_before[512];

static unsigned char *map_filled(size_t pages, uint64_t seed, int final_protection)
{
	size_t length = pages * STATE_PAGE_SIZE;
	unsigned char *region =
		mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (region == MAP_FAILED)
		state_setup_fail("mmap: %s", strerror(errno));
	state_fill(region, length, seed);
	if (mprotect(region, length, final_protection) != 0)
		state_setup_fail("mprotect: %s", strerror(errno));
	return region;
}

static void record_maps(const unsigned char *region, size_t pages, char *out, size_t capacity)
{
	state_maps_lines_in((uintptr_t)region, (uintptr_t)region + pages * STATE_PAGE_SIZE, out,
			    capacity);
}

static void build_regions(void)
{
	readonly_region = map_filled(READONLY_PAGES, 61, PROT_READ);
	none_region = map_filled(NONE_PAGES, 62, PROT_NONE);
	if (!state_access_faults(readonly_region, true) ||
	    state_access_faults(readonly_region, false) ||
	    !state_access_faults(none_region + 5, false))
		state_setup_fail("protections do not fault as expected");
	record_maps(readonly_region, READONLY_PAGES, readonly_maps_before,
		    sizeof(readonly_maps_before));
	record_maps(none_region, NONE_PAGES, none_maps_before, sizeof(none_maps_before));
}

static void check_readonly_region(void)
{
	char maps_after[512];

	record_maps(readonly_region, READONLY_PAGES, maps_after, sizeof(maps_after));
	state_expect_equal_text(maps_after, readonly_maps_before, "maps of the read-only region");
	state_expect(!state_access_faults(readonly_region + 100, false),
		     "reading the read-only region faults");
	state_expect(state_access_faults(readonly_region + 3 * STATE_PAGE_SIZE, true),
		     "writing the read-only region does not fault");
	state_expect_pattern(readonly_region, READONLY_PAGES * STATE_PAGE_SIZE, 61,
			     "read-only region");
}

static void check_none_region(void)
{
	char maps_after[512];

	record_maps(none_region, NONE_PAGES, maps_after, sizeof(maps_after));
	state_expect_equal_text(maps_after, none_maps_before, "maps of the PROT_NONE region");
	state_expect(state_access_faults(none_region + 2 * STATE_PAGE_SIZE + 7, false),
		     "reading the PROT_NONE region does not fault");
	if (mprotect(none_region, NONE_PAGES * STATE_PAGE_SIZE, PROT_READ) != 0) {
		state_expect(false, "mprotect(PROT_READ) of the PROT_NONE region: %s",
			     strerror(errno));
		return;
	}
	state_expect_pattern(none_region, NONE_PAGES * STATE_PAGE_SIZE, 62,
			     "PROT_NONE region made readable");
}

int main(void)
{
	state_init();
	build_regions();
	state_ready();
	state_wait_go_signal();
	check_readonly_region();
	check_none_region();
	state_finish();
}
