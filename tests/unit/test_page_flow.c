/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the page seams (src/objects/page_flow.h) with fakes: a
 * target whose memory is a buffer here, a sink that keeps every chunk, a
 * source that hands them back, a husk whose memory is another buffer.
 * The copier drops all-zero pages only where zero_is_hole, keeps runs
 * apart across VMAs, reads unreadable VMAs apart from readable ones, cuts
 * batches at one PAGES record; a page's whole path (target -> copier ->
 * sink ... source -> husk) leaves the husk's memory equal to the target's;
 * a failed write into the husk stops the source.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/unit_check.h"
#include "objects/page_flow.h"

#define BASE 0x10000000ull
#define PAGES 3000u

static uint64_t page_address(uint64_t index)
{
	return BASE + index * CKPT_PAGE_SIZE;
}

/* ---- fake process memory: PAGES pages from BASE ---- */

struct fake_memory {
	struct process_memory base;
	unsigned char *bytes;
	unsigned reads;
	unsigned unreadable_reads; /* reads of runs marked unreadable */
	unsigned writes;
	unsigned fail_write_at; /* 1-based write that fails; 0: none */
};

static unsigned char *fake_at(struct fake_memory *memory, uint64_t address)
{
	return memory->bytes + (address - BASE);
}

static int read_fake(struct process_memory *base, const struct ckpt_page_run *runs, size_t count,
		     bool readable, void *into, struct ckpt_error *err)
{
	struct fake_memory *memory = (struct fake_memory *)base;
	unsigned char *to = into;

	(void)err;
	memory->reads++;
	memory->unreadable_reads += !readable;
	for (size_t i = 0; i < count; i++) {
		memcpy(to, fake_at(memory, runs[i].start), runs[i].pages * CKPT_PAGE_SIZE);
		to += runs[i].pages * CKPT_PAGE_SIZE;
	}
	return 0;
}

static int write_fake(struct process_memory *base, const struct page_chunk *chunk,
		      struct ckpt_error *err)
{
	struct fake_memory *memory = (struct fake_memory *)base;
	const unsigned char *from = chunk->data;

	if (++memory->writes == memory->fail_write_at)
		return fail(err, EFAULT, "fake husk: write %u fails", memory->writes);
	for (uint64_t i = 0; i < chunk->run_count; i++) {
		memcpy(fake_at(memory, chunk->runs[i].start), from,
		       chunk->runs[i].pages * CKPT_PAGE_SIZE);
		from += chunk->runs[i].pages * CKPT_PAGE_SIZE;
	}
	return 0;
}

static void close_fake(struct process_memory *base)
{
	(void)base;
}

static const struct process_memory_ops fake_memory_ops = {
	.read = read_fake,
	.write = write_fake,
	.close = close_fake,
};

static void fake_memory_init(struct fake_memory *memory)
{
	*memory = (struct fake_memory){ .base = { &fake_memory_ops } };
	memory->bytes = calloc(PAGES, CKPT_PAGE_SIZE);
	if (!memory->bytes)
		abort();
}

/* Every page of the target holds its index, but the pages listed in zero. */
static void fill_target(struct fake_memory *memory, const uint64_t *zero, size_t zero_count)
{
	for (uint64_t i = 0; i < PAGES; i++)
		memset(memory->bytes + i * CKPT_PAGE_SIZE, (int)(i % 251) + 1, CKPT_PAGE_SIZE);
	for (size_t i = 0; i < zero_count; i++)
		memset(memory->bytes + zero[i] * CKPT_PAGE_SIZE, 0, CKPT_PAGE_SIZE);
}

/* ---- a sink that keeps the chunks, and a source that hands them back ---- */

struct kept_chunk {
	struct ckpt_page_run *runs;
	uint64_t run_count;
	unsigned char *data;
	uint64_t page_count;
};

struct chunk_list {
	struct page_sink sink;
	struct page_source source;
	struct kept_chunk chunks[16];
	size_t count;
	size_t next; /* the source's */
	unsigned done_ok;
	unsigned done_failed;
	int close_result;
};

