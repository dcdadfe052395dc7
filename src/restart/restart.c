/* SPDX-License-Identifier: MIT */
/*
 * The restart pipeline: read and check the tree, create every process as a
 * husk with its original PID (each a child of its parent's husk), then
 * rebuild each process inside its husk by injected syscalls, in stream
 * order, load its registers, and let the whole tree go.  On any failure the
 * husks are killed: no half-built process remains.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault.h"
#include "objects/event_files.h"
#include "objects/restore.h"
#include "restart/husks.h"
#include "util.h"

static int stall_timeout_ms(const struct ckpt_options *options)
{
	int seconds = options->read_timeout_seconds;

	if (seconds < 0)
		return 0;
	if (seconds == 0)
		seconds = CKPT_DEFAULT_READ_TIMEOUT;
	return seconds > INT32_MAX / 1000 ? INT32_MAX : seconds * 1000;
}

static int check_image_fd(struct restore_context *ctx, int fd)
{
	if (fcntl(fd, F_GETFL) < 0)
		return fail(ctx->err, EBADF, "reading the image: fd %d is not open", fd);
	return 0;
}

static int prepare(struct restore_context *ctx, int fd)
{
	int ret = check_image_fd(ctx, fd);

	if (ret == 0)
		ret = fault_point(ctx->err, "restart.read");
	image_reader_init(&ctx->reader, fd, ctx->err);
	ctx->reader.stall_timeout_ms = stall_timeout_ms(ctx->options);
	if (ret == 0)
		ret = image_load_tree(&ctx->reader, &ctx->tree, &ctx->next);
	if (ret == 0)
		ret = fault_point(ctx->err, "restart.prepare");
	if (ret == 0)
		ret = check_tree_restartable(ctx);
	if (ret == 0)
		ret = check_groups_restorable(ctx);
	if (ret == 0)
		ret = check_files_restorable(ctx);
	if (ret == 0)
		ret = stage_files(ctx);
	if (ret == 0)
		ret = fault_point(ctx->err, "restart.husk");
	return ret;
}

static void pin_to_one_cpu(struct restore_context *ctx)
{
	cpu_set_t one;
	int cpu = sched_getcpu();

	if (ctx->affinity_changed || cpu < 0 ||
	    sched_getaffinity(0, sizeof(ctx->saved_affinity), &ctx->saved_affinity) < 0)
		return;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	sched_setaffinity(0, sizeof(one), &one);
	ctx->affinity_changed = true;
}

static void unpin(struct restore_context *ctx)
{
	if (!ctx->affinity_changed)
		return;
	sched_setaffinity(0, sizeof(ctx->saved_affinity), &ctx->saved_affinity);
	ctx->affinity_changed = false;
}

/* Seizes every live husk; their threads come later, traced on creation. */
static int seize_husks(struct restore_context *ctx)
{
	int ret = fault_point(ctx->err, "restart.seize");

	ctx->seized = calloc(ctx->tree.entry_count, sizeof(*ctx->seized));
	if (!ctx->seized)
		return fail(ctx->err, ENOMEM, "out of memory");
	for (size_t i = 0; ret == 0 && i < ctx->tree.entry_count; i++) {
		if (ctx->tree.entries[i].state != CKPT_TREE_ALIVE)
			continue;
		ret = ptrace_seize_and_stop(ctx->outer_pids[i],
					    PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE, ctx->err);
		if (ret >= 0)
			ctx->seized[i] = true;
	}
	return ret < 0 ? ret : 0;
}

/* A page holding a syscall instruction, and pages for syscall arguments. */
static int setup_control_area(struct restore_context *ctx)
{
	static const unsigned char code[8] = { 0x0f, 0x05, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc };
	int ret = choose_control_area(ctx);

	if (ret == 0)
		ret = remote_map_area(&ctx->task, ctx->control, CONTROL_CODE_SIZE,
				      CONTROL_DATA_SIZE, code, sizeof(code));
	if (ret == 0)
		remote_set_gadget(&ctx->task, ctx->task.area.code);
	return ret;
}

static int close_staged_in_husk(struct restore_context *ctx)
{
	int64_t result = husk_call(ctx, "close_range", SYS_close_range, (uint64_t)ctx->stage_base,
				   ~0u, 0, 0, 0, 0);

	return result < 0 ? (int)result : 0;
}

static pid_t files_owner_of(const struct ckpt_tree_entry *entry)
{
	return shares_with_other(entry->files_owner, entry->pid) ? entry->files_owner : entry->pid;
}

/*
 * Staged fds stay in a shared fd table until the last process holding it
 * is rebuilt: the later ones map their files from them.
 */
