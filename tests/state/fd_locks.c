/*
 * File locks held by two processes.  The root holds a shared flock on
 * file A (fd 10), POSIX locks on file B (fd 11: write on bytes 10-19, read
 * from 100 to the end), OFD locks on file C (fd 12: write on bytes 0-99,
 * read on 200-299) and an exclusive flock on file D (fd 13), then forks: the
 * child shares those open file descriptions and adds a POSIX read lock on
 * bytes 50-59 of B through a description of its own (fd 20) and an
 * exclusive flock on file E (fd 21).  After restart: each process's fdinfo
 * shows the same "lock:" lines at the same fds (kind, type, owner pid,
 * inode, range), the root still has its read lease on file L (fd 14) and
 * its write lease on file W (fd 15, F_GETLEASE; nobody opens W), and a checker child forked then sees each lock held by the
 * right owner: F_GETLK names the root or the child, F_OFD_GETLK finds the
 * OFD locks (pid -1), flock(LOCK_NB) is refused where a lock is held and
 * granted where only a shared one is; free ranges are free.
 */
#include "state.h"

#include <limits.h>
#include <sys/file.h>
#include <sys/wait.h>

#include "tree.h"

enum {
	FILE_A_FD = 10,
	FILE_B_FD = 11,
	FILE_C_FD = 12,
	FILE_D_FD = 13,
	LEASE_FD = 14,
	WRITE_LEASE_FD = 15,
	CHILD_B_FD = 20,
	CHILD_E_FD = 21
};
enum {
	FDINFO_MAX = 1024
};

static char directory[PATH_MAX - 16];
static const int root_fds[] = { FILE_A_FD, FILE_B_FD, FILE_C_FD, FILE_D_FD, LEASE_FD, WRITE_LEASE_FD };
static const int child_fds[] = { FILE_A_FD, FILE_B_FD, FILE_C_FD, FILE_D_FD, CHILD_B_FD, CHILD_E_FD };
static char root_lines[6][FDINFO_MAX];
static char child_lines[6][FDINFO_MAX];

static void file_path(const char *name, char *out, size_t capacity)
{
	state_path_in(out, capacity, directory, name);
}

static void open_at(const char *name, int wanted_fd)
{
	char path[PATH_MAX];
	int fd;

	file_path(name, path, sizeof(path));
	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || (fd != wanted_fd && dup2(fd, wanted_fd) != wanted_fd))
		state_setup_fail("open %s at %d: %s", path, wanted_fd, strerror(errno));
	if (fd != wanted_fd)
		close(fd);
}

static void range_lock(int fd, int command, short type, off_t start, off_t length)
{
	struct flock lock = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = length };

	if (fcntl(fd, command, &lock) != 0)
		state_setup_fail("fcntl lock on fd %d: %s", fd, strerror(errno));
}

static void whole_lock(int fd, int operation)
{
	if (flock(fd, operation | LOCK_NB) != 0)
		state_setup_fail("flock on fd %d: %s", fd, strerror(errno));
}

/* The "lock:" lines of an fd's fdinfo, in order. */
static void lock_lines(int fd, char *out, size_t capacity)
{
	char path[64], text[4096];
	char *line = text;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	state_read_file(path, text, sizeof(text));
	out[0] = '\0';
	while (line && *line) {
		char *end = strchr(line, '\n');

		if (end)
			*end = '\0';
		if (strncmp(line, "lock:", 5) == 0)
			state_append_text(out, capacity, line, strlen(line));
		if (strncmp(line, "lock:", 5) == 0)
			state_append_text(out, capacity, ";", 1);
		line = end ? end + 1 : NULL;
	}
}

/* A shared description's POSIX locks show only in their owner's fdinfo. */
static void save_lines(const int *fds, size_t count, char lines[][FDINFO_MAX], bool each_locked)
{
	for (size_t i = 0; i < count; i++) {
		lock_lines(fds[i], lines[i], FDINFO_MAX);
		if (each_locked && lines[i][0] == '\0')
			state_setup_fail("fd %d shows no lock", fds[i]);
	}
}

