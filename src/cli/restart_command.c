/* SPDX-License-Identifier: MIT */
#include "cli/cli.h"
int command_restart(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return EXIT_FAILED;
}
