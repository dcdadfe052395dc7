/* SPDX-License-Identifier: MIT */
/*
 * copy_fsync: the write limit of the benchmark.
 *
 * Copies SOURCE to a new file DESTINATION with plain read()/write() of
 * BUFFER_KIB (default 1024) and fsync()s it, the least a checkpoint that
 * writes the same bytes to the same place must do.  Prints one line:
 *   copy_fsync: bytes=B copy_ns=C fsync_ns=F
 *
 * Usage: copy_fsync SOURCE DESTINATION [BUFFER_KIB]
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct copy_result {
	uint64_t bytes;
	uint64_t copy_ns;
	uint64_t fsync_ns;
};

static uint64_t monotonic_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

static int write_all(int fd, const char *buffer, size_t length)
{
	while (length > 0) {
		ssize_t written = write(fd, buffer, length);

		if (written < 0 && errno == EINTR)
			continue;
		if (written <= 0)
			return written < 0 ? -errno : -EIO;
		buffer += written;
		length -= (size_t)written;
	}
	return 0;
}

static int copy_stream(int source_fd, int destination_fd, char *buffer, size_t buffer_size,
		       uint64_t *ret_bytes)
{
	uint64_t total = 0;

	for (;;) {
		ssize_t got = read(source_fd, buffer, buffer_size);
		int error;

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			break;
		error = write_all(destination_fd, buffer, (size_t)got);
		if (error != 0)
			return error;
		total += (uint64_t)got;
	}
	*ret_bytes = total;
	return 0;
}

static int copy_and_sync(int source_fd, int destination_fd, size_t buffer_size,
			 struct copy_result *ret_result)
{
	struct copy_result result = { 0 };
	char *buffer = malloc(buffer_size);
	uint64_t start_ns = monotonic_ns();
	int error;

	if (!buffer)
		return -ENOMEM;
	error = copy_stream(source_fd, destination_fd, buffer, buffer_size, &result.bytes);
	free(buffer);
	if (error != 0)
		return error;
	result.copy_ns = monotonic_ns() - start_ns;
	if (fsync(destination_fd) != 0)
		return -errno;
	result.fsync_ns = monotonic_ns() - start_ns - result.copy_ns;
	*ret_result = result;
	return 0;
}

static int open_pair(const char *source, const char *destination, int *ret_source_fd,
		     int *ret_destination_fd)
{
	int source_fd = open(source, O_RDONLY | O_CLOEXEC);
	int destination_fd;

	if (source_fd < 0)
		return -errno;
	destination_fd = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (destination_fd < 0) {
		int error = -errno;

		close(source_fd);
		return error;
	}
	*ret_source_fd = source_fd;
	*ret_destination_fd = destination_fd;
	return 0;
}

static int copy_file(const char *source, const char *destination, size_t buffer_size,
		     struct copy_result *ret_result)
{
	int source_fd = -1, destination_fd = -1, error;

	error = open_pair(source, destination, &source_fd, &destination_fd);
	if (error != 0)
		return error;
	error = copy_and_sync(source_fd, destination_fd, buffer_size, ret_result);
	close(source_fd);
	if (close(destination_fd) != 0 && error == 0)
		error = -errno;
	return error;
}

int main(int argc, char **argv)
{
	struct copy_result result = { 0 };
	size_t buffer_size = 1024 * 1024;
	int error;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: copy_fsync SOURCE DESTINATION [BUFFER_KIB]\n");
		return 2;
	}
	if (argc == 4)
		buffer_size = strtoul(argv[3], NULL, 10) * 1024;
	if (buffer_size == 0) {
		fprintf(stderr, "copy_fsync: bad buffer size\n");
		return 2;
	}
	error = copy_file(argv[1], argv[2], buffer_size, &result);
	if (error != 0) {
		fprintf(stderr, "copy_fsync: %s -> %s: %s\n", argv[1], argv[2], strerror(-error));
		return 1;
	}
	printf("copy_fsync: bytes=%" PRIu64 " copy_ns=%" PRIu64 " fsync_ns=%" PRIu64 "\n",
	       result.bytes, result.copy_ns, result.fsync_ns);
	return 0;
}
