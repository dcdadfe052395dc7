/* SPDX-License-Identifier: MIT */
#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sys/kernel.h"
#include "sys/tracing.h"
#include "util.h"

__asm__(".pushsection .text\n"
	".globl ckpt_syscall_gadget\n"
	".type ckpt_syscall_gadget, @function\n"
	"ckpt_syscall_gadget:\n"
	"\tsyscall\n"
	"\tint3\n"
	".size ckpt_syscall_gadget, . - ckpt_syscall_gadget\n"
	".popsection\n");

static int exited_message(pid_t tid, int status, struct ckpt_error *err)
{
	if (WIFEXITED(status))
		return fail(err, ESRCH, "process %d exited (status %d) while being checkpointed",
			    tid, WEXITSTATUS(status));
	return fail(err, ESRCH, "process %d was killed by signal %d while stopped", tid,
		    WTERMSIG(status));
}

/* The thread group of task `tid` from /proc (zombie tasks keep theirs); 0 if gone. */
static pid_t thread_group_of(pid_t tid)
{
	char path[64], text[1024];
	const char *line;
	ssize_t length;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	length = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (length <= 0)
		return 0;
	text[length] = '\0';
	line = strstr(text, "\nTgid:");
	return line ? (pid_t)strtol(line + 6, NULL, 10) : 0;
}

/*
 * Blocks until some tracee or child has news, without collecting it.  When
 * the news is the exit of another traced thread of tid's process, that
 * exit is collected here: a killed leader's own exit is reported only after
 * all its traced threads' are, so whoever waits for the leader must reap
 * them.  Someone else's stop is left for its own waiter (after a short
 * pause, as it stays pending).
 */
static int wait_for_news(pid_t tid)
{
	siginfo_t info = { 0 };
	const struct timespec pause = { 0, 1000000 };

	if (waitid(P_ALL, 0, &info, WEXITED | WSTOPPED | __WALL | WNOWAIT) < 0)
		return errno == EINTR ? 0 : -errno;
	if (info.si_pid == tid)
		return 0;
	if (info.si_code != CLD_TRAPPED && info.si_code != CLD_STOPPED &&
	    thread_group_of(info.si_pid) == thread_group_of(tid)) {
		waitpid(info.si_pid, NULL, __WALL | WNOHANG);
		return 0;
	}
	nanosleep(&pause, NULL);
	return 0;
}

/* Only a leader's exit waits for the other threads' (ESRCH: not a leader). */
static bool may_be_leader(pid_t tid)
{
	return syscall(SYS_tgkill, tid, tid, 0) == 0 || errno != ESRCH;
}

/*
 * A thread's next stop or exit.  For a leader the wait goes through
 * wait_for_news(), which scans every tracee; other threads wait on
 * themselves alone, so freezing N threads stays linear in N.
 */
int ptrace_wait_stop(pid_t tid, int *ret_status, struct ckpt_error *err)
{
	int options = may_be_leader(tid) ? __WALL | WNOHANG : __WALL;
	int status = 0;
	pid_t got;

	for (;;) {
		got = waitpid(tid, &status, options);
		if (got != 0 && !(got < 0 && errno == EINTR))
			break;
		if (got == 0 && (got = wait_for_news(tid)) < 0) {
			errno = -got;
			break;
		}
	}
	if (got < 0)
		return fail(err, errno, "waiting for task %d: %s", tid, strerror(errno));
	if (!WIFSTOPPED(status))
		return exited_message(tid, status, err);
	*ret_status = status;
	return 0;
}

static bool is_event_stop(int status)
{
	return (status >> 16) == PTRACE_EVENT_STOP;
}

static int seize_error(pid_t tid, int error, struct ckpt_error *err)
{
	if (error == EPERM)
		return fail(err, EPERM,
			    "cannot trace process %d: it is already traced (by a debugger or another ckpt) or not yours",
			    tid);
	if (error == ESRCH)
		return fail(err, ESRCH, "no process %d", tid);
	return fail(err, error, "cannot trace process %d: %s", tid, strerror(error));
}

