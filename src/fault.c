/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "fault.h"

const char *const fault_point_names[] = {
	"checkpoint.freeze",
	"checkpoint.sharing",
	"checkpoint.scratch",
	"checkpoint.threads",
	"checkpoint.prctl",
	"checkpoint.process",
	"checkpoint.sigactions",
	"checkpoint.files",
	"checkpoint.events",
	"checkpoint.sockets",
	"checkpoint.mm",
	"checkpoint.vmas",
	"checkpoint.scan",
	"checkpoint.write",
	"checkpoint.pages",
	"checkpoint.sync",
	"checkpoint.commit",
	"restart.read",
	"restart.prepare",
	"restart.husk",
	"restart.sharing",
	"restart.seize",
	"restart.control",
	"restart.unmap",
	"restart.vdso",
	"restart.mmap",
	"restart.pages",
	"restart.protect",
	"restart.mm",
	"restart.events",
	"restart.sockets",
	"restart.fds",
	"restart.process",
	"restart.sigactions",
	"restart.locks",
	"restart.epoll",
	"restart.thread",
	"restart.seccomp",
	"restart.creds",
	"restart.prctl",
	"restart.sched",
	"restart.signals",
	"restart.timers",
	"restart.registers",
	"restart.handover",
	NULL,
};

int fault_point(struct ckpt_error *err, const char *point)
{
	const char *wanted = getenv("CKPT_FAULT");

	if (!wanted || strcmp(wanted, point) != 0)
		return 0;
	return fail(err, EIO, "injected fault at %s (CKPT_FAULT)", point);
}
