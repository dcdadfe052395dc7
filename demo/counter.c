/* SPDX-License-Identifier: MIT */
/*
 * counter: the program of the demo.  Every 0.2 s it prints one line
 *   count=N sum=S pid=P
 * where S is 1 + 2 + ... + N, so a restarted counter shows at a glance that
 * it carried on with its own memory (next N, matching S, same P).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define TICK_NS 200000000L

static void sleep_one_tick(void)
{
	struct timespec remaining = { .tv_sec = 0, .tv_nsec = TICK_NS };

	while (nanosleep(&remaining, &remaining) != 0 && errno == EINTR)
		continue;
}

int main(void)
{
	uint64_t count = 0;
	uint64_t sum = 0;

	for (;;) {
		count++;
		sum += count;
		printf("count=%" PRIu64 " sum=%" PRIu64 " pid=%d\n", count, sum, (int)getpid());
		fflush(stdout);
		sleep_one_tick();
	}
}
