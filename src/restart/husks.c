/* SPDX-License-Identifier: MIT */
/*
 * The husks: every process of the image created empty, with its original
 * PID (clone3 with set_tid), as a child of its parent's husk, in its
 * session and process group (through stand-ins where needed), under a new
 * PID namespace's init with --pidns; each reports back when ready, dies
 * with its creator until the handover, and is killed if the restart fails.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "objects/restore.h"
#include "restart/husks.h"
#include "sys/proc_files.h"
#include "util.h"

enum {
	HUSK_START_TIMEOUT_MS = 30000
};

struct husk_report {
	int32_t pid;
	int32_t error; /* negative errno, 0 when ready */
	char step[56];
};

/* `pid` is the process the report is about: the husk, or the child it failed to create. */
static void report_to_ckpt(int fd, pid_t pid, int error, const char *step)
{
	struct husk_report report = { .pid = pid, .error = error };

	snprintf(report.step, sizeof(report.step), "%s", step);
	if (write(fd, &report, sizeof(report)) < 0)
		_exit(127);
}

/*
 * Until the handover nothing ckpt creates may outlive it: each husk and
 * stand-in dies with the thread that created it (ckpt's, or its parent
 * husk's single thread), so a SIGKILL of ckpt takes the whole tree down,
 * parents first.  The check after the prctl closes the race with a
 * creator that died before it.  The restored processes get their own
 * parent-death signals back at the end (restore_prctl()).
 */
static void die_with_creator(pid_t creator)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != creator)
		_exit(127);
}

enum {
	ADOPTION_POLL_US = 1000,
	ADOPTION_LIMIT_POLLS = 30000
};

/*
 * A child created by a session stand-in, which exits at once: a
 * parent-death signal set now would fire then.  The child waits until the
 * stand-in's exit has handed it to its husk parent (a child subreaper),
 * then dies with that one.  Anyone else adopting it means that parent died.
 */
static void wait_for_adoption(pid_t stand_in, pid_t parent)
{
	for (int poll_count = 0; getppid() == stand_in; poll_count++) {
		if (poll_count >= ADOPTION_LIMIT_POLLS)
			_exit(127);
		usleep(ADOPTION_POLL_US);
	}
	die_with_creator(parent);
}

static pid_t clone_with_pid_and_flags(pid_t pid, uint32_t exit_signal, uint64_t flags)
{
	struct clone_args args = {
		.flags = flags,
		.exit_signal = exit_signal,
		.set_tid = (uint64_t)(uintptr_t)&pid,
		.set_tid_size = 1,
	};

	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

static pid_t clone_with_pid(pid_t pid, uint32_t exit_signal)
{
	return clone_with_pid_and_flags(pid, exit_signal, 0);
}

/* What a child shares with its parent's husk, which holds the same objects (checked at checkpoint). */
static uint64_t sharing_clone_flags(const struct ckpt_tree_entry *child)
{
	uint64_t flags = 0;

	if (shares_with_other(child->mm_owner, child->pid))
		flags |= CLONE_VM;
	if (shares_with_other(child->files_owner, child->pid))
		flags |= CLONE_FILES;
	if (shares_with_other(child->fs_owner, child->pid))
		flags |= CLONE_FS;
	if (shares_with_other(child->sighand_owner, child->pid))
		flags |= CLONE_SIGHAND;
	return flags;
}

enum {
	SHARER_STACK_SIZE = 256 * 1024
};

struct sharer_start {
	const struct restore_context *ctx;
	size_t index;
	pid_t creator;
};

static void husk_main(const struct restore_context *ctx, size_t index, pid_t creator);

static void start_sharer(struct sharer_start *start)
{
	husk_main(start->ctx, start->index, start->creator);
}

/*
 * clone3 with a stack of its own: the child of a CLONE_VM clone must not
 * return through the parent's stack frames, so it calls `start` right away.
 */
static pid_t clone3_calling(struct clone_args *args, void (*start)(struct sharer_start *),
			    struct sharer_start *argument)
{
	register long result __asm__("rax") = SYS_clone3;
	register struct clone_args *args_in __asm__("rdi") = args;
	register long size_in __asm__("rsi") = (long)sizeof(*args);
	register void (*start_in)(struct sharer_start *) __asm__("r12") = start;
	register struct sharer_start *argument_in __asm__("r13") = argument;

	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "xor %%ebp, %%ebp\n\t"
			 "mov %%r13, %%rdi\n\t"
			 "and $-16, %%rsp\n\t"
			 "call *%%r12\n\t"
			 "ud2\n"
			 "1:"
			 : "+r"(result)
			 : "r"(args_in), "r"(size_in), "r"(start_in), "r"(argument_in)
			 : "rcx", "r11", "memory", "cc");
	return (pid_t)result;
}

