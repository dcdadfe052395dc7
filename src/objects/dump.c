/* SPDX-License-Identifier: MIT */
/*
 * The frozen target, dump side: each thread seized (sys/freeze.h), its
 * resume planned (a syscall it was in is rewound or restarted), and readied
 * for injections through its remote task.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "objects/dump.h"
#include "sys/kernel.h"
#include "util.h"

static bool is_restart_code(uint64_t rax)
{
	int64_t value = (int64_t)rax;

	return value == -KERNEL_ERESTARTSYS || value == -KERNEL_ERESTARTNOINTR ||
	       value == -KERNEL_ERESTARTNOHAND || value == -KERNEL_ERESTART_RESTARTBLOCK;
}

/*
 * epoll_wait and its variants are never restarted by the kernel: the stop
 * that freezes a thread in them makes them return EINTR, which an event
 * loop would see for nothing.  A thread at their exit with EINTR is made to
 * run them again, the original too, with the whole timeout (a real signal
 * queued at that moment then restarts it after its handler instead of
 * interrupting it).
 */
static bool is_interrupted_epoll_wait(const struct user_regs_struct *regs)
{
	long number = (long)regs->orig_rax;

	return (int64_t)regs->rax == -EINTR &&
	       (number == SYS_epoll_wait || number == SYS_epoll_pwait || number == SYS_epoll_pwait2);
}

/*
 * A relative sleep interrupted with ERESTART_RESTARTBLOCK: the kernel wrote
 * the time left to the `remaining` argument, so the thread can sleep that
 * long instead of the whole request.  Returns false when it cannot.
 */
static bool sleep_for_remaining_time(struct user_regs_struct *regs)
{
	if (regs->rax == SYS_nanosleep && regs->rsi != 0) {
		regs->rdi = regs->rsi;
		return true;
	}
	if (regs->rax == SYS_clock_nanosleep && regs->r10 != 0 && !(regs->rsi & TIMER_ABSTIME)) {
		regs->rdx = regs->r10;
		return true;
	}
	return false;
}

/*
 * A thread asleep in restart_syscall (the kernel's way of going on with a
 * syscall interrupted by an earlier stop) has lost the number of the real
 * syscall, but its argument registers are intact.  Its kernel stack, read
 * before it is stopped, tells which syscall that was.
 */
static long find_restarted_syscall(pid_t pid, pid_t tid)
{
	static const struct {
		const char *function;
		long syscall;
	} restarters[] = {
		{ "do_restart_poll", SYS_poll },
		{ "futex_wait_restart", SYS_futex },
	};
	char path[80];
	struct ckpt_error ignored = { 0 };
	char *text = NULL;
	long found = -1;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
	if (read_whole_file(path, &text, NULL, &ignored) < 0)
		return -1;
	if (strtol(text, NULL, 10) == SYS_restart_syscall) {
		free(text);
		text = NULL;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stack", pid, tid);
		if (read_whole_file(path, &text, NULL, &ignored) < 0)
			return -1;
		for (size_t i = 0; i < sizeof(restarters) / sizeof(restarters[0]); i++) {
			if (strstr(text, restarters[i].function))
				found = restarters[i].syscall;
		}
	}
	free(text);
	return found;
}

/* The syscall returns EINTR, as if a signal had interrupted it. */
static void interrupt_instead(struct user_regs_struct *regs)
{
	regs->rip += 2;
	regs->rax = (uint64_t)-EINTR;
}

static void rewind_syscall(struct dump_thread *thread, struct user_regs_struct *image_regs)
{
	struct user_regs_struct frozen = thread->frozen_regs;

	image_regs->rip -= 2;
	image_regs->rax = frozen.orig_rax;
	image_regs->orig_rax = (uint64_t)-1;
	thread->resume_regs = *image_regs;
	thread->record.flags |= CKPT_THREAD_SYSCALL_RESTART;
	thread->record.interrupted_syscall = frozen.orig_rax;
	if ((int64_t)frozen.rax != -KERNEL_ERESTART_RESTARTBLOCK)
		return;
	/*
	 * A sleep goes on for the time it had left, in the original too, so a
	 * later checkpoint finds the real syscall again.  Anything else (poll,
	 * futex with a timeout, ...) keeps its kernel restart block in the
	 * original; a restored copy cannot have it and gets EINTR instead.
	 */
	if (sleep_for_remaining_time(image_regs)) {
		thread->resume_regs = *image_regs;
		return;
	}
	thread->resume_regs.rax = SYS_restart_syscall;
	if (frozen.orig_rax != SYS_restart_syscall)
		return;
	if (thread->restarted_syscall >= 0)
		image_regs->rax = (uint64_t)thread->restarted_syscall;
	else
		interrupt_instead(image_regs);
}

/*
 * Registers that make a thread frozen inside a syscall run it again: one set
 * for the image, one for letting the original go on (computed at freeze
 * time, since any later failure releases the thread with them).
 */
