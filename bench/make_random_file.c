/* SPDX-License-Identifier: MIT */
/*
 * make_random_file: writes MIB mebibytes of xorshift64 data to PATH, the
 * pre-made source of the benchmark's write limit (much faster than
 * /dev/urandom, and just as incompressible for our purpose).
 *
 * Usage: make_random_file PATH MIB
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WORDS_PER_BLOCK (128u * 1024u) /* 1 MiB of uint64_t */

static uint64_t next_xorshift64(uint64_t *state)
{
	uint64_t value = *state;

	value ^= value << 13;
	value ^= value >> 7;
	value ^= value << 17;
	*state = value;
	return value;
}

static int write_all(int fd, const void *data, size_t length)
{
	const char *cursor = data;

	while (length > 0) {
		ssize_t written = write(fd, cursor, length);

		if (written < 0 && errno == EINTR)
			continue;
		if (written <= 0)
			return written < 0 ? -errno : -EIO;
		cursor += written;
		length -= (size_t)written;
	}
	return 0;
}

static int write_random_blocks(int fd, uint64_t block_count)
{
	static uint64_t block[WORDS_PER_BLOCK];
	uint64_t state = 0x2545f4914f6cdd1dull;

	for (uint64_t block_index = 0; block_index < block_count; block_index++) {
		int error;

		for (uint32_t word = 0; word < WORDS_PER_BLOCK; word++)
			block[word] = next_xorshift64(&state);
		error = write_all(fd, block, sizeof(block));
		if (error != 0)
			return error;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t mib;
	int fd, error;

	if (argc != 3) {
		fprintf(stderr, "usage: make_random_file PATH MIB\n");
		return 2;
	}
	mib = strtoull(argv[2], NULL, 10);
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "make_random_file: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	error = write_random_blocks(fd, mib);
	if (close(fd) != 0 && error == 0)
		error = -errno;
	if (error != 0) {
		fprintf(stderr, "make_random_file: %s: %s\n", argv[1], strerror(-error));
		return 1;
	}
	return 0;
}
