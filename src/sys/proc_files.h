/* SPDX-License-Identifier: MIT */
/* Reading and parsing /proc. */
#ifndef CKPT_SYS_PROC_FILES_H
#define CKPT_SYS_PROC_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Reads a whole (proc) file; *ret_text is NUL-terminated, caller frees. */
int read_whole_file(const char *path, char **ret_text, size_t *ret_length, struct ckpt_error *err);

enum proc_vma_flag {
	PROC_VMA_SHARED = 1u << 0,
	PROC_VMA_GROWSDOWN = 1u << 1,
	PROC_VMA_HUGEPAGE = 1u << 2,
	PROC_VMA_NOHUGEPAGE = 1u << 3,
	PROC_VMA_DONTFORK = 1u << 4,
	PROC_VMA_DONTDUMP = 1u << 5,
	PROC_VMA_WIPEONFORK = 1u << 6,
	PROC_VMA_MAYWRITE = 1u << 7,
	PROC_VMA_LOCKED = 1u << 8,
	PROC_VMA_IO = 1u << 9, /* io / pfnmap: device memory */
	PROC_VMA_NORESERVE = 1u << 10,
	PROC_VMA_MERGEABLE = 1u << 11,	 /* mg: MADV_MERGEABLE (KSM) */
	PROC_VMA_LOCKONFAULT = 1u << 12, /* lf: locked as pages fault in */
	PROC_VMA_DROPPABLE = 1u << 13,	 /* dp: MAP_DROPPABLE */
};

struct proc_vma {
	uint64_t start;
	uint64_t end;
	uint64_t offset;
	uint32_t prot;
	uint32_t flags; /* enum proc_vma_flag */
	uint64_t inode;
	unsigned int dev_major;
	unsigned int dev_minor;
	char *name; /* path or [heap], [stack], [vdso], ...; "" for anonymous */
};

struct proc_vma_list {
	struct proc_vma *vmas;
	size_t count;
};

/* /proc/PID/smaps, or /proc/PID/maps when with_vm_flags is false. */
int proc_read_vmas(pid_t pid, bool with_vm_flags, struct proc_vma_list *ret_list,
		   struct ckpt_error *err);
/* The same from the text of such a file (changed in place: lines are cut). */
int proc_parse_vmas(char *text, struct proc_vma_list *ret_list, struct ckpt_error *err);
void proc_vma_list_free(struct proc_vma_list *list);
/* The VmFlags (enum proc_vma_flag) of the VMA holding address, from /proc/PID/smaps. */
int proc_vma_flags_at(pid_t pid, uint64_t address, uint32_t *ret_flags, struct ckpt_error *err);

/* Field number `field` (1-based as in proc(5)) of /proc/PID/stat. */
int proc_stat_fields(pid_t pid, uint64_t *values, int first_field, int count, struct ckpt_error *err);

/* "Name:\tvalue..." line of /proc/PID/status; *ret_value points into text. */
const char *status_field(const char *status_text, const char *name);

int list_thread_ids(pid_t pid, pid_t **ret_tids, size_t *ret_count, struct ckpt_error *err);

/*
 * The entry of `directory` (/proc or /proc/PID/task) whose PID in the PID
 * namespace of namespace_member is `inner`, or 0; other namespaces may hold
 * the same inner PID.
 */
pid_t proc_find_by_inner_pid(pid_t namespace_member, const char *directory, pid_t inner);

#endif
