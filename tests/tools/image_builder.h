/* SPDX-License-Identifier: MIT */
/*
 * Images made to order, for tests.  Header-only; shared by the codec unit
 * tests, mkbadimage (bad images and fuzzer seeds) and the fuzzer.
 *
 * Three layers:
 *   struct image_spec   every field of a valid image (spec_init_valid()),
 *                       written with the codec's own writer by spec_write().
 *                       Header fields are written as they are; variable
 *                       data (paths, groups, auxv, xstate) is written up to
 *                       the declared length or what the spec holds, so a
 *                       wrong length in the spec makes a wrong image.
 *   struct image_bytes  a written image in memory, taken apart record by
 *                       record to break it on purpose: patch a field and
 *                       reseal the checksum, replace, insert, move or drop
 *                       a record, truncate.
 *   read_whole_image()  the complete reading path of a consumer: metadata,
 *                       PAGES records through the page cursor, the tail.
 */
#ifndef CKPT_TESTS_IMAGE_BUILDER_H
#define CKPT_TESTS_IMAGE_BUILDER_H

#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/crc32c.h"
#include "image/image.h"
#include "util.h"

#define SPEC_PID 31999 /* unused high PID: a restart must not create it */
#define SPEC_COMM "ckpt-badimage"
#define SPEC_XSTATE_SIZE 1024u
#define SPEC_XSTATE_CAP (CKPT_MAX_XSTATE + CKPT_PAGE_SIZE) /* room for over-limit tests */

enum {
	SPEC_MAX_GROUPS = 8,
	SPEC_MAX_FILES = 8,
	SPEC_MAX_FDS = 8,
	SPEC_MAX_THREADS = 4,
	SPEC_MAX_VMAS = 16,
	SPEC_MAX_PAGE_RECORDS = 8,
	SPEC_MAX_RUNS = 8,
};

/* x86_64 struct user_regs_struct indices used by the builder. */
enum {
	USER_REG_RIP = 16,
	USER_REG_CS = 17,
	USER_REG_EFLAGS = 18,
	USER_REG_RSP = 19,
	USER_REG_SS = 20
};

struct spec_file {
	struct ckpt_file file;
	const char *path; /* path_length bytes are written, at most strlen + 1 */
};

struct spec_page_record {
	struct ckpt_page_run runs[SPEC_MAX_RUNS];
	uint64_t run_count;
};

struct image_spec {
	struct ckpt_head head;
	struct ckpt_process process;
	int32_t mm_owner; /* the TREE entry's; 0: nothing shared */
	int32_t files_owner;
	const char *cwd; /* cwd_length bytes are written, at most strlen + 1 */
	struct ckpt_creds creds;
	uint32_t groups[SPEC_MAX_GROUPS];
	struct ckpt_rlimits rlimits;
	struct ckpt_sigactions sigactions;
	struct ckpt_timers timers;
	struct spec_file files[SPEC_MAX_FILES];
	size_t file_count;
	struct ckpt_fd fds[SPEC_MAX_FDS];
	size_t fd_count;
	struct ckpt_mm mm;
	uint64_t auxv[CKPT_MAX_AUXV_WORDS];
	struct ckpt_thread threads[SPEC_MAX_THREADS];
	size_t thread_count;
	struct ckpt_vma vmas[SPEC_MAX_VMAS];
	size_t vma_count;
	struct spec_page_record page_records[SPEC_MAX_PAGE_RECORDS];
	size_t page_record_count;
	bool without_tail;
};

/* The default layout: addresses of its memory areas. */
#define SPEC_CODE_START 0x400000ull
#define SPEC_DATA_START 0x402000ull
#define SPEC_HEAP_START 0x404000ull
#define SPEC_SHARED_START 0x7f0000000000ull
#define SPEC_STACK_START 0x7ffd00000000ull
#define SPEC_STACK_END 0x7ffd00010000ull
#define SPEC_VVAR_START 0x7ffd00100000ull /* [vvar] 4 pages, [vvar_vclock] 2, [vdso] 2 */
#define SPEC_VCLOCK_START (SPEC_VVAR_START + 0x4000)
#define SPEC_VDSO_START (SPEC_VCLOCK_START + 0x2000)
#define SPEC_VDSO_END (SPEC_VDSO_START + 0x2000)

static inline void spec_full(const char *what)
{
	fprintf(stderr, "image_builder: too many %s for the spec\n", what);
	abort();
}

/* ---- the spec: a valid image, field by field ---- */

static inline void spec_init_head(struct ckpt_head *head)
{
	memset(head, 0, sizeof(*head));
	memcpy(head->magic, CKPT_IMAGE_MAGIC, sizeof(head->magic));
	head->version = CKPT_FORMAT_VERSION;
	head->arch = CKPT_ARCH_X86_64;
	head->page_size = CKPT_PAGE_SIZE;
	head->xstate_size = SPEC_XSTATE_SIZE;
	head->xfeatures = 0x7;
	head->realtime_ns = 1700000000ull * 1000000000ull;
	head->monotonic_ns = 123456789ull;
	for (unsigned i = 0; i < sizeof(head->boot_id); i++)
		head->boot_id[i] = (uint8_t)(i * 17 + 1);
	snprintf(head->kernel_release, sizeof(head->kernel_release), "6.18.0-test");
	snprintf(head->tool_version, sizeof(head->tool_version), "ckpt-tests");
}

