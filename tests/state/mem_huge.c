/*
 * A huge anonymous mapping (256 MiB) with patterns on a few scattered pages:
 * after restart those pages hold their patterns, the pages around them still
 * read zero, and the mapping's /proc/self/maps line is the same.
 */
#include "state.h"

#include <sys/mman.h>

#define HUGE_LENGTH ((size_t)256 << 20)

enum {
	TOUCHED_COUNT = 9
};

static const size_t touched_pages[TOUCHED_COUNT] = {
	0, 1, 255, 4096, 12345, 32768, 50000, 65534, 65535,
};
static const size_t untouched_pages[] = { 2, 254, 256, 4095, 4097, 40000, 65533 };

static unsigned char *huge_region;
static char maps_before[512];

static void map_huge_region(void)
{
	huge_region =
		mmap(NULL, HUGE_LENGTH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (huge_region == MAP_FAILED)
		state_setup_fail("mmap 256 MiB: %s", strerror(errno));
	madvise(huge_region, HUGE_LENGTH, MADV_NOHUGEPAGE);
	for (unsigned index = 0; index < TOUCHED_COUNT; index++)
		state_fill(huge_region + touched_pages[index] * STATE_PAGE_SIZE, STATE_PAGE_SIZE,
			   7000 + touched_pages[index]);
	state_maps_lines_in((uintptr_t)huge_region, (uintptr_t)huge_region + HUGE_LENGTH,
			    maps_before, sizeof(maps_before));
}

static void check_huge_region(void)
{
	char maps_after[512];
	char what[64];

	state_maps_lines_in((uintptr_t)huge_region, (uintptr_t)huge_region + HUGE_LENGTH,
			    maps_after, sizeof(maps_after));
	state_expect_equal_text(maps_after, maps_before, "maps line of the huge region");
	for (unsigned index = 0; index < TOUCHED_COUNT; index++) {
		size_t page = touched_pages[index];

		snprintf(what, sizeof(what), "touched page %zu", page);
		state_expect_pattern(huge_region + page * STATE_PAGE_SIZE, STATE_PAGE_SIZE,
				     7000 + page, what);
	}
	for (size_t index = 0; index < sizeof(untouched_pages) / sizeof(untouched_pages[0]); index++) {
		size_t page = untouched_pages[index];

		state_expect(state_is_all_zero(huge_region + page * STATE_PAGE_SIZE, STATE_PAGE_SIZE),
			     "untouched page %zu is not zero", page);
	}
}

int main(void)
{
	state_init();
	map_huge_region();
	state_ready();
	state_wait_go_signal();
	check_huge_region();
	state_finish();
}
