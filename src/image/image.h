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

struct image_writer {
	int fd;
	uint64_t stream_bytes;
	uint64_t record_count;
	uint64_t page_count;
	struct ckpt_error *err;
};

void image_writer_init(struct image_writer *writer, int fd, struct ckpt_error *err);
int image_write_record(struct image_writer *writer, enum ckpt_record_type type,
		       const struct iovec *parts, int part_count);
int image_write_simple(struct image_writer *writer, enum ckpt_record_type type,
		       const void *payload, size_t length);
/* One PAGES record: runs, then their data (page_count pages at data). */
int image_write_pages(struct image_writer *writer, const struct ckpt_page_run *runs,
		      uint64_t run_count, const void *data, uint64_t page_count);
int image_write_tail(struct image_writer *writer);

struct image_reader {
	int fd;
	uint64_t offset;		/* bytes consumed so far */
	uint64_t record_count;
	uint64_t page_count;
	unsigned char *buffer;
	size_t buffer_size;
	struct ckpt_error *err;
};

void image_reader_init(struct image_reader *reader, int fd, struct ckpt_error *err);
void image_reader_release(struct image_reader *reader);

struct image_record {
	enum ckpt_record_type type;
	uint64_t offset;		/* of the header in the stream */
	const void *payload;		/* valid until the next read */
	uint64_t length;
};

/* Reads and checks one record.  At a clean end of stream returns -ENODATA. */
int image_read_record(struct image_reader *reader, struct image_record *ret_record);

/* Checks a record's own fields (sizes, strings, enums, addresses). */
int validate_record(enum ckpt_record_type type, const void *payload, uint64_t length,
		    struct ckpt_error *err);
const char *record_type_name(uint32_t type);

/* Everything in an image but the page data, checked as a whole. */
struct image_file {
	struct ckpt_file file;
	const char *path;
};

struct image_thread {
	struct ckpt_thread thread;
	const uint8_t *xstate;
};

struct image {
	struct ckpt_head head;
	struct ckpt_process process;
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
	struct ckpt_mm mm;
	const uint64_t *auxv;
	struct image_thread *threads;
	size_t thread_count;
	struct ckpt_vma *vmas;
	size_t vma_count;
	/* allocations backing the pointers above */
	void **blocks;
	size_t block_count;
};

/*
 * Reads records up to the first PAGES or TAIL record, which is left in
 * *ret_next for the caller.  Every cross-record rule is checked.
 */
int image_load_metadata(struct image_reader *reader, struct image *image,
			struct image_record *ret_next);
void image_release(struct image *image);
const struct image_file *image_find_file(const struct image *image, uint32_t id);

/* Page streaming: checks each PAGES record against the VMAs, in order. */
struct page_cursor {
	const struct image *image;
	size_t vma_index;
	uint64_t next_address;		/* runs must not go below this */
	uint64_t page_count;
	uint64_t pages_in_vma;		/* seen so far for vmas[vma_index] */
};

void page_cursor_init(struct page_cursor *cursor, const struct image *image);
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

#endif
