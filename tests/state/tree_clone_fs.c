/*
 * A child made with clone(CLONE_FS) shares the root's cwd, root directory
 * and umask, not its memory or fds.  Before the checkpoint the child
 * changes directory and umask, and the root sees it.  After restart the
 * root finds them; the root changes both and the child sees that, the child
 * changes them again and the root sees that; kcmp shows one fs.
 */
#include "clone.h"

#include <limits.h>
#include <sys/stat.h>

static char directory[PATH_MAX / 2]; /* its subdirectories a, b and c */

static void subdirectory(const char *name, char *out, size_t capacity)
{
	state_path_in(out, capacity, directory, name);
}

static bool is_in(const char *name, mode_t mask)
{
	char expected[PATH_MAX], actual[PATH_MAX];
	mode_t current = umask(0);

	umask(current);
	subdirectory(name, expected, sizeof(expected));
	return getcwd(actual, sizeof(actual)) && strcmp(actual, expected) == 0 && current == mask;
}

static void move_to(const char *name, mode_t mask)
{
	char path[PATH_MAX];

	subdirectory(name, path, sizeof(path));
	if (chdir(path) != 0)
		state_setup_fail("chdir %s: %s", path, strerror(errno));
	umask(mask);
}

static void make_subdirectory(const char *name)
{
	char path[PATH_MAX];

	subdirectory(name, path, sizeof(path));
	if (mkdir(path, 0700) != 0)
		state_setup_fail("mkdir %s: %s", path, strerror(errno));
}

static int run_child(void *unused)
{
	int verdict = 0;

	(void)unused;
	move_to("a", 027);
	clone_tell_parent();
	clone_wait_go();
	clone_check(&verdict, is_in("a", 027), 20);
	clone_tell_parent();
	clone_wait_go();
	clone_check(&verdict, is_in("b", 077), 21);
	move_to("c", 022);
	clone_tell_parent();
	return verdict;
}

int main(void)
{
	pid_t child;

	tree_init();
	state_make_scratch_dir(directory, sizeof(directory));
	make_subdirectory("a");
	make_subdirectory("b");
	make_subdirectory("c");
	child = clone_start(run_child, CLONE_FS, NULL);
	tree_wait_ready(child);
	state_expect(is_in("a", 027),
		     "the child's chdir and umask did not reach us before the checkpoint");
	state_ready();
	state_wait_go_signal();
	state_expect(is_in("a", 027), "cwd or umask lost (expected %s/a, umask 027)", directory);
	clone_expect_shared(getpid(), child, KCMP_FS, true, "fs");
	clone_expect_shared(getpid(), child, KCMP_VM, false, "memory");
	clone_expect_shared(getpid(), child, KCMP_FILES, false, "fd table");
	clone_run_child_step(child);
	move_to("b", 077);
	clone_run_child_step(child);
	state_expect(is_in("c", 022), "the child's chdir and umask after restart did not reach us");
	tree_expect_child_exit(child, 0, "child");
	state_finish();
}
