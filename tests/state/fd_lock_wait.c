/*
 * Threads blocked waiting for locks another process holds.  The child
 * takes a POSIX write lock on bytes 0-9 of a file and an exclusive flock
 * on a second file; one thread of the root then waits in fcntl(F_SETLKW)
 * for a write lock on bytes 5-14 of the first, another in flock(LOCK_EX)
 * on the second (through a description of its own).  /proc/locks shows
 * both waiters ("-> POSIX", "-> FLOCK") before ready.  After restart: both
 * threads still wait (their "->" lines are back, neither has its lock),
 * the child still holds its locks; when the child unlocks and exits, both
 * threads get their locks: fcntl and flock return 0 and the root's
 * fdinfo shows the locks.
 */
#include "state.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/eventfd.h>
#include <sys/wait.h>

#include "tree.h"

enum {
	LOCKED_FD = 10,
	CHILD_FD = 11,
	CHILD_FLOCK_FD = 12,
	FLOCK_FD = 13,
	WAIT_SECONDS = 10
};

static char path[PATH_MAX], flock_path[PATH_MAX];
static int got_lock_fd, got_flock_fd;
static atomic_int lock_result = 1, lock_errno, flock_result = 1, flock_errno;

static void open_path_at(const char *file, int wanted_fd)
{
	int fd = open(file, O_RDWR | O_CREAT, 0600);

	if (fd < 0 || (fd != wanted_fd && dup2(fd, wanted_fd) != wanted_fd))
		state_setup_fail("open %s at %d: %s", file, wanted_fd, strerror(errno));
	if (fd != wanted_fd)
		close(fd);
}

static void open_at(int wanted_fd)
{
	open_path_at(path, wanted_fd);
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

static void *wait_for_flock(void *unused)
{
	uint64_t one = 1;
	int result = flock(FLOCK_FD, LOCK_EX);

	(void)unused;
	atomic_store(&flock_errno, errno);
	atomic_store(&flock_result, result);
	if (write(got_flock_fd, &one, sizeof(one)) != sizeof(one))
		atomic_store(&flock_result, -2);
	return NULL;
}

/* Whether /proc/locks has a waiter of this process: "N: -> POSIX  ADVISORY  WRITE PID ...". */
static bool has_waiter(const char *kind, pid_t pid)
{
	char text[16384], needle[64];

	state_read_file("/proc/locks", text, sizeof(text));
	snprintf(needle, sizeof(needle), "-> %s ADVISORY  WRITE %d ", kind, (int)pid);
	for (char *line = text; line && *line; line = strchr(line, '\n')) {
		char *end;

		line += *line == '\n';
		end = strchr(line, '\n');
		if (strstr(line, needle) && (!end || strstr(line, needle) < end))
			return true;
	}
	return false;
}

/* Each thread either waits (shows in /proc/locks) or has finished: no signal says which. */
static bool wait_until_waiting(void)
{
	int64_t deadline = state_now_ns(CLOCK_MONOTONIC) + WAIT_SECONDS * 1000000000ll;

	while (!has_waiter("POSIX ", getpid()) || !has_waiter("FLOCK ", getpid())) {
		if (atomic_load(&lock_result) != 1 || atomic_load(&flock_result) != 1 ||
		    state_now_ns(CLOCK_MONOTONIC) > deadline)
			return false;
		sched_yield();
	}
	return true;
}

__attribute__((noreturn)) static void run_child(void)
{
	open_at(CHILD_FD);
	open_path_at(flock_path, CHILD_FLOCK_FD);
	if (set_lock(CHILD_FD, F_SETLK, F_WRLCK, 0, 10) != 0 ||
	    flock(CHILD_FLOCK_FD, LOCK_EX | LOCK_NB) != 0)
		state_setup_fail("child lock: %s", strerror(errno));
	tree_report_ready();
	state_wait_go_signal();
	state_expect(set_lock(CHILD_FD, F_SETLK, F_UNLCK, 0, 10) == 0, "child unlock: %s",
		     strerror(errno));
	state_expect(flock(CHILD_FLOCK_FD, LOCK_UN) == 0, "child flock unlock: %s", strerror(errno));
	tree_child_finish(STATE_EXIT_PASS);
}

static void expect_lock_taken(void)
{
	struct pollfd wanted = { .fd = got_lock_fd, .events = POLLIN };
	char fdinfo[64], text[2048];

	state_expect(poll(&wanted, 1, WAIT_SECONDS * 1000) == 1, "the thread never got the lock");
	state_expect(atomic_load(&lock_result) == 0, "F_SETLKW returned %d: %s",
		     atomic_load(&lock_result), strerror(atomic_load(&lock_errno)));
	snprintf(fdinfo, sizeof(fdinfo), "/proc/self/fdinfo/%d", LOCKED_FD);
	state_read_file(fdinfo, text, sizeof(text));
	state_expect(strstr(text, "POSIX  ADVISORY  WRITE") && strstr(text, " 5 14\n"),
		     "the root's fdinfo does not show its lock on bytes 5-14: %s", text);
}

static void expect_flock_taken(void)
{
	struct pollfd wanted = { .fd = got_flock_fd, .events = POLLIN };
	char fdinfo[64], text[2048];

	state_expect(poll(&wanted, 1, WAIT_SECONDS * 1000) == 1,
		     "the flock thread never got the lock");
	state_expect(atomic_load(&flock_result) == 0, "flock returned %d: %s",
		     atomic_load(&flock_result), strerror(atomic_load(&flock_errno)));
	snprintf(fdinfo, sizeof(fdinfo), "/proc/self/fdinfo/%d", FLOCK_FD);
	state_read_file(fdinfo, text, sizeof(text));
	state_expect(strstr(text, "FLOCK  ADVISORY  WRITE") != NULL,
		     "the root's fdinfo does not show its flock: %s", text);
}

static void start_waiters(void)
{
	pthread_t thread;

	if (got_lock_fd < 0 || got_flock_fd < 0 ||
	    pthread_create(&thread, NULL, wait_for_lock, NULL) != 0 ||
	    pthread_create(&thread, NULL, wait_for_flock, NULL) != 0)
		state_setup_fail("eventfd or pthread_create: %s", strerror(errno));
}

int main(void)
{
	char directory[PATH_MAX - 16];
	pid_t child;

	tree_init();
	state_make_scratch_dir(directory, sizeof(directory));
	state_path_in(path, sizeof(path), directory, "locked");
	state_path_in(flock_path, sizeof(flock_path), directory, "flocked");
	open_at(LOCKED_FD);
	open_path_at(flock_path, FLOCK_FD);
	got_lock_fd = eventfd(0, EFD_CLOEXEC);
	got_flock_fd = eventfd(0, EFD_CLOEXEC);
	child = tree_fork();
	if (child == 0)
		run_child();
	tree_wait_ready(child);
	start_waiters();
	if (!wait_until_waiting())
		state_setup_fail("the threads are not waiting for their locks (results %d, %d)",
				 atomic_load(&lock_result), atomic_load(&flock_result));
	state_ready();
	state_wait_go_signal();
	state_expect(wait_until_waiting(),
		     "after go a thread no longer waits: F_SETLKW returned %d (%s), flock %d (%s)",
		     atomic_load(&lock_result), strerror(atomic_load(&lock_errno)),
		     atomic_load(&flock_result), strerror(atomic_load(&flock_errno)));
	state_expect(kill(child, STATE_GO_SIGNAL) == 0, "kill(child, SIGUSR1): %s", strerror(errno));
	tree_expect_child_exit(child, STATE_EXIT_PASS, "child");
	expect_lock_taken();
	expect_flock_taken();
	state_finish();
}
