/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the image codec: CRC32C, page_hash, a complete round trip
 * through the writer and reader, and one broken image per validation rule
 * of validate.c, load.c and pages.c, each expected to fail with a message
 * that names the problem.  Prints one line per failed check; exit 0 when
 * all pass.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "../tools/image_builder.h"
#include "image/page_hash.h"

static unsigned checks_run;
static unsigned checks_failed;

__attribute__((format(printf, 2, 3))) static void check(bool ok, const char *format, ...)
{
	va_list args;

	checks_run++;
	if (ok)
		return;
	checks_failed++;
	fputs("FAIL: ", stdout);
	va_start(args, format);
	vprintf(format, args);
	va_end(args);
	putchar('\n');
}

/* xorshift64*: deterministic random data, so failures reproduce. */
static uint64_t random_state = 0x2545f4914f6cdd1dull;

static uint64_t next_random(void)
{
	random_state ^= random_state >> 12;
	random_state ^= random_state << 25;
	random_state ^= random_state >> 27;
	return random_state * 0x2545f4914f6cdd1dull;
}

static void fill_random(unsigned char *buffer, size_t length)
{
	for (size_t i = 0; i < length; i++)
		buffer[i] = (unsigned char)(next_random() >> 56);
}

static unsigned char *random_buffer(size_t length)
{
	unsigned char *buffer = malloc(length + 64);

	if (!buffer)
		abort();
	fill_random(buffer, length + 64);
	return buffer;
}

/* ---- CRC32C ---- */

static uint32_t reference_crc32c(const unsigned char *bytes, size_t length)
{
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < length; i++) {
		crc ^= bytes[i];
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return ~crc;
}

static void check_crc_vector(const char *name, const void *data, size_t length, uint32_t expected)
{
	uint32_t crc = crc32c_update(0, data, length);

	check(crc == expected, "crc32c(%s) = %#010x, expected %#010x", name, crc, expected);
}

/* RFC 3720 (iSCSI) B.4 and the common check value. */
static void test_crc32c_vectors(void)
{
	unsigned char zeros[32] = { 0 }, ones[32], ascending[32], descending[32];

	memset(ones, 0xff, sizeof(ones));
	for (int i = 0; i < 32; i++) {
		ascending[i] = (unsigned char)i;
		descending[i] = (unsigned char)(31 - i);
	}
	check_crc_vector("\"123456789\"", "123456789", 9, 0xe3069283u);
	check_crc_vector("empty", "", 0, 0);
	check_crc_vector("32 zero bytes", zeros, 32, 0x8a9136aau);
	check_crc_vector("32 0xff bytes", ones, 32, 0x62a8ab43u);
	check_crc_vector("0..31", ascending, 32, 0x46dd794eu);
	check_crc_vector("31..0", descending, 32, 0x113fdb5cu);
}

/* One buffer at every alignment 0-7 against the bitwise reference. */
static void check_crc_against_reference(const unsigned char *buffer, size_t length)
{
	for (size_t shift = 0; shift < 8; shift++) {
		uint32_t expected = reference_crc32c(buffer + shift, length);
		uint32_t crc = crc32c_update(0, buffer + shift, length);

		check(crc == expected,
		      "crc32c of %zu random bytes at alignment %zu: %#010x, reference %#010x",
		      length, shift, crc, expected);
	}
}

/* Lengths around the three-stripe fast path (3 x 8 KiB) and its multiples. */
static const size_t crc_edge_lengths[] = {
	24575,
	24576,
	24577,
	24583,
	24584,
	49151,
	49152,
	49153,
	49159,
	73728,
	73735,
	98304 + 13,
	3 * 24576 + 4095,
	200000,
};

static void test_crc32c_against_reference(void)
{
	unsigned char *buffer = random_buffer(200000 + 8);

	for (size_t length = 0; length <= 300; length++)
		check_crc_against_reference(buffer, length);
	for (size_t i = 0; i < ARRAY_SIZE(crc_edge_lengths); i++)
		check_crc_against_reference(buffer, crc_edge_lengths[i]);
	for (int i = 0; i < 40; i++)
		check_crc_against_reference(buffer, (size_t)(next_random() % 200000));
	free(buffer);
}

/* The CRC fed in random pieces equals the CRC fed at once. */
static uint32_t crc_in_pieces(const unsigned char *buffer, size_t length)
{
	uint32_t crc = 0;
	size_t done = 0;

	while (done < length) {
		size_t piece = (size_t)(next_random() % (length - done + 1));

		if (next_random() % 4 == 0)
			piece = piece % 9; /* tiny pieces too */
		crc = crc32c_update(crc, buffer + done, piece);
		done += piece;
	}
	return crc;
}

static void test_crc32c_piecewise(void)
{
	size_t max_length = 4 * 24576 + 100;
	unsigned char *buffer = random_buffer(max_length);

	for (int round = 0; round < 300; round++) {
		size_t length = round < 100 ? (size_t)round * 7
					    : (size_t)(next_random() % max_length);
		uint32_t whole = crc32c_update(0, buffer, length);
		uint32_t pieces = crc_in_pieces(buffer, length);

		check(whole == pieces, "crc32c of %zu bytes: one-shot %#010x, piecewise %#010x",
		      length, whole, pieces);
	}
	for (size_t i = 0; i < ARRAY_SIZE(crc_edge_lengths); i++) {
		size_t length = crc_edge_lengths[i] < max_length ? crc_edge_lengths[i] : max_length;

		check(crc32c_update(0, buffer, length) == crc_in_pieces(buffer, length),
		      "crc32c of %zu bytes: one-shot and piecewise differ", length);
	}
	free(buffer);
}

/* ---- page_hash ---- */

/* The algorithm page_hash.c describes, written plainly: the scalar truth
 * that its vectorised path must match. */
static const uint64_t reference_key[8] = {
	0xbe4ba423396cfeb8ull, 0x1cad21f72c81017cull, 0xdb979083e96dd4deull, 0x1f67b3b7a4a44072ull,
	0x78e5c0cc4ee679cbull, 0x2172ffcc7dd05a82ull, 0x8e2443f7744608b8ull, 0x4c263a81e69035e0ull,
};

static void reference_stripe(uint64_t lanes[8], const unsigned char *stripe)
{
	for (int i = 0; i < 8; i++) {
		uint64_t word, keyed;

		memcpy(&word, stripe + 8 * i, 8);
		keyed = word ^ reference_key[i];
		lanes[i ^ 1] += word;
		lanes[i] += (keyed & 0xffffffffu) * (keyed >> 32);
	}
}

static uint64_t reference_fold(const uint64_t lanes[8], size_t length)
{
	uint64_t hash = length * 0x9e3779b185ebca87ull;

	for (int i = 0; i < 8; i += 2) {
		__uint128_t product = (__uint128_t)(lanes[i] ^ reference_key[i]) *
				      (lanes[i + 1] ^ reference_key[i + 1]);

		hash += (uint64_t)product ^ (uint64_t)(product >> 64);
	}
	hash ^= hash >> 37;
	hash *= 0xc2b2ae3d27d4eb4full;
	return hash ^ (hash >> 32);
}

static uint64_t reference_page_hash(const unsigned char *bytes, size_t length)
{
	uint64_t lanes[8] = {
		0x9e3779b1u, 0x9e3779b185ebca87ull, 0xc2b2ae3d27d4eb4full, 1, 2, 3, 4, 5
	};

	for (size_t stripe = 0; stripe < length / 64; stripe++) {
		reference_stripe(lanes, bytes + 64 * stripe);
		if (stripe % 16 != 15)
			continue;
		for (int i = 0; i < 8; i++)
			lanes[i] = (lanes[i] ^ (lanes[i] >> 47) ^ reference_key[i]) * 0x9e3779b1u;
	}
	return reference_fold(lanes, length);
}

static void test_page_hash_stable(void)
{
	size_t length = 16 * CKPT_PAGE_SIZE;
	unsigned char *buffer = random_buffer(length);
	unsigned char *copy = malloc(length + 8);
	uint64_t first = page_hash(buffer, length);

	if (!copy)
		abort();
	memcpy(copy + 8, buffer, length);
	check(page_hash(buffer, length) == first, "page_hash: two calls on the same data differ");
	check(page_hash(copy + 8, length) == first,
	      "page_hash: the same data elsewhere hashes differently");
	memcpy(copy + 3, buffer, length);
	check(page_hash(copy + 3, length) == first, "page_hash: unaligned data hashes differently");
	check(page_hash(buffer, length - CKPT_PAGE_SIZE) != first,
	      "page_hash: a shorter prefix hashes the same");
	free(copy);
	free(buffer);
}

static void test_page_hash_matches_reference(void)
{
	size_t max_length = 64 * CKPT_PAGE_SIZE;
	unsigned char *buffer = random_buffer(max_length);

	for (size_t length = 0; length <= 4096; length += 64) {
		check(page_hash(buffer, length) == reference_page_hash(buffer, length),
		      "page_hash of %zu bytes differs from the scalar reference", length);
	}
	for (size_t pages = 2; pages <= 64; pages *= 2) {
		size_t length = pages * CKPT_PAGE_SIZE;

		check(page_hash(buffer, length) == reference_page_hash(buffer, length),
		      "page_hash of %zu pages differs from the scalar reference", pages);
	}
	free(buffer);
}

