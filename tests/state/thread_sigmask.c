/*
 * Per-thread signal masks: four threads each block their own set of
 * signals (standard and real-time; two of them block SIGUSR2, two do not)
 * with pthread_sigmask() and wait on a condition variable.  After restart
 * each thread's mask, by pthread_sigmask() and by SigBlk in
 * /proc/self/task/TID/status, is what it was.  Then main sends SIGUSR2 with
 * tgkill() to each thread by its saved tid: where SIGUSR2 is unblocked the
 * handler runs once, on exactly that thread (it records gettid()); where it
 * is blocked nothing runs, the signal is pending on that thread alone, and
 * it is delivered there once the thread unblocks it.
 */
#include "state.h"

#include <pthread.h>
#include <sched.h>

enum {
	WORKER_COUNT = 4,
	DELIVERY_TIMEOUT_SECONDS = 10,
	TEST_SIGNAL = SIGUSR2,
};

enum command {
	COMMAND_WAIT,
	COMMAND_CHECK_MASK,
	COMMAND_UNBLOCK_TEST_SIGNAL,
	COMMAND_EXIT
};

struct worker {
	pthread_t thread;
	pid_t tid;
	sigset_t mask_before;
	char blocked_line_before[64];
	enum command command;
	unsigned command_serial;
	unsigned done_serial;
	char failure[200];
};

static struct worker workers[WORKER_COUNT];
static pthread_mutex_t command_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t command_changed = PTHREAD_COND_INITIALIZER;
static pthread_cond_t command_done = PTHREAD_COND_INITIALIZER;
static volatile sig_atomic_t handler_runs;
static volatile pid_t handler_tid;

static pid_t current_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void on_test_signal(int signal_number)
{
	(void)signal_number;
	handler_tid = current_tid();
	handler_runs++;
}

/* Worker i blocks SIGUSR1 (main takes "go"), plus a set of its own. */
static void worker_mask(unsigned index, sigset_t *ret_mask)
{
	static const int own_signals[WORKER_COUNT][3] = {
		{ SIGHUP, SIGWINCH, 0 },
		{ SIGINT, SIGALRM, TEST_SIGNAL },
		{ SIGQUIT, SIGCHLD, SIGPROF },
		{ SIGTERM, SIGIO, TEST_SIGNAL },
	};

	sigemptyset(ret_mask);
	sigaddset(ret_mask, STATE_GO_SIGNAL);
	sigaddset(ret_mask, SIGRTMIN + 1 + (int)index);
	for (unsigned slot = 0; slot < 3; slot++) {
		if (own_signals[index][slot] != 0)
			sigaddset(ret_mask, own_signals[index][slot]);
	}
}

static bool test_signal_blocked(unsigned index)
{
	sigset_t mask;

	worker_mask(index, &mask);
	return sigismember(&mask, TEST_SIGNAL);
}

/* Copies the value of a "Name:\t..." line of /proc/self/task/TID/status. */
static void read_status_field(pid_t tid, const char *name, char *out, size_t capacity)
{
	char path[64];
	char status[4096];
	const char *line;
	size_t length;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	if (state_read_file(path, status, sizeof(status)) <= 0)
		return;
	line = strstr(status, name);
	if (line == NULL)
		return;
	line += strlen(name);
	length = strcspn(line, "\n");
	snprintf(out, capacity, "%.*s", (int)length, line);
}

static bool pending_on_thread(pid_t tid, int signal_number)
{
	char pending_hex[64];
	unsigned long long pending;

	read_status_field(tid, "\nSigPnd:\t", pending_hex, sizeof(pending_hex));
	pending = strtoull(pending_hex, NULL, 16);
	return (pending >> (signal_number - 1)) & 1;
}

__attribute__((format(printf, 2, 3))) static void note_failure(struct worker *self,
							       const char *format, ...)
{
	va_list arguments;

	if (self->failure[0] != '\0')
		return;
	va_start(arguments, format);
	vsnprintf(self->failure, sizeof(self->failure), format, arguments);
	va_end(arguments);
}

