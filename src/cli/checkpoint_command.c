/* SPDX-License-Identifier: MIT */
/* ckpt checkpoint [--kill] [--stats] [-o FILE] PID */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static const char help[] =
	"usage: ckpt checkpoint [--kill] [--stats] [-o FILE] PID\n"
	"\n"
	"Write the state of process PID as one image stream to FILE, or to stdout\n"
	"when FILE is absent or '-' (not to a terminal).  The process keeps running;\n"
	"with --kill it is killed once the image is complete and synced.  A FILE is\n"
	"written to a temporary file beside it, synced and renamed (mode 0600): on\n"
	"any failure FILE is left as it was and the process runs on unharmed.\n"
	"\n"
	"  -o, --output FILE   where to write the image\n"
	"  -k, --kill          kill the process after a complete image\n"
	"      --stats         print timings and sizes on stderr\n";

struct output_file {
	char final_path[PATH_MAX];
	char temp_path[PATH_MAX];
	int fd;
};

static int open_temp_file(struct output_file *out, const char *path)
{
	if (snprintf(out->final_path, sizeof(out->final_path), "%s", path) >= (int)sizeof(out->final_path))
		return -ENAMETOOLONG;
	for (int attempt = 0; attempt < 100; attempt++) {
		snprintf(out->temp_path, sizeof(out->temp_path), "%s.tmp.%d.%d", path, getpid(), attempt);
		out->fd = open(out->temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (out->fd >= 0 || errno != EEXIST)
			break;
	}
	return out->fd < 0 ? -errno : 0;
}

static void sync_directory_of(const char *path)
{
	char copy[PATH_MAX];
	int dir_fd;

	snprintf(copy, sizeof(copy), "%s", path);
	dir_fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd >= 0) {
		fsync(dir_fd);
		close(dir_fd);
	}
}

/* Called by the library once the image is complete and synced. */
static int commit_output(void *arg)
{
	struct output_file *out = arg;

	if (!out)
		return 0;
	if (close(out->fd) < 0) {
		out->fd = -1;
		return -errno;
	}
	out->fd = -1;
	if (rename(out->temp_path, out->final_path) < 0)
		return -errno;
	sync_directory_of(out->final_path);
	return 0;
}

static int parse_pid(const char *text, pid_t *ret_pid)
{
	char *end;
	long value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (errno || *end || end == text || value <= 0 || value > INT32_MAX)
		return -EINVAL;
	*ret_pid = (pid_t)value;
	return 0;
}

struct checkpoint_args {
	const char *output;
	bool kill;
	bool stats;
	pid_t pid;
};

static int parse_args(int argc, char **argv, struct checkpoint_args *args)
{
	static const struct option options[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "kill", no_argument, NULL, 'k' },
		{ "stats", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int option;

	for (option = getopt_long(argc, argv, "o:k", options, NULL); option != -1;
	     option = getopt_long(argc, argv, "o:k", options, NULL)) {
		if (option == 'o')
			args->output = optarg;
		else if (option == 'k')
			args->kill = true;
		else if (option == 's')
			args->stats = true;
		else
			return -EINVAL;
	}
	if (optind != argc - 1) {
		cli_error("checkpoint", "expected one PID (see ckpt checkpoint --help)");
		return -EINVAL;
	}
	if (parse_pid(argv[optind], &args->pid) < 0) {
		cli_error("checkpoint", "'%s' is not a process id", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static int checkpoint_to(struct checkpoint_args *args, int fd, struct output_file *out)
{
	char message[512] = "";
	struct ckpt_stats stats = { 0 };
	struct ckpt_options options = {
		.flags = CKPT_OPT_SYNC | (args->kill ? CKPT_OPT_KILL : 0),
		.error = message,
		.error_size = sizeof(message),
		.stats = &stats,
		.progress = cli_progress,
		.commit = commit_output,
		.commit_arg = out,
	};
	int ret = ckpt_checkpoint(args->pid, fd, &options);

	if (ret < 0) {
		cli_error("checkpoint", "%s", message[0] ? message : strerror(-ret));
		return EXIT_FAILED;
	}
	if (args->stats)
		print_stats(&stats);
	return EXIT_OK;
}

static int checkpoint_to_file(struct checkpoint_args *args)
{
	struct output_file out = { .fd = -1 };
	int ret = open_temp_file(&out, args->output);
	int status;

	if (ret < 0) {
		cli_error("checkpoint", "cannot create an image beside %s: %s", args->output, strerror(-ret));
		return EXIT_FAILED;
	}
	status = checkpoint_to(args, out.fd, &out);
	if (out.fd >= 0)
		close(out.fd);
	if (status != EXIT_OK)
		unlink(out.temp_path);
	return status;
}

int command_checkpoint(int argc, char **argv)
{
	struct checkpoint_args args = { 0 };

	if (wants_help(argc, argv)) {
		fputs(help, stdout);
		return EXIT_OK;
	}
	if (parse_args(argc, argv, &args) < 0)
		return EXIT_USAGE;
	if (args.output && strcmp(args.output, "-") != 0)
		return checkpoint_to_file(&args);
	if (isatty(STDOUT_FILENO)) {
		cli_error("checkpoint", "refusing to write an image to a terminal: use -o FILE or a pipe");
		return EXIT_FAILED;
	}
	return checkpoint_to(&args, STDOUT_FILENO, NULL);
}
