/* SPDX-License-Identifier: MIT */
/*
 * mkbadimage: hand-made ckpt images with one defect each.
 *
 *   mkbadimage KIND OUT    writes the image(s) of KIND and prints each path
 *                          written, one a line: OUT for a kind with one
 *                          image, OUT.VARIANT for a kind with several
 *   mkbadimage --list      the bad kinds, one a line
 *   mkbadimage seeds DIR   fuzzer seeds: small valid images of several
 *                          shapes and every bad kind (machine-independent)
 *
 * `good` is a valid image.  Its process cannot run, but its files, CPU
 * state size, limits and vDSO layout are this machine's, so that a restart
 * of a bad image gets as far as the defect (page data included) before it
 * fails.  Its PID is SPEC_PID (31999), its name SPEC_COMM.
 */
#include <limits.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include "../tools/image_builder.h"
#include "sys/tracing.h"

enum {
	MAX_VARIANTS = 6
};

/* Where images go: prefix, or prefix.VARIANT. */
struct output {
	const char *prefix;
	struct ckpt_error *err;
};

struct variant {
	const char *name; /* NULL for a kind's only image */
	void (*change_spec)(struct image_spec *spec);
	void (*change_bytes)(struct image_bytes *bytes);
};

struct bad_kind {
	const char *name;
	struct variant variants[MAX_VARIANTS];
	int (*make)(const struct image_spec *base, struct output *output); /* instead */
};

static char long_path[CKPT_PATH_MAX + 200];

static const char *path_of_length(size_t length)
{
	memset(long_path, 'a', length);
	for (size_t i = 0; i < length; i += 64)
		long_path[i] = '/';
	long_path[length] = '\0';
	return long_path;
}

static int emit_bytes(struct output *output, const char *variant, const struct image_bytes *bytes)
{
	char path[PATH_MAX];
	int ret;

	if (variant)
		snprintf(path, sizeof(path), "%s.%s", output->prefix, variant);
	else
		snprintf(path, sizeof(path), "%s", output->prefix);
	ret = image_bytes_save(bytes, path, output->err);
	if (ret == 0)
		printf("%s\n", path);
	return ret;
}

static int emit_variant(const struct image_spec *base, const struct variant *variant,
			struct output *output)
{
	struct image_spec spec = *base;
	struct image_bytes bytes;
	int ret;

	if (variant->change_spec)
		variant->change_spec(&spec);
	ret = image_bytes_from_spec(&spec, &bytes, output->err);
	if (ret < 0)
		return ret;
	if (variant->change_bytes)
		variant->change_bytes(&bytes);
	ret = emit_bytes(output, variant->name, &bytes);
	image_bytes_release(&bytes);
	return ret;
}

/* ---- the defects ---- */

static void head_claims_a_terabyte(struct image_bytes *bytes)
{
	uint64_t length = 1ull << 40;

	memcpy(bytes->data + offsetof(struct ckpt_record_header, length), &length, sizeof(length));
}

static void vma_record_short(struct image_bytes *bytes)
{
	size_t at = image_bytes_find(bytes, CKPT_RECORD_VMA, 2);
	unsigned char payload[sizeof(struct ckpt_vma)];

	memcpy(payload, image_bytes_payload(bytes, at), sizeof(payload));
	image_bytes_replace_payload(bytes, at, payload, sizeof(payload) - 8);
}

static void head_record_long(struct image_bytes *bytes)
{
	unsigned char payload[sizeof(struct ckpt_head) + 8] = { 0 };

	memcpy(payload, image_bytes_payload(bytes, 0), sizeof(struct ckpt_head));
	image_bytes_replace_payload(bytes, 0, payload, sizeof(payload));
}

static void pages_counts_huge(struct image_bytes *bytes)
{
	size_t at = image_bytes_find(bytes, CKPT_RECORD_PAGES, 0);

	image_bytes_patch(bytes, at, offsetof(struct ckpt_pages, run_count), 8, 1ull << 62);
	image_bytes_patch(bytes, at, offsetof(struct ckpt_pages, page_count), 8, 1ull << 62);
}

static void group_count_huge(struct image_spec *spec)
{
	spec->creds.group_count = UINT32_MAX;
}

static void auxv_words_huge(struct image_spec *spec)
{
	spec->mm.auxv_words = UINT32_MAX;
}

static void xstate_size_huge(struct image_spec *spec)
{
	spec->threads[0].xstate_size = UINT32_MAX;
}

static void cwd_length_huge(struct image_spec *spec)
{
	spec->process.cwd_length = UINT32_MAX;
}

static void path_length_huge(struct image_spec *spec)
{
	spec->files[0].file.path_length = UINT32_MAX;
}

/* VMAs 0 code, 1 data, 2 heap, 3 shared anon, 4 stack, then the vDSO's. */
static void vmas_overlap(struct image_spec *spec)
{
	spec->vmas[3].start = spec->vmas[2].start + CKPT_PAGE_SIZE;
}

static void vmas_swapped(struct image_bytes *bytes)
{
	image_bytes_move_record(bytes, image_bytes_find(bytes, CKPT_RECORD_VMA, 3),
				image_bytes_find(bytes, CKPT_RECORD_VMA, 2));
}

