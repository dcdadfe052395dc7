/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the image layer's tables (src/image/records.h): the record
 * table's rows and size limits, the FILE kind table's rows, and the
 * printers of every record kind, run over a sample image that holds every
 * record type and FILE kind.  The printed text is what `ckpt inspect`
 * showed for the same records before the printers moved into the table.
 * Set TEST_RECORDS_SAVE=PATH to keep the sample image.  Prints one line per
 * failed check; exit 0 when all pass.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "../tools/image_builder.h"
#include "image/records.h"

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

/* ---- the record table ---- */

static const enum ckpt_record_type known_types[] = {
	CKPT_RECORD_HEAD,	  CKPT_RECORD_PROCESS,	   CKPT_RECORD_CREDS,
	CKPT_RECORD_RLIMITS,	  CKPT_RECORD_SIGACTIONS,  CKPT_RECORD_FILE,
	CKPT_RECORD_FD,		  CKPT_RECORD_MM,	   CKPT_RECORD_THREAD,
	CKPT_RECORD_VMA,	  CKPT_RECORD_PAGES,	   CKPT_RECORD_TAIL,
	CKPT_RECORD_TIMERS,	  CKPT_RECORD_SIGINFO,	   CKPT_RECORD_TREE,
	CKPT_RECORD_EVENTFD,	  CKPT_RECORD_TIMERFD,	   CKPT_RECORD_SIGNALFD,
	CKPT_RECORD_EPOLL_TARGET, CKPT_RECORD_UNIX_SOCKET, CKPT_RECORD_SOCKET_QUEUE,
	CKPT_RECORD_SECCOMP,	  CKPT_RECORD_INET_SOCKET, CKPT_RECORD_INET_DATAGRAM,
	CKPT_RECORD_PIPE,	  CKPT_RECORD_FILE_DATA,   CKPT_RECORD_FILE_LOCK,
	CKPT_RECORD_POSIX_TIMER,  CKPT_RECORD_INOTIFY,	   CKPT_RECORD_INOTIFY_WATCH,
	CKPT_RECORD_TCP_STREAM,	  CKPT_RECORD_TCP_QUEUE,   CKPT_RECORD_PTY,
};

static void test_record_rows(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(known_types); i++) {
		const struct record_type_info *info = find_record_type(known_types[i]);

		check(info && info->type == known_types[i] && info->name && info->validate &&
			      info->size.wrong_size && info->size.fixed > 0,
		      "record type %u has a complete row", known_types[i]);
		check(info && (info->size.kind != RECORD_SIZE_ARRAY ||
			       (info->size.element_size > 0 && info->size.count_limit > 0)),
		      "record type %u: an array rule has an element size and a limit",
		      known_types[i]);
	}
	check(!find_record_type(0) && !find_record_type(98) && !find_record_type(99) &&
		      !find_record_type(CKPT_RECORD_TYPE_COUNT) && !find_record_type(UINT32_MAX),
	      "unknown record types have no row");
	check(strcmp(record_type_name(99), "unknown") == 0, "record_type_name(99)");
}

