/* SPDX-License-Identifier: MIT */
/* The plain fd transport: writev and read on the caller's fd. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "image/transport.h"

static void skip_written(struct iovec **parts, int *count, size_t written)
{
	while (*count > 0 && written >= (*parts)->iov_len) {
		written -= (*parts)->iov_len;
		(*parts)++;
		(*count)--;
	}
	if (*count > 0) {
		(*parts)->iov_base = (char *)(*parts)->iov_base + written;
		(*parts)->iov_len -= written;
	}
}

static int write_fd(struct image_transport *transport, struct iovec *parts, int count,
		    struct ckpt_error *err)
{
	int fd = ((struct fd_transport *)transport)->fd;

	while (count > 0) {
		ssize_t written = writev(fd, parts, count);

		if (written < 0 && errno == EINTR)
			continue;
		if (written < 0)
			return fail(err, errno, "writing the image: %s", strerror(errno));
		if (written == 0)
			return fail(err, EIO, "writing the image: nothing written");
		skip_written(&parts, &count, (size_t)written);
	}
	return 0;
}

/* 0 once fd has data (or is a file, which is always ready), -ETIMEDOUT, or -errno. */
static int wait_for_data(int fd, int timeout_ms)
{
	struct pollfd waiting = { .fd = fd, .events = POLLIN };
	int ready;

	if (timeout_ms <= 0)
		return 0;
	do {
		ready = poll(&waiting, 1, timeout_ms);
	} while (ready < 0 && errno == EINTR);
	if (ready < 0)
		return -errno;
	return ready == 0 ? -ETIMEDOUT : 0;
}

static ssize_t read_failure(int error, int stall_timeout_ms, struct ckpt_error *err)
{
	if (error == -ETIMEDOUT)
		return fail(err, ETIMEDOUT,
			    "reading the image: nothing came for %d s: the stream stalled",
			    stall_timeout_ms / 1000);
	return fail(err, -error, "reading the image: %s", strerror(-error));
}

static ssize_t read_fd(struct image_transport *transport, void *buffer, size_t length,
		       int stall_timeout_ms, struct ckpt_error *err)
{
	int fd = ((struct fd_transport *)transport)->fd;
	size_t done = 0;

	while (done < length) {
		int ret = wait_for_data(fd, stall_timeout_ms);
		ssize_t got;

		if (ret < 0)
			return read_failure(ret, stall_timeout_ms, err);
		got = read(fd, (char *)buffer + done, length - done);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return read_failure(-errno, stall_timeout_ms, err);
		if (got == 0)
			break;
		done += (size_t)got;
	}
	return (ssize_t)done;
}

static int flush_fd(struct image_transport *transport, struct ckpt_error *err)
{
	(void)transport;
	(void)err;
	return 0; /* nothing is held back */
}

static void close_fd(struct image_transport *transport)
{
	(void)transport; /* embedded in its user, and the fd is the caller's */
}

static const struct image_transport_ops fd_transport_ops = {
	.write = write_fd,
	.read = read_fd,
	.flush = flush_fd,
	.close = close_fd,
};

void fd_transport_init(struct fd_transport *transport, int fd)
{
	transport->base.ops = &fd_transport_ops;
	transport->fd = fd;
}