static void vma_end_noncanonical(struct image_spec *spec)
{
	spec->vmas[spec->vma_count - 1].end = (1ull << 47) + CKPT_PAGE_SIZE;
}

static void mm_stack_noncanonical(struct image_spec *spec)
{
	spec->mm.fields[CKPT_MM_START_STACK] = 0xffff800000000000ull;
}

static void page_run_noncanonical(struct image_spec *spec)
{
	spec->page_records[1].runs[1].start = 1ull << 47;
}

static void vma_start_unaligned(struct image_spec *spec)
{
	spec->vmas[2].start += 0x800;
}

static void page_run_unaligned(struct image_spec *spec)
{
	spec->page_records[0].runs[1].start += 8;
}

static void process_checksum_flipped(struct image_bytes *bytes)
{
	size_t at = image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0);

	bytes->data[at + offsetof(struct ckpt_record_header, checksum)] ^= 0x04;
}

/* An EVENTFD record after the FILE of a regular file. */
static void eventfd_state_misplaced(struct image_bytes *bytes)
{
	struct ckpt_eventfd state = { .file_id = 1, .counter = 3 };

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0),
				  CKPT_RECORD_EVENTFD, &state, sizeof(state));
}

/* An EPOLL_TARGET whose epoll is a regular file. */
static void epoll_target_not_epoll(struct image_bytes *bytes)
{
	struct ckpt_epoll_target target = {
		.epoll_file_id = 1, .target_file_id = 2, .fd = 3, .events = 1
	};

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0),
				  CKPT_RECORD_EPOLL_TARGET, &target, sizeof(target));
}

/* A UNIX_SOCKET state for FILE 1, which is a regular file. */
static void unix_socket_state_misplaced(struct image_bytes *bytes)
{
	struct ckpt_unix_socket state = { .file_id = 1, .type = 1, .peer_file_id = 2 };

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0),
				  CKPT_RECORD_UNIX_SOCKET, &state, sizeof(state));
}

/* A FILE_LOCK through fd 99, which the process does not have. */
static void lock_fd_missing(struct image_bytes *bytes)
{
	struct ckpt_file_lock lock = {
		.fd = 99, .file_id = 1, .kind = CKPT_LOCK_FLOCK, .type = CKPT_LOCK_READ
	};

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_MM, 0),
				  CKPT_RECORD_FILE_LOCK, &lock, sizeof(lock));
}

static void lock_kind_unknown(struct image_bytes *bytes)
{
	struct ckpt_file_lock lock = { .fd = 3, .file_id = 1, .kind = 9, .type = CKPT_LOCK_READ };

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_MM, 0),
				  CKPT_RECORD_FILE_LOCK, &lock, sizeof(lock));
}

/* A SIGEV_THREAD_ID timer for a thread the process does not have. */
static void timer_thread_missing(struct image_bytes *bytes)
{
	struct ckpt_posix_timer timer = { .id = 0,
					  .clock_id = 1,
					  .notify = CKPT_TIMER_NOTIFY_THREAD_ID,
					  .signal = 14,
					  .thread_id = 4242 };

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_FD, 0),
				  CKPT_RECORD_POSIX_TIMER, &timer, sizeof(timer));
}

/* A POSIX_TIMER after the FD records. */
static void timer_after_fds(struct image_bytes *bytes)
{
	struct ckpt_posix_timer timer = { .id = 0, .clock_id = 1, .signal = 14 };

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_MM, 0),
				  CKPT_RECORD_POSIX_TIMER, &timer, sizeof(timer));
}

/* A SOCKET_QUEUE with three bytes for FILE 1, which is no unix socket. */
static void socket_queue_misplaced(struct image_bytes *bytes)
{
	struct {
		struct ckpt_socket_queue queue;
		char data[3];
	} record = { { .file_id = 1, .length = 3 }, { 'a', 'b', 'c' } };

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0),
				  CKPT_RECORD_SOCKET_QUEUE, &record, sizeof(record.queue) + 3);
}

/* An INET_SOCKET state for FILE 1, which is a regular file. */
static void inet_socket_state_misplaced(struct image_bytes *bytes)
{
	struct ckpt_inet_socket state = {
		.file_id = 1, .family = 2, .type = 2, .state = CKPT_INET_OPEN
	};

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0),
				  CKPT_RECORD_INET_SOCKET, &state, sizeof(state));
}

/* An INET_DATAGRAM of three bytes for FILE 1, which is no inet socket. */
static void inet_datagram_misplaced(struct image_bytes *bytes)
{
	struct {
		struct ckpt_inet_datagram datagram;
		char data[3];
	} record = {
		{ .file_id = 1, .length = 3, .source_family = 2, .source_address = { 127, 0, 0, 1 } },
		{ 'a', 'b', 'c' }
	};

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0),
				  CKPT_RECORD_INET_DATAGRAM, &record, sizeof(record.datagram) + 3);
}

/* A PIPE state for FILE 1, which is a regular file. */
static void pipe_state_misplaced(struct image_bytes *bytes)
{
	struct ckpt_pipe state = { .file_id = 1, .pipe_file_id = 1, .pipe_size = 65536 };

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0),
				  CKPT_RECORD_PIPE, &state, sizeof(state));
}