/* The reader's limits, as they were before the table. */
static void test_record_limits(void)
{
	const struct {
		enum ckpt_record_type type;
		uint64_t limit;
	} limits[] = {
		{ CKPT_RECORD_PAGES, sizeof(struct ckpt_pages) +
					     CKPT_MAX_PAGE_RUNS * sizeof(struct ckpt_page_run) +
					     (uint64_t)CKPT_PAGES_PER_RECORD * CKPT_PAGE_SIZE },
		{ CKPT_RECORD_CREDS, sizeof(struct ckpt_creds) + CKPT_MAX_GROUPS * sizeof(uint32_t) },
		{ CKPT_RECORD_THREAD, sizeof(struct ckpt_thread) + CKPT_MAX_XSTATE },
		{ CKPT_RECORD_TREE,
		  sizeof(struct ckpt_tree) + CKPT_MAX_PROCESSES * sizeof(struct ckpt_tree_entry) },
		{ CKPT_RECORD_SOCKET_QUEUE, sizeof(struct ckpt_socket_queue) + CKPT_MAX_SOCKET_DATA },
		{ CKPT_RECORD_INET_DATAGRAM,
		  sizeof(struct ckpt_inet_datagram) + CKPT_MAX_INET_DATAGRAM },
		{ CKPT_RECORD_INOTIFY_WATCH, 2 * CKPT_PATH_MAX + 1024 },
		{ CKPT_RECORD_PTY, sizeof(struct ckpt_pty) + CKPT_MAX_PTY_DATA },
		{ CKPT_RECORD_PROCESS, 2 * CKPT_PATH_MAX + 1024 },
		{ CKPT_RECORD_FILE, 2 * CKPT_PATH_MAX + 1024 },
		{ CKPT_RECORD_MM, 2 * CKPT_PATH_MAX + 1024 },
		{ CKPT_RECORD_HEAD, 2 * CKPT_PATH_MAX + 1024 },
		{ CKPT_RECORD_EVENTFD, 2 * CKPT_PATH_MAX + 1024 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(limits); i++) {
		uint64_t limit = record_length_limit(find_record_type(limits[i].type));

		check(limit == limits[i].limit, "record_length_limit(%s) = %llu, expected %llu",
		      record_type_name(limits[i].type), (unsigned long long)limit,
		      (unsigned long long)limits[i].limit);
	}
}

/* ---- the FILE kind table ---- */

static void test_file_kind_rows(void)
{
	const enum ckpt_file_kind kinds[] = {
		CKPT_FILE_REGULAR,     CKPT_FILE_DIRECTORY,   CKPT_FILE_CHARDEV,  CKPT_FILE_SHMEM,
		CKPT_FILE_EVENTFD,     CKPT_FILE_TIMERFD,     CKPT_FILE_SIGNALFD, CKPT_FILE_EPOLL,
		CKPT_FILE_UNIX_SOCKET, CKPT_FILE_INET_SOCKET, CKPT_FILE_PIPE,	  CKPT_FILE_INOTIFY,
		CKPT_FILE_TCP_STREAM,  CKPT_FILE_PTY,
	};

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		const struct file_kind_info *info = find_file_kind(kinds[i]);

		check(info && info->kind == kinds[i] && info->name && info->has_valid_fields,
		      "FILE kind %u has a complete row", kinds[i]);
		check(!info || info->state_record == 0 ||
			      (find_record_type(info->state_record) &&
			       find_file_kind_of_state(info->state_record) == info),
		      "FILE kind %u: its state record has a row and leads back to it", kinds[i]);
		check(!info || info->queue_record == 0 ||
			      find_file_kind_of_state(info->queue_record) == info,
		      "FILE kind %u: its queue record leads back to it", kinds[i]);
	}
	check(!find_file_kind(0) && !find_file_kind(15) && !find_file_kind(UINT32_MAX),
	      "unknown FILE kinds have no row");
	check(!find_file_kind_of_state(CKPT_RECORD_FILE) &&
		      !find_file_kind_of_state(CKPT_RECORD_EPOLL_TARGET),
	      "FILE and EPOLL_TARGET are no state records");
	check(file_kind_has(CKPT_FILE_EPOLL, FILE_KIND_EVENT_FILE) &&
		      file_kind_has(CKPT_FILE_EVENTFD, FILE_KIND_EVENT_FILE) &&
		      !file_kind_has(CKPT_FILE_UNIX_SOCKET, FILE_KIND_EVENT_FILE) &&
		      !file_kind_has(CKPT_FILE_REGULAR, FILE_KIND_EVENT_FILE) &&
		      file_kind_has(CKPT_FILE_SHMEM, FILE_KIND_MAPPING_ONLY) &&
		      file_kind_has(CKPT_FILE_EPOLL, FILE_KIND_HAS_TARGETS) &&
		      !file_kind_has(99, FILE_KIND_ON_DISK),
	      "FILE kind flags");
}

/* ---- the sample image: every record type, every FILE kind ---- */

enum {
	SAMPLE_EVENTFD = 5,
	SAMPLE_TIMERFD,
	SAMPLE_SIGNALFD,
	SAMPLE_EPOLL,
	SAMPLE_SOCKET,
	SAMPLE_PEER,
	SAMPLE_MEMFD,
	SAMPLE_PIPE,
	SAMPLE_INET,
	SAMPLE_TCP,
	SAMPLE_INOTIFY,
	SAMPLE_PTY,
};

/* The event files fit in the spec; the sockets and the memfd are inserted as bytes. */
static void add_sample_files(struct image_spec *spec)
{
	spec_add_file(spec, CKPT_FILE_EVENTFD, "anon_inode:[eventfd]", O_RDWR);
	spec_add_file(spec, CKPT_FILE_TIMERFD, "anon_inode:[timerfd]", O_RDWR);
	spec_add_file(spec, CKPT_FILE_SIGNALFD, "anon_inode:[signalfd]", O_RDWR);
	spec_add_file(spec, CKPT_FILE_EPOLL, "anon_inode:[eventpoll]", O_RDWR);
	spec_add_fd(spec, 6, CKPT_FD_CLOEXEC, SAMPLE_EVENTFD, CKPT_INHERIT_NONE);
	spec_add_fd(spec, 7, 0, SAMPLE_TIMERFD, CKPT_INHERIT_NONE);
	spec_add_fd(spec, 8, 0, SAMPLE_SIGNALFD, CKPT_INHERIT_NONE);
}

