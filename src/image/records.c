/* SPDX-License-Identifier: MIT */
/* The record table: one row per record type, and the checks that read it. */
#include <stddef.h>
#include <string.h>

#include "image/image.h"
#include "image/records.h"

/* Any record may claim this much, so that its validator names a wrong size. */
#define SMALL_RECORD_LIMIT (2 * CKPT_PATH_MAX + 1024)

#define EXACT(type, message)                                                              \
	{                                                                                 \
		.kind = RECORD_SIZE_EXACT, .fixed = sizeof(type), .wrong_size = (message) \
	}

#define ARRAY(type, count_field, element, limit, message)                       \
	.kind = RECORD_SIZE_ARRAY, .fixed = sizeof(type),                       \
	.count_offset = offsetof(type, count_field), .element_size = (element), \
	.count_limit = (limit), .wrong_size = (message)

static const struct record_type_info record_types[CKPT_RECORD_TYPE_COUNT] = {
	[CKPT_RECORD_HEAD] = {
		CKPT_RECORD_HEAD, "HEAD", EXACT(struct ckpt_head, "wrong size"),
		validate_head_record, print_head_record,
	},
	[CKPT_RECORD_PROCESS] = {
		CKPT_RECORD_PROCESS, "PROCESS",
		{ ARRAY(struct ckpt_process, cwd_length, 1, CKPT_PATH_MAX,
			"size does not match its cwd length"),
		  .over_limit = "cwd is longer than 4096 bytes",
		  .not_string = "cwd is not an absolute NUL-terminated path" },
		validate_process_record, print_process_record,
	},
	[CKPT_RECORD_CREDS] = {
		CKPT_RECORD_CREDS, "CREDS",
		{ ARRAY(struct ckpt_creds, group_count, sizeof(uint32_t), CKPT_MAX_GROUPS,
			"size does not match its group count") },
		validate_creds_record, NULL,
	},
	[CKPT_RECORD_RLIMITS] = {
		CKPT_RECORD_RLIMITS, "RLIMITS", EXACT(struct ckpt_rlimits, "wrong size or count"),
		validate_rlimits_record, NULL,
	},
	[CKPT_RECORD_SIGACTIONS] = {
		CKPT_RECORD_SIGACTIONS, "SIGACTIONS", EXACT(struct ckpt_sigactions, "wrong size or count"),
		validate_sigactions_record, NULL,
	},
	[CKPT_RECORD_FILE] = {
		CKPT_RECORD_FILE, "FILE",
		{ ARRAY(struct ckpt_file, path_length, 1, CKPT_PATH_MAX,
			"size does not match its path length"),
		  .over_limit = "path is longer than 4096 bytes",
		  .not_string = "path is not an absolute NUL-terminated path" },
		validate_file_record, NULL,
	},
	[CKPT_RECORD_FD] = {
		CKPT_RECORD_FD, "FD", EXACT(struct ckpt_fd, "wrong size"),
		validate_fd_record, print_fd_record,
	},
	[CKPT_RECORD_MM] = {
		CKPT_RECORD_MM, "MM",
		{ ARRAY(struct ckpt_mm, auxv_words, sizeof(uint64_t), CKPT_MAX_AUXV_WORDS,
			"size does not match its auxv length") },
		validate_mm_record, NULL,
	},
	[CKPT_RECORD_THREAD] = {
		CKPT_RECORD_THREAD, "THREAD",
		{ ARRAY(struct ckpt_thread, xstate_size, 1, CKPT_MAX_XSTATE,
			"size does not match its xstate size"),
		  .over_limit = "xstate size out of range" },
		validate_thread_record, print_thread_record,
	},
	[CKPT_RECORD_VMA] = {
		CKPT_RECORD_VMA, "VMA", EXACT(struct ckpt_vma, "wrong size"),
		validate_vma_record, print_vma_record,
	},
	[CKPT_RECORD_PAGES] = {
		CKPT_RECORD_PAGES, "PAGES",
		{ .kind = RECORD_SIZE_OWN, .fixed = sizeof(struct ckpt_pages),
		  .own_limit = CKPT_MAX_PAGE_RUNS * sizeof(struct ckpt_page_run) +
			       (uint64_t)CKPT_PAGES_PER_RECORD * CKPT_PAGE_SIZE,
		  .wrong_size = "too short" },
		validate_pages_record, NULL,
	},
	[CKPT_RECORD_TAIL] = {
		CKPT_RECORD_TAIL, "TAIL", EXACT(struct ckpt_tail, "wrong size or magic"),
		validate_tail_record, NULL,
	},
	[CKPT_RECORD_TIMERS] = {
		CKPT_RECORD_TIMERS, "TIMERS", EXACT(struct ckpt_timers, "wrong size"),
		validate_timers_record, NULL,
	},
	[CKPT_RECORD_SIGINFO] = {
		CKPT_RECORD_SIGINFO, "SIGINFO",
		EXACT(struct ckpt_siginfo, "wrong size or reserved field set"),
		validate_siginfo_record, NULL,
	},
	[CKPT_RECORD_TREE] = {
		CKPT_RECORD_TREE, "TREE",
		{ ARRAY(struct ckpt_tree, count, sizeof(struct ckpt_tree_entry), CKPT_MAX_PROCESSES,
			"size does not match its process count") },
		validate_tree_record, print_tree_record,
	},
	[CKPT_RECORD_EVENTFD] = {
		CKPT_RECORD_EVENTFD, "EVENTFD", EXACT(struct ckpt_eventfd, "wrong size or no file"),
		validate_eventfd_record, print_eventfd_record,
	},
	[CKPT_RECORD_TIMERFD] = {
		CKPT_RECORD_TIMERFD, "TIMERFD",
		EXACT(struct ckpt_timerfd, "wrong size, no file or reserved field set"),
		validate_timerfd_record, print_timerfd_record,
	},
	[CKPT_RECORD_SIGNALFD] = {
		CKPT_RECORD_SIGNALFD, "SIGNALFD",
		EXACT(struct ckpt_signalfd, "wrong size, no file or reserved field set"),
		validate_signalfd_record, print_signalfd_record,
	},
	[CKPT_RECORD_EPOLL_TARGET] = {
		CKPT_RECORD_EPOLL_TARGET, "EPOLL_TARGET",
		EXACT(struct ckpt_epoll_target, "wrong size or no epoll"),
		validate_epoll_target_record, print_epoll_target_record,
	},
	[CKPT_RECORD_UNIX_SOCKET] = {
		CKPT_RECORD_UNIX_SOCKET, "UNIX_SOCKET",
		EXACT(struct ckpt_unix_socket, "wrong size, no file or reserved field set"),
		validate_unix_socket_record, print_unix_socket_record,
	},
	[CKPT_RECORD_SOCKET_QUEUE] = {
		CKPT_RECORD_SOCKET_QUEUE, "SOCKET_QUEUE",
		{ ARRAY(struct ckpt_socket_queue, length, 1, CKPT_MAX_SOCKET_DATA,
			"size does not match its data length"),
		  .over_limit = "no file, or more data than a record holds" },
		validate_socket_queue_record, NULL,
	},
	[CKPT_RECORD_SECCOMP] = {
		CKPT_RECORD_SECCOMP, "SECCOMP",
		{ ARRAY(struct ckpt_seccomp, instruction_count, 8, CKPT_MAX_SECCOMP_INSTRUCTIONS,
			"size does not match its instruction count"),
		  .over_limit = "more than 4096 instructions" },
		validate_seccomp_record, print_seccomp_record,
	},
	[CKPT_RECORD_INET_SOCKET] = {
		CKPT_RECORD_INET_SOCKET, "INET_SOCKET",
		EXACT(struct ckpt_inet_socket, "wrong size, no file or reserved field set"),
		validate_inet_socket_record, print_inet_socket_record,
	},
	[CKPT_RECORD_INET_DATAGRAM] = {
		CKPT_RECORD_INET_DATAGRAM, "INET_DATAGRAM",
		{ ARRAY(struct ckpt_inet_datagram, length, 1, CKPT_MAX_INET_DATAGRAM,
			"size does not match its data length"),
		  .over_limit = "a datagram above 65535 bytes" },
		validate_inet_datagram_record, NULL,
	},
	[CKPT_RECORD_PIPE] = {
		CKPT_RECORD_PIPE, "PIPE", EXACT(struct ckpt_pipe, "wrong size, no file or no pipe"),
		validate_pipe_record, print_pipe_record,
	},
	[CKPT_RECORD_FILE_DATA] = {
		CKPT_RECORD_FILE_DATA, "FILE_DATA",
		{ ARRAY(struct ckpt_file_data, length, 1, CKPT_MAX_FILE_DATA,
			"size does not match its data length"),
		  .over_limit = "no file, or no data or more than a record holds" },
		validate_file_data_record, NULL,
	},
	[CKPT_RECORD_FILE_LOCK] = {
		CKPT_RECORD_FILE_LOCK, "FILE_LOCK",
		EXACT(struct ckpt_file_lock, "wrong size or no file"),
		validate_file_lock_record, print_file_lock_record,
	},
	[CKPT_RECORD_POSIX_TIMER] = {
		CKPT_RECORD_POSIX_TIMER, "POSIX_TIMER", EXACT(struct ckpt_posix_timer, "wrong size"),
		validate_posix_timer_record, print_posix_timer_record,
	},
	[CKPT_RECORD_INOTIFY] = {
		CKPT_RECORD_INOTIFY, "INOTIFY", EXACT(struct ckpt_inotify, "wrong size or no file"),
		validate_inotify_record, print_inotify_record,
	},
	[CKPT_RECORD_INOTIFY_WATCH] = {
		CKPT_RECORD_INOTIFY_WATCH, "INOTIFY_WATCH",
		{ ARRAY(struct ckpt_inotify_watch, path_length, 1, CKPT_PATH_MAX,
			"size does not match its path length"),
		  .over_limit = "path is longer than 4096 bytes",
		  .not_string = "path is not a NUL-terminated string" },
		validate_inotify_watch_record, NULL,
	},
	[CKPT_RECORD_TCP_STREAM] = {
		CKPT_RECORD_TCP_STREAM, "TCP_STREAM",
		EXACT(struct ckpt_tcp_stream, "wrong size, no file or reserved field set"),
		validate_tcp_stream_record, print_tcp_stream_record,
	},
	[CKPT_RECORD_TCP_QUEUE] = {
		CKPT_RECORD_TCP_QUEUE, "TCP_QUEUE",
		{ ARRAY(struct ckpt_tcp_queue, length, 1, CKPT_MAX_SOCKET_DATA,
			"size does not match its data length"),
		  .over_limit = "more data than a record holds" },
		validate_tcp_queue_record, NULL,
	},
	[CKPT_RECORD_PTY] = {
		CKPT_RECORD_PTY, "PTY",
		{ ARRAY(struct ckpt_pty, data_length, 1, CKPT_MAX_PTY_DATA,
			"size does not match its data length"),
		  .over_limit = "more than 64 KiB of data waiting" },
		validate_pty_record, print_pty_record,
	},
};

