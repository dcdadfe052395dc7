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

#include "checkpoint.h"
#include "fault.h"
#include "util.h"

/*
 * The thread's first injection leaves its freeze stop with its own mask (a
 * mask sigsuspend swapped in comes back then); a signal it takes on the
 * way is delivered and the thread stops in front of its handler: its
 * registers are read again.  A thread that keeps taking signals (ignored
 * ones stay queued while traced) is settled with every signal blocked
 * after SETTLE_ATTEMPTS, at the price of a swapped-in mask.
 */
enum { SETTLE_ATTEMPTS = 70 };

static int settle_thread(struct dump_context *ctx, struct dump_thread *thread)
{
	uint64_t sigmask = 0;
	bool gave_up;
	int ret = 1;

	for (int attempt = 0; ret == 1 && attempt < SETTLE_ATTEMPTS; attempt++) {
		thread->injector.base_regs = thread->frozen_regs;
		ret = inject_settling_syscall(&thread->injector, &thread->frozen_regs, SYS_getpid);
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
		ret = injector_set_home(&thread->injector, &thread->release_regs, sigmask);
	if (ret == 0 && gave_up)
		ret = (int)inject(&thread->injector, "getpid", SYS_getpid, 0, 0, 0, 0, 0, 0);
	return ret < 0 ? ret : 0;
}

int dump_ready_injector(struct dump_context *ctx, struct dump_thread *thread)
{
	int ret;

	if (thread->injector_ready)
		return 0;
	ret = injector_init(&thread->injector, thread->tid, ctx->gadget, ctx->err);
	if (ret < 0)
		return ret;
	thread->injector_ready = true;
	return settle_thread(ctx, thread);
}

int dump_check_interrupt(struct dump_shared *shared)
{
	const volatile int *interrupt = shared->options->interrupt;
	int signal = interrupt ? *interrupt : 0;

	if (!signal)
		return 0;
	return fail(shared->err, EINTR, "interrupted by signal %d (%s)", signal, strsignal(signal));
}

int64_t dump_inject(struct dump_context *ctx, struct dump_thread *thread, const char *what,
		    long number, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	int64_t result;
	int ret = dump_check_interrupt(ctx->shared);

	if (ret == 0)
		ret = dump_ready_injector(ctx, thread);

	if (ret < 0)
		return ret;
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

	if (dump_check_interrupt(ctx->shared) < 0)
		return ctx->err->code;
	if (!grown)
		return fail(ctx->err, ENOMEM, "out of memory");
	ctx->threads = grown;
	thread = &grown[ctx->thread_count];
	memset(thread, 0, sizeof(*thread));
	thread->tid = tid;
	thread->restarted_syscall = find_restarted_syscall(ctx->pid, tid);
	ret = ptrace_seize_and_freeze(tid, ctx->err);
	if (ret < 0 && tid != ctx->pid && ret == -ESRCH) {
		ctx->err->code = 0;	/* a thread that just exited */
		return 0;
	}
	thread->seized = true;	/* seized even if the stop failed: detach it */
	ctx->thread_count++;
	if (ret < 0)
		return ret;
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
	address = dump_inject(ctx, &ctx->threads[0], "mmap", SYS_mmap, 0, SCRATCH_PAGES * CKPT_PAGE_SIZE,
			      PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS);
	if (address < 0)
		return (int)address;
	ctx->scratch_code = (uint64_t)address;
	ctx->scratch = (uint64_t)address + (SCRATCH_PAGES - 1) * CKPT_PAGE_SIZE;
	return prepare_thread_batch(ctx);
}

static int unmap_scratch(struct dump_context *ctx)
{
	int64_t ret;

	if (!ctx->scratch)
		return 0;
	ret = dump_inject(ctx, &ctx->threads[0], "munmap", SYS_munmap, ctx->scratch_code,
			  SCRATCH_PAGES * CKPT_PAGE_SIZE, 0, 0);
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
		ret = collect_posix_timers(ctx);
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
	if (ret == 0)
		ret = collect_locks(ctx);
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
		ret = write_posix_timers(ctx);
	if (ret == 0)
		ret = write_fds(ctx);
	if (ret == 0)
		ret = write_locks(ctx);
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

/*
 * The thread holds its own registers and mask already, unless a failure
 * came in the middle of an injection.  A SIGSTOP that came meanwhile (it
 * cannot be blocked) is sent again.
 */
static void release_thread(pid_t pid, struct dump_thread *thread)
{
	struct ckpt_error ignored = { 0 };
	struct injector *injector = &thread->injector;

	if (injector->has_home) {
		ptrace_set_regs(thread->tid, &injector->home_regs, &ignored);
		ptrace_set_sigmask(thread->tid, injector->home_sigmask, &ignored);
	} else if (thread->injector_ready) {
		thread->release_regs.orig_rax = (uint64_t)-1;
		ptrace_set_regs(thread->tid, &thread->release_regs, &ignored);
	}
	ptrace_detach(thread->tid, 0);
	for (int signal = 1; signal <= 64; signal++) {
		if (injector->deferred_signals & (1ull << (signal - 1)))
			syscall(SYS_tgkill, pid, thread->tid, signal);
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
			release_thread(ctx->pid, &ctx->threads[i]);
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
	free(ctx->locks);
	free(ctx->posix_timers);
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
	for (size_t i = 0; i < tree->process_count; i++) {
		for (size_t j = 0; j < tree->processes[i].thread_count; j++)
			stats->injected_ns += tree->processes[i].threads[j].injector.injected_ns;
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
	for (size_t i = 0; ret == 0 && i < tree->process_count; i++)
		ret = collect_state(&tree->processes[i]);
	for (size_t i = 0; ret == 0 && i < tree->process_count; i++)
		ret = collect_memory(&tree->processes[i]);
	if (ret == 0)
		ret = check_memfds_covered(&tree->shared);
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
	release_tree_memory(&tree);
	if (ret < 0)
		copy_error(tree.shared.options, &err);
	return ret;
}