static void insert_file(struct image_bytes *bytes, size_t at, uint32_t id, enum ckpt_file_kind kind,
			uint32_t flags, const char *path)
{
	struct {
		struct ckpt_file file;
		char path[64];
	} record = { .file = { .id = id,
			       .kind = kind,
			       .open_flags = O_RDWR,
			       .mode = 0140777,
			       .path_length = (uint32_t)strlen(path) + 1,
			       .flags = flags } };

	snprintf(record.path, sizeof(record.path), "%s", path);
	image_bytes_insert_record(bytes, at, CKPT_RECORD_FILE, &record,
				  sizeof(record.file) + record.file.path_length);
}

static void insert_fd(struct image_bytes *bytes, int32_t fd, uint32_t flags, uint32_t file_id)
{
	const struct ckpt_fd record = { .fd = fd, .flags = flags, .file_id = file_id };

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_MM, 0), CKPT_RECORD_FD,
				  &record, sizeof(record));
}

/* FILEs 9-11 after FILE 8, fds 9-12 before MM, and the tree's highest fd raised to 12. */
static void insert_more_files(struct image_bytes *bytes)
{
	size_t after_epoll =
		image_bytes_next(bytes, image_bytes_find(bytes, CKPT_RECORD_FILE, SAMPLE_EPOLL - 1));

	insert_file(bytes, after_epoll, SAMPLE_PIPE, CKPT_FILE_PIPE, 0, "pipe:[4713]");
	insert_file(bytes, after_epoll, SAMPLE_MEMFD, CKPT_FILE_SHMEM, CKPT_FILE_MEMFD,
		    "/memfd:sample (deleted)");
	insert_file(bytes, after_epoll, SAMPLE_PEER, CKPT_FILE_UNIX_SOCKET, 0, "socket:[4712]");
	insert_file(bytes, after_epoll, SAMPLE_SOCKET, CKPT_FILE_UNIX_SOCKET, 0, "socket:[4711]");
	insert_fd(bytes, 9, CKPT_FD_CLOEXEC, SAMPLE_EPOLL);
	insert_fd(bytes, 10, 0, SAMPLE_SOCKET);
	insert_fd(bytes, 11, CKPT_FD_CLOEXEC, SAMPLE_PEER);
	insert_fd(bytes, 12, 0, SAMPLE_MEMFD);
	insert_fd(bytes, 13, 0, SAMPLE_PIPE);
	image_bytes_patch(bytes, image_bytes_find(bytes, CKPT_RECORD_TREE, 0),
			  offsetof(struct ckpt_tree, highest_fd), 4, 13);
}

static void insert_after_file(struct image_bytes *bytes, uint32_t file_id,
			      enum ckpt_record_type type, const void *payload, uint64_t length)
{
	size_t at = image_bytes_find(bytes, CKPT_RECORD_FILE, file_id - 1);

	image_bytes_insert_record(bytes, image_bytes_next(bytes, at), type, payload, length);
}

static void insert_socket_records(struct image_bytes *bytes)
{
	const struct ckpt_unix_socket socket = {
		.file_id = SAMPLE_SOCKET,
		.type = SOCK_STREAM,
		.peer_file_id = SAMPLE_PEER,
		.shutdown = CKPT_UNIX_SHUT_WR,
		.rcvbuf = 212992,
		.sndbuf = 212992,
	};
	const struct ckpt_unix_socket peer = {
		.file_id = SAMPLE_PEER,
		.type = SOCK_STREAM,
		.peer_file_id = SAMPLE_SOCKET,
		.shutdown = CKPT_UNIX_SHUT_RD,
		.rcvbuf = 212992,
		.sndbuf = 212992,
	};
	struct {
		struct ckpt_socket_queue queue;
		char data[5];
	} queued = { { .file_id = SAMPLE_PEER, .length = 5 }, "hello" },
	  older = { { .file_id = SAMPLE_PEER, .length = 3 }, "abc" };

	/* Inserted last first: the state record, then its queue, follow the FILE. */
	insert_after_file(bytes, SAMPLE_PEER, CKPT_RECORD_SOCKET_QUEUE, &queued,
			  sizeof(queued.queue) + 5);
	insert_after_file(bytes, SAMPLE_PEER, CKPT_RECORD_SOCKET_QUEUE, &older,
			  sizeof(older.queue) + 3);
	insert_after_file(bytes, SAMPLE_PEER, CKPT_RECORD_UNIX_SOCKET, &peer, sizeof(peer));
	insert_after_file(bytes, SAMPLE_SOCKET, CKPT_RECORD_UNIX_SOCKET, &socket, sizeof(socket));
}