/* Flips each listed bit in turn; counts flips the hash does not notice. */
static unsigned unnoticed_flips(unsigned char *buffer, size_t length, size_t first_bit, size_t bits,
				size_t bit_step)
{
	uint64_t original = page_hash(buffer, length);
	unsigned unnoticed = 0;

	for (size_t bit = first_bit; bit < first_bit + bits; bit += bit_step) {
		buffer[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		if (page_hash(buffer, length) == original)
			unnoticed++;
		buffer[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	}
	return unnoticed;
}

static void test_page_hash_bit_flips(void)
{
	size_t length = 16 * CKPT_PAGE_SIZE;
	unsigned char *buffer = random_buffer(length);
	unsigned unnoticed;

	unnoticed = unnoticed_flips(buffer, CKPT_PAGE_SIZE, 0, CKPT_PAGE_SIZE * 8, 1);
	check(unnoticed == 0, "page_hash: %u of the %u single-bit flips in one page go unnoticed",
	      unnoticed, CKPT_PAGE_SIZE * 8);
	unnoticed = unnoticed_flips(buffer, length, 0, length * 8, 61);
	check(unnoticed == 0, "page_hash: %u single-bit flips in 16 pages go unnoticed", unnoticed);
	memset(buffer, 0, length);
	unnoticed = unnoticed_flips(buffer, length, 0, length * 8, 127);
	check(unnoticed == 0, "page_hash: %u single-bit flips in 16 zero pages go unnoticed",
	      unnoticed);
	free(buffer);
}

/* page_hash.h allows any multiple of 64 bytes: every byte must count. */
static void test_page_hash_multiple_of_32(void)
{
	unsigned char *buffer = random_buffer(CKPT_PAGE_SIZE);
	size_t lengths[] = { 64, 192, CKPT_PAGE_SIZE - 64 };

	for (size_t i = 0; i < ARRAY_SIZE(lengths); i++) {
		size_t last_32 = (lengths[i] - 32) * 8;
		unsigned unnoticed = unnoticed_flips(buffer, lengths[i], last_32, 32 * 8, 1);

		check(unnoticed == 0,
		      "page_hash of %zu bytes (a multiple of 64, allowed by page_hash.h) ignores "
		      "%u of 256 bit flips in its last 32 bytes",
		      lengths[i], unnoticed);
	}
	free(buffer);
}

/* ---- reading images built by the tests ---- */

struct read_outcome {
	int ret;
	struct ckpt_error err;
	struct image_process image;
	struct image_pages_seen seen;
};

static void read_bytes(const struct image_bytes *bytes, struct read_outcome *outcome)
{
	int fd;

	memset(outcome, 0, sizeof(*outcome));
	fd = image_bytes_to_memfd(bytes, &outcome->err);
	if (fd < 0) {
		outcome->ret = fd;
		return;
	}
	outcome->ret = read_whole_image(fd, &outcome->image, &outcome->seen, &outcome->err);
	close(fd);
}

static void valid_bytes(const struct image_spec *spec, struct image_bytes *ret_bytes)
{
	struct ckpt_error err = { 0 };

	if (image_bytes_from_spec(spec, ret_bytes, &err) < 0) {
		fprintf(stderr, "test_codec: cannot build an image: %s\n", err.message);
		abort();
	}
}

static void default_bytes(struct image_bytes *ret_bytes)
{
	struct image_spec spec;

	spec_init_valid(&spec, SPEC_PID);
	valid_bytes(&spec, ret_bytes);
}

/* Reads bytes, expects a failure whose message holds expected. */
static void expect_rejected(const char *name, const struct image_bytes *bytes, const char *expected)
{
	struct read_outcome outcome;

	read_bytes(bytes, &outcome);
	if (outcome.ret == 0 && expected[0] == '\0')
		check(false, "%s: accepted, expected a failure", name);
	else if (outcome.ret == 0)
		check(false, "%s: accepted, expected a failure mentioning \"%s\"", name, expected);
	else
		check(strstr(outcome.err.message, expected) != NULL,
		      "%s: message \"%s\" does not mention \"%s\"", name, outcome.err.message,
		      expected);
	check(outcome.ret == 0 || outcome.err.code == outcome.ret || outcome.err.code < 0,
	      "%s: failed with %d but recorded no error code", name, outcome.ret);
	image_process_free(&outcome.image);
}

static void expect_accepted(const char *name, const struct image_bytes *bytes)
{
	struct read_outcome outcome;

	read_bytes(bytes, &outcome);
	check(outcome.ret == 0, "%s: rejected: %s", name, outcome.err.message);
	image_process_free(&outcome.image);
}

/* ---- round trip ---- */

static bool xstate_is_as_built(const struct image_thread *thread)
{
	for (uint32_t i = 0; i < thread->thread.xstate_size; i++) {
		if (thread->xstate[i] != (unsigned char)(i * 7 + (uint64_t)thread->thread.tid))
			return false;
	}
	return true;
}

static void compare_identity(const struct image_spec *spec, const struct image_process *image)
{
	check(memcmp(&image->head, &spec->head, sizeof(spec->head)) == 0, "round trip: HEAD differs");
	check(memcmp(&image->process, &spec->process, sizeof(spec->process)) == 0,
	      "round trip: PROCESS differs");
	check(strcmp(image->cwd, spec->cwd) == 0, "round trip: cwd \"%s\", wrote \"%s\"",
	      image->cwd, spec->cwd);
	check(memcmp(&image->creds, &spec->creds, sizeof(spec->creds)) == 0,
	      "round trip: CREDS differs");
	check(memcmp(image->groups, spec->groups, spec->creds.group_count * sizeof(uint32_t)) == 0,
	      "round trip: groups differ");
	check(memcmp(&image->rlimits, &spec->rlimits, sizeof(spec->rlimits)) == 0,
	      "round trip: RLIMITS differs");
	check(memcmp(&image->sigactions, &spec->sigactions, sizeof(spec->sigactions)) == 0,
	      "round trip: SIGACTIONS differs");
}

static void compare_files_and_mm(const struct image_spec *spec, const struct image_process *image)
{
	check(image->file_count == spec->file_count, "round trip: %zu files, wrote %zu",
	      image->file_count, spec->file_count);
	for (size_t i = 0; i < image->file_count && i < spec->file_count; i++) {
		check(memcmp(&image->files[i].file, &spec->files[i].file,
			     sizeof(struct ckpt_file)) == 0,
		      "round trip: FILE %zu differs", i + 1);
		check(strcmp(image->files[i].path, spec->files[i].path) == 0,
		      "round trip: path of file %zu", i + 1);
		check(image_find_file(image, (uint32_t)i + 1) == &image->files[i],
		      "round trip: image_find_file(%zu) is not file %zu", i + 1, i + 1);
	}
	check(image_find_file(image, 0) == NULL, "image_find_file(0) found a file");
	check(image_find_file(image, (uint32_t)spec->file_count + 1) == NULL,
	      "image_find_file found a file past the last");
	check(image->fd_count == spec->fd_count &&
		      memcmp(image->fds, spec->fds, spec->fd_count * sizeof(struct ckpt_fd)) == 0,
	      "round trip: FD records differ");
	check(memcmp(&image->mm, &spec->mm, sizeof(spec->mm)) == 0, "round trip: MM differs");
	check(memcmp(image->auxv, spec->auxv, spec->mm.auxv_words * sizeof(uint64_t)) == 0,
	      "round trip: auxv differs");
}

static void compare_threads_and_vmas(const struct image_spec *spec, const struct image_process *image)
{
	check(image->thread_count == spec->thread_count, "round trip: %zu threads, wrote %zu",
	      image->thread_count, spec->thread_count);
	for (size_t i = 0; i < image->thread_count && i < spec->thread_count; i++) {
		check(memcmp(&image->threads[i].thread, &spec->threads[i],
			     sizeof(struct ckpt_thread)) == 0,
		      "round trip: THREAD %zu differs", i);
		check(xstate_is_as_built(&image->threads[i]),
		      "round trip: xstate of thread %zu differs", i);
	}
	check(image->vma_count == spec->vma_count &&
		      memcmp(image->vmas, spec->vmas, spec->vma_count * sizeof(struct ckpt_vma)) == 0,
	      "round trip: VMA records differ");
}

static uint64_t spec_page_total(const struct image_spec *spec)
{
	uint64_t pages = 0;

	for (size_t i = 0; i < spec->page_record_count; i++)
		pages += run_page_total(&spec->page_records[i]);
	return pages;
}

static void check_round_trip(const char *name, const struct image_spec *spec,
			     const struct read_outcome *outcome)
{
	check(outcome->ret == 0, "%s: the valid image is rejected: %s", name, outcome->err.message);
	if (outcome->ret != 0)
		return;
	compare_identity(spec, &outcome->image);
	compare_files_and_mm(spec, &outcome->image);
	compare_threads_and_vmas(spec, &outcome->image);
	check(outcome->seen.records == spec->page_record_count, "%s: %llu PAGES records, wrote %zu",
	      name, (unsigned long long)outcome->seen.records, spec->page_record_count);
	check(outcome->seen.pages == spec_page_total(spec), "%s: %llu pages, wrote %llu", name,
	      (unsigned long long)outcome->seen.pages, (unsigned long long)spec_page_total(spec));
	check(outcome->seen.pages_not_as_built == 0, "%s: %llu pages came back different", name,
	      (unsigned long long)outcome->seen.pages_not_as_built);
}

static void round_trip_spec(const char *name, const struct image_spec *spec)
{
	struct image_bytes bytes;
	struct read_outcome outcome;

	valid_bytes(spec, &bytes);
	read_bytes(&bytes, &outcome);
	check_round_trip(name, spec, &outcome);
	image_process_free(&outcome.image);
	image_bytes_release(&bytes);
}

static void test_round_trip(void)
{
	struct image_spec spec;

	spec_init_valid(&spec, SPEC_PID);
	round_trip_spec("round trip", &spec);
	spec_add_thread(&spec, SPEC_PID + 1);
	spec_add_thread(&spec, SPEC_PID + 7);
	spec.threads[1].flags = CKPT_THREAD_SYSCALL_RESTART;
	round_trip_spec("round trip with three threads", &spec);
	spec.page_record_count = 0;
	for (size_t i = 0; i < spec.vma_count; i++)
		spec.vmas[i].page_count = 0;
	round_trip_spec("round trip without pages", &spec);
}

/* One PAGES record of the largest size the writer makes (1024 pages). */
static void test_round_trip_full_record(void)
{
	struct image_spec spec;
	struct ckpt_vma *heap;

	spec_init_valid(&spec, SPEC_PID);
	heap = &spec.vmas[2];
	heap->end = heap->start + (uint64_t)CKPT_PAGES_PER_RECORD * 2 * CKPT_PAGE_SIZE;
	heap->page_count = CKPT_PAGES_PER_RECORD;
	spec.page_records[0].runs[1].pages = CKPT_PAGES_PER_RECORD - 1;
	spec.page_records[1].runs[0].start =
		heap->start + (uint64_t)CKPT_PAGES_PER_RECORD * CKPT_PAGE_SIZE;
	spec.vmas[3].page_count = 0;
	round_trip_spec("round trip with a 1024-page record", &spec);
}

/* The reader needs no seekable fd: the image through a pipe. */
static void test_round_trip_pipe(void)
{
	struct image_spec spec;
	struct read_outcome outcome;
	int pipe_fds[2];
	pid_t writer;
	int status;

	spec_init_valid(&spec, SPEC_PID);
	if (pipe2(pipe_fds, O_CLOEXEC) < 0)
		abort();
	writer = fork();
	if (writer == 0) {
		struct ckpt_error err = { 0 };

		close(pipe_fds[0]);
		_exit(spec_write(&spec, pipe_fds[1], &err) == 0 ? 0 : 1);
	}
	close(pipe_fds[1]);
	memset(&outcome, 0, sizeof(outcome));
	outcome.ret = read_whole_image(pipe_fds[0], &outcome.image, &outcome.seen, &outcome.err);
	close(pipe_fds[0]);
	waitpid(writer, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "pipe round trip: the writer failed");
	check_round_trip("pipe round trip", &spec, &outcome);
	image_process_free(&outcome.image);
}

/* validate_record() of the record at offset, from an aligned copy as the reader gives it. */
static int validate_copy(struct image_bytes *bytes, size_t at, struct ckpt_error *err)
{
	struct ckpt_record_header header = image_bytes_header(bytes, at);
	void *payload = malloc(header.length + 1);
	int ret;

	if (!payload)
		abort();
	memcpy(payload, image_bytes_payload(bytes, at), header.length);
	ret = validate_record(header.type, payload, header.length, err);
	free(payload);
	return ret;
}

/* Every record of a valid image passes validate_record() on its own. */
static void test_valid_records_validate(void)
{
	struct image_bytes bytes;
	size_t records;

	default_bytes(&bytes);
	records = image_bytes_record_count(&bytes);
	check(records == 29, "the default image has %zu records, expected 29", records);
	for (size_t i = 0; i < records; i++) {
		size_t at = image_bytes_record_offset(&bytes, i);
		struct ckpt_error err = { 0 };
		int ret = validate_copy(&bytes, at, &err);

		check(ret == 0, "validate_record(%s) of a valid record: %s",
		      record_type_name(image_bytes_header(&bytes, at).type), err.message);
	}
	image_bytes_release(&bytes);
}

/* ---- one field of one record set to a bad value, checksum resealed ---- */

struct field_case {
	const char *name;
	enum ckpt_record_type type;
	unsigned nth;	     /* which record of that type */
	size_t field_offset; /* in the payload */
	unsigned width;	     /* bytes */
	uint64_t value;
	const char *expected;
};

#define FIELD(record_struct, member) \
	offsetof(record_struct, member), sizeof(((record_struct *)NULL)->member)
#define AFTER(record_struct) sizeof(record_struct), 1 /* first byte after the fixed part */

#define R_HEAD CKPT_RECORD_HEAD
#define R_PROCESS CKPT_RECORD_PROCESS
#define R_CREDS CKPT_RECORD_CREDS
#define R_RLIMITS CKPT_RECORD_RLIMITS
#define R_SIGACTIONS CKPT_RECORD_SIGACTIONS
#define R_FILE CKPT_RECORD_FILE
#define R_FD CKPT_RECORD_FD
#define R_MM CKPT_RECORD_MM
#define R_THREAD CKPT_RECORD_THREAD
#define R_VMA CKPT_RECORD_VMA
#define R_PAGES CKPT_RECORD_PAGES
#define R_TAIL CKPT_RECORD_TAIL

/* The default image (spec_init_valid): FD records are fds 0, 1, 2, 3, 5;
 * VMAs 0 code, 1 data, 2 heap, 3 shared anon, 4 stack, 5 vvar, 6 vvar_vclock,
 * 7 vdso; PAGES 0 has runs {data, 1} {heap, 2}, PAGES 1 {shared, 1} {stack, 2}. */
static const struct field_case field_cases[] = {
	{ "HEAD magic", R_HEAD, 0, 0, 1, 'X', "wrong magic" },
	{ "HEAD version", R_HEAD, 0, FIELD(struct ckpt_head, version), 6, "format version 6" },
	{ "TREE memory owner not in the tree", CKPT_RECORD_TREE, 0,
	  sizeof(struct ckpt_tree) + FIELD(struct ckpt_tree_entry, mm_owner), 4242,
	  "sharing owner is neither its parent" },
	{ "TREE fd table owner negative", CKPT_RECORD_TREE, 0,
	  sizeof(struct ckpt_tree) + FIELD(struct ckpt_tree_entry, files_owner), 0xffffffff,
	  "sharing owner is neither its parent" },
	{ "TREE fs owner not in the tree", CKPT_RECORD_TREE, 0,
	  sizeof(struct ckpt_tree) + FIELD(struct ckpt_tree_entry, fs_owner), 7,
	  "sharing owner is neither its parent" },
	{ "TREE signal handler owner not in the tree", CKPT_RECORD_TREE, 0,
	  sizeof(struct ckpt_tree) + FIELD(struct ckpt_tree_entry, sighand_owner), 4242,
	  "sharing owner is neither its parent" },
	{ "HEAD arch", R_HEAD, 0, FIELD(struct ckpt_head, arch), 183, "architecture 183" },
	{ "HEAD page size", R_HEAD, 0, FIELD(struct ckpt_head, page_size), 65536, "page size" },
	{ "HEAD xstate size", R_HEAD, 0, FIELD(struct ckpt_head, xstate_size), CKPT_MAX_XSTATE + 64,
	  "xstate size too large" },
	{ "PROCESS pid 0", R_PROCESS, 0, FIELD(struct ckpt_process, pid), 0,
	  "pid, thread count or umask" },
	{ "PROCESS pid -5", R_PROCESS, 0, FIELD(struct ckpt_process, pid), (uint32_t)-5,
	  "pid, thread count" },
	{ "PROCESS no threads", R_PROCESS, 0, FIELD(struct ckpt_process, thread_count), 0,
	  "thread count" },
	{ "PROCESS umask", R_PROCESS, 0, FIELD(struct ckpt_process, umask), 01000, "umask" },
	{ "PROCESS cwd length", R_PROCESS, 0, FIELD(struct ckpt_process, cwd_length), 6,
	  "cwd length" },
	{ "PROCESS huge cwd length", R_PROCESS, 0, FIELD(struct ckpt_process, cwd_length),
	  UINT32_MAX, "cwd length" },
	{ "PROCESS relative cwd", R_PROCESS, 0, AFTER(struct ckpt_process), 't',
	  "cwd is not an absolute" },
	{ "PROCESS cwd with a NUL inside", R_PROCESS, 0, sizeof(struct ckpt_process) + 2, 1, 0,
	  "NUL-terminated" },
	{ "PROCESS cwd not terminated", R_PROCESS, 0, sizeof(struct ckpt_process) + 4, 1, 'x',
	  "NUL-terminated" },
	{ "PROCESS unknown prctl flags", R_PROCESS, 0, FIELD(struct ckpt_process, prctl_flags),
	  (uint64_t)CKPT_PROCESS_PRCTL_FLAG_MASK + 1, "unknown prctl flags" },
	{ "PROCESS THP disable 2", R_PROCESS, 0, FIELD(struct ckpt_process, thp_disable), 2,
	  "THP disable value out of range" },
	{ "PROCESS dumpable 3", R_PROCESS, 0, FIELD(struct ckpt_process, dumpable), 3,
	  "dumpable out of range" },
	{ "PROCESS reserved", R_PROCESS, 0, FIELD(struct ckpt_process, reserved), 1,
	  "dumpable out of range or reserved" },
	{ "PROCESS oom_score_adj 1001", R_PROCESS, 0, FIELD(struct ckpt_process, oom_score_adj),
	  1001, "oom_score_adj out of range" },
	{ "PROCESS oom_score_adj -1001", R_PROCESS, 0, FIELD(struct ckpt_process, oom_score_adj),
	  (uint32_t)-1001, "oom_score_adj out of range" },
	{ "PROCESS unknown membarrier", R_PROCESS, 0, FIELD(struct ckpt_process, membarrier), 1,
	  "unknown membarrier registrations" },
	{ "PROCESS reserved2", R_PROCESS, 0, FIELD(struct ckpt_process, reserved2), 1,
	  "membarrier registrations or reserved field set" },
	{ "PROCESS more threads than THREAD records", R_PROCESS, 0,
	  FIELD(struct ckpt_process, thread_count), 2, "where THREAD was expected" },
	{ "CREDS group count", R_CREDS, 0, FIELD(struct ckpt_creds, group_count), 3, "group count" },
	{ "CREDS huge group count", R_CREDS, 0, FIELD(struct ckpt_creds, group_count), UINT32_MAX,
	  "group count" },
	{ "CREDS no_new_privs", R_CREDS, 0, FIELD(struct ckpt_creds, no_new_privs), 2,
	  "no_new_privs" },
	{ "RLIMITS count", R_RLIMITS, 0, FIELD(struct ckpt_rlimits, count), 15,
	  "wrong size or count" },
	{ "RLIMITS soft above hard", R_RLIMITS, 0, FIELD(struct ckpt_rlimits, limits[7].soft), 5000,
	  "soft limit is above its hard limit" },
	{ "SIGACTIONS count", R_SIGACTIONS, 0, FIELD(struct ckpt_sigactions, count), 65,
	  "wrong size or count" },
	{ "FILE path length", R_FILE, 0, FIELD(struct ckpt_file, path_length), 14, "path length" },
	{ "FILE huge path length", R_FILE, 0, FIELD(struct ckpt_file, path_length), UINT32_MAX,
	  "path length" },
	{ "FILE id 0", R_FILE, 0, FIELD(struct ckpt_file, id), 0, "bad id or kind" },
	{ "FILE kind 0", R_FILE, 0, FIELD(struct ckpt_file, kind), 0, "bad id or kind" },
	{ "FILE kind 99", R_FILE, 1, FIELD(struct ckpt_file, kind), 99, "bad id or kind" },
	{ "FILE unknown flags", R_FILE, 0, FIELD(struct ckpt_file, flags), 4, "unknown flags" },
	{ "FILE memfd flag on a regular file", R_FILE, 0, FIELD(struct ckpt_file, flags), 2,
	  "not a memfd" },
	{ "FILE relative path", R_FILE, 0, AFTER(struct ckpt_file), 'u', "path is not an absolute" },
	{ "FILE path not terminated", R_FILE, 1, sizeof(struct ckpt_file) + 9, 1, 'x',
	  "NUL-terminated" },
	{ "FILE path with a NUL inside", R_FILE, 1, sizeof(struct ckpt_file) + 4, 1, 0,
	  "NUL-terminated" },
	{ "FILE ids not in order", R_FILE, 0, FIELD(struct ckpt_file, id), 2, "has id 2, expected 1" },
	{ "FILE id repeated", R_FILE, 1, FIELD(struct ckpt_file, id), 1, "has id 1, expected 2" },
	{ "FD negative", R_FD, 3, FIELD(struct ckpt_fd, fd), (uint32_t)-1, "fd number out of range" },
	{ "FD too large", R_FD, 3, FIELD(struct ckpt_fd, fd), 1u << 20, "fd number out of range" },
	{ "FD unknown flags", R_FD, 3, FIELD(struct ckpt_fd, flags), 4, "unknown flags" },
	{ "FD unknown inherited kind", R_FD, 0, FIELD(struct ckpt_fd, inherit_kind), 4,
	  "unknown inherited kind" },
	{ "FD inherited with a file", R_FD, 0, FIELD(struct ckpt_fd, file_id), 1,
	  "only fds 0-2 and pipes are inherited" },
	{ "FD 3 inherited", R_FD, 3, FIELD(struct ckpt_fd, flags), CKPT_FD_INHERIT, "only fds 0-2" },
	{ "FD without a file", R_FD, 3, FIELD(struct ckpt_fd, file_id), 0, "no file" },
	{ "FD of a missing file", R_FD, 3, FIELD(struct ckpt_fd, file_id), 9,
	  "refers to missing file 9" },
	{ "FD repeated", R_FD, 4, FIELD(struct ckpt_fd, fd), 3, "out of order or repeated" },
	{ "FD out of order", R_FD, 4, FIELD(struct ckpt_fd, fd), 2, "out of order or repeated" },
	{ "MM auxv length", R_MM, 0, FIELD(struct ckpt_mm, auxv_words), 8, "auxv length" },
	{ "MM huge auxv length", R_MM, 0, FIELD(struct ckpt_mm, auxv_words), UINT32_MAX,
	  "auxv length" },
	{ "MM address above user space", R_MM, 0,
	  FIELD(struct ckpt_mm, fields[CKPT_MM_START_STACK]), 1ull << 48, "not a user address" },
	{ "MM empty code", R_MM, 0, FIELD(struct ckpt_mm, fields[CKPT_MM_END_CODE]),
	  SPEC_CODE_START, "ends before it starts" },
	{ "MM brk below its start", R_MM, 0, FIELD(struct ckpt_mm, fields[CKPT_MM_BRK]),
	  SPEC_HEAP_START - 0x1000, "ends before it starts" },
	{ "MM args end first", R_MM, 0, FIELD(struct ckpt_mm, fields[CKPT_MM_ARG_END]),
	  SPEC_STACK_END - 0x3000, "ends before it starts" },
	{ "MM environment ends first", R_MM, 0, FIELD(struct ckpt_mm, fields[CKPT_MM_ENV_END]),
	  SPEC_STACK_END - 0x3000, "ends before it starts" },
	{ "MM exe of a missing file", R_MM, 0, FIELD(struct ckpt_mm, exe_file_id), 9,
	  "MM refers to missing file 9" },
	{ "MM unknown future lock flags", R_MM, 0, FIELD(struct ckpt_mm, lock_future), 4,
	  "unknown future lock flags" },
	{ "MM on-fault lock without future", R_MM, 0, FIELD(struct ckpt_mm, lock_future),
	  CKPT_MM_LOCK_ONFAULT, "unknown future lock flags" },
	{ "THREAD xstate length", R_THREAD, 0, FIELD(struct ckpt_thread, xstate_size),
	  SPEC_XSTATE_SIZE + 64, "xstate size" },
	{ "THREAD tid 0", R_THREAD, 0, FIELD(struct ckpt_thread, tid), 0, "bad tid or reserved" },
	{ "THREAD reserved", R_THREAD, 0, FIELD(struct ckpt_thread, reserved), 1,
	  "bad tid or reserved" },
	{ "THREAD reserved2", R_THREAD, 0, FIELD(struct ckpt_thread, reserved2), 1,
	  "bad tid or reserved" },
	{ "THREAD unknown flags", R_THREAD, 0, FIELD(struct ckpt_thread, flags),
	  (uint64_t)CKPT_THREAD_FLAG_MASK + 1, "unknown flags" },
	{ "THREAD parent-death signal 65", R_THREAD, 0, FIELD(struct ckpt_thread, pdeath_signal),
	  65, "parent-death signal out of range" },
	{ "THREAD unknown securebits", R_THREAD, 0, FIELD(struct ckpt_thread, securebits),
	  CKPT_SECUREBITS_MASK + 1, "unknown securebits" },
	{ "THREAD MCE kill policy 3", R_THREAD, 0, FIELD(struct ckpt_thread, mce_kill_policy), 3,
	  "MCE kill policy out of range" },
	{ "THREAD reserved3", R_THREAD, 0, FIELD(struct ckpt_thread, reserved3), 1,
	  "MCE kill policy out of range or reserved" },
	{ "THREAD seccomp mode 3", R_THREAD, 0, FIELD(struct ckpt_thread, seccomp_mode), 3,
	  "unknown seccomp mode" },
	{ "THREAD filter mode without filters", R_THREAD, 0, FIELD(struct ckpt_thread, seccomp_mode),
	  CKPT_SECCOMP_FILTER, "seccomp filter count does not match its mode" },
	{ "THREAD filters without filter mode", R_THREAD, 0,
	  FIELD(struct ckpt_thread, seccomp_filter_count), 1, "seccomp filter count does not match" },
	{ "THREAD sched policy 4", R_THREAD, 0, FIELD(struct ckpt_thread, sched_policy), 4,
	  "unknown scheduling policy or flags" },
	{ "THREAD sched flags", R_THREAD, 0, FIELD(struct ckpt_thread, sched_flags), 2,
	  "unknown scheduling policy or flags" },
	{ "THREAD nice 20", R_THREAD, 0, FIELD(struct ckpt_thread, sched_nice), 20,
	  "nice or real-time priority out of range" },
	{ "THREAD priority without a real-time policy", R_THREAD, 0,
	  FIELD(struct ckpt_thread, sched_priority), 5, "nice or real-time priority out of range" },
	{ "THREAD FIFO without a priority", R_THREAD, 0, FIELD(struct ckpt_thread, sched_policy), 1,
	  "nice or real-time priority out of range" },
	{ "THREAD utilization clamp 1025", R_THREAD, 0, FIELD(struct ckpt_thread, sched_util_max),
	  1025, "utilization clamp out of range" },
	{ "THREAD deadline without SCHED_DEADLINE", R_THREAD, 0,
	  FIELD(struct ckpt_thread, sched_period), 1000000,
	  "deadline parameters without SCHED_DEADLINE" },
	{ "THREAD first is not the process", R_THREAD, 0, FIELD(struct ckpt_thread, tid), 12345,
	  "first thread 12345 is not the process" },
	{ "VMA start unaligned", R_VMA, 2, FIELD(struct ckpt_vma, start), SPEC_HEAP_START + 0x800,
	  "not page-aligned" },
	{ "VMA end unaligned", R_VMA, 2, FIELD(struct ckpt_vma, end), SPEC_HEAP_START + 0x2001,
	  "not page-aligned" },
	{ "VMA file offset unaligned", R_VMA, 1, FIELD(struct ckpt_vma, file_offset), 0x1800,
	  "not page-aligned" },
	{ "VMA empty", R_VMA, 2, FIELD(struct ckpt_vma, end), SPEC_HEAP_START,
	  "empty or not canonical" },
	{ "VMA ends before it starts", R_VMA, 2, FIELD(struct ckpt_vma, end),
	  SPEC_HEAP_START - 0x1000, "empty or not canonical" },
	{ "VMA above user space", R_VMA, 7, FIELD(struct ckpt_vma, end), (1ull << 47) + 0x1000,
	  "empty or not canonical" },
	{ "VMA non-canonical end", R_VMA, 7, FIELD(struct ckpt_vma, end), 0xffff800000001000ull,
	  "empty or not canonical" },
	{ "VMA at address 0", R_VMA, 0, FIELD(struct ckpt_vma, start), 0, "empty or not canonical" },
	{ "VMA unknown protection", R_VMA, 2, FIELD(struct ckpt_vma, prot), 8, "unknown protection" },
	{ "VMA unknown flags", R_VMA, 2, FIELD(struct ckpt_vma, flags),
	  (uint64_t)CKPT_VMA_FLAG_MASK + 1, "unknown protection or flags" },
	{ "VMA kind 0", R_VMA, 2, FIELD(struct ckpt_vma, kind), 0, "unknown kind" },
	{ "VMA kind 8", R_VMA, 2, FIELD(struct ckpt_vma, kind), 8, "unknown kind" },
	{ "VMA anonymous with a file", R_VMA, 2, FIELD(struct ckpt_vma, file_id), 1,
	  "file id does not match the kind" },
	{ "VMA file mapping without a file", R_VMA, 0, FIELD(struct ckpt_vma, file_id), 0,
	  "file id does not match the kind" },
	{ "VMA mapping a missing file", R_VMA, 0, FIELD(struct ckpt_vma, file_id), 9,
	  "maps a missing file or one of the wrong kind (9)" },
	{ "VMA mapping a character device", R_VMA, 0, FIELD(struct ckpt_vma, file_id), 2,
	  "maps a missing file or one of the wrong kind (2)" },
	{ "VMA more pages than it holds", R_VMA, 2, FIELD(struct ckpt_vma, page_count), 3,
	  "more pages than the VMA holds" },
	{ "VMA file offset too large", R_VMA, 0, FIELD(struct ckpt_vma, file_offset),
	  0xfffffffffffff000ull, "file offset too large" },
	{ "VMA overlaps the one before", R_VMA, 3, FIELD(struct ckpt_vma, start),
	  SPEC_HEAP_START + 0x1000, "overlaps or precedes" },
	{ "VMA below the one before", R_VMA, 3, FIELD(struct ckpt_vma, start),
	  SPEC_CODE_START - 0x1000, "overlaps or precedes" },
	{ "VMA vvar with pages", R_VMA, 5, FIELD(struct ckpt_vma, page_count), 1,
	  "cannot hold pages" },
	{ "VMA vdso with pages", R_VMA, 7, FIELD(struct ckpt_vma, page_count), 1,
	  "cannot hold pages" },
	{ "PAGES no runs", R_PAGES, 0, FIELD(struct ckpt_pages, run_count), 0,
	  "run or page count out of range" },
	{ "PAGES too many runs", R_PAGES, 0, FIELD(struct ckpt_pages, run_count),
	  CKPT_MAX_PAGE_RUNS + 1, "run or page count out of range" },
	{ "PAGES huge run count", R_PAGES, 0, FIELD(struct ckpt_pages, run_count), 1ull << 62,
	  "run or page count out of range" },
	{ "PAGES no pages", R_PAGES, 0, FIELD(struct ckpt_pages, page_count), 0, "run or page count" },
	{ "PAGES huge page count", R_PAGES, 0, FIELD(struct ckpt_pages, page_count), 1ull << 62,
	  "run or page count out of range" },
	{ "PAGES page count", R_PAGES, 0, FIELD(struct ckpt_pages, page_count), 4,
	  "size does not match its counts" },
	{ "PAGES run count", R_PAGES, 0, FIELD(struct ckpt_pages, run_count), 3,
	  "size does not match its counts" },
	{ "PAGES run unaligned", R_PAGES, 0, sizeof(struct ckpt_pages), 8, SPEC_DATA_START + 8,
	  "run not aligned or of bad length" },
	{ "PAGES empty run", R_PAGES, 0, sizeof(struct ckpt_pages) + 8, 8, 0,
	  "run not aligned or of bad length" },
	{ "PAGES run longer than the record", R_PAGES, 0, sizeof(struct ckpt_pages) + 8, 8, 4,
	  "run not aligned or of bad length" },
	{ "PAGES runs overlap", R_PAGES, 0, sizeof(struct ckpt_pages) + 16, 8, SPEC_DATA_START,
	  "runs overlap, are unordered" },
	{ "PAGES runs unordered", R_PAGES, 0, sizeof(struct ckpt_pages) + 16, 8, SPEC_CODE_START,
	  "runs overlap, are unordered" },
	{ "PAGES run above user space", R_PAGES, 1, sizeof(struct ckpt_pages) + 16, 8, 1ull << 47,
	  "not canonical" },
	{ "PAGES runs short of the page count", R_PAGES, 0, sizeof(struct ckpt_pages) + 24, 8, 1,
	  "do not add up to the page count" },
	{ "PAGES data hash", R_PAGES, 1, FIELD(struct ckpt_pages, data_hash), 0x1234,
	  "does not match its hash" },
	{ "PAGES going backwards", R_PAGES, 1, sizeof(struct ckpt_pages), 8, SPEC_HEAP_START,
	  "repeat or go backwards" },
	{ "PAGES repeated", R_PAGES, 1, sizeof(struct ckpt_pages), 8, SPEC_HEAP_START + 0x1000,
	  "repeat or go backwards" },
	{ "PAGES outside every VMA", R_PAGES, 1, sizeof(struct ckpt_pages), 8, 0x500000,
	  "outside any VMA that holds pages" },
	{ "PAGES past the end of a VMA", R_PAGES, 1, sizeof(struct ckpt_pages), 8,
	  SPEC_SHARED_START + 0x2000, "outside any VMA that holds pages" },
	{ "PAGES in the vdso", R_PAGES, 1, sizeof(struct ckpt_pages) + 16, 8, SPEC_VDSO_START,
	  "outside any VMA that holds pages" },
	{ "PAGES in the vvar", R_PAGES, 1, sizeof(struct ckpt_pages) + 16, 8, SPEC_VVAR_START,
	  "outside any VMA that holds pages" },
	{ "TAIL magic", R_TAIL, 0, 0, 1, 'X', "wrong size or magic" },
	{ "TAIL record count", R_TAIL, 0, FIELD(struct ckpt_tail, record_count), 3, "tail counts" },
	{ "TAIL page count", R_TAIL, 0, FIELD(struct ckpt_tail, page_count), 7, "tail counts" },
	{ "TAIL stream bytes", R_TAIL, 0, FIELD(struct ckpt_tail, stream_bytes), 100, "tail" },
};

static void run_field_case(const struct image_bytes *good, const struct field_case *bad)
{
	struct image_bytes bytes = { malloc(good->length + 1), good->length };

	if (!bytes.data)
		abort();
	memcpy(bytes.data, good->data, good->length);
	image_bytes_patch(&bytes, image_bytes_find(&bytes, bad->type, bad->nth), bad->field_offset,
			  bad->width, bad->value);
	expect_rejected(bad->name, &bytes, bad->expected);
	image_bytes_release(&bytes);
}

static void test_field_cases(void)
{
	struct image_bytes good;

	default_bytes(&good);
	for (size_t i = 0; i < ARRAY_SIZE(field_cases); i++)
		run_field_case(&good, &field_cases[i]);
	image_bytes_release(&good);
}

/* ---- images written from a changed spec ---- */

static char long_path[CKPT_PATH_MAX + 200];

static const char *path_of_length(size_t length)
{
	memset(long_path, 'a', length);
	for (size_t i = 0; i < length; i += 100)
		long_path[i] = '/';
	long_path[length] = '\0';
	return long_path;
}

static void cwd_too_long(struct image_spec *spec)
{
	spec_set_cwd(spec, path_of_length(CKPT_PATH_MAX + 100));
}

static void cwd_empty(struct image_spec *spec)
{
	spec_set_cwd(spec, "");
}

static void comm_not_terminated(struct image_spec *spec)
{
	memset(spec->process.comm, 'c', sizeof(spec->process.comm));
}

static void thread_comm_not_terminated(struct image_spec *spec)
{
	memset(spec->threads[0].comm, 't', sizeof(spec->threads[0].comm));
}

static void kernel_release_not_terminated(struct image_spec *spec)
{
	memset(spec->head.kernel_release, 'k', sizeof(spec->head.kernel_release));
}

static void tool_version_not_terminated(struct image_spec *spec)
{
	memset(spec->head.tool_version, 't', sizeof(spec->head.tool_version));
}

static void path_too_long(struct image_spec *spec)
{
	spec->files[1].path = path_of_length(CKPT_PATH_MAX + 100);
	spec->files[1].file.path_length = CKPT_PATH_MAX + 101;
}

static void path_not_terminated(struct image_spec *spec)
{
	spec->files[1].file.path_length -= 1; /* the NUL is not written */
}

static void path_empty(struct image_spec *spec)
{
	spec->files[1].path = "";
	spec->files[1].file.path_length = 1;
}

static void auxv_odd(struct image_spec *spec)
{
	spec->mm.auxv_words = 5;
}

static void auxv_too_long(struct image_spec *spec)
{
	spec->mm.auxv_words = CKPT_MAX_AUXV_WORDS + 2; /* 56 words written */
}

static void xstate_too_small(struct image_spec *spec)
{
	spec->head.xstate_size = 512;
	spec->threads[0].xstate_size = 512;
}

static void xstate_over_record_limit(struct image_spec *spec)
{
	spec->threads[0].xstate_size = CKPT_MAX_XSTATE + 64;
}

static void no_threads_but_counted(struct image_spec *spec)
{
	spec->thread_count = 0;
}

static void mapping_a_directory(struct image_spec *spec)
{
	spec->vmas[0].file_id = 3;
}

static void no_vmas(struct image_spec *spec)
{
	spec->vma_count = 0;
	spec->page_record_count = 0;
}

static void run_across_two_vmas(struct image_spec *spec)
{
	struct spec_page_record *record = &spec->page_records[0];

	record->runs[0] = (struct ckpt_page_run){ SPEC_DATA_START + 0x1000, 2 };
	record->runs[1] = (struct ckpt_page_run){ SPEC_HEAP_START + 0x1000, 1 };
}

static void run_past_the_heap(struct image_spec *spec)
{
	spec->page_records[0].runs[1] = (struct ckpt_page_run){ SPEC_HEAP_START + 0x1000, 2 };
}

static void too_many_pages_in_a_record(struct image_spec *spec)
{
	struct ckpt_vma *heap = &spec->vmas[2];

	heap->end = heap->start + 2 * (uint64_t)CKPT_PAGES_PER_RECORD * CKPT_PAGE_SIZE;
	heap->page_count = CKPT_PAGES_PER_RECORD;
	spec->page_records[0].runs[1].pages = CKPT_PAGES_PER_RECORD;
}

struct spec_case {
	const char *name;
	void (*change)(struct image_spec *spec);
	const char *expected;
};

static const struct spec_case spec_cases[] = {
	{ "HEAD kernel release not terminated", kernel_release_not_terminated, "unterminated string" },
	{ "HEAD tool version not terminated", tool_version_not_terminated, "unterminated string" },
	{ "PROCESS comm not terminated", comm_not_terminated, "comm is not terminated" },
	{ "PROCESS cwd too long", cwd_too_long, "cwd" },
	{ "PROCESS empty cwd", cwd_empty, "cwd is not an absolute" },
	{ "THREAD comm not terminated", thread_comm_not_terminated, "comm is not terminated" },
	{ "FILE path too long", path_too_long, "path" },
	{ "FILE path not terminated (consistent length)", path_not_terminated, "NUL-terminated" },
	{ "FILE empty path", path_empty, "path is not an absolute" },
	{ "MM auxv not in pairs", auxv_odd, "auxv is not made of pairs" },
	{ "MM auxv too long", auxv_too_long, "auxv length" },
	{ "THREAD xstate too small", xstate_too_small, "xstate size out of range" },
	{ "THREAD over the record limit", xstate_over_record_limit, "claims" },
	{ "THREAD missing", no_threads_but_counted, "where THREAD was expected" },
	{ "VMA mapping a directory", mapping_a_directory, "one of the wrong kind (3)" },
	{ "no VMA at all", no_vmas, "no VMA records" },
	{ "PAGES run across two VMAs", run_across_two_vmas, "outside any VMA" },
	{ "PAGES run past the end of the heap", run_past_the_heap, "outside any VMA" },
	{ "PAGES record with 1025 pages", too_many_pages_in_a_record, "page count out of range" },
};

static void run_spec_case(const struct spec_case *bad)
{
	struct image_spec spec;
	struct image_bytes bytes;

	spec_init_valid(&spec, SPEC_PID);
	bad->change(&spec);
	valid_bytes(&spec, &bytes);
	expect_rejected(bad->name, &bytes, bad->expected);
	image_bytes_release(&bytes);
}

static void test_spec_cases(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(spec_cases); i++)
		run_spec_case(&spec_cases[i]);
}

/* ---- framing: headers, truncation, record order ---- */

static void set_header_word(struct image_bytes *bytes, size_t at, size_t field_offset,
			    uint64_t value, unsigned width)
{
	memcpy(bytes->data + at + field_offset, &value, width);
}

static void unknown_type_0(struct image_bytes *bytes)
{
	size_t at = image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0);

	set_header_word(bytes, at, offsetof(struct ckpt_record_header, type), 0, 4);
	image_bytes_reseal(bytes, at);
}

