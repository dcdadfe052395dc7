/* SPDX-License-Identifier: MIT */
/*
 * hold_threads: the target program of the thread benchmark.
 *
 * Starts N threads (small stacks).  Each fills DATA bytes of its own stack
 * and a __thread word with a stream made from its index, then waits on a
 * condition variable.  Once all wait it prints "ready" and main waits in
 * sigsuspend().
 *
 * On SIGUSR1 main starts a verify round: every thread wakes, checks its
 * tid, its __thread word and its stack data against the stream regenerated
 * from its index (nothing expected is kept in the checked memory), adds a
 * hash of its stack data to a shared checksum and waits again.  Main
 * compares the checksum with the one it computes from the indexes and
 * prints one line:
 *   verify: pass threads=N checksum=C
 *   verify: fail threads=N reported=R bad_threads=B first_bad=I checksum=C expected=E
 *
 * Usage: hold_threads [--threads N] [--stack-kib K (at least 32)] [--data-bytes B]
 * (defaults: 100 threads, 64 KiB stacks, 1024 bytes of data each)
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hold.h"

enum {
	MAX_THREADS = 100000,
	MAX_DATA_BYTES = 16384,
};

struct hold_config {
	unsigned thread_count;
	size_t stack_bytes;
	size_t data_bytes;
};

struct held_thread {
	pthread_t thread;
	unsigned index;
	pid_t tid;
};

/* What the threads share: the round to verify and what they found. */
struct verify_round {
	pthread_mutex_t mutex;
	pthread_cond_t round_started;
	pthread_cond_t thread_reported;
	uint64_t round;
	unsigned waiting;  /* threads that finished their setup */
	unsigned reported; /* threads that verified in this round */
	unsigned bad_threads;
	unsigned first_bad;
	uint64_t checksum;
};

static struct hold_config config = {
	.thread_count = 100,
	.stack_bytes = 64 * 1024,
	.data_bytes = 1024,
};
static struct verify_round shared = {
	.mutex = PTHREAD_MUTEX_INITIALIZER,
	.round_started = PTHREAD_COND_INITIALIZER,
	.thread_reported = PTHREAD_COND_INITIALIZER,
};
static __thread uint64_t thread_word;

static uint8_t stream_byte(unsigned index, size_t offset)
{
	return (uint8_t)(hold_mix64(((uint64_t)index << 32) + offset / 8) >> (8 * (offset % 8)));
}

static void fill_stream(uint8_t *data, size_t length, unsigned index)
{
	for (size_t offset = 0; offset < length; offset++)
		data[offset] = stream_byte(index, offset);
}

static uint64_t hash_bytes(const uint8_t *data, size_t length)
{
	uint64_t hash = 0xcbf29ce484222325ull;

	for (size_t offset = 0; offset < length; offset++) {
		hash ^= data[offset];
		hash *= 0x100000001b3ull;
	}
	return hash;
}

static uint64_t expected_checksum(void)
{
	uint8_t data[MAX_DATA_BYTES];
	uint64_t checksum = 0;

	for (unsigned index = 0; index < config.thread_count; index++) {
		fill_stream(data, config.data_bytes, index);
		checksum += hash_bytes(data, config.data_bytes);
	}
	return checksum;
}

/* ---- The threads ---------------------------------------------------------- */

static bool thread_intact(const struct held_thread *self, const uint8_t *data)
{
	if ((pid_t)syscall(SYS_gettid) != self->tid)
		return false;
	if (thread_word != hold_mix64(self->index))
		return false;
	for (size_t offset = 0; offset < config.data_bytes; offset++) {
		if (data[offset] != stream_byte(self->index, offset))
			return false;
	}
	return true;
}

/* With the mutex held: adds this thread's findings to the round. */
static void report_locked(const struct held_thread *self, const uint8_t *data)
{
	if (!thread_intact(self, data)) {
		if (shared.bad_threads == 0)
			shared.first_bad = self->index;
		shared.bad_threads++;
	}
	shared.checksum += hash_bytes(data, config.data_bytes);
	shared.reported++;
	pthread_cond_signal(&shared.thread_reported);
}

static void *hold_thread(void *argument)
{
	struct held_thread *self = argument;
	uint8_t data[MAX_DATA_BYTES];
	uint64_t round_seen = 0;

	self->tid = (pid_t)syscall(SYS_gettid);
	thread_word = hold_mix64(self->index);
	fill_stream(data, config.data_bytes, self->index);
	pthread_mutex_lock(&shared.mutex);
	shared.waiting++;
	pthread_cond_signal(&shared.thread_reported);
	for (;;) {
		while (shared.round == round_seen)
			pthread_cond_wait(&shared.round_started, &shared.mutex);
		round_seen = shared.round;
		report_locked(self, data);
	}
	return NULL;
}