static bool table_still_needed(const struct restore_context *ctx)
{
	pid_t owner = files_owner_of(&ctx->image.entry);

	for (size_t i = ctx->tree.next_entry; i < ctx->tree.entry_count; i++) {
		const struct ckpt_tree_entry *later = &ctx->tree.entries[i];

		if (later->state == CKPT_TREE_ALIVE && files_owner_of(later) == owner)
			return true;
	}
	return false;
}

/*
 * Each step with the fault point that can fail it on purpose, and when it
 * is left out: a memory map or fd table shared with an earlier process of
 * the tree was rebuilt by that process and must not be touched again.
 */
static const struct rebuild_step {
	const char *fault;
	int (*run)(struct restore_context *ctx);
	bool (*skip)(const struct restore_context *ctx);
} rebuild_steps[] = {
	{ "restart.control", check_restart_allowed, NULL },
	{ "restart.sharing", use_shared_mm_gadget, NULL },
	{ "restart.control", setup_control_area, NULL },
	{ "restart.unmap", unregister_husk_rseq, NULL },
	{ "restart.unmap", clear_husk_layout, restores_shared_mm },
	{ "restart.vdso", move_vdso, restores_shared_mm },
	{ "restart.mmap", map_vmas, restores_shared_mm },
	{ "restart.pages", fill_pages, restores_shared_mm },
	{ "restart.protect", protect_vmas, restores_shared_mm },
	{ "restart.mm", restore_mm_fields, restores_shared_mm },
	{ "restart.fds", restore_fds, restores_shared_files },
	{ "restart.epoll", connect_fds, restores_shared_files },
	{ "restart.process", restore_process_attributes, NULL },
	{ "restart.sigactions", restore_sigactions, NULL },
	{ "restart.fds", close_staged_in_husk, table_still_needed },
	{ "restart.locks", restore_locks, NULL },
	{ "restart.process", restore_loginuid, NULL },
	{ "restart.thread", create_threads, NULL },
	{ "restart.thread", restore_thread_state, NULL },
	{ "restart.seccomp", restore_seccomp, NULL },
	{ "restart.creds", restore_rlimits, NULL },
	{ "restart.creds", restore_creds, NULL },
	{ "restart.signals", drop_stray_sigchld, NULL },
	{ "restart.signals", restore_pending_signals, NULL },
	{ "restart.timers", restore_timers, NULL },
	{ "restart.timers", restore_posix_timers, NULL },
	{ "restart.prctl", restore_prctl, NULL },
	{ "restart.sched", restore_sched, NULL },
	{ "restart.registers", load_thread_registers, NULL },
};

static int run_rebuild_step(struct restore_context *ctx, const struct rebuild_step *step)
{
	int ret;

	if (step->skip && step->skip(ctx))
		return 0;
	ret = fault_point(ctx->err, step->fault);
	if (ret == 0)
		ret = step->run(ctx);
	return ret;
}

static int remember_threads(struct restore_context *ctx)
{
	size_t count = ctx->image.thread_count;
	pid_t *grown = realloc(ctx->handover_tids, (ctx->handover_count + count) * sizeof(*grown));

	if (!grown)
		return fail(ctx->err, ENOMEM, "out of memory");
	ctx->handover_tids = grown;
	for (size_t i = 0; i < count; i++)
		grown[ctx->handover_count++] = ctx->thread_tids[i];
	return 0;
}

static void forget_process(struct restore_context *ctx)
{
	image_process_free(&ctx->image);
	free(ctx->merge_guarded);
	free(ctx->thread_tasks);
	free(ctx->thread_tids);
	ctx->merge_guarded = NULL;
	ctx->thread_tasks = NULL;
	ctx->thread_tids = NULL;
	ctx->control = 0;
	ctx->task.area = (struct remote_area){ 0 };
}

static pid_t outer_pid_of(const struct restore_context *ctx, pid_t inner)
{
	for (size_t i = 0; i < ctx->tree.entry_count; i++) {
		if (ctx->tree.entries[i].pid == inner)
			return ctx->outer_pids[i];
	}
	return inner;
}

