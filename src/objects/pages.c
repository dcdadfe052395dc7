/* SPDX-License-Identifier: MIT */
/*
 * Page contents, both ends, along the seams of page_flow.h.  Checkpoint: a
 * page scanner finds the pages worth keeping in each VMA (shared memory
 * through its file's data extents), the page copier reads them from the
 * target's memory in batches of one PAGES record, drops all-zero pages and
 * puts each batch into a page sink.  Restart: a page source hands chunks,
 * which go into the husk's memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "objects/dump.h"
#include "objects/page_flow.h"
#include "objects/restore.h"
#include "sys/kernel.h"
#include "util.h"

enum {
	SCAN_RUNS = 1024
};

static int append_run(struct page_run_list *list, uint64_t start, uint64_t end, struct ckpt_error *err)
{
	uint64_t pages = (end - start) / CKPT_PAGE_SIZE;
	struct ckpt_page_run *last = list->count ? &list->runs[list->count - 1] : NULL;

	if (last && last->start + last->pages * CKPT_PAGE_SIZE == start) {
		last->pages += pages;
		return 0;
	}
	if (list->count == list->capacity) {
		size_t capacity = list->capacity ? list->capacity * 2 : 16;
		struct ckpt_page_run *grown = realloc(list->runs, capacity * sizeof(*grown));

		if (!grown)
			return fail(err, ENOMEM, "out of memory");
		list->runs = grown;
		list->capacity = capacity;
	}
	list->runs[list->count++] = (struct ckpt_page_run){ start, pages };
	return 0;
}

/*
 * Where the pages of a file mapping that can hold data end: at the end of
 * the file rounded up to a page.  Pages past it fault with SIGBUS, in the
 * original as after restart; a kernel that shows them present (a large
 * folio mapped whole) must not make ckpt read them.
 */
static uint64_t file_data_end(const struct dump_context *ctx, const struct ckpt_vma *vma)
{
	char link[128];
	struct stat st;
	uint64_t size;

	if (vma->kind != CKPT_VMA_FILE_PRIVATE && vma->kind != CKPT_VMA_FILE_SHARED)
		return vma->end;
	snprintf(link, sizeof(link), "/proc/%d/map_files/%llx-%llx", ctx->pid,
		 (unsigned long long)vma->start, (unsigned long long)vma->end);
	if (stat(link, &st) < 0 || st.st_size < 0)
		return vma->end;
	size = ((uint64_t)st.st_size + CKPT_PAGE_SIZE - 1) & ~(uint64_t)(CKPT_PAGE_SIZE - 1);
	if (size <= vma->file_offset)
		return vma->start;
	if (size - vma->file_offset >= vma->end - vma->start)
		return vma->end;
	return vma->start + (size - vma->file_offset);
}

static int keep_runs(struct dump_vma *vma, const struct ckpt_page_run *runs, int count,
		     struct ckpt_error *err)
{
	for (int i = 0; i < count; i++) {
		int ret = append_run(&vma->runs, runs[i].start,
				     runs[i].start + runs[i].pages * CKPT_PAGE_SIZE, err);

		if (ret < 0)
			return ret;
		vma->record.page_count += runs[i].pages;
	}
	return 0;
}

static int scan_vma(struct dump_context *ctx, struct page_scanner *scanner, struct dump_vma *vma,
		    struct ckpt_page_run *found_runs)
{
	uint64_t start = vma->record.start;
	uint64_t end = file_data_end(ctx, &vma->record);

	while (start < end) {
		uint64_t from = start;
		int found = scanner->ops->scan(scanner, &vma->record, &start, end, found_runs,
					       SCAN_RUNS, ctx->err);

		if (found < 0)
			return found;
		if (start <= from)
			return fail(ctx->err, EIO,
				    "scanning pages of process %d at %#llx: no progress", ctx->pid,
				    (unsigned long long)from);
		found = keep_runs(vma, found_runs, found, ctx->err);
		if (found < 0)
			return found;
	}
	return 0;
}

/* Appends the data extents of [offset, end) of a shmem file as runs of the VMA. */
static int scan_shared_range(struct dump_context *ctx, struct dump_vma *vma, int fd, off_t offset,
			     off_t end)
{
	uint64_t base = vma->record.start - vma->record.file_offset;

	while (offset < end) {
		off_t data = lseek(fd, offset, SEEK_DATA);
		off_t hole;
		int ret;

		if (data < 0 || data >= end)
			break;
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole >= 0)
			hole = (hole + CKPT_PAGE_SIZE - 1) &
			       ~(off_t)(CKPT_PAGE_SIZE - 1); /* at an unaligned size */
		if (hole < 0 || hole > end)
			hole = end;
		ret = append_run(&vma->runs, base + (uint64_t)data, base + (uint64_t)hole, ctx->err);
		if (ret < 0)
			return ret;
		vma->record.page_count += (uint64_t)(hole - data) / CKPT_PAGE_SIZE;
		offset = hole;
	}
	return 0;
}

