/* SPDX-License-Identifier: MIT */
/*
 * Freezing a process: every thread seized and stopped, again and again
 * until no new thread shows up; and letting its threads go again, with
 * their own registers and signal mask and the signals held back meanwhile.
 * What a frozen thread is for (an image) is the caller's business.
 */
#ifndef CKPT_SYS_FREEZE_H
#define CKPT_SYS_FREEZE_H

#include <stdbool.h>
#include <sys/types.h>
#include <sys/user.h>

#include "error.h"
#include "sys/remote_task.h"

/* The caller's set of frozen threads. */
struct thread_set {
	bool (*has)(void *set, pid_t tid);
	/* Freezes tid (freeze_thread()) and adds it to the set. */
	int (*add)(void *set, pid_t tid);
	void *set;
};

/*
 * Seizes and stops tid, a thread of pid, and reads its registers.  Returns
 * 0, 1 when tid (not the leader) has just exited, or -errno; *ret_seized
 * says whether it must be let go, even after a failure.
 */
int freeze_thread(pid_t pid, pid_t tid, struct user_regs_struct *ret_regs, bool *ret_seized,
		  struct ckpt_error *err);
/* Adds every thread of pid the set lacks, until a listing finds no new one. */
int freeze_new_threads(pid_t pid, const struct thread_set *set, struct ckpt_error *err);

/*
 * Lets a frozen thread go on.  It holds its own registers and mask already
 * (its home), unless a failure came in the middle of an injection: then
 * home is put back, or `unhomed_regs` when it never got one (NULL when
 * nothing was injected).  A SIGSTOP held back meanwhile is sent again.
 */
void let_go_of_frozen_thread(const struct remote_task *task,
			     const struct user_regs_struct *unhomed_regs);
/*
 * Detaches a frozen thread of a process that is ending, or collects its
 * exit: a traced thread's exit goes to the tracer first, and its process
 * becomes its parent's zombie only once every traced thread's is collected.
 */
void let_go_of_ending_thread(const struct remote_task *task);
/* Collects a killed traced thread's exit; the leader's comes last. */
void reap_killed_thread(pid_t tid);

#endif