static inline void spec_set_cwd(struct image_spec *spec, const char *cwd)
{
	spec->cwd = cwd;
	spec->process.cwd_length = (uint32_t)strlen(cwd) + 1;
}

static inline void spec_init_process(struct image_spec *spec, int32_t pid)
{
	struct ckpt_process *process = &spec->process;

	memset(process, 0, sizeof(*process));
	process->pid = pid;
	process->ppid = 1;
	process->pgid = pid;
	process->sid = pid;
	process->umask = 022;
	snprintf(process->comm, sizeof(process->comm), "%s", SPEC_COMM);
	spec_set_cwd(spec, "/tmp");
}

static inline void spec_add_group(struct image_spec *spec, uint32_t gid)
{
	if (spec->creds.group_count >= SPEC_MAX_GROUPS)
		spec_full("groups");
	spec->groups[spec->creds.group_count++] = gid;
}

static inline void spec_init_creds(struct image_spec *spec)
{
	struct ckpt_creds *creds = &spec->creds;

	memset(creds, 0, sizeof(*creds));
	for (int i = 0; i < CKPT_ID_COUNT; i++) {
		creds->uid[i] = 1000;
		creds->gid[i] = 1000;
	}
	creds->cap_bounding = 0x1ffffffffffull;
	spec_add_group(spec, 1000);
	spec_add_group(spec, 27);
}

static inline void spec_init_limits_and_signals(struct image_spec *spec)
{
	memset(&spec->rlimits, 0, sizeof(spec->rlimits));
	spec->rlimits.count = CKPT_MAX_RLIMITS;
	for (unsigned i = 0; i < CKPT_MAX_RLIMITS; i++)
		spec->rlimits.limits[i] = (struct ckpt_rlimit){ UINT64_MAX, UINT64_MAX };
	spec->rlimits.limits[3] = (struct ckpt_rlimit){ 8u << 20, UINT64_MAX }; /* RLIMIT_STACK */
	spec->rlimits.limits[7] = (struct ckpt_rlimit){ 1024, 4096 };		/* RLIMIT_NOFILE */
	memset(&spec->sigactions, 0, sizeof(spec->sigactions));
	spec->sigactions.count = CKPT_MAX_SIGNALS;
	spec->sigactions.actions[12].handler = 1; /* SIGPIPE: SIG_IGN */
}

/* Adds a FILE record's content; returns its id. */
static inline uint32_t spec_add_file(struct image_spec *spec, enum ckpt_file_kind kind,
				     const char *path, uint32_t open_flags)
{
	struct spec_file *slot;

	if (spec->file_count >= SPEC_MAX_FILES)
		spec_full("files");
	slot = &spec->files[spec->file_count++];
	memset(slot, 0, sizeof(*slot));
	slot->file.id = (uint32_t)spec->file_count;
	slot->file.kind = kind;
	slot->file.open_flags = open_flags;
	slot->file.mode = kind == CKPT_FILE_REGULAR	? 0100755
			  : kind == CKPT_FILE_DIRECTORY ? 040755
							: 020666;
	slot->file.device = 0x801;
	slot->file.inode = 1000 + spec->file_count;
	slot->file.size = kind == CKPT_FILE_REGULAR ? 0x10000 : 0;
	slot->file.mtime_ns = 1600000000ull * 1000000000ull;
	slot->file.path_length = (uint32_t)strlen(path) + 1;
	slot->path = path;
	return slot->file.id;
}

static inline void spec_add_fd(struct image_spec *spec, int32_t fd, uint32_t flags,
			       uint32_t file_id, enum ckpt_inherit_kind inherit_kind)
{
	if (spec->fd_count >= SPEC_MAX_FDS)
		spec_full("fds");
	spec->fds[spec->fd_count++] = (struct ckpt_fd){
		.fd = fd,
		.flags = flags,
		.file_id = file_id,
		.inherit_kind = inherit_kind,
	};
}

static inline void spec_add_auxv(struct image_spec *spec, uint64_t key, uint64_t value)
{
	if (spec->mm.auxv_words + 2 > CKPT_MAX_AUXV_WORDS)
		spec_full("auxv words");
	spec->auxv[spec->mm.auxv_words++] = key;
	spec->auxv[spec->mm.auxv_words++] = value;
}

