/*
 * A parent checkpointed in wait4() on its child (a process tree: needs
 * tree support in ckpt).  The child reads "go" from the shared stdin and
 * exits 42; after restart the parent's wait4() returns that child's pid
 * with exit status 42.  SIGUSR1 is ignored by both.
 */
#include "state.h"

#include <sys/resource.h>
#include <sys/wait.h>

enum {
	CHILD_EXIT_CODE = 42
};

static pid_t start_child(void)
{
	pid_t child = fork();

	if (child < 0)
		state_setup_fail("fork: %s", strerror(errno));
	if (child == 0)
		_exit(state_wait_go_line() ? CHILD_EXIT_CODE : 3);
	return child;
}

int main(void)
{
	struct rusage usage;
	pid_t child;
	pid_t waited;
	int status = 0;

	state_init();
	state_ignore_go_signal();
	child = start_child();
	state_ready();
	waited = wait4(child, &status, 0, &usage);
	state_expect(waited == child, "wait4 returned %d (%s), child was %d", (int)waited,
		     strerror(errno), (int)child);
	state_expect(WIFEXITED(status) && WEXITSTATUS(status) == CHILD_EXIT_CODE,
		     "child status %#x, expected exit %d", status, CHILD_EXIT_CODE);
	state_finish();
}
