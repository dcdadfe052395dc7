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
	ctx->injected_syscalls++;
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
static int freeze(struct dump_context *ctx)
{
	bool found_new = true;
	int ret = fault_point(ctx->err, "checkpoint.freeze");

	ctx->frozen_at_ns = monotonic_ns();
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
	address = dump_inject(ctx, &ctx->threads[0], "mmap", SYS_mmap, 0, CKPT_PAGE_SIZE,
			      PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	if (address < 0)
		return (int)address;
	ctx->scratch = (uint64_t)address;
	return 0;
}

static int unmap_scratch(struct dump_context *ctx)
{
	int64_t ret;

	if (!ctx->scratch)
		return 0;
	ret = dump_inject(ctx, &ctx->threads[0], "munmap", SYS_munmap, ctx->scratch,
			  CKPT_PAGE_SIZE, 0, 0);
	ctx->scratch = 0;
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

static void fill_head(struct dump_context *ctx)
{
	struct ckpt_head *head = &ctx->head;
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
	int ret;

	fill_head(ctx);
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
	if (ret == 0)
		ret = collect_fds(ctx);
	return ret;
}

static int collect_memory(struct dump_context *ctx)
{
	int ret = fault_point(ctx->err, "checkpoint.vmas");

	if (ret == 0)
		ret = collect_vmas(ctx);
	if (ret == 0)
		ret = fault_point(ctx->err, "checkpoint.scan");
	if (ret == 0)
		ret = scan_pages(ctx);
	return ret;
}

static int write_image(struct dump_context *ctx)
{
	int ret = fault_point(ctx->err, "checkpoint.write");

	if (ret == 0)
		ret = image_write_simple(&ctx->writer, CKPT_RECORD_HEAD, &ctx->head, sizeof(ctx->head));
	if (ret == 0)
		ret = write_process(ctx);
	if (ret == 0)
		ret = write_sigactions(ctx);
	if (ret == 0)
		ret = write_files_and_fds(ctx);
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
	if (ret == 0)
		ret = image_write_tail(&ctx->writer);
	return ret;
}

static int sync_and_commit(struct dump_context *ctx, int fd)
{
	struct stat st;
	int ret = fault_point(ctx->err, "checkpoint.sync");

	if (ret < 0)
		return ret;
	if ((ctx->options->flags & CKPT_OPT_SYNC) && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    fsync(fd) < 0)
		return fail(ctx->err, errno, "syncing the image: %s", strerror(errno));
	ret = fault_point(ctx->err, "checkpoint.commit");
	if (ret == 0 && ctx->options->commit)
		ret = ctx->options->commit(ctx->options->commit_arg);
	if (ret > 0)
		ret = -ret;
	if (ret < 0 && !failed(ctx->err))
		fail(ctx->err, ret, "finishing the image: %s", strerror(-ret));
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
static void kill_target(struct dump_context *ctx)
{
	kill(ctx->pid, SIGKILL);
	for (size_t i = ctx->thread_count; i-- > 0;) {
		if (ctx->threads[i].seized)
			reap_traced_exit(ctx->threads[i].tid);
	}
}

static void release_target(struct dump_context *ctx, bool kill_it)
{
	if (kill_it) {
		kill_target(ctx);
		return;
	}
	if (ctx->scratch)
		unmap_scratch(ctx);
	for (size_t i = 0; i < ctx->thread_count; i++) {
		if (ctx->threads[i].seized)
			release_thread(&ctx->threads[i]);
	}
}

/*
 * With --kill the target dies only once the image is synced and committed.
 * Otherwise it goes on as soon as the image is written: syncing it does not
 * need the target stopped, and a failure then costs the target nothing.
 */
static int finish(struct dump_context *ctx, int fd, int ret)
{
	bool kill_it = ctx->options->flags & CKPT_OPT_KILL;

	if (!kill_it) {
		release_target(ctx, false);
		ctx->released_at_ns = monotonic_ns();
		return ret == 0 ? sync_and_commit(ctx, fd) : ret;
	}
	if (ret == 0)
		ret = sync_and_commit(ctx, fd);
	ctx->released_at_ns = monotonic_ns();
	release_target(ctx, ret == 0);
	return ret;
}

static void release_context(struct dump_context *ctx)
{
	for (size_t i = 0; i < ctx->thread_count; i++)
		free(ctx->threads[i].xstate);
	for (size_t i = 0; i < ctx->file_count; i++)
		free(ctx->files[i].path);
	for (size_t i = 0; i < ctx->vma_count; i++)
		free(ctx->vmas[i].runs.runs);
	free(ctx->threads);
	free(ctx->files);
	free(ctx->fds);
	free(ctx->vmas);
	free(ctx->cwd);
	free(ctx->groups);
	free(ctx->pending);
}

static void report(struct dump_context *ctx, uint64_t started, uint64_t memory_started)
{
	struct ckpt_stats *stats = ctx->options->stats;
	uint64_t now = monotonic_ns();

	if (!stats)
		return;
	stats->total_ns = now - started;
	stats->frozen_ns = ctx->frozen_at_ns ? ctx->released_at_ns - ctx->frozen_at_ns : 0;
	stats->memory_ns = memory_started ? now - memory_started : 0;
	stats->image_bytes = ctx->writer.stream_bytes;
	stats->page_count = ctx->writer.page_count;
	stats->vma_count = ctx->vma_count;
	stats->injected_syscalls = ctx->injected_syscalls;
}

static void copy_error(struct ckpt_options *options, const struct ckpt_error *err)
{
	if (options->error && options->error_size)
		snprintf(options->error, options->error_size, "%s", err->message);
}

int ckpt_checkpoint(pid_t pid, int fd, struct ckpt_options *options)
{
	struct ckpt_options no_options = { 0 };
	struct ckpt_error err = { 0 };
	struct dump_context ctx = { .pid = pid, .err = &err };
	uint64_t started = monotonic_ns(), memory_started = 0;
	int ret;

	ctx.options = options ? options : &no_options;
	image_writer_init(&ctx.writer, fd, &err);
	if (pid <= 0)
		ret = fail(&err, EINVAL, "bad process id %d", pid);
	else if (pid == getpid())
		ret = fail(&err, EINVAL, "ckpt cannot checkpoint itself");
	else
		ret = freeze(&ctx);
	if (ret == 0)
		ret = collect_state(&ctx);
	if (ret == 0)
		ret = collect_memory(&ctx);
	memory_started = monotonic_ns();
	if (ret == 0)
		ret = write_image(&ctx);
	ret = finish(&ctx, fd, ret);
	report(&ctx, started, memory_started);
	release_context(&ctx);
	if (ret < 0)
		copy_error(ctx.options, &err);
	return ret;
}
