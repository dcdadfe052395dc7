/*
 * Resource limits: soft limits lowered for RLIMIT_NOFILE, RLIMIT_CORE,
 * RLIMIT_STACK, RLIMIT_CPU, RLIMIT_MSGQUEUE and RLIMIT_NICE, and a hard
 * limit lowered for RLIMIT_FSIZE.  After restart getrlimit() reports the
 * same soft and hard values for all 16 limits, and the lowered
 * RLIMIT_NOFILE is enforced.
 */
#include "state.h"

#include <sys/resource.h>

enum {
	LIMIT_COUNT = RLIM_NLIMITS,
	LOW_NOFILE = 64
};

static struct rlimit limits_before[LIMIT_COUNT];

static void lower_soft_limit(int resource, rlim_t soft)
{
	struct rlimit limit;

	getrlimit(resource, &limit);
	if (limit.rlim_max != RLIM_INFINITY && soft > limit.rlim_max)
		soft = limit.rlim_max;
	limit.rlim_cur = soft;
	if (setrlimit(resource, &limit) != 0)
		state_setup_fail("setrlimit(%d): %s", resource, strerror(errno));
}

static void lower_limits(void)
{
	struct rlimit file_size = { .rlim_cur = 1 << 30, .rlim_max = (rlim_t)1 << 34 };

	lower_soft_limit(RLIMIT_NOFILE, LOW_NOFILE);
	lower_soft_limit(RLIMIT_CORE, 4096);
	lower_soft_limit(RLIMIT_STACK, 7 << 20);
	lower_soft_limit(RLIMIT_CPU, 3600);
	lower_soft_limit(RLIMIT_MSGQUEUE, 4000);
	lower_soft_limit(RLIMIT_NICE, 0);
	if (setrlimit(RLIMIT_FSIZE, &file_size) != 0)
		state_setup_fail("setrlimit(RLIMIT_FSIZE): %s", strerror(errno));
	for (int resource = 0; resource < LIMIT_COUNT; resource++)
		getrlimit(resource, &limits_before[resource]);
}

static void check_limits(void)
{
	struct rlimit limit;

	for (int resource = 0; resource < LIMIT_COUNT; resource++) {
		getrlimit(resource, &limit);
		state_expect(limit.rlim_cur == limits_before[resource].rlim_cur &&
				     limit.rlim_max == limits_before[resource].rlim_max,
			     "rlimit %d is %llu/%llu, was %llu/%llu", resource,
			     (unsigned long long)limit.rlim_cur, (unsigned long long)limit.rlim_max,
			     (unsigned long long)limits_before[resource].rlim_cur,
			     (unsigned long long)limits_before[resource].rlim_max);
	}
}

static void check_nofile_enforced(void)
{
	int fd = dup2(0, LOW_NOFILE);

	state_expect(fd < 0 && errno == EBADF, "dup2 to fd %d past RLIMIT_NOFILE succeeded",
		     LOW_NOFILE);
	if (fd >= 0)
		close(fd);
}

int main(void)
{
	state_init();
	lower_limits();
	state_ready();
	state_wait_go_signal();
	check_limits();
	check_nofile_enforced();
	state_finish();
}
