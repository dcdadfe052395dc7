/*
 * x87 and MXCSR: the program sets a non-default rounding mode (and
 * flush-to-zero, denormals-are-zero) in MXCSR and a non-default rounding
 * and precision control in the x87 control word, raises the inexact flag,
 * and keeps eight extended-precision values on the x87 register stack
 * inside an assembly loop that spins until SIGUSR1 sets the flag.  After
 * restart the control word, status word, MXCSR, the eight x87 values and
 * the results of rounding-sensitive arithmetic are all the same.
 */
#include "state.h"

enum {
	X87_COUNT = 8,
	MXCSR_ROUND_DOWN = 1 << 13,
	MXCSR_FLUSH_TO_ZERO = 1 << 15,
	MXCSR_DENORMALS_ARE_ZERO = 1 << 6,
	MXCSR_ALL_MASKS = 0x1f80,
	X87_ROUND_UP = 2 << 10,
	X87_PRECISION_DOUBLE = 2 << 8,
	X87_ALL_MASKS = 0x3f,
};

static long double loaded[X87_COUNT];
static long double observed[X87_COUNT];
static int64_t ready_write_result;
static const char ready_text[] = "ready\n";

struct float_environment {
	uint16_t x87_control;
	uint16_t x87_status;
	uint32_t mxcsr;
	double sse_quotient;
	long double x87_quotient;
};

static void read_environment(struct float_environment *environment)
{
	volatile double numerator = 2.0;
	volatile double denominator = 3.0;
	volatile long double long_numerator = 1.0L;
	volatile long double long_denominator = 3.0L;

	environment->sse_quotient = numerator / denominator;
	environment->x87_quotient = long_numerator / long_denominator;
	__asm__ volatile("fnstcw %0" : "=m"(environment->x87_control));
	__asm__ volatile("fnstsw %0" : "=m"(environment->x87_status));
	__asm__ volatile("stmxcsr %0" : "=m"(environment->mxcsr));
}

static void set_environment(void)
{
	uint32_t mxcsr = MXCSR_ALL_MASKS | MXCSR_ROUND_DOWN | MXCSR_FLUSH_TO_ZERO |
			 MXCSR_DENORMALS_ARE_ZERO;
	uint16_t x87_control = X87_ALL_MASKS | X87_ROUND_UP | X87_PRECISION_DOUBLE;

	__asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
	__asm__ volatile("fldcw %0" : : "m"(x87_control));
}

static void unblock_go_signal(void)
{
	sigset_t go_set;

	sigemptyset(&go_set);
	sigaddset(&go_set, STATE_GO_SIGNAL);
	sigprocmask(SIG_UNBLOCK, &go_set, NULL);
}

static void hold_x87_stack_until_go(void)
{
	__asm__ volatile(
		"fldt 0(%[in])\n\t"
		"fldt 16(%[in])\n\t"
		"fldt 32(%[in])\n\t"
		"fldt 48(%[in])\n\t"
		"fldt 64(%[in])\n\t"
		"fldt 80(%[in])\n\t"
		"fldt 96(%[in])\n\t"
		"fldt 112(%[in])\n\t"
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
		"fstpt 0(%[out])\n\t"
		"fstpt 16(%[out])\n\t"
		"fstpt 32(%[out])\n\t"
		"fstpt 48(%[out])\n\t"
		"fstpt 64(%[out])\n\t"
		"fstpt 80(%[out])\n\t"
		"fstpt 96(%[out])\n\t"
		"fstpt 112(%[out])\n\t"
		: [write_result] "=m"(ready_write_result)
		: [in] "r"(loaded), [out] "r"(observed), [flag] "m"(state_go_signal_count), [text] "m"(ready_text)
		: "rax", "rcx", "rdx", "rsi", "rdi", "r11", "st", "st(1)", "st(2)", "st(3)",
		  "st(4)", "st(5)", "st(6)", "st(7)", "memory", "cc");
}

static void fill_x87_values(void)
{
	for (unsigned index = 0; index < X87_COUNT; index++)
		loaded[index] = (long double)(index + 1) / 7.0L + (long double)index * 1e300L;
	loaded[3] = -0.0L;
	loaded[5] = 1e-4940L; /* a denormal long double */
}

static void check_environment(const struct float_environment *now,
			      const struct float_environment *then)
{
	state_expect(now->mxcsr == then->mxcsr, "MXCSR is %#x, was %#x", now->mxcsr, then->mxcsr);
	state_expect(now->x87_control == then->x87_control, "x87 control word is %#x, was %#x",
		     now->x87_control, then->x87_control);
	state_expect(now->x87_status == then->x87_status, "x87 status word is %#x, was %#x",
		     now->x87_status, then->x87_status);
	state_expect_equal_bytes(&now->sse_quotient, &then->sse_quotient, sizeof(double),
				 "2/3 rounded by SSE");
	state_expect_equal_bytes(&now->x87_quotient, &then->x87_quotient, 10, "1/3 rounded by x87");
}

int main(void)
{
	struct float_environment before;
	struct float_environment after;
	char what[32];

	state_init();
	fill_x87_values();
	set_environment();
	read_environment(&before);
	unblock_go_signal();
	hold_x87_stack_until_go();
	read_environment(&after);
	state_expect(ready_write_result == 6, "write of \"ready\" returned %lld",
		     (long long)ready_write_result);
	check_environment(&after, &before);
	for (unsigned index = 0; index < X87_COUNT; index++) {
		snprintf(what, sizeof(what), "x87 st(%u)", X87_COUNT - 1 - index);
		state_expect_equal_bytes(&observed[X87_COUNT - 1 - index], &loaded[index], 10, what);
	}
	state_finish();
}
