/* SPDX-License-Identifier: MIT */
/* Signal dispositions: read by rt_sigaction run inside the target. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/time.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "objects/dump.h"
#include "sys/kernel.h"
#include "util.h"

#define SCRATCH_ITIMERS 3072
#define SCRATCH_SIGNAL_RESULTS 3200 /* up to 3200 + 8 * 67 */

/*
 * rt_sigaction of every signal and getitimer of the three timers, as one
 * batch in the scratch area's second code page: one stop of the main
 * thread instead of 67, so the target holds injected state (the only time
 * a ckpt that dies can harm it) as briefly as possible.
 */
static void add_signal_calls(const struct dump_context *ctx, struct syscall_batch *batch)
{
	uint64_t results = scratch_data(ctx) + SCRATCH_SIGNAL_RESULTS;

	for (uint64_t signal = 1; signal <= CKPT_MAX_SIGNALS; signal++) {
		const uint64_t args[4] = {
			signal, 0, scratch_data(ctx) + (signal - 1) * sizeof(struct ckpt_sigaction), 8
		};

		if (signal == SIGKILL || signal == SIGSTOP)
			continue;
		syscall_batch_add(batch, SYS_rt_sigaction, args, results + 8 * batch->call_count);
	}
	for (uint64_t which = 0; which < 3; which++) {
		const uint64_t args[4] = { which, scratch_data(ctx) + SCRATCH_ITIMERS +
							  which * 2 * sizeof(struct timeval) };

		syscall_batch_add(batch, SYS_getitimer, args, results + 8 * batch->call_count);
	}
}

static int check_signal_results(struct dump_context *ctx, const int64_t *results, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (results[i] < 0 && results[i] > -4096)
			return fail(ctx->err, (int)-results[i], "%s in task %d failed: %s",
				    i + 3 < count ? "rt_sigaction" : "getitimer", ctx->pid,
				    strerror((int)-results[i]));
	}
	return 0;
}

static int run_signal_batch(struct dump_context *ctx)
{
	_cleanup_free_ struct syscall_batch *batch = calloc(1, sizeof(*batch));
	uint64_t code = scratch_code(ctx) + CKPT_PAGE_SIZE;
	int64_t results[CKPT_MAX_SIGNALS + 3];
	size_t trap_offset;
	int ret;

	if (!batch)
		return fail(ctx->err, ENOMEM, "out of memory");
	add_signal_calls(ctx, batch);
	trap_offset = syscall_batch_finish(batch);
	if (!trap_offset)
		return fail(ctx->err, E2BIG, "internal: the signal batch is too long");
	ret = remote_poke_code(&ctx->threads[0].task, code, batch->code, batch->length);
	if (ret == 0)
		ret = dump_ready_injector(ctx, &ctx->threads[0]);
	if (ret == 0)
		ret = remote_run_batch(&ctx->threads[0].task, code, code + trap_offset);
	ctx->shared->injected_syscalls += batch->call_count;
	if (ret == 0)
		ret = dump_read_memory(ctx, scratch_data(ctx) + SCRATCH_SIGNAL_RESULTS, results,
				       batch->call_count * sizeof(int64_t));
	if (ret == 0)
		ret = check_signal_results(ctx, results, batch->call_count);
	return ret;
}

/* Runs the signal batch: the timers are read from its results afterwards. */
int collect_sigactions(struct dump_context *ctx)
{
	struct ckpt_sigaction *actions = ctx->sigactions.actions;
	int ret = run_signal_batch(ctx);

	if (ret < 0)
		return ret;
	ctx->sigactions.count = CKPT_MAX_SIGNALS;
	/* The kernel's struct sigaction is handler, flags, restorer, mask: ours. */
	return dump_read_memory(ctx, scratch_data(ctx), actions, CKPT_MAX_SIGNALS * sizeof(*actions));
}

/* getitimer() for the three interval timers, run by collect_sigactions' batch. */
int collect_timers(struct dump_context *ctx)
{
	struct timeval values[3][2]; /* it_interval, it_value */

	if (dump_read_memory(ctx, scratch_data(ctx) + SCRATCH_ITIMERS, values, sizeof(values)) < 0)
		return ctx->err->code;
	for (int which = 0; which < 3; which++) {
		ctx->timers.itimers[which].interval_us = (uint64_t)values[which][0].tv_sec * 1000000 +
							 (uint64_t)values[which][0].tv_usec;
		ctx->timers.itimers[which].value_us = (uint64_t)values[which][1].tv_sec * 1000000 +
						      (uint64_t)values[which][1].tv_usec;
	}
	return 0;
}