/* FILE 13 (a connected UDP socket with one datagram waiting) after FILE 12, at fd 14. */
static void insert_inet_socket(struct image_bytes *bytes)
{
	struct ckpt_inet_socket sock = {
		.file_id = SAMPLE_INET,
		.family = AF_INET6,
		.type = SOCK_DGRAM,
		.state = CKPT_INET_CONNECTED,
		.local_address[15] = 1,
		.local_port = 5353,
		.remote_address[15] = 1,
		.remote_port = 53,
		.rcvbuf = 212992,
		.sndbuf = 212992,
	};
	struct {
		struct ckpt_inet_datagram datagram;
		char data[4];
	} datagram = { { .file_id = SAMPLE_INET,
			 .length = 4,
			 .source_address[15] = 1,
			 .source_port = 53,
			 .source_family = AF_INET6 },
		       "ping" };
	size_t after_pipe =
		image_bytes_next(bytes, image_bytes_find(bytes, CKPT_RECORD_FILE, SAMPLE_PIPE - 1));

	insert_file(bytes, after_pipe, SAMPLE_INET, CKPT_FILE_INET_SOCKET, 0, "socket:[4714]");
	insert_after_file(bytes, SAMPLE_INET, CKPT_RECORD_INET_DATAGRAM, &datagram,
			  sizeof(datagram.datagram) + 4);
	insert_after_file(bytes, SAMPLE_INET, CKPT_RECORD_INET_SOCKET, &sock, sizeof(sock));
	insert_fd(bytes, 14, 0, SAMPLE_INET);
	image_bytes_patch(bytes, image_bytes_find(bytes, CKPT_RECORD_TREE, 0),
			  offsetof(struct ckpt_tree, highest_fd), 4, 14);
}

static void insert_pipe_records(struct image_bytes *bytes)
{
	const struct ckpt_pipe pipe = { .file_id = SAMPLE_PIPE,
					.pipe_file_id = SAMPLE_PIPE,
					.pipe_size = 65536 };
	struct {
		struct ckpt_file_data data;
		char bytes[2];
	} in_flight = { { .file_id = SAMPLE_PIPE, .length = 2 }, { 'h', 'i' } };

	insert_after_file(bytes, SAMPLE_PIPE, CKPT_RECORD_FILE_DATA, &in_flight,
			  sizeof(in_flight.data) + 2);
	insert_after_file(bytes, SAMPLE_PIPE, CKPT_RECORD_PIPE, &pipe, sizeof(pipe));
}

/* FILE 15 (an inotify with one watch) after the other FILEs' records, at fd 16. */
static void insert_inotify(struct image_bytes *bytes)
{
	const struct ckpt_inotify inotify = { .file_id = SAMPLE_INOTIFY, .watch_count = 1 };
	struct {
		struct ckpt_inotify_watch watch;
		char path[5];
	} watch = { { .file_id = SAMPLE_INOTIFY,
		      .path_length = 5,
		      .wd = 3,
		      .mask = 0x100,
		      .inode = 42,
		      .device = 0xfe00 },
		    "/tmp" };
	size_t process_at = image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0);

	insert_file(bytes, process_at, SAMPLE_INOTIFY, CKPT_FILE_INOTIFY, 0, "anon_inode:inotify");
	insert_after_file(bytes, SAMPLE_INOTIFY, CKPT_RECORD_INOTIFY_WATCH, &watch,
			  sizeof(watch.watch) + 5);
	insert_after_file(bytes, SAMPLE_INOTIFY, CKPT_RECORD_INOTIFY, &inotify, sizeof(inotify));
	insert_fd(bytes, 16, 0, SAMPLE_INOTIFY);
	image_bytes_patch(bytes, image_bytes_find(bytes, CKPT_RECORD_TREE, 0),
			  offsetof(struct ckpt_tree, highest_fd), 4, 16);
}

