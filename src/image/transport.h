/* SPDX-License-Identifier: MIT */
/*
 * Transports: what carries an image stream's bytes under the record writer
 * and reader.  The writer frames records and hands their bytes to a
 * transport; the reader asks its transport for exact byte counts.  A
 * transport may sit on another one (compression on a file, framing on a
 * socket): each owns the one below it and closes it when it is closed.
 * The plain fd transport is the first: writev and read on one fd, no
 * buffer of its own.
 */
#ifndef CKPT_IMAGE_TRANSPORT_H
#define CKPT_IMAGE_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "error.h"

struct image_transport;

struct image_transport_ops {
	/*
	 * Sends every byte of parts[0..count), in order: 0 or -errno (with a
	 * message in err).  The entries of parts may be changed by the call.
	 */
	int (*write)(struct image_transport *transport, struct iovec *parts, int count,
		     struct ckpt_error *err);
	/*
	 * Reads length bytes into buffer: returns how many (fewer only at the
	 * end of the stream) or -errno with a message in err; -ETIMEDOUT when
	 * nothing comes for stall_timeout_ms (when > 0).
	 */
	ssize_t (*read)(struct image_transport *transport, void *buffer, size_t length,
			int stall_timeout_ms, struct ckpt_error *err);
	/* Pushes out whatever the transport still holds: 0 or -errno. */
	int (*flush)(struct image_transport *transport, struct ckpt_error *err);
	/* Frees the transport and closes what it owns (never a caller's fd). */
	void (*close)(struct image_transport *transport);
};

struct image_transport {
	const struct image_transport_ops *ops;
};

/* The plain transport: the bytes go to or come from fd as they are. */
struct fd_transport {
	struct image_transport base;
	int fd; /* the caller's: never closed here */
};

void fd_transport_init(struct fd_transport *transport, int fd);

static inline int transport_write(struct image_transport *transport, struct iovec *parts, int count,
				  struct ckpt_error *err)
{
	return transport->ops->write(transport, parts, count, err);
}

static inline ssize_t transport_read(struct image_transport *transport, void *buffer, size_t length,
				     int stall_timeout_ms, struct ckpt_error *err)
{
	return transport->ops->read(transport, buffer, length, stall_timeout_ms, err);
}

static inline int transport_flush(struct image_transport *transport, struct ckpt_error *err)
{
	return transport->ops->flush(transport, err);
}

static inline void transport_close(struct image_transport *transport)
{
	if (transport)
		transport->ops->close(transport);
}

#endif