static const struct shmem_claim *find_overlapping_claim(const struct dump_shared *shared,
							size_t *index, uint32_t file_id,
							uint64_t start, uint64_t end)
{
	for (; *index < shared->shmem_claim_count; (*index)++) {
		const struct shmem_claim *claim = &shared->shmem_claims[*index];

		if (claim->file_id == file_id && claim->start < end && start < claim->end)
			return claim;
	}
	return NULL;
}

/* Scans the parts of [start, end) that no claim from index on covers, in ascending order. */
static int scan_unclaimed(struct dump_context *ctx, struct dump_vma *vma, int fd, size_t index,
			  uint64_t start, uint64_t end)
{
	const struct shmem_claim *claim;
	int ret;

	if (start >= end)
		return 0;
	claim = find_overlapping_claim(ctx->shared, &index, vma->record.file_id, start, end);
	if (!claim)
		return scan_shared_range(ctx, vma, fd, (off_t)start, (off_t)end);
	ret = scan_unclaimed(ctx, vma, fd, index + 1, start, claim->start);
	if (ret == 0)
		ret = scan_unclaimed(ctx, vma, fd, index + 1, claim->end, end);
	return ret;
}

static int claim_shared_range(struct dump_context *ctx, const struct ckpt_vma *vma)
{
	struct dump_shared *shared = ctx->shared;
	struct shmem_claim *grown =
		realloc(shared->shmem_claims, (shared->shmem_claim_count + 1) * sizeof(*grown));

	if (!grown)
		return fail(ctx->err, ENOMEM, "out of memory");
	shared->shmem_claims = grown;
	grown[shared->shmem_claim_count++] =
		(struct shmem_claim){ vma->file_id, vma->file_offset,
				      vma->file_offset + (vma->end - vma->start) };
	return 0;
}

/*
 * The pages of a shmem object that hold data, found through its file: each
 * page goes with the first mapping (in tree order) that shows it.
 */
