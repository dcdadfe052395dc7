/* SPDX-License-Identifier: MIT */
/*
 * A remote task: a stopped task ckpt runs syscalls in (a frozen thread of
 * the checkpoint's target, a husk or one of its threads at restart).  It
 * reads and writes the task's memory, runs one syscall or a batch, and
 * maps an area of its own there: code pages, then data pages for the
 * calls' arguments and results.  The raw mechanism (ptrace, the injector)
 * is sys/tracing.h.
 */
#ifndef CKPT_SYS_REMOTE_TASK_H
#define CKPT_SYS_REMOTE_TASK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "sys/tracing.h"

/* ckpt's area in a remote task: code pages, then data pages. */
struct remote_area {
	uint64_t code; /* the first code page, 0 when none is mapped */
	uint64_t code_size;
	uint64_t data; /* right after the code */
	uint64_t data_size;
};

/*
 * The injector comes first, so a context may overlay it (see objects/restore.h).
 * Syscalls run through injector.gadget; injector.call_count counts them.
 */
struct remote_task {
	struct injector injector;
	pid_t pid; /* its process, whose memory is read and written */
	pid_t tid; /* the thread the syscalls run in */
	struct remote_area area;
	struct ckpt_error *err;
};

/* Names the task; no syscall can run in it before remote_task_ready(). */
void remote_task_init(struct remote_task *task, pid_t pid, pid_t tid, struct ckpt_error *err);
/* Takes its registers as the template of every call, which runs at `gadget`. */
int remote_task_ready(struct remote_task *task, uint64_t gadget);
static inline void remote_set_gadget(struct remote_task *task, uint64_t gadget)
{
	task->injector.gadget = gadget;
}

/* Runs one syscall; returns its result, or -errno with a message naming `what`. */
int64_t remote_call(struct remote_task *task, const char *what, long number, uint64_t a0,
		    uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5);
/* Runs one last syscall and leaves the task at its syscall-exit stop. */
int remote_final_call(struct remote_task *task, long number, const uint64_t args[6]);
/*
 * Runs a batch of syscalls (sys/syscall_batch.h) written at code_address,
 * until the task stops at trap_address, after the batch's int3.
 */
int remote_run_batch(struct remote_task *task, uint64_t code_address, uint64_t trap_address);

/* Bytes at any address of the task's process (process_vm_readv / writev). */
int remote_read(const struct remote_task *task, uint64_t address, void *buffer, size_t length);
int remote_write(const struct remote_task *task, uint64_t address, const void *data, size_t length);
/* Writes code with PTRACE_POKETEXT: works on a page that is not writable. */
int remote_poke_code(const struct remote_task *task, uint64_t address, const void *code,
		     size_t length);
/* Bytes at `offset` of the area's data pages; put returns their address. */
int remote_put_data(const struct remote_task *task, uint64_t offset, const void *data,
		    size_t length, uint64_t *ret_address);
int remote_get_data(const struct remote_task *task, uint64_t offset, void *buffer, size_t length);

/* A syscall instruction in the task's vDSO. */
int remote_find_vdso_gadget(const struct remote_task *task, uint64_t *ret_gadget);

/*
 * Maps the area: code_size bytes of code, then data_size bytes of data.
 * At address 0 (a target that goes on afterwards) it is one read+exec
 * mapping anywhere, never writable and executable: code goes in with
 * remote_poke_code(), and the caller's code makes the data writable.  At
 * an address (a husk, whose layout ckpt decides) the two parts are mapped
 * there apart (MAP_FIXED_NOREPLACE), `code` is written into the first,
 * which then becomes read+exec, and the data stays read+write.
 */
int remote_map_area(struct remote_task *task, uint64_t address, uint64_t code_size,
		    uint64_t data_size, const void *code, size_t code_length);
/* Unmaps the area (nothing when none is mapped). */
int remote_unmap_area(struct remote_task *task);

#endif