/* FILE 13 (an established TCP connection with bytes queued both ways) after FILE 12, at fd 14. */
static void insert_tcp_stream(struct image_bytes *bytes)
{
	struct ckpt_tcp_stream stream = {
		.socket = { .file_id = SAMPLE_TCP,
			    .family = AF_INET,
			    .type = SOCK_STREAM,
			    .state = CKPT_INET_ESTABLISHED,
			    .local_address = { 127, 0, 0, 1 },
			    .local_port = 80,
			    .remote_address = { 127, 0, 0, 1 },
			    .remote_port = 40000 },
		.send_seq = 1000,
		.recv_seq = 2000,
		.send_queue_length = 5,
		.unsent_length = 2,
		.recv_queue_length = 3,
		.mss = 65483,
		.options = CKPT_TCP_SACK,
	};
	struct {
		struct ckpt_tcp_queue queue;
		char data[8];
	} received = { { .file_id = SAMPLE_TCP, .length = 3, .queue = CKPT_TCP_RECV_QUEUE }, "abc" },
	  sending = { { .file_id = SAMPLE_TCP, .length = 5, .queue = CKPT_TCP_SEND_QUEUE }, "hello" };
	size_t after_inet =
		image_bytes_next(bytes, image_bytes_find(bytes, CKPT_RECORD_INET_DATAGRAM, 0));

	insert_file(bytes, after_inet, SAMPLE_TCP, CKPT_FILE_TCP_STREAM, 0, "socket:[4714]");
	insert_after_file(bytes, SAMPLE_TCP, CKPT_RECORD_TCP_QUEUE, &sending,
			  sizeof(sending.queue) + 5);
	insert_after_file(bytes, SAMPLE_TCP, CKPT_RECORD_TCP_QUEUE, &received,
			  sizeof(received.queue) + 3);
	insert_after_file(bytes, SAMPLE_TCP, CKPT_RECORD_TCP_STREAM, &stream, sizeof(stream));
	insert_fd(bytes, 15, 0, SAMPLE_TCP);
	image_bytes_patch(bytes, image_bytes_find(bytes, CKPT_RECORD_TREE, 0),
			  offsetof(struct ckpt_tree, highest_fd), 4, 15);
}

/* FILE 13 (a pty master, no slave in the tree, 2 bytes of input and 3 of output waiting) at fd 14. */
static void insert_pty(struct image_bytes *bytes)
{
	struct {
		struct ckpt_pty pty;
		char data[5];
	} record = { { .file_id = SAMPLE_PTY,
		       .role = CKPT_PTY_MASTER,
		       .index = 3,
		       .flags = CKPT_PTY_PACKET,
		       .data_length = 5,
		       .input_length = 2,
		       .rows = 24,
		       .columns = 80 },
		     "ab\r\n$" };

	insert_file(bytes, image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0), SAMPLE_PTY,
		    CKPT_FILE_PTY, 0, "/dev/ptmx");
	insert_after_file(bytes, SAMPLE_PTY, CKPT_RECORD_PTY, &record, sizeof(record.pty) + 5);
	insert_fd(bytes, 17, 0, SAMPLE_PTY);
	image_bytes_patch(bytes, image_bytes_find(bytes, CKPT_RECORD_TREE, 0),
			  offsetof(struct ckpt_tree, highest_fd), 4, 17);
}

static void insert_event_records(struct image_bytes *bytes)
{
	const struct ckpt_eventfd eventfd = { .file_id = SAMPLE_EVENTFD,
					      .flags = CKPT_EVENTFD_SEMAPHORE,
					      .counter = 7 };
	const struct ckpt_timerfd timerfd = {
		.file_id = SAMPLE_TIMERFD,
		.clock_id = 1,
		.interval_ns = 1000000,
		.remaining_ns = 250000,
		.ticks = 3,
	};
	const struct ckpt_signalfd signalfd = { .file_id = SAMPLE_SIGNALFD, .mask = 1u << 9 };
	const struct ckpt_epoll_target targets[] = {
		{ .epoll_file_id = SAMPLE_EPOLL,
		  .target_file_id = SAMPLE_EVENTFD,
		  .fd = 6,
		  .events = 0x19,
		  .data = 0x1111 },
		{ .epoll_file_id = SAMPLE_EPOLL,
		  .target_file_id = 0,
		  .fd = 1,
		  .events = 0x1c,
		  .data = 0x8888 },
	};
	size_t process_at = image_bytes_find(bytes, CKPT_RECORD_PROCESS, 0);

	for (size_t i = ARRAY_SIZE(targets); i-- > 0;)
		image_bytes_insert_record(bytes, process_at, CKPT_RECORD_EPOLL_TARGET, &targets[i],
					  sizeof(targets[i]));
	insert_after_file(bytes, SAMPLE_SIGNALFD, CKPT_RECORD_SIGNALFD, &signalfd, sizeof(signalfd));
	insert_after_file(bytes, SAMPLE_TIMERFD, CKPT_RECORD_TIMERFD, &timerfd, sizeof(timerfd));
	insert_after_file(bytes, SAMPLE_EVENTFD, CKPT_RECORD_EVENTFD, &eventfd, sizeof(eventfd));
}

