/*
 * Zombies keep their process group and session.  The root's children:
 * child C leads a group (setpgid(0, 0)) and has a zombie in it; zombie A
 * led its own group before it exited; zombie B stayed in the root's group;
 * zombie D joined C's group; zombie S started a session; child G joined
 * C's group and has a zombie of its own in that group (its parent's group,
 * which its parent joined).  After restart each zombie is still a zombie
 * of the same parent and its group and session (fields 5 and 6 of
 * /proc/PID/stat) are what they were (the root's group and session, whose
 * leaders are outside the tree, as the root's are now); waitid gives each
 * its exit status.
 */
#include "state.h"

#include "tree.h"

enum {
	GROUP_JOINER = 1,
	GROUP_LEADER = 2,
	SESSION_LEADER = 3
};

struct zombie {
	const char *role;
	pid_t pid;
	int status;
	pid_t pgid; /* 0: the parent's group as it is when checked */
	pid_t sid;  /* 0: the parent's session as it is when checked */
};

static pid_t group_of_c;

static void wait_until_zombie(const struct zombie *zombie)
{
	siginfo_t info;

	memset(&info, 0, sizeof(info));
	if (waitid(P_PID, (id_t)zombie->pid, &info, WEXITED | WNOWAIT) != 0)
		state_setup_fail("waitid(%s, WNOWAIT): %s", zombie->role, strerror(errno));
	if (info.si_code != CLD_EXITED || info.si_status != zombie->status)
		state_setup_fail("%s ended with code %d status %d", zombie->role, info.si_code,
				 info.si_status);
}

/* A child that sets its group or session as asked, then exits with status. */
static void start_zombie(struct zombie *zombie, int how)
{
	pid_t child = fork();
	int ret = 0;

	if (child < 0)
		state_setup_fail("fork: %s", strerror(errno));
	if (child == 0) {
		if (how == GROUP_LEADER)
			ret = setpgid(0, 0);
		else if (how == GROUP_JOINER)
			ret = setpgid(0, group_of_c);
		else if (how == SESSION_LEADER)
			ret = setsid() < 0 ? -1 : 0;
		_exit(ret == 0 ? zombie->status : 99);
	}
	zombie->pid = child;
	wait_until_zombie(zombie);
}

/* Fields 3 to 6 of /proc/PID/stat. */
static bool read_ids(pid_t pid, char *state, int *parent, int *pgid, int *sid)
{
	char path[64], stat[512];
	const char *after_name;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (state_read_file(path, stat, sizeof(stat)) <= 0)
		return false;
	after_name = strrchr(stat, ')');
	return after_name && sscanf(after_name, ") %c %d %d %d", state, parent, pgid, sid) == 4;
}

/* Still our zombie, in its group and session; then reaped with its status. */
static void expect_zombie(const struct zombie *zombie)
{
	pid_t pgid = zombie->pgid ? zombie->pgid : getpgrp();
	pid_t sid = zombie->sid ? zombie->sid : getsid(0);
	int parent = 0, now_pgid = 0, now_sid = 0;
	char state = '?';
	siginfo_t info;

	if (!state_expect(read_ids(zombie->pid, &state, &parent, &now_pgid, &now_sid),
			  "%s %d: no stat", zombie->role, (int)zombie->pid))
		return;
	state_expect(state == 'Z' && parent == getpid(), "%s %d: state %c, parent %d", zombie->role,
		     (int)zombie->pid, state, parent);
	state_expect(now_pgid == pgid, "%s %d is in group %d, was in %d", zombie->role,
		     (int)zombie->pid, now_pgid, (int)pgid);
	state_expect(now_sid == sid, "%s %d is in session %d, was in %d", zombie->role,
		     (int)zombie->pid, now_sid, (int)sid);
	memset(&info, 0, sizeof(info));
	state_expect(waitid(P_PID, (id_t)zombie->pid, &info, WEXITED | WNOHANG) == 0 &&
			     info.si_pid == zombie->pid && info.si_code == CLD_EXITED &&
			     info.si_status == zombie->status,
		     "%s %d: waitid gave pid %d code %d status %d", zombie->role, (int)zombie->pid,
		     (int)info.si_pid, info.si_code, info.si_status);
}

/* C or G: one zombie in our own group, then wait for go. */
__attribute__((noreturn)) static void run_parent_of_zombie(const char *role, int status)
{
	struct zombie own = { role, 0, status, 0, 0 };

	own.pgid = getpgrp();
	own.sid = getsid(0);
	start_zombie(&own, 0);
	tree_report_ready();
	state_wait_go_signal();
	state_expect(getpgrp() == group_of_c, "%s is in group %d, was in %d", role, (int)getpgrp(),
		     (int)group_of_c);
	expect_zombie(&own);
	tree_child_finish(STATE_EXIT_PASS);
}

static pid_t start_live_child(const char *role, int status, bool leads)
{
	pid_t child = tree_fork();

	if (child == 0) {
		if (setpgid(0, leads ? 0 : group_of_c) != 0)
			state_setup_fail("%s: setpgid: %s", role, strerror(errno));
		if (leads)
			group_of_c = getpid();
		run_parent_of_zombie(role, status);
	}
	if (setpgid(child, leads ? child : group_of_c) != 0 && errno != EACCES)
		state_setup_fail("setpgid(%s): %s", role, strerror(errno));
	tree_wait_ready(child);
	return child;
}

int main(void)
{
	struct zombie zombies[] = {
		{ "zombie A (led its own group)", 0, 11, 0, 0 },
		{ "zombie B (in the root's group)", 0, 12, 0, 0 },
		{ "zombie D (joined C's group)", 0, 13, 0, 0 },
		{ "zombie S (led a session)", 0, 15, 0, 0 },
	};
	pid_t live[2];

	tree_init();
	live[0] = start_live_child("child C (leads a group)", 16, true);
	group_of_c = live[0];
	live[1] = start_live_child("child G (joined C's group)", 17, false);
	start_zombie(&zombies[0], GROUP_LEADER);
	zombies[0].pgid = zombies[0].pid;
	start_zombie(&zombies[1], 0);
	start_zombie(&zombies[2], GROUP_JOINER);
	zombies[2].pgid = group_of_c;
	start_zombie(&zombies[3], SESSION_LEADER);
	zombies[3].pgid = zombies[3].pid;
	zombies[3].sid = zombies[3].pid;
	state_ready();
	tree_wait_go(live, 2);
	for (size_t i = 0; i < sizeof(zombies) / sizeof(zombies[0]); i++)
		expect_zombie(&zombies[i]);
	tree_expect_child_exit(live[0], STATE_EXIT_PASS, "child C");
	tree_expect_child_exit(live[1], STATE_EXIT_PASS, "child G");
	state_finish();
}
