/*
 * General registers: an assembly loop loads known values into rax, rbx,
 * rcx, rdx, rsi, rdi and r8-r15, says "ready" with a raw write syscall from
 * inside the loop, and spins (in user space, never in a syscall) until the
 * SIGUSR1 handler sets the flag.  Then it stores the registers, which must
 * still hold their values: the checkpoint froze a running thread and the
 * restart resumed it with every register intact.
 */
#include "state.h"

enum {
	REGISTER_COUNT = 14
};

static const char *const register_names[REGISTER_COUNT] = {
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8",
	"r9",  "r10", "r11", "r12", "r13", "r14", "r15",
};

static const uint64_t expected[REGISTER_COUNT] = {
	0x0123456789abcdefULL, 0x1111111111111111ULL, 0xfedcba9876543210ULL, 0x2222222222222222ULL,
	0xdeadbeefcafebabeULL, 0x3333333333333333ULL, 0x8888888888888888ULL, 0x9999999999999999ULL,
	0xa0a0a0a0a0a0a0a0ULL, 0xb1b1b1b1b1b1b1b1ULL, 0xc2c2c2c2c2c2c2c2ULL, 0xd3d3d3d3d3d3d3d3ULL,
	0xe4e4e4e4e4e4e4e4ULL, 0xf5f5f5f5f5f5f5f5ULL,
};

static uint64_t observed[REGISTER_COUNT];
static int64_t ready_write_result;
static const char ready_text[] = "ready\n";

static void unblock_go_signal(void)
{
	sigset_t go_set;

	sigemptyset(&go_set);
	sigaddset(&go_set, STATE_GO_SIGNAL);
	sigprocmask(SIG_UNBLOCK, &go_set, NULL);
}

/* Loads the registers, writes "ready", spins until the flag, stores the registers. */
static void hold_registers_until_go(void)
{
	__asm__ volatile(
		"movabs $0x1111111111111111, %%rbx\n\t"
		"movabs $0x8888888888888888, %%r8\n\t"
		"movabs $0x9999999999999999, %%r9\n\t"
		"movabs $0xa0a0a0a0a0a0a0a0, %%r10\n\t"
		"movabs $0xc2c2c2c2c2c2c2c2, %%r12\n\t"
		"movabs $0xd3d3d3d3d3d3d3d3, %%r13\n\t"
		"movabs $0xe4e4e4e4e4e4e4e4, %%r14\n\t"
		"movabs $0xf5f5f5f5f5f5f5f5, %%r15\n\t"
		"mov $1, %%eax\n\t" /* SYS_write */
		"mov $1, %%edi\n\t" /* fd 1 */
		"lea %[text], %%rsi\n\t"
		"mov $6, %%edx\n\t"
		"syscall\n\t"
		"mov %%rax, %[write_result]\n\t"
		"movabs $0x0123456789abcdef, %%rax\n\t"
		"movabs $0xfedcba9876543210, %%rcx\n\t"
		"movabs $0x2222222222222222, %%rdx\n\t"
		"movabs $0xdeadbeefcafebabe, %%rsi\n\t"
		"movabs $0x3333333333333333, %%rdi\n\t"
		"movabs $0xb1b1b1b1b1b1b1b1, %%r11\n\t"
		"1:\n\t"
		"pause\n\t"
		"cmpl $0, %[flag]\n\t"
		"je 1b\n\t"
		"mov %%rax, %[out0]\n\t"
		"mov %%rbx, %[out1]\n\t"
		"mov %%rcx, %[out2]\n\t"
		"mov %%rdx, %[out3]\n\t"
		"mov %%rsi, %[out4]\n\t"
		"mov %%rdi, %[out5]\n\t"
		"mov %%r8, %[out6]\n\t"
		"mov %%r9, %[out7]\n\t"
		"mov %%r10, %[out8]\n\t"
		"mov %%r11, %[out9]\n\t"
		"mov %%r12, %[out10]\n\t"
		"mov %%r13, %[out11]\n\t"
		"mov %%r14, %[out12]\n\t"
		"mov %%r15, %[out13]\n\t"
		: [out0] "=m"(observed[0]), [out1] "=m"(observed[1]), [out2] "=m"(observed[2]),
		  [out3] "=m"(observed[3]), [out4] "=m"(observed[4]), [out5] "=m"(observed[5]),
		  [out6] "=m"(observed[6]), [out7] "=m"(observed[7]), [out8] "=m"(observed[8]),
		  [out9] "=m"(observed[9]), [out10] "=m"(observed[10]), [out11] "=m"(observed[11]),
		  [out12] "=m"(observed[12]), [out13] "=m"(observed[13]), [write_result] "=m"(ready_write_result)
		: [flag] "m"(state_go_signal_count), [text] "m"(ready_text)
		: "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
		  "r14", "r15", "memory", "cc");
}

int main(void)
{
	state_init();
	unblock_go_signal();
	hold_registers_until_go();
	state_expect(ready_write_result == 6, "write of \"ready\" returned %lld",
		     (long long)ready_write_result);
	for (unsigned index = 0; index < REGISTER_COUNT; index++)
		state_expect(observed[index] == expected[index], "%s is %#llx, was %#llx",
			     register_names[index], (unsigned long long)observed[index],
			     (unsigned long long)expected[index]);
	state_finish();
}
