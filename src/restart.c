/* SPDX-License-Identifier: MIT */
/*
 * The restart pipeline: read and check the image, create a husk process
 * with the original PID, rebuild the process inside it by injected
 * syscalls, load its registers and let it go.  On any failure the husk is
 * killed: no half-built process remains.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault.h"
#include "restart.h"
#include "util.h"

struct husk_report {
	int32_t error;		/* negative errno, 0 when ready */
	char step[60];
};

int64_t husk_call(struct restore_context *ctx, const char *what, long number, uint64_t a0,
		  uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
	return inject(&ctx->injector, what, number, a0, a1, a2, a3, a4, a5);
}

int husk_put_data(struct restore_context *ctx, uint64_t offset, const void *data, size_t length,
		  uint64_t *ret_address)
{
	uint64_t address = ctx->control + CONTROL_CODE_SIZE + offset;
	struct iovec local = { readonly_buffer(data), length };
	struct iovec remote = { (void *)(uintptr_t)address, length };

	if (offset + length > CONTROL_DATA_SIZE)
		return fail(ctx->err, E2BIG, "internal: control data too large");
	if (length && process_vm_writev(ctx->husk, &local, 1, &remote, 1, 0) != (ssize_t)length)
		return fail(ctx->err, errno, "writing into the new process: %s", strerror(errno));
	*ret_address = address;
	return 0;
}

static int load_image(struct restore_context *ctx, int fd)
{
	int ret = fault_point(ctx->err, "restart.read");

	image_reader_init(&ctx->reader, fd, ctx->err);
	if (ret == 0)
		ret = image_load_metadata(&ctx->reader, &ctx->image, &ctx->next);
	return ret;
}

static int prepare(struct restore_context *ctx)
{
	int ret = fault_point(ctx->err, "restart.prepare");

	if (ret == 0)
		ret = check_restart_allowed(ctx);
	if (ret == 0)
		ret = choose_control_area(ctx);
	if (ret == 0)
		ret = stage_files(ctx);
	return ret;
}

static void report_to_parent(int fd, int error, const char *step)
{
	struct husk_report report = { .error = error };

	snprintf(report.step, sizeof(report.step), "%s", step);
	if (write(fd, &report, sizeof(report)) < 0)
		_exit(127);
}

static const struct husk_setup_step {
	const char *what;
	int (*run)(const struct restore_context *ctx);
} husk_setup_steps[] = {
	{ "installing its fds", install_fds_in_husk },
	{ "setting cwd, umask, name and personality", setup_process_in_husk },
	{ "setting signal handlers", restore_sigactions_in_husk },
};

/* The husk's own code, run before ckpt takes it over.  Never returns. */
static void husk_main(const struct restore_context *ctx)
{
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(husk_setup_steps); i++) {
		int ret = husk_setup_steps[i].run(ctx);

		if (ret < 0) {
			report_to_parent(ctx->report_fd, ret, husk_setup_steps[i].what);
			_exit(127);
		}
	}
	report_to_parent(ctx->report_fd, 0, "ready");
	for (;;)
		pause();
}

