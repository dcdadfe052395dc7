/*
 * SSE/AVX state: an assembly loop loads ymm0-ymm15 with known 256-bit
 * values (upper halves differ from lower halves), says "ready" with a raw
 * write syscall, spins in user space until the SIGUSR1 handler sets the
 * flag, then stores the sixteen registers.  All 512 bytes must be intact.
 */
#include "state.h"

enum {
	YMM_COUNT = 16,
	YMM_BYTES = 32
};

static unsigned char loaded[YMM_COUNT][YMM_BYTES] __attribute__((aligned(32)));
static unsigned char observed[YMM_COUNT][YMM_BYTES] __attribute__((aligned(32)));
static int64_t ready_write_result;
static const char ready_text[] = "ready\n";

static void unblock_go_signal(void)
{
	sigset_t go_set;

	sigemptyset(&go_set);
	sigaddset(&go_set, STATE_GO_SIGNAL);
	sigprocmask(SIG_UNBLOCK, &go_set, NULL);
}

static void hold_ymm_until_go(void)
{
	__asm__ volatile(
		"vmovdqa 0(%[in]), %%ymm0\n\t"
		"vmovdqa 32(%[in]), %%ymm1\n\t"
		"vmovdqa 64(%[in]), %%ymm2\n\t"
		"vmovdqa 96(%[in]), %%ymm3\n\t"
		"vmovdqa 128(%[in]), %%ymm4\n\t"
		"vmovdqa 160(%[in]), %%ymm5\n\t"
		"vmovdqa 192(%[in]), %%ymm6\n\t"
		"vmovdqa 224(%[in]), %%ymm7\n\t"
		"vmovdqa 256(%[in]), %%ymm8\n\t"
		"vmovdqa 288(%[in]), %%ymm9\n\t"
		"vmovdqa 320(%[in]), %%ymm10\n\t"
		"vmovdqa 352(%[in]), %%ymm11\n\t"
		"vmovdqa 384(%[in]), %%ymm12\n\t"
		"vmovdqa 416(%[in]), %%ymm13\n\t"
		"vmovdqa 448(%[in]), %%ymm14\n\t"
		"vmovdqa 480(%[in]), %%ymm15\n\t"
		"mov $1, %%eax\n\t"
		"mov $1, %%edi\n\t"
		"lea %[text], %%rsi\n\t"
		"mov $6, %%edx\n\t"
		"syscall\n\t"
		"mov %%rax, %[write_result]\n\t"
		"1:\n\t"
		"pause\n\t"
		"cmpl $0, %[flag]\n\t"
		"je 1b\n\t"
		"vmovdqa %%ymm0, 0(%[out])\n\t"
		"vmovdqa %%ymm1, 32(%[out])\n\t"
		"vmovdqa %%ymm2, 64(%[out])\n\t"
		"vmovdqa %%ymm3, 96(%[out])\n\t"
		"vmovdqa %%ymm4, 128(%[out])\n\t"
		"vmovdqa %%ymm5, 160(%[out])\n\t"
		"vmovdqa %%ymm6, 192(%[out])\n\t"
		"vmovdqa %%ymm7, 224(%[out])\n\t"
		"vmovdqa %%ymm8, 256(%[out])\n\t"
		"vmovdqa %%ymm9, 288(%[out])\n\t"
		"vmovdqa %%ymm10, 320(%[out])\n\t"
		"vmovdqa %%ymm11, 352(%[out])\n\t"
		"vmovdqa %%ymm12, 384(%[out])\n\t"
		"vmovdqa %%ymm13, 416(%[out])\n\t"
		"vmovdqa %%ymm14, 448(%[out])\n\t"
		"vmovdqa %%ymm15, 480(%[out])\n\t"
		"vzeroupper\n\t"
		: [write_result] "=m"(ready_write_result)
		: [in] "r"(loaded), [out] "r"(observed), [flag] "m"(state_go_signal_count), [text] "m"(ready_text)
		: "rax", "rcx", "rdx", "rsi", "rdi", "r11", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
		  "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
		  "xmm14", "xmm15", "memory", "cc");
}

int main(void)
{
	char what[32];

	state_init();
	if (!__builtin_cpu_supports("avx2"))
		state_skip("this CPU has no AVX2");
	state_fill(loaded, sizeof(loaded), 0xa7a7);
	unblock_go_signal();
	hold_ymm_until_go();
	state_expect(ready_write_result == 6, "write of \"ready\" returned %lld",
		     (long long)ready_write_result);
	for (unsigned index = 0; index < YMM_COUNT; index++) {
		snprintf(what, sizeof(what), "ymm%u", index);
		state_expect_equal_bytes(observed[index], loaded[index], YMM_BYTES, what);
	}
	state_finish();
}