static void unknown_type_past_the_last(struct image_bytes *bytes)
{
	size_t at = image_bytes_find(bytes, CKPT_RECORD_VMA, 2);

	set_header_word(bytes, at, offsetof(struct ckpt_record_header, type),
			CKPT_RECORD_TYPE_COUNT, 4);
	image_bytes_reseal(bytes, at);
}

static void unknown_record_inserted(struct image_bytes *bytes)
{
	uint64_t payload[4] = { 1, 2, 3, 4 };

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0), 99,
				  payload, sizeof(payload));
}

static void header_flags(struct image_bytes *bytes)
{
	size_t at = image_bytes_find(bytes, CKPT_RECORD_CREDS, 0);

	set_header_word(bytes, at, offsetof(struct ckpt_record_header, flags), 1, 4);
	image_bytes_reseal(bytes, at);
}

static void header_reserved(struct image_bytes *bytes)
{
	size_t at = image_bytes_find(bytes, CKPT_RECORD_MM, 0);

	set_header_word(bytes, at, offsetof(struct ckpt_record_header, reserved), 1, 4);
}

static void head_length_over_limit(struct image_bytes *bytes)
{
	set_header_word(bytes, 0, offsetof(struct ckpt_record_header, length), 1ull << 40, 8);
}

static void pages_length_over_limit(struct image_bytes *bytes)
{
	size_t at = image_bytes_find(bytes, CKPT_RECORD_PAGES, 0);
	uint64_t limit = sizeof(struct ckpt_pages) +
			 CKPT_MAX_PAGE_RUNS * sizeof(struct ckpt_page_run) +
			 (uint64_t)CKPT_PAGES_PER_RECORD * CKPT_PAGE_SIZE;

	set_header_word(bytes, at, offsetof(struct ckpt_record_header, length), limit + 1, 8);
}

