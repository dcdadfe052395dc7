/*
 * POSIX timers (timer_create) of every notification kind on several
 * clocks: a periodic CLOCK_MONOTONIC timer sending a blocked real-time
 * signal with a value (so one is pending at checkpoint, with overruns),
 * a SIGEV_THREAD_ID CLOCK_BOOTTIME timer firing every 5 ms at a second
 * thread that takes its signals with sigwaitinfo(), a SIGEV_NONE
 * CLOCK_REALTIME one-shot an hour away, a CLOCK_PROCESS_CPUTIME_ID timer
 * an hour of CPU away with an interval, and a disarmed CLOCK_TAI timer
 * made with the default sigevent; a deleted timer leaves a gap in the ids.
 * After restart: /proc/self/timers shows the same ids, signals, values,
 * notification targets and clocks; the far timers have no more time left
 * than before and not much less, with their intervals; the disarmed one
 * stays disarmed; the pending signal and new ones arrive with SI_TIMER,
 * the timer's id and value; the thread keeps getting its own; and
 * timer_getoverrun() works on every id (the ids exist: no EINVAL).
 */
#include "state.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>

#define MS 1000000ll
#define HOUR_NS (3600ll * 1000 * MS)

enum {
	PROCESS_VALUE = 0x1111,
	THREAD_VALUE = 0x2222,
	NONE_VALUE = 0x3333,
	CPU_VALUE = 0x4444
};

static timer_t periodic_timer, thread_timer, none_timer, cpu_timer, disarmed_timer, deleted_timer;
static int process_signal, thread_signal;
static atomic_int thread_tid;
static int thread_done_fd;
static atomic_int thread_count, thread_target = 1 << 30, thread_mismatches;
static char timers_before[4096];
static struct itimerspec none_before, cpu_before;

static struct timespec ns_time(int64_t ns)
{
	return (struct timespec){ .tv_sec = ns / (1000 * MS), .tv_nsec = ns % (1000 * MS) };
}

static int64_t time_ns(struct timespec time)
{
	return (int64_t)time.tv_sec * 1000 * MS + time.tv_nsec;
}

static int timer_number(timer_t timer)
{
	return (int)(intptr_t)timer;
}

static void make_timer(timer_t *ret_timer, clockid_t clock, struct sigevent *event,
		       int64_t value_ns, int64_t interval_ns)
{
	struct itimerspec setting = { .it_interval = ns_time(interval_ns),
				      .it_value = ns_time(value_ns) };

	if (timer_create(clock, event, ret_timer) != 0)
		state_setup_fail("timer_create(clock %d): %s", (int)clock, strerror(errno));
	if (timer_settime(*ret_timer, 0, &setting, NULL) != 0)
		state_setup_fail("timer_settime: %s", strerror(errno));
}

static bool is_our_signal(const siginfo_t *info, timer_t timer, int value)
{
	return info->si_code == SI_TIMER && info->si_timerid == timer_number(timer) &&
	       info->si_value.sival_int == value;
}

/* Takes the thread timer's signals forever; tells main when it reached the target. */
static void *run_thread(void *unused)
{
	sigset_t set;
	siginfo_t info;

	(void)unused;
	atomic_store(&thread_tid, (int)syscall(SYS_gettid));
	sigemptyset(&set);
	sigaddset(&set, thread_signal);
	for (;;) {
		if (sigwaitinfo(&set, &info) != thread_signal)
			continue;
		if (!is_our_signal(&info, thread_timer, THREAD_VALUE))
			atomic_fetch_add(&thread_mismatches, 1);
		if (atomic_fetch_add(&thread_count, 1) + 1 == atomic_load(&thread_target)) {
			uint64_t one = 1;

			if (write(thread_done_fd, &one, sizeof(one)) != sizeof(one))
				atomic_fetch_add(&thread_mismatches, 1000);
		}
	}
	return NULL;
}

static void block_timer_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, process_signal);
	sigaddset(&set, thread_signal);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		state_setup_fail("sigprocmask: %s", strerror(errno));
}

static void build_timers(void)
{
	struct sigevent process_event = { .sigev_notify = SIGEV_SIGNAL,
					  .sigev_signo = process_signal,
					  .sigev_value.sival_int = PROCESS_VALUE };
	struct sigevent none_event = { .sigev_notify = SIGEV_NONE,
				       .sigev_signo = SIGUSR2,
				       .sigev_value.sival_int = NONE_VALUE };
	struct sigevent cpu_event = { .sigev_notify = SIGEV_SIGNAL,
				      .sigev_signo = SIGRTMIN + 4,
				      .sigev_value.sival_int = CPU_VALUE };
	make_timer(&periodic_timer, CLOCK_MONOTONIC, &process_event, 5 * MS, 5 * MS);
	make_timer(&deleted_timer, CLOCK_MONOTONIC, &none_event, 0, 0);
	make_timer(&none_timer, CLOCK_REALTIME, &none_event, HOUR_NS, 0);
	if (timer_delete(deleted_timer) != 0)
		state_setup_fail("timer_delete: %s", strerror(errno));
	make_timer(&cpu_timer, CLOCK_PROCESS_CPUTIME_ID, &cpu_event, HOUR_NS, 2 * HOUR_NS);
	make_timer(&disarmed_timer, CLOCK_TAI, NULL, 0, 0);
}