static void plan_thread_resume(struct dump_thread *thread)
{
	struct user_regs_struct frozen = thread->frozen_regs;
	struct user_regs_struct image_regs = frozen;

	image_regs.orig_rax = (uint64_t)-1;
	thread->resume_regs = frozen;
	thread->record.tid = thread->tid;
	thread->record.flags &= ~CKPT_THREAD_SYSCALL_RESTART; /* planned again after a signal */
	thread->record.interrupted_syscall = 0;
	if ((int64_t)frozen.orig_rax >= 0 &&
	    (is_restart_code(frozen.rax) || is_interrupted_epoll_wait(&frozen)))
		rewind_syscall(thread, &image_regs);
	memcpy(thread->record.regs, &image_regs, sizeof(thread->record.regs));
}

/*
 * The thread's first injection leaves its freeze stop with its own mask (a
 * mask sigsuspend swapped in comes back then); a signal it takes on the
 * way is delivered and the thread stops in front of its handler: its
 * registers are read again.  A thread that keeps taking signals (ignored
 * ones stay queued while traced) is settled with every signal blocked
 * after SETTLE_ATTEMPTS, at the price of a swapped-in mask.
 */
enum {
	SETTLE_ATTEMPTS = 70
};

static int settle_thread(struct dump_context *ctx, struct dump_thread *thread)
{
	uint64_t sigmask = 0;
	bool gave_up;
	int ret = 1;

	for (int attempt = 0; ret == 1 && attempt < SETTLE_ATTEMPTS; attempt++) {
		thread->task.injector.base_regs = thread->frozen_regs;
		ret = inject_settling_syscall(&thread->task.injector, &thread->frozen_regs,
					      SYS_getpid);
		if (ret != 1)
			break;
		if (ptrace_get_regs(thread->tid, &thread->frozen_regs, ctx->err) < 0)
			return ctx->err->code;
		plan_thread_resume(thread);
	}
	if (ret < 0)
		return ret;
	gave_up = ret == 1;
	ret = ptrace_get_sigmask(thread->tid, &sigmask, ctx->err);
	if (ret == 0)
		ret = injector_set_home(&thread->task.injector, &thread->resume_regs, sigmask);
	if (ret == 0 && gave_up)
		ret = (int)remote_call(&thread->task, "getpid", SYS_getpid, 0, 0, 0, 0, 0, 0);
	return ret < 0 ? ret : 0;
}

int dump_ready_injector(struct dump_context *ctx, struct dump_thread *thread)
{
	int ret;

	if (thread->injector_ready)
		return 0;
	ret = remote_task_ready(&thread->task, ctx->gadget);
	if (ret < 0)
		return ret;
	thread->injector_ready = true;
	return settle_thread(ctx, thread);
}

static bool is_seized(void *set, pid_t tid)
{
	const struct dump_context *ctx = set;

	for (size_t i = 0; i < ctx->thread_count; i++) {
		if (ctx->threads[i].tid == tid)
			return true;
	}
	return false;
}

static int seize_thread(void *set, pid_t tid)
{
	struct dump_context *ctx = set;
	struct dump_thread *grown = realloc(ctx->threads, (ctx->thread_count + 1) * sizeof(*grown));
	struct dump_thread *thread;
	bool seized;
	int ret;

	if (dump_check_interrupt(ctx->shared) < 0)
		return ctx->err->code;
	if (!grown)
		return fail(ctx->err, ENOMEM, "out of memory");
	ctx->threads = grown;
	thread = &grown[ctx->thread_count];
	memset(thread, 0, sizeof(*thread));
	thread->tid = tid;
	thread->restarted_syscall = find_restarted_syscall(ctx->pid, tid);
	remote_task_init(&thread->task, ctx->pid, tid, ctx->err);
	ret = freeze_thread(ctx->pid, tid, &thread->frozen_regs, &seized, ctx->err);
	if (ret == 1)
		return 0; /* a thread that just exited */
	thread->seized = seized;
	ctx->thread_count++;
	if (ret == 0)
		plan_thread_resume(thread);
	return ret;
}

/* Seizes every thread, again and again until no new one shows up. */
int freeze_process(struct dump_context *ctx)
{
	const struct thread_set set = { is_seized, seize_thread, ctx };
	int ret = fault_point(ctx->err, "checkpoint.freeze");

	if (!ctx->shared->frozen_at_ns)
		ctx->shared->frozen_at_ns = monotonic_ns();
	if (ret == 0)
		ret = seize_thread(ctx, ctx->pid); /* the image lists it first */
	if (ret == 0 && ctx->thread_count == 0)
		ret = fail(ctx->err, ESRCH, "no process %d", ctx->pid);
	if (ret == 0)
		ret = freeze_new_threads(ctx->pid, &set, ctx->err);
	return ret;
}
