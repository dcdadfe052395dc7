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
