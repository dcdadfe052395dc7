/* SPDX-License-Identifier: MIT */
/*
 * memfd objects (memfd_create): shared memory with a name, a size and
 * seals.  One SHMEM FILE record with the MEMFD flag stands for the object,
 * whether processes map it, hold fds on it, or both; its pages go with the
 * VMAs that map it, like those of shared anonymous memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "objects/dump.h"
#include "objects/file_kinds.h"
#include "objects/restore.h"
#include "util.h"

#define MEMFD_PREFIX "/memfd:"
#define DELETED_SUFFIX " (deleted)"

/* A memfd's kind_state: the object itself, open in ckpt until the checkpoint ends. */
struct memfd_state {
	int object_fd;
};

static int memfd_object(const struct dump_file *file)
{
	const struct memfd_state *state = file->kind_state;

	return state ? state->object_fd : -1;
}

bool is_memfd_name(const char *name)
{
	return strncmp(name, MEMFD_PREFIX, strlen(MEMFD_PREFIX)) == 0;
}

static uint32_t find_memfd(const struct dump_shared *shared, const struct stat *st)
{
	for (size_t i = 0; i < shared->file_count; i++) {
		const struct ckpt_file *record = &shared->files[i].record;

		if ((record->flags & CKPT_FILE_MEMFD) && record->device == st->st_dev &&
		    record->inode == st->st_ino)
			return record->id;
	}
	return 0;
}

/* The object itself, open in ckpt until the checkpoint ends; its seals in *ret_seals. */
static int open_memfd_object(struct dump_context *ctx, const char *name, const char *open_path,
			     int *ret_seals)
{
	_cleanup_close_ int fd = open(open_path, O_RDONLY | O_CLOEXEC);
	struct statfs fs;
	int seals, kept;

	if (fd < 0)
		return fail(ctx->err, errno, "opening %s (%s of process %d): %s", open_path, name,
			    ctx->pid, strerror(errno));
	if (fstatfs(fd, &fs) < 0 || fs.f_type != TMPFS_MAGIC)
		return fail(ctx->err, ENOTSUP,
			    "%s of process %d is a memfd of huge pages (MFD_HUGETLB): not supported yet",
			    name, ctx->pid);
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return fail(ctx->err, errno, "F_GET_SEALS on %s of process %d: %s", name, ctx->pid,
			    strerror(errno));
	kept = fd;
	fd = -1;
	*ret_seals = seals;
	return kept;
}

/* The FILE id of the memfd at open_path (a map_files or fd link), added on first sight. */
int dump_add_memfd(struct dump_context *ctx, const char *name, const char *open_path,
		   const struct stat *st)
{
	struct dump_file *file;
	struct memfd_state *state;
	int id = (int)find_memfd(ctx->shared, st);
	int fd, seals = 0;

	if (id)
		return id;
	state = malloc(sizeof(*state));
	if (!state)
		return fail(ctx->err, ENOMEM, "out of memory");
	fd = open_memfd_object(ctx, name, open_path, &seals);
	if (fd >= 0)
		id = dump_add_file(ctx, name, st, O_RDWR, 0, false);
	if (fd < 0 || id < 0) {
		if (fd >= 0)
			close(fd);
		free(state);
		return fd < 0 ? fd : id;
	}
	file = &ctx->shared->files[id - 1];
	state->object_fd = fd;
	file->kind_state = state;
	file->record.kind = CKPT_FILE_SHMEM;
	file->record.flags = CKPT_FILE_MEMFD;
	file->record.seals = (uint64_t)seals;
	return id;
}

static const struct shmem_claim *claim_holding(const struct dump_shared *shared, uint32_t file_id,
					       uint64_t offset)
{
	for (size_t i = 0; i < shared->shmem_claim_count; i++) {
		const struct shmem_claim *claim = &shared->shmem_claims[i];

		if (claim->file_id == file_id && claim->start <= offset && offset < claim->end)
			return claim;
	}
	return NULL;
}

/* Pages travel only inside VMAs: data that no mapping shows would be lost. */
static int check_memfd_covered(struct dump_shared *shared, const struct dump_file *file)
{
	off_t offset = 0;

	for (;;) {
		off_t data = lseek(memfd_object(file), offset, SEEK_DATA);
		const struct shmem_claim *claim;

		if (data < 0)
			return 0; /* ENXIO: no data from offset on */
		claim = claim_holding(shared, file->record.id, (uint64_t)data);
		if (!claim)
			return fail(shared->err, ENOTSUP,
				    "%s holds data at offset %lld that no mapping shows: saving a memfd's unmapped contents is not supported yet",
				    file->path, (long long)data);
		offset = (off_t)claim->end;
	}
}

static int check_shmem_collected(struct dump_shared *shared, struct dump_file *file)
{
	if (memfd_object(file) < 0)
		return 0; /* shared anonymous memory: its pages are its VMAs' */
	return check_memfd_covered(shared, file);
}

static void free_shmem(struct dump_file *file)
{
	if (memfd_object(file) >= 0)
		close(memfd_object(file));
	free_plain_state(file);
}

/* An fd on a memfd (its link is "/memfd:NAME (deleted)"). */
static bool is_memfd_fd(const struct fd_facts *facts)
{
	return S_ISREG(facts->st.st_mode) && facts->st.st_nlink == 0 && is_memfd_name(facts->target);
}

static bool has_fd_owner(const struct dump_shared *shared, uint32_t file_id)
{
	for (size_t i = 0; i < shared->fd_owner_count; i++) {
		if (shared->fd_owners[i].file_id == file_id)
			return true;
	}
	return false;
}

