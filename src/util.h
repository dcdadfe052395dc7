/* SPDX-License-Identifier: MIT */
#ifndef CKPT_UTIL_H
#define CKPT_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(array) (sizeof(array) / sizeof((array)[0]))

/* For interfaces (struct iovec) that take a non-const pointer they only read. */
static inline void *readonly_buffer(const void *pointer)
{
	return (void *)(uintptr_t)pointer;
}

static inline void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static inline void free_pointer(void *pointer_to_pointer)
{
	free(*(void **)pointer_to_pointer);
}

/* Cleanup attributes: the one release idiom of the project. */
#define _cleanup_close_ __attribute__((cleanup(close_fd)))
#define _cleanup_free_ __attribute__((cleanup(free_pointer)))

uint64_t monotonic_ns(void);

#endif
