/* SPDX-License-Identifier: MIT */
/*
 * hold_tree: the target program of the process tree benchmark.
 *
 * Starts a tree of N processes numbered 0 (the root) to N-1, laid out as a
 * K-ary tree: process I forks processes K*I+1 to K*I+K (those below N), so
 * with the default K = 4 a tree of 100 processes has leaves at depths 3 and
 * 4 and fans of 4 (--fanout 1 makes a chain, --fanout N-1 a flat fan).
 * Every process fills DATA bytes of its own heap with a stream made from its
 * index, tells the root it is ready and waits in sigsuspend().  Once all are
 * up the root prints "ready" and waits in sigsuspend() too.
 *
 * The processes talk only with signals (no pipe between them is open at any
 * time): a descendant queues SIGRTMIN to the root with sigqueue(), its value
 * carrying the round (0: setup), the descendant's index and pass or fail;
 * the root keeps SIGRTMIN blocked and takes them with sigtimedwait().
 *
 * On SIGUSR1 the root starts a verify round: it checks its own PID and data,
 * queues SIGUSR1 (carrying the round) to every descendant at the PID that
 * reported ready, and each one checks its PID, its parent's PID and its data
 * against the stream regenerated from its index (nothing expected is kept in
 * the checked memory) and queues its verdict back.  A verdict counts only
 * from the PID expected for its index.  The root prints one line:
 *   verify: pass processes=N
 *   verify: fail processes=N reported=R bad_processes=B first_bad=I missing=M
 * (missing: descendants that sent no verdict for the round within
 * REPLY_SECONDS, e.g. dead ones: a zombie still accepts the signal.)
 *
 * Each descendant has PR_SET_PDEATHSIG SIGKILL, so the original tree goes
 * with its root; whoever ends a restored tree must end every process of it.
 *
 * Usage: hold_tree [--processes N] [--fanout K] [--data-kib D]
 * (defaults: 10 processes, fanout 4, 64 KiB of heap data each)
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "hold.h"

enum {
	MAX_PROCESSES = 10000,
	MAX_DATA_KIB = 1 << 20,
	REPLY_SECONDS = 20,  /* for each round's verdicts */
	SETUP_SECONDS = 120, /* for every descendant to be ready */
};

#define MESSAGE_SIGNAL SIGRTMIN

struct hold_config {
	unsigned process_count;
	unsigned fanout;
	size_t data_bytes;
};

/* This process's identity and data (each process has its own after fork). */
struct tree_self {
	unsigned index;
	pid_t pid;
	pid_t parent;
	pid_t root;
	uint64_t *data;
};

/* What the root knows of its descendants, by index (entry 0 is the root). */
struct tree_roster {
	pid_t *pids;
	uint32_t *reported_round; /* the last round each one answered */
};

/* The root's findings in one round (setup is round 0). */
struct round_result {
	unsigned reported;
	unsigned bad_processes;
	unsigned first_bad;
};

/* A message from a descendant to the root. */
struct tree_message {
	uint32_t round;
	unsigned index;
	bool passed;
	pid_t sender;
};

static struct hold_config config = {
	.process_count = 10,
	.fanout = 4,
	.data_bytes = 64 * 1024,
};
static struct tree_self self;

static uint64_t stream_word(unsigned index, size_t word)
{
	return hold_mix64(((uint64_t)index << 40) + word);
}

static size_t data_words(void)
{
	return config.data_bytes / sizeof(uint64_t);
}

static int fill_data(void)
{
	self.data = malloc(config.data_bytes);
	if (!self.data)
		return -ENOMEM;
	for (size_t word = 0; word < data_words(); word++)
		self.data[word] = stream_word(self.index, word);
	return 0;
}

static bool self_intact(void)
{
	if (getpid() != self.pid)
		return false;
	if (self.index != 0 && getppid() != self.parent)
		return false; /* the root's parent is outside the tree */
	for (size_t word = 0; word < data_words(); word++) {
		if (self.data[word] != stream_word(self.index, word))
			return false;
	}
	return true;
}

/* ---- Messages ------------------------------------------------------------- */

static int send_message(uint32_t round, bool passed)
{
	uint64_t packed = (uint64_t)round << 32 | (uint64_t)self.index << 1 | passed;
	union sigval value = { .sival_ptr = (void *)(uintptr_t)packed };

	return sigqueue(self.root, MESSAGE_SIGNAL, value) == 0 ? 0 : -errno;
}

