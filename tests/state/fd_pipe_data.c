/*
 * A pipe inside the process with unread data in it: both ends are open
 * (the write end O_NONBLOCK) and 3000 bytes wait in the buffer.  After
 * restart both fds are pipe ends of one pipe again (what is written to
 * one end comes out of the other), F_GETFL is the same, and the 3000
 * bytes come out first, in order.
 */
#include "state.h"

enum {
	QUEUED_BYTES = 3000
};

static int pipe_ends[2];
static int read_flags_before;
static int write_flags_before;
static unsigned char queued[QUEUED_BYTES];

static void build_pipe(void)
{
	if (pipe(pipe_ends) != 0)
		state_setup_fail("pipe: %s", strerror(errno));
	fcntl(pipe_ends[1], F_SETFL, O_NONBLOCK);
	state_fill(queued, QUEUED_BYTES, 3131);
	state_write_all(pipe_ends[1], (const char *)queued, QUEUED_BYTES);
	read_flags_before = fcntl(pipe_ends[0], F_GETFL);
	write_flags_before = fcntl(pipe_ends[1], F_GETFL);
}

static void check_pipe(void)
{
	static unsigned char got[QUEUED_BYTES + 16];
	ssize_t length;

	state_expect(fcntl(pipe_ends[0], F_GETFL) == read_flags_before, "read end F_GETFL differs");
	state_expect(fcntl(pipe_ends[1], F_GETFL) == write_flags_before, "write end F_GETFL differs");
	state_expect(write(pipe_ends[1], "tail", 4) == 4, "write to the pipe: %s", strerror(errno));
	length = read(pipe_ends[0], got, sizeof(got));
	state_expect(length == QUEUED_BYTES + 4, "read %zd bytes from the pipe, expected %d",
		     length, QUEUED_BYTES + 4);
	state_expect_equal_bytes(got, queued, QUEUED_BYTES, "data queued in the pipe");
	state_expect(memcmp(got + QUEUED_BYTES, "tail", 4) == 0,
		     "data written after restart did not follow");
}

int main(void)
{
	state_init();
	build_pipe();
	state_ready();
	state_wait_go_signal();
	check_pipe();
	state_finish();
}
