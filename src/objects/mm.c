/* SPDX-License-Identifier: MIT */
/* The address space: mm fields, auxv, exe, and one record per VMA. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "objects/dump.h"
#include "util.h"

/* /proc/PID/stat fields 26-28 and 45-51 (proc(5)). */
static int read_mm_fields(struct dump_context *ctx)
{
	uint64_t code_stack[3], data_env[7];
	uint64_t *fields = ctx->mm.fields;
	int ret;

	ret = proc_stat_fields(ctx->pid, code_stack, 26, 3, ctx->err);
	if (ret == 0)
		ret = proc_stat_fields(ctx->pid, data_env, 45, 7, ctx->err);
	if (ret < 0)
		return ret;
	fields[CKPT_MM_START_CODE] = code_stack[0];
	fields[CKPT_MM_END_CODE] = code_stack[1];
	fields[CKPT_MM_START_STACK] = code_stack[2];
	fields[CKPT_MM_START_DATA] = data_env[0];
	fields[CKPT_MM_END_DATA] = data_env[1];
	fields[CKPT_MM_START_BRK] = data_env[2];
	fields[CKPT_MM_ARG_START] = data_env[3];
	fields[CKPT_MM_ARG_END] = data_env[4];
	fields[CKPT_MM_ENV_START] = data_env[5];
	fields[CKPT_MM_ENV_END] = data_env[6];
	return 0;
}

static int read_auxv(struct dump_context *ctx)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	size_t length = 0;
	size_t words;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/auxv", ctx->pid);
	ret = read_whole_file(path, &text, &length, ctx->err);
	if (ret < 0)
		return ret;
	words = length / sizeof(uint64_t);
	if (words > CKPT_MAX_AUXV_WORDS)
		return fail(ctx->err, E2BIG, "auxv of process %d is too long (%zu words)", ctx->pid,
			    words);
	memcpy(ctx->auxv, text, words * sizeof(uint64_t));
	ctx->mm.auxv_words = (uint32_t)(words & ~(size_t)1);
	return 0;
}

static int read_exe(struct dump_context *ctx)
{
	char link[64], target[PATH_MAX];
	struct stat st;
	ssize_t length;
	int ret;

	snprintf(link, sizeof(link), "/proc/%d/exe", ctx->pid);
	length = readlink(link, target, sizeof(target) - 1);
	if (length < 0)
		return 0; /* kernel threads and the like: no exe */
	target[length] = '\0';
	if (stat(link, &st) < 0 || strstr(target, " (deleted)"))
		return fail(ctx->err, ENOTSUP, "the executable of process %d was deleted: %s",
			    ctx->pid, target);
	ret = dump_add_file(ctx, target, &st, O_RDONLY, 0, true);
	if (ret < 0)
		return ret;
	ctx->mm.exe_file_id = (uint32_t)ret;
	return 0;
}

static bool has_locked_memory(struct dump_context *ctx)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	struct ckpt_error ignored = { 0 };
	const char *locked;

	snprintf(path, sizeof(path), "/proc/%d/status", ctx->pid);
	if (read_whole_file(path, &text, NULL, &ignored) < 0)
		return true; /* look at the scratch mapping anyway */
	locked = status_field(text, "VmLck");
	return !locked || strtoull(locked, NULL, 10) != 0;
}

/*
 * mlockall(MCL_FUTURE) shows nowhere in /proc, but every new mapping gets
 * it: the scratch mapping ckpt made in the target for this phase shows
 * "lo" (and "lf" with MCL_ONFAULT).  A locked scratch mapping counts in
 * VmLck, so without locked memory there is nothing to look at.
 */
static int read_future_lock(struct dump_context *ctx)
{
	uint32_t flags = 0;
	int ret;

	ctx->mm.lock_future = 0;
	if (!scratch_code(ctx) || !has_locked_memory(ctx))
		return 0;
	ret = proc_vma_flags_at(ctx->pid, scratch_code(ctx), &flags, ctx->err);
	if (ret < 0)
		return ret;
	if (flags & PROC_VMA_LOCKED)
		ctx->mm.lock_future = CKPT_MM_LOCK_FUTURE |
				      ((flags & PROC_VMA_LOCKONFAULT) ? CKPT_MM_LOCK_ONFAULT : 0);
	return 0;
}

int collect_mm(struct dump_context *ctx)
{
	int64_t brk;
	int ret;

	ret = read_mm_fields(ctx);
	if (ret == 0)
		ret = read_auxv(ctx);
	if (ret == 0)
		ret = read_exe(ctx);
	if (ret == 0)
		ret = read_future_lock(ctx);
	if (ret < 0)
		return ret;
	brk = dump_inject(ctx, &ctx->threads[0], "brk", SYS_brk, 0, 0, 0, 0);
	if (brk < 0)
		return (int)brk;
	ctx->mm.fields[CKPT_MM_BRK] = (uint64_t)brk;
	return 0;
}

