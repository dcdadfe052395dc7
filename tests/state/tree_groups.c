/*
 * Process groups and sessions inside the tree.  Child 1 leads its own
 * group (setpgid(0, 0)) and its child stays in it; child 3 joins child 1's
 * group; child 2 leads a new session (setsid()), in which grandchild 2
 * leads a group that grandchild 3 joins; child 4 stays in the root's
 * group.  After restart each process has its PID, parent, group and
 * session (the root's group and session, whose leaders are outside the
 * tree, become whatever the root's are), and a signal sent to each group
 * with killpg() reaches exactly its members: that is how go travels, and
 * a process that misses it is reported after 10 s.
 */
#include "state.h"

#include <limits.h>
#include <sys/wait.h>

enum {
	CHILD_COUNT = 4,
	GO_SECONDS = 10
};

#include "tree.h"

struct member {
	const char *role;
	pid_t pid;
};

/* Ids of this process at ready time, and the root's at start (copied by fork). */
static struct {
	const char *role;
	pid_t parent;
	pid_t pgid;
	pid_t sid;
} self;
static pid_t root_pid;
static pid_t root_pgid;
static pid_t root_sid;

static void record_self(const char *role)
{
	self.role = role;
	self.parent = getppid();
	self.pgid = getpgid(0);
	self.sid = getsid(0);
}

static void expect_setup_ids(pid_t pgid, pid_t sid)
{
	if (getpgid(0) != pgid || getsid(0) != sid)
		state_setup_fail("%s: pgid %d sid %d, expected %d and %d", self.role,
				 (int)getpgid(0), (int)getsid(0), (int)pgid, (int)sid);
}

/* An id that was the root's (its leader is outside the tree) follows the root. */
static pid_t expected_id(pid_t before, pid_t root_before, pid_t root_now)
{
	return before == root_before ? root_now : before;
}

static void check_own_ids(void)
{
	state_expect(getppid() == self.parent, "%s: getppid() is %d, was %d", self.role,
		     (int)getppid(), (int)self.parent);
	state_expect(getpgid(0) == expected_id(self.pgid, root_pgid, getpgid(root_pid)),
		     "%s: pgid is %d, was %d (root's %d, now %d)", self.role, (int)getpgid(0),
		     (int)self.pgid, (int)root_pgid, (int)getpgid(root_pid));
	state_expect(getsid(0) == expected_id(self.sid, root_sid, getsid(root_pid)),
		     "%s: sid is %d, was %d (root's %d, now %d)", self.role, (int)getsid(0),
		     (int)self.sid, (int)root_sid, (int)getsid(root_pid));
}

static void send_go(pid_t target, bool to_group)
{
	int result = to_group ? killpg(target, STATE_GO_SIGNAL) : kill(target, STATE_GO_SIGNAL);

	state_expect(result == 0, "%s: sending go to %s %d: %s", self.role,
		     to_group ? "group" : "process", (int)target, strerror(errno));
}

/* Reaps whichever members have ended; true once all have. */
static bool reap_ended(const struct member *members, size_t count, bool *reaped)
{
	bool all_reaped = true;

	for (size_t index = 0; index < count; index++) {
		int status = 0;
		pid_t got;

		if (reaped[index])
			continue;
		got = waitpid(members[index].pid, &status, WNOHANG);
		if (got == 0) {
			all_reaped = false;
			continue;
		}
		reaped[index] = true;
		if (state_expect(got == members[index].pid, "waitpid(%s) gave %d (%s)",
				 members[index].role, (int)got, strerror(errno)))
			tree_expect_exit_status(got, status, STATE_EXIT_PASS, members[index].role);
	}
	return all_reaped;
}

static void give_up_on(const struct member *members, size_t count, const bool *reaped)
{
	for (size_t index = 0; index < count; index++) {
		if (reaped[index])
			continue;
		state_expect(false, "%s %d never ended: the go sent to its group missed it",
			     members[index].role, (int)members[index].pid);
		kill(members[index].pid, SIGKILL);
		waitpid(members[index].pid, NULL, 0);
	}
}

/* Reaps the children as they end (SIGCHLD is blocked), for at most 10 s after the last. */
static void reap_within_deadline(const struct member *members, size_t count)
{
	struct timespec timeout = { .tv_sec = GO_SECONDS };
	bool reaped[CHILD_COUNT] = { false };
	sigset_t child_set;

	sigemptyset(&child_set);
	sigaddset(&child_set, SIGCHLD);
	while (!reap_ended(members, count, reaped)) {
		if (sigtimedwait(&child_set, NULL, &timeout) < 0 && errno == EAGAIN) {
			give_up_on(members, count, reaped);
			return;
		}
	}
}

