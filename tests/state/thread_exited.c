/*
 * Threads that are gone before the checkpoint stay gone: one thread was
 * joined, one detached thread exited, and one joinable thread exited but was
 * not joined yet; one more thread still waits on a condition variable.
 * After restart /proc/self/task holds exactly main and the waiting thread
 * (by tid), pthread_join() of the unjoined thread returns at once with its
 * value (its pthread struct and the kernel's clear of its tid survived),
 * and new threads can be created: they get fresh tids, see the initial
 * value of a __thread variable, run and are joined; the waiting thread ends
 * normally.  Afterwards main is the only thread left.
 */
#include "state.h"

#include <dirent.h>
#include <pthread.h>
#include <sched.h>

enum {
	MAX_TASKS = 64,
	NEW_THREAD_COUNT = 8,
	EXIT_TIMEOUT_SECONDS = 10,
	TLS_INITIAL = 0x1e1e2e2e,
};

enum gone_kind {
	GONE_JOINED,
	GONE_DETACHED,
	GONE_UNJOINED,
	GONE_COUNT
};

static const char *const gone_names[GONE_COUNT] = { "joined", "detached", "unjoined" };

struct gone_thread {
	pthread_t thread;
	pid_t tid;
};

static struct gone_thread gone[GONE_COUNT];
static pthread_t waiter_thread;
static pid_t waiter_tid;
static pthread_mutex_t go_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_condition = PTHREAD_COND_INITIALIZER;
static pthread_cond_t waiter_started = PTHREAD_COND_INITIALIZER;
static bool condition_go;
static __thread uint64_t tls_counter = TLS_INITIAL;

static pid_t current_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void *gone_result(enum gone_kind kind)
{
	return (void *)(uintptr_t)(0x60e0 + kind);
}

static void *run_gone_thread(void *argument)
{
	enum gone_kind kind = (enum gone_kind)(uintptr_t)argument;

	__atomic_store_n(&gone[kind].tid, current_tid(), __ATOMIC_RELEASE);
	return gone_result(kind);
}

static void *run_waiter(void *argument)
{
	(void)argument;
	pthread_mutex_lock(&go_mutex);
	waiter_tid = current_tid();
	pthread_cond_signal(&waiter_started);
	while (!condition_go)
		pthread_cond_wait(&go_condition, &go_mutex);
	pthread_mutex_unlock(&go_mutex);
	return NULL;
}

/* ---- The task list ------------------------------------------------------- */

static int compare_tids(const void *left, const void *right)
{
	pid_t a = *(const pid_t *)left;
	pid_t b = *(const pid_t *)right;

	return (a > b) - (a < b);
}

/* The tids in /proc/self/task, sorted; their count or -1. */
static int list_tasks(pid_t *tids, int capacity)
{
	DIR *tasks = opendir("/proc/self/task");
	int count = 0;

	if (tasks == NULL)
		return -1;
	for (struct dirent *entry = readdir(tasks); entry != NULL; entry = readdir(tasks)) {
		if (entry->d_name[0] == '.')
			continue;
		if (count == capacity)
			break;
		tids[count++] = (pid_t)atoi(entry->d_name);
	}
	closedir(tasks);
	qsort(tids, (size_t)count, sizeof(tids[0]), compare_tids);
	return count;
}

static bool task_exists(pid_t tid)
{
	char path[64];
	struct stat status;

	snprintf(path, sizeof(path), "/proc/self/task/%d", (int)tid);
	return stat(path, &status) == 0;
}

/* ---- Setup ---------------------------------------------------------------- */

static void wait_until_gone(enum gone_kind kind)
{
	int64_t give_up_ns = state_now_ns(CLOCK_MONOTONIC) + EXIT_TIMEOUT_SECONDS * 1000000000LL;

	for (;;) {
		pid_t tid = __atomic_load_n(&gone[kind].tid, __ATOMIC_ACQUIRE);

		if (tid != 0 && !task_exists(tid))
			return;
		if (state_now_ns(CLOCK_MONOTONIC) > give_up_ns)
			state_setup_fail("the %s thread did not exit in time", gone_names[kind]);
		sched_yield();
	}
}

static void start_gone_thread(enum gone_kind kind)
{
	pthread_attr_t attributes;

	pthread_attr_init(&attributes);
	if (kind == GONE_DETACHED)
		pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&gone[kind].thread, &attributes, run_gone_thread,
			   (void *)(uintptr_t)kind) != 0)
		state_setup_fail("pthread_create of the %s thread", gone_names[kind]);
	pthread_attr_destroy(&attributes);
}

