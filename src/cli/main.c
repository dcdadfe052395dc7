/* SPDX-License-Identifier: MIT */
/* The ckpt command. */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util.h"

static const char usage[] =
	"usage: ckpt COMMAND [OPTIONS]\n"
	"\n"
	"Checkpoint a running Linux process into one image stream, and restart it.\n"
	"\n"
	"commands:\n"
	"  checkpoint [--kill] [--stats] [-o FILE] PID   write PID's state to FILE or stdout\n"
	"  restart [--detach] [--stats] [FILE]           rebuild the process from FILE or stdin\n"
	"  inspect [--json] FILE                         show what an image holds\n"
	"  core [-o FILE] [--pid PID] IMAGE              an ELF core file of a process, for gdb\n"
	"  check                                         which kernel features ckpt needs are here\n"
	"\n"
	"  ckpt COMMAND --help    help for one command\n"
	"  ckpt --version         version\n";

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "checkpoint", command_checkpoint },	  { "restart", command_restart },
	{ "inspect", command_inspect },		  { "check", command_check },
	{ "fault-points", command_fault_points }, { "core", command_core },
};

void cli_error(const char *command, const char *format, ...)
{
	va_list args;

	fprintf(stderr, "ckpt %s: ", command);
	va_start(args, format);
	vfprintf(stderr, format, args);
	va_end(args);
	fputc('\n', stderr);
}

bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

void print_stats(const struct ckpt_stats *stats)
{
	fprintf(stderr,
		"stats: frozen_ms=%.3f total_ms=%.3f memory_ms=%.3f image_bytes=%" PRIu64
		" pages=%" PRIu64 " vmas=%" PRIu64 " injected=%" PRIu64 " injected_ms=%.3f\n",
		(double)stats->frozen_ns / 1e6, (double)stats->total_ns / 1e6,
		(double)stats->memory_ns / 1e6, stats->image_bytes, stats->page_count,
		stats->vma_count, stats->injected_syscalls, (double)stats->injected_ns / 1e6);
}

void cli_progress(void *arg, uint64_t done_bytes, uint64_t total_bytes)
{
	const uint64_t large = 256ull << 20;

	(void)arg;
	if (total_bytes < large || !isatty(STDERR_FILENO))
		return;
	fprintf(stderr, "\rckpt: %" PRIu64 " of %" PRIu64 " MiB%s", done_bytes >> 20,
		total_bytes >> 20, done_bytes >= total_bytes ? "\n" : "");
}

int main(int argc, char **argv)
{
	/* A reader that goes away is a write error (EPIPE), handled like any other. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("ckpt %s\n", CKPT_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "ckpt: unknown command '%s'\n%s", argv[1], usage);
	return EXIT_USAGE;
}
