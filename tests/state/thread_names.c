/*
 * Thread names: main and three threads each set their own name
 * (PR_SET_NAME for main, pthread_setname_np() for the others) and wait on
 * a condition variable.  After restart each thread's
 * /proc/self/task/TID/comm and pthread_getname_np() are the name it set.
 */
#include "state.h"

#include <pthread.h>
#include <sys/prctl.h>

enum {
	WORKER_COUNT = 3,
	NAME_BYTES = 16
};

static const char *const worker_names[WORKER_COUNT] = { "pool-alpha", "io-beta", "tick-gamma" };
static const char main_name[] = "names-main";

static pthread_t workers[WORKER_COUNT];
static pid_t worker_tids[WORKER_COUNT];
static pthread_barrier_t all_named;
static pthread_mutex_t go_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_condition = PTHREAD_COND_INITIALIZER;
static bool condition_go;

static void *run_worker(void *argument)
{
	unsigned index = (unsigned)(uintptr_t)argument;

	worker_tids[index] = (pid_t)syscall(SYS_gettid);
	pthread_setname_np(pthread_self(), worker_names[index]);
	pthread_barrier_wait(&all_named);
	pthread_mutex_lock(&go_mutex);
	while (!condition_go)
		pthread_cond_wait(&go_condition, &go_mutex);
	pthread_mutex_unlock(&go_mutex);
	return NULL;
}

static void task_comm(pid_t tid, char *out, size_t capacity)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/comm", (int)tid);
	if (state_read_file(path, out, capacity) <= 0)
		snprintf(out, capacity, "(unreadable)");
	out[strcspn(out, "\n")] = '\0';
}

static void check_name(pthread_t thread, pid_t tid, const char *expected, const char *who)
{
	char comm[64];
	char name[NAME_BYTES];
	int error;

	task_comm(tid, comm, sizeof(comm));
	state_expect(strcmp(comm, expected) == 0, "%s (tid %d) comm is \"%s\", was \"%s\"", who,
		     (int)tid, comm, expected);
	error = pthread_getname_np(thread, name, sizeof(name));
	state_expect(error == 0 && strcmp(name, expected) == 0,
		     "%s pthread_getname_np gives \"%s\" (%s), was \"%s\"", who,
		     error == 0 ? name : "", strerror(error), expected);
}

static void check_names(const char *when)
{
	char who[64];

	snprintf(who, sizeof(who), "main thread %s", when);
	check_name(pthread_self(), getpid(), main_name, who);
	for (unsigned index = 0; index < WORKER_COUNT; index++) {
		snprintf(who, sizeof(who), "thread %u %s", index, when);
		check_name(workers[index], worker_tids[index], worker_names[index], who);
	}
}

int main(void)
{
	state_init();
	prctl(PR_SET_NAME, main_name);
	pthread_barrier_init(&all_named, NULL, WORKER_COUNT + 1);
	for (unsigned index = 0; index < WORKER_COUNT; index++) {
		if (pthread_create(&workers[index], NULL, run_worker, (void *)(uintptr_t)index) != 0)
			state_setup_fail("pthread_create");
	}
	pthread_barrier_wait(&all_named);
	check_names("before the checkpoint");
	if (state_findings.failure_count != 0)
		state_setup_fail("%s", state_findings.first_failure);
	state_ready();
	state_wait_go_signal();
	check_names("after the checkpoint");
	pthread_mutex_lock(&go_mutex);
	condition_go = true;
	pthread_cond_broadcast(&go_condition);
	pthread_mutex_unlock(&go_mutex);
	for (unsigned index = 0; index < WORKER_COUNT; index++)
		pthread_join(workers[index], NULL);
	state_finish();
}
