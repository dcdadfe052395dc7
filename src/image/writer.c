/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "image/crc32c.h"
#include "image/image.h"
#include "image/page_hash.h"
#include "util.h"

enum { MAX_PARTS = 8 };

void image_writer_init(struct image_writer *writer, int fd, struct ckpt_error *err)
{
	memset(writer, 0, sizeof(*writer));
	writer->fd = fd;
	writer->err = err;
}

static void skip_written(struct iovec **parts, int *count, size_t written)
{
	while (*count > 0 && written >= (*parts)->iov_len) {
		written -= (*parts)->iov_len;
		(*parts)++;
		(*count)--;
	}
	if (*count > 0) {
		(*parts)->iov_base = (char *)(*parts)->iov_base + written;
		(*parts)->iov_len -= written;
	}
}

static int write_all(struct image_writer *writer, struct iovec *parts, int count)
{
	while (count > 0) {
		ssize_t written;

		if (writer->interrupt && *writer->interrupt)
			return fail(writer->err, EINTR, "interrupted by signal %d (%s)", *writer->interrupt,
				    strsignal(*writer->interrupt));
		written = writev(writer->fd, parts, count);
		if (written < 0 && errno == EINTR)
			continue;
		if (written < 0)
			return fail(writer->err, errno, "writing the image: %s", strerror(errno));
		if (written == 0)
			return fail(writer->err, EIO, "writing the image: nothing written");
		writer->stream_bytes += (uint64_t)written;
		skip_written(&parts, &count, (size_t)written);
	}
	return 0;
}

static uint32_t record_checksum(const struct ckpt_record_header *header,
				const struct iovec *parts, int part_count)
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

int image_write_simple(struct image_writer *writer, enum ckpt_record_type type,
		       const void *payload, size_t length)
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

	return image_write_simple(writer, CKPT_RECORD_TAIL, &tail, sizeof(tail));
}
