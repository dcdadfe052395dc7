/*
 * Four generations in one line: the root, its child, grandchild and
 * great-grandchild.  Each keeps its own heap: blocks it allocated after its
 * fork, and a block inherited from the root that it overwrote (so the same
 * address holds different bytes in each process).  After restart every
 * process has its PID and its parent, finds its own bytes, and the exit
 * statuses come back up the line through waitpid, each generation exiting
 * with its own code.
 */
#include "state.h"

#include <limits.h>
#include <sys/wait.h>

enum {
	YOUNGEST_DEPTH = 3,
	BLOCK_COUNT = 5,
	INHERITED_BYTES = 96 * 1024,
	PASS_EXIT_BASE = 40, /* generation d exits 40 + d when its checks hold */
};

#include "tree.h"

struct heap_block {
	unsigned char *bytes;
	size_t length;
};

/* What one process built; each process has its own copy after fork. */
struct generation {
	int depth;
	pid_t parent;
	pid_t child;
	struct heap_block blocks[BLOCK_COUNT];
};

static struct generation self;
static unsigned char *inherited_block; /* allocated by the root, rewritten by every generation */

static uint64_t block_seed(int depth, unsigned index)
{
	return 5000 + (uint64_t)depth * 100 + index;
}

static size_t block_length(int depth, unsigned index)
{
	if (index == BLOCK_COUNT - 1)
		return 300 * 1024 + (size_t)depth * 4096; /* malloc's own mmap */
	return 24 + (size_t)index * 1500 + (size_t)depth * 8;
}

static void build_heap(void)
{
	for (unsigned index = 0; index < BLOCK_COUNT; index++) {
		struct heap_block *block = &self.blocks[index];

		block->length = block_length(self.depth, index);
		block->bytes = malloc(block->length);
		if (block->bytes == NULL)
			state_setup_fail("malloc(%zu)", block->length);
		state_fill(block->bytes, block->length, block_seed(self.depth, index));
	}
	state_fill(inherited_block, INHERITED_BYTES, 9000 + (uint64_t)self.depth);
}

static void check_heap(void)
{
	char what[96];

	for (unsigned index = 0; index < BLOCK_COUNT; index++) {
		snprintf(what, sizeof(what), "generation %d heap block %u", self.depth, index);
		state_expect_pattern(self.blocks[index].bytes, self.blocks[index].length,
				     block_seed(self.depth, index), what);
	}
	snprintf(what, sizeof(what), "generation %d copy of the inherited block", self.depth);
	state_expect_pattern(inherited_block, INHERITED_BYTES, 9000 + (uint64_t)self.depth, what);
}

static void check_generation(void)
{
	state_expect(getppid() == self.parent, "generation %d: getppid() is %d, was %d", self.depth,
		     (int)getppid(), (int)self.parent);
	check_heap();
}

/* One generation: builds its heap, starts the next one, waits, checks. */
__attribute__((noreturn)) static void run_generation(int depth)
{
	char child_role[32];

	self.depth = depth;
	self.parent = getppid();
	build_heap();
	if (depth < YOUNGEST_DEPTH) {
		self.child = tree_fork();
		if (self.child == 0)
			run_generation(depth + 1);
		tree_wait_ready(self.child);
	}
	if (depth == 0)
		state_ready();
	else
		tree_report_ready();
	tree_wait_go(&self.child, depth < YOUNGEST_DEPTH ? 1 : 0);
	check_generation();
	snprintf(child_role, sizeof(child_role), "generation %d", depth + 1);
	if (depth < YOUNGEST_DEPTH)
		tree_expect_child_exit(self.child, PASS_EXIT_BASE + depth + 1, child_role);
	if (depth == 0)
		state_finish();
	tree_child_finish(PASS_EXIT_BASE + depth);
}

int main(void)
{
	tree_init();
	inherited_block = malloc(INHERITED_BYTES);
	if (inherited_block == NULL)
		state_setup_fail("malloc(%d)", INHERITED_BYTES);
	run_generation(0);
}