/* Thread 2 exists before its timer; the timer then fires every 5 ms. */
static void build_thread_timer(void)
{
	struct sigevent event = { .sigev_notify = SIGEV_THREAD_ID,
				  .sigev_signo = thread_signal,
				  .sigev_value.sival_int = THREAD_VALUE };
	pthread_t thread;
	uint64_t fired = 0;

	thread_done_fd = eventfd(0, EFD_CLOEXEC);
	if (thread_done_fd < 0 || pthread_create(&thread, NULL, run_thread, NULL) != 0)
		state_setup_fail("eventfd or pthread_create: %s", strerror(errno));
	while (atomic_load(&thread_tid) == 0)
		sched_yield();
	event._sigev_un._tid = atomic_load(&thread_tid);
	atomic_store(&thread_target, 3);
	make_timer(&thread_timer, CLOCK_BOOTTIME, &event, 5 * MS, 5 * MS);
	if (read(thread_done_fd, &fired, sizeof(fired)) != sizeof(fired))
		state_setup_fail("the thread timer never fired");
}

/* One signal taken before the checkpoint, and the next one left pending. */
static void take_one_process_signal(void)
{
	sigset_t set;
	siginfo_t info;

	sigemptyset(&set);
	sigaddset(&set, process_signal);
	if (sigwaitinfo(&set, &info) != process_signal ||
	    !is_our_signal(&info, periodic_timer, PROCESS_VALUE))
		state_setup_fail("the periodic timer's signal is not what was set");
}

static void save_before(void)
{
	state_read_file("/proc/self/timers", timers_before, sizeof(timers_before));
	if (timer_gettime(none_timer, &none_before) != 0 || timer_gettime(cpu_timer, &cpu_before) != 0)
		state_setup_fail("timer_gettime: %s", strerror(errno));
}

/* Each "ID: ..." block of before is in now (the order of the list may differ). */
static void expect_same_timer_list(void)
{
	char now[4096];
	char *block = timers_before;

	state_read_file("/proc/self/timers", now, sizeof(now));
	while (block && *block) {
		char *next = strstr(block + 1, "ID: ");
		char saved = next ? *next : '\0';

		if (next)
			*next = '\0';
		state_expect(strstr(now, block) != NULL,
			     "/proc/self/timers lacks \"%s\"; it has: %s", block, now);
		if (next)
			*next = saved;
		block = next;
	}
}

static void expect_time_left(timer_t timer, const struct itimerspec *before, const char *name)
{
	struct itimerspec now;
	int64_t left, was;

	if (!state_expect(timer_gettime(timer, &now) == 0, "%s: timer_gettime: %s", name,
			  strerror(errno)))
		return;
	left = time_ns(now.it_value);
	was = time_ns(before->it_value);
	state_expect(left <= was && left > was - 600 * 1000 * MS, "%s: %lld ns left, was %lld ns",
		     name, (long long)left, (long long)was);
	state_expect(time_ns(now.it_interval) == time_ns(before->it_interval),
		     "%s: interval %lld ns, was %lld ns", name, (long long)time_ns(now.it_interval),
		     (long long)time_ns(before->it_interval));
}

static void expect_disarmed(void)
{
	struct itimerspec now;

	state_expect(timer_gettime(disarmed_timer, &now) == 0 && time_ns(now.it_value) == 0 &&
			     time_ns(now.it_interval) == 0,
		     "disarmed timer: timer_gettime: %s, %lld ns left", strerror(errno),
		     (long long)time_ns(now.it_value));
}

/* The pending one and two more, all from the periodic timer. */
static void expect_process_signals(void)
{
	struct timespec timeout = { .tv_sec = 10 };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, process_signal);
	for (int i = 0; i < 3; i++) {
		siginfo_t info;
		int got = sigtimedwait(&set, &info, &timeout);

		if (!state_expect(got == process_signal, "periodic timer signal %d: %s", i,
				  strerror(errno)))
			return;
		state_expect(is_our_signal(&info, periodic_timer, PROCESS_VALUE),
			     "periodic timer signal %d: code %d timer %d value %#x", i,
			     info.si_code, info.si_timerid, info.si_value.sival_int);
		state_expect(info.si_overrun >= 0, "periodic timer signal %d: overrun %d", i,
			     info.si_overrun);
	}
}

static void expect_thread_signals(void)
{
	struct pollfd wanted = { .fd = thread_done_fd, .events = POLLIN };
	uint64_t done = 0;

	atomic_store(&thread_target, atomic_load(&thread_count) + 3);
	if (!state_expect(poll(&wanted, 1, 10000) == 1, "the thread timer stopped firing"))
		return;
	state_expect(read(thread_done_fd, &done, sizeof(done)) == sizeof(done),
		     "reading the thread's eventfd: %s", strerror(errno));
	state_expect(atomic_load(&thread_mismatches) == 0,
		     "the thread got %d signals not from its timer", atomic_load(&thread_mismatches));
}

static void expect_overruns_readable(void)
{
	timer_t timers[] = { periodic_timer, thread_timer, none_timer, cpu_timer, disarmed_timer };

	for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++)
		state_expect(timer_getoverrun(timers[i]) >= 0, "timer_getoverrun(%d): %s",
			     timer_number(timers[i]), strerror(errno));
	state_expect(timer_gettime(deleted_timer, &(struct itimerspec){ 0 }) != 0 && errno == EINVAL,
		     "the deleted timer %d exists", timer_number(deleted_timer));
}

int main(void)
{
	state_init();
	process_signal = SIGRTMIN + 1;
	thread_signal = SIGRTMIN + 2;
	block_timer_signals();
	build_thread_timer();
	build_timers();
	take_one_process_signal();
	save_before();
	state_ready();
	state_wait_go_signal();
	expect_same_timer_list();
	expect_time_left(none_timer, &none_before, "SIGEV_NONE CLOCK_REALTIME timer");
	expect_time_left(cpu_timer, &cpu_before, "CLOCK_PROCESS_CPUTIME_ID timer");
	expect_disarmed();
	expect_process_signals();
	expect_thread_signals();
	expect_overruns_readable();
	state_finish();
}