static void creds_length_over_limit(struct image_bytes *bytes)
{
	size_t at = image_bytes_find(bytes, CKPT_RECORD_CREDS, 0);

	set_header_word(bytes, at, offsetof(struct ckpt_record_header, length), UINT64_MAX, 8);
}

static void length_beyond_the_end(struct image_bytes *bytes)
{
	size_t at = image_bytes_find(bytes, CKPT_RECORD_TAIL, 0);

	set_header_word(bytes, at, offsetof(struct ckpt_record_header, length), 1000, 8);
}

static void checksum_flipped(struct image_bytes *bytes)
{
	size_t at = image_bytes_find(bytes, CKPT_RECORD_RLIMITS, 0);

	bytes->data[at + offsetof(struct ckpt_record_header, checksum)] ^= 0x10;
}

static void runs_flipped(struct image_bytes *bytes)
{
	size_t at = image_bytes_find(bytes, CKPT_RECORD_PAGES, 0);

	image_bytes_payload(bytes, at)[sizeof(struct ckpt_pages) + 17] ^= 0x01;
}

static void page_data_flipped(struct image_bytes *bytes)
{
	size_t at = image_bytes_find(bytes, CKPT_RECORD_PAGES, 1);
	struct ckpt_record_header header = image_bytes_header(bytes, at);

	image_bytes_payload(bytes, at)[header.length - 1] ^= 0x80;
}

