/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sys/freeze.h"
#include "sys/proc_files.h"
#include "util.h"

int freeze_thread(pid_t pid, pid_t tid, struct user_regs_struct *ret_regs, bool *ret_seized,
		  struct ckpt_error *err)
{
	int ret = ptrace_seize_and_freeze(tid, err);

	*ret_seized = false;
	if (ret < 0 && tid != pid && ret == -ESRCH) {
		err->code = 0; /* a thread that just exited */
		return 1;
	}
	*ret_seized = true; /* seized even if the stop failed: detach it */
	if (ret < 0)
		return ret;
	return ptrace_get_regs(tid, ret_regs, err);
}

int freeze_new_threads(pid_t pid, const struct thread_set *set, struct ckpt_error *err)
{
	bool found_new = true;
	int ret = 0;

	while (ret == 0 && found_new) {
		_cleanup_free_ pid_t *tids = NULL;
		size_t count = 0;

		found_new = false;
		ret = list_thread_ids(pid, &tids, &count, err);
		for (size_t i = 0; ret == 0 && i < count; i++) {
			if (set->has(set->set, tids[i]))
				continue;
			found_new = true;
			ret = set->add(set->set, tids[i]);
		}
	}
	return ret;
}

/* What the freeze held back: a SIGSTOP, which no mask blocks. */
static void resend_deferred_signals(const struct remote_task *task)
{
	for (int signal = 1; signal <= 64; signal++) {
		if (task->injector.deferred_signals & (1ull << (signal - 1)))
			syscall(SYS_tgkill, task->pid, task->tid, signal);
	}
}

void let_go_of_frozen_thread(const struct remote_task *task,
			     const struct user_regs_struct *unhomed_regs)
{
	struct ckpt_error ignored = { 0 };
	const struct injector *injector = &task->injector;

	if (injector->has_home) {
		ptrace_set_regs(task->tid, &injector->home_regs, &ignored);
		ptrace_set_sigmask(task->tid, injector->home_sigmask, &ignored);
	} else if (unhomed_regs) {
		struct user_regs_struct regs = *unhomed_regs;

		regs.orig_rax = (uint64_t)-1;
		ptrace_set_regs(task->tid, &regs, &ignored);
	}
	ptrace_detach(task->tid, 0);
	resend_deferred_signals(task);
}

enum {
	LET_GO_POLLS = 1000
}; /* of 1 ms: a dying thread's exit shows well within */

void let_go_of_ending_thread(const struct remote_task *task)
{
	const struct timespec pause = { 0, 1000000 };

	for (int poll = 0; poll < LET_GO_POLLS; poll++) {
		int status = 0;
		pid_t got;

		if (ptrace_detach(task->tid, 0) == 0) {
			resend_deferred_signals(task);
			return;
		}
		got = waitpid(task->tid, &status, __WALL | WNOHANG);
		if ((got < 0 && errno != EINTR) || (got > 0 && !WIFSTOPPED(status)))
			return; /* its exit collected, or not ours to collect */
		if (got == 0)
			nanosleep(&pause, NULL);
	}
}

void reap_killed_thread(pid_t tid)
{
	int status;

	while (waitpid(tid, &status, __WALL) >= 0 && !WIFEXITED(status) && !WIFSIGNALED(status))
		;
}
