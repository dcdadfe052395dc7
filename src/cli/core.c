/* SPDX-License-Identifier: MIT */
/*
 * ckpt core IMAGE [-o FILE] [--pid PID]: an ELF core file of one process of
 * an image, for gdb.
 *
 * Layout: the ELF header, the program headers (one PT_NOTE, one PT_LOAD per
 * VMA), then each VMA's bytes from a page boundary, then the notes at the
 * end (their size is only known once every process has been read).  Page
 * data is written as the checked PAGES records go by; pages the image does
 * not hold are read from the mapped file (file mappings) or left as a hole
 * that reads zero (anonymous memory).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/procfs.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli/cli.h"
#include "image/image.h"
#include "util.h"

static const char help[] =
	"usage: ckpt core [-o FILE] [--pid PID] IMAGE\n"
	"\n"
	"Writes an ELF core file of one process of IMAGE, so that `gdb PROGRAM FILE`\n"
	"shows its threads, their backtraces and the values of variables.\n"
	"\n"
	"  -o, --output FILE   the core file (default: core.PID in the current directory)\n"
	"  -p, --pid PID       which process of the image (default: the root of the tree)\n"
	"\n"
	"Pages the image does not hold are read from the mapped files (a file that\n"
	"cannot be read or changed since the checkpoint gives zeros and one warning).\n"
	"Exit 1 with the first problem when the image is bad; no file is left then.\n";

enum {
	CORE_SEGMENT_ALIGN = 4096,
	CORE_NOTE_ALIGN = 4,
	CORE_FXSAVE_SIZE = 512, /* the legacy area at the start of XSAVE */
	CORE_COPY_CHUNK = 1 << 20,
	CORE_STATE_STOPPED = 3, /* pr_state of 'T': frozen by the checkpoint */
};

/* The image's pages of the process's memory, as ascending address runs. */
struct present_runs {
	struct ckpt_page_run *runs;
	size_t count;
	size_t capacity;
};

struct note_buffer {
	unsigned char *bytes;
	size_t length;
	size_t capacity;
};

struct core_writer {
	int fd;
	int32_t wanted_pid; /* 0: the root */
	int32_t pid;	    /* the process, once the tree is known */
	int32_t memory_pid; /* the process holding its memory (mm owner) */
	const struct image_tree *tree;
	uint64_t *vma_offsets; /* file offset of each VMA's bytes */
	uint64_t data_end;
	struct present_runs present;
	bool *warned_files; /* indexed by FILE id - 1 */
	struct ckpt_error *err;
};

static uint64_t align_up(uint64_t value, uint64_t alignment)
{
	return (value + alignment - 1) & ~(alignment - 1);
}

static uint64_t vma_file_size(const struct ckpt_vma *vma)
{
	return vma->prot == PROT_NONE ? 0 : vma->end - vma->start;
}

static int write_at(struct core_writer *core, const void *data, size_t length, uint64_t offset)
{
	const char *bytes = data;

	while (length > 0) {
		ssize_t written = pwrite(core->fd, bytes, length, (off_t)offset);

		if (written < 0 && errno == EINTR)
			continue;
		if (written <= 0)
			return fail(core->err, written < 0 ? errno : EIO,
				    "cannot write the core file: %s",
				    strerror(written < 0 ? errno : EIO));
		bytes += written;
		length -= (size_t)written;
		offset += (uint64_t)written;
	}
	return 0;
}

/* Which process: --pid or the root, alive; its memory may be another's (CLONE_VM). */
static int choose_process(struct core_writer *core)
{
	const struct image_tree *tree = core->tree;
	int32_t pid = core->wanted_pid ? core->wanted_pid : tree->entries[0].pid;

	if (core->pid)
		return 0;
	for (size_t i = 0; i < tree->entry_count; i++) {
		const struct ckpt_tree_entry *entry = &tree->entries[i];

		if (entry->pid != pid)
			continue;
		if (entry->state != CKPT_TREE_ALIVE)
			return fail(core->err, ENOENT,
				    "process %d is a zombie in the image: it has no memory or threads",
				    pid);
		core->pid = pid;
		core->memory_pid = shares_with_other(entry->mm_owner, pid) ? entry->mm_owner : pid;
		return 0;
	}
	return fail(core->err, ENOENT, "process %d is not in the image", pid);
}

