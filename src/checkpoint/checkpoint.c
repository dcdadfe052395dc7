/* SPDX-License-Identifier: MIT */
/*
 * The checkpoint pipeline: freeze, collect, write, then let the target go
 * (or kill it).  On any failure the target is released exactly as it was.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "objects/dump.h"
#include "fault.h"
#include "util.h"

static int find_gadget(struct dump_context *ctx)
{
	return remote_find_vdso_gadget(&ctx->threads[0].task, &ctx->gadget);
}

/* The scratch area, and the thread batch in its first code page. */
static int map_scratch(struct dump_context *ctx)
{
	struct dump_thread *main_thread = &ctx->threads[0];
	int ret = dump_check_interrupt(ctx->shared);

	if (ret == 0)
		ret = dump_ready_injector(ctx, main_thread);
	if (ret < 0)
		return ret;
	ret = remote_map_area(&main_thread->task, 0, SCRATCH_CODE_PAGES * CKPT_PAGE_SIZE,
			      SCRATCH_DATA_PAGES * CKPT_PAGE_SIZE, NULL, 0);
	ctx->shared->injected_syscalls++;
	if (ret == 0)
		ret = prepare_thread_batch(ctx);
	return ret;
}

static int unmap_scratch(struct dump_context *ctx)
{
	if (!scratch_code(ctx))
		return 0;
	ctx->shared->injected_syscalls++;
	return remote_unmap_area(&ctx->threads[0].task);
}

static int leave_scratch(struct dump_context *ctx)
{
	int ret = dump_check_interrupt(ctx->shared);

	return ret < 0 ? ret : unmap_scratch(ctx);
}

static int read_boot_id(uint8_t boot_id[16])
{
	char *text = NULL;
	struct ckpt_error ignored = { 0 };
	int at = 0;

	if (read_whole_file("/proc/sys/kernel/random/boot_id", &text, NULL, &ignored) < 0)
		return 0;
	for (const char *c = text; *c && at < 32; c++) {
		unsigned int nibble;

		if (sscanf(c, "%1x", &nibble) != 1)
			continue;
		boot_id[at / 2] = (uint8_t)(boot_id[at / 2] << 4 | nibble);
		at++;
	}
	free(text);
	return 0;
}

static void fill_head(struct dump_shared *shared)
{
	struct ckpt_head *head = &shared->head;
	struct timespec now;
	struct utsname names;

	memcpy(head->magic, CKPT_IMAGE_MAGIC, sizeof(head->magic));
	head->version = CKPT_FORMAT_VERSION;
	head->arch = CKPT_ARCH_X86_64;
	head->page_size = CKPT_PAGE_SIZE;
	/* xstate_size and xfeatures: from the kernel, with the first thread's xstate */
	clock_gettime(CLOCK_REALTIME, &now);
	head->realtime_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	head->monotonic_ns = monotonic_ns();
	read_boot_id(head->boot_id);
	if (uname(&names) == 0)
		snprintf(head->kernel_release, sizeof(head->kernel_release), "%s", names.release);
	snprintf(head->tool_version, sizeof(head->tool_version), "ckpt %s", CKPT_VERSION);
}

static int collect_threads(struct dump_context *ctx)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < ctx->thread_count; i++)
		ret = collect_thread(ctx, &ctx->threads[i]);
	return ret;
}

/* A memory map or fd table shared with an earlier process of the tree is that one's. */
static bool dumps_shared_mm(const struct dump_context *ctx)
{
	return ctx->shares_mm;
}

static bool dumps_shared_files(const struct dump_context *ctx)
{
	return ctx->shares_files;
}

/*
 * The checkpoint of one process, as steps: each with the fault point that
 * can fail it on purpose, and when it is left out.  The memory steps run
 * after every process's state, and can run alone (a pre-copy round).
 */
struct checkpoint_step {
	const char *fault; /* or NULL */
	int (*run)(struct dump_context *ctx);
	bool (*skip)(const struct dump_context *ctx);
};

/* Everything read by running syscalls inside the target, then the rest. */
static const struct checkpoint_step state_steps[] = {
	{ NULL, collect_thread_status, NULL },
	{ NULL, find_gadget, NULL },
	{ "checkpoint.scratch", map_scratch, NULL },
	{ "checkpoint.threads", collect_threads, NULL },
	{ "checkpoint.sigactions", collect_sigactions, NULL },
	{ NULL, collect_timers, NULL },
	{ NULL, collect_posix_timers, NULL },
	{ NULL, collect_pending_signals, NULL },
	{ NULL, collect_sched, NULL },
	{ "checkpoint.mm", collect_mm, NULL },
	{ NULL, leave_scratch, NULL },
	{ "checkpoint.process", collect_process, NULL },
	{ NULL, collect_creds, NULL },
	{ NULL, collect_rlimits, NULL },
	{ "checkpoint.files", collect_fds, dumps_shared_files },
	{ NULL, collect_locks, NULL },
};

