/*
 * A process checkpointed inside nanosleep() keeps sleeping after restart:
 * the 3 s sleep returns 0 (no EINTR) and no earlier than its deadline.
 */
#include "state.h"

int main(void)
{
	struct timespec duration = { .tv_sec = STATE_SLEEP_SECONDS, .tv_nsec = 0 };
	struct timespec remaining = { 0, 0 };
	int64_t deadline_ns;
	int result;

	state_init();
	state_ignore_go_signal();
	state_ready();
	deadline_ns = state_now_ns(CLOCK_MONOTONIC) + STATE_SLEEP_NS;
	result = nanosleep(&duration, &remaining);
	state_check_sleep_result(result, errno, deadline_ns, CLOCK_MONOTONIC, "nanosleep");
	state_finish();
}
