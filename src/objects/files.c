/* SPDX-License-Identifier: MIT */
/*
 * Open files and fds.  Each fd of the target is one FD record; its open file
 * description is one FILE record, shared by every fd and process that holds
 * it, of a kind from the FILE kind table (file_kinds.h), whose hooks collect,
 * write and create it.  The kinds on disk live here: regular files,
 * directories, a few character devices.  So do the standard fds taken over
 * from whoever restarts the process, and the credentials files are opened
 * with at restart.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "objects/dump.h"
#include "fault.h"
#include "objects/event_files.h"
#include "image/records.h"
#include "objects/file_kinds.h"
#include "util.h"

#define MQUEUE_MAGIC 0x19800202 /* the mqueue filesystem (ipc/mqueue.c; not in the uapi headers) */

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
		.mtime_ns = (uint64_t)st->st_mtim.tv_sec * 1000000000ull +
			    (uint64_t)st->st_mtim.tv_nsec,
		.path_length = (uint32_t)strlen(path) + 1,
		.flags = reuse ? CKPT_FILE_MAPPED : 0,
	};
	ctx->shared->file_count++;
	return (int)file->record.id;
}

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

/* A socket's protocol name, which says its family; "" when sockfs does not say. */
static void read_socket_protocol(const char *path, struct fd_facts *facts)
{
	ssize_t length;

	facts->socket_protocol[0] = '\0';
	if (!S_ISSOCK(facts->st.st_mode))
		return;
	length = getxattr(path, "system.sockprotoname", facts->socket_protocol,
			  sizeof(facts->socket_protocol) - 1);
	facts->socket_protocol[length > 0 ? length : 0] = '\0';
}

static int read_fd_facts(struct dump_context *ctx, struct fd_facts *facts)
{
	struct statfs fs;
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
	facts->fs_magic = statfs(path, &fs) == 0 ? (uint64_t)fs.f_type : 0;
	read_socket_protocol(path, facts);
	return read_fdinfo(ctx, facts);
}