static inline void spec_init_mm(struct image_spec *spec, uint32_t exe_file_id)
{
	uint64_t *fields = spec->mm.fields;

	memset(&spec->mm, 0, sizeof(spec->mm));
	fields[CKPT_MM_START_CODE] = SPEC_CODE_START;
	fields[CKPT_MM_END_CODE] = SPEC_CODE_START + 0x1000;
	fields[CKPT_MM_START_DATA] = SPEC_DATA_START;
	fields[CKPT_MM_END_DATA] = SPEC_DATA_START + 0x1000;
	fields[CKPT_MM_START_BRK] = SPEC_HEAP_START;
	fields[CKPT_MM_BRK] = SPEC_HEAP_START + 0x2000;
	fields[CKPT_MM_START_STACK] = SPEC_STACK_END - 0x1000;
	fields[CKPT_MM_ARG_START] = SPEC_STACK_END - 0x2000;
	fields[CKPT_MM_ARG_END] = SPEC_STACK_END - 0x1f00;
	fields[CKPT_MM_ENV_START] = SPEC_STACK_END - 0x1f00;
	fields[CKPT_MM_ENV_END] = SPEC_STACK_END - 0x1e00;
	spec->mm.exe_file_id = exe_file_id;
	spec_add_auxv(spec, 6, CKPT_PAGE_SIZE);		 /* AT_PAGESZ */
	spec_add_auxv(spec, 9, SPEC_CODE_START + 0x100); /* AT_ENTRY */
	spec_add_auxv(spec, 0, 0);			 /* AT_NULL */
}

/* Adds a THREAD record's content and counts it in PROCESS. */
static inline void spec_add_thread(struct image_spec *spec, int32_t tid)
{
	struct ckpt_thread *thread;

	if (spec->thread_count >= SPEC_MAX_THREADS)
		spec_full("threads");
	thread = &spec->threads[spec->thread_count++];
	memset(thread, 0, sizeof(*thread));
	thread->tid = tid;
	snprintf(thread->comm, sizeof(thread->comm), "%s", SPEC_COMM);
	thread->regs[USER_REG_RIP] = SPEC_CODE_START + 0x100;
	thread->regs[USER_REG_CS] = 0x33;
	thread->regs[USER_REG_EFLAGS] = 0x246;
	thread->regs[USER_REG_RSP] = SPEC_STACK_END - 0x1000 - 64 * spec->thread_count;
	thread->regs[USER_REG_SS] = 0x2b;
	thread->xstate_size = spec->head.xstate_size;
	spec->process.thread_count = (uint32_t)spec->thread_count;
}

static inline struct ckpt_vma *spec_add_vma(struct image_spec *spec, uint64_t start, uint64_t end,
					    uint32_t prot, enum ckpt_vma_kind kind,
					    uint64_t page_count)
{
	struct ckpt_vma *vma;

	if (spec->vma_count >= SPEC_MAX_VMAS)
		spec_full("vmas");
	vma = &spec->vmas[spec->vma_count++];
	*vma = (struct ckpt_vma){
		.start = start,
		.end = end,
		.prot = prot,
		.kind = kind,
		.page_count = page_count,
	};
	return vma;
}

static inline void spec_map_file(struct ckpt_vma *vma, uint32_t file_id, uint64_t file_offset)
{
	vma->file_id = file_id;
	vma->file_offset = file_offset;
}

static inline struct spec_page_record *spec_add_page_record(struct image_spec *spec)
{
	struct spec_page_record *record;

	if (spec->page_record_count >= SPEC_MAX_PAGE_RECORDS)
		spec_full("page records");
	record = &spec->page_records[spec->page_record_count++];
	memset(record, 0, sizeof(*record));
	return record;
}

static inline void spec_add_run(struct spec_page_record *record, uint64_t start, uint64_t pages)
{
	if (record->run_count >= SPEC_MAX_RUNS)
		spec_full("runs");
	record->runs[record->run_count++] = (struct ckpt_page_run){ start, pages };
}

static inline void spec_init_memory(struct image_spec *spec, uint32_t exe_file_id,
				    uint32_t shared_file_id)
{
	const uint32_t rw = PROT_READ | PROT_WRITE;
	struct spec_page_record *record;
	struct ckpt_vma *vma;

	vma = spec_add_vma(spec, SPEC_CODE_START, SPEC_CODE_START + 0x1000, PROT_READ | PROT_EXEC,
			   CKPT_VMA_FILE_PRIVATE, 0);
	spec_map_file(vma, exe_file_id, 0);
	vma = spec_add_vma(spec, SPEC_DATA_START, SPEC_DATA_START + 0x2000, rw,
			   CKPT_VMA_FILE_PRIVATE, 1);
	spec_map_file(vma, exe_file_id, 0x1000);
	vma->flags = CKPT_VMA_MAYWRITE;
	vma = spec_add_vma(spec, SPEC_HEAP_START, SPEC_HEAP_START + 0x2000, rw, CKPT_VMA_ANON, 2);
	vma->flags = CKPT_VMA_HEAP;
	vma = spec_add_vma(spec, SPEC_SHARED_START, SPEC_SHARED_START + 0x2000, rw,
			   CKPT_VMA_SHARED_ANON, 1);
	spec_map_file(vma, shared_file_id, 0);
	vma = spec_add_vma(spec, SPEC_STACK_START, SPEC_STACK_END, rw, CKPT_VMA_ANON, 2);
	vma->flags = CKPT_VMA_STACK | CKPT_VMA_GROWSDOWN;
	spec_add_vma(spec, SPEC_VVAR_START, SPEC_VCLOCK_START, PROT_READ, CKPT_VMA_VVAR, 0);
	spec_add_vma(spec, SPEC_VCLOCK_START, SPEC_VDSO_START, PROT_READ, CKPT_VMA_VVAR_VCLOCK, 0);
	spec_add_vma(spec, SPEC_VDSO_START, SPEC_VDSO_END, PROT_READ | PROT_EXEC, CKPT_VMA_VDSO, 0);
	record = spec_add_page_record(spec);
	spec_add_run(record, SPEC_DATA_START, 1);
	spec_add_run(record, SPEC_HEAP_START, 2);
	record = spec_add_page_record(spec);
	spec_add_run(record, SPEC_SHARED_START, 1);
	spec_add_run(record, SPEC_STACK_END - 0x2000, 2);
}

