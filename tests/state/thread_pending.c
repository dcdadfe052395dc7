/*
 * Signals pending on threads other than main: thread 0 blocks SIGUSR2 and
 * main sends it one with pthread_kill() (si_code SI_TKILL); thread 1 blocks
 * SIGRTMIN+2 and main queues two with pthread_sigqueue() (SI_QUEUE, values
 * 11 and 22).  After restart SigPnd of each thread shows its signal and no
 * other thread has it; when each thread unblocks, its handler runs on that
 * thread with the same si_code, si_pid and values, the queued ones once
 * each and in order.
 */
#include "state.h"

#include <pthread.h>

enum {
	WORKER_COUNT = 2,
	MAX_DELIVERIES = 8,
	FIRST_VALUE = 11,
	SECOND_VALUE = 22
};

struct delivery {
	pid_t tid;
	int signal_number;
	int code;
	pid_t sender;
	int value;
};

static pthread_t workers[WORKER_COUNT];
static pid_t worker_tids[WORKER_COUNT];
static int worker_signals[WORKER_COUNT];
static struct delivery deliveries[MAX_DELIVERIES];
static int delivery_count;
static pthread_barrier_t all_blocked;
static pthread_barrier_t all_unblocked;
static pthread_mutex_t go_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_condition = PTHREAD_COND_INITIALIZER;
static bool condition_go;

static void on_signal(int signal_number, siginfo_t *info, void *context)
{
	int slot = __atomic_fetch_add(&delivery_count, 1, __ATOMIC_RELAXED);

	(void)context;
	if (slot >= MAX_DELIVERIES)
		return;
	deliveries[slot] = (struct delivery){
		.tid = (pid_t)syscall(SYS_gettid),
		.signal_number = signal_number,
		.code = info->si_code,
		.sender = info->si_pid,
		.value = info->si_value.sival_int,
	};
}

static void change_mask(int how, int signal_number)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, signal_number);
	pthread_sigmask(how, &set, NULL);
}

static void *run_worker(void *argument)
{
	unsigned index = (unsigned)(uintptr_t)argument;

	worker_tids[index] = (pid_t)syscall(SYS_gettid);
	change_mask(SIG_BLOCK, worker_signals[index]);
	pthread_barrier_wait(&all_blocked);
	pthread_mutex_lock(&go_mutex);
	while (!condition_go)
		pthread_cond_wait(&go_condition, &go_mutex);
	pthread_mutex_unlock(&go_mutex);
	change_mask(SIG_UNBLOCK, worker_signals[index]); /* the handler runs here */
	pthread_barrier_wait(&all_unblocked);
	return NULL;
}

static unsigned long long pending_mask_of(pid_t tid)
{
	char path[64];
	char status[4096];
	const char *line;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	if (state_read_file(path, status, sizeof(status)) <= 0)
		return 0;
	line = strstr(status, "\nSigPnd:\t");
	return line ? strtoull(line + strlen("\nSigPnd:\t"), NULL, 16) : 0;
}

static bool is_pending_on(pid_t tid, int signal_number)
{
	return (pending_mask_of(tid) >> (signal_number - 1)) & 1;
}

static void check_pending(const char *when)
{
	for (unsigned index = 0; index < WORKER_COUNT; index++) {
		for (unsigned other = 0; other < WORKER_COUNT; other++)
			state_expect(is_pending_on(worker_tids[other], worker_signals[index]) ==
					     (other == index),
				     "%s: signal %d sent to thread %u is %spending on thread %u",
				     when, worker_signals[index], index,
				     other == index ? "not " : "", other);
		state_expect(!is_pending_on(getpid(), worker_signals[index]),
			     "%s: signal %d sent to thread %u is pending on main", when,
			     worker_signals[index], index);
	}
}