static void expect_same_lines(const int *fds, size_t count, char lines[][FDINFO_MAX], const char *who)
{
	for (size_t i = 0; i < count; i++) {
		char now[FDINFO_MAX];

		lock_lines(fds[i], now, sizeof(now));
		state_expect(strcmp(now, lines[i]) == 0, "%s fd %d: lock lines \"%s\", were \"%s\"",
			     who, fds[i], now, lines[i]);
	}
}

__attribute__((noreturn)) static void run_child(void)
{
	open_at("B", CHILD_B_FD);
	open_at("E", CHILD_E_FD);
	range_lock(CHILD_B_FD, F_SETLK, F_RDLCK, 50, 10);
	whole_lock(CHILD_E_FD, LOCK_EX);
	save_lines(child_fds, 6, child_lines, false);
	tree_report_ready();
	state_wait_go_signal();
	expect_same_lines(child_fds, 6, child_lines, "child");
	tree_child_finish(STATE_EXIT_PASS);
}

static int open_fresh(const char *name)
{
	char path[PATH_MAX];
	int fd;

	file_path(name, path, sizeof(path));
	fd = open(path, O_RDWR);
	state_expect(fd >= 0, "checker: open %s: %s", path, strerror(errno));
	return fd;
}

/* What F_GETLK (or F_OFD_GETLK) says about a lock of `type` on a range. */
static void expect_holder(int fd, int command, short type, off_t start, off_t length, short held,
			  pid_t holder, const char *what)
{
	struct flock probe = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = length };

	if (!state_expect(fcntl(fd, command, &probe) == 0, "checker: %s: %s", what, strerror(errno)))
		return;
	state_expect(probe.l_type == held, "checker: %s: lock type %d, expected %d", what,
		     probe.l_type, held);
	if (held != F_UNLCK)
		state_expect(probe.l_pid == holder, "checker: %s: held by %d, expected %d", what,
			     (int)probe.l_pid, (int)holder);
}

static void expect_flock(int fd, int operation, bool granted, const char *what)
{
	int result = flock(fd, operation | LOCK_NB);

	state_expect(granted ? result == 0 : (result < 0 && errno == EWOULDBLOCK),
		     "checker: %s: flock gave %d (%s)", what, result, strerror(errno));
	if (result == 0)
		flock(fd, LOCK_UN);
}

static void check_posix_and_ofd(pid_t root, pid_t child)
{
	int file_b = open_fresh("B"), file_c = open_fresh("C");

	expect_holder(file_b, F_GETLK, F_RDLCK, 10, 10, F_WRLCK, root, "B bytes 10-19");
	expect_holder(file_b, F_GETLK, F_WRLCK, 100, 1, F_RDLCK, root, "B byte 100");
	expect_holder(file_b, F_GETLK, F_WRLCK, 1 << 20, 1, F_RDLCK, root, "B far past the end");
	expect_holder(file_b, F_GETLK, F_WRLCK, 50, 10, F_RDLCK, child, "B bytes 50-59");
	expect_holder(file_b, F_GETLK, F_WRLCK, 0, 10, F_UNLCK, 0, "B bytes 0-9");
	expect_holder(file_b, F_GETLK, F_WRLCK, 60, 40, F_UNLCK, 0, "B bytes 60-99");
	expect_holder(file_c, F_OFD_GETLK, F_RDLCK, 0, 100, F_WRLCK, -1, "C bytes 0-99");
	expect_holder(file_c, F_OFD_GETLK, F_WRLCK, 250, 1, F_RDLCK, -1, "C byte 250");
	expect_holder(file_c, F_OFD_GETLK, F_RDLCK, 250, 1, F_UNLCK, 0, "C byte 250 shared");
	expect_holder(file_c, F_OFD_GETLK, F_WRLCK, 100, 100, F_UNLCK, 0, "C bytes 100-199");
	expect_holder(file_c, F_GETLK, F_WRLCK, 0, 1, F_WRLCK, -1, "C byte 0 against POSIX");
	close(file_b);
	close(file_c);
}

