/*
 * A pipe end watched by an epoll (what redis and libuv do): the read end
 * at fd 5 is registered in the epoll at fd 7 for EPOLLIN with data 42,
 * and 100 bytes wait in the pipe.  After restart the epoll reports fd 5
 * readable with its data at once, the 100 bytes come out, the epoll then
 * reports nothing, and a byte written to fd 6 makes it report again.
 */
#include "state.h"

#include <sys/epoll.h>

enum {
	PIPE_READ = 5,
	PIPE_WRITE = 6,
	EPOLL_FD = 7,
	QUEUED = 100
};

static unsigned char queued[QUEUED];

static void build(void)
{
	struct epoll_event event = { .events = EPOLLIN, .data.u64 = 42 };
	int ends[2];

	if (pipe(ends) < 0 || dup2(ends[0], PIPE_READ) < 0 || dup2(ends[1], PIPE_WRITE) < 0)
		state_setup_fail("pipe: %s", strerror(errno));
	close(ends[0]);
	close(ends[1]);
	if (dup2(epoll_create1(0), EPOLL_FD) != EPOLL_FD)
		state_setup_fail("epoll_create1: %s", strerror(errno));
	if (epoll_ctl(EPOLL_FD, EPOLL_CTL_ADD, PIPE_READ, &event) < 0)
		state_setup_fail("epoll_ctl: %s", strerror(errno));
	fcntl(PIPE_READ, F_SETFL, O_NONBLOCK);
	state_fill(queued, QUEUED, 77);
	state_write_all(PIPE_WRITE, (const char *)queued, QUEUED);
}

static int ready_events(struct epoll_event *event)
{
	return epoll_wait(EPOLL_FD, event, 1, 0);
}

static void check(void)
{
	struct epoll_event event = { 0 };
	unsigned char got[QUEUED + 8];

	state_expect(ready_events(&event) == 1 && event.data.u64 == 42 && (event.events & EPOLLIN),
		     "the epoll does not report the pipe readable with data 42");
	state_expect(read(PIPE_READ, got, sizeof(got)) == QUEUED, "the pipe did not hold %d bytes",
		     QUEUED);
	state_expect_equal_bytes(got, queued, QUEUED, "data in the pipe");
	state_expect(ready_events(&event) == 0, "the epoll reports an empty pipe");
	state_write_all(PIPE_WRITE, "!", 1);
	state_expect(ready_events(&event) == 1 && event.data.u64 == 42,
		     "the epoll does not see a byte written after restart");
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
