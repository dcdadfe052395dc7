/*
 * File descriptor numbers: regular files open at 3, 5, 9 and 100 with
 * gaps between them, 9 a dup() of 5 (one open file description).  After
 * restart exactly the same fds are open (checked for 0-1023 with
 * F_GETFD), each refers to the same file (device, inode, path), the dup
 * still shares its offset with the original, and new fds fill the lowest
 * gap.
 */
#include "state.h"

enum {
	FD_SCAN_LIMIT = 1024,
	FILE_COUNT = 3
};

struct fd_identity {
	int fd;
	dev_t device;
	ino_t inode;
	char path[300];
};

static char scratch_dir[256];
static struct fd_identity identities[] = { { .fd = 3 }, { .fd = 5 }, { .fd = 9 }, { .fd = 100 } };
static bool open_before[FD_SCAN_LIMIT];

#define IDENTITY_COUNT (sizeof(identities) / sizeof(identities[0]))

static void open_at(int wanted_fd, const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT, 0600);

	if (fd < 0)
		state_setup_fail("open %s: %s", path, strerror(errno));
	if (fd != wanted_fd && dup2(fd, wanted_fd) != wanted_fd)
		state_setup_fail("dup2 to %d: %s", wanted_fd, strerror(errno));
	if (fd != wanted_fd)
		close(fd);
}

static void identify(struct fd_identity *identity)
{
	char link[64];
	struct stat status;
	ssize_t length;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", identity->fd);
	length = readlink(link, identity->path, sizeof(identity->path) - 1);
	identity->path[length > 0 ? length : 0] = '\0';
	identity->device = 0;
	identity->inode = 0;
	if (fstat(identity->fd, &status) == 0) {
		identity->device = status.st_dev;
		identity->inode = status.st_ino;
	}
}

static void open_files(void)
{
	char path[300];

	state_make_scratch_dir(scratch_dir, sizeof(scratch_dir));
	for (int index = 0; index < FILE_COUNT; index++) {
		snprintf(path, sizeof(path), "%s/file-%d", scratch_dir, index);
		open_at(index == 0 ? 3 : index == 1 ? 5 : 100, path);
	}
	if (dup2(5, 9) != 9)
		state_setup_fail("dup2(5, 9): %s", strerror(errno));
	for (int fd = 0; fd < FD_SCAN_LIMIT; fd++)
		open_before[fd] = fcntl(fd, F_GETFD) >= 0;
	for (size_t index = 0; index < IDENTITY_COUNT; index++)
		identify(&identities[index]);
}

static void check_open_fds(void)
{
	for (int fd = 0; fd < FD_SCAN_LIMIT; fd++) {
		bool open_now = fcntl(fd, F_GETFD) >= 0;

		state_expect(open_now == open_before[fd], "fd %d is %s, was %s", fd,
			     open_now ? "open" : "closed", open_before[fd] ? "open" : "closed");
	}
}

static void check_identities(void)
{
	for (size_t index = 0; index < IDENTITY_COUNT; index++) {
		struct fd_identity now = { .fd = identities[index].fd };

		identify(&now);
		state_expect(now.device == identities[index].device &&
				     now.inode == identities[index].inode,
			     "fd %d is a different file", now.fd);
		state_expect_equal_text(now.path, identities[index].path, "fd path");
	}
}

static void check_shared_description_and_gap(void)
{
	int new_fd;

	lseek(5, 777, SEEK_SET);
	state_expect_equal_long(lseek(9, 0, SEEK_CUR), 777, "offset of fd 9 after seeking fd 5");
	new_fd = open("/dev/null", O_RDONLY);
	state_expect_equal_long(new_fd, 4, "lowest free fd");
	close(new_fd);
}

static void remove_files(void)
{
	char path[300];

	for (int index = 0; index < FILE_COUNT; index++) {
		snprintf(path, sizeof(path), "%s/file-%d", scratch_dir, index);
		unlink(path);
	}
	rmdir(scratch_dir);
}

int main(void)
{
	state_init();
	open_files();
	state_ready();
	state_wait_go_signal();
	check_open_fds();
	check_identities();
	check_shared_description_and_gap();
	remove_files();
	state_finish();
}
