/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "sys/proc_files.h"
#include "sys/remote_task.h"
#include "util.h"

void remote_task_init(struct remote_task *task, pid_t pid, pid_t tid, struct ckpt_error *err)
{
	memset(task, 0, sizeof(*task));
	task->pid = pid;
	task->tid = tid;
	task->err = err;
	task->injector.tid = tid;
	task->injector.err = err;
}

int remote_task_ready(struct remote_task *task, uint64_t gadget)
{
	return injector_init(&task->injector, task->tid, gadget, task->err);
}

int64_t remote_call(struct remote_task *task, const char *what, long number, uint64_t a0,
		    uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
	return inject(&task->injector, what, number, a0, a1, a2, a3, a4, a5);
}

int remote_final_call(struct remote_task *task, long number, const uint64_t args[6])
{
	return inject_final_syscall(&task->injector, number, args);
}

int remote_run_batch(struct remote_task *task, uint64_t code_address, uint64_t trap_address)
{
	return inject_batch(&task->injector, code_address, trap_address);
}

int remote_read(const struct remote_task *task, uint64_t address, void *buffer, size_t length)
{
	struct iovec local = { buffer, length };
	struct iovec remote = { (void *)(uintptr_t)address, length };

	if (process_vm_readv(task->pid, &local, 1, &remote, 1, 0) != (ssize_t)length)
		return fail(task->err, errno ? errno : EIO,
			    "reading memory of process %d at %#llx: %s", task->pid,
			    (unsigned long long)address, strerror(errno));
	return 0;
}

static bool write_bytes(const struct remote_task *task, uint64_t address, const void *data,
			size_t length)
{
	struct iovec local = { readonly_buffer(data), length };
	struct iovec remote = { (void *)(uintptr_t)address, length };

	return !length || process_vm_writev(task->pid, &local, 1, &remote, 1, 0) == (ssize_t)length;
}

int remote_write(const struct remote_task *task, uint64_t address, const void *data, size_t length)
{
	if (!write_bytes(task, address, data, length))
		return fail(task->err, errno ? errno : EIO, "writing into process %d at %#llx: %s",
			    task->pid, (unsigned long long)address, strerror(errno));
	return 0;
}

int remote_poke_code(const struct remote_task *task, uint64_t address, const void *code, size_t length)
{
	return poke_code(task->tid, address, code, length, task->err);
}

int remote_put_data(const struct remote_task *task, uint64_t offset, const void *data,
		    size_t length, uint64_t *ret_address)
{
	if (offset + length > task->area.data_size)
		return fail(task->err, E2BIG, "internal: control data too large");
	if (!write_bytes(task, task->area.data + offset, data, length))
		return fail(task->err, errno, "writing into the new process: %s", strerror(errno));
	*ret_address = task->area.data + offset;
	return 0;
}

int remote_get_data(const struct remote_task *task, uint64_t offset, void *buffer, size_t length)
{
	if (offset + length > task->area.data_size)
		return fail(task->err, E2BIG, "internal: reading past the data area");
	return remote_read(task, task->area.data + offset, buffer, length);
}

enum {
	VDSO_MAX_SIZE = 8192
};

static int find_syscall_instruction(const struct remote_task *task, const struct proc_vma *vdso,
				    uint64_t *ret_gadget)
{
	unsigned char code[VDSO_MAX_SIZE];
	size_t length = vdso->end - vdso->start;
	int ret = remote_read(task, vdso->start, code, length);

	for (size_t at = 0; ret == 0 && at + 1 < length; at++) {
		if (code[at] == 0x0f && code[at + 1] == 0x05) {
			*ret_gadget = vdso->start + at;
			return 0;
		}
	}
	return ret;
}

int remote_find_vdso_gadget(const struct remote_task *task, uint64_t *ret_gadget)
{
	struct proc_vma_list list;
	uint64_t gadget = 0;
	int ret = proc_read_vmas(task->pid, false, &list, task->err);

	for (size_t i = 0; ret == 0 && i < list.count && !gadget; i++) {
		const struct proc_vma *vma = &list.vmas[i];

		if (strcmp(vma->name, "[vdso]") != 0 || vma->end - vma->start > VDSO_MAX_SIZE)
			continue;
		ret = find_syscall_instruction(task, vma, &gadget);
	}
	proc_vma_list_free(&list);
	if (ret == 0 && !gadget)
		return fail(task->err, ENOTSUP, "process %d has no vDSO to run syscalls in",
			    task->pid);
	if (ret == 0)
		*ret_gadget = gadget;
	return ret;
}

static int64_t map_part_at(struct remote_task *task, uint64_t address, uint64_t size)
{
	int64_t result = remote_call(task, "mmap", SYS_mmap, address, size, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
				     (uint64_t)-1, 0);

	if (result >= 0 && (uint64_t)result != address)
		return fail(task->err, EEXIST, "control area at %#llx is taken",
			    (unsigned long long)address);
	return result;
}

static int map_area_at(struct remote_task *task, uint64_t address, const void *code,
		       size_t code_length)
{
	struct remote_area *area = &task->area;
	int64_t result = map_part_at(task, address, area->code_size);

	if (result >= 0)
		result = map_part_at(task, address + area->code_size, area->data_size);
	if (result < 0)
		return (int)result;
	area->code = address;
	area->data = address + area->code_size;
	if (!write_bytes(task, address, code, code_length))
		return fail(task->err, errno, "writing the control page: %s", strerror(errno));
	result = remote_call(task, "mprotect", SYS_mprotect, address, area->code_size,
			     PROT_READ | PROT_EXEC, 0, 0, 0);
	return result < 0 ? (int)result : 0;
}

static int map_area_anywhere(struct remote_task *task)
{
	struct remote_area *area = &task->area;
	int64_t address = remote_call(task, "mmap", SYS_mmap, 0, area->code_size + area->data_size,
				      PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, 0, 0);

	if (address < 0)
		return (int)address;
	area->code = (uint64_t)address;
	area->data = (uint64_t)address + area->code_size;
	return 0;
}

int remote_map_area(struct remote_task *task, uint64_t address, uint64_t code_size,
		    uint64_t data_size, const void *code, size_t code_length)
{
	task->area = (struct remote_area){ .code_size = code_size, .data_size = data_size };
	if (!address)
		return map_area_anywhere(task);
	return map_area_at(task, address, code, code_length);
}

int remote_unmap_area(struct remote_task *task)
{
	struct remote_area *area = &task->area;
	int64_t ret;

	if (!area->code)
		return 0;
	ret = remote_call(task, "munmap", SYS_munmap, area->code, area->code_size + area->data_size,
			  0, 0, 0, 0);
	area->code = 0;
	area->data = 0;
	return ret < 0 ? (int)ret : 0;
}