static bool is_terminal_device(const struct stat *st)
{
	unsigned int major_number = major(st->st_rdev);

	return S_ISCHR(st->st_mode) &&
	       (major_number == 136 || major_number == 4 || major_number == 5);
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

/*
 * fds 0-2 that are a terminal or a kind taken over there (a pipe, a socket),
 * and fds a kind's taken_over rule names (a pipe to outside the tree), come
 * from ckpt restart, unless their kind saves them (a pty whose master is in
 * the tree).
 */
static uint32_t inherit_kind(struct dump_context *ctx, const struct file_kind_ops *kind,
			     const struct fd_facts *facts)
{
	if (facts->fd <= 2 && kind && kind->saved_at_low_fd && kind->saved_at_low_fd(ctx, facts))
		return CKPT_INHERIT_NONE;
	if (facts->fd <= 2 && is_terminal_device(&facts->st))
		return CKPT_INHERIT_TTY;
	if (!kind || kind->inherited_as == CKPT_INHERIT_NONE)
		return CKPT_INHERIT_NONE;
	if (kind->taken_over)
		return kind->taken_over(ctx, facts) ? kind->inherited_as : CKPT_INHERIT_NONE;
	return facts->fd <= 2 ? kind->inherited_as : CKPT_INHERIT_NONE;
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
	if (facts->fs_magic == MQUEUE_MAGIC)
		return "a POSIX message queue";
	if (strncmp(facts->target, "anon_inode:", 11) == 0)
		return "an anonymous-inode file of another kind";
	return "a file of an unsupported kind";
}

static int unsupported_fd(struct dump_context *ctx, const struct fd_facts *facts)
{
	int epoll_fd = find_epoll_watching(ctx, facts->fd);

	if (epoll_fd >= 0)
		return fail(ctx->err, ENOTSUP,
			    "fd %d of process %d is %s (%s), watched by epoll fd %d: not supported yet",
			    facts->fd, ctx->pid, kind_name(facts), facts->target, epoll_fd);
	return fail(ctx->err, ENOTSUP, "fd %d of process %d is %s (%s): not supported yet",
		    facts->fd, ctx->pid, kind_name(facts), facts->target);
}

/* A file with a path that still names it. */
static bool is_on_disk(const struct fd_facts *facts)
{
	return facts->target[0] == '/' && !strstr(facts->target, " (deleted)") &&
	       facts->fs_magic != MQUEUE_MAGIC;
}

static bool is_regular_file(const struct fd_facts *facts)
{
	return is_on_disk(facts) && S_ISREG(facts->st.st_mode);
}

static bool is_directory(const struct fd_facts *facts)
{
	return is_on_disk(facts) && S_ISDIR(facts->st.st_mode);
}

static bool is_plain_chardev(const struct fd_facts *facts)
{
	return is_on_disk(facts) && S_ISCHR(facts->st.st_mode) && is_plain_char_device(facts->target);
}

static int collect_position(struct dump_context *ctx, const struct fd_facts *facts,
			    struct dump_file *file)
{
	(void)ctx;
	file->record.offset = facts->position;
	return 0;
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
	struct fd_owner *grown =
		realloc(shared->fd_owners, (shared->fd_owner_count + 1) * sizeof(*grown));

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

/* A new FILE record for the open file description at this fd, with its kind's state. */
static int add_new_file(struct dump_context *ctx, const struct file_kind_ops *kind,
			const struct fd_facts *facts)
{
	struct dump_file *file;
	int id = dump_add_file(ctx, facts->target, &facts->st, facts->flags & ~(uint32_t)O_CLOEXEC,
			       0, false);
	int ret;

	if (id < 0)
		return id;
	file = &ctx->shared->files[id - 1];
	file->record.kind = kind->kind;
	file->first_pid = ctx->pid;
	file->first_fd = facts->fd;
	ret = kind->collect ? kind->collect(ctx, facts, file) : 0;
	return ret < 0 ? ret : id;
}

/* The FILE of an open file description seen first at this fd; the fd is its owner. */
static int add_described_file(struct dump_context *ctx, const struct file_kind_ops *kind,
			      const struct fd_facts *facts, uint32_t *ret_id)
{
	int id = kind->add_file ? kind->add_file(ctx, facts) : add_new_file(ctx, kind, facts);

	if (id < 0)
		return id;
	*ret_id = (uint32_t)id;
	return remember_fd_owner(ctx, facts->fd, (uint32_t)id);
}

static int collect_fd(struct dump_context *ctx, int fd)
{
	struct fd_facts facts = { .fd = fd };
	struct ckpt_fd record = { .fd = fd };
	const struct file_kind_ops *kind;
	int ret = read_fd_facts(ctx, &facts);

	if (ret < 0)
		return ret;
	record.flags = (facts.flags & O_CLOEXEC) ? CKPT_FD_CLOEXEC : 0;
	kind = recognise_fd(&facts);
	record.inherit_kind = inherit_kind(ctx, kind, &facts);
	if (record.inherit_kind != CKPT_INHERIT_NONE) {
		record.flags |= CKPT_FD_INHERIT;
		return add_fd_record(ctx, &record);
	}
	if (!kind)
		return unsupported_fd(ctx, &facts);
	record.file_id = shared_file_id(ctx, &facts);
	if (record.file_id == 0)
		ret = add_described_file(ctx, kind, &facts, &record.file_id);
	if (ret < 0)
		return ret;
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
		return fail(ctx->err, errno, "listing fds of process %d: %s", ctx->pid,
			    strerror(errno));
	for (entry = readdir(dir); entry; entry = readdir(dir)) {
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
	if (ret == 0)
		ret = fault_point(ctx->err, "checkpoint.events");
	if (ret == 0)
		ret = collect_file_links(ctx);
	return ret;
}

/* The FILE record, then its kind's state records. */
static int write_file(struct dump_shared *shared, struct dump_file *file)
{
	const struct file_kind_ops *kind = find_file_kind_ops(file->record.kind);
	struct iovec parts[2] = {
		{ &file->record, sizeof(file->record) },
		{ file->path, file->record.path_length },
	};
	int ret = image_write_record(&shared->writer, CKPT_RECORD_FILE, parts, 2);

	if (ret == 0 && kind->write_state)
		ret = kind->write_state(shared, file);
	return ret;
}

/* Every FILE with its state, then the records that name other files (epoll targets). */
int write_files(struct dump_shared *shared)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < shared->file_count; i++)
		ret = write_file(shared, &shared->files[i]);
	for (size_t i = 0; ret == 0 && i < shared->file_count; i++) {
		const struct file_kind_ops *kind = find_file_kind_ops(shared->files[i].record.kind);

		if (kind->write_links)
			ret = kind->write_links(shared, &shared->files[i]);
	}
	return ret;
}

int write_fds(struct dump_context *ctx)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < ctx->fd_count; i++)
		ret = image_write_simple(ctx->writer, CKPT_RECORD_FD, &ctx->fds[i],
					 sizeof(ctx->fds[i]));
	return ret;
}

