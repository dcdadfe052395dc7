/* SPDX-License-Identifier: MIT */
/*
 * The seams of the page path.  One page goes
 *
 *   checkpoint: page scanner -> process memory (the target) -> page copier
 *               -> page sink (the image stream)
 *   restart:    page source (the image stream) -> process memory (the husk)
 *
 * Each seam is a small table of operations, so that other implementations
 * can take a place: a write-protect dirty tracker as the scanner, a
 * pre-copy round or another host as the sink, userfaultfd or a parent image
 * as the source.  The implementations of today: pages.c (the flow and the
 * copier), page_access.c (PAGEMAP_SCAN, process_vm_readv/writev),
 * page_stream.c (the stream sink and source).
 */
#ifndef CKPT_OBJECTS_PAGE_FLOW_H
#define CKPT_OBJECTS_PAGE_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "image/format.h"

/* Runs and their data, page_count pages back to back in run order: one PAGES record's worth. */
struct page_chunk {
	const struct ckpt_page_run *runs;
	uint64_t run_count;
	const void *data;
	uint64_t page_count;
};

/* Finds the pages of a VMA that go into the image. */
struct page_scanner;

struct page_scanner_ops {
	/*
	 * Looks at [*start, end) of vma and writes at most capacity runs of
	 * pages to keep; moves *start past what it looked at.  Returns the
	 * number of runs or -errno (with a message in err).
	 */
	int (*scan)(struct page_scanner *scanner, const struct ckpt_vma *vma, uint64_t *start,
		    uint64_t end, struct ckpt_page_run *runs, size_t capacity,
		    struct ckpt_error *err);
	void (*close)(struct page_scanner *scanner);
};

struct page_scanner {
	const struct page_scanner_ops *ops;
};

/* The memory of a process ckpt copies pages out of (the target) or into (a husk). */
struct process_memory;

struct process_memory_ops {
	/*
	 * Reads runs[0..count) into `into`, back to back.  `readable`: their
	 * VMA allows reads (else a slower way around the protection).
	 */
	int (*read)(struct process_memory *memory, const struct ckpt_page_run *runs, size_t count,
		    bool readable, void *into, struct ckpt_error *err);
	/* Puts a chunk's data at its runs. */
	int (*write)(struct process_memory *memory, const struct page_chunk *chunk,
		     struct ckpt_error *err);
	void (*close)(struct process_memory *memory);
};

struct process_memory {
	const struct process_memory_ops *ops;
};

/* Where the checkpoint's page chunks go. */
struct page_sink;

struct page_sink_ops {
	/* Takes one chunk; its data is only valid during the call. */
	int (*put)(struct page_sink *sink, const struct page_chunk *chunk, struct ckpt_error *err);
	void (*close)(struct page_sink *sink);
};

struct page_sink {
	const struct page_sink_ops *ops;
};

/* Where the restart's page chunks for the process being rebuilt come from. */
struct page_source;

struct page_source_ops {
	/*
	 * The next chunk: 1 with *ret_chunk set (valid until done), 0 when the
	 * process has no more pages or the source failed (close says which).
	 */
	int (*next)(struct page_source *source, struct page_chunk *ret_chunk);
	/* The chunk from next is in place (or failed: then stop delivering). */
	void (*done)(struct page_source *source, bool failed);
	/* Ends the source: returns ret, or the source's own failure if ret is 0. */
	int (*close)(struct page_source *source, int ret, struct ckpt_error *err);
};

struct page_source {
	const struct page_source_ops *ops;
};

/*
 * The page copier: takes runs of pages to keep, reads them from memory in
 * batches of one PAGES record, drops all-zero pages where a fresh mapping
 * reads zero anyway, and puts each batch into the sink.
 */
struct page_copier;

int open_page_copier(struct process_memory *memory, struct page_sink *sink, struct ckpt_error *err,
		     struct page_copier **ret_copier);
/*
 * Adds one VMA's runs.  readable: the VMA allows reads; zero_is_hole: an
 * all-zero page of it need not be kept (a fresh mapping reads zero).
 */
int page_copier_add(struct page_copier *copier, const struct ckpt_page_run *runs, size_t count,
		    bool readable, bool zero_is_hole);
/* Puts what is batched into the sink. */
int page_copier_flush(struct page_copier *copier);
void close_page_copier(struct page_copier *copier);

/* Called after each chunk is in place. */
typedef void page_chunk_hook(void *arg, const struct page_chunk *chunk);

/*
 * Copies every chunk of source into memory; *pages_done counts the pages.
 * Returns 0 or -errno; the source is left to close.
 */
int copy_source_into(struct page_source *source, struct process_memory *memory,
		     page_chunk_hook *after_chunk, void *arg, uint64_t *pages_done,
		     struct ckpt_error *err);

/* page_access.c: the implementations on a live process. */
int open_pagemap_scanner(pid_t pid, struct ckpt_error *err, struct page_scanner **ret_scanner);
/* The target's memory: process_vm_readv, /proc/PID/mem for unreadable VMAs. */
int open_target_memory(pid_t pid, struct ckpt_error *err, struct process_memory **ret_memory);
/* A husk's memory: process_vm_writev. */
int open_husk_memory(pid_t pid, struct ckpt_error *err, struct process_memory **ret_memory);

/* page_stream.c: the image stream as sink and source. */
struct image_writer;
struct restore_context;
int open_stream_sink(struct image_writer *writer, struct ckpt_error *err,
		     struct page_sink **ret_sink);
/* The PAGES records after the VMAs of the process being rebuilt (ctx->next on). */
int open_stream_source(struct restore_context *ctx, struct page_source **ret_source);

/* pages.c: the two ends, with any sink or source. */
struct dump_context;
int dump_pages_to(struct dump_context *ctx, struct page_sink *sink);
int restore_pages_from(struct restore_context *ctx, struct page_source *source);

#endif
