/* SPDX-License-Identifier: MIT */
/*
 * The dump side of the objects: the checkpoint's contexts (one per process
 * of the tree, and what they share) and what object files declare to each
 * other and to the checkpoint pipeline.
 */
#ifndef CKPT_OBJECTS_DUMP_H
#define CKPT_OBJECTS_DUMP_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/user.h>

#include "ckpt.h"
#include "error.h"
#include "image/image.h"
#include "sys/proc_files.h"
#include "sys/freeze.h"
#include "sys/remote_task.h"
#include "sys/syscall_batch.h"
#include "sys/tracing.h"

/*
 * The scratch area mapped in the target while collecting: two code pages
 * (the thread batch, then the signal batch), then one data page.
 */
#define SCRATCH_CODE_PAGES 2
#define SCRATCH_DATA_PAGES 1
/* Calls in the batch each thread runs at checkpoint (threads.c). */
#define THREAD_BATCH_MAX_CALLS 12

/* One seccomp filter of a thread, as PTRACE_SECCOMP_GET_FILTER gave it. */
struct dump_seccomp {
	struct ckpt_seccomp record;
	uint64_t *program; /* record.instruction_count struct sock_filter */
};

struct dump_thread {
	pid_t tid;
	bool seized;
	struct user_regs_struct frozen_regs; /* as stopped */
	struct user_regs_struct resume_regs; /* set when the original goes on */
	struct remote_task task; /* its injector, and in the main thread the scratch area */
	bool injector_ready;
	struct ckpt_thread record;
	uint8_t *xstate;
	long restarted_syscall; /* what a restart_syscall in progress restarts, or -1 */
	struct dump_seccomp *seccomp_filters; /* oldest first */
};

/* An open file description, or the file behind a mapping: one FILE record. */
struct dump_file {
	struct ckpt_file record;
	char *path;
	bool reusable;
	pid_t first_pid; /* the process and fd it was first seen at (0: a mapping) */
	int first_fd;
	void *kind_state; /* its kind's, owned by its ops (objects/file_kinds.h) */
};

/* A range of a shared memory object whose pages one VMA carries. */
struct shmem_claim {
	uint32_t file_id;
	uint64_t start; /* file offsets */
	uint64_t end;
};

struct page_run_list {
	struct ckpt_page_run *runs;
	size_t count;
	size_t capacity;
};

struct dump_vma {
	struct ckpt_vma record;
	struct page_run_list runs;
};

/* Where each fd with a file record lives: shared descriptions across processes. */
struct fd_owner {
	pid_t pid;
	int fd;
	uint32_t file_id;
};

struct pipe_census;

/* What the processes of one checkpoint share: the stream and the file table. */
struct dump_shared {
	struct ckpt_options *options;
	struct ckpt_error *err;
	struct image_writer writer;
	struct ckpt_head head;
	struct dump_file *files;
	size_t file_count;
	struct fd_owner *fd_owners;
	size_t fd_owner_count;
	struct shmem_claim *shmem_claims; /* every shared memory VMA's file range */
	size_t shmem_claim_count;
	struct pipe_census *pipe_census; /* pipe.c's survey: which pipe ends the tree holds */
	uint64_t injected_syscalls;
	uint64_t frozen_at_ns;
	uint64_t let_go_at_ns;
};

struct dump_context {
	pid_t pid;
	struct ckpt_options *options;
	struct ckpt_error *err;
	struct dump_shared *shared;
	struct image_writer *writer;

	struct dump_thread *threads;
	size_t thread_count;
	uint64_t gadget;     /* a syscall instruction in the target */
	uint64_t batch_trap; /* where a thread stops after its batch */
	size_t batch_call_count;

	struct ckpt_process process;
	char *cwd;
	struct ckpt_creds creds;
	uint32_t *groups;
	struct ckpt_rlimits rlimits;
	struct ckpt_sigactions sigactions;
	struct ckpt_timers timers;
	struct ckpt_siginfo *pending;
	size_t pending_count;
	size_t pending_capacity;
	struct ckpt_fd *fds;
	size_t fd_count;
	struct ckpt_file_lock *locks; /* objects/locks.c */
	size_t lock_count;
	struct ckpt_posix_timer *posix_timers; /* objects/posix_timers.c */
	size_t posix_timer_count;
	struct ckpt_mm mm;
	uint64_t auxv[CKPT_MAX_AUXV_WORDS];
	struct dump_vma *vmas;
	size_t vma_count;
	bool shares_mm;	   /* with an earlier process of the tree (CLONE_VM) */
	bool shares_files; /* likewise, its fd table (CLONE_FILES) */
};

/* The processes of a checkpoint: the root and its descendants, in tree order. */
struct dump_tree {
	struct dump_shared shared;
	struct dump_context *processes; /* alive ones */
	size_t process_count;
	struct ckpt_tree_entry *entries; /* alive and zombies, parents first */
	size_t entry_count;
};

/* The scratch area in the main thread: its code pages (the batches), and its data page. */
static inline uint64_t scratch_code(const struct dump_context *ctx)
{
	return ctx->threads[0].task.area.code;
}