static uint32_t record_flags(const struct proc_vma *vma)
{
	static const struct {
		uint32_t proc_flag;
		uint32_t record_flag;
	} map[] = {
		{ PROC_VMA_GROWSDOWN, CKPT_VMA_GROWSDOWN },
		{ PROC_VMA_HUGEPAGE, CKPT_VMA_HUGEPAGE },
		{ PROC_VMA_NOHUGEPAGE, CKPT_VMA_NOHUGEPAGE },
		{ PROC_VMA_DONTFORK, CKPT_VMA_DONTFORK },
		{ PROC_VMA_DONTDUMP, CKPT_VMA_DONTDUMP },
		{ PROC_VMA_WIPEONFORK, CKPT_VMA_WIPEONFORK },
		{ PROC_VMA_MAYWRITE, CKPT_VMA_MAYWRITE },
		{ PROC_VMA_NORESERVE, CKPT_VMA_NORESERVE },
		{ PROC_VMA_MERGEABLE, CKPT_VMA_MERGEABLE },
		{ PROC_VMA_LOCKED, CKPT_VMA_LOCKED },
		{ PROC_VMA_LOCKONFAULT, CKPT_VMA_LOCKONFAULT },
		{ PROC_VMA_DROPPABLE, CKPT_VMA_DROPPABLE },
	};
	uint32_t flags = 0;

	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		if (vma->flags & map[i].proc_flag)
			flags |= map[i].record_flag;
	}
	if (strcmp(vma->name, "[heap]") == 0)
		flags |= CKPT_VMA_HEAP;
	if (strcmp(vma->name, "[stack]") == 0)
		flags |= CKPT_VMA_STACK;
	return flags;
}

static uint32_t special_kind(const char *name)
{
	if (strcmp(name, "[vdso]") == 0)
		return CKPT_VMA_VDSO;
	if (strcmp(name, "[vvar]") == 0)
		return CKPT_VMA_VVAR;
	if (strcmp(name, "[vvar_vclock]") == 0)
		return CKPT_VMA_VVAR_VCLOCK;
	return 0;
}

static bool is_anonymous_name(const char *name)
{
	return name[0] == '\0' || name[0] == '[';
}

static bool is_shared_memory_name(const char *name)
{
	return strncmp(name, "/dev/zero", 9) == 0 || strncmp(name, "/SYSV", 5) == 0;
}

static int unsupported_vma(struct dump_context *ctx, const struct proc_vma *vma, const char *why)
{
	return fail(ctx->err, ENOTSUP,
		    "memory at %#llx-%#llx of process %d (%s) %s: not supported yet",
		    (unsigned long long)vma->start, (unsigned long long)vma->end, ctx->pid,
		    vma->name[0] ? vma->name : "anonymous", why);
}

/* map_files links open only with CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN). */
static int unreachable_vma(struct dump_context *ctx, const struct proc_vma *vma, int code,
			   const char *why)
{
	if (code != EPERM && code != EACCES)
		return unsupported_vma(ctx, vma, why);
	return fail(ctx->err, code,
		    "reading /proc/%d/map_files needs CAP_CHECKPOINT_RESTORE (or root): memory at %#llx-%#llx (%s) cannot be saved without it",
		    ctx->pid, (unsigned long long)vma->start, (unsigned long long)vma->end,
		    vma->name[0] ? vma->name : "anonymous");
}

static int add_mapped_file(struct dump_context *ctx, const struct proc_vma *vma,
			   struct ckpt_vma *record)
{
	char link[128];
	struct stat st;
	bool writable_shared = (vma->flags & PROC_VMA_SHARED) && (vma->flags & PROC_VMA_MAYWRITE);
	int ret;

	snprintf(link, sizeof(link), "/proc/%d/map_files/%llx-%llx", ctx->pid,
		 (unsigned long long)vma->start, (unsigned long long)vma->end);
	if (stat(link, &st) < 0)
		return unreachable_vma(ctx, vma, errno,
				       "maps a file that cannot be reached by its path");
	if (!S_ISREG(st.st_mode))
		return unsupported_vma(ctx, vma, "maps a file that cannot be reached by its path");
	ret = dump_add_file(ctx, vma->name, &st, writable_shared ? O_RDWR : O_RDONLY, 0, true);
	if (ret < 0)
		return ret;
	record->file_id = (uint32_t)ret;
	record->file_offset = vma->offset;
	return 0;
}

/*
 * Shared anonymous memory is an object of its own (a shmem file), maybe
 * mapped by several processes: one SHMEM file record, found again by inode.
 */
static int add_shared_memory(struct dump_context *ctx, const struct proc_vma *vma,
			     struct ckpt_vma *record)
{
	char link[128];
	struct stat st;
	int id;

