/* SPDX-License-Identifier: MIT */
/* Checking streamed PAGES records against the image's VMAs. */
#include <string.h>

#include "image/image.h"
#include "image/page_hash.h"

void page_cursor_init(struct page_cursor *cursor, const struct image_process *image)
{
	memset(cursor, 0, sizeof(*cursor));
	cursor->image = image;
}

/*
 * Moves past the VMAs that end at or below `address`, checking their
 * counts.  A VMA's page_count is an upper bound: the writer drops pages it
 * finds all zero after the VMA records are out.
 */
static int move_past(struct page_cursor *cursor, uint64_t address, struct ckpt_error *err)
{
	const struct image_process *image = cursor->image;

	while (cursor->vma_index < image->vma_count && image->vmas[cursor->vma_index].end <= address) {
		const struct ckpt_vma *vma = &image->vmas[cursor->vma_index];

		if (cursor->pages_in_vma > vma->page_count)
			return fail(
				err, EINVAL,
				"bad image: VMA at %#llx: page count %llu is below its %llu pages",
				(unsigned long long)vma->start, (unsigned long long)vma->page_count,
				(unsigned long long)cursor->pages_in_vma);
		cursor->pages_in_vma = 0;
		cursor->vma_index++;
	}
	return 0;
}

int page_cursor_finish(struct page_cursor *cursor, struct ckpt_error *err)
{
	return move_past(cursor, UINT64_MAX, err);
}

/* Finds the VMA holding [start, end), looking forward from the cursor. */
static const struct ckpt_vma *vma_for_run(const struct page_cursor *cursor, uint64_t start,
					  uint64_t end)
{
	const struct image_process *image = cursor->image;
	size_t index = cursor->vma_index;

	while (index < image->vma_count && image->vmas[index].end <= start)
		index++;
	if (index == image->vma_count)
		return NULL;
	if (image->vmas[index].start > start || image->vmas[index].end < end)
		return NULL;
	return &image->vmas[index];
}

static int accept_run(struct page_cursor *cursor, const struct ckpt_page_run *run,
		      struct ckpt_error *err)
{
	uint64_t end = run->start + run->pages * CKPT_PAGE_SIZE;
	const struct ckpt_vma *vma;

	if (run->start < cursor->next_address)
		return fail(err, EINVAL, "bad image: pages at %#llx repeat or go backwards",
			    (unsigned long long)run->start);
	vma = vma_for_run(cursor, run->start, end);
	if (!vma || !vma_holds_pages(vma))
		return fail(err, EINVAL,
			    "bad image: pages at %#llx-%#llx lie outside any VMA that holds pages",
			    (unsigned long long)run->start, (unsigned long long)end);
	if (move_past(cursor, run->start, err) < 0)
		return -EINVAL;
	if (cursor->pages_in_vma + run->pages > vma->page_count)
		return fail(err, EINVAL,
			    "bad image: VMA at %#llx: page count %llu is below its pages",
			    (unsigned long long)vma->start, (unsigned long long)vma->page_count);
	cursor->next_address = end;
	cursor->pages_in_vma += run->pages;
	return 0;
}

int page_cursor_accept(struct page_cursor *cursor, const struct image_record *record,
		       const struct ckpt_page_run **ret_runs, const void **ret_data,
		       struct ckpt_error *err)
{
	const struct ckpt_pages *pages = record->payload;
	const struct ckpt_page_run *runs = (const struct ckpt_page_run *)(pages + 1);
	const void *data = runs + pages->run_count;

	for (uint64_t i = 0; i < pages->run_count; i++) {
		int ret = accept_run(cursor, &runs[i], err);

		if (ret < 0)
			return ret;
	}
	if (page_hash(data, pages->page_count * CKPT_PAGE_SIZE) != pages->data_hash)
		return fail(err, EINVAL, "bad image: page data at byte %llu does not match its hash",
			    (unsigned long long)record->offset);
	cursor->page_count += pages->page_count;
	*ret_runs = runs;
	*ret_data = data;
	return 0;
}

int image_check_tail(const struct image_reader *reader, const struct image_record *record,
		     uint64_t pages_seen, struct ckpt_error *err)
{
	const struct ckpt_tail *tail = record->payload;

	if (tail->record_count != reader->record_count - 1 || tail->page_count != pages_seen ||
	    tail->stream_bytes != record->offset)
		return fail(
			err, EINVAL,
			"bad image: tail counts (%llu records, %llu pages, %llu bytes) do not match the stream (%llu, %llu, %llu)",
			(unsigned long long)tail->record_count,
			(unsigned long long)tail->page_count, (unsigned long long)tail->stream_bytes,
			(unsigned long long)(reader->record_count - 1),
			(unsigned long long)pages_seen, (unsigned long long)record->offset);
	return 0;
}
