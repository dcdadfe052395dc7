/* SPDX-License-Identifier: MIT */
/*
 * The process tree: the root and every descendant, frozen parent first,
 * with zombies recorded as they are.  On restart each process is rebuilt
 * as a child of its parent's husk, so parents, sessions and shared files
 * come back as they were.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "util.h"

/* /proc/PID/stat: state (3), ppid, pgrp, session (4-6), exit_signal (38), exit_code (52). */
static int read_tree_entry(pid_t pid, struct ckpt_tree_entry *entry, struct ckpt_error *err)
{
	uint64_t ids[4], exit_signal, exit_code;
	int ret = proc_stat_fields(pid, ids, 3, 4, err);

	if (ret == 0)
		ret = proc_stat_fields(pid, &exit_signal, 38, 1, err);
	if (ret == 0)
		ret = proc_stat_fields(pid, &exit_code, 52, 1, err);
	if (ret < 0)
		return ret;
	*entry = (struct ckpt_tree_entry){
		.pid = pid,
		.ppid = (int32_t)ids[1],
		.pgid = (int32_t)ids[2],
		.sid = (int32_t)ids[3],
		.state = ids[0] == 'Z' ? CKPT_TREE_ZOMBIE : CKPT_TREE_ALIVE,
		.exit_status = (int32_t)exit_code,
		.exit_signal = (uint32_t)exit_signal,
	};
	return 0;
}

static int add_entry(struct dump_tree *tree, const struct ckpt_tree_entry *entry,
		     struct ckpt_error *err)
{
	struct ckpt_tree_entry *grown = realloc(tree->entries, (tree->entry_count + 1) * sizeof(*grown));

	if (!grown)
		return fail(err, ENOMEM, "out of memory");
	tree->entries = grown;
	grown[tree->entry_count++] = *entry;
	return 0;
}

static int add_process(struct dump_tree *tree, pid_t pid, struct ckpt_error *err)
{
	struct dump_context *grown = realloc(tree->processes, (tree->process_count + 1) * sizeof(*grown));
	struct dump_context *ctx;

	if (!grown)
		return fail(err, ENOMEM, "out of memory");
	tree->processes = grown;
	ctx = &grown[tree->process_count++];
	memset(ctx, 0, sizeof(*ctx));
	ctx->pid = pid;
	ctx->shared = &tree->shared;
	ctx->options = tree->shared.options;
	ctx->err = tree->shared.err;
	ctx->writer = &tree->shared.writer;
	return freeze_process(ctx);
}

/* Children of every thread of a frozen process (so none can appear anew). */
static int list_children(const struct dump_context *ctx, pid_t **ret_children, size_t *ret_count,
			 struct ckpt_error *err)
{
	pid_t *children = NULL;
	size_t count = 0;

	for (size_t i = 0; i < ctx->thread_count; i++) {
		char path[80];
		_cleanup_free_ char *text = NULL;
		char *at, *end;
		int ret;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", ctx->pid, ctx->threads[i].tid);
		ret = read_whole_file(path, &text, NULL, err);
		if (ret < 0) {
			free(children);
			return ret;
		}
		for (at = text;; at = end) {
			long child = strtol(at, &end, 10);
			pid_t *grown;

			if (end == at)
				break;
			grown = realloc(children, (count + 1) * sizeof(*grown));
			if (!grown) {
				free(children);
				return fail(err, ENOMEM, "out of memory");
			}
			children = grown;
			children[count++] = (pid_t)child;
		}
	}
	*ret_children = children;
	*ret_count = count;
	return 0;
}

static int add_child(struct dump_tree *tree, pid_t child, struct ckpt_error *err)
{
	struct ckpt_tree_entry entry;
	int ret = read_tree_entry(child, &entry, err);

	if (ret == -ENOENT || ret == -ESRCH) {
		err->code = 0;	/* reaped meanwhile */
		return 0;
	}
	if (ret == 0)
		ret = add_entry(tree, &entry, err);
	if (ret == 0 && entry.state == CKPT_TREE_ALIVE)
		ret = add_process(tree, child, err);
	return ret;
}