/*
 * A complete valid image: one thread, three files, five fds, eight VMAs of
 * every kind, six pages in two PAGES records.
 */
static inline void spec_init_valid(struct image_spec *spec, int32_t pid)
{
	uint32_t exe_id, null_id, dir_id, shared_id;

	memset(spec, 0, sizeof(*spec));
	spec_init_head(&spec->head);
	spec_init_process(spec, pid);
	spec_init_creds(spec);
	spec_init_limits_and_signals(spec);
	exe_id = spec_add_file(spec, CKPT_FILE_REGULAR, "/usr/bin/cat", O_RDONLY);
	null_id = spec_add_file(spec, CKPT_FILE_CHARDEV, "/dev/null", O_RDWR);
	dir_id = spec_add_file(spec, CKPT_FILE_DIRECTORY, "/tmp", O_RDONLY | O_DIRECTORY);
	shared_id = spec_add_file(spec, CKPT_FILE_SHMEM, "/dev/zero", O_RDWR);
	spec_add_fd(spec, 0, CKPT_FD_INHERIT, 0, CKPT_INHERIT_TTY);
	spec_add_fd(spec, 1, CKPT_FD_INHERIT, 0, CKPT_INHERIT_PIPE);
	spec_add_fd(spec, 2, CKPT_FD_INHERIT, 0, CKPT_INHERIT_SOCKET);
	spec_add_fd(spec, 3, CKPT_FD_CLOEXEC, null_id, CKPT_INHERIT_NONE);
	spec_add_fd(spec, 5, 0, dir_id, CKPT_INHERIT_NONE);
	spec_init_mm(spec, exe_id);
	spec_add_thread(spec, pid);
	spec_init_memory(spec, exe_id, shared_id);
}

/* ---- writing a spec ---- */

/* The content of every page the builder writes: a function of its address. */
static inline void fill_page(uint64_t address, void *page)
{
	uint64_t words[CKPT_PAGE_SIZE / 8];

	for (size_t i = 0; i < CKPT_PAGE_SIZE / 8; i++)
		words[i] = (address + i * 8) * 0x9e3779b97f4a7c15ull ^ (address >> 12);
	memcpy(page, words, sizeof(words));
}

static inline uint64_t bounded(uint64_t declared, uint64_t available)
{
	return declared < available ? declared : available;
}

static inline int spec_write_head_to_signals(const struct image_spec *spec,
					     struct image_writer *writer)
{
	uint64_t cwd_bytes = bounded(spec->process.cwd_length, strlen(spec->cwd) + 1);
	uint64_t group_bytes = bounded(spec->creds.group_count, SPEC_MAX_GROUPS) * sizeof(uint32_t);
	struct iovec process[2] = {
		{ readonly_buffer(&spec->process), sizeof(spec->process) },
		{ readonly_buffer(spec->cwd), cwd_bytes },
	};
	struct iovec creds[2] = {
		{ readonly_buffer(&spec->creds), sizeof(spec->creds) },
		{ readonly_buffer(spec->groups), group_bytes },
	};
	int ret = 0;

	if (ret == 0)
		ret = image_write_record(writer, CKPT_RECORD_PROCESS, process, 2);
	if (ret == 0)
		ret = image_write_record(writer, CKPT_RECORD_CREDS, creds, 2);
	if (ret == 0)
		ret = image_write_simple(writer, CKPT_RECORD_RLIMITS, &spec->rlimits,
					 sizeof(spec->rlimits));
	if (ret == 0)
		ret = image_write_simple(writer, CKPT_RECORD_SIGACTIONS, &spec->sigactions,
					 sizeof(spec->sigactions));
	if (ret == 0)
		ret = image_write_simple(writer, CKPT_RECORD_TIMERS, &spec->timers,
					 sizeof(spec->timers));
	return ret;
}

