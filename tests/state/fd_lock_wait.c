/*
 * A thread blocked in fcntl(F_SETLKW) on a range another process holds.
 * The child takes a POSIX write lock on bytes 0-9 of a file; a thread of
 * the root then waits for a write lock on bytes 5-14 of it (a flock()
 * waiter would be the same kind of interruptible sleep).  /proc/locks
 * shows the waiter ("->") before ready.  After restart: the thread is
 * still waiting (the "->" line is back, the thread has not got the lock),
 * the child still holds its lock; when the child unlocks and exits, the
 * thread gets the lock: fcntl returns 0 and the root's fdinfo shows it.
 */
#include "state.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>

#include "tree.h"

enum { LOCKED_FD = 10, CHILD_FD = 11, WAIT_SECONDS = 10 };

static char path[PATH_MAX];
static int got_lock_fd;
static atomic_int lock_result = 1, lock_errno;

static void open_at(int wanted_fd)
{
	int fd = open(path, O_RDWR | O_CREAT, 0600);

	if (fd < 0 || (fd != wanted_fd && dup2(fd, wanted_fd) != wanted_fd))
		state_setup_fail("open %s at %d: %s", path, wanted_fd, strerror(errno));
	if (fd != wanted_fd)
		close(fd);
}

static int set_lock(int fd, int command, short type, off_t start, off_t length)
{
	struct flock lock = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = length };

	return fcntl(fd, command, &lock);
}

static void *wait_for_lock(void *unused)
{
	uint64_t one = 1;
	int result = set_lock(LOCKED_FD, F_SETLKW, F_WRLCK, 5, 10);

	(void)unused;
	atomic_store(&lock_errno, errno);
	atomic_store(&lock_result, result);
	if (write(got_lock_fd, &one, sizeof(one)) != sizeof(one))
		atomic_store(&lock_result, -2);
	return NULL;
}

/* Whether /proc/locks has a waiter of this process: "N: -> POSIX ... PID ...". */
static bool has_waiter(pid_t pid)
{
	char text[16384], needle[64];

	state_read_file("/proc/locks", text, sizeof(text));
	snprintf(needle, sizeof(needle), " WRITE %d ", (int)pid);
	for (char *line = text; line && *line; line = strchr(line, '\n')) {
		char *end;

		line += *line == '\n';
		end = strchr(line, '\n');
		if (strstr(line, "->") && strstr(line, needle) && (!end || strstr(line, needle) < end))
			return true;
	}
	return false;
}

/* The thread either waits (shows in /proc/locks) or has finished: no signal says which. */
static bool wait_until_waiting(void)
{
	int64_t deadline = state_now_ns(CLOCK_MONOTONIC) + WAIT_SECONDS * 1000000000ll;

	while (!has_waiter(getpid())) {
		if (atomic_load(&lock_result) != 1 || state_now_ns(CLOCK_MONOTONIC) > deadline)
			return false;
		sched_yield();
	}
	return true;
}

__attribute__((noreturn)) static void run_child(void)
{
	open_at(CHILD_FD);
	if (set_lock(CHILD_FD, F_SETLK, F_WRLCK, 0, 10) != 0)
		state_setup_fail("child lock: %s", strerror(errno));
	tree_report_ready();
	state_wait_go_signal();
	state_expect(set_lock(CHILD_FD, F_SETLK, F_UNLCK, 0, 10) == 0, "child unlock: %s", strerror(errno));
	tree_child_finish(STATE_EXIT_PASS);
}

static void expect_lock_taken(void)
{
	struct pollfd wanted = { .fd = got_lock_fd, .events = POLLIN };
	char fdinfo[64], text[2048];

	state_expect(poll(&wanted, 1, WAIT_SECONDS * 1000) == 1, "the thread never got the lock");
	state_expect(atomic_load(&lock_result) == 0, "F_SETLKW returned %d: %s", atomic_load(&lock_result),
		     strerror(atomic_load(&lock_errno)));
	snprintf(fdinfo, sizeof(fdinfo), "/proc/self/fdinfo/%d", LOCKED_FD);
	state_read_file(fdinfo, text, sizeof(text));
	state_expect(strstr(text, "POSIX  ADVISORY  WRITE") && strstr(text, " 5 14\n"),
		     "the root's fdinfo does not show its lock on bytes 5-14: %s", text);
}

int main(void)
{
	char directory[PATH_MAX - 16];
	pthread_t thread;
	pid_t child;

	tree_init();
	state_make_scratch_dir(directory, sizeof(directory));
	state_path_in(path, sizeof(path), directory, "locked");
	open_at(LOCKED_FD);
	got_lock_fd = eventfd(0, EFD_CLOEXEC);
	child = tree_fork();
	if (child == 0)
		run_child();
	tree_wait_ready(child);
	if (got_lock_fd < 0 || pthread_create(&thread, NULL, wait_for_lock, NULL) != 0)
		state_setup_fail("eventfd or pthread_create: %s", strerror(errno));
	if (!wait_until_waiting())
		state_setup_fail("the thread is not waiting for the lock (result %d)", atomic_load(&lock_result));
	state_ready();
	state_wait_go_signal();
	state_expect(wait_until_waiting(), "after go the thread no longer waits: F_SETLKW returned %d (%s)",
		     atomic_load(&lock_result), strerror(atomic_load(&lock_errno)));
	state_expect(kill(child, STATE_GO_SIGNAL) == 0, "kill(child, SIGUSR1): %s", strerror(errno));
	tree_expect_child_exit(child, STATE_EXIT_PASS, "child");
	expect_lock_taken();
	state_finish();
}
