/* SPDX-License-Identifier: MIT */
/* signalfd: a signal mask; the signals themselves stay pending in the process. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "objects/dump.h"
#include "objects/event_files.h"
#include "objects/file_kinds.h"
#include "objects/restore.h"
#include "util.h"

static bool is_signalfd(const struct fd_facts *facts)
{
	return is_anon_inode_of(facts, "signalfd");
}

/* fdinfo: "sigmask: <16 hex digits>". */
static int collect_signalfd(struct dump_context *ctx, const struct fd_facts *facts,
			    struct dump_file *file)
{
	_cleanup_free_ char *text = NULL;
	struct ckpt_signalfd *state;
	uint64_t mask = 0;
	int ret = read_event_fdinfo(ctx, facts->fd, &text);

	if (ret == 0)
		ret = fdinfo_number(ctx, text, "sigmask", 16, facts->fd, &mask);
	if (ret < 0)
		return ret;
	state = malloc(sizeof(*state));
	if (!state)
		return fail(ctx->err, ENOMEM, "out of memory");
	*state = (struct ckpt_signalfd){ .file_id = file->record.id, .mask = mask };
	file->kind_state = state;
	return 0;
}

static int write_signalfd(struct dump_shared *shared, const struct dump_file *file)
{
	return image_write_simple(&shared->writer, CKPT_RECORD_SIGNALFD, file->kind_state,
				  sizeof(struct ckpt_signalfd));
}

/* ---- restart side ---- */

static int create_signalfd(struct restore_context *ctx, const struct file_opener *opener,
			   const struct image_file *file, int *ret_fd)
{
	uint64_t mask = image_file_signalfd(file)->mask;
	int flags = SFD_CLOEXEC | (int)(file->file.open_flags & O_NONBLOCK);
	int fd, ret = begin_event_file(ctx);

	(void)opener;
	if (ret < 0)
		return ret;
	fd = (int)syscall(SYS_signalfd4, -1, &mask, sizeof(mask), flags);
	if (fd < 0)
		return fail(ctx->err, errno, "signalfd with mask %#llx: %s",
			    (unsigned long long)mask, strerror(errno));
	*ret_fd = fd;
	return 0;
}

const struct file_kind_ops signalfd_ops = {
	.kind = CKPT_FILE_SIGNALFD,
	.recognise = is_signalfd,
	.collect = collect_signalfd,
	.write_state = write_signalfd,
	.free_state = free_plain_state,
	.create = create_signalfd,
};
