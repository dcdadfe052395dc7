/* SPDX-License-Identifier: MIT */
/* ckpt restart [--detach] [--stats] [FILE] */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"

static const char help[] =
	"usage: ckpt restart [--detach] [--inherit-fd N=M]... [--pidns] [--stats] [--timeout SECONDS]\n"
	"                    [--trust-image] [FILE]\n"
	"\n"
	"Rebuild the process saved in FILE (or read from stdin, a pipe works) with\n"
	"its original PID, and let it carry on.  Without --detach, ckpt waits for\n"
	"it and exits with its exit status (128+N when killed by signal N).  With\n"
	"--detach, ckpt prints its PID on stdout and returns once it runs.\n"
	"\n"
	"The process's fds 0, 1 and 2, when they were a terminal, a pipe or a\n"
	"socket at checkpoint time, are taken over from this command (unless the\n"
	"other end of a pipe was in the checkpointed tree: then that pipe is back).\n"
	"A pipe at fd 3 or above whose other end was outside the tree needs\n"
	"--inherit-fd.\n"
	"\n"
	"  -d, --detach   print the PID and return while the process runs; the\n"
	"                 process's threads then lose a parent-death signal\n"
	"                 (PR_SET_PDEATHSIG), as their parent, this command, leaves\n"
	"      --inherit-fd N=M\n"
	"                 the restored processes' fd N (a pipe whose other end was\n"
	"                 outside the tree, or fd 0-2) is this command's fd M\n"
	"      --pidns    rebuild the tree in a new PID namespace, with its original\n"
	"                 PIDs there: copies of one image can run side by side, and\n"
	"                 the original may still run; the PID printed (--detach) is\n"
	"                 the one this shell sees\n"
	"      --stats    print timings and sizes on stderr\n"
	"      --timeout SECONDS\n"
	"                 fail (and kill what was created) when the image stream\n"
	"                 brings nothing for SECONDS (default 60; 0: wait forever)\n"
	"      --trust-image\n"
	"                 open the image's files with this command's credentials;\n"
	"                 without it they are opened as the image's user, so an\n"
	"                 edited image cannot open what its user could not\n";

struct restart_args {
	const char *path;
	bool detach;
	bool pidns;
	bool stats;
	bool trust_image;
	int timeout_seconds;		  /* 0: the default; -1: none */
	struct ckpt_inherit_fd wires[16]; /* --inherit-fd */
	size_t wire_count;
};

/* N=M: the restored fd N is our fd M, which must be open. */
static int parse_inherit_fd(const char *text, struct restart_args *args)
{
	char *end = NULL;
	long fd = -1, from_fd = -1;

	errno = 0;
	if (text)
		fd = strtol(text, &end, 10);
	if (end && end != text && *end == '=' && !errno)
		from_fd = strtol(end + 1, &end, 10);
	if (!text || errno || *end || fd < 0 || fd >= (1 << 20) || from_fd < 0 || from_fd > 1 << 20) {
		cli_error("restart", "--inherit-fd needs N=M (fd numbers), not '%s'",
			  text ? text : "");
		return -EINVAL;
	}
	if (fcntl((int)from_fd, F_GETFD) < 0) {
		cli_error("restart", "--inherit-fd %s: fd %ld is not open here", text, from_fd);
		return -EBADF;
	}
	if (args->wire_count == sizeof(args->wires) / sizeof(args->wires[0])) {
		cli_error("restart", "--inherit-fd: at most 16 of them");
		return -EINVAL;
	}
	args->wires[args->wire_count++] = (struct ckpt_inherit_fd){ (int)fd, (int)from_fd };
	return 0;
}

static int parse_timeout(const char *text, struct restart_args *args)
{
	char *end = NULL;
	long seconds;

	errno = 0;
	seconds = text ? strtol(text, &end, 10) : -1;
	if (!text || errno || end == text || *end || seconds < 0 || seconds > 86400 * 365) {
		cli_error("restart", "--timeout needs a number of seconds (0: none), not '%s'",
			  text ? text : "");
		return -EINVAL;
	}
	args->timeout_seconds = seconds == 0 ? -1 : (int)seconds;
	return 0;
}

