/* SPDX-License-Identifier: MIT */
/* The FILE kind table: one row per enum ckpt_file_kind. */
#include <string.h>
#include <sys/socket.h>

#include "image/image.h"
#include "image/records.h"

/* Files on disk and shared memory: an absolute path. */
static bool has_absolute_path(const struct ckpt_file *file, const char *path)
{
	(void)file;
	return path[0] == '/';
}

/* Event files are named "anon_inode:[eventfd]" and so on, and have no FILE flags. */
static bool has_anon_inode_name(const struct ckpt_file *file, const char *path)
{
	return strncmp(path, "anon_inode:", 11) == 0 && file->flags == 0;
}

/* Sockets are named "socket:[INODE]" and have no FILE flags. */
static bool has_socket_name(const struct ckpt_file *file, const char *path)
{
	return strncmp(path, "socket:[", 8) == 0 && file->flags == 0;
}

/* Each end of a socketpair names the other, of the same type. */
static bool has_matching_peer(const struct image_tree *tree, const struct image_file *file)
{
	const struct ckpt_unix_socket *end = image_file_unix_socket(file), *peer;

	if (end->peer_file_id > tree->file_count)
		return false;
	peer = image_file_unix_socket(&tree->files[end->peer_file_id - 1]);
	return peer && peer->peer_file_id == end->file_id && peer->type == end->type;
}

static int check_socket_peer(const struct image_tree *tree, const struct image_file *file,
			     struct ckpt_error *err)
{
	if (!has_matching_peer(tree, file))
		return fail(err, EINVAL, "bad image: unix socket FILE %u has no matching peer",
			    file->file.id);
	return 0;
}

/* Only a UDP socket has datagrams waiting (a TCP socket's bytes are not kept yet). */
static int check_inet_queue(const struct image_tree *tree, const struct image_file *file,
			    struct ckpt_error *err)
{
	const struct ckpt_inet_socket *sock = image_file_inet_socket(file);

	(void)tree;
	if (sock->type != SOCK_DGRAM && file->queue_count)
		return fail(err, EINVAL, "bad image: TCP socket FILE %u has INET_DATAGRAM records",
			    file->file.id);
	return 0;
}

/* A pipe is "pipe:[INODE]", a FIFO its absolute path; neither has FILE flags. */
static bool has_pipe_name(const struct ckpt_file *file, const char *path)
{
	return (strncmp(path, "pipe:[", 6) == 0 || path[0] == '/') && file->flags == 0;
}

static uint64_t pipe_data_bytes(const struct image_file *file)
{
	uint64_t bytes = 0;

	for (size_t i = 0; i < file->queue_count; i++)
		bytes += file->queue[i]->length;
	return bytes;
}

/* The data fits the pipe; a packet is at most a page. */
static bool has_fitting_data(const struct image_file *file, const struct ckpt_pipe *end)
{
	for (size_t i = 0; (end->flags & CKPT_PIPE_PACKETS) && i < file->queue_count; i++) {
		if (file->queue[i]->length > CKPT_PAGE_SIZE)
			return false;
	}
	return pipe_data_bytes(file) <= end->pipe_size;
}

/*
 * Every end names its pipe's first FILE, a PIPE naming itself, with the
 * same path and size; only that FILE carries data.
 */
static int check_pipe_links(const struct image_tree *tree, const struct image_file *file,
			    struct ckpt_error *err)
{
	const struct ckpt_pipe *end = image_file_pipe(file), *first;
	const struct image_file *first_file;

	if (end->pipe_file_id > tree->file_count)
		return fail(err, EINVAL, "bad image: pipe FILE %u names a missing FILE %u",
			    file->file.id, end->pipe_file_id);
	first_file = &tree->files[end->pipe_file_id - 1];
	first = image_file_pipe(first_file);
	if (!first || first->pipe_file_id != first->file_id || first->pipe_size != end->pipe_size ||
	    strcmp(first_file->path, file->path) != 0)
		return fail(err, EINVAL,
			    "bad image: pipe FILE %u names FILE %u as its pipe, which is not the same pipe's first end",
			    file->file.id, end->pipe_file_id);
	if (end->file_id != first->file_id && file->queue_count)
		return fail(err, EINVAL,
			    "bad image: pipe FILE %u carries data but is not its pipe's first end",
			    file->file.id);
	if (!has_fitting_data(file, end))
		return fail(err, EINVAL,
			    "bad image: pipe FILE %u holds more data than its size, or a packet above a page",
			    file->file.id);
	return 0;
}