static int scan_shared_memory(struct dump_context *ctx, struct dump_vma *vma)
{
	char link[128];
	_cleanup_close_ int fd = -1;
	uint64_t start = vma->record.file_offset;
	int ret;

	snprintf(link, sizeof(link), "/proc/%d/map_files/%llx-%llx", ctx->pid,
		 (unsigned long long)vma->record.start, (unsigned long long)vma->record.end);
	fd = open(link, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(ctx->err, errno, "opening %s: %s", link, strerror(errno));
	ret = scan_unclaimed(ctx, vma, fd, 0, start, start + (vma->record.end - vma->record.start));
	if (ret == 0)
		ret = claim_shared_range(ctx, &vma->record);
	return ret;
}

int scan_pages(struct dump_context *ctx)
{
	struct page_scanner *scanner = NULL;
	_cleanup_free_ struct ckpt_page_run *found_runs = calloc(SCAN_RUNS, sizeof(*found_runs));
	int ret;

	if (!found_runs)
		return fail(ctx->err, ENOMEM, "out of memory");
	ret = open_pagemap_scanner(ctx->pid, ctx->err, &scanner);
	for (size_t i = 0; ret == 0 && i < ctx->vma_count; i++) {
		struct dump_vma *vma = &ctx->vmas[i];

		if (vma->record.kind == CKPT_VMA_SHARED_ANON)
			ret = scan_shared_memory(ctx, vma);
		else if (vma_holds_pages(&vma->record))
			ret = scan_vma(ctx, scanner, vma, found_runs);
	}
	if (scanner)
		scanner->ops->close(scanner);
	return ret;
}

/* ---- the page copier: target memory -> batches of one PAGES record -> sink ---- */

struct page_copier {
	struct process_memory *memory;
	struct page_sink *sink;
	struct ckpt_error *err;
	struct ckpt_page_run runs[CKPT_MAX_PAGE_RUNS];
	bool readable[CKPT_MAX_PAGE_RUNS];
	bool zero_is_hole[CKPT_MAX_PAGE_RUNS]; /* an all-zero page reads back as zero */
	size_t run_count;
	uint64_t page_count;
	unsigned char *data; /* CKPT_PAGES_PER_RECORD pages */
};

static const size_t copier_data_size = (size_t)CKPT_PAGES_PER_RECORD * CKPT_PAGE_SIZE;

int open_page_copier(struct process_memory *memory, struct page_sink *sink, struct ckpt_error *err,
		     struct page_copier **ret_copier)
{
	struct page_copier *copier = calloc(1, sizeof(*copier));

	if (!copier)
		return fail(err, ENOMEM, "out of memory");
	copier->data = mmap(NULL, copier_data_size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (copier->data == MAP_FAILED) {
		int ret = fail(err, errno, "allocating the page buffer: %s", strerror(errno));

		free(copier);
		return ret;
	}
	copier->memory = memory;
	copier->sink = sink;
	copier->err = err;
	*ret_copier = copier;
	return 0;
}

void close_page_copier(struct page_copier *copier)
{
	if (!copier)
		return;
	munmap(copier->data, copier_data_size);
	free(copier);
}

static bool page_is_zero(const unsigned char *page)
{
	for (size_t offset = 0; offset < CKPT_PAGE_SIZE; offset += 64) {
		uint64_t words[8], any = 0;

		memcpy(words, page + offset, sizeof(words));
		for (int i = 0; i < 8; i++)
			any |= words[i];
		if (any)
			return false;
	}
	return true;
}

/* Appends one page to the compacted runs; runs never grow across VMAs. */
static void keep_page(struct page_copier *copier, size_t *run_count, uint64_t address, bool same_run)
{
	struct ckpt_page_run *last = *run_count ? &copier->runs[*run_count - 1] : NULL;

	if (same_run && last && last->start + last->pages * CKPT_PAGE_SIZE == address) {
		last->pages++;
		return;
	}
	copier->runs[(*run_count)++] = (struct ckpt_page_run){ address, 1 };
}

/*
 * Drops pages that are all zero where a fresh mapping reads zero anyway
 * (anonymous memory written with zeros): the image stays the size of the
 * real data.  Runs and data are compacted in place.
 */
static void drop_zero_pages(struct page_copier *copier)
{
	struct ckpt_page_run runs[CKPT_MAX_PAGE_RUNS];
	bool hole[CKPT_MAX_PAGE_RUNS];
	size_t old_count = copier->run_count, new_count = 0;
	unsigned char *in = copier->data, *out = copier->data;

	memcpy(runs, copier->runs, old_count * sizeof(runs[0]));
	memcpy(hole, copier->zero_is_hole, old_count * sizeof(hole[0]));
	copier->page_count = 0;
	for (size_t r = 0; r < old_count; r++) {
		bool run_started = false;

		for (uint64_t p = 0; p < runs[r].pages; p++, in += CKPT_PAGE_SIZE) {
			if (hole[r] && page_is_zero(in))
				continue;
			if (out != in)
				memmove(out, in, CKPT_PAGE_SIZE);
			keep_page(copier, &new_count, runs[r].start + p * CKPT_PAGE_SIZE,
				  run_started);
			run_started = true;
			out += CKPT_PAGE_SIZE;
			copier->page_count++;
		}
	}
	copier->run_count = new_count;
}

/* Reads the batched runs, in groups that are alike in being readable. */
static int read_batch(struct page_copier *copier)
{
	unsigned char *into = copier->data;
	size_t first = 0;

	while (first < copier->run_count) {
		size_t last = first + 1;
		uint64_t bytes = copier->runs[first].pages * CKPT_PAGE_SIZE;
		int ret;

		while (last < copier->run_count && copier->readable[last] == copier->readable[first])
			bytes += copier->runs[last++].pages * CKPT_PAGE_SIZE;
		ret = copier->memory->ops->read(copier->memory, &copier->runs[first], last - first,
						copier->readable[first], into, copier->err);
		if (ret < 0)
			return ret;
		into += bytes;
		first = last;
	}
	return 0;
}

int page_copier_flush(struct page_copier *copier)
{
	struct page_chunk chunk = { .runs = copier->runs, .data = copier->data };
	int ret;

	if (copier->run_count == 0)
		return 0;
	ret = read_batch(copier);
	if (ret == 0)
		drop_zero_pages(copier);
	chunk.run_count = copier->run_count;
	chunk.page_count = copier->page_count;
	if (ret == 0 && chunk.page_count > 0)
		ret = copier->sink->ops->put(copier->sink, &chunk, copier->err);
	copier->run_count = 0;
	copier->page_count = 0;
	return ret;
}

/* Adds a run to the batch, flushing whenever the batch is full. */
static int add_run(struct page_copier *copier, struct ckpt_page_run run, bool readable,
		   bool zero_is_hole)
{
	while (run.pages > 0) {
		uint64_t room = CKPT_PAGES_PER_RECORD - copier->page_count;
		uint64_t take = run.pages < room ? run.pages : room;
		int ret;

		copier->readable[copier->run_count] = readable;
		copier->zero_is_hole[copier->run_count] = zero_is_hole;
		copier->runs[copier->run_count++] = (struct ckpt_page_run){ run.start, take };
		copier->page_count += take;
		run.start += take * CKPT_PAGE_SIZE;
		run.pages -= take;
		if (copier->page_count < CKPT_PAGES_PER_RECORD &&
		    copier->run_count < CKPT_MAX_PAGE_RUNS)
			continue;
		ret = page_copier_flush(copier);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int page_copier_add(struct page_copier *copier, const struct ckpt_page_run *runs, size_t count,
		    bool readable, bool zero_is_hole)
{
	for (size_t i = 0; i < count; i++) {
		int ret = add_run(copier, runs[i], readable, zero_is_hole);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ---- checkpoint: every VMA's runs through the copier ---- */

static void report_progress(struct dump_context *ctx, uint64_t done_pages, uint64_t total_pages)
{
	if (ctx->options && ctx->options->progress)
		ctx->options->progress(ctx->options->progress_arg, done_pages * CKPT_PAGE_SIZE,
				       total_pages * CKPT_PAGE_SIZE);
}

static uint64_t total_pages(const struct dump_context *ctx)
{
	uint64_t total = 0;

	for (size_t i = 0; i < ctx->vma_count; i++)
		total += ctx->vmas[i].record.page_count;
	return total;
}

static uint64_t run_pages(const struct page_run_list *list)
{
	uint64_t pages = 0;

	for (size_t r = 0; r < list->count; r++)
		pages += list->runs[r].pages;
	return pages;
}

static int copy_all_runs(struct dump_context *ctx, struct page_copier *copier)
{
	uint64_t total = total_pages(ctx), done = 0;

	for (size_t i = 0; i < ctx->vma_count; i++) {
		const struct dump_vma *vma = &ctx->vmas[i];
		bool readable = vma->record.prot & PROT_READ;
		bool zero_is_hole = vma->record.kind != CKPT_VMA_FILE_PRIVATE;
		int ret = page_copier_add(copier, vma->runs.runs, vma->runs.count, readable,
					  zero_is_hole);

		if (ret < 0)
			return ret;
		done += run_pages(&vma->runs);
		if (vma->runs.count)
			report_progress(ctx, done, total);
	}
	return page_copier_flush(copier);
}

int dump_pages_to(struct dump_context *ctx, struct page_sink *sink)
{
	struct process_memory *memory;
	struct page_copier *copier = NULL;
	int ret = open_target_memory(ctx->pid, ctx->err, &memory);

	if (ret < 0)
		return ret;
	ret = open_page_copier(memory, sink, ctx->err, &copier);
	if (ret == 0)
		ret = copy_all_runs(ctx, copier);
	close_page_copier(copier);
	memory->ops->close(memory);
	return ret;
}

int write_pages(struct dump_context *ctx)
{
	struct page_sink *sink;
	int ret = open_stream_sink(ctx->writer, ctx->err, &sink);

	if (ret < 0)
		return ret;
	ret = dump_pages_to(ctx, sink);
	sink->ops->close(sink);
	return ret;
}

/* ---- restart: a page source into the husk ---- */

int copy_source_into(struct page_source *source, struct process_memory *memory,
		     page_chunk_hook *after_chunk, void *arg, uint64_t *pages_done,
		     struct ckpt_error *err)
{
	struct page_chunk chunk;
	int ret = 0;

	while (ret == 0 && source->ops->next(source, &chunk) > 0) {
		ret = memory->ops->write(memory, &chunk, err);
		source->ops->done(source, ret < 0);
		*pages_done += chunk.page_count;
		if (ret == 0 && after_chunk)
			after_chunk(arg, &chunk);
	}
	return ret;
}

static void report_restart_progress(void *arg, const struct page_chunk *chunk)
{
	struct restore_context *ctx = arg;

	(void)chunk;
	if (ctx->options->progress)
		ctx->options->progress(ctx->options->progress_arg, ctx->reader.offset, 0);
}

int restore_pages_from(struct restore_context *ctx, struct page_source *source)
{
	uint64_t started = monotonic_ns();
	struct process_memory *husk;
	int ret = open_husk_memory(ctx->husk, ctx->err, &husk);

	if (ret == 0) {
		ret = copy_source_into(source, husk, report_restart_progress, ctx,
				       &ctx->pages_restored, ctx->err);
		husk->ops->close(husk);
	}
	ret = source->ops->close(source, ret, ctx->err);
	ctx->memory_ns += monotonic_ns() - started;
	return ret;
}

int fill_pages(struct restore_context *ctx)
{
	struct page_source *source;
	int ret = open_stream_source(ctx, &source);

	if (ret < 0)
		return ret;
	return restore_pages_from(ctx, source);
}
