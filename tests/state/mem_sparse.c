/*
 * A sparse anonymous mapping: 1 GiB of which only a few pages were written.
 * After restart mincore() shows exactly the same pages resident (the
 * untouched ones were not filled in by the restart) and the touched pages
 * hold their data.
 */
#include "state.h"

#include <sys/mman.h>

#define SPARSE_LENGTH ((size_t)1 << 30)
#define SPARSE_PAGES (SPARSE_LENGTH / STATE_PAGE_SIZE)

enum {
	TOUCHED_COUNT = 8
};

static const size_t touched_pages[TOUCHED_COUNT] = {
	0, 513, 1024, 77777, 131072, 200000, 262142, 262143,
};

static unsigned char *sparse_region;
static unsigned char residency[SPARSE_PAGES];

static bool is_touched(size_t page)
{
	for (unsigned index = 0; index < TOUCHED_COUNT; index++) {
		if (touched_pages[index] == page)
			return true;
	}
	return false;
}

/* First page whose residency is not "resident exactly when touched", or -1. */
static long long first_wrong_residency(void)
{
	if (mincore(sparse_region, SPARSE_LENGTH, residency) != 0)
		return -2;
	for (size_t page = 0; page < SPARSE_PAGES; page++) {
		bool resident = residency[page] & 1;

		if (resident != is_touched(page))
			return (long long)page;
	}
	return -1;
}

static void map_sparse_region(void)
{
	sparse_region = mmap(NULL, SPARSE_LENGTH, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (sparse_region == MAP_FAILED)
		state_setup_fail("mmap 1 GiB: %s", strerror(errno));
	if (madvise(sparse_region, SPARSE_LENGTH, MADV_NOHUGEPAGE) != 0)
		state_setup_fail("madvise(MADV_NOHUGEPAGE): %s", strerror(errno));
	for (unsigned index = 0; index < TOUCHED_COUNT; index++)
		state_fill(sparse_region + touched_pages[index] * STATE_PAGE_SIZE, STATE_PAGE_SIZE,
			   9000 + index);
	if (first_wrong_residency() != -1)
		state_setup_fail("mincore before checkpoint: page %lld", first_wrong_residency());
}

static void check_sparse_region(void)
{
	long long wrong_page = first_wrong_residency();
	char what[64];

	state_expect(wrong_page != -2, "mincore: %s", strerror(errno));
	state_expect(wrong_page < 0, "page %lld of the sparse region is %s", wrong_page,
		     is_touched((size_t)wrong_page) ? "not resident" : "resident, never touched");
	for (unsigned index = 0; index < TOUCHED_COUNT; index++) {
		snprintf(what, sizeof(what), "touched page %zu", touched_pages[index]);
		state_expect_pattern(sparse_region + touched_pages[index] * STATE_PAGE_SIZE,
				     STATE_PAGE_SIZE, 9000 + index, what);
	}
}

int main(void)
{
	state_init();
	map_sparse_region();
	state_ready();
	state_wait_go_signal();
	check_sparse_region();
	state_finish();
}