static pid_t start_member(const char *role, void (*run)(const char *role))
{
	pid_t child = tree_fork();

	if (child == 0) {
		self.role = role;
		run(role);
	}
	tree_wait_ready(child);
	return child;
}

/* A member without children: waits for the go sent to its group, checks, exits. */
__attribute__((noreturn)) static void finish_leaf(const char *role)
{
	record_self(role);
	tree_report_ready();
	state_wait_go_signal();
	check_own_ids();
	tree_child_finish(STATE_EXIT_PASS);
}

static void run_root_group_member(const char *role)
{
	expect_setup_ids(root_pgid, root_sid);
	finish_leaf(role);
}

static pid_t group_one_leader; /* child 1, known to the children forked after it */
static pid_t group_two_leader; /* grandchild 2, known to grandchild 3 */

static void run_group_one_member(const char *role)
{
	if (setpgid(0, group_one_leader) != 0)
		state_setup_fail("%s: setpgid(0, %d): %s", role, (int)group_one_leader,
				 strerror(errno));
	expect_setup_ids(group_one_leader, root_sid);
	finish_leaf(role);
}

static void run_group_two_leader(const char *role)
{
	if (setpgid(0, 0) != 0)
		state_setup_fail("%s: setpgid(0, 0): %s", role, strerror(errno));
	expect_setup_ids(getpid(), getppid());
	finish_leaf(role);
}

static void run_group_two_member(const char *role)
{
	if (setpgid(0, group_two_leader) != 0)
		state_setup_fail("%s: setpgid(0, %d): %s", role, (int)group_two_leader,
				 strerror(errno));
	expect_setup_ids(group_two_leader, getppid());
	finish_leaf(role);
}

/* Child 1: leads a group that its own child stays in. */
static void run_group_one_leader(const char *role)
{
	struct member children[1];

	if (setpgid(0, 0) != 0)
		state_setup_fail("%s: setpgid(0, 0): %s", role, strerror(errno));
	expect_setup_ids(getpid(), root_sid);
	group_one_leader = getpid();
	children[0] = (struct member){ "grandchild 1 (in child 1's group)", 0 };
	children[0].pid = start_member(children[0].role, run_group_one_member);
	record_self(role);
	tree_report_ready();
	state_wait_go_signal();
	check_own_ids();
	reap_within_deadline(children, 1);
	tree_child_finish(STATE_EXIT_PASS);
}

/* Child 2: leads a session with two grandchildren in a group of their own. */
static void run_session_leader(const char *role)
{
	struct member children[2];

	if (setsid() < 0)
		state_setup_fail("%s: setsid(): %s", role, strerror(errno));
	children[0] = (struct member){ "grandchild 2 (leads a group in child 2's session)", 0 };
	children[0].pid = start_member(children[0].role, run_group_two_leader);
	group_two_leader = children[0].pid;
	children[1] = (struct member){ "grandchild 3 (in grandchild 2's group)", 0 };
	children[1].pid = start_member(children[1].role, run_group_two_member);
	record_self(role);
	tree_report_ready();
	state_wait_go_signal();
	check_own_ids();
	send_go(group_two_leader, true);
	reap_within_deadline(children, 2);
	tree_child_finish(STATE_EXIT_PASS);
}

static void block_child_signal(void)
{
	sigset_t child_set;

	sigemptyset(&child_set);
	sigaddset(&child_set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &child_set, NULL) != 0)
		state_setup_fail("sigprocmask: %s", strerror(errno));
}

int main(void)
{
	struct member children[CHILD_COUNT] = {
		{ "child 1 (leads a group)", 0 },
		{ "child 2 (leads a session)", 0 },
		{ "child 3 (in child 1's group)", 0 },
		{ "child 4 (in the root's group)", 0 },
	};

	tree_init();
	block_child_signal();
	root_pid = getpid();
	root_pgid = getpgid(0);
	root_sid = getsid(0);
	if (root_pgid == root_pid || root_sid == root_pid)
		state_skip("the root leads its own group or session here");
	children[0].pid = start_member(children[0].role, run_group_one_leader);
	group_one_leader = children[0].pid;
	children[1].pid = start_member(children[1].role, run_session_leader);
	children[2].pid = start_member(children[2].role, run_group_one_member);
	children[3].pid = start_member(children[3].role, run_root_group_member);
	state_ready();
	state_wait_go_signal();
	send_go(group_one_leader, true); /* children 1 and 3, grandchild 1 */
	send_go(children[1].pid, true);	 /* child 2 alone leads its group */
	send_go(children[3].pid, false); /* child 4: the root's group is not ours */
	reap_within_deadline(children, CHILD_COUNT);
	state_finish();
}
