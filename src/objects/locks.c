/* SPDX-License-Identifier: MIT */
/*
 * File locks: flock, POSIX (fcntl F_SETLK, lockf) and OFD locks, and leases.
 *
 * Dump: the "lock:" lines of /proc/PID/fdinfo/N name the locks held through
 * that fd: a POSIX lock belongs to the process (its fd table) and shows at
 * the fd it was taken through; a flock, OFD lock or lease belongs to the
 * open file description and shows at every fd of every process that refers
 * to it, so it is written once, with the first such fd of the tree.  Every
 * POSIX lock /proc/locks gives to the process must be one of those.
 * Restore: the husk takes each lock again through that fd, never waiting.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "objects/dump.h"
#include "objects/event_files.h"
#include "objects/restore.h"
#include "util.h"

/* One "lock:" line of fdinfo, or one line of /proc/locks, in its words. */
struct lock_line {
	char kind[16]; /* FLOCK, POSIX, OFDLCK, LEASE, ... */
	char mode[16]; /* ADVISORY; a lease: ACTIVE, BREAKING, BREAKER */
	char type[16]; /* READ, WRITE */
	int pid;
	uint64_t inode;
	long long start;
	char end[24]; /* a number or EOF */
};

/* "1: POSIX  ADVISORY  WRITE 14283 fe:00:10952958 10 14" */
static bool parse_lock_words(const char *text, struct lock_line *ret_line)
{
	unsigned int major, minor;
	unsigned long long inode;
	int matched = sscanf(text, "%*d: %15s %15s %15s %d %x:%x:%llu %lld %23s", ret_line->kind,
			     ret_line->mode, ret_line->type, &ret_line->pid, &major, &minor, &inode,
			     &ret_line->start, ret_line->end);

	ret_line->inode = inode;
	return matched == 9;
}

static int lock_kind(const struct lock_line *line, uint32_t *ret_kind)
{
	if (strcmp(line->kind, "FLOCK") == 0)
		*ret_kind = CKPT_LOCK_FLOCK;
	else if (strcmp(line->kind, "POSIX") == 0)
		*ret_kind = CKPT_LOCK_POSIX;
	else if (strcmp(line->kind, "OFDLCK") == 0)
		*ret_kind = CKPT_LOCK_OFD;
	else if (strcmp(line->kind, "LEASE") == 0 && strcmp(line->mode, "ACTIVE") == 0)
		*ret_kind = CKPT_LOCK_LEASE;
	else
		return -EINVAL;
	return 0;
}

static int lock_type(const struct lock_line *line, uint32_t *ret_type)
{
	if (strcmp(line->type, "READ") == 0)
		*ret_type = CKPT_LOCK_READ;
	else if (strcmp(line->type, "WRITE") == 0)
		*ret_type = CKPT_LOCK_WRITE;
	else
		return -EINVAL;
	return 0;
}

/* Byte range: fdinfo shows first and last byte, or EOF for "to the end". */
static int lock_range(const struct lock_line *line, struct ckpt_file_lock *lock)
{
	char *end = NULL;
	long long last;

	if (lock->kind != CKPT_LOCK_POSIX && lock->kind != CKPT_LOCK_OFD)
		return 0;
	if (line->start < 0)
		return -EINVAL;
	lock->start = (uint64_t)line->start;
	if (strcmp(line->end, "EOF") == 0)
		return 0;
	errno = 0;
	last = strtoll(line->end, &end, 10);
	if (errno || *end || last < line->start)
		return -EINVAL;
	lock->length = (uint64_t)(last - line->start) + 1;
	return 0;
}

static int lock_from_line(const struct lock_line *line, struct ckpt_file_lock *lock)
{
	int ret = lock_kind(line, &lock->kind);

	if (ret == 0)
		ret = lock_type(line, &lock->type);
	if (ret == 0)
		ret = lock_range(line, lock);
	return ret;
}

static bool belongs_to_description(uint32_t kind)
{
	return kind != CKPT_LOCK_POSIX;
}

/* Whether fd is the first fd of the tree seen on that file (collect_fds' order). */
static bool is_first_fd_of(const struct dump_context *ctx, uint32_t file_id, int fd)
{
	const struct dump_shared *shared = ctx->shared;

	for (size_t i = 0; i < shared->fd_owner_count; i++) {
		if (shared->fd_owners[i].file_id == file_id)
			return shared->fd_owners[i].pid == ctx->pid && shared->fd_owners[i].fd == fd;
	}
	return false;
}

/* The inode of each of ctx->locks, as fdinfo showed it: for the /proc/locks check. */
struct lock_inodes {
	uint64_t *inodes;
	size_t count;
};

static int add_lock(struct dump_context *ctx, struct lock_inodes *seen,
		    const struct ckpt_file_lock *lock, uint64_t inode)
{
	struct ckpt_file_lock *grown = realloc(ctx->locks, (ctx->lock_count + 1) * sizeof(*grown));
	uint64_t *inodes;

	if (!grown)
		return fail(ctx->err, ENOMEM, "out of memory");
	ctx->locks = grown;
	inodes = realloc(seen->inodes, (seen->count + 1) * sizeof(*inodes));
	if (!inodes)
		return fail(ctx->err, ENOMEM, "out of memory");
	seen->inodes = inodes;
	seen->inodes[seen->count++] = inode;
	ctx->locks[ctx->lock_count++] = *lock;
	return 0;
}