static void empty(struct image_bytes *bytes)
{
	image_bytes_truncate(bytes, 0);
}

static void head_only(struct image_bytes *bytes)
{
	image_bytes_truncate(bytes, image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0));
}

static void cut_mid_header(struct image_bytes *bytes)
{
	image_bytes_truncate(bytes, image_bytes_find(bytes, CKPT_RECORD_CREDS, 0) + 10);
}

static void cut_mid_payload(struct image_bytes *bytes)
{
	image_bytes_truncate(bytes, image_bytes_find(bytes, CKPT_RECORD_PAGES, 1) + 5000);
}

static void cut_before_mm(struct image_bytes *bytes)
{
	image_bytes_truncate(bytes, image_bytes_find(bytes, CKPT_RECORD_MM, 0));
}

static void cut_before_thread(struct image_bytes *bytes)
{
	image_bytes_truncate(bytes, image_bytes_find(bytes, CKPT_RECORD_THREAD, 0));
}

static void cut_among_vmas(struct image_bytes *bytes)
{
	image_bytes_truncate(bytes, image_bytes_find(bytes, CKPT_RECORD_VMA, 3));
}

static void cut_before_tail(struct image_bytes *bytes)
{
	image_bytes_truncate(bytes, image_bytes_find(bytes, CKPT_RECORD_TAIL, 0));
}

static void process_first(struct image_bytes *bytes)
{
	image_bytes_move_record(bytes, image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0), 0);
}

static void head_twice(struct image_bytes *bytes)
{
	struct ckpt_record_header header = image_bytes_header(bytes, 0);

	image_bytes_insert_record(bytes, 0, CKPT_RECORD_HEAD, image_bytes_payload(bytes, 0),
				  header.length);
}

static void remove_first(struct image_bytes *bytes, enum ckpt_record_type type)
{
	image_bytes_remove_record(bytes, image_bytes_find(bytes, type, 0));
}

static void creds_missing(struct image_bytes *bytes)
{
	remove_first(bytes, CKPT_RECORD_CREDS);
}

static void rlimits_missing(struct image_bytes *bytes)
{
	remove_first(bytes, CKPT_RECORD_RLIMITS);
}

static void sigactions_missing(struct image_bytes *bytes)
{
	remove_first(bytes, CKPT_RECORD_SIGACTIONS);
}

static void mm_missing(struct image_bytes *bytes)
{
	remove_first(bytes, CKPT_RECORD_MM);
}

static void file_after_fd(struct image_bytes *bytes)
{
	image_bytes_move_record(bytes, image_bytes_find(bytes, CKPT_RECORD_FILE, 2),
				image_bytes_find(bytes, CKPT_RECORD_FD, 1));
}

static void vma_before_thread(struct image_bytes *bytes)
{
	image_bytes_move_record(bytes, image_bytes_find(bytes, CKPT_RECORD_VMA, 0),
				image_bytes_find(bytes, CKPT_RECORD_THREAD, 0));
}

static void thread_among_vmas(struct image_bytes *bytes)
{
	size_t thread = image_bytes_find(bytes, CKPT_RECORD_THREAD, 0);
	struct ckpt_record_header header = image_bytes_header(bytes, thread);
	unsigned char *copy = malloc(header.length + 1);

	if (!copy)
		abort();
	memcpy(copy, image_bytes_payload(bytes, thread), header.length);
	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_VMA, 7),
				  CKPT_RECORD_THREAD, copy, header.length);
	free(copy);
}

static void vmas_swapped(struct image_bytes *bytes)
{
	image_bytes_move_record(bytes, image_bytes_find(bytes, CKPT_RECORD_VMA, 3),
				image_bytes_find(bytes, CKPT_RECORD_VMA, 2));
}

static void vma_among_pages(struct image_bytes *bytes)
{
	image_bytes_move_record(bytes, image_bytes_find(bytes, CKPT_RECORD_VMA, 7),
				image_bytes_find(bytes, CKPT_RECORD_PAGES, 1));
}

static void fd_among_vmas(struct image_bytes *bytes)
{
	image_bytes_move_record(bytes, image_bytes_find(bytes, CKPT_RECORD_FD, 4),
				image_bytes_find(bytes, CKPT_RECORD_VMA, 7));
}

static void data_after_tail(struct image_bytes *bytes)
{
	struct ckpt_record_header header = image_bytes_header(bytes, 0);

	image_bytes_insert_record(bytes, bytes->length, CKPT_RECORD_HEAD,
				  image_bytes_payload(bytes, 0), header.length);
}

static void replace_with_zeros(struct image_bytes *bytes, enum ckpt_record_type type, uint64_t length)
{
	unsigned char zeros[512] = { 0 };

	image_bytes_replace_payload(bytes, image_bytes_find(bytes, type, 0), zeros, length);
}

static void head_short(struct image_bytes *bytes)
{
	struct ckpt_head head;

	memcpy(&head, image_bytes_payload(bytes, 0), sizeof(head));
	image_bytes_replace_payload(bytes, 0, &head, sizeof(head) - 1);
}

static void process_short(struct image_bytes *bytes)
{
	replace_with_zeros(bytes, CKPT_RECORD_PROCESS, sizeof(struct ckpt_process) - 1);
}

static void creds_short(struct image_bytes *bytes)
{
	replace_with_zeros(bytes, CKPT_RECORD_CREDS, sizeof(struct ckpt_creds) - 4);
}

static void rlimits_long(struct image_bytes *bytes)
{
	replace_with_zeros(bytes, CKPT_RECORD_RLIMITS, sizeof(struct ckpt_rlimits) + 16);
}

static void sigactions_short(struct image_bytes *bytes)
{
	replace_with_zeros(bytes, CKPT_RECORD_SIGACTIONS, 8);
}

static void file_short(struct image_bytes *bytes)
{
	replace_with_zeros(bytes, CKPT_RECORD_FILE, sizeof(struct ckpt_file) - 8);
}

static void fd_long(struct image_bytes *bytes)
{
	replace_with_zeros(bytes, CKPT_RECORD_FD, sizeof(struct ckpt_fd) + 4);
}

static void mm_short(struct image_bytes *bytes)
{
	replace_with_zeros(bytes, CKPT_RECORD_MM, sizeof(struct ckpt_mm) - 8);
}

static void thread_short(struct image_bytes *bytes)
{
	replace_with_zeros(bytes, CKPT_RECORD_THREAD, sizeof(struct ckpt_thread) - 8);
}

static void vma_short(struct image_bytes *bytes)
{
	replace_with_zeros(bytes, CKPT_RECORD_VMA, sizeof(struct ckpt_vma) - 8);
}

static void pages_short(struct image_bytes *bytes)
{
	replace_with_zeros(bytes, CKPT_RECORD_PAGES, sizeof(struct ckpt_pages) - 8);
}

static void tail_long(struct image_bytes *bytes)
{
	replace_with_zeros(bytes, CKPT_RECORD_TAIL, sizeof(struct ckpt_tail) + 8);
}

static void insert_seccomp_after_thread(struct image_bytes *bytes, int32_t tid)
{
	struct {
		struct ckpt_seccomp filter;
		uint64_t code;
	} record = { { .tid = tid, .instruction_count = 1 }, 0x7fff000000000006ull };

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_VMA, 0),
				  CKPT_RECORD_SECCOMP, &record, sizeof(record));
}

static void seccomp_for_no_thread(struct image_bytes *bytes)
{
	insert_seccomp_after_thread(bytes, 4242);
}

static void seccomp_not_counted(struct image_bytes *bytes)
{
	insert_seccomp_after_thread(bytes, SPEC_PID);
}

static void seccomp_among_vmas(struct image_bytes *bytes)
{
	struct {
		struct ckpt_seccomp filter;
		uint64_t code;
	} record = { { .tid = SPEC_PID, .instruction_count = 1 }, 0x7fff000000000006ull };

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_VMA, 7),
				  CKPT_RECORD_SECCOMP, &record, sizeof(record));
}

struct bytes_case {
	const char *name;
	void (*change)(struct image_bytes *bytes);
	const char *expected;
};

static const struct bytes_case bytes_cases[] = {
	{ "header type 0", unknown_type_0, "unknown record type 0" },
	{ "header type past the last", unknown_type_past_the_last,
	  "unknown record type 34" }, /* CKPT_RECORD_TYPE_COUNT */
	{ "record of an unknown type", unknown_record_inserted, "unknown record type 99" },
	{ "header flags", header_flags, "unknown flags" },
	{ "header reserved field", header_reserved, "unknown flags" },
	{ "HEAD claims 1 TiB", head_length_over_limit, "claims 1099511627776 bytes (limit" },
	{ "PAGES one byte over the limit", pages_length_over_limit, "claims" },
	{ "CREDS claims 2^64-1 bytes", creds_length_over_limit, "claims" },
	{ "length past the end of the stream", length_beyond_the_end, "truncated" },
	{ "checksum", checksum_flipped, "checksum mismatch in RLIMITS" },
	{ "PAGES runs under the checksum", runs_flipped, "checksum mismatch in PAGES" },
	{ "PAGES data under the hash", page_data_flipped, "does not match its hash" },
	{ "empty stream", empty, "(empty image)" },
	{ "HEAD only", head_only, "stream ends before its" },
	{ "cut inside a header", cut_mid_header, "truncated: record header" },
	{ "cut inside a payload", cut_mid_payload, "truncated: PAGES record" },
	{ "cut before MM", cut_before_mm, "stream ends before its MM record" },
	{ "cut before THREAD", cut_before_thread, "stream ends before its THREAD record" },
	{ "cut among the VMAs", cut_among_vmas, "without a tail record" },
	{ "cut before the tail", cut_before_tail, "without a tail record" },
	{ "PROCESS first", process_first, "PROCESS record at byte 0 where HEAD was expected" },
	{ "HEAD twice", head_twice, "HEAD record at byte 184 where TREE was expected" },
	{ "CREDS missing", creds_missing, "where CREDS was expected" },
	{ "RLIMITS missing", rlimits_missing, "where RLIMITS was expected" },
	{ "SIGACTIONS missing", sigactions_missing, "where SIGACTIONS was expected" },
	{ "MM missing", mm_missing, "where FD, FILE_LOCK or MM was expected" },
	{ "FILE after FD", file_after_fd, "FILE record at byte" },
	{ "VMA before THREAD", vma_before_thread, "where THREAD was expected" },
	{ "THREAD among the VMAs", thread_among_vmas, "THREAD record at byte" },
	{ "SECCOMP for a thread not in the image", seccomp_for_no_thread,
	  "a seccomp filter for thread 4242, not in the image" },
	{ "SECCOMP the THREAD record does not count", seccomp_not_counted,
	  "more seccomp filters for thread" },
	{ "SECCOMP among the VMAs", seccomp_among_vmas, "SECCOMP record at byte" },
	{ "VMAs out of order", vmas_swapped, "overlaps or precedes" },
	{ "VMA among the pages", vma_among_pages, "VMA record among the pages" },
	{ "FD among the VMAs", fd_among_vmas, "where VMA, PAGES, PROCESS or TAIL was expected" },
	{ "data after the tail", data_after_tail, "data after the tail" },
	{ "HEAD one byte short", head_short, "HEAD record: wrong size" },
	{ "PROCESS shorter than its struct", process_short, "cwd length" },
	{ "CREDS shorter than its struct", creds_short, "group count" },
	{ "RLIMITS too long", rlimits_long, "RLIMITS record: wrong size" },
	{ "SIGACTIONS too short", sigactions_short, "SIGACTIONS record: wrong size" },
	{ "FILE shorter than its struct", file_short, "path length" },
	{ "FD too long", fd_long, "FD record: wrong size" },
	{ "MM shorter than its struct", mm_short, "auxv length" },
	{ "THREAD shorter than its struct", thread_short, "xstate size" },
	{ "VMA too short", vma_short, "VMA record: wrong size" },
	{ "PAGES too short", pages_short, "PAGES record: too short" },
	{ "TAIL too long", tail_long, "TAIL record: wrong size" },
};