/* Places each VMA's bytes in the file, after the headers, from a page boundary. */
static int lay_out(struct core_writer *core, const struct image_process *memory)
{
	uint64_t offset;

	if (memory->vma_count + 1 >= PN_XNUM)
		return fail(core->err, E2BIG, "%zu memory areas are too many for a core file",
			    memory->vma_count);
	core->vma_offsets = calloc(memory->vma_count + 1, sizeof(*core->vma_offsets));
	if (!core->vma_offsets)
		return fail(core->err, ENOMEM, "out of memory");
	offset = sizeof(Elf64_Ehdr) + (memory->vma_count + 1) * sizeof(Elf64_Phdr);
	offset = align_up(offset, CORE_SEGMENT_ALIGN);
	for (size_t i = 0; i < memory->vma_count; i++) {
		core->vma_offsets[i] = offset;
		offset += vma_file_size(&memory->vmas[i]);
	}
	core->data_end = offset;
	return 0;
}

static const struct ckpt_vma *find_vma(const struct image_process *memory, uint64_t address,
				       size_t *ret_index)
{
	size_t low = 0, high = memory->vma_count;

	while (low < high) {
		size_t middle = low + (high - low) / 2;

		if (memory->vmas[middle].end <= address)
			low = middle + 1;
		else
			high = middle;
	}
	if (low == memory->vma_count || memory->vmas[low].start > address)
		return NULL;
	*ret_index = low;
	return &memory->vmas[low];
}

static int remember_run(struct core_writer *core, const struct ckpt_page_run *run)
{
	struct present_runs *present = &core->present;
	struct ckpt_page_run *last = present->count ? &present->runs[present->count - 1] : NULL;

	if (last && last->start + last->pages * CKPT_PAGE_SIZE == run->start) {
		last->pages += run->pages;
		return 0;
	}
	if (present->count == present->capacity) {
		size_t capacity = present->capacity ? 2 * present->capacity : 64;
		struct ckpt_page_run *grown = realloc(present->runs, capacity * sizeof(*grown));

		if (!grown)
			return fail(core->err, ENOMEM, "out of memory");
		present->runs = grown;
		present->capacity = capacity;
	}
	present->runs[present->count++] = *run;
	return 0;
}

/* Writes one run's pages where its VMA lies in the file (none for PROT_NONE). */
static int store_run(struct core_writer *core, const struct image_process *memory,
		     const struct ckpt_page_run *run, const unsigned char *data)
{
	size_t index;
	const struct ckpt_vma *vma = find_vma(memory, run->start, &index);

	if (!vma)
		return fail(core->err, EINVAL, "bad image: pages at %#" PRIx64 " outside any VMA",
			    run->start);
	if (vma_file_size(vma) == 0)
		return 0;
	return write_at(core, data, run->pages * CKPT_PAGE_SIZE,
			core->vma_offsets[index] + (run->start - vma->start));
}

/* The page visitor: each checked PAGES record of the process's memory goes to the file. */
static int store_pages(void *arg, const struct image_process *process,
		       const struct ckpt_page_run *runs, uint64_t run_count, const void *data)
{
	struct core_writer *core = arg;
	const unsigned char *next = data;
	int ret = choose_process(core);

	if (ret < 0 || process->process.pid != core->memory_pid)
		return ret;
	if (!core->vma_offsets) {
		ret = lay_out(core, process);
		if (ret < 0)
			return ret;
	}
	for (uint64_t i = 0; i < run_count && ret == 0; i++) {
		ret = store_run(core, process, &runs[i], next);
		if (ret == 0)
			ret = remember_run(core, &runs[i]);
		next += runs[i].pages * CKPT_PAGE_SIZE;
	}
	return ret;
}

