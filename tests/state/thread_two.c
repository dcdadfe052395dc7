/*
 * Two threads running in user space at the checkpoint, each with its own
 * register values: an assembly loop loads rbx, r8-r15 and ymm0-ymm15 with
 * values that differ between the threads, then spins (no syscall) until
 * main, woken by SIGUSR1, sets a flag.  Each thread also keeps its own
 * __thread word and buffer.  After restart each thread stores its registers,
 * which must hold its own values (not the other thread's), and finds its
 * tid, fs base, pthread_self() and TLS unchanged.
 */
#include "state.h"

#include <asm/prctl.h>
#include <dirent.h>
#include <pthread.h>
#include <sched.h>

enum {
	WORKER_COUNT = 2,
	GPR_COUNT = 9,
	YMM_COUNT = 16,
	YMM_BYTES = 32,
	TLS_BYTES = 512,
	ENTER_TIMEOUT_SECONDS = 10,
};

static const char *const gpr_names[GPR_COUNT] = {
	"rbx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

struct register_values {
	uint64_t gpr[GPR_COUNT];
	unsigned char ymm[YMM_COUNT][YMM_BYTES] __attribute__((aligned(32)));
};

struct worker {
	pthread_t thread;
	pid_t tid;
	unsigned long fs_base;
	volatile int entered_spin;
	struct register_values loaded;
	struct register_values observed;
	char failure[160];
};

static __thread uint64_t tls_word;
static __thread unsigned char tls_bytes[TLS_BYTES];
static struct worker workers[WORKER_COUNT];
static volatile int go_flag;

static uint64_t worker_seed(unsigned index)
{
	return 0x7100 + 0x100 * (uint64_t)index;
}

static unsigned long fs_base(void)
{
	unsigned long base = 0;

	syscall(SYS_arch_prctl, ARCH_GET_FS, &base);
	return base;
}

static void fill_register_values(struct register_values *values, uint64_t seed)
{
	for (unsigned index = 0; index < GPR_COUNT; index++)
		values->gpr[index] = state_mix64(seed + index);
	state_fill(values->ymm, sizeof(values->ymm), seed);
}

/* Loads the registers, marks itself as spinning, spins until go_flag, stores them. */
static void hold_registers_until_go(struct worker *self)
{
	__asm__ volatile(
		"vmovdqa 0(%[ymm_in]), %%ymm0\n\t"
		"vmovdqa 32(%[ymm_in]), %%ymm1\n\t"
		"vmovdqa 64(%[ymm_in]), %%ymm2\n\t"
		"vmovdqa 96(%[ymm_in]), %%ymm3\n\t"
		"vmovdqa 128(%[ymm_in]), %%ymm4\n\t"
		"vmovdqa 160(%[ymm_in]), %%ymm5\n\t"
		"vmovdqa 192(%[ymm_in]), %%ymm6\n\t"
		"vmovdqa 224(%[ymm_in]), %%ymm7\n\t"
		"vmovdqa 256(%[ymm_in]), %%ymm8\n\t"
		"vmovdqa 288(%[ymm_in]), %%ymm9\n\t"
		"vmovdqa 320(%[ymm_in]), %%ymm10\n\t"
		"vmovdqa 352(%[ymm_in]), %%ymm11\n\t"
		"vmovdqa 384(%[ymm_in]), %%ymm12\n\t"
		"vmovdqa 416(%[ymm_in]), %%ymm13\n\t"
		"vmovdqa 448(%[ymm_in]), %%ymm14\n\t"
		"vmovdqa 480(%[ymm_in]), %%ymm15\n\t"
		"mov 0(%[gpr_in]), %%rbx\n\t"
		"mov 8(%[gpr_in]), %%r8\n\t"
		"mov 16(%[gpr_in]), %%r9\n\t"
		"mov 24(%[gpr_in]), %%r10\n\t"
		"mov 32(%[gpr_in]), %%r11\n\t"
		"mov 40(%[gpr_in]), %%r12\n\t"
		"mov 48(%[gpr_in]), %%r13\n\t"
		"mov 56(%[gpr_in]), %%r14\n\t"
		"mov 64(%[gpr_in]), %%r15\n\t"
		"movl $1, %[entered]\n\t"
		"1:\n\t"
		"pause\n\t"
		"cmpl $0, %[flag]\n\t"
		"je 1b\n\t"
		"mov %%rbx, 0(%[gpr_out])\n\t"
		"mov %%r8, 8(%[gpr_out])\n\t"
		"mov %%r9, 16(%[gpr_out])\n\t"
		"mov %%r10, 24(%[gpr_out])\n\t"
		"mov %%r11, 32(%[gpr_out])\n\t"
		"mov %%r12, 40(%[gpr_out])\n\t"
		"mov %%r13, 48(%[gpr_out])\n\t"
		"mov %%r14, 56(%[gpr_out])\n\t"
		"mov %%r15, 64(%[gpr_out])\n\t"
		"vmovdqa %%ymm0, 0(%[ymm_out])\n\t"
		"vmovdqa %%ymm1, 32(%[ymm_out])\n\t"
		"vmovdqa %%ymm2, 64(%[ymm_out])\n\t"
		"vmovdqa %%ymm3, 96(%[ymm_out])\n\t"
		"vmovdqa %%ymm4, 128(%[ymm_out])\n\t"
		"vmovdqa %%ymm5, 160(%[ymm_out])\n\t"
		"vmovdqa %%ymm6, 192(%[ymm_out])\n\t"
		"vmovdqa %%ymm7, 224(%[ymm_out])\n\t"
		"vmovdqa %%ymm8, 256(%[ymm_out])\n\t"
		"vmovdqa %%ymm9, 288(%[ymm_out])\n\t"
		"vmovdqa %%ymm10, 320(%[ymm_out])\n\t"
		"vmovdqa %%ymm11, 352(%[ymm_out])\n\t"
		"vmovdqa %%ymm12, 384(%[ymm_out])\n\t"
		"vmovdqa %%ymm13, 416(%[ymm_out])\n\t"
		"vmovdqa %%ymm14, 448(%[ymm_out])\n\t"
		"vmovdqa %%ymm15, 480(%[ymm_out])\n\t"
		"vzeroupper\n\t"
		: [entered] "=m"(self->entered_spin)
		: [gpr_in] "r"(self->loaded.gpr), [ymm_in] "r"(self->loaded.ymm),
		  [gpr_out] "r"(self->observed.gpr), [ymm_out] "r"(self->observed.ymm), [flag] "m"(go_flag)
		: "rbx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "xmm0", "xmm1",
		  "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
		  "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc");
}

static void check_thread_identity(struct worker *self, unsigned index, pthread_t self_before)
{
	pid_t tid_now = (pid_t)syscall(SYS_gettid);

	if (tid_now != self->tid)
		snprintf(self->failure, sizeof(self->failure), "thread %u tid is %d, was %d", index,
			 (int)tid_now, (int)self->tid);
	else if (fs_base() != self->fs_base)
		snprintf(self->failure, sizeof(self->failure),
			 "thread %u fs base is %#lx, was %#lx", index, fs_base(), self->fs_base);
	else if (!pthread_equal(pthread_self(), self_before))
		snprintf(self->failure, sizeof(self->failure), "thread %u pthread_self() changed",
			 index);
	else if (tls_word != state_mix64(worker_seed(index) + 99))
		snprintf(self->failure, sizeof(self->failure), "thread %u __thread word is %#llx",
			 index, (unsigned long long)tls_word);
	else if (state_find_mismatch(tls_bytes, TLS_BYTES, worker_seed(index)) >= 0)
		snprintf(self->failure, sizeof(self->failure), "thread %u __thread buffer differs",
			 index);
}

static void *run_worker(void *argument)
{
	unsigned index = (unsigned)(uintptr_t)argument;
	struct worker *self = &workers[index];
	pthread_t self_before = pthread_self();

	self->tid = (pid_t)syscall(SYS_gettid);
	self->fs_base = fs_base();
	tls_word = state_mix64(worker_seed(index) + 99);
	state_fill(tls_bytes, TLS_BYTES, worker_seed(index));
	hold_registers_until_go(self);
	check_thread_identity(self, index, self_before);
	return NULL;
}

static bool all_workers_spinning(void)
{
	for (unsigned index = 0; index < WORKER_COUNT; index++) {
		if (__atomic_load_n(&workers[index].entered_spin, __ATOMIC_ACQUIRE) == 0)
			return false;
	}
	return true;
}

static void start_workers(void)
{
	int64_t give_up_ns = state_now_ns(CLOCK_MONOTONIC) + ENTER_TIMEOUT_SECONDS * 1000000000LL;

	for (unsigned index = 0; index < WORKER_COUNT; index++) {
		fill_register_values(&workers[index].loaded, worker_seed(index));
		if (pthread_create(&workers[index].thread, NULL, run_worker,
				   (void *)(uintptr_t)index) != 0)
			state_setup_fail("pthread_create");
	}
	while (!all_workers_spinning()) {
		if (state_now_ns(CLOCK_MONOTONIC) > give_up_ns)
			state_setup_fail("the workers did not reach their spin loops");
		sched_yield();
	}
}

static int count_threads(void)
{
	DIR *tasks = opendir("/proc/self/task");
	int count = 0;

	if (tasks == NULL)
		return -1;
	for (struct dirent *entry = readdir(tasks); entry != NULL; entry = readdir(tasks))
		count += entry->d_name[0] != '.';
	closedir(tasks);
	return count;
}

static void check_registers(const struct worker *worker, unsigned index)
{
	char what[48];

	for (unsigned gpr = 0; gpr < GPR_COUNT; gpr++)
		state_expect(worker->observed.gpr[gpr] == worker->loaded.gpr[gpr],
			     "thread %u %s is %#llx, was %#llx", index, gpr_names[gpr],
			     (unsigned long long)worker->observed.gpr[gpr],
			     (unsigned long long)worker->loaded.gpr[gpr]);
	for (unsigned ymm = 0; ymm < YMM_COUNT; ymm++) {
		snprintf(what, sizeof(what), "thread %u ymm%u", index, ymm);
		state_expect_equal_bytes(worker->observed.ymm[ymm], worker->loaded.ymm[ymm],
					 YMM_BYTES, what);
	}
}

int main(void)
{
	int thread_count_before;

	state_init();
	if (!__builtin_cpu_supports("avx2"))
		state_skip("this CPU has no AVX2");
	start_workers();
	thread_count_before = count_threads();
	state_ready();
	state_wait_go_signal();
	state_expect_equal_long(count_threads(), thread_count_before, "thread count");
	go_flag = 1;
	for (unsigned index = 0; index < WORKER_COUNT; index++) {
		pthread_join(workers[index].thread, NULL);
		state_expect(workers[index].failure[0] == '\0', "%s", workers[index].failure);
		check_registers(&workers[index], index);
	}
	state_expect(workers[0].tid != workers[1].tid, "both threads have tid %d",
		     (int)workers[0].tid);
	state_finish();
}
