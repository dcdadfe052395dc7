/* SPDX-License-Identifier: MIT */
/*
 * Restart's page stream, in two threads: a reader thread reads each PAGES
 * record and checks it (VMA bounds, data hash) while the main thread copies
 * the previous one into the husk.  Two buffers take turns, so reading and
 * hashing overlap with the page faults of filling memory.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "objects/restore.h"
#include "util.h"

struct page_item {
	const struct ckpt_page_run *runs;
	const void *data;
	uint64_t run_count;
	uint64_t page_count;
};

struct page_stream {
	struct restore_context *ctx;
	struct page_cursor cursor;
	struct ckpt_error err;		/* the reader thread's own */
	unsigned char *spare;		/* the buffer the reader is not filling */
	size_t spare_size;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct page_item item;
	bool item_ready;		/* published, not yet copied by the main thread */
	bool finished;			/* the reader reached the tail or failed */
	bool stop;			/* the main thread gave up */
	int result;
};

static void swap_reader_buffer(struct page_stream *stream)
{
	struct image_reader *reader = &stream->ctx->reader;
	unsigned char *buffer = reader->buffer;
	size_t size = reader->buffer_size;

	reader->buffer = stream->spare;
	reader->buffer_size = stream->spare_size;
	stream->spare = buffer;
	stream->spare_size = size;
}

/* Waits until the slot is free, then hands the item over.  False: stop. */
static bool publish(struct page_stream *stream, const struct page_item *item)
{
	bool go_on;

	pthread_mutex_lock(&stream->lock);
	while (stream->item_ready && !stream->stop)
		pthread_cond_wait(&stream->changed, &stream->lock);
	go_on = !stream->stop;
	if (go_on) {
		stream->item = *item;
		stream->item_ready = true;
		pthread_cond_broadcast(&stream->changed);
	}
	pthread_mutex_unlock(&stream->lock);
	return go_on;
}

static void finish_stream(struct page_stream *stream, int result)
{
	pthread_mutex_lock(&stream->lock);
	stream->finished = true;
	stream->result = result;
	pthread_cond_broadcast(&stream->changed);
	pthread_mutex_unlock(&stream->lock);
}

static int accept_record(struct page_stream *stream, struct page_item *item)
{
	const struct image_record *record = &stream->ctx->next;
	const struct ckpt_pages *pages = record->payload;
	int ret = page_cursor_accept(&stream->cursor, record, &item->runs, &item->data, &stream->err);

	item->run_count = pages->run_count;
	item->page_count = pages->page_count;
	return ret;
}

static int read_next(struct page_stream *stream)
{
	int ret = image_read_record(&stream->ctx->reader, &stream->ctx->next);

	if (ret == -ENODATA)
		return fail(&stream->err, EINVAL, "bad image: truncated: stream ends without a tail record");
	return ret;
}

/* After a process's pages: the next process, or the tail of the stream. */
static int check_end(struct page_stream *stream)
{
	struct restore_context *ctx = stream->ctx;
	uint64_t all_pages = ctx->pages_before + stream->cursor.page_count;
	int ret = page_cursor_finish(&stream->cursor, &stream->err);

	if (ret < 0 || ctx->next.type == CKPT_RECORD_PROCESS)
		return ret;
	if (ctx->next.type != CKPT_RECORD_TAIL)
		return fail(&stream->err, EINVAL, "bad image: %s record among the pages",
			    record_type_name(ctx->next.type));
	return image_check_tail(&ctx->reader, &ctx->next, all_pages, &stream->err);
}

static void *reader_main(void *arg)
{
	struct page_stream *stream = arg;
	int ret = 0;

	stream->ctx->reader.err = &stream->err;
	while (ret == 0 && stream->ctx->next.type == CKPT_RECORD_PAGES) {
		struct page_item item;

		ret = accept_record(stream, &item);
		if (ret < 0)
			break;
		if (!publish(stream, &item))
			return NULL;
		swap_reader_buffer(stream);
		ret = read_next(stream);
	}
	if (ret == 0)
		ret = check_end(stream);
	finish_stream(stream, ret);
	return NULL;
}

