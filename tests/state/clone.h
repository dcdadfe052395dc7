/*
 * For the tests/state/tree_clone_*.c programs: children made with clone()
 * that share kernel objects with their parent without being its threads.
 *
 * A child that shares the root's memory also shares state_findings and the
 * go counter, so a child keeps its verdict in a local variable and exits
 * with it: 0 when every check passed, else the number of the first failed
 * check (below 100, never 1, which tree.h keeps for a verdict file).  A
 * child waits for SIGUSR1 (blocked since state_init()) with sigwaitinfo(),
 * not with the shared handler.  The root compares kernel objects with kcmp.
 */
#ifndef CKPT_TESTS_CLONE_H
#define CKPT_TESTS_CLONE_H

#include "tree.h"

#include <linux/kcmp.h>
#include <sched.h>
#include <sys/mman.h>

enum {
	CLONE_STACK_SIZE = 256 * 1024
};

/* clone(start, flags | SIGCHLD) on a fresh stack. */
static inline __attribute__((unused)) pid_t clone_start(int (*start)(void *), int flags,
							void *argument)
{
	char *stack = mmap(NULL, CLONE_STACK_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	pid_t child;

	if (stack == MAP_FAILED)
		state_setup_fail("mmap a stack: %s", strerror(errno));
	child = clone(start, stack + CLONE_STACK_SIZE, flags | SIGCHLD, argument);
	if (child < 0)
		state_setup_fail("clone(%#x): %s", flags, strerror(errno));
	return child;
}

/* In a child: takes one SIGUSR1 (go, or the next step from the parent). */
static inline __attribute__((unused)) void clone_wait_go(void)
{
	sigset_t go_set;

	sigemptyset(&go_set);
	sigaddset(&go_set, STATE_GO_SIGNAL);
	while (sigwaitinfo(&go_set, NULL) < 0 && errno == EINTR)
		;
}

/* In a child: tells the parent (waiting in tree_wait_ready) it is done with a step. */
static inline __attribute__((unused)) void clone_tell_parent(void)
{
	kill(getppid(), TREE_READY_SIGNAL);
}

/* In a child: records the first failed check. */
static inline __attribute__((unused)) void clone_check(int *verdict, bool ok, int check)
{
	if (!ok && *verdict == 0)
		*verdict = check;
}

static inline __attribute__((unused)) bool clone_same_object(pid_t first, pid_t second, int type)
{
	return syscall(SYS_kcmp, first, second, type, 0, 0) == 0;
}

/* In the root: whether `other` shares (or not) the object of that kcmp type with `self`. */
static inline __attribute__((unused)) void clone_expect_shared(pid_t self, pid_t other, int type,
							       bool expected, const char *what)
{
	bool same = clone_same_object(self, other, type);

	state_expect(same == expected, "%d and %d %s their %s", (int)self, (int)other,
		     same ? "share" : "do not share", what);
}

/* Tells a child to go on with its next step and waits until it has. */
static inline __attribute__((unused)) void clone_run_child_step(pid_t child)
{
	state_expect(kill(child, STATE_GO_SIGNAL) == 0, "kill(%d, SIGUSR1): %s", (int)child,
		     strerror(errno));
	tree_wait_ready(child);
}

#endif
