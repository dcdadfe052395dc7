/*
 * The protocol every tests/state/tree_*.c program shares: how the processes
 * of a test tree report ready, pass go down and bring verdicts back up.
 */
#ifndef CKPT_TESTS_TREE_H
#define CKPT_TESTS_TREE_H

#include "state.h"

#include <limits.h>
#include <sys/wait.h>

/*
 * Only the root talks to the harness.  A child says its state is built by
 * sending SIGUSR2 to its parent, which has it blocked and takes it with
 * sigtimedwait(); go reaches a child as SIGUSR1 from its parent; a child's
 * verdict is its exit status, and a failing child leaves its first
 * difference in $TMPDIR/tree-verdict-PID for whoever reaps it.  No pipe
 * between the processes is open at checkpoint time.  (Not every test uses
 * every helper, hence `unused`.)
 */
enum {
	TREE_READY_SIGNAL = SIGUSR2,
	TREE_SETUP_SECONDS = 10
};

/* First thing in the root: state_init() and SIGUSR2 blocked (children inherit both). */
static inline __attribute__((unused)) void tree_init(void)
{
	sigset_t ready_set;

	state_init();
	sigemptyset(&ready_set);
	sigaddset(&ready_set, TREE_READY_SIGNAL);
	if (sigprocmask(SIG_BLOCK, &ready_set, NULL) != 0)
		state_setup_fail("sigprocmask: %s", strerror(errno));
}

/* fork(); the child starts with findings, PID and TID of its own. */
static inline __attribute__((unused)) pid_t tree_fork(void)
{
	pid_t child = fork();

	if (child < 0)
		state_setup_fail("fork: %s", strerror(errno));
	if (child == 0) {
		memset(&state_findings, 0, sizeof(state_findings));
		state_init();
	}
	return child;
}

static inline __attribute__((unused)) void tree_report_ready(void)
{
	if (kill(getppid(), TREE_READY_SIGNAL) != 0)
		state_setup_fail("kill(parent, SIGUSR2): %s", strerror(errno));
}

static inline __attribute__((unused)) void tree_wait_ready(pid_t child)
{
	struct timespec timeout = { .tv_sec = TREE_SETUP_SECONDS };
	sigset_t ready_set;
	siginfo_t info;

	sigemptyset(&ready_set);
	sigaddset(&ready_set, TREE_READY_SIGNAL);
	for (;;) {
		int got = sigtimedwait(&ready_set, &info, &timeout);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			state_setup_fail("child %d never got ready: %s", (int)child, strerror(errno));
		if (info.si_pid == child)
			return;
	}
}

/* Waits for go (SIGUSR1) and passes it on to the children. */
static inline __attribute__((unused)) void tree_wait_go(const pid_t *children, size_t count)
{
	state_wait_go_signal();
	for (size_t index = 0; index < count; index++)
		state_expect(kill(children[index], STATE_GO_SIGNAL) == 0, "kill(%d, SIGUSR1): %s",
			     (int)children[index], strerror(errno));
}

static inline __attribute__((unused)) void tree_verdict_path(pid_t pid, char *out, size_t capacity)
{
	const char *directory = getenv("TMPDIR");

	if (directory == NULL || directory[0] == '\0')
		directory = "/tmp";
	snprintf(out, capacity, "%s/tree-verdict-%d", directory, (int)pid);
}

/* A child's end: exit pass_status (never 1), or write the verdict and exit 1. */
static inline __attribute__((noreturn, unused)) void tree_child_finish(int pass_status)
{
	char path[PATH_MAX];
	char verdict[STATE_MESSAGE_MAX + 32];

	state_check_identity();
	if (state_findings.failure_count == 0)
		_exit(pass_status);
	snprintf(verdict, sizeof(verdict), "%s", state_findings.first_failure);
	if (state_findings.failure_count > 1)
		snprintf(verdict + strlen(verdict), sizeof(verdict) - strlen(verdict),
			 " (and %lu more)", state_findings.failure_count - 1);
	tree_verdict_path(getpid(), path, sizeof(path));
	state_write_file(path, verdict, strlen(verdict));
	_exit(STATE_EXIT_FAIL);
}

/* Expects a reaped child's status to be exit(expected); else says why not. */
static inline __attribute__((unused)) void tree_expect_exit_status(pid_t child, int status,
								   int expected, const char *role)
{
	char path[PATH_MAX];
	char verdict[STATE_MESSAGE_MAX + 32];

	if (WIFEXITED(status) && WEXITSTATUS(status) == expected)
		return;
	tree_verdict_path(child, path, sizeof(path));
	if (WIFEXITED(status) && WEXITSTATUS(status) == STATE_EXIT_FAIL &&
	    state_read_file(path, verdict, sizeof(verdict)) > 0)
		state_expect(false, "%s %d: %s", role, (int)child, verdict);
	else
		state_expect(false, "%s %d ended with status %#x, expected exit %d", role,
			     (int)child, status, expected);
}

/* Reaps child with waitpid() and expects exit(expected). */
static inline __attribute__((unused)) void tree_expect_child_exit(pid_t child, int expected,
								  const char *role)
{
	int status = 0;
	pid_t got;

	do
		got = waitpid(child, &status, 0);
	while (got < 0 && errno == EINTR);
	if (state_expect(got == child, "waitpid(%s %d) returned %d (%s)", role, (int)child,
			 (int)got, strerror(errno)))
		tree_expect_exit_status(child, status, expected, role);
}

#endif