/* ---- restart side ---- */

#include <linux/openat2.h>
#include <sys/resource.h>

#include "objects/restore.h"

#define KEPT_OPEN_FLAGS \
	(O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | O_DIRECT | O_NOATIME | O_LARGEFILE)

/*
 * The files of an image are opened with the credentials of its processes,
 * not the restarter's: root restarting a user's image must not hand the
 * user a file only root can open.  ckpt takes the image's file-system ids
 * and no supplementary groups while it opens them.  Raw syscalls: glibc's
 * setgroups() would change every thread, these change only this one (ckpt
 * has no other thread yet: the page reader starts later).
 *
 * An image is data its owner can edit, device and inode numbers included,
 * so nothing in it proves a file is one the process held: a file the
 * image's user may not open (also one the process opened before it
 * dropped privileges) is refused, unless the restarter says it trusts the
 * image (CKPT_OPT_TRUST_IMAGE: its files are opened with the restarter's
 * own credentials).
 *
 * Paths are opened without following any symlink: those saved come from
 * the kernel with every link resolved, so a symlink on the way now was
 * planted since.  On the host (and boot) of the checkpoint, a regular file
 * or directory must still be the same inode.
 */
struct file_opener {
	bool switched;
	bool same_boot; /* the image was written since this host booted */
	uid_t uid;	/* the image's, when switched */
	gid_t gid;
	uid_t saved_fsuid;
	gid_t saved_fsgid;
	int saved_group_count;
	gid_t *saved_groups;
};

static uid_t current_fsuid(void)
{
	return (uid_t)syscall(SYS_setfsuid, (uid_t)-1);
}

static gid_t current_fsgid(void)
{
	return (gid_t)syscall(SYS_setfsgid, (gid_t)-1);
}

/* The one user of the image's live processes (the tree knows no more). */
static int find_files_owner(struct restore_context *ctx, const struct ckpt_tree_entry **ret_owner)
{
	const struct ckpt_tree_entry *owner = NULL;

	for (size_t i = 0; i < ctx->tree.entry_count; i++) {
		const struct ckpt_tree_entry *entry = &ctx->tree.entries[i];

		if (entry->state != CKPT_TREE_ALIVE)
			continue;
		if (!owner)
			owner = entry;
		else if (entry->uid != owner->uid || entry->gid != owner->gid)
			return fail(ctx->err, ENOTSUP,
				    "processes %d (uid %u gid %u) and %d (uid %u gid %u) of the image ran as different users: restart opens the image's files as one user and cannot do that yet",
				    owner->pid, owner->uid, owner->gid, entry->pid, entry->uid,
				    entry->gid);
	}
	*ret_owner = owner;
	return 0;
}

static int save_groups(struct restore_context *ctx, struct file_opener *opener)
{
	int count = getgroups(0, NULL);

	if (count < 0)
		return fail(ctx->err, errno, "getgroups: %s", strerror(errno));
	opener->saved_groups = calloc((size_t)count + 1, sizeof(gid_t));
	if (!opener->saved_groups)
		return fail(ctx->err, ENOMEM, "out of memory");
	opener->saved_group_count = getgroups(count, opener->saved_groups);
	if (opener->saved_group_count < 0)
		return fail(ctx->err, errno, "getgroups: %s", strerror(errno));
	return 0;
}

static int use_owner_ids(struct restore_context *ctx, const struct file_opener *opener)
{
	if (syscall(SYS_setgroups, 0, NULL) < 0)
		return fail(ctx->err, errno, "setgroups: %s", strerror(errno));
	syscall(SYS_setfsgid, opener->gid);
	syscall(SYS_setfsuid, opener->uid);
	if (current_fsuid() != opener->uid || current_fsgid() != opener->gid)
		return fail(ctx->err, EPERM,
			    "cannot take uid %u gid %u (the image's user) to open the image's files",
			    opener->uid, opener->gid);
	return 0;
}

