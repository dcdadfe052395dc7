/* SPDX-License-Identifier: MIT */
/*
 * Pipes and FIFOs.  Each open file description of a pipe is one FILE (kind
 * PIPE) with its PIPE record; the pipe's first FILE also carries the bytes
 * in flight (FILE_DATA records).  ckpt reads them without taking them: it
 * opens the pipe again through /proc/PID/fd/N, tee(2)s its buffers into a
 * private pipe and reads that one, a buffer (packet) at a time.
 *
 * Which pipes are checkpointed: a FIFO at fd 3 and above (restored by its
 * path), and any pipe whose read and write ends are both held by fds of
 * the tree.  A pipe at fd 0-2 whose other end is outside the tree is taken
 * over from ckpt restart's fds 0-2, as before; one at fd 3 and above is an
 * inherited fd too, which restart refuses unless --inherit-fd wires it to
 * one of the restarter's fds.
 *
 * At restart the pipe's first FILE makes the pipe (pipe2, or the FIFO
 * opened read-write so that no open blocks), sets its size, writes the
 * data back; each FILE then gets an end of it: an end pipe2 made (so
 * F_GETFL is exactly the same) or one opened again through /proc/self/fd.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "objects/dump.h"
#include "objects/file_kinds.h"
#include "objects/restore.h"
#include "util.h"

#define PACKET_BUFFER_SIZE 65536 /* more than one pipe buffer holds */

/* ---- checkpoint side ---- */

/* One pipe (anonymous or FIFO) some fd of the tree holds, and which ends. */
struct pipe_census_entry {
	uint64_t device;
	uint64_t inode;
	bool read_end;
	bool write_end;
};

/* dump_shared.pipe_census: every pipe the tree holds, surveyed before any fd is collected. */
struct pipe_census {
	struct pipe_census_entry *entries;
	size_t count;
};

/* One buffer of the bytes in flight (a packet in packet mode). */
struct pipe_packet {
	char *data;
	uint32_t length;
};

/* A pipe FILE's kind_state: its PIPE record, and with the pipe's first FILE its data. */
struct pipe_state {
	struct ckpt_pipe record;
	struct pipe_packet *packets;
	size_t packet_count;
};

static const struct pipe_state *pipe_state_of(const struct dump_file *file)
{
	return file->record.kind == CKPT_FILE_PIPE ? file->kind_state : NULL;
}

static struct pipe_census_entry *find_census_entry(const struct dump_shared *shared,
						   const struct stat *st)
{
	const struct pipe_census *census = shared->pipe_census;

	for (size_t i = 0; census && i < census->count; i++) {
		struct pipe_census_entry *entry = &census->entries[i];

		if (entry->device == st->st_dev && entry->inode == st->st_ino)
			return entry;
	}
	return NULL;
}

static int read_access_mode(struct dump_shared *shared, pid_t pid, int fd, int *ret_mode)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	const char *flags;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	ret = read_whole_file(path, &text, NULL, shared->err);
	if (ret < 0)
		return ret;
	flags = status_field(text, "flags");
	if (!flags)
		return fail(shared->err, EINVAL, "cannot parse %s", path);
	*ret_mode = (int)(strtoul(flags, NULL, 8) & O_ACCMODE);
	return 0;
}

static int count_pipe_fd(struct dump_shared *shared, pid_t pid, int fd)
{
	struct pipe_census_entry *entry, *grown;
	char path[64];
	struct stat st;
	int mode = 0, ret;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if (stat(path, &st) < 0 || !S_ISFIFO(st.st_mode))
		return 0; /* not a pipe, or closed meanwhile: collect_fds sees it again */
	ret = read_access_mode(shared, pid, fd, &mode);
	if (ret < 0)
		return ret;
	entry = find_census_entry(shared, &st);
	if (!entry) {
		struct pipe_census *census = shared->pipe_census;

		grown = realloc(census->entries, (census->count + 1) * sizeof(*grown));
		if (!grown)
			return fail(shared->err, ENOMEM, "out of memory");
		census->entries = grown;
		entry = &grown[census->count++];
		*entry = (struct pipe_census_entry){ .device = st.st_dev, .inode = st.st_ino };
	}
	entry->read_end |= mode == O_RDONLY || mode == O_RDWR;
	entry->write_end |= mode == O_WRONLY || mode == O_RDWR;
	return 0;
}

