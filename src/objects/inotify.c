/* SPDX-License-Identifier: MIT */
/*
 * inotify: an instance and its watches, each with its watch descriptor (wd),
 * its mask and the inode it watches.  fdinfo lists every watch with a file
 * handle of its inode; ckpt opens the handle (open_by_handle_at, which needs
 * CAP_DAC_READ_SEARCH) on a mount of its filesystem to learn the inode's
 * path.  At restart the watches are added again by path in wd order; the
 * kernel hands out wds upwards from the last one it gave, so a gap before a
 * wd is skipped by adding and removing a watch on a throwaway inode (a
 * memfd of ckpt) as many times as the gap is wide.  Unread events cannot be
 * read without consuming them: an inotify with unread events is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "objects/dump.h"
#include "objects/event_files.h"
#include "objects/file_kinds.h"
#include "objects/restore.h"
#include "sys/proc_files.h"
#include "util.h"

enum {
	HANDLE_BYTES_MAX = 128
};

/* One watch as collected: the image record and the path it names. */
struct inotify_watch {
	struct ckpt_inotify_watch record;
	char *path;
};

struct inotify_state {
	struct ckpt_inotify record;
	struct inotify_watch *watches; /* by increasing wd */
};

/* One "inotify wd:..." line of fdinfo, as the kernel prints it (all hex). */
struct watch_line {
	unsigned int wd, device, mask, handle_bytes;
	int handle_type;
	unsigned long inode;
	char handle_hex[2 * HANDLE_BYTES_MAX + 1];
};

static bool is_inotify(const struct fd_facts *facts)
{
	return strcmp(facts->target, "anon_inode:inotify") == 0 || is_anon_inode_of(facts, "inotify");
}

static bool parse_watch_line(const char *line, struct watch_line *ret_line)
{
	int fields = sscanf(
		line,
		"inotify wd:%x ino:%lx sdev:%x mask:%x ignored_mask:%*x fhandle-bytes:%x fhandle-type:%x f_handle:%256[0-9a-f]",
		&ret_line->wd, &ret_line->inode, &ret_line->device, &ret_line->mask,
		&ret_line->handle_bytes, &ret_line->handle_type, ret_line->handle_hex);

	return fields == 7 && ret_line->handle_bytes <= HANDLE_BYTES_MAX &&
	       strlen(ret_line->handle_hex) == 2 * ret_line->handle_bytes;
}

/* Whether one mountinfo line is a whole filesystem (root "/") of device dev; its mount point. */
static bool is_mount_of(const char *line, dev_t dev, char *ret_point)
{
	unsigned int major_number, minor_number;
	char root[PATH_MAX];

	if (sscanf(line, "%*d %*d %u:%u %4095s %4095s", &major_number, &minor_number, root,
		   ret_point) != 4)
		return false;
	return makedev(major_number, minor_number) == dev && strcmp(root, "/") == 0;
}

/* The mount point of a whole filesystem whose device is dev, from ckpt's mountinfo. */
static int find_mount_of(dev_t dev, char *ret_path)
{
	_cleanup_free_ char *text = NULL;
	struct ckpt_error ignored = { 0 };
	int ret = read_whole_file("/proc/self/mountinfo", &text, NULL, &ignored);

	if (ret < 0)
		return ret;
	for (const char *line = text; line && *line; line = strchr(line, '\n')) {
		line += *line == '\n';
		if (is_mount_of(line, dev, ret_path))
			return 0;
	}
	return -ENOENT;
}

static void decode_hex(const char *hex, unsigned char *out, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		unsigned int byte = 0;

		sscanf(hex + 2 * i, "%2x", &byte);
		out[i] = (unsigned char)byte;
	}
}