	snprintf(link, sizeof(link), "/proc/%d/map_files/%llx-%llx", ctx->pid,
		 (unsigned long long)vma->start, (unsigned long long)vma->end);
	if (stat(link, &st) < 0)
		return unreachable_vma(ctx, vma, errno, "is shared memory that cannot be reached");
	id = dump_add_file(ctx, vma->name[0] == '/' ? vma->name : "/dev/zero", &st, O_RDWR, 0, true);
	if (id < 0)
		return id;
	ctx->shared->files[id - 1].record.kind = CKPT_FILE_SHMEM;
	record->file_id = (uint32_t)id;
	record->file_offset = vma->offset;
	return 0;
}

/* A shared mapping of a memfd: shared memory whose object is the memfd's FILE record. */
static int add_memfd_mapping(struct dump_context *ctx, const struct proc_vma *vma,
			     struct ckpt_vma *record)
{
	char link[128];
	struct stat st;
	int id;

	if (!(vma->flags & PROC_VMA_SHARED))
		return unsupported_vma(ctx, vma, "is a private (copy-on-write) mapping of a memfd");
	snprintf(link, sizeof(link), "/proc/%d/map_files/%llx-%llx", ctx->pid,
		 (unsigned long long)vma->start, (unsigned long long)vma->end);
	if (stat(link, &st) < 0)
		return unreachable_vma(ctx, vma, errno, "is a memfd that cannot be reached");
	id = dump_add_memfd(ctx, vma->name, link, &st);
	if (id < 0)
		return id;
	record->kind = CKPT_VMA_SHARED_ANON;
	record->file_id = (uint32_t)id;
	record->file_offset = vma->offset;
	return 0;
}

static int classify_vma(struct dump_context *ctx, const struct proc_vma *vma, struct ckpt_vma *record)
{
	bool shared = vma->flags & PROC_VMA_SHARED;

	record->kind = special_kind(vma->name);
	if (record->kind != 0)
		return 0;
	if (vma->flags & PROC_VMA_IO)
		return unsupported_vma(ctx, vma, "is device memory");
	if (is_memfd_name(vma->name))
		return add_memfd_mapping(ctx, vma, record);
	if (strstr(vma->name, " (deleted)") && !is_shared_memory_name(vma->name))
		return unsupported_vma(ctx, vma, "maps a deleted file");
	if (is_anonymous_name(vma->name) || (shared && is_shared_memory_name(vma->name))) {
		record->kind = shared ? CKPT_VMA_SHARED_ANON : CKPT_VMA_ANON;
		if (shared && strncmp(vma->name, "/SYSV", 5) == 0)
			return unsupported_vma(ctx, vma, "is System V shared memory");
		return shared ? add_shared_memory(ctx, vma, record) : 0;
	}
	if (vma->name[0] != '/')
		return unsupported_vma(ctx, vma, "is of an unknown kind");
	record->kind = shared ? CKPT_VMA_FILE_SHARED : CKPT_VMA_FILE_PRIVATE;
	return add_mapped_file(ctx, vma, record);
}

static int add_vma(struct dump_context *ctx, const struct proc_vma *vma)
{
	struct dump_vma *grown = realloc(ctx->vmas, (ctx->vma_count + 1) * sizeof(*grown));
	struct ckpt_vma *record;

	if (!grown)
		return fail(ctx->err, ENOMEM, "out of memory");
	ctx->vmas = grown;
	memset(&grown[ctx->vma_count], 0, sizeof(*grown));
	record = &grown[ctx->vma_count].record;
	record->start = vma->start;
	record->end = vma->end;
	record->prot = vma->prot;
	record->flags = record_flags(vma);
	ctx->vma_count++;
	return classify_vma(ctx, vma, record);
}

int collect_vmas(struct dump_context *ctx)
{
	struct proc_vma_list list;
	int ret = proc_read_vmas(ctx->pid, true, &list, ctx->err);

	for (size_t i = 0; ret == 0 && i < list.count; i++) {
		if (strcmp(list.vmas[i].name, "[vsyscall]") == 0)
			continue; /* fixed by the kernel, cannot be moved */
		ret = add_vma(ctx, &list.vmas[i]);
	}
	proc_vma_list_free(&list);
	return ret;
}

int write_mm(struct dump_context *ctx)
{
	struct iovec mm[2] = {
		{ &ctx->mm, sizeof(ctx->mm) },
		{ ctx->auxv, ctx->mm.auxv_words * sizeof(uint64_t) },
	};

	return image_write_record(ctx->writer, CKPT_RECORD_MM, mm, 2);
}

