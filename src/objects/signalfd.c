/* SPDX-License-Identifier: MIT */
/* signalfd: a signal mask; the signals themselves stay pending in the process. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "objects/dump.h"
#include "objects/event_files.h"
#include "objects/restore.h"
#include "util.h"

/* fdinfo: "sigmask: <16 hex digits>". */
int collect_signalfd(struct dump_context *ctx, int fd, struct dump_file *file)
{
	_cleanup_free_ char *text = NULL;
	uint64_t mask = 0;
	int ret = read_event_fdinfo(ctx, fd, &text);

	if (ret == 0)
		ret = fdinfo_number(ctx, text, "sigmask", 16, fd, &mask);
	if (ret < 0)
		return ret;
	file->state.signalfd = (struct ckpt_signalfd){ .file_id = file->record.id, .mask = mask };
	return 0;
}

/* ---- restart side ---- */

int create_signalfd(struct restore_context *ctx, const struct image_file *file)
{
	uint64_t mask = image_file_signalfd(file)->mask;
	int flags = SFD_CLOEXEC | (int)(file->file.open_flags & O_NONBLOCK);
	int fd = (int)syscall(SYS_signalfd4, -1, &mask, sizeof(mask), flags);

	if (fd < 0)
		return fail(ctx->err, errno, "signalfd with mask %#llx: %s", (unsigned long long)mask,
			    strerror(errno));
	return fd;
}
