/* SPDX-License-Identifier: MIT */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool debug_enabled(void)
{
	const char *value = getenv("CKPT_DEBUG");

	return value && *value && strcmp(value, "0") != 0;
}

int ckpt_fail_at(struct ckpt_error *err, int code, const char *file, int line, const char *format, ...)
{
	int negative = code < 0 ? code : -code;
	va_list args;

	if (negative == 0)
		negative = -EIO;
	if (!err || err->code != 0)
		return negative;
	err->code = negative;
	va_start(args, format);
	vsnprintf(err->message, sizeof(err->message), format, args);
	va_end(args);
	if (debug_enabled()) {
		size_t used = strlen(err->message);

		snprintf(err->message + used, sizeof(err->message) - used, " [%s:%d]", file, line);
	}
	return negative;
}