/* A PIPE whose size is no power of two. */
static void pipe_size_odd(struct image_bytes *bytes)
{
	struct ckpt_pipe state = { .file_id = 1, .pipe_file_id = 1, .pipe_size = 5000 };

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0),
				  CKPT_RECORD_PIPE, &state, sizeof(state));
}

/* A FILE_DATA with three bytes for FILE 1, which is no pipe. */
static void file_data_misplaced(struct image_bytes *bytes)
{
	struct {
		struct ckpt_file_data data;
		char bytes[3];
	} record = { { .file_id = 1, .length = 3 }, { 'a', 'b', 'c' } };

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0),
				  CKPT_RECORD_FILE_DATA, &record, sizeof(record.data) + 3);
}

/* An INOTIFY state for FILE 1, which is a regular file. */
static void inotify_state_misplaced(struct image_bytes *bytes)
{
	struct ckpt_inotify state = { .file_id = 1, .watch_count = 0 };

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0),
				  CKPT_RECORD_INOTIFY, &state, sizeof(state));
}

/* An INOTIFY_WATCH of /tmp for FILE 1, which is no inotify. */
static void inotify_watch_misplaced(struct image_bytes *bytes)
{
	struct {
		struct ckpt_inotify_watch watch;
		char path[5];
	} record = { { .file_id = 1, .path_length = 5, .wd = 1, .mask = 0x100 }, "/tmp" };

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0),
				  CKPT_RECORD_INOTIFY_WATCH, &record, sizeof(record.watch) + 5);
}

/* A TCP_STREAM state for FILE 1, which is a regular file. */
static void tcp_stream_state_misplaced(struct image_bytes *bytes)
{
	struct ckpt_tcp_stream state = {
		.socket = { .file_id = 1,
			    .family = 2,
			    .type = 1,
			    .state = CKPT_INET_ESTABLISHED,
			    .local_address = { 127, 0, 0, 1 },
			    .local_port = 80,
			    .remote_address = { 127, 0, 0, 1 },
			    .remote_port = 40000 },
		.mss = 1460,
	};

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0),
				  CKPT_RECORD_TCP_STREAM, &state, sizeof(state));
}

/* A TCP_QUEUE of three bytes for FILE 1, which is no TCP connection. */
static void tcp_queue_misplaced(struct image_bytes *bytes)
{
	struct {
		struct ckpt_tcp_queue queue;
		char data[3];
	} record = { { .file_id = 1, .length = 3, .queue = CKPT_TCP_RECV_QUEUE }, { 'a', 'b', 'c' } };

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0),
				  CKPT_RECORD_TCP_QUEUE, &record, sizeof(record.queue) + 3);
}

/* A PTY state (a master with 2 bytes waiting) for FILE 1, which is a regular file. */
static void pty_state_misplaced(struct image_bytes *bytes)
{
	struct {
		struct ckpt_pty pty;
		char data[2];
	} record = { { .file_id = 1, .role = CKPT_PTY_MASTER, .data_length = 2, .input_length = 1 },
		     { 'a', 'b' } };

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0),
				  CKPT_RECORD_PTY, &record, sizeof(record.pty) + 2);
}

/* A PTY record whose input is longer than its data. */
static void pty_input_too_long(struct image_bytes *bytes)
{
	struct {
		struct ckpt_pty pty;
		char data[2];
	} record = { { .file_id = 1, .role = CKPT_PTY_MASTER, .data_length = 2, .input_length = 3 },
		     { 'a', 'b' } };

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0),
				  CKPT_RECORD_PTY, &record, sizeof(record.pty) + 2);
}

static void unknown_record_after_head(struct image_bytes *bytes)
{
	uint64_t payload[4] = { 0x1234, 0x5678, 0, 0 };

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0), 99,
				  payload, sizeof(payload));
}

static void tail_left_out(struct image_spec *spec)
{
	spec->without_tail = true;
}

static void cut_in_a_header(struct image_bytes *bytes)
{
	image_bytes_truncate(bytes, image_bytes_find(bytes, CKPT_RECORD_CREDS, 0) + 10);
}

static void cut_in_head(struct image_bytes *bytes)
{
	image_bytes_truncate(bytes, sizeof(struct ckpt_record_header) + 100);
}

static void cut_in_page_data(struct image_bytes *bytes)
{
	size_t at = image_bytes_find(bytes, CKPT_RECORD_PAGES, 1);

	image_bytes_truncate(bytes,
			     at + sizeof(struct ckpt_record_header) + 100 + CKPT_PAGE_SIZE / 2);
}

static void path_without_nul(struct image_spec *spec)
{
	spec->files[1].file.path_length -= 1; /* the writer leaves out the NUL */
}

static void file_path_too_long(struct image_spec *spec)
{
	spec->files[1].path = path_of_length(CKPT_PATH_MAX + 100);
	spec->files[1].file.path_length = CKPT_PATH_MAX + 101;
}

static void cwd_too_long(struct image_spec *spec)
{
	spec_set_cwd(spec, path_of_length(CKPT_PATH_MAX + 100));
}

static void nothing_at_all(struct image_bytes *bytes)
{
	image_bytes_truncate(bytes, 0);
}

static void version_two(struct image_spec *spec)
{
	spec->head.version = CKPT_FORMAT_VERSION + 1;
}