static inline int spec_write_file(const struct spec_file *file, struct image_writer *writer)
{
	uint64_t path_bytes = bounded(file->file.path_length, strlen(file->path) + 1);
	struct iovec parts[2] = {
		{ readonly_buffer(&file->file), sizeof(file->file) },
		{ readonly_buffer(file->path), path_bytes },
	};

	return image_write_record(writer, CKPT_RECORD_FILE, parts, 2);
}

/* The one-process tree the spec describes, from its PROCESS and CREDS. */
static inline void spec_tree_entry(const struct image_spec *spec, struct ckpt_tree_entry *entry,
				   uint32_t *highest_fd)
{
	const struct ckpt_creds *creds = &spec->creds;

	*entry = (struct ckpt_tree_entry){
		.pid = spec->process.pid,
		.ppid = spec->process.ppid,
		.pgid = spec->process.pgid > 0 ? spec->process.pgid : spec->process.pid,
		.sid = spec->process.sid > 0 ? spec->process.sid : spec->process.pid,
		.state = CKPT_TREE_ALIVE,
		.exit_signal = 17,
		.uid = highest_id(creds->uid),
		.gid = highest_id(creds->gid),
		.capabilities = creds->cap_permitted | creds->cap_effective |
				creds->cap_inheritable | creds->cap_ambient,
		.mm_owner = spec->mm_owner,
		.files_owner = spec->files_owner,
	};
	*highest_fd = 0;
	for (size_t i = 0; i < spec->fd_count; i++) {
		if (spec->fds[i].fd > (int32_t)*highest_fd)
			*highest_fd = (uint32_t)spec->fds[i].fd;
	}
}

/* HEAD, TREE and FILE records: what comes before the process. */
static inline int spec_write_head_tree_files(const struct image_spec *spec,
					     struct image_writer *writer)
{
	struct ckpt_tree header = { .count = 1 };
	struct ckpt_tree_entry entry;
	struct iovec tree[2] = {
		{ &header, sizeof(header) },
		{ &entry, sizeof(entry) },
	};
	int ret = image_write_simple(writer, CKPT_RECORD_HEAD, &spec->head, sizeof(spec->head));

	spec_tree_entry(spec, &entry, &header.highest_fd);
	if (ret == 0)
		ret = image_write_record(writer, CKPT_RECORD_TREE, tree, 2);
	for (size_t i = 0; i < spec->file_count && ret == 0; i++)
		ret = spec_write_file(&spec->files[i], writer);
	return ret;
}

static inline int spec_write_files_fds_mm(const struct image_spec *spec, struct image_writer *writer)
{
	uint64_t auxv_bytes = bounded(spec->mm.auxv_words, CKPT_MAX_AUXV_WORDS) * sizeof(uint64_t);
	struct iovec mm[2] = {
		{ readonly_buffer(&spec->mm), sizeof(spec->mm) },
		{ readonly_buffer(spec->auxv), auxv_bytes },
	};
	int ret = 0;

	for (size_t i = 0; i < spec->fd_count && ret == 0; i++)
		ret = image_write_simple(writer, CKPT_RECORD_FD, &spec->fds[i], sizeof(spec->fds[i]));
	if (ret == 0)
		ret = image_write_record(writer, CKPT_RECORD_MM, mm, 2);
	return ret;
}

static inline int spec_write_thread(const struct ckpt_thread *thread, struct image_writer *writer)
{
	uint64_t xstate_bytes = bounded(thread->xstate_size, SPEC_XSTATE_CAP);
	unsigned char *xstate = calloc(1, xstate_bytes + 1);
	struct iovec parts[2] = {
		{ readonly_buffer(thread), sizeof(*thread) },
		{ xstate, xstate_bytes },
	};
	int ret;

	if (!xstate)
		return fail(writer->err, ENOMEM, "image_builder: out of memory");
	for (uint64_t i = 0; i < xstate_bytes; i++)
		xstate[i] = (unsigned char)(i * 7 + (uint64_t)thread->tid);
	ret = image_write_record(writer, CKPT_RECORD_THREAD, parts, 2);
	free(xstate);
	return ret;
}

static inline uint64_t run_page_total(const struct spec_page_record *record)
{
	uint64_t pages = 0;

	for (uint64_t i = 0; i < record->run_count; i++)
		pages += record->runs[i].pages;
	return pages;
}

static inline int spec_write_page_record(const struct spec_page_record *record,
					 struct image_writer *writer)
{
	uint64_t page_count = run_page_total(record);
	unsigned char *data, *page;
	int ret;

	if (page_count > 4 * CKPT_PAGES_PER_RECORD)
		return fail(writer->err, EINVAL,
			    "image_builder: %llu pages in one record is too many",
			    (unsigned long long)page_count);
	data = malloc(page_count * CKPT_PAGE_SIZE + 1);
	if (!data)
		return fail(writer->err, ENOMEM, "image_builder: out of memory");
	page = data;
	for (uint64_t i = 0; i < record->run_count; i++) {
		for (uint64_t p = 0; p < record->runs[i].pages; p++, page += CKPT_PAGE_SIZE)
			fill_page(record->runs[i].start + p * CKPT_PAGE_SIZE, page);
	}
	ret = image_write_pages(writer, record->runs, record->run_count, data, page_count);
	free(data);
	return ret;
}