int ptrace_seize_and_stop(pid_t tid, long extra_options, struct ckpt_error *err)
{
	long options = PTRACE_O_TRACESYSGOOD | extra_options;
	int status;
	int ret;

	if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)options) < 0)
		return seize_error(tid, errno, err);
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) < 0)
		return fail(err, errno, "cannot stop task %d: %s", tid, strerror(errno));
	ret = ptrace_wait_stop(tid, &status, err);
	if (ret < 0)
		return ret;
	if (is_event_stop(status) || WSTOPSIG(status) == SIGTRAP)
		return 0;
	return WSTOPSIG(status);
}

/*
 * At a signal-delivery stop for `signal`: lets the kernel deliver it (set
 * up the handler's frame, or take its default action) and stop the task
 * again right after, before it runs any code of its own.  Returns 0 once
 * the task is in that interrupt stop, or the next signal it stopped for.
 */
static int deliver_and_stop(pid_t tid, int signal, struct ckpt_error *err)
{
	int status;
	int ret;

	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) < 0 ||
	    ptrace(PTRACE_CONT, tid, NULL, (void *)(long)signal) < 0)
		return fail(err, errno, "handing signal %d to task %d: %s", signal, tid,
			    strerror(errno));
	ret = ptrace_wait_stop(tid, &status, err);
	if (ret < 0)
		return ret;
	return is_event_stop(status) ? 0 : WSTOPSIG(status);
}

/* Delivers `signal` and each one the task stops for next; 0 once it is stopped. */
static int deliver_all(pid_t tid, int signal, struct ckpt_error *err)
{
	while (signal > 0)
		signal = deliver_and_stop(tid, signal, err);
	return signal;
}

int ptrace_seize_and_freeze(pid_t tid, struct ckpt_error *err)
{
	int status;
	int ret;

	if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)(long)PTRACE_O_TRACESYSGOOD) < 0)
		return seize_error(tid, errno, err);
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) < 0)
		return fail(err, errno, "cannot stop task %d: %s", tid, strerror(errno));
	ret = ptrace_wait_stop(tid, &status, err);
	if (ret < 0)
		return ret;
	return deliver_all(tid, is_event_stop(status) ? 0 : WSTOPSIG(status), err);
}

int ptrace_get_regs(pid_t tid, struct user_regs_struct *ret_regs, struct ckpt_error *err)
{
	if (ptrace(PTRACE_GETREGS, tid, NULL, ret_regs) < 0)
		return fail(err, errno, "reading registers of task %d: %s", tid, strerror(errno));
	return 0;
}

int ptrace_set_regs(pid_t tid, const struct user_regs_struct *regs, struct ckpt_error *err)
{
	if (ptrace(PTRACE_SETREGS, tid, NULL, regs) < 0)
		return fail(err, errno, "setting registers of task %d: %s", tid, strerror(errno));
	return 0;
}

int ptrace_get_xstate(pid_t tid, void *buffer, size_t size, struct ckpt_error *err)
{
	struct iovec vector = { buffer, size };

	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_X86_XSTATE, &vector) < 0)
		return fail(err, errno, "reading the xstate of task %d: %s", tid, strerror(errno));
	if (vector.iov_len != size)
		return fail(err, EINVAL, "task %d: xstate is %zu bytes, expected %zu", tid,
			    vector.iov_len, size);
	return 0;
}

/* Where XSAVE's legacy area keeps the kernel's note of the layout (fxsave sw_reserved). */
enum {
	XSTATE_PROBE_SIZE = 64 << 10,
	SW_BYTES_OFFSET = 464,
	SW_MAGIC1 = 0x46505853, /* "XSFP" */
};

struct xstate_sw_bytes {
	uint32_t magic1;
	uint32_t extended_size;
	uint64_t xfeatures;
	uint32_t xstate_size;
	uint32_t padding[7];
};

