/*
 * The alternate signal stack: sigaltstack() with a stack of our own.
 * After restart sigaltstack(NULL, &old) reports the same ss_sp, ss_size
 * and flags, and a handler installed with SA_ONSTACK runs on that stack.
 */
#include "state.h"

#include <sys/mman.h>

enum {
	ALT_STACK_BYTES = 64 * 1024
};

static unsigned char *alt_stack;
static volatile uintptr_t handler_stack_address;

static void on_stack_signal(int signal_number)
{
	volatile int local = signal_number;

	handler_stack_address = (uintptr_t)&local;
}

static void install_alt_stack(void)
{
	stack_t alt = { .ss_flags = 0, .ss_size = ALT_STACK_BYTES };
	struct sigaction action;

	alt_stack = mmap(NULL, ALT_STACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	if (alt_stack == MAP_FAILED)
		state_setup_fail("mmap: %s", strerror(errno));
	alt.ss_sp = alt_stack;
	if (sigaltstack(&alt, NULL) != 0)
		state_setup_fail("sigaltstack: %s", strerror(errno));
	memset(&action, 0, sizeof(action));
	action.sa_handler = on_stack_signal;
	action.sa_flags = SA_ONSTACK;
	sigemptyset(&action.sa_mask);
	sigaction(SIGUSR2, &action, NULL);
}

static bool handler_ran_on_alt_stack(void)
{
	handler_stack_address = 0;
	raise(SIGUSR2);
	return handler_stack_address >= (uintptr_t)alt_stack &&
	       handler_stack_address < (uintptr_t)alt_stack + ALT_STACK_BYTES;
}

int main(void)
{
	stack_t before;
	stack_t after;

	state_init();
	install_alt_stack();
	if (!handler_ran_on_alt_stack())
		state_setup_fail("SA_ONSTACK handler did not run on the alternate stack");
	sigaltstack(NULL, &before);
	state_ready();
	state_wait_go_signal();
	sigaltstack(NULL, &after);
	state_expect(after.ss_sp == before.ss_sp, "ss_sp is %p, was %p", after.ss_sp, before.ss_sp);
	state_expect(after.ss_size == before.ss_size, "ss_size is %zu, was %zu", after.ss_size,
		     before.ss_size);
	state_expect(after.ss_flags == before.ss_flags, "ss_flags is %#x, was %#x",
		     (unsigned)after.ss_flags, (unsigned)before.ss_flags);
	state_expect(handler_ran_on_alt_stack(),
		     "SA_ONSTACK handler ran at %#lx, outside the alternate stack",
		     (unsigned long)handler_stack_address);
	state_finish();
}
