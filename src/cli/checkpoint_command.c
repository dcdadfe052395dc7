/* SPDX-License-Identifier: MIT */
/* ckpt checkpoint [--kill] [--stats] [-o FILE] PID */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

static const char help[] =
	"usage: ckpt checkpoint [--kill] [--stats] [-o FILE] PID\n"
	"\n"
	"Write the state of process PID as one image stream to FILE, or to stdout\n"
	"when FILE is absent or '-' (not to a terminal).  The process keeps running;\n"
	"with --kill it is killed once the image is complete and synced.  A FILE is\n"
	"written to an unnamed file in its directory, synced and linked into place\n"
	"(mode 0600): on any failure (also SIGINT, SIGTERM, SIGHUP or a reader that\n"
	"goes away) FILE is left as it was and the process runs on unharmed.\n"
	"\n"
	"  -o, --output FILE   where to write the image\n"
	"  -k, --kill          kill the process after a complete image\n"
	"      --stats         print timings and sizes on stderr\n";

/*
 * The image goes to an unnamed file (O_TMPFILE) in FILE's directory, linked
 * into place only once complete and synced: a ckpt that dies leaves nothing
 * behind, and no name can be taken in advance to block it.  On a filesystem
 * without O_TMPFILE it goes to FILE.tmp.<random> instead (created with
 * O_EXCL, a new random name when taken), which a killed ckpt leaves behind.
 */
struct output_file {
	char final_path[PATH_MAX];
	char directory[PATH_MAX];
	char temp_path[PATH_MAX]; /* the named fallback's, or "" */
	int fd;
};

enum {
	TEMP_NAME_ATTEMPTS = 100
};

/* FILE.tmp.<16 random hex digits> */
static int make_temp_name(const struct output_file *out, char *name, size_t size)
{
	uint64_t random;

	if (getrandom(&random, sizeof(random), 0) != sizeof(random))
		return -errno;
	if (snprintf(name, size, "%s.tmp.%016" PRIx64, out->final_path, random) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

static int open_named_temp(struct output_file *out)
{
	int ret = -EEXIST;

	for (int attempt = 0; attempt < TEMP_NAME_ATTEMPTS && ret == -EEXIST; attempt++) {
		ret = make_temp_name(out, out->temp_path, sizeof(out->temp_path));
		if (ret < 0)
			break;
		out->fd = open(out->temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		ret = out->fd < 0 ? -errno : 0;
	}
	if (ret < 0)
		out->temp_path[0] = '\0';
	return ret;
}

static bool lacks_tmpfile(int error)
{
	return error == EOPNOTSUPP || error == EISDIR || error == EINVAL;
}

static int open_temp_file(struct output_file *out, const char *path)
{
	char copy[PATH_MAX];

	if (snprintf(out->final_path, sizeof(out->final_path), "%s", path) >=
	    (int)sizeof(out->final_path))
		return -ENAMETOOLONG;
	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(out->directory, sizeof(out->directory), "%s", dirname(copy));
	out->fd = open(out->directory, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (out->fd >= 0)
		return 0;
	if (!lacks_tmpfile(errno))
		return -errno;
	return open_named_temp(out);
}

static void sync_directory(const char *directory)
{
	int dir_fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dir_fd >= 0) {
		fsync(dir_fd);
		close(dir_fd);
	}
}

/*
 * Gives the unnamed file a random name beside FILE (link() cannot replace
 * an existing FILE; rename() can, atomically).
 */
static int link_unnamed(struct output_file *out)
{
	char fd_path[64];
	int ret = -EEXIST;

	snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", out->fd);
	for (int attempt = 0; attempt < TEMP_NAME_ATTEMPTS && ret == -EEXIST; attempt++) {
		ret = make_temp_name(out, out->temp_path, sizeof(out->temp_path));
		if (ret < 0)
			break;
		ret = linkat(AT_FDCWD, fd_path, AT_FDCWD, out->temp_path, AT_SYMLINK_FOLLOW) < 0
			      ? -errno
			      : 0;
	}
	if (ret < 0)
		out->temp_path[0] = '\0';
	return ret;
}

/* Called by the library once the image is complete and synced. */
static int commit_output(void *arg)
{
	struct output_file *out = arg;
	int ret = 0;

	if (!out)
		return 0;
	if (!out->temp_path[0])
		ret = link_unnamed(out);
	if (ret == 0 && rename(out->temp_path, out->final_path) < 0)
		ret = -errno;
	if (ret < 0)
		return ret;
	out->temp_path[0] = '\0'; /* FILE now: nothing to remove */
	if (close(out->fd) < 0)
		ret = -errno;
	out->fd = -1;
	sync_directory(out->directory);
	return ret;
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

/* Set by SIGINT, SIGTERM and SIGHUP: the library stops and lets the process go. */
static volatile int interrupt_signal;

static void note_interrupt(int signal)
{
	interrupt_signal = signal;
}

static void catch_interrupts(void)
{
	static const int signals[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction action = { .sa_handler = note_interrupt };

	sigemptyset(&action.sa_mask);
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		sigaction(signals[i], &action, NULL);
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
		.interrupt = &interrupt_signal,
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

/*
 * FILE that exists and is not a regular file (a FIFO, /dev/null, a
 * terminal device, a socket) is written in place, as a shell's > would:
 * renaming over it would replace the device or FIFO with a regular file.
 */
static bool is_special_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

static int checkpoint_to_special_file(struct checkpoint_args *args)
{
	int fd = open(args->output, O_WRONLY | O_CLOEXEC);
	int status;

	if (fd < 0) {
		cli_error("checkpoint", "cannot open %s: %s", args->output, strerror(errno));
		return EXIT_FAILED;
	}
	status = checkpoint_to(args, fd, NULL);
	close(fd);
	return status;
}

static int checkpoint_to_file(struct checkpoint_args *args)
{
	struct output_file out = { .fd = -1 };
	int ret;
	int status;

	if (is_special_file(args->output))
		return checkpoint_to_special_file(args);
	ret = open_temp_file(&out, args->output);
	if (ret < 0) {
		cli_error("checkpoint", "cannot create an image beside %s: %s", args->output,
			  strerror(-ret));
		return EXIT_FAILED;
	}
	status = checkpoint_to(args, out.fd, &out);
	if (out.fd >= 0)
		close(out.fd);
	if (out.temp_path[0])
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
	catch_interrupts();
	if (args.output && strcmp(args.output, "-") != 0)
		return checkpoint_to_file(&args);
	if (isatty(STDOUT_FILENO)) {
		cli_error("checkpoint",
			  "refusing to write an image to a terminal: use -o FILE or a pipe");
		return EXIT_FAILED;
	}
	return checkpoint_to(&args, STDOUT_FILENO, NULL);
}
