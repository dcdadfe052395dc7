/*
 * A session on a pseudo-terminal, both ends in the tree.  The root holds
 * the master (fd 5); its child, the leader, starts a session (setsid()),
 * takes the slave (fd 6) as its controlling terminal with TIOCSCTTY and
 * forks a job that leads a process group of its own, which the leader puts
 * in the foreground (tcsetpgrp()).  After restart (the pts number may
 * differ): tcgetpgrp() on the slave is the job's group in the leader and
 * the job, TIOCGPGRP on the master says so too, the slave is the leader's
 * controlling terminal (tty_nr of /proc/PID/stat), ttyname() works,
 * and ^C written to the master reaches the job as SIGINT (and not the
 * leader).
 */
#include "state.h"

#include <limits.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>

#include "tree.h"

enum {
	MASTER = 5,
	SLAVE = 6,
	SIGNAL_SECONDS = 10
};

static void open_master(void)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY);

	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
		state_setup_fail("posix_openpt: %s", strerror(errno));
	if (dup2(master, MASTER) != MASTER)
		state_setup_fail("dup2: %s", strerror(errno));
	close(master);
}

static void take_terminal(void)
{
	int slave;

	if (setsid() < 0)
		state_setup_fail("setsid: %s", strerror(errno));
	slave = open(ptsname(MASTER), O_RDWR | O_NOCTTY);
	if (slave < 0 || dup2(slave, SLAVE) != SLAVE || ioctl(SLAVE, TIOCSCTTY, 0) < 0)
		state_setup_fail("taking %s as controlling terminal: %s", ptsname(MASTER),
				 strerror(errno));
	close(slave);
	close(MASTER);
}

/* The controlling terminal's device number, field tty_nr of /proc/self/stat. */
static unsigned long controlling_terminal(void)
{
	char text[1024] = "";
	const char *end;
	unsigned long number = 0;

	state_read_file("/proc/self/stat", text, sizeof(text));
	end = strrchr(text, ')');
	if (end)
		sscanf(end + 1, " %*c %*d %*d %*d %lu", &number);
	return number;
}

static void expect_terminal(const char *role, pid_t foreground)
{
	char name[64] = "";
	struct stat slave_stat;

	state_expect(tcgetpgrp(SLAVE) == foreground, "%s: tcgetpgrp() is %d, expected %d", role,
		     (int)tcgetpgrp(SLAVE), (int)foreground);
	state_expect(ttyname_r(SLAVE, name, sizeof(name)) == 0 && strncmp(name, "/dev/pts/", 9) == 0,
		     "%s: ttyname of the slave: %s", role, name);
	fstat(SLAVE, &slave_stat);
	state_expect(controlling_terminal() == slave_stat.st_rdev,
		     "%s: controlling terminal %#lx, not the slave %#lx", role,
		     controlling_terminal(), (unsigned long)slave_stat.st_rdev);
}

/* The job: its own group, in the foreground; SIGINT blocked so that ^C waits for it. */
static void run_job(void)
{
	struct timespec timeout = { .tv_sec = SIGNAL_SECONDS };
	sigset_t interrupt;

	sigemptyset(&interrupt);
	sigaddset(&interrupt, SIGINT);
	sigprocmask(SIG_BLOCK, &interrupt, NULL);
	if (setpgid(0, 0) < 0)
		state_setup_fail("setpgid: %s", strerror(errno));
	tree_report_ready();
	state_wait_go_signal();
	expect_terminal("job", getpid());
	state_expect(sigtimedwait(&interrupt, NULL, &timeout) == SIGINT,
		     "job: no SIGINT from ^C: %s", strerror(errno));
	tree_child_finish(0);
}

static void run_leader(void)
{
	sigset_t interrupt;
	pid_t job;

	take_terminal();
	sigemptyset(&interrupt);
	sigaddset(&interrupt, SIGINT);
	sigprocmask(SIG_BLOCK, &interrupt, NULL);
	job = tree_fork();
	if (job == 0)
		run_job();
	tree_wait_ready(job);
	if (setpgid(job, job) < 0 && errno != EACCES)
		state_setup_fail("setpgid(job): %s", strerror(errno));
	if (tcsetpgrp(SLAVE, job) < 0)
		state_setup_fail("tcsetpgrp: %s", strerror(errno));
	tree_report_ready();
	tree_wait_go(&job, 1);
	expect_terminal("leader", job);
	state_expect(getsid(0) == getpid(), "leader: session %d", (int)getsid(0));
	tree_expect_child_exit(job, 0, "job");
	sigpending(&interrupt);
	state_expect(!sigismember(&interrupt, SIGINT), "leader: SIGINT reached a background group");
	tree_child_finish(0);
}

int main(void)
{
	pid_t leader, foreground = -1;
	char interrupt = 0x03;

	tree_init();
	open_master();
	leader = tree_fork();
	if (leader == 0)
		run_leader();
	tree_wait_ready(leader);
	state_ready();
	tree_wait_go(&leader, 1);
	ioctl(MASTER, TIOCGPGRP, &foreground);
	state_expect(foreground > 0 && foreground != leader, "master: foreground group %d",
		     (int)foreground);
	state_expect(write(MASTER, &interrupt, 1) == 1, "writing ^C to the master: %s",
		     strerror(errno));
	tree_expect_child_exit(leader, 0, "leader");
	state_finish();
}
