/* SPDX-License-Identifier: MIT */
/*
 * The restore side of the objects: the restart's context and what object
 * files declare to each other and to the restart pipeline.
 */
#ifndef CKPT_OBJECTS_RESTORE_H
#define CKPT_OBJECTS_RESTORE_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ckpt.h"
#include "error.h"
#include "image/image.h"
#include "sys/remote_task.h"
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
	struct image_record next; /* the record after what was read last */

	int *staged_fds;      /* per FILE id - 1, in ckpt and then in the husks */
	int stage_base;	      /* staged fds are at or above this */
	int report_fd;	      /* husks -> ckpt: setup results */
	pid_t root;	      /* the husk of tree entry 0, as ckpt sees it */
	pid_t namespace_init; /* with --pidns: ckpt's child, PID 1 inside */
	int go_fd;	      /* with --pidns: a byte here lets the init go */
	pid_t *outer_pids;    /* per tree entry: the PID as ckpt sees it */
	pid_t *thread_tids;   /* per thread of the process being rebuilt, as ckpt sees it */
	bool *seized;	      /* per tree entry */
	pid_t *handover_tids; /* every rebuilt thread, detached at the end */
	size_t handover_count;
	struct shmem_owner *shmem_owners; /* per file id - 1 */
	bool *epolls_filled;		  /* per file id - 1: its registrations are made */
	struct pipe_maker *pipe_makers;	  /* pipe.c: per file id - 1, a pipe being staged */
	int *wired_fds;			  /* per options->inherit_fds entry, staged (files.c) */

	/* the process being rebuilt */
	struct image_process image;
	pid_t husk;
	union {
		struct remote_task task;  /* the main thread: the control area is its area */
		struct injector injector; /* task.injector, under the name older code uses */
	};
	struct remote_task *thread_tasks; /* per image thread; [0] unused */
	uint64_t control;		  /* where the control area goes in the husk */
	uint64_t vdso_parking;		  /* free area where vDSO mappings wait */
	uint64_t vdso_parking_size;
	cpu_set_t saved_affinity;
	bool affinity_changed;
	bool *merge_guarded; /* per VMA: VM_DONTDUMP while filling */
	uint64_t pages_restored;
	uint64_t pages_before; /* pages of the processes rebuilt before */
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
static inline int64_t husk_call(struct restore_context *ctx, const char *what, long number,
				uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
				uint64_t a5)
{
	return remote_call(&ctx->task, what, number, a0, a1, a2, a3, a4, a5);
}

/* Copies bytes into the husk's control data area; returns their address. */
static inline int husk_put_data(struct restore_context *ctx, uint64_t offset, const void *data,
				size_t length, uint64_t *ret_address)
{
	return remote_put_data(&ctx->task, offset, data, length, ret_address);
}

/* Runs a syscall in image thread `index` (0: the main thread). */
static inline int64_t thread_call(struct restore_context *ctx, size_t index, const char *what,
				  long number, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	struct remote_task *task = index == 0 ? &ctx->task : &ctx->thread_tasks[index];

	return remote_call(task, what, number, a0, a1, a2, a3, 0, 0);
}

/* Runs a syscall in every thread of the husk (credentials are per thread). */
static inline int64_t all_threads_call(struct restore_context *ctx, const char *what, long number,
				       uint64_t a0, uint64_t a1, uint64_t a2)
{
	for (size_t i = 0; i < ctx->image.thread_count; i++) {
		int64_t ret = thread_call(ctx, i, what, number, a0, a1, a2, 0);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/* objects/memfd.c */
bool is_write_sealed_memfd(const struct restore_context *ctx, const struct ckpt_vma *vma);

/* objects/file_kinds.c: a hook of every FILE kind */
int check_files_restorable(struct restore_context *ctx);
void unstage_file_kinds(struct restore_context *ctx);
int connect_fds(struct restore_context *ctx);
/* Run by a new husk itself before it creates its children: 0 or -errno, nothing logged. */
int start_husk_files(const struct restore_context *ctx, pid_t pid);
int seal_files(struct restore_context *ctx);
/* objects/files.c */
int stage_files(struct restore_context *ctx);
void close_staged_files(struct restore_context *ctx);
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
uint32_t image_securebits_union(const struct image_process *image);
/* objects/seccomp.c */
int restore_seccomp(struct restore_context *ctx);
/* objects/sched.c */
int restore_loginuid(struct restore_context *ctx);
int restore_sched(struct restore_context *ctx);
/* objects/signals.c */
int restore_sigactions(struct restore_context *ctx);
int drop_stray_sigchld(struct restore_context *ctx);
/* objects/signals.c */
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
int unregister_husk_rseq(struct restore_context *ctx);

/* objects/locks.c: after the fds are in place and the staged ones closed */
int restore_locks(struct restore_context *ctx);
/* objects/posix_timers.c: after the threads exist */
int restore_posix_timers(struct restore_context *ctx);

#endif
