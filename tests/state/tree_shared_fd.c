/*
 * One open file description shared by parent and child.  The root opens a
 * file at fd 10 (O_RDWR) and fd 11 (O_WRONLY | O_APPEND) and forks; the
 * child dups fd 10 to 20, opens the file again at 21 (a description of its
 * own, at offset 5), moves the shared offset and appends.  After restart
 * both see the same offsets, access modes and O_APPEND, and fd flags of
 * their own (FD_CLOEXEC on the root's fd 10 only).  Then the child writes
 * at the shared offset, seeks through its dup and sets O_NONBLOCK: the
 * root sees the new offset, the flag and the bytes, its appends still go
 * to the end, and the child's own description stayed at 5.
 */
#include "state.h"

#include <limits.h>
#include <sys/wait.h>

enum {
	SHARED_FD = 10,
	APPEND_FD = 11,
	CHILD_DUP_FD = 20,
	CHILD_OWN_FD = 21,
	FILE_BYTES = 4096,
	OFFSET_BEFORE = 1000,
	OFFSET_AFTER = 2000,
	CHILD_OWN_OFFSET = 5,
};

static const char child_bytes[] = "CHILD-WROTE";
static const char append_before[] = "child appended before\n";
static const char append_after[] = "child appended after\n";
static const char root_append[] = "root appended last\n";

#include "tree.h"

static char file_path[PATH_MAX];

static void open_at(int wanted_fd, int flags)
{
	int fd = open(file_path, flags | O_CREAT, 0600);

	if (fd < 0)
		state_setup_fail("open %s: %s", file_path, strerror(errno));
	if (fd != wanted_fd && dup2(fd, wanted_fd) != wanted_fd)
		state_setup_fail("dup2(%d, %d): %s", fd, wanted_fd, strerror(errno));
	if (fd != wanted_fd)
		close(fd);
}

static void write_at(int fd, const char *text, size_t length)
{
	if (write(fd, text, length) != (ssize_t)length)
		state_setup_fail("write to fd %d: %s", fd, strerror(errno));
}

static void expect_offset(int fd, off_t expected, const char *who)
{
	off_t offset = lseek(fd, 0, SEEK_CUR);

	state_expect(offset == expected, "%s: fd %d offset is %lld, expected %lld", who, fd,
		     (long long)offset, (long long)expected);
}

static void expect_status_flags(int fd, int expected, const char *who)
{
	int flags = fcntl(fd, F_GETFL);
	int wanted_bits = O_ACCMODE | O_APPEND | O_NONBLOCK;

	state_expect(flags >= 0 && (flags & wanted_bits) == expected,
		     "%s: fd %d F_GETFL is %#x, expected %#x", who, fd, flags & wanted_bits,
		     expected);
}

static void expect_fd_flags(int fd, int expected, const char *who)
{
	state_expect(fcntl(fd, F_GETFD) == expected, "%s: fd %d F_GETFD is %d, expected %d", who,
		     fd, fcntl(fd, F_GETFD), expected);
}

static void expect_file_bytes(off_t offset, const char *expected, size_t length, const char *what)
{
	char bytes[64] = "";
	ssize_t got = pread(SHARED_FD, bytes, length, offset);

	state_expect(got == (ssize_t)length && memcmp(bytes, expected, length) == 0,
		     "%s at %lld: read %zd bytes \"%.*s\"", what, (long long)offset, got,
		     got > 0 ? (int)got : 0, bytes);
}

static void expect_file_size(off_t expected, const char *who)
{
	struct stat status = { 0 };

	state_expect(fstat(SHARED_FD, &status) == 0 && status.st_size == expected,
		     "%s: file size is %lld, expected %lld", who, (long long)status.st_size,
		     (long long)expected);
}

/* Before the checkpoint: a dup, a description of its own, a seek, an append. */
static void build_child_fds(void)
{
	if (dup2(SHARED_FD, CHILD_DUP_FD) != CHILD_DUP_FD)
		state_setup_fail("dup2: %s", strerror(errno));
	open_at(CHILD_OWN_FD, O_RDONLY);
	if (lseek(CHILD_OWN_FD, CHILD_OWN_OFFSET, SEEK_SET) != CHILD_OWN_OFFSET ||
	    lseek(SHARED_FD, OFFSET_BEFORE, SEEK_SET) != OFFSET_BEFORE)
		state_setup_fail("lseek: %s", strerror(errno));
	write_at(APPEND_FD, append_before, strlen(append_before));
}

