/* SPDX-License-Identifier: MIT */
/*
 * Writing and reading image streams.  The writer frames records; the reader
 * returns only records whose framing, checksum and own fields are valid;
 * the loader checks what spans records (order, ids, VMA layout).
 */
#ifndef CKPT_IMAGE_H
#define CKPT_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error.h"
#include "image/format.h"
#include "image/transport.h"

struct image_writer {
	struct image_transport *transport; /* where the bytes go */
	struct fd_transport fd_transport;  /* the default transport */
	uint64_t stream_bytes;		   /* of the stream as framed, before any transport */
	uint64_t record_count;
	uint64_t page_count;
	const volatile int *interrupt; /* non-zero: stop writing (a signal's number) */
	struct ckpt_error *err;
};

/* A writer to fd, through the plain fd transport. */
void image_writer_init(struct image_writer *writer, int fd, struct ckpt_error *err);
/* A writer through `transport`, which the writer now owns (closed with it). */
void image_writer_init_transport(struct image_writer *writer, struct image_transport *transport,
				 struct ckpt_error *err);
/* Closes the writer's transport (not the caller's fd). */
void image_writer_close(struct image_writer *writer);
int image_write_record(struct image_writer *writer, enum ckpt_record_type type,
		       const struct iovec *parts, int part_count);
int image_write_simple(struct image_writer *writer, enum ckpt_record_type type, const void *payload,
		       size_t length);
/* One PAGES record: runs, then their data (page_count pages at data). */
int image_write_pages(struct image_writer *writer, const struct ckpt_page_run *runs,
		      uint64_t run_count, const void *data, uint64_t page_count);
/* The TAIL record, then a flush of the transport. */
int image_write_tail(struct image_writer *writer);

struct image_reader {
	struct image_transport *transport; /* where the bytes come from */
	struct fd_transport fd_transport;  /* the default transport */
	int fd;				   /* the default transport's fd; -1 over another */
	uint64_t offset;		   /* bytes consumed so far */
	uint64_t record_count;
	uint64_t page_count;
	unsigned char *buffer;
	size_t buffer_size;
	struct ckpt_error *err;
	int stall_timeout_ms; /* > 0: fail when no byte comes for this long */
};

/* A reader of fd, through the plain fd transport. */
void image_reader_init(struct image_reader *reader, int fd, struct ckpt_error *err);
/* A reader through `transport`, which the reader now owns (closed with it). */
void image_reader_init_transport(struct image_reader *reader, struct image_transport *transport,
				 struct ckpt_error *err);
/* Frees the record buffer and closes the transport (not the caller's fd). */
void image_reader_free(struct image_reader *reader);

struct image_record {
	enum ckpt_record_type type;
	uint64_t offset;     /* of the header in the stream */
	const void *payload; /* valid until the next read */
	uint64_t length;
};

/* Reads and checks one record.  At a clean end of stream returns -ENODATA. */
int image_read_record(struct image_reader *reader, struct image_record *ret_record);

/* Checks a record's own fields (sizes, strings, enums, addresses). */
int validate_record(enum ckpt_record_type type, const void *payload, uint64_t length,
		    struct ckpt_error *err);
const char *record_type_name(uint32_t type);

struct image_tree;

struct block_list {
	void **blocks;
	size_t count;
};

/* Everything in an image but the page data, checked as a whole. */
struct image_file {
	struct ckpt_file file;
	const char *path;
	/*
	 * Its kind's state record (the FILE kind table's state_record: struct
	 * ckpt_eventfd, ckpt_timerfd, ...), NULL for a kind without one.  Read
	 * it through image_file_eventfd() and the like.
	 */
	const void *state;
	const struct ckpt_socket_queue **queue; /* a unix socket's or pipe's waiting data, oldest first */
	size_t queue_count;
};

