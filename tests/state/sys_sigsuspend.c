/*
 * A process checkpointed in sigsuspend() with a particular temporary mask
 * stays there after restart: SIGUSR1's handler runs with that temporary
 * mask (plus SIGUSR1) in force, sigsuspend returns EINTR, and afterwards
 * the original mask is back.
 */
#include "state.h"

static sigset_t mask_in_handler;
static volatile sig_atomic_t handler_runs;

static void on_go(int signal_number)
{
	(void)signal_number;
	pthread_sigmask(SIG_SETMASK, NULL, &mask_in_handler);
	handler_runs++;
}

static void build_masks(sigset_t *normal, sigset_t *temporary, sigset_t *expected_in_handler)
{
	sigemptyset(normal);
	sigaddset(normal, STATE_GO_SIGNAL);
	sigaddset(normal, SIGWINCH);
	sigaddset(normal, SIGRTMIN + 4);
	sigemptyset(temporary);
	sigaddset(temporary, SIGUSR2);
	sigaddset(temporary, SIGTERM);
	sigaddset(temporary, SIGRTMAX - 1);
	*expected_in_handler = *temporary;
	sigaddset(expected_in_handler, STATE_GO_SIGNAL);
}

static bool same_signals(const sigset_t *left, const sigset_t *right)
{
	for (int signal_number = 1; signal_number < NSIG; signal_number++) {
		if (sigismember(left, signal_number) != sigismember(right, signal_number))
			return false;
	}
	return true;
}

int main(void)
{
	struct sigaction action;
	sigset_t normal, temporary, expected_in_handler, mask_after;
	int result;
	int error;

	state_init();
	memset(&action, 0, sizeof(action));
	action.sa_handler = on_go;
	sigemptyset(&action.sa_mask);
	sigaction(STATE_GO_SIGNAL, &action, NULL);
	build_masks(&normal, &temporary, &expected_in_handler);
	sigprocmask(SIG_SETMASK, &normal, NULL);
	state_ready();
	result = sigsuspend(&temporary);
	error = errno;
	state_expect(result == -1 && error == EINTR, "sigsuspend returned %d (%s)", result,
		     strerror(error));
	state_expect(handler_runs == 1, "handler ran %d times", (int)handler_runs);
	state_expect(same_signals(&mask_in_handler, &expected_in_handler),
		     "mask inside the handler is not sigsuspend's mask plus SIGUSR1");
	sigprocmask(SIG_SETMASK, NULL, &mask_after);
	state_expect(same_signals(&mask_after, &normal), "mask after sigsuspend is not restored");
	state_finish();
}
