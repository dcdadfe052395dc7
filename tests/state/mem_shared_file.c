/*
 * A MAP_SHARED mapping of a file: data written through the mapping before
 * the checkpoint is in the file and in the mapping after restart, and the
 * two are still one: a store through the mapping shows in the file and a
 * pwrite() to the file shows in the mapping.
 */
#include "state.h"

#include <sys/mman.h>

enum {
	FILE_PAGES = 8
};

#define FILE_LENGTH ((size_t)FILE_PAGES * STATE_PAGE_SIZE)

static char scratch_dir[256];
static char file_path[300];
static int file_fd = -1;
static unsigned char *mapping;
static char maps_before[512];

static void build_shared_mapping(void)
{
	static unsigned char zeros[FILE_LENGTH];

	state_make_scratch_dir(scratch_dir, sizeof(scratch_dir));
	state_path_in(file_path, sizeof(file_path), scratch_dir, "shared-mapped");
	state_write_file(file_path, zeros, sizeof(zeros));
	file_fd = open(file_path, O_RDWR | O_CLOEXEC);
	if (file_fd < 0)
		state_setup_fail("open: %s", strerror(errno));
	mapping = mmap(NULL, FILE_LENGTH, PROT_READ | PROT_WRITE, MAP_SHARED, file_fd, 0);
	if (mapping == MAP_FAILED)
		state_setup_fail("mmap: %s", strerror(errno));
	state_fill(mapping, FILE_LENGTH / 2, 4100);
	state_fill(mapping + 6 * STATE_PAGE_SIZE, STATE_PAGE_SIZE, 4106);
	state_maps_lines_in((uintptr_t)mapping, (uintptr_t)mapping + FILE_LENGTH, maps_before,
			    sizeof(maps_before));
}

static void check_file_matches_mapping(const char *when)
{
	static unsigned char file_contents[FILE_LENGTH];
	ssize_t got = pread(file_fd, file_contents, FILE_LENGTH, 0);
	char what[96];

	snprintf(what, sizeof(what), "file against mapping %s", when);
	if (state_expect(got == (ssize_t)FILE_LENGTH, "pread of the file: %zd", got))
		state_expect_equal_bytes(file_contents, mapping, FILE_LENGTH, what);
}

static void check_contents(void)
{
	char maps_after[512];

	state_maps_lines_in((uintptr_t)mapping, (uintptr_t)mapping + FILE_LENGTH, maps_after,
			    sizeof(maps_after));
	state_expect_equal_text(maps_after, maps_before, "maps line of the shared mapping");
	state_expect_pattern(mapping, FILE_LENGTH / 2, 4100, "first half of the mapping");
	state_expect(state_is_all_zero(mapping + 4 * STATE_PAGE_SIZE, 2 * STATE_PAGE_SIZE),
		     "pages 4-5 of the mapping are not zero");
	state_expect_pattern(mapping + 6 * STATE_PAGE_SIZE, STATE_PAGE_SIZE, 4106,
			     "page 6 of the mapping");
	check_file_matches_mapping("after restart");
}

static void check_still_shared(void)
{
	static unsigned char new_page[STATE_PAGE_SIZE];

	state_fill(mapping + 5 * STATE_PAGE_SIZE, STATE_PAGE_SIZE, 5105);
	check_file_matches_mapping("after a store to the mapping");
	state_fill(new_page, STATE_PAGE_SIZE, 5107);
	pwrite(file_fd, new_page, STATE_PAGE_SIZE, 7 * STATE_PAGE_SIZE);
	state_expect_pattern(mapping + 7 * STATE_PAGE_SIZE, STATE_PAGE_SIZE, 5107,
			     "mapping after a pwrite to the file");
}

int main(void)
{
	state_init();
	build_shared_mapping();
	state_ready();
	state_wait_go_signal();
	check_contents();
	check_still_shared();
	close(file_fd);
	unlink(file_path);
	rmdir(scratch_dir);
	state_finish();
}
