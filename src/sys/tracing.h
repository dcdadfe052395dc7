/* SPDX-License-Identifier: MIT */
/* Tracing tasks: seize, stop, registers, syscall injection. */
#ifndef CKPT_SYS_TRACING_H
#define CKPT_SYS_TRACING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "error.h"

/*
 * PTRACE_SEIZE (with TRACESYSGOOD and extra_options) and PTRACE_INTERRUPT.
 * Returns 0 when stopped by the interrupt, or the number of a signal the
 * task stopped on before delivering it (the caller owes it that signal).
 */
int ptrace_seize_and_stop(pid_t tid, long extra_options, struct ckpt_error *err);
/*
 * PTRACE_SEIZE and PTRACE_INTERRUPT for a checkpoint: a signal the task
 * stopped to take before the interrupt is delivered the kernel's way (its
 * handler frame is set up, or its default action taken) and the task then
 * stops, so every signal reaches it and none waits in ckpt's hands.
 */
int ptrace_seize_and_freeze(pid_t tid, struct ckpt_error *err);
/* Waits for the next stop of tid; *ret_status is the waitpid status. */
int ptrace_wait_stop(pid_t tid, int *ret_status, struct ckpt_error *err);
int ptrace_get_regs(pid_t tid, struct user_regs_struct *ret_regs, struct ckpt_error *err);
int ptrace_set_regs(pid_t tid, const struct user_regs_struct *regs, struct ckpt_error *err);
/* xstate buffer of `size` bytes (the CPU's XSAVE size). */
int ptrace_get_xstate(pid_t tid, void *buffer, size_t size, struct ckpt_error *err);
/*
 * The XSAVE size and enabled features the kernel uses for tid's xstate:
 * the truth, where CPUID inside ckpt may be an emulator's (valgrind).
 */
int ptrace_probe_xstate(pid_t tid, size_t *ret_size, uint64_t *ret_features, struct ckpt_error *err);
int ptrace_set_xstate(pid_t tid, const void *buffer, size_t size, struct ckpt_error *err);
int ptrace_get_sigmask(pid_t tid, uint64_t *ret_mask, struct ckpt_error *err);
int ptrace_set_sigmask(pid_t tid, uint64_t mask, struct ckpt_error *err);
int ptrace_detach(pid_t tid, int signal);

/* The CPU's XSAVE area size and enabled features (XCR0). */
size_t cpu_xstate_size(void);
uint64_t cpu_xfeatures(void);

/*
 * Running syscalls inside a stopped tracee.  The tracee executes a syscall
 * instruction at `gadget` and stops at syscall exit (PTRACE_SYSCALL), so the
 * bytes after the instruction never run.
 *
 * A tracee with a home (injector_set_home(), the checkpoint's case) holds
 * its own registers and signal mask between injections: each injection
 * blocks every signal, loads the call, runs it, and puts home back, so a
 * tracer that dies at any moment outside that short run leaves the tracee
 * as it was, and signals that arrive while a call runs stay queued in the
 * kernel with their siginfo.  Only SIGSTOP (which cannot be blocked) can
 * stop the tracee meanwhile; it is set aside in deferred_signals, to be
 * sent again by the caller.  Without a home (a husk at restart, whose
 * signals are all blocked anyway) every signal that shows up is set aside.
 */
struct injector {
	pid_t tid;
	uint64_t gadget;
	struct user_regs_struct base_regs; /* template for each call */
	bool has_home;
	struct user_regs_struct home_regs; /* the tracee's own, between injections */
	uint64_t home_sigmask;
	uint64_t deferred_signals; /* bit n-1: signal n arrived */
	uint64_t call_count;
	uint64_t injected_ns;	 /* time with injected state in place */
	uint64_t injected_since; /* when it was put in place, or 0 */
	struct ckpt_error *err;
};

int injector_init(struct injector *injector, pid_t tid, uint64_t gadget, struct ckpt_error *err);
/* From now on the tracee holds these registers and mask between injections. */
int injector_set_home(struct injector *injector, const struct user_regs_struct *regs,
		      uint64_t sigmask);
/*
 * The first syscall in a thread just frozen, run with the thread's own
 * mask: leaving the freeze stop may make the thread take a signal (and
 * restores a mask that sigsuspend, ppoll, ... had swapped in).  Such a
 * signal is delivered the kernel's way with the registers `frozen` put
 * back, and 1 is returned: the thread has stopped again, in front of its
 * handler, and the caller reads its registers again and retries.  0 when
 * the syscall ran (the thread is at its exit stop).
 */
int inject_settling_syscall(struct injector *injector, const struct user_regs_struct *frozen,
			    long number);
/* Returns the syscall's result (which may be -errno) in *ret_result. */
int inject_syscall(struct injector *injector, long number, const uint64_t args[6],
		   int64_t *ret_result);
/* Convenience: result, or a failure message naming the syscall. */
int64_t inject(struct injector *injector, const char *what, long number, uint64_t a0, uint64_t a1,
	       uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5);
/* Runs one last syscall and leaves the tracee at its syscall-exit stop. */
int inject_final_syscall(struct injector *injector, long number, const uint64_t args[6]);

/*
 * Runs the tracee's code at code_address (a batch of syscalls written by
 * the caller, ending with an int3) until it stops at trap_address, the
 * address after that int3: one stop for many syscalls.  Signals that
 * arrive meanwhile go to deferred_signals.
 */
int inject_batch(struct injector *injector, uint64_t code_address, uint64_t trap_address);
/* Writes code into the tracee with PTRACE_POKETEXT (works on a read+exec page). */
int poke_code(pid_t tid, uint64_t address, const void *code, size_t length, struct ckpt_error *err);

/* A syscall instruction inside ckpt itself (for a forked husk). */
extern const char ckpt_syscall_gadget[];

#endif
