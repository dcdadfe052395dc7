/*
 * A statically linked program (no ld.so, no shared libraries, its own TLS
 * setup): heap blocks and an sbrk-grown region with patterns, data left in
 * frames of a recursion, a __thread variable, and a regular file fd at an
 * offset.  After restart all of them are intact, the break is the same and
 * the file reads on from its offset.
 */
#include "../state.h"

enum {
	BLOCK_COUNT = 16,
	DEPTH = 200,
	FRAME_BYTES = 256,
	FILE_BYTES = 8192
};

static unsigned char *blocks[BLOCK_COUNT];
static unsigned char *break_region;
static void *break_before;
static __thread uint64_t thread_value = 0x5eed5eed5eed5eedULL;
static char scratch_dir[256];
static char file_path[300];
static int file_fd = -1;
static unsigned long damaged_frames;

static size_t block_length(unsigned index)
{
	return index == BLOCK_COUNT - 1 ? 512 * 1024 : 24 + index * 300;
}

static void build_heap(void)
{
	for (unsigned index = 0; index < BLOCK_COUNT; index++) {
		blocks[index] = malloc(block_length(index));
		if (blocks[index] == NULL)
			state_setup_fail("malloc");
		state_fill(blocks[index], block_length(index), 60 + index);
	}
	break_region = sbrk(8 * STATE_PAGE_SIZE);
	if (break_region == (void *)-1)
		state_setup_fail("sbrk: %s", strerror(errno));
	state_fill(break_region, 8 * STATE_PAGE_SIZE, 59);
	break_before = sbrk(0);
}

static void open_file(void)
{
	static unsigned char contents[FILE_BYTES];

	state_make_scratch_dir(scratch_dir, sizeof(scratch_dir));
	state_path_in(file_path, sizeof(file_path), scratch_dir, "static-file");
	state_fill(contents, FILE_BYTES, 58);
	state_write_file(file_path, contents, FILE_BYTES);
	file_fd = open(file_path, O_RDONLY);
	if (file_fd < 0 || lseek(file_fd, 3000, SEEK_SET) != 3000)
		state_setup_fail("open %s: %s", file_path, strerror(errno));
}

static void wait_for_go(void)
{
	thread_value ^= 0xff;
	state_ready();
	state_wait_go_signal();
}

__attribute__((noinline)) static unsigned descend(unsigned depth)
{
	volatile unsigned char frame[FRAME_BYTES];
	unsigned below = 0;

	for (unsigned offset = 0; offset < FRAME_BYTES; offset++)
		frame[offset] = state_pattern_byte(depth + 5000, offset);
	if (depth < DEPTH)
		below = descend(depth + 1);
	else
		wait_for_go();
	for (unsigned offset = 0; offset < FRAME_BYTES; offset++) {
		if (frame[offset] != state_pattern_byte(depth + 5000, offset)) {
			damaged_frames++;
			break;
		}
	}
	return below + frame[0];
}

static void check_heap_and_file(void)
{
	unsigned char got[100];
	unsigned char expected[100];

	for (unsigned index = 0; index < BLOCK_COUNT; index++)
		state_expect_pattern(blocks[index], block_length(index), 60 + index, "heap block");
	state_expect(sbrk(0) == break_before, "break is %p, was %p", sbrk(0), break_before);
	state_expect_pattern(break_region, 8 * STATE_PAGE_SIZE, 59, "sbrk region");
	state_expect(thread_value == (0x5eed5eed5eed5eedULL ^ 0xff), "__thread value is %#llx",
		     (unsigned long long)thread_value);
	for (size_t index = 0; index < sizeof(expected); index++)
		expected[index] = state_pattern_byte(58, 3000 + index);
	state_expect(read(file_fd, got, sizeof(got)) == (ssize_t)sizeof(got), "short file read");
	state_expect_equal_bytes(got, expected, sizeof(got), "file read after restart");
}

int main(void)
{
	state_init();
	build_heap();
	open_file();
	descend(1);
	state_expect(damaged_frames == 0, "%lu stack frames damaged", damaged_frames);
	check_heap_and_file();
	close(file_fd);
	unlink(file_path);
	rmdir(scratch_dir);
	state_finish();
}
