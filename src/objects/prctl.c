/* SPDX-License-Identifier: MIT */
/*
 * prctl state.  Per process: child subreaper, THP disable, dumpable.  Per
 * thread: timer slack, parent-death signal, securebits (keep-caps among
 * them), no_new_privs, MCE kill policy.  What /proc shows is read there
 * (NoNewPrivs; Seccomp for objects/seccomp.c); the rest comes from prctl calls added to the one
 * batch of syscalls each thread runs at checkpoint (threads.c), so a
 * thread costs no extra stop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "objects/dump.h"
#include "fault.h"
#include "util.h"

#define SCRATCH_PDEATH_SIGNAL 2400
#define SCRATCH_CHILD_SUBREAPER (SCRATCH_PDEATH_SIGNAL + 4) /* read with it */

/* The prctl calls of the batch, in order; results[i] is what call i returned. */
enum prctl_call {
	PRCTL_TIMERSLACK,
	PRCTL_PDEATHSIG,
	PRCTL_SECUREBITS,
	PRCTL_MCE_KILL,
	PRCTL_CHILD_SUBREAPER,
	PRCTL_THP_DISABLE,
	PRCTL_DUMPABLE,
	PRCTL_CALL_COUNT
};

static const char *const prctl_call_names[PRCTL_CALL_COUNT] = {
	"prctl(PR_GET_TIMERSLACK)", "prctl(PR_GET_PDEATHSIG)",	     "prctl(PR_GET_SECUREBITS)",
	"prctl(PR_MCE_KILL_GET)",   "prctl(PR_GET_CHILD_SUBREAPER)", "prctl(PR_GET_THP_DISABLE)",
	"prctl(PR_GET_DUMPABLE)",
};

size_t add_prctl_calls(struct syscall_batch *batch, uint64_t scratch, uint64_t results)
{
	const uint64_t calls[PRCTL_CALL_COUNT][4] = {
		[PRCTL_TIMERSLACK] = { PR_GET_TIMERSLACK },
		[PRCTL_PDEATHSIG] = { PR_GET_PDEATHSIG, scratch + SCRATCH_PDEATH_SIGNAL },
		[PRCTL_SECUREBITS] = { PR_GET_SECUREBITS },
		[PRCTL_MCE_KILL] = { PR_MCE_KILL_GET },
		[PRCTL_CHILD_SUBREAPER] = { PR_GET_CHILD_SUBREAPER,
					    scratch + SCRATCH_CHILD_SUBREAPER },
		[PRCTL_THP_DISABLE] = { PR_GET_THP_DISABLE },
		[PRCTL_DUMPABLE] = { PR_GET_DUMPABLE },
	};

	for (size_t i = 0; i < PRCTL_CALL_COUNT; i++)
		syscall_batch_add(batch, SYS_prctl, calls[i], results + i * sizeof(int64_t));
	return PRCTL_CALL_COUNT;
}

static int check_prctl_results(struct dump_context *ctx, pid_t tid, const int64_t *results)
{
	for (size_t i = 0; i < PRCTL_CALL_COUNT; i++) {
		if (results[i] < 0 && results[i] > -4096)
			return fail(ctx->err, (int)-results[i], "%s in task %d failed: %s",
				    prctl_call_names[i], tid, strerror((int)-results[i]));
	}
	return 0;
}

/* The main thread's answers to the process-wide calls go to the PROCESS record. */
static void take_process_prctl(struct dump_context *ctx, const int64_t *results,
			       int32_t child_subreaper)
{
	ctx->process.prctl_flags = child_subreaper ? CKPT_PROCESS_CHILD_SUBREAPER : 0;
	ctx->process.thp_disable = (uint32_t)results[PRCTL_THP_DISABLE];
	ctx->process.dumpable = (uint32_t)results[PRCTL_DUMPABLE];
}