static void use_restarter_ids(const struct file_opener *opener)
{
	syscall(SYS_setfsuid, opener->saved_fsuid);
	syscall(SYS_setfsgid, opener->saved_fsgid);
	syscall(SYS_setgroups, opener->saved_group_count, opener->saved_groups);
}

/*
 * An image in a regular file that the restarter owns and nobody else may
 * write was written by the restarter (or someone as privileged): only the
 * restarter could have edited it, so it is trusted like --trust-image.
 */
static bool is_restarters_own_image(int image_fd)
{
	struct stat st;

	if (fstat(image_fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	return st.st_uid == geteuid() && !(st.st_mode & (S_IWGRP | S_IWOTH));
}

static bool is_trusted_image(const struct restore_context *ctx)
{
	return (ctx->options->flags & CKPT_OPT_TRUST_IMAGE) ||
	       is_restarters_own_image(ctx->reader.fd);
}

static int become_files_owner(struct restore_context *ctx, struct file_opener *opener)
{
	const struct ckpt_tree_entry *owner = NULL;
	int ret = 0;

	opener->saved_fsuid = current_fsuid();
	opener->saved_fsgid = current_fsgid();
	if (is_trusted_image(ctx))
		return 0;
	ret = find_files_owner(ctx, &owner);
	if (ret < 0 || !owner)
		return ret;
	if (owner->uid == opener->saved_fsuid && owner->gid == opener->saved_fsgid)
		return 0;
	ret = save_groups(ctx, opener);
	if (ret < 0)
		return ret;
	opener->switched = true;
	opener->uid = owner->uid;
	opener->gid = owner->gid;
	return use_owner_ids(ctx, opener);
}

static void return_to_restarter(struct file_opener *opener)
{
	if (opener->switched)
		use_restarter_ids(opener);
	free(opener->saved_groups);
	opener->saved_groups = NULL;
	opener->switched = false;
}

/* An fd, or -errno (no message); never through a symlink. */
static int open_no_symlinks(const char *path, int flags)
{
	struct open_how how = { .flags = (uint64_t)(unsigned int)flags,
				.resolve = RESOLVE_NO_SYMLINKS };
	long fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

static int open_failure(struct restore_context *ctx, const struct file_opener *opener,
			const char *path, int code)
{
	if (failed(ctx->err))
		return ctx->err->code;
	if (code == ELOOP)
		return fail(ctx->err, ELOOP,
			    "%s: a symlink is on its path now, and there was none at checkpoint: refused",
			    path);
	if (opener->switched && (code == EACCES || code == EPERM))
		return fail(ctx->err, code,
			    "cannot open %s as uid %u gid %u (the image's user): %s (ckpt restart --trust-image opens it with your rights, if you trust this image)",
			    path, opener->uid, opener->gid, strerror(code));
	if (opener->switched)
		return fail(ctx->err, code, "cannot open %s as uid %u gid %u (the image's user): %s",
			    path, opener->uid, opener->gid, strerror(code));
	return fail(ctx->err, code, "cannot open %s: %s", path, strerror(code));
}

static const char *mode_kind_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "a regular file";
	case S_IFDIR:
		return "a directory";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	default:
		return "a file of an unknown kind";
	}
}

static bool same_contents_identity(const struct ckpt_file *file, const struct stat *st)
{
	uint64_t mtime = (uint64_t)st->st_mtim.tv_sec * 1000000000ull + (uint64_t)st->st_mtim.tv_nsec;

	if (st->st_dev == file->device && st->st_ino == file->inode)
		return true;
	return (uint64_t)st->st_size == file->size && mtime == file->mtime_ns;
}

/* How the files of an on-disk kind are found and opened again. */
struct disk_kind {
	bool keeps_identity; /* the same inode while it exists (a device node may be made anew) */
	bool is_device;	     /* the same device number; no offset */
	bool must_seek;	     /* a failed seek to its offset is an error (a directory's is not) */
	bool is_directory;   /* opened O_RDONLY | O_DIRECTORY */
};

static const struct disk_kind regular_disk_kind = { .keeps_identity = true, .must_seek = true };
static const struct disk_kind directory_disk_kind = { .keeps_identity = true, .is_directory = true };
static const struct disk_kind chardev_disk_kind = { .is_device = true };

/* What is at the path now (an O_PATH fd: nothing opened yet) is what was. */
static int check_found_file(struct restore_context *ctx, const struct disk_kind *kind,
			    const struct image_file *file, int path_fd, bool same_boot)
{
	struct stat st;

	if (fstat(path_fd, &st) < 0)
		return fail(ctx->err, errno, "cannot stat %s: %s", file->path, strerror(errno));
	if ((st.st_mode & S_IFMT) != (file->file.mode & S_IFMT))
		return fail(ctx->err, EINVAL, "FILE %s was %s and is now %s", file->path,
			    mode_kind_name(file->file.mode), mode_kind_name(st.st_mode));
	if (kind->is_device && st.st_rdev != file->file.rdev)
		return fail(ctx->err, EINVAL, "%s is no longer the same device", file->path);
	if (same_boot && kind->keeps_identity &&
	    (st.st_dev != file->file.device || st.st_ino != file->file.inode))
		return fail(ctx->err, ESTALE,
			    "%s is no longer the file of the checkpoint (another device or inode): refused",
			    file->path);
	if ((file->file.flags & CKPT_FILE_MAPPED) && !same_contents_identity(&file->file, &st))
		return fail(ctx->err, ESTALE,
			    "%s changed since the checkpoint (it is mapped: its size or mtime differ)",
			    file->path);
	return 0;
}

static int find_image_file(struct restore_context *ctx, const struct file_opener *opener,
			   const struct disk_kind *kind, const struct image_file *file)
{
	int path_fd = open_no_symlinks(file->path, O_PATH | O_CLOEXEC);
	int ret;

	if (path_fd < 0)
		return open_failure(ctx, opener, file->path, -path_fd);
	ret = check_found_file(ctx, kind, file, path_fd, opener->same_boot);
	if (ret < 0) {
		close(path_fd);
		return ret;
	}
	return path_fd;
}

static int clear_nonblock(struct restore_context *ctx, const struct image_file *file, int fd)
{
	int status = fcntl(fd, F_GETFL);

	if (status < 0 || fcntl(fd, F_SETFL, status & ~O_NONBLOCK) < 0)
		return fail(ctx->err, errno, "fcntl(F_SETFL) on %s: %s", file->path, strerror(errno));
	return 0;
}

/*
 * Opens the file found at path_fd, never blocking (a FIFO, a device) and
 * never taking a controlling terminal; O_NONBLOCK stays only if it was set.
 */
static int open_found_file(struct restore_context *ctx, const struct file_opener *opener,
			   const struct disk_kind *kind, const struct image_file *file, int path_fd)
{
	int flags = (int)(file->file.open_flags & KEPT_OPEN_FLAGS);
	char path[64];
	int fd, ret = 0;

	if (kind->is_directory)
		flags = O_RDONLY | O_DIRECTORY;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", path_fd);
	fd = open(path, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	if (fd < 0)
		return open_failure(ctx, opener, file->path, -fd);
	if (!(flags & O_NONBLOCK))
		ret = clear_nonblock(ctx, file, fd);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

static int seek_image_file(struct restore_context *ctx, const struct disk_kind *kind,
			   const struct image_file *file, int fd)
{
	if (kind->is_device || file->file.offset == 0)
		return 0;
	if (lseek(fd, (off_t)file->file.offset, SEEK_SET) >= 0 || !kind->must_seek)
		return 0;
	return fail(ctx->err, errno, "cannot seek %s to %llu: %s", file->path,
		    (unsigned long long)file->file.offset, strerror(errno));
}

static int open_image_file(struct restore_context *ctx, const struct file_opener *opener,
			   const struct disk_kind *kind, const struct image_file *file)
{
	_cleanup_close_ int path_fd = find_image_file(ctx, opener, kind, file);
	int fd, ret;

	if (path_fd < 0)
		return path_fd;
	fd = open_found_file(ctx, opener, kind, file, path_fd);
	if (fd < 0)
		return fd;
	ret = seek_image_file(ctx, kind, file, fd);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

static int create_disk_file(struct restore_context *ctx, const struct file_opener *opener,
			    const struct disk_kind *kind, const struct image_file *file, int *ret_fd)
{
	int fd = open_image_file(ctx, opener, kind, file);

	if (fd < 0)
		return fd;
	*ret_fd = fd;
	return 0;
}

static int create_regular_file(struct restore_context *ctx, const struct file_opener *opener,
			       const struct image_file *file, int *ret_fd)
{
	return create_disk_file(ctx, opener, &regular_disk_kind, file, ret_fd);
}

static int create_directory(struct restore_context *ctx, const struct file_opener *opener,
			    const struct image_file *file, int *ret_fd)
{
	return create_disk_file(ctx, opener, &directory_disk_kind, file, ret_fd);
}

static int create_chardev(struct restore_context *ctx, const struct file_opener *opener,
			  const struct image_file *file, int *ret_fd)
{
	return create_disk_file(ctx, opener, &chardev_disk_kind, file, ret_fd);
}

static int stage_file(struct restore_context *ctx, const struct file_opener *opener, size_t index)
{
	const struct image_file *file = &ctx->tree.files[index];
	const struct file_kind_ops *kind = find_file_kind_ops(file->file.kind);
	_cleanup_close_ int fd = -1;
	int ret;

	if (ctx->staged_fds[index] >= 0)
		return 0; /* made with another file (a unix socket's peer) */
	if (!kind)
		return fail(ctx->err, EINVAL,
			    "bad image: FILE %u is of kind %u, which this ckpt cannot restart",
			    file->file.id, file->file.kind);
	ret = kind->create(ctx, opener, file, &fd);
	if (ret < 0 || fd < 0)
		return ret; /* no fd and no error: made later (shared memory, by its first mapping) */
	ctx->staged_fds[index] = fcntl(fd, F_DUPFD_CLOEXEC, ctx->stage_base);
	if (ctx->staged_fds[index] < 0)
		return fail(ctx->err, errno, "cannot stage %s: %s", file->path, strerror(errno));
	return 0;
}

/* Whether boot_id is this boot's (/proc/sys/kernel/random/boot_id, as 16 bytes). */
static bool is_this_boot(const uint8_t boot_id[16])
{
	_cleanup_free_ char *text = NULL;
	struct ckpt_error ignored = { 0 };
	uint8_t ours[16] = { 0 };
	int digits = 0;

	if (read_whole_file("/proc/sys/kernel/random/boot_id", &text, NULL, &ignored) < 0)
		return false;
	for (const char *c = text; *c && digits < 32; c++) {
		unsigned int nibble;

		if (sscanf(c, "%1x", &nibble) != 1)
			continue;
		ours[digits / 2] = (uint8_t)(ours[digits / 2] << 4 | nibble);
		digits++;
	}
	return digits == 32 && memcmp(ours, boot_id, sizeof(ours)) == 0;
}

static int make_room_for_fds(struct restore_context *ctx, int highest_needed)
{
	struct rlimit limit;

	if (getrlimit(RLIMIT_NOFILE, &limit) < 0)
		return fail(ctx->err, errno, "getrlimit: %s", strerror(errno));
	if (limit.rlim_cur > (rlim_t)highest_needed)
		return 0;
	if (limit.rlim_max <= (rlim_t)highest_needed)
		return fail(ctx->err, EMFILE,
			    "the image needs fd %d, above this shell's fd limit %llu",
			    highest_needed, (unsigned long long)limit.rlim_max);
	limit.rlim_cur = limit.rlim_max;
	return setrlimit(RLIMIT_NOFILE, &limit) < 0
		       ? fail(ctx->err, errno, "setrlimit: %s", strerror(errno))
		       : 0;
}

/* ckpt restart's fds that --inherit-fd names, staged above the image's fds. */
static int stage_wired_fds(struct restore_context *ctx)
{
	const struct ckpt_options *options = ctx->options;

	if (options->inherit_fd_count == 0)
		return 0;
	ctx->wired_fds = malloc(options->inherit_fd_count * sizeof(int));
	if (!ctx->wired_fds)
		return fail(ctx->err, ENOMEM, "out of memory");
	for (size_t i = 0; i < options->inherit_fd_count; i++)
		ctx->wired_fds[i] = -1;
	for (size_t i = 0; i < options->inherit_fd_count; i++) {
		const struct ckpt_inherit_fd *wire = &options->inherit_fds[i];

		ctx->wired_fds[i] = fcntl(wire->from_fd, F_DUPFD_CLOEXEC, ctx->stage_base);
		if (ctx->wired_fds[i] < 0)
			return fail(ctx->err, errno, "--inherit-fd %d=%d: fd %d: %s", wire->fd,
				    wire->from_fd, wire->from_fd, strerror(errno));
	}
	return 0;
}

static void close_wired_fds(struct restore_context *ctx)
{
	for (size_t i = 0; ctx->wired_fds && i < ctx->options->inherit_fd_count; i++) {
		if (ctx->wired_fds[i] >= 0)
			close(ctx->wired_fds[i]);
	}
	free(ctx->wired_fds);
	ctx->wired_fds = NULL;
}

/*
 * The staged fd --inherit-fd gives this inherited fd; -ENOENT: none, and
 * at fds 0-2 ckpt restart's own are taken.  Above 2 (a pipe whose other end
 * was outside the tree), an fd without --inherit-fd is refused by number.
 */
static int find_wired_fd(struct restore_context *ctx, const struct ckpt_fd *record)
{
	for (size_t i = 0; ctx->wired_fds && i < ctx->options->inherit_fd_count; i++) {
		if (ctx->options->inherit_fds[i].fd == record->fd)
			return ctx->wired_fds[i];
	}
	if (record->fd <= 2)
		return -ENOENT;
	return fail(ctx->err, ENOTSUP,
		    "fd %d of process %d was a %s whose other end was outside the checkpointed tree: give it one of yours with ckpt restart --inherit-fd %d=FD",
		    record->fd, ctx->image.process.pid,
		    image_inherit_kind_name(record->inherit_kind), record->fd);
}

/* Opens every file of the image in ckpt, at fds the husks inherit. */
int stage_files(struct restore_context *ctx)
{
	struct file_opener opener = { 0 };
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
	opener.same_boot = is_this_boot(ctx->tree.head.boot_id);
	ret = become_files_owner(ctx, &opener);
	for (size_t i = 0; ret == 0 && i < count; i++)
		ret = stage_file(ctx, &opener, i);
	return_to_restarter(&opener);
	unstage_file_kinds(ctx);
	if (ret == 0)
		ret = stage_wired_fds(ctx);
	return ret;
}

void close_staged_files(struct restore_context *ctx)
{
	unstage_file_kinds(ctx);
	close_wired_fds(ctx);
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
		ret = find_wired_fd(ctx, record);
		if (ret >= 0)
			return husk_call(ctx, "dup3", SYS_dup3, (uint64_t)ret, (uint64_t)record->fd,
					 cloexec ? O_CLOEXEC : 0, 0, 0, 0);
		if (ret != -ENOENT)
			return ret;
		ret = inject_syscall(&ctx->injector, SYS_fcntl, probe, &open_now);
		if (ret < 0)
			return ret;
		if (open_now < 0)
			return 0; /* ckpt restart itself has no such fd */
		return husk_call(ctx, "fcntl(F_SETFD)", SYS_fcntl, (uint64_t)record->fd, F_SETFD,
				 cloexec, 0, 0, 0);
	}
	staged = (uint64_t)ctx->staged_fds[record->file_id - 1];
	return husk_call(ctx, "dup3", SYS_dup3, staged, (uint64_t)record->fd,
			 cloexec ? O_CLOEXEC : 0, 0, 0, 0);
}

/* Closes [from, to) in the husk when not empty. */
static int64_t close_gap(struct restore_context *ctx, int from, int to)
{
	if (from >= to)
		return 0;
	return husk_call(ctx, "close_range", SYS_close_range, (uint64_t)from, (uint64_t)(to - 1), 0,
			 0, 0, 0);
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

const struct file_kind_ops regular_file_ops = {
	.kind = CKPT_FILE_REGULAR,
	.recognise = is_regular_file,
	.collect = collect_position,
	.create = create_regular_file,
};

const struct file_kind_ops directory_ops = {
	.kind = CKPT_FILE_DIRECTORY,
	.recognise = is_directory,
	.collect = collect_position,
	.create = create_directory,
};

const struct file_kind_ops chardev_ops = {
	.kind = CKPT_FILE_CHARDEV,
	.recognise = is_plain_chardev,
	.collect = collect_position,
	.create = create_chardev,
};