/* The file's state record if the file is of this kind and has one, else NULL. */
static inline const void *image_file_state(const struct image_file *file, enum ckpt_file_kind kind)
{
	return file->file.kind == (uint32_t)kind ? file->state : NULL;
}

static inline bool image_file_has_state(const struct image_file *file)
{
	return file->state != NULL;
}

static inline const struct ckpt_eventfd *image_file_eventfd(const struct image_file *file)
{
	return image_file_state(file, CKPT_FILE_EVENTFD);
}

static inline const struct ckpt_timerfd *image_file_timerfd(const struct image_file *file)
{
	return image_file_state(file, CKPT_FILE_TIMERFD);
}

static inline const struct ckpt_signalfd *image_file_signalfd(const struct image_file *file)
{
	return image_file_state(file, CKPT_FILE_SIGNALFD);
}

static inline const struct ckpt_pipe *image_file_pipe(const struct image_file *file)
{
	return image_file_state(file, CKPT_FILE_PIPE);
}

static inline const struct ckpt_unix_socket *image_file_unix_socket(const struct image_file *file)
{
	return image_file_state(file, CKPT_FILE_UNIX_SOCKET);
}

static inline const struct ckpt_inet_socket *image_file_inet_socket(const struct image_file *file)
{
	return image_file_state(file, CKPT_FILE_INET_SOCKET);
}

static inline const struct ckpt_inotify *image_file_inotify(const struct image_file *file)
{
	return image_file_state(file, CKPT_FILE_INOTIFY);
}

/* An inotify's watch i, by increasing wd (its queue records are INOTIFY_WATCH records). */
static inline const struct ckpt_inotify_watch *image_file_inotify_watch(const struct image_file *file,
									size_t i)
{
	return (const struct ckpt_inotify_watch *)file->queue[i];
}

static inline const struct ckpt_pty *image_file_pty(const struct image_file *file)
{
	return image_file_state(file, CKPT_FILE_PTY);
}

/* A UDP socket's waiting datagram i (its queue records are INET_DATAGRAM records). */
static inline const struct ckpt_inet_datagram *image_file_inet_datagram(const struct image_file *file,
									size_t i)
{
	return (const struct ckpt_inet_datagram *)file->queue[i];
}

static inline const struct ckpt_tcp_stream *image_file_tcp_stream(const struct image_file *file)
{
	return image_file_state(file, CKPT_FILE_TCP_STREAM);
}

/* A TCP connection's queued bytes, part i (its queue records are TCP_QUEUE records). */
static inline const struct ckpt_tcp_queue *image_file_tcp_queue(const struct image_file *file,
								size_t i)
{
	return (const struct ckpt_tcp_queue *)file->queue[i];
}

struct image_thread {
	struct ckpt_thread thread;
	const uint8_t *xstate;
};

/* A thread's seccomp filter; a thread's come oldest first. */
struct image_seccomp {
	struct ckpt_seccomp filter;
	const uint64_t *program; /* instruction_count struct sock_filter */
};

struct image_process {
	struct ckpt_head head;
	struct ckpt_process process;
	struct ckpt_tree_entry entry; /* its TREE entry: what it shares with whom */
	const char *cwd;
	struct ckpt_creds creds;
	const uint32_t *groups;
	struct ckpt_rlimits rlimits;
	struct ckpt_sigactions sigactions;
	struct ckpt_timers timers;
	struct ckpt_siginfo *pending;
	size_t pending_count;
	struct image_file *files;
	size_t file_count;
	struct ckpt_fd *fds;
	size_t fd_count;
	struct ckpt_posix_timer *posix_timers;
	size_t posix_timer_count;
	struct ckpt_file_lock *locks;
	size_t lock_count;
	struct ckpt_mm mm;
	const uint64_t *auxv;
	struct image_thread *threads;
	size_t thread_count;
	struct image_seccomp *seccomp_filters;
	size_t seccomp_filter_count;
	struct ckpt_vma *vmas;
	size_t vma_count;
	struct block_list blocks;      /* allocations behind the pointers above */
	struct image_tree *owned_tree; /* released with the image, when set */
};

