/* SPDX-License-Identifier: MIT */
/*
 * The two tables of the image format.
 *
 * The record table (records.c) has one row per record type: its name, the
 * rule its size obeys, the validator of its fields (validate.c) and the
 * printer of its text (print.c).  The reader, validate_record() and
 * record_type_name() read from it.
 *
 * The FILE kind table (file_kinds.c) has one row per FILE kind: its name,
 * the state records that follow its FILE record, what the loader needs to
 * know about it, and the checks of its FILE fields and of its links to
 * other files.  Nothing in src/image/ tests a FILE kind by value except
 * through this table.
 *
 * doc/adding-a-kind.md says what a new record type or FILE kind needs.
 */
#ifndef CKPT_IMAGE_RECORDS_H
#define CKPT_IMAGE_RECORDS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "image/format.h"

struct image_process;
struct image_file;
struct image_tree;

/* ---- The record table ---- */

enum record_size_kind {
	RECORD_SIZE_EXACT = 1, /* exactly `fixed` bytes */
	RECORD_SIZE_ARRAY, /* `fixed` bytes, then `count` elements; count is a u32 of the fixed part */
	RECORD_SIZE_OWN, /* at least `fixed` bytes; the validator checks the rest (PAGES) */
};

struct record_size_rule {
	enum record_size_kind kind;
	uint32_t fixed;		/* bytes of the record's struct */
	uint32_t count_offset;	/* ARRAY: offset of the u32 element count in the struct */
	uint32_t element_size;	/* ARRAY: bytes of one element */
	uint32_t count_limit;	/* ARRAY: most elements */
	uint64_t own_limit;	/* OWN: most bytes after the struct */
	const char *wrong_size; /* the message when the size is wrong */
	const char *over_limit; /* ARRAY: when the count is above the limit (NULL: wrong_size) */
	const char *not_string; /* ARRAY of chars that must be one string: when it is not */
};

/*
 * What a printer may look up: the files of the image (tree), the process a
 * per-process record belongs to.  Either may be NULL; the printer then
 * prints the ids it cannot resolve.
 */
struct record_print_context {
	const struct image_tree *tree;
	const struct image_process *process;
};

/* The fields, once the size rule holds; returns 0 or a negative errno with err set. */
typedef int record_validator(const void *payload, uint64_t length, struct ckpt_error *err);

/*
 * Prints what `ckpt inspect` shows of one record, to out.  Whole lines,
 * except the state records of files (EVENTFD, TIMERFD, SIGNALFD,
 * UNIX_SOCKET): a phrase without newline that the FD record's line holds.
 */
typedef void record_printer(FILE *out, const void *payload, uint64_t length,
			    const struct record_print_context *context);

struct record_type_info {
	enum ckpt_record_type type;
	const char *name; /* "HEAD", "PROCESS", ...: in every message about it */
	struct record_size_rule size;
	record_validator *validate;
	record_printer *print; /* NULL: inspect shows it within another record or not at all */
};

/* The row of a record type; NULL for a type this ckpt does not know. */
const struct record_type_info *find_record_type(uint32_t type);

/* The most payload bytes a record of this type may claim (the reader's limit). */
uint64_t record_length_limit(const struct record_type_info *info);

/* Prints one record through its row's printer; nothing for an unknown type or no printer. */
void print_record(FILE *out, uint32_t type, const void *payload, uint64_t length,
		  const struct record_print_context *context);

/* ---- The FILE kind table ---- */

enum file_kind_flags {
	FILE_KIND_ON_DISK = 1u << 0,	  /* an absolute path, opened by path at restart */
	FILE_KIND_EVENT_FILE = 1u << 1,	  /* an anonymous-inode event file: eventfd ... epoll */
	FILE_KIND_MAPPING_ONLY = 1u << 2, /* no fd may hold it, unless it is a memfd */
	FILE_KIND_HAS_TARGETS = 1u << 3,  /* EPOLL_TARGET records name it, after all FILEs */
};

struct file_kind_info {
	enum ckpt_file_kind kind;
	const char *name;		    /* as inspect shows it: "file", "eventfd", ... */
	uint32_t flags;			    /* enum file_kind_flags */
	enum ckpt_record_type state_record; /* right after its FILE record; 0: none */
	enum ckpt_record_type queue_record; /* any number after the state record; 0: none */
	/* Its FILE record's path and flags; the path is a checked string. */
	bool (*has_valid_fields)(const struct ckpt_file *file, const char *path);
	/* Once all FILEs are read: its links to other files (NULL: none); 0 or fails with err. */
	int (*check_links)(const struct image_tree *tree, const struct image_file *file,
			   struct ckpt_error *err);
};

/* The row of a FILE kind; NULL for a kind this ckpt does not know. */
const struct file_kind_info *find_file_kind(uint32_t kind);

/* The FILE kind whose state or queue record this is; NULL for other records. */
const struct file_kind_info *find_file_kind_of_state(enum ckpt_record_type type);

static inline bool file_kind_has(uint32_t kind, enum file_kind_flags flag)
{
	const struct file_kind_info *info = find_file_kind(kind);

	return info && (info->flags & flag);
}

/* "memfd" for a memfd, else its kind's name ("?" for an unknown kind). */
const char *image_file_kind_name(const struct ckpt_file *file);

/* Names inspect shows for the small enums of the format ("" or "?" when out of range). */
const char *image_vma_kind_name(uint32_t kind);
const char *image_inherit_kind_name(uint32_t kind);
const char *image_tree_state_name(uint32_t state);

/* ---- The rows' hooks (validate.c, print.c, file_kinds.c) ---- */

record_validator validate_head_record, validate_process_record, validate_creds_record,
	validate_rlimits_record, validate_sigactions_record, validate_file_record,
	validate_fd_record, validate_mm_record, validate_thread_record, validate_vma_record,
	validate_pages_record, validate_tail_record, validate_timers_record,
	validate_siginfo_record, validate_tree_record, validate_eventfd_record,
	validate_timerfd_record, validate_signalfd_record, validate_epoll_target_record,
	validate_unix_socket_record, validate_socket_queue_record, validate_seccomp_record,
	validate_inet_socket_record, validate_inet_datagram_record, validate_pipe_record,
	validate_file_data_record, validate_file_lock_record, validate_posix_timer_record,
	validate_inotify_record, validate_inotify_watch_record, validate_tcp_stream_record,
	validate_tcp_queue_record, validate_pty_record;

record_printer print_head_record, print_tree_record, print_process_record, print_thread_record,
	print_fd_record, print_vma_record, print_epoll_target_record, print_eventfd_record,
	print_timerfd_record, print_signalfd_record, print_unix_socket_record, print_seccomp_record,
	print_inet_socket_record, print_pipe_record, print_file_lock_record,
	print_posix_timer_record, print_inotify_record, print_tcp_stream_record, print_pty_record;

/* "rwx" with '-' for a missing right. */
void vma_prot_text(uint32_t prot, char text[4]);
/* What inspect shows for a VMA: its file's path, [heap], [stack] or "". */
const char *vma_display_name(const struct ckpt_vma *vma, const struct image_file *file);

#endif