static int add_pending(struct dump_context *ctx, int32_t tid, const void *info)
{
	if (ctx->pending_count == ctx->pending_capacity) {
		size_t capacity = ctx->pending_capacity ? 2 * ctx->pending_capacity : 64;
		struct ckpt_siginfo *grown = realloc(ctx->pending, capacity * sizeof(*grown));

		if (!grown)
			return fail(ctx->err, ENOMEM, "out of memory");
		ctx->pending = grown;
		ctx->pending_capacity = capacity;
	}
	memset(&ctx->pending[ctx->pending_count], 0, sizeof(*ctx->pending));
	ctx->pending[ctx->pending_count].tid = tid;
	memcpy(ctx->pending[ctx->pending_count].info, info, sizeof(ctx->pending->info));
	ctx->pending_count++;
	return 0;
}

/*
 * Pending signals, read without taking them off their queue, many at a
 * time: each PTRACE_PEEKSIGINFO walks the queue from its head, and a queue
 * can hold as many signals as RLIMIT_SIGPENDING allows.
 */
enum {
	PEEK_CHUNK = 1024
};

static int peek_queue(struct dump_context *ctx, pid_t tid, bool shared)
{
	struct peeksiginfo_args_v1 args = {
		.flags = shared ? CKPT_PEEKSIGINFO_SHARED : 0,
		.nr = PEEK_CHUNK,
	};
	_cleanup_free_ siginfo_t *infos = calloc(PEEK_CHUNK, sizeof(*infos));

	if (!infos)
		return fail(ctx->err, ENOMEM, "out of memory");
	for (;;) {
		long count = ptrace(PTRACE_PEEKSIGINFO, tid, &args, infos);

		if (count < 0)
			return fail(ctx->err, errno, "reading pending signals of task %d: %s", tid,
				    strerror(errno));
		for (long i = 0; i < count; i++) {
			int ret = add_pending(ctx, shared ? 0 : tid, &infos[i]);

			if (ret < 0)
				return ret;
		}
		if (count < (long)args.nr)
			return 0;
		args.off += (uint64_t)count;
	}
}

int collect_pending_signals(struct dump_context *ctx)
{
	int ret = peek_queue(ctx, ctx->pid, true);

	/*
	 * Nothing waits in ckpt's hands: a signal a thread took at its freeze
	 * was delivered, and those that came since wait blocked in the queues.
	 */
	for (size_t i = 0; ret == 0 && i < ctx->thread_count; i++)
		ret = peek_queue(ctx, ctx->threads[i].tid, false);
	return ret;
}

int write_sigactions(struct dump_context *ctx)
{
	int ret = image_write_simple(ctx->writer, CKPT_RECORD_SIGACTIONS, &ctx->sigactions,
				     sizeof(ctx->sigactions));

	if (ret == 0)
		ret = image_write_simple(ctx->writer, CKPT_RECORD_TIMERS, &ctx->timers,
					 sizeof(ctx->timers));
	return ret;
}

