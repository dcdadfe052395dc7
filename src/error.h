/* SPDX-License-Identifier: MIT */
/*
 * Error reporting: the layer that decides a failure formats one message;
 * everything above passes the negative errno up.  The library never prints.
 */
#ifndef CKPT_ERROR_H
#define CKPT_ERROR_H

#include <errno.h>
#include <stdbool.h>

struct ckpt_error {
	char message[512];
	int code; /* negative errno of the first failure, 0 if none */
};

/* Records the first failure (file:line appended when CKPT_DEBUG is set);
 * returns -|code| so callers can write `return fail(err, ...)`. */
__attribute__((format(printf, 5, 6))) int
ckpt_fail_at(struct ckpt_error *err, int code, const char *file, int line, const char *format, ...);

#define fail(err, code, ...) ckpt_fail_at((err), (code), __FILE__, __LINE__, __VA_ARGS__)

static inline bool failed(const struct ckpt_error *err)
{
	return err->code != 0;
}

/* Turns a negative return value into a positive errno for strerror(). */
static inline int positive_errno(int ret)
{
	return ret < 0 ? -ret : ret;
}

#endif
