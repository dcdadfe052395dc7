/*
 * Pending signals: while blocked, SIGUSR2 is raised at the thread
 * (thread-private pending set) and real-time signals are queued at the
 * process with values (shared pending set, two instances of one of them).
 * After restart SigPnd and ShdPnd in /proc/self/status are the same, and
 * unblocking delivers each instance once, lowest real-time signal first,
 * with its value.
 */
#include "state.h"

enum {
	DELIVERY_MAX = 8
};

struct delivery {
	int signal_number;
	int value;
};

static struct delivery deliveries[DELIVERY_MAX];
static volatile sig_atomic_t delivery_count;

static void on_pending_signal(int signal_number, siginfo_t *info, void *context)
{
	(void)context;
	if (delivery_count >= DELIVERY_MAX)
		return;
	deliveries[delivery_count].signal_number = signal_number;
	deliveries[delivery_count].value = info->si_code == SI_QUEUE ? info->si_value.sival_int : -1;
	delivery_count++;
}

static sigset_t pending_set(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGRTMIN + 2);
	sigaddset(&set, SIGRTMIN + 3);
	return set;
}

static void make_signals_pending(void)
{
	sigset_t set = pending_set();
	struct sigaction action;

	memset(&action, 0, sizeof(action));
	action.sa_sigaction = on_pending_signal;
	action.sa_flags = SA_SIGINFO;
	action.sa_mask = set;
	sigaction(SIGUSR2, &action, NULL);
	sigaction(SIGRTMIN + 2, &action, NULL);
	sigaction(SIGRTMIN + 3, &action, NULL);
	sigprocmask(SIG_BLOCK, &set, NULL);
	raise(SIGUSR2);
	sigqueue(getpid(), SIGRTMIN + 3, (union sigval){ .sival_int = 3003 });
	sigqueue(getpid(), SIGRTMIN + 2, (union sigval){ .sival_int = 2001 });
	sigqueue(getpid(), SIGRTMIN + 2, (union sigval){ .sival_int = 2002 });
}

static void read_pending_lines(char *out, size_t capacity)
{
	char status[4096];
	char *thread_line;
	char *shared_line;

	state_read_file("/proc/self/status", status, sizeof(status));
	thread_line = strstr(status, "SigPnd:");
	shared_line = strstr(status, "ShdPnd:");
	snprintf(out, capacity, "%.*s %.*s", thread_line ? (int)strcspn(thread_line, "\n") : 0,
		 thread_line ? thread_line : "", shared_line ? (int)strcspn(shared_line, "\n") : 0,
		 shared_line ? shared_line : "");
}

static void expect_delivery(int index, int signal_number, int value)
{
	state_expect(deliveries[index].signal_number == signal_number &&
			     deliveries[index].value == value,
		     "delivery %d was signal %d value %d, expected signal %d value %d", index,
		     deliveries[index].signal_number, deliveries[index].value, signal_number, value);
}

static void check_deliveries(void)
{
	sigset_t set = pending_set();

	sigprocmask(SIG_UNBLOCK, &set, NULL);
	state_expect_equal_long(delivery_count, 4, "number of signals delivered");
	expect_delivery(0, SIGUSR2, -1);
	expect_delivery(1, SIGRTMIN + 2, 2001);
	expect_delivery(2, SIGRTMIN + 2, 2002);
	expect_delivery(3, SIGRTMIN + 3, 3003);
}

int main(void)
{
	char pending_before[256];
	char pending_after[256];

	state_init();
	make_signals_pending();
	read_pending_lines(pending_before, sizeof(pending_before));
	state_ready();
	state_wait_go_signal();
	read_pending_lines(pending_after, sizeof(pending_after));
	state_expect_equal_text(pending_after, pending_before, "pending signals");
	check_deliveries();
	state_finish();
}