int take_prctl_results(struct dump_context *ctx, struct dump_thread *thread, const int64_t *results)
{
	int32_t outputs[2] = { 0, 0 }; /* pdeath signal, child subreaper */
	int ret = check_prctl_results(ctx, thread->tid, results);

	if (ret == 0)
		ret = dump_read_memory(ctx, scratch_data(ctx) + SCRATCH_PDEATH_SIGNAL, outputs,
				       sizeof(outputs));
	if (ret < 0)
		return ret;
	thread->record.timer_slack_ns = (uint64_t)results[PRCTL_TIMERSLACK];
	thread->record.pdeath_signal = (uint32_t)outputs[0];
	thread->record.securebits = (uint32_t)results[PRCTL_SECUREBITS];
	thread->record.mce_kill_policy = (uint32_t)results[PRCTL_MCE_KILL];
	if (thread->tid == ctx->pid)
		take_process_prctl(ctx, results, outputs[1]);
	return 0;
}

/*
 * /proc/PID/task/TID/status, read before anything runs inside the thread:
 * a thread under seccomp is traced with its filters suspended from here on
 * (objects/seccomp.c).
 */
static int read_thread_status(struct dump_context *ctx, struct dump_thread *thread)
{
	char path[80];
	_cleanup_free_ char *status = NULL;
	const char *seccomp, *no_new_privs;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", ctx->pid, thread->tid);
	ret = read_whole_file(path, &status, NULL, ctx->err);
	if (ret < 0)
		return ret;
	seccomp = status_field(status, "Seccomp");
	if (seccomp)
		ret = collect_thread_seccomp(ctx, thread, seccomp);
	if (ret < 0)
		return ret;
	no_new_privs = status_field(status, "NoNewPrivs");
	if (no_new_privs && *no_new_privs == '1')
		thread->record.flags |= CKPT_THREAD_NO_NEW_PRIVS;
	return 0;
}

int collect_thread_status(struct dump_context *ctx)
{
	int ret = fault_point(ctx->err, "checkpoint.prctl");

	for (size_t i = 0; ret == 0 && i < ctx->thread_count; i++)
		ret = read_thread_status(ctx, &ctx->threads[i]);
	return ret;
}

/* ---- restart side ---- */

#include <linux/capability.h>
#include <linux/securebits.h>

#include "objects/restore.h"

#ifndef PR_MCE_KILL_DEFAULT
#define PR_MCE_KILL_DEFAULT 2
#endif

static int64_t restore_timer_slack(struct restore_context *ctx, size_t index)
{
	uint64_t slack = ctx->image.threads[index].thread.timer_slack_ns;
	int ours = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0); /* the husk inherited ours */

	if (slack == 0 || (ours >= 0 && slack == (uint64_t)ours))
		return 0;
	return thread_call(ctx, index, "prctl(PR_SET_TIMERSLACK)", SYS_prctl, PR_SET_TIMERSLACK,
			   slack, 0, 0);
}

static int64_t restore_mce_kill_policy(struct restore_context *ctx, size_t index)
{
	uint32_t policy = ctx->image.threads[index].thread.mce_kill_policy;

	if (policy == PR_MCE_KILL_DEFAULT)
		return 0;
	return thread_call(ctx, index, "prctl(PR_MCE_KILL)", SYS_prctl, PR_MCE_KILL,
			   PR_MCE_KILL_SET, policy, 0);
}

/*
 * The parent-death signal goes last among the thread's: a change of
 * credentials clears it, and the parent it watches (the parent's husk, or
 * for the root ckpt or the init of --pidns) exists by now.  With --detach
 * the root's parent, ckpt, leaves at once (unless the init of a new PID
 * namespace stands between them): the signal would fire for nothing, so it
 * is not set.
 */
static bool keeps_parent_death_signal(const struct restore_context *ctx)
{
	const struct ckpt_tree_entry *root = &ctx->tree.entries[0];
	unsigned int flags = ctx->options->flags;
	bool init_is_parent = (flags & CKPT_OPT_PIDNS) && root->pid != 1;

	if (ctx->image.process.pid != root->pid)
		return true;
	return !(flags & CKPT_OPT_DETACH) || init_is_parent;
}

/*
 * The main thread of every husk dies with its creator until the handover
 * (restart/husks.c): it always gets the image's value, 0 included.  Other
 * threads were created with none.
 */
