/* SPDX-License-Identifier: MIT */
/*
 * The checkpoint pipeline: freeze, collect, write, then let the target go
 * (or kill it).  On any failure the target is released exactly as it was.
 */
#include <errno.h>
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

#include "checkpoint.h"
#include "fault.h"
#include "util.h"

int64_t dump_inject(struct dump_context *ctx, struct dump_thread *thread, const char *what,
		    long number, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	int64_t result;

	if (!thread->injector_ready) {
		int ret = injector_init(&thread->injector, thread->tid, ctx->gadget, ctx->err);

		if (ret < 0)
			return ret;
		thread->injector_ready = true;
	}
	result = inject(&thread->injector, what, number, a0, a1, a2, a3, 0, 0);
	ctx->shared->injected_syscalls++;
	return result;
}

int dump_read_memory(struct dump_context *ctx, uint64_t address, void *buffer, size_t length)
{
	struct iovec local = { buffer, length };
	struct iovec remote = { (void *)(uintptr_t)address, length };

	if (process_vm_readv(ctx->pid, &local, 1, &remote, 1, 0) != (ssize_t)length)
		return fail(ctx->err, errno ? errno : EIO, "reading memory of process %d at %#llx: %s",
			    ctx->pid, (unsigned long long)address, strerror(errno));
	return 0;
}

static bool is_seized(const struct dump_context *ctx, pid_t tid)
{
	for (size_t i = 0; i < ctx->thread_count; i++) {
		if (ctx->threads[i].tid == tid)
			return true;
	}
	return false;
}

static int seize_thread(struct dump_context *ctx, pid_t tid)
{
	struct dump_thread *grown = realloc(ctx->threads, (ctx->thread_count + 1) * sizeof(*grown));
	struct dump_thread *thread;
	int ret;

	if (!grown)
		return fail(ctx->err, ENOMEM, "out of memory");
	ctx->threads = grown;
	thread = &grown[ctx->thread_count];
	memset(thread, 0, sizeof(*thread));
	thread->tid = tid;
	thread->restarted_syscall = find_restarted_syscall(ctx->pid, tid);
	ret = ptrace_seize_and_stop(tid, 0, ctx->err);
	if (ret < 0 && tid != ctx->pid && ret == -ESRCH) {
		ctx->err->code = 0;	/* a thread that just exited */
		return 0;
	}
	thread->seized = true;	/* seized even if the stop failed: detach it */
	ctx->thread_count++;
	if (ret < 0)
		return ret;
	if (ret > 0)
		thread->deferred_signals |= 1ull << (ret - 1);
	ret = ptrace_get_regs(tid, &thread->frozen_regs, ctx->err);
	if (ret == 0)
		plan_thread_resume(thread);
	return ret;
}

/* Seizes every thread, again and again until no new one shows up. */
int freeze_process(struct dump_context *ctx)
{
	bool found_new = true;
	int ret = fault_point(ctx->err, "checkpoint.freeze");

	if (!ctx->shared->frozen_at_ns)
		ctx->shared->frozen_at_ns = monotonic_ns();
	if (ret == 0)
		ret = seize_thread(ctx, ctx->pid);	/* the image lists it first */
	if (ret == 0 && ctx->thread_count == 0)
		ret = fail(ctx->err, ESRCH, "no process %d", ctx->pid);
	while (ret == 0 && found_new) {
		_cleanup_free_ pid_t *tids = NULL;
		size_t count = 0;

		found_new = false;
		ret = list_thread_ids(ctx->pid, &tids, &count, ctx->err);
		for (size_t i = 0; ret == 0 && i < count; i++) {
			if (is_seized(ctx, tids[i]))
				continue;
			found_new = true;
			ret = seize_thread(ctx, tids[i]);
		}
	}
	return ret;
}

static int find_vdso_gadget(struct dump_context *ctx)
{
	struct proc_vma_list list;
	unsigned char code[8192];
	int ret = proc_read_vmas(ctx->pid, false, &list, ctx->err);

	for (size_t i = 0; ret == 0 && i < list.count && !ctx->gadget; i++) {
		size_t length = list.vmas[i].end - list.vmas[i].start;

		if (strcmp(list.vmas[i].name, "[vdso]") != 0 || length > sizeof(code))
			continue;
		ret = dump_read_memory(ctx, list.vmas[i].start, code, length);
		for (size_t at = 0; ret == 0 && at + 1 < length; at++) {
			if (code[at] == 0x0f && code[at + 1] == 0x05) {
				ctx->gadget = list.vmas[i].start + at;
				break;
			}
		}
	}
	proc_vma_list_release(&list);
	if (ret == 0 && !ctx->gadget)
		return fail(ctx->err, ENOTSUP, "process %d has no vDSO to run syscalls in", ctx->pid);
	return ret;
}

