/*
 * Waits in progress across the tree.  The root is blocked in wait4() on a
 * child that is itself blocked in wait4() on a grandchild sleeping 3 s in
 * nanosleep(); a second child waits in sigsuspend() for the go that the
 * root's SIGUSR1 handler (SA_RESTART) passes on.  After restart the sleep
 * ends no earlier than its deadline, each wait4() returns the exact PID
 * and exit status (44 from the grandchild, 43 from the waiting child, 42
 * from the signalled one) without EINTR, and no wait ends early.
 */
#include "state.h"

#include <limits.h>
#include <sys/resource.h>
#include <sys/wait.h>

enum {
	SIGNALLED_EXIT = 42,
	WAITING_EXIT = 43,
	SLEEPING_EXIT = 44,
};

#include "tree.h"

static pid_t signalled_child; /* read by the root's SIGUSR1 handler */

/* The grandchild: sleeps 3 s (SIGUSR1 ignored), checks the sleep, exits 44. */
__attribute__((noreturn)) static void run_sleeping_grandchild(void)
{
	struct timespec duration = { .tv_sec = STATE_SLEEP_SECONDS };
	pid_t parent = getppid();
	int64_t deadline_ns;
	int result;

	state_ignore_go_signal();
	deadline_ns = state_now_ns(CLOCK_MONOTONIC) + STATE_SLEEP_NS;
	tree_report_ready();
	result = nanosleep(&duration, NULL);
	state_expect(result == 0, "grandchild: nanosleep returned %d (%s)", result, strerror(errno));
	state_expect(state_now_ns(CLOCK_MONOTONIC) >= deadline_ns,
		     "grandchild: nanosleep ended before its deadline");
	state_expect_equal_long(getppid(), parent, "grandchild: getppid()");
	tree_child_finish(SLEEPING_EXIT);
}

/* wait4() on child; any EINTR is a failure (the handlers here use SA_RESTART). */
static void expect_wait4(pid_t child, int expected, const char *role)
{
	struct rusage usage;
	int status = 0;
	pid_t got = wait4(child, &status, 0, &usage);

	if (state_expect(got == child, "wait4(%s %d) returned %d (%s)", role, (int)child, (int)got,
			 strerror(errno)))
		tree_expect_exit_status(child, status, expected, role);
}

/* The first child: waits in wait4() on its sleeping child, exits 43. */
__attribute__((noreturn)) static void run_waiting_child(void)
{
	pid_t parent = getppid();
	pid_t grandchild;

	state_ignore_go_signal();
	grandchild = tree_fork();
	if (grandchild == 0)
		run_sleeping_grandchild();
	tree_wait_ready(grandchild);
	tree_report_ready();
	expect_wait4(grandchild, SLEEPING_EXIT, "sleeping grandchild");
	state_expect_equal_long(getppid(), parent, "waiting child: getppid()");
	tree_child_finish(WAITING_EXIT);
}

/* The second child: sigsuspend() until the root passes go on, exits 42. */
__attribute__((noreturn)) static void run_signalled_child(void)
{
	pid_t parent = getppid();

	tree_report_ready();
	state_wait_go_signal();
	state_expect_equal_long(getppid(), parent, "signalled child: getppid()");
	tree_child_finish(SIGNALLED_EXIT);
}

static void pass_go_on(int signal_number)
{
	int saved_errno = errno;

	(void)signal_number;
	kill(signalled_child, STATE_GO_SIGNAL);
	errno = saved_errno;
}

/* From now on the root's SIGUSR1 interrupts wait4(), which restarts. */
static void forward_go_signal(void)
{
	struct sigaction action;
	sigset_t go_set;

	memset(&action, 0, sizeof(action));
	action.sa_handler = pass_go_on;
	action.sa_flags = SA_RESTART;
	sigemptyset(&action.sa_mask);
	sigemptyset(&go_set);
	sigaddset(&go_set, STATE_GO_SIGNAL);
	if (sigaction(STATE_GO_SIGNAL, &action, NULL) != 0 ||
	    sigprocmask(SIG_UNBLOCK, &go_set, NULL) != 0)
		state_setup_fail("SIGUSR1 handler: %s", strerror(errno));
}

int main(void)
{
	pid_t waiting_child;
	int64_t earliest_end_ns;

	tree_init();
	earliest_end_ns = state_now_ns(CLOCK_MONOTONIC) + STATE_SLEEP_NS;
	waiting_child = tree_fork();
	if (waiting_child == 0)
		run_waiting_child();
	tree_wait_ready(waiting_child);
	signalled_child = tree_fork();
	if (signalled_child == 0)
		run_signalled_child();
	tree_wait_ready(signalled_child);
	forward_go_signal();
	state_ready();
	expect_wait4(waiting_child, WAITING_EXIT, "waiting child");
	state_expect(state_now_ns(CLOCK_MONOTONIC) >= earliest_end_ns,
		     "wait4 on the waiting child returned before the grandchild's sleep could end");
	expect_wait4(signalled_child, SIGNALLED_EXIT, "signalled child");
	state_finish();
}
