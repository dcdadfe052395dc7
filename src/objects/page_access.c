/* SPDX-License-Identifier: MIT */
/*
 * How ckpt reaches a live process's pages: PAGEMAP_SCAN finds the ones
 * worth keeping (present or swapped, not the zero page, not clean file
 * pages), process_vm_readv reads them out of the target (/proc/PID/mem
 * where the VMA forbids reading), process_vm_writev puts them in a husk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "objects/page_flow.h"
#include "sys/kernel.h"
#include "util.h"

enum {
	SCAN_REGIONS = 1024
};

struct pagemap_scanner {
	struct page_scanner base;
	pid_t pid;
	int pagemap_fd;
	struct page_region_v1 regions[SCAN_REGIONS];
};

/* Which pages of a VMA go into the image. */
static void scan_filter(const struct ckpt_vma *vma, struct pm_scan_arg_v1 *arg)
{
	arg->category_anyof_mask = CKPT_PAGE_IS_PRESENT | CKPT_PAGE_IS_SWAPPED;
	arg->return_mask = CKPT_PAGE_IS_PRESENT | CKPT_PAGE_IS_SWAPPED;
	if (vma->kind == CKPT_VMA_SHARED_ANON)
		return;
	arg->category_inverted = CKPT_PAGE_IS_PFNZERO;
	arg->category_mask = CKPT_PAGE_IS_PFNZERO;
	if (vma->kind == CKPT_VMA_FILE_PRIVATE) {
		arg->category_inverted |= CKPT_PAGE_IS_FILE;
		arg->category_mask |= CKPT_PAGE_IS_FILE;
	}
}

static int scan_pagemap(struct page_scanner *base, const struct ckpt_vma *vma, uint64_t *start,
			uint64_t end, struct ckpt_page_run *runs, size_t capacity,
			struct ckpt_error *err)
{
	struct pagemap_scanner *scanner = (struct pagemap_scanner *)base;
	struct pm_scan_arg_v1 arg = {
		.size = sizeof(arg),
		.start = *start,
		.end = end,
		.vec = (uint64_t)(uintptr_t)scanner->regions,
		.vec_len = capacity < SCAN_REGIONS ? capacity : SCAN_REGIONS,
	};
	int found;

	scan_filter(vma, &arg);
	found = ioctl(scanner->pagemap_fd, CKPT_PAGEMAP_SCAN, &arg);
	if (found < 0)
		return fail(err, errno, "scanning pages of process %d at %#llx: %s", scanner->pid,
			    (unsigned long long)*start, strerror(errno));
	for (int i = 0; i < found; i++)
		runs[i] = (struct ckpt_page_run){
			scanner->regions[i].start,
			(scanner->regions[i].end - scanner->regions[i].start) / CKPT_PAGE_SIZE,
		};
	*start = arg.walk_end;
	return found;
}

static void close_pagemap(struct page_scanner *base)
{
	struct pagemap_scanner *scanner = (struct pagemap_scanner *)base;

	close(scanner->pagemap_fd);
	free(scanner);
}

static const struct page_scanner_ops pagemap_scanner_ops = {
	.scan = scan_pagemap,
	.close = close_pagemap,
};

int open_pagemap_scanner(pid_t pid, struct ckpt_error *err, struct page_scanner **ret_scanner)
{
	struct pagemap_scanner *scanner = calloc(1, sizeof(*scanner));
	char path[64];

	if (!scanner)
		return fail(err, ENOMEM, "out of memory");
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	scanner->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (scanner->pagemap_fd < 0) {
		int ret = fail(err, errno, "opening %s: %s", path, strerror(errno));

		free(scanner);
		return ret;
	}
	scanner->base.ops = &pagemap_scanner_ops;
	scanner->pid = pid;
	*ret_scanner = &scanner->base;
	return 0;
}

/* A live process's memory: the target's (with /proc/PID/mem open) or a husk's. */
struct live_memory {
	struct process_memory base;
	pid_t pid;
	int mem_fd; /* -1 for a husk */
};

static int read_with_proc_mem(struct live_memory *memory, const struct ckpt_page_run *run,
			      unsigned char *into, struct ckpt_error *err)
{
	size_t length = run->pages * CKPT_PAGE_SIZE;
	ssize_t got = pread(memory->mem_fd, into, length, (off_t)run->start);

	if (got != (ssize_t)length)
		return fail(err, got < 0 ? errno : EIO, "reading memory of process %d at %#llx: %s",
			    memory->pid, (unsigned long long)run->start,
			    got < 0 ? strerror(errno) : "short read");
	return 0;
}