/* ---- Pages the image does not hold: from the mapped file ------------- */

static void warn_file_once(struct core_writer *core, const struct image_file *file, const char *why)
{
	if (core->warned_files[file->file.id - 1])
		return;
	core->warned_files[file->file.id - 1] = true;
	fprintf(stderr,
		"ckpt core: warning: %s %s: its pages not in the image are zeros in the core\n",
		file->path, why);
}

/* A private mapping's clean pages are the file's only while it is unchanged. */
static bool file_unchanged(const struct image_file *file, int fd)
{
	struct stat st;
	uint64_t mtime;

	if (fstat(fd, &st) < 0)
		return false;
	mtime = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
	return (uint64_t)st.st_size == file->file.size && mtime == file->file.mtime_ns;
}

static int open_backing_file(struct core_writer *core, const struct image_file *file,
			     const struct ckpt_vma *vma)
{
	char why[160];
	int fd = open(file->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(why, sizeof(why), "cannot be read (%s)", strerror(errno));
		warn_file_once(core, file, why);
		return -1;
	}
	if (vma->kind == CKPT_VMA_FILE_PRIVATE && !file_unchanged(file, fd)) {
		warn_file_once(core, file, "changed since the checkpoint (size or mtime)");
		close(fd);
		return -1;
	}
	return fd;
}

/* Copies [start, end) of a VMA from its file; past the end of the file stays zero. */
static int copy_from_file(struct core_writer *core, int file_fd, const struct ckpt_vma *vma,
			  uint64_t vma_offset, uint64_t start, uint64_t end, unsigned char *buffer)
{
	while (start < end) {
		size_t want = end - start < CORE_COPY_CHUNK ? end - start : CORE_COPY_CHUNK;
		ssize_t got = pread(file_fd, buffer, want,
				    (off_t)(vma->file_offset + (start - vma->start)));
		int ret;

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return 0;
		ret = write_at(core, buffer, (size_t)got, vma_offset + (start - vma->start));
		if (ret < 0)
			return ret;
		start += (uint64_t)got;
	}
	return 0;
}

static uint64_t run_end(const struct ckpt_page_run *run)
{
	return run->start + run->pages * CKPT_PAGE_SIZE;
}

/*
 * Every stretch of the VMA between the image's runs (a run may go on into
 * the next VMA: runs that touch are merged); *run_index moves along.
 */
static int fill_gaps(struct core_writer *core, int file_fd, const struct ckpt_vma *vma,
		     uint64_t vma_offset, size_t *run_index, unsigned char *buffer)
{
	const struct present_runs *present = &core->present;
	uint64_t at = vma->start;

	while (*run_index < present->count && run_end(&present->runs[*run_index]) <= vma->start)
		(*run_index)++;
	while (at < vma->end) {
		const struct ckpt_page_run *run =
			*run_index < present->count ? &present->runs[*run_index] : NULL;
		uint64_t gap_end = run && run->start < vma->end ? run->start : vma->end;
		int ret = copy_from_file(core, file_fd, vma, vma_offset, at,
					 gap_end > at ? gap_end : at, buffer);

		if (ret < 0 || gap_end == vma->end)
			return ret;
		at = run_end(run) < vma->end ? run_end(run) : vma->end;
		*run_index += run_end(run) <= vma->end;
	}
	return 0;
}