static int parse_args(int argc, char **argv, struct restart_args *args)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--timeout") == 0) {
			const char *value = i + 1 < argc ? argv[++i] : NULL;

			if (parse_timeout(value, args) < 0)
				return -EINVAL;
		} else if (strcmp(argv[i], "--inherit-fd") == 0) {
			if (parse_inherit_fd(i + 1 < argc ? argv[++i] : NULL, args) < 0)
				return -EINVAL;
		} else if (strcmp(argv[i], "--detach") == 0 || strcmp(argv[i], "-d") == 0)
			args->detach = true;
		else if (strcmp(argv[i], "--stats") == 0)
			args->stats = true;
		else if (strcmp(argv[i], "--pidns") == 0)
			args->pidns = true;
		else if (strcmp(argv[i], "--trust-image") == 0)
			args->trust_image = true;
		else if (!args->path && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0))
			args->path = argv[i];
		else {
			cli_error("restart", "unexpected argument '%s' (see ckpt restart --help)",
				  argv[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * Waits for the restored process like a shell waits for a command.  Our
 * child is the root, or with --pidns the namespace's init, which exits with
 * the root's status.
 */
/* Whether ckpt restart runs as the foreground job of the terminal at its fd 0. */
static bool in_terminal_foreground(void)
{
	return isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
}

/* The foreground the restored process had (CKPT_OPT_FOREGROUND) comes back to ckpt restart. */
static void take_foreground_back(void)
{
	sigset_t no_ttou, old_mask;

	sigemptyset(&no_ttou);
	sigaddset(&no_ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &no_ttou, &old_mask);
	if (tcgetpgrp(STDIN_FILENO) != getpgrp())
		(void)tcsetpgrp(STDIN_FILENO, getpgrp());
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
}

static int wait_for_exit(pid_t pid, bool foreground)
{
	int status;

	signal(SIGINT, SIG_IGN); /* the terminal's ^C is for the process */
	signal(SIGQUIT, SIG_IGN);
	while (waitpid(-1, &status, 0) < 0) {
		if (errno != EINTR) {
			cli_error("restart", "waiting for process %d: %s", pid, strerror(errno));
			return EXIT_FAILED;
		}
	}
	if (foreground)
		take_foreground_back();
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static int open_input(const char *path)
{
	if (!path || strcmp(path, "-") == 0)
		return STDIN_FILENO;
	return open(path, O_RDONLY | O_CLOEXEC);
}

int command_restart(int argc, char **argv)
{
	struct restart_args args = { 0 };
	char message[512] = "";
	struct ckpt_stats stats = { 0 };
	struct ckpt_options options = { .error = message,
					.error_size = sizeof(message),
					.stats = &stats };
	pid_t pid = 0;
	int fd, ret;

	if (wants_help(argc, argv)) {
		fputs(help, stdout);
		return EXIT_OK;
	}
	if (parse_args(argc, argv, &args) < 0)
		return EXIT_USAGE;
	fd = open_input(args.path);
	if (fd < 0) {
		cli_error("restart", "cannot open %s: %s", args.path, strerror(errno));
		return EXIT_FAILED;
	}
	options.flags = (args.pidns ? CKPT_OPT_PIDNS : 0) | (args.detach ? CKPT_OPT_DETACH : 0) |
			(args.trust_image ? CKPT_OPT_TRUST_IMAGE : 0);
	if (!args.detach && in_terminal_foreground())
		options.flags |= CKPT_OPT_FOREGROUND;
	options.read_timeout_seconds = args.timeout_seconds;
	options.inherit_fds = args.wires;
	options.inherit_fd_count = args.wire_count;
	ret = ckpt_restart(fd, &options, &pid);
	if (fd != STDIN_FILENO)
		close(fd);
	if (ret < 0) {
		cli_error("restart", "%s", message[0] ? message : strerror(-ret));
		return EXIT_FAILED;
	}
	if (args.stats)
		print_stats(&stats);
	if (!args.detach)
		return wait_for_exit(pid, options.flags & CKPT_OPT_FOREGROUND);
	printf("%d\n", pid);
	fflush(stdout);
	return EXIT_OK;
}