int ptrace_probe_xstate(pid_t tid, size_t *ret_size, uint64_t *ret_features, struct ckpt_error *err)
{
	_cleanup_free_ uint8_t *buffer = calloc(1, XSTATE_PROBE_SIZE);
	struct iovec vector = { buffer, XSTATE_PROBE_SIZE };
	struct xstate_sw_bytes sw;

	if (!buffer)
		return fail(err, ENOMEM, "out of memory");
	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_X86_XSTATE, &vector) < 0)
		return fail(err, errno, "reading the xstate of task %d: %s", tid, strerror(errno));
	memcpy(&sw, buffer + SW_BYTES_OFFSET, sizeof(sw));
	*ret_size = vector.iov_len;
	*ret_features = sw.magic1 == SW_MAGIC1 ? sw.xfeatures : cpu_xfeatures();
	return 0;
}

int ptrace_set_xstate(pid_t tid, const void *buffer, size_t size, struct ckpt_error *err)
{
	struct iovec vector = { (void *)(uintptr_t)buffer, size };

	if (ptrace(PTRACE_SETREGSET, tid, (void *)NT_X86_XSTATE, &vector) < 0)
		return fail(err, errno, "loading the xstate of task %d: %s", tid, strerror(errno));
	return 0;
}

int ptrace_get_sigmask(pid_t tid, uint64_t *ret_mask, struct ckpt_error *err)
{
	if (ptrace(PTRACE_GETSIGMASK, tid, (void *)sizeof(*ret_mask), ret_mask) < 0)
		return fail(err, errno, "reading the signal mask of task %d: %s", tid,
			    strerror(errno));
	return 0;
}

int ptrace_set_sigmask(pid_t tid, uint64_t mask, struct ckpt_error *err)
{
	if (ptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof(mask), &mask) < 0)
		return fail(err, errno, "setting the signal mask of task %d: %s", tid,
			    strerror(errno));
	return 0;
}

int ptrace_detach(pid_t tid, int signal)
{
	if (ptrace(PTRACE_DETACH, tid, NULL, (void *)(long)signal) < 0)
		return -errno;
	return 0;
}

size_t cpu_xstate_size(void)
{
	unsigned int eax, ebx, ecx, edx;

	if (!__get_cpuid_count(0xd, 0, &eax, &ebx, &ecx, &edx))
		return 512 + 64;
	return ebx;
}

uint64_t cpu_xfeatures(void)
{
	uint32_t low, high;

	__asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
	return ((uint64_t)high << 32) | low;
}

int injector_init(struct injector *injector, pid_t tid, uint64_t gadget, struct ckpt_error *err)
{
	memset(injector, 0, sizeof(*injector));
	injector->tid = tid;
	injector->gadget = gadget;
	injector->err = err;
	return ptrace_get_regs(tid, &injector->base_regs, err);
}

static uint64_t now_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

/* Injected state is about to be put in place (registers or mask). */
static void note_injected(struct injector *injector)
{
	if (!injector->injected_since)
		injector->injected_since = now_ns();
}

/* The tracee holds its own state again. */
static void note_home(struct injector *injector)
{
	if (injector->injected_since)
		injector->injected_ns += now_ns() - injector->injected_since;
	injector->injected_since = 0;
}

static int load_home(struct injector *injector)
{
	int ret = ptrace_set_regs(injector->tid, &injector->home_regs, injector->err);

	if (ret == 0)
		ret = ptrace_set_sigmask(injector->tid, injector->home_sigmask, injector->err);
	if (ret == 0)
		note_home(injector);
	return ret;
}

int injector_set_home(struct injector *injector, const struct user_regs_struct *regs, uint64_t sigmask)
{
	injector->home_regs = *regs;
	injector->home_regs.orig_rax = (uint64_t)-1; /* no restart logic on the way out */
	injector->home_sigmask = sigmask;
	injector->has_home = true;
	return load_home(injector);
}

