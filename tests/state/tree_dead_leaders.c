/*
 * A session and a group whose leaders have exited.  The root makes itself
 * a child subreaper.  Child A calls setsid(), forks M and exits at once
 * (the daemon double fork): M is reparented to the root and stays in
 * session A and group A, though no process A exists any more.  Child B1
 * leads a group (setpgid(0, 0)), child B2 joins it, then B1 exits: B2
 * stays in group B1, in the root's session.  The root reaps A and B1 with
 * their exit statuses, so only M and B2 are left.  After restart each
 * process has its PID and parent (M's parent is the root), M's session
 * and group are still A, B2's group is still B1 and its session follows
 * the root's (whose leader is outside the tree), A and B1 do not exist
 * (kill gives ESRCH) while their groups do, the root is still a child
 * subreaper, each process finds its own heap bytes, and no other child
 * of the root (a stand-in for a leader, say) is left to reap.
 */
#include "state.h"

#include <limits.h>
#include <sys/prctl.h>
#include <sys/wait.h>

enum {
	SESSION_LEADER_EXIT = 21, /* A */
	GROUP_LEADER_EXIT = 22,	  /* B1 */
	SESSION_MEMBER_PASS = 31, /* M */
	GROUP_MEMBER_PASS = 32,	  /* B2 */
	HEAP_BYTES = 20000,
};

#include "tree.h"

/* This process's role and heap block (each process has its own after fork). */
static struct {
	const char *role;
	unsigned char *block;
	size_t length;
	uint64_t seed;
} self;

/* Known to every process: the ids are saved before the forks that need them. */
static pid_t root_pid;
static pid_t root_sid;
static pid_t session_leader; /* A */
static pid_t group_leader;   /* B1 */

static void build_heap(const char *role, uint64_t seed)
{
	self.role = role;
	self.seed = seed;
	self.length = HEAP_BYTES + (size_t)seed * 8;
	self.block = malloc(self.length);
	if (self.block == NULL)
		state_setup_fail("%s: malloc(%zu)", role, self.length);
	state_fill(self.block, self.length, seed);
}

static void check_heap(void)
{
	char what[64];

	snprintf(what, sizeof(what), "%s: heap block", self.role);
	state_expect_pattern(self.block, self.length, self.seed, what);
}

/* A leader that has exited must be gone: no process, not even a zombie. */
static void expect_gone(pid_t leader, const char *name)
{
	int result = kill(leader, 0);
	int error = errno;

	state_expect(result < 0 && error == ESRCH, "%s: kill(%s %d, 0) gave %d (%s), not ESRCH",
		     self.role, name, (int)leader, result, result < 0 ? strerror(error) : "exists");
}

/* ...while its group lives on in the members. */
static void expect_group_alive(pid_t group, const char *name)
{
	int result = killpg(group, 0);
	int error = errno;

	state_expect(result == 0, "%s: killpg(%s %d, 0): %s", self.role, name, (int)group,
		     strerror(error));
}

static void expect_ids(const char *role, pid_t pid, pid_t pgid, pid_t sid)
{
	state_expect(getpgid(pid) == pgid, "%s: getpgid(%d) is %d, was %d", role, (int)pid,
		     (int)getpgid(pid), (int)pgid);
	state_expect(getsid(pid) == sid, "%s: getsid(%d) is %d, was %d", role, (int)pid,
		     (int)getsid(pid), (int)sid);
}

/* Like tree_report_ready(), to a parent known by PID (getppid() may still be A). */
static void report_ready_to_root(void)
{
	if (kill(root_pid, TREE_READY_SIGNAL) != 0)
		state_setup_fail("%s: kill(root %d, SIGUSR2): %s", self.role, (int)root_pid,
				 strerror(errno));
}

