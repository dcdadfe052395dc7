/*
 * Restartable sequences: glibc registers an rseq area for each thread
 * (__rseq_offset from the thread pointer, __rseq_size).  After restart the
 * area must still be registered with the kernel: registering it again
 * fails with EBUSY (the kernel's answer for "this exact area is already
 * registered"), the kernel refreshes its cpu_id field after we spoil it,
 * the value agrees with getcpu(2), and sched_getcpu() works.
 */
#include "state.h"

#include <sched.h>
#include <sys/rseq.h>

enum {
	RSEQ_SIGNATURE_X86 = 0x53053053
};

static struct rseq *rseq_area(void)
{
	return (struct rseq *)(uintptr_t)((char *)__builtin_thread_pointer() + __rseq_offset);
}

static int register_again_error(void)
{
	long result = syscall(SYS_rseq, rseq_area(), 32, 0, RSEQ_SIGNATURE_X86);

	return result == 0 ? 0 : errno;
}

static void on_refresh_signal(int signal_number)
{
	(void)signal_number;
}

/* Spoils cpu_id, then takes a signal: the kernel rewrites it on the way back. */
static int32_t refreshed_cpu_id(void)
{
	volatile struct rseq *area = rseq_area();

	area->cpu_id = (uint32_t)RSEQ_CPU_ID_UNINITIALIZED;
	raise(SIGUSR2);
	return (int32_t)area->cpu_id;
}

static long kernel_cpu(void)
{
	unsigned cpu = 0;

	if (syscall(SYS_getcpu, &cpu, NULL, NULL) != 0)
		return -1;
	return cpu;
}

static void check_rseq(const char *when, bool setup)
{
	int busy_error = register_again_error();
	int32_t cpu_id = refreshed_cpu_id();
	long online = sysconf(_SC_NPROCESSORS_CONF);

	if (setup && (busy_error != EBUSY || cpu_id < 0))
		state_setup_fail("rseq before checkpoint: register again gives %s, cpu_id %d",
				 strerror(busy_error), cpu_id);
	state_expect(busy_error == EBUSY, "%s: registering the rseq area again gives %s, not EBUSY",
		     when, strerror(busy_error));
	state_expect(cpu_id >= 0 && cpu_id < online, "%s: rseq cpu_id is %d after a signal", when,
		     cpu_id);
	state_expect(sched_getcpu() >= 0, "%s: sched_getcpu() fails", when);
	state_expect(kernel_cpu() >= 0 && kernel_cpu() < online, "%s: getcpu() gives %ld", when,
		     kernel_cpu());
}

static void check_cpu_agrees(void)
{
	/* A migration between the two reads is possible: allow a few tries. */
	for (int attempt = 0; attempt < 100; attempt++) {
		int32_t cpu_id = refreshed_cpu_id();

		if (cpu_id == kernel_cpu())
			return;
	}
	state_expect(false, "rseq cpu_id never agrees with getcpu()");
}

int main(void)
{
	state_init();
	if (__rseq_size == 0)
		state_skip("glibc did not register rseq (glibc.pthread.rseq=0?)");
	signal(SIGUSR2, on_refresh_signal);
	check_rseq("before checkpoint", true);
	state_ready();
	state_wait_go_signal();
	check_rseq("after restart", false);
	check_cpu_agrees();
	state_finish();
}
