/*
 * A child made with clone(CLONE_FILES) shares the root's fd table but not
 * its memory.  Before the checkpoint the root opens a file at fd 100 and
 * the child one at fd 101 (each sees the other's).  After restart: both
 * fds are there with their paths and offsets; the root opens fd 102 and
 * closes fd 100, and the child sees both changes; the child opens fd 103
 * and the root sees it; kcmp shows one fd table and two memory maps.
 */
#include "clone.h"

#include <limits.h>

enum {
	ROOT_FD = 100,
	CHILD_FD = 101,
	ROOT_LATE_FD = 102,
	CHILD_LATE_FD = 103
};

static char directory[PATH_MAX / 2];

static void open_at(const char *name, int number, off_t offset)
{
	char path[PATH_MAX];
	int fd;

	state_path_in(path, sizeof(path), directory, name);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || dup2(fd, number) != number)
		state_setup_fail("open %s as fd %d: %s", path, number, strerror(errno));
	close(fd);
	if (lseek(number, offset, SEEK_SET) != offset)
		state_setup_fail("lseek: %s", strerror(errno));
}

static bool is_open_on(int number, const char *name, off_t offset)
{
	char link[32], target[PATH_MAX], expected[PATH_MAX];
	ssize_t length;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", number);
	length = readlink(link, target, sizeof(target) - 1);
	if (length < 0)
		return false;
	target[length] = '\0';
	state_path_in(expected, sizeof(expected), directory, name);
	return strcmp(target, expected) == 0 && lseek(number, 0, SEEK_CUR) == offset;
}

static bool is_closed(int number)
{
	return fcntl(number, F_GETFD) < 0 && errno == EBADF;
}

static int run_child(void *unused)
{
	int verdict = 0;

	(void)unused;
	open_at("child", CHILD_FD, 222);
	clone_tell_parent();
	clone_wait_go();
	clone_check(&verdict, is_open_on(ROOT_FD, "root", 111), 20);
	clone_check(&verdict, is_open_on(CHILD_FD, "child", 222), 21);
	clone_tell_parent();
	clone_wait_go();
	clone_check(&verdict, is_open_on(ROOT_LATE_FD, "root-late", 333), 22);
	clone_check(&verdict, is_closed(ROOT_FD), 23);
	open_at("child-late", CHILD_LATE_FD, 444);
	clone_tell_parent();
	return verdict;
}

int main(void)
{
	pid_t child;

	tree_init();
	state_make_scratch_dir(directory, sizeof(directory));
	open_at("root", ROOT_FD, 111);
	child = clone_start(run_child, CLONE_FILES, NULL);
	tree_wait_ready(child);
	state_expect(is_open_on(CHILD_FD, "child", 222),
		     "the child's fd %d is not ours before the checkpoint", CHILD_FD);
	state_ready();
	state_wait_go_signal();
	state_expect(is_open_on(ROOT_FD, "root", 111), "fd %d lost its file or offset", ROOT_FD);
	state_expect(is_open_on(CHILD_FD, "child", 222),
		     "the child's fd %d lost its file or offset", CHILD_FD);
	clone_expect_shared(getpid(), child, KCMP_FILES, true, "fd table");
	clone_expect_shared(getpid(), child, KCMP_VM, false, "memory");
	clone_expect_shared(getpid(), child, KCMP_FS, false, "fs");
	clone_run_child_step(child);
	open_at("root-late", ROOT_LATE_FD, 333);
	close(ROOT_FD);
	clone_run_child_step(child);
	state_expect(is_open_on(CHILD_LATE_FD, "child-late", 444),
		     "the fd %d the child opened after restart is not ours", CHILD_LATE_FD);
	tree_expect_child_exit(child, 0, "child");
	state_finish();
}
