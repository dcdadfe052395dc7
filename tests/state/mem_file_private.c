/*
 * A private mapping of a file the program created: some pages were written
 * (private copies), some only read, some never touched.  After restart the
 * written pages hold the written data, the others the file's data, the file
 * on disk is unchanged, and the clean pages are still backed by the file
 * (a later write to the file shows through them, not through the copies).
 */
#include "state.h"

#include <sys/mman.h>

enum {
	FILE_PAGES = 16,
	MAP_OFFSET_PAGES = 2,
	MAPPED_PAGES = 12
};

static char scratch_dir[256];
static char file_path[300];
static int file_fd = -1;
static unsigned char *mapping;
static char maps_before[512];

static uint64_t file_seed(size_t file_page)
{
	return 500 + file_page;
}

static uint64_t copy_seed(size_t mapped_page)
{
	return 900 + mapped_page;
}

static bool page_is_written(size_t mapped_page)
{
	return mapped_page == 1 || mapped_page == 4 || mapped_page == 5 || mapped_page == 10;
}

static bool page_is_read(size_t mapped_page)
{
	return mapped_page == 0 || mapped_page == 2 || mapped_page == 11;
}

static void create_file(void)
{
	static unsigned char contents[FILE_PAGES * STATE_PAGE_SIZE];

	for (size_t page = 0; page < FILE_PAGES; page++)
		state_fill(contents + page * STATE_PAGE_SIZE, STATE_PAGE_SIZE, file_seed(page));
	state_make_scratch_dir(scratch_dir, sizeof(scratch_dir));
	state_path_in(file_path, sizeof(file_path), scratch_dir, "private-mapped");
	state_write_file(file_path, contents, sizeof(contents));
}

static void map_file(void)
{
	file_fd = open(file_path, O_RDWR | O_CLOEXEC);
	if (file_fd < 0)
		state_setup_fail("open %s: %s", file_path, strerror(errno));
	mapping = mmap(NULL, MAPPED_PAGES * STATE_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE,
		       file_fd, MAP_OFFSET_PAGES * STATE_PAGE_SIZE);
	if (mapping == MAP_FAILED)
		state_setup_fail("mmap: %s", strerror(errno));
	for (size_t page = 0; page < MAPPED_PAGES; page++) {
		if (page_is_written(page))
			state_fill(mapping + page * STATE_PAGE_SIZE, STATE_PAGE_SIZE,
				   copy_seed(page));
		if (page_is_read(page))
			state_touch_read(mapping + page * STATE_PAGE_SIZE + 17);
	}
	state_maps_lines_in((uintptr_t)mapping, (uintptr_t)mapping + MAPPED_PAGES * STATE_PAGE_SIZE,
			    maps_before, sizeof(maps_before));
}

static void check_mapping(void)
{
	char maps_after[512];
	char what[64];

	state_maps_lines_in((uintptr_t)mapping, (uintptr_t)mapping + MAPPED_PAGES * STATE_PAGE_SIZE,
			    maps_after, sizeof(maps_after));
	state_expect_equal_text(maps_after, maps_before, "maps line of the private mapping");
	for (size_t page = 0; page < MAPPED_PAGES; page++) {
		uint64_t seed = page_is_written(page) ? copy_seed(page)
						      : file_seed(page + MAP_OFFSET_PAGES);

		snprintf(what, sizeof(what), "mapped page %zu (%s)", page,
			 page_is_written(page) ? "private copy" : "clean");
		state_expect_pattern(mapping + page * STATE_PAGE_SIZE, STATE_PAGE_SIZE, seed, what);
	}
}

static void check_file_unchanged(void)
{
	static unsigned char page_buffer[STATE_PAGE_SIZE];
	char what[64];

	for (size_t page = 0; page < FILE_PAGES; page++) {
		ssize_t got = pread(file_fd, page_buffer, STATE_PAGE_SIZE,
				    (off_t)(page * STATE_PAGE_SIZE));

		snprintf(what, sizeof(what), "file page %zu on disk", page);
		if (state_expect(got == STATE_PAGE_SIZE, "pread of file page %zu: %zd", page, got))
			state_expect_pattern(page_buffer, STATE_PAGE_SIZE, file_seed(page), what);
	}
}

/* Writes the file under one clean and one written page of the mapping. */
static void check_clean_pages_follow_file(void)
{
	static unsigned char new_contents[STATE_PAGE_SIZE];
	const size_t clean_page = 3;
	const size_t written_page = 4;

	state_fill(new_contents, STATE_PAGE_SIZE, 4242);
	pwrite(file_fd, new_contents, STATE_PAGE_SIZE,
	       (off_t)((clean_page + MAP_OFFSET_PAGES) * STATE_PAGE_SIZE));
	pwrite(file_fd, new_contents, STATE_PAGE_SIZE,
	       (off_t)((written_page + MAP_OFFSET_PAGES) * STATE_PAGE_SIZE));
	state_expect_pattern(mapping + clean_page * STATE_PAGE_SIZE, STATE_PAGE_SIZE, 4242,
			     "clean page after the file changed under it");
	state_expect_pattern(mapping + written_page * STATE_PAGE_SIZE, STATE_PAGE_SIZE,
			     copy_seed(written_page), "private copy after the file changed");
}

static void remove_file(void)
{
	close(file_fd);
	unlink(file_path);
	rmdir(scratch_dir);
}

int main(void)
{
	state_init();
	create_file();
	map_file();
	state_ready();
	state_wait_go_signal();
	check_mapping();
	check_file_unchanged();
	check_clean_pages_follow_file();
	remove_file();
	state_finish();
}
