/* SPDX-License-Identifier: MIT */
/* Kernel interfaces newer than the installed (6.1) uapi headers. */
#ifndef CKPT_SYS_KERNEL_H
#define CKPT_SYS_KERNEL_H

#include <stdint.h>
#include <sys/ioctl.h>

struct pm_scan_arg_v1 {
	uint64_t size;
	uint64_t flags;
	uint64_t start;
	uint64_t end;
	uint64_t walk_end;
	uint64_t vec;
	uint64_t vec_len;
	uint64_t max_pages;
	uint64_t category_inverted;
	uint64_t category_mask;
	uint64_t category_anyof_mask;
	uint64_t return_mask;
};

struct page_region_v1 {
	uint64_t start;
	uint64_t end;
	uint64_t categories;
};

#define CKPT_PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg_v1)
#define CKPT_PAGE_IS_WPALLOWED (1ull << 0)
#define CKPT_PAGE_IS_WRITTEN (1ull << 1)
#define CKPT_PAGE_IS_FILE (1ull << 2)
#define CKPT_PAGE_IS_PRESENT (1ull << 3)
#define CKPT_PAGE_IS_SWAPPED (1ull << 4)
#define CKPT_PAGE_IS_PFNZERO (1ull << 5)
#define CKPT_PAGE_IS_HUGE (1ull << 6)

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif

struct rseq_configuration_v1 {
	uint64_t rseq_abi_pointer;
	uint32_t rseq_abi_size;
	uint32_t signature;
	uint32_t flags;
	uint32_t pad;
};

/* PTRACE_PEEKSIGINFO's argument (glibc does not export it). */
struct peeksiginfo_args_v1 {
	uint64_t off;
	uint32_t flags;
	int32_t nr;
};
#define CKPT_PEEKSIGINFO_SHARED 1u

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40
#endif

/* Syscall return values that ask for the syscall to run again. */
enum kernel_restart_code {
	KERNEL_ERESTARTSYS = 512,
	KERNEL_ERESTARTNOINTR = 513,
	KERNEL_ERESTARTNOHAND = 514,
	KERNEL_ERESTART_RESTARTBLOCK = 516,
};

#endif
