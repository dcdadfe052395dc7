/*
 * Interval timers: ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF armed with
 * long values (they must not fire during the test) and distinct
 * intervals.  After restart each timer has the same interval and is still
 * armed, with no more time left than before (whether the time between
 * checkpoint and restart counts is the tool's choice, so it is not checked).
 */
#include "state.h"

#include <sys/time.h>

enum {
	TIMER_COUNT = 3
};

static const int timer_kinds[TIMER_COUNT] = { ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF };
static const char *const timer_names[TIMER_COUNT] = { "ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF" };

static int64_t microseconds(const struct timeval *time)
{
	return (int64_t)time->tv_sec * 1000000 + time->tv_usec;
}

static void arm_timers(void)
{
	for (int index = 0; index < TIMER_COUNT; index++) {
		struct itimerval value = {
			.it_interval = { .tv_sec = 500 + index, .tv_usec = 250000 },
			.it_value = { .tv_sec = 900 + index * 100, .tv_usec = 0 },
		};

		if (setitimer(timer_kinds[index], &value, NULL) != 0)
			state_setup_fail("setitimer: %s", strerror(errno));
	}
}

static const int64_t cpu_tick_us = 10000;

static void check_timer(int index, const struct itimerval *then)
{
	struct itimerval now;
	int64_t left_now;
	int64_t left_then = microseconds(&then->it_value);

	getitimer(timer_kinds[index], &now);
	left_now = microseconds(&now.it_value);
	state_expect(microseconds(&now.it_interval) == microseconds(&then->it_interval),
		     "%s interval is %lld us, was %lld us", timer_names[index],
		     (long long)microseconds(&now.it_interval),
		     (long long)microseconds(&then->it_interval));
	/* CPU-time timers read the process clock at tick granularity: a
	 * re-armed one may read up to a tick (at most 10 ms) higher. */
	state_expect(left_now > 0 && left_now <= left_then + (index == 0 ? 0 : cpu_tick_us),
		     "%s has %lld us left, had %lld us", timer_names[index], (long long)left_now,
		     (long long)left_then);
}

int main(void)
{
	struct itimerval before[TIMER_COUNT];

	state_init();
	arm_timers();
	for (int index = 0; index < TIMER_COUNT; index++)
		getitimer(timer_kinds[index], &before[index]);
	state_ready();
	state_wait_go_signal();
	for (int index = 0; index < TIMER_COUNT; index++)
		check_timer(index, &before[index]);
	state_finish();
}