static int64_t restore_parent_death_signal(struct restore_context *ctx, size_t index)
{
	uint32_t signal = ctx->image.threads[index].thread.pdeath_signal;

	if (!keeps_parent_death_signal(ctx))
		signal = 0;
	if (signal == 0 && index > 0)
		return 0;
	return thread_call(ctx, index, "prctl(PR_SET_PDEATHSIG)", SYS_prctl, PR_SET_PDEATHSIG,
			   signal, 0, 0);
}

static int restore_one_thread_prctl(struct restore_context *ctx, size_t index)
{
	const struct ckpt_thread *thread = &ctx->image.threads[index].thread;
	int64_t ret = restore_timer_slack(ctx, index);

	if (ret >= 0)
		ret = restore_mce_kill_policy(ctx, index);
	if (ret >= 0 && (thread->flags & CKPT_THREAD_NO_NEW_PRIVS))
		ret = thread_call(ctx, index, "prctl(PR_SET_NO_NEW_PRIVS)", SYS_prctl,
				  PR_SET_NO_NEW_PRIVS, 1, 0, 0);
	if (ret >= 0)
		ret = restore_parent_death_signal(ctx, index);
	return ret < 0 ? (int)ret : 0;
}

static int64_t restore_thp_disable(struct restore_context *ctx)
{
	uint32_t value = ctx->image.process.thp_disable;

	if (value == 0)
		return 0;
	return husk_call(ctx, "prctl(PR_SET_THP_DISABLE)", SYS_prctl, PR_SET_THP_DISABLE, 1,
			 value & CKPT_THP_DISABLE_EXCEPT_ADVISED, 0, 0, 0);
}

/*
 * dumpable comes last of all: a change of credentials resets it (root
 * restarting a user's process leaves it 0 there), and once it is 0 a
 * restarter without CAP_SYS_PTRACE can no longer write the process's
 * memory.  It is always set, to exactly the image's value.
 * SUID_DUMP_ROOT (2) cannot be set by prctl; 0 is the nearest (the core
 * dump and ptrace stay forbidden to the owner).
 */
static int64_t restore_dumpable(struct restore_context *ctx)
{
	uint64_t dumpable = ctx->image.process.dumpable == 1 ? 1 : 0;

	return husk_call(ctx, "prctl(PR_SET_DUMPABLE)", SYS_prctl, PR_SET_DUMPABLE, dumpable, 0, 0,
			 0, 0);
}

int restore_prctl(struct restore_context *ctx)
{
	int64_t ret = 0;

	for (size_t i = 0; ret == 0 && i < ctx->image.thread_count; i++)
		ret = restore_one_thread_prctl(ctx, i);
	if (ret >= 0 && (ctx->image.process.prctl_flags & CKPT_PROCESS_CHILD_SUBREAPER))
		ret = husk_call(ctx, "prctl(PR_SET_CHILD_SUBREAPER)", SYS_prctl,
				PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0, 0);
	if (ret >= 0)
		ret = restore_thp_disable(ctx);
	if (ret >= 0)
		ret = restore_dumpable(ctx);
	return ret < 0 ? (int)ret : 0;
}

uint32_t image_securebits_union(const struct image_process *image)
{
	uint32_t bits = 0;

	for (size_t i = 0; i < image->thread_count; i++)
		bits |= image->threads[i].thread.securebits;
	return bits;
}

/*
 * Each thread's securebits (keep-caps among them), set once its uids and
 * capability sets are the image's: PR_SET_SECUREBITS needs CAP_SETPCAP,
 * which restore_creds() keeps in the sets until this is done.
 */
int restore_securebits(struct restore_context *ctx)
{
	for (size_t i = 0; i < ctx->image.thread_count; i++) {
		uint32_t bits = ctx->image.threads[i].thread.securebits;
		int64_t ret;

		if (bits == 0)
			continue;
		ret = thread_call(ctx, i, "prctl(PR_SET_SECUREBITS)", SYS_prctl, PR_SET_SECUREBITS,
				  bits, 0, 0);
		if (ret < 0)
			return (int)ret;
	}
	return 0;
}
