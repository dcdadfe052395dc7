/*
 * A process checkpointed in pause() stays in pause() after restart until
 * SIGUSR1 arrives: its handler runs exactly once and pause returns -EINTR.
 *
 * pause() has a race that sigsuspend() was made to close: a signal that
 * arrives between "ready" and the syscall would leave the program paused
 * forever.  So the pause is a raw syscall in a small region of assembly,
 * and a handler that interrupts the region before the syscall moves the
 * program counter past it (the way restartable sequences do), so the
 * outcome is the same either way.
 */
#include "state.h"

#include <ucontext.h>

static uintptr_t region_start;
static uintptr_t region_end;
static volatile sig_atomic_t handler_runs;

static void on_go(int signal_number, siginfo_t *info, void *context)
{
	ucontext_t *interrupted = context;
	greg_t rip = interrupted->uc_mcontext.gregs[REG_RIP];

	(void)signal_number;
	(void)info;
	handler_runs++;
	state_go_signal_count++;
	if ((uintptr_t)rip < region_start || (uintptr_t)rip >= region_end)
		return;
	interrupted->uc_mcontext.gregs[REG_RIP] = (greg_t)region_end;
	interrupted->uc_mcontext.gregs[REG_RAX] = -EINTR;
}

static void install_handler(void)
{
	struct sigaction action;
	sigset_t go_set;

	memset(&action, 0, sizeof(action));
	action.sa_sigaction = on_go;
	action.sa_flags = SA_SIGINFO;
	sigemptyset(&action.sa_mask);
	sigaction(STATE_GO_SIGNAL, &action, NULL);
	sigemptyset(&go_set);
	sigaddset(&go_set, STATE_GO_SIGNAL);
	sigprocmask(SIG_UNBLOCK, &go_set, NULL);
}

/* pause(2) unless SIGUSR1 was already handled; returns the syscall's result. */
static long pause_unless_signalled(void)
{
	long result;

	__asm__ volatile("lea 1f(%%rip), %%rcx\n\t"
			 "mov %%rcx, %[start]\n\t"
			 "lea 2f(%%rip), %%rcx\n\t"
			 "mov %%rcx, %[end]\n\t"
			 "mov $-4, %%rax\n\t" /* -EINTR, the result when the syscall is skipped */
			 "1:\n\t"
			 "cmpl $0, %[flag]\n\t"
			 "jne 2f\n\t"
			 "mov %[pause_number], %%eax\n\t"
			 "syscall\n\t"
			 "2:\n\t"
			 : "=a"(result), [start] "=m"(region_start), [end] "=m"(region_end)
			 : [flag] "m"(state_go_signal_count), [pause_number] "i"(SYS_pause)
			 : "rcx", "r11", "memory", "cc");
	return result;
}

int main(void)
{
	long result;

	state_init();
	install_handler();
	state_ready();
	result = pause_unless_signalled();
	state_expect(result == -EINTR, "pause returned %ld, expected -EINTR", result);
	state_expect(handler_runs == 1, "SIGUSR1 handler ran %d times, expected once",
		     (int)handler_runs);
	state_finish();
}
