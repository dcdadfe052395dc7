/* SPDX-License-Identifier: MIT */
/* Per-thread state: registers, xstate, signal mask, altstack, rseq, futex lists. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <time.h>
#include <linux/sched.h>
#include <unistd.h>

#include "objects/dump.h"
#include "sys/kernel.h"
#include "util.h"

#define SCRATCH_ALTSTACK 2048
#define SCRATCH_TID_ADDRESS 2080
#define SCRATCH_BATCH_RESULTS 2304 /* up to 2400: the prctl outputs follow */

/* The batch's calls before the prctl ones; results[i] is what call i returned. */
enum thread_batch_call {
	BATCH_UNPROTECT_SCRATCH,
	BATCH_SIGALTSTACK,
	BATCH_TID_ADDRESS,
	BATCH_PRCTL_FIRST,
};

static const char *const thread_batch_names[BATCH_PRCTL_FIRST] = {
	"mprotect (scratch)",
	"sigaltstack",
	"prctl(PR_GET_TID_ADDRESS)",
};

/*
 * The syscalls every thread runs at checkpoint, as one batch in the
 * scratch area's code page: the first makes the data page writable (the
 * area is mapped read+exec, so no page is ever writable and executable).
 */
int prepare_thread_batch(struct dump_context *ctx)
{
	uint64_t results = scratch_data(ctx) + SCRATCH_BATCH_RESULTS;
	const uint64_t calls[BATCH_PRCTL_FIRST][4] = {
		[BATCH_UNPROTECT_SCRATCH] = { scratch_data(ctx), CKPT_PAGE_SIZE,
					      PROT_READ | PROT_WRITE },
		[BATCH_SIGALTSTACK] = { 0, scratch_data(ctx) + SCRATCH_ALTSTACK },
		[BATCH_TID_ADDRESS] = { PR_GET_TID_ADDRESS, scratch_data(ctx) + SCRATCH_TID_ADDRESS },
	};
	const long numbers[BATCH_PRCTL_FIRST] = { SYS_mprotect, SYS_sigaltstack, SYS_prctl };
	struct syscall_batch batch = { .length = 0 };
	size_t trap_offset;

	for (size_t i = 0; i < BATCH_PRCTL_FIRST; i++)
		syscall_batch_add(&batch, numbers[i], calls[i], results + i * sizeof(int64_t));
	add_prctl_calls(&batch, scratch_data(ctx), results + BATCH_PRCTL_FIRST * sizeof(int64_t));
	trap_offset = syscall_batch_finish(&batch);
	if (!trap_offset || batch.call_count > THREAD_BATCH_MAX_CALLS)
		return fail(ctx->err, E2BIG, "internal: the thread batch is too long");
	ctx->batch_call_count = batch.call_count;
	ctx->batch_trap = scratch_code(ctx) + trap_offset;
	return remote_poke_code(&ctx->threads[0].task, scratch_code(ctx), batch.code, batch.length);
}

static int check_batch_results(struct dump_context *ctx, pid_t tid, const int64_t *results)
{
	for (size_t i = 0; i < BATCH_PRCTL_FIRST; i++) {
		if (results[i] < 0 && results[i] > -4096)
			return fail(ctx->err, (int)-results[i], "%s in task %d failed: %s",
				    thread_batch_names[i], tid, strerror((int)-results[i]));
	}
	return 0;
}

static int run_thread_batch(struct dump_context *ctx, struct dump_thread *thread,
			    int64_t results[THREAD_BATCH_MAX_CALLS])
{
	int ret = dump_ready_injector(ctx, thread);

	if (ret < 0)
		return ret;
	ret = remote_run_batch(&thread->task, scratch_code(ctx), ctx->batch_trap);
	ctx->shared->injected_syscalls += ctx->batch_call_count;
	if (ret == 0)
		ret = dump_read_memory(ctx, scratch_data(ctx) + SCRATCH_BATCH_RESULTS, results,
				       ctx->batch_call_count * sizeof(int64_t));
	if (ret == 0)
		ret = check_batch_results(ctx, thread->tid, results);
	return ret;
}