/* Like tree_wait_ready(), for a child the root did not fork: returns its PID. */
static pid_t wait_ready_from_anyone(const char *role)
{
	struct timespec timeout = { .tv_sec = TREE_SETUP_SECONDS };
	sigset_t ready_set;
	siginfo_t info;

	sigemptyset(&ready_set);
	sigaddset(&ready_set, TREE_READY_SIGNAL);
	for (;;) {
		int got = sigtimedwait(&ready_set, &info, &timeout);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			state_setup_fail("%s never got ready: %s", role, strerror(errno));
		if (info.si_code == SI_USER && info.si_pid > 0)
			return info.si_pid;
	}
}

/* Reaps a leader during setup: it must have exited with status. */
static void reap_leader(pid_t leader, int status, const char *role)
{
	int got_status = 0;
	pid_t got;

	do
		got = waitpid(leader, &got_status, 0);
	while (got < 0 && errno == EINTR);
	if (got != leader)
		state_setup_fail("waitpid(%s %d) gave %d: %s", role, (int)leader, (int)got,
				 strerror(errno));
	if (!WIFEXITED(got_status) || WEXITSTATUS(got_status) != status)
		state_setup_fail("%s %d ended with status %#x, not exit %d", role, (int)leader,
				 got_status, status);
}

/* The parent in /proc/PID/stat, or -1. */
static pid_t parent_of(pid_t pid)
{
	char path[64];
	char stat[512];
	const char *after_name;
	int parent = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (state_read_file(path, stat, sizeof(stat)) <= 0)
		return -1;
	after_name = strrchr(stat, ')');
	if (after_name == NULL || sscanf(after_name, ") %*c %d", &parent) != 1)
		return -1;
	return parent;
}

/* ---- Session A: M, whose session leader A has exited ------------------ */

__attribute__((noreturn)) static void run_session_member(void)
{
	build_heap("M (in session A)", 2);
	if (getsid(0) != session_leader || getpgid(0) != session_leader)
		state_setup_fail("%s: sid %d pgid %d, expected %d", self.role, (int)getsid(0),
				 (int)getpgid(0), (int)session_leader);
	report_ready_to_root();
	state_wait_go_signal();
	state_expect(getppid() == root_pid, "%s: getppid() is %d, was the root %d", self.role,
		     (int)getppid(), (int)root_pid);
	expect_ids(self.role, 0, session_leader, session_leader);
	expect_gone(session_leader, "session leader A");
	expect_group_alive(session_leader, "group A");
	check_heap();
	tree_child_finish(SESSION_MEMBER_PASS);
}

/* A: leads a new session, forks M into it, exits without waiting. */
__attribute__((noreturn)) static void run_session_leader(void)
{
	if (setsid() < 0)
		state_setup_fail("A: setsid(): %s", strerror(errno));
	session_leader = getpid();
	if (tree_fork() == 0)
		run_session_member();
	_exit(SESSION_LEADER_EXIT);
}

/* Forks A, reaps it, and learns M's PID from its ready signal. */
static pid_t build_dead_session(void)
{
	pid_t member;

	session_leader = tree_fork();
	if (session_leader == 0)
		run_session_leader();
	reap_leader(session_leader, SESSION_LEADER_EXIT, "session leader A");
	member = wait_ready_from_anyone("M (in session A)");
	if (member == session_leader || getsid(member) != session_leader ||
	    getpgid(member) != session_leader)
		state_setup_fail("ready from %d: sid %d pgid %d, expected M in session %d",
				 (int)member, (int)getsid(member), (int)getpgid(member),
				 (int)session_leader);
	if (parent_of(member) != root_pid)
		state_setup_fail("M %d has parent %d, not the root %d (subreaper)", (int)member,
				 (int)parent_of(member), (int)root_pid);
	return member;
}

/* ---- Group B1: B2, whose group leader B1 has exited ------------------ */

/* B1: leads a group, says ready, exits when the root sends SIGUSR1. */
__attribute__((noreturn)) static void run_group_leader(void)
{
	if (setpgid(0, 0) != 0)
		state_setup_fail("B1: setpgid(0, 0): %s", strerror(errno));
	tree_report_ready();
	state_wait_go_signal();
	_exit(GROUP_LEADER_EXIT);
}

