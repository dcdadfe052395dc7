/* SPDX-License-Identifier: MIT */
/* Open files: regular files, directories, a few character devices, and the
 * standard fds taken over from whoever restarts the process. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "checkpoint.h"
#include "util.h"

static bool same_file_identity(const struct dump_file *file, const struct stat *st,
			       uint32_t open_flags)
{
	return file->reusable && file->record.device == st->st_dev &&
	       file->record.inode == st->st_ino && file->record.open_flags == open_flags;
}

static uint32_t file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return CKPT_FILE_DIRECTORY;
	if (S_ISCHR(mode))
		return CKPT_FILE_CHARDEV;
	return CKPT_FILE_REGULAR;
}

int dump_add_file(struct dump_context *ctx, const char *path, const struct stat *st,
		  uint32_t open_flags, uint64_t offset, bool reuse)
{
	struct dump_file *grown, *file;

	for (size_t i = 0; reuse && i < ctx->file_count; i++) {
		if (same_file_identity(&ctx->files[i], st, open_flags))
			return (int)ctx->files[i].record.id;
	}
	grown = realloc(ctx->files, (ctx->file_count + 1) * sizeof(*grown));
	if (!grown)
		return fail(ctx->err, ENOMEM, "out of memory");
	ctx->files = grown;
	file = &grown[ctx->file_count];
	memset(file, 0, sizeof(*file));
	file->path = strdup(path);
	if (!file->path)
		return fail(ctx->err, ENOMEM, "out of memory");
	file->reusable = reuse;
	file->record = (struct ckpt_file){
		.id = (uint32_t)ctx->file_count + 1,
		.kind = file_kind(st->st_mode),
		.open_flags = open_flags,
		.mode = st->st_mode,
		.offset = offset,
		.device = st->st_dev,
		.inode = st->st_ino,
		.rdev = st->st_rdev,
		.size = (uint64_t)st->st_size,
		.mtime_ns = (uint64_t)st->st_mtim.tv_sec * 1000000000ull + (uint64_t)st->st_mtim.tv_nsec,
		.path_length = (uint32_t)strlen(path) + 1,
	};
	ctx->file_count++;
	return (int)file->record.id;
}

struct fd_facts {
	int fd;
	char target[PATH_MAX];
	struct stat st;
	uint64_t position;
	uint32_t flags;		/* fdinfo flags, O_CLOEXEC included */
};

static int read_fdinfo(struct dump_context *ctx, struct fd_facts *facts)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	const char *position, *flags;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", ctx->pid, facts->fd);
	ret = read_whole_file(path, &text, NULL, ctx->err);
	if (ret < 0)
		return ret;
	position = status_field(text, "pos");
	flags = status_field(text, "flags");
	if (!position || !flags)
		return fail(ctx->err, EINVAL, "cannot parse %s", path);
	facts->position = strtoull(position, NULL, 10);
	facts->flags = (uint32_t)strtoul(flags, NULL, 8);
	return 0;
}

static int read_fd_facts(struct dump_context *ctx, struct fd_facts *facts)
{
	char path[64];
	ssize_t length;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", ctx->pid, facts->fd);
	length = readlink(path, facts->target, sizeof(facts->target) - 1);
	if (length < 0)
		return fail(ctx->err, errno, "reading fd %d of process %d: %s", facts->fd, ctx->pid,
			    strerror(errno));
	facts->target[length] = '\0';
	if (stat(path, &facts->st) < 0)
		return fail(ctx->err, errno, "fd %d of process %d (%s): %s", facts->fd, ctx->pid,
			    facts->target, strerror(errno));
	return read_fdinfo(ctx, facts);
}

static bool is_terminal_device(const struct stat *st)
{
	unsigned int major_number = major(st->st_rdev);

	return S_ISCHR(st->st_mode) && (major_number == 136 || major_number == 4 || major_number == 5);
}

static bool is_plain_char_device(const char *path)
{
	static const char *const known[] = { "/dev/null", "/dev/zero", "/dev/urandom",
					     "/dev/random", "/dev/full" };

	for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
		if (strcmp(path, known[i]) == 0)
			return true;
	}
	return false;
}

static uint32_t inherit_kind(const struct fd_facts *facts)
{
	if (facts->fd > 2)
		return CKPT_INHERIT_NONE;
	if (is_terminal_device(&facts->st))
		return CKPT_INHERIT_TTY;
	if (S_ISFIFO(facts->st.st_mode))
		return CKPT_INHERIT_PIPE;
	if (S_ISSOCK(facts->st.st_mode))
		return CKPT_INHERIT_SOCKET;
	return CKPT_INHERIT_NONE;
}

static const char *kind_name(const struct fd_facts *facts)
{
	mode_t mode = facts->st.st_mode;

	if (S_ISFIFO(mode))
		return "a pipe";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (strncmp(facts->target, "anon_inode:", 11) == 0)
		return "an anonymous-inode file (eventfd, epoll, timerfd, signalfd, ...)";
	return "a file of an unsupported kind";
}