/* A pending signal for the process, before its VMAs. */
static void insert_siginfo(struct image_bytes *bytes)
{
	struct ckpt_siginfo siginfo = { .tid = 0 };
	int32_t signal = 10;

	memcpy(siginfo.info, &signal, sizeof(signal));
	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_VMA, 0),
				  CKPT_RECORD_SIGINFO, &siginfo, sizeof(siginfo));
}

/* One seccomp filter (LOG) of the main thread, which its THREAD record counts. */
static void insert_seccomp(struct image_bytes *bytes)
{
	struct {
		struct ckpt_seccomp filter;
		uint64_t code;
	} record = { { .tid = SPEC_PID, .flags = CKPT_SECCOMP_LOG, .instruction_count = 1 },
		     0x7fff000000000006ull };
	size_t thread_at = image_bytes_find(bytes, CKPT_RECORD_THREAD, 0);

	image_bytes_patch(bytes, thread_at, offsetof(struct ckpt_thread, seccomp_mode), 4,
			  CKPT_SECCOMP_FILTER);
	image_bytes_patch(bytes, thread_at, offsetof(struct ckpt_thread, seccomp_filter_count), 4, 1);
	image_bytes_patch(bytes, thread_at, offsetof(struct ckpt_thread, affinity), 8, 0x5);
	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_VMA, 0),
				  CKPT_RECORD_SECCOMP, &record, sizeof(record));
}

/* A POSIX timer before the process's first FD, a lock after its last. */
static void insert_timer_and_lock(struct image_bytes *bytes)
{
	const struct ckpt_posix_timer timer = {
		.id = 3,
		.clock_id = 1,
		.notify = CKPT_TIMER_NOTIFY_THREAD_ID,
		.signal = 34,
		.thread_id = SPEC_PID,
		.overrun = 2,
		.value = 0x1234,
		.interval_ns = 5,
		.remaining_ns = 7,
	};
	const struct ckpt_file_lock lock = {
		.fd = 12, .file_id = SAMPLE_MEMFD, .kind = CKPT_LOCK_FLOCK, .type = CKPT_LOCK_WRITE
	};

	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_FD, 0),
				  CKPT_RECORD_POSIX_TIMER, &timer, sizeof(timer));
	image_bytes_insert_record(bytes, image_bytes_find(bytes, CKPT_RECORD_MM, 0),
				  CKPT_RECORD_FILE_LOCK, &lock, sizeof(lock));
}

/* The tail counts the records and bytes before it. */
static void fix_tail(struct image_bytes *bytes)
{
	size_t tail_at = image_bytes_find(bytes, CKPT_RECORD_TAIL, 0);

	image_bytes_patch(bytes, tail_at, offsetof(struct ckpt_tail, record_count), 8,
			  image_bytes_record_count(bytes) - 1);
	image_bytes_patch(bytes, tail_at, offsetof(struct ckpt_tail, stream_bytes), 8, tail_at);
}

static int make_sample(struct image_bytes *bytes, struct ckpt_error *err)
{
	static struct image_spec spec;
	int ret;

	spec_init_valid(&spec, SPEC_PID);
	add_sample_files(&spec);
	ret = image_bytes_from_spec(&spec, bytes, err);
	if (ret < 0)
		return ret;
	insert_more_files(bytes);
	insert_socket_records(bytes);
	insert_inet_socket(bytes); /* FILE 13 right after FILE 12, before its PIPE */
	insert_tcp_stream(bytes);
	insert_pipe_records(bytes);
	insert_inotify(bytes);
	insert_pty(bytes);
	insert_event_records(bytes);
	insert_siginfo(bytes);
	insert_seccomp(bytes);
	insert_timer_and_lock(bytes);
	fix_tail(bytes);
	return 0;
}

/* ---- printing every record of the sample ---- */

struct printed {
	char *text;
	size_t length;
	bool type_seen[CKPT_RECORD_TYPE_COUNT];
	bool type_printed[CKPT_RECORD_TYPE_COUNT]; /* its printer wrote something */
};

/* A FILE kind's state record prints a phrase for the FD line: end it here. */
static bool is_state_record(enum ckpt_record_type type)
{
	const struct file_kind_info *kind = find_file_kind_of_state(type);

	return kind && kind->state_record == type;
}

static void print_one(FILE *out, struct image_bytes *bytes, size_t at,
		      const struct record_print_context *context, struct printed *printed)
{
	struct ckpt_record_header header = image_bytes_header(bytes, at);
	const unsigned char *payload = image_bytes_payload(bytes, at);
	long before = ftell(out);
	void *aligned = malloc(header.length + 1);

	if (!aligned)
		abort();
	memcpy(aligned, payload, header.length);
	print_record(out, header.type, aligned, header.length, context);
	if (is_state_record(header.type))
		fputc('\n', out);
	fflush(out);
	printed->type_seen[header.type] = true;
	printed->type_printed[header.type] |= ftell(out) > before;
	free(aligned);
}