/* The watched inode itself (O_PATH), from its file handle. */
static int open_watched_inode(const struct watch_line *line, dev_t dev)
{
	union {
		struct file_handle handle;
		unsigned char bytes[sizeof(struct file_handle) + HANDLE_BYTES_MAX];
	} buffer;
	char mount_path[PATH_MAX];
	_cleanup_close_ int mount_fd = -1;
	int fd, ret = find_mount_of(dev, mount_path);

	if (ret < 0)
		return ret;
	mount_fd = open(mount_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mount_fd < 0)
		return -errno;
	buffer.handle.handle_bytes = line->handle_bytes;
	buffer.handle.handle_type = line->handle_type;
	decode_hex(line->handle_hex, buffer.handle.f_handle, line->handle_bytes);
	fd = open_by_handle_at(mount_fd, &buffer.handle, O_PATH | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* The path that names the watched inode now; fails when it has none. */
static int find_watched_path(struct dump_context *ctx, int fd, const struct watch_line *line,
			     dev_t dev, char **ret_path)
{
	_cleanup_close_ int inode_fd = open_watched_inode(line, dev);
	char link[64], path[PATH_MAX];
	struct stat st;
	ssize_t length;

	if (inode_fd < 0)
		return fail(ctx->err, ENOTSUP,
			    "fd %d of process %d is an inotify watching inode %lu (wd %u) that ckpt cannot open by its handle (%s): not supported yet",
			    fd, ctx->pid, line->inode, line->wd, strerror(-inode_fd));
	snprintf(link, sizeof(link), "/proc/self/fd/%d", inode_fd);
	length = readlink(link, path, sizeof(path) - 1);
	if (length <= 0 || fstat(inode_fd, &st) < 0)
		return fail(ctx->err, errno, "reading the path of inode %lu: %s", line->inode,
			    strerror(errno));
	path[length] = '\0';
	if (path[0] != '/' || strstr(path, " (deleted)") || lstat(path, &st) < 0 ||
	    st.st_ino != line->inode || st.st_dev != dev)
		return fail(ctx->err, ENOTSUP,
			    "fd %d of process %d is an inotify watching inode %lu (wd %u), which no path names: not supported yet",
			    fd, ctx->pid, line->inode, line->wd);
	*ret_path = strdup(path);
	return *ret_path ? 0 : fail(ctx->err, ENOMEM, "out of memory");
}

static int collect_watch(struct dump_context *ctx, int fd, const struct watch_line *line,
			 struct inotify_watch *ret_watch)
{
	dev_t dev = makedev(line->device >> 20, line->device & 0xfffff);

	if (line->wd < 1 || line->wd > CKPT_MAX_INOTIFY_WD)
		return fail(ctx->err, ENOTSUP,
			    "fd %d of process %d is an inotify with watch descriptor %u, above %d: not supported yet",
			    fd, ctx->pid, line->wd, CKPT_MAX_INOTIFY_WD);
	if ((line->mask & ~CKPT_INOTIFY_MASK_BITS) || !(line->mask & IN_ALL_EVENTS))
		return fail(ctx->err, ENOTSUP,
			    "fd %d of process %d is an inotify with a watch of mask %#x (wd %u): not supported yet",
			    fd, ctx->pid, line->mask, line->wd);
	ret_watch->record = (struct ckpt_inotify_watch){
		.wd = (int32_t)line->wd,
		.mask = line->mask,
		.inode = line->inode,
		.device = dev,
	};
	return find_watched_path(ctx, fd, line, dev, &ret_watch->path);
}

static int compare_watches(const void *a, const void *b)
{
	int32_t left = ((const struct inotify_watch *)a)->record.wd;
	int32_t right = ((const struct inotify_watch *)b)->record.wd;

	return (left > right) - (left < right);
}

/* Every "inotify wd:" line of the fdinfo text, into state->watches. */
static int collect_watches(struct dump_context *ctx, int fd, const char *text,
			   struct inotify_state *state)
{
	for (const char *line = strstr(text, "inotify wd:"); line;
	     line = strstr(line + 1, "inotify wd:")) {
		struct watch_line parsed;
		struct inotify_watch *grown;
		int ret;

		if (!parse_watch_line(line, &parsed))
			return fail(ctx->err, EINVAL,
				    "fdinfo of fd %d of process %d: bad inotify line", fd, ctx->pid);
		if (state->record.watch_count >= CKPT_MAX_INOTIFY_WATCHES)
			return fail(ctx->err, ENOTSUP,
				    "fd %d of process %d is an inotify with more than %u watches: not supported yet",
				    fd, ctx->pid, CKPT_MAX_INOTIFY_WATCHES);
		grown = realloc(state->watches, (state->record.watch_count + 1) * sizeof(*grown));
		if (!grown)
			return fail(ctx->err, ENOMEM, "out of memory");
		state->watches = grown;
		memset(&grown[state->record.watch_count], 0, sizeof(*grown));
		ret = collect_watch(ctx, fd, &parsed, &grown[state->record.watch_count]);
		state->record.watch_count++;
		if (ret < 0)
			return ret;
	}
	qsort(state->watches, state->record.watch_count, sizeof(*state->watches), compare_watches);
	return 0;
}

/* Unread events would be lost: reading them consumes them, and nothing puts them back. */
static int refuse_unread_events(struct dump_context *ctx, int fd)
{
	_cleanup_close_ int taken = take_target_file(ctx, fd);
	int pending = 0;

	if (taken < 0)
		return taken;
	if (ioctl(taken, FIONREAD, &pending) < 0)
		return fail(ctx->err, errno, "FIONREAD on fd %d of process %d: %s", fd, ctx->pid,
			    strerror(errno));
	if (pending > 0)
		return fail(ctx->err, ENOTSUP,
			    "fd %d of process %d is an inotify with %d bytes of unread events: not supported yet",
			    fd, ctx->pid, pending);
	return 0;
}

static int collect_inotify(struct dump_context *ctx, const struct fd_facts *facts,
			   struct dump_file *file)
{
	_cleanup_free_ char *text = NULL;
	struct inotify_state *state;
	int ret = refuse_unread_events(ctx, facts->fd);

	if (ret == 0)
		ret = read_event_fdinfo(ctx, facts->fd, &text);
	if (ret < 0)
		return ret;
	state = calloc(1, sizeof(*state));
	if (!state)
		return fail(ctx->err, ENOMEM, "out of memory");
	state->record.file_id = file->record.id;
	file->kind_state = state;
	return collect_watches(ctx, facts->fd, text, state);
}

static int write_inotify(struct dump_shared *shared, const struct dump_file *file)
{
	const struct inotify_state *state = file->kind_state;
	int ret = image_write_simple(&shared->writer, CKPT_RECORD_INOTIFY, &state->record,
				     sizeof(state->record));

	for (uint32_t i = 0; ret == 0 && i < state->record.watch_count; i++) {
		struct ckpt_inotify_watch record = state->watches[i].record;
		struct iovec parts[2];

		record.file_id = file->record.id;
		record.path_length = (uint32_t)strlen(state->watches[i].path) + 1;
		parts[0] = (struct iovec){ &record, sizeof(record) };
		parts[1] = (struct iovec){ state->watches[i].path, record.path_length };
		ret = image_write_record(&shared->writer, CKPT_RECORD_INOTIFY_WATCH, parts, 2);
	}
	return ret;
}

static void free_inotify(struct dump_file *file)
{
	struct inotify_state *state = file->kind_state;

	for (uint32_t i = 0; state && i < state->record.watch_count; i++)
		free(state->watches[i].path);
	if (state)
		free(state->watches);
	free_plain_state(file);
}

/* ---- restart side ---- */

/* Reads away the IN_IGNORED events that removing throwaway watches queued. */
static void drain_events(int inotify_fd)
{
	char buffer[4096];

	while (read(inotify_fd, buffer, sizeof(buffer)) > 0)
		;
}

/* Makes the kernel hand out wd next as wd: one throwaway watch per skipped number. */
static int skip_to_wd(struct restore_context *ctx, int inotify_fd, int *next_wd, int32_t wd)
{
	_cleanup_close_ int throwaway = -1;
	char path[64];

	if (*next_wd >= wd)
		return 0;
	throwaway = memfd_create("ckpt-inotify-skip", MFD_CLOEXEC);
	if (throwaway < 0)
		return fail(ctx->err, errno, "memfd_create: %s", strerror(errno));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", throwaway);
	for (; *next_wd < wd; (*next_wd)++) {
		int skipped = inotify_add_watch(inotify_fd, path, IN_ACCESS);

		if (skipped != *next_wd || inotify_rm_watch(inotify_fd, skipped) < 0)
			return fail(ctx->err, EEXIST,
				    "inotify: skipping watch descriptor %d gave %d: cannot give wd %d back",
				    *next_wd, skipped, wd);
		drain_events(inotify_fd);
	}
	return 0;
}

static int add_watch(struct restore_context *ctx, int inotify_fd, int *next_wd,
		     const struct ckpt_inotify_watch *watch)
{
	const char *path = (const char *)(watch + 1);
	int ret = skip_to_wd(ctx, inotify_fd, next_wd, watch->wd);
	int wd;

	if (ret < 0)
		return ret;
	wd = inotify_add_watch(inotify_fd, path, watch->mask | IN_DONT_FOLLOW);
	if (wd < 0)
		return fail(ctx->err, errno, "inotify watch %d of %s: %s", watch->wd, path,
			    strerror(errno));
	if (wd != watch->wd)
		return fail(ctx->err, EEXIST,
			    "inotify watch %d of %s came back as wd %d (the same inode as another watch?)",
			    watch->wd, path, wd);
	*next_wd = wd + 1;
	return 0;
}

static int create_inotify(struct restore_context *ctx, const struct file_opener *opener,
			  const struct image_file *file, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	int next_wd = 1, ret = begin_event_file(ctx);

	(void)opener;
	if (ret < 0)
		return ret;
	fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (fd < 0)
		return fail(ctx->err, errno, "inotify_init1: %s", strerror(errno));
	for (size_t i = 0; i < file->queue_count; i++) {
		ret = add_watch(ctx, fd, &next_wd, image_file_inotify_watch(file, i));
		if (ret < 0)
			return ret;
	}
	if (fcntl(fd, F_SETFL, (int)(file->file.open_flags & O_NONBLOCK)) < 0)
		return fail(ctx->err, errno, "fcntl(F_SETFL) on an inotify: %s", strerror(errno));
	*ret_fd = fd;
	fd = -1;
	return 0;
}

const struct file_kind_ops inotify_ops = {
	.kind = CKPT_FILE_INOTIFY,
	.recognise = is_inotify,
	.collect = collect_inotify,
	.write_state = write_inotify,
	.free_state = free_inotify,
	.create = create_inotify,
};
