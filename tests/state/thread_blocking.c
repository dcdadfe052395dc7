/*
 * Threads checkpointed in different blocking calls, each of which must go
 * on after restart as if nothing happened:
 *   - sem_wait() on a semaphore main posts after "go": returns 0;
 *   - pthread_join() of a thread that itself waits on a condition variable
 *     for "go": returns 0 with that thread's return value (the kernel's
 *     clear_child_tid wake-up still reaches the joiner);
 *   - nanosleep() of 3 s begun just before "ready": returns 0, no EINTR,
 *     not before its deadline;
 *   - read() of stdin: gets exactly "go";
 *   - a spin in user space running a hash chain: the chain is right.
 * Main waits for SIGUSR1.  Every thread still has its tid.
 */
#include "state.h"

#include <pthread.h>
#include <sched.h>
#include <semaphore.h>

enum {
	SETTLE_TIMEOUT_SECONDS = 20,
	SPIN_BLOCK_ROUNDS = 1 << 20,
	SYSCALL_READ = 0,
	SYSCALL_NANOSLEEP = 35,
	SYSCALL_FUTEX = 202,
	SYSCALL_CLOCK_NANOSLEEP = 230,
	SYSCALL_NONE = -1, /* spinning in user space */
};

enum blocker {
	BLOCK_SEMAPHORE,
	BLOCK_JOIN_TARGET,
	BLOCK_JOIN,
	BLOCK_READ,
	BLOCK_SPIN,
	BLOCK_SLEEP, /* last, so that its 3 s begin just before "ready" */
	BLOCKER_COUNT,
};

static const char *const blocker_names[BLOCKER_COUNT] = {
	"sem_wait", "join target", "pthread_join", "read", "spin", "nanosleep",
};

struct blocked_thread {
	pthread_t thread;
	pid_t tid;
	int entered; /* set just before the blocking call */
	char failure[200];
};

static struct blocked_thread threads[BLOCKER_COUNT];
static sem_t go_semaphore;
static pthread_mutex_t go_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_condition = PTHREAD_COND_INITIALIZER;
static bool condition_go;
static int spin_go;
static void *const join_target_result = (void *)(uintptr_t)0x70a570a5;

static pid_t current_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

__attribute__((format(printf, 2, 3))) static void note_failure(struct blocked_thread *self,
							       const char *format, ...)
{
	va_list arguments;

	if (self->failure[0] != '\0')
		return;
	va_start(arguments, format);
	vsnprintf(self->failure, sizeof(self->failure), format, arguments);
	va_end(arguments);
}

static void mark_entered(struct blocked_thread *self)
{
	__atomic_store_n(&self->tid, current_tid(), __ATOMIC_RELAXED);
	__atomic_store_n(&self->entered, 1, __ATOMIC_RELEASE);
}

/* ---- The waits ----------------------------------------------------------- */

static void block_in_semaphore(struct blocked_thread *self)
{
	int result;

	mark_entered(self);
	result = sem_wait(&go_semaphore);
	if (result != 0)
		note_failure(self, "sem_wait returned %d (%s)", result, strerror(errno));
}

static void block_as_join_target(struct blocked_thread *self)
{
	mark_entered(self);
	pthread_mutex_lock(&go_mutex);
	while (!condition_go)
		pthread_cond_wait(&go_condition, &go_mutex);
	pthread_mutex_unlock(&go_mutex);
}

static void block_in_join(struct blocked_thread *self)
{
	void *joined_result = NULL;
	int result;

	mark_entered(self);
	result = pthread_join(threads[BLOCK_JOIN_TARGET].thread, &joined_result);
	if (result != 0)
		note_failure(self, "pthread_join returned %d (%s)", result, strerror(result));
	else if (joined_result != join_target_result)
		note_failure(self, "pthread_join gave %p, the thread returned %p", joined_result,
			     join_target_result);
}

static void block_in_sleep(struct blocked_thread *self)
{
	struct timespec duration = { .tv_sec = STATE_SLEEP_SECONDS, .tv_nsec = 0 };
	struct timespec remaining = { 0, 0 };
	int64_t deadline_ns = state_now_ns(CLOCK_MONOTONIC) + STATE_SLEEP_NS;
	int64_t woke_ns;
	int result;

	mark_entered(self);
	result = nanosleep(&duration, &remaining);
	woke_ns = state_now_ns(CLOCK_MONOTONIC);
	if (result != 0)
		note_failure(self, "nanosleep returned %d (%s), %ld.%09ld s left", result,
			     strerror(errno), (long)remaining.tv_sec, remaining.tv_nsec);
	else if (woke_ns < deadline_ns)
		note_failure(self, "nanosleep ended %lld ns before its deadline",
			     (long long)(deadline_ns - woke_ns));
}

static void block_in_read(struct blocked_thread *self)
{
	mark_entered(self);
	if (!state_wait_go_line())
		note_failure(self, "read of stdin did not give \"go\"");
}