static int collect_injected_state(struct dump_context *ctx, struct dump_thread *thread)
{
	uint64_t altstack[3]; /* ss_sp, ss_flags (int + pad), ss_size */
	uint64_t tid_address = 0;
	int64_t results[THREAD_BATCH_MAX_CALLS];
	int ret = run_thread_batch(ctx, thread, results);

	if (ret == 0)
		ret = take_prctl_results(ctx, thread, results + BATCH_PRCTL_FIRST);
	if (ret == 0)
		ret = dump_read_memory(ctx, scratch_data(ctx) + SCRATCH_ALTSTACK, altstack,
				       sizeof(altstack));
	if (ret == 0)
		ret = dump_read_memory(ctx, scratch_data(ctx) + SCRATCH_TID_ADDRESS, &tid_address, 8);
	if (ret < 0)
		return ret;
	thread->record.altstack_sp = altstack[0];
	thread->record.altstack_flags = (uint32_t)altstack[1];
	thread->record.altstack_size = altstack[2];
	thread->record.clear_child_tid = tid_address;
	return 0;
}

static int collect_rseq_and_robust_list(struct dump_context *ctx, struct dump_thread *thread)
{
	struct rseq_configuration_v1 rseq = { 0 };
	uint64_t head = 0;
	size_t length = 0;

	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, thread->tid, (void *)sizeof(rseq), &rseq) < 0)
		return fail(ctx->err, errno, "reading rseq of task %d: %s", thread->tid,
			    strerror(errno));
	thread->record.rseq_address = rseq.rseq_abi_pointer;
	thread->record.rseq_length = rseq.rseq_abi_size;
	thread->record.rseq_signature = rseq.signature;
	if (syscall(SYS_get_robust_list, thread->tid, &head, &length) < 0)
		return fail(ctx->err, errno, "reading the robust list of task %d: %s", thread->tid,
			    strerror(errno));
	thread->record.robust_list = head;
	thread->record.robust_list_length = length;
	return 0;
}

/*
 * The first thread tells the image's xstate size and features, as the
 * kernel has them (CPUID in ckpt may be an emulator's: under valgrind it
 * reports fewer features, and AVX-512 state would be cut off silently).
 */
static int note_xstate_layout(struct dump_context *ctx, pid_t tid)
{
	struct ckpt_head *head = &ctx->shared->head;
	uint64_t features;
	size_t size;
	int ret;

	if (head->xstate_size)
		return 0;
	ret = ptrace_probe_xstate(tid, &size, &features, ctx->err);
	if (ret == 0 && (size < 576 || size > CKPT_MAX_XSTATE))
		ret = fail(ctx->err, EINVAL, "task %d: the kernel's xstate is %zu bytes", tid, size);
	if (ret < 0)
		return ret;
	head->xstate_size = (uint32_t)size;
	head->xfeatures = features;
	return 0;
}

static int collect_xstate(struct dump_context *ctx, struct dump_thread *thread)
{
	int ret = note_xstate_layout(ctx, thread->tid);
	size_t size = ctx->shared->head.xstate_size;

	if (ret < 0)
		return ret;
	thread->xstate = calloc(1, size);
	if (!thread->xstate)
		return fail(ctx->err, ENOMEM, "out of memory");
	thread->record.xstate_size = (uint32_t)size;
	return ptrace_get_xstate(thread->tid, thread->xstate, size, ctx->err);
}

/* The thread's own name: PR_SET_NAME and pthread_setname_np() are per thread. */
static int collect_comm(struct dump_context *ctx, struct dump_thread *thread)
{
	char path[80];
	_cleanup_free_ char *comm = NULL;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", ctx->pid, thread->tid);
	ret = read_whole_file(path, &comm, NULL, ctx->err);
	if (ret < 0)
		return ret;
	comm[strcspn(comm, "\n")] = '\0';
	snprintf(thread->record.comm, sizeof(thread->record.comm), "%s", comm);
	return 0;
}

