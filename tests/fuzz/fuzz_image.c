/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the image reader.  Each input is an image stream,
 * read the way ckpt restart and ckpt inspect read one: image_load_metadata(),
 * every PAGES record through page_cursor_accept(), image_check_tail().
 *
 * Each input is read twice: as it is, and with every record's checksum, the
 * page data hashes and the tail's counts made right, so that mutations reach
 * the rules behind the checksums.  A crash, a leak, a sanitizer report, a
 * failure without a message or an accepted image that breaks the format's
 * invariants is a bug.
 *
 * Build and run: tests/fuzz/run.
 */
#include "../tools/image_builder.h"
#include "image/page_hash.h"
#include "image/records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int stream_fd = -1;

static void die(const char *what)
{
	fprintf(stderr, "fuzz_image: %s\n", what);
	abort();
}

/* Puts the input in a memfd, positioned at its start. */
static int load_stream(const unsigned char *data, size_t size)
{
	size_t done = 0;

	if (stream_fd < 0)
		stream_fd = memfd_create("fuzz-image", MFD_CLOEXEC);
	if (stream_fd < 0 || ftruncate(stream_fd, 0) < 0)
		die("cannot set up the memfd");
	while (done < size) {
		ssize_t wrote = pwrite(stream_fd, data + done, size - done, (off_t)done);

		if (wrote <= 0)
			die("cannot write the memfd");
		done += (size_t)wrote;
	}
	lseek(stream_fd, 0, SEEK_SET);
	return stream_fd;
}

/* ---- making checksums, hashes and the tail right ---- */

struct stream_totals {
	uint64_t records;
	uint64_t pages;
};

static void reseal_page_hash(unsigned char *payload, uint64_t length, struct stream_totals *totals)
{
	struct ckpt_pages pages;
	uint64_t runs_end;

	if (length < sizeof(pages))
		return;
	memcpy(&pages, payload, sizeof(pages));
	if (pages.run_count > CKPT_MAX_PAGE_RUNS || pages.page_count > CKPT_PAGES_PER_RECORD)
		return;
	runs_end = sizeof(pages) + pages.run_count * sizeof(struct ckpt_page_run);
	if (runs_end + pages.page_count * CKPT_PAGE_SIZE != length)
		return;
	pages.data_hash = page_hash(payload + runs_end, pages.page_count * CKPT_PAGE_SIZE);
	memcpy(payload, &pages, sizeof(pages));
	totals->pages += pages.page_count;
}

static void reseal_tail(unsigned char *payload, uint64_t length, uint64_t offset,
			const struct stream_totals *totals)
{
	struct ckpt_tail tail;

	if (length != sizeof(tail))
		return;
	memcpy(&tail, payload, sizeof(tail));
	tail.record_count = totals->records;
	tail.page_count = totals->pages;
	tail.stream_bytes = offset;
	memcpy(payload, &tail, sizeof(tail));
}

static void reseal_all(struct image_bytes *bytes)
{
	struct stream_totals totals = { 0, 0 };
	size_t at = 0;

	while (image_bytes_has_record_at(bytes, at)) {
		struct ckpt_record_header header = image_bytes_header(bytes, at);
		unsigned char *payload = image_bytes_payload(bytes, at);

		if (header.length > bytes->length - at - sizeof(header))
			return;
		if (header.type == CKPT_RECORD_PAGES)
			reseal_page_hash(payload, header.length, &totals);
		if (header.type == CKPT_RECORD_TAIL)
			reseal_tail(payload, header.length, at, &totals);
		image_bytes_reseal(bytes, at);
		totals.records++;
		at += sizeof(header) + header.length;
	}
}

/* ---- what an accepted image must hold ---- */

static void check_files_and_fds(const struct image_process *image)
{
	for (size_t i = 0; i < image->file_count; i++) {
		bool named_by_path = file_kind_has(image->files[i].file.kind, FILE_KIND_ON_DISK) ||
				     file_kind_has(image->files[i].file.kind, FILE_KIND_MAPPING_ONLY);

		if (image->files[i].file.id != i + 1 ||
		    (named_by_path && image->files[i].path[0] != '/'))
			die("accepted a FILE record out of sequence or with a relative path");
	}
	for (size_t i = 0; i < image->fd_count; i++) {
		if (i > 0 && image->fds[i].fd <= image->fds[i - 1].fd)
			die("accepted FD records out of order");
		if (image->fds[i].file_id != 0 && !image_find_file(image, image->fds[i].file_id))
			die("accepted an fd of a missing file");
	}
}

static void check_memory(const struct image_process *image)
{
	if (image->vma_count == 0)
		die("accepted an image without VMAs");
	for (size_t i = 0; i < image->vma_count; i++) {
		const struct ckpt_vma *vma = &image->vmas[i];

		if (vma->start >= vma->end || (i > 0 && vma->start < image->vmas[i - 1].end))
			die("accepted an empty, overlapping or unordered VMA");
		if (vma->page_count > 0 && !vma_holds_pages(vma))
			die("accepted pages in a VMA that cannot hold any");
	}
}

static void check_accepted(const struct image_process *image)
{
	if (image->thread_count != image->process.thread_count || image->thread_count == 0 ||
	    image->threads[0].thread.tid != image->process.pid)
		die("accepted an image whose threads do not match its process");
	if (image->cwd[0] != '/')
		die("accepted a relative cwd");
	check_files_and_fds(image);
	check_memory(image);
}

static void read_stream(const unsigned char *data, size_t size)
{
	struct ckpt_error err = { 0 };
	struct image_process image;
	struct image_pages_seen seen;
	int ret = read_whole_image(load_stream(data, size), &image, &seen, &err);

	if (ret < 0 && (!failed(&err) || err.message[0] == '\0'))
		die("a failure without a message");
	if (ret == 0)
		check_accepted(&image);
	image_process_free(&image);
}

/* The same stream read as a process tree, the way ckpt inspect reads it. */
static void read_stream_as_tree(const unsigned char *data, size_t size)
{
	struct ckpt_error err = { 0 };
	struct image_reader reader;
	struct image_tree tree;
	struct image_process *processes = NULL;
	size_t count = 0;
	int ret;

	image_reader_init(&reader, load_stream(data, size), &err);
	ret = image_read_all(&reader, &tree, &processes, &count);
	if (ret < 0 && (!failed(&err) || err.message[0] == '\0'))
		die("a failure without a message");
	if (ret == 0) {
		for (size_t i = 0; i < count; i++)
			check_accepted(&processes[i]);
		image_free_all(&tree, processes, count);
	}
	image_reader_free(&reader);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image_bytes resealed = { malloc(size + 1), size };

	read_stream(data, size);
	read_stream_as_tree(data, size);
	if (!resealed.data)
		die("out of memory");
	memcpy(resealed.data, data, size);
	reseal_all(&resealed);
	read_stream(resealed.data, resealed.length);
	read_stream_as_tree(resealed.data, resealed.length);
	image_bytes_release(&resealed);
	return 0;
}