const struct record_type_info *find_record_type(uint32_t type)
{
	if (type >= CKPT_RECORD_TYPE_COUNT || !record_types[type].name)
		return NULL;
	return &record_types[type];
}

const char *record_type_name(uint32_t type)
{
	const struct record_type_info *info = find_record_type(type);

	return info ? info->name : "unknown";
}

uint64_t record_length_limit(const struct record_type_info *info)
{
	const struct record_size_rule *rule = &info->size;
	uint64_t limit = rule->fixed;

	if (rule->kind == RECORD_SIZE_ARRAY)
		limit += (uint64_t)rule->count_limit * rule->element_size;
	else if (rule->kind == RECORD_SIZE_OWN)
		limit += rule->own_limit;
	return limit > SMALL_RECORD_LIMIT ? limit : SMALL_RECORD_LIMIT;
}

static int bad_size(struct ckpt_error *err, const struct record_type_info *info, const char *what)
{
	return fail(err, EINVAL, "bad image: %s record: %s", info->name, what);
}

/* A string of exactly `length` bytes: NUL-terminated, no NUL inside. */
static bool is_string(const char *text, uint64_t length)
{
	return length >= 2 && text[length - 1] == '\0' && strlen(text) == length - 1;
}

static int check_array_size(const struct record_type_info *info, const void *payload,
			    uint64_t length, struct ckpt_error *err)
{
	const struct record_size_rule *rule = &info->size;
	uint32_t count;

	memcpy(&count, (const char *)payload + rule->count_offset, sizeof(count));
	if (!rule->over_limit && count > rule->count_limit)
		return bad_size(err, info, rule->wrong_size);
	if (length - rule->fixed != (uint64_t)count * rule->element_size)
		return bad_size(err, info, rule->wrong_size);
	if (count > rule->count_limit)
		return bad_size(err, info, rule->over_limit);
	if (rule->not_string && !is_string((const char *)payload + rule->fixed, count))
		return bad_size(err, info, rule->not_string);
	return 0;
}

static int check_size(const struct record_type_info *info, const void *payload, uint64_t length,
		      struct ckpt_error *err)
{
	const struct record_size_rule *rule = &info->size;

	if (rule->kind == RECORD_SIZE_EXACT)
		return length == rule->fixed ? 0 : bad_size(err, info, rule->wrong_size);
	if (length < rule->fixed)
		return bad_size(err, info, rule->wrong_size);
	if (rule->kind == RECORD_SIZE_ARRAY)
		return check_array_size(info, payload, length, err);
	return 0;
}

int validate_record(enum ckpt_record_type type, const void *payload, uint64_t length,
		    struct ckpt_error *err)
{
	const struct record_type_info *info = find_record_type(type);
	int ret;

	if (!info)
		return fail(err, EINVAL, "bad image: unknown record type %u", type);
	ret = check_size(info, payload, length, err);
	if (ret < 0)
		return ret;
	return info->validate(payload, length, err);
}

void print_record(FILE *out, uint32_t type, const void *payload, uint64_t length,
		  const struct record_print_context *context)
{
	const struct record_type_info *info = find_record_type(type);

	if (info && info->print)
		info->print(out, payload, length, context);
}
