/*
 * A thousand threads (64 KiB stacks), each with its own __thread word and
 * buffer and a pattern on its stack, all waiting on one condition variable.
 * After restart the process has the same 1001 threads; each wakes, finds
 * its tid, pthread_self(), TLS and stack data unchanged, and reports; then
 * all are joined.
 */
#include "state.h"

#include <dirent.h>
#include <pthread.h>

enum {
	THREAD_COUNT = 1000,
	STACK_BYTES = 64 * 1024,
	TLS_BYTES = 128,
	STACK_DATA_BYTES = 256,
	FAILURE_BYTES = 120,
};

struct waiting_thread {
	pthread_t thread;
	pid_t tid;
	char failure[FAILURE_BYTES];
};

static struct waiting_thread threads[THREAD_COUNT];
static __thread uint64_t tls_word;
static __thread unsigned char tls_bytes[TLS_BYTES];
static pthread_mutex_t go_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_condition = PTHREAD_COND_INITIALIZER;
static pthread_cond_t all_waiting = PTHREAD_COND_INITIALIZER;
static unsigned waiting_count;
static bool condition_go;

static uint64_t thread_seed(unsigned index)
{
	return 0x3a000000 + (uint64_t)index;
}

static pid_t current_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void wait_for_go(void)
{
	pthread_mutex_lock(&go_mutex);
	waiting_count++;
	if (waiting_count == THREAD_COUNT)
		pthread_cond_signal(&all_waiting);
	while (!condition_go)
		pthread_cond_wait(&go_condition, &go_mutex);
	pthread_mutex_unlock(&go_mutex);
}

static void check_self(struct waiting_thread *self, unsigned index, pthread_t self_before,
		       const unsigned char *stack_data)
{
	if (current_tid() != self->tid)
		snprintf(self->failure, FAILURE_BYTES, "thread %u tid is %d, was %d", index,
			 (int)current_tid(), (int)self->tid);
	else if (!pthread_equal(pthread_self(), self_before))
		snprintf(self->failure, FAILURE_BYTES, "thread %u pthread_self() changed", index);
	else if (tls_word != state_mix64(thread_seed(index)))
		snprintf(self->failure, FAILURE_BYTES, "thread %u __thread word is %#llx", index,
			 (unsigned long long)tls_word);
	else if (state_find_mismatch(tls_bytes, TLS_BYTES, thread_seed(index)) >= 0)
		snprintf(self->failure, FAILURE_BYTES, "thread %u __thread buffer differs", index);
	else if (state_find_mismatch(stack_data, STACK_DATA_BYTES, ~thread_seed(index)) >= 0)
		snprintf(self->failure, FAILURE_BYTES, "thread %u stack data differs", index);
}

static void *run_thread(void *argument)
{
	unsigned index = (unsigned)(uintptr_t)argument;
	struct waiting_thread *self = &threads[index];
	pthread_t self_before = pthread_self();
	unsigned char stack_data[STACK_DATA_BYTES];

	self->tid = current_tid();
	tls_word = state_mix64(thread_seed(index));
	state_fill(tls_bytes, TLS_BYTES, thread_seed(index));
	state_fill(stack_data, STACK_DATA_BYTES, ~thread_seed(index));
	wait_for_go();
	check_self(self, index, self_before, stack_data);
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

static void start_threads(void)
{
	pthread_attr_t attributes;
	int error;

	pthread_attr_init(&attributes);
	if (pthread_attr_setstacksize(&attributes, STACK_BYTES) != 0)
		state_setup_fail("pthread_attr_setstacksize(%d)", STACK_BYTES);
	for (unsigned index = 0; index < THREAD_COUNT; index++) {
		error = pthread_create(&threads[index].thread, &attributes, run_thread,
				       (void *)(uintptr_t)index);
		if (error != 0)
			state_setup_fail("pthread_create of thread %u: %s", index, strerror(error));
	}
	pthread_attr_destroy(&attributes);
	pthread_mutex_lock(&go_mutex);
	while (waiting_count < THREAD_COUNT)
		pthread_cond_wait(&all_waiting, &go_mutex);
	pthread_mutex_unlock(&go_mutex);
}

static void check_distinct_tids(void)
{
	static unsigned char seen[1 << 22];

	for (unsigned index = 0; index < THREAD_COUNT; index++) {
		pid_t tid = threads[index].tid;

		if (!state_expect(tid > 0 && tid < (1 << 22), "thread %u has tid %d", index, (int)tid))
			continue;
		state_expect(!seen[tid], "tid %d belongs to two threads", (int)tid);
		seen[tid] = 1;
	}
}

int main(void)
{
	int thread_count_before;

	state_init();
	start_threads();
	thread_count_before = count_threads();
	if (thread_count_before != THREAD_COUNT + 1)
		state_setup_fail("%d threads in /proc/self/task", thread_count_before);
	state_ready();
	state_wait_go_signal();
	state_expect_equal_long(count_threads(), thread_count_before, "thread count");
	pthread_mutex_lock(&go_mutex);
	condition_go = true;
	pthread_cond_broadcast(&go_condition);
	pthread_mutex_unlock(&go_mutex);
	for (unsigned index = 0; index < THREAD_COUNT; index++) {
		pthread_join(threads[index].thread, NULL);
		state_expect(threads[index].failure[0] == '\0', "%s", threads[index].failure);
	}
	check_distinct_tids();
	state_finish();
}