static pid_t clone_with_pid(pid_t pid)
{
	struct clone_args args = {
		.exit_signal = SIGCHLD,
		.set_tid = (uint64_t)(uintptr_t)&pid,
		.set_tid_size = 1,
	};

	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

static int clone_error(struct restore_context *ctx, int error)
{
	pid_t pid = ctx->image.process.pid;

	if (error == EEXIST)
		return fail(ctx->err, EEXIST, "PID %d is in use", pid);
	if (error == EPERM)
		return fail(ctx->err, EPERM,
			    "creating a process with PID %d needs CAP_CHECKPOINT_RESTORE (or root)", pid);
	return fail(ctx->err, error, "creating the process %d: %s", pid, strerror(error));
}

static int wait_for_husk_report(struct restore_context *ctx, int read_fd)
{
	struct husk_report report;
	ssize_t got;

	do {
		got = read(read_fd, &report, sizeof(report));
	} while (got < 0 && errno == EINTR);
	if (got != (ssize_t)sizeof(report))
		return fail(ctx->err, EIO, "the new process died while starting");
	if (report.error < 0)
		return fail(ctx->err, report.error, "the new process failed %s: %s", report.step,
			    strerror(-report.error));
	return 0;
}

static int create_husk(struct restore_context *ctx)
{
	int pipe_fds[2];
	int ret = fault_point(ctx->err, "restart.husk");

	if (ret < 0)
		return ret;
	if (pipe2(pipe_fds, O_CLOEXEC) < 0)
		return fail(ctx->err, errno, "pipe: %s", strerror(errno));
	ctx->report_fd = fcntl(pipe_fds[1], F_DUPFD_CLOEXEC, ctx->stage_base);
	close(pipe_fds[1]);
	if (ctx->report_fd < 0) {
		close(pipe_fds[0]);
		return fail(ctx->err, errno, "fcntl: %s", strerror(errno));
	}
	ctx->husk = clone_with_pid(ctx->image.process.pid);
	if (ctx->husk == 0)
		husk_main(ctx);
	close(ctx->report_fd);
	ctx->report_fd = -1;
	if (ctx->husk < 0) {
		ctx->husk = 0;
		close(pipe_fds[0]);
		return clone_error(ctx, errno);
	}
	ret = wait_for_husk_report(ctx, pipe_fds[0]);
	close(pipe_fds[0]);
	return ret;
}

static void pin_to_one_cpu(struct restore_context *ctx)
{
	cpu_set_t one;
	int cpu = sched_getcpu();

	if (cpu < 0 || sched_getaffinity(0, sizeof(ctx->saved_affinity), &ctx->saved_affinity) < 0)
		return;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	sched_setaffinity(0, sizeof(one), &one);
	sched_setaffinity(ctx->husk, sizeof(one), &one);
	ctx->affinity_changed = true;
}

static void unpin(struct restore_context *ctx)
{
	if (!ctx->affinity_changed)
		return;
	sched_setaffinity(ctx->husk, sizeof(ctx->saved_affinity), &ctx->saved_affinity);
	sched_setaffinity(0, sizeof(ctx->saved_affinity), &ctx->saved_affinity);
	ctx->affinity_changed = false;
}

static int seize_husk(struct restore_context *ctx)
{
	int ret = fault_point(ctx->err, "restart.seize");

	if (ret == 0)
		ret = ptrace_seize_and_stop(ctx->husk, PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE, ctx->err);
	if (ret < 0)
		return ret;
	ret = 0;	/* every signal is blocked in the husk */
	ctx->husk_seized = true;
	pin_to_one_cpu(ctx);
	return injector_init(&ctx->injector, ctx->husk, (uint64_t)(uintptr_t)ckpt_syscall_gadget,
			     ctx->err);
}

static int64_t map_control_part(struct restore_context *ctx, uint64_t address, uint64_t size)
{
	int64_t result = husk_call(ctx, "mmap", SYS_mmap, address, size, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, (uint64_t)-1, 0);

	if (result >= 0 && (uint64_t)result != address)
		return fail(ctx->err, EEXIST, "control area at %#llx is taken", (unsigned long long)address);
	return result;
}

/* A page holding a syscall instruction, and pages for syscall arguments. */
static int setup_control_area(struct restore_context *ctx)
{
	static const unsigned char code[8] = { 0x0f, 0x05, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc };
	struct iovec local = { readonly_buffer(code), sizeof(code) };
	struct iovec remote = { (void *)(uintptr_t)ctx->control, sizeof(code) };
	int64_t result = fault_point(ctx->err, "restart.control");

	if (result == 0)
		result = map_control_part(ctx, ctx->control, CONTROL_CODE_SIZE);
	if (result >= 0)
		result = map_control_part(ctx, ctx->control + CONTROL_CODE_SIZE, CONTROL_DATA_SIZE);
	if (result < 0)
		return (int)result;
	if (process_vm_writev(ctx->husk, &local, 1, &remote, 1, 0) != (ssize_t)sizeof(code))
		return fail(ctx->err, errno, "writing the control page: %s", strerror(errno));
	result = husk_call(ctx, "mprotect", SYS_mprotect, ctx->control, CONTROL_CODE_SIZE,
			   PROT_READ | PROT_EXEC, 0, 0, 0);
	if (result < 0)
		return (int)result;
	ctx->injector.gadget = ctx->control;
	return 0;
}

/* Each step with the fault point that can fail it on purpose. */
static const struct rebuild_step {
	const char *fault;
	int (*run)(struct restore_context *ctx);
} rebuild_steps[] = {
	{ "restart.control", setup_control_area },
	{ "restart.unmap", unregister_husk_rseq },
	{ "restart.unmap", clear_husk_layout },
	{ "restart.vdso", move_vdso },
	{ "restart.mmap", map_vmas },
	{ "restart.pages", fill_pages },
	{ "restart.protect", protect_vmas },
	{ "restart.mm", restore_mm_fields },
	{ "restart.fds", NULL },	/* closing staged fds: close_staged_in_husk */
	{ "restart.thread", create_threads },
	{ "restart.thread", restore_thread_state },
	{ "restart.creds", restore_rlimits },
	{ "restart.creds", restore_creds },
	{ "restart.signals", restore_pending_signals },
	{ "restart.timers", restore_timers },
	{ "restart.registers", load_thread_registers },
};

static int close_staged_in_husk(struct restore_context *ctx)
{
	int64_t result = husk_call(ctx, "close_range", SYS_close_range, (uint64_t)ctx->stage_base,
				   ~0u, 0, 0, 0, 0);

	return result < 0 ? (int)result : 0;
}

static int rebuild(struct restore_context *ctx)
{
	for (size_t i = 0; i < ARRAY_SIZE(rebuild_steps); i++) {
		const struct rebuild_step *step = &rebuild_steps[i];
		int ret = fault_point(ctx->err, step->fault);

		if (ret == 0)
			ret = step->run ? step->run(ctx) : close_staged_in_husk(ctx);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int release_husk(struct restore_context *ctx)
{
	int ret = fault_point(ctx->err, "restart.release");

	if (ret < 0)
		return ret;
	unpin(ctx);
	for (size_t i = 1; i < ctx->image.thread_count; i++)
		ptrace_detach(ctx->image.threads[i].thread.tid, 0);
	if (ptrace_detach(ctx->husk, 0) < 0)
		return fail(ctx->err, errno, "letting the restored process go: %s", strerror(errno));
	ctx->husk_seized = false;
	return 0;
}

static void kill_husk(struct restore_context *ctx)
{
	int status;

	if (ctx->husk <= 0)
		return;
	kill(ctx->husk, SIGKILL);
	while (waitpid(ctx->husk, &status, __WALL) < 0 && errno == EINTR)
		;
	ctx->husk = 0;
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
	stats->vma_count = ctx->image.vma_count;
	stats->injected_syscalls = ctx->injector.call_count;
}

int ckpt_restart(int fd, struct ckpt_options *options, pid_t *ret_pid)
{
	struct ckpt_options no_options = { 0 };
	struct ckpt_error err = { 0 };
	struct restore_context ctx = { .err = &err, .report_fd = -1 };
	uint64_t started = monotonic_ns();
	int ret;

	ctx.options = options ? options : &no_options;
	ret = load_image(&ctx, fd);
	if (ret == 0)
		ret = prepare(&ctx);
	if (ret == 0)
		ret = create_husk(&ctx);
	if (ret == 0)
		ret = seize_husk(&ctx);
	if (ret == 0)
		ret = rebuild(&ctx);
	if (ret == 0)
		ret = release_husk(&ctx);
	unpin(&ctx);
	if (ret < 0)
		kill_husk(&ctx);
	else
		*ret_pid = ctx.husk;
	report_stats(&ctx, started);
	release_staged_files(&ctx);
	free(ctx.merge_guarded);
	free(ctx.thread_injectors);
	image_release(&ctx.image);
	image_reader_release(&ctx.reader);
	if (ret < 0 && ctx.options->error && ctx.options->error_size)
		snprintf(ctx.options->error, ctx.options->error_size, "%s", err.message);
	return ret;
}
