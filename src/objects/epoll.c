/* SPDX-License-Identifier: MIT */
/*
 * epoll: the set of watched files.  The kernel keys each registration by
 * file and fd number, so the registrations are made again inside the first
 * process that holds the epoll, with the fd numbers it used, once its fds
 * are back.  Readiness is not saved: the kernel polls each file when it is
 * added.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "image/records.h"
#include "objects/dump.h"
#include "objects/event_files.h"
#include "objects/file_kinds.h"
#include "objects/restore.h"
#include "util.h"

#define EPOLL_LINK "anon_inode:[eventpoll]"

/* An epoll's kind_state: its watched files, found once the fds of its first process are known. */
struct epoll_state {
	struct ckpt_epoll_target *targets;
	size_t target_count;
};

/* What KCMP_EPOLL_TFD takes: the epoll fd, the watched fd number, which of its files. */
struct epoll_slot {
	uint32_t epoll_fd;
	uint32_t target_fd;
	uint32_t target_index;
};

static const struct ckpt_fd *find_fd_record(const struct ckpt_fd *fds, size_t count, int fd)
{
	for (size_t i = 0; i < count; i++) {
		if (fds[i].fd == fd)
			return &fds[i];
	}
	return NULL;
}

/* The process's fd target_fd is still the file the epoll watches under that number. */
static bool still_watched(struct dump_context *ctx, int epoll_fd, int target_fd)
{
	struct epoll_slot slot = { (uint32_t)epoll_fd, (uint32_t)target_fd, 0 };

	return syscall(SYS_kcmp, ctx->pid, ctx->pid, KCMP_EPOLL_TFD, target_fd, &slot) == 0;
}

static bool is_epoll(const struct fd_facts *facts)
{
	return strcmp(facts->target, EPOLL_LINK) == 0;
}

static int collect_epoll(struct dump_context *ctx, const struct fd_facts *facts,
			 struct dump_file *file)
{
	(void)facts;
	file->kind_state = calloc(1, sizeof(struct epoll_state));
	if (!file->kind_state)
		return fail(ctx->err, ENOMEM, "out of memory");
	return 0;
}

static void free_epoll(struct dump_file *file)
{
	struct epoll_state *state = file->kind_state;

	if (state)
		free(state->targets);
	free_plain_state(file);
}

static int add_epoll_target(struct dump_context *ctx, struct dump_file *epoll,
			    const struct ckpt_epoll_target *target)
{
	struct epoll_state *state = epoll->kind_state;
	struct ckpt_epoll_target *grown =
		realloc(state->targets, (state->target_count + 1) * sizeof(*grown));

	if (!grown)
		return fail(ctx->err, ENOMEM, "out of memory");
	state->targets = grown;
	grown[state->target_count++] = *target;
	return 0;
}

/* One "tfd: N events: X data: Y ..." line of the epoll's fdinfo. */
static int collect_epoll_line(struct dump_context *ctx, struct dump_file *epoll, const char *line)
{
	struct ckpt_epoll_target target = { .epoll_file_id = epoll->record.id };
	const struct ckpt_fd *record;
	unsigned long long data;

	if (sscanf(line, "tfd: %d events: %x data: %llx", &target.fd, &target.events, &data) != 3)
		return fail(ctx->err, EINVAL, "cannot parse the fdinfo of epoll fd %d of process %d",
			    epoll->first_fd, ctx->pid);
	target.data = data;
	record = find_fd_record(ctx->fds, ctx->fd_count, target.fd);
	if (!record || !still_watched(ctx, epoll->first_fd, target.fd))
		return fail(ctx->err, ENOTSUP,
			    "fd %d of process %d is an epoll watching a file under fd %d, which no longer holds that file: not supported yet",
			    epoll->first_fd, ctx->pid, target.fd);
	if (record->file_id == epoll->record.id)
		return fail(ctx->err, EINVAL, "epoll fd %d of process %d watches itself",
			    epoll->first_fd, ctx->pid);
	if (record->file_id == 0 && target.fd > 2) /* taken over, and not from ckpt restart's 0-2 */
		return fail(ctx->err, ENOTSUP,
			    "fd %d of process %d is an epoll watching fd %d, a %s whose other end is outside the checkpointed tree: not supported yet",
			    epoll->first_fd, ctx->pid, target.fd,
			    image_inherit_kind_name(record->inherit_kind));
	target.target_file_id = record->file_id; /* 0: an fd 0-2 taken over at restart */
	return add_epoll_target(ctx, epoll, &target);
}