/* As many watches as the INOTIFY record says, by strictly increasing wd. */
static int check_inotify_watches(const struct image_tree *tree, const struct image_file *file,
				 struct ckpt_error *err)
{
	const struct ckpt_inotify *inotify = image_file_inotify(file);

	(void)tree;
	if (inotify->watch_count != file->queue_count)
		return fail(err, EINVAL,
			    "bad image: inotify FILE %u has %zu INOTIFY_WATCH records, not %u",
			    file->file.id, file->queue_count, inotify->watch_count);
	for (size_t i = 1; i < file->queue_count; i++) {
		if (image_file_inotify_watch(file, i)->wd <= image_file_inotify_watch(file, i - 1)->wd)
			return fail(err, EINVAL,
				    "bad image: inotify FILE %u has its watches out of wd order",
				    file->file.id);
	}
	return 0;
}

/* The TCP_QUEUE records hold exactly the bytes the TCP_STREAM record counts, receive queue first. */
static int check_tcp_queue(const struct image_tree *tree, const struct image_file *file,
			   struct ckpt_error *err)
{
	const struct ckpt_tcp_stream *stream = image_file_tcp_stream(file);
	uint64_t received = 0, sent = 0;
	bool send_begun = false;

	(void)tree;
	for (size_t i = 0; i < file->queue_count; i++) {
		const struct ckpt_tcp_queue *part = image_file_tcp_queue(file, i);

		if (part->queue == CKPT_TCP_RECV_QUEUE && send_begun)
			break;
		send_begun = part->queue == CKPT_TCP_SEND_QUEUE;
		*(send_begun ? &sent : &received) += part->length;
	}
	if (received != stream->recv_queue_length || sent != stream->send_queue_length)
		return fail(err, EINVAL,
			    "bad image: TCP connection FILE %u: its TCP_QUEUE records do not hold the queued bytes its TCP_STREAM record counts, receive queue first",
			    file->file.id);
	return 0;
}

/* A terminal is named by its device path (/dev/ptmx, /dev/pts/N) and has no FILE flags. */
static bool has_terminal_path(const struct ckpt_file *file, const char *path)
{
	return strncmp(path, "/dev/", 5) == 0 && file->flags == 0;
}

/* A slave names its master; a master names a slave of its index, or none (no slave open). */
static bool has_matching_pty_peer(const struct image_tree *tree, const struct image_file *file)
{
	const struct ckpt_pty *end = image_file_pty(file), *peer;

	if (end->role == CKPT_PTY_MASTER && end->peer_file_id == 0)
		return true;
	if (end->peer_file_id > tree->file_count)
		return false;
	peer = image_file_pty(&tree->files[end->peer_file_id - 1]);
	return peer && peer->role != end->role && peer->index == end->index;
}

static int check_pty_peer(const struct image_tree *tree, const struct image_file *file,
			  struct ckpt_error *err)
{
	if (!has_matching_pty_peer(tree, file))
		return fail(err, EINVAL, "bad image: terminal FILE %u has no matching other end",
			    file->file.id);
	return 0;
}

