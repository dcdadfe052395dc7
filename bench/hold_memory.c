/* SPDX-License-Identifier: MIT */
/*
 * hold_memory: the target program of the memory benchmark.
 *
 * It builds three regions of anonymous private memory:
 *   random     filled with a xorshift64 stream (non-zero data to dump)
 *   zero       touched but all zero, by reading every page (the kernel maps
 *              its shared zero page) or, with --zero-fill=write, by writing
 *              zeros (real pages whose content is zero)
 *   untouched  mapped and never touched (no page behind it)
 * then prints "ready" and waits in sigsuspend().
 *
 * On SIGUSR1 it checks its memory and prints one line:
 *   verify: pass random_bytes=R zero_bytes=Z untouched_resident_pages=U
 *   verify: fail random_bad_words=N first_bad_offset=O zero_bad_pages=Z ...
 * The random region is checked word by word against the stream regenerated
 * from its seed, so nothing of the expected data lives in the checked memory.
 * The untouched region is checked with mincore() only (reading it would map
 * it); U is reported, not judged.
 *
 * Usage: hold_memory [--random-mib N] [--zero-mib N] [--untouched-mib N]
 *                    [--zero-fill read|write] [--seed N]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hold.h"

#define MIB (1024ull * 1024ull)

enum zero_fill_mode {
	ZERO_FILL_READ,	 /* read each page: maps the kernel's zero page */
	ZERO_FILL_WRITE, /* write zeros: allocates real zeroed pages */
};

struct hold_config {
	uint64_t random_bytes;
	uint64_t zero_bytes;
	uint64_t untouched_bytes;
	enum zero_fill_mode zero_fill;
	uint64_t seed;
};

struct memory_regions {
	uint64_t *random_words;
	volatile uint8_t *zero_bytes;
	uint8_t *untouched_bytes;
};

struct verify_result {
	uint64_t random_bad_words;
	uint64_t first_bad_offset;
	uint64_t zero_bad_pages;
	uint64_t untouched_resident_pages;
	int mincore_error;
};

static uint64_t next_xorshift64(uint64_t *state)
{
	uint64_t value = *state;

	value ^= value << 13;
	value ^= value >> 7;
	value ^= value << 17;
	*state = value;
	return value;
}

static uint64_t page_size(void)
{
	return (uint64_t)sysconf(_SC_PAGESIZE);
}