/* The one process shares its memory or fd table with a process the tree lacks. */
static void memory_owner_missing(struct image_spec *spec)
{
	spec->mm_owner = spec->process.pid + 1;
}

static void fd_table_owner_negative(struct image_spec *spec)
{
	spec->files_owner = -spec->process.pid;
}

static void magic_wrong(struct image_spec *spec)
{
	memcpy(spec->head.magic, "NOTCKPT", sizeof(spec->head.magic));
}

/* The shared mapping's page moves to an address no VMA covers. */
static void pages_outside(struct image_spec *spec)
{
	spec->page_records[1].runs[0].start = 0x500000;
	spec->vmas[3].page_count = 0;
}

/*
 * Rules between records that the loader does not check yet (see
 * tests/unit/test_codec.c, test_cross_record_rules).  The data VMA becomes
 * read-only and declares no pages while PAGES still holds one of its pages.
 */
static void page_count_undeclared(struct image_spec *spec)
{
	spec->vmas[1].prot = PROT_READ;
	spec->vmas[1].page_count = 0;
}

/* The thread's XSAVE area is smaller than HEAD says every thread's is. */
static void thread_xstate_smaller(struct image_spec *spec)
{
	spec->threads[0].xstate_size = 576;
}

static void thread_pdeath_signal_too_high(struct image_spec *spec)
{
	spec->threads[0].pdeath_signal = CKPT_MAX_SIGNALS + 1;
}

static void thread_securebits_unknown(struct image_spec *spec)
{
	spec->threads[0].securebits = 1u << 20;
}

static void thread_mce_policy_too_high(struct image_spec *spec)
{
	spec->threads[0].mce_kill_policy = 3;
}

static void process_thp_disable_bad(struct image_spec *spec)
{
	spec->process.thp_disable = 2;
}

static void process_dumpable_too_high(struct image_spec *spec)
{
	spec->process.dumpable = 3;
}

static void process_prctl_flags_unknown(struct image_spec *spec)
{
	spec->process.prctl_flags = 1u << 7;
}

static void thread_sched_policy_unknown(struct image_spec *spec)
{
	spec->threads[0].sched_policy = 4;
}

static void thread_nice_too_high(struct image_spec *spec)
{
	spec->threads[0].sched_nice = 20;
}

static void process_oom_score_adj_too_high(struct image_spec *spec)
{
	spec->process.oom_score_adj = 1001;
}

static void process_membarrier_unknown(struct image_spec *spec)
{
	spec->process.membarrier = 1u << 3;
}

/* The THREAD counts one filter that never comes. */
static void seccomp_filter_missing(struct image_spec *spec)
{
	spec->threads[0].seccomp_mode = CKPT_SECCOMP_FILTER;
	spec->threads[0].seccomp_filter_count = 1;
}

static void seccomp_mode_unknown(struct image_spec *spec)
{
	spec->threads[0].seccomp_mode = 3;
}

/* A filter of a thread the process does not have, before its VMAs. */
static void seccomp_for_another_thread(struct image_bytes *bytes)
{
	struct {
		struct ckpt_seccomp filter;
		uint64_t code;
	} record = { { .tid = 4242, .instruction_count = 1 }, 0x7fff000000000006ull };

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_VMA, 0),
				  CKPT_RECORD_SECCOMP, &record, sizeof(record));
}

/* One image per record, a byte in the middle of its payload flipped. */
static int make_flipped_bytes(const struct image_spec *base, struct output *output)
{
	struct image_bytes bytes;
	size_t records;
	int ret = image_bytes_from_spec(base, &bytes, output->err);

	if (ret < 0)
		return ret;
	records = image_bytes_record_count(&bytes);
	for (size_t i = 0; i < records && ret == 0; i++) {
		size_t at = image_bytes_record_offset(&bytes, i);
		struct ckpt_record_header header = image_bytes_header(&bytes, at);
		size_t middle = at + sizeof(header) + header.length / 2;
		char variant[32];

		snprintf(variant, sizeof(variant), "%02zu-%s", i, record_type_name(header.type));
		bytes.data[middle] ^= 0x20;
		ret = emit_bytes(output, variant, &bytes);
		bytes.data[middle] ^= 0x20;
	}
	image_bytes_release(&bytes);
	return ret;
}