static int count_process_pipes(struct dump_shared *shared, pid_t pid)
{
	char path[64];
	struct dirent *entry;
	DIR *dir;
	int ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir)
		return fail(shared->err, errno, "listing fds of process %d: %s", pid,
			    strerror(errno));
	for (entry = readdir(dir); ret == 0 && entry; entry = readdir(dir)) {
		if (entry->d_name[0] != '.')
			ret = count_pipe_fd(shared, pid, atoi(entry->d_name));
	}
	closedir(dir);
	return ret;
}

/* Before any fd is collected (the tree is frozen): every pipe end its fds hold. */
static int survey_pipes(struct dump_tree *tree)
{
	int ret = 0;

	tree->shared.pipe_census = calloc(1, sizeof(struct pipe_census));
	if (!tree->shared.pipe_census)
		return fail(tree->shared.err, ENOMEM, "out of memory");
	for (size_t i = 0; ret == 0 && i < tree->process_count; i++) {
		if (!tree->processes[i].shares_files)
			ret = count_process_pipes(&tree->shared, tree->processes[i].pid);
	}
	return ret;
}

static void free_pipe_census(struct dump_shared *shared)
{
	if (shared->pipe_census)
		free(shared->pipe_census->entries);
	free(shared->pipe_census);
	shared->pipe_census = NULL;
}

static bool is_pipe(const struct fd_facts *facts)
{
	return S_ISFIFO(facts->st.st_mode);
}

/*
 * Taken over at restart instead of saved: a pipe whose other end no fd of
 * the tree holds (a FIFO at fd 3 and above is saved: opened again by its path).
 */
static bool is_outside_pipe(struct dump_context *ctx, const struct fd_facts *facts)
{
	const struct pipe_census_entry *entry = find_census_entry(ctx->shared, &facts->st);

	if (facts->target[0] == '/' && facts->fd > 2)
		return false;
	return !entry || !entry->read_end || !entry->write_end;
}

static int refuse(struct dump_context *ctx, int fd, const char *target, const char *what)
{
	return fail(ctx->err, ENOTSUP, "fd %d of process %d is %s (%s): not supported", fd,
		    ctx->pid, what, target);
}

/* The pipe's first FILE: an earlier one of the same pipe, or this one. */
static uint32_t first_file_of_pipe(const struct dump_shared *shared, const struct dump_file *file)
{
	for (size_t i = 0; i < shared->file_count; i++) {
		const struct dump_file *other = &shared->files[i];

		if (pipe_state_of(other) && other->record.device == file->record.device &&
		    other->record.inode == file->record.inode)
			return other->record.id;
	}
	return file->record.id;
}

static int read_pipe_max_size(struct dump_context *ctx, uint32_t *ret_size)
{
	_cleanup_free_ char *text = NULL;
	int ret = read_whole_file("/proc/sys/fs/pipe-max-size", &text, NULL, ctx->err);

	if (ret == 0)
		*ret_size = (uint32_t)strtoul(text, NULL, 10);
	return ret;
}

static int check_pipe_size(struct dump_context *ctx, int fd, const char *target, int size)
{
	uint32_t max_size = 0;
	int ret = read_pipe_max_size(ctx, &max_size);

	if (ret < 0)
		return ret;
	if ((uint32_t)size > max_size)
		return fail(ctx->err, ENOTSUP,
			    "fd %d of process %d is a pipe (%s) of %d bytes (F_SETPIPE_SZ), above /proc/sys/fs/pipe-max-size (%u): restart cannot make it that big without CAP_SYS_RESOURCE",
			    fd, ctx->pid, target, size, max_size);
	return 0;
}

