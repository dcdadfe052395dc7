/*
 * Signals during a checkpoint: a target that counts each real-time signal
 * it gets by its si_value, and a sender that streams them.
 *
 *   rel_signals target [LIMIT]
 *                         holds 64 MiB, counts SIGRTMIN+1 by si_value (with
 *                         LIMIT, its RLIMIT_SIGPENDING is lowered to it); writes
 *                         "ready", then answers on stdin:
 *                           "expect N": waits (up to 10 s) for N signals, then
 *                             "pass" if values 0..N-1 came exactly once each and
 *                             no other, else "fail: ...";
 *                           "block": blocks SIGRTMIN+1 (they stay pending);
 *                           "atleast M": unblocks it, waits for M signals, then
 *                             "pass" if values 0..M-1 came exactly
 *                             once each and none twice (later ones may be lost
 *                             with a process killed after its image was taken).
 *   rel_signals send PID [COUNT]
 *                         sigqueue(PID, SIGRTMIN+1, 0, 1, 2, ...) as fast as the
 *                         queue takes them (EAGAIN: try again); writes "started"
 *                         after the first 100; SIGUSR1 makes it write "mark N"
 *                         (how many were sent); it stops on SIGTERM, when PID
 *                         is gone or after COUNT, and writes "sent N".
 */
#include "state.h"

#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>

/*
 * A queue is kept short (the target's LIMIT, or the sender's COUNT):
 * reading a queue costs ckpt time quadratic in its length
 * (PTRACE_PEEKSIGINFO walks it from the head for every entry).
 */
enum {
	MAX_VALUES = 1 << 21,
	DATA_MIB = 64,
	WAIT_MS = 10000
};

static unsigned char arrivals[MAX_VALUES];
static volatile unsigned long arrival_count;
static volatile unsigned long stray_count;

__attribute__((format(printf, 1, 2))) static void say(const char *format, ...)
{
	char line[256];
	va_list arguments;

	va_start(arguments, format);
	vsnprintf(line, sizeof(line), format, arguments);
	va_end(arguments);
	state_say(line);
}

static void count_signal(int signal, siginfo_t *info, void *context)
{
	unsigned long value = (unsigned long)info->si_value.sival_ptr;

	(void)signal;
	(void)context;
	if (info->si_code != SI_QUEUE || value >= MAX_VALUES) {
		stray_count++;
		return;
	}
	if (arrivals[value] < 255)
		arrivals[value]++;
	arrival_count++;
}

static void hold_data(void)
{
	size_t length = (size_t)DATA_MIB << 20;
	uint64_t *words =
		mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (words == MAP_FAILED)
		state_setup_fail("mmap: %s", strerror(errno));
	for (size_t i = 0; i < length / 8; i++)
		words[i] = state_mix64(i);
}

static void wait_for(unsigned long count)
{
	const struct timespec millisecond = { 0, 1000000 };

	for (int waited = 0; arrival_count < count && waited < WAIT_MS; waited++)
		nanosleep(&millisecond, NULL);
}

/* Values below `exact` once each; above, at most once (or exactly none when strict). */
static void answer(unsigned long exact, bool strict)
{
	unsigned long missing = 0, doubled = 0, extra = 0, first_bad = MAX_VALUES;

	for (unsigned long value = 0; value < MAX_VALUES; value++) {
		bool bad = false;

		if (value < exact && arrivals[value] == 0)
			bad = ++missing;
		if (arrivals[value] > 1)
			bad = ++doubled;
		if (value >= exact && arrivals[value] && strict)
			bad = ++extra;
		if (bad && first_bad == MAX_VALUES)
			first_bad = value;
	}
	if (missing || doubled || extra || stray_count)
		say("fail: %lu missing, %lu twice, %lu unexpected, %lu stray (first value %lu) of %lu\n",
		    missing, doubled, extra, (unsigned long)stray_count, first_bad, exact);
	else
		state_say("pass\n");
}

static void set_blocked(int how)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 1);
	sigprocmask(how, &set, NULL);
}

static void limit_queue(unsigned long limit)
{
	struct rlimit queue_limit;

	if (getrlimit(RLIMIT_SIGPENDING, &queue_limit) < 0)
		state_setup_fail("getrlimit: %s", strerror(errno));
	if (queue_limit.rlim_cur > limit)
		queue_limit.rlim_cur = limit;
	if (setrlimit(RLIMIT_SIGPENDING, &queue_limit) < 0)
		state_setup_fail("setrlimit: %s", strerror(errno));
}

static int run_target(unsigned long queue_limit)
{
	struct sigaction action = { .sa_sigaction = count_signal,
				    .sa_flags = SA_SIGINFO | SA_RESTART };
	char line[64];

	if (queue_limit)
		limit_queue(queue_limit);
	sigemptyset(&action.sa_mask);
	if (sigaction(SIGRTMIN + 1, &action, NULL) < 0)
		state_setup_fail("sigaction: %s", strerror(errno));
	hold_data();
	state_say("ready\n");
	for (;;) {
		ssize_t length = read(0, line, sizeof(line) - 1);
		unsigned long count;

		if (length < 0 && errno == EINTR)
			continue;
		if (length <= 0)
			return 2;
		line[length] = '\0';
		if (sscanf(line, "expect %lu", &count) == 1) {
			wait_for(count);
			answer(count, true);
		} else if (strcmp(line, "block\n") == 0) {
			set_blocked(SIG_BLOCK);
			state_say("pass\n");
		} else if (sscanf(line, "atleast %lu", &count) == 1) {
			set_blocked(SIG_UNBLOCK);
			wait_for(count);
			answer(count, false);
		} else {
			state_say("fail: unknown command\n");
		}
	}
}

static volatile sig_atomic_t mark_asked;
static volatile sig_atomic_t stop_asked;

static void ask_mark(int signal)
{
	(void)signal;
	mark_asked = 1;
}

static void ask_stop(int signal)
{
	(void)signal;
	stop_asked = 1;
}

static int run_sender(pid_t pid, unsigned long count)
{
	unsigned long sent = 0;

	signal(SIGUSR1, ask_mark);
	signal(SIGTERM, ask_stop);
	while (!stop_asked && sent < count) {
		union sigval value = { .sival_ptr = (void *)(uintptr_t)sent };

		if (mark_asked) {
			mark_asked = 0;
			say("mark %lu\n", sent);
		}
		if (sigqueue(pid, SIGRTMIN + 1, value) == 0) {
			if (++sent == 100)
				state_say("started\n");
			continue;
		}
		if (errno == ESRCH)
			break;
		if (errno != EAGAIN && errno != EINTR)
			state_setup_fail("sigqueue: %s", strerror(errno));
		sched_yield();
	}
	say("sent %lu\n", sent);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && argc <= 3 && strcmp(argv[1], "target") == 0)
		return run_target(argc == 3 ? strtoul(argv[2], NULL, 10) : 0);
	if (argc >= 3 && argc <= 4 && strcmp(argv[1], "send") == 0)
		return run_sender((pid_t)atoi(argv[2]),
				  argc == 4 ? strtoul(argv[3], NULL, 10) : MAX_VALUES);
	fprintf(stderr, "usage: rel_signals target [LIMIT] | send PID [COUNT]\n");
	return 2;
}
