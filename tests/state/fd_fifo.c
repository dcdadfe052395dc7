/*
 * A FIFO (named pipe) opened three times: read-write at fd 5, read-only
 * non-blocking at fd 6, write-only at fd 7, with "hello" in flight.
 * After restart the three fds are that FIFO again (same path, inode and
 * F_GETFL), "hello" comes out of fd 6, and what fd 7 and fd 5 write comes
 * out of fd 6 and fd 5.
 */
#include "state.h"

#include <sys/stat.h>

static char scratch_dir[256];
static char fifo_path[300];
static int flags_before[8];

static void open_at(int flags, int wanted)
{
	int fd = open(fifo_path, flags);

	if (fd < 0 || dup2(fd, wanted) != wanted)
		state_setup_fail("open %s: %s", fifo_path, strerror(errno));
	close(fd);
}

static void build(void)
{
	state_make_scratch_dir(scratch_dir, sizeof(scratch_dir));
	state_path_in(fifo_path, sizeof(fifo_path), scratch_dir, "fifo");
	if (mkfifo(fifo_path, 0600) < 0)
		state_setup_fail("mkfifo: %s", strerror(errno));
	open_at(O_RDWR, 5);
	open_at(O_RDONLY | O_NONBLOCK, 6);
	open_at(O_WRONLY, 7);
	state_write_all(7, "hello", 5);
	for (int fd = 5; fd <= 7; fd++)
		flags_before[fd] = fcntl(fd, F_GETFL);
}

static void check(void)
{
	struct stat path_st, fd_st;
	char got[16] = { 0 };

	state_expect(stat(fifo_path, &path_st) == 0, "stat %s: %s", fifo_path, strerror(errno));
	for (int fd = 5; fd <= 7; fd++) {
		state_expect(fstat(fd, &fd_st) == 0 && fd_st.st_ino == path_st.st_ino &&
				     S_ISFIFO(fd_st.st_mode),
			     "fd %d is not the FIFO", fd);
		state_expect(fcntl(fd, F_GETFL) == flags_before[fd], "fd %d: F_GETFL %#x, was %#x",
			     fd, fcntl(fd, F_GETFL), flags_before[fd]);
	}
	state_expect(read(6, got, sizeof(got)) == 5 && memcmp(got, "hello", 5) == 0,
		     "the FIFO did not hold \"hello\"");
	state_expect(read(6, got, 1) < 0 && errno == EAGAIN, "the FIFO holds more");
	state_write_all(7, "more", 4);
	state_expect(read(6, got, sizeof(got)) == 4 && memcmp(got, "more", 4) == 0,
		     "a write to fd 7 did not come out of fd 6");
	state_write_all(5, "rw", 2);
	state_expect(read(5, got, sizeof(got)) == 2 && memcmp(got, "rw", 2) == 0,
		     "the read-write end does not read what it wrote");
}

int main(void)
{
	state_init();
	build();
	state_ready();
	state_wait_go_signal();
	check();
	state_finish();
}
