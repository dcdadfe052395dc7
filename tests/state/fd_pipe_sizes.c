/*
 * Pipe sizes and modes: a pipe made 256 KiB big (F_SETPIPE_SZ) holding
 * 200,000 bytes at fds 5/6; a pipe with both ends O_NONBLOCK holding 10
 * bytes at 7/8; a packet-mode pipe (pipe2 O_DIRECT) holding three packets
 * of 3, 4096 and 1 bytes at 9/10.  After restart the sizes, F_GETFL of
 * every end and the data are the same, each packet still read on its own.
 */
#include "state.h"

enum {
	BIG_SIZE = 256 * 1024,
	BIG_DATA = 200000,
	SMALL_DATA = 10
};

static unsigned char big[BIG_DATA];
static unsigned char page[4096];
static int flags_before[11];

static void place(const int ends[2], int read_fd, int write_fd)
{
	if (dup2(ends[0], read_fd) != read_fd || dup2(ends[1], write_fd) != write_fd)
		state_setup_fail("dup2: %s", strerror(errno));
	close(ends[0]);
	close(ends[1]);
}

static void build(void)
{
	int ends[2];

	if (pipe(ends) < 0 || fcntl(ends[1], F_SETPIPE_SZ, BIG_SIZE) < 0)
		state_setup_fail("pipe / F_SETPIPE_SZ: %s", strerror(errno));
	place(ends, 5, 6);
	state_fill(big, BIG_DATA, 5);
	state_write_all(6, (const char *)big, BIG_DATA);
	if (pipe2(ends, O_NONBLOCK) < 0)
		state_setup_fail("pipe2: %s", strerror(errno));
	place(ends, 7, 8);
	state_write_all(8, "0123456789", SMALL_DATA);
	if (pipe2(ends, O_DIRECT) < 0)
		state_setup_fail("pipe2(O_DIRECT): %s", strerror(errno));
	place(ends, 9, 10);
	state_fill(page, sizeof(page), 9);
	state_write_all(10, "abc", 3);
	state_write_all(10, (const char *)page, sizeof(page));
	state_write_all(10, "z", 1);
	for (int fd = 5; fd <= 10; fd++)
		flags_before[fd] = fcntl(fd, F_GETFL);
}

static void expect_packet(const void *expected, size_t length)
{
	static unsigned char got[8192];
	ssize_t read_length = read(9, got, sizeof(got));

	state_expect(read_length == (ssize_t)length, "a packet of %zd bytes, expected %zu",
		     read_length, length);
	if (read_length == (ssize_t)length)
		state_expect_equal_bytes(got, expected, length, "packet");
}

static void check(void)
{
	static unsigned char got[BIG_SIZE];
	size_t total = 0;
	ssize_t length;

	for (int fd = 5; fd <= 10; fd++)
		state_expect(fcntl(fd, F_GETFL) == flags_before[fd], "fd %d: F_GETFL %#x, was %#x",
			     fd, fcntl(fd, F_GETFL), flags_before[fd]);
	state_expect_equal_long(fcntl(5, F_GETPIPE_SZ), BIG_SIZE, "F_GETPIPE_SZ of the big pipe");
	fcntl(5, F_SETFL, O_NONBLOCK);
	while ((length = read(5, got + total, sizeof(got) - total)) > 0)
		total += (size_t)length;
	state_expect_equal_long((long long)total, BIG_DATA, "bytes in the big pipe");
	state_expect_equal_bytes(got, big, BIG_DATA, "data in the big pipe");
	state_expect(read(7, got, sizeof(got)) == SMALL_DATA && memcmp(got, "0123456789", 10) == 0,
		     "the non-blocking pipe lost its data");
	state_expect(read(7, got, 1) < 0 && errno == EAGAIN, "the read end is not O_NONBLOCK");
	expect_packet("abc", 3);
	expect_packet(page, sizeof(page));
	expect_packet("z", 1);
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
