/*
 * A process checkpointed inside a relative clock_nanosleep(CLOCK_MONOTONIC)
 * keeps sleeping after restart: returns 0, no earlier than its deadline.
 */
#include "state.h"

int main(void)
{
	struct timespec duration = { .tv_sec = STATE_SLEEP_SECONDS, .tv_nsec = 250000000 };
	int64_t deadline_ns;
	int result;

	state_init();
	state_ignore_go_signal();
	state_ready();
	deadline_ns = state_now_ns(CLOCK_MONOTONIC) + STATE_SLEEP_NS + 250000000;
	result = clock_nanosleep(CLOCK_MONOTONIC, 0, &duration, NULL);
	state_check_sleep_result(result, result, deadline_ns, CLOCK_MONOTONIC,
				 "clock_nanosleep (relative)");
	state_finish();
}
