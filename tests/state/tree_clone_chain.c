/*
 * Mixed sharing over three generations: the root R clones a child C with
 * CLONE_VM | CLONE_FILES; C clones a grandchild G with CLONE_VM | CLONE_FS
 * (so G shares R's memory, through C, and C's fs, but has an fd table of
 * its own) and a grandchild P sharing nothing.  After restart kcmp shows
 * exactly these sharings; a word G writes after restart is seen by R, a
 * word R writes by G, C's chdir by G, and P's memory is its own copy.
 */
#include "clone.h"

#include <limits.h>

static volatile int root_word, grandchild_word, private_word;
static char directory[PATH_MAX / 2];

static bool is_in_directory(void)
{
	char actual[PATH_MAX];

	return getcwd(actual, sizeof(actual)) && strcmp(actual, directory) == 0;
}

/* G: after go, checks what R and C did and writes its word. */
static int run_sharing_grandchild(void *unused)
{
	int verdict = 0;

	(void)unused;
	clone_tell_parent();
	clone_wait_go();
	clone_check(&verdict, root_word == 2, 30);
	clone_check(&verdict, is_in_directory(), 31);
	clone_check(&verdict, fcntl(100, F_GETFD) < 0 && errno == EBADF, 32);
	grandchild_word = 3;
	clone_tell_parent();
	return verdict;
}

/* P: its copy of the memory keeps its own word. */
static int run_private_grandchild(void *unused)
{
	int verdict = 0;

	(void)unused;
	private_word = 9;
	clone_tell_parent();
	clone_wait_go();
	clone_check(&verdict, private_word == 9, 40);
	clone_tell_parent();
	return verdict;
}

static int reap(pid_t child)
{
	int status = 0;

	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

/* C: after go, changes directory and opens fd 100 (for R, not G), then lets G and P go. */
static int run_child(void *unused)
{
	pid_t sharing, private;
	int verdict = 0;

	(void)unused;
	sharing = clone_start(run_sharing_grandchild, CLONE_VM | CLONE_FS, NULL);
	tree_wait_ready(sharing);
	private = clone_start(run_private_grandchild, 0, NULL);
	tree_wait_ready(private);
	clone_tell_parent();
	clone_wait_go();
	clone_check(&verdict, chdir(directory) == 0, 20);
	clone_check(&verdict, dup2(0, 100) == 100, 21);
	kill(sharing, STATE_GO_SIGNAL);
	tree_wait_ready(sharing);
	kill(private, STATE_GO_SIGNAL);
	tree_wait_ready(private);
	clone_check(&verdict, private_word == 0, 22);
	clone_check(&verdict, reap(sharing) == 0, 23);
	clone_check(&verdict, reap(private) == 0, 24);
	clone_tell_parent();
	return verdict;
}

static pid_t find_child_of(pid_t parent, pid_t other_than)
{
	char path[64], text[256];
	char *at, *end;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)parent, (int)parent);
	if (state_read_file(path, text, sizeof(text)) <= 0)
		return 0;
	for (at = text;; at = end) {
		long pid = strtol(at, &end, 10);

		if (end == at)
			return 0;
		if (pid != other_than)
			return (pid_t)pid;
	}
}

static void expect_sharing(pid_t root, pid_t child, pid_t sharing, pid_t private)
{
	clone_expect_shared(root, child, KCMP_VM, true, "memory");
	clone_expect_shared(root, child, KCMP_FILES, true, "fd table");
	clone_expect_shared(root, child, KCMP_FS, false, "fs");
	clone_expect_shared(root, sharing, KCMP_VM, true, "memory");
	clone_expect_shared(root, sharing, KCMP_FILES, false, "fd table");
	clone_expect_shared(child, sharing, KCMP_FS, true, "fs");
	clone_expect_shared(root, private, KCMP_VM, false, "memory");
	clone_expect_shared(child, private, KCMP_FILES, false, "fd table");
	clone_expect_shared(child, private, KCMP_FS, false, "fs");
}

int main(void)
{
	pid_t child, sharing, private;

	tree_init();
	state_make_scratch_dir(directory, sizeof(directory));
	child = clone_start(run_child, CLONE_VM | CLONE_FILES, NULL);
	tree_wait_ready(child);
	sharing = find_child_of(child, 0);
	private = find_child_of(child, sharing);
	state_ready();
	state_wait_go_signal();
	if (state_expect(sharing && private, "the grandchildren of %d are not found", (int)child))
		expect_sharing(getpid(), child, sharing, private);
	root_word = 2;
	clone_run_child_step(child);
	state_expect(grandchild_word == 3, "the grandchild's word after restart is %d, not 3",
		     grandchild_word);
	state_expect(fcntl(100, F_GETFD) >= 0, "fd 100 the child opened after restart is not ours");
	state_expect(!is_in_directory(), "the child's chdir reached us");
	tree_expect_child_exit(child, 0, "child");
	state_finish();
}
