/*
 * MAP_SHARED | MAP_ANONYMOUS memory across three generations.  The root
 * maps 16 pages before forking; the root, its child and its grandchild
 * each write half-pages of it before the checkpoint (some pages only the
 * child or the grandchild touched, one page written half by the root and
 * half by the child), and the rest stays zero.  The child also maps a
 * shared region of its own, shared with the grandchild only, and all three
 * keep different bytes in one private mapping.  After restart each sees
 * everyone's data, writes new data in its turn that the next one sees
 * (root, then child, then grandchild, then the child and root again: the
 * memory is really shared, not copied), and its private bytes are its own.
 */
#include "state.h"

#include <limits.h>
#include <sys/mman.h>
#include <sys/wait.h>

enum {
	REGION_PAGES = 16,
	SLOT_BYTES = STATE_PAGE_SIZE / 2,
	SLOT_COUNT = REGION_PAGES * STATE_PAGE_SIZE / SLOT_BYTES,
	CHILD_REGION_PAGES = 4,
	PRIVATE_BYTES = 3 * STATE_PAGE_SIZE,
};

/* Which half-pages of the root's region each process writes, and when. */
enum written_slots {
	ROOT_BEFORE_FORK = 0x3,	       /* page 0 */
	CHILD_SETUP = 0x3c | 0x200,    /* pages 1 and 2, second half of page 4 */
	GRANDCHILD_SETUP = 0xc000,     /* page 7 */
	ROOT_SETUP = 0x1c0,	       /* page 3, first half of page 4 */
	ROOT_AFTER_GO = 0xc00,	       /* page 5 */
	CHILD_AFTER_GO = 0x3000,       /* page 6 */
	GRANDCHILD_AFTER_GO = 0x30000, /* page 8; pages 9-15 stay zero */
	ALL_SETUP = ROOT_BEFORE_FORK | CHILD_SETUP | GRANDCHILD_SETUP | ROOT_SETUP,
};

#include "tree.h"

static unsigned char *shared_region;  /* the root's, shared by all three */
static unsigned char *child_region;   /* the child's, shared with the grandchild */
static unsigned char *private_region; /* copied at each fork */

static uint64_t slot_seed(unsigned slot)
{
	return 1000 + slot;
}

static void write_slots(uint32_t slots)
{
	for (unsigned slot = 0; slot < SLOT_COUNT; slot++) {
		if (slots & (1u << slot))
			state_fill(shared_region + (size_t)slot * SLOT_BYTES, SLOT_BYTES,
				   slot_seed(slot));
	}
}

/* Every written half-page holds its pattern, every other one is zero. */
static void expect_slots(uint32_t written, const char *who)
{
	for (unsigned slot = 0; slot < SLOT_COUNT; slot++) {
		const unsigned char *bytes = shared_region + (size_t)slot * SLOT_BYTES;
		bool ok = written & (1u << slot)
				  ? state_find_mismatch(bytes, SLOT_BYTES, slot_seed(slot)) < 0
				  : state_is_all_zero(bytes, SLOT_BYTES);

		state_expect(ok, "%s: shared half-page %u %s", who, slot,
			     written & (1u << slot) ? "lost its data" : "is not zero");
	}
}

static unsigned char *map_region(size_t length, int sharing)
{
	void *region = mmap(NULL, length, PROT_READ | PROT_WRITE, sharing | MAP_ANONYMOUS, -1, 0);

	if (region == MAP_FAILED)
		state_setup_fail("mmap %zu bytes: %s", length, strerror(errno));
	return region;
}

static unsigned char *child_page(unsigned page)
{
	return child_region + (size_t)page * STATE_PAGE_SIZE;
}

static void expect_child_region(unsigned pages_written, const char *who)
{
	char what[64];

	for (unsigned page = 0; page < CHILD_REGION_PAGES; page++) {
		snprintf(what, sizeof(what), "%s: the child's shared page %u", who, page);
		if (page < pages_written)
			state_expect_pattern(child_page(page), STATE_PAGE_SIZE, 2000 + page, what);
		else
			state_expect(state_is_all_zero(child_page(page), STATE_PAGE_SIZE),
				     "%s is not zero", what);
	}
}

static void expect_private(uint64_t seed, const char *who)
{
	char what[64];

	snprintf(what, sizeof(what), "%s: private mapping", who);
	state_expect_pattern(private_region, PRIVATE_BYTES, seed, what);
}

__attribute__((noreturn)) static void run_grandchild(void)
{
	state_fill(private_region, PRIVATE_BYTES, 3002);
	state_fill(child_page(1), STATE_PAGE_SIZE, 2001);
	write_slots(GRANDCHILD_SETUP);
	tree_report_ready();
	state_wait_go_signal();
	expect_slots(ALL_SETUP | ROOT_AFTER_GO | CHILD_AFTER_GO, "grandchild");
	expect_child_region(2, "grandchild");
	expect_private(3002, "grandchild");
	write_slots(GRANDCHILD_AFTER_GO);
	state_fill(child_page(2), STATE_PAGE_SIZE, 2002);
	tree_child_finish(STATE_EXIT_PASS);
}

__attribute__((noreturn)) static void run_child(void)
{
	pid_t grandchild;

	state_fill(private_region, PRIVATE_BYTES, 3001);
	write_slots(CHILD_SETUP);
	child_region = map_region(CHILD_REGION_PAGES * STATE_PAGE_SIZE, MAP_SHARED);
	state_fill(child_page(0), STATE_PAGE_SIZE, 2000);
	grandchild = tree_fork();
	if (grandchild == 0)
		run_grandchild();
	tree_wait_ready(grandchild);
	tree_report_ready();
	state_wait_go_signal();
	expect_slots(ALL_SETUP | ROOT_AFTER_GO, "child");
	expect_child_region(2, "child");
	expect_private(3001, "child");
	write_slots(CHILD_AFTER_GO);
	state_expect(kill(grandchild, STATE_GO_SIGNAL) == 0, "child: kill(grandchild): %s",
		     strerror(errno));
	tree_expect_child_exit(grandchild, STATE_EXIT_PASS, "grandchild");
	expect_slots(ALL_SETUP | ROOT_AFTER_GO | CHILD_AFTER_GO | GRANDCHILD_AFTER_GO,
		     "child after the grandchild");
	expect_child_region(3, "child after the grandchild");
	tree_child_finish(STATE_EXIT_PASS);
}

int main(void)
{
	pid_t child;

	tree_init();
	shared_region = map_region(REGION_PAGES * STATE_PAGE_SIZE, MAP_SHARED);
	private_region = map_region(PRIVATE_BYTES, MAP_PRIVATE);
	state_fill(private_region, PRIVATE_BYTES, 3000);
	write_slots(ROOT_BEFORE_FORK);
	child = tree_fork();
	if (child == 0)
		run_child();
	tree_wait_ready(child);
	write_slots(ROOT_SETUP);
	state_ready();
	state_wait_go_signal();
	expect_slots(ALL_SETUP, "root");
	expect_private(3000, "root");
	write_slots(ROOT_AFTER_GO);
	state_expect(kill(child, STATE_GO_SIGNAL) == 0, "kill(child): %s", strerror(errno));
	tree_expect_child_exit(child, STATE_EXIT_PASS, "child");
	expect_slots(ALL_SETUP | ROOT_AFTER_GO | CHILD_AFTER_GO | GRANDCHILD_AFTER_GO,
		     "root after the child");
	expect_private(3000, "root after the child");
	state_finish();
}
