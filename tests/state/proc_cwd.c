/*
 * The working directory: the program chdir()s into a scratch directory
 * holding a file.  After restart getcwd() and /proc/self/cwd give the same
 * path, it is the same directory (device, inode), and a relative open()
 * finds the file.
 */
#include "state.h"

static char scratch_dir[256];
static struct stat cwd_status_before;

static void enter_scratch_dir(void)
{
	state_make_scratch_dir(scratch_dir, sizeof(scratch_dir));
	if (chdir(scratch_dir) != 0)
		state_setup_fail("chdir: %s", strerror(errno));
	state_write_file("relative-file", "found by a relative path", 24);
	stat(".", &cwd_status_before);
}

static void check_cwd(void)
{
	char cwd[300] = "";
	char link[300] = "";
	char contents[64] = "";
	struct stat cwd_status;
	int fd;

	state_expect(getcwd(cwd, sizeof(cwd)) != NULL, "getcwd: %s", strerror(errno));
	state_expect_equal_text(cwd, scratch_dir, "getcwd()");
	readlink("/proc/self/cwd", link, sizeof(link) - 1);
	state_expect_equal_text(link, scratch_dir, "/proc/self/cwd");
	stat(".", &cwd_status);
	state_expect(cwd_status.st_ino == cwd_status_before.st_ino &&
			     cwd_status.st_dev == cwd_status_before.st_dev,
		     "\".\" is a different directory");
	fd = open("relative-file", O_RDONLY);
	state_expect(fd >= 0, "open(\"relative-file\"): %s", strerror(errno));
	if (fd >= 0)
		read(fd, contents, sizeof(contents) - 1);
	state_expect_equal_text(contents, "found by a relative path", "relative file");
	close(fd);
}

int main(void)
{
	state_init();
	enter_scratch_dir();
	state_ready();
	state_wait_go_signal();
	check_cwd();
	unlink("relative-file");
	chdir("/");
	rmdir(scratch_dir);
	state_finish();
}