static int take_lock_line(struct dump_context *ctx, struct lock_inodes *seen,
			  const struct ckpt_fd *fd, const char *text)
{
	struct ckpt_file_lock lock = { .fd = fd->fd, .file_id = fd->file_id };
	struct lock_line line;

	if (!parse_lock_words(text, &line) || lock_from_line(&line, &lock) < 0)
		return fail(ctx->err, ENOTSUP,
			    "fd %d of process %d holds a lock ckpt cannot restore: %.60s", fd->fd,
			    ctx->pid, text);
	if (fd->file_id == 0)
		return fail(ctx->err, ENOTSUP,
			    "fd %d of process %d holds a %s lock, but the fd is taken over from the restarting ckpt: the lock would be lost",
			    fd->fd, ctx->pid, line.kind);
	if (belongs_to_description(lock.kind) && !is_first_fd_of(ctx, fd->file_id, fd->fd))
		return 0;
	return add_lock(ctx, seen, &lock, line.inode);
}

static int collect_fd_locks(struct dump_context *ctx, struct lock_inodes *seen,
			    const struct ckpt_fd *fd)
{
	_cleanup_free_ char *text = NULL;
	int ret = read_event_fdinfo(ctx, fd->fd, &text);

	for (char *line = text; ret == 0 && line; line = strchr(line, '\n')) {
		line += *line == '\n';
		if (strncmp(line, "lock:\t", 6) == 0)
			ret = take_lock_line(ctx, seen, fd, line + 6);
	}
	return ret;
}

static bool is_collected(const struct dump_context *ctx, const struct lock_inodes *seen,
			 const struct lock_line *line)
{
	struct ckpt_file_lock wanted = { .kind = CKPT_LOCK_POSIX };

	if (lock_from_line(line, &wanted) < 0)
		return false;
	for (size_t i = 0; i < ctx->lock_count; i++) {
		const struct ckpt_file_lock *lock = &ctx->locks[i];

		if (lock->kind == CKPT_LOCK_POSIX && lock->type == wanted.type &&
		    lock->start == wanted.start && lock->length == wanted.length &&
		    seen->inodes[i] == line->inode)
			return true;
	}
	return false;
}

/*
 * /proc/locks: "N: POSIX  ADVISORY  WRITE PID MAJ:MIN:INODE START END";
 * lines of a blocked waiter start with "N: ->" and are not held.
 */
static int check_posix_lock_line(struct dump_context *ctx, const struct lock_inodes *seen,
				 const char *text)
{
	struct lock_line line;

	if (!parse_lock_words(text, &line) || strcmp(line.kind, "POSIX") != 0 || line.pid != ctx->pid)
		return 0;
	if (is_collected(ctx, seen, &line))
		return 0;
	return fail(ctx->err, ENOTSUP,
		    "process %d holds a POSIX %s lock on inode %llu that none of its fds shows: it cannot be restored",
		    ctx->pid, line.type, (unsigned long long)line.inode);
}

static int check_posix_locks_seen(struct dump_context *ctx, const struct lock_inodes *seen)
{
	_cleanup_free_ char *text = NULL;
	int ret = read_whole_file("/proc/locks", &text, NULL, ctx->err);

	for (char *line = text; ret == 0 && line && *line; line = strchr(line, '\n')) {
		line += *line == '\n';
		ret = check_posix_lock_line(ctx, seen, line);
	}
	return ret;
}

static bool has_posix_lock_line(const char *text)
{
	for (const char *line = strstr(text, "lock:\t"); line; line = strstr(line + 1, "lock:\t")) {
		struct lock_line words;

		if (parse_lock_words(line + 6, &words) && strcmp(words.kind, "POSIX") == 0)
			return true;
	}
	return false;
}

/*
 * Closing any fd of a file drops the POSIX locks of the fd table on it,
 * and restart closes its staged fds in a shared table once per sharer, so
 * the owner's POSIX locks would be lost: refused while restart cannot
 * take them after the last sharer.
 */
static int check_shared_fd(struct dump_context *ctx, const char *name)
{
	_cleanup_free_ char *text = NULL;
	int fd = atoi(name);
	int ret;

	if (name[0] == '.')
		return 0;
	ret = read_event_fdinfo(ctx, fd, &text);
	if (ret == 0 && has_posix_lock_line(text))
		ret = fail(ctx->err, ENOTSUP,
			   "fd %d of process %d holds a POSIX lock in an fd table shared with another process (CLONE_FILES): not supported",
			   fd, ctx->pid);
	return ret;
}

static int refuse_shared_table_posix_locks(struct dump_context *ctx)
{
	char path[64];
	DIR *directory;
	struct dirent *entry;
	int ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", ctx->pid);
	directory = opendir(path);
	if (!directory)
		return fail(ctx->err, errno, "reading %s: %s", path, strerror(errno));
	while (ret == 0 && (entry = readdir(directory)) != NULL)
		ret = check_shared_fd(ctx, entry->d_name);
	closedir(directory);
	return ret;
}