int write_vmas(struct dump_context *ctx)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < ctx->vma_count; i++)
		ret = image_write_simple(ctx->writer, CKPT_RECORD_VMA, &ctx->vmas[i].record,
					 sizeof(ctx->vmas[i].record));
	return ret;
}

/* ---- restart side ---- */

#include <sys/prctl.h>
#include <linux/prctl.h>

#include "objects/restore.h"

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08 /* Linux 6.11 */
#endif

#define LOWEST_CONTROL_ADDRESS 0x100000ull
#define HIGHEST_USER_ADDRESS 0x7ffffffff000ull

static bool is_vdso_family(const char *name)
{
	return special_kind(name) != 0;
}

static uint64_t vdso_family_size(const struct proc_vma_list *list)
{
	uint64_t size = 0;

	for (size_t i = 0; i < list->count; i++) {
		if (is_vdso_family(list->vmas[i].name))
			size += list->vmas[i].end - list->vmas[i].start;
	}
	return size;
}

static bool overlaps_any(uint64_t start, uint64_t end, const struct proc_vma_list *ours,
			 const struct image_process *image, uint64_t *ret_skip_to)
{
	for (size_t i = 0; i < ours->count; i++) {
		if (start < ours->vmas[i].end && ours->vmas[i].start < end) {
			*ret_skip_to = ours->vmas[i].end;
			return true;
		}
	}
	for (size_t i = 0; i < image->vma_count; i++) {
		if (start < image->vmas[i].end && image->vmas[i].start < end) {
			*ret_skip_to = image->vmas[i].end;
			return true;
		}
	}
	return false;
}

/* A place free both in ckpt's own layout (which the husk starts with) and in the image's. */
int choose_control_area(struct restore_context *ctx)
{
	struct proc_vma_list ours;
	uint64_t size, guard = CKPT_PAGE_SIZE, candidate = LOWEST_CONTROL_ADDRESS;
	/* A husk sharing an earlier process's memory already has its final layout. */
	pid_t layout_of = restores_shared_mm(ctx) ? ctx->husk : getpid();
	int ret = proc_read_vmas(layout_of, false, &ours, ctx->err);

	if (ret < 0)
		return ret;
	ctx->vdso_parking_size = vdso_family_size(&ours);
	size = CONTROL_SIZE + ctx->vdso_parking_size + 2 * guard;
	while (candidate + size <= HIGHEST_USER_ADDRESS) {
		uint64_t skip_to;

		if (!overlaps_any(candidate, candidate + size, &ours, &ctx->image, &skip_to)) {
			ctx->control = candidate + guard;
			ctx->vdso_parking = ctx->control + CONTROL_SIZE;
			break;
		}
		candidate = skip_to;
	}
	proc_vma_list_free(&ours);
	if (!ctx->control)
		return fail(ctx->err, ENOMEM,
			    "no room for the restart's control page in the image's layout");
	return 0;
}

static bool keep_during_clear(const struct restore_context *ctx, const struct proc_vma *vma)
{
	if (vma->start >= ctx->control && vma->end <= ctx->control + CONTROL_SIZE)
		return true;
	return is_vdso_family(vma->name) || strcmp(vma->name, "[vsyscall]") == 0;
}

/* Injects through the vDSO of the memory map an earlier process rebuilt. */
int use_shared_mm_gadget(struct restore_context *ctx)
{
	uint64_t gadget = 0;
	int ret;

	if (!restores_shared_mm(ctx))
		return 0;
	ret = remote_find_vdso_gadget(&ctx->task, &gadget);
	if (ret == 0)
		remote_set_gadget(&ctx->task, gadget);
	return ret;
}

/* Unmaps everything the husk inherited from ckpt but the control area and the vDSO. */
int clear_husk_layout(struct restore_context *ctx)
{
	struct proc_vma_list list;
	int ret = proc_read_vmas(ctx->husk, false, &list, ctx->err);

	for (size_t i = 0; ret == 0 && i < list.count; i++) {
		uint64_t start = list.vmas[i].start, end = list.vmas[i].end;
		int64_t result;

		if (keep_during_clear(ctx, &list.vmas[i]))
			continue;
		while (i + 1 < list.count && list.vmas[i + 1].start == end &&
		       !keep_during_clear(ctx, &list.vmas[i + 1]))
			end = list.vmas[++i].end;
		result = husk_call(ctx, "munmap", SYS_munmap, start, end - start, 0, 0, 0, 0);
		ret = result < 0 ? (int)result : 0;
	}
	proc_vma_list_free(&list);
	return ret;
}

static int64_t husk_mremap(struct restore_context *ctx, uint64_t from, uint64_t size, uint64_t to)
{
	return husk_call(ctx, "mremap", SYS_mremap, from, size, size, MREMAP_MAYMOVE | MREMAP_FIXED,
			 to, 0);
}

