/*
 * A process checkpointed inside clock_nanosleep(TIMER_ABSTIME) on
 * CLOCK_MONOTONIC and then on CLOCK_REALTIME keeps sleeping after restart:
 * each returns 0, no earlier than its absolute deadline.
 */
#include "state.h"

static struct timespec deadline_after(clockid_t clock, int64_t delay_ns)
{
	int64_t deadline_ns = state_now_ns(clock) + delay_ns;
	struct timespec deadline = {
		.tv_sec = (time_t)(deadline_ns / 1000000000LL),
		.tv_nsec = (long)(deadline_ns % 1000000000LL),
	};

	return deadline;
}

static int64_t timespec_ns(const struct timespec *time)
{
	return (int64_t)time->tv_sec * 1000000000LL + time->tv_nsec;
}

int main(void)
{
	struct timespec monotonic_deadline;
	struct timespec realtime_deadline;
	int monotonic_result;
	int realtime_result;

	state_init();
	state_ignore_go_signal();
	state_ready();
	monotonic_deadline = deadline_after(CLOCK_MONOTONIC, STATE_SLEEP_NS);
	realtime_deadline = deadline_after(CLOCK_REALTIME, STATE_SLEEP_NS + 500000000);
	monotonic_result = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &monotonic_deadline, NULL);
	state_expect(monotonic_result == 0, "clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME): %s",
		     strerror(monotonic_result));
	state_expect(state_now_ns(CLOCK_MONOTONIC) >= timespec_ns(&monotonic_deadline),
		     "monotonic absolute sleep ended before its deadline");
	realtime_result = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &realtime_deadline, NULL);
	state_check_sleep_result(realtime_result, realtime_result, timespec_ns(&realtime_deadline),
				 CLOCK_REALTIME, "clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME)");
	state_finish();
}