/*
 * The memfd's one open file description (a second one is refused), on a
 * FILE that a mapping may have added already: mappings share its object.
 */
static int add_memfd_file(struct dump_context *ctx, const struct fd_facts *facts)
{
	char path[64];
	struct ckpt_file *file;
	int id;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", ctx->pid, facts->fd);
	id = dump_add_memfd(ctx, facts->target, path, &facts->st);
	if (id < 0)
		return id;
	if (has_fd_owner(ctx->shared, (uint32_t)id))
		return fail(ctx->err, ENOTSUP,
			    "fd %d of process %d is a second open file description of %s: not supported yet",
			    facts->fd, ctx->pid, facts->target);
	if ((facts->flags & O_ACCMODE) != O_RDWR)
		return fail(ctx->err, ENOTSUP,
			    "fd %d of process %d opens %s %s: only read-write memfd fds are supported yet",
			    facts->fd, ctx->pid, facts->target,
			    (facts->flags & O_ACCMODE) == O_RDONLY ? "read-only" : "write-only");
	file = &ctx->shared->files[id - 1].record;
	file->open_flags = facts->flags & ~(uint32_t)O_CLOEXEC;
	file->offset = facts->position;
	return id;
}

/* ---- restart side ---- */

/* memfd_create() makes an object sealed with F_SEAL_SEAL alone unless sealing is allowed. */
static bool needs_sealing(const struct ckpt_file *file)
{
	return file->seals != F_SEAL_SEAL;
}

/*
 * A memfd sealed against writes: the kernel refuses F_SEAL_WRITE while a
 * shared mapping may still be made writable, so the husks map it from a
 * read-only fd once its pages are in (see remap_write_sealed in mm.c).
 */
bool is_write_sealed_memfd(const struct restore_context *ctx, const struct ckpt_vma *vma)
{
	const struct ckpt_file *file;

	if (vma->kind != CKPT_VMA_SHARED_ANON || vma->file_id == 0)
		return false;
	file = &ctx->tree.files[vma->file_id - 1].file;
	return (file->flags & CKPT_FILE_MEMFD) && (file->seals & F_SEAL_WRITE);
}

/* NAME from "/memfd:NAME (deleted)". */
static int memfd_name(struct restore_context *ctx, const struct image_file *file, char *name,
		      size_t capacity)
{
	const char *start = file->path + strlen(MEMFD_PREFIX);
	size_t length = strlen(start), suffix = strlen(DELETED_SUFFIX);

	if (length >= suffix && strcmp(start + length - suffix, DELETED_SUFFIX) == 0)
		length -= suffix;
	if (length >= capacity)
		return fail(ctx->err, EINVAL, "bad image: memfd name %s is too long", file->path);
	memcpy(name, start, length);
	name[length] = '\0';
	return 0;
}

/* Size, mode, position and status flags as saved; the seals come after the pages. */
static int shape_memfd(struct restore_context *ctx, const struct image_file *file, int fd)
{
	const struct ckpt_file *record = &file->file;

	if (ftruncate(fd, (off_t)record->size) < 0 || fchmod(fd, record->mode & 07777) < 0 ||
	    lseek(fd, (off_t)record->offset, SEEK_SET) < 0 ||
	    fcntl(fd, F_SETFL, record->open_flags & (O_APPEND | O_NONBLOCK)) < 0)
		return fail(ctx->err, errno, "shaping memfd %s: %s", file->path, strerror(errno));
	return 0;
}

/* A new memfd in ckpt (the husks inherit it), or -errno. */
static int create_memfd(struct restore_context *ctx, const struct image_file *file)
{
	unsigned int flags = MFD_CLOEXEC | (needs_sealing(&file->file) ? MFD_ALLOW_SEALING : 0);
	char name[256];
	int fd, ret = memfd_name(ctx, file, name, 250);

	if (ret < 0)
		return ret;
	fd = memfd_create(name, flags);
	if (fd < 0)
		return fail(ctx->err, errno, "memfd_create(%s): %s", name, strerror(errno));
	ret = shape_memfd(ctx, file, fd);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

/* A memfd now; shared anonymous memory is made by its first mapping (mm.c). */
static int create_shmem(struct restore_context *ctx, const struct file_opener *opener,
			const struct image_file *file, int *ret_fd)
{
	int fd;

	(void)opener;
	*ret_fd = -1;
	if (!(file->file.flags & CKPT_FILE_MEMFD))
		return 0;
	fd = create_memfd(ctx, file);
	if (fd < 0)
		return fd;
	*ret_fd = fd;
	return 0;
}

/* Once every page is in: seals may forbid the writes that filled them. */
static int seal_memfds(struct restore_context *ctx)
{
	for (size_t i = 0; i < ctx->tree.file_count; i++) {
		const struct image_file *file = &ctx->tree.files[i];

		if (!(file->file.flags & CKPT_FILE_MEMFD) || !needs_sealing(&file->file) ||
		    file->file.seals == 0)
			continue;
		if (fcntl(ctx->staged_fds[i], F_ADD_SEALS, (int)file->file.seals) < 0)
			return fail(ctx->err, errno, "sealing memfd %s with %#llx: %s", file->path,
				    (unsigned long long)file->file.seals, strerror(errno));
	}
	return 0;
}

const struct file_kind_ops shmem_ops = {
	.kind = CKPT_FILE_SHMEM,
	.recognise = is_memfd_fd,
	.add_file = add_memfd_file,
	.check_collected = check_shmem_collected,
	.free_state = free_shmem,
	.create = create_shmem,
	.seal = seal_memfds,
};
