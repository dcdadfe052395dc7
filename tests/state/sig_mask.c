/*
 * The blocked signal mask: standard and real-time signals are blocked.
 * After restart sigprocmask() reports the same mask, and it really blocks:
 * a raised SIGUSR2 stays pending (its handler does not run) until the
 * program unblocks it.
 */
#include "state.h"

static volatile sig_atomic_t usr2_handler_runs;

static void on_usr2(int signal_number)
{
	(void)signal_number;
	usr2_handler_runs++;
}

static void block_signals(void)
{
	static const int blocked_signals[] = { SIGUSR2, SIGTERM,  SIGHUP,  SIGINT, SIGQUIT,
					       SIGCHLD, SIGWINCH, SIGPROF, SIGIO };
	sigset_t blocked;

	sigemptyset(&blocked);
	for (size_t index = 0; index < sizeof(blocked_signals) / sizeof(blocked_signals[0]); index++)
		sigaddset(&blocked, blocked_signals[index]);
	sigaddset(&blocked, SIGRTMIN);
	sigaddset(&blocked, SIGRTMIN + 5);
	sigaddset(&blocked, SIGRTMAX);
	sigprocmask(SIG_BLOCK, &blocked, NULL);
	signal(SIGUSR2, on_usr2);
}

static void check_mask_blocks(void)
{
	sigset_t pending;
	sigset_t usr2_only;

	raise(SIGUSR2);
	state_expect(usr2_handler_runs == 0, "blocked SIGUSR2 was delivered");
	sigpending(&pending);
	state_expect(sigismember(&pending, SIGUSR2), "raised SIGUSR2 is not pending");
	sigemptyset(&usr2_only);
	sigaddset(&usr2_only, SIGUSR2);
	sigprocmask(SIG_UNBLOCK, &usr2_only, NULL);
	state_expect(usr2_handler_runs == 1, "SIGUSR2 handler ran %d times after unblocking",
		     (int)usr2_handler_runs);
}

int main(void)
{
	sigset_t before;
	sigset_t after;

	state_init();
	block_signals();
	sigprocmask(SIG_SETMASK, NULL, &before);
	state_ready();
	state_wait_go_signal();
	sigprocmask(SIG_SETMASK, NULL, &after);
	for (int signal_number = 1; signal_number < NSIG; signal_number++)
		state_expect(sigismember(&after, signal_number) == sigismember(&before, signal_number),
			     "signal %d is %s, was %s", signal_number,
			     sigismember(&after, signal_number) ? "blocked" : "unblocked",
			     sigismember(&before, signal_number) ? "blocked" : "unblocked");
	check_mask_blocks();
	state_finish();
}