static inline int spec_write_memory(const struct image_spec *spec, struct image_writer *writer)
{
	int ret = 0;

	for (size_t i = 0; i < spec->thread_count && ret == 0; i++)
		ret = spec_write_thread(&spec->threads[i], writer);
	for (size_t i = 0; i < spec->vma_count && ret == 0; i++)
		ret = image_write_simple(writer, CKPT_RECORD_VMA, &spec->vmas[i],
					 sizeof(spec->vmas[i]));
	for (size_t i = 0; i < spec->page_record_count && ret == 0; i++)
		ret = spec_write_page_record(&spec->page_records[i], writer);
	return ret;
}

/* Writes the whole image described by spec to fd. */
static inline int spec_write(const struct image_spec *spec, int fd, struct ckpt_error *err)
{
	struct image_writer writer;
	int ret;

	image_writer_init(&writer, fd, err);
	ret = spec_write_head_tree_files(spec, &writer);
	if (ret == 0)
		ret = spec_write_head_to_signals(spec, &writer);
	if (ret == 0)
		ret = spec_write_files_fds_mm(spec, &writer);
	if (ret == 0)
		ret = spec_write_memory(spec, &writer);
	if (ret == 0 && !spec->without_tail)
		ret = image_write_tail(&writer);
	return ret;
}

/* ---- an image in memory, record by record ---- */

struct image_bytes {
	unsigned char *data;
	size_t length;
};

static inline void image_bytes_release(struct image_bytes *bytes)
{
	free(bytes->data);
	bytes->data = NULL;
	bytes->length = 0;
}

/* Reads all of fd (from offset 0) into memory. */
static inline int image_bytes_from_fd(int fd, struct image_bytes *ret_bytes, struct ckpt_error *err)
{
	struct stat status;
	unsigned char *data;
	ssize_t got;

	if (fstat(fd, &status) < 0)
		return fail(err, errno, "image_builder: fstat: %s", strerror(errno));
	data = malloc((size_t)status.st_size + 1);
	if (!data)
		return fail(err, ENOMEM, "image_builder: out of memory");
	got = pread(fd, data, (size_t)status.st_size, 0);
	if (got != status.st_size) {
		free(data);
		return fail(err, EIO, "image_builder: short read of the image");
	}
	*ret_bytes = (struct image_bytes){ data, (size_t)status.st_size };
	return 0;
}

static inline int image_bytes_from_spec(const struct image_spec *spec,
					struct image_bytes *ret_bytes, struct ckpt_error *err)
{
	int fd = memfd_create("image-spec", MFD_CLOEXEC);
	int ret;

	if (fd < 0)
		return fail(err, errno, "image_builder: memfd_create: %s", strerror(errno));
	ret = spec_write(spec, fd, err);
	if (ret == 0)
		ret = image_bytes_from_fd(fd, ret_bytes, err);
	close(fd);
	return ret;
}