int write_pending_signals(struct dump_context *ctx)
{
	for (size_t i = 0; i < ctx->pending_count; i++) {
		int ret = image_write_simple(ctx->writer, CKPT_RECORD_SIGINFO, &ctx->pending[i],
					     sizeof(ctx->pending[i]));

		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ---- restart side ---- */

#include "objects/restore.h"

/* The index of the image thread with that TID, or -1. */
static ssize_t thread_index(const struct image_process *image, int32_t tid)
{
	for (size_t i = 0; i < image->thread_count; i++) {
		if (image->threads[i].thread.tid == tid)
			return (ssize_t)i;
	}
	return -1;
}

/*
 * A signal for one thread is queued by that thread itself: the kernel lets
 * only the target queue a siginfo with si_code >= 0 or SI_TKILL.  The
 * image's TIDs are the husk's, whatever ckpt sees.
 */
static int64_t queue_to_thread(struct restore_context *ctx, const struct ckpt_siginfo *pending,
			       int32_t signal, uint64_t info_address)
{
	ssize_t index = thread_index(&ctx->image, pending->tid);

	if (index < 0)
		return fail(ctx->err, EINVAL,
			    "bad image: a pending signal for thread %d, not in the image",
			    pending->tid);
	return thread_call(ctx, (size_t)index, "rt_tgsigqueueinfo", SYS_rt_tgsigqueueinfo,
			   (uint64_t)ctx->image.process.pid, (uint64_t)pending->tid,
			   (uint64_t)signal, info_address);
}

/*
 * Queues each pending signal again, while every signal is still blocked:
 * process-wide ones from the main thread (which may send its process any
 * siginfo), per-thread ones from their thread.
 */
int restore_pending_signals(struct restore_context *ctx)
{
	pid_t pid = ctx->image.process.pid;

	for (size_t i = 0; i < ctx->image.pending_count; i++) {
		const struct ckpt_siginfo *pending = &ctx->image.pending[i];
		int32_t signal;
		uint64_t address;
		int64_t ret =
			husk_put_data(ctx, 8192, pending->info, sizeof(pending->info), &address);

		memcpy(&signal, pending->info, sizeof(signal));
		if (ret == 0 && pending->tid)
			ret = queue_to_thread(ctx, pending, signal, address);
		else if (ret == 0)
			ret = husk_call(ctx, "rt_sigqueueinfo", SYS_rt_sigqueueinfo, (uint64_t)pid,
					(uint64_t)signal, address, 0, 0, 0);
		if (ret < 0)
			return (int)ret;
	}
	return 0;
}

int restore_timers(struct restore_context *ctx)
{
	for (int which = 0; which < 3; which++) {
		const struct ckpt_itimer *timer = &ctx->image.timers.itimers[which];
		struct timeval value[2] = {
			{ .tv_sec = (time_t)(timer->interval_us / 1000000),
			  .tv_usec = (suseconds_t)(timer->interval_us % 1000000) },
			{ .tv_sec = (time_t)(timer->value_us / 1000000),
			  .tv_usec = (suseconds_t)(timer->value_us % 1000000) },
		};
		uint64_t address;
		int64_t ret;

		if (!timer->interval_us && !timer->value_us)
			continue;
		ret = husk_put_data(ctx, 8192, value, sizeof(value), &address);
		if (ret == 0)
			ret = husk_call(ctx, "setitimer", SYS_setitimer, (uint64_t)which, address,
					0, 0, 0, 0);
		if (ret < 0)
			return (int)ret;
	}
	return 0;
}

static bool is_default_action(const struct ckpt_sigaction *action)
{
	return !action->handler && !action->flags && !action->restorer && !action->mask;
}

/* Handlers, flags, masks: rt_sigaction in the husk for each non-default one. */
int restore_sigactions(struct restore_context *ctx)
{
	const struct ckpt_sigaction *actions = ctx->image.sigactions.actions;

	for (unsigned signal = 1; signal <= CKPT_MAX_SIGNALS; signal++) {
		const struct ckpt_sigaction *action = &actions[signal - 1];
		uint64_t address;
		int64_t ret;

		if (signal == SIGKILL || signal == SIGSTOP || is_default_action(action))
			continue;
		ret = husk_put_data(ctx, 8192, action, sizeof(*action), &address);
		if (ret == 0)
			ret = husk_call(ctx, "rt_sigaction", SYS_rt_sigaction, signal, address, 0,
					8, 0, 0);
		if (ret < 0)
			return (int)ret;
	}
	return 0;
}

/*
 * Children restored as zombies sent their parent a SIGCHLD that the
 * original had already had (or has pending, and then it is in the image).
 * Take it off the queue; restore_pending_signals() puts back what was there.
 */
int drop_stray_sigchld(struct restore_context *ctx)
{
	uint64_t set = 1ull << (SIGCHLD - 1);
	struct timespec no_wait = { 0, 0 };
	uint64_t set_address, timeout_address;
	int64_t ret = husk_put_data(ctx, 8192, &set, sizeof(set), &set_address);

	if (ret == 0)
		ret = husk_put_data(ctx, 8192 + 64, &no_wait, sizeof(no_wait), &timeout_address);
	while (ret == 0) {
		const uint64_t args[6] = { set_address, 0, timeout_address, 8 };
		int64_t taken;

		ret = inject_syscall(&ctx->task.injector, SYS_rt_sigtimedwait, args, &taken);
		if (ret == 0 && taken != SIGCHLD)
			break;
	}
	return (int)ret;
}
