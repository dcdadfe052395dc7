/*
 * One anonymous mapping split by mprotect() into three VMAs (read-write,
 * read-only, no access), all holding data.  After restart /proc/self/maps
 * shows the same three lines, each part has its protection, and the data
 * of all three parts is there.
 */
#include "state.h"

#include <sys/mman.h>

enum {
	FIRST_PAGES = 4,
	MIDDLE_PAGES = 3,
	LAST_PAGES = 5,
	TOTAL_PAGES = FIRST_PAGES + MIDDLE_PAGES + LAST_PAGES,
};

static unsigned char *whole;
static unsigned char *middle;
static unsigned char *last;
static char maps_before[1024];

static void count_lines(const char *text, unsigned *ret_count)
{
	unsigned count = 0;

	for (const char *cursor = text; *cursor != '\0'; cursor++)
		count += *cursor == '\n';
	*ret_count = count;
}

static void build_split_mapping(void)
{
	unsigned line_count;

	whole = mmap(NULL, TOTAL_PAGES * STATE_PAGE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (whole == MAP_FAILED)
		state_setup_fail("mmap: %s", strerror(errno));
	middle = whole + FIRST_PAGES * STATE_PAGE_SIZE;
	last = middle + MIDDLE_PAGES * STATE_PAGE_SIZE;
	state_fill(whole, TOTAL_PAGES * STATE_PAGE_SIZE, 31337);
	if (mprotect(middle, MIDDLE_PAGES * STATE_PAGE_SIZE, PROT_READ) != 0 ||
	    mprotect(last, LAST_PAGES * STATE_PAGE_SIZE, PROT_NONE) != 0)
		state_setup_fail("mprotect: %s", strerror(errno));
	state_maps_lines_in((uintptr_t)whole, (uintptr_t)whole + TOTAL_PAGES * STATE_PAGE_SIZE,
			    maps_before, sizeof(maps_before));
	count_lines(maps_before, &line_count);
	if (line_count != 3)
		state_setup_fail("split mapping shows %u maps lines, not 3", line_count);
}

static void check_protections(void)
{
	state_expect(!state_access_faults(whole + 10, true), "first part is not writable");
	state_expect(!state_access_faults(middle + 10, false), "middle part is not readable");
	state_expect(state_access_faults(middle + 10, true), "middle part is writable");
	state_expect(state_access_faults(last + 10, false), "last part is readable");
}

static void check_contents(void)
{
	if (mprotect(last, LAST_PAGES * STATE_PAGE_SIZE, PROT_READ) != 0) {
		state_expect(false, "mprotect of the last part: %s", strerror(errno));
		return;
	}
	state_expect_pattern(whole, TOTAL_PAGES * STATE_PAGE_SIZE, 31337,
			     "contents of the split mapping");
}

int main(void)
{
	char maps_after[1024];

	state_init();
	build_split_mapping();
	state_ready();
	state_wait_go_signal();
	state_maps_lines_in((uintptr_t)whole, (uintptr_t)whole + TOTAL_PAGES * STATE_PAGE_SIZE,
			    maps_after, sizeof(maps_after));
	state_expect_equal_text(maps_after, maps_before, "maps lines of the split mapping");
	check_protections();
	check_contents();
	state_finish();
}