/* Parks the husk's vDSO mappings out of the way; returns them in *ret_parked. */
static int park_vdso(struct restore_context *ctx, struct proc_vma_list *ret_parked)
{
	uint64_t at = ctx->vdso_parking;
	int ret = proc_read_vmas(ctx->husk, false, ret_parked, ctx->err);

	for (size_t i = 0; ret == 0 && i < ret_parked->count; i++) {
		struct proc_vma *vma = &ret_parked->vmas[i];
		uint64_t size = vma->end - vma->start;
		int64_t result;

		if (!is_vdso_family(vma->name))
			continue;
		result = husk_mremap(ctx, vma->start, size, at);
		ret = result < 0 ? (int)result : 0;
		vma->start = at;
		vma->end = at + size;
		at += size;
	}
	return ret;
}

static struct proc_vma *parked_of_kind(struct proc_vma_list *parked, uint32_t kind)
{
	for (size_t i = 0; i < parked->count; i++) {
		if (special_kind(parked->vmas[i].name) == kind)
			return &parked->vmas[i];
	}
	return NULL;
}

static int place_vdso_mapping(struct restore_context *ctx, const struct ckpt_vma *vma,
			      struct proc_vma_list *parked)
{
	struct proc_vma *ours = parked_of_kind(parked, vma->kind);
	int64_t result;

	if (!ours || ours->end - ours->start != vma->end - vma->start)
		return fail(ctx->err, ENOTSUP,
			    "this kernel's vDSO differs from the image's (kernel %s): cannot place it at %#llx",
			    ctx->image.head.kernel_release, (unsigned long long)vma->start);
	result = husk_mremap(ctx, ours->start, vma->end - vma->start, vma->start);
	ours->name[0] = '\0'; /* placed */
	return result < 0 ? (int)result : 0;
}

int move_vdso(struct restore_context *ctx)
{
	struct proc_vma_list parked;
	int ret = park_vdso(ctx, &parked);

	for (size_t i = 0; ret == 0 && i < ctx->image.vma_count; i++) {
		const struct ckpt_vma *vma = &ctx->image.vmas[i];

		if (vma->kind == CKPT_VMA_VDSO || vma->kind == CKPT_VMA_VVAR ||
		    vma->kind == CKPT_VMA_VVAR_VCLOCK)
			ret = place_vdso_mapping(ctx, vma, &parked);
	}
	for (size_t i = 0; ret == 0 && i < parked.count; i++) {
		if (is_vdso_family(parked.vmas[i].name)) {
			int64_t result = husk_call(ctx, "munmap", SYS_munmap, parked.vmas[i].start,
						   parked.vmas[i].end - parked.vmas[i].start, 0, 0,
						   0, 0);

			ret = result < 0 ? (int)result : 0;
		}
	}
	proc_vma_list_free(&parked);
	return ret;
}

static uint32_t mapping_prot(const struct ckpt_vma *vma)
{
	return vma->page_count ? vma->prot | PROT_READ | PROT_WRITE : vma->prot;
}

static void mapping_flags_and_fd(const struct restore_context *ctx, const struct ckpt_vma *vma,
				 uint64_t *ret_flags, int64_t *ret_fd)
{
	uint64_t flags = MAP_FIXED | ((vma->flags & CKPT_VMA_GROWSDOWN) ? MAP_GROWSDOWN : 0) |
			 ((vma->flags & CKPT_VMA_NORESERVE) ? MAP_NORESERVE : 0);

	*ret_fd = -1;
	if (vma->kind == CKPT_VMA_ANON && (vma->flags & CKPT_VMA_DROPPABLE))
		flags |= MAP_DROPPABLE | MAP_ANONYMOUS;
	else if (vma->kind == CKPT_VMA_ANON)
		flags |= MAP_PRIVATE | MAP_ANONYMOUS;
	else if (vma->kind == CKPT_VMA_SHARED_ANON)
		flags |= MAP_SHARED | MAP_ANONYMOUS;
	else
		flags |= vma->kind == CKPT_VMA_FILE_SHARED ? MAP_SHARED : MAP_PRIVATE;
	if (vma->file_id)
		*ret_fd = ctx->staged_fds[vma->file_id - 1];
	*ret_flags = flags;
}

static int apply_advice(struct restore_context *ctx, const struct ckpt_vma *vma)
{
	static const struct {
		uint32_t flag;
		int advice;
	} advice[] = {
		{ CKPT_VMA_HUGEPAGE, MADV_HUGEPAGE },	  { CKPT_VMA_NOHUGEPAGE, MADV_NOHUGEPAGE },
		{ CKPT_VMA_DONTFORK, MADV_DONTFORK },	  { CKPT_VMA_DONTDUMP, MADV_DONTDUMP },
		{ CKPT_VMA_WIPEONFORK, MADV_WIPEONFORK }, { CKPT_VMA_MERGEABLE, MADV_MERGEABLE },
	};

	for (size_t i = 0; i < ARRAY_SIZE(advice); i++) {
		int64_t result;

		if (!(vma->flags & advice[i].flag))
			continue;
		result = husk_call(ctx, "madvise", SYS_madvise, vma->start, vma->end - vma->start,
				   (uint64_t)advice[i].advice, 0, 0, 0);
		if (result < 0)
			return (int)result;
	}
	return 0;
}

