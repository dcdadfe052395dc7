/* SPDX-License-Identifier: MIT */
/* Reading a whole image and checking all of it (inspect, tests, fuzzing). */
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

/* The PAGES records of one process; leaves the next record in *record. */
static int read_pages_of(struct image_reader *reader, const struct image_process *image,
			 const struct page_visitor *visitor, struct image_record *record,
			 uint64_t *pages_seen)
{
	struct page_cursor cursor;
	int ret = 0;

	page_cursor_init(&cursor, image);
	while (ret == 0 && record->type == CKPT_RECORD_PAGES) {
		const struct ckpt_page_run *runs;
		const void *data;

		ret = page_cursor_accept(&cursor, record, &runs, &data, reader->err);
		if (ret == 0 && visitor->visit)
			ret = visitor->visit(visitor->arg, image, runs,
					     ((const struct ckpt_pages *)record->payload)->run_count,
					     data);
		if (ret == 0)
			ret = image_read_record(reader, record);
		if (ret == -ENODATA)
			return fail(reader->err, EINVAL,
				    "bad image: truncated: stream ends without a tail record");
	}
	if (ret == 0)
		ret = page_cursor_finish(&cursor, reader->err);
	*pages_seen += cursor.page_count;
	return ret;
}

static int check_end(struct image_reader *reader, const struct image_tree *tree,
		     struct image_record *record, size_t process_count, uint64_t pages_seen)
{
	size_t alive = 0;
	int ret;

	for (size_t i = 0; i < tree->entry_count; i++)
		alive += tree->entries[i].state == CKPT_TREE_ALIVE;
	if (process_count != alive)
		return fail(reader->err, EINVAL,
			    "bad image: %zu processes where the tree lists %zu alive",
			    process_count, alive);
	ret = image_check_tail(reader, record, pages_seen, reader->err);
	if (ret == 0 && image_read_record(reader, record) != -ENODATA)
		return fail(reader->err, EINVAL, "bad image: data after the tail record");
	return ret;
}

static int read_processes(struct image_reader *reader, struct image_tree *tree,
			  const struct page_visitor *visitor, struct image_record *record,
			  struct image_process **processes, size_t *count)
{
	uint64_t pages_seen = 0;

	while (record->type == CKPT_RECORD_PROCESS) {
		struct image_process *grown = realloc(*processes, (*count + 1) * sizeof(*grown));
		struct image_record first = *record;
		int ret;

		if (!grown)
			return fail(reader->err, ENOMEM, "out of memory");
		*processes = grown;
		ret = image_load_process(reader, tree, &first, &grown[*count], record);
		(*count)++;
		if (ret == 0)
			ret = read_pages_of(reader, &grown[*count - 1], visitor, record, &pages_seen);
		if (ret < 0)
			return ret;
	}
	if (record->type != CKPT_RECORD_TAIL)
		return fail(reader->err, EINVAL,
			    "bad image: %s record where PROCESS or TAIL was expected",
			    record_type_name(record->type));
	return check_end(reader, tree, record, *count, pages_seen);
}

int image_read_all(struct image_reader *reader, struct image_tree *tree,
		   struct image_process **ret_processes, size_t *ret_count)
{
	const struct page_visitor no_visitor = { 0 };

	return image_read_all_visiting(reader, tree, &no_visitor, ret_processes, ret_count);
}

int image_read_all_visiting(struct image_reader *reader, struct image_tree *tree,
			    const struct page_visitor *visitor,
			    struct image_process **ret_processes, size_t *ret_count)
{
	struct image_record record;
	struct image_process *processes = NULL;
	size_t count = 0;
	int ret = image_load_tree(reader, tree, &record);

	if (ret == 0)
		ret = read_processes(reader, tree, visitor, &record, &processes, &count);
	if (ret < 0) {
		image_free_all(tree, processes, count);
		return ret;
	}
	*ret_processes = processes;
	*ret_count = count;
	return 0;
}

void image_free_all(struct image_tree *tree, struct image_process *processes, size_t count)
{
	for (size_t i = 0; i < count; i++)
		image_process_free(&processes[i]);
	free(processes);
	image_tree_free(tree);
}