static const struct bad_kind bad_kinds[] = {
	{ .name = "bad-length", .variants = {
		{ "over-limit", NULL, head_claims_a_terabyte },
		{ "short-vma", NULL, vma_record_short },
		{ "long-head", NULL, head_record_long },
	} },
	{ .name = "huge-counts", .variants = {
		{ "pages", NULL, pages_counts_huge },
		{ "groups", group_count_huge, NULL },
		{ "auxv", auxv_words_huge, NULL },
		{ "xstate", xstate_size_huge, NULL },
		{ "cwd", cwd_length_huge, NULL },
		{ "path", path_length_huge, NULL },
	} },
	{ .name = "overlapping-vmas", .variants = { { NULL, vmas_overlap, NULL } } },
	{ .name = "unordered-vmas", .variants = { { NULL, NULL, vmas_swapped } } },
	{ .name = "noncanonical-address", .variants = {
		{ "vma", vma_end_noncanonical, NULL },
		{ "mm", mm_stack_noncanonical, NULL },
		{ "pages", page_run_noncanonical, NULL },
	} },
	{ .name = "unaligned-address", .variants = {
		{ "vma", vma_start_unaligned, NULL },
		{ "pages", page_run_unaligned, NULL },
	} },
	{ .name = "bad-checksum", .variants = { { NULL, NULL, process_checksum_flipped } } },
	{ .name = "unknown-record-type", .variants = { { NULL, NULL, unknown_record_after_head } } },
	{ .name = "bad-event-records", .variants = {
		{ "eventfd-state", NULL, eventfd_state_misplaced },
		{ "epoll-target", NULL, epoll_target_not_epoll },
		{ "inotify-state", NULL, inotify_state_misplaced },
		{ "inotify-watch", NULL, inotify_watch_misplaced },
	} },
	{ .name = "bad-socket-records", .variants = {
		{ "unix-socket-state", NULL, unix_socket_state_misplaced },
		{ "socket-queue", NULL, socket_queue_misplaced },
		{ "inet-socket-state", NULL, inet_socket_state_misplaced },
		{ "inet-datagram", NULL, inet_datagram_misplaced },
		{ "tcp-stream-state", NULL, tcp_stream_state_misplaced },
		{ "tcp-queue", NULL, tcp_queue_misplaced },
	} },
	{ .name = "bad-pipe-records", .variants = {
		{ "pipe-state", NULL, pipe_state_misplaced },
		{ "pipe-size", NULL, pipe_size_odd },
		{ "file-data", NULL, file_data_misplaced },
	} },
	{ .name = "bad-lock-and-timer-records", .variants = {
		{ "lock-fd", NULL, lock_fd_missing },
		{ "lock-kind", NULL, lock_kind_unknown },
		{ "timer-thread", NULL, timer_thread_missing },
		{ "timer-after-fds", NULL, timer_after_fds },
	} },
	{ .name = "bad-pty-records", .variants = {
		{ "pty-state", NULL, pty_state_misplaced },
		{ "pty-input", NULL, pty_input_too_long },
	} },
	{ .name = "missing-tail", .variants = { { NULL, tail_left_out, NULL } } },
	{ .name = "eof-mid-record", .variants = {
		{ "header", NULL, cut_in_a_header },
		{ "head", NULL, cut_in_head },
		{ "pages", NULL, cut_in_page_data },
	} },
	{ .name = "path-not-terminated", .variants = { { NULL, path_without_nul, NULL } } },
	{ .name = "path-too-long", .variants = {
		{ "file", file_path_too_long, NULL },
		{ "cwd", cwd_too_long, NULL },
	} },
	{ .name = "empty", .variants = { { NULL, NULL, nothing_at_all } } },
	{ .name = "wrong-version", .variants = { { NULL, version_two, NULL } } },
	{ .name = "wrong-magic", .variants = { { NULL, magic_wrong, NULL } } },
	{ .name = "flipped-byte-in-each-record", .make = make_flipped_bytes },
	{ .name = "pages-outside-vma", .variants = { { NULL, pages_outside, NULL } } },
	{ .name = "page-count-mismatch", .variants = { { NULL, page_count_undeclared, NULL } } },
	{ .name = "xstate-size-mismatch", .variants = { { NULL, thread_xstate_smaller, NULL } } },
	{ .name = "bad-sharing-owner", .variants = {
		{ "memory", memory_owner_missing, NULL },
		{ "fd-table", fd_table_owner_negative, NULL },
	} },
	{ .name = "bad-prctl-values", .variants = {
		{ "pdeath-signal", thread_pdeath_signal_too_high, NULL },
		{ "securebits", thread_securebits_unknown, NULL },
		{ "mce-kill", thread_mce_policy_too_high, NULL },
		{ "thp-disable", process_thp_disable_bad, NULL },
		{ "dumpable", process_dumpable_too_high, NULL },
		{ "process-flags", process_prctl_flags_unknown, NULL },
	} },
	{ .name = "bad-sched-values", .variants = {
		{ "policy", thread_sched_policy_unknown, NULL },
		{ "nice", thread_nice_too_high, NULL },
		{ "oom-score-adj", process_oom_score_adj_too_high, NULL },
		{ "membarrier", process_membarrier_unknown, NULL },
	} },
	{ .name = "bad-seccomp", .variants = {
		{ "missing-filter", seccomp_filter_missing, NULL },
		{ "mode", seccomp_mode_unknown, NULL },
		{ "other-thread", NULL, seccomp_for_another_thread },
	} },
};

static bool is_last_variant(const struct bad_kind *kind, size_t index)
{
	return index + 1 >= MAX_VARIANTS || !kind->variants[index + 1].name;
}

static int make_kind(const struct bad_kind *kind, const struct image_spec *base, struct output *output)
{
	int ret = 0;

	if (kind->make)
		return kind->make(base, output);
	for (size_t i = 0; i < MAX_VARIANTS && ret == 0; i++) {
		ret = emit_variant(base, &kind->variants[i], output);
		if (is_last_variant(kind, i))
			break;
	}
	return ret;
}

static const struct bad_kind *find_kind(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_kinds); i++) {
		if (strcmp(bad_kinds[i].name, name) == 0)
			return &bad_kinds[i];
	}
	return NULL;
}

