/* SPDX-License-Identifier: MIT */
#ifndef CKPT_CLI_H
#define CKPT_CLI_H

#include <stdbool.h>

#include "ckpt.h"

enum cli_exit {
	EXIT_OK = 0,
	EXIT_FAILED = 1,
	EXIT_USAGE = 2
};

int command_checkpoint(int argc, char **argv);
int command_restart(int argc, char **argv);
int command_inspect(int argc, char **argv);
int command_check(int argc, char **argv);
int command_fault_points(int argc, char **argv);
int command_core(int argc, char **argv);

/* "ckpt COMMAND: message" on stderr. */
__attribute__((format(printf, 2, 3))) void cli_error(const char *command, const char *format, ...);
bool wants_help(int argc, char **argv);
void print_stats(const struct ckpt_stats *stats);
/* Progress on stderr when it is a terminal and the image is large. */
void cli_progress(void *arg, uint64_t done_bytes, uint64_t total_bytes);

#endif