static int keep_chunk(struct page_sink *sink, const struct page_chunk *chunk, struct ckpt_error *err)
{
	struct chunk_list *list = (struct chunk_list *)sink;
	struct kept_chunk *kept = &list->chunks[list->count++];

	(void)err;
	kept->runs = malloc(chunk->run_count * sizeof(*kept->runs));
	kept->data = malloc(chunk->page_count * CKPT_PAGE_SIZE);
	if (!kept->runs || !kept->data)
		abort();
	memcpy(kept->runs, chunk->runs, chunk->run_count * sizeof(*kept->runs));
	memcpy(kept->data, chunk->data, chunk->page_count * CKPT_PAGE_SIZE);
	kept->run_count = chunk->run_count;
	kept->page_count = chunk->page_count;
	return 0;
}

static void close_sink(struct page_sink *sink)
{
	(void)sink;
}

static const struct page_sink_ops keeping_sink_ops = { .put = keep_chunk, .close = close_sink };

static struct chunk_list *list_of(struct page_source *source)
{
	return (struct chunk_list *)((char *)source - offsetof(struct chunk_list, source));
}

static int hand_chunk(struct page_source *source, struct page_chunk *ret_chunk)
{
	struct chunk_list *list = list_of(source);
	const struct kept_chunk *kept;

	if (list->next == list->count)
		return 0;
	kept = &list->chunks[list->next++];
	*ret_chunk = (struct page_chunk){ kept->runs, kept->run_count, kept->data, kept->page_count };
	return 1;
}

static void chunk_done(struct page_source *source, bool failed)
{
	struct chunk_list *list = list_of(source);

	list->done_ok += !failed;
	list->done_failed += failed;
	if (failed)
		list->next = list->count; /* stop delivering */
}

static int close_source(struct page_source *source, int ret, struct ckpt_error *err)
{
	(void)err;
	list_of(source)->close_result = ret;
	return ret;
}

static const struct page_source_ops handing_source_ops = {
	.next = hand_chunk,
	.done = chunk_done,
	.close = close_source,
};

static void chunk_list_init(struct chunk_list *list)
{
	memset(list, 0, sizeof(*list));
	list->sink.ops = &keeping_sink_ops;
	list->source.ops = &handing_source_ops;
}

static void chunk_list_free(struct chunk_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->chunks[i].runs);
		free(list->chunks[i].data);
	}
}

/* ---- tests ---- */

/* Three VMAs: anonymous (zero pages dropped), private file (kept), unreadable anonymous. */
static void copy_sample(struct fake_memory *target, struct chunk_list *list)
{
	struct ckpt_error err = { 0 };
	struct page_copier *copier = NULL;
	const struct ckpt_page_run anonymous[] = { { page_address(0), 4 }, { page_address(10), 2 } };
	const struct ckpt_page_run file[] = { { page_address(12), 3 } };
	const struct ckpt_page_run unreadable[] = { { page_address(20), 1500 } };
	int ret = open_page_copier(&target->base, &list->sink, &err, &copier);

	if (ret == 0)
		ret = page_copier_add(copier, anonymous, 2, true, true);
	if (ret == 0)
		ret = page_copier_add(copier, file, 1, true, false);
	if (ret == 0)
		ret = page_copier_add(copier, unreadable, 1, false, true);
	if (ret == 0)
		ret = page_copier_flush(copier);
	close_page_copier(copier);
	check(ret == 0, "copying the sample: %s", err.message);
}

static bool same_run(const struct ckpt_page_run *run, uint64_t index, uint64_t pages)
{
	return run->start == page_address(index) && run->pages == pages;
}