/*
 * Breadth first: a process is frozen before its children are listed, so
 * the list cannot change behind our back; children come after parents.
 */
int collect_tree(struct dump_tree *tree, pid_t root)
{
	struct ckpt_error *err = tree->shared.err;
	struct ckpt_tree_entry entry;
	int ret = read_tree_entry(root, &entry, err);

	if (ret == 0 && entry.state != CKPT_TREE_ALIVE)
		ret = fail(err, ESRCH, "process %d has exited (a zombie)", root);
	if (ret == 0)
		ret = add_entry(tree, &entry, err);
	if (ret == 0)
		ret = add_process(tree, root, err);
	for (size_t next = 0; ret == 0 && next < tree->process_count; next++) {
		_cleanup_free_ pid_t *children = NULL;
		size_t count = 0;

		ret = list_children(&tree->processes[next], &children, &count, err);
		for (size_t i = 0; ret == 0 && i < count; i++)
			ret = add_child(tree, children[i], err);
	}
	return ret;
}

/* What restart checks against the caller's privileges before creating anything. */
static void fill_privileges(struct dump_tree *tree)
{
	for (size_t i = 0; i < tree->entry_count; i++) {
		struct ckpt_tree_entry *entry = &tree->entries[i];

		for (size_t p = 0; p < tree->process_count; p++) {
			const struct ckpt_creds *creds = &tree->processes[p].creds;

			if (tree->processes[p].pid != entry->pid)
				continue;
			entry->uid = highest_id(creds->uid);
			entry->gid = highest_id(creds->gid);
			entry->capabilities = creds->cap_permitted | creds->cap_effective |
					      creds->cap_inheritable | creds->cap_ambient;
		}
	}
}

int write_tree(struct dump_tree *tree)
{
	struct ckpt_tree header = { .count = (uint32_t)tree->entry_count };

	for (size_t i = 0; i < tree->process_count; i++) {
		const struct dump_context *ctx = &tree->processes[i];

		if (ctx->fd_count && (uint32_t)ctx->fds[ctx->fd_count - 1].fd > header.highest_fd)
			header.highest_fd = (uint32_t)ctx->fds[ctx->fd_count - 1].fd;
	}
	struct iovec parts[2] = {
		{ &header, sizeof(header) },
		{ tree->entries, tree->entry_count * sizeof(*tree->entries) },
	};

	fill_privileges(tree);
	return image_write_record(&tree->shared.writer, CKPT_RECORD_TREE, parts, 2);
}

/* ---- restart side ---- */

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "restart.h"

enum { HUSK_START_TIMEOUT_MS = 30000 };

struct husk_report {
	int32_t pid;
	int32_t error;		/* negative errno, 0 when ready */
	char step[56];
};

static void report_to_ckpt(int fd, int error, const char *step)
{
	struct husk_report report = { .pid = getpid(), .error = error };

	snprintf(report.step, sizeof(report.step), "%s", step);
	if (write(fd, &report, sizeof(report)) < 0)
		_exit(127);
}