/* ---- a valid image that fits this machine ---- */

static void fit_file(struct spec_file *file)
{
	struct stat status;

	if (stat(file->path, &status) < 0)
		return; /* restart will say the file is missing */
	file->file.mode = status.st_mode;
	file->file.device = status.st_dev;
	file->file.inode = status.st_ino;
	file->file.rdev = status.st_rdev;
	file->file.size = (uint64_t)status.st_size;
	file->file.mtime_ns =
		(uint64_t)status.st_mtim.tv_sec * 1000000000ull + (uint64_t)status.st_mtim.tv_nsec;
}

static void fit_identity(struct image_spec *spec)
{
	struct utsname names;

	spec->head.xstate_size = (uint32_t)cpu_xstate_size();
	spec->head.xfeatures = cpu_xfeatures();
	if (uname(&names) == 0)
		snprintf(spec->head.kernel_release, sizeof(spec->head.kernel_release), "%s",
			 names.release);
	spec->threads[0].xstate_size = spec->head.xstate_size;
	for (int i = 0; i < CKPT_ID_COUNT; i++) {
		spec->creds.uid[i] = getuid();
		spec->creds.gid[i] = getgid();
	}
	spec->creds.group_count = 0;
	spec_add_group(spec, getgid());
	for (unsigned resource = 0; resource < CKPT_MAX_RLIMITS; resource++) {
		struct rlimit ours;

		if (getrlimit((__rlimit_resource_t)resource, &ours) == 0)
			spec->rlimits.limits[resource] =
				(struct ckpt_rlimit){ ours.rlim_cur, ours.rlim_max };
	}
}

/* Size of this process's mapping named [name] (0 when it has none). */
static uint64_t own_mapping_size(const char *name)
{
	FILE *maps = fopen("/proc/self/maps", "re");
	char line[512];
	uint64_t size = 0;

	if (!maps)
		return 0;
	while (size == 0 && fgets(line, sizeof(line), maps)) {
		unsigned long long start, end;
		char label[64] = "";

		if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %63s", &start, &end, label) == 3 &&
		    strcmp(label, name) == 0)
			size = end - start;
	}
	fclose(maps);
	return size;
}

/* The vDSO's mappings with this kernel's sizes, in its order. */
static void fit_vdso(struct image_spec *spec)
{
	static const struct {
		const char *name;
		enum ckpt_vma_kind kind;
		uint32_t prot;
	} parts[] = {
		{ "[vvar]", CKPT_VMA_VVAR, PROT_READ },
		{ "[vvar_vclock]", CKPT_VMA_VVAR_VCLOCK, PROT_READ },
		{ "[vdso]", CKPT_VMA_VDSO, PROT_READ | PROT_EXEC },
	};
	uint64_t address = SPEC_VVAR_START;

	while (spec->vma_count > 0 && !vma_holds_pages(&spec->vmas[spec->vma_count - 1]))
		spec->vma_count--;
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
		uint64_t size = own_mapping_size(parts[i].name);

		if (size == 0)
			continue;
		spec_add_vma(spec, address, address + size, parts[i].prot, parts[i].kind, 0);
		address += size;
	}
}

static void spec_init_for_this_machine(struct image_spec *spec)
{
	spec_init_valid(spec, SPEC_PID);
	fit_identity(spec);
	for (size_t i = 0; i < spec->file_count; i++)
		fit_file(&spec->files[i]);
	fit_vdso(spec);
}

/* ---- seeds for the fuzzer: small and machine-independent ---- */

/* Two pages in two PAGES records instead of six. */
static void spec_init_small(struct image_spec *spec)
{
	spec_init_valid(spec, SPEC_PID);
	spec->vmas[1].page_count = 0;
	spec->vmas[2].page_count = 1;
	spec->vmas[3].page_count = 0;
	spec->vmas[4].page_count = 1;
	spec->page_records[0].run_count = 0;
	spec_add_run(&spec->page_records[0], SPEC_HEAP_START + CKPT_PAGE_SIZE, 1);
	spec->page_records[1].run_count = 0;
	spec_add_run(&spec->page_records[1], SPEC_STACK_END - CKPT_PAGE_SIZE, 1);
}

static void seed_without_pages(struct image_spec *spec)
{
	spec->page_record_count = 0;
	for (size_t i = 0; i < spec->vma_count; i++)
		spec->vmas[i].page_count = 0;
}

static void seed_three_threads(struct image_spec *spec)
{
	spec_add_thread(spec, SPEC_PID + 1);
	spec_add_thread(spec, SPEC_PID + 2);
	spec->threads[2].flags = CKPT_THREAD_SYSCALL_RESTART;
}

/* One record of eight one-page runs across the heap, grown to 16 pages. */
static void seed_many_runs(struct image_spec *spec)
{
	struct spec_page_record *record = &spec->page_records[0];

	spec->vmas[2].end = SPEC_HEAP_START + 16 * CKPT_PAGE_SIZE;
	spec->vmas[2].page_count = SPEC_MAX_RUNS;
	record->run_count = 0;
	for (uint64_t i = 0; i < SPEC_MAX_RUNS; i++)
		spec_add_run(record, SPEC_HEAP_START + 2 * i * CKPT_PAGE_SIZE, 1);
}