static void test_bytes_cases(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(bytes_cases); i++) {
		struct image_bytes bytes;

		default_bytes(&bytes);
		bytes_cases[i].change(&bytes);
		expect_rejected(bytes_cases[i].name, &bytes, bytes_cases[i].expected);
		image_bytes_release(&bytes);
	}
}

/* Flips one bit of the record's checksum, then one byte of its payload;
 * leaves the image as it was. */
static void flip_record(struct image_bytes *image, size_t index)
{
	size_t at = image_bytes_record_offset(image, index);
	struct ckpt_record_header header = image_bytes_header(image, at);
	unsigned char *checksum = image->data + at + offsetof(struct ckpt_record_header, checksum);
	unsigned char *middle = image_bytes_payload(image, at) + header.length / 2;
	const char *type = record_type_name(header.type);
	char name[64];

	*checksum ^= 0x01;
	snprintf(name, sizeof(name), "checksum of record %zu (%s) flipped", index, type);
	expect_rejected(name, image, "checksum mismatch");
	*checksum ^= 0x01;
	*middle ^= 0x40;
	snprintf(name, sizeof(name), "payload byte of record %zu (%s) flipped", index, type);
	expect_rejected(name, image, header.type == CKPT_RECORD_PAGES ? "hash" : "checksum mismatch");
	*middle ^= 0x40;
}

/* A checksum bit and a payload byte of every record, flipped in turn. */
static void test_every_record_flipped(void)
{
	struct image_bytes good;
	size_t records;

	default_bytes(&good);
	records = image_bytes_record_count(&good);
	for (size_t i = 0; i < records; i++)
		flip_record(&good, i);
	expect_accepted("the image after flipping every byte back", &good);
	image_bytes_release(&good);
}

/* ---- validate_record() rules the reader cannot reach ---- */

static void test_validate_directly(void)
{
	struct {
		struct ckpt_thread thread;
		unsigned char xstate[CKPT_MAX_XSTATE + 64];
	} big = { .thread = { .tid = 1, .xstate_size = CKPT_MAX_XSTATE + 64 } };
	struct ckpt_error err = { 0 };
	int ret;

	ret = validate_record(CKPT_RECORD_THREAD, &big, sizeof(big), &err);
	check(ret < 0 && strstr(err.message, "xstate size out of range"),
	      "validate_record: THREAD xstate over the limit: %d \"%s\"", ret, err.message);
	memset(&err, 0, sizeof(err));
	ret = validate_record((enum ckpt_record_type)0, &big, sizeof(big), &err);
	check(ret < 0 && strstr(err.message, "unknown record type 0"),
	      "validate_record: type 0: %d \"%s\"", ret, err.message);
	memset(&err, 0, sizeof(err));
	ret = validate_record(CKPT_RECORD_TYPE_COUNT, &big, sizeof(big), &err);
	check(ret < 0 && strstr(err.message, "unknown record type"),
	      "validate_record: type past the last: %d \"%s\"", ret, err.message);
	check(strcmp(record_type_name(0), "unknown") == 0 &&
		      strcmp(record_type_name(99), "unknown") == 0 &&
		      strcmp(record_type_name(CKPT_RECORD_TAIL), "TAIL") == 0,
	      "record_type_name of unknown types");
}

static void expect_validation(enum ckpt_record_type type, const void *payload, size_t length,
			      const char *expected, const char *what)
{
	struct ckpt_error err = { 0 };
	int ret = validate_record(type, payload, length, &err);

	if (!expected)
		check(ret == 0, "validate_record: %s: rejected: \"%s\"", what, err.message);
	else
		check(ret < 0 && strstr(err.message, expected), "validate_record: %s: %d \"%s\"",
		      what, ret, err.message);
}

/* A FILE record of the given kind and name. */
static void expect_file_name(uint32_t kind, const char *name, const char *expected)
{
	struct {
		struct ckpt_file file;
		char path[32];
	} record = { .file = { .id = 1, .kind = kind, .path_length = (uint32_t)strlen(name) + 1 } };

	snprintf(record.path, sizeof(record.path), "%s", name);
	expect_validation(CKPT_RECORD_FILE, &record, sizeof(record.file) + record.file.path_length,
			  expected, name);
}

static void test_validate_event_files(void)
{
	expect_file_name(CKPT_FILE_EVENTFD, "anon_inode:[eventfd]", NULL);
	expect_file_name(CKPT_FILE_EPOLL, "anon_inode:[eventpoll]", NULL);
	expect_file_name(CKPT_FILE_TIMERFD, "/tmp/timer", "not an absolute");
	expect_file_name(CKPT_FILE_REGULAR, "anon_inode:[eventfd]", "not an absolute");
	expect_file_name(CKPT_FILE_INOTIFY, "anon_inode:inotify", NULL);
	expect_file_name(CKPT_FILE_INOTIFY, "/tmp/inotify", "not an absolute");
	expect_file_name(99, "/tmp/file", "bad id or kind");
}

static void test_validate_inotify_records(void)
{
	struct ckpt_inotify inotify = { .file_id = 1, .watch_count = 2 };
	struct {
		struct ckpt_inotify_watch watch;
		char path[8];
	} record = { { .file_id = 1, .path_length = 5, .wd = 3, .mask = IN_CREATE | IN_ONESHOT },
		     "/tmp" };
	size_t size = sizeof(record.watch) + 5;

	expect_validation(CKPT_RECORD_INOTIFY, &inotify, sizeof(inotify), NULL, "INOTIFY");
	expect_validation(CKPT_RECORD_INOTIFY, &inotify, sizeof(inotify) + 1, "wrong size",
			  "INOTIFY long");
	inotify.watch_count = CKPT_MAX_INOTIFY_WATCHES + 1;
	expect_validation(CKPT_RECORD_INOTIFY, &inotify, sizeof(inotify), "more than 65536 watches",
			  "INOTIFY watch count");
	inotify = (struct ckpt_inotify){ .file_id = 0 };
	expect_validation(CKPT_RECORD_INOTIFY, &inotify, sizeof(inotify), "no file", "INOTIFY file");
	expect_validation(CKPT_RECORD_INOTIFY_WATCH, &record, size, NULL, "INOTIFY_WATCH");
	expect_validation(CKPT_RECORD_INOTIFY_WATCH, &record, size + 1, "size does not match",
			  "INOTIFY_WATCH long");
	record.watch.wd = 0;
	expect_validation(CKPT_RECORD_INOTIFY_WATCH, &record, size, "wd out of range",
			  "INOTIFY_WATCH wd 0");
	record.watch.wd = CKPT_MAX_INOTIFY_WD + 1;
	expect_validation(CKPT_RECORD_INOTIFY_WATCH, &record, size, "wd out of range",
			  "INOTIFY_WATCH wd high");
	record.watch.wd = 3;
	record.watch.mask = IN_ONESHOT;
	expect_validation(CKPT_RECORD_INOTIFY_WATCH, &record, size, "no event",
			  "INOTIFY_WATCH no event");
	record.watch.mask = IN_CREATE | 0x1000;
	expect_validation(CKPT_RECORD_INOTIFY_WATCH, &record, size, "unknown bits",
			  "INOTIFY_WATCH mask");
	record.watch.mask = IN_CREATE;
	record.path[0] = 't';
	expect_validation(CKPT_RECORD_INOTIFY_WATCH, &record, size, "not absolute",
			  "INOTIFY_WATCH path");
	record.path[0] = '/';
	record.path[4] = 'x';
	expect_validation(CKPT_RECORD_INOTIFY_WATCH, &record, size, "NUL-terminated",
			  "INOTIFY_WATCH string");
	record.path[4] = '\0';
	record.watch.file_id = 0;
	expect_validation(CKPT_RECORD_INOTIFY_WATCH, &record, size, "no file", "INOTIFY_WATCH file");
}

static void test_validate_seccomp_record(void)
{
	struct {
		struct ckpt_seccomp filter;
		uint64_t code[2];
	} record = { { .tid = 7, .flags = CKPT_SECCOMP_LOG, .instruction_count = 2 }, { 0, 0 } };

	expect_validation(CKPT_RECORD_SECCOMP, &record, sizeof(record), NULL, "SECCOMP");
	expect_validation(CKPT_RECORD_SECCOMP, &record, sizeof(record) - 8,
			  "size does not match its instruction count", "SECCOMP short");
	record.filter.instruction_count = CKPT_MAX_SECCOMP_INSTRUCTIONS + 1;
	expect_validation(CKPT_RECORD_SECCOMP, &record, sizeof(record), "size does not match",
			  "SECCOMP count over the limit");
	record.filter = (struct ckpt_seccomp){ .tid = 0, .instruction_count = 2 };
	expect_validation(CKPT_RECORD_SECCOMP, &record, sizeof(record), "bad tid", "SECCOMP tid 0");
	record.filter = (struct ckpt_seccomp){ .tid = 7, .instruction_count = 2, .reserved = 1 };
	expect_validation(CKPT_RECORD_SECCOMP, &record, sizeof(record), "reserved field set",
			  "SECCOMP reserved");
	record.filter = (struct ckpt_seccomp){ .tid = 7, .instruction_count = 2, .flags = 2 };
	expect_validation(CKPT_RECORD_SECCOMP, &record, sizeof(record), "unknown flags",
			  "SECCOMP flags");
	record.filter = (struct ckpt_seccomp){ .tid = 7, .instruction_count = 0 };
	expect_validation(CKPT_RECORD_SECCOMP, &record, sizeof(record.filter), "empty program",
			  "SECCOMP empty");
}

static void test_validate_event_records(void)
{
	struct ckpt_eventfd eventfd = { .file_id = 1, .flags = CKPT_EVENTFD_SEMAPHORE, .counter = 5 };
	struct ckpt_timerfd timerfd = {
		.file_id = 2, .clock_id = 1, .interval_ns = 10, .remaining_ns = 5
	};
	struct ckpt_signalfd signalfd = { .file_id = 3, .mask = 1u << 9 };
	struct ckpt_epoll_target target = {
		.epoll_file_id = 4, .target_file_id = 1, .fd = 7, .events = 1
	};

	expect_validation(CKPT_RECORD_EVENTFD, &eventfd, sizeof(eventfd), NULL, "EVENTFD");
	expect_validation(CKPT_RECORD_TIMERFD, &timerfd, sizeof(timerfd), NULL, "TIMERFD");
	expect_validation(CKPT_RECORD_SIGNALFD, &signalfd, sizeof(signalfd), NULL, "SIGNALFD");
	expect_validation(CKPT_RECORD_EPOLL_TARGET, &target, sizeof(target), NULL, "EPOLL_TARGET");
	expect_validation(CKPT_RECORD_EVENTFD, &eventfd, sizeof(eventfd) - 1, "wrong size",
			  "EVENTFD short");
	eventfd.flags = 2;
	expect_validation(CKPT_RECORD_EVENTFD, &eventfd, sizeof(eventfd), "unknown flags",
			  "EVENTFD flags");
	eventfd = (struct ckpt_eventfd){ .file_id = 1, .counter = UINT64_MAX };
	expect_validation(CKPT_RECORD_EVENTFD, &eventfd, sizeof(eventfd), "counter out of range",
			  "EVENTFD counter");
	timerfd.clock_id = 4;
	expect_validation(CKPT_RECORD_TIMERFD, &timerfd, sizeof(timerfd), "clock not usable",
			  "TIMERFD clock");
	timerfd.clock_id = 0;
	timerfd.settime_flags = 4;
	expect_validation(CKPT_RECORD_TIMERFD, &timerfd, sizeof(timerfd), "unknown flags",
			  "TIMERFD flags");
	timerfd.settime_flags = CKPT_TIMERFD_ABSTIME;
	timerfd.interval_ns = UINT64_MAX;
	expect_validation(CKPT_RECORD_TIMERFD, &timerfd, sizeof(timerfd), "time out of range",
			  "TIMERFD interval");
	timerfd.interval_ns = 0;
	timerfd.expiry_ns = UINT64_MAX;
	expect_validation(CKPT_RECORD_TIMERFD, &timerfd, sizeof(timerfd), "expiry or ticks",
			  "TIMERFD expiry");
	signalfd.reserved = 1;
	expect_validation(CKPT_RECORD_SIGNALFD, &signalfd, sizeof(signalfd), "reserved",
			  "SIGNALFD reserved");
	target.fd = -1;
	expect_validation(CKPT_RECORD_EPOLL_TARGET, &target, sizeof(target), "bad fd",
			  "EPOLL_TARGET fd");
	target.fd = 7;
	target.target_file_id = 4;
	expect_validation(CKPT_RECORD_EPOLL_TARGET, &target, sizeof(target), "watching itself",
			  "EPOLL_TARGET self");
	target.epoll_file_id = 0;
	expect_validation(CKPT_RECORD_EPOLL_TARGET, &target, sizeof(target), "no epoll",
			  "EPOLL_TARGET no epoll");
	target = (struct ckpt_epoll_target){ .epoll_file_id = 4, .fd = 1, .events = 4 };
	expect_validation(CKPT_RECORD_EPOLL_TARGET, &target, sizeof(target), NULL,
			  "EPOLL_TARGET on fd 1 taken over");
	target.fd = 3;
	expect_validation(CKPT_RECORD_EPOLL_TARGET, &target, sizeof(target),
			  "no file for an fd above 2", "EPOLL_TARGET without a file");
	check(strcmp(record_type_name(CKPT_RECORD_EPOLL_TARGET), "EPOLL_TARGET") == 0 &&
		      strcmp(record_type_name(99), "unknown") == 0,
	      "record_type_name of the event records");
}