static int map_scratch(struct dump_context *ctx)
{
	int64_t address;
	int ret = find_vdso_gadget(ctx);

	if (ret == 0)
		ret = fault_point(ctx->err, "checkpoint.scratch");
	if (ret < 0)
		return ret;
	address = dump_inject(ctx, &ctx->threads[0], "mmap", SYS_mmap, 0, 2 * CKPT_PAGE_SIZE,
			      PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS);
	if (address < 0)
		return (int)address;
	ctx->scratch_code = (uint64_t)address;
	ctx->scratch = (uint64_t)address + CKPT_PAGE_SIZE;
	return prepare_thread_batch(ctx);
}

static int unmap_scratch(struct dump_context *ctx)
{
	int64_t ret;

	if (!ctx->scratch)
		return 0;
	ret = dump_inject(ctx, &ctx->threads[0], "munmap", SYS_munmap, ctx->scratch_code,
			  2 * CKPT_PAGE_SIZE, 0, 0);
	ctx->scratch = 0;
	ctx->scratch_code = 0;
	return ret < 0 ? (int)ret : 0;
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
	head->xstate_size = (uint32_t)cpu_xstate_size();
	head->xfeatures = cpu_xfeatures();
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
	int ret = fault_point(ctx->err, "checkpoint.threads");

	for (size_t i = 0; ret == 0 && i < ctx->thread_count; i++)
		ret = collect_thread(ctx, &ctx->threads[i]);
	return ret;
}

/* Everything read by running syscalls inside the target, then the rest. */
static int collect_state(struct dump_context *ctx)
{
	int ret = collect_thread_status(ctx);

	if (ret == 0)
		ret = map_scratch(ctx);
	if (ret == 0)
		ret = collect_threads(ctx);
	if (ret == 0)
		ret = fault_point(ctx->err, "checkpoint.sigactions");
	if (ret == 0)
		ret = collect_sigactions(ctx);
	if (ret == 0)
		ret = collect_timers(ctx);
	if (ret == 0)
		ret = collect_pending_signals(ctx);
	if (ret == 0)
		ret = fault_point(ctx->err, "checkpoint.mm");
	if (ret == 0)
		ret = collect_mm(ctx);
	if (ret == 0)
		ret = unmap_scratch(ctx);
	if (ret == 0)
		ret = fault_point(ctx->err, "checkpoint.process");
	if (ret == 0)
		ret = collect_process(ctx);
	if (ret == 0)
		ret = collect_creds(ctx);
	if (ret == 0)
		ret = collect_rlimits(ctx);
	if (ret == 0)
		ret = fault_point(ctx->err, "checkpoint.files");
	if (ret == 0 && !ctx->shares_files)
		ret = collect_fds(ctx);	/* the owner of a shared fd table has them */
	return ret;
}

static int collect_memory(struct dump_context *ctx)
{
	int ret = fault_point(ctx->err, "checkpoint.vmas");

	if (ctx->shares_mm)
		return ret;	/* the owner of a shared memory map has it */
	if (ret == 0)
		ret = collect_vmas(ctx);
	if (ret == 0)
		ret = fault_point(ctx->err, "checkpoint.scan");
	if (ret == 0)
		ret = scan_pages(ctx);
	return ret;
}

static int write_process_image(struct dump_context *ctx)
{
	int ret = write_process(ctx);

	if (ret == 0)
		ret = write_sigactions(ctx);
	if (ret == 0)
		ret = write_fds(ctx);
	if (ret == 0)
		ret = write_mm(ctx);
	if (ret == 0)
		ret = write_threads(ctx);
	if (ret == 0)
		ret = write_pending_signals(ctx);
	if (ret == 0)
		ret = write_vmas(ctx);
	if (ret == 0)
		ret = fault_point(ctx->err, "checkpoint.pages");
	if (ret == 0)
		ret = write_pages(ctx);
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
		ret = write_process_image(&tree->processes[i]);
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
	if ((shared->options->flags & CKPT_OPT_SYNC) && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    fsync(fd) < 0)
		return fail(shared->err, errno, "syncing the image: %s", strerror(errno));
	ret = fault_point(shared->err, "checkpoint.commit");
	if (ret == 0 && shared->options->commit)
		ret = shared->options->commit(shared->options->commit_arg);
	if (ret > 0)
		ret = -ret;
	if (ret < 0 && !failed(shared->err))
		fail(shared->err, ret, "finishing the image: %s", strerror(-ret));
	return ret;
}

