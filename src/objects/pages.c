/* SPDX-License-Identifier: MIT */
/*
 * Page contents: PAGEMAP_SCAN finds the pages worth writing (present or
 * swapped, not the zero page, not clean file pages), process_vm_readv reads
 * them in batches, and each batch becomes one PAGES record.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "objects/dump.h"
#include "sys/kernel.h"
#include "util.h"

enum { SCAN_REGIONS = 1024 };

static int append_run(struct page_run_list *list, uint64_t start, uint64_t end,
		      struct ckpt_error *err)
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

/* Which pages of a VMA go into the image. */
static void scan_filter(const struct ckpt_vma *vma, struct pm_scan_arg_v1 *arg)
{
	arg->category_anyof_mask = CKPT_PAGE_IS_PRESENT | CKPT_PAGE_IS_SWAPPED;
	arg->return_mask = CKPT_PAGE_IS_PRESENT | CKPT_PAGE_IS_SWAPPED;
	if (vma->kind == CKPT_VMA_SHARED_ANON)
		return;
	arg->category_inverted = CKPT_PAGE_IS_PFNZERO;
	arg->category_mask = CKPT_PAGE_IS_PFNZERO;
	if (vma->kind == CKPT_VMA_FILE_PRIVATE) {
		arg->category_inverted |= CKPT_PAGE_IS_FILE;
		arg->category_mask |= CKPT_PAGE_IS_FILE;
	}
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

static int scan_vma(struct dump_context *ctx, int pagemap_fd, struct dump_vma *vma,
		    struct page_region_v1 *regions)
{
	struct pm_scan_arg_v1 arg = {
		.size = sizeof(arg),
		.start = vma->record.start,
		.end = file_data_end(ctx, &vma->record),
		.vec = (uint64_t)(uintptr_t)regions,
		.vec_len = SCAN_REGIONS,
	};

	scan_filter(&vma->record, &arg);
	while (arg.start < arg.end) {
		int found = ioctl(pagemap_fd, CKPT_PAGEMAP_SCAN, &arg);

		if (found < 0)
			return fail(ctx->err, errno, "scanning pages of process %d at %#llx: %s", ctx->pid,
				    (unsigned long long)arg.start, strerror(errno));
		for (int i = 0; i < found; i++) {
			int ret = append_run(&vma->runs, regions[i].start, regions[i].end, ctx->err);

			if (ret < 0)
				return ret;
			vma->record.page_count += (regions[i].end - regions[i].start) / CKPT_PAGE_SIZE;
		}
		arg.start = arg.walk_end;
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
			hole = (hole + CKPT_PAGE_SIZE - 1) & ~(off_t)(CKPT_PAGE_SIZE - 1);	/* at an unaligned size */
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
	struct shmem_claim *grown = realloc(shared->shmem_claims,
					    (shared->shmem_claim_count + 1) * sizeof(*grown));

	if (!grown)
		return fail(ctx->err, ENOMEM, "out of memory");
	shared->shmem_claims = grown;
	grown[shared->shmem_claim_count++] = (struct shmem_claim){
		vma->file_id, vma->file_offset, vma->file_offset + (vma->end - vma->start)
	};
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
	char path[64];
	_cleanup_close_ int pagemap_fd = -1;
	_cleanup_free_ struct page_region_v1 *regions = calloc(SCAN_REGIONS, sizeof(*regions));
	int ret = 0;

	if (!regions)
		return fail(ctx->err, ENOMEM, "out of memory");
	snprintf(path, sizeof(path), "/proc/%d/pagemap", ctx->pid);
	pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (pagemap_fd < 0)
		return fail(ctx->err, errno, "opening %s: %s", path, strerror(errno));
	for (size_t i = 0; ret == 0 && i < ctx->vma_count; i++) {
		struct dump_vma *vma = &ctx->vmas[i];

		if (vma->record.kind == CKPT_VMA_SHARED_ANON)
			ret = scan_shared_memory(ctx, vma);
		else if (vma_holds_pages(&vma->record))
			ret = scan_vma(ctx, pagemap_fd, vma, regions);
	}
	return ret;
}

/* One PAGES record being filled. */
struct page_batch {
	struct ckpt_page_run runs[CKPT_MAX_PAGE_RUNS];
	bool readable[CKPT_MAX_PAGE_RUNS];
	bool zero_is_hole[CKPT_MAX_PAGE_RUNS];	/* an all-zero page reads back as zero */
	size_t run_count;
	uint64_t page_count;
	unsigned char *data;	/* CKPT_PAGES_PER_RECORD pages */
};

static int read_with_proc_mem(struct dump_context *ctx, int mem_fd, const struct ckpt_page_run *run,
			      unsigned char *into)
{
	size_t length = run->pages * CKPT_PAGE_SIZE;
	ssize_t got = pread(mem_fd, into, length, (off_t)run->start);

	if (got != (ssize_t)length)
		return fail(ctx->err, got < 0 ? errno : EIO, "reading memory of process %d at %#llx: %s",
			    ctx->pid, (unsigned long long)run->start,
			    got < 0 ? strerror(errno) : "short read");
	return 0;
}

static int read_runs_with_proc_mem(struct dump_context *ctx, int mem_fd,
				   const struct page_batch *batch, size_t first, size_t last,
				   unsigned char *into)
{
	for (size_t i = first; i < last; i++) {
		int ret = read_with_proc_mem(ctx, mem_fd, &batch->runs[i], into);

		if (ret < 0)
			return ret;
		into += batch->runs[i].pages * CKPT_PAGE_SIZE;
	}
	return 0;
}

/* process_vm_readv over runs [first, last), falling back to /proc/PID/mem. */
static int read_runs(struct dump_context *ctx, int mem_fd, const struct page_batch *batch,
		     size_t first, size_t last, unsigned char *into)
{
	struct iovec local = { into, 0 };
	struct iovec remote[CKPT_MAX_PAGE_RUNS];
	ssize_t got;

	if (!batch->readable[first])
		return read_runs_with_proc_mem(ctx, mem_fd, batch, first, last, into);
	for (size_t i = first; i < last; i++) {
		remote[i - first] = (struct iovec){ (void *)(uintptr_t)batch->runs[i].start,
						    batch->runs[i].pages * CKPT_PAGE_SIZE };
		local.iov_len += remote[i - first].iov_len;
	}
	got = process_vm_readv(ctx->pid, &local, 1, remote, last - first, 0);
	if (got == (ssize_t)local.iov_len)
		return 0;
	return read_runs_with_proc_mem(ctx, mem_fd, batch, first, last, into);
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
static void keep_page(struct page_batch *batch, size_t *run_count, uint64_t address, bool same_run)
{
	struct ckpt_page_run *last = *run_count ? &batch->runs[*run_count - 1] : NULL;

	if (same_run && last && last->start + last->pages * CKPT_PAGE_SIZE == address) {
		last->pages++;
		return;
	}
	batch->runs[(*run_count)++] = (struct ckpt_page_run){ address, 1 };
}

/*
 * Drops pages that are all zero where a fresh mapping reads zero anyway
 * (anonymous memory written with zeros): the image stays the size of the
 * real data.  Runs and data are compacted in place.
 */
static void drop_zero_pages(struct page_batch *batch)
{
	struct ckpt_page_run runs[CKPT_MAX_PAGE_RUNS];
	bool hole[CKPT_MAX_PAGE_RUNS];
	size_t old_count = batch->run_count, new_count = 0;
	unsigned char *in = batch->data, *out = batch->data;

	memcpy(runs, batch->runs, old_count * sizeof(runs[0]));
	memcpy(hole, batch->zero_is_hole, old_count * sizeof(hole[0]));
	batch->page_count = 0;
	for (size_t r = 0; r < old_count; r++) {
		bool run_started = false;

		for (uint64_t p = 0; p < runs[r].pages; p++, in += CKPT_PAGE_SIZE) {
			if (hole[r] && page_is_zero(in))
				continue;
			if (out != in)
				memmove(out, in, CKPT_PAGE_SIZE);
			keep_page(batch, &new_count, runs[r].start + p * CKPT_PAGE_SIZE, run_started);
			run_started = true;
			out += CKPT_PAGE_SIZE;
			batch->page_count++;
		}
	}
	batch->run_count = new_count;
}

static int flush_batch(struct dump_context *ctx, int mem_fd, struct page_batch *batch)
{
	unsigned char *into = batch->data;
	size_t first = 0;
	int ret;

	if (batch->run_count == 0)
		return 0;
	while (first < batch->run_count) {
		size_t last = first + 1;
		uint64_t bytes = batch->runs[first].pages * CKPT_PAGE_SIZE;

		while (last < batch->run_count && batch->readable[last] == batch->readable[first])
			bytes += batch->runs[last++].pages * CKPT_PAGE_SIZE;
		ret = read_runs(ctx, mem_fd, batch, first, last, into);
		if (ret < 0)
			return ret;
		into += bytes;
		first = last;
	}
	drop_zero_pages(batch);
	ret = batch->page_count == 0 ? 0 :
				       image_write_pages(ctx->writer, batch->runs, batch->run_count,
							 batch->data, batch->page_count);
	batch->run_count = 0;
	batch->page_count = 0;
	return ret;
}

static void report_progress(struct dump_context *ctx, uint64_t done_pages, uint64_t total_pages)
{
	if (ctx->options && ctx->options->progress)
		ctx->options->progress(ctx->options->progress_arg, done_pages * CKPT_PAGE_SIZE,
				       total_pages * CKPT_PAGE_SIZE);
}

/* Adds a run to the batch, flushing whenever the batch is full. */
static int batch_run(struct dump_context *ctx, int mem_fd, struct page_batch *batch,
		     struct ckpt_page_run run, bool readable, bool zero_is_hole)
{
	while (run.pages > 0) {
		uint64_t room = CKPT_PAGES_PER_RECORD - batch->page_count;
		uint64_t take = run.pages < room ? run.pages : room;
		int ret;

		batch->readable[batch->run_count] = readable;
		batch->zero_is_hole[batch->run_count] = zero_is_hole;
		batch->runs[batch->run_count++] = (struct ckpt_page_run){ run.start, take };
		batch->page_count += take;
		run.start += take * CKPT_PAGE_SIZE;
		run.pages -= take;
		if (batch->page_count < CKPT_PAGES_PER_RECORD && batch->run_count < CKPT_MAX_PAGE_RUNS)
			continue;
		ret = flush_batch(ctx, mem_fd, batch);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static uint64_t total_pages(const struct dump_context *ctx)
{
	uint64_t total = 0;

	for (size_t i = 0; i < ctx->vma_count; i++)
		total += ctx->vmas[i].record.page_count;
	return total;
}

static int write_all_runs(struct dump_context *ctx, int mem_fd, struct page_batch *batch)
{
	uint64_t total = total_pages(ctx), done = 0;

	for (size_t i = 0; i < ctx->vma_count; i++) {
		const struct dump_vma *vma = &ctx->vmas[i];
		bool readable = vma->record.prot & PROT_READ;
		bool zero_is_hole = vma->record.kind != CKPT_VMA_FILE_PRIVATE;

		for (size_t r = 0; r < vma->runs.count; r++) {
			int ret = batch_run(ctx, mem_fd, batch, vma->runs.runs[r], readable, zero_is_hole);

			if (ret < 0)
				return ret;
			done += vma->runs.runs[r].pages;
		}
		if (vma->runs.count)
			report_progress(ctx, done, total);
	}
	return flush_batch(ctx, mem_fd, batch);
}

int write_pages(struct dump_context *ctx)
{
	char path[64];
	_cleanup_close_ int mem_fd = -1;
	_cleanup_free_ struct page_batch *batch = calloc(1, sizeof(*batch));
	size_t data_size = (size_t)CKPT_PAGES_PER_RECORD * CKPT_PAGE_SIZE;
	int ret;

	if (!batch)
		return fail(ctx->err, ENOMEM, "out of memory");
	snprintf(path, sizeof(path), "/proc/%d/mem", ctx->pid);
	mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (mem_fd < 0)
		return fail(ctx->err, errno, "opening %s: %s", path, strerror(errno));
	batch->data = mmap(NULL, data_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (batch->data == MAP_FAILED)
		return fail(ctx->err, errno, "allocating the page buffer: %s", strerror(errno));
	ret = write_all_runs(ctx, mem_fd, batch);
	munmap(batch->data, data_size);
	return ret;
}