static void send_signals(void)
{
	union sigval first = { .sival_int = FIRST_VALUE };
	union sigval second = { .sival_int = SECOND_VALUE };

	if (pthread_kill(workers[0], worker_signals[0]) != 0 ||
	    pthread_sigqueue(workers[1], worker_signals[1], first) != 0 ||
	    pthread_sigqueue(workers[1], worker_signals[1], second) != 0)
		state_setup_fail("sending the signals: %s", strerror(errno));
}

static void expect_delivery(int slot, unsigned worker, int code, int value)
{
	const struct delivery *seen = &deliveries[slot];

	state_expect(seen->signal_number == worker_signals[worker],
		     "delivery %d is signal %d, expected %d", slot, seen->signal_number,
		     worker_signals[worker]);
	state_expect(seen->tid == worker_tids[worker],
		     "delivery %d ran on tid %d, not thread %u (%d)", slot, (int)seen->tid, worker,
		     (int)worker_tids[worker]);
	state_expect(seen->code == code, "delivery %d has si_code %d, was %d", slot, seen->code,
		     code);
	state_expect(seen->sender == getpid(), "delivery %d has si_pid %d, was %d", slot,
		     (int)seen->sender, (int)getpid());
	if (code == SI_QUEUE)
		state_expect(seen->value == value, "delivery %d has value %d, was %d", slot,
			     seen->value, value);
}

/* Each thread's deliveries, in their order (the two threads may interleave). */
static void check_deliveries(void)
{
	static const unsigned expected_count[WORKER_COUNT] = { 1, 2 };
	static const int codes[WORKER_COUNT][2] = { { SI_TKILL, 0 }, { SI_QUEUE, SI_QUEUE } };
	static const int values[WORKER_COUNT][2] = { { 0, 0 }, { FIRST_VALUE, SECOND_VALUE } };
	unsigned seen[WORKER_COUNT] = { 0, 0 };

	for (int slot = 0; slot < delivery_count; slot++) {
		unsigned worker = deliveries[slot].signal_number == worker_signals[0] ? 0 : 1;
		unsigned nth = seen[worker]++;

		if (state_expect(nth < expected_count[worker], "signal %d delivered %u times",
				 worker_signals[worker], nth + 1))
			expect_delivery(slot, worker, codes[worker][nth], values[worker][nth]);
	}
}

static void install_handlers(void)
{
	struct sigaction action = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO };

	worker_signals[0] = SIGUSR2;
	worker_signals[1] = SIGRTMIN + 2;
	sigemptyset(&action.sa_mask);
	for (unsigned index = 0; index < WORKER_COUNT; index++) {
		sigaction(worker_signals[index], &action, NULL);
		change_mask(SIG_BLOCK, worker_signals[index]); /* main never takes them */
	}
}

int main(void)
{
	state_init();
	install_handlers();
	pthread_barrier_init(&all_blocked, NULL, WORKER_COUNT + 1);
	pthread_barrier_init(&all_unblocked, NULL, WORKER_COUNT + 1);
	for (unsigned index = 0; index < WORKER_COUNT; index++) {
		if (pthread_create(&workers[index], NULL, run_worker, (void *)(uintptr_t)index) != 0)
			state_setup_fail("pthread_create");
	}
	pthread_barrier_wait(&all_blocked);
	send_signals();
	check_pending("before the checkpoint");
	if (state_findings.failure_count != 0)
		state_setup_fail("%s", state_findings.first_failure);
	state_ready();
	state_wait_go_signal();
	check_pending("after the checkpoint");
	pthread_mutex_lock(&go_mutex);
	condition_go = true;
	pthread_cond_broadcast(&go_condition);
	pthread_mutex_unlock(&go_mutex);
	pthread_barrier_wait(&all_unblocked);
	for (unsigned index = 0; index < WORKER_COUNT; index++)
		pthread_join(workers[index], NULL);
	if (state_expect(delivery_count == 3, "%d signals delivered, expected 3", delivery_count))
		check_deliveries();
	state_finish();
}