static const struct checkpoint_step memory_steps[] = {
	{ "checkpoint.vmas", collect_vmas, dumps_shared_mm },
	{ "checkpoint.scan", scan_pages, dumps_shared_mm },
};

/* The process's records, in stream order. */
static const struct checkpoint_step write_steps[] = {
	{ NULL, write_process, NULL },	    { NULL, write_sigactions, NULL },
	{ NULL, write_posix_timers, NULL }, { NULL, write_fds, NULL },
	{ NULL, write_locks, NULL },	    { NULL, write_mm, NULL },
	{ NULL, write_threads, NULL },	    { NULL, write_pending_signals, NULL },
	{ NULL, write_vmas, NULL },	    { "checkpoint.pages", write_pages, NULL },
};

static int run_steps(struct dump_context *ctx, const struct checkpoint_step *steps, size_t count)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < count; i++) {
		if (steps[i].skip && steps[i].skip(ctx))
			continue;
		if (steps[i].fault)
			ret = fault_point(ctx->err, steps[i].fault);
		if (ret == 0)
			ret = steps[i].run(ctx);
	}
	return ret;
}

static int write_image(struct dump_tree *tree)
{
	struct dump_shared *shared = &tree->shared;
	int ret = fault_point(shared->err, "checkpoint.write");

	if (ret == 0)
		ret = image_write_simple(&shared->writer, CKPT_RECORD_HEAD, &shared->head,
					 sizeof(shared->head));
	if (ret == 0)
		ret = write_tree(tree);
	if (ret == 0)
		ret = write_files(shared);
	for (size_t i = 0; ret == 0 && i < tree->process_count; i++)
		ret = run_steps(&tree->processes[i], write_steps, ARRAY_SIZE(write_steps));
	if (ret == 0)
		ret = image_write_tail(&shared->writer);
	return ret;
}

static int sync_and_commit(struct dump_shared *shared, int fd)
{
	struct stat st;
	int ret = fault_point(shared->err, "checkpoint.sync");

	if (ret < 0)
		return ret;
	if ((shared->options->flags & CKPT_OPT_SYNC) && fstat(fd, &st) == 0 &&
	    S_ISREG(st.st_mode) && fsync(fd) < 0)
		return fail(shared->err, errno, "syncing the image: %s", strerror(errno));
	ret = fault_point(shared->err, "checkpoint.commit");
	if (ret == 0)
		ret = dump_check_interrupt(shared);
	if (ret == 0 && shared->options->commit)
		ret = shared->options->commit(shared->options->commit_arg);
	if (ret > 0)
		ret = -ret;
	if (ret < 0 && !failed(shared->err))
		fail(shared->err, ret, "finishing the image: %s", strerror(-ret));
	return ret;
}

/* The tracer must collect every traced thread's exit before the leader's. */
static void reap_killed(struct dump_context *ctx)
{
	for (size_t i = ctx->thread_count; i-- > 0;) {
		if (ctx->threads[i].seized)
			reap_killed_thread(ctx->threads[i].tid);
	}
}

static void let_go_of_target(struct dump_context *ctx)
{
	if (ctx->thread_count)
		unmap_scratch(ctx);
	for (size_t i = 0; i < ctx->thread_count; i++) {
		const struct dump_thread *thread = &ctx->threads[i];

		if (thread->seized)
			let_go_of_frozen_thread(&thread->task,
						thread->injector_ready ? &thread->resume_regs : NULL);
	}
}

static void let_go_of_tree(struct dump_tree *tree, bool kill_it)
{
	for (size_t i = 0; kill_it && i < tree->process_count; i++)
		kill(tree->processes[i].pid, SIGKILL);
	for (size_t i = tree->process_count; i-- > 0;) {
		if (kill_it)
			reap_killed(&tree->processes[i]);
		else
			let_go_of_target(&tree->processes[i]);
	}
	tree->shared.let_go_at_ns = monotonic_ns();
}

/*
 * With --kill the tree dies only once the image is synced and committed.
 * Otherwise it goes on as soon as the image is written: syncing it does not
 * need it stopped, and a failure then costs it nothing.
 */
static int finish(struct dump_tree *tree, int fd, int ret)
{
	bool kill_it = tree->shared.options->flags & CKPT_OPT_KILL;

	if (!kill_it) {
		let_go_of_tree(tree, false);
		return ret == 0 ? sync_and_commit(&tree->shared, fd) : ret;
	}
	if (ret == 0)
		ret = sync_and_commit(&tree->shared, fd);
	let_go_of_tree(tree, ret == 0);
	return ret;
}

