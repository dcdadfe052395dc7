/* SPDX-License-Identifier: MIT */
/*
 * The process tree: the root and every descendant, frozen parent first,
 * with zombies recorded as they are, and written as the TREE record.  At
 * restart restart/husks.c creates it again from that record.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "objects/dump.h"
#include "util.h"

static bool is_live_task(pid_t tid)
{
	struct ckpt_error ignored = { 0 };
	uint64_t state;

	if (proc_stat_fields(tid, &state, 3, 1, &ignored) < 0)
		return false;
	return state != 'Z' && state != 'X';
}

/* A zombie leader whose other threads run on: main called pthread_exit(). */
static bool has_live_thread(pid_t leader)
{
	_cleanup_free_ pid_t *tids = NULL;
	struct ckpt_error ignored = { 0 };
	size_t count = 0;

	if (list_thread_ids(leader, &tids, &count, &ignored) < 0)
		return false;
	for (size_t i = 0; i < count; i++) {
		if (tids[i] != leader && is_live_task(tids[i]))
			return true;
	}
	return false;
}

/*
 * Its /proc files (fds, maps, cwd) are empty once the leader has exited,
 * and it cannot be traced: such a process is refused, not taken for a zombie.
 */
static int check_leader_not_gone(pid_t pid, uint64_t state, struct ckpt_error *err)
{
	if (state != 'Z' || !has_live_thread(pid))
		return 0;
	return fail(err, ENOTSUP,
		    "process %d: its main thread has exited while other threads run: not supported yet",
		    pid);
}

/* /proc/PID/stat: state (3), ppid, pgrp, session (4-6), exit_signal (38), exit_code (52). */
static int read_tree_entry(pid_t pid, struct ckpt_tree_entry *entry, struct ckpt_error *err)
{
	uint64_t ids[4], exit_signal, exit_code;
	int ret = proc_stat_fields(pid, ids, 3, 4, err);

	if (ret == 0)
		ret = proc_stat_fields(pid, &exit_signal, 38, 1, err);
	if (ret == 0)
		ret = proc_stat_fields(pid, &exit_code, 52, 1, err);
	if (ret == 0)
		ret = check_leader_not_gone(pid, ids[0], err);
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
	struct ckpt_tree_entry *grown =
		realloc(tree->entries, (tree->entry_count + 1) * sizeof(*grown));

	if (!grown)
		return fail(err, ENOMEM, "out of memory");
	tree->entries = grown;
	grown[tree->entry_count++] = *entry;
	return 0;
}

static int add_process(struct dump_tree *tree, pid_t pid, struct ckpt_error *err)
{
	struct dump_context *grown;
	struct dump_context *ctx;
	int ret = check_not_in_vfork(pid, err);

	if (ret < 0)
		return ret;
	grown = realloc(tree->processes, (tree->process_count + 1) * sizeof(*grown));
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

		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", ctx->pid,
			 ctx->threads[i].tid);
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

/* Takes the last process added out of the frozen set, letting go of its threads. */
static void drop_last_process(struct dump_tree *tree)
{
	struct dump_context *ctx = &tree->processes[tree->process_count - 1];

	for (size_t i = ctx->thread_count; i-- > 0;) {
		if (ctx->threads[i].seized)
			let_go_of_ending_thread(&ctx->threads[i].task);
	}
	free(ctx->threads);
	tree->process_count--;
}

static bool has_ended(pid_t pid)
{
	struct ckpt_error ignored = { 0 };
	uint64_t state;
	int ret = proc_stat_fields(pid, &state, 3, 1, &ignored);

	return ret == -ENOENT || ret == -ESRCH || (ret == 0 && (state == 'Z' || state == 'X'));
}

/*
 * The last entry, a child that failed to freeze because it ended after it
 * was listed.  Its parent is frozen and cannot reap it, so it is a zombie
 * now and is recorded as one, with its exit status; gone (its parent
 * ignores SIGCHLD, or it was not ours) it is left out, as if it had ended
 * before the checkpoint.  Returns ret unchanged for any other failure.
 */
static int take_ended_child(struct dump_tree *tree, pid_t parent, int ret, struct ckpt_error *err)
{
	struct ckpt_tree_entry *last = &tree->entries[tree->entry_count - 1];
	struct ckpt_error first = *err;
	struct ckpt_tree_entry now;

	if (!has_ended(last->pid))
		return ret;
	drop_last_process(tree);
	*err = (struct ckpt_error){ 0 };
	ret = read_tree_entry(last->pid, &now, err);
	if (ret == -ENOENT || ret == -ESRCH || (ret == 0 && now.ppid != parent)) {
		*err = (struct ckpt_error){ 0 };
		tree->entry_count--;
		return 0;
	}
	if (ret == 0 && now.state != CKPT_TREE_ZOMBIE) {
		*err = first;
		return err->code;
	}
	if (ret == 0)
		*last = now;
	return ret;
}

static int add_child(struct dump_tree *tree, pid_t parent, pid_t child, struct ckpt_error *err)
{
	struct ckpt_tree_entry entry;
	int ret = read_tree_entry(child, &entry, err);

	if (ret == -ENOENT || ret == -ESRCH || (ret == 0 && entry.ppid != parent)) {
		err->code = 0; /* reaped meanwhile (and its PID maybe taken again) */
		return 0;
	}
	if (ret == 0)
		ret = add_entry(tree, &entry, err);
	if (ret == 0 && entry.state == CKPT_TREE_ALIVE)
		ret = add_process(tree, child, err);
	if (ret < 0 && entry.state == CKPT_TREE_ALIVE && tree->process_count > 0 &&
	    tree->processes[tree->process_count - 1].pid == child)
		ret = take_ended_child(tree, parent, ret, err);
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
			ret = add_child(tree, tree->processes[next].pid, children[i], err);
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
