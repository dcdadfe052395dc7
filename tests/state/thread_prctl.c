/*
 * Per-thread prctl state, different in every thread: timer slack, MCE kill
 * policy, no_new_privs, keep-caps and securebits in the root's four
 * threads; parent-death signals (and timer slack, no_new_privs) in the
 * three threads of a child, whose parent stays (the root's own threads
 * have none: `ckpt restart --detach` drops the root's).  Each thread reads
 * its own values before and after; every value must be the same.
 */
#include "tree.h"

#include <linux/securebits.h>
#include <pthread.h>
#include <sys/prctl.h>

enum {
	THREADS = 4
};

struct thread_prctl {
	long timer_slack;
	int pdeath_signal;
	int mce_kill;
	int no_new_privs;
	int keep_caps;
	int securebits;
};

struct thread_plan {
	long timer_slack;
	int pdeath_signal;
	int mce_kill; /* PR_MCE_KILL_EARLY, _LATE, or -1: leave default */
	int no_new_privs;
	int securebits;
};

static const struct thread_plan root_plans[THREADS] = {
	{ 111111, 0, -1, 0, 0 },
	{ 222222, 0, PR_MCE_KILL_EARLY, 1, SECBIT_KEEP_CAPS },
	{ 333333, 0, PR_MCE_KILL_LATE, 0, SECBIT_KEEP_CAPS | SECBIT_NOROOT },
	{ 444444, 0, -1, 1, 0 },
};

static const struct thread_plan child_plans[THREADS] = {
	{ 555555, SIGHUP, -1, 0, 0 },
	{ 666666, 40, PR_MCE_KILL_EARLY, 1, 0 },
	{ 777777, 0, -1, 0, 0 },
	{ 888888, SIGTERM, -1, 0, SECBIT_KEEP_CAPS },
};

static const struct thread_plan *plans;
static struct thread_prctl before[THREADS];
static struct thread_prctl after[THREADS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int ready_count;
static int check_round;
static int checked_count;

static void read_own(struct thread_prctl *values)
{
	values->timer_slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	values->pdeath_signal = -1;
	prctl(PR_GET_PDEATHSIG, &values->pdeath_signal, 0, 0, 0);
	values->mce_kill = prctl(PR_MCE_KILL_GET, 0, 0, 0, 0);
	values->no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	values->keep_caps = prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0);
	values->securebits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
}

static int apply(const struct thread_plan *plan)
{
	if (prctl(PR_SET_TIMERSLACK, plan->timer_slack, 0, 0, 0) != 0 ||
	    prctl(PR_SET_PDEATHSIG, plan->pdeath_signal, 0, 0, 0) != 0)
		return -1;
	if (plan->mce_kill >= 0 && prctl(PR_MCE_KILL, PR_MCE_KILL_SET, plan->mce_kill, 0, 0) != 0)
		return -1;
	if (plan->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	if (plan->securebits && prctl(PR_SET_SECUREBITS, plan->securebits, 0, 0, 0) != 0)
		return -1;
	return 0;
}

static void wait_for(int *counter, int wanted)
{
	pthread_mutex_lock(&lock);
	while (*counter < wanted)
		pthread_cond_wait(&changed, &lock);
	pthread_mutex_unlock(&lock);
}

static void count_up(int *counter)
{
	pthread_mutex_lock(&lock);
	(*counter)++;
	pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&lock);
}

static void *worker(void *argument)
{
	int index = (int)(intptr_t)argument;

	if (apply(&plans[index]) != 0)
		before[index].timer_slack = -errno;
	else
		read_own(&before[index]);
	count_up(&ready_count);
	wait_for(&check_round, 1);
	read_own(&after[index]);
	count_up(&checked_count);
	return NULL;
}

static void start_threads(pthread_t *threads)
{
	if (apply(&plans[0]) != 0)
		state_setup_fail("prctl in the main thread: %s", strerror(errno));
	read_own(&before[0]);
	for (int i = 1; i < THREADS; i++) {
		if (pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)i) != 0)
			state_setup_fail("pthread_create failed");
	}
	wait_for(&ready_count, THREADS - 1);
	for (int i = 1; i < THREADS; i++) {
		if (before[i].timer_slack != plans[i].timer_slack)
			state_setup_fail("prctl in thread %d: %s", i,
					 strerror((int)-before[i].timer_slack));
	}
}

static void compare(const char *who, int index)
{
	const struct thread_prctl *was = &before[index];
	const struct thread_prctl *now = &after[index];

	state_expect(now->timer_slack == was->timer_slack, "%s thread %d: timer slack %ld, was %ld",
		     who, index, now->timer_slack, was->timer_slack);
	state_expect(now->pdeath_signal == was->pdeath_signal,
		     "%s thread %d: parent-death signal %d, was %d", who, index, now->pdeath_signal,
		     was->pdeath_signal);
	state_expect(now->mce_kill == was->mce_kill, "%s thread %d: MCE kill policy %d, was %d",
		     who, index, now->mce_kill, was->mce_kill);
	state_expect(now->no_new_privs == was->no_new_privs, "%s thread %d: no_new_privs %d, was %d",
		     who, index, now->no_new_privs, was->no_new_privs);
	state_expect(now->keep_caps == was->keep_caps, "%s thread %d: keep-caps %d, was %d", who,
		     index, now->keep_caps, was->keep_caps);
	state_expect(now->securebits == was->securebits, "%s thread %d: securebits %#x, was %#x",
		     who, index, now->securebits, was->securebits);
}

static void check_threads(const char *who, pthread_t *threads)
{
	read_own(&after[0]);
	count_up(&check_round);
	wait_for(&checked_count, THREADS - 1);
	for (int i = 1; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	for (int i = 0; i < THREADS; i++)
		compare(who, i);
}

static pid_t start_child(void)
{
	pthread_t threads[THREADS];
	pid_t child = tree_fork();

	if (child > 0)
		return child;
	plans = child_plans;
	start_threads(threads);
	tree_report_ready();
	state_wait_go_signal();
	check_threads("child", threads);
	tree_child_finish(0);
}

int main(void)
{
	pthread_t threads[THREADS];
	pid_t child;

	tree_init();
	child = start_child();
	tree_wait_ready(child);
	plans = root_plans;
	start_threads(threads);
	state_ready();
	tree_wait_go(&child, 1);
	check_threads("root", threads);
	tree_expect_child_exit(child, 0, "child");
	state_finish();
}