/* The owner of a shared fd table collects its locks: they are the table's. */
int collect_locks(struct dump_context *ctx)
{
	struct lock_inodes seen = { 0 };
	int ret = 0;

	if (ctx->shares_files)
		return refuse_shared_table_posix_locks(ctx);
	for (size_t i = 0; ret == 0 && i < ctx->fd_count; i++)
		ret = collect_fd_locks(ctx, &seen, &ctx->fds[i]);
	if (ret == 0)
		ret = check_posix_locks_seen(ctx, &seen);
	free(seen.inodes);
	return ret;
}

int write_locks(struct dump_context *ctx)
{
	for (size_t i = 0; i < ctx->lock_count; i++) {
		int ret = image_write_simple(ctx->writer, CKPT_RECORD_FILE_LOCK, &ctx->locks[i],
					     sizeof(ctx->locks[i]));

		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ---- restart side ---- */

static pid_t table_owner(const struct ckpt_tree_entry *entry)
{
	return shares_with_other(entry->files_owner, entry->pid) ? entry->files_owner : entry->pid;
}

/*
 * A later process sharing this fd table closes the staged fds in it, and
 * closing any fd of a file drops the table's POSIX locks on that file.
 */
static pid_t later_table_sharer(const struct restore_context *ctx)
{
	pid_t owner = table_owner(&ctx->image.entry);

	for (size_t i = ctx->tree.next_entry; i < ctx->tree.entry_count; i++) {
		const struct ckpt_tree_entry *later = &ctx->tree.entries[i];

		if (later->state == CKPT_TREE_ALIVE && table_owner(later) == owner)
			return later->pid;
	}
	return 0;
}

static bool has_posix_locks(const struct image_process *image)
{
	for (size_t i = 0; i < image->lock_count; i++) {
		if (image->locks[i].kind == CKPT_LOCK_POSIX)
			return true;
	}
	return false;
}

static const char *lock_name(const struct ckpt_file_lock *lock)
{
	static const char *const names[][2] = {
		[CKPT_LOCK_FLOCK] = { "flock read lock", "flock write lock" },
		[CKPT_LOCK_POSIX] = { "POSIX read lock", "POSIX write lock" },
		[CKPT_LOCK_OFD] = { "OFD read lock", "OFD write lock" },
		[CKPT_LOCK_LEASE] = { "read lease", "write lease" },
	};

	return names[lock->kind][lock->type == CKPT_LOCK_WRITE];
}

static int64_t take_range_lock(struct restore_context *ctx, const struct ckpt_file_lock *lock,
			       const char *what)
{
	struct flock range = {
		.l_type = lock->type == CKPT_LOCK_WRITE ? F_WRLCK : F_RDLCK,
		.l_whence = SEEK_SET,
		.l_start = (off_t)lock->start,
		.l_len = (off_t)lock->length,
	};
	uint64_t command = lock->kind == CKPT_LOCK_OFD ? F_OFD_SETLK : F_SETLK;
	uint64_t address;
	int64_t ret = husk_put_data(ctx, 8192, &range, sizeof(range), &address);

	if (ret == 0)
		ret = husk_call(ctx, what, SYS_fcntl, (uint64_t)lock->fd, command, address, 0, 0, 0);
	return ret;
}

/* Never waits: the locks held at checkpoint did not conflict. */
static int take_lock(struct restore_context *ctx, const struct ckpt_file_lock *lock)
{
	uint64_t read_or_write = lock->type == CKPT_LOCK_WRITE ? F_WRLCK : F_RDLCK;
	uint64_t flock_operation = (lock->type == CKPT_LOCK_WRITE ? LOCK_EX : LOCK_SH) | LOCK_NB;
	uint64_t fd = (uint64_t)lock->fd;
	char what[96];
	int64_t ret;

	snprintf(what, sizeof(what), "taking the %s through fd %d", lock_name(lock), lock->fd);
	if (lock->kind == CKPT_LOCK_FLOCK)
		ret = husk_call(ctx, what, SYS_flock, fd, flock_operation, 0, 0, 0, 0);
	else if (lock->kind == CKPT_LOCK_LEASE)
		ret = husk_call(ctx, what, SYS_fcntl, fd, F_SETLEASE, read_or_write, 0, 0, 0);
	else
		ret = take_range_lock(ctx, lock, what);
	return ret < 0 ? (int)ret : 0;
}

int restore_locks(struct restore_context *ctx)
{
	pid_t sharer = later_table_sharer(ctx);

	if (sharer && has_posix_locks(&ctx->image))
		return fail(ctx->err, ENOTSUP,
			    "process %d holds POSIX locks in an fd table it shares with process %d (CLONE_FILES): not supported",
			    ctx->image.process.pid, sharer);
	for (size_t i = 0; i < ctx->image.lock_count; i++) {
		int ret = take_lock(ctx, &ctx->image.locks[i]);

		if (ret < 0)
			return ret;
	}
	return 0;
}