static void *map_anonymous(uint64_t length)
{
	void *address;

	if (length == 0)
		return NULL;
	address = mmap(NULL, length, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (address == MAP_FAILED)
		return NULL;
	return address;
}

static void fill_random(uint64_t *words, uint64_t word_count, uint64_t seed)
{
	uint64_t state = seed;

	for (uint64_t index = 0; index < word_count; index++)
		words[index] = next_xorshift64(&state);
}

static void touch_zero_region(volatile uint8_t *bytes, uint64_t length, enum zero_fill_mode mode)
{
	uint64_t step = page_size();
	uint8_t sink = 0;

	if (mode == ZERO_FILL_WRITE) {
		memset((uint8_t *)(uintptr_t)bytes, 0, length);
		return;
	}
	for (uint64_t offset = 0; offset < length; offset += step)
		sink |= bytes[offset];
	if (sink != 0)
		fprintf(stderr, "hold_memory: fresh mapping is not zero\n");
}

static int build_regions(const struct hold_config *config, struct memory_regions *ret_regions)
{
	struct memory_regions regions = { 0 };

	regions.random_words = map_anonymous(config->random_bytes);
	regions.zero_bytes = map_anonymous(config->zero_bytes);
	regions.untouched_bytes = map_anonymous(config->untouched_bytes);
	if ((config->random_bytes && !regions.random_words) ||
	    (config->zero_bytes && !regions.zero_bytes) ||
	    (config->untouched_bytes && !regions.untouched_bytes))
		return -ENOMEM;
	fill_random(regions.random_words, config->random_bytes / sizeof(uint64_t), config->seed);
	touch_zero_region(regions.zero_bytes, config->zero_bytes, config->zero_fill);
	*ret_regions = regions;
	return 0;
}

static void check_random(const uint64_t *words, uint64_t word_count, uint64_t seed,
			 struct verify_result *result)
{
	uint64_t state = seed;

	for (uint64_t index = 0; index < word_count; index++) {
		if (words[index] == next_xorshift64(&state))
			continue;
		if (result->random_bad_words == 0)
			result->first_bad_offset = index * sizeof(uint64_t);
		result->random_bad_words++;
	}
}

static bool page_is_zero(const volatile uint8_t *page, uint64_t length)
{
	const volatile uint64_t *words = (const volatile uint64_t *)page;

	for (uint64_t index = 0; index < length / sizeof(uint64_t); index++) {
		if (words[index] != 0)
			return false;
	}
	return true;
}

static void check_zero(const volatile uint8_t *bytes, uint64_t length, struct verify_result *result)
{
	uint64_t step = page_size();

	for (uint64_t offset = 0; offset < length; offset += step) {
		if (!page_is_zero(bytes + offset, step))
			result->zero_bad_pages++;
	}
}

static void count_resident_pages(uint8_t *bytes, uint64_t length, struct verify_result *result)
{
	uint64_t page_count = length / page_size();
	unsigned char *residency;

	if (page_count == 0)
		return;
	residency = malloc(page_count);
	if (!residency) {
		result->mincore_error = ENOMEM;
		return;
	}
	if (mincore(bytes, length, residency) != 0) {
		result->mincore_error = errno;
		free(residency);
		return;
	}
	for (uint64_t index = 0; index < page_count; index++)
		result->untouched_resident_pages += residency[index] & 1;
	free(residency);
}

static void report_verify(const struct hold_config *config, const struct verify_result *result)
{
	bool passed = result->random_bad_words == 0 && result->zero_bad_pages == 0;

	if (passed) {
		printf("verify: pass random_bytes=%" PRIu64 " zero_bytes=%" PRIu64
		       " untouched_resident_pages=%" PRIu64 " mincore_error=%d\n",
		       config->random_bytes, config->zero_bytes, result->untouched_resident_pages,
		       result->mincore_error);
	} else {
		printf("verify: fail random_bad_words=%" PRIu64 " first_bad_offset=%" PRIu64
		       " zero_bad_pages=%" PRIu64 " untouched_resident_pages=%" PRIu64 "\n",
		       result->random_bad_words, result->first_bad_offset, result->zero_bad_pages,
		       result->untouched_resident_pages);
	}
	fflush(stdout);
}

static void verify_regions(const struct hold_config *config, const struct memory_regions *regions)
{
	struct verify_result result = { 0 };

	check_random(regions->random_words, config->random_bytes / sizeof(uint64_t), config->seed,
		     &result);
	check_zero(regions->zero_bytes, config->zero_bytes, &result);
	count_resident_pages(regions->untouched_bytes, config->untouched_bytes, &result);
	report_verify(config, &result);
}

static void serve_verify_requests(const struct hold_config *config,
				  const struct memory_regions *regions, const sigset_t *wait_mask)
{
	for (;;) {
		hold_wait_for_verify(wait_mask);
		verify_regions(config, regions);
	}
}

static int parse_mib(const char *text, uint64_t *ret_bytes)
{
	unsigned long long mib;

	if (hold_parse_number(text, 0, 1ull << 30, &mib) != 0)
		return -EINVAL;
	*ret_bytes = mib * MIB;
	return 0;
}

static int parse_zero_fill(const char *text, enum zero_fill_mode *ret_mode)
{
	if (strcmp(text, "read") == 0) {
		*ret_mode = ZERO_FILL_READ;
		return 0;
	}
	if (strcmp(text, "write") == 0) {
		*ret_mode = ZERO_FILL_WRITE;
		return 0;
	}
	return -EINVAL;
}

static int parse_option(int option, const char *value, void *context)
{
	struct hold_config *config = context;

	switch (option) {
	case 'r':
		return parse_mib(value, &config->random_bytes);
	case 'z':
		return parse_mib(value, &config->zero_bytes);
	case 'u':
		return parse_mib(value, &config->untouched_bytes);
	case 'f':
		return parse_zero_fill(value, &config->zero_fill);
	case 's':
		config->seed = strtoull(value, NULL, 0);
		return config->seed == 0 ? -EINVAL : 0;
	default:
		return -EINVAL;
	}
}

static int parse_arguments(int argc, char **argv, struct hold_config *config)
{
	static const struct option options[] = {
		{ "random-mib", required_argument, NULL, 'r' },
		{ "zero-mib", required_argument, NULL, 'z' },
		{ "untouched-mib", required_argument, NULL, 'u' },
		{ "zero-fill", required_argument, NULL, 'f' },
		{ "seed", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};

	return hold_parse_arguments(argc, argv, options, parse_option, config);
}

int main(int argc, char **argv)
{
	struct hold_config config = {
		.random_bytes = 1024 * MIB,
		.zero_bytes = 1024 * MIB,
		.untouched_bytes = 4096 * MIB,
		.zero_fill = ZERO_FILL_READ,
		.seed = 0x9e3779b97f4a7c15ull,
	};
	struct memory_regions regions;
	sigset_t wait_mask;

	if (parse_arguments(argc, argv, &config) != 0) {
		fprintf(stderr, "usage: hold_memory [--random-mib N] [--zero-mib N]"
				" [--untouched-mib N] [--zero-fill read|write]"
				" [--seed N]\n");
		return 2;
	}
	if (hold_install_verify_handler(NULL, 0, &wait_mask) != 0) {
		perror("hold_memory: signal setup");
		return 1;
	}
	if (build_regions(&config, &regions) != 0) {
		fprintf(stderr, "hold_memory: cannot map memory\n");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	serve_verify_requests(&config, &regions, &wait_mask);
	return 0;
}
