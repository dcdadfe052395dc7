/*
 * A multithreaded child under a single-threaded root.  The child has three
 * threads: the main one waits for go in sigsuspend(), one waits on a
 * condition variable, one spins in user space after forking a grandchild
 * from that thread.  Each thread keeps a pattern in its TLS and on its
 * stack.  After restart the root has one thread and the child three, with
 * the same thread ids, TLS and stack data; the grandchild still has the
 * child as its parent, and the child's main thread reaps it.
 */
#include "state.h"

#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <sys/wait.h>

enum {
	WORKER_COUNT = 2,
	CHILD_THREAD_COUNT = WORKER_COUNT + 1,
	TLS_BYTES = 1024,
	STACK_BYTES = 2048,
	GRANDCHILD_EXIT = 9,
};

#include "tree.h"

enum wait_kind {
	WAIT_CONDITION,
	WAIT_SPIN
};

struct worker {
	enum wait_kind kind;
	pthread_t thread;
	pid_t tid;
	char failure[160];
};

static __thread unsigned char thread_tls[TLS_BYTES];
static struct worker workers[WORKER_COUNT] = { { .kind = WAIT_CONDITION }, { .kind = WAIT_SPIN } };
static pthread_barrier_t all_started;
static pthread_mutex_t go_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_condition = PTHREAD_COND_INITIALIZER;
static bool condition_go;
static volatile int spin_go;
static pid_t grandchild; /* forked by the spinning worker */

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

__attribute__((noreturn)) static void run_grandchild(void)
{
	pid_t parent = getppid();

	tree_report_ready();
	state_wait_go_signal();
	state_expect_equal_long(getppid(), parent, "grandchild: getppid()");
	state_expect_equal_long(count_threads(), 1, "grandchild: thread count");
	tree_child_finish(GRANDCHILD_EXIT);
}

static void wait_for_go(const struct worker *self)
{
	if (self->kind == WAIT_SPIN) {
		while (!spin_go)
			__builtin_ia32_pause();
		return;
	}
	pthread_mutex_lock(&go_mutex);
	while (!condition_go)
		pthread_cond_wait(&go_condition, &go_mutex);
	pthread_mutex_unlock(&go_mutex);
}

static void check_worker(struct worker *self, unsigned index, const unsigned char *stack_data)
{
	pid_t tid_now = (pid_t)syscall(SYS_gettid);

	if (tid_now != self->tid)
		snprintf(self->failure, sizeof(self->failure), "thread %u tid is %d, was %d", index,
			 (int)tid_now, (int)self->tid);
	else if (state_find_mismatch(thread_tls, TLS_BYTES, 100 + index) >= 0)
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
	state_fill(thread_tls, TLS_BYTES, 100 + index);
	state_fill(stack_data, STACK_BYTES, 200 + index);
	if (self->kind == WAIT_SPIN) {
		grandchild = tree_fork();
		if (grandchild == 0)
			run_grandchild();
		tree_wait_ready(grandchild);
	}
	pthread_barrier_wait(&all_started);
	wait_for_go(self);
	check_worker(self, index, stack_data);
	return NULL;
}

static void start_workers(void)
{
	pthread_barrier_init(&all_started, NULL, WORKER_COUNT + 1);
	for (unsigned index = 0; index < WORKER_COUNT; index++) {
		if (pthread_create(&workers[index].thread, NULL, run_worker,
				   (void *)(uintptr_t)index) != 0)
			state_setup_fail("pthread_create");
	}
	pthread_barrier_wait(&all_started);
}

static void wake_and_join_workers(void)
{
	pthread_mutex_lock(&go_mutex);
	condition_go = true;
	pthread_cond_broadcast(&go_condition);
	pthread_mutex_unlock(&go_mutex);
	spin_go = 1;
	for (unsigned index = 0; index < WORKER_COUNT; index++) {
		pthread_join(workers[index].thread, NULL);
		state_expect(workers[index].failure[0] == '\0', "child: %s", workers[index].failure);
	}
}

__attribute__((noreturn)) static void run_child(void)
{
	pid_t parent = getppid();
	int thread_count_before;

	state_fill(thread_tls, TLS_BYTES, 99);
	start_workers();
	thread_count_before = count_threads();
	if (thread_count_before != CHILD_THREAD_COUNT)
		state_setup_fail("child has %d threads", thread_count_before);
	tree_report_ready();
	tree_wait_go(&grandchild, 1);
	state_expect_equal_long(count_threads(), thread_count_before, "child: thread count");
	state_expect_equal_long(getppid(), parent, "child: getppid()");
	state_expect(state_find_mismatch(thread_tls, TLS_BYTES, 99) < 0, "child: main TLS differs");
	wake_and_join_workers();
	tree_expect_child_exit(grandchild, GRANDCHILD_EXIT, "grandchild");
	tree_child_finish(STATE_EXIT_PASS);
}

int main(void)
{
	pid_t child;

	tree_init();
	child = tree_fork();
	if (child == 0)
		run_child();
	tree_wait_ready(child);
	state_ready();
	tree_wait_go(&child, 1);
	state_expect_equal_long(count_threads(), 1, "root: thread count");
	tree_expect_child_exit(child, STATE_EXIT_PASS, "child");
	state_finish();
}
