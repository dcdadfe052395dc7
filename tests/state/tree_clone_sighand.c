/*
 * A child made with clone(CLONE_VM | CLONE_SIGHAND) shares the root's
 * memory and signal handlers, not its fds or signal mask.  Before the
 * checkpoint the root installs a SIGWINCH handler and the child a SIGPROF
 * one (with SA_RESTART and a mask); after restart both see both, a
 * sigaction the root makes after restart reaches the child and one the
 * child makes reaches the root, and the child's own handler still runs
 * when SIGPROF comes (in the child, with its own blocked set).
 */
#include "clone.h"

static volatile int profile_signals; /* counted by on_profile, in memory both share */

static void on_window(int signal_number)
{
	(void)signal_number;
}

static void on_profile(int signal_number)
{
	(void)signal_number;
	profile_signals++;
}

static void on_hangup(int signal_number)
{
	(void)signal_number;
}

static void set_action(int signal_number, void (*handler)(int), int flags)
{
	struct sigaction action = { .sa_handler = handler, .sa_flags = flags };

	sigemptyset(&action.sa_mask);
	sigaddset(&action.sa_mask, SIGTERM);
	if (sigaction(signal_number, &action, NULL) != 0)
		state_setup_fail("sigaction(%d): %s", signal_number, strerror(errno));
}

static bool has_action(int signal_number, void (*handler)(int), int flags)
{
	struct sigaction action;

	if (sigaction(signal_number, NULL, &action) != 0)
		return false;
	return action.sa_handler == handler && (action.sa_flags & flags) == flags &&
	       sigismember(&action.sa_mask, SIGTERM);
}

static int run_child(void *unused)
{
	sigset_t profile_set;
	int verdict = 0;

	(void)unused;
	set_action(SIGPROF, on_profile, SA_RESTART);
	clone_tell_parent();
	clone_wait_go();
	clone_check(&verdict, has_action(SIGWINCH, on_window, SA_RESTART), 20);
	clone_check(&verdict, has_action(SIGPROF, on_profile, SA_RESTART), 21);
	sigemptyset(&profile_set);
	sigaddset(&profile_set, SIGPROF);
	sigprocmask(SIG_UNBLOCK, &profile_set, NULL);
	raise(SIGPROF);
	clone_check(&verdict, profile_signals == 1, 22);
	clone_tell_parent();
	clone_wait_go();
	clone_check(&verdict, has_action(SIGWINCH, SIG_IGN, 0), 23);
	set_action(SIGHUP, on_hangup, SA_NODEFER);
	clone_tell_parent();
	return verdict;
}

int main(void)
{
	pid_t child;

	tree_init();
	set_action(SIGWINCH, on_window, SA_RESTART);
	child = clone_start(run_child, CLONE_VM | CLONE_SIGHAND, NULL);
	tree_wait_ready(child);
	state_ready();
	state_wait_go_signal();
	state_expect(has_action(SIGWINCH, on_window, SA_RESTART), "our SIGWINCH handler is lost");
	state_expect(has_action(SIGPROF, on_profile, SA_RESTART),
		     "the child's SIGPROF handler is not ours");
	clone_expect_shared(getpid(), child, KCMP_SIGHAND, true, "signal handlers");
	clone_expect_shared(getpid(), child, KCMP_VM, true, "memory");
	clone_expect_shared(getpid(), child, KCMP_FILES, false, "fd table");
	clone_run_child_step(child);
	state_expect(profile_signals == 1,
		     "SIGPROF in the child ran its handler %d times, not once", profile_signals);
	set_action(SIGWINCH, SIG_IGN, 0);
	clone_run_child_step(child);
	state_expect(has_action(SIGHUP, on_hangup, SA_NODEFER),
		     "the child's SIGHUP handler after restart is not ours");
	tree_expect_child_exit(child, 0, "child");
	state_finish();
}
