/* SPDX-License-Identifier: MIT */
/*
 * A batch of syscalls as x86_64 machine code: each call loads its number
 * and four arguments, runs `syscall` and stores rax at its result address;
 * an int3 ends the batch.  inject_batch() runs it in a tracee with one
 * stop, where each syscall injected on its own costs two.
 */
#ifndef CKPT_SYS_SYSCALL_BATCH_H
#define CKPT_SYS_SYSCALL_BATCH_H

#include <stddef.h>
#include <stdint.h>

#define SYSCALL_BATCH_MAX_CODE 4096u /* one page: about 70 calls */

struct syscall_batch {
	unsigned char code[SYSCALL_BATCH_MAX_CODE];
	size_t length;
	size_t call_count;
	int overflowed;
};

void syscall_batch_add(struct syscall_batch *batch, long number, const uint64_t args[4],
		       uint64_t result_address);
/* Appends the int3; returns the offset after it (where the tracee stops), or 0 on overflow. */
size_t syscall_batch_finish(struct syscall_batch *batch);

#endif
