/*
 * A busy tree: processes come and go while it is checkpointed.  The root
 * forks short-lived children in a loop (each exits at once with a status
 * made from its sequence number; the root reaps it with waitpid and checks
 * that status), and a second child, the spawner, does the same with
 * grandchildren.  A checkpoint meets children that are being created,
 * running, exiting, zombies and reaped.  After go each loop stops and
 * checks: every child forked was reaped exactly once with its own status
 * (a zombie taken at checkpoint time comes back with its status), the
 * counters agree with their mirrors, fork and waitpid still work, no other
 * child is left, and the PIDs are what they were.
 */
#include "state.h"

#include "tree.h"

enum {
	STATUS_SPREAD = 100,
	STATUS_BASE = 2
};

struct fork_counters {
	uint64_t forked;
	uint64_t reaped;
	uint64_t status_sum; /* sum of the statuses reaped */
	uint64_t mirror;     /* forked * 3 + 1, updated with it */
};

static struct fork_counters counters;

static bool go_signal_pending(void)
{
	sigset_t pending;

	if (sigpending(&pending) != 0)
		return false;
	return sigismember(&pending, STATE_GO_SIGNAL) == 1;
}

static int status_of_child(uint64_t sequence)
{
	return STATUS_BASE + (int)(sequence % STATUS_SPREAD);
}

/* Reaps child, which must exit with expected; EINTR is retried. */
static void reap_short_lived(pid_t child, int expected)
{
	int status = 0;
	pid_t got;

	do
		got = waitpid(child, &status, 0);
	while (got < 0 && errno == EINTR);
	counters.reaped++;
	state_expect(got == child, "waitpid(%d) gave %d (%s)", (int)child, (int)got, strerror(errno));
	state_expect(WIFEXITED(status) && WEXITSTATUS(status) == expected,
		     "child %d (number %llu) ended with status %#x, expected exit %d", (int)child,
		     (unsigned long long)counters.forked, status, expected);
	counters.status_sum += (uint64_t)expected;
}

/* One child that exits at once, reaped and checked. */
static void fork_and_reap_one(void)
{
	int expected = status_of_child(counters.forked + 1);
	pid_t child = fork();

	if (child == 0)
		_exit(expected);
	if (child < 0) {
		state_expect(false, "fork: %s", strerror(errno));
		return;
	}
	counters.forked++;
	counters.mirror = counters.forked * 3 + 1;
	reap_short_lived(child, expected);
}

static void keep_forking_until_go(void)
{
	while (!go_signal_pending() && state_findings.failure_count == 0)
		fork_and_reap_one();
}

static uint64_t expected_status_sum(uint64_t count)
{
	uint64_t sum = 0;

	for (uint64_t sequence = 1; sequence <= count; sequence++)
		sum += (uint64_t)status_of_child(sequence);
	return sum;
}

static void expect_counters_agree(const char *who)
{
	state_expect(counters.forked > 0, "%s forked nothing", who);
	state_expect(counters.reaped == counters.forked, "%s reaped %llu children of %llu", who,
		     (unsigned long long)counters.reaped, (unsigned long long)counters.forked);
	state_expect(counters.mirror == counters.forked * 3 + 1, "%s: mirror %llu for %llu forked",
		     who, (unsigned long long)counters.mirror, (unsigned long long)counters.forked);
	state_expect(counters.status_sum == expected_status_sum(counters.forked),
		     "%s: statuses reaped add up to %llu, expected %llu", who,
		     (unsigned long long)counters.status_sum,
		     (unsigned long long)expected_status_sum(counters.forked));
}

/* After go: counters, then one more fork and reap, then no child left. */
static void check_after_go(const char *who)
{
	uint64_t before = counters.forked;
	int status;

	expect_counters_agree(who);
	fork_and_reap_one();
	state_expect(counters.forked == before + 1 && counters.reaped == before + 1,
		     "%s cannot fork and reap after go", who);
	state_expect(waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD,
		     "%s has a child left after its last reap", who);
}

__attribute__((noreturn)) static void run_spawner(void)
{
	tree_report_ready();
	keep_forking_until_go();
	state_wait_go_signal();
	check_after_go("the spawner");
	tree_child_finish(STATE_EXIT_PASS);
}

int main(void)
{
	pid_t spawner;

	tree_init();
	spawner = tree_fork();
	if (spawner == 0)
		run_spawner();
	tree_wait_ready(spawner);
	fork_and_reap_one();
	state_ready();
	keep_forking_until_go();
	tree_wait_go(&spawner, 1);
	tree_expect_child_exit(spawner, STATE_EXIT_PASS, "the spawner");
	check_after_go("the root");
	state_finish();
}
