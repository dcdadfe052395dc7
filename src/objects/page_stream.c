/* SPDX-License-Identifier: MIT */
/*
 * The image stream as the page sink of checkpoint and the page source of
 * restart (page_flow.h).
 *
 * The sink writes each chunk as one PAGES record.  The source runs in two
 * threads: a reader thread reads each PAGES record and checks it (VMA
 * bounds, data hash) while the main thread copies the previous one into
 * the husk.  Two buffers take turns, so reading and hashing overlap with
 * the page faults of filling memory.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "objects/page_flow.h"
#include "objects/restore.h"
#include "util.h"

/* ---- the sink: one PAGES record per chunk ---- */

struct stream_sink {
	struct page_sink base;
	struct image_writer *writer;
};

static int put_in_stream(struct page_sink *base, const struct page_chunk *chunk,
			 struct ckpt_error *err)
{
	struct stream_sink *sink = (struct stream_sink *)base;

	(void)err; /* the writer reports into its own, the same one */
	return image_write_pages(sink->writer, chunk->runs, chunk->run_count, chunk->data,
				 chunk->page_count);
}

static void close_stream_sink(struct page_sink *base)
{
	free(base);
}

static const struct page_sink_ops stream_sink_ops = {
	.put = put_in_stream,
	.close = close_stream_sink,
};

int open_stream_sink(struct image_writer *writer, struct ckpt_error *err, struct page_sink **ret_sink)
{
	struct stream_sink *sink = calloc(1, sizeof(*sink));

	if (!sink)
		return fail(err, ENOMEM, "out of memory");
	sink->base.ops = &stream_sink_ops;
	sink->writer = writer;
	*ret_sink = &sink->base;
	return 0;
}

/* ---- the source: a reader thread and the main thread ---- */

struct page_stream {
	struct page_source base;
	struct restore_context *ctx;
	struct page_cursor cursor;
	struct ckpt_error err; /* the reader thread's own */
	unsigned char *spare;  /* the buffer the reader is not filling */
	size_t spare_size;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct page_chunk item;
	bool item_ready; /* published, not yet copied by the main thread */
	bool finished;	 /* the reader reached the tail or failed */
	bool stop;	 /* the main thread gave up */
	int result;
	pthread_t reader;
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
static bool publish(struct page_stream *stream, const struct page_chunk *item)
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

static int accept_record(struct page_stream *stream, struct page_chunk *item)
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
		return fail(&stream->err, EINVAL,
			    "bad image: truncated: stream ends without a tail record");
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
		struct page_chunk item;

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

/* The next chunk: 1, or 0 when the reader finished instead. */
static int take_item(struct page_source *base, struct page_chunk *ret_chunk)
{
	struct page_stream *stream = (struct page_stream *)base;
	bool got;

	pthread_mutex_lock(&stream->lock);
	while (!stream->item_ready && !stream->finished)
		pthread_cond_wait(&stream->changed, &stream->lock);
	got = stream->item_ready;
	if (got)
		*ret_chunk = stream->item;
	pthread_mutex_unlock(&stream->lock);
	return got;
}

static void return_item(struct page_stream *stream, bool stop)
{
	pthread_mutex_lock(&stream->lock);
	stream->item_ready = false;
	stream->stop = stream->stop || stop;
	pthread_cond_broadcast(&stream->changed);
	pthread_mutex_unlock(&stream->lock);
}

static void finish_item(struct page_source *base, bool failed)
{
	return_item((struct page_stream *)base, failed);
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

static int stop_reader(struct page_stream *stream, pthread_t reader, int ret, struct ckpt_error *err)
{
	if (ret < 0) {
		return_item(stream, true);
		pthread_cancel(reader); /* it may sit in read() on a stalled pipe */
	}
	pthread_join(reader, NULL);
	stream->ctx->reader.err = stream->ctx->err;
	if (ret == 0 && stream->result < 0)
		ret = fail(err, stream->result, "%s", stream->err.message);
	return ret;
}

static int close_stream_source(struct page_source *base, int ret, struct ckpt_error *err)
{
	struct page_stream *stream = (struct page_stream *)base;

	ret = stop_reader(stream, stream->reader, ret, err);
	stream->ctx->pages_before += stream->cursor.page_count;
	free(stream->spare);
	free(stream);
	return ret;
}

static const struct page_source_ops stream_source_ops = {
	.next = take_item,
	.done = finish_item,
	.close = close_stream_source,
};

int open_stream_source(struct restore_context *ctx, struct page_source **ret_source)
{
	struct page_stream *stream = malloc(sizeof(*stream));
	int ret;

	if (!stream)
		return fail(ctx->err, ENOMEM, "out of memory");
	*stream = (struct page_stream){
		.base = { .ops = &stream_source_ops },
		.ctx = ctx,
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.changed = PTHREAD_COND_INITIALIZER,
	};
	page_cursor_init(&stream->cursor, &ctx->image);
	ret = pthread_create(&stream->reader, NULL, reader_main, stream);
	if (ret != 0) {
		free(stream);
		return fail(ctx->err, ret, "starting the page reader: %s", strerror(ret));
	}
	place_reader(ctx, stream->reader);
	*ret_source = &stream->base;
	return 0;
}