int collect_thread(struct dump_context *ctx, struct dump_thread *thread)
{
	int ret;

	ret = collect_comm(ctx, thread);
	if (ret == 0)
		ret = collect_injected_state(ctx, thread);
	if (ret < 0)
		return ret;
	/* Only now: leaving the stop restored a mask sigsuspend had swapped in. */
	ret = ptrace_get_sigmask(thread->tid, &thread->record.sigmask, ctx->err);
	if (ret < 0)
		return ret;
	ret = collect_rseq_and_robust_list(ctx, thread);
	if (ret < 0)
		return ret;
	return collect_xstate(ctx, thread);
}

int write_threads(struct dump_context *ctx)
{
	for (size_t i = 0; i < ctx->thread_count; i++) {
		struct dump_thread *thread = &ctx->threads[i];
		struct iovec parts[2] = {
			{ &thread->record, sizeof(thread->record) },
			{ thread->xstate, thread->record.xstate_size },
		};
		int ret = image_write_record(ctx->writer, CKPT_RECORD_THREAD, parts, 2);

		if (ret < 0)
			return ret;
	}
	return write_seccomp_filters(ctx);
}

/* ---- restart side ---- */

#include "objects/restore.h"
#include "sys/cpu.h"

#ifndef RSEQ_FLAG_UNREGISTER
#define RSEQ_FLAG_UNREGISTER 1
#endif

static int restore_altstack(struct restore_context *ctx, size_t index)
{
	const struct ckpt_thread *thread = &ctx->image.threads[index].thread;
	uint64_t stack[3] = { thread->altstack_sp, 0, thread->altstack_size };
	uint64_t address;
	int ret;

	if (thread->altstack_flags & SS_DISABLE)
		return 0;
	ret = husk_put_data(ctx, 2048, stack, sizeof(stack), &address);
	if (ret < 0)
		return ret;
	return (int)thread_call(ctx, index, "sigaltstack", SYS_sigaltstack, address, 0, 0, 0);
}

/* Threads are created with main's name; each takes its own back. */
static int restore_comm(struct restore_context *ctx, size_t index)
{
	const struct ckpt_thread *thread = &ctx->image.threads[index].thread;
	uint64_t address;
	int ret = husk_put_data(ctx, 2560, thread->comm, sizeof(thread->comm), &address);

	if (ret < 0)
		return ret;
	return (int)thread_call(ctx, index, "prctl(PR_SET_NAME)", SYS_prctl, PR_SET_NAME, address,
				0, 0);
}

static int restore_one_thread_state(struct restore_context *ctx, size_t index)
{
	const struct ckpt_thread *thread = &ctx->image.threads[index].thread;
	int64_t ret = restore_comm(ctx, index);

	if (ret >= 0 && thread->robust_list)
		ret = thread_call(ctx, index, "set_robust_list", SYS_set_robust_list,
				  thread->robust_list, thread->robust_list_length, 0, 0);
	if (ret >= 0)
		ret = thread_call(ctx, index, "set_tid_address", SYS_set_tid_address,
				  thread->clear_child_tid, 0, 0, 0);
	if (ret >= 0)
		ret = restore_altstack(ctx, index);
	if (ret >= 0 && thread->rseq_address)
		ret = thread_call(ctx, index, "rseq", SYS_rseq, thread->rseq_address,
				  thread->rseq_length, 0, thread->rseq_signature);
	return ret < 0 ? (int)ret : 0;
}

