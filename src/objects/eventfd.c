/* SPDX-License-Identifier: MIT */
/* eventfd: a 64-bit counter, maybe in semaphore mode (EFD_SEMAPHORE). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "objects/dump.h"
#include "objects/event_files.h"
#include "objects/file_kinds.h"
#include "objects/restore.h"
#include "util.h"

static bool is_eventfd(const struct fd_facts *facts)
{
	return is_anon_inode_of(facts, "eventfd");
}

/* fdinfo: "eventfd-count: <hex>" and "eventfd-semaphore: 0|1". */
static int collect_eventfd(struct dump_context *ctx, const struct fd_facts *facts,
			   struct dump_file *file)
{
	_cleanup_free_ char *text = NULL;
	struct ckpt_eventfd *state;
	uint64_t counter = 0, semaphore = 0;
	int fd = facts->fd, ret = read_event_fdinfo(ctx, fd, &text);

	if (ret == 0)
		ret = fdinfo_number(ctx, text, "eventfd-count", 16, fd, &counter);
	if (ret == 0)
		ret = fdinfo_number(ctx, text, "eventfd-semaphore", 10, fd, &semaphore);
	if (ret < 0)
		return ret;
	state = malloc(sizeof(*state));
	if (!state)
		return fail(ctx->err, ENOMEM, "out of memory");
	*state = (struct ckpt_eventfd){
		.file_id = file->record.id,
		.flags = semaphore ? CKPT_EVENTFD_SEMAPHORE : 0,
		.counter = counter,
	};
	file->kind_state = state;
	return 0;
}

static int write_eventfd(struct dump_shared *shared, const struct dump_file *file)
{
	return image_write_simple(&shared->writer, CKPT_RECORD_EVENTFD, file->kind_state,
				  sizeof(struct ckpt_eventfd));
}

/* ---- restart side ---- */

static int create_eventfd(struct restore_context *ctx, const struct file_opener *opener,
			  const struct image_file *file, int *ret_fd)
{
	const struct ckpt_eventfd *state = image_file_eventfd(file);
	int flags = EFD_CLOEXEC | EFD_NONBLOCK;
	_cleanup_close_ int fd = -1;
	int ret = begin_event_file(ctx);

	(void)opener;
	if (ret < 0)
		return ret;
	if (state->flags & CKPT_EVENTFD_SEMAPHORE)
		flags |= EFD_SEMAPHORE;
	fd = eventfd(0, flags);
	if (fd < 0)
		return fail(ctx->err, errno, "eventfd: %s", strerror(errno));
	if (state->counter &&
	    write(fd, &state->counter, sizeof(state->counter)) != sizeof(state->counter))
		return fail(ctx->err, errno, "setting an eventfd's counter to %llu: %s",
			    (unsigned long long)state->counter, strerror(errno));
	if (fcntl(fd, F_SETFL, (int)(file->file.open_flags & O_NONBLOCK)) < 0)
		return fail(ctx->err, errno, "fcntl(F_SETFL) on an eventfd: %s", strerror(errno));
	*ret_fd = fd;
	fd = -1;
	return 0;
}

const struct file_kind_ops eventfd_ops = {
	.kind = CKPT_FILE_EVENTFD,
	.recognise = is_eventfd,
	.collect = collect_eventfd,
	.write_state = write_eventfd,
	.free_state = free_plain_state,
	.create = create_eventfd,
};
