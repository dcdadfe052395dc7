# Locks and timers ckpt cannot restore exactly: a flock on stdout (a pipe
# from outside the tree, taken over at restart, so the lock would be lost)
# and a CLOCK_THREAD_CPUTIME_ID POSIX timer in a process with two threads
# (/proc does not say which thread's CPU time it counts).  Each checkpoint
# must refuse with one line naming what it refuses, exit 1, write nothing,
# and leave the process running with its lock or timer.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
program=$case_dir/lock_holder
cat >"$case_dir/lock_holder.c" <<'EOF'
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

static void *idle(void *unused)
{
	(void)unused;
	for (;;)
		pause();
	return NULL;
}

static int build(const char *how, timer_t *timer)
{
	struct sigevent none = { .sigev_notify = SIGEV_NONE };
	struct itimerspec far = { .it_value = { .tv_sec = 3600 } };
	pthread_t thread;

	if (strcmp(how, "stdout") == 0)
		return flock(1, LOCK_EX | LOCK_NB);
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
expect_checkpoint_refused timer thread-clock "CLOCK_THREAD_CPUTIME_ID"
exit 0