static uint64_t hash_chain(uint64_t value, uint64_t rounds)
{
	for (uint64_t round = 0; round < rounds; round++)
		value = state_mix64(value);
	return value;
}

/* A hash chain restarted from its seed every block: each block ends the same. */
static void block_in_spin(struct blocked_thread *self)
{
	uint64_t seed = 0x5917;
	uint64_t block_end = hash_chain(seed, SPIN_BLOCK_ROUNDS);
	uint64_t value = seed;
	uint64_t rounds = 0;
	uint64_t bad_blocks = 0;

	mark_entered(self);
	while (!__atomic_load_n(&spin_go, __ATOMIC_ACQUIRE)) {
		value = state_mix64(value);
		rounds++;
		if (rounds < SPIN_BLOCK_ROUNDS)
			continue;
		bad_blocks += value != block_end;
		value = seed;
		rounds = 0;
	}
	if (bad_blocks != 0)
		note_failure(self, "spin: %llu hash chain blocks ended wrong",
			     (unsigned long long)bad_blocks);
	else if (hash_chain(seed, rounds) != value)
		note_failure(self, "spin: chain of %llu rounds ends wrong",
			     (unsigned long long)rounds);
}

static void *run_blocked_thread(void *argument)
{
	enum blocker kind = (enum blocker)(uintptr_t)argument;
	struct blocked_thread *self = &threads[kind];
	static void (*const waits[BLOCKER_COUNT])(struct blocked_thread *) = {
		block_in_semaphore, block_as_join_target, block_in_join,
		block_in_read,	    block_in_spin,	  block_in_sleep,
	};

	waits[kind](self);
	if (current_tid() != self->tid)
		note_failure(self, "%s thread tid is %d, was %d", blocker_names[kind],
			     (int)current_tid(), (int)self->tid);
	return kind == BLOCK_JOIN_TARGET ? join_target_result : NULL;
}

/* ---- Setup -------------------------------------------------------------- */

static long thread_syscall(pid_t tid)
{
	char path[64];
	char text[256];

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	if (state_read_file(path, text, sizeof(text)) <= 0)
		return -2;
	if (strncmp(text, "running", 7) == 0)
		return SYSCALL_NONE;
	return strtol(text, NULL, 10);
}

static bool is_in_expected_call(enum blocker kind, long number)
{
	switch (kind) {
	case BLOCK_SEMAPHORE:
	case BLOCK_JOIN_TARGET:
	case BLOCK_JOIN:
		return number == SYSCALL_FUTEX;
	case BLOCK_SLEEP:
		return number == SYSCALL_CLOCK_NANOSLEEP || number == SYSCALL_NANOSLEEP;
	case BLOCK_READ:
		return number == SYSCALL_READ;
	case BLOCK_SPIN:
	case BLOCKER_COUNT:
		break;
	}
	return true;
}

static void start_and_settle(enum blocker kind)
{
	int64_t give_up_ns = state_now_ns(CLOCK_MONOTONIC) + SETTLE_TIMEOUT_SECONDS * 1000000000LL;
	struct blocked_thread *thread = &threads[kind];

	if (pthread_create(&thread->thread, NULL, run_blocked_thread, (void *)(uintptr_t)kind) != 0)
		state_setup_fail("pthread_create for %s", blocker_names[kind]);
	for (;;) {
		if (__atomic_load_n(&thread->entered, __ATOMIC_ACQUIRE) &&
		    is_in_expected_call(kind, thread_syscall(thread->tid)))
			return;
		if (state_now_ns(CLOCK_MONOTONIC) > give_up_ns)
			state_setup_fail("the %s thread did not block in time", blocker_names[kind]);
		sched_yield();
	}
}

static void release_threads(void)
{
	__atomic_store_n(&spin_go, 1, __ATOMIC_RELEASE);
	sem_post(&go_semaphore);
	pthread_mutex_lock(&go_mutex);
	condition_go = true;
	pthread_cond_broadcast(&go_condition);
	pthread_mutex_unlock(&go_mutex);
}

int main(void)
{
	state_init();
	if (sem_init(&go_semaphore, 0, 0) != 0)
		state_setup_fail("sem_init: %s", strerror(errno));
	for (int kind = 0; kind < BLOCKER_COUNT; kind++)
		start_and_settle((enum blocker)kind);
	state_ready();
	state_wait_go_signal();
	release_threads();
	for (int kind = 0; kind < BLOCKER_COUNT; kind++) {
		if (kind != BLOCK_JOIN_TARGET) /* the pthread_join thread joins it */
			pthread_join(threads[kind].thread, NULL);
	}
	for (int kind = 0; kind < BLOCKER_COUNT; kind++)
		state_expect(threads[kind].failure[0] == '\0', "%s", threads[kind].failure);
	state_finish();
}