static int read_runs_with_proc_mem(struct live_memory *memory, const struct ckpt_page_run *runs,
				   size_t count, unsigned char *into, struct ckpt_error *err)
{
	for (size_t i = 0; i < count; i++) {
		int ret = read_with_proc_mem(memory, &runs[i], into, err);

		if (ret < 0)
			return ret;
		into += runs[i].pages * CKPT_PAGE_SIZE;
	}
	return 0;
}

/* process_vm_readv over the runs, falling back to /proc/PID/mem. */
static int read_target(struct process_memory *base, const struct ckpt_page_run *runs, size_t count,
		       bool readable, void *into, struct ckpt_error *err)
{
	struct live_memory *memory = (struct live_memory *)base;
	struct iovec local = { into, 0 };
	struct iovec remote[CKPT_MAX_PAGE_RUNS];
	ssize_t got;

	if (!readable || count > CKPT_MAX_PAGE_RUNS)
		return read_runs_with_proc_mem(memory, runs, count, into, err);
	for (size_t i = 0; i < count; i++) {
		remote[i] = (struct iovec){ (void *)(uintptr_t)runs[i].start,
					    runs[i].pages * CKPT_PAGE_SIZE };
		local.iov_len += remote[i].iov_len;
	}
	got = process_vm_readv(memory->pid, &local, 1, remote, count, 0);
	if (got == (ssize_t)local.iov_len)
		return 0;
	return read_runs_with_proc_mem(memory, runs, count, into, err);
}

static int write_husk(struct process_memory *base, const struct page_chunk *chunk,
		      struct ckpt_error *err)
{
	struct live_memory *memory = (struct live_memory *)base;
	struct iovec local = { readonly_buffer(chunk->data), chunk->page_count * CKPT_PAGE_SIZE };
	struct iovec remote[CKPT_MAX_PAGE_RUNS];
	ssize_t written;

	if (chunk->run_count > CKPT_MAX_PAGE_RUNS)
		return fail(err, EINVAL, "internal: %llu runs in one chunk",
			    (unsigned long long)chunk->run_count);
	for (uint64_t i = 0; i < chunk->run_count; i++)
		remote[i] = (struct iovec){ (void *)(uintptr_t)chunk->runs[i].start,
					    chunk->runs[i].pages * CKPT_PAGE_SIZE };
	written = process_vm_writev(memory->pid, &local, 1, remote, chunk->run_count, 0);
	if (written != (ssize_t)local.iov_len)
		return fail(err, written < 0 ? errno : EIO,
			    "writing pages at %#llx into the new process: %s",
			    (unsigned long long)chunk->runs[0].start,
			    written < 0 ? strerror(errno) : "short write");
	return 0;
}

static int read_nothing(struct process_memory *base, const struct ckpt_page_run *runs, size_t count,
			bool readable, void *into, struct ckpt_error *err)
{
	(void)base;
	(void)runs;
	(void)count;
	(void)readable;
	(void)into;
	return fail(err, EINVAL, "internal: reading pages back from a new process");
}

static int write_nothing(struct process_memory *base, const struct page_chunk *chunk,
			 struct ckpt_error *err)
{
	(void)base;
	(void)chunk;
	return fail(err, EINVAL, "internal: writing pages into the checkpoint's target");
}

static void close_live_memory(struct process_memory *base)
{
	struct live_memory *memory = (struct live_memory *)base;

	if (memory->mem_fd >= 0)
		close(memory->mem_fd);
	free(memory);
}

static const struct process_memory_ops target_memory_ops = {
	.read = read_target,
	.write = write_nothing,
	.close = close_live_memory,
};

static const struct process_memory_ops husk_memory_ops = {
	.read = read_nothing,
	.write = write_husk,
	.close = close_live_memory,
};

int open_target_memory(pid_t pid, struct ckpt_error *err, struct process_memory **ret_memory)
{
	struct live_memory *memory = calloc(1, sizeof(*memory));
	char path[64];

	if (!memory)
		return fail(err, ENOMEM, "out of memory");
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	memory->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (memory->mem_fd < 0) {
		int ret = fail(err, errno, "opening %s: %s", path, strerror(errno));

		free(memory);
		return ret;
	}
	memory->base.ops = &target_memory_ops;
	memory->pid = pid;
	*ret_memory = &memory->base;
	return 0;
}

int open_husk_memory(pid_t pid, struct ckpt_error *err, struct process_memory **ret_memory)
{
	struct live_memory *memory = calloc(1, sizeof(*memory));

	if (!memory)
		return fail(err, ENOMEM, "out of memory");
	memory->base.ops = &husk_memory_ops;
	memory->pid = pid;
	memory->mem_fd = -1;
	*ret_memory = &memory->base;
	return 0;
}