static void deadline_after(int seconds, struct timespec *ret_deadline)
{
	clock_gettime(CLOCK_MONOTONIC, ret_deadline);
	ret_deadline->tv_sec += seconds;
}

/* The next message before deadline (monotonic): 0, or -EAGAIN once it passed. */
static int receive_message(const struct timespec *deadline, struct tree_message *ret_message)
{
	sigset_t message_set;
	siginfo_t info;

	sigemptyset(&message_set);
	sigaddset(&message_set, MESSAGE_SIGNAL);
	for (;;) {
		struct timespec now, left;
		uint64_t packed;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left.tv_sec = deadline->tv_sec - now.tv_sec;
		left.tv_nsec = deadline->tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000L;
		}
		if (left.tv_sec < 0)
			return -EAGAIN;
		if (sigtimedwait(&message_set, &info, &left) < 0) {
			if (errno == EINTR)
				continue; /* a handled signal, or a checkpoint's freeze */
			return -errno;
		}
		if (info.si_code != SI_QUEUE)
			continue;
		packed = (uint64_t)(uintptr_t)info.si_value.sival_ptr;
		*ret_message = (struct tree_message){
			.round = (uint32_t)(packed >> 32),
			.index = (unsigned)((uint32_t)packed >> 1),
			.passed = packed & 1,
			.sender = info.si_pid,
		};
		return 0;
	}
}

/* ---- The descendants ------------------------------------------------------ */

/*
 * Sets hold_verify_requested (hold.h): in the root to 1, a round asked for;
 * in a descendant to the round the root asked for.
 */
static void request_verify(int signal_number, siginfo_t *info, void *context)
{
	(void)signal_number;
	(void)context;
	if (self.index == 0 || info->si_code != SI_QUEUE)
		hold_verify_requested = 1;
	else
		hold_verify_requested = info->si_value.sival_int;
}

/* Becomes the child with this index: dies with its parent, has no children yet. */
static void become_child(unsigned index, pid_t parent)
{
	self.index = index;
	self.pid = getpid();
	self.parent = parent;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != parent) {
		send_message(0, false); /* the parent is gone already */
		_exit(1);
	}
}

/*
 * Forks this process's children.  Returns 0 in this process once all are
 * forked; a new child carries on in the same loop for its own children (so
 * that a deep chain does not deepen the stack), and returns 0 when done.
 */
static int fork_children(void)
{
	unsigned position = 1;

	while (position <= config.fanout) {
		uint64_t child = (uint64_t)self.index * config.fanout + position;
		pid_t pid;

		if (child >= config.process_count)
			break;
		pid = fork();
		if (pid < 0)
			return -errno;
		if (pid == 0) {
			become_child((unsigned)child, self.pid);
			position = 1;
		} else {
			position++;
		}
	}
	return 0;
}

__attribute__((noreturn)) static void serve_descendant(const sigset_t *wait_mask)
{
	for (;;) {
		uint32_t round = hold_wait_for_verify(wait_mask);

		send_message(round, self_intact());
	}
}

/* ---- The root ------------------------------------------------------------- */

/* Counts one message of this round into result (a bad one as a bad process). */
static void count_message(struct tree_roster *roster, uint32_t round,
			  const struct tree_message *message, struct round_result *result)
{
	bool known = message->index > 0 && message->index < config.process_count;

	if (message->round != round)
		return; /* late from an earlier round */
	if (round == 0 && known && roster->pids[message->index] == 0)
		roster->pids[message->index] = message->sender;
	if (!known || roster->reported_round[message->index] == round + 1)
		return; /* not one of ours, or said twice */
	if (roster->pids[message->index] != message->sender)
		return; /* the index from another PID: its own will be missing */
	roster->reported_round[message->index] = round + 1;
	result->reported++;
	if (!message->passed) {
		if (result->bad_processes == 0 || message->index < result->first_bad)
			result->first_bad = message->index;
		result->bad_processes++;
	}
}

/* Takes the messages of a round until every descendant answered or seconds passed. */
static void collect_round(struct tree_roster *roster, uint32_t round, int seconds,
			  struct round_result *result)
{
	struct timespec deadline;
	struct tree_message message = { 0 };

	deadline_after(seconds, &deadline);
	while (result->reported < config.process_count - 1 &&
	       receive_message(&deadline, &message) == 0)
		count_message(roster, round, &message, result);
}