/* setpgid(pid, B1) from whichever side; losing the race is fine if B2 is in. */
static void join_group(pid_t pid, pid_t member)
{
	if (setpgid(pid, group_leader) == 0)
		return;
	if ((errno == EACCES || errno == EPERM) && getpgid(member) == group_leader)
		return;
	state_setup_fail("setpgid(%d, %d): %s", (int)pid, (int)group_leader, strerror(errno));
}

__attribute__((noreturn)) static void run_group_member(void)
{
	build_heap("B2 (in group B1)", 3);
	join_group(0, getpid());
	if (getpgid(0) != group_leader || getsid(0) != root_sid)
		state_setup_fail("%s: pgid %d sid %d, expected %d and %d", self.role,
				 (int)getpgid(0), (int)getsid(0), (int)group_leader, (int)root_sid);
	tree_report_ready();
	state_wait_go_signal();
	state_expect(getppid() == root_pid, "%s: getppid() is %d, was the root %d", self.role,
		     (int)getppid(), (int)root_pid);
	/* The root's session has its leader outside the tree: B2's follows the root's. */
	expect_ids(self.role, 0, group_leader, getsid(root_pid));
	expect_gone(group_leader, "group leader B1");
	expect_group_alive(group_leader, "group B1");
	check_heap();
	tree_child_finish(GROUP_MEMBER_PASS);
}

/* Forks B1 and B2, then lets B1 exit once B2 is in its group, and reaps it. */
static pid_t build_dead_group(void)
{
	pid_t member;

	group_leader = tree_fork();
	if (group_leader == 0)
		run_group_leader();
	tree_wait_ready(group_leader);
	member = tree_fork();
	if (member == 0)
		run_group_member();
	join_group(member, member);
	tree_wait_ready(member);
	if (kill(group_leader, STATE_GO_SIGNAL) != 0)
		state_setup_fail("kill(B1 %d, SIGUSR1): %s", (int)group_leader, strerror(errno));
	reap_leader(group_leader, GROUP_LEADER_EXIT, "group leader B1");
	if (getpgid(member) != group_leader)
		state_setup_fail("B2 %d: pgid %d after B1 exited, expected %d", (int)member,
				 (int)getpgid(member), (int)group_leader);
	return member;
}

/* ---- The root ---------------------------------------------------------- */

static void expect_subreaper(void)
{
	int value = -1;

	state_expect(prctl(PR_GET_CHILD_SUBREAPER, &value, 0, 0, 0) == 0,
		     "root: PR_GET_CHILD_SUBREAPER: %s", strerror(errno));
	state_expect(value == 1, "root: child subreaper is %d, was 1", value);
}

static void expect_no_child_left(void)
{
	int status;
	pid_t got = waitpid(-1, &status, WNOHANG);

	state_expect(got < 0 && errno == ECHILD,
		     "root: waitpid(-1) after M and B2 gave %d (status %#x, %s)", (int)got,
		     got > 0 ? status : 0, strerror(errno));
}

int main(void)
{
	pid_t members[2]; /* M, B2 */

	tree_init();
	root_pid = getpid();
	root_sid = getsid(0);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
		state_setup_fail("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	members[0] = build_dead_session();
	members[1] = build_dead_group();
	build_heap("root", 1);
	state_ready();
	state_wait_go_signal();
	/* Before passing go on, while M and B2 are surely alive. */
	expect_subreaper();
	expect_ids("root: M", members[0], session_leader, session_leader);
	expect_ids("root: B2", members[1], group_leader, getsid(0));
	expect_gone(session_leader, "session leader A");
	expect_gone(group_leader, "group leader B1");
	check_heap();
	tree_wait_go(members, 2);
	tree_expect_child_exit(members[0], SESSION_MEMBER_PASS, "M (in session A)");
	tree_expect_child_exit(members[1], GROUP_MEMBER_PASS, "B2 (in group B1)");
	expect_no_child_left();
	state_finish();
}
