/* SPDX-License-Identifier: MIT */
/*
 * The check() of the unit tests in tests/unit/: one line per failed check,
 * a count at the end, exit 0 only when all passed.  Header-only.
 */
#ifndef CKPT_TESTS_UNIT_CHECK_H
#define CKPT_TESTS_UNIT_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static unsigned unit_checks_run;
static unsigned unit_checks_failed;

__attribute__((format(printf, 2, 3))) static inline void check(bool ok, const char *format, ...)
{
	va_list args;

	unit_checks_run++;
	if (ok)
		return;
	unit_checks_failed++;
	fputs("FAIL: ", stdout);
	va_start(args, format);
	vprintf(format, args);
	va_end(args);
	putchar('\n');
}

/* The last line (the harness shows it) and the exit status. */
static inline int finish_checks(const char *what)
{
	printf("%s: %u checks, %u failed\n", what, unit_checks_run, unit_checks_failed);
	return unit_checks_failed ? 1 : 0;
}

#endif
