/*
 * A hundred descendants: the root forks 10 children and each of them forks
 * 9 grandchildren.  Every process has an index (1-100), a value computed
 * from it and a heap block filled from it.  After restart each has its PID
 * and parent and finds its value and block, and exits with 100 + its index;
 * each child checks the exact statuses of its 9 grandchildren and the root
 * those of its 10 children, so all 100 statuses are checked.
 */
#include "state.h"

#include <limits.h>
#include <sys/wait.h>

enum {
	CHILD_COUNT = 10,
	GRANDCHILDREN_PER_CHILD = 9,
	PASS_EXIT_BASE = 100, /* a process passes with exit 100 + its index */
	BLOCK_BASE_BYTES = 1000,
};

#include "tree.h"

/* This process's own data (each process has its copy after fork). */
static struct {
	unsigned index;
	pid_t parent;
	uint64_t value;
	unsigned char *block;
} self;

static size_t block_length(unsigned index)
{
	return BLOCK_BASE_BYTES + (size_t)index * 37;
}

static void become(unsigned index)
{
	self.index = index;
	self.parent = getppid();
	self.value = state_mix64(index);
	self.block = malloc(block_length(index));
	if (self.block == NULL)
		state_setup_fail("malloc(%zu)", block_length(index));
	state_fill(self.block, block_length(index), index);
}

static void check_self(void)
{
	char what[48];

	snprintf(what, sizeof(what), "process %u heap block", self.index);
	state_expect(getppid() == self.parent, "process %u: getppid() is %d, was %d", self.index,
		     (int)getppid(), (int)self.parent);
	state_expect(self.value == state_mix64(self.index), "process %u: value is %#llx",
		     self.index, (unsigned long long)self.value);
	state_expect_pattern(self.block, block_length(self.index), self.index, what);
}

__attribute__((noreturn)) static void run_grandchild(unsigned index)
{
	become(index);
	tree_report_ready();
	state_wait_go_signal();
	check_self();
	tree_child_finish(PASS_EXIT_BASE + (int)index);
}

static void expect_exits(const pid_t *children, const unsigned *indexes, size_t count)
{
	char role[32];

	for (size_t position = 0; position < count; position++) {
		snprintf(role, sizeof(role), "process %u", indexes[position]);
		tree_expect_child_exit(children[position], PASS_EXIT_BASE + (int)indexes[position],
				       role);
	}
}

__attribute__((noreturn)) static void run_child(unsigned index)
{
	pid_t grandchildren[GRANDCHILDREN_PER_CHILD];
	unsigned indexes[GRANDCHILDREN_PER_CHILD];

	become(index);
	for (unsigned position = 0; position < GRANDCHILDREN_PER_CHILD; position++) {
		indexes[position] = index + 1 + position;
		grandchildren[position] = tree_fork();
		if (grandchildren[position] == 0)
			run_grandchild(indexes[position]);
		tree_wait_ready(grandchildren[position]);
	}
	tree_report_ready();
	tree_wait_go(grandchildren, GRANDCHILDREN_PER_CHILD);
	check_self();
	expect_exits(grandchildren, indexes, GRANDCHILDREN_PER_CHILD);
	tree_child_finish(PASS_EXIT_BASE + (int)index);
}

int main(void)
{
	pid_t children[CHILD_COUNT];
	unsigned indexes[CHILD_COUNT];

	tree_init();
	for (unsigned position = 0; position < CHILD_COUNT; position++) {
		indexes[position] = 1 + position * (GRANDCHILDREN_PER_CHILD + 1);
		children[position] = tree_fork();
		if (children[position] == 0)
			run_child(indexes[position]);
		tree_wait_ready(children[position]);
	}
	state_ready();
	tree_wait_go(children, CHILD_COUNT);
	expect_exits(children, indexes, CHILD_COUNT);
	state_finish();
}