static pid_t clone_with_pid(pid_t pid, uint32_t exit_signal)
{
	struct clone_args args = {
		.exit_signal = exit_signal,
		.set_tid = (uint64_t)(uintptr_t)&pid,
		.set_tid_size = 1,
	};

	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

/* A zombie of the image: a husk that exits the way the original did. */
static void become_zombie(const struct ckpt_tree_entry *entry)
{
	int status = entry->exit_status;
	struct rlimit no_core = { 0, 0 };
	sigset_t only;

	if (WIFSIGNALED(status)) {
		setrlimit(RLIMIT_CORE, &no_core);
		signal(WTERMSIG(status), SIG_DFL);
		sigemptyset(&only);
		sigaddset(&only, WTERMSIG(status));
		sigprocmask(SIG_UNBLOCK, &only, NULL);
		raise(WTERMSIG(status));
	}
	_exit(WEXITSTATUS(status));
}

static void husk_main(const struct restore_context *ctx, size_t index);

static void fork_children(const struct restore_context *ctx, size_t index)
{
	const struct image_tree *tree = &ctx->tree;

	for (size_t i = index + 1; i < tree->entry_count; i++) {
		const struct ckpt_tree_entry *child = &tree->entries[i];
		pid_t pid;

		if (child->ppid != tree->entries[index].pid)
			continue;
		pid = clone_with_pid(child->pid, child->exit_signal);
		if (pid == 0 && child->state == CKPT_TREE_ZOMBIE)
			become_zombie(child);
		if (pid == 0)
			husk_main(ctx, i);
		if (pid < 0) {
			report_to_ckpt(ctx->report_fd, -errno, "creating a child with its PID");
			_exit(127);
		}
	}
}

/* Children whose group is neither their own nor the one they inherited. */
static void place_children_in_groups(const struct restore_context *ctx, size_t index)
{
	const struct image_tree *tree = &ctx->tree;
	const struct ckpt_tree_entry *self = &tree->entries[index];

	for (size_t i = index + 1; i < tree->entry_count; i++) {
		const struct ckpt_tree_entry *child = &tree->entries[i];

		if (child->ppid != self->pid || child->state != CKPT_TREE_ALIVE)
			continue;
		if (child->pgid == child->pid || child->pgid == getpgid(0))
			continue;
		if (setpgid(child->pid, child->pgid) < 0) {
			report_to_ckpt(ctx->report_fd, -errno, "joining its process group");
			_exit(127);
		}
	}
}

/* Nothing of ckpt's own signal handling (or a sanitizer's) stays in a husk. */
static void reset_signal_handling(void)
{
	const struct ckpt_sigaction default_action = { 0 };
	stack_t no_altstack = { .ss_flags = SS_DISABLE };
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int signal = 1; signal <= (int)CKPT_MAX_SIGNALS; signal++) {
		if (signal != SIGKILL && signal != SIGSTOP)
			syscall(SYS_rt_sigaction, signal, &default_action, NULL, 8);
	}
	sigaltstack(&no_altstack, NULL);
}

/* The husk's own code, run before ckpt takes it over.  Never returns. */
static void husk_main(const struct restore_context *ctx, size_t index)
{
	const struct ckpt_tree_entry *self = &ctx->tree.entries[index];
	int ret = 0;

	reset_signal_handling();
	if (self->sid == self->pid)
		ret = setsid() < 0 ? -errno : 0;
	else if (self->pgid == self->pid)
		ret = setpgid(0, 0) < 0 ? -errno : 0;
	if (ret < 0) {
		report_to_ckpt(ctx->report_fd, ret, "setting its session or group");
		_exit(127);
	}
	fork_children(ctx, index);
	place_children_in_groups(ctx, index);
	report_to_ckpt(ctx->report_fd, 0, "ready");
	for (;;)
		pause();
}

static int clone_error(struct restore_context *ctx, pid_t pid, int error)
{
	if (error == EEXIST)
		return fail(ctx->err, EEXIST, "PID %d is in use", pid);
	if (error == EPERM)
		return fail(ctx->err, EPERM,
			    "creating a process with PID %d needs CAP_CHECKPOINT_RESTORE (or root)", pid);
	return fail(ctx->err, error, "creating the process %d: %s", pid, strerror(error));
}

static size_t alive_count(const struct image_tree *tree)
{
	size_t count = 0;

	for (size_t i = 0; i < tree->entry_count; i++)
		count += tree->entries[i].state == CKPT_TREE_ALIVE;
	return count;
}