/* Its watched files, now that every fd of the process that first showed it has a FILE. */
static int collect_epoll_targets(struct dump_context *ctx, struct dump_file *epoll)
{
	_cleanup_free_ char *text = NULL;
	int ret = read_event_fdinfo(ctx, epoll->first_fd, &text);
	const char *line = ret == 0 ? text : NULL;

	while (ret == 0 && line) {
		if (strncmp(line, "tfd:", 4) == 0)
			ret = collect_epoll_line(ctx, epoll, line);
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return ret;
}

static bool epoll_watches_fd(struct dump_context *ctx, int epoll_fd, int fd)
{
	_cleanup_free_ char *text = NULL;
	char wanted[32];
	const char *line;

	if (read_event_fdinfo(ctx, epoll_fd, &text) < 0)
		return false;
	snprintf(wanted, sizeof(wanted), "tfd: %8d ", fd);
	line = strstr(text, wanted);
	return line && (line == text || line[-1] == '\n');
}

static bool is_epoll_fd(struct dump_context *ctx, int fd)
{
	char path[64], link[64];
	ssize_t length;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", ctx->pid, fd);
	length = readlink(path, link, sizeof(link) - 1);
	if (length < 0)
		return false;
	link[length] = '\0';
	return strcmp(link, EPOLL_LINK) == 0;
}

int find_epoll_watching(struct dump_context *ctx, int fd)
{
	char path[64];
	DIR *dir;
	struct dirent *entry;
	int found = -1;

	snprintf(path, sizeof(path), "/proc/%d/fd", ctx->pid);
	dir = opendir(path);
	while (dir && (entry = readdir(dir)) != NULL) {
		int candidate = atoi(entry->d_name);

		if (entry->d_name[0] == '.' || (found >= 0 && candidate > found))
			continue;
		if (is_epoll_fd(ctx, candidate) && epoll_watches_fd(ctx, candidate, fd))
			found = candidate;
	}
	if (dir)
		closedir(dir);
	return found;
}

static int write_epoll_targets(struct dump_shared *shared, const struct dump_file *epoll)
{
	const struct epoll_state *state = epoll->kind_state;
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < state->target_count; i++)
		ret = image_write_simple(&shared->writer, CKPT_RECORD_EPOLL_TARGET,
					 &state->targets[i], sizeof(state->targets[i]));
	return ret;
}

/* ---- restart side ---- */

static int create_epoll(struct restore_context *ctx, const struct file_opener *opener,
			const struct image_file *file, int *ret_fd)
{
	int fd, ret = begin_event_file(ctx);

	(void)opener;
	(void)file;
	if (ret < 0)
		return ret;
	fd = epoll_create1(EPOLL_CLOEXEC);
	if (fd < 0)
		return fail(ctx->err, errno, "epoll_create1: %s", strerror(errno));
	*ret_fd = fd;
	return 0;
}

/* A watched fd 0-2 is whatever ckpt restart had there; if it had none, there is nothing to watch. */
static int64_t add_inherited_target(struct restore_context *ctx, int epoll_fd,
				    const struct ckpt_epoll_target *target, uint64_t address)
{
	const uint64_t args[6] = { (uint64_t)epoll_fd, EPOLL_CTL_ADD, (uint64_t)target->fd, address };
	int64_t result;
	int ret = inject_syscall(&ctx->injector, SYS_epoll_ctl, args, &result);

	if (ret < 0)
		return ret;
	if (result < 0 && result != -EBADF)
		return fail(ctx->err, (int)-result, "epoll_ctl(ADD) of inherited fd %d: %s",
			    target->fd, strerror((int)-result));
	return 0;
}

static int64_t add_target_in_husk(struct restore_context *ctx, int epoll_fd,
				  const struct ckpt_epoll_target *target)
{
	struct epoll_event event = { .events = target->events, .data.u64 = target->data };
	const struct ckpt_fd *record =
		find_fd_record(ctx->image.fds, ctx->image.fd_count, target->fd);
	bool inherited = record && (record->flags & CKPT_FD_INHERIT);
	uint64_t address;
	int ret;

	if (!record || record->file_id != target->target_file_id ||
	    (target->target_file_id == 0 && !inherited))
		return fail(ctx->err, EINVAL,
			    "bad image: epoll file %u watches fd %d as file %u, which process %d does not hold there",
			    target->epoll_file_id, target->fd, target->target_file_id,
			    ctx->image.process.pid);
	ret = husk_put_data(ctx, 0, &event, sizeof(event), &address);
	if (ret < 0)
		return ret;
	if (inherited)
		return add_inherited_target(ctx, epoll_fd, target, address);
	return husk_call(ctx, "epoll_ctl", SYS_epoll_ctl, (uint64_t)epoll_fd, EPOLL_CTL_ADD,
			 (uint64_t)target->fd, address, 0, 0);
}