static void release_thread(struct dump_thread *thread)
{
	struct ckpt_error ignored = { 0 };
	uint64_t signals = thread->deferred_signals | thread->injector.deferred_signals;

	if (thread->injector_ready) {
		thread->release_regs.orig_rax = (uint64_t)-1;
		ptrace_set_regs(thread->tid, &thread->release_regs, &ignored);
	}
	ptrace_detach(thread->tid, 0);
	for (int signal = 1; signal <= 64; signal++) {
		if (signals & (1ull << (signal - 1)))
			syscall(SYS_tgkill, -1, thread->tid, signal);
	}
}

static void reap_traced_exit(pid_t tid)
{
	int status;

	while (waitpid(tid, &status, __WALL) >= 0 && !WIFEXITED(status) && !WIFSIGNALED(status))
		;
}

/* The tracer must collect every traced thread's exit before the leader's. */
static void reap_killed(struct dump_context *ctx)
{
	for (size_t i = ctx->thread_count; i-- > 0;) {
		if (ctx->threads[i].seized)
			reap_traced_exit(ctx->threads[i].tid);
	}
}

static void release_target(struct dump_context *ctx)
{
	if (ctx->scratch)
		unmap_scratch(ctx);
	for (size_t i = 0; i < ctx->thread_count; i++) {
		if (ctx->threads[i].seized)
			release_thread(&ctx->threads[i]);
	}
}

static void release_tree(struct dump_tree *tree, bool kill_it)
{
	for (size_t i = 0; kill_it && i < tree->process_count; i++)
		kill(tree->processes[i].pid, SIGKILL);
	for (size_t i = tree->process_count; i-- > 0;) {
		if (kill_it)
			reap_killed(&tree->processes[i]);
		else
			release_target(&tree->processes[i]);
	}
	tree->shared.released_at_ns = monotonic_ns();
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
		release_tree(tree, false);
		return ret == 0 ? sync_and_commit(&tree->shared, fd) : ret;
	}
	if (ret == 0)
		ret = sync_and_commit(&tree->shared, fd);
	release_tree(tree, ret == 0);
	return ret;
}

static void release_context(struct dump_context *ctx)
{
	for (size_t i = 0; i < ctx->thread_count; i++)
		free(ctx->threads[i].xstate);
	for (size_t i = 0; i < ctx->vma_count; i++)
		free(ctx->vmas[i].runs.runs);
	free(ctx->threads);
	free(ctx->fds);
	free(ctx->vmas);
	free(ctx->cwd);
	free(ctx->groups);
	free(ctx->pending);
}

static void release_tree_memory(struct dump_tree *tree)
{
	struct dump_shared *shared = &tree->shared;

	for (size_t i = 0; i < tree->process_count; i++)
		release_context(&tree->processes[i]);
	for (size_t i = 0; i < shared->file_count; i++) {
		free(shared->files[i].path);
		for (size_t j = 0; j < shared->files[i].message_count; j++)
			free(shared->files[i].messages[j].data);
		free(shared->files[i].messages);
		if (shared->files[i].memfd >= 0)
			close(shared->files[i].memfd);
	}
	free(shared->files);
	free(shared->fd_owners);
	free(shared->epoll_targets);
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
	stats->frozen_ns = shared->frozen_at_ns ? shared->released_at_ns - shared->frozen_at_ns : 0;
	stats->memory_ns = memory_started ? now - memory_started : 0;
	stats->image_bytes = shared->writer.stream_bytes;
	stats->page_count = shared->writer.page_count;
	for (size_t i = 0; i < tree->process_count; i++)
		stats->vma_count += tree->processes[i].vma_count;
	stats->injected_syscalls = shared->injected_syscalls;
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
	for (size_t i = 0; ret == 0 && i < tree->process_count; i++)
		ret = collect_state(&tree->processes[i]);
	for (size_t i = 0; ret == 0 && i < tree->process_count; i++)
		ret = collect_memory(&tree->processes[i]);
	if (ret == 0)
		ret = check_memfds_covered(&tree->shared);
	return ret;
}

int ckpt_checkpoint(pid_t pid, int fd, struct ckpt_options *options)
{
	struct ckpt_options no_options = { 0 };
	struct ckpt_error err = { 0 };
	struct dump_tree tree = { .shared = { .err = &err } };
	uint64_t started = monotonic_ns(), memory_started;
	int ret;

	tree.shared.options = options ? options : &no_options;
	image_writer_init(&tree.shared.writer, fd, &err);
	ret = collect_all(&tree, pid);
	memory_started = monotonic_ns();
	if (ret == 0)
		ret = write_image(&tree);
	ret = finish(&tree, fd, ret);
	report(&tree, started, memory_started);
	release_tree_memory(&tree);
	image_writer_close(&tree.shared.writer);
	if (ret < 0)
		copy_error(tree.shared.options, &err);
	return ret;
}