static int fill_from_files(struct core_writer *core, const struct image_process *memory)
{
	_cleanup_free_ unsigned char *buffer = malloc(CORE_COPY_CHUNK);
	size_t run_index = 0;

	if (!buffer)
		return fail(core->err, ENOMEM, "out of memory");
	for (size_t i = 0; i < memory->vma_count; i++) {
		const struct ckpt_vma *vma = &memory->vmas[i];
		const struct image_file *file = image_find_file(memory, vma->file_id);
		bool from_file = vma->kind == CKPT_VMA_FILE_PRIVATE ||
				 vma->kind == CKPT_VMA_FILE_SHARED;
		_cleanup_close_ int file_fd = -1;
		int ret;

		if (!from_file || !file || vma_file_size(vma) == 0)
			continue;
		file_fd = open_backing_file(core, file, vma);
		if (file_fd < 0)
			continue;
		ret = fill_gaps(core, file_fd, vma, core->vma_offsets[i], &run_index, buffer);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * The vDSO is not in the image: on the same kernel release it is the same
 * code as ckpt's own, which gdb reads for its symbols and unwind tables.
 */
static uint64_t own_vdso_size(void)
{
	FILE *maps = fopen("/proc/self/maps", "re");
	char line[512];
	unsigned long long start, end;
	uint64_t size = 0;

	if (!maps)
		return 0;
	while (size == 0 && fgets(line, sizeof(line), maps)) {
		if (strstr(line, "[vdso]") && sscanf(line, "%llx-%llx", &start, &end) == 2)
			size = end - start;
	}
	fclose(maps);
	return size;
}

static int fill_vdso(struct core_writer *core, const struct image_process *memory)
{
	const void *own_vdso = (const void *)getauxval(AT_SYSINFO_EHDR);
	struct utsname name;

	if (!own_vdso || uname(&name) < 0 || strcmp(name.release, memory->head.kernel_release) != 0)
		return 0;
	for (size_t i = 0; i < memory->vma_count; i++) {
		const struct ckpt_vma *vma = &memory->vmas[i];

		if (vma->kind == CKPT_VMA_VDSO && vma->end - vma->start == own_vdso_size())
			return write_at(core, own_vdso, vma->end - vma->start, core->vma_offsets[i]);
	}
	return 0;
}

/* ---- Notes ----------------------------------------------------------- */

static int add_note(struct note_buffer *notes, const char *name, uint32_t type, const void *desc,
		    size_t desc_size, struct ckpt_error *err)
{
	Elf64_Nhdr header = { .n_namesz = (Elf64_Word)strlen(name) + 1,
			      .n_descsz = (Elf64_Word)desc_size,
			      .n_type = type };
	size_t name_space = align_up(header.n_namesz, CORE_NOTE_ALIGN);
	size_t needed =
		notes->length + sizeof(header) + name_space + align_up(desc_size, CORE_NOTE_ALIGN);
	unsigned char *at;

	if (needed > notes->capacity) {
		size_t capacity = needed > 2 * notes->capacity ? needed : 2 * notes->capacity;
		unsigned char *grown = realloc(notes->bytes, capacity);

		if (!grown)
			return fail(err, ENOMEM, "out of memory");
		notes->bytes = grown;
		notes->capacity = capacity;
	}
	at = notes->bytes + notes->length;
	memset(at, 0, needed - notes->length);
	memcpy(at, &header, sizeof(header));
	memcpy(at + sizeof(header), name, header.n_namesz);
	memcpy(at + sizeof(header) + name_space, desc, desc_size);
	notes->length = needed;
	return 0;
}

/* Signals queued to this very thread, as the kernel's pr_sigpend: bit n-1 for signal n. */
static uint64_t thread_pending_mask(const struct image_process *process, int32_t tid)
{
	uint64_t mask = 0;

	for (size_t i = 0; i < process->pending_count; i++) {
		int signal_number;

		memcpy(&signal_number, process->pending[i].info, sizeof(signal_number));
		if (process->pending[i].tid == tid && signal_number >= 1 && signal_number <= 64)
			mask |= 1ull << (signal_number - 1);
	}
	return mask;
}

/*
 * No signal made this core: pr_cursig is 0 and there is no NT_SIGINFO.  A
 * thread stopped in a syscall shows rip at its syscall instruction and the
 * syscall number in rax (the image re-runs it on restart).
 */
static void fill_prstatus(const struct image_process *process, const struct ckpt_thread *thread,
			  struct elf_prstatus *status)
{
	_Static_assert(sizeof(status->pr_reg) == sizeof(thread->regs), "user_regs_struct order");

	memset(status, 0, sizeof(*status));
	status->pr_sigpend = thread_pending_mask(process, thread->tid);
	status->pr_sighold = thread->sigmask;
	status->pr_pid = thread->tid;
	status->pr_ppid = process->process.ppid;
	status->pr_pgrp = process->process.pgid;
	status->pr_sid = process->process.sid;
	memcpy(status->pr_reg, thread->regs, sizeof(status->pr_reg));
	status->pr_fpvalid = thread->xstate_size >= CORE_FXSAVE_SIZE;
}

static int add_prstatus_note(struct note_buffer *notes, const struct image_process *process,
			     const struct image_thread *thread, struct ckpt_error *err)
{
	struct elf_prstatus status;

	fill_prstatus(process, &thread->thread, &status);
	return add_note(notes, "CORE", NT_PRSTATUS, &status, sizeof(status), err);
}

/* NT_PRFPREG (the FXSAVE area) and NT_X86_XSTATE (all of it). */
static int add_fpu_notes(struct note_buffer *notes, const struct image_thread *thread,
			 struct ckpt_error *err)
{
	int ret;

	if (thread->thread.xstate_size < CORE_FXSAVE_SIZE)
		return 0;
	ret = add_note(notes, "CORE", NT_PRFPREG, thread->xstate, CORE_FXSAVE_SIZE, err);
	if (ret == 0)
		ret = add_note(notes, "LINUX", NT_X86_XSTATE, thread->xstate,
			       thread->thread.xstate_size, err);
	return ret;
}

/* Reads memory back from the core written so far; false where it holds none. */
static bool read_core_memory(struct core_writer *core, const struct image_process *memory,
			     uint64_t address, void *buffer, size_t length)
{
	size_t index;
	const struct ckpt_vma *vma = find_vma(memory, address, &index);

	if (!vma || vma_file_size(vma) == 0 || length > vma->end - address)
		return false;
	return pread(core->fd, buffer, length,
		     (off_t)(core->vma_offsets[index] + (address - vma->start))) == (ssize_t)length;
}

/* The start of the command line, NULs made spaces, as ps shows it. */
static void read_arguments(struct core_writer *core, const struct image_process *process,
			   const struct image_process *memory, char psargs[ELF_PRARGSZ])
{
	uint64_t start = process->mm.fields[CKPT_MM_ARG_START];
	uint64_t end = process->mm.fields[CKPT_MM_ARG_END];
	size_t length = end > start ? end - start : 0;

	memset(psargs, 0, ELF_PRARGSZ);
	length = length < ELF_PRARGSZ - 1 ? length : ELF_PRARGSZ - 1;
	if (!read_core_memory(core, memory, start, psargs, length)) {
		memcpy(psargs, process->process.comm, sizeof(process->process.comm));
		return;
	}
	for (size_t i = 0; i < length; i++)
		psargs[i] = psargs[i] ? psargs[i] : ' ';
	while (length > 0 && psargs[length - 1] == ' ')
		psargs[--length] = '\0';
}

static void fill_prpsinfo(struct core_writer *core, const struct image_process *process,
			  const struct image_process *memory, struct elf_prpsinfo *info)
{
	memset(info, 0, sizeof(*info));
	info->pr_state = CORE_STATE_STOPPED;
	info->pr_sname = 'T';
	info->pr_uid = process->creds.uid[CKPT_ID_REAL];
	info->pr_gid = process->creds.gid[CKPT_ID_REAL];
	info->pr_pid = process->process.pid;
	info->pr_ppid = process->process.ppid;
	info->pr_pgrp = process->process.pgid;
	info->pr_sid = process->process.sid;
	memcpy(info->pr_fname, process->process.comm, sizeof(info->pr_fname));
	info->pr_fname[sizeof(info->pr_fname) - 1] = '\0';
	read_arguments(core, process, memory, info->pr_psargs);
}

/* NT_FILE: count, page size, (start, end, offset in pages) per mapped file, then the paths. */
static int add_file_note(struct note_buffer *notes, const struct image_process *memory,
			 struct ckpt_error *err)
{
	uint64_t count = 0, size = 2 * sizeof(uint64_t), *words;
	_cleanup_free_ unsigned char *desc = NULL;
	char *names;

	for (size_t i = 0; i < memory->vma_count; i++) {
		const struct image_file *file = image_find_file(memory, memory->vmas[i].file_id);

		count += file != NULL;
		size += file ? 3 * sizeof(uint64_t) + strlen(file->path) + 1 : 0;
	}
	desc = malloc(size);
	if (!desc)
		return fail(err, ENOMEM, "out of memory");
	words = (uint64_t *)(void *)desc;
	words[0] = count;
	words[1] = CKPT_PAGE_SIZE;
	words += 2;
	names = (char *)(words + 3 * count);
	for (size_t i = 0; i < memory->vma_count; i++) {
		const struct ckpt_vma *vma = &memory->vmas[i];
		const struct image_file *file = image_find_file(memory, vma->file_id);

		if (!file)
			continue;
		*words++ = vma->start;
		*words++ = vma->end;
		*words++ = vma->file_offset / CKPT_PAGE_SIZE;
		names = stpcpy(names, file->path) + 1;
	}
	return add_note(notes, "CORE", NT_FILE, desc, size, err);
}

/* The thread the process was stopped in goes first: the main thread when it is there. */
static size_t first_thread(const struct image_process *process)
{
	for (size_t i = 0; i < process->thread_count; i++) {
		if (process->threads[i].thread.tid == process->process.pid)
			return i;
	}
	return 0;
}

/* In the kernel's order: the first thread's PRSTATUS, the process notes, its FPU; then the others. */
static int build_notes(struct core_writer *core, const struct image_process *process,
		       const struct image_process *memory, struct note_buffer *notes)
{
	const struct image_thread *first = &process->threads[first_thread(process)];
	struct elf_prpsinfo info;
	int ret = add_prstatus_note(notes, process, first, core->err);

	fill_prpsinfo(core, process, memory, &info);
	if (ret == 0)
		ret = add_note(notes, "CORE", NT_PRPSINFO, &info, sizeof(info), core->err);
	if (ret == 0)
		ret = add_note(notes, "CORE", NT_AUXV, process->auxv,
			       process->mm.auxv_words * sizeof(uint64_t), core->err);
	if (ret == 0)
		ret = add_file_note(notes, memory, core->err);
	if (ret == 0)
		ret = add_fpu_notes(notes, first, core->err);
	for (size_t i = 0; i < process->thread_count && ret == 0; i++) {
		const struct image_thread *thread = &process->threads[i];

		if (thread == first)
			continue;
		ret = add_prstatus_note(notes, process, thread, core->err);
		if (ret == 0)
			ret = add_fpu_notes(notes, thread, core->err);
	}
	return ret;
}

/* ---- Headers ----------------------------------------------------------- */

static void fill_elf_header(Elf64_Ehdr *header, size_t phdr_count)
{
	memset(header, 0, sizeof(*header));
	memcpy(header->e_ident, ELFMAG, SELFMAG);
	header->e_ident[EI_CLASS] = ELFCLASS64;
	header->e_ident[EI_DATA] = ELFDATA2LSB;
	header->e_ident[EI_VERSION] = EV_CURRENT;
	header->e_ident[EI_OSABI] = ELFOSABI_NONE;
	header->e_type = ET_CORE;
	header->e_machine = EM_X86_64;
	header->e_version = EV_CURRENT;
	header->e_phoff = sizeof(Elf64_Ehdr);
	header->e_ehsize = sizeof(Elf64_Ehdr);
	header->e_phentsize = sizeof(Elf64_Phdr);
	header->e_phnum = (Elf64_Half)phdr_count;
}

static Elf64_Word segment_flags(uint32_t prot)
{
	return (prot & PROT_READ ? PF_R : 0) | (prot & PROT_WRITE ? PF_W : 0) |
	       (prot & PROT_EXEC ? PF_X : 0);
}

static int write_headers(struct core_writer *core, const struct image_process *memory,
			 uint64_t notes_size)
{
	size_t count = memory->vma_count + 1;
	_cleanup_free_ Elf64_Phdr *headers = calloc(count, sizeof(*headers));
	Elf64_Ehdr elf;
	int ret;

	if (!headers)
		return fail(core->err, ENOMEM, "out of memory");
	headers[0] = (Elf64_Phdr){ .p_type = PT_NOTE,
				   .p_offset = core->data_end,
				   .p_filesz = notes_size,
				   .p_align = CORE_NOTE_ALIGN };
	for (size_t i = 0; i < memory->vma_count; i++) {
		const struct ckpt_vma *vma = &memory->vmas[i];

		headers[i + 1] = (Elf64_Phdr){
			.p_type = PT_LOAD,
			.p_flags = segment_flags(vma->prot),
			.p_offset = core->vma_offsets[i],
			.p_vaddr = vma->start,
			.p_filesz = vma_file_size(vma),
			.p_memsz = vma->end - vma->start,
			.p_align = CORE_SEGMENT_ALIGN,
		};
	}
	fill_elf_header(&elf, count);
	ret = write_at(core, &elf, sizeof(elf), 0);
	if (ret == 0)
		ret = write_at(core, headers, count * sizeof(*headers), sizeof(elf));
	return ret;
}

static const struct image_process *find_process(const struct image_process *processes, size_t count,
						int32_t pid)
{
	for (size_t i = 0; i < count; i++) {
		if (processes[i].process.pid == pid)
			return &processes[i];
	}
	return NULL;
}

/* Once the whole image is read and checked: file pages, notes, headers. */
static int finish_core(struct core_writer *core, const struct image_process *processes, size_t count)
{
	const struct image_process *process, *memory;
	struct note_buffer notes = { 0 };
	int ret = choose_process(core);

	if (ret < 0)
		return ret;
	process = find_process(processes, count, core->pid);
	memory = find_process(processes, count, core->memory_pid);
	if (!process || !memory)
		return fail(core->err, EINVAL, "bad image: process %d is missing", core->pid);
	if (!core->vma_offsets)
		ret = lay_out(core, memory);
	if (ret == 0)
		ret = fill_from_files(core, memory);
	if (ret == 0)
		ret = fill_vdso(core, memory);
	if (ret == 0)
		ret = build_notes(core, process, memory, &notes);
	if (ret == 0)
		ret = write_at(core, notes.bytes, notes.length, core->data_end);
	if (ret == 0)
		ret = write_headers(core, memory, notes.length);
	free(notes.bytes);
	return ret;
}

static int write_core(int image_fd, int core_fd, int32_t wanted_pid, struct ckpt_error *err)
{
	struct core_writer core = { .fd = core_fd, .wanted_pid = wanted_pid, .err = err };
	struct page_visitor visitor = { .visit = store_pages, .arg = &core };
	struct image_reader reader;
	struct image_tree tree;
	struct image_process *processes = NULL;
	size_t count = 0;
	int ret;

	core.tree = &tree;
	image_reader_init(&reader, image_fd, err);
	ret = image_read_all_visiting(&reader, &tree, &visitor, &processes, &count);
	if (ret == 0) {
		core.warned_files = calloc(tree.file_count + 1, sizeof(*core.warned_files));
		ret = core.warned_files ? finish_core(&core, processes, count)
					: fail(err, ENOMEM, "out of memory");
		image_free_all(&tree, processes, count);
	}
	image_reader_free(&reader);
	free(core.vma_offsets);
	free(core.present.runs);
	free(core.warned_files);
	return ret;
}

/* ---- The command ------------------------------------------------------ */

struct core_options {
	const char *image_path;
	const char *output_path;
	int32_t pid;
};

static int parse_pid(const char *text, int32_t *ret_pid)
{
	char *end;
	long value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (errno || end == text || *end || value <= 0 || value > INT32_MAX)
		return -EINVAL;
	*ret_pid = (int32_t)value;
	return 0;
}

static int parse_options(int argc, char **argv, struct core_options *options)
{
	static const struct option long_options[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "pid", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	int option;

	opterr = 0;
	optind = 1;
	for (;;) {
		option = getopt_long(argc, argv, "+o:p:", long_options, NULL);
		if (option == -1)
			break;
		if (option == 'o') {
			options->output_path = optarg;
		} else if (option != 'p' || parse_pid(optarg, &options->pid) < 0) {
			cli_error("core", "bad option or value '%s' (see ckpt core --help)",
				  argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind != argc - 1) {
		cli_error("core", "expected one IMAGE (see ckpt core --help)");
		return -EINVAL;
	}
	options->image_path = argv[optind];
	return 0;
}

/* Writes the core to a temporary file beside the output, renamed in place only when complete. */
static int core_to_path(int image_fd, const struct core_options *options, const char *output,
			struct ckpt_error *err)
{
	_cleanup_free_ char *temp_path = NULL;
	_cleanup_close_ int core_fd = -1;
	int ret;

	if (asprintf(&temp_path, "%s.tmp.XXXXXX", output) < 0)
		return fail(err, ENOMEM, "out of memory");
	core_fd = mkostemp(temp_path, O_CLOEXEC);
	if (core_fd < 0)
		return fail(err, errno, "cannot create %s: %s", temp_path, strerror(errno));
	ret = write_core(image_fd, core_fd, options->pid, err);
	if (ret == 0 && rename(temp_path, output) < 0)
		ret = fail(err, errno, "cannot rename %s to %s: %s", temp_path, output,
			   strerror(errno));
	if (ret < 0)
		unlink(temp_path);
	return ret;
}

static int first_pid_of(int image_fd, int32_t *ret_pid, struct ckpt_error *err)
{
	struct image_reader reader;
	struct image_tree tree;
	struct image_record next;
	int ret;

	image_reader_init(&reader, image_fd, err);
	ret = image_load_tree(&reader, &tree, &next);
	if (ret == 0)
		*ret_pid = tree.entries[0].pid;
	image_tree_free(&tree);
	image_reader_free(&reader);
	if (ret == 0 && lseek(image_fd, 0, SEEK_SET) < 0)
		return fail(err, errno, "cannot read the image again (it must be a file): %s",
			    strerror(errno));
	return ret;
}

int command_core(int argc, char **argv)
{
	struct core_options options = { 0 };
	struct ckpt_error err = { 0 };
	_cleanup_free_ char *default_output = NULL;
	_cleanup_close_ int image_fd = -1;
	int32_t pid;
	int ret;

	if (wants_help(argc, argv)) {
		fputs(help, stdout);
		return EXIT_OK;
	}
	if (parse_options(argc, argv, &options) < 0)
		return EXIT_USAGE;
	image_fd = open(options.image_path, O_RDONLY | O_CLOEXEC);
	if (image_fd < 0) {
		cli_error("core", "cannot open %s: %s", options.image_path, strerror(errno));
		return EXIT_FAILED;
	}
	pid = options.pid;
	ret = pid ? 0 : first_pid_of(image_fd, &pid, &err);
	if (ret == 0 && !options.output_path && asprintf(&default_output, "core.%d", pid) < 0)
		ret = fail(&err, ENOMEM, "out of memory");
	if (ret == 0)
		ret = core_to_path(image_fd, &options,
				   options.output_path ? options.output_path : default_output, &err);
	if (ret < 0) {
		cli_error("core", "%s: %s", options.image_path, err.message);
		return EXIT_FAILED;
	}
	return EXIT_OK;
}
