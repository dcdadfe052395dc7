/*
 * A process checkpointed in poll() on its stdin pipe with a 30 s timeout
 * stays in poll() after restart and wakes when "go" arrives on the new
 * stdin: poll returns 1 with POLLIN, before the timeout.
 */
#include "state.h"

#include <poll.h>

enum {
	POLL_TIMEOUT_MS = 30000
};

int main(void)
{
	struct pollfd stdin_poll = { .fd = STDIN_FILENO, .events = POLLIN, .revents = 0 };
	int64_t started_ns;
	int64_t waited_ns;
	int result;

	state_init();
	state_ignore_go_signal();
	state_ready();
	started_ns = state_now_ns(CLOCK_MONOTONIC);
	result = poll(&stdin_poll, 1, POLL_TIMEOUT_MS);
	waited_ns = state_now_ns(CLOCK_MONOTONIC) - started_ns;
	state_expect(result == 1, "poll returned %d (%s)", result,
		     result < 0 ? strerror(errno) : "timeout or no event");
	state_expect(stdin_poll.revents == POLLIN, "poll revents %#x, expected POLLIN",
		     (unsigned)stdin_poll.revents);
	state_expect(waited_ns < (int64_t)POLL_TIMEOUT_MS * 1000000,
		     "poll waited %lld ms, past its timeout", (long long)(waited_ns / 1000000));
	state_expect(state_wait_go_line(), "stdin did not hold \"go\"");
	state_finish();
}