static int unsupported_fd(struct dump_context *ctx, const struct fd_facts *facts)
{
	return fail(ctx->err, ENOTSUP, "fd %d of process %d is %s (%s): not supported yet",
		    facts->fd, ctx->pid, kind_name(facts), facts->target);
}

static bool is_supported_file(const struct fd_facts *facts)
{
	mode_t mode = facts->st.st_mode;

	if (facts->target[0] != '/' || strstr(facts->target, " (deleted)"))
		return false;
	if (S_ISREG(mode) || S_ISDIR(mode))
		return true;
	return S_ISCHR(mode) && is_plain_char_device(facts->target);
}

/* An earlier fd of this process sharing the open file description. */
static uint32_t shared_file_id(struct dump_context *ctx, const struct fd_facts *facts)
{
	for (size_t i = 0; i < ctx->fd_count; i++) {
		const struct ckpt_fd *earlier = &ctx->fds[i];
		const struct dump_file *file;

		if (earlier->file_id == 0)
			continue;
		file = &ctx->files[earlier->file_id - 1];
		if (file->record.device != facts->st.st_dev || file->record.inode != facts->st.st_ino)
			continue;
		if (syscall(SYS_kcmp, ctx->pid, ctx->pid, KCMP_FILE, earlier->fd, facts->fd) == 0)
			return earlier->file_id;
	}
	return 0;
}

static int add_fd_record(struct dump_context *ctx, const struct ckpt_fd *record)
{
	struct ckpt_fd *grown = realloc(ctx->fds, (ctx->fd_count + 1) * sizeof(*grown));

	if (!grown)
		return fail(ctx->err, ENOMEM, "out of memory");
	ctx->fds = grown;
	grown[ctx->fd_count++] = *record;
	return 0;
}

static int collect_fd(struct dump_context *ctx, int fd)
{
	struct fd_facts facts = { .fd = fd };
	struct ckpt_fd record = { .fd = fd };
	int ret = read_fd_facts(ctx, &facts);

	if (ret < 0)
		return ret;
	record.flags = (facts.flags & O_CLOEXEC) ? CKPT_FD_CLOEXEC : 0;
	record.inherit_kind = inherit_kind(&facts);
	if (record.inherit_kind != CKPT_INHERIT_NONE) {
		record.flags |= CKPT_FD_INHERIT;
		return add_fd_record(ctx, &record);
	}
	if (!is_supported_file(&facts))
		return unsupported_fd(ctx, &facts);
	record.file_id = shared_file_id(ctx, &facts);
	if (record.file_id == 0) {
		ret = dump_add_file(ctx, facts.target, &facts.st, facts.flags & ~(uint32_t)O_CLOEXEC,
				    facts.position, false);
		if (ret < 0)
			return ret;
		record.file_id = (uint32_t)ret;
	}
	return add_fd_record(ctx, &record);
}

static int compare_ints(const void *a, const void *b)
{
	int left = *(const int *)a, right = *(const int *)b;

	return (left > right) - (left < right);
}

static int list_fds(struct dump_context *ctx, int **ret_fds, size_t *ret_count)
{
	char path[64];
	DIR *dir;
	struct dirent *entry;
	int *fds = NULL;
	size_t count = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", ctx->pid);
	dir = opendir(path);
	if (!dir)
		return fail(ctx->err, errno, "listing fds of process %d: %s", ctx->pid, strerror(errno));
	while ((entry = readdir(dir)) != NULL) {
		int *grown;

		if (entry->d_name[0] == '.')
			continue;
		grown = realloc(fds, (count + 1) * sizeof(*grown));
		if (!grown) {
			fail(ctx->err, ENOMEM, "out of memory");
			break;
		}
		fds = grown;
		fds[count++] = atoi(entry->d_name);
	}
	closedir(dir);
	qsort(fds, count, sizeof(*fds), compare_ints);
	*ret_fds = fds;
	*ret_count = count;
	return failed(ctx->err) ? ctx->err->code : 0;
}

int collect_fds(struct dump_context *ctx)
{
	_cleanup_free_ int *fds = NULL;
	size_t count = 0;
	int ret = list_fds(ctx, &fds, &count);

	for (size_t i = 0; ret == 0 && i < count; i++)
		ret = collect_fd(ctx, fds[i]);
	return ret;
}

int write_files_and_fds(struct dump_context *ctx)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < ctx->file_count; i++) {
		struct iovec parts[2] = {
			{ &ctx->files[i].record, sizeof(ctx->files[i].record) },
			{ ctx->files[i].path, ctx->files[i].record.path_length },
		};

		ret = image_write_record(&ctx->writer, CKPT_RECORD_FILE, parts, 2);
	}
	for (size_t i = 0; ret == 0 && i < ctx->fd_count; i++)
		ret = image_write_simple(&ctx->writer, CKPT_RECORD_FD, &ctx->fds[i], sizeof(ctx->fds[i]));
	return ret;
}