/* ---- Workers -------------------------------------------------------------- */

static void check_own_mask(struct worker *self, unsigned index)
{
	sigset_t mask_now;
	char blocked_line[64];

	pthread_sigmask(SIG_SETMASK, NULL, &mask_now);
	for (int signal_number = 1; signal_number < NSIG; signal_number++) {
		bool blocked_now = sigismember(&mask_now, signal_number);
		bool blocked_before = sigismember(&self->mask_before, signal_number);

		if (blocked_now != blocked_before)
			note_failure(self, "thread %u: signal %d is %s, was %s", index,
				     signal_number, blocked_now ? "blocked" : "unblocked",
				     blocked_before ? "blocked" : "unblocked");
	}
	read_status_field(self->tid, "\nSigBlk:\t", blocked_line, sizeof(blocked_line));
	if (strcmp(blocked_line, self->blocked_line_before) != 0)
		note_failure(self, "thread %u: SigBlk is %s, was %s", index, blocked_line,
			     self->blocked_line_before);
	if (current_tid() != self->tid)
		note_failure(self, "thread %u: tid is %d, was %d", index, (int)current_tid(),
			     (int)self->tid);
}

static void unblock_test_signal(void)
{
	sigset_t test_set;

	sigemptyset(&test_set);
	sigaddset(&test_set, TEST_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &test_set, NULL);
}

static void *run_worker(void *argument)
{
	unsigned index = (unsigned)(uintptr_t)argument;
	struct worker *self = &workers[index];
	unsigned seen_serial = 0;

	pthread_sigmask(SIG_SETMASK, &self->mask_before, NULL);
	self->tid = current_tid();
	read_status_field(self->tid, "\nSigBlk:\t", self->blocked_line_before,
			  sizeof(self->blocked_line_before));
	pthread_mutex_lock(&command_mutex);
	for (;;) {
		self->done_serial = seen_serial;
		pthread_cond_broadcast(&command_done);
		while (self->command_serial == seen_serial)
			pthread_cond_wait(&command_changed, &command_mutex);
		seen_serial = self->command_serial;
		if (self->command == COMMAND_EXIT)
			break;
		if (self->command == COMMAND_CHECK_MASK)
			check_own_mask(self, index);
		if (self->command == COMMAND_UNBLOCK_TEST_SIGNAL)
			unblock_test_signal(); /* the pending signal runs its handler here */
	}
	pthread_mutex_unlock(&command_mutex);
	return NULL;
}

/* Gives one worker a command and waits until it has carried it out. */
static void command_worker(unsigned index, enum command command)
{
	struct worker *worker = &workers[index];

	pthread_mutex_lock(&command_mutex);
	worker->command = command;
	worker->command_serial++;
	pthread_cond_broadcast(&command_changed);
	while (worker->done_serial != worker->command_serial && command != COMMAND_EXIT)
		pthread_cond_wait(&command_done, &command_mutex);
	pthread_mutex_unlock(&command_mutex);
}

static void start_workers(void)
{
	for (unsigned index = 0; index < WORKER_COUNT; index++) {
		worker_mask(index, &workers[index].mask_before);
		if (pthread_create(&workers[index].thread, NULL, run_worker,
				   (void *)(uintptr_t)index) != 0)
			state_setup_fail("pthread_create");
	}
	pthread_mutex_lock(&command_mutex);
	for (unsigned index = 0; index < WORKER_COUNT; index++) {
		while (workers[index].tid == 0 || workers[index].blocked_line_before[0] == '\0')
			pthread_cond_wait(&command_done, &command_mutex);
	}
	pthread_mutex_unlock(&command_mutex);
}

/* ---- Delivery checks (main) ------------------------------------------------ */