/* No files, no fds, one anonymous VMA with one page. */
static void seed_minimal(struct image_spec *spec)
{
	spec->file_count = 0;
	spec->fd_count = 0;
	spec->mm.exe_file_id = 0;
	spec->vma_count = 0;
	spec_add_vma(spec, SPEC_HEAP_START, SPEC_HEAP_START + 0x2000, PROT_READ | PROT_WRITE,
		     CKPT_VMA_ANON, 1);
	spec->page_record_count = 0;
	spec_add_run(spec_add_page_record(spec), SPEC_HEAP_START, 1);
}

static void seed_full_lists(struct image_spec *spec)
{
	while (spec->creds.group_count < SPEC_MAX_GROUPS)
		spec_add_group(spec, 100 + spec->creds.group_count);
	spec->mm.auxv_words = 0;
	while (spec->mm.auxv_words + 2 < CKPT_MAX_AUXV_WORDS)
		spec_add_auxv(spec, 100 + spec->mm.auxv_words, spec->mm.auxv_words);
	spec_add_auxv(spec, 0, 0);
	spec->head.xstate_size = 2696;
	spec->threads[0].xstate_size = 2696;
}

static void seed_long_paths(struct image_spec *spec)
{
	static char cwd[301], path[501];

	memset(cwd, 'c', sizeof(cwd) - 1);
	memset(path, 'p', sizeof(path) - 1);
	cwd[0] = '/';
	path[0] = '/';
	spec_set_cwd(spec, cwd);
	spec->files[2].path = path;
	spec->files[2].file.path_length = sizeof(path);
}

/* The main thread with one seccomp filter (it returns ALLOW) and its scheduling. */
static void seed_seccomp_spec(struct image_spec *spec)
{
	spec->threads[0].seccomp_mode = CKPT_SECCOMP_FILTER;
	spec->threads[0].seccomp_filter_count = 1;
	spec->threads[0].sched_policy = 3; /* SCHED_BATCH */
	spec->threads[0].sched_nice = 5;
	spec->threads[0].affinity[0] = 1;
	spec->process.oom_score_adj = 100;
}

static void seed_seccomp_bytes(struct image_bytes *bytes)
{
	struct {
		struct ckpt_seccomp filter;
		uint64_t code;
	} record = { { .tid = SPEC_PID, .instruction_count = 1 }, 0x7fff000000000006ull };

	size_t tail_at;

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_VMA, 0),
				  CKPT_RECORD_SECCOMP, &record, sizeof(record));
	tail_at = image_bytes_find(bytes, CKPT_RECORD_TAIL, 0);
	image_bytes_patch(bytes, tail_at, offsetof(struct ckpt_tail, record_count), 8,
			  image_bytes_record_count(bytes) - 1);
	image_bytes_patch(bytes, tail_at, offsetof(struct ckpt_tail, stream_bytes), 8, tail_at);
}

/* An established TCP connection at fd 9: a FILE of kind TCP_STREAM, its state and both queues. */
static void seed_tcp_stream_spec(struct image_spec *spec)
{
	uint32_t id = spec_add_file(spec, CKPT_FILE_TCP_STREAM, "socket:[4714]", O_RDWR);

	spec->files[id - 1].file.mode = 0140777;
	spec_add_fd(spec, 9, 0, id, CKPT_INHERIT_NONE);
}

static void seed_tcp_stream_bytes(struct image_bytes *bytes)
{
	const struct ckpt_file *file;
	size_t file_at = 0, tail_at;
	struct ckpt_tcp_stream stream = {
		.socket = { .family = 2,
			    .type = 1,
			    .state = CKPT_INET_ESTABLISHED,
			    .local_address = { 127, 0, 0, 1 },
			    .local_port = 80,
			    .remote_address = { 127, 0, 0, 1 },
			    .remote_port = 40000 },
		.send_queue_length = 4,
		.unsent_length = 1,
		.recv_queue_length = 3,
		.mss = 65483,
		.options = CKPT_TCP_WSCALE,
		.snd_wscale = 7,
		.rcv_wscale = 7,
	};
	struct {
		struct ckpt_tcp_queue queue;
		char data[4];
	} received = { { .length = 3, .queue = CKPT_TCP_RECV_QUEUE }, "abc" },
	  sending = { { .length = 4, .queue = CKPT_TCP_SEND_QUEUE }, "defg" };

	for (size_t at = 0; image_bytes_has_record_at(bytes, at); at = image_bytes_next(bytes, at)) {
		if (image_bytes_header(bytes, at).type == CKPT_RECORD_FILE)
			file_at = at;
	}
	file = (const void *)(bytes->data + file_at + sizeof(struct ckpt_record_header));
	stream.socket.file_id = received.queue.file_id = sending.queue.file_id = file->id;
	image_bytes_insert_record(bytes, image_bytes_next(bytes, file_at), CKPT_RECORD_TCP_QUEUE,
				  &sending, sizeof(sending.queue) + 4);
	image_bytes_insert_record(bytes, image_bytes_next(bytes, file_at), CKPT_RECORD_TCP_QUEUE,
				  &received, sizeof(received.queue) + 3);
	image_bytes_insert_record(bytes, image_bytes_next(bytes, file_at), CKPT_RECORD_TCP_STREAM,
				  &stream, sizeof(stream));
	tail_at = image_bytes_find(bytes, CKPT_RECORD_TAIL, 0);
	image_bytes_patch(bytes, tail_at, offsetof(struct ckpt_tail, record_count), 8,
			  image_bytes_record_count(bytes) - 1);
	image_bytes_patch(bytes, tail_at, offsetof(struct ckpt_tail, stream_bytes), 8, tail_at);
}