/* Blocks every signal that can be blocked while injected code runs. */
static int block_signals(struct injector *injector)
{
	note_injected(injector);
	if (!injector->has_home)
		return 0;
	return ptrace_set_sigmask(injector->tid, ~0ull, injector->err);
}

static void set_aside(struct injector *injector, int signal)
{
	injector->deferred_signals |= 1ull << (signal - 1);
}

/* Resumes to the next syscall stop, setting aside signals that show up. */
static int resume_to_syscall_stop(struct injector *injector)
{
	int status;
	int ret;

	for (;;) {
		if (ptrace(PTRACE_SYSCALL, injector->tid, NULL, NULL) < 0)
			return fail(injector->err, errno, "resuming task %d: %s", injector->tid,
				    strerror(errno));
		ret = ptrace_wait_stop(injector->tid, &status, injector->err);
		if (ret < 0)
			return ret;
		if (WSTOPSIG(status) == (SIGTRAP | 0x80))
			return 0;
		if (!is_event_stop(status) && WSTOPSIG(status) != SIGTRAP)
			set_aside(injector, WSTOPSIG(status));
	}
}

static void load_call(struct user_regs_struct *regs, uint64_t gadget, long number,
		      const uint64_t args[6])
{
	regs->rip = gadget;
	regs->rax = (uint64_t)number;
	regs->orig_rax = (uint64_t)-1;
	regs->rdi = args[0];
	regs->rsi = args[1];
	regs->rdx = args[2];
	regs->r10 = args[3];
	regs->r8 = args[4];
	regs->r9 = args[5];
}

static int run_to_syscall_exit(struct injector *injector, long number, const uint64_t args[6])
{
	struct user_regs_struct regs = injector->base_regs;
	int ret = block_signals(injector);

	load_call(&regs, injector->gadget, number, args);
	if (ret == 0)
		ret = ptrace_set_regs(injector->tid, &regs, injector->err);
	if (ret == 0)
		ret = resume_to_syscall_stop(injector); /* entry */
	if (ret < 0)
		return ret;
	injector->call_count++;
	return resume_to_syscall_stop(injector); /* exit */
}

/*
 * Waits for the entry stop of the settling syscall.  Returns 0 there, 1
 * after a signal the thread took on the way was delivered, or -errno.
 */
static int settle_to_entry(struct injector *injector, const struct user_regs_struct *frozen)
{
	int status;
	int ret = ptrace_wait_stop(injector->tid, &status, injector->err);

	while (ret == 0 && is_event_stop(status)) {
		if (ptrace(PTRACE_SYSCALL, injector->tid, NULL, NULL) < 0)
			return fail(injector->err, errno, "resuming task %d: %s", injector->tid,
				    strerror(errno));
		ret = ptrace_wait_stop(injector->tid, &status, injector->err);
	}
	if (ret < 0 || WSTOPSIG(status) == (SIGTRAP | 0x80))
		return ret;
	/* Taken before the syscall: the registers it is delivered with are the thread's. */
	ret = ptrace_set_regs(injector->tid, frozen, injector->err);
	if (ret == 0)
		ret = deliver_all(injector->tid, WSTOPSIG(status), injector->err);
	note_home(injector);
	return ret < 0 ? ret : 1;
}

int inject_settling_syscall(struct injector *injector, const struct user_regs_struct *frozen,
			    long number)
{
	const uint64_t args[6] = { 0 };
	struct user_regs_struct regs = injector->base_regs;
	int ret;

	load_call(&regs, injector->gadget, number, args);
	note_injected(injector);
	ret = ptrace_set_regs(injector->tid, &regs, injector->err);
	if (ret == 0 && ptrace(PTRACE_SYSCALL, injector->tid, NULL, NULL) < 0)
		ret = fail(injector->err, errno, "resuming task %d: %s", injector->tid,
			   strerror(errno));
	if (ret == 0)
		ret = settle_to_entry(injector, frozen);
	if (ret != 0)
		return ret;
	injector->call_count++;
	return resume_to_syscall_stop(injector); /* exit */
}