/* Its own read end of the target's pipe (never blocks: a FIFO open with O_NONBLOCK). */
static int open_pipe_again(struct dump_context *ctx, int fd, const char *target)
{
	char path[64];
	int copy;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", ctx->pid, fd);
	copy = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (copy < 0)
		return fail(ctx->err, errno, "opening fd %d of process %d (%s) again: %s", fd,
			    ctx->pid, target, strerror(errno));
	return copy;
}

static int add_packet(struct dump_context *ctx, struct pipe_state *state, const char *data,
		      size_t length)
{
	struct pipe_packet *grown =
		realloc(state->packets, (state->packet_count + 1) * sizeof(*grown));

	if (!grown)
		return fail(ctx->err, ENOMEM, "out of memory");
	state->packets = grown;
	grown[state->packet_count].data = malloc(length);
	if (!grown[state->packet_count].data)
		return fail(ctx->err, ENOMEM, "out of memory");
	memcpy(grown[state->packet_count].data, data, length);
	grown[state->packet_count].length = (uint32_t)length;
	state->packet_count++;
	return 0;
}

/* Reads the private pipe a buffer at a time (it is in packet mode). */
static int take_buffers(struct dump_context *ctx, struct pipe_state *state, int private_read)
{
	_cleanup_free_ char *buffer = malloc(PACKET_BUFFER_SIZE);
	ssize_t got;
	int ret = 0;

	if (!buffer)
		return fail(ctx->err, ENOMEM, "out of memory");
	while (ret == 0 && (got = read(private_read, buffer, PACKET_BUFFER_SIZE)) > 0)
		ret = add_packet(ctx, state, buffer, (size_t)got);
	return ret;
}

/* Copies the pipe's buffers (tee: they stay in the target's pipe) and reads the copies. */
static int copy_pipe_data(struct dump_context *ctx, int fd, int copy, struct dump_file *file,
			  int in_flight)
{
	struct pipe_state *state = file->kind_state;
	int private_pipe[2];
	ssize_t copied;
	int ret = 0;

	if (pipe2(private_pipe, O_CLOEXEC | O_NONBLOCK | O_DIRECT) < 0)
		return fail(ctx->err, errno, "pipe2: %s", strerror(errno));
	if (fcntl(private_pipe[1], F_SETPIPE_SZ, (int)state->record.pipe_size) < 0)
		ret = fail(ctx->err, errno, "F_SETPIPE_SZ on ckpt's own pipe: %s", strerror(errno));
	copied = ret == 0 ? tee(copy, private_pipe[1], (size_t)in_flight, SPLICE_F_NONBLOCK) : 0;
	if (ret == 0 && copied != in_flight)
		ret = fail(ctx->err, copied < 0 ? errno : EIO,
			   "copying the %d bytes in flight in fd %d of process %d (%s): %s",
			   in_flight, fd, ctx->pid, file->path,
			   copied < 0 ? strerror(errno) : "short tee");
	close(private_pipe[1]);
	if (ret == 0)
		ret = take_buffers(ctx, state, private_pipe[0]);
	close(private_pipe[0]);
	return ret;
}

/* Size and data of the pipe, kept with its first FILE. */
static int collect_pipe_contents(struct dump_context *ctx, int fd, struct dump_file *file)
{
	struct pipe_state *state = file->kind_state;
	_cleanup_close_ int copy = open_pipe_again(ctx, fd, file->path);
	int size, in_flight = 0, ret;

	if (copy < 0)
		return copy;
	size = fcntl(copy, F_GETPIPE_SZ);
	if (size < 0 || ioctl(copy, FIONREAD, &in_flight) < 0)
		return fail(ctx->err, errno, "F_GETPIPE_SZ or FIONREAD on fd %d of process %d: %s",
			    fd, ctx->pid, strerror(errno));
	ret = check_pipe_size(ctx, fd, file->path, size);
	if (ret < 0)
		return ret;
	state->record.pipe_size = (uint32_t)size;
	if (in_flight == 0)
		return 0;
	return copy_pipe_data(ctx, fd, copy, file, in_flight);
}