static void test_validate_lock_and_timer_records(void)
{
	struct ckpt_file_lock lock = { .fd = 4,
				       .file_id = 2,
				       .kind = CKPT_LOCK_POSIX,
				       .type = CKPT_LOCK_WRITE,
				       .start = 10,
				       .length = 5 };
	struct ckpt_posix_timer timer = { .id = 3,
					  .clock_id = 1,
					  .notify = CKPT_TIMER_NOTIFY_THREAD_ID,
					  .signal = 34,
					  .thread_id = 100,
					  .value = 0x1234,
					  .interval_ns = 5,
					  .remaining_ns = 7 };

	expect_validation(CKPT_RECORD_FILE_LOCK, &lock, sizeof(lock), NULL, "FILE_LOCK");
	expect_validation(CKPT_RECORD_FILE_LOCK, &lock, sizeof(lock) - 1, "wrong size",
			  "FILE_LOCK short");
	lock.file_id = 0;
	expect_validation(CKPT_RECORD_FILE_LOCK, &lock, sizeof(lock), "no file", "FILE_LOCK no file");
	lock.file_id = 2;
	lock.fd = -1;
	expect_validation(CKPT_RECORD_FILE_LOCK, &lock, sizeof(lock), "negative fd", "FILE_LOCK fd");
	lock.fd = 4;
	lock.kind = 5;
	expect_validation(CKPT_RECORD_FILE_LOCK, &lock, sizeof(lock), "unknown lock kind",
			  "FILE_LOCK kind");
	lock.kind = CKPT_LOCK_OFD;
	lock.type = 3;
	expect_validation(CKPT_RECORD_FILE_LOCK, &lock, sizeof(lock), "unknown lock type",
			  "FILE_LOCK type");
	lock.type = CKPT_LOCK_READ;
	lock.start = (uint64_t)INT64_MAX;
	expect_validation(CKPT_RECORD_FILE_LOCK, &lock, sizeof(lock), "range out of range",
			  "FILE_LOCK range");
	lock.kind = CKPT_LOCK_FLOCK;
	expect_validation(CKPT_RECORD_FILE_LOCK, &lock, sizeof(lock),
			  "a range on a whole-file lock", "FILE_LOCK flock range");
	expect_validation(CKPT_RECORD_POSIX_TIMER, &timer, sizeof(timer), NULL, "POSIX_TIMER");
	expect_validation(CKPT_RECORD_POSIX_TIMER, &timer, sizeof(timer) + 1, "wrong size",
			  "POSIX_TIMER long");
	timer.thread_id = 0;
	expect_validation(CKPT_RECORD_POSIX_TIMER, &timer, sizeof(timer), "thread set without",
			  "POSIX_TIMER no thread");
	timer.notify = CKPT_TIMER_NOTIFY_SIGNAL;
	timer.thread_id = 100;
	expect_validation(CKPT_RECORD_POSIX_TIMER, &timer, sizeof(timer), "thread set without",
			  "POSIX_TIMER stray thread");
	timer.thread_id = 0;
	timer.notify = 5;
	expect_validation(CKPT_RECORD_POSIX_TIMER, &timer, sizeof(timer), "unknown notification",
			  "POSIX_TIMER notify");
	timer.notify = CKPT_TIMER_NOTIFY_SIGNAL;
	timer.signal = 0;
	expect_validation(CKPT_RECORD_POSIX_TIMER, &timer, sizeof(timer), "signal out of range",
			  "POSIX_TIMER signal");
	timer.notify = CKPT_TIMER_NOTIFY_NONE;
	expect_validation(CKPT_RECORD_POSIX_TIMER, &timer, sizeof(timer), NULL,
			  "POSIX_TIMER SIGEV_NONE");
	timer.id = -1;
	expect_validation(CKPT_RECORD_POSIX_TIMER, &timer, sizeof(timer), "negative id",
			  "POSIX_TIMER id");
	timer.id = 3;
	timer.remaining_ns = UINT64_MAX;
	expect_validation(CKPT_RECORD_POSIX_TIMER, &timer, sizeof(timer), "time out of range",
			  "POSIX_TIMER time");
	check(strcmp(record_type_name(CKPT_RECORD_FILE_LOCK), "FILE_LOCK") == 0 &&
		      strcmp(record_type_name(CKPT_RECORD_POSIX_TIMER), "POSIX_TIMER") == 0,
	      "record_type_name of the lock and timer records");
}

static void test_validate_unix_socket_records(void)
{
	struct ckpt_unix_socket end = { .file_id = 1,
					.type = SOCK_STREAM,
					.peer_file_id = 2,
					.shutdown = CKPT_UNIX_SHUT_WR,
					.rcvbuf = 4096,
					.sndbuf = 4096 };
	struct {
		struct ckpt_socket_queue queue;
		char data[4];
	} queue = { { .file_id = 1, .length = 4 }, "abc" };

	expect_file_name(CKPT_FILE_UNIX_SOCKET, "socket:[1234]", NULL);
	expect_file_name(CKPT_FILE_UNIX_SOCKET, "/tmp/socket", "not an absolute");
	expect_validation(CKPT_RECORD_UNIX_SOCKET, &end, sizeof(end), NULL, "UNIX_SOCKET");
	expect_validation(CKPT_RECORD_UNIX_SOCKET, &end, sizeof(end) - 1, "wrong size",
			  "UNIX_SOCKET short");
	end.type = SOCK_RAW;
	expect_validation(CKPT_RECORD_UNIX_SOCKET, &end, sizeof(end), "not a stream",
			  "UNIX_SOCKET type");
	end.type = SOCK_SEQPACKET;
	end.peer_file_id = 1;
	expect_validation(CKPT_RECORD_UNIX_SOCKET, &end, sizeof(end), "its own peer",
			  "UNIX_SOCKET own peer");
	end.peer_file_id = 2;
	end.shutdown = 4;
	expect_validation(CKPT_RECORD_UNIX_SOCKET, &end, sizeof(end), "unknown shutdown",
			  "UNIX_SOCKET shutdown");
	end.shutdown = 0;
	end.rcvbuf = UINT32_MAX;
	expect_validation(CKPT_RECORD_UNIX_SOCKET, &end, sizeof(end), "buffer size",
			  "UNIX_SOCKET rcvbuf");
	end.rcvbuf = 0;
	end.reserved = 1;
	expect_validation(CKPT_RECORD_UNIX_SOCKET, &end, sizeof(end), "reserved",
			  "UNIX_SOCKET reserved");
	expect_validation(CKPT_RECORD_SOCKET_QUEUE, &queue, sizeof(queue.queue) + 4, NULL,
			  "SOCKET_QUEUE");
	expect_validation(CKPT_RECORD_SOCKET_QUEUE, &queue, sizeof(queue.queue) + 3,
			  "does not match", "SOCKET_QUEUE length");
	queue.queue.file_id = 0;
	expect_validation(CKPT_RECORD_SOCKET_QUEUE, &queue, sizeof(queue.queue) + 4, "no file",
			  "SOCKET_QUEUE file");
	check(strcmp(record_type_name(CKPT_RECORD_UNIX_SOCKET), "UNIX_SOCKET") == 0 &&
		      strcmp(record_type_name(CKPT_RECORD_SOCKET_QUEUE), "SOCKET_QUEUE") == 0,
	      "record_type_name of the socket records");
}

static void test_validate_inet_socket_records(void)
{
	struct ckpt_inet_socket sock = { .file_id = 1,
					 .family = AF_INET,
					 .type = SOCK_STREAM,
					 .state = CKPT_INET_LISTENING,
					 .local_port = 80,
					 .backlog = 5,
					 .flags = CKPT_INET_REUSEADDR | CKPT_INET_NODELAY };
	struct {
		struct ckpt_inet_datagram datagram;
		char data[4];
	} datagram = { { .file_id = 1, .length = 4, .source_port = 53, .source_family = AF_INET6 },
		       "abc" };

	expect_file_name(CKPT_FILE_INET_SOCKET, "socket:[1234]", NULL);
	expect_file_name(CKPT_FILE_INET_SOCKET, "/tmp/socket", "not an absolute");
	expect_validation(CKPT_RECORD_INET_SOCKET, &sock, sizeof(sock), NULL, "INET_SOCKET");
	expect_validation(CKPT_RECORD_INET_SOCKET, &sock, sizeof(sock) + 1, "wrong size",
			  "INET_SOCKET long");
	sock.family = AF_UNIX;
	expect_validation(CKPT_RECORD_INET_SOCKET, &sock, sizeof(sock), "not a TCP or UDP",
			  "INET_SOCKET family");
	sock.family = AF_INET;
	sock.type = SOCK_DGRAM;
	expect_validation(CKPT_RECORD_INET_SOCKET, &sock, sizeof(sock), "unknown state",
			  "INET_SOCKET UDP listening");
	sock.type = SOCK_STREAM;
	sock.state = 9;
	expect_validation(CKPT_RECORD_INET_SOCKET, &sock, sizeof(sock), "unknown state",
			  "INET_SOCKET state");
	sock.state = CKPT_INET_LISTENING;
	sock.flags = CKPT_INET_V6ONLY;
	expect_validation(CKPT_RECORD_INET_SOCKET, &sock, sizeof(sock), "unknown flags",
			  "INET_SOCKET v6only on IPv4");
	sock.flags = 1u << 7;
	expect_validation(CKPT_RECORD_INET_SOCKET, &sock, sizeof(sock), "unknown flags",
			  "INET_SOCKET flags");
	sock.flags = 0;
	sock.local_address[8] = 1;
	expect_validation(CKPT_RECORD_INET_SOCKET, &sock, sizeof(sock), "addresses",
			  "INET_SOCKET IPv4 address");
	sock.local_address[8] = 0;
	sock.backlog = UINT32_MAX;
	expect_validation(CKPT_RECORD_INET_SOCKET, &sock, sizeof(sock), "out of range",
			  "INET_SOCKET backlog");
	sock.backlog = 5;
	memset(sock.device, 'x', sizeof(sock.device));
	expect_validation(CKPT_RECORD_INET_SOCKET, &sock, sizeof(sock), "not NUL-terminated",
			  "INET_SOCKET device");
	memset(sock.device, 0, sizeof(sock.device));
	sock.reserved3 = 1;
	expect_validation(CKPT_RECORD_INET_SOCKET, &sock, sizeof(sock), "reserved",
			  "INET_SOCKET reserved");
	expect_validation(CKPT_RECORD_INET_DATAGRAM, &datagram, sizeof(datagram.datagram) + 4, NULL,
			  "INET_DATAGRAM");
	expect_validation(CKPT_RECORD_INET_DATAGRAM, &datagram, sizeof(datagram.datagram) + 3,
			  "does not match", "INET_DATAGRAM length");
	datagram.datagram.source_family = AF_UNIX;
	expect_validation(CKPT_RECORD_INET_DATAGRAM, &datagram, sizeof(datagram.datagram) + 4,
			  "source address", "INET_DATAGRAM family");
	datagram.datagram.file_id = 0;
	expect_validation(CKPT_RECORD_INET_DATAGRAM, &datagram, sizeof(datagram.datagram) + 4,
			  "no file", "INET_DATAGRAM file");
	check(strcmp(record_type_name(CKPT_RECORD_INET_SOCKET), "INET_SOCKET") == 0 &&
		      strcmp(record_type_name(CKPT_RECORD_INET_DATAGRAM), "INET_DATAGRAM") == 0,
	      "record_type_name of the inet socket records");
}

static void test_validate_pipe_records(void)
{
	struct ckpt_pipe end = { .file_id = 2, .pipe_file_id = 1, .pipe_size = 65536 };
	struct {
		struct ckpt_file_data data;
		char bytes[4];
	} data = { { .file_id = 1, .length = 4 }, "abc" };

	expect_file_name(CKPT_FILE_PIPE, "pipe:[1234]", NULL);
	expect_file_name(CKPT_FILE_PIPE, "/tmp/fifo", NULL);
	expect_validation(CKPT_RECORD_PIPE, &end, sizeof(end), NULL, "PIPE");
	expect_validation(CKPT_RECORD_PIPE, &end, sizeof(end) - 1, "wrong size", "PIPE short");
	end.pipe_file_id = 3;
	expect_validation(CKPT_RECORD_PIPE, &end, sizeof(end), "comes after it",
			  "PIPE first FILE later");
	end.pipe_file_id = 0;
	expect_validation(CKPT_RECORD_PIPE, &end, sizeof(end), "no pipe", "PIPE no first FILE");
	end.pipe_file_id = 2;
	end.pipe_size = 65535;
	expect_validation(CKPT_RECORD_PIPE, &end, sizeof(end), "power of two", "PIPE size");
	end.pipe_size = 2048;
	expect_validation(CKPT_RECORD_PIPE, &end, sizeof(end), "power of two", "PIPE size small");
	end.pipe_size = 4096;
	end.flags = 2;
	expect_validation(CKPT_RECORD_PIPE, &end, sizeof(end), "unknown flags", "PIPE flags");
	expect_validation(CKPT_RECORD_FILE_DATA, &data, sizeof(data.data) + 4, NULL, "FILE_DATA");
	expect_validation(CKPT_RECORD_FILE_DATA, &data, sizeof(data.data) + 3, "does not match",
			  "FILE_DATA length");
	data.data.length = 0;
	expect_validation(CKPT_RECORD_FILE_DATA, &data, sizeof(data.data), "no data",
			  "FILE_DATA empty");
	data.data.length = 4;
	data.data.file_id = 0;
	expect_validation(CKPT_RECORD_FILE_DATA, &data, sizeof(data.data) + 4, "no file",
			  "FILE_DATA file");
	check(strcmp(record_type_name(CKPT_RECORD_PIPE), "PIPE") == 0 &&
		      strcmp(record_type_name(CKPT_RECORD_FILE_DATA), "FILE_DATA") == 0,
	      "record_type_name of the pipe records");
}

