/*
 * A child made with clone(CLONE_VM) shares the root's memory but nothing
 * else.  Before the checkpoint the root and the child each write their part
 * of a region; after restart both see both parts, a page the root maps and
 * fills after restart is seen by the child, a word the child writes after
 * restart is seen by the root, kcmp shows one memory map and two fd tables,
 * and the child keeps its PID.
 */
#include "clone.h"

enum {
	REGION_PAGES = 4
};

static unsigned char *region;		  /* page 0: the root's, page 1: the child's */
static unsigned char *volatile late_page; /* mapped by the root after restart */
static volatile int child_word;
static pid_t child_pid_at_start;

static int run_child(void *unused)
{
	int verdict = 0;

	(void)unused;
	child_pid_at_start = (pid_t)syscall(SYS_getpid);
	state_fill(region + STATE_PAGE_SIZE, STATE_PAGE_SIZE, 11);
	child_word = 5;
	clone_tell_parent();
	clone_wait_go();
	clone_check(&verdict, syscall(SYS_getpid) == child_pid_at_start, 20);
	clone_check(&verdict, state_find_mismatch(region, STATE_PAGE_SIZE, 10) < 0, 21);
	clone_check(&verdict,
		    state_find_mismatch(region + STATE_PAGE_SIZE, STATE_PAGE_SIZE, 11) < 0, 22);
	clone_check(&verdict, late_page && state_find_mismatch(late_page, STATE_PAGE_SIZE, 12) < 0,
		    23);
	child_word = 77;
	clone_tell_parent();
	return verdict;
}

static void map_late_page(void)
{
	void *page = mmap(NULL, STATE_PAGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (!state_expect(page != MAP_FAILED, "mmap after restart: %s", strerror(errno)))
		return;
	state_fill(page, STATE_PAGE_SIZE, 12);
	late_page = page;
}

int main(void)
{
	pid_t child;

	tree_init();
	region = mmap(NULL, REGION_PAGES * STATE_PAGE_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		state_setup_fail("mmap: %s", strerror(errno));
	state_fill(region, STATE_PAGE_SIZE, 10);
	child = clone_start(run_child, CLONE_VM, NULL);
	tree_wait_ready(child);
	state_ready();
	state_wait_go_signal();
	state_expect(child_word == 5, "the child's word before the checkpoint is %d", child_word);
	state_expect_pattern(region + STATE_PAGE_SIZE, STATE_PAGE_SIZE, 11, "the child's page");
	clone_expect_shared(getpid(), child, KCMP_VM, true, "memory");
	clone_expect_shared(getpid(), child, KCMP_FILES, false, "fd table");
	clone_expect_shared(getpid(), child, KCMP_SIGHAND, false, "signal handlers");
	map_late_page();
	clone_run_child_step(child);
	state_expect(child_word == 77, "the child's word after restart is %d, not 77", child_word);
	tree_expect_child_exit(child, 0, "child");
	state_finish();
}
