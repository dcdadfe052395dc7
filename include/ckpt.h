/* SPDX-License-Identifier: MIT */
/*
 * libckpt: checkpoint and restart Linux processes from user space.
 *
 * The two calls of the Linux-CR design, in user space:
 *   ckpt_checkpoint(pid, fd, options)   write the state of pid to fd
 *   ckpt_restart(fd, options, &pid)     rebuild a process from fd
 *
 * Both return 0 or a negative errno.  On failure options->error (when set)
 * receives one line saying what went wrong; the library prints nothing.
 */
#ifndef CKPT_H
#define CKPT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CKPT_VERSION "0.1.0"

/* libckpt.so is built with hidden visibility: what this header declares is its API. */
#pragma GCC visibility push(default)

enum ckpt_option_flags {
	CKPT_OPT_KILL = 1u << 0,	/* checkpoint: kill after a complete image */
	CKPT_OPT_SYNC = 1u << 1,	/* checkpoint: fsync the image fd */
	CKPT_OPT_PIDNS = 1u << 2,	/* restart: in a new PID namespace */
	CKPT_OPT_DETACH = 1u << 3,	/* restart: the caller leaves at once (the root's
					 * parent-death signals are not restored) */
	CKPT_OPT_TRUST_IMAGE = 1u << 8, /* restart: open the image's files with the caller's
					 * own credentials, not the image's user's */
	CKPT_OPT_FOREGROUND = 1u << 9,	/* restart: the caller is the foreground job of the
					 * terminal at its fd 0: a restored root in the
					 * caller's session gets the foreground */
};

struct ckpt_stats {
	uint64_t frozen_ns;   /* how long the target was stopped */
	uint64_t total_ns;    /* the whole call */
	uint64_t memory_ns;   /* dumping or filling pages */
	uint64_t image_bytes; /* bytes written or read */
	uint64_t page_count;  /* pages written or restored */
	uint64_t vma_count;
	uint64_t injected_syscalls;
	uint64_t injected_ns; /* checkpoint: time a thread held injected state */
};

typedef void ckpt_progress_fn(void *arg, uint64_t done_bytes, uint64_t total_bytes);

struct ckpt_inherit_fd {
	int fd;	     /* in the restored processes */
	int from_fd; /* the caller's */
};

struct ckpt_options {
	unsigned int flags; /* enum ckpt_option_flags */
	char *error;	    /* receives a message on failure */
	size_t error_size;
	struct ckpt_stats *stats;   /* filled when not NULL */
	ckpt_progress_fn *progress; /* called now and then during memory work */
	void *progress_arg;
	/*
	 * Called after the image is complete and before the target is let go
	 * or killed (the CLI renames its temp file here).  A non-zero return
	 * fails the checkpoint and leaves the target running.
	 */
	int (*commit)(void *arg);
	void *commit_arg;
	/*
	 * restart: fail (and kill what was created) when the image stream
	 * brings no byte for this long; 0 means CKPT_DEFAULT_READ_TIMEOUT,
	 * a negative value waits forever.
	 */
	int read_timeout_seconds;
	/*
	 * Checkpoint: when *interrupt becomes non-zero (the caller's signal
	 * handler stores the signal's number there), the checkpoint stops as
	 * soon as it can and fails with -EINTR, the target let go unharmed.
	 */
	const volatile int *interrupt;
	/*
	 * restart: fds of the caller that the restored processes get in place
	 * of an inherited fd (one whose file, such as a pipe to a process
	 * outside the tree, was not checkpointed): every restored process
	 * that had such an fd `fd` gets a copy of the caller's `from_fd`.
	 */
	const struct ckpt_inherit_fd *inherit_fds;
	size_t inherit_fd_count;
};

#define CKPT_DEFAULT_READ_TIMEOUT 60

/*
 * A write error on fd is an ordinary failure: SIGPIPE is blocked in the
 * calling thread while the image is written, and one it raised is taken
 * off its queue before the call returns.
 */
int ckpt_checkpoint(pid_t pid, int fd, struct ckpt_options *options);

/*
 * Rebuilds the process tree and lets it run; *ret_pid is the root's PID as
 * the caller sees it.  The caller's own child is the root, or with
 * CKPT_OPT_PIDNS the namespace's init, which exits with the root's status
 * once every process of the namespace is gone.
 */
int ckpt_restart(int fd, struct ckpt_options *options, pid_t *ret_pid);

#pragma GCC visibility pop

#endif
