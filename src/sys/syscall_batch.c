/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "sys/syscall_batch.h"

enum {
	LONGEST_CALL = 5 + 4 * 10 + 2 + 10
};

static void emit_bytes(struct syscall_batch *batch, const void *bytes, size_t length)
{
	memcpy(batch->code + batch->length, bytes, length);
	batch->length += length;
}

static void emit_with_imm64(struct syscall_batch *batch, unsigned char rex, unsigned char opcode,
			    uint64_t value)
{
	const unsigned char prefix[2] = { rex, opcode };

	emit_bytes(batch, prefix, sizeof(prefix));
	emit_bytes(batch, &value, sizeof(value));
}

/* mov eax, imm32 */
static void emit_number(struct syscall_batch *batch, long number)
{
	const unsigned char opcode = 0xb8;
	uint32_t value = (uint32_t)number;

	emit_bytes(batch, &opcode, 1);
	emit_bytes(batch, &value, sizeof(value));
}

/* movabs rdi/rsi/rdx/r10, imm64: the syscall argument registers in order. */
static void emit_arguments(struct syscall_batch *batch, const uint64_t args[4])
{
	static const unsigned char rex[4] = { 0x48, 0x48, 0x48, 0x49 };
	static const unsigned char opcode[4] = { 0xbf, 0xbe, 0xba, 0xba };

	for (int i = 0; i < 4; i++)
		emit_with_imm64(batch, rex[i], opcode[i], args[i]);
}

void syscall_batch_add(struct syscall_batch *batch, long number, const uint64_t args[4],
		       uint64_t result_address)
{
	static const unsigned char syscall_instruction[2] = { 0x0f, 0x05 };

	static const unsigned char clear_r8_r9[6] = { 0x45, 0x31, 0xc0, 0x45, 0x31, 0xc9 };

	if (batch->length + sizeof(clear_r8_r9) + LONGEST_CALL + 1 > sizeof(batch->code)) {
		batch->overflowed = 1;
		return;
	}
	if (batch->length == 0) /* arguments 5 and 6 stay 0 (syscalls keep r8, r9) */
		emit_bytes(batch, clear_r8_r9, sizeof(clear_r8_r9));
	emit_number(batch, number);
	emit_arguments(batch, args);
	emit_bytes(batch, syscall_instruction, sizeof(syscall_instruction));
	emit_with_imm64(batch, 0x48, 0xa3, result_address); /* movabs [imm64], rax */
	batch->call_count++;
}

size_t syscall_batch_finish(struct syscall_batch *batch)
{
	const unsigned char int3 = 0xcc;

	if (batch->overflowed || batch->length + 1 > sizeof(batch->code))
		return 0;
	emit_bytes(batch, &int3, 1);
	return batch->length;
}