static void free_dump_context(struct dump_context *ctx)
{
	for (size_t i = 0; i < ctx->thread_count; i++) {
		free(ctx->threads[i].xstate);
		free_thread_seccomp(&ctx->threads[i]);
	}
	for (size_t i = 0; i < ctx->vma_count; i++)
		free(ctx->vmas[i].runs.runs);
	free(ctx->threads);
	free(ctx->fds);
	free(ctx->vmas);
	free(ctx->cwd);
	free(ctx->groups);
	free(ctx->pending);
	free(ctx->locks);
	free(ctx->posix_timers);
}

static void free_dump_tree(struct dump_tree *tree)
{
	struct dump_shared *shared = &tree->shared;

	for (size_t i = 0; i < tree->process_count; i++)
		free_dump_context(&tree->processes[i]);
	free_dump_files(shared);
	free(shared->fd_owners);
	free(shared->shmem_claims);
	free(tree->processes);
	free(tree->entries);
}

static void report(struct dump_tree *tree, uint64_t started, uint64_t memory_started)
{
	struct dump_shared *shared = &tree->shared;
	struct ckpt_stats *stats = shared->options->stats;
	uint64_t now = monotonic_ns();

	if (!stats)
		return;
	stats->total_ns = now - started;
	stats->frozen_ns = shared->frozen_at_ns ? shared->let_go_at_ns - shared->frozen_at_ns : 0;
	stats->memory_ns = memory_started ? now - memory_started : 0;
	stats->image_bytes = shared->writer.stream_bytes;
	stats->page_count = shared->writer.page_count;
	for (size_t i = 0; i < tree->process_count; i++)
		stats->vma_count += tree->processes[i].vma_count;
	stats->injected_syscalls = shared->injected_syscalls;
	for (size_t i = 0; i < tree->process_count; i++) {
		for (size_t j = 0; j < tree->processes[i].thread_count; j++)
			stats->injected_ns += tree->processes[i].threads[j].task.injector.injected_ns;
	}
}

static void copy_error(struct ckpt_options *options, const struct ckpt_error *err)
{
	if (options->error && options->error_size)
		snprintf(options->error, options->error_size, "%s", err->message);
}

static int collect_all(struct dump_tree *tree, pid_t pid)
{
	struct ckpt_error *err = tree->shared.err;
	int ret;

	if (pid <= 0)
		return fail(err, EINVAL, "bad process id %d", pid);
	if (pid == getpid())
		return fail(err, EINVAL, "ckpt cannot checkpoint itself");
	fill_head(&tree->shared);
	ret = collect_tree(tree, pid);
	if (ret == 0)
		ret = collect_sharing(tree);
	if (ret == 0)
		ret = survey_file_kinds(tree);
	for (size_t i = 0; ret == 0 && i < tree->process_count; i++)
		ret = run_steps(&tree->processes[i], state_steps, ARRAY_SIZE(state_steps));
	for (size_t i = 0; ret == 0 && i < tree->process_count; i++)
		ret = run_steps(&tree->processes[i], memory_steps, ARRAY_SIZE(memory_steps));
	if (ret == 0)
		ret = check_collected_files(&tree->shared);
	return ret;
}

/*
 * SIGPIPE is blocked while the image is written, so a reader that goes
 * away makes a write fail with EPIPE instead of killing the caller in the
 * middle; one raised meanwhile (thread-directed) is taken off the queue.
 */
struct sigpipe_guard {
	sigset_t old_mask;
	bool was_pending;
};

static void block_sigpipe(struct sigpipe_guard *guard)
{
	sigset_t pipe_set, pending;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &guard->old_mask);
	sigpending(&pending);
	guard->was_pending = sigismember(&pending, SIGPIPE);
}

static void unblock_sigpipe(struct sigpipe_guard *guard)
{
	const struct timespec no_wait = { 0, 0 };
	sigset_t pipe_set;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	if (!guard->was_pending)
		while (sigtimedwait(&pipe_set, NULL, &no_wait) == SIGPIPE)
			;
	pthread_sigmask(SIG_SETMASK, &guard->old_mask, NULL);
}

int ckpt_checkpoint(pid_t pid, int fd, struct ckpt_options *options)
{
	struct ckpt_options no_options = { 0 };
	struct ckpt_error err = { 0 };
	struct dump_tree tree = { .shared = { .err = &err } };
	uint64_t started = monotonic_ns(), memory_started;
	struct sigpipe_guard guard;
	int ret;

	tree.shared.options = options ? options : &no_options;
	image_writer_init(&tree.shared.writer, fd, &err);
	tree.shared.writer.interrupt = tree.shared.options->interrupt;
	block_sigpipe(&guard);
	ret = collect_all(&tree, pid);
	memory_started = monotonic_ns();
	if (ret == 0)
		ret = write_image(&tree);
	ret = finish(&tree, fd, ret);
	unblock_sigpipe(&guard);
	report(&tree, started, memory_started);
	free_dump_tree(&tree);
	image_writer_close(&tree.shared.writer);
	if (ret < 0)
		copy_error(tree.shared.options, &err);
	return ret;
}
