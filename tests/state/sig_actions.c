/*
 * Signal dispositions: handlers with different flags (SA_RESTART,
 * SA_SIGINFO, SA_NODEFER, SA_RESETHAND, SA_NOCLDSTOP, SA_ONSTACK) and
 * masks, ignored signals and defaults.  After restart sigaction() reports
 * the same handler, flags, mask and restorer for every signal from 1 to
 * SIGRTMAX, and raising the handled signals runs their handlers with the
 * right siginfo and mask (and SA_RESETHAND resets after one run).
 */
#include "state.h"

enum {
	SIGNAL_LIMIT = 65
};

struct action_record {
	bool valid;
	struct sigaction action;
};

static struct action_record before[SIGNAL_LIMIT];
static volatile sig_atomic_t info_handler_runs;
static volatile sig_atomic_t info_signo;
static volatile sig_atomic_t info_code;
static volatile sig_atomic_t mask_held_sigint;
static volatile sig_atomic_t plain_handler_runs;

static void on_info_signal(int signal_number, siginfo_t *info, void *context)
{
	sigset_t mask_now;

	(void)context;
	info_handler_runs++;
	info_signo = info->si_signo == signal_number ? signal_number : -1;
	info_code = info->si_code;
	pthread_sigmask(SIG_SETMASK, NULL, &mask_now);
	mask_held_sigint = sigismember(&mask_now, SIGINT) && sigismember(&mask_now, SIGTERM);
}

static void on_plain_signal(int signal_number)
{
	(void)signal_number;
	plain_handler_runs++;
}

static void set_action(int signal_number, void (*handler)(int), int flags, int masked_one,
		       int masked_two)
{
	struct sigaction action;

	memset(&action, 0, sizeof(action));
	action.sa_handler = handler;
	action.sa_flags = flags;
	sigemptyset(&action.sa_mask);
	if (masked_one > 0)
		sigaddset(&action.sa_mask, masked_one);
	if (masked_two > 0)
		sigaddset(&action.sa_mask, masked_two);
	if (flags & SA_SIGINFO)
		action.sa_sigaction = on_info_signal;
	if (sigaction(signal_number, &action, NULL) != 0)
		state_setup_fail("sigaction(%d): %s", signal_number, strerror(errno));
}

static void install_actions(void)
{
	set_action(SIGUSR2, NULL, SA_SIGINFO | SA_RESTART, SIGINT, SIGTERM);
	set_action(SIGHUP, SIG_IGN, 0, -1, -1);
	set_action(SIGPIPE, SIG_IGN, 0, -1, -1);
	set_action(SIGALRM, on_plain_signal, SA_NODEFER | SA_RESETHAND, SIGQUIT, -1);
	set_action(SIGCHLD, on_plain_signal, SA_NOCLDSTOP | SA_RESTART, -1, -1);
	set_action(SIGWINCH, on_plain_signal, SA_ONSTACK, SIGRTMIN + 1, SIGRTMAX);
	set_action(SIGRTMIN + 3, NULL, SA_SIGINFO, SIGINT, SIGTERM);
	set_action(SIGRTMAX - 2, SIG_IGN, SA_RESTART, -1, -1);
	set_action(SIGTERM, SIG_DFL, 0, -1, -1);
}

static void record_actions(struct action_record *records)
{
	for (int signal_number = 1; signal_number < SIGNAL_LIMIT; signal_number++) {
		memset(&records[signal_number].action, 0, sizeof(struct sigaction));
		records[signal_number].valid =
			sigaction(signal_number, NULL, &records[signal_number].action) == 0;
	}
}

static void compare_action(int signal_number, const struct action_record *now,
			   const struct action_record *then)
{
	const struct sigaction *a = &now->action;
	const struct sigaction *b = &then->action;

	state_expect(now->valid == then->valid, "signal %d: sigaction valid %d, was %d",
		     signal_number, now->valid, then->valid);
	state_expect(a->sa_handler == b->sa_handler, "signal %d: handler %p, was %p", signal_number,
		     (void *)(uintptr_t)a->sa_handler, (void *)(uintptr_t)b->sa_handler);
	state_expect(a->sa_flags == b->sa_flags, "signal %d: flags %#x, was %#x", signal_number,
		     (unsigned)a->sa_flags, (unsigned)b->sa_flags);
	state_expect(a->sa_restorer == b->sa_restorer, "signal %d: restorer %p, was %p",
		     signal_number, (void *)(uintptr_t)a->sa_restorer,
		     (void *)(uintptr_t)b->sa_restorer);
	for (int masked = 1; masked < SIGNAL_LIMIT; masked++)
		state_expect(sigismember(&a->sa_mask, masked) == sigismember(&b->sa_mask, masked),
			     "signal %d: mask bit %d differs", signal_number, masked);
}

static void check_handlers_run(void)
{
	raise(SIGUSR2);
	state_expect(info_handler_runs == 1, "SA_SIGINFO handler ran %d times",
		     (int)info_handler_runs);
	state_expect(info_signo == SIGUSR2, "siginfo si_signo wrong");
	state_expect(info_code == SI_TKILL, "siginfo si_code %d, expected SI_TKILL", (int)info_code);
	state_expect(mask_held_sigint, "sa_mask (SIGINT, SIGTERM) not in force in the handler");
	raise(SIGALRM);
	state_expect(plain_handler_runs == 1, "SIGALRM handler ran %d times",
		     (int)plain_handler_runs);
	state_expect(signal(SIGALRM, SIG_DFL) == SIG_DFL, "SA_RESETHAND did not reset SIGALRM");
	raise(SIGHUP);
	state_expect(plain_handler_runs == 1, "ignored SIGHUP ran a handler");
}

int main(void)
{
	static struct action_record after[SIGNAL_LIMIT];

	state_init();
	install_actions();
	record_actions(before);
	state_ready();
	state_wait_go_signal();
	record_actions(after);
	for (int signal_number = 1; signal_number < SIGNAL_LIMIT; signal_number++)
		compare_action(signal_number, &after[signal_number], &before[signal_number]);
	check_handlers_run();
	state_finish();
}
