/* SPDX-License-Identifier: MIT */
/* ckpt check: which kernel features ckpt needs are present. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli/cli.h"
#include "fault.h"
#include "sys/kernel.h"
#include "util.h"

static bool has_pagemap_scan(void)
{
	struct page_region_v1 region;
	struct pm_scan_arg_v1 arg = {
		.size = sizeof(arg),
		.start = (uint64_t)(uintptr_t)&region & ~4095ull,
		.end = ((uint64_t)(uintptr_t)&region & ~4095ull) + 4096,
		.vec = (uint64_t)(uintptr_t)&region,
		.vec_len = 1,
		.category_anyof_mask = CKPT_PAGE_IS_PRESENT,
		.return_mask = CKPT_PAGE_IS_PRESENT,
	};
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	bool works;

	if (fd < 0)
		return false;
	works = ioctl(fd, CKPT_PAGEMAP_SCAN, &arg) >= 0;
	close(fd);
	return works;
}

static bool has_syscall(long number)
{
	return syscall(number, -1, -1, -1, -1, -1) >= 0 || errno != ENOSYS;
}

static bool has_capability(int capability)
{
	return prctl(PR_CAPBSET_READ, capability, 0, 0, 0) == 1;
}

static bool path_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static bool has_set_tid(void)
{
	return path_exists("/proc/sys/kernel/ns_last_pid") && has_syscall(SYS_clone3);
}

int command_check(int argc, char **argv)
{
	const struct {
		const char *what;
		bool present;
		bool required;
	} checks[] = {
		{ "ptrace (PTRACE_SEIZE, syscall injection)", has_syscall(SYS_ptrace), true },
		{ "process_vm_readv / process_vm_writev", has_syscall(SYS_process_vm_readv), true },
		{ "PAGEMAP_SCAN ioctl on /proc/PID/pagemap", has_pagemap_scan(), true },
		{ "clone3 with set_tid (restart with the same PID)", has_set_tid(), true },
		{ "kcmp (shared files)", has_syscall(SYS_kcmp), true },
		{ "pidfd_open / pidfd_getfd", has_syscall(SYS_pidfd_getfd), false },
		{ "rseq", has_syscall(SYS_rseq), false },
		{ "/proc/PID/map_files", path_exists("/proc/self/map_files"), true },
		{ "CAP_CHECKPOINT_RESTORE (PIDs, exe link)", has_capability(CAP_CHECKPOINT_RESTORE),
		  true },
		{ "CAP_SYS_PTRACE (other users' processes)", has_capability(19), false },
	};
	struct utsname names;
	int missing = 0;

	if (wants_help(argc, argv)) {
		puts("usage: ckpt check\n\nLists the kernel features ckpt uses and whether this machine has them.\nExit 0 when every required one is present.");
		return EXIT_OK;
	}
	if (uname(&names) == 0)
		printf("kernel %s %s\n", names.release, names.machine);
	for (size_t i = 0; i < ARRAY_SIZE(checks); i++) {
		printf("%-8s %s%s\n", checks[i].present ? "ok" : "MISSING", checks[i].what,
		       checks[i].required ? "" : " (optional)");
		if (!checks[i].present && checks[i].required)
			missing++;
	}
	if (missing)
		printf("%d required feature%s missing\n", missing, missing == 1 ? "" : "s");
	return missing ? EXIT_FAILED : EXIT_OK;
}

int command_fault_points(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	for (size_t i = 0; fault_point_names[i]; i++)
		puts(fault_point_names[i]);
	return EXIT_OK;
}