static void test_copier(void)
{
	const uint64_t zero[] = { 1, 11, 13, 30 };
	struct fake_memory target;
	struct chunk_list list;
	const struct kept_chunk *first = &list.chunks[0];
	uint64_t pages = 0;

	fake_memory_init(&target);
	fill_target(&target, zero, 4);
	chunk_list_init(&list);
	copy_sample(&target, &list);
	check(list.count == 2, "1509 pages make two PAGES records (%zu)", list.count);
	for (size_t i = 0; i < list.count; i++)
		pages += list.chunks[i].page_count;
	check(pages == 1509 - 3, "the zero pages of anonymous VMAs are dropped (%llu pages)",
	      (unsigned long long)pages);
	check(first->page_count == CKPT_PAGES_PER_RECORD - 3,
	      "the first record is full but for its three zero pages (%llu)",
	      (unsigned long long)first->page_count);
	check(first->run_count >= 6 && same_run(&first->runs[0], 0, 1) &&
		      same_run(&first->runs[1], 2, 2) && same_run(&first->runs[2], 10, 1) &&
		      same_run(&first->runs[3], 12, 3) && same_run(&first->runs[4], 20, 10) &&
		      same_run(&first->runs[5], 31, 1024 - 9 - 11),
	      "runs skip dropped pages, keep the file's zero page, never join across VMAs");
	check(memcmp(first->data + 5 * CKPT_PAGE_SIZE, target.bytes + 13 * CKPT_PAGE_SIZE,
		     CKPT_PAGE_SIZE) == 0,
	      "the data follows the runs");
	check(target.reads == 3 && target.unreadable_reads == 2,
	      "readable and unreadable VMAs are read apart (%u reads, %u unreadable)", target.reads,
	      target.unreadable_reads);
	chunk_list_free(&list);
	free(target.bytes);
}

static bool same_pages(struct fake_memory *a, struct fake_memory *b, uint64_t first, uint64_t count)
{
	return memcmp(fake_at(a, page_address(first)), fake_at(b, page_address(first)),
		      count * CKPT_PAGE_SIZE) == 0;
}

static void test_whole_path(void)
{
	const uint64_t zero[] = { 2, 25, 700 };
	struct ckpt_error err = { 0 };
	struct fake_memory target, husk;
	struct chunk_list list;
	uint64_t pages_done = 0;
	int ret;

	fake_memory_init(&target);
	fake_memory_init(&husk);
	fill_target(&target, zero, 3);
	chunk_list_init(&list);
	copy_sample(&target, &list);
	ret = copy_source_into(&list.source, &husk.base, NULL, NULL, &pages_done, &err);
	ret = list.source.ops->close(&list.source, ret, &err);
	check(ret == 0 && pages_done == 1509 - 3, "the chunks go into the husk (%d, %llu pages): %s",
	      ret, (unsigned long long)pages_done, err.message);
	check(same_pages(&husk, &target, 0, 4) && same_pages(&husk, &target, 10, 5) &&
		      same_pages(&husk, &target, 20, 1500),
	      "the husk's memory is the target's in every run");
	check(list.done_ok == list.count && list.done_failed == 0, "each chunk is marked done");
	chunk_list_free(&list);
	free(target.bytes);
	free(husk.bytes);
}

static void test_failed_write(void)
{
	struct ckpt_error err = { 0 };
	struct fake_memory target, husk;
	struct chunk_list list;
	uint64_t pages_done = 0;
	int ret;

	fake_memory_init(&target);
	fake_memory_init(&husk);
	fill_target(&target, NULL, 0);
	chunk_list_init(&list);
	copy_sample(&target, &list);
	husk.fail_write_at = 1;
	ret = copy_source_into(&list.source, &husk.base, NULL, NULL, &pages_done, &err);
	ret = list.source.ops->close(&list.source, ret, &err);
	check(ret == -EFAULT && list.close_result == -EFAULT && husk.writes == 1,
	      "a failed write ends the copy (%d, %u writes)", ret, husk.writes);
	check(list.done_failed == 1 && list.done_ok == 0, "the source is told to stop");
	check(strcmp(err.message, "fake husk: write 1 fails") == 0, "its message stays: %s",
	      err.message);
	chunk_list_free(&list);
	free(target.bytes);
	free(husk.bytes);
}

int main(void)
{
	test_copier();
	test_whole_path();
	test_failed_write();
	return finish_checks("test_page_flow");
}