static void check_child_view(void)
{
	expect_offset(SHARED_FD, OFFSET_BEFORE, "child");
	expect_offset(CHILD_DUP_FD, OFFSET_BEFORE, "child");
	expect_offset(CHILD_OWN_FD, CHILD_OWN_OFFSET, "child");
	expect_status_flags(SHARED_FD, O_RDWR, "child");
	expect_status_flags(CHILD_DUP_FD, O_RDWR, "child");
	expect_status_flags(APPEND_FD, O_WRONLY | O_APPEND, "child");
	expect_status_flags(CHILD_OWN_FD, O_RDONLY, "child");
	expect_fd_flags(SHARED_FD, 0, "child");
	expect_fd_flags(CHILD_DUP_FD, 0, "child");
	expect_fd_flags(APPEND_FD, 0, "child");
}

/* After the restart: changes the root must see through the shared description. */
static void change_shared_description(void)
{
	state_expect(write(SHARED_FD, child_bytes, strlen(child_bytes)) ==
			     (ssize_t)strlen(child_bytes),
		     "child: write to fd %d: %s", SHARED_FD, strerror(errno));
	expect_offset(CHILD_DUP_FD, OFFSET_BEFORE + (off_t)strlen(child_bytes),
		      "child after its write");
	state_expect(lseek(CHILD_DUP_FD, OFFSET_AFTER, SEEK_SET) == OFFSET_AFTER,
		     "child: lseek fd %d: %s", CHILD_DUP_FD, strerror(errno));
	state_expect(fcntl(SHARED_FD, F_SETFL, O_NONBLOCK) == 0, "child: F_SETFL: %s",
		     strerror(errno));
	state_expect(write(APPEND_FD, append_after, strlen(append_after)) ==
			     (ssize_t)strlen(append_after),
		     "child: append: %s", strerror(errno));
	expect_offset(CHILD_OWN_FD, CHILD_OWN_OFFSET, "child after the changes");
}

__attribute__((noreturn)) static void run_child(void)
{
	build_child_fds();
	tree_report_ready();
	state_wait_go_signal();
	check_child_view();
	change_shared_description();
	tree_child_finish(STATE_EXIT_PASS);
}

static void build_root_fds(void)
{
	char directory[PATH_MAX - 16];
	char bytes[FILE_BYTES];

	state_make_scratch_dir(directory, sizeof(directory));
	state_path_in(file_path, sizeof(file_path), directory, "shared");
	open_at(SHARED_FD, O_RDWR | O_TRUNC);
	open_at(APPEND_FD, O_WRONLY | O_APPEND);
	state_fill(bytes, sizeof(bytes), 31);
	write_at(SHARED_FD, bytes, sizeof(bytes));
}

static void check_root_view(void)
{
	off_t size = FILE_BYTES + (off_t)strlen(append_before);

	expect_offset(SHARED_FD, OFFSET_BEFORE, "root");
	expect_status_flags(SHARED_FD, O_RDWR, "root");
	expect_status_flags(APPEND_FD, O_WRONLY | O_APPEND, "root");
	expect_fd_flags(SHARED_FD, FD_CLOEXEC, "root");
	expect_fd_flags(APPEND_FD, 0, "root");
	expect_file_size(size, "root");
	expect_file_bytes(FILE_BYTES, append_before, strlen(append_before), "root: append");
}

static void check_child_changes(void)
{
	off_t end = FILE_BYTES + (off_t)strlen(append_before) + (off_t)strlen(append_after);

	expect_offset(SHARED_FD, OFFSET_AFTER, "root after the child's lseek");
	expect_status_flags(SHARED_FD, O_RDWR | O_NONBLOCK, "root after the child's F_SETFL");
	expect_file_bytes(OFFSET_BEFORE, child_bytes, strlen(child_bytes), "root: child's write");
	expect_file_bytes(end - (off_t)strlen(append_after), append_after, strlen(append_after),
			  "root: child's append");
	state_expect(write(APPEND_FD, root_append, strlen(root_append)) ==
			     (ssize_t)strlen(root_append),
		     "root: append: %s", strerror(errno));
	expect_file_bytes(end, root_append, strlen(root_append), "root: its own append");
	expect_offset(SHARED_FD, OFFSET_AFTER, "root after its append");
}

int main(void)
{
	pid_t child;

	tree_init();
	build_root_fds();
	child = tree_fork();
	if (child == 0)
		run_child();
	tree_wait_ready(child);
	if (lseek(SHARED_FD, 0, SEEK_CUR) != OFFSET_BEFORE)
		state_setup_fail("the child's lseek did not move the root's offset");
	if (fcntl(SHARED_FD, F_SETFD, FD_CLOEXEC) != 0)
		state_setup_fail("F_SETFD: %s", strerror(errno));
	state_ready();
	state_wait_go_signal();
	check_root_view(); /* before the child changes anything */
	state_expect(kill(child, STATE_GO_SIGNAL) == 0, "kill(child, SIGUSR1): %s", strerror(errno));
	tree_expect_child_exit(child, STATE_EXIT_PASS, "child");
	check_child_changes();
	state_finish();
}
