/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image/crc32c.h"
#include "image/image.h"
#include "image/records.h"

void image_reader_init_transport(struct image_reader *reader, struct image_transport *transport,
				 struct ckpt_error *err)
{
	memset(reader, 0, sizeof(*reader));
	reader->transport = transport;
	reader->fd = -1;
	reader->err = err;
}

void image_reader_init(struct image_reader *reader, int fd, struct ckpt_error *err)
{
	image_reader_init_transport(reader, NULL, err);
	fd_transport_init(&reader->fd_transport, fd);
	reader->transport = &reader->fd_transport.base;
	reader->fd = fd;
}

void image_reader_free(struct image_reader *reader)
{
	free(reader->buffer);
	reader->buffer = NULL;
	reader->buffer_size = 0;
	transport_close(reader->transport);
	reader->transport = NULL;
}

/* Bytes read (fewer than length only at the end of the stream) or -errno. */
static ssize_t read_exactly(struct image_reader *reader, void *buffer, size_t length)
{
	return transport_read(reader->transport, buffer, length, reader->stall_timeout_ms,
			      reader->err);
}

static int check_header(struct image_reader *reader, const struct ckpt_record_header *header,
			uint64_t at)
{
	const struct record_type_info *info = find_record_type(header->type);

	if (!info)
		return fail(reader->err, EINVAL, "bad image: unknown record type %u at byte %llu",
			    header->type, (unsigned long long)at);
	if (header->flags != 0 || header->reserved != 0)
		return fail(reader->err, EINVAL,
			    "bad image: %s record at byte %llu has unknown flags",
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
	got = read_exactly(reader, reader->buffer, header->length);
	if (got < 0)
		return (int)got;
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
	ssize_t got = read_exactly(reader, header, sizeof(*header));

	if (got < 0)
		return (int)got;
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
		return fail(reader->err, EINVAL,
			    "bad image: checksum mismatch in %s record at byte %llu",
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
