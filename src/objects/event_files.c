/* SPDX-License-Identifier: MIT */
/*
 * Anonymous-inode files of event loops: eventfd, timerfd, signalfd, epoll.
 * Each is one FILE record (like any open file description, shared by every
 * fd and process that holds it) followed by the state record of its kind;
 * an epoll's watched files come as EPOLL_TARGET records after every FILE.
 * At restart ckpt makes each object itself, so the husks inherit it like a
 * file it opened; epoll registrations are made inside the husk afterwards,
 * under the fd numbers the process used.  The kinds live in eventfd.c,
 * timerfd.c, signalfd.c and epoll.c, each with its row of the FILE kind
 * table (file_kinds.h); this file has what they share.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "objects/dump.h"
#include "fault.h"
#include "objects/file_kinds.h"
#include "objects/event_files.h"
#include "objects/restore.h"
#include "util.h"

bool is_anon_inode_of(const struct fd_facts *facts, const char *name)
{
	char link[64];

	snprintf(link, sizeof(link), "anon_inode:[%s]", name);
	return strcmp(facts->target, link) == 0;
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

int fdinfo_number(struct dump_context *ctx, const char *text, const char *name, int base, int fd,
		  uint64_t *ret_value)
{
	const char *value = status_field(text, name);
	char *end;

	if (!value)
		return fail(ctx->err, EINVAL, "fdinfo of fd %d of process %d has no \"%s\"", fd,
			    ctx->pid, name);
	errno = 0;
	*ret_value = strtoull(value, &end, base);
	if (errno || end == value)
		return fail(ctx->err, EINVAL, "fdinfo of fd %d of process %d: bad \"%s\"", fd,
			    ctx->pid, name);
	return 0;
}

/* ---- restart side ---- */

int begin_event_file(struct restore_context *ctx)
{
	return fault_point(ctx->err, "restart.events");
}