/* Whether the object an owner field names is another process's (shared with it). */
static inline bool shares_with_other(int32_t owner, int32_t pid)
{
	return owner != 0 && owner != pid;
}

/* What comes before the processes: the head, the tree, the files. */
struct image_tree {
	struct ckpt_head head;
	struct ckpt_tree_entry *entries;
	size_t entry_count;
	uint32_t highest_fd;
	struct image_file *files;
	size_t file_count;
	struct ckpt_epoll_target *epoll_targets;
	size_t epoll_target_count;
	size_t next_entry; /* for matching PROCESS records in order */
	struct block_list blocks;
};

/*
 * Reads HEAD, TREE and the FILE records; the first PROCESS record is left
 * in *ret_next.  Every rule of the tree and files is checked.
 */
int image_load_tree(struct image_reader *reader, struct image_tree *tree,
		    struct image_record *ret_next);
void image_tree_free(struct image_tree *tree);

/*
 * Reads one process from its PROCESS record (`first`) up to the record
 * after its VMAs (PAGES, PROCESS or TAIL), left in *ret_next.  The image
 * borrows the tree's files.
 */
int image_load_process(struct image_reader *reader, struct image_tree *tree,
		       const struct image_record *first, struct image_process *image,
		       struct image_record *ret_next);
void image_process_free(struct image_process *image);

/*
 * Reads and checks a whole stream: tree, every process, every page record,
 * the tail.  On success *ret_processes holds the processes (release each,
 * then free the array, then the tree).
 */
int image_read_all(struct image_reader *reader, struct image_tree *tree,
		   struct image_process **ret_processes, size_t *ret_count);
void image_free_all(struct image_tree *tree, struct image_process *processes, size_t count);

/*
 * The same, handing every checked PAGES record to visit (with the process
 * it belongs to) as it goes by: for tools that need the page data (ckpt
 * core).  A negative return from visit ends the read with that error.
 */
struct page_visitor {
	int (*visit)(void *arg, const struct image_process *process,
		     const struct ckpt_page_run *runs, uint64_t run_count, const void *data);
	void *arg;
};

int image_read_all_visiting(struct image_reader *reader, struct image_tree *tree,
			    const struct page_visitor *visitor,
			    struct image_process **ret_processes, size_t *ret_count);
const struct image_file *image_find_file(const struct image_process *image, uint32_t id);

/* Page streaming: checks each PAGES record against the VMAs, in order. */
struct page_cursor {
	const struct image_process *image;
	size_t vma_index;
	uint64_t next_address; /* runs must not go below this */
	uint64_t page_count;
	uint64_t pages_in_vma; /* seen so far for vmas[vma_index] */
};

void page_cursor_init(struct page_cursor *cursor, const struct image_process *image);
/* Checks a PAGES record's runs and data hash; ret_runs and ret_data point
 * into the record. */
int page_cursor_accept(struct page_cursor *cursor, const struct image_record *record,
		       const struct ckpt_page_run **ret_runs, const void **ret_data,
		       struct ckpt_error *err);
/* At the tail: every VMA got exactly the pages its record announced. */
int page_cursor_finish(struct page_cursor *cursor, struct ckpt_error *err);
int image_check_tail(const struct image_reader *reader, const struct image_record *record,
		     uint64_t pages_seen, struct ckpt_error *err);

bool vma_holds_pages(const struct ckpt_vma *vma);

/* The highest of a process's real, effective, saved and fs ids (tree entries). */
static inline uint32_t highest_id(const uint32_t ids[CKPT_ID_COUNT])
{
	uint32_t highest = 0;

	for (int i = 0; i < CKPT_ID_COUNT; i++)
		highest = ids[i] > highest ? ids[i] : highest;
	return highest;
}

#endif