static int collect_pipe(struct dump_context *ctx, const struct fd_facts *facts, struct dump_file *file)
{
	const struct pipe_state *first;
	struct pipe_state *state;
	int fd = facts->fd;

	if (file->path[0] == '/' && strstr(file->path, " (deleted)"))
		return refuse(ctx, fd, file->path, "a FIFO whose path was removed");
	if (file->path[0] != '/' && strncmp(file->path, "pipe:[", 6) != 0)
		return refuse(ctx, fd, file->path, "a FIFO outside this mount namespace");
	state = calloc(1, sizeof(*state));
	if (!state)
		return fail(ctx->err, ENOMEM, "out of memory");
	file->kind_state = state;
	state->record.file_id = file->record.id;
	state->record.pipe_file_id = first_file_of_pipe(ctx->shared, file);
	if (state->record.pipe_file_id == state->record.file_id)
		return collect_pipe_contents(ctx, fd, file);
	first = pipe_state_of(&ctx->shared->files[state->record.pipe_file_id - 1]);
	state->record.pipe_size = first->record.pipe_size;
	return 0;
}

static void free_pipe_state(struct dump_file *file)
{
	struct pipe_state *state = file->kind_state;

	for (size_t i = 0; state && i < state->packet_count; i++)
		free(state->packets[i].data);
	if (state)
		free(state->packets);
	free_plain_state(file);
}

/* Packet mode: an end of the pipe has O_DIRECT, so the buffer boundaries count. */
static bool has_packet_end(const struct dump_shared *shared, uint32_t pipe_file_id)
{
	for (size_t i = 0; i < shared->file_count; i++) {
		const struct dump_file *other = &shared->files[i];

		const struct pipe_state *state = pipe_state_of(other);

		if (state && state->record.pipe_file_id == pipe_file_id &&
		    (other->record.open_flags & O_DIRECT))
			return true;
	}
	return false;
}

static int write_pipe(struct dump_shared *shared, const struct dump_file *file)
{
	const struct pipe_state *state = file->kind_state;
	struct ckpt_pipe record = state->record;
	int ret;

	if (has_packet_end(shared, record.pipe_file_id))
		record.flags |= CKPT_PIPE_PACKETS;
	ret = image_write_simple(&shared->writer, CKPT_RECORD_PIPE, &record, sizeof(record));
	for (size_t i = 0; ret == 0 && i < state->packet_count; i++) {
		struct ckpt_file_data data = { file->record.id, state->packets[i].length };
		struct iovec parts[2] = {
			{ &data, sizeof(data) },
			{ state->packets[i].data, state->packets[i].length },
		};

		ret = image_write_record(&shared->writer, CKPT_RECORD_FILE_DATA, parts, 2);
	}
	return ret;
}

/* ---- restart side ---- */

/*
 * A pipe while its FILEs are staged: an fd open read-write on it (no open
 * of an end blocks while it lives), and the two ends pipe2 made, until a
 * FILE takes them.
 */
struct pipe_maker {
	int holder;
	int read_end;
	int write_end;
};