/* A later mapping of a shared memory object: the husk opens the first one. */
static int64_t open_shared_memory(struct restore_context *ctx, const struct shmem_owner *owner)
{
	char path[128];
	uint64_t address;
	int length = snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", owner->pid,
			      (unsigned long long)owner->start, (unsigned long long)owner->end);
	int64_t ret = husk_put_data(ctx, 8192, path, (size_t)length + 1, &address);

	if (ret < 0)
		return ret;
	return husk_call(ctx, "open (shared memory)", SYS_openat, (uint64_t)AT_FDCWD, address,
			 O_RDWR | O_CLOEXEC, 0, 0, 0);
}

/* The husk unmaps [start, end) unless it is empty. */
static int64_t unmap_range(struct restore_context *ctx, uint64_t start, uint64_t end)
{
	if (start >= end)
		return 0;
	return husk_call(ctx, "munmap", SYS_munmap, start, end - start, 0, 0, 0, 0);
}

/*
 * The object's first mapping when it shows only part of the object: the
 * husk makes the whole object (its size as saved) anywhere, moves the part
 * at file_offset into place and unmaps the rest, so later mappings of other
 * parts find them at the same offsets.
 */
static int64_t map_part_of_new_shared_memory(struct restore_context *ctx,
					     const struct ckpt_vma *vma, uint64_t object_size)
{
	uint64_t length = vma->end - vma->start;
	int64_t whole, moved;

	whole = husk_call(ctx, "mmap (whole shared memory)", SYS_mmap, 0, object_size,
			  mapping_prot(vma), MAP_SHARED | MAP_ANONYMOUS, (uint64_t)-1, 0);
	if (whole < 0)
		return whole;
	moved = husk_call(ctx, "mremap (shared memory)", SYS_mremap,
			  (uint64_t)whole + vma->file_offset, length, length,
			  MREMAP_MAYMOVE | MREMAP_FIXED, vma->start, 0);
	if (moved >= 0)
		moved = unmap_range(ctx, (uint64_t)whole, (uint64_t)whole + vma->file_offset);
	if (moved >= 0)
		moved = unmap_range(ctx, (uint64_t)whole + vma->file_offset + length,
				    (uint64_t)whole + object_size);
	return moved;
}

static int64_t map_new_shared_memory(struct restore_context *ctx, const struct ckpt_vma *vma)
{
	uint64_t length = vma->end - vma->start;
	uint64_t object_size = ctx->tree.files[vma->file_id - 1].file.size;

	if (object_size < vma->file_offset + length)
		object_size = vma->file_offset + length;
	if (vma->file_offset != 0 || object_size != length)
		return map_part_of_new_shared_memory(ctx, vma, object_size);
	return husk_call(ctx, "mmap", SYS_mmap, vma->start, length, mapping_prot(vma),
			 MAP_FIXED | MAP_SHARED | MAP_ANONYMOUS, (uint64_t)-1, 0);
}

static int64_t map_shared_memory(struct restore_context *ctx, const struct ckpt_vma *vma)
{
	struct shmem_owner *owner = &ctx->shmem_owners[vma->file_id - 1];
	int staged_memfd = ctx->staged_fds[vma->file_id - 1];
	uint64_t length = vma->end - vma->start;
	int64_t fd, result;

	if (staged_memfd >= 0)
		return husk_call(ctx, "mmap (memfd)", SYS_mmap, vma->start, length, mapping_prot(vma),
				 MAP_FIXED | MAP_SHARED, (uint64_t)staged_memfd, vma->file_offset);
	if (!owner->pid) {
		*owner = (struct shmem_owner){ ctx->husk, vma->start, vma->end };
		return map_new_shared_memory(ctx, vma);
	}
	fd = open_shared_memory(ctx, owner);
	if (fd < 0)
		return fd;
	result = husk_call(ctx, "mmap (shared memory)", SYS_mmap, vma->start, length,
			   mapping_prot(vma), MAP_FIXED | MAP_SHARED, (uint64_t)fd, vma->file_offset);
	husk_call(ctx, "close", SYS_close, (uint64_t)fd, 0, 0, 0, 0, 0);
	return result;
}

