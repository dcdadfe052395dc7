/* SPDX-License-Identifier: MIT */
/* eventfd: a 64-bit counter, maybe in semaphore mode (EFD_SEMAPHORE). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "objects/dump.h"
#include "objects/event_files.h"
#include "objects/restore.h"
#include "util.h"

/* fdinfo: "eventfd-count: <hex>" and "eventfd-semaphore: 0|1". */
int collect_eventfd(struct dump_context *ctx, int fd, struct dump_file *file)
{
	_cleanup_free_ char *text = NULL;
	uint64_t counter = 0, semaphore = 0;
	int ret = read_event_fdinfo(ctx, fd, &text);

	if (ret == 0)
		ret = fdinfo_number(ctx, text, "eventfd-count", 16, fd, &counter);
	if (ret == 0)
		ret = fdinfo_number(ctx, text, "eventfd-semaphore", 10, fd, &semaphore);
	if (ret < 0)
		return ret;
	file->state.eventfd = (struct ckpt_eventfd){
		.file_id = file->record.id,
		.flags = semaphore ? CKPT_EVENTFD_SEMAPHORE : 0,
		.counter = counter,
	};
	return 0;
}

/* ---- restart side ---- */

int create_eventfd(struct restore_context *ctx, const struct image_file *file)
{
	const struct ckpt_eventfd *state = image_file_eventfd(file);
	int flags = EFD_CLOEXEC | EFD_NONBLOCK;
	_cleanup_close_ int fd = -1;
	int kept;

	if (state->flags & CKPT_EVENTFD_SEMAPHORE)
		flags |= EFD_SEMAPHORE;
	fd = eventfd(0, flags);
	if (fd < 0)
		return fail(ctx->err, errno, "eventfd: %s", strerror(errno));
	if (state->counter && write(fd, &state->counter, sizeof(state->counter)) != sizeof(state->counter))
		return fail(ctx->err, errno, "setting an eventfd's counter to %llu: %s",
			    (unsigned long long)state->counter, strerror(errno));
	if (fcntl(fd, F_SETFL, (int)(file->file.open_flags & O_NONBLOCK)) < 0)
		return fail(ctx->err, errno, "fcntl(F_SETFL) on an eventfd: %s", strerror(errno));
	kept = fd;
	fd = -1;
	return kept;
}
