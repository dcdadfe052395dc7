# Locks and timers ckpt cannot restore exactly: a flock on stdout (a pipe
# from outside the tree, taken over at restart, so the lock would be lost),
# a POSIX lock in an fd table shared with a clone(CLONE_FILES) child, and
# a CLOCK_THREAD_CPUTIME_ID POSIX timer in a process with two threads
# (/proc does not say which thread's CPU time it counts).  Each checkpoint
# must refuse with one line naming what it refuses, exit 1, write nothing,
# and leave the process running with its lock or timer.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
program=$case_dir/lock_holder
cat >"$case_dir/lock_holder.c" <<'EOF'
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *idle(void *unused)
{
	(void)unused;
	for (;;)
		pause();
	return NULL;
}

static char child_stack[65536];
static char lock_path[] = "/tmp/ckpt-lock-XXXXXX";
static pid_t sharer;

static int idle_child(void *unused)
{
	(void)unused;
	for (;;)
		pause();
	return 0;
}

/* A POSIX write lock on bytes 0-9 of a scratch file, and a child sharing the fd table. */
static int lock_shared_table(void)
{
	struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 10 };
	int fd = mkstemp(lock_path);

	if (fd < 0 || fcntl(fd, F_SETLK, &lock) != 0)
		return -1;
	sharer = clone(idle_child, child_stack + sizeof(child_stack), CLONE_FILES | SIGCHLD, NULL);
	return sharer < 0 ? -1 : 0;
}

static int build(const char *how, timer_t *timer)
{
	struct sigevent none = { .sigev_notify = SIGEV_NONE };
	struct itimerspec far = { .it_value = { .tv_sec = 3600 } };
	pthread_t thread;

	if (strcmp(how, "stdout") == 0)
		return flock(1, LOCK_EX | LOCK_NB);
	if (strcmp(how, "clone-files") == 0)
		return lock_shared_table();
	if (pthread_create(&thread, NULL, idle, NULL) != 0 ||
	    timer_create(CLOCK_THREAD_CPUTIME_ID, &none, timer) != 0)
		return -1;
	return timer_settime(*timer, 0, &far, NULL);
}

static int still_there(const char *how, timer_t timer)
{
	struct itimerspec left;

	if (strcmp(how, "stdout") == 0)
		return flock(1, LOCK_EX | LOCK_NB) == 0;
	if (strcmp(how, "clone-files") == 0) {
		struct flock probe = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 10 };
		int ok = fcntl(3, F_GETLK, &probe) == 0;	/* our own lock: reported free to us */

		kill(sharer, SIGKILL);
		waitpid(sharer, NULL, 0);
		unlink(lock_path);
		return ok;
	}
	return timer_gettime(timer, &left) == 0 && left.it_value.tv_sec > 0;
}

int main(int argc, char **argv)
{
	char line[16];
	timer_t timer = 0;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2 || build(argv[1], &timer) != 0) {
		printf("fail: setup: %m\n");
		return 1;
	}
	printf("ready\n");
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "go\n") != 0)
		return 1;
	printf(still_there(argv[1], timer) ? "pass\n" : "fail: the lock or timer is gone\n");
	return 0;
}
EOF
cc -O1 -pthread -o "$program" "$case_dir/lock_holder.c" || fail "cannot build the lock program"

expect_checkpoint_refused lock stdout "fd 1 of process .* holds a FLOCK lock, but the fd is taken over"
expect_checkpoint_refused lock clone-files "holds a POSIX lock in an fd table shared with another process (CLONE_FILES)"
expect_checkpoint_refused timer thread-clock "CLOCK_THREAD_CPUTIME_ID"
exit 0