/* One process, from its PROCESS record to its last page; it stays stopped. */
static int rebuild_process(struct restore_context *ctx)
{
	struct image_record first = ctx->next;
	int ret = image_load_process(&ctx->reader, &ctx->tree, &first, &ctx->image, &ctx->next);

	ctx->husk = outer_pid_of(ctx, ctx->image.process.pid);
	ctx->vma_total += ctx->image.vma_count;
	ctx->thread_tids = calloc(ctx->image.thread_count + 1, sizeof(*ctx->thread_tids));
	if (ret == 0 && !ctx->thread_tids)
		ret = fail(ctx->err, ENOMEM, "out of memory");
	if (ret == 0)
		ctx->thread_tids[0] = ctx->husk;
	remote_task_init(&ctx->task, ctx->husk, ctx->husk, ctx->err);
	if (ret == 0)
		ret = remote_task_ready(&ctx->task, (uint64_t)(uintptr_t)ckpt_syscall_gadget);
	for (size_t i = 0; ret == 0 && i < ARRAY_SIZE(rebuild_steps); i++)
		ret = run_rebuild_step(ctx, &rebuild_steps[i]);
	if (ret == 0)
		ret = remember_threads(ctx);
	ctx->injected_syscalls += ctx->task.injector.call_count;
	forget_process(ctx);
	return ret;
}

static int rebuild_all(struct restore_context *ctx)
{
	int ret = 0;

	pin_to_one_cpu(ctx);
	while (ret == 0 && ctx->next.type == CKPT_RECORD_PROCESS)
		ret = rebuild_process(ctx);
	if (ret == 0 && ctx->next.type != CKPT_RECORD_TAIL)
		ret = fail(ctx->err, EINVAL,
			   "bad image: %s record where PROCESS or TAIL was expected",
			   record_type_name(ctx->next.type));
	if (ret == 0 && ctx->reader.record_count && ctx->tree.next_entry < ctx->tree.entry_count) {
		for (size_t i = ctx->tree.next_entry; i < ctx->tree.entry_count; i++) {
			if (ctx->tree.entries[i].state == CKPT_TREE_ALIVE)
				return fail(ctx->err, EINVAL,
					    "bad image: process %d of the tree is missing",
					    ctx->tree.entries[i].pid);
		}
	}
	return ret;
}

static int hand_over_tree(struct restore_context *ctx)
{
	int ret = fault_point(ctx->err, "restart.handover");

	if (ret < 0)
		return ret;
	unpin(ctx);
	for (size_t i = 0; i < ctx->handover_count; i++)
		ptrace_detach(ctx->handover_tids[i], 0);
	let_namespace_init_go(ctx);
	memset(ctx->seized, 0, ctx->tree.entry_count * sizeof(*ctx->seized));
	return 0;
}

static void report_stats(struct restore_context *ctx, uint64_t started)
{
	struct ckpt_stats *stats = ctx->options->stats;

	if (!stats)
		return;
	stats->total_ns = monotonic_ns() - started;
	stats->memory_ns = ctx->memory_ns;
	stats->image_bytes = ctx->reader.offset;
	stats->page_count = ctx->pages_restored;
	stats->vma_count = ctx->vma_total;
	stats->injected_syscalls = ctx->injected_syscalls;
}

static void free_restore_context(struct restore_context *ctx)
{
	forget_process(ctx);
	close_staged_files(ctx);
	free(ctx->seized);
	free(ctx->outer_pids);
	free(ctx->handover_tids);
	free(ctx->shmem_owners);
	free(ctx->epolls_filled);
	image_tree_free(&ctx->tree);
	image_reader_free(&ctx->reader);
}

int ckpt_restart(int fd, struct ckpt_options *options, pid_t *ret_pid)
{
	struct ckpt_options no_options = { 0 };
	struct ckpt_error err = { 0 };
	struct restore_context ctx = { .err = &err, .report_fd = -1, .go_fd = -1 };
	uint64_t started = monotonic_ns();
	int was_subreaper = 0;
	int ret;

	ctx.options = options ? options : &no_options;
	prctl(PR_GET_CHILD_SUBREAPER, &was_subreaper, 0, 0, 0);
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); /* orphaned husks come back to us */
	ret = prepare(&ctx, fd);
	if (ret == 0)
		ret = create_husk_tree(&ctx);
	if (ret == 0)
		ret = seize_husks(&ctx);
	if (ret == 0)
		ret = rebuild_all(&ctx);
	if (ret == 0)
		ret = seal_files(&ctx);
	if (ret == 0)
		ret = hand_over_tree(&ctx);
	unpin(&ctx);
	if (ret < 0)
		kill_husk_tree(&ctx);
	else
		*ret_pid = ctx.root;
	prctl(PR_SET_CHILD_SUBREAPER, was_subreaper, 0, 0, 0);
	report_stats(&ctx, started);
	free_restore_context(&ctx);
	if (ret < 0 && ctx.options->error && ctx.options->error_size)
		snprintf(ctx.options->error, ctx.options->error_size, "%s", err.message);
	return ret;
}