static inline uint64_t scratch_data(const struct dump_context *ctx)
{
	return ctx->threads[0].task.area.data;
}

/* Fails with EINTR when the caller's interrupt flag is set. */
static inline int dump_check_interrupt(struct dump_shared *shared)
{
	const volatile int *interrupt = shared->options->interrupt;
	int signal = interrupt ? *interrupt : 0;

	if (!signal)
		return 0;
	return fail(shared->err, EINTR, "interrupted by signal %d (%s)", signal, strsignal(signal));
}

/* objects/dump.c: makes the thread ready for injections (once), settling it. */
int dump_ready_injector(struct dump_context *ctx, struct dump_thread *thread);
/* Seizes every thread of ctx->pid, again and again until no new one shows up. */
int freeze_process(struct dump_context *ctx);

/* Runs one syscall in a thread of the frozen target. */
static inline int64_t dump_inject(struct dump_context *ctx, struct dump_thread *thread,
				  const char *what, long number, uint64_t a0, uint64_t a1,
				  uint64_t a2, uint64_t a3)
{
	int64_t result;
	int ret = dump_check_interrupt(ctx->shared);

	if (ret == 0)
		ret = dump_ready_injector(ctx, thread);
	if (ret < 0)
		return ret;
	result = remote_call(&thread->task, what, number, a0, a1, a2, a3, 0, 0);
	ctx->shared->injected_syscalls++;
	return result;
}

/* Reads bytes of the target's memory (process_vm_readv). */
static inline int dump_read_memory(struct dump_context *ctx, uint64_t address, void *buffer,
				   size_t length)
{
	return remote_read(&ctx->threads[0].task, address, buffer, length);
}

/*
 * Adds a FILE record; returns its id or -errno.  With `reuse`, a file
 * already added with reuse and the same device, inode and flags is returned
 * instead (files behind mappings are written once).
 */
struct stat;
int dump_add_file(struct dump_context *ctx, const char *path, const struct stat *st,
		  uint32_t open_flags, uint64_t offset, bool reuse);

/* objects/process.c */
int collect_process(struct dump_context *ctx);
int collect_creds(struct dump_context *ctx);
int collect_rlimits(struct dump_context *ctx);
int write_process(struct dump_context *ctx);
/* objects/signals.c */
int collect_sigactions(struct dump_context *ctx);
int write_sigactions(struct dump_context *ctx);
int collect_timers(struct dump_context *ctx);
int collect_pending_signals(struct dump_context *ctx);
int write_pending_signals(struct dump_context *ctx);
/* objects/threads.c */
int collect_thread(struct dump_context *ctx, struct dump_thread *thread);
/* The syscalls each thread runs at checkpoint, written into the scratch code page. */
int prepare_thread_batch(struct dump_context *ctx);
/* objects/prctl.c */
int collect_thread_status(struct dump_context *ctx);
/* Adds the prctl queries to a thread batch; returns how many. */
size_t add_prctl_calls(struct syscall_batch *batch, uint64_t scratch, uint64_t results);
int take_prctl_results(struct dump_context *ctx, struct dump_thread *thread, const int64_t *results);
/* objects/threads.c */
int write_threads(struct dump_context *ctx);
/* objects/seccomp.c */
int collect_thread_seccomp(struct dump_context *ctx, struct dump_thread *thread, const char *mode);
int write_seccomp_filters(struct dump_context *ctx);
void free_thread_seccomp(struct dump_thread *thread);
/* objects/sched.c */
int collect_sched(struct dump_context *ctx);
/* objects/files.c */
int collect_fds(struct dump_context *ctx);
int write_files(struct dump_shared *shared);
int write_fds(struct dump_context *ctx);
/* objects/memfd.c */
bool is_memfd_name(const char *name);
int dump_add_memfd(struct dump_context *ctx, const char *name, const char *open_path,
		   const struct stat *st);
/* objects/file_kinds.c: a hook of every FILE kind */
int survey_file_kinds(struct dump_tree *tree);
int collect_file_links(struct dump_context *ctx);
int check_collected_files(struct dump_shared *shared);
void free_dump_files(struct dump_shared *shared);
/* objects/tree.c */
int collect_tree(struct dump_tree *tree, pid_t root);
int write_tree(struct dump_tree *tree);
/* objects/sharing.c */
int collect_sharing(struct dump_tree *tree);
int check_not_in_vfork(pid_t pid, struct ckpt_error *err);
/* objects/mm.c */
int collect_mm(struct dump_context *ctx);
int collect_vmas(struct dump_context *ctx);
int write_mm(struct dump_context *ctx);
int write_vmas(struct dump_context *ctx);
/* objects/pages.c */
int scan_pages(struct dump_context *ctx);
int write_pages(struct dump_context *ctx);
/* objects/locks.c: after collect_fds */
int collect_locks(struct dump_context *ctx);
int write_locks(struct dump_context *ctx);
/* objects/posix_timers.c: while the scratch area is mapped */
int collect_posix_timers(struct dump_context *ctx);
int write_posix_timers(struct dump_context *ctx);

#endif
