/*
 * Several threads: one waits on a condition variable (a futex), one is
 * blocked in read() on stdin until "go" arrives, one spins in user space.  Each
 * keeps a pattern in its own TLS and on its own stack.  After restart the
 * process has the same threads with the same thread ids, each wakes the way
 * it waits, and each finds its TLS, its stack data and its tid intact.
 */
#include "state.h"

#include <dirent.h>
#include <pthread.h>

enum {
	WORKER_COUNT = 3,
	TLS_BYTES = 1024,
	STACK_BYTES = 2048
};

enum wait_kind {
	WAIT_CONDITION,
	WAIT_STDIN_READ,
	WAIT_SPIN
};

struct worker {
	enum wait_kind kind;
	pthread_t thread;
	pid_t tid;
	char failure[160];
};

static __thread unsigned char worker_tls[TLS_BYTES];
static struct worker workers[WORKER_COUNT] = {
	{ .kind = WAIT_CONDITION },
	{ .kind = WAIT_STDIN_READ },
	{ .kind = WAIT_SPIN },
};
static pthread_barrier_t all_started;
static pthread_barrier_t all_checked;
static pthread_mutex_t go_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_condition = PTHREAD_COND_INITIALIZER;
static bool condition_go;
static volatile int spin_go;
static int thread_count_before;

static void wait_condition(void)
{
	pthread_mutex_lock(&go_mutex);
	while (!condition_go)
		pthread_cond_wait(&go_condition, &go_mutex);
	pthread_mutex_unlock(&go_mutex);
}

static void wait_stdin_read(struct worker *self)
{
	if (!state_wait_go_line())
		snprintf(self->failure, sizeof(self->failure), "stdin reader did not get \"go\"");
}

static void wait_spin(void)
{
	while (!spin_go)
		__builtin_ia32_pause();
}

static void wait_for_go(struct worker *self)
{
	if (self->kind == WAIT_CONDITION)
		wait_condition();
	if (self->kind == WAIT_STDIN_READ)
		wait_stdin_read(self);
	if (self->kind == WAIT_SPIN)
		wait_spin();
}

static void check_worker_state(struct worker *self, unsigned index, const unsigned char *stack_data)
{
	pid_t tid_now = (pid_t)syscall(SYS_gettid);

	if (self->failure[0] != '\0')
		return;
	if (tid_now != self->tid)
		snprintf(self->failure, sizeof(self->failure), "thread %u tid is %d, was %d", index,
			 (int)tid_now, (int)self->tid);
	else if (state_find_mismatch(worker_tls, TLS_BYTES, 100 + index) >= 0)
		snprintf(self->failure, sizeof(self->failure), "thread %u TLS differs", index);
	else if (state_find_mismatch(stack_data, STACK_BYTES, 200 + index) >= 0)
		snprintf(self->failure, sizeof(self->failure), "thread %u stack differs", index);
}

static void *run_worker(void *argument)
{
	unsigned index = (unsigned)(uintptr_t)argument;
	struct worker *self = &workers[index];
	unsigned char stack_data[STACK_BYTES];

	self->tid = (pid_t)syscall(SYS_gettid);
	state_fill(worker_tls, TLS_BYTES, 100 + index);
	state_fill(stack_data, STACK_BYTES, 200 + index);
	pthread_barrier_wait(&all_started);
	wait_for_go(self);
	check_worker_state(self, index, stack_data);
	pthread_barrier_wait(&all_checked); /* keeps the thread count steady for main */
	return NULL;
}

static int count_threads(void)
{
	DIR *tasks = opendir("/proc/self/task");
	int count = 0;

	if (tasks == NULL)
		return -1;
	for (struct dirent *entry = readdir(tasks); entry != NULL; entry = readdir(tasks))
		count += entry->d_name[0] != '.';
	closedir(tasks);
	return count;
}

static void start_workers(void)
{
	pthread_barrier_init(&all_started, NULL, WORKER_COUNT + 1);
	pthread_barrier_init(&all_checked, NULL, WORKER_COUNT + 1);
	for (unsigned index = 0; index < WORKER_COUNT; index++) {
		if (pthread_create(&workers[index].thread, NULL, run_worker,
				   (void *)(uintptr_t)index) != 0)
			state_setup_fail("pthread_create");
	}
	pthread_barrier_wait(&all_started);
	thread_count_before = count_threads();
}

static void wake_workers(void)
{
	pthread_mutex_lock(&go_mutex);
	condition_go = true;
	pthread_cond_broadcast(&go_condition);
	pthread_mutex_unlock(&go_mutex);
	spin_go = 1;
}

int main(void)
{
	state_init();
	start_workers();
	state_ready();
	state_wait_go_signal();
	state_expect_equal_long(count_threads(), thread_count_before, "thread count");
	wake_workers();
	pthread_barrier_wait(&all_checked);
	for (unsigned index = 0; index < WORKER_COUNT; index++) {
		pthread_join(workers[index].thread, NULL);
		state_expect(workers[index].failure[0] == '\0', "%s", workers[index].failure);
	}
	state_finish();
}
