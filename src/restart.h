/* SPDX-License-Identifier: MIT */
/* The restart pipeline's shared state, used by the object restorers. */
#ifndef CKPT_RESTART_H
#define CKPT_RESTART_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ckpt.h"
#include "error.h"
#include "image/image.h"
#include "sys/tracing.h"

/* The first mapping of a shared memory object, which later ones open. */
struct shmem_owner {
	pid_t pid;
	uint64_t start;
	uint64_t end;
};

/* The husk's control area: one code page, then data pages for arguments. */
#define CONTROL_CODE_SIZE 4096ull
#define CONTROL_DATA_SIZE (64ull << 10)
#define CONTROL_SIZE (CONTROL_CODE_SIZE + CONTROL_DATA_SIZE)

/*
 * One restart: the whole tree is created first (husks with the original
 * PIDs, parents first), then each process is rebuilt in stream order; the
 * per-process fields below describe the one being rebuilt.
 */
struct restore_context {
	struct ckpt_options *options;
	struct ckpt_error *err;
	struct image_reader reader;
	struct image_tree tree;
	struct image_record next;	/* the record after what was read last */

	int *staged_fds;		/* per FILE id - 1, in ckpt and then in the husks */
	int stage_base;			/* staged fds are at or above this */
	int report_fd;			/* husks -> ckpt: setup results */
	pid_t root;			/* the husk of tree entry 0, as ckpt sees it */
	pid_t namespace_init;		/* with --pidns: ckpt's child, PID 1 inside */
	int release_fd;			/* with --pidns: a byte here lets the init go */
	pid_t *outer_pids;		/* per tree entry: the PID as ckpt sees it */
	pid_t *thread_tids;		/* per thread of the process being rebuilt, as ckpt sees it */
	bool *seized;			/* per tree entry */
	pid_t *release_tids;		/* every rebuilt thread, detached at the end */
	size_t release_count;
	struct shmem_owner *shmem_owners;	/* per file id - 1 */
	bool *epolls_filled;		/* per file id - 1: its registrations are made */

	/* the process being rebuilt */
	struct image image;
	pid_t husk;
	struct injector injector;	/* the main thread's */
	struct injector *thread_injectors;	/* per image thread; [0] unused */
	uint64_t control;		/* control area in the husk */
	uint64_t vdso_parking;		/* free area where vDSO mappings wait */
	uint64_t vdso_parking_size;
	cpu_set_t saved_affinity;
	bool affinity_changed;
	bool *merge_guarded;		/* per VMA: VM_DONTDUMP while filling */
	uint64_t pages_restored;
	uint64_t pages_before;		/* pages of the processes rebuilt before */
	uint64_t vma_total;
	uint64_t injected_syscalls;
	uint64_t memory_ns;
};

/* Whether the process being rebuilt shares an earlier process's memory map or fd table. */
static inline bool restores_shared_mm(const struct restore_context *ctx)
{
	return shares_with_other(ctx->image.entry.mm_owner, ctx->image.entry.pid);
}

static inline bool restores_shared_files(const struct restore_context *ctx)
{
	return shares_with_other(ctx->image.entry.files_owner, ctx->image.entry.pid);
}

/* Runs a syscall in the husk; returns its result or -errno (with a message). */
int64_t husk_call(struct restore_context *ctx, const char *what, long number, uint64_t a0,
		  uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5);
/* Copies bytes into the husk's control data area; returns their address. */
int husk_put_data(struct restore_context *ctx, uint64_t offset, const void *data, size_t length,
		  uint64_t *ret_address);

/* objects/memfd.c */
int create_memfd(struct restore_context *ctx, const struct image_file *file);
int seal_memfds(struct restore_context *ctx);
bool is_write_sealed_memfd(const struct restore_context *ctx, const struct ckpt_vma *vma);

/* objects/epoll.c */
int check_inherited_epoll_targets(struct restore_context *ctx);
/* objects/files.c */
int stage_files(struct restore_context *ctx);
void release_staged_files(struct restore_context *ctx);
int restore_fds(struct restore_context *ctx);
/* objects/process.c */
int check_tree_restartable(struct restore_context *ctx);
int check_restart_allowed(struct restore_context *ctx);
int restore_process_attributes(struct restore_context *ctx);
int restore_rlimits(struct restore_context *ctx);
int restore_creds(struct restore_context *ctx);
/* objects/prctl.c */
int restore_prctl(struct restore_context *ctx);
int restore_securebits(struct restore_context *ctx);
/* Every securebit some thread of the image has. */
uint32_t image_securebits_union(const struct image *image);
/* objects/signals.c */
int restore_sigactions(struct restore_context *ctx);
int drop_stray_sigchld(struct restore_context *ctx);
/* objects/tree.c */
int check_groups_restorable(struct restore_context *ctx);
int create_husk_tree(struct restore_context *ctx);
pid_t outer_tid(const struct restore_context *ctx, pid_t outer_pid, pid_t inner_tid);
void kill_husk_tree(struct restore_context *ctx);
void release_namespace_init(struct restore_context *ctx);
int restore_pending_signals(struct restore_context *ctx);
int restore_timers(struct restore_context *ctx);
/* objects/mm.c */
int choose_control_area(struct restore_context *ctx);
int use_shared_mm_gadget(struct restore_context *ctx);
int clear_husk_layout(struct restore_context *ctx);
int move_vdso(struct restore_context *ctx);
int map_vmas(struct restore_context *ctx);
int protect_vmas(struct restore_context *ctx);
int restore_mm_fields(struct restore_context *ctx);
/* objects/pages.c */
int fill_pages(struct restore_context *ctx);
/* objects/threads.c */
int restore_thread_state(struct restore_context *ctx);
int load_thread_registers(struct restore_context *ctx);
int create_threads(struct restore_context *ctx);
/* Runs a syscall in image thread `index` (0: the main thread). */
int64_t thread_call(struct restore_context *ctx, size_t index, const char *what, long number,
		    uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3);
int64_t all_threads_call(struct restore_context *ctx, const char *what, long number, uint64_t a0,
			 uint64_t a1, uint64_t a2);
int unregister_husk_rseq(struct restore_context *ctx);

/* objects/locks.c: after the fds are in place and the staged ones closed */
int restore_locks(struct restore_context *ctx);
/* objects/posix_timers.c: after the threads exist */
int restore_posix_timers(struct restore_context *ctx);

#endif
