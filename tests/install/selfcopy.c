/* SPDX-License-Identifier: MIT */
/*
 * A program built against the installed libckpt (tests/cases/install.sh):
 * it forks a copy of itself, checkpoints that child to a file through the
 * API (killing it), restarts it from the file and checks that the child
 * carries on with its memory, its PID and the same executable.
 *
 * usage: selfcopy IMAGE_PATH; prints one line, exit 0 when the child carried on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ckpt.h>

enum {
	CHILD_CARRIED_ON = 42
};

static volatile sig_atomic_t go_received;
static long global_value = 1;

static void note_go(int signal_number)
{
	(void)signal_number;
	go_received = 1;
}

/* The child: holds values, tells the parent it is ready, waits for SIGUSR1. */
static int run_child(pid_t parent)
{
	long stack_value = 0x5eed;
	long *heap_value = malloc(sizeof(*heap_value));
	pid_t pid = getpid();
	sigset_t blocked, waiting;

	if (!heap_value)
		return 1;
	close_range(3, ~0u, 0); /* only fds 0-2, which a restart takes over */
	*heap_value = 0x4ea9;
	global_value = 0x610ba1;
	signal(SIGUSR1, note_go);
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGUSR1);
	sigprocmask(SIG_BLOCK, &blocked, &waiting);
	kill(parent, SIGUSR2);
	while (!go_received)
		sigsuspend(&waiting);
	if (getpid() != pid || stack_value != 0x5eed || *heap_value != 0x4ea9 ||
	    global_value != 0x610ba1)
		return 1;
	return CHILD_CARRIED_ON;
}

static int wait_ready(void)
{
	sigset_t ready;
	struct timespec deadline = { .tv_sec = 20 };

	sigemptyset(&ready);
	sigaddset(&ready, SIGUSR2);
	if (sigtimedwait(&ready, NULL, &deadline) != SIGUSR2) {
		fprintf(stderr, "selfcopy: the child never said it was ready\n");
		return -1;
	}
	return 0;
}

static int checkpoint_child(pid_t child, const char *image_path)
{
	char error[512] = "";
	struct ckpt_options options = {
		.flags = CKPT_OPT_KILL | CKPT_OPT_SYNC,
		.error = error,
		.error_size = sizeof(error),
	};
	int fd = open(image_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int ret;

	if (fd < 0) {
		fprintf(stderr, "selfcopy: %s: %s\n", image_path, strerror(errno));
		return -1;
	}
	ret = ckpt_checkpoint(child, fd, &options);
	close(fd);
	if (ret < 0) {
		fprintf(stderr, "selfcopy: ckpt_checkpoint: %s\n", error);
		return -1;
	}
	waitpid(child, NULL, 0);
	return 0;
}

static int restart_child(const char *image_path, pid_t *ret_pid)
{
	char error[512] = "";
	struct ckpt_options options = { .error = error, .error_size = sizeof(error) };
	int fd = open(image_path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0) {
		fprintf(stderr, "selfcopy: %s: %s\n", image_path, strerror(errno));
		return -1;
	}
	ret = ckpt_restart(fd, &options, ret_pid);
	close(fd);
	if (ret < 0) {
		fprintf(stderr, "selfcopy: ckpt_restart: %s\n", error);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	sigset_t ready;
	pid_t child, restored;
	int status;

	if (argc != 2) {
		fprintf(stderr, "usage: selfcopy IMAGE_PATH\n");
		return 2;
	}
	sigemptyset(&ready);
	sigaddset(&ready, SIGUSR2);
	sigprocmask(SIG_BLOCK, &ready, NULL);
	child = fork();
	if (child == 0)
		_exit(run_child(getppid()));
	if (child < 0 || wait_ready() < 0 || checkpoint_child(child, argv[1]) < 0)
		return 1;
	if (restart_child(argv[1], &restored) < 0)
		return 1;
	kill(restored, SIGUSR1);
	if (waitpid(restored, &status, 0) != restored || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != CHILD_CARRIED_ON) {
		fprintf(stderr, "selfcopy: the restarted child did not carry on (status %#x)\n",
			status);
		return 1;
	}
	printf("selfcopy: child %d checkpointed, restarted and carried on\n", (int)restored);
	return 0;
}