static int start_threads(struct held_thread *threads)
{
	pthread_attr_t attributes;
	int error;

	pthread_attr_init(&attributes);
	error = pthread_attr_setstacksize(&attributes, config.stack_bytes);
	for (unsigned index = 0; index < config.thread_count && error == 0; index++) {
		threads[index].index = index;
		error = pthread_create(&threads[index].thread, &attributes, hold_thread,
				       &threads[index]);
	}
	pthread_attr_destroy(&attributes);
	if (error != 0)
		return -error;
	pthread_mutex_lock(&shared.mutex);
	while (shared.waiting < config.thread_count)
		pthread_cond_wait(&shared.thread_reported, &shared.mutex);
	pthread_mutex_unlock(&shared.mutex);
	return 0;
}

/* ---- Verify rounds (main) --------------------------------------------------- */

static void run_verify_round(uint64_t checksum_expected)
{
	bool passed;

	pthread_mutex_lock(&shared.mutex);
	shared.round++;
	shared.reported = 0;
	shared.bad_threads = 0;
	shared.checksum = 0;
	pthread_cond_broadcast(&shared.round_started);
	while (shared.reported < config.thread_count)
		pthread_cond_wait(&shared.thread_reported, &shared.mutex);
	passed = shared.bad_threads == 0 && shared.checksum == checksum_expected;
	if (passed)
		printf("verify: pass threads=%u checksum=%" PRIu64 "\n", config.thread_count,
		       shared.checksum);
	else
		printf("verify: fail threads=%u reported=%u bad_threads=%u first_bad=%u"
		       " checksum=%" PRIu64 " expected=%" PRIu64 "\n",
		       config.thread_count, shared.reported, shared.bad_threads,
		       shared.bad_threads ? shared.first_bad : 0, shared.checksum, checksum_expected);
	fflush(stdout);
	pthread_mutex_unlock(&shared.mutex);
}

static void serve_verify_requests(const sigset_t *wait_mask)
{
	uint64_t checksum_expected = expected_checksum();

	for (;;) {
		hold_wait_for_verify(wait_mask);
		run_verify_round(checksum_expected);
	}
}

/* ---- Arguments ------------------------------------------------------------ */

static int parse_option(int option, const char *value, void *context)
{
	unsigned long long number;
	int error = hold_parse_number(value, 1, option == 't' ? MAX_THREADS : 1 << 20, &number);

	(void)context;
	if (error != 0)
		return error;
	switch (option) {
	case 't':
		config.thread_count = (unsigned)number;
		return 0;
	case 'k':
		config.stack_bytes = (size_t)number * 1024;
		return 0;
	case 'd':
		if (number > MAX_DATA_BYTES)
			return -EINVAL;
		config.data_bytes = (size_t)number;
		return 0;
	default:
		return -EINVAL;
	}
}

static int parse_arguments(int argc, char **argv)
{
	static const struct option options[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "stack-kib", required_argument, NULL, 'k' },
		{ "data-bytes", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};

	if (hold_parse_arguments(argc, argv, options, parse_option, NULL) != 0)
		return -EINVAL;
	if (config.stack_bytes < 2 * MAX_DATA_BYTES)
		return -EINVAL; /* each thread keeps MAX_DATA_BYTES on its stack */
	return 0;
}

int main(int argc, char **argv)
{
	struct held_thread *threads;
	sigset_t wait_mask;
	int error;

	if (parse_arguments(argc, argv) != 0) {
		fprintf(stderr,
			"usage: hold_threads [--threads N] [--stack-kib K (at least %d)]"
			" [--data-bytes B (at most %d)]\n",
			2 * MAX_DATA_BYTES / 1024, MAX_DATA_BYTES);
		return 2;
	}
	/* Blocks SIGUSR1 before any thread starts, so all threads inherit it. */
	if (hold_install_verify_handler(NULL, 0, &wait_mask) != 0) {
		perror("hold_threads: signal setup");
		return 1;
	}
	threads = calloc(config.thread_count, sizeof(threads[0]));
	if (!threads) {
		fprintf(stderr, "hold_threads: out of memory\n");
		return 1;
	}
	error = start_threads(threads);
	if (error != 0) {
		fprintf(stderr, "hold_threads: cannot start the threads: %s\n", strerror(-error));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	serve_verify_requests(&wait_mask);
	return 0;
}
