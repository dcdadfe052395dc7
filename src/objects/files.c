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

	for (size_t i = 0; reuse && i < ctx->shared->file_count; i++) {
		if (same_file_identity(&ctx->shared->files[i], st, open_flags))
			return (int)ctx->shared->files[i].record.id;
	}
	grown = realloc(ctx->shared->files, (ctx->shared->file_count + 1) * sizeof(*grown));
	if (!grown)
		return fail(ctx->err, ENOMEM, "out of memory");
	ctx->shared->files = grown;
	file = &grown[ctx->shared->file_count];
	memset(file, 0, sizeof(*file));
	file->path = strdup(path);
	if (!file->path)
		return fail(ctx->err, ENOMEM, "out of memory");
	file->reusable = reuse;
	file->record = (struct ckpt_file){
		.id = (uint32_t)ctx->shared->file_count + 1,
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
		.flags = reuse ? CKPT_FILE_MAPPED : 0,
	};
	ctx->shared->file_count++;
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

/* An fd seen earlier (in this process or another) with the same open file description. */
static uint32_t shared_file_id(struct dump_context *ctx, const struct fd_facts *facts)
{
	const struct dump_shared *shared = ctx->shared;

	for (size_t i = 0; i < shared->fd_owner_count; i++) {
		const struct fd_owner *earlier = &shared->fd_owners[i];
		const struct dump_file *file = &shared->files[earlier->file_id - 1];

		if (file->record.device != facts->st.st_dev || file->record.inode != facts->st.st_ino)
			continue;
		if (syscall(SYS_kcmp, earlier->pid, ctx->pid, KCMP_FILE, earlier->fd, facts->fd) == 0)
			return earlier->file_id;
	}
	return 0;
}

static int remember_fd_owner(struct dump_context *ctx, int fd, uint32_t file_id)
{
	struct dump_shared *shared = ctx->shared;
	struct fd_owner *grown = realloc(shared->fd_owners, (shared->fd_owner_count + 1) * sizeof(*grown));

	if (!grown)
		return fail(ctx->err, ENOMEM, "out of memory");
	shared->fd_owners = grown;
	grown[shared->fd_owner_count++] = (struct fd_owner){ ctx->pid, fd, file_id };
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
		ret = remember_fd_owner(ctx, fd, record.file_id);
		if (ret < 0)
			return ret;
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

int write_files(struct dump_shared *shared)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < shared->file_count; i++) {
		struct iovec parts[2] = {
			{ &shared->files[i].record, sizeof(shared->files[i].record) },
			{ shared->files[i].path, shared->files[i].record.path_length },
		};

		ret = image_write_record(&shared->writer, CKPT_RECORD_FILE, parts, 2);
	}
	return ret;
}

int write_fds(struct dump_context *ctx)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < ctx->fd_count; i++)
		ret = image_write_simple(ctx->writer, CKPT_RECORD_FD, &ctx->fds[i], sizeof(ctx->fds[i]));
	return ret;
}

/* ---- restart side ---- */

#include <sys/resource.h>

#include "restart.h"

#define KEPT_OPEN_FLAGS \
	(O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | O_DIRECT | O_NOATIME | O_LARGEFILE)

static bool same_contents_identity(const struct ckpt_file *file, const struct stat *st)
{
	uint64_t mtime = (uint64_t)st->st_mtim.tv_sec * 1000000000ull + (uint64_t)st->st_mtim.tv_nsec;

	if (st->st_dev == file->device && st->st_ino == file->inode)
		return true;
	return (uint64_t)st->st_size == file->size && mtime == file->mtime_ns;
}

static int check_opened_file(struct restore_context *ctx, const struct image_file *file, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return fail(ctx->err, errno, "cannot stat %s: %s", file->path, strerror(errno));
	if ((st.st_mode & S_IFMT) != (file->file.mode & S_IFMT))
		return fail(ctx->err, EINVAL, "%s is no longer the same kind of file", file->path);
	if (file->file.kind == CKPT_FILE_CHARDEV && st.st_rdev != file->file.rdev)
		return fail(ctx->err, EINVAL, "%s is no longer the same device", file->path);
	if ((file->file.flags & CKPT_FILE_MAPPED) && !same_contents_identity(&file->file, &st))
		return fail(ctx->err, ESTALE,
			    "%s changed since the checkpoint (it is mapped: its size or mtime differ)",
			    file->path);
	return 0;
}

static int open_image_file(struct restore_context *ctx, const struct image_file *file)
{
	int flags = (int)(file->file.open_flags & KEPT_OPEN_FLAGS) | O_CLOEXEC;
	int fd;

	if (file->file.kind == CKPT_FILE_DIRECTORY)
		flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
	fd = open(file->path, flags);
	if (fd < 0)
		return fail(ctx->err, errno, "cannot open %s: %s", file->path, strerror(errno));
	if (file->file.kind != CKPT_FILE_CHARDEV && file->file.offset != 0 &&
	    lseek(fd, (off_t)file->file.offset, SEEK_SET) < 0 && file->file.kind == CKPT_FILE_REGULAR) {
		close(fd);
		return fail(ctx->err, errno, "cannot seek %s to %llu: %s", file->path,
			    (unsigned long long)file->file.offset, strerror(errno));
	}
	return fd;
}