static int map_vma(struct restore_context *ctx, const struct ckpt_vma *vma)
{
	uint64_t flags;
	int64_t fd, result;

	if (vma->kind == CKPT_VMA_SHARED_ANON) {
		result = map_shared_memory(ctx, vma);
		if (result < 0)
			return (int)result;
		return apply_advice(ctx, vma);
	}
	mapping_flags_and_fd(ctx, vma, &flags, &fd);
	result = husk_call(ctx, "mmap", SYS_mmap, vma->start, vma->end - vma->start,
			   mapping_prot(vma), flags, (uint64_t)fd, vma->file_offset);
	if (result < 0)
		return (int)result;
	if ((uint64_t)result != vma->start)
		return fail(ctx->err, EFAULT, "mmap in the new process placed %#llx at %#llx",
			    (unsigned long long)vma->start, (unsigned long long)result);
	return apply_advice(ctx, vma);
}

/*
 * Two adjacent VMAs that were separate at checkpoint time (each with its
 * own anon_vma) would merge when mapped alike.  While their pages go in,
 * every second one carries VM_DONTDUMP, so each gets its own anon_vma and
 * they stay apart once the flag is dropped again.
 */
static bool needs_merge_guard(const struct image_process *image, size_t index, const bool *guarded)
{
	const struct ckpt_vma *vma = &image->vmas[index];
	const struct ckpt_vma *previous = index ? &image->vmas[index - 1] : NULL;

	if (!previous || previous->end != vma->start || guarded[index - 1])
		return false;
	if (!vma->page_count || !previous->page_count || previous->kind != vma->kind)
		return false;
	return !((vma->flags | previous->flags) & CKPT_VMA_DONTDUMP);
}

static int64_t set_dontdump(struct restore_context *ctx, const struct ckpt_vma *vma, int advice)
{
	return husk_call(ctx, "madvise", SYS_madvise, vma->start, vma->end - vma->start,
			 (uint64_t)advice, 0, 0, 0);
}

int map_vmas(struct restore_context *ctx)
{
	ctx->merge_guarded = calloc(ctx->image.vma_count, sizeof(bool));
	if (!ctx->merge_guarded)
		return fail(ctx->err, ENOMEM, "out of memory");
	for (size_t i = 0; i < ctx->image.vma_count; i++) {
		const struct ckpt_vma *vma = &ctx->image.vmas[i];
		int64_t ret;

		if (vma->kind == CKPT_VMA_VDSO || vma->kind == CKPT_VMA_VVAR ||
		    vma->kind == CKPT_VMA_VVAR_VCLOCK)
			continue;
		ctx->merge_guarded[i] = needs_merge_guard(&ctx->image, i, ctx->merge_guarded);
		ret = map_vma(ctx, vma);
		if (ret == 0 && ctx->merge_guarded[i])
			ret = set_dontdump(ctx, vma, MADV_DONTDUMP);
		if (ret < 0)
			return (int)ret;
	}
	return 0;
}

/*
 * A mapping of a memfd sealed against writes, made again from a read-only
 * fd now that its pages are in: the kernel then lets restart add the seal.
 */
static int remap_write_sealed(struct restore_context *ctx, const struct ckpt_vma *vma)
{
	char path[64];
	uint64_t address;
	int length =
		snprintf(path, sizeof(path), "/proc/self/fd/%d", ctx->staged_fds[vma->file_id - 1]);
	int64_t fd, result = husk_put_data(ctx, 8192, path, (size_t)length + 1, &address);

	if (result < 0)
		return (int)result;
	fd = husk_call(ctx, "open (memfd, read-only)", SYS_openat, (uint64_t)AT_FDCWD, address,
		       O_RDONLY | O_CLOEXEC, 0, 0, 0);
	if (fd < 0)
		return (int)fd;
	result = husk_call(ctx, "mmap (memfd, read-only)", SYS_mmap, vma->start,
			   vma->end - vma->start, vma->prot, MAP_FIXED | MAP_SHARED, (uint64_t)fd,
			   vma->file_offset);
	husk_call(ctx, "close", SYS_close, (uint64_t)fd, 0, 0, 0, 0, 0);
	if (result < 0)
		return (int)result;
	return apply_advice(ctx, vma);
}

static int set_final_protection(struct restore_context *ctx, const struct ckpt_vma *vma)
{
	int64_t result;

	if (is_write_sealed_memfd(ctx, vma))
		return remap_write_sealed(ctx, vma);
	if (vma->page_count == 0 || mapping_prot(vma) == vma->prot)
		return 0;
	result = husk_call(ctx, "mprotect", SYS_mprotect, vma->start, vma->end - vma->start,
			   vma->prot, 0, 0, 0);
	return result < 0 ? (int)result : 0;
}