static void print_all(struct image_bytes *bytes, const struct record_print_context *context,
		      struct printed *printed)
{
	FILE *out = open_memstream(&printed->text, &printed->length);

	if (!out)
		abort();
	for (size_t i = 0; i < image_bytes_record_count(bytes); i++)
		print_one(out, bytes, image_bytes_record_offset(bytes, i), context, printed);
	fclose(out);
}

/*
 * What `ckpt inspect` printed of the sample image before the printers moved
 * into src/image/ (all but its "total:" line, which no record prints).
 * The printers must print each of these lines.
 */
static const char *const inspect_lines[] = {
	"image: format 5, ckpt-tests, kernel 6.18.0-test, xstate 1024 bytes\n",
	"tree: pid 31999 ppid 1 pgid 31999 sid 31999 alive\n",
	"epoll file 8: watches fd 6 (eventfd, file 5) events 0x19 data 0x1111\n",
	"epoll file 8: watches fd 1 (taken over, file 0) events 0x1c data 0x8888\n",
	"process: pid 31999 (ckpt-badimage), ppid 1, pgid 31999, sid 31999, uid 1000, gid 1000, 1 thread\n",
	"cwd: /tmp\n",
	"umask: 022\n",
	"prctl: child subreaper no, THP disable 0, dumpable 0\n",
	"thread 31999 (ckpt-badimage): rip 0x400100 rsp 0x7ffd0000efc0 fs_base 0\n",
	"  timer slack 0 ns, parent-death signal 0, securebits 0, no_new_privs no, MCE kill policy 0\n",
	"  sched other, nice 0, priority 0, CPUs 0,2, seccomp filter (1 filter)\n",
	"oom_score_adj 0, loginuid 0, membarrier registrations 0\n",
	"seccomp filter of thread 31999: 1 instructions, log\n",
	"fd 0: terminal (taken over from the restarting ckpt)\n",
	"fd 1: pipe (taken over from the restarting ckpt)\n",
	"fd 2: socket (taken over from the restarting ckpt)\n",
	"fd 3: chardev /dev/null offset 0 cloexec\n",
	"fd 5: directory /tmp offset 0\n",
	"fd 6: eventfd counter 7 semaphore cloexec\n",
	"fd 7: timerfd clock 1 next in 250000 ns every 1000000 ns, 3 expirations pending\n",
	"fd 8: signalfd mask 0x200\n",
	"fd 9: epoll anon_inode:[eventpoll] offset 0 cloexec\n",
	"fd 10: unix socket stream (socket:[4711]), peer FILE 10, 0 messages (0 bytes) queued shut-wr\n",
	"fd 11: unix socket stream (socket:[4712]), peer FILE 9, 2 messages (8 bytes) queued shut-rd cloexec\n",
	"fd 12: memfd /memfd:sample (deleted) offset 0\n",
	"fd 13: pipe pipe:[4713], read-write end, size 65536, 2 bytes in flight\n",
	"fd 14: udp6 socket connected, [::1]:5353 to [::1]:53, 1 datagrams queued\n",
	"lock: fd 12 (/memfd:sample (deleted)): flock write, whole file\n",
	"posix timer 3: clock 1, SIGEV_THREAD_ID signal 34 value 0x1234 to thread 31999, next in 7 ns every 5 ns, overrun 2\n",
	"fd 16: inotify 1 watch\n",
	"fd 15: tcp connection 127.0.0.1:80 to 127.0.0.1:40000, 3 bytes to read, 5 to send (2 not sent yet)\n",
	"fd 17: pty master of /dev/pts/3 (24x80), input 2 output 3 bytes waiting, packet\n",
	"vma 0x000000400000-0x000000401000 r-x file-private        4 KiB        0 pages /usr/bin/cat\n",
	"vma 0x000000402000-0x000000404000 rw- file-private        8 KiB        1 pages /usr/bin/cat\n",
	"vma 0x000000404000-0x000000406000 rw- anon                8 KiB        2 pages [heap]\n",
	"vma 0x7f0000000000-0x7f0000002000 rw- shared-anon         8 KiB        1 pages /dev/zero\n",
	"vma 0x7ffd00000000-0x7ffd00010000 rw- anon               64 KiB        2 pages [stack]\n",
	"vma 0x7ffd00100000-0x7ffd00104000 r-- vvar               16 KiB        0 pages \n",
	"vma 0x7ffd00104000-0x7ffd00106000 r-- vvar_vclock         8 KiB        0 pages \n",
	"vma 0x7ffd00106000-0x7ffd00108000 r-x vdso                8 KiB        0 pages \n",
};