/* Takes the next item; false when the reader finished instead. */
static bool take_item(struct page_stream *stream, struct page_item *ret_item)
{
	bool got;

	pthread_mutex_lock(&stream->lock);
	while (!stream->item_ready && !stream->finished)
		pthread_cond_wait(&stream->changed, &stream->lock);
	got = stream->item_ready;
	if (got)
		*ret_item = stream->item;
	pthread_mutex_unlock(&stream->lock);
	return got;
}

static void release_item(struct page_stream *stream, bool stop)
{
	pthread_mutex_lock(&stream->lock);
	stream->item_ready = false;
	stream->stop = stream->stop || stop;
	pthread_cond_broadcast(&stream->changed);
	pthread_mutex_unlock(&stream->lock);
}

static int write_item(struct restore_context *ctx, const struct page_item *item)
{
	struct iovec local = { readonly_buffer(item->data), item->page_count * CKPT_PAGE_SIZE };
	struct iovec remote[CKPT_MAX_PAGE_RUNS];
	ssize_t written;

	for (uint64_t i = 0; i < item->run_count; i++)
		remote[i] = (struct iovec){ (void *)(uintptr_t)item->runs[i].start,
					    item->runs[i].pages * CKPT_PAGE_SIZE };
	written = process_vm_writev(ctx->husk, &local, 1, remote, item->run_count, 0);
	if (written != (ssize_t)local.iov_len)
		return fail(ctx->err, written < 0 ? errno : EIO,
			    "writing pages at %#llx into the new process: %s",
			    (unsigned long long)item->runs[0].start,
			    written < 0 ? strerror(errno) : "short write");
	return 0;
}

/* The reader runs on the CPUs the main thread (pinned with the husk) does not. */
static void place_reader(struct restore_context *ctx, pthread_t reader)
{
	cpu_set_t others = ctx->saved_affinity;
	int cpu = sched_getcpu();

	if (!ctx->affinity_changed)
		return;
	if (cpu >= 0 && CPU_COUNT(&others) > 1)
		CPU_CLR(cpu, &others);
	pthread_setaffinity_np(reader, sizeof(others), &others);
}

static int copy_items(struct page_stream *stream)
{
	struct restore_context *ctx = stream->ctx;
	struct page_item item;
	int ret = 0;

	while (ret == 0 && take_item(stream, &item)) {
		ret = write_item(ctx, &item);
		release_item(stream, ret < 0);
		ctx->pages_restored += item.page_count;
		if (ret == 0 && ctx->options->progress)
			ctx->options->progress(ctx->options->progress_arg, ctx->reader.offset, 0);
	}
	return ret;
}

static int stop_reader(struct page_stream *stream, pthread_t reader, int ret)
{
	if (ret < 0) {
		release_item(stream, true);
		pthread_cancel(reader);	/* it may sit in read() on a stalled pipe */
	}
	pthread_join(reader, NULL);
	stream->ctx->reader.err = stream->ctx->err;
	if (ret == 0 && stream->result < 0)
		ret = fail(stream->ctx->err, stream->result, "%s", stream->err.message);
	return ret;
}

int fill_pages(struct restore_context *ctx)
{
	struct page_stream stream = {
		.ctx = ctx,
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.changed = PTHREAD_COND_INITIALIZER,
	};
	uint64_t started = monotonic_ns();
	pthread_t reader;
	int ret;

	page_cursor_init(&stream.cursor, &ctx->image);
	ret = pthread_create(&reader, NULL, reader_main, &stream);
	if (ret != 0)
		return fail(ctx->err, ret, "starting the page reader: %s", strerror(ret));
	place_reader(ctx, reader);
	ret = copy_items(&stream);
	ret = stop_reader(&stream, reader, ret);
	ctx->pages_before += stream.cursor.page_count;
	free(stream.spare);
	ctx->memory_ns += monotonic_ns() - started;
	return ret;
}
