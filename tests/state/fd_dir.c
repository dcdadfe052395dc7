/*
 * A directory fd: open(O_DIRECTORY) on a scratch directory holding a few
 * files, part of it already read with getdents64().  After restart the fd
 * is the same directory (device, inode, path, F_GETFL), its position is
 * the same, reading on from there yields exactly the entries not read
 * before, and openat() relative to it finds the files.
 */
#include "state.h"

#include <dirent.h>

enum {
	FILE_COUNT = 40,
	NAMES_MAX = 64,
	READ_BUFFER_BYTES = 512
};

struct linux_dirent64_header {
	uint64_t inode;
	int64_t next_offset;
	unsigned short record_length;
	unsigned char type;
	char name[];
};

static char scratch_dir[256];
static int dir_fd = -1;
static struct stat status_before;
static int flags_before;
static off_t position_before;
static char names_seen[NAMES_MAX][32];
static int names_seen_count;

static void remember_names(const char *buffer, long length)
{
	long offset = 0;

	while (offset < length && names_seen_count < NAMES_MAX) {
		const struct linux_dirent64_header *entry =
			(const struct linux_dirent64_header *)(const void *)(buffer + offset);

		snprintf(names_seen[names_seen_count++], sizeof(names_seen[0]), "%s", entry->name);
		offset += entry->record_length;
	}
}

static long read_entries(void)
{
	static char buffer[READ_BUFFER_BYTES] __attribute__((aligned(8)));
	long length = syscall(SYS_getdents64, dir_fd, buffer, sizeof(buffer));

	if (length > 0)
		remember_names(buffer, length);
	return length;
}

static void build_directory(void)
{
	char path[300];
	char name[32];

	state_make_scratch_dir(scratch_dir, sizeof(scratch_dir));
	for (int index = 0; index < FILE_COUNT; index++) {
		snprintf(name, sizeof(name), "entry-%02d", index);
		state_path_in(path, sizeof(path), scratch_dir, name);
		state_write_file(path, name, strlen(name));
	}
	dir_fd = open(scratch_dir, O_RDONLY | O_DIRECTORY);
	if (dir_fd < 0)
		state_setup_fail("open directory: %s", strerror(errno));
	if (read_entries() <= 0)
		state_setup_fail("getdents64: %s", strerror(errno));
	fstat(dir_fd, &status_before);
	flags_before = fcntl(dir_fd, F_GETFL);
	position_before = lseek(dir_fd, 0, SEEK_CUR);
}

static bool seen_once(const char *name)
{
	int count = 0;

	for (int index = 0; index < names_seen_count; index++)
		count += strcmp(names_seen[index], name) == 0;
	return count == 1;
}

static void check_rest_of_listing(void)
{
	char name[32];

	while (read_entries() > 0)
		continue;
	state_expect(seen_once("."), "\".\" not listed exactly once");
	state_expect(seen_once(".."), "\"..\" not listed exactly once");
	for (int index = 0; index < FILE_COUNT; index++) {
		snprintf(name, sizeof(name), "entry-%02d", index);
		state_expect(seen_once(name), "%s not listed exactly once", name);
	}
	state_expect_equal_long(names_seen_count, FILE_COUNT + 2, "entries listed");
}

static void check_openat(void)
{
	char contents[32] = "";
	int fd = openat(dir_fd, "entry-07", O_RDONLY);

	state_expect(fd >= 0, "openat(dir_fd, \"entry-07\"): %s", strerror(errno));
	if (fd >= 0)
		read(fd, contents, sizeof(contents) - 1);
	state_expect_equal_text(contents, "entry-07", "file read through openat");
	close(fd);
}

static void check_directory_fd(void)
{
	struct stat status_after;
	char link[64];
	char path[300] = "";

	snprintf(link, sizeof(link), "/proc/self/fd/%d", dir_fd);
	readlink(link, path, sizeof(path) - 1);
	state_expect_equal_text(path, scratch_dir, "directory fd path");
	state_expect(fstat(dir_fd, &status_after) == 0 &&
			     status_after.st_ino == status_before.st_ino &&
			     status_after.st_dev == status_before.st_dev,
		     "directory fd is a different directory");
	state_expect(fcntl(dir_fd, F_GETFL) == flags_before, "directory F_GETFL is %#x, was %#x",
		     (unsigned)fcntl(dir_fd, F_GETFL), (unsigned)flags_before);
	state_expect(lseek(dir_fd, 0, SEEK_CUR) == position_before,
		     "directory position is %lld, was %lld", (long long)lseek(dir_fd, 0, SEEK_CUR),
		     (long long)position_before);
}

static void remove_directory(void)
{
	char name[32];

	for (int index = 0; index < FILE_COUNT; index++) {
		snprintf(name, sizeof(name), "entry-%02d", index);
		unlinkat(dir_fd, name, 0);
	}
	close(dir_fd);
	rmdir(scratch_dir);
}

int main(void)
{
	state_init();
	build_directory();
	if (names_seen_count >= FILE_COUNT + 2)
		state_setup_fail("the first getdents64 read the whole directory");
	state_ready();
	state_wait_go_signal();
	check_directory_fd();
	check_rest_of_listing();
	check_openat();
	remove_directory();
	state_finish();
}