static void close_maker(struct pipe_maker *maker)
{
	int *fds[3] = { &maker->holder, &maker->read_end, &maker->write_end };

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

static int make_makers(struct restore_context *ctx)
{
	size_t count = ctx->tree.file_count;

	if (ctx->pipe_makers)
		return 0;
	ctx->pipe_makers = malloc((count + 1) * sizeof(*ctx->pipe_makers));
	if (!ctx->pipe_makers)
		return fail(ctx->err, ENOMEM, "out of memory");
	for (size_t i = 0; i < count + 1; i++)
		ctx->pipe_makers[i] = (struct pipe_maker){ -1, -1, -1 };
	return 0;
}

static int open_via_proc(int fd, int flags)
{
	char path[64];
	int opened;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	opened = open(path, flags | O_CLOEXEC);
	return opened < 0 ? -errno : opened;
}

static int make_anonymous_pipe(struct restore_context *ctx, struct pipe_maker *maker)
{
	int ends[2];

	if (pipe2(ends, O_CLOEXEC | O_NONBLOCK) < 0)
		return fail(ctx->err, errno, "pipe2: %s", strerror(errno));
	maker->read_end = ends[0];
	maker->write_end = ends[1];
	maker->holder = open_via_proc(ends[0], O_RDWR | O_NONBLOCK);
	if (maker->holder < 0)
		return fail(ctx->err, -maker->holder, "opening a new pipe again: %s",
			    strerror(-maker->holder));
	return 0;
}

/* The FIFO at its path (no symlink on the way), opened read-write: that never blocks. */
static int open_fifo(struct restore_context *ctx, const struct image_file *file,
		     struct pipe_maker *maker)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS };
	_cleanup_close_ int path_fd =
		(int)syscall(SYS_openat2, AT_FDCWD, file->path, &how, sizeof(how));
	struct stat st;
	int in_flight = 0;

	if (path_fd < 0)
		return fail(ctx->err, errno, "cannot open FIFO %s: %s", file->path, strerror(errno));
	if (fstat(path_fd, &st) < 0 || !S_ISFIFO(st.st_mode))
		return fail(ctx->err, EINVAL, "FILE %s was a FIFO and is not one now", file->path);
	maker->holder = open_via_proc(path_fd, O_RDWR | O_NONBLOCK);
	if (maker->holder < 0)
		return fail(ctx->err, -maker->holder, "cannot open FIFO %s: %s", file->path,
			    strerror(-maker->holder));
	if (ioctl(maker->holder, FIONREAD, &in_flight) == 0 && in_flight > 0)
		return fail(ctx->err, EBUSY,
			    "FIFO %s holds data already (a process outside the image has it open): refused",
			    file->path);
	return 0;
}

static int set_pipe_size(struct restore_context *ctx, const struct image_file *file, int fd,
			 uint32_t size)
{
	if (fcntl(fd, F_GETPIPE_SZ) == (int)size || fcntl(fd, F_SETPIPE_SZ, (int)size) >= 0)
		return 0;
	return fail(ctx->err, errno, "cannot make pipe %s %u bytes big (F_SETPIPE_SZ): %s",
		    file->path, size, strerror(errno));
}

/* Writes the bytes in flight back, each packet with its own write in packet mode. */
static int refill_pipe(struct restore_context *ctx, const struct image_file *file, int writer,
		       bool packets)
{
	int status = packets ? O_NONBLOCK | O_DIRECT : O_NONBLOCK;

	if (fcntl(writer, F_SETFL, status) < 0)
		return fail(ctx->err, errno, "fcntl(F_SETFL) on pipe %s: %s", file->path,
			    strerror(errno));
	for (size_t i = 0; i < file->queue_count; i++) {
		const struct ckpt_socket_queue *data = file->queue[i];
		ssize_t written = write(writer, data + 1, data->length);

		if (written != (ssize_t)data->length)
			return fail(ctx->err, written < 0 ? errno : EIO, "refilling pipe %s: %s",
				    file->path, written < 0 ? strerror(errno) : "short write");
	}
	return 0;
}

static int make_pipe(struct restore_context *ctx, const struct image_file *file,
		     struct pipe_maker *maker)
{
	const struct ckpt_pipe *state = image_file_pipe(file);
	bool fifo = file->path[0] == '/';
	int ret = fifo ? open_fifo(ctx, file, maker) : make_anonymous_pipe(ctx, maker);
	if (ret == 0)
		ret = set_pipe_size(ctx, file, maker->holder, state->pipe_size);
	if (ret == 0)
		ret = refill_pipe(ctx, file, fifo ? maker->holder : maker->write_end,
				  state->flags & CKPT_PIPE_PACKETS);
	return ret;
}