int inject_syscall(struct injector *injector, long number, const uint64_t args[6], int64_t *ret_result)
{
	struct user_regs_struct regs;
	int ret = run_to_syscall_exit(injector, number, args);

	if (ret == 0)
		ret = ptrace_get_regs(injector->tid, &regs, injector->err);
	if (ret == 0 && injector->has_home)
		ret = load_home(injector);
	if (ret < 0)
		return ret;
	*ret_result = (int64_t)regs.rax;
	return 0;
}

int64_t inject(struct injector *injector, const char *what, long number, uint64_t a0, uint64_t a1,
	       uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
	const uint64_t args[6] = { a0, a1, a2, a3, a4, a5 };
	int64_t result;
	int ret = inject_syscall(injector, number, args, &result);

	if (ret < 0)
		return ret;
	if (result < 0 && result > -4096)
		return fail(injector->err, (int)result, "%s in task %d failed: %s", what,
			    injector->tid, strerror((int)-result));
	return result;
}

int inject_final_syscall(struct injector *injector, long number, const uint64_t args[6])
{
	return run_to_syscall_exit(injector, number, args);
}

/* Resumes with PTRACE_CONT until the int3 at trap_address - 1 has run. */
static int resume_to_trap(struct injector *injector, uint64_t trap_address)
{
	struct user_regs_struct regs;
	int status;
	int ret;

	for (;;) {
		if (ptrace(PTRACE_CONT, injector->tid, NULL, NULL) < 0)
			return fail(injector->err, errno, "resuming task %d: %s", injector->tid,
				    strerror(errno));
		ret = ptrace_wait_stop(injector->tid, &status, injector->err);
		if (ret < 0)
			return ret;
		if (is_event_stop(status))
			continue;
		if (WSTOPSIG(status) != SIGTRAP) {
			set_aside(injector, WSTOPSIG(status));
			continue;
		}
		ret = ptrace_get_regs(injector->tid, &regs, injector->err);
		if (ret < 0 || regs.rip == trap_address)
			return ret;
	}
}

/*
 * The int3 left the tracee in a signal-delivery stop for SIGTRAP: a tracer
 * that died there would leave it to take that SIGTRAP.  An interrupt stop
 * right after holds nothing of the kind.
 */
static int leave_trap_stop(struct injector *injector)
{
	int ret = deliver_and_stop(injector->tid, 0, injector->err);

	while (ret == SIGSTOP) {
		set_aside(injector, ret);
		ret = deliver_and_stop(injector->tid, 0, injector->err);
	}
	if (ret > 0)
		return fail(injector->err, EPROTO,
			    "task %d stopped for signal %d with every signal blocked",
			    injector->tid, ret);
	return ret;
}

int inject_batch(struct injector *injector, uint64_t code_address, uint64_t trap_address)
{
	struct user_regs_struct regs = injector->base_regs;
	int ret = block_signals(injector);

	regs.rip = code_address;
	regs.orig_rax = (uint64_t)-1;
	if (ret == 0)
		ret = ptrace_set_regs(injector->tid, &regs, injector->err);
	if (ret < 0)
		return ret;
	injector->call_count++;
	ret = resume_to_trap(injector, trap_address);
	if (ret == 0 && injector->has_home)
		ret = leave_trap_stop(injector);
	if (ret == 0 && injector->has_home)
		ret = load_home(injector);
	return ret;
}

int poke_code(pid_t tid, uint64_t address, const void *code, size_t length, struct ckpt_error *err)
{
	const unsigned char *bytes = code;

	for (size_t at = 0; at < length; at += 8) {
		uint64_t word = 0xccccccccccccccccull; /* int3 after the end */

		memcpy(&word, bytes + at, length - at < 8 ? length - at : 8);
		if (ptrace(PTRACE_POKETEXT, tid, (void *)(uintptr_t)(address + at), (void *)word) < 0)
			return fail(err, errno, "writing code into task %d: %s", tid,
				    strerror(errno));
	}
	return 0;
}
