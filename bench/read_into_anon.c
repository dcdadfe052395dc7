/* SPDX-License-Identifier: MIT */
/*
 * read_into_anon: the read limit of the benchmark.
 *
 * Maps fresh anonymous memory the size of FILE and read()s the file into it
 * in chunks of CHUNK_KIB (default: the whole file in one call, which the
 * kernel splits at 2 GiB).  That is what a restart must at least do with an
 * image's page data: fault in new pages and copy the bytes into them.
 * Prints one line (the time excludes process start and exit, so the 1 GiB
 * teardown, which a restored process does not pay, is not counted):
 *   read_into_anon: bytes=B read_ns=N
 *
 * Usage: read_into_anon FILE [CHUNK_KIB]
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t monotonic_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

static int read_all(int fd, char *memory, uint64_t length, uint64_t chunk)
{
	uint64_t done = 0;

	while (done < length) {
		uint64_t want = length - done < chunk ? length - done : chunk;
		ssize_t got = read(fd, memory + done, want);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return -EIO;
		done += (uint64_t)got;
	}
	return 0;
}

static int read_file_into_fresh_memory(int fd, uint64_t chunk, uint64_t *ret_bytes, uint64_t *ret_ns)
{
	struct stat status;
	uint64_t start_ns = monotonic_ns();
	char *memory;
	int error;

	if (fstat(fd, &status) != 0)
		return -errno;
	if (status.st_size <= 0)
		return -EINVAL;
	memory = mmap(NULL, (size_t)status.st_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (memory == MAP_FAILED)
		return -errno;
	error = read_all(fd, memory, (uint64_t)status.st_size, chunk);
	if (error != 0)
		return error;
	*ret_ns = monotonic_ns() - start_ns;
	*ret_bytes = (uint64_t)status.st_size;
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t chunk = UINT64_MAX, bytes = 0, elapsed_ns = 0;
	int fd, error;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: read_into_anon FILE [CHUNK_KIB]\n");
		return 2;
	}
	if (argc == 3)
		chunk = strtoull(argv[2], NULL, 10) * 1024;
	if (chunk == 0) {
		fprintf(stderr, "read_into_anon: bad chunk size\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "read_into_anon: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	error = read_file_into_fresh_memory(fd, chunk, &bytes, &elapsed_ns);
	close(fd);
	if (error != 0) {
		fprintf(stderr, "read_into_anon: %s\n", strerror(-error));
		return 1;
	}
	printf("read_into_anon: bytes=%" PRIu64 " read_ns=%" PRIu64 "\n", bytes, elapsed_ns);
	return 0;
}