static int fill_epoll(struct restore_context *ctx, const struct ckpt_fd *epoll_fd)
{
	const struct image_tree *tree = &ctx->tree;

	for (size_t i = 0; i < tree->epoll_target_count; i++) {
		const struct ckpt_epoll_target *target = &tree->epoll_targets[i];
		int64_t ret;

		if (target->epoll_file_id != epoll_fd->file_id)
			continue;
		ret = add_target_in_husk(ctx, epoll_fd->fd, target);
		if (ret < 0)
			return (int)ret;
	}
	ctx->epolls_filled[epoll_fd->file_id - 1] = true;
	return 0;
}

static const char *what_fd_is(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return "a file";
	if (S_ISREG(st.st_mode))
		return "a regular file";
	if (S_ISDIR(st.st_mode))
		return "a directory";
	return "a file epoll cannot watch";
}

/* Whether an epoll can watch our own fd (true also when we have no such fd: nothing to watch). */
static bool can_watch_own_fd(int probe_epoll, int fd)
{
	struct epoll_event event = { .events = EPOLLIN };

	if (epoll_ctl(probe_epoll, EPOLL_CTL_ADD, fd, &event) == 0 || errno == EBADF)
		return true;
	return errno != EPERM;
}

/*
 * Before anything is created: an epoll of the image that watched fd 0-2
 * watches what ckpt restart has there, and the kernel refuses to watch a
 * regular file or a directory (`ckpt restart IMG > FILE`).
 */
static int check_inherited_epoll_targets(struct restore_context *ctx)
{
	const struct image_tree *tree = &ctx->tree;
	_cleanup_close_ int probe_epoll = -1;

	for (size_t i = 0; i < tree->epoll_target_count; i++) {
		const struct ckpt_epoll_target *target = &tree->epoll_targets[i];

		if (target->target_file_id != 0 || target->fd < 0 || target->fd > 2)
			continue;
		if (probe_epoll < 0)
			probe_epoll = epoll_create1(EPOLL_CLOEXEC);
		if (probe_epoll < 0)
			return fail(ctx->err, errno, "epoll_create1: %s", strerror(errno));
		if (!can_watch_own_fd(probe_epoll, target->fd))
			return fail(ctx->err, EPERM,
				    "an epoll of the image watches fd %d, which it takes over from ckpt restart, and fd %d here is %s, which epoll cannot watch: give it a pipe, a socket or a terminal (e.g. ckpt restart IMG | cat)",
				    target->fd, target->fd, what_fd_is(target->fd));
	}
	return 0;
}

/* Each epoll's registrations, in the first process of the stream that holds it. */
static int restore_epoll_targets(struct restore_context *ctx)
{
	int ret = 0;

	if (!ctx->epolls_filled)
		ctx->epolls_filled = calloc(ctx->tree.file_count + 1, sizeof(bool));
	if (!ctx->epolls_filled)
		return fail(ctx->err, ENOMEM, "out of memory");
	for (size_t i = 0; ret == 0 && i < ctx->image.fd_count; i++) {
		const struct ckpt_fd *record = &ctx->image.fds[i];

		if (record->file_id == 0 || ctx->epolls_filled[record->file_id - 1] ||
		    ctx->tree.files[record->file_id - 1].file.kind != CKPT_FILE_EPOLL)
			continue;
		ret = fill_epoll(ctx, record);
	}
	return ret;
}

const struct file_kind_ops epoll_ops = {
	.kind = CKPT_FILE_EPOLL,
	.recognise = is_epoll,
	.collect = collect_epoll,
	.collect_links = collect_epoll_targets,
	.write_links = write_epoll_targets,
	.free_state = free_epoll,
	.check = check_inherited_epoll_targets,
	.create = create_epoll,
	.connect = restore_epoll_targets,
};