/* A memfd holding the bytes, positioned at 0, for a reader. */
static inline int image_bytes_to_memfd(const struct image_bytes *bytes, struct ckpt_error *err)
{
	int fd = memfd_create("image-bytes", MFD_CLOEXEC);
	size_t done = 0;

	if (fd < 0)
		return fail(err, errno, "image_builder: memfd_create: %s", strerror(errno));
	while (done < bytes->length) {
		ssize_t wrote = write(fd, bytes->data + done, bytes->length - done);

		if (wrote <= 0) {
			close(fd);
			return fail(err, EIO, "image_builder: writing a memfd failed");
		}
		done += (size_t)wrote;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static inline int image_bytes_save(const struct image_bytes *bytes, const char *path,
				   struct ckpt_error *err)
{
	FILE *file = fopen(path, "we");
	bool written;

	if (!file)
		return fail(err, errno, "cannot create %s: %s", path, strerror(errno));
	written = fwrite(bytes->data, 1, bytes->length, file) == bytes->length;
	if (fclose(file) != 0 || !written)
		return fail(err, EIO, "cannot write %s", path);
	return 0;
}

static inline struct ckpt_record_header image_bytes_header(const struct image_bytes *bytes,
							   size_t offset)
{
	struct ckpt_record_header header;

	memcpy(&header, bytes->data + offset, sizeof(header));
	return header;
}

static inline void image_bytes_set_header(struct image_bytes *bytes, size_t offset,
					  const struct ckpt_record_header *header)
{
	memcpy(bytes->data + offset, header, sizeof(*header));
}

/* Header offset of the record after the one at offset (framing trusted). */
static inline size_t image_bytes_next(const struct image_bytes *bytes, size_t offset)
{
	return offset + sizeof(struct ckpt_record_header) + image_bytes_header(bytes, offset).length;
}

static inline bool image_bytes_has_record_at(const struct image_bytes *bytes, size_t offset)
{
	return offset + sizeof(struct ckpt_record_header) <= bytes->length;
}

static inline size_t image_bytes_record_count(const struct image_bytes *bytes)
{
	size_t count = 0;

	for (size_t at = 0; image_bytes_has_record_at(bytes, at); at = image_bytes_next(bytes, at))
		count++;
	return count;
}

/* Header offset of record number index (0 = HEAD). */
static inline size_t image_bytes_record_offset(const struct image_bytes *bytes, size_t index)
{
	size_t at = 0;

	for (size_t i = 0; i < index; i++)
		at = image_bytes_next(bytes, at);
	return at;
}

/* Header offset of the nth (0-based) record of a type; aborts if there is none. */
static inline size_t image_bytes_find(const struct image_bytes *bytes, enum ckpt_record_type type,
				      unsigned nth)
{
	unsigned seen = 0;

	for (size_t at = 0; image_bytes_has_record_at(bytes, at); at = image_bytes_next(bytes, at)) {
		if (image_bytes_header(bytes, at).type != (uint32_t)type)
			continue;
		if (seen == nth)
			return at;
		seen++;
	}
	fprintf(stderr, "image_builder: no %s record number %u\n", record_type_name(type), nth);
	abort();
}

static inline unsigned char *image_bytes_payload(struct image_bytes *bytes, size_t offset)
{
	return bytes->data + offset + sizeof(struct ckpt_record_header);
}

/* The part of a payload under the record checksum (PAGES: up to the runs).
 * Not inlined: gcc's bounds check then misjudges short records of other types. */
static __attribute__((noinline)) uint64_t
checksummed_length(uint32_t type, const unsigned char *payload, uint64_t length)
{
	struct ckpt_pages pages;
	uint64_t covered;

	if (type != CKPT_RECORD_PAGES || length < sizeof(pages))
		return length;
	memcpy(&pages, payload, sizeof(pages));
	if (pages.run_count > CKPT_MAX_PAGE_RUNS)
		return length;
	covered = sizeof(pages) + pages.run_count * sizeof(struct ckpt_page_run);
	return covered < length ? covered : length;
}

static inline uint32_t record_checksum_of(const struct ckpt_record_header *header,
					  const unsigned char *payload)
{
	uint32_t crc = crc32c_update(0, header, 16);

	return crc32c_update(crc, payload, checksummed_length(header->type, payload, header->length));
}

/* Recomputes the checksum of the record at offset after a change (not of a
 * record that runs past the end of the bytes). */
static inline void image_bytes_reseal(struct image_bytes *bytes, size_t offset)
{
	struct ckpt_record_header header = image_bytes_header(bytes, offset);

	if (header.length > bytes->length - offset - sizeof(header))
		return;
	header.checksum = record_checksum_of(&header, image_bytes_payload(bytes, offset));
	image_bytes_set_header(bytes, offset, &header);
}

/* Writes a width-byte little-endian value into a payload, then reseals. */
static inline void image_bytes_patch(struct image_bytes *bytes, size_t offset, size_t field_offset,
				     unsigned width, uint64_t value)
{
	memcpy(image_bytes_payload(bytes, offset) + field_offset, &value, width);
	image_bytes_reseal(bytes, offset);
}

/* Replaces bytes [at, at + old_length) with new_length bytes of data. */
static inline void image_bytes_splice(struct image_bytes *bytes, size_t at, size_t old_length,
				      const void *data, size_t new_length)
{
	size_t length = bytes->length - old_length + new_length;
	unsigned char *spliced = malloc(length + 1);

	if (!spliced)
		abort();
	memcpy(spliced, bytes->data, at);
	if (new_length > 0)
		memcpy(spliced + at, data, new_length);
	memcpy(spliced + at + new_length, bytes->data + at + old_length,
	       bytes->length - at - old_length);
	free(bytes->data);
	bytes->data = spliced;
	bytes->length = length;
}

/* A whole sealed record (header + payload) in a new buffer. */
static inline unsigned char *sealed_record(uint32_t type, const void *payload, uint64_t length)
{
	struct ckpt_record_header header = { .type = type, .length = length };
	unsigned char *record = malloc(sizeof(header) + length + 1);

	if (!record)
		abort();
	memcpy(record + sizeof(header), payload, length);
	header.checksum = record_checksum_of(&header, record + sizeof(header));
	memcpy(record, &header, sizeof(header));
	return record;
}

static inline void image_bytes_insert_record(struct image_bytes *bytes, size_t at, uint32_t type,
					     const void *payload, uint64_t length)
{
	unsigned char *record = sealed_record(type, payload, length);

	image_bytes_splice(bytes, at, 0, record, sizeof(struct ckpt_record_header) + length);
	free(record);
}

/* Gives the record at offset a new payload (and length), sealed. */
static inline void image_bytes_replace_payload(struct image_bytes *bytes, size_t offset,
					       const void *payload, uint64_t length)
{
	struct ckpt_record_header header = image_bytes_header(bytes, offset);
	unsigned char *record = sealed_record(header.type, payload, length);
	size_t old_length = image_bytes_next(bytes, offset) - offset;

	image_bytes_splice(bytes, offset, old_length, record, sizeof(header) + length);
	free(record);
}

static inline void image_bytes_remove_record(struct image_bytes *bytes, size_t offset)
{
	image_bytes_splice(bytes, offset, image_bytes_next(bytes, offset) - offset, NULL, 0);
}

/* Moves the record at from so that it starts where the record at to starts. */
static inline void image_bytes_move_record(struct image_bytes *bytes, size_t from, size_t to)
{
	size_t length = image_bytes_next(bytes, from) - from;
	unsigned char *record = malloc(length + 1);

	if (!record)
		abort();
	memcpy(record, bytes->data + from, length);
	image_bytes_remove_record(bytes, from);
	if (to > from)
		to -= length;
	image_bytes_splice(bytes, to, 0, record, length);
	free(record);
}

static inline void image_bytes_truncate(struct image_bytes *bytes, size_t length)
{
	if (length < bytes->length)
		bytes->length = length;
}

/* ---- reading an image the way ckpt does ---- */

/* What read_whole_image() saw besides the metadata. */
struct image_pages_seen {
	uint64_t records;
	uint64_t pages;
	uint64_t pages_not_as_built; /* content differs from fill_page() */
};

static inline bool page_is_as_built(uint64_t address, const unsigned char *data)
{
	unsigned char expected[CKPT_PAGE_SIZE];

	fill_page(address, expected);
	return memcmp(expected, data, CKPT_PAGE_SIZE) == 0;
}

static inline void tally_pages(const struct ckpt_page_run *runs, uint64_t run_count,
			       const unsigned char *data, struct image_pages_seen *seen)
{
	for (uint64_t i = 0; i < run_count; i++) {
		for (uint64_t p = 0; p < runs[i].pages; p++, data += CKPT_PAGE_SIZE) {
			if (!page_is_as_built(runs[i].start + p * CKPT_PAGE_SIZE, data))
				seen->pages_not_as_built++;
			seen->pages++;
		}
	}
	seen->records++;
}

static inline int accept_page_record(struct page_cursor *cursor, const struct image_record *record,
				     struct image_pages_seen *seen, struct ckpt_error *err)
{
	const struct ckpt_pages *pages = record->payload;
	const struct ckpt_page_run *runs;
	const void *data;
	int ret = page_cursor_accept(cursor, record, &runs, &data, err);

	if (ret == 0)
		tally_pages(runs, pages->run_count, data, seen);
	return ret;
}

/* PAGES records from *record on, then the tail, then the end of the stream. */
static inline int read_pages_to_end(struct image_reader *reader, const struct image_process *image,
				    struct image_record *record, struct image_pages_seen *seen)
{
	struct page_cursor cursor;
	int ret;

	page_cursor_init(&cursor, image);
	while (record->type == CKPT_RECORD_PAGES) {
		ret = accept_page_record(&cursor, record, seen, reader->err);
		if (ret == 0)
			ret = image_read_record(reader, record);
		if (ret == -ENODATA)
			return fail(reader->err, EINVAL,
				    "bad image: truncated: stream ends without a tail record");
		if (ret < 0)
			return ret;
	}
	if (record->type != CKPT_RECORD_TAIL)
		return fail(reader->err, EINVAL, "bad image: %s record among the pages",
			    record_type_name(record->type));
	ret = page_cursor_finish(&cursor, reader->err);
	if (ret == 0)
		ret = image_check_tail(reader, record, cursor.page_count, reader->err);
	if (ret == 0 && image_read_record(reader, record) != -ENODATA)
		return fail(reader->err, EINVAL, "bad image: data after the tail record");
	return ret;
}

/*
 * Reads a whole image from fd.  The caller releases *image (also on
 * failure, when it is partly filled).
 */
static inline int read_whole_image(int fd, struct image_process *image,
				   struct image_pages_seen *seen, struct ckpt_error *err)
{
	struct image_reader reader;
	struct image_record record, first;
	struct image_tree *tree = calloc(1, sizeof(*tree));
	int ret;

	memset(seen, 0, sizeof(*seen));
	memset(image, 0, sizeof(*image));
	if (!tree)
		return fail(err, ENOMEM, "image_builder: out of memory");
	image_reader_init(&reader, fd, err);
	ret = image_load_tree(&reader, tree, &first);
	if (ret == 0)
		ret = image_load_process(&reader, tree, &first, image, &record);
	image->owned_tree = tree;
	if (ret == 0)
		ret = read_pages_to_end(&reader, image, &record, seen);
	image_reader_free(&reader);
	return ret;
}

#endif