/* A pty master (FILE 5, after the spec's files) with 3 bytes in flight, before the process. */
static void seed_pty_bytes(struct image_bytes *bytes)
{
	struct {
		struct ckpt_file file;
		char path[10];
	} file = { .file = { .id = 5,
			     .kind = CKPT_FILE_PTY,
			     .open_flags = 2,
			     .mode = 020666,
			     .rdev = (5u << 8) | 2u,
			     .path_length = 10 },
		   "/dev/ptmx" };
	struct {
		struct ckpt_pty pty;
		char data[3];
	} state = { { .file_id = 5,
		      .role = CKPT_PTY_MASTER,
		      .index = 2,
		      .data_length = 3,
		      .input_length = 1,
		      .lflag = 0x8a3b,
		      .rows = 24,
		      .columns = 80 },
		    { 'a', '\r', '\n' } };
	size_t process_at = image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0), tail_at;

	image_bytes_insert_record(bytes, process_at, CKPT_RECORD_PTY, &state, sizeof(state.pty) + 3);
	image_bytes_insert_record(bytes, process_at, CKPT_RECORD_FILE, &file, sizeof(file.file) + 10);
	tail_at = image_bytes_find(bytes, CKPT_RECORD_TAIL, 0);
	image_bytes_patch(bytes, tail_at, offsetof(struct ckpt_tail, record_count), 8,
			  image_bytes_record_count(bytes) - 1);
	image_bytes_patch(bytes, tail_at, offsetof(struct ckpt_tail, stream_bytes), 8, tail_at);
}

static const struct variant good_seeds[] = {
	{ "seccomp", seed_seccomp_spec, seed_seccomp_bytes },
	{ "tcp-stream", seed_tcp_stream_spec, seed_tcp_stream_bytes },
	{ "pty", NULL, seed_pty_bytes },
	{ "small", NULL, NULL },
	{ "no-pages", seed_without_pages, NULL },
	{ "three-threads", seed_three_threads, NULL },
	{ "many-runs", seed_many_runs, NULL },
	{ "minimal", seed_minimal, NULL },
	{ "full-lists", seed_full_lists, NULL },
	{ "long-paths", seed_long_paths, NULL },
};

static int make_seed_kind(const struct bad_kind *kind, const struct image_spec *base,
			  const char *dir, struct ckpt_error *err)
{
	char prefix[PATH_MAX];
	struct output output = { prefix, err };

	snprintf(prefix, sizeof(prefix), "%s/%s", dir, kind->name);
	return make_kind(kind, base, &output);
}

static int make_seeds(const char *dir, struct ckpt_error *err)
{
	struct image_spec base;
	char prefix[PATH_MAX];
	struct output output = { prefix, err };
	int ret = 0;

	spec_init_small(&base);
	snprintf(prefix, sizeof(prefix), "%s/good", dir);
	for (size_t i = 0; i < ARRAY_SIZE(good_seeds) && ret == 0; i++)
		ret = emit_variant(&base, &good_seeds[i], &output);
	for (size_t i = 0; i < ARRAY_SIZE(bad_kinds) && ret == 0; i++) {
		if (!bad_kinds[i].make) /* the fuzzer flips bytes itself */
			ret = make_seed_kind(&bad_kinds[i], &base, dir, err);
	}
	return ret;
}

/* ---- command line ---- */

static int usage(void)
{
	fprintf(stderr, "usage: mkbadimage KIND OUT | mkbadimage --list | mkbadimage seeds DIR\n"
			"KIND is good or one of --list\n");
	return 2;
}

static void list_kinds(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_kinds); i++)
		printf("%s\n", bad_kinds[i].name);
}

static int make_named(const char *name, const char *out, struct ckpt_error *err)
{
	static const struct variant only_image = { NULL, NULL, NULL };
	const struct bad_kind *kind = find_kind(name);
	struct output output = { out, err };
	struct image_spec base;

	if (!kind && strcmp(name, "good") != 0)
		return fail(err, EINVAL, "unknown kind '%s' (see mkbadimage --list)", name);
	spec_init_for_this_machine(&base);
	if (!kind)
		return emit_variant(&base, &only_image, &output);
	return make_kind(kind, &base, &output);
}

int main(int argc, char **argv)
{
	struct ckpt_error err = { 0 };
	int ret;

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		list_kinds();
		return 0;
	}
	if (argc != 3)
		return usage();
	if (strcmp(argv[1], "seeds") == 0)
		ret = make_seeds(argv[2], &err);
	else
		ret = make_named(argv[1], argv[2], &err);
	if (ret < 0) {
		fprintf(stderr, "mkbadimage: %s\n", err.message);
		return 1;
	}
	return 0;
}
