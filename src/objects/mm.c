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

#include "checkpoint.h"
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
		return fail(ctx->err, E2BIG, "auxv of process %d is too long (%zu words)", ctx->pid, words);
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
		return 0;	/* kernel threads and the like: no exe */
	target[length] = '\0';
	if (stat(link, &st) < 0 || strstr(target, " (deleted)"))
		return fail(ctx->err, ENOTSUP, "the executable of process %d was deleted: %s", ctx->pid,
			    target);
	ret = dump_add_file(ctx, target, &st, O_RDONLY, 0, true);
	if (ret < 0)
		return ret;
	ctx->mm.exe_file_id = (uint32_t)ret;
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
		{ PROC_VMA_GROWSDOWN, CKPT_VMA_GROWSDOWN }, { PROC_VMA_HUGEPAGE, CKPT_VMA_HUGEPAGE },
		{ PROC_VMA_NOHUGEPAGE, CKPT_VMA_NOHUGEPAGE }, { PROC_VMA_DONTFORK, CKPT_VMA_DONTFORK },
		{ PROC_VMA_DONTDUMP, CKPT_VMA_DONTDUMP }, { PROC_VMA_WIPEONFORK, CKPT_VMA_WIPEONFORK },
		{ PROC_VMA_MAYWRITE, CKPT_VMA_MAYWRITE },
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
	return fail(ctx->err, ENOTSUP, "memory at %#llx-%#llx of process %d (%s) %s: not supported yet",
		    (unsigned long long)vma->start, (unsigned long long)vma->end, ctx->pid,
		    vma->name[0] ? vma->name : "anonymous", why);
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
	if (stat(link, &st) < 0 || !S_ISREG(st.st_mode))
		return unsupported_vma(ctx, vma, "maps a file that cannot be reached by its path");
	ret = dump_add_file(ctx, vma->name, &st, writable_shared ? O_RDWR : O_RDONLY, 0, true);
	if (ret < 0)
		return ret;
	record->file_id = (uint32_t)ret;
	record->file_offset = vma->offset;
	return 0;
}

static int classify_vma(struct dump_context *ctx, const struct proc_vma *vma,
			struct ckpt_vma *record)
{
	bool shared = vma->flags & PROC_VMA_SHARED;

	record->kind = special_kind(vma->name);
	if (record->kind != 0)
		return 0;
	if (vma->flags & PROC_VMA_IO)
		return unsupported_vma(ctx, vma, "is device memory");
	if (strstr(vma->name, " (deleted)") && !is_shared_memory_name(vma->name))
		return unsupported_vma(ctx, vma, "maps a deleted file");
	if (is_anonymous_name(vma->name) || (shared && is_shared_memory_name(vma->name))) {
		record->kind = shared ? CKPT_VMA_SHARED_ANON : CKPT_VMA_ANON;
		return shared && vma->name[0] == '/' && vma->name[1] == 'S' ?
			       unsupported_vma(ctx, vma, "is System V shared memory") : 0;
	}
	if (vma->name[0] != '/' || strncmp(vma->name, "/memfd:", 7) == 0)
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
			continue;	/* fixed by the kernel, cannot be moved */
		ret = add_vma(ctx, &list.vmas[i]);
	}
	proc_vma_list_release(&list);
	return ret;
}

int write_mm_and_vmas(struct dump_context *ctx)
{
	struct iovec mm[2] = {
		{ &ctx->mm, sizeof(ctx->mm) },
		{ ctx->auxv, ctx->mm.auxv_words * sizeof(uint64_t) },
	};
	int ret = image_write_record(&ctx->writer, CKPT_RECORD_MM, mm, 2);

	for (size_t i = 0; ret == 0 && i < ctx->vma_count; i++)
		ret = image_write_simple(&ctx->writer, CKPT_RECORD_VMA, &ctx->vmas[i].record,
					 sizeof(ctx->vmas[i].record));
	return ret;
}
