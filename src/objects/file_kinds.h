/* SPDX-License-Identifier: MIT */
/*
 * The FILE kinds on the objects side: one ops struct per enum
 * ckpt_file_kind, each in the file of its kind, and one table of them
 * (file_kinds.c).  files.c asks the table what kind an fd is and calls the
 * row's hooks; it tests no kind by value.  Each kind keeps its own state
 * behind dump_file.kind_state, which only its own hooks read and free.
 * The image side has its own two tables (image/records.h);
 * doc/adding-a-kind.md says what a new kind needs.
 */
#ifndef CKPT_OBJECTS_FILE_KINDS_H
#define CKPT_OBJECTS_FILE_KINDS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "image/format.h"

struct dump_context;
struct dump_file;
struct dump_shared;
struct dump_tree;
struct restore_context;
struct image_file;
struct file_opener;

/* What /proc says of one fd of the target. */
struct fd_facts {
	int fd;
	char target[PATH_MAX]; /* the /proc/PID/fd/N link: a path, "anon_inode:[eventfd]", ... */
	struct stat st;
	uint64_t position;
	uint32_t flags;	   /* fdinfo flags, O_CLOEXEC included */
	uint64_t fs_magic; /* statfs f_type of its filesystem (MQUEUE_MAGIC ...); 0: unknown */
	char socket_protocol[16]; /* a socket's "system.sockprotoname": "TCP", "UDPv6", "UNIX-STREAM", ...; "" */
};

/*
 * Every hook may be NULL (nothing to do) except create.  Checkpoint hooks
 * run in this order: survey once the tree is frozen, recognise and
 * taken_over for each fd, then add_file or collect for each new open
 * file description, collect_links once all fds of the process have FILEs,
 * check_collected once the whole tree is collected, then write_state and
 * write_links, and free_state and free_survey at the end.  Restart hooks:
 * check before anything is created, create while the files are staged,
 * unstage once they are (or staging failed), connect in each
 * husk once its fds are in, seal once every process's memory is in.
 */
struct file_kind_ops {
	enum ckpt_file_kind kind;
	/*
	 * At fd 0-2 (or where taken_over says), an fd of this kind is taken
	 * over from ckpt restart as this instead of saved; NONE: always saved.
	 */
	enum ckpt_inherit_kind inherited_as;
	/*
	 * At fd 0-2: whether this fd is saved even so, though the rule above or
	 * the terminal rule of files.c would take it over (a pty slave whose
	 * master the tree holds); NULL: never.
	 */
	bool (*saved_at_low_fd)(struct dump_context *ctx, const struct fd_facts *facts);

	/* ---- checkpoint ---- */
	/*
	 * Once the whole tree is frozen, before any fd is collected: what the
	 * kind must know of every process (which pipe ends the tree holds).
	 */
	int (*survey)(struct dump_tree *tree);
	/* Frees what survey kept (in dump_shared), which may be nothing. */
	void (*free_survey)(struct dump_shared *shared);
	/* Whether the fd is of this kind (no two rows recognise the same fd). */
	bool (*recognise)(const struct fd_facts *facts);
	/*
	 * With inherited_as: whether this fd of the kind is taken over at
	 * restart (a pipe whose other end is outside the tree, at any fd);
	 * NULL: at fds 0-2 and only there.
	 */
	bool (*taken_over)(struct dump_context *ctx, const struct fd_facts *facts);
	/*
	 * The FILE id for an open file description seen first at this fd, when
	 * the kind finds or adds its FILE itself (a memfd's FILE may come from a
	 * mapping); NULL: a new FILE record from the facts, then collect.
	 */
	int (*add_file)(struct dump_context *ctx, const struct fd_facts *facts);
	/* The state of a new FILE record for facts: its fields, file->kind_state. */
	int (*collect)(struct dump_context *ctx, const struct fd_facts *facts,
		       struct dump_file *file);
	/* Once every fd of the first process holding it has a FILE: what it names (epoll targets). */
	int (*collect_links)(struct dump_context *ctx, struct dump_file *file);
	/* Once the whole tree is collected: links between files (socket peers) and checks. */
	int (*check_collected)(struct dump_shared *shared, struct dump_file *file);
	/* The records right after its FILE record: its state record and queue records. */
	int (*write_state)(struct dump_shared *shared, const struct dump_file *file);
	/* The records after every FILE, which name other files (EPOLL_TARGET). */
	int (*write_links)(struct dump_shared *shared, const struct dump_file *file);
	/* Frees file->kind_state (which may be NULL), and closes what it holds. */
	void (*free_state)(struct dump_file *file);

	/* ---- restart ---- */
	/* Once, before anything is created: what this restart cannot rebuild of the kind. */
	int (*check)(struct restore_context *ctx);
	/*
	 * The file, open in ckpt at a new fd the husks inherit: 0 and *ret_fd,
	 * or 0 and -1 when something else makes it (shared memory, by its first
	 * mapping), or -errno.  opener: the credentials files are opened with.
	 */
	int (*create)(struct restore_context *ctx, const struct file_opener *opener,
		      const struct image_file *file, int *ret_fd);
	/* Once every file is staged, or staging failed: closes what create kept between FILEs. */
	void (*unstage)(struct restore_context *ctx);
	/*
	 * Run by each new husk itself, in its session and group, before it
	 * creates its children, on the staged fds it inherited (a session
	 * leader's controlling terminal, which children inherit); 0 or -errno,
	 * nothing logged (the husk reports it).
	 */
	int (*start_husk)(const struct restore_context *ctx, pid_t pid);
	/* In each husk, once its fds are in: what links its fds (epoll registrations). */
	int (*connect)(struct restore_context *ctx);
	/* Once every process's memory is in (memfd seals). */
	int (*seal)(struct restore_context *ctx);
};

/* The rows (the file of each kind defines its own). */
extern const struct file_kind_ops regular_file_ops, directory_ops, chardev_ops, shmem_ops,
	eventfd_ops, timerfd_ops, signalfd_ops, epoll_ops, unix_socket_ops, inet_socket_ops,
	pipe_ops, inotify_ops, tcp_stream_ops, pty_ops;

/* The row of a FILE kind; NULL for a kind this ckpt does not know. */
const struct file_kind_ops *find_file_kind_ops(uint32_t kind);

/* The row that recognises this fd; NULL when ckpt does not support its kind. */
const struct file_kind_ops *recognise_fd(const struct fd_facts *facts);

/* The row after `previous` (NULL: the first); NULL after the last. */
const struct file_kind_ops *next_file_kind_ops(const struct file_kind_ops *previous);

/* A free_state hook for a kind_state that holds nothing but its own memory. */
void free_plain_state(struct dump_file *file);

#endif
