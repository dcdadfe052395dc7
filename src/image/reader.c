/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/crc32c.h"
#include "image/image.h"
#include "image/records.h"

void image_reader_init(struct image_reader *reader, int fd, struct ckpt_error *err)
{
	memset(reader, 0, sizeof(*reader));
	reader->fd = fd;
	reader->err = err;
}

void image_reader_release(struct image_reader *reader)
{
	free(reader->buffer);
	reader->buffer = NULL;
	reader->buffer_size = 0;
}

/* 0 once fd has data (or is a file, which is always ready), -ETIMEDOUT, or -errno. */
static int wait_for_data(int fd, int timeout_ms)
{
	struct pollfd waiting = { .fd = fd, .events = POLLIN };
	int ready;

	if (timeout_ms <= 0)
		return 0;
	do {
		ready = poll(&waiting, 1, timeout_ms);
	} while (ready < 0 && errno == EINTR);
	if (ready < 0)
		return -errno;
	return ready == 0 ? -ETIMEDOUT : 0;
}

/*
 * Returns bytes read (less than length only at end of stream) or -errno;
 * -ETIMEDOUT when the stream brings nothing for timeout_ms (when > 0).
 */
static ssize_t read_fully(int fd, void *buffer, size_t length, int timeout_ms)
{
	size_t done = 0;

	while (done < length) {
		int ret = wait_for_data(fd, timeout_ms);
		ssize_t got = ret < 0 ? ret : read(fd, (char *)buffer + done, length - done);

		if (ret < 0)
			return ret;

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			break;
		done += (size_t)got;
	}
	return (ssize_t)done;
}

static int read_failure(struct image_reader *reader, ssize_t error)
{
	if (error == -ETIMEDOUT)
		return fail(reader->err, ETIMEDOUT,
			    "reading the image: nothing came for %d s: the stream stalled",
			    reader->stall_timeout_ms / 1000);
	return fail(reader->err, (int)error, "reading the image: %s", strerror((int)-error));
}

static int check_header(struct image_reader *reader, const struct ckpt_record_header *header,
			uint64_t at)
{
	const struct record_type_info *info = find_record_type(header->type);

	if (!info)
		return fail(reader->err, EINVAL, "bad image: unknown record type %u at byte %llu",
			    header->type, (unsigned long long)at);
	if (header->flags != 0 || header->reserved != 0)
		return fail(reader->err, EINVAL, "bad image: %s record at byte %llu has unknown flags",
			    record_type_name(header->type), (unsigned long long)at);
	if (header->length > record_length_limit(info))
		return fail(reader->err, EINVAL,
			    "bad image: %s record at byte %llu claims %llu bytes (limit %llu)",
			    record_type_name(header->type), (unsigned long long)at,
			    (unsigned long long)header->length,
			    (unsigned long long)record_length_limit(info));
	return 0;
}

static int grow_buffer(struct image_reader *reader, size_t length)
{
	unsigned char *bigger;

	if (length <= reader->buffer_size)
		return 0;
	bigger = realloc(reader->buffer, length);
	if (!bigger)
		return fail(reader->err, ENOMEM, "reading the image: out of memory");
	reader->buffer = bigger;
	reader->buffer_size = length;
	return 0;
}

/* Bytes of the payload covered by the record checksum. */
static uint64_t checked_length(const struct ckpt_record_header *header, const void *payload)
{
	const struct ckpt_pages *pages = payload;
	uint64_t covered;

	if (header->type != CKPT_RECORD_PAGES || header->length < sizeof(*pages))
		return header->length;
	if (pages->run_count > CKPT_MAX_PAGE_RUNS)
		return header->length;
	covered = sizeof(*pages) + pages->run_count * sizeof(struct ckpt_page_run);
	return covered < header->length ? covered : header->length;
}

static int read_payload(struct image_reader *reader, const struct ckpt_record_header *header,
			uint64_t at)
{
	ssize_t got;
	int ret = grow_buffer(reader, header->length ? header->length : 1);

	if (ret < 0)
		return ret;
	got = read_fully(reader->fd, reader->buffer, header->length, reader->stall_timeout_ms);
	if (got < 0)
		return read_failure(reader, got);
	reader->offset += (uint64_t)got;
	if ((uint64_t)got < header->length)
		return fail(reader->err, EINVAL,
			    "bad image: truncated: %s record at byte %llu ends early (%lld of %llu bytes)",
			    record_type_name(header->type), (unsigned long long)at, (long long)got,
			    (unsigned long long)header->length);
	return 0;
}

static int read_header(struct image_reader *reader, struct ckpt_record_header *header)
{
	ssize_t got = read_fully(reader->fd, header, sizeof(*header), reader->stall_timeout_ms);

	if (got < 0)
		return read_failure(reader, got);
	reader->offset += (uint64_t)got;
	if (got == 0)
		return -ENODATA;
	if ((size_t)got < sizeof(*header))
		return fail(reader->err, EINVAL,
			    "bad image: truncated: record header at byte %llu ends early",
			    (unsigned long long)(reader->offset - (uint64_t)got));
	return 0;
}

int image_read_record(struct image_reader *reader, struct image_record *ret_record)
{
	struct ckpt_record_header header;
	uint64_t at = reader->offset;
	uint32_t crc;
	int ret;

	ret = read_header(reader, &header);
	if (ret < 0)
		return ret;
	ret = check_header(reader, &header, at);
	if (ret < 0)
		return ret;
	ret = read_payload(reader, &header, at);
	if (ret < 0)
		return ret;
	crc = crc32c_update(0, &header, 16);
	crc = crc32c_update(crc, reader->buffer, checked_length(&header, reader->buffer));
	if (crc != header.checksum)
		return fail(reader->err, EINVAL, "bad image: checksum mismatch in %s record at byte %llu",
			    record_type_name(header.type), (unsigned long long)at);
	ret = validate_record(header.type, reader->buffer, header.length, reader->err);
	if (ret < 0)
		return ret;
	reader->record_count++;
	if (header.type == CKPT_RECORD_PAGES)
		reader->page_count += ((const struct ckpt_pages *)reader->buffer)->page_count;
	*ret_record = (struct image_record){
		.type = header.type,
		.offset = at,
		.payload = reader->buffer,
		.length = header.length,
	};
	return 0;
}