static int stage_file(struct restore_context *ctx, size_t index)
{
	const struct image_file *file = &ctx->tree.files[index];
	int fd, ret;

	if (file->file.kind == CKPT_FILE_SHMEM)
		return 0;	/* made by its first mapping */
	fd = open_image_file(ctx, file);
	if (fd < 0)
		return fd;
	ret = check_opened_file(ctx, file, fd);
	if (ret == 0) {
		ctx->staged_fds[index] = fcntl(fd, F_DUPFD_CLOEXEC, ctx->stage_base);
		if (ctx->staged_fds[index] < 0)
			ret = fail(ctx->err, errno, "cannot stage %s: %s", file->path, strerror(errno));
	}
	close(fd);
	return ret;
}

static int make_room_for_fds(struct restore_context *ctx, int highest_needed)
{
	struct rlimit limit;

	if (getrlimit(RLIMIT_NOFILE, &limit) < 0)
		return fail(ctx->err, errno, "getrlimit: %s", strerror(errno));
	if (limit.rlim_cur > (rlim_t)highest_needed)
		return 0;
	if (limit.rlim_max <= (rlim_t)highest_needed)
		return fail(ctx->err, EMFILE, "the image needs fd %d, above this shell's fd limit %llu",
			    highest_needed, (unsigned long long)limit.rlim_max);
	limit.rlim_cur = limit.rlim_max;
	return setrlimit(RLIMIT_NOFILE, &limit) < 0 ? fail(ctx->err, errno, "setrlimit: %s", strerror(errno)) : 0;
}

/* Opens every file of the image in ckpt, at fds the husks inherit. */
int stage_files(struct restore_context *ctx)
{
	size_t count = ctx->tree.file_count;
	int ret;

	ctx->stage_base = (int)ctx->tree.highest_fd + 1 > 3 ? (int)ctx->tree.highest_fd + 1 : 3;
	ret = make_room_for_fds(ctx, ctx->stage_base + (int)count + 16);
	if (ret < 0)
		return ret;
	ctx->staged_fds = malloc((count + 1) * sizeof(int));
	ctx->shmem_owners = calloc(count + 1, sizeof(*ctx->shmem_owners));
	if (!ctx->staged_fds || !ctx->shmem_owners)
		return fail(ctx->err, ENOMEM, "out of memory");
	for (size_t i = 0; i < count; i++)
		ctx->staged_fds[i] = -1;
	for (size_t i = 0; i < count; i++) {
		ret = stage_file(ctx, i);
		if (ret < 0)
			return ret;
	}
	return 0;
}

void release_staged_files(struct restore_context *ctx)
{
	for (size_t i = 0; ctx->staged_fds && i < ctx->tree.file_count; i++) {
		if (ctx->staged_fds[i] >= 0)
			close(ctx->staged_fds[i]);
	}
	free(ctx->staged_fds);
	ctx->staged_fds = NULL;
}

static int64_t install_fd(struct restore_context *ctx, const struct ckpt_fd *record)
{
	uint64_t cloexec = (record->flags & CKPT_FD_CLOEXEC) ? FD_CLOEXEC : 0;
	const uint64_t probe[6] = { (uint64_t)record->fd, F_GETFD };
	uint64_t staged;
	int64_t open_now;
	int ret;

	if (record->flags & CKPT_FD_INHERIT) {
		ret = inject_syscall(&ctx->injector, SYS_fcntl, probe, &open_now);
		if (ret < 0)
			return ret;
		if (open_now < 0)
			return 0;	/* ckpt restart itself has no such fd */
		return husk_call(ctx, "fcntl(F_SETFD)", SYS_fcntl, (uint64_t)record->fd, F_SETFD, cloexec, 0, 0, 0);
	}
	staged = (uint64_t)ctx->staged_fds[record->file_id - 1];
	return husk_call(ctx, "dup3", SYS_dup3, staged, (uint64_t)record->fd, cloexec ? O_CLOEXEC : 0, 0, 0, 0);
}

/* Closes [from, to) in the husk when not empty. */
static int64_t close_gap(struct restore_context *ctx, int from, int to)
{
	if (from >= to)
		return 0;
	return husk_call(ctx, "close_range", SYS_close_range, (uint64_t)from, (uint64_t)(to - 1), 0, 0, 0, 0);
}

/* Every fd at its number; every other fd below the staged ones closed. */
int restore_fds(struct restore_context *ctx)
{
	int next_free = 0;

	for (size_t i = 0; i < ctx->image.fd_count; i++) {
		const struct ckpt_fd *record = &ctx->image.fds[i];
		int64_t ret = close_gap(ctx, next_free, record->fd);

		if (ret >= 0)
			ret = install_fd(ctx, record);
		if (ret < 0)
			return (int)ret;
		next_free = record->fd + 1;
	}
	return (int)close_gap(ctx, next_free, ctx->stage_base);
}
