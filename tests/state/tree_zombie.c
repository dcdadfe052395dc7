/*
 * Zombies at checkpoint time.  The root has two children that have ended
 * and not been reaped: one exited with 42, one was killed by SIGTERM; and
 * a live child that has a zombie of its own (exited with 7).  After
 * restart each zombie is still a zombie of the same parent ("Z" in
 * /proc/PID/stat), waitid(WNOHANG) gives its PID with CLD_EXITED and 42
 * (or 7), or CLD_KILLED and SIGTERM without a core dump, and then no
 * child is left to wait for.
 */
#include "state.h"

#include <limits.h>
#include <sys/wait.h>

enum {
	EXITED_STATUS = 42,
	GRANDCHILD_STATUS = 7,
	KILLING_SIGNAL = SIGTERM,
};

#include "tree.h"

struct expected_end {
	const char *role;
	pid_t pid;
	int code;   /* CLD_EXITED or CLD_KILLED */
	int status; /* exit status or signal number */
};

static pid_t start_exiting_child(int exit_status)
{
	pid_t child = tree_fork();

	if (child == 0)
		_exit(exit_status);
	return child;
}

static pid_t start_killed_child(void)
{
	pid_t child = tree_fork();
	sigset_t only;

	if (child != 0)
		return child;
	signal(KILLING_SIGNAL, SIG_DFL);
	sigemptyset(&only);
	sigaddset(&only, KILLING_SIGNAL);
	sigprocmask(SIG_UNBLOCK, &only, NULL);
	kill(getpid(), KILLING_SIGNAL);
	_exit(3); /* not reached */
}

/* Blocks until child has ended, without reaping it (WNOWAIT). */
static void wait_until_zombie(const struct expected_end *end)
{
	siginfo_t info;

	memset(&info, 0, sizeof(info));
	if (waitid(P_PID, (id_t)end->pid, &info, WEXITED | WNOWAIT) != 0)
		state_setup_fail("waitid(%s, WNOWAIT): %s", end->role, strerror(errno));
	if (info.si_code != end->code || info.si_status != end->status)
		state_setup_fail("%s ended with code %d status %d", end->role, info.si_code,
				 info.si_status);
}

/* /proc/PID/stat: the state letter and the parent. */
static void expect_zombie_of_mine(const struct expected_end *end)
{
	char path[64];
	char stat[512];
	char state = '?';
	int parent = 0;
	const char *after_name;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)end->pid);
	if (!state_expect(state_read_file(path, stat, sizeof(stat)) > 0, "%s %d: no %s", end->role,
			  (int)end->pid, path))
		return;
	after_name = strrchr(stat, ')');
	if (after_name != NULL)
		sscanf(after_name, ") %c %d", &state, &parent);
	state_expect(state == 'Z', "%s %d is in state %c, not a zombie", end->role, (int)end->pid,
		     state);
	state_expect(parent == getpid(), "%s %d has parent %d, not %d", end->role, (int)end->pid,
		     parent, (int)getpid());
}

/* Reaps a zombie: it must be one already (WNOHANG) and end as it did. */
static void expect_reaped(const struct expected_end *end)
{
	siginfo_t info;
	int result;

	memset(&info, 0, sizeof(info));
	result = waitid(P_PID, (id_t)end->pid, &info, WEXITED | WNOHANG);
	if (!state_expect(result == 0 && info.si_pid == end->pid,
			  "waitid(%s %d, WNOHANG) gave %d, pid %d (%s)", end->role, (int)end->pid,
			  result, (int)info.si_pid, strerror(errno)))
		return;
	state_expect(info.si_code == end->code && info.si_status == end->status,
		     "%s %d ended with code %d status %d, was code %d status %d", end->role,
		     (int)end->pid, info.si_code, info.si_status, end->code, end->status);
	state_expect(info.si_uid == getuid(), "%s %d: si_uid is %d", end->role, (int)end->pid,
		     (int)info.si_uid);
}

static void expect_no_child_left(void)
{
	int status;
	pid_t got = waitpid(-1, &status, WNOHANG);

	state_expect(got < 0 && errno == ECHILD, "waitpid(-1) after the last child gave %d (%s)",
		     (int)got, strerror(errno));
}

/* The live child: keeps its own zombie until go, then reaps it. */
__attribute__((noreturn)) static void run_parent_of_zombie(void)
{
	struct expected_end grandchild = { "grandchild", 0, CLD_EXITED, GRANDCHILD_STATUS };

	grandchild.pid = start_exiting_child(GRANDCHILD_STATUS);
	wait_until_zombie(&grandchild);
	tree_report_ready();
	state_wait_go_signal();
	expect_zombie_of_mine(&grandchild);
	expect_reaped(&grandchild);
	expect_no_child_left();
	tree_child_finish(STATE_EXIT_PASS);
}

int main(void)
{
	struct expected_end exited = { "exited child", 0, CLD_EXITED, EXITED_STATUS };
	struct expected_end killed = { "killed child", 0, CLD_KILLED, KILLING_SIGNAL };
	pid_t live_child;

	tree_init();
	exited.pid = start_exiting_child(EXITED_STATUS);
	killed.pid = start_killed_child();
	wait_until_zombie(&exited);
	wait_until_zombie(&killed);
	live_child = tree_fork();
	if (live_child == 0)
		run_parent_of_zombie();
	tree_wait_ready(live_child);
	state_ready();
	tree_wait_go(&live_child, 1);
	expect_zombie_of_mine(&exited);
	expect_zombie_of_mine(&killed);
	expect_reaped(&killed);
	expect_reaped(&exited);
	tree_expect_child_exit(live_child, STATE_EXIT_PASS, "live child");
	expect_no_child_left();
	state_finish();
}
