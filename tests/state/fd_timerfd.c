/*
 * timerfds: a periodic CLOCK_MONOTONIC timer (10 ms) with expirations
 * pending, a one-shot that fired and was not read, a one-shot an hour
 * away (CLOCK_BOOTTIME, O_NONBLOCK), an absolute CLOCK_REALTIME deadline
 * an hour away and a disarmed one (FD_CLOEXEC).  The program waits with
 * poll() until the fired ones are readable, never reads them before the
 * checkpoint.  After restart: clocks, settime flags (fdinfo), F_GETFL and
 * F_GETFD; the periodic one still has its interval and reads at least one
 * expiration, the fired one-shot reads exactly 1 and is disarmed, the
 * far ones have no more time left than before and not much less, the
 * absolute one keeps its deadline, the disarmed one stays disarmed.
 */
#include "state.h"

#include <poll.h>
#include <sys/timerfd.h>

enum {
	PERIODIC_FD = 7,
	FIRED_FD = 8,
	FAR_FD = 9,
	ABSOLUTE_FD = 10,
	DISARMED_FD = 11
};

#define MS 1000000ll
#define HOUR_NS (3600ll * 1000 * MS)

static int64_t absolute_deadline_ns;

static struct timespec ns_time(int64_t ns)
{
	return (struct timespec){ .tv_sec = ns / (1000 * MS), .tv_nsec = ns % (1000 * MS) };
}

static int64_t time_ns(struct timespec time)
{
	return (int64_t)time.tv_sec * 1000 * MS + time.tv_nsec;
}

static void make_timer(int wanted_fd, clockid_t clock, int create_flags, int settime_flags,
		       int64_t value_ns, int64_t interval_ns)
{
	struct itimerspec setting = { .it_interval = ns_time(interval_ns),
				      .it_value = ns_time(value_ns) };
	int fd = timerfd_create(clock, create_flags);

	if (fd < 0 || dup2(fd, wanted_fd) != wanted_fd)
		state_setup_fail("timerfd at %d: %s", wanted_fd, strerror(errno));
	close(fd);
	if (timerfd_settime(wanted_fd, settime_flags, &setting, NULL) < 0)
		state_setup_fail("timerfd_settime on %d: %s", wanted_fd, strerror(errno));
}

static void wait_readable(int fd)
{
	struct pollfd wanted = { .fd = fd, .events = POLLIN };

	if (poll(&wanted, 1, 10000) != 1)
		state_setup_fail("timerfd %d never fired", fd);
}

static void build(void)
{
	make_timer(PERIODIC_FD, CLOCK_MONOTONIC, 0, 0, 10 * MS, 10 * MS);
	make_timer(FIRED_FD, CLOCK_MONOTONIC, 0, 0, 1 * MS, 0);
	make_timer(FAR_FD, CLOCK_BOOTTIME, TFD_NONBLOCK, 0, HOUR_NS, 0);
	absolute_deadline_ns = state_now_ns(CLOCK_REALTIME) + HOUR_NS;
	make_timer(ABSOLUTE_FD, CLOCK_REALTIME, 0, TFD_TIMER_ABSTIME, absolute_deadline_ns, 0);
	make_timer(DISARMED_FD, CLOCK_MONOTONIC, 0, 0, 0, 0);
	if (fcntl(DISARMED_FD, F_SETFD, FD_CLOEXEC) < 0)
		state_setup_fail("F_SETFD: %s", strerror(errno));
	wait_readable(PERIODIC_FD);
	wait_readable(FIRED_FD);
}

static void expect_fdinfo(int fd, const char *line)
{
	char path[64], text[1024];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	state_read_file(path, text, sizeof(text));
	state_expect(strstr(text, line) != NULL, "fd %d: fdinfo lacks \"%s\": %s", fd, line, text);
}

static struct itimerspec setting_of(int fd)
{
	struct itimerspec setting = { 0 };

	state_expect(timerfd_gettime(fd, &setting) == 0, "timerfd_gettime(%d): %s", fd,
		     strerror(errno));
	return setting;
}

static uint64_t read_ticks(int fd)
{
	uint64_t ticks = 0;

	state_expect(read(fd, &ticks, sizeof(ticks)) == sizeof(ticks), "read timerfd %d: %s", fd,
		     strerror(errno));
	return ticks;
}

static void expect_remaining(int fd, int64_t most_ns, int64_t least_ns)
{
	int64_t left = time_ns(setting_of(fd).it_value);

	state_expect(left <= most_ns && left >= least_ns, "fd %d: %lld ns left, expected %lld..%lld",
		     fd, (long long)left, (long long)least_ns, (long long)most_ns);
}

static void check_flags(void)
{
	expect_fdinfo(PERIODIC_FD, "clockid: 1");
	expect_fdinfo(FAR_FD, "clockid: 7");
	expect_fdinfo(ABSOLUTE_FD, "clockid: 0");
	expect_fdinfo(ABSOLUTE_FD, "settime flags: 01");
	expect_fdinfo(PERIODIC_FD, "settime flags: 00");
	state_expect((fcntl(FAR_FD, F_GETFL) & O_NONBLOCK) != 0, "fd %d lost O_NONBLOCK", FAR_FD);
	state_expect((fcntl(PERIODIC_FD, F_GETFL) & O_NONBLOCK) == 0, "fd %d gained O_NONBLOCK",
		     PERIODIC_FD);
	state_expect(fcntl(DISARMED_FD, F_GETFD) == FD_CLOEXEC, "fd %d lost FD_CLOEXEC", DISARMED_FD);
	state_expect(fcntl(PERIODIC_FD, F_GETFD) == 0, "fd %d gained FD_CLOEXEC", PERIODIC_FD);
}

static void check_timers(void)
{
	struct itimerspec periodic = setting_of(PERIODIC_FD), fired = setting_of(FIRED_FD);
	struct itimerspec disarmed = setting_of(DISARMED_FD);
	int64_t to_deadline = absolute_deadline_ns - state_now_ns(CLOCK_REALTIME);

	state_expect(time_ns(periodic.it_interval) == 10 * MS, "periodic interval is %lld ns",
		     (long long)time_ns(periodic.it_interval));
	state_expect(read_ticks(PERIODIC_FD) >= 1, "periodic timer: no expiration");
	state_expect(time_ns(fired.it_value) == 0 && time_ns(fired.it_interval) == 0,
		     "fired one-shot is armed again");
	state_expect(read_ticks(FIRED_FD) == 1, "fired one-shot: not exactly one expiration");
	expect_remaining(FAR_FD, HOUR_NS, HOUR_NS - 50000 * MS);
	expect_remaining(ABSOLUTE_FD, to_deadline + 1000 * MS, to_deadline - 1000 * MS);
	state_expect(time_ns(disarmed.it_value) == 0, "disarmed timer is armed");
}

int main(void)
{
	state_init();
	build();
	state_ready();
	state_wait_go_signal();
	check_flags();
	check_timers();
	state_finish();
}