static const struct file_kind_info file_kinds[] = {
	[CKPT_FILE_REGULAR] = {
		CKPT_FILE_REGULAR, "file", FILE_KIND_ON_DISK, 0, 0, has_absolute_path, NULL,
	},
	[CKPT_FILE_DIRECTORY] = {
		CKPT_FILE_DIRECTORY, "directory", FILE_KIND_ON_DISK, 0, 0, has_absolute_path, NULL,
	},
	[CKPT_FILE_CHARDEV] = {
		CKPT_FILE_CHARDEV, "chardev", FILE_KIND_ON_DISK, 0, 0, has_absolute_path, NULL,
	},
	[CKPT_FILE_SHMEM] = {
		CKPT_FILE_SHMEM, "shared-memory", FILE_KIND_MAPPING_ONLY, 0, 0, has_absolute_path, NULL,
	},
	[CKPT_FILE_PIPE] = {
		CKPT_FILE_PIPE, "pipe", 0, CKPT_RECORD_PIPE, CKPT_RECORD_FILE_DATA, has_pipe_name,
		check_pipe_links,
	},
	[CKPT_FILE_EVENTFD] = {
		CKPT_FILE_EVENTFD, "eventfd", FILE_KIND_EVENT_FILE, CKPT_RECORD_EVENTFD, 0,
		has_anon_inode_name, NULL,
	},
	[CKPT_FILE_TIMERFD] = {
		CKPT_FILE_TIMERFD, "timerfd", FILE_KIND_EVENT_FILE, CKPT_RECORD_TIMERFD, 0,
		has_anon_inode_name, NULL,
	},
	[CKPT_FILE_SIGNALFD] = {
		CKPT_FILE_SIGNALFD, "signalfd", FILE_KIND_EVENT_FILE, CKPT_RECORD_SIGNALFD, 0,
		has_anon_inode_name, NULL,
	},
	[CKPT_FILE_EPOLL] = {
		CKPT_FILE_EPOLL, "epoll", FILE_KIND_EVENT_FILE | FILE_KIND_HAS_TARGETS, 0, 0,
		has_anon_inode_name, NULL,
	},
	[CKPT_FILE_UNIX_SOCKET] = {
		CKPT_FILE_UNIX_SOCKET, "unix-socket", 0, CKPT_RECORD_UNIX_SOCKET, CKPT_RECORD_SOCKET_QUEUE,
		has_socket_name, check_socket_peer,
	},
	[CKPT_FILE_INET_SOCKET] = {
		CKPT_FILE_INET_SOCKET, "inet-socket", 0, CKPT_RECORD_INET_SOCKET, CKPT_RECORD_INET_DATAGRAM,
		has_socket_name, check_inet_queue,
	},
	[CKPT_FILE_INOTIFY] = {
		CKPT_FILE_INOTIFY, "inotify", FILE_KIND_EVENT_FILE, CKPT_RECORD_INOTIFY,
		CKPT_RECORD_INOTIFY_WATCH, has_anon_inode_name, check_inotify_watches,
	},
	[CKPT_FILE_TCP_STREAM] = {
		CKPT_FILE_TCP_STREAM, "tcp-stream", 0, CKPT_RECORD_TCP_STREAM, CKPT_RECORD_TCP_QUEUE,
		has_socket_name, check_tcp_queue,
	},
	[CKPT_FILE_PTY] = {
		CKPT_FILE_PTY, "pty", 0, CKPT_RECORD_PTY, 0, has_terminal_path, check_pty_peer,
	},
};

#define FILE_KIND_SLOTS (sizeof(file_kinds) / sizeof(file_kinds[0]))

const struct file_kind_info *find_file_kind(uint32_t kind)
{
	if (kind >= FILE_KIND_SLOTS || !file_kinds[kind].name)
		return NULL;
	return &file_kinds[kind];
}

const struct file_kind_info *find_file_kind_of_state(enum ckpt_record_type type)
{
	if (type == 0)
		return NULL;
	for (size_t i = 0; i < FILE_KIND_SLOTS; i++) {
		const struct file_kind_info *info = &file_kinds[i];

		if (info->name && (info->state_record == type || info->queue_record == type))
			return info;
	}
	return NULL;
}

const char *image_file_kind_name(const struct ckpt_file *file)
{
	const struct file_kind_info *info = find_file_kind(file->kind);

	if (file->flags & CKPT_FILE_MEMFD)
		return "memfd";
	return info ? info->name : "?";
}
