/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "image/crc32c.h"
#include "image/image.h"
#include "image/page_hash.h"
#include "util.h"

enum {
	MAX_PARTS = 8
};

void image_writer_init_transport(struct image_writer *writer, struct image_transport *transport,
				 struct ckpt_error *err)
{
	memset(writer, 0, sizeof(*writer));
	writer->transport = transport;
	writer->err = err;
}

void image_writer_init(struct image_writer *writer, int fd, struct ckpt_error *err)
{
	image_writer_init_transport(writer, NULL, err);
	fd_transport_init(&writer->fd_transport, fd);
	writer->transport = &writer->fd_transport.base;
}

void image_writer_close(struct image_writer *writer)
{
	transport_close(writer->transport);
	writer->transport = NULL;
}

static int write_all(struct image_writer *writer, struct iovec *parts, int count)
{
	uint64_t length = 0;
	int ret;

	if (writer->interrupt && *writer->interrupt)
		return fail(writer->err, EINTR, "interrupted by signal %d (%s)", *writer->interrupt,
			    strsignal(*writer->interrupt));
	for (int i = 0; i < count; i++)
		length += parts[i].iov_len;
	ret = transport_write(writer->transport, parts, count, writer->err);
	if (ret == 0)
		writer->stream_bytes += length;
	return ret;
}

static uint32_t record_checksum(const struct ckpt_record_header *header, const struct iovec *parts,
				int part_count)
{
	uint32_t crc = crc32c_update(0, header, 16);

	for (int i = 0; i < part_count; i++)
		crc = crc32c_update(crc, parts[i].iov_base, parts[i].iov_len);
	return crc;
}

/* Writes header + checked parts + unchecked tail (page data) in one go. */
static int write_framed(struct image_writer *writer, enum ckpt_record_type type,
			const struct iovec *parts, int part_count, const struct iovec *unchecked)
{
	struct ckpt_record_header header = { .type = type };
	struct iovec vector[MAX_PARTS + 2];
	int count = 0;

	if (part_count > MAX_PARTS)
		return fail(writer->err, EINVAL, "internal: too many record parts");
	vector[count++] = (struct iovec){ &header, sizeof(header) };
	for (int i = 0; i < part_count; i++) {
		header.length += parts[i].iov_len;
		vector[count++] = parts[i];
	}
	if (unchecked) {
		header.length += unchecked->iov_len;
		vector[count++] = *unchecked;
	}
	header.checksum = record_checksum(&header, parts, part_count);
	writer->record_count++;
	return write_all(writer, vector, count);
}

int image_write_record(struct image_writer *writer, enum ckpt_record_type type,
		       const struct iovec *parts, int part_count)
{
	return write_framed(writer, type, parts, part_count, NULL);
}

int image_write_simple(struct image_writer *writer, enum ckpt_record_type type, const void *payload,
		       size_t length)
{
	struct iovec part = { readonly_buffer(payload), length };

	return write_framed(writer, type, &part, 1, NULL);
}

int image_write_pages(struct image_writer *writer, const struct ckpt_page_run *runs,
		      uint64_t run_count, const void *data, uint64_t page_count)
{
	size_t data_bytes = page_count * CKPT_PAGE_SIZE;
	struct ckpt_pages pages = {
		.run_count = run_count,
		.page_count = page_count,
		.data_hash = page_hash(data, data_bytes),
	};
	struct iovec parts[2] = {
		{ &pages, sizeof(pages) },
		{ readonly_buffer(runs), run_count * sizeof(*runs) },
	};
	struct iovec page_data = { readonly_buffer(data), data_bytes };

	writer->page_count += page_count;
	return write_framed(writer, CKPT_RECORD_PAGES, parts, 2, &page_data);
}

int image_write_tail(struct image_writer *writer)
{
	struct ckpt_tail tail = {
		.magic = CKPT_TAIL_MAGIC,
		.record_count = writer->record_count,
		.page_count = writer->page_count,
		.stream_bytes = writer->stream_bytes,
	};
	int ret = image_write_simple(writer, CKPT_RECORD_TAIL, &tail, sizeof(tail));

	if (ret == 0)
		ret = transport_flush(writer->transport, writer->err);
	return ret;
}
