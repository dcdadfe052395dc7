/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of src/image/transport.c and the writer and reader on top of
 * it: a whole image written through a fake transport in memory is the same
 * bytes as through an fd, and reads back; the transport is flushed at the
 * tail and closed with the reader; a stream cut inside a record is named
 * truncated; the fd transport reads whole records from a pipe that brings
 * five bytes at a time; a stalled pipe (before a record, and inside one)
 * fails after the stall timeout with its message; a write to a pipe nobody
 * reads fails with a message.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../tools/image_builder.h"
#include "../tools/unit_check.h"
#include "image/image.h"
#include "image/transport.h"

/* ---- a transport in memory ---- */

struct memory_transport {
	struct image_transport base;
	unsigned char *data;
	size_t length;
	size_t read_at;
	unsigned flushes;
	bool *closed; /* set on close */
};

static int write_memory(struct image_transport *base, struct iovec *parts, int count,
			struct ckpt_error *err)
{
	struct memory_transport *transport = (struct memory_transport *)base;

	for (int i = 0; i < count; i++) {
		unsigned char *grown =
			realloc(transport->data, transport->length + parts[i].iov_len + 1);

		if (!grown)
			return fail(err, ENOMEM, "out of memory");
		transport->data = grown;
		memcpy(grown + transport->length, parts[i].iov_base, parts[i].iov_len);
		transport->length += parts[i].iov_len;
	}
	return 0;
}

static ssize_t read_memory(struct image_transport *base, void *buffer, size_t length,
			   int stall_timeout_ms, struct ckpt_error *err)
{
	struct memory_transport *transport = (struct memory_transport *)base;
	size_t left = transport->length - transport->read_at;
	size_t take = length < left ? length : left;

	(void)stall_timeout_ms;
	(void)err;
	memcpy(buffer, transport->data + transport->read_at, take);
	transport->read_at += take;
	return (ssize_t)take;
}

static int flush_memory(struct image_transport *base, struct ckpt_error *err)
{
	(void)err;
	((struct memory_transport *)base)->flushes++;
	return 0;
}

static void close_memory(struct image_transport *base)
{
	struct memory_transport *transport = (struct memory_transport *)base;

	*transport->closed = true;
	free(transport->data);
	free(transport);
}

static const struct image_transport_ops memory_ops = {
	.write = write_memory,
	.read = read_memory,
	.flush = flush_memory,
	.close = close_memory,
};

static struct memory_transport *new_memory_transport(bool *closed)
{
	struct memory_transport *transport = calloc(1, sizeof(*transport));

	if (!transport)
		abort();
	transport->base.ops = &memory_ops;
	transport->closed = closed;
	*closed = false;
	return transport;
}

static struct memory_transport *memory_holding(const unsigned char *data, size_t length, bool *closed)
{
	struct memory_transport *transport = new_memory_transport(closed);

	transport->data = malloc(length + 1);
	if (!transport->data)
		abort();
	memcpy(transport->data, data, length);
	transport->length = length;
	return transport;
}

/* The sample image, written through `writer`. */
static int write_sample(struct image_writer *writer)
{
	static struct image_spec spec;
	int ret;

	spec_init_valid(&spec, 4242);
	ret = spec_write_head_tree_files(&spec, writer);
	if (ret == 0)
		ret = spec_write_head_to_signals(&spec, writer);
	if (ret == 0)
		ret = spec_write_files_fds_mm(&spec, writer);
	if (ret == 0)
		ret = spec_write_memory(&spec, writer);
	if (ret == 0)
		ret = image_write_tail(writer);
	return ret;
}

