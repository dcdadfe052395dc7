/*
 * A process checkpointed in epoll_wait() (30 s timeout) on an epoll that
 * watches its stdin pipe (data 0x5d1) and an empty eventfd (data 0xef)
 * stays in epoll_wait after restart, now watching the new stdin, and wakes
 * when "go" arrives there: one event, EPOLLIN with data 0x5d1, before the
 * timeout; the eventfd never reports.
 */
#include "state.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

enum {
	WAIT_TIMEOUT_MS = 30000,
	STDIN_DATA = 0x5d1,
	EVENTFD_DATA = 0xef
};

static int make_epoll(void)
{
	struct epoll_event on_stdin = { .events = EPOLLIN, .data.u64 = STDIN_DATA };
	struct epoll_event on_counter = { .events = EPOLLIN, .data.u64 = EVENTFD_DATA };
	int epoll_fd = epoll_create1(EPOLL_CLOEXEC), counter = eventfd(0, 0);

	if (epoll_fd < 0 || counter < 0 ||
	    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, STDIN_FILENO, &on_stdin) < 0 ||
	    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, counter, &on_counter) < 0)
		state_setup_fail("epoll: %s", strerror(errno));
	return epoll_fd;
}

int main(void)
{
	struct epoll_event events[2] = { 0 };
	int64_t started_ns, waited_ns;
	int epoll_fd, result;

	state_init();
	state_ignore_go_signal();
	epoll_fd = make_epoll();
	state_ready();
	started_ns = state_now_ns(CLOCK_MONOTONIC);
	result = epoll_wait(epoll_fd, events, 2, WAIT_TIMEOUT_MS);
	waited_ns = state_now_ns(CLOCK_MONOTONIC) - started_ns;
	state_expect(result == 1, "epoll_wait returned %d (%s)", result,
		     result < 0 ? strerror(errno) : "timeout or more than one event");
	state_expect(events[0].events == EPOLLIN && events[0].data.u64 == STDIN_DATA,
		     "event %#x with data %#llx, expected EPOLLIN with %#x", events[0].events,
		     (unsigned long long)events[0].data.u64, STDIN_DATA);
	state_expect(waited_ns < (int64_t)WAIT_TIMEOUT_MS * 1000000,
		     "epoll_wait waited %lld ms, past its timeout", (long long)(waited_ns / 1000000));
	state_expect(state_wait_go_line(), "stdin did not hold \"go\"");
	state_finish();
}
