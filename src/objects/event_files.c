/* SPDX-License-Identifier: MIT */
/*
 * Anonymous-inode files of event loops: eventfd, timerfd, signalfd, epoll.
 * Each is one FILE record (like any open file description, shared by every
 * fd and process that holds it) followed by the state record of its kind;
 * an epoll's watched files come as EPOLL_TARGET records after every FILE.
 * At restart ckpt makes each object itself, so the husks inherit it like a
 * file it opened; epoll registrations are made inside the husk afterwards,
 * under the fd numbers the process used.  The kinds live in eventfd.c,
 * timerfd.c, signalfd.c and epoll.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "objects/dump.h"
#include "fault.h"
#include "image/records.h"
#include "objects/event_files.h"
#include "objects/restore.h"
#include "util.h"

static const struct event_kind {
	const char *link;		/* /proc/PID/fd/N of such a file */
	uint32_t kind;
} event_kinds[] = {
	{ "anon_inode:[eventfd]", CKPT_FILE_EVENTFD },
	{ "anon_inode:[timerfd]", CKPT_FILE_TIMERFD },
	{ "anon_inode:[signalfd]", CKPT_FILE_SIGNALFD },
	{ "anon_inode:[eventpoll]", CKPT_FILE_EPOLL },
};

uint32_t event_file_kind(const char *link)
{
	for (size_t i = 0; i < ARRAY_SIZE(event_kinds); i++) {
		if (strcmp(link, event_kinds[i].link) == 0)
			return event_kinds[i].kind;
	}
	return 0;
}

int read_event_fdinfo(struct dump_context *ctx, int fd, char **ret_text)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", ctx->pid, fd);
	return read_whole_file(path, ret_text, NULL, ctx->err);
}

/* The target's open file description itself, as an fd of ckpt. */
int take_target_file(struct dump_context *ctx, int fd)
{
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, ctx->pid, 0);
	int taken;

	if (pidfd < 0)
		return fail(ctx->err, errno, "pidfd_open(%d): %s", ctx->pid, strerror(errno));
	taken = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (taken < 0)
		return fail(ctx->err, errno, "pidfd_getfd(fd %d of process %d): %s", fd, ctx->pid,
			    strerror(errno));
	return taken;
}

int fdinfo_number(struct dump_context *ctx, const char *text, const char *name, int base,
		  int fd, uint64_t *ret_value)
{
	const char *value = status_field(text, name);
	char *end;

	if (!value)
		return fail(ctx->err, EINVAL, "fdinfo of fd %d of process %d has no \"%s\"", fd,
			    ctx->pid, name);
	errno = 0;
	*ret_value = strtoull(value, &end, base);
	if (errno || end == value)
		return fail(ctx->err, EINVAL, "fdinfo of fd %d of process %d: bad \"%s\"", fd, ctx->pid,
			    name);
	return 0;
}

int collect_event_state(struct dump_context *ctx, int fd, struct dump_file *file)
{
	switch (file->record.kind) {
	case CKPT_FILE_EVENTFD:
		return collect_eventfd(ctx, fd, file);
	case CKPT_FILE_TIMERFD:
		return collect_timerfd(ctx, fd, file);
	case CKPT_FILE_SIGNALFD:
		return collect_signalfd(ctx, fd, file);
	default:
		file->first_pid = ctx->pid;	/* epoll: its targets once every fd is known */
		file->first_fd = fd;
		return 0;
	}
}

int write_event_state(struct dump_shared *shared, const struct dump_file *file)
{
	switch (file->record.kind) {
	case CKPT_FILE_EVENTFD:
		return image_write_simple(&shared->writer, CKPT_RECORD_EVENTFD, &file->state.eventfd,
					  sizeof(file->state.eventfd));
	case CKPT_FILE_TIMERFD:
		return image_write_simple(&shared->writer, CKPT_RECORD_TIMERFD, &file->state.timerfd,
					  sizeof(file->state.timerfd));
	case CKPT_FILE_SIGNALFD:
		return image_write_simple(&shared->writer, CKPT_RECORD_SIGNALFD, &file->state.signalfd,
					  sizeof(file->state.signalfd));
	default:
		return 0;
	}
}

/* ---- restart side ---- */

bool is_event_file(const struct ckpt_file *file)
{
	return file_kind_has(file->kind, FILE_KIND_EVENT_FILE);
}

/* A new object in ckpt as the image describes it (the husks inherit it), or -errno. */
int create_event_file(struct restore_context *ctx, const struct image_file *file)
{
	int ret = fault_point(ctx->err, "restart.events");

	if (ret < 0)
		return ret;
	switch (file->file.kind) {
	case CKPT_FILE_EVENTFD:
		return create_eventfd(ctx, file);
	case CKPT_FILE_TIMERFD:
		return create_timerfd(ctx, file);
	case CKPT_FILE_SIGNALFD:
		return create_signalfd(ctx, file);
	default:
		return create_epoll(ctx, file);
	}
}
