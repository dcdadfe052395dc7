/*
 * Heap and brk: malloc blocks of many sizes (small ones from the brk heap,
 * large ones from malloc's own mmaps) and a region grown with sbrk() hold
 * patterns; after restart sbrk(0) is unchanged, every byte is still there,
 * and malloc, free and sbrk keep working.
 */
#include "state.h"

#include <malloc.h>

enum {
	BLOCK_COUNT = 64,
	SBRK_GROWTH = 3 * 1024 * 1024 + 123,
};

struct heap_block {
	unsigned char *bytes;
	size_t length;
};

static struct heap_block blocks[BLOCK_COUNT];
static unsigned char *sbrk_region;
static void *break_before;

static size_t block_length(unsigned index)
{
	if (index % 16 == 15)
		return (size_t)(index + 1) * 64 * 1024; /* above the mmap threshold */
	return 16 + (size_t)index * 97;
}

static void allocate_blocks(void)
{
	for (unsigned index = 0; index < BLOCK_COUNT; index++) {
		blocks[index].length = block_length(index);
		blocks[index].bytes = malloc(blocks[index].length);
		if (blocks[index].bytes == NULL)
			state_setup_fail("malloc(%zu)", blocks[index].length);
		state_fill(blocks[index].bytes, blocks[index].length, 1000 + index);
	}
	/* Leave holes in the heap so that free lists are part of the state. */
	for (unsigned index = 1; index < BLOCK_COUNT; index += 4) {
		free(blocks[index].bytes);
		blocks[index].bytes = NULL;
	}
}

static void grow_break(void)
{
	void *old_break = sbrk(SBRK_GROWTH);

	if (old_break == (void *)-1)
		state_setup_fail("sbrk: %s", strerror(errno));
	sbrk_region = old_break;
	state_fill(sbrk_region, SBRK_GROWTH, 77);
	break_before = sbrk(0);
}

static void check_blocks(void)
{
	char what[64];

	for (unsigned index = 0; index < BLOCK_COUNT; index++) {
		if (blocks[index].bytes == NULL)
			continue;
		snprintf(what, sizeof(what), "malloc block %u (%zu bytes)", index,
			 blocks[index].length);
		state_expect_pattern(blocks[index].bytes, blocks[index].length, 1000 + index, what);
	}
}

static void check_break(void)
{
	void *break_now = sbrk(0);

	state_expect(break_now == break_before, "sbrk(0) is %p, was %p", break_now, break_before);
	state_expect_pattern(sbrk_region, SBRK_GROWTH, 77, "sbrk-grown region");
}

static void check_heap_still_works(void)
{
	unsigned char *more_break = sbrk(4 * STATE_PAGE_SIZE);
	void *blocks_after[32];

	state_expect(more_break == break_before, "sbrk after restart returned %p, expected %p",
		     (void *)more_break, break_before);
	if (more_break != (void *)-1)
		memset(more_break, 0x5a, 4 * STATE_PAGE_SIZE);
	for (unsigned index = 0; index < 32; index++) {
		blocks_after[index] = malloc(block_length(index * 3));
		state_expect(blocks_after[index] != NULL, "malloc after restart failed");
		if (blocks_after[index] != NULL)
			memset(blocks_after[index], 0xa5, block_length(index * 3));
	}
	for (unsigned index = 0; index < 32; index++)
		free(blocks_after[index]);
	for (unsigned index = 0; index < BLOCK_COUNT; index++)
		free(blocks[index].bytes);
}

int main(void)
{
	state_init();
	allocate_blocks();
	grow_break();
	state_ready();
	state_wait_go_signal();
	check_blocks();
	check_break();
	check_heap_still_works();
	state_finish();
}
