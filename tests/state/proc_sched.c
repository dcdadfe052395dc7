/*
 * Scheduling attributes, different in each of four threads (all waiting on
 * a condition variable): SCHED_BATCH with nice 4 bound to the first CPU,
 * SCHED_IDLE bound to the last, SCHED_OTHER with nice 7 and reset-on-fork,
 * SCHED_FIFO priority 3 with reset-on-fork.  Per process: oom_score_adj
 * 345, loginuid 4242 and membarrier registrations (private and global
 * expedited).  Every value sched_getattr, sched_getaffinity, /proc and
 * MEMBARRIER_CMD_GET_REGISTRATIONS give is the same after the checkpoint.
 */
#include "state.h"

#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>

enum {
	THREADS = 4
};

#define RESET_ON_FORK 0x01
#define GET_REGISTRATIONS (1 << 9)

struct sched_attr_v1 {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
	uint32_t sched_util_min;
	uint32_t sched_util_max;
};

struct plan {
	uint32_t policy;
	int nice;
	uint32_t priority;
	uint64_t flags;
	int cpu; /* 0: the first CPU, 1: the last, -1: all */
};

static const struct plan plans[THREADS] = {
	{ SCHED_BATCH, 4, 0, 0, 0 },
	{ SCHED_IDLE, 0, 0, 0, 1 },
	{ SCHED_OTHER, 7, 0, RESET_ON_FORK, -1 },
	{ SCHED_FIFO, 0, 3, RESET_ON_FORK, -1 },
};

struct sched_state {
	struct sched_attr_v1 attr;
	cpu_set_t cpus;
};

static pid_t tids[THREADS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int ready_count, done;
static int setup_errors[THREADS];

static int last_cpu(void)
{
	cpu_set_t all;
	int last = 0;

	if (sched_getaffinity(0, sizeof(all), &all) != 0)
		return 0;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		last = CPU_ISSET(cpu, &all) ? cpu : last;
	return last;
}

static int first_cpu(void)
{
	cpu_set_t all;

	if (sched_getaffinity(0, sizeof(all), &all) != 0)
		return 0;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (CPU_ISSET(cpu, &all))
			return cpu;
	}
	return 0;
}

static int apply(int index)
{
	const struct plan *plan = &plans[index];
	struct sched_attr_v1 attr = {
		.size = sizeof(attr),
		.sched_policy = plan->policy,
		.sched_flags = plan->flags,
		.sched_nice = plan->nice,
		.sched_priority = plan->priority,
	};
	cpu_set_t one;

	if (plan->cpu >= 0) {
		CPU_ZERO(&one);
		CPU_SET(plan->cpu == 0 ? first_cpu() : last_cpu(), &one);
		if (sched_setaffinity(0, sizeof(one), &one) != 0)
			return errno;
	}
	return syscall(SYS_sched_setattr, 0, &attr, 0) == 0 ? 0 : errno;
}

static void *worker(void *argument)
{
	int index = (int)(intptr_t)argument;

	tids[index] = (pid_t)syscall(SYS_gettid);
	setup_errors[index] = apply(index);
	pthread_mutex_lock(&lock);
	ready_count++;
	pthread_cond_broadcast(&changed);
	while (!done)
		pthread_cond_wait(&changed, &lock);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void read_state(pid_t tid, struct sched_state *state)
{
	memset(state, 0, sizeof(*state));
	syscall(SYS_sched_getattr, tid, &state->attr, sizeof(state->attr), 0);
	sched_getaffinity(tid, sizeof(state->cpus), &state->cpus);
}

static void compare_state(int index, const struct sched_state *before, const struct sched_state *after)
{
	const struct sched_attr_v1 *a = &before->attr, *b = &after->attr;

	state_expect(a->sched_policy == plans[index].policy && a->sched_nice == plans[index].nice,
		     "thread %d: setup: policy %u nice %d", index, a->sched_policy, a->sched_nice);
	state_expect(b->sched_policy == a->sched_policy && b->sched_flags == a->sched_flags &&
			     b->sched_nice == a->sched_nice && b->sched_priority == a->sched_priority,
		     "thread %d: policy %u flags %#llx nice %d priority %u, was %u %#llx %d %u",
		     index, b->sched_policy, (unsigned long long)b->sched_flags, b->sched_nice,
		     b->sched_priority, a->sched_policy, (unsigned long long)a->sched_flags,
		     a->sched_nice, a->sched_priority);
	state_expect(b->sched_runtime == a->sched_runtime && b->sched_util_min == a->sched_util_min &&
			     b->sched_util_max == a->sched_util_max,
		     "thread %d: slice %llu, clamp %u-%u, was %llu, %u-%u", index,
		     (unsigned long long)b->sched_runtime, b->sched_util_min, b->sched_util_max,
		     (unsigned long long)a->sched_runtime, a->sched_util_min, a->sched_util_max);
	state_expect(CPU_EQUAL(&before->cpus, &after->cpus),
		     "thread %d: CPU affinity changed (%d CPUs, was %d)", index,
		     CPU_COUNT(&after->cpus), CPU_COUNT(&before->cpus));
}

static long read_number(const char *path)
{
	char text[32];

	return state_read_file(path, text, sizeof(text)) < 0 ? -1 : strtol(text, NULL, 10);
}

static void set_process_attributes(void)
{
	state_write_file("/proc/self/oom_score_adj", "345", 3);
	state_write_file("/proc/self/loginuid", "4242", 4);
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) != 0 ||
	    syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0) != 0)
		state_setup_fail("membarrier registration: %s", strerror(errno));
}

int main(void)
{
	struct sched_state before[THREADS], after[THREADS];
	pthread_t threads[THREADS];
	long registrations;

	state_init();
	/* Whoever started us may run niced (nice make test): SCHED_IDLE keeps the nice it had. */
	if (setpriority(PRIO_PROCESS, 0, 0) < 0)
		state_setup_fail("setpriority(0) failed");
	set_process_attributes();
	tids[0] = (pid_t)syscall(SYS_gettid);
	for (int i = 1; i < THREADS; i++) {
		if (pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)i) != 0)
			state_setup_fail("pthread_create failed");
	}
	setup_errors[0] = apply(0);
	pthread_mutex_lock(&lock);
	while (ready_count < THREADS - 1)
		pthread_cond_wait(&changed, &lock);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < THREADS; i++) {
		if (setup_errors[i])
			state_setup_fail("thread %d: %s", i, strerror(setup_errors[i]));
		read_state(tids[i], &before[i]);
	}
	registrations = syscall(SYS_membarrier, GET_REGISTRATIONS, 0);
	state_ready();
	state_wait_go_signal();

	state_check_identity();
	for (int i = 0; i < THREADS; i++) {
		read_state(tids[i], &after[i]);
		compare_state(i, &before[i], &after[i]);
	}
	state_expect_equal_long(read_number("/proc/self/oom_score_adj"), 345, "oom_score_adj");
	state_expect_equal_long(read_number("/proc/self/loginuid"), 4242, "loginuid");
	state_expect_equal_long(syscall(SYS_membarrier, GET_REGISTRATIONS, 0), registrations,
				"membarrier registrations");
	state_expect(registrations > 0, "membarrier registrations were %ld", registrations);
	pthread_mutex_lock(&lock);
	done = 1;
	pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&lock);
	for (int i = 1; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	state_finish();
	return 0;
}