static void test_validate_tcp_stream_records(void)
{
	struct ckpt_tcp_stream stream = {
		.socket = { .file_id = 1,
			    .family = AF_INET,
			    .type = SOCK_STREAM,
			    .state = CKPT_INET_ESTABLISHED,
			    .local_port = 80,
			    .remote_port = 40000,
			    .local_address = { 127, 0, 0, 1 },
			    .remote_address = { 127, 0, 0, 1 } },
		.send_queue_length = 10,
		.unsent_length = 4,
		.recv_queue_length = 3,
		.mss = 65483,
		.options = CKPT_TCP_TIMESTAMPS | CKPT_TCP_SACK | CKPT_TCP_WSCALE,
		.snd_wscale = 7,
		.rcv_wscale = 7,
	};
	struct {
		struct ckpt_tcp_queue queue;
		char data[4];
	} queue = { { .file_id = 1, .length = 4, .queue = CKPT_TCP_SEND_QUEUE }, "abc" };
	struct ckpt_inet_socket established = stream.socket;

	expect_file_name(CKPT_FILE_TCP_STREAM, "socket:[1234]", NULL);
	expect_file_name(CKPT_FILE_TCP_STREAM, "/tmp/socket", "not an absolute");
	expect_validation(CKPT_RECORD_TCP_STREAM, &stream, sizeof(stream), NULL, "TCP_STREAM");
	expect_validation(CKPT_RECORD_TCP_STREAM, &stream, sizeof(stream) - 1, "wrong size",
			  "TCP_STREAM short");
	expect_validation(CKPT_RECORD_INET_SOCKET, &established, sizeof(established),
			  "unknown state", "INET_SOCKET established");
	stream.socket.remote_port = 0;
	expect_validation(CKPT_RECORD_TCP_STREAM, &stream, sizeof(stream), "unknown state",
			  "TCP_STREAM no peer");
	stream.socket.state = CKPT_INET_OPEN;
	expect_validation(CKPT_RECORD_TCP_STREAM, &stream, sizeof(stream), "not an established",
			  "TCP_STREAM open");
	stream.socket.state = CKPT_INET_ESTABLISHED;
	stream.socket.remote_port = 40000;
	stream.socket.type = SOCK_DGRAM;
	expect_validation(CKPT_RECORD_TCP_STREAM, &stream, sizeof(stream), "unknown state",
			  "TCP_STREAM UDP");
	stream.socket.type = SOCK_STREAM;
	stream.socket.remote_address[9] = 1;
	expect_validation(CKPT_RECORD_TCP_STREAM, &stream, sizeof(stream), "addresses",
			  "TCP_STREAM IPv4 address");
	stream.socket.remote_address[9] = 0;
	stream.unsent_length = 11;
	expect_validation(CKPT_RECORD_TCP_STREAM, &stream, sizeof(stream), "queue lengths",
			  "TCP_STREAM unsent");
	stream.unsent_length = 4;
	stream.recv_queue_length = CKPT_MAX_TCP_QUEUE + 1;
	expect_validation(CKPT_RECORD_TCP_STREAM, &stream, sizeof(stream), "queue lengths",
			  "TCP_STREAM receive queue");
	stream.recv_queue_length = 3;
	stream.snd_wscale = 15;
	expect_validation(CKPT_RECORD_TCP_STREAM, &stream, sizeof(stream), "window scale",
			  "TCP_STREAM scale");
	stream.snd_wscale = 7;
	stream.options = CKPT_TCP_TIMESTAMPS;
	expect_validation(CKPT_RECORD_TCP_STREAM, &stream, sizeof(stream), "window scale",
			  "TCP_STREAM scale without option");
	stream.options = 8;
	stream.snd_wscale = stream.rcv_wscale = 0;
	expect_validation(CKPT_RECORD_TCP_STREAM, &stream, sizeof(stream), "unknown TCP options",
			  "TCP_STREAM options");
	stream.options = 0;
	stream.mss = 0;
	expect_validation(CKPT_RECORD_TCP_STREAM, &stream, sizeof(stream), "MSS", "TCP_STREAM mss");
	stream.mss = 1460;
	stream.reserved2 = 1;
	expect_validation(CKPT_RECORD_TCP_STREAM, &stream, sizeof(stream), "reserved",
			  "TCP_STREAM reserved");
	expect_validation(CKPT_RECORD_TCP_QUEUE, &queue, sizeof(queue.queue) + 4, NULL, "TCP_QUEUE");
	expect_validation(CKPT_RECORD_TCP_QUEUE, &queue, sizeof(queue.queue) + 3, "does not match",
			  "TCP_QUEUE length");
	queue.queue.queue = 3;
	expect_validation(CKPT_RECORD_TCP_QUEUE, &queue, sizeof(queue.queue) + 4, "neither",
			  "TCP_QUEUE queue");
	queue.queue.queue = CKPT_TCP_RECV_QUEUE;
	queue.queue.reserved = 1;
	expect_validation(CKPT_RECORD_TCP_QUEUE, &queue, sizeof(queue.queue) + 4, "reserved",
			  "TCP_QUEUE reserved");
	queue.queue.reserved = 0;
	queue.queue.file_id = 0;
	expect_validation(CKPT_RECORD_TCP_QUEUE, &queue, sizeof(queue.queue) + 4, "no file",
			  "TCP_QUEUE file");
	check(strcmp(record_type_name(CKPT_RECORD_TCP_STREAM), "TCP_STREAM") == 0 &&
		      strcmp(record_type_name(CKPT_RECORD_TCP_QUEUE), "TCP_QUEUE") == 0,
	      "record_type_name of the TCP connection records");
}

static void test_validate_pty_records(void)
{
	struct {
		struct ckpt_pty pty;
		char data[4];
	} master = { { .file_id = 1,
		       .role = CKPT_PTY_MASTER,
		       .peer_file_id = 2,
		       .index = 7,
		       .flags = CKPT_PTY_PACKET | CKPT_PTY_LOCKED,
		       .session = 40,
		       .foreground_pgrp = 41,
		       .data_length = 4,
		       .input_length = 1 },
		     "abc" };
	struct ckpt_pty slave = { .file_id = 2, .role = CKPT_PTY_SLAVE, .peer_file_id = 1, .index = 7 };

	expect_file_name(CKPT_FILE_PTY, "/dev/ptmx", NULL);
	expect_file_name(CKPT_FILE_PTY, "/dev/pts/7", NULL);
	expect_file_name(CKPT_FILE_PTY, "socket:[1234]", "not an absolute");
	expect_validation(CKPT_RECORD_PTY, &master, sizeof(master.pty) + 4, NULL, "PTY master");
	expect_validation(CKPT_RECORD_PTY, &slave, sizeof(slave), NULL, "PTY slave");
	expect_validation(CKPT_RECORD_PTY, &master, sizeof(master.pty) + 3, "does not match",
			  "PTY length");
	master.pty.role = 3;
	expect_validation(CKPT_RECORD_PTY, &master, sizeof(master.pty) + 4, "neither a master",
			  "PTY role");
	master.pty.role = CKPT_PTY_MASTER;
	master.pty.peer_file_id = 1;
	expect_validation(CKPT_RECORD_PTY, &master, sizeof(master.pty) + 4, "its own other end",
			  "PTY own peer");
	master.pty.peer_file_id = 0;
	expect_validation(CKPT_RECORD_PTY, &master, sizeof(master.pty) + 4, NULL,
			  "PTY master without a slave");
	slave.peer_file_id = 0;
	expect_validation(CKPT_RECORD_PTY, &slave, sizeof(slave), "a slave without its master",
			  "PTY slave alone");
	slave.peer_file_id = 1;
	master.pty.flags = 1u << 3;
	expect_validation(CKPT_RECORD_PTY, &master, sizeof(master.pty) + 4, "unknown flags",
			  "PTY flags");
	master.pty.flags = 0;
	master.pty.input_length = 5;
	expect_validation(CKPT_RECORD_PTY, &master, sizeof(master.pty) + 4, "input longer",
			  "PTY input length");
	master.pty.input_length = 1;
	slave.data_length = 1;
	expect_validation(CKPT_RECORD_PTY, &slave, sizeof(slave), "does not match",
			  "PTY slave data size");
	{
		struct {
			struct ckpt_pty pty;
			char data[1];
		} slave_data = { slave, "x" };

		expect_validation(CKPT_RECORD_PTY, &slave_data, sizeof(slave_data.pty) + 1,
				  "data on a slave", "PTY slave data");
	}
	master.pty.session = 0;
	expect_validation(CKPT_RECORD_PTY, &master, sizeof(master.pty) + 4,
			  "foreground process group", "PTY group without session");
	master.pty.session = 40;
	master.pty.reserved3 = 1;
	expect_validation(CKPT_RECORD_PTY, &master, sizeof(master.pty) + 4, "reserved",
			  "PTY reserved");
	check(strcmp(record_type_name(CKPT_RECORD_PTY), "PTY") == 0, "record_type_name of PTY");
}

/* A PAGES payload with one one-page run at start (data not included). */
static int validate_one_run(uint64_t start, struct ckpt_error *err)
{
	struct {
		struct ckpt_pages pages;
		struct ckpt_page_run run;
		unsigned char data[CKPT_PAGE_SIZE];
	} record = { { 1, 1, 0 }, { start, 1 }, { 0 } };

	return validate_record(CKPT_RECORD_PAGES, &record, sizeof(record), err);
}

/* An address at the top of the 64-bit space must not wrap past the check. */
static void test_validate_run_wraparound(void)
{
	struct ckpt_error err = { 0 };
	int ret = validate_one_run(0xfffffffffffff000ull, &err);

	check(ret < 0, "validate_record accepts a PAGES run at 0xfffffffffffff000 "
		       "(start + size wraps to 0 and passes the user-address check)");
	memset(&err, 0, sizeof(err));
	ret = validate_one_run(0x7ffffffff000ull, &err);
	check(ret == 0, "validate_record rejects a run in the last user page: %s", err.message);
}

/*
 * Rules that span records and that the loader should hold but does not
 * check (see the report): each is a separate failed check until it does.
 */
static void two_threads_one_tid(struct image_spec *spec)
{
	spec_add_thread(spec, SPEC_PID);
}

static void thread_xstate_differs_from_head(struct image_spec *spec)
{
	spec->threads[0].xstate_size = SPEC_XSTATE_SIZE + 64;
}

static void vma_declares_fewer_pages(struct image_spec *spec)
{
	spec->vmas[2].page_count = 1; /* the heap has two pages in PAGES */
}

static void vma_declares_no_pages(struct image_spec *spec)
{
	spec->vmas[4].page_count = 0; /* the stack has two */
}

static const struct spec_case cross_record_cases[] = {
	{ "two THREAD records with the same tid", two_threads_one_tid, "" },
	{ "THREAD xstate size differs from HEAD xstate size", thread_xstate_differs_from_head, "" },
	{ "VMA page_count below its pages in PAGES records", vma_declares_fewer_pages, "" },
	{ "PAGES for a VMA whose page_count is 0", vma_declares_no_pages, "" },
};

static void test_cross_record_rules(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(cross_record_cases); i++)
		run_spec_case(&cross_record_cases[i]);
}

int main(void)
{
	test_crc32c_vectors();
	test_crc32c_against_reference();
	test_crc32c_piecewise();
	test_page_hash_stable();
	test_page_hash_matches_reference();
	test_page_hash_bit_flips();
	test_page_hash_multiple_of_32();
	test_round_trip();
	test_round_trip_full_record();
	test_round_trip_pipe();
	test_valid_records_validate();
	test_field_cases();
	test_spec_cases();
	test_bytes_cases();
	test_every_record_flipped();
	test_validate_directly();
	test_validate_event_records();
	test_validate_seccomp_record();
	test_validate_inotify_records();
	test_validate_unix_socket_records();
	test_validate_inet_socket_records();
	test_validate_pipe_records();
	test_validate_lock_and_timer_records();
	test_validate_tcp_stream_records();
	test_validate_pty_records();
	test_validate_event_files();
	test_validate_run_wraparound();
	test_cross_record_rules();
	printf("test_codec: %u checks, %u failed\n", checks_run, checks_failed);
	return checks_failed == 0 ? 0 : 1;
}