static int read_report(struct restore_context *ctx, int read_fd, struct husk_report *report)
{
	struct pollfd waiting = { .fd = read_fd, .events = POLLIN };
	ssize_t got;
	int ready;

	do {
		ready = poll(&waiting, 1, HUSK_START_TIMEOUT_MS);
	} while (ready < 0 && errno == EINTR);
	if (ready <= 0)
		return fail(ctx->err, ETIMEDOUT, "the new processes did not start");
	got = read(read_fd, report, sizeof(*report));
	if (got != (ssize_t)sizeof(*report))
		return fail(ctx->err, EIO, "a new process died while starting");
	if (report->error == -EEXIST || report->error == -EPERM)
		return clone_error(ctx, report->pid, -report->error);
	if (report->error < 0)
		return fail(ctx->err, report->error, "the new process %d failed %s: %s", report->pid,
			    report->step, strerror(-report->error));
	return 0;
}

static int wait_for_reports(struct restore_context *ctx, int read_fd)
{
	size_t expected = alive_count(&ctx->tree);

	for (size_t i = 0; i < expected; i++) {
		struct husk_report report;
		int ret = read_report(ctx, read_fd, &report);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The root husk from ckpt; each husk forks its own children, zombies included. */
int create_husk_tree(struct restore_context *ctx)
{
	int pipe_fds[2];
	int ret;

	if (pipe2(pipe_fds, O_CLOEXEC) < 0)
		return fail(ctx->err, errno, "pipe: %s", strerror(errno));
	ctx->report_fd = fcntl(pipe_fds[1], F_DUPFD_CLOEXEC, ctx->stage_base);
	close(pipe_fds[1]);
	if (ctx->report_fd < 0) {
		close(pipe_fds[0]);
		return fail(ctx->err, errno, "fcntl: %s", strerror(errno));
	}
	ctx->root = clone_with_pid(ctx->tree.entries[0].pid, SIGCHLD);
	if (ctx->root == 0)
		husk_main(ctx, 0);
	close(ctx->report_fd);
	ctx->report_fd = -1;
	if (ctx->root < 0) {
		ctx->root = 0;
		close(pipe_fds[0]);
		return clone_error(ctx, ctx->tree.entries[0].pid, errno);
	}
	ret = wait_for_reports(ctx, pipe_fds[0]);
	close(pipe_fds[0]);
	return ret;
}

static void reap(pid_t pid)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		int status;
		pid_t got = waitpid(pid, &status, __WALL | WNOHANG);

		if (got == pid || (got < 0 && errno == ECHILD && attempt > 0))
			return;
		usleep(10000);
	}
}

static pid_t parent_of(pid_t pid)
{
	struct ckpt_error ignored = { 0 };
	uint64_t ppid = 0;

	if (proc_stat_fields(pid, &ppid, 4, 1, &ignored) < 0)
		return 0;
	return (pid_t)ppid;
}

/* Which tree PIDs are husks of this restart (a PID in use by someone else is not). */
static void find_our_husks(const struct restore_context *ctx, bool *ours)
{
	const struct image_tree *tree = &ctx->tree;

	ours[0] = true;
	for (size_t i = 1; i < tree->entry_count; i++) {
		pid_t parent = parent_of(tree->entries[i].pid);

		for (size_t p = 0; p < i; p++) {
			if (ours[p] && tree->entries[p].pid == parent)
				ours[i] = true;
		}
	}
}

/* On failure: nothing of the tree stays (ckpt is their subreaper meanwhile). */
void kill_husk_tree(struct restore_context *ctx)
{
	_cleanup_free_ bool *ours = NULL;

	if (!ctx->root)
		return;
	ours = calloc(ctx->tree.entry_count, sizeof(*ours));
	if (ours)
		find_our_husks(ctx, ours);
	for (size_t i = 0; i < ctx->tree.entry_count; i++) {
		if (ours ? ours[i] : i == 0)
			kill(ctx->tree.entries[i].pid, SIGKILL);
	}
	for (size_t i = ctx->tree.entry_count; i-- > 0;) {
		if (ours ? ours[i] : i == 0)
			reap(ctx->tree.entries[i].pid);
	}
	ctx->root = 0;
}