/* A husk in its parent's memory map, on a stack of its own (wiped when the owner is rebuilt). */
static pid_t clone_sharing_memory(const struct restore_context *ctx, size_t index, uint64_t flags)
{
	const struct ckpt_tree_entry *child = &ctx->tree.entries[index];
	pid_t pid = child->pid;
	char *stack = mmap(NULL, SHARER_STACK_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	struct sharer_start *start = (struct sharer_start *)(void *)stack;
	struct clone_args args = {
		.flags = flags,
		.exit_signal = child->exit_signal,
		.stack = (uint64_t)(uintptr_t)stack,
		.stack_size = SHARER_STACK_SIZE,
		.set_tid = (uint64_t)(uintptr_t)&pid,
		.set_tid_size = 1,
	};

	if (stack == MAP_FAILED)
		return -1;
	*start = (struct sharer_start){ .ctx = ctx, .index = index, .creator = getpid() };
	return clone3_calling(&args, start_sharer, start);
}

/* A zombie of the image: a husk that exits the way the original did. */
static void become_zombie(const struct ckpt_tree_entry *entry)
{
	int status = entry->exit_status;
	struct rlimit no_core = { 0, 0 };
	sigset_t only;

	if (entry->sid == entry->pid)
		setsid();
	else if (entry->pgid == entry->pid)
		setpgid(0, 0);
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

static bool is_child(const struct image_tree *tree, size_t parent, const struct ckpt_tree_entry *entry)
{
	return entry->ppid == tree->entries[parent].pid;
}

/*
 * A child in a session whose leader has exited (a daemon's double fork):
 * it was reparented to us, so it is created by a stand-in for the leader.
 */
static bool needs_session_stand_in(const struct image_tree *tree, size_t parent,
				   const struct ckpt_tree_entry *child)
{
	return child->state == CKPT_TREE_ALIVE && child->sid != 0 && child->sid != child->pid &&
	       child->sid != tree->entries[parent].sid;
}

/* The child's husk (or zombie); only the caller returns. */
static void clone_child(const struct restore_context *ctx, size_t index)
{
	const struct ckpt_tree_entry *child = &ctx->tree.entries[index];
	uint64_t flags = sharing_clone_flags(child);
	pid_t creator = getpid();
	pid_t pid = (flags & CLONE_VM)
			    ? clone_sharing_memory(ctx, index, flags)
			    : clone_with_pid_and_flags(child->pid, child->exit_signal, flags);

	if (pid == 0 && child->state == CKPT_TREE_ZOMBIE)
		become_zombie(child);
	if (pid == 0)
		husk_main(ctx, index, creator);
	if (pid < 0) {
		report_to_ckpt(ctx->report_fd, child->pid, -errno, "creating a child with its PID");
		_exit(127);
	}
}

/*
 * A process with the dead leader's PID starts the session, creates every
 * child of ours that belongs to it and exits; as a child subreaper (which
 * we were, for them to have come to us) we get them back.
 */
static void clone_through_session_stand_in(const struct restore_context *ctx, size_t index,
					   pid_t session)
{
	const struct image_tree *tree = &ctx->tree;
	pid_t creator = getpid();
	pid_t stand_in;

	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	stand_in = clone_with_pid(session, SIGCHLD);
	if (stand_in == 0) {
		die_with_creator(creator);
		if (setsid() < 0) {
			report_to_ckpt(ctx->report_fd, session, -errno,
				       "starting the session of its exited leader");
			_exit(127);
		}
		for (size_t i = index + 1; i < tree->entry_count; i++) {
			if (is_child(tree, index, &tree->entries[i]) &&
			    needs_session_stand_in(tree, index, &tree->entries[i]) &&
			    tree->entries[i].sid == session)
				clone_child(ctx, i);
		}
		_exit(0);
	}
	if (stand_in < 0) {
		report_to_ckpt(ctx->report_fd, session, -errno,
			       "creating a stand-in for an exited session leader");
		_exit(127);
	}
	waitpid(stand_in, NULL, 0);
}

/* Whether an earlier child of ours already went through this session's stand-in. */
static bool session_done(const struct image_tree *tree, size_t parent, size_t index)
{
	for (size_t i = parent + 1; i < index; i++) {
		if (is_child(tree, parent, &tree->entries[i]) &&
		    needs_session_stand_in(tree, parent, &tree->entries[i]) &&
		    tree->entries[i].sid == tree->entries[index].sid)
			return true;
	}
	return false;
}

static void fork_children(const struct restore_context *ctx, size_t index)
{
	const struct image_tree *tree = &ctx->tree;

	for (size_t i = index + 1; i < tree->entry_count; i++) {
		const struct ckpt_tree_entry *child = &tree->entries[i];

		if (!is_child(tree, index, child))
			continue;
		if (!needs_session_stand_in(tree, index, child))
			clone_child(ctx, i);
		else if (!session_done(tree, index, i))
			clone_through_session_stand_in(ctx, index, child->sid);
	}
}

/* Our child with that PID (alive or a zombie), if any. */
static const struct ckpt_tree_entry *child_with_pid(const struct image_tree *tree, size_t parent,
						    pid_t pid)
{
	for (size_t i = parent + 1; i < tree->entry_count; i++) {
		const struct ckpt_tree_entry *entry = &tree->entries[i];

		if (entry->pid == pid && is_child(tree, parent, entry))
			return entry;
	}
	return NULL;
}

static bool in_tree(const struct image_tree *tree, pid_t pid)
{
	for (size_t i = 0; i < tree->entry_count; i++) {
		if (tree->entries[i].pid == pid)
			return true;
	}
	return false;
}

/* A child that must join another group than its own or ours. */
static bool joins_other_group(const struct image_tree *tree, size_t parent,
			      const struct ckpt_tree_entry *child)
{
	return is_child(tree, parent, child) && child->pgid != 0 && child->pgid != child->pid &&
	       child->pgid != tree->entries[parent].pgid &&
	       !needs_session_stand_in(tree, parent, child);
}

/*
 * A group whose leader has exited: a stand-in with the leader's PID makes
 * the group, our children join it, and it goes (the group lives on).
 */
static pid_t start_group_stand_in(const struct restore_context *ctx, pid_t group)
{
	pid_t creator = getpid();
	pid_t stand_in = clone_with_pid(group, SIGCHLD);

	if (stand_in == 0) {
		die_with_creator(creator);
		for (;;)
			pause();
	}
	if (stand_in < 0 || setpgid(stand_in, stand_in) < 0) {
		report_to_ckpt(ctx->report_fd, group, -errno,
			       "creating a stand-in for an exited group leader");
		_exit(127);
	}
	return stand_in;
}

static void end_stand_in(pid_t stand_in)
{
	kill(stand_in, SIGKILL);
	waitpid(stand_in, NULL, 0);
}

static void join_group(const struct restore_context *ctx, const struct ckpt_tree_entry *child)
{
	if (setpgid(child->pid, child->pgid) < 0) {
		report_to_ckpt(ctx->report_fd, child->pid, -errno, "joining its process group");
		_exit(127);
	}
}

/* Every child of ours in `group`, whose leader is no longer in the tree. */
static void place_in_orphaned_group(const struct restore_context *ctx, size_t index, pid_t group)
{
	const struct image_tree *tree = &ctx->tree;
	pid_t stand_in = start_group_stand_in(ctx, group);

	for (size_t i = index + 1; i < tree->entry_count; i++) {
		if (joins_other_group(tree, index, &tree->entries[i]) &&
		    tree->entries[i].pgid == group)
			join_group(ctx, &tree->entries[i]);
	}
	end_stand_in(stand_in);
}

/* Whether an earlier child of ours already joined this orphaned group. */
static bool group_done(const struct image_tree *tree, size_t parent, size_t index)
{
	for (size_t i = parent + 1; i < index; i++) {
		if (joins_other_group(tree, parent, &tree->entries[i]) &&
		    tree->entries[i].pgid == tree->entries[index].pgid)
			return true;
	}
	return false;
}

/*
 * Children whose group is neither their own nor the one they inherited
 * (both compared as in the image: a group led from outside a new PID
 * namespace reads as 0 there).  A leader that is also our child may not
 * have made itself leader yet, so we make it one first; a group whose
 * leader has left the tree gets a stand-in, once.
 */
static void place_children_in_groups(const struct restore_context *ctx, size_t index)
{
	const struct image_tree *tree = &ctx->tree;

	for (size_t i = index + 1; i < tree->entry_count; i++) {
		const struct ckpt_tree_entry *child = &tree->entries[i];
		const struct ckpt_tree_entry *leader;

		if (!joins_other_group(tree, index, child))
			continue;
		if (!in_tree(tree, child->pgid)) {
			if (!group_done(tree, index, i))
				place_in_orphaned_group(ctx, index, child->pgid);
			continue;
		}
		leader = child_with_pid(tree, index, child->pgid);
		if (leader && leader->sid != leader->pid)
			setpgid(leader->pid, leader->pid); /* fails once it is a zombie: it did it */
		join_group(ctx, child);
	}
}

enum {
	OWN_GROUP_POLLS = 100000
}; /* of 100 us: 10 s */

/*
 * A husk that its parent moves into another group waits for that before it
 * forks: its children (zombies among them) inherit the group they were in.
 */
static void wait_for_own_group(const struct restore_context *ctx, size_t index)
{
	const struct image_tree *tree = &ctx->tree;
	const struct ckpt_tree_entry *self = &tree->entries[index];
	const struct timespec pause = { 0, 100000 };
	size_t parent = 0;

	while (parent < index && tree->entries[parent].pid != self->ppid)
		parent++;
	if (parent == index || !joins_other_group(tree, parent, self))
		return;
	for (int poll = 0; poll < OWN_GROUP_POLLS && getpgrp() != self->pgid; poll++)
		nanosleep(&pause, NULL);
	if (getpgrp() != self->pgid) {
		report_to_ckpt(ctx->report_fd, self->pid, -ETIMEDOUT,
			       "waiting to be placed in its group");
		_exit(127);
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
static void husk_main(const struct restore_context *ctx, size_t index, pid_t creator)
{
	const struct ckpt_tree_entry *self = &ctx->tree.entries[index];
	int ret = 0;

	if (index > 0 && creator != self->ppid)
		wait_for_adoption(creator, self->ppid);
	else
		die_with_creator(creator);
	reset_signal_handling();
	if (self->sid == self->pid)
		ret = setsid() < 0 ? -errno : 0;
	else if (self->pgid == self->pid)
		ret = setpgid(0, 0) < 0 ? -errno : 0;
	if (ret < 0) {
		report_to_ckpt(ctx->report_fd, self->pid, ret, "setting its session or group");
		_exit(127);
	}
	ret = start_husk_files(ctx, self->pid);
	if (ret < 0) {
		report_to_ckpt(ctx->report_fd, self->pid, ret, "taking its controlling terminal");
		_exit(127);
	}
	wait_for_own_group(ctx, index);
	fork_children(ctx, index);
	place_children_in_groups(ctx, index);
	report_to_ckpt(ctx->report_fd, self->pid, 0, "ready");
	for (;;)
		pause();
}

static int clone_error(struct restore_context *ctx, pid_t pid, int error)
{
	if (error == EEXIST)
		return fail(ctx->err, EEXIST, "PID %d is in use", pid);
	if (error == EPERM)
		return fail(ctx->err, EPERM,
			    "creating a process with PID %d needs CAP_CHECKPOINT_RESTORE (or root)",
			    pid);
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
	if (strncmp(report->step, "creating", 8) == 0 &&
	    (report->error == -EEXIST || report->error == -EPERM))
		return clone_error(ctx, report->pid, -report->error);
	if (report->error < 0)
		return fail(ctx->err, report->error, "the new process %d failed %s: %s",
			    report->pid, report->step, strerror(-report->error));
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

/*
 * The namespace's init holds on to ckpt until the tree is released: it dies
 * with ckpt (and the whole namespace with it) and leaves when ckpt gives up.
 */
static void hold_on_to_ckpt(int go_fd)
{
	char released = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* had ckpt died before, read sees EOF */
	if (read(go_fd, &released, 1) != 1)
		_exit(127);
	prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
	if (write(go_fd, &released, 1) != 1) /* now ckpt may exit */
		_exit(127);
	close(go_fd);
}

/*
 * With --pidns: PID 1 of the new namespace.  It creates the root husk with
 * the root's PID, reaps what the tree orphans, and once nothing is left
 * exits with the root's status (an init cannot kill itself with a signal,
 * so a signal death becomes 128+N).  Never returns.
 */
static void namespace_init_main(const struct restore_context *ctx, int go_fd)
{
	const struct ckpt_tree_entry *root = &ctx->tree.entries[0];
	pid_t creator = getpid();
	pid_t root_pid = clone_with_pid(root->pid, SIGCHLD);
	int root_status = 0, status;
	pid_t reaped;

	if (root_pid == 0)
		husk_main(ctx, 0, creator);
	if (root_pid < 0) {
		report_to_ckpt(ctx->report_fd, root->pid, -errno, "creating the root with its PID");
		_exit(127);
	}
	syscall(SYS_close_range, 0, (unsigned)go_fd - 1, 0);
	syscall(SYS_close_range, (unsigned)go_fd + 1, ~0u, 0);
	hold_on_to_ckpt(go_fd);
	for (;;) {
		reaped = wait(&status);
		if (reaped < 0 && errno != EINTR)
			break;
		if (reaped == root_pid)
			root_status = status;
	}
	_exit(WIFSIGNALED(root_status) ? 128 + WTERMSIG(root_status) : WEXITSTATUS(root_status));
}

static pid_t clone_namespace_init(void)
{
	struct clone_args args = { .flags = CLONE_NEWPID, .exit_signal = SIGCHLD };

	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

/* The init of a new namespace, which creates the root; ctx->go_fd lets it go. */
static pid_t clone_init_and_root(struct restore_context *ctx)
{
	int release[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, release) < 0)
		return -1;
	pid = clone_namespace_init();
	if (pid == 0) {
		close(release[1]);
		namespace_init_main(ctx, release[0]);
	}
	close(release[0]);
	if (pid < 0)
		close(release[1]);
	else
		ctx->go_fd = release[1];
	return pid;
}

/*
 * The first process: the root husk itself, or the init of a new PID
 * namespace (which is the root husk when the root was a PID 1).
 */
static int clone_first(struct restore_context *ctx)
{
	bool in_namespace = ctx->options->flags & CKPT_OPT_PIDNS;
	bool root_is_init = ctx->tree.entries[0].pid == 1;
	pid_t creator = in_namespace ? 0 : getpid(); /* a new namespace's init sees no parent */
	pid_t pid;

	if (in_namespace && !root_is_init)
		pid = clone_init_and_root(ctx);
	else
		pid = in_namespace ? clone_namespace_init()
				   : clone_with_pid(ctx->tree.entries[0].pid, SIGCHLD);
	if (pid == 0)
		husk_main(ctx, 0, creator);
	if (pid < 0)
		return pid;
	if (in_namespace)
		ctx->namespace_init = pid;
	if (!in_namespace || root_is_init)
		ctx->root = pid;
	return pid;
}

/* After a successful restart: the namespace's init no longer dies with ckpt. */
void let_namespace_init_go(struct restore_context *ctx)
{
	char ack = 0;

	if (ctx->go_fd < 0)
		return;
	if (write(ctx->go_fd, "r", 1) != 1 || read(ctx->go_fd, &ack, 1) != 1)
		kill(ctx->namespace_init, SIGKILL);
	close(ctx->go_fd);
	ctx->go_fd = -1;
}

/* Each tree process's PID as ckpt sees it (the same unless in a new namespace). */
static int map_outer_pids(struct restore_context *ctx)
{
	const struct image_tree *tree = &ctx->tree;

	ctx->outer_pids = calloc(tree->entry_count, sizeof(*ctx->outer_pids));
	if (!ctx->outer_pids)
		return fail(ctx->err, ENOMEM, "out of memory");
	for (size_t i = 0; i < tree->entry_count; i++) {
		ctx->outer_pids[i] = tree->entries[i].pid;
		if (!ctx->namespace_init || tree->entries[i].state != CKPT_TREE_ALIVE)
			continue;
		ctx->outer_pids[i] =
			proc_find_by_inner_pid(ctx->namespace_init, "/proc", tree->entries[i].pid);
		if (!ctx->outer_pids[i])
			return fail(ctx->err, ESRCH, "cannot find process %d of the new namespace",
				    tree->entries[i].pid);
	}
	if (ctx->namespace_init)
		ctx->root = ctx->outer_pids[0];
	return 0;
}

static const struct ckpt_tree_entry *entry_of(const struct image_tree *tree, pid_t pid, size_t *index)
{
	for (size_t i = 0; i < tree->entry_count; i++) {
		if (tree->entries[i].pid == pid) {
			*index = i;
			return &tree->entries[i];
		}
	}
	return NULL;
}

static int check_session(struct restore_context *ctx, size_t parent,
			 const struct ckpt_tree_entry *entry)
{
	const struct image_tree *tree = &ctx->tree;

	if (!needs_session_stand_in(tree, parent, entry))
		return 0;
	if (in_tree(tree, entry->sid))
		return fail(ctx->err, ENOTSUP,
			    "process %d is in session %d but its parent %d is not: not supported yet",
			    entry->pid, entry->sid, entry->ppid);
	if (entry->pgid != entry->sid && entry->pgid != entry->pid)
		return fail(ctx->err, ENOTSUP,
			    "process %d is in session %d, whose leader has exited, and in group %d of it: not supported yet",
			    entry->pid, entry->sid, entry->pgid);
	return 0;
}

static int check_group(struct restore_context *ctx, size_t parent, const struct ckpt_tree_entry *entry)
{
	const struct image_tree *tree = &ctx->tree;
	const struct ckpt_tree_entry *leader;
	size_t ignored;

	if (!joins_other_group(tree, parent, entry))
		return 0;
	leader = entry_of(tree, entry->pgid, &ignored);
	if (leader && (leader->state == CKPT_TREE_ALIVE || leader->ppid == entry->ppid))
		return 0;
	if (!leader && entry->pgid != tree->entries[0].pgid) {
		for (size_t i = 1; i < tree->entry_count; i++) {
			const struct ckpt_tree_entry *other = &tree->entries[i];

			if (other->state == CKPT_TREE_ALIVE && other->pgid == entry->pgid &&
			    other->ppid != entry->ppid)
				return fail(ctx->err, ENOTSUP,
					    "process group %d, whose leader has exited, holds children of %d and %d: not supported yet",
					    entry->pgid, entry->ppid, other->ppid);
		}
		return 0;
	}
	return fail(ctx->err, ENOTSUP,
		    "process %d is in process group %d, whose leader cannot be rebuilt before it: not supported yet",
		    entry->pid, entry->pgid);
}

/*
 * Sessions and groups the husks can rebuild: led by a process of the tree,
 * inherited, or led by a process that has exited, whose members are
 * children of one parent (a stand-in with the leader's PID then makes the
 * session or group for them and goes).
 */
int check_groups_restorable(struct restore_context *ctx)
{
	const struct image_tree *tree = &ctx->tree;
	int ret = 0;

	for (size_t i = 1; ret == 0 && i < tree->entry_count; i++) {
		const struct ckpt_tree_entry *entry = &tree->entries[i];
		size_t parent;

		if (entry->state != CKPT_TREE_ALIVE || !entry_of(tree, entry->ppid, &parent))
			continue;
		ret = check_session(ctx, parent, entry);
		if (ret == 0)
			ret = check_group(ctx, parent, entry);
	}
	return ret;
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
	ret = clone_first(ctx);
	close(ctx->report_fd);
	ctx->report_fd = -1;
	if (ret < 0) {
		close(pipe_fds[0]);
		return clone_error(ctx, ctx->tree.entries[0].pid, errno);
	}
	ret = wait_for_reports(ctx, pipe_fds[0]);
	close(pipe_fds[0]);
	if (ret == 0)
		ret = map_outer_pids(ctx);
	return ret;
}

enum {
	REAP_POLLS = 1000
}; /* of 10 ms: a busy machine may take seconds */

/*
 * Collects a killed husk, once it has died.  Husks are reaped parents
 * first: a husk whose parent husk was collected has come to ckpt (the
 * subreaper), so ECHILD means it is gone or was never ours.
 */
static void reap(pid_t pid)
{
	for (int attempt = 0; attempt < REAP_POLLS; attempt++) {
		int status;
		pid_t got = waitpid(pid, &status, __WALL | WNOHANG);

		if (got == pid || (got < 0 && errno == ECHILD))
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

		if (parent == getpid()) { /* its husk parent died: it came to us */
			ours[i] = true;
			continue;
		}

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

	if (ctx->go_fd >= 0) {
		close(ctx->go_fd);
		ctx->go_fd = -1;
	}
	if (ctx->namespace_init) {
		kill(ctx->namespace_init, SIGKILL); /* takes the whole namespace */
		reap(ctx->namespace_init);
		ctx->namespace_init = 0;
		ctx->root = 0;
		return;
	}
	if (!ctx->root)
		return;
	ours = calloc(ctx->tree.entry_count, sizeof(*ours));
	if (ours)
		find_our_husks(ctx, ours);
	for (size_t i = 0; i < ctx->tree.entry_count; i++) {
		if (ours ? ours[i] : i == 0)
			kill(ctx->tree.entries[i].pid, SIGKILL);
	}
	for (size_t i = 0; i < ctx->tree.entry_count; i++) { /* parents first: see reap() */
		if (ours ? ours[i] : i == 0)
			reap(ctx->tree.entries[i].pid);
	}
	ctx->root = 0;
}