/* mlock/mlock2 once the pages are in and the merge guard is lifted. */
static int lock_vma(struct restore_context *ctx, const struct ckpt_vma *vma)
{
	uint64_t on_fault = (vma->flags & CKPT_VMA_LOCKONFAULT) ? MLOCK_ONFAULT : 0;
	int64_t result;

	if (!(vma->flags & CKPT_VMA_LOCKED) || vma->kind == CKPT_VMA_VDSO ||
	    vma->kind == CKPT_VMA_VVAR || vma->kind == CKPT_VMA_VVAR_VCLOCK)
		return 0;
	result = husk_call(ctx, "mlock2", SYS_mlock2, vma->start, vma->end - vma->start, on_fault,
			   0, 0, 0);
	return result < 0 ? (int)result : 0;
}

/*
 * mlockall(MCL_FUTURE) without MCL_CURRENT changes no existing VMA, only
 * the default flags of later mappings: it comes after every VMA is final.
 */
static int lock_future_mappings(struct restore_context *ctx)
{
	uint64_t lock_future = ctx->image.mm.lock_future;
	int64_t result;

	if (!(lock_future & CKPT_MM_LOCK_FUTURE))
		return 0;
	result = husk_call(ctx, "mlockall", SYS_mlockall,
			   MCL_FUTURE | ((lock_future & CKPT_MM_LOCK_ONFAULT) ? MCL_ONFAULT : 0), 0,
			   0, 0, 0, 0);
	return result < 0 ? (int)result : 0;
}

int protect_vmas(struct restore_context *ctx)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < ctx->image.vma_count; i++) {
		const struct ckpt_vma *vma = &ctx->image.vmas[i];

		if (ctx->merge_guarded[i]) {
			int64_t result = set_dontdump(ctx, vma, MADV_DODUMP);

			if (result < 0)
				return (int)result;
		}
		ret = set_final_protection(ctx, vma);
		if (ret == 0)
			ret = lock_vma(ctx, vma);
	}
	if (ret == 0)
		ret = lock_future_mappings(ctx);
	return ret;
}

/*
 * The kernel refuses to change the exe link (EBUSY) while the husk's old
 * executable is still mapped.  When the image's executable is that very
 * file (a program restarting a copy of itself: its husks are forks of it),
 * the image maps it again, and the husk's link already names it: keep it.
 */
static bool husk_runs_executable(const struct restore_context *ctx, int exe_fd)
{
	char link[64];
	struct stat husk_exe, image_exe;

	snprintf(link, sizeof(link), "/proc/%d/exe", ctx->husk);
	if (stat(link, &husk_exe) < 0 || fstat(exe_fd, &image_exe) < 0)
		return false;
	return husk_exe.st_dev == image_exe.st_dev && husk_exe.st_ino == image_exe.st_ino;
}

/* The staged fd of the image's executable for PR_SET_MM_MAP, or -1 to keep the husk's. */
static uint32_t exe_fd_to_set(const struct restore_context *ctx)
{
	int exe_fd;

	if (ctx->image.mm.exe_file_id == 0)
		return (uint32_t)-1;
	exe_fd = ctx->staged_fds[ctx->image.mm.exe_file_id - 1];
	return husk_runs_executable(ctx, exe_fd) ? (uint32_t)-1 : (uint32_t)exe_fd;
}

int restore_mm_fields(struct restore_context *ctx)
{
	const uint64_t *fields = ctx->image.mm.fields;
	struct prctl_mm_map map = {
		.start_code = fields[CKPT_MM_START_CODE],
		.end_code = fields[CKPT_MM_END_CODE],
		.start_data = fields[CKPT_MM_START_DATA],
		.end_data = fields[CKPT_MM_END_DATA],
		.start_brk = fields[CKPT_MM_START_BRK],
		.brk = fields[CKPT_MM_BRK],
		.start_stack = fields[CKPT_MM_START_STACK],
		.arg_start = fields[CKPT_MM_ARG_START],
		.arg_end = fields[CKPT_MM_ARG_END],
		.env_start = fields[CKPT_MM_ENV_START],
		.env_end = fields[CKPT_MM_ENV_END],
		.auxv_size = ctx->image.mm.auxv_words * (uint32_t)sizeof(uint64_t),
		.exe_fd = exe_fd_to_set(ctx),
	};
	uint64_t map_address, auxv_address;
	int64_t result;
	int ret;

	ret = husk_put_data(ctx, 1024, ctx->image.auxv, map.auxv_size, &auxv_address);
	if (ret < 0)
		return ret;
	map.auxv = (__u64 *)(uintptr_t)auxv_address;
	ret = husk_put_data(ctx, 0, &map, sizeof(map), &map_address);
	if (ret < 0)
		return ret;
	result = husk_call(ctx, "prctl(PR_SET_MM_MAP)", SYS_prctl, PR_SET_MM, PR_SET_MM_MAP,
			   map_address, sizeof(map), 0, 0);
	return result < 0 ? (int)result : 0;
}