static bool wait_for_handler_runs(sig_atomic_t count)
{
	int64_t give_up_ns = state_now_ns(CLOCK_MONOTONIC) + DELIVERY_TIMEOUT_SECONDS * 1000000000LL;

	while (handler_runs < count) {
		if (state_now_ns(CLOCK_MONOTONIC) > give_up_ns)
			return false;
		sched_yield();
	}
	return true;
}

static void check_delivery_to_unblocked(unsigned index)
{
	pid_t tid = workers[index].tid;
	sig_atomic_t runs_before = handler_runs;

	syscall(SYS_tgkill, getpid(), tid, TEST_SIGNAL);
	if (!state_expect(wait_for_handler_runs(runs_before + 1),
			  "SIGUSR2 sent to thread %u (tid %d) was never handled", index, (int)tid))
		return;
	state_expect(handler_tid == tid, "SIGUSR2 sent to tid %d was handled on tid %d", (int)tid,
		     (int)handler_tid);
}

static void check_held_by_blocked(unsigned index)
{
	pid_t tid = workers[index].tid;
	sig_atomic_t runs_before = handler_runs;

	syscall(SYS_tgkill, getpid(), tid, TEST_SIGNAL);
	state_expect(pending_on_thread(tid, TEST_SIGNAL),
		     "SIGUSR2 sent to thread %u (tid %d), which blocks it, is not pending there",
		     index, (int)tid);
	for (unsigned other = 0; other < WORKER_COUNT; other++) {
		if (other != index)
			state_expect(!pending_on_thread(workers[other].tid, TEST_SIGNAL),
				     "SIGUSR2 sent to thread %u is pending on thread %u", index,
				     other);
	}
	state_expect(handler_runs == runs_before, "SIGUSR2 blocked by thread %u was handled", index);
	command_worker(index, COMMAND_UNBLOCK_TEST_SIGNAL);
	if (!state_expect(handler_runs == runs_before + 1,
			  "SIGUSR2 unblocked by thread %u ran the handler %d times", index,
			  (int)(handler_runs - runs_before)))
		return;
	state_expect(handler_tid == tid, "SIGUSR2 unblocked by tid %d was handled on tid %d",
		     (int)tid, (int)handler_tid);
}

static void check_main_mask(const sigset_t *before)
{
	sigset_t after;

	sigprocmask(SIG_SETMASK, NULL, &after);
	for (int signal_number = 1; signal_number < NSIG; signal_number++)
		state_expect(sigismember(&after, signal_number) == sigismember(before, signal_number),
			     "main thread: signal %d changed in the mask", signal_number);
}

static void block_test_signal_in_main(sigset_t *ret_mask)
{
	sigset_t test_set;

	sigemptyset(&test_set);
	sigaddset(&test_set, TEST_SIGNAL);
	sigaddset(&test_set, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &test_set, NULL);
	sigprocmask(SIG_SETMASK, NULL, ret_mask);
}

int main(void)
{
	sigset_t main_mask_before;

	state_init();
	signal(TEST_SIGNAL, on_test_signal);
	block_test_signal_in_main(&main_mask_before);
	start_workers();
	state_ready();
	state_wait_go_signal();
	check_main_mask(&main_mask_before);
	for (unsigned index = 0; index < WORKER_COUNT; index++)
		command_worker(index, COMMAND_CHECK_MASK);
	for (unsigned index = 0; index < WORKER_COUNT; index++) {
		if (test_signal_blocked(index))
			check_held_by_blocked(index);
		else
			check_delivery_to_unblocked(index);
	}
	for (unsigned index = 0; index < WORKER_COUNT; index++) {
		command_worker(index, COMMAND_EXIT);
		pthread_join(workers[index].thread, NULL);
		state_expect(workers[index].failure[0] == '\0', "%s", workers[index].failure);
	}
	state_expect(handler_runs == WORKER_COUNT, "SIGUSR2 handler ran %d times, expected %d",
		     (int)handler_runs, WORKER_COUNT);
	state_finish();
}
