/*
 * File mappings that extend past the end of their file (6000 bytes: one
 * whole page and part of a second; the mappings are four pages long).
 * A private mapping has its first page written (a private copy) and its
 * second read; a shared mapping has both read and its first page written
 * through to the file; a third mapping, of a file truncated to one page
 * after its pages were written, lost its tail.  Pages past the end
 * (rounded up to a page) fault with SIGBUS.  After restart the maps lines
 * are the same, the pages before the end hold the same bytes (the tail of
 * the partial page reads zero), the pages past it still fault, and the
 * files on disk are unchanged.
 */
#include "state.h"

#include <sys/mman.h>

enum {
	FILE_BYTES = 6000,
	TRUNCATED_BYTES = STATE_PAGE_SIZE,
	MAPPED_PAGES = 4,
	MAPPED_BYTES = MAPPED_PAGES * STATE_PAGE_SIZE,
	LINES_MAX = 512,
};

struct past_eof_mapping {
	const char *name;
	int sharing;
	size_t file_bytes; /* after setup */
	unsigned char *bytes;
	unsigned char expected[MAPPED_BYTES]; /* up to the end of the last page with data */
	char maps_line[LINES_MAX];
	char path[300];
};

static struct past_eof_mapping mappings[] = {
	{ "private", MAP_PRIVATE, FILE_BYTES, NULL, { 0 }, "", "" },
	{ "shared", MAP_SHARED, FILE_BYTES, NULL, { 0 }, "", "" },
	{ "truncated", MAP_SHARED, TRUNCATED_BYTES, NULL, { 0 }, "", "" },
};

enum {
	MAPPING_COUNT = sizeof(mappings) / sizeof(mappings[0])
};

static char scratch_dir[256];

static size_t pages_with_data(const struct past_eof_mapping *mapping)
{
	return (mapping->file_bytes + STATE_PAGE_SIZE - 1) / STATE_PAGE_SIZE;
}

static void map_file(struct past_eof_mapping *mapping, uint64_t seed)
{
	static unsigned char contents[FILE_BYTES];
	int fd;

	state_fill(contents, sizeof(contents), seed);
	state_path_in(mapping->path, sizeof(mapping->path), scratch_dir, mapping->name);
	state_write_file(mapping->path, contents, sizeof(contents));
	fd = open(mapping->path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		state_setup_fail("open %s: %s", mapping->path, strerror(errno));
	mapping->bytes = mmap(NULL, MAPPED_BYTES, PROT_READ | PROT_WRITE, mapping->sharing, fd, 0);
	if (mapping->bytes == MAP_FAILED)
		state_setup_fail("mmap %s: %s", mapping->name, strerror(errno));
	memset(mapping->bytes, 0x5a, 100); /* a private copy, or into the file */
	memset(mapping->bytes + STATE_PAGE_SIZE + 7, 0xa5, 9);
	if (mapping->file_bytes < FILE_BYTES && ftruncate(fd, (off_t)mapping->file_bytes) != 0)
		state_setup_fail("ftruncate %s: %s", mapping->path, strerror(errno));
	close(fd);
	memcpy(mapping->expected, mapping->bytes, pages_with_data(mapping) * STATE_PAGE_SIZE);
}

static void record_mapping(struct past_eof_mapping *mapping)
{
	uintptr_t start = (uintptr_t)mapping->bytes;

	state_maps_lines_in(start, start + MAPPED_BYTES, mapping->maps_line, LINES_MAX);
	for (size_t page = pages_with_data(mapping); page < MAPPED_PAGES; page++) {
		if (!state_access_faults(mapping->bytes + page * STATE_PAGE_SIZE, false))
			state_setup_fail("%s page %zu past the end does not fault", mapping->name,
					 page);
	}
}

static void check_file(const struct past_eof_mapping *mapping)
{
	static char contents[MAPPED_BYTES];
	long length = state_read_file(mapping->path, contents, sizeof(contents));

	state_expect_equal_long(length, (long long)mapping->file_bytes, "file size");
	if (mapping->sharing == MAP_SHARED && length > 0)
		state_expect_equal_bytes(contents, mapping->expected, (size_t)length, "file bytes");
}

static void check_mapping(const struct past_eof_mapping *mapping)
{
	uintptr_t start = (uintptr_t)mapping->bytes;
	size_t readable = pages_with_data(mapping) * STATE_PAGE_SIZE;
	char maps_line[LINES_MAX];
	char what[96];

	state_maps_lines_in(start, start + MAPPED_BYTES, maps_line, sizeof(maps_line));
	snprintf(what, sizeof(what), "maps of mapping %s", mapping->name);
	state_expect_equal_text(maps_line, mapping->maps_line, what);
	snprintf(what, sizeof(what), "bytes of mapping %s", mapping->name);
	state_expect_equal_bytes(mapping->bytes, mapping->expected, readable, what);
	for (size_t page = pages_with_data(mapping); page < MAPPED_PAGES; page++)
		state_expect(state_access_faults(mapping->bytes + page * STATE_PAGE_SIZE, false),
			     "%s page %zu past the end no longer faults", mapping->name, page);
	check_file(mapping);
}

int main(void)
{
	state_init();
	state_make_scratch_dir(scratch_dir, sizeof(scratch_dir));
	for (unsigned index = 0; index < MAPPING_COUNT; index++)
		map_file(&mappings[index], 800 + index);
	for (unsigned index = 0; index < MAPPING_COUNT; index++)
		record_mapping(&mappings[index]);
	state_ready();
	state_wait_go_signal();
	for (unsigned index = 0; index < MAPPING_COUNT; index++)
		check_mapping(&mappings[index]);
	state_finish();
}