static int start_tree(struct tree_roster *roster)
{
	struct round_result setup = { 0 };
	int error = fork_children();

	if (self.index != 0) {
		if (error == 0)
			error = fill_data();
		send_message(0, error == 0);
		return error;
	}
	if (error == 0)
		error = fill_data();
	if (error != 0)
		return error;
	collect_round(roster, 0, SETUP_SECONDS, &setup);
	if (setup.reported < config.process_count - 1 || setup.bad_processes != 0) {
		fprintf(stderr, "hold_tree: %u of %u descendants ready, %u failed their setup\n",
			setup.reported - setup.bad_processes, config.process_count - 1,
			setup.bad_processes);
		return -ECHILD;
	}
	return 0;
}

static void run_verify_round(struct tree_roster *roster, uint32_t round)
{
	struct round_result result = { 0 };

	if (!self_intact()) {
		result.bad_processes = 1;
		result.first_bad = 0;
	}
	for (unsigned index = 1; index < config.process_count; index++) {
		union sigval value = { .sival_int = (int)round };

		if (roster->pids[index] > 0) /* never 0: that would be our group */
			(void)sigqueue(roster->pids[index], SIGUSR1, value); /* gone: missing */
	}
	collect_round(roster, round, REPLY_SECONDS, &result);
	if (result.bad_processes == 0 && result.reported == config.process_count - 1)
		printf("verify: pass processes=%u\n", config.process_count);
	else
		printf("verify: fail processes=%u reported=%u bad_processes=%u first_bad=%u"
		       " missing=%u\n",
		       config.process_count, result.reported, result.bad_processes,
		       result.first_bad, config.process_count - 1 - result.reported);
	fflush(stdout);
}

__attribute__((noreturn)) static void serve_verify_requests(struct tree_roster *roster,
							    const sigset_t *wait_mask)
{
	uint32_t round = 0;

	for (;;) {
		hold_wait_for_verify(wait_mask);
		run_verify_round(roster, ++round);
	}
}

/* ---- Arguments ------------------------------------------------------------ */

static int parse_option(int option, const char *value, void *context)
{
	unsigned long long number;
	int error =
		hold_parse_number(value, 1, option == 'd' ? MAX_DATA_KIB : MAX_PROCESSES, &number);

	(void)context;
	if (error != 0)
		return error;
	switch (option) {
	case 'p':
		config.process_count = (unsigned)number;
		return 0;
	case 'f':
		config.fanout = (unsigned)number;
		return 0;
	case 'd':
		config.data_bytes = (size_t)number * 1024;
		return 0;
	default:
		return -EINVAL;
	}
}

static int parse_arguments(int argc, char **argv)
{
	static const struct option options[] = {
		{ "processes", required_argument, NULL, 'p' },
		{ "fanout", required_argument, NULL, 'f' },
		{ "data-kib", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};

	return hold_parse_arguments(argc, argv, options, parse_option, NULL);
}

int main(int argc, char **argv)
{
	struct tree_roster roster;
	sigset_t wait_mask;
	int error;

	if (parse_arguments(argc, argv) != 0) {
		fprintf(stderr,
			"usage: hold_tree [--processes N (at most %d)] [--fanout K]"
			" [--data-kib D]\n",
			MAX_PROCESSES);
		return 2;
	}
	/* Blocks SIGUSR1 and the message signal before any fork, so all inherit both. */
	if (hold_install_verify_handler(request_verify, MESSAGE_SIGNAL, &wait_mask) != 0) {
		perror("hold_tree: signal setup");
		return 1;
	}
	self.pid = self.root = getpid();
	self.parent = getppid();
	roster.pids = calloc(config.process_count, sizeof(roster.pids[0]));
	roster.reported_round = calloc(config.process_count, sizeof(roster.reported_round[0]));
	if (!roster.pids || !roster.reported_round) {
		fprintf(stderr, "hold_tree: out of memory\n");
		return 1;
	}
	fflush(stdout);
	error = start_tree(&roster);
	if (self.index != 0) {
		if (error != 0)
			_exit(1);
		serve_descendant(&wait_mask);
	}
	if (error != 0) {
		fprintf(stderr, "hold_tree: cannot start the tree: %s\n", strerror(-error));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	serve_verify_requests(&roster, &wait_mask);
}