/* An end pipe2 made, if it fits this FILE (its F_GETFL has no O_LARGEFILE); else -1. */
static int take_made_end(struct pipe_maker *maker, uint32_t open_flags)
{
	int *end = NULL, taken;

	if (open_flags & O_LARGEFILE)
		return -1;
	if ((open_flags & O_ACCMODE) == O_RDONLY)
		end = &maker->read_end;
	else if ((open_flags & O_ACCMODE) == O_WRONLY)
		end = &maker->write_end;
	if (!end || *end < 0)
		return -1;
	taken = *end;
	*end = -1;
	return taken;
}

static int open_end(struct restore_context *ctx, const struct image_file *file,
		    struct pipe_maker *maker)
{
	uint32_t flags = file->file.open_flags;
	int fd = take_made_end(maker, flags);

	if (fd < 0)
		fd = open_via_proc(maker->holder, (int)(flags & O_ACCMODE) | O_NONBLOCK);
	if (fd < 0)
		return fail(ctx->err, -fd, "cannot open an end of pipe %s: %s", file->path,
			    strerror(-fd));
	if (fcntl(fd, F_SETFL, (int)(flags & (O_NONBLOCK | O_DIRECT))) < 0) {
		close(fd);
		return fail(ctx->err, errno, "fcntl(F_SETFL) on pipe %s: %s", file->path,
			    strerror(errno));
	}
	return fd;
}

static bool has_later_end(const struct restore_context *ctx, size_t index, uint32_t pipe_file_id)
{
	for (size_t i = index + 1; i < ctx->tree.file_count; i++) {
		const struct ckpt_pipe *later = image_file_pipe(&ctx->tree.files[i]);

		if (later && later->pipe_file_id == pipe_file_id)
			return true;
	}
	return false;
}

/* This FILE's end of its pipe, made with the pipe's first FILE. */
static int create_pipe_end(struct restore_context *ctx, const struct file_opener *opener,
			   const struct image_file *file, int *ret_fd)
{
	const struct ckpt_pipe *state = image_file_pipe(file);
	size_t index = file->file.id - 1;
	struct pipe_maker *maker;
	int ret = make_makers(ctx);

	(void)opener;
	if (ret < 0)
		return ret;
	maker = &ctx->pipe_makers[state->pipe_file_id - 1];
	if (state->pipe_file_id == file->file.id)
		ret = make_pipe(ctx, file, maker);
	if (ret == 0 && maker->holder < 0)
		ret = fail(ctx->err, EINVAL,
			   "bad image: pipe FILE %u comes before its pipe's first FILE",
			   file->file.id);
	if (ret == 0)
		ret = open_end(ctx, file, maker);
	if (ret < 0 || !has_later_end(ctx, index, state->pipe_file_id))
		close_maker(maker);
	if (ret < 0)
		return ret;
	*ret_fd = ret;
	return 0;
}

/* Once the files are staged, or staging failed: the pipes still being made. */
static void close_pipe_makers(struct restore_context *ctx)
{
	for (size_t i = 0; ctx->pipe_makers && i < ctx->tree.file_count + 1; i++)
		close_maker(&ctx->pipe_makers[i]);
	free(ctx->pipe_makers);
	ctx->pipe_makers = NULL;
}

const struct file_kind_ops pipe_ops = {
	.kind = CKPT_FILE_PIPE,
	.inherited_as = CKPT_INHERIT_PIPE,
	.survey = survey_pipes,
	.free_survey = free_pipe_census,
	.recognise = is_pipe,
	.taken_over = is_outside_pipe,
	.collect = collect_pipe,
	.write_state = write_pipe,
	.free_state = free_pipe_state,
	.create = create_pipe_end,
	.unstage = close_pipe_makers,
};
