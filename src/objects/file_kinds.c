/* SPDX-License-Identifier: MIT */
/*
 * The objects side's FILE kind table, and the steps of the two pipelines
 * that run a hook of every kind: checks after collecting, release of the
 * kinds' state, checks before a restart creates anything, the links made in
 * each husk, the seals.
 */
#include <stdlib.h>

#include "objects/dump.h"
#include "objects/file_kinds.h"
#include "objects/restore.h"
#include "util.h"

static const struct file_kind_ops *const file_kinds[] = {
	[CKPT_FILE_REGULAR] = &regular_file_ops,
	[CKPT_FILE_DIRECTORY] = &directory_ops,
	[CKPT_FILE_CHARDEV] = &chardev_ops,
	[CKPT_FILE_SHMEM] = &shmem_ops,
	[CKPT_FILE_EVENTFD] = &eventfd_ops,
	[CKPT_FILE_TIMERFD] = &timerfd_ops,
	[CKPT_FILE_SIGNALFD] = &signalfd_ops,
	[CKPT_FILE_EPOLL] = &epoll_ops,
	[CKPT_FILE_UNIX_SOCKET] = &unix_socket_ops,
	[CKPT_FILE_INET_SOCKET] = &inet_socket_ops,
	[CKPT_FILE_PIPE] = &pipe_ops,
	[CKPT_FILE_INOTIFY] = &inotify_ops,
	[CKPT_FILE_TCP_STREAM] = &tcp_stream_ops,
	[CKPT_FILE_PTY] = &pty_ops,
};

const struct file_kind_ops *find_file_kind_ops(uint32_t kind)
{
	return kind < ARRAY_SIZE(file_kinds) ? file_kinds[kind] : NULL;
}

const struct file_kind_ops *next_file_kind_ops(const struct file_kind_ops *previous)
{
	size_t next = previous ? (size_t)previous->kind + 1 : 0;

	for (; next < ARRAY_SIZE(file_kinds); next++) {
		if (file_kinds[next])
			return file_kinds[next];
	}
	return NULL;
}

const struct file_kind_ops *recognise_fd(const struct fd_facts *facts)
{
	for (const struct file_kind_ops *kind = next_file_kind_ops(NULL); kind;
	     kind = next_file_kind_ops(kind)) {
		if (kind->recognise && kind->recognise(facts))
			return kind;
	}
	return NULL;
}

void free_plain_state(struct dump_file *file)
{
	free(file->kind_state);
	file->kind_state = NULL;
}

/* ---- checkpoint side ---- */

/* Once the tree is frozen, before any fd is collected. */
int survey_file_kinds(struct dump_tree *tree)
{
	int ret = 0;

	for (const struct file_kind_ops *kind = next_file_kind_ops(NULL); ret == 0 && kind;
	     kind = next_file_kind_ops(kind)) {
		if (kind->survey)
			ret = kind->survey(tree);
	}
	return ret;
}

/* The epolls (and such) first seen in this process, now that all its fds have FILEs. */
int collect_file_links(struct dump_context *ctx)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < ctx->shared->file_count; i++) {
		struct dump_file *file = &ctx->shared->files[i];
		const struct file_kind_ops *kind = find_file_kind_ops(file->record.kind);

		if (kind->collect_links && file->first_pid == ctx->pid)
			ret = kind->collect_links(ctx, file);
	}
	return ret;
}

int check_collected_files(struct dump_shared *shared)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < shared->file_count; i++) {
		struct dump_file *file = &shared->files[i];
		const struct file_kind_ops *kind = find_file_kind_ops(file->record.kind);

		if (kind->check_collected)
			ret = kind->check_collected(shared, file);
	}
	return ret;
}

void free_dump_files(struct dump_shared *shared)
{
	for (size_t i = 0; i < shared->file_count; i++) {
		struct dump_file *file = &shared->files[i];
		const struct file_kind_ops *kind = find_file_kind_ops(file->record.kind);

		if (kind && kind->free_state)
			kind->free_state(file);
		free(file->path);
	}
	free(shared->files);
	shared->files = NULL;
	shared->file_count = 0;
	for (const struct file_kind_ops *kind = next_file_kind_ops(NULL); kind;
	     kind = next_file_kind_ops(kind)) {
		if (kind->free_survey)
			kind->free_survey(shared);
	}
}

/* ---- restart side ---- */

int check_files_restorable(struct restore_context *ctx)
{
	int ret = 0;

	for (const struct file_kind_ops *kind = next_file_kind_ops(NULL); ret == 0 && kind;
	     kind = next_file_kind_ops(kind)) {
		if (kind->check)
			ret = kind->check(ctx);
	}
	return ret;
}

void unstage_file_kinds(struct restore_context *ctx)
{
	for (const struct file_kind_ops *kind = next_file_kind_ops(NULL); kind;
	     kind = next_file_kind_ops(kind)) {
		if (kind->unstage)
			kind->unstage(ctx);
	}
}

int start_husk_files(const struct restore_context *ctx, pid_t pid)
{
	int ret = 0;

	for (const struct file_kind_ops *kind = next_file_kind_ops(NULL); ret == 0 && kind;
	     kind = next_file_kind_ops(kind)) {
		if (kind->start_husk)
			ret = kind->start_husk(ctx, pid);
	}
	return ret;
}

int connect_fds(struct restore_context *ctx)
{
	int ret = 0;

	for (const struct file_kind_ops *kind = next_file_kind_ops(NULL); ret == 0 && kind;
	     kind = next_file_kind_ops(kind)) {
		if (kind->connect)
			ret = kind->connect(ctx);
	}
	return ret;
}

int seal_files(struct restore_context *ctx)
{
	int ret = 0;

	for (const struct file_kind_ops *kind = next_file_kind_ops(NULL); ret == 0 && kind;
	     kind = next_file_kind_ops(kind)) {
		if (kind->seal)
			ret = kind->seal(ctx);
	}
	return ret;
}
