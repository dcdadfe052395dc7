/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of src/sys/syscall_batch.c: a batch is run right here (its
 * closing int3 turned into a ret, in an executable mapping, called as a
 * function: it only touches registers the C ABI lets a callee clobber) and
 * every result lands at its address: getpid, a write of 5 bytes to a pipe,
 * a failing close (-EBADF), a syscall with four arguments (pread64).  Also
 * the layout (r8 and r9 cleared once, int3 last), an empty batch, and a
 * batch that overflows its buffer: finish returns 0 and the batch is never
 * half run.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../tools/unit_check.h"
#include "sys/syscall_batch.h"

/* Runs the finished batch (length bytes, int3 last) in this process. */
static void run_here(const struct syscall_batch *batch, size_t length)
{
	unsigned char *code = mmap(NULL, SYSCALL_BATCH_MAX_CODE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void (*function)(void);

	if (code == MAP_FAILED)
		abort();
	memcpy(code, batch->code, length);
	code[length - 1] = 0xc3; /* ret instead of int3 */
	if (mprotect(code, SYSCALL_BATCH_MAX_CODE, PROT_READ | PROT_EXEC) != 0)
		abort();
	function = (void (*)(void))(uintptr_t)code;
	function();
	munmap(code, SYSCALL_BATCH_MAX_CODE);
}

static void test_run_batch(void)
{
	struct syscall_batch batch = { 0 };
	int64_t results[4] = { 1, 1, 1, 1 };
	int pipe_fds[2];
	char read_back[8] = "", file_byte = 0;
	const char message[] = "hello";
	size_t length;

	if (pipe(pipe_fds) != 0)
		abort();
	syscall_batch_add(&batch, SYS_getpid, (const uint64_t[4]){ 0 }, (uintptr_t)&results[0]);
	syscall_batch_add(&batch, SYS_write,
			  (const uint64_t[4]){ (uint64_t)pipe_fds[1], (uintptr_t)message, 5, 0 },
			  (uintptr_t)&results[1]);
	syscall_batch_add(&batch, SYS_close, (const uint64_t[4]){ 987654 }, (uintptr_t)&results[2]);
	syscall_batch_add(&batch, SYS_pread64,
			  (const uint64_t[4]){ (uint64_t)pipe_fds[0], (uintptr_t)&file_byte, 1, 7 },
			  (uintptr_t)&results[3]);
	length = syscall_batch_finish(&batch);
	check(length == batch.length && length > 0 && batch.code[length - 1] == 0xcc,
	      "finish returns the length, ending in int3");
	check(batch.call_count == 4, "four calls: %zu", batch.call_count);
	check(memcmp(batch.code, "\x45\x31\xc0\x45\x31\xc9", 6) == 0, "r8 and r9 cleared first");
	run_here(&batch, length);
	check(results[0] == getpid(), "getpid: %lld", (long long)results[0]);
	check(results[1] == 5, "write: %lld", (long long)results[1]);
	check(read(pipe_fds[0], read_back, sizeof(read_back)) == 5 &&
		      memcmp(read_back, "hello", 5) == 0,
	      "the written bytes arrived");
	check(results[2] == -EBADF, "close of a bad fd: %lld", (long long)results[2]);
	check(results[3] == -ESPIPE, "pread64 of a pipe (4 arguments): %lld", (long long)results[3]);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
}

static void test_empty_and_overflow(void)
{
	struct syscall_batch empty = { 0 }, full = { 0 };
	int64_t result = 0;
	size_t added = 0;

	check(syscall_batch_finish(&empty) == 1 && empty.code[0] == 0xcc,
	      "an empty batch is an int3");
	while (!full.overflowed && added < 1000) {
		syscall_batch_add(&full, SYS_getpid, (const uint64_t[4]){ 0 }, (uintptr_t)&result);
		added++;
	}
	check(full.overflowed && full.call_count == added - 1,
	      "overflow after %zu calls (%zu kept)", added - 1, full.call_count);
	check(full.length <= SYSCALL_BATCH_MAX_CODE, "the code stays in its buffer");
	check(syscall_batch_finish(&full) == 0, "an overflowed batch does not finish");
}

int main(void)
{
	test_run_batch();
	test_empty_and_overflow();
	return finish_checks("syscall_batch");
}