/* The sample image as written through an fd (a memfd). */
static void sample_through_fd(struct image_bytes *ret_bytes)
{
	struct ckpt_error err = { 0 };
	struct image_writer writer;
	int fd = memfd_create("sample", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	image_writer_init(&writer, fd, &err);
	check(write_sample(&writer) == 0, "writing the sample through an fd: %s", err.message);
	image_writer_close(&writer);
	check(lseek(fd, 0, SEEK_SET) == 0 && image_bytes_from_fd(fd, ret_bytes, &err) == 0,
	      "reading the sample back: %s", err.message);
	close(fd);
}

/* Reads a whole stream through transport; returns what image_read_all did. */
static int read_through(struct image_transport *transport, struct ckpt_error *err, size_t *count)
{
	struct image_reader reader;
	struct image_tree tree;
	struct image_process *processes = NULL;
	int ret;

	image_reader_init_transport(&reader, transport, err);
	ret = image_read_all(&reader, &tree, &processes, count);
	if (ret == 0)
		image_free_all(&tree, processes, *count);
	image_reader_free(&reader);
	return ret;
}

static void test_round_trip(void)
{
	struct ckpt_error err = { 0 };
	struct image_bytes through_fd = { 0 };
	bool written_closed, read_closed;
	struct memory_transport *out = new_memory_transport(&written_closed);
	struct memory_transport *in;
	struct image_writer writer;
	size_t count = 0;

	sample_through_fd(&through_fd);
	image_writer_init_transport(&writer, &out->base, &err);
	check(write_sample(&writer) == 0, "writing the sample through memory: %s", err.message);
	check(out->flushes == 1, "the tail flushes the transport once (%u)", out->flushes);
	check(out->length == through_fd.length && out->length == writer.stream_bytes &&
		      memcmp(out->data, through_fd.data, out->length) == 0,
	      "memory and fd transports carry the same %zu bytes (%zu, counted %llu)",
	      through_fd.length, out->length, (unsigned long long)writer.stream_bytes);
	in = memory_holding(out->data, out->length, &read_closed);
	image_writer_close(&writer);
	check(written_closed, "closing the writer closes its transport");
	check(read_through(&in->base, &err, &count) == 0 && count == 1,
	      "the sample reads back through memory: %s", err.message);
	check(read_closed, "releasing the reader closes its transport");
	image_bytes_release(&through_fd);
}

static void test_truncated(void)
{
	struct image_bytes bytes = { 0 };
	bool closed;
	size_t count = 0;

	sample_through_fd(&bytes);
	for (size_t cut = 8; cut < bytes.length; cut += bytes.length / 7) {
		struct ckpt_error err = { 0 };
		struct memory_transport *in = memory_holding(bytes.data, cut, &closed);
		int ret = read_through(&in->base, &err, &count);

		check(ret == -EINVAL && strstr(err.message, "truncated"),
		      "a stream cut at byte %zu of %zu is named truncated (%d: %s)", cut,
		      bytes.length, ret, err.message);
	}
	image_bytes_release(&bytes);
}

/* ---- the fd transport on pipes ---- */

struct dribble {
	int fd;
	const unsigned char *data;
	size_t length;
};

/* Writes five bytes at a time, each time waiting until the reader took them. */
static void *dribble_main(void *arg)
{
	struct dribble *dribble = arg;

	for (size_t at = 0; at < dribble->length; at += 5) {
		size_t piece = dribble->length - at < 5 ? dribble->length - at : 5;
		int waiting = 1;

		if (write(dribble->fd, dribble->data + at, piece) != (ssize_t)piece)
			break;
		while (waiting > 0 && ioctl(dribble->fd, FIONREAD, &waiting) == 0)
			sched_yield();
	}
	close(dribble->fd);
	return NULL;
}

static void test_short_reads(void)
{
	struct ckpt_error err = { 0 };
	struct image_bytes bytes = { 0 };
	struct image_reader reader;
	struct image_tree tree;
	struct image_process *processes = NULL;
	struct dribble dribble;
	pthread_t writer;
	size_t count = 0;
	int pipe_fds[2], ret;

	sample_through_fd(&bytes);
	if (pipe2(pipe_fds, O_CLOEXEC) != 0)
		abort();
	dribble = (struct dribble){ pipe_fds[1], bytes.data, bytes.length };
	if (pthread_create(&writer, NULL, dribble_main, &dribble) != 0)
		abort();
	image_reader_init(&reader, pipe_fds[0], &err);
	reader.stall_timeout_ms = 60000;
	ret = image_read_all(&reader, &tree, &processes, &count);
	check(ret == 0 && count == 1, "the sample reads back five bytes at a time: %s", err.message);
	check(reader.offset == bytes.length, "every byte was read (%llu of %zu)",
	      (unsigned long long)reader.offset, bytes.length);
	if (ret == 0)
		image_free_all(&tree, processes, count);
	image_reader_free(&reader);
	pthread_join(writer, NULL);
	close(pipe_fds[0]);
	image_bytes_release(&bytes);
}

/* A pipe that brings `length` bytes of data and then nothing, its writer kept open. */
static void check_stall(const unsigned char *data, size_t length, const char *where)
{
	struct ckpt_error err = { 0 };
	struct image_reader reader;
	struct image_record record;
	int pipe_fds[2], ret;

	if (pipe2(pipe_fds, O_CLOEXEC) != 0 || write(pipe_fds[1], data, length) != (ssize_t)length)
		abort();
	image_reader_init(&reader, pipe_fds[0], &err);
	reader.stall_timeout_ms = 1000;
	ret = image_read_record(&reader, &record);
	check(ret == -ETIMEDOUT &&
		      strcmp(err.message,
			     "reading the image: nothing came for 1 s: the stream stalled") == 0,
	      "a pipe stalled %s fails after the timeout (%d: %s)", where, ret, err.message);
	image_reader_free(&reader);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
}

static void test_stalls(void)
{
	struct image_bytes bytes = { 0 };

	sample_through_fd(&bytes);
	check_stall(bytes.data, 0, "before a record");
	check_stall(bytes.data, 20, "inside a record");
	image_bytes_release(&bytes);
}

static void test_write_failure(void)
{
	struct ckpt_error err = { 0 };
	struct image_writer writer;
	int pipe_fds[2], ret;

	if (pipe2(pipe_fds, O_CLOEXEC) != 0)
		abort();
	close(pipe_fds[0]);
	image_writer_init(&writer, pipe_fds[1], &err);
	ret = image_write_simple(&writer, CKPT_RECORD_TAIL, "12345678", 8);
	check(ret == -EPIPE && strcmp(err.message, "writing the image: Broken pipe") == 0,
	      "a write nobody reads fails with its reason (%d: %s)", ret, err.message);
	check(writer.stream_bytes == 0, "nothing counts as written (%llu)",
	      (unsigned long long)writer.stream_bytes);
	image_writer_close(&writer);
	close(pipe_fds[1]);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_round_trip();
	test_truncated();
	test_short_reads();
	test_stalls();
	test_write_failure();
	return finish_checks("test_transport");
}