static void build_threads(void)
{
	void *joined_result = NULL;

	for (int kind = 0; kind < GONE_COUNT; kind++)
		start_gone_thread((enum gone_kind)kind);
	if (pthread_join(gone[GONE_JOINED].thread, &joined_result) != 0 ||
	    joined_result != gone_result(GONE_JOINED))
		state_setup_fail("pthread_join of the joined thread");
	for (int kind = 0; kind < GONE_COUNT; kind++)
		wait_until_gone((enum gone_kind)kind);
	pthread_mutex_lock(&go_mutex);
	if (pthread_create(&waiter_thread, NULL, run_waiter, NULL) != 0)
		state_setup_fail("pthread_create of the waiting thread");
	while (waiter_tid == 0)
		pthread_cond_wait(&waiter_started, &go_mutex);
	pthread_mutex_unlock(&go_mutex);
}

static void check_task_list(const pid_t *expected, int expected_count, const char *when)
{
	pid_t tids[MAX_TASKS];
	int count = list_tasks(tids, MAX_TASKS);

	if (!state_expect(count == expected_count, "%s: %d threads in /proc/self/task, expected %d",
			  when, count, expected_count))
		return;
	for (int index = 0; index < count; index++)
		state_expect(tids[index] == expected[index], "%s: thread %d has tid %d, expected %d",
			     when, index, (int)tids[index], (int)expected[index]);
}

/* ---- After restart: join the unjoined thread, make new ones ---------------- */

struct new_thread {
	pthread_t thread;
	unsigned index;
	pid_t tid;
	pid_t pid;
	bool listed; /* its tid was in /proc/self/task while it ran */
	uint64_t tls_seen;
};

static void *run_new_thread(void *argument)
{
	struct new_thread *self = argument;

	self->tid = current_tid();
	self->pid = getpid();
	self->listed = task_exists(self->tid);
	self->tls_seen = tls_counter;
	tls_counter += self->index;
	return (void *)(uintptr_t)(0xa000 + self->index + tls_counter);
}

static void check_new_thread(const struct new_thread *created, unsigned index, void *result)
{
	state_expect(result == (void *)(uintptr_t)(0xa000 + 2 * index + TLS_INITIAL),
		     "new thread %u returned %p", index, result);
	state_expect(created->pid == getpid(), "new thread %u sees pid %d", index, (int)created->pid);
	state_expect(created->tid != getpid() && created->listed,
		     "new thread %u has tid %d, not a task of its own", index, (int)created->tid);
	state_expect(created->tls_seen == TLS_INITIAL, "new thread %u __thread is %#llx, not %#x",
		     index, (unsigned long long)created->tls_seen, TLS_INITIAL);
}

static void create_new_threads(void)
{
	struct new_thread created[NEW_THREAD_COUNT];
	void *result;

	memset(created, 0, sizeof(created));
	for (unsigned index = 0; index < NEW_THREAD_COUNT; index++) {
		created[index].index = index;
		if (!state_expect(pthread_create(&created[index].thread, NULL, run_new_thread,
						 &created[index]) == 0,
				  "pthread_create of new thread %u after restart", index))
			return;
	}
	for (unsigned index = 0; index < NEW_THREAD_COUNT; index++) {
		result = NULL;
		pthread_join(created[index].thread, &result);
		check_new_thread(&created[index], index, result);
	}
}

static void check_unjoined_thread(void)
{
	void *result = NULL;
	int error = pthread_join(gone[GONE_UNJOINED].thread, &result);

	state_expect(error == 0, "pthread_join of the exited unjoined thread: %s", strerror(error));
	state_expect(result == gone_result(GONE_UNJOINED),
		     "the exited unjoined thread's result is %p, was %p", result,
		     gone_result(GONE_UNJOINED));
}

static void end_waiter(void)
{
	pthread_mutex_lock(&go_mutex);
	condition_go = true;
	pthread_cond_broadcast(&go_condition);
	pthread_mutex_unlock(&go_mutex);
	pthread_join(waiter_thread, NULL);
}

int main(void)
{
	pid_t expected[2];

	state_init();
	tls_counter = 7;
	build_threads();
	expected[0] = state_findings.tid_at_start;
	expected[1] = waiter_tid;
	qsort(expected, 2, sizeof(expected[0]), compare_tids);
	check_task_list(expected, 2, "before the checkpoint");
	if (state_findings.failure_count != 0)
		state_setup_fail("%s", state_findings.first_failure);
	state_ready();
	state_wait_go_signal();
	check_task_list(expected, 2, "after the checkpoint");
	state_expect(tls_counter == 7, "main's __thread variable is %llu, was 7",
		     (unsigned long long)tls_counter);
	check_unjoined_thread();
	create_new_threads();
	end_waiter();
	expected[0] = state_findings.tid_at_start;
	check_task_list(expected, 1, "at the end");
	state_finish();
}
