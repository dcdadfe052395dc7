/*
 * Regular files: fds opened O_RDONLY, O_WRONLY | O_DSYNC, O_RDWR,
 * O_WRONLY | O_APPEND, O_RDONLY | O_NONBLOCK and O_RDWR | O_CLOEXEC, each at
 * its own offset.  After restart every fd has the same path, F_GETFL,
 * F_GETFD and offset, reads continue with the right bytes, writes land at
 * the offset, and appends land at the end of the file.
 */
#include "state.h"

enum {
	FILE_BYTES = 64 * 1024,
	OPEN_COUNT = 6
};

enum file_name {
	FILE_READ,
	FILE_WRITE,
	FILE_BOTH,
	FILE_LOG,
	FILE_NAME_COUNT
};

struct open_file {
	const char *label;
	enum file_name file;
	int flags;
	off_t offset;
	int fd;
	int status_flags;
	int descriptor_flags;
	char path[300];
};

static const char *const file_names[FILE_NAME_COUNT] = { "read", "write", "both", "log" };
static char scratch_dir[256];
static struct open_file files[OPEN_COUNT] = {
	{ "O_RDONLY", FILE_READ, O_RDONLY, 1234, -1, 0, 0, "" },
	{ "O_WRONLY|O_DSYNC", FILE_WRITE, O_WRONLY | O_DSYNC, 500, -1, 0, 0, "" },
	{ "O_RDWR", FILE_BOTH, O_RDWR, 4103, -1, 0, 0, "" },
	{ "O_APPEND", FILE_LOG, O_WRONLY | O_APPEND, 0, -1, 0, 0, "" },
	{ "O_NONBLOCK", FILE_READ, O_RDONLY | O_NONBLOCK, 10, -1, 0, 0, "" },
	{ "O_CLOEXEC", FILE_BOTH, O_RDWR | O_CLOEXEC, 60000, -1, 0, 0, "" },
};

static void file_path(enum file_name file, char *out, size_t capacity)
{
	state_path_in(out, capacity, scratch_dir, file_names[file]);
}

static void create_files(void)
{
	static unsigned char contents[FILE_BYTES];
	char path[300];

	state_make_scratch_dir(scratch_dir, sizeof(scratch_dir));
	for (int file = 0; file < FILE_NAME_COUNT; file++) {
		state_fill(contents, FILE_BYTES, 700 + (uint64_t)file);
		file_path((enum file_name)file, path, sizeof(path));
		state_write_file(path, contents, file == FILE_LOG ? 100 : FILE_BYTES);
	}
}

static void open_one(struct open_file *open_file)
{
	char path[300];

	file_path(open_file->file, path, sizeof(path));
	open_file->fd = open(path, open_file->flags);
	if (open_file->fd < 0)
		state_setup_fail("open %s %s: %s", path, open_file->label, strerror(errno));
	if (open_file->file == FILE_LOG) {
		state_write_all(open_file->fd, "appended before checkpoint\n", 27);
		open_file->offset = 100 + 27;
	} else {
		lseek(open_file->fd, open_file->offset, SEEK_SET);
	}
	open_file->status_flags = fcntl(open_file->fd, F_GETFL);
	open_file->descriptor_flags = fcntl(open_file->fd, F_GETFD);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", open_file->fd);
	readlink(path, open_file->path, sizeof(open_file->path) - 1);
}

static void check_attributes(const struct open_file *open_file)
{
	char link[64];
	char path[300] = "";

	snprintf(link, sizeof(link), "/proc/self/fd/%d", open_file->fd);
	readlink(link, path, sizeof(path) - 1);
	state_expect_equal_text(path, open_file->path, open_file->label);
	state_expect(fcntl(open_file->fd, F_GETFL) == open_file->status_flags,
		     "%s: F_GETFL is %#x, was %#x", open_file->label,
		     (unsigned)fcntl(open_file->fd, F_GETFL), (unsigned)open_file->status_flags);
	state_expect(fcntl(open_file->fd, F_GETFD) == open_file->descriptor_flags,
		     "%s: F_GETFD is %#x, was %#x", open_file->label,
		     (unsigned)fcntl(open_file->fd, F_GETFD), (unsigned)open_file->descriptor_flags);
	state_expect(lseek(open_file->fd, 0, SEEK_CUR) == open_file->offset,
		     "%s: offset is %lld, was %lld", open_file->label,
		     (long long)lseek(open_file->fd, 0, SEEK_CUR), (long long)open_file->offset);
}

static void check_read_continues(const struct open_file *open_file)
{
	unsigned char got[100];
	unsigned char expected[100];
	uint64_t seed = 700 + (uint64_t)open_file->file;

	for (size_t index = 0; index < sizeof(expected); index++)
		expected[index] = state_pattern_byte(seed, (size_t)open_file->offset + index);
	state_expect(read(open_file->fd, got, sizeof(got)) == (ssize_t)sizeof(got),
		     "%s: short read", open_file->label);
	state_expect_equal_bytes(got, expected, sizeof(got), open_file->label);
}

static void check_write_lands(const struct open_file *open_file, off_t expected_offset)
{
	char path[300];
	char got[8] = "";
	int reader;

	state_expect(write(open_file->fd, "written", 7) == 7, "%s: write: %s", open_file->label,
		     strerror(errno));
	file_path(open_file->file, path, sizeof(path));
	reader = open(path, O_RDONLY);
	pread(reader, got, 7, expected_offset);
	close(reader);
	state_expect(memcmp(got, "written", 7) == 0, "%s: write did not land at offset %lld",
		     open_file->label, (long long)expected_offset);
}

static void check_io(void)
{
	check_read_continues(&files[0]);
	check_write_lands(&files[1], 500);
	check_read_continues(&files[2]);
	lseek(files[3].fd, 0, SEEK_SET);
	check_write_lands(&files[3], 127);
	check_read_continues(&files[4]);
	check_write_lands(&files[5], 60000);
}

static void remove_files(void)
{
	char path[300];

	for (int file = 0; file < FILE_NAME_COUNT; file++) {
		file_path((enum file_name)file, path, sizeof(path));
		unlink(path);
	}
	rmdir(scratch_dir);
}

int main(void)
{
	state_init();
	create_files();
	for (int index = 0; index < OPEN_COUNT; index++)
		open_one(&files[index]);
	state_ready();
	state_wait_go_signal();
	for (int index = 0; index < OPEN_COUNT; index++)
		check_attributes(&files[index]);
	check_io();
	remove_files();
	state_finish();
}
