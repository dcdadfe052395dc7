/* SPDX-License-Identifier: MIT */
/*
 * hold.h: what the benchmark target programs (bench/hold_*.c) share.
 *
 * Each of them parses long options only, prints "ready" once set up, then
 * waits in sigsuspend() with SIGUSR1 unblocked; a SIGUSR1 asks for one
 * verify round, which ends in one "verify: ..." line on stdout.  See
 * bench/run for the other side of that protocol.
 *
 * Everything here is static inline, so a program that includes this header
 * and does not use a part of it gets no warning for it.
 */
#ifndef BENCH_HOLD_H
#define BENCH_HOLD_H

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- Verify requests ------------------------------------------------------- */

/*
 * The verify round asked for, 0 while none is.  The plain handler sets 1; a
 * program with its own SA_SIGINFO handler may store a round number instead.
 */
static volatile sig_atomic_t hold_verify_requested;

static inline void hold_request_verify(int signal_number)
{
	(void)signal_number;
	hold_verify_requested = 1;
}

/*
 * Installs the SIGUSR1 handler: info_handler with SA_SIGINFO, or
 * hold_request_verify when it is NULL.  Blocks SIGUSR1 and extra_signal
 * (0: none); call it before any thread starts or fork, so all inherit that.
 * ret_wait_mask is the mask to sigsuspend() in: SIGUSR1 unblocked,
 * extra_signal blocked.
 */
static inline int hold_install_verify_handler(void (*info_handler)(int, siginfo_t *, void *),
					      int extra_signal, sigset_t *ret_wait_mask)
{
	struct sigaction action = { .sa_handler = hold_request_verify };
	sigset_t blocked;

	if (info_handler) {
		action.sa_sigaction = info_handler;
		action.sa_flags = SA_SIGINFO;
	}
	sigemptyset(&action.sa_mask);
	if (sigaction(SIGUSR1, &action, NULL) != 0)
		return -errno;
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGUSR1);
	if (extra_signal != 0)
		sigaddset(&blocked, extra_signal);
	if (sigprocmask(SIG_BLOCK, &blocked, ret_wait_mask) != 0)
		return -errno;
	sigdelset(ret_wait_mask, SIGUSR1);
	if (extra_signal != 0)
		sigaddset(ret_wait_mask, extra_signal);
	return 0;
}

/* Waits in sigsuspend() for a verify request; returns and clears it (never 0). */
static inline uint32_t hold_wait_for_verify(const sigset_t *wait_mask)
{
	uint32_t requested;

	while (hold_verify_requested == 0)
		sigsuspend(wait_mask);
	requested = (uint32_t)hold_verify_requested;
	hold_verify_requested = 0;
	return requested;
}

/* ---- Arguments ------------------------------------------------------------- */

/* A decimal number from minimum to maximum, the whole of text: 0 or -EINVAL. */
static inline int hold_parse_number(const char *text, unsigned long long minimum,
				    unsigned long long maximum, unsigned long long *ret_value)
{
	char *end;
	unsigned long long value;

	errno = 0;
	value = strtoull(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value < minimum || value > maximum)
		return -EINVAL;
	*ret_value = value;
	return 0;
}

/* Takes one option (its val in options) and its argument: 0 or -EINVAL. */
typedef int hold_option_parser(int option, const char *value, void *context);

/*
 * Parses argv with getopt_long() and the long options given (no short ones),
 * each through parse_option (never for an unknown option: getopt_long()
 * returns '?' with no optarg).  0, or -EINVAL for a bad option or argument.
 */
static inline int hold_parse_arguments(int argc, char **argv, const struct option *options,
				       hold_option_parser *parse_option, void *context)
{
	int option;

	for (;;) {
		option = getopt_long(argc, argv, "", options, NULL);
		if (option == -1)
			break;
		if (option == '?' || parse_option(option, optarg, context) != 0)
			return -EINVAL;
	}
	return optind == argc ? 0 : -EINVAL;
}

/* ---- Data ------------------------------------------------------------------ */

/* splitmix64's finalizer: the streams the programs check their data against. */
static inline uint64_t hold_mix64(uint64_t value)
{
	value += 0x9e3779b97f4a7c15ull;
	value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ull;
	value = (value ^ (value >> 27)) * 0x94d049bb133111ebull;
	return value ^ (value >> 31);
}

#endif /* BENCH_HOLD_H */