int restore_thread_state(struct restore_context *ctx)
{
	for (size_t i = 0; i < ctx->image.thread_count; i++) {
		int ret = restore_one_thread_state(ctx, i);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/* A thread's PID as ckpt sees it (the same unless in a new PID namespace). */
static pid_t outer_tid(const struct restore_context *ctx, pid_t outer_pid, pid_t inner_tid)
{
	char path[96];

	if (!ctx->namespace_init)
		return inner_tid;
	snprintf(path, sizeof(path), "/proc/%d/task", outer_pid);
	return proc_find_by_inner_pid(ctx->namespace_init, path, inner_tid);
}

/* clone3 run by the husk's main thread, with the thread's own TID. */
static int clone_thread(struct restore_context *ctx, size_t index)
{
	pid_t tid = ctx->image.threads[index].thread.tid;
	uint64_t tid_address, args_address;
	struct clone_args args = {
		.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
			 CLONE_SYSVSEM,
		.set_tid_size = 1,
	};
	struct remote_task *task;
	int64_t created;
	int status;
	int ret = husk_put_data(ctx, 4096, &tid, sizeof(tid), &tid_address);

	args.set_tid = tid_address;
	if (ret == 0)
		ret = husk_put_data(ctx, 4096 + 64, &args, sizeof(args), &args_address);
	if (ret < 0)
		return ret;
	created = husk_call(ctx, "clone3 (thread)", SYS_clone3, args_address, sizeof(args), 0, 0, 0,
			    0);
	if (created < 0)
		return (int)created;
	ctx->thread_tids[index] = outer_tid(ctx, ctx->husk, tid);
	if (!ctx->thread_tids[index])
		return fail(ctx->err, ESRCH, "cannot find the new thread %d", tid);
	ret = ptrace_wait_stop(ctx->thread_tids[index], &status, ctx->err);
	if (ret < 0)
		return ret;
	task = &ctx->thread_tasks[index];
	remote_task_init(task, ctx->husk, ctx->thread_tids[index], ctx->err);
	task->area = ctx->task.area;
	return remote_task_ready(task, ctx->task.area.code);
}

int create_threads(struct restore_context *ctx)
{
	ctx->thread_tasks = calloc(ctx->image.thread_count, sizeof(*ctx->thread_tasks));
	if (!ctx->thread_tasks)
		return fail(ctx->err, ENOMEM, "out of memory");
	for (size_t i = 1; i < ctx->image.thread_count; i++) {
		int ret = clone_thread(ctx, i);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The thread's xstate, moved to this CPU's layout when the image's differs. */
static int load_xstate(struct restore_context *ctx, pid_t tid, const struct image_thread *thread)
{
	_cleanup_free_ uint8_t *xstate = NULL;
	size_t size;
	int ret = convert_xstate_for_cpu(thread->xstate, ctx->image.head.xfeatures,
					 thread->thread.xstate_size, &xstate, &size, ctx->err);

	if (ret < 0)
		return ret;
	return ptrace_set_xstate(tid, xstate, size, ctx->err);
}

static int load_registers_of(struct restore_context *ctx, size_t index)
{
	const struct image_thread *thread = &ctx->image.threads[index];
	pid_t tid = ctx->thread_tids[index];
	struct user_regs_struct regs;
	int ret;

	memcpy(&regs, thread->thread.regs, sizeof(regs));
	regs.orig_rax = (uint64_t)-1;
	ret = load_xstate(ctx, tid, thread);
	if (ret == 0)
		ret = ptrace_set_regs(tid, &regs, ctx->err);
	if (ret == 0)
		ret = ptrace_set_sigmask(tid, thread->thread.sigmask, ctx->err);
	return ret;
}

/*
 * The last step: every other thread gets its registers, then the main
 * thread unmaps the control area with a syscall that stops at its exit,
 * where its own registers are loaded.
 */
int load_thread_registers(struct restore_context *ctx)
{
	const uint64_t unmap_args[6] = { ctx->control, CONTROL_SIZE };
	int ret;

	for (size_t i = 1; i < ctx->image.thread_count; i++) {
		ret = load_registers_of(ctx, i);
		if (ret < 0)
			return ret;
	}
	ret = remote_final_call(&ctx->task, SYS_munmap, unmap_args);
	if (ret == 0)
		ret = load_registers_of(ctx, 0);
	return ret;
}

int unregister_husk_rseq(struct restore_context *ctx)
{
	struct rseq_configuration_v1 rseq = { 0 };

	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, ctx->husk, (void *)sizeof(rseq), &rseq) < 0)
		return fail(ctx->err, errno, "reading rseq of the new process: %s", strerror(errno));
	if (!rseq.rseq_abi_pointer)
		return 0;
	return (int)husk_call(ctx, "rseq unregister", SYS_rseq, rseq.rseq_abi_pointer,
			      rseq.rseq_abi_size, RSEQ_FLAG_UNREGISTER, rseq.signature, 0, 0);
}