/* Records whose text inspect shows within another record's line, or not at all. */
static const enum ckpt_record_type silent_types[] = {
	CKPT_RECORD_CREDS,
	CKPT_RECORD_RLIMITS,
	CKPT_RECORD_SIGACTIONS,
	CKPT_RECORD_FILE,
	CKPT_RECORD_MM,
	CKPT_RECORD_PAGES,
	CKPT_RECORD_TAIL,
	CKPT_RECORD_TIMERS,
	CKPT_RECORD_SIGINFO,
	CKPT_RECORD_SOCKET_QUEUE,
	CKPT_RECORD_INET_DATAGRAM,
	CKPT_RECORD_FILE_DATA,
	CKPT_RECORD_INOTIFY_WATCH,
	CKPT_RECORD_TCP_QUEUE,
};

static bool is_silent(enum ckpt_record_type type)
{
	for (size_t i = 0; i < ARRAY_SIZE(silent_types); i++) {
		if (silent_types[i] == type)
			return true;
	}
	return false;
}

static void check_printed(const struct printed *printed)
{
	for (size_t i = 0; i < ARRAY_SIZE(known_types); i++) {
		enum ckpt_record_type type = known_types[i];

		check(printed->type_seen[type], "the sample image holds a %s record",
		      record_type_name(type));
		check(printed->type_printed[type] == !is_silent(type), "%s record: printed %s",
		      record_type_name(type), printed->type_printed[type] ? "something" : "nothing");
	}
	for (size_t i = 0; i < ARRAY_SIZE(inspect_lines); i++)
		check(strstr(printed->text, inspect_lines[i]) != NULL, "printed text lacks \"%s\"",
		      inspect_lines[i]);
}

static void save_sample(const struct image_bytes *bytes)
{
	const char *path = getenv("TEST_RECORDS_SAVE");
	struct ckpt_error err = { 0 };

	if (path)
		check(image_bytes_save(bytes, path, &err) == 0, "saving the sample: %s", err.message);
}

static void test_print_every_record(void)
{
	struct image_bytes bytes = { 0 };
	struct ckpt_error err = { 0 };
	struct image_reader reader;
	struct image_tree tree;
	struct image_process *processes = NULL;
	size_t count = 0;
	struct printed printed = { 0 };
	int fd, ret;

	ret = make_sample(&bytes, &err);
	check(ret == 0, "making the sample image: %s", err.message);
	if (ret < 0)
		return;
	save_sample(&bytes);
	fd = image_bytes_to_memfd(&bytes, &err);
	image_reader_init(&reader, fd, &err);
	ret = fd < 0 ? fd : image_read_all(&reader, &tree, &processes, &count);
	check(ret == 0 && count == 1, "reading the sample image: %s", err.message);
	if (ret == 0) {
		struct record_print_context context = { .tree = &tree, .process = &processes[0] };

		print_all(&bytes, &context, &printed);
		check_printed(&printed);
		image_free_all(&tree, processes, count);
	}
	if (getenv("TEST_RECORDS_SHOW") && printed.text)
		fputs(printed.text, stdout);
	free(printed.text);
	image_reader_free(&reader);
	if (fd >= 0)
		close(fd);
	image_bytes_release(&bytes);
}

/* Without a context, a printer prints the ids it cannot resolve. */
static void test_print_without_context(void)
{
	const struct ckpt_fd fd = { .fd = 4, .flags = CKPT_FD_CLOEXEC, .file_id = 3 };
	const struct ckpt_unix_socket sock = { .file_id = 2, .type = SOCK_DGRAM, .peer_file_id = 3 };
	char *text = NULL;
	size_t length = 0;
	FILE *out = open_memstream(&text, &length);

	if (!out)
		abort();
	print_record(out, CKPT_RECORD_FD, &fd, sizeof(fd), NULL);
	print_record(out, CKPT_RECORD_UNIX_SOCKET, &sock, sizeof(sock), NULL);
	print_record(out, CKPT_RECORD_TAIL, &fd, sizeof(fd), NULL);
	print_record(out, 99, &fd, sizeof(fd), NULL);
	fclose(out);
	check(strcmp(text,
		     "fd 4: file 3 cloexec\nunix socket dgram (?), peer FILE 3, 0 messages (0 bytes) queued") ==
		      0,
	      "printing without a context: \"%s\"", text);
	free(text);
}

int main(void)
{
	test_record_rows();
	test_record_limits();
	test_file_kind_rows();
	test_print_every_record();
	test_print_without_context();
	printf("test_records: %u checks, %u failed\n", checks_run, checks_failed);
	return checks_failed ? 1 : 0;
}