static void check_flocks(void)
{
	int file_a = open_fresh("A"), file_d = open_fresh("D"), file_e = open_fresh("E");

	expect_flock(file_a, LOCK_EX, false, "A exclusive");
	expect_flock(file_a, LOCK_SH, true, "A shared");
	expect_flock(file_d, LOCK_SH, false, "D shared");
	expect_flock(file_e, LOCK_SH, false, "E shared");
	close(file_a);
	close(file_d);
	close(file_e);
}

__attribute__((noreturn)) static void run_checker(pid_t root, pid_t child)
{
	check_posix_and_ofd(root, child);
	check_flocks();
	tree_child_finish(STATE_EXIT_PASS);
}

/* A read lease on file L, open read-only (nobody writes it). */
static void take_read_lease(void)
{
	char path[PATH_MAX];
	int fd;

	open_at("L", LEASE_FD);
	close(LEASE_FD);
	file_path("L", path, sizeof(path));
	fd = open(path, O_RDONLY);
	if (fd < 0 || dup2(fd, LEASE_FD) != LEASE_FD || close(fd) != 0)
		state_setup_fail("open %s read-only: %s", path, strerror(errno));
	if (fcntl(LEASE_FD, F_SETLEASE, F_RDLCK) != 0)
		state_setup_fail("F_SETLEASE: %s", strerror(errno));
}

static void build_root_locks(void)
{
	state_make_scratch_dir(directory, sizeof(directory));
	open_at("A", FILE_A_FD);
	open_at("B", FILE_B_FD);
	open_at("C", FILE_C_FD);
	open_at("D", FILE_D_FD);
	whole_lock(FILE_A_FD, LOCK_SH);
	range_lock(FILE_B_FD, F_SETLK, F_WRLCK, 10, 10);
	range_lock(FILE_B_FD, F_SETLK, F_RDLCK, 100, 0);
	range_lock(FILE_C_FD, F_OFD_SETLK, F_WRLCK, 0, 100);
	range_lock(FILE_C_FD, F_OFD_SETLK, F_RDLCK, 200, 100);
	whole_lock(FILE_D_FD, LOCK_EX);
	take_read_lease();
	open_at("W", WRITE_LEASE_FD);
	if (fcntl(WRITE_LEASE_FD, F_SETLEASE, F_WRLCK) != 0)
		state_setup_fail("F_SETLEASE F_WRLCK: %s", strerror(errno));
	save_lines(root_fds, 6, root_lines, true);
}

int main(void)
{
	pid_t child, checker;

	tree_init();
	build_root_locks();
	child = tree_fork();
	if (child == 0)
		run_child();
	tree_wait_ready(child);
	state_ready();
	state_wait_go_signal();
	expect_same_lines(root_fds, 6, root_lines, "root");
	state_expect(fcntl(WRITE_LEASE_FD, F_GETLEASE) == F_WRLCK, "F_GETLEASE on fd %d: %d",
		     WRITE_LEASE_FD, fcntl(WRITE_LEASE_FD, F_GETLEASE));
	state_expect(fcntl(LEASE_FD, F_GETLEASE) == F_RDLCK, "F_GETLEASE on fd %d: %d", LEASE_FD,
		     fcntl(LEASE_FD, F_GETLEASE));
	checker = tree_fork();
	if (checker == 0)
		run_checker(getppid(), child);
	tree_expect_child_exit(checker, STATE_EXIT_PASS, "checker");
	state_expect(kill(child, STATE_GO_SIGNAL) == 0, "kill(child, SIGUSR1): %s", strerror(errno));
	tree_expect_child_exit(child, STATE_EXIT_PASS, "child");
	state_finish();
}
