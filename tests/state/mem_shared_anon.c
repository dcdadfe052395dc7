/*
 * Shared anonymous memory (MAP_SHARED | MAP_ANONYMOUS, backed by shmem) and
 * a memfd mapped twice: after restart the data is there, the maps lines are
 * the same but for the inode numbers (the kernel numbers each new shmem
 * object itself), and the two mappings of the memfd still share their pages.
 */
#include "state.h"

#include <sys/mman.h>

enum {
	SHARED_PAGES = 10,
	MEMFD_PAGES = 4
};
/* Pages of an object of which only [PART_FIRST, PART_END) stays mapped. */
enum {
	PART_OBJECT_PAGES = 8,
	PART_FIRST = 2,
	PART_END = 7
};

static unsigned char *shared_anon;
static unsigned char *memfd_view_one;
static unsigned char *memfd_view_two;
static int memfd = -1;
static unsigned char *shared_part;
static char anon_maps_before[512];
static char part_maps_before[512];
static char memfd_maps_before[1024];

static void record_maps(char *anon_out, size_t anon_capacity, char *memfd_out, size_t memfd_capacity)
{
	char second[512];

	state_maps_lines_in((uintptr_t)shared_anon,
			    (uintptr_t)shared_anon + SHARED_PAGES * STATE_PAGE_SIZE, anon_out,
			    anon_capacity);
	state_maps_lines_in((uintptr_t)memfd_view_one,
			    (uintptr_t)memfd_view_one + MEMFD_PAGES * STATE_PAGE_SIZE, memfd_out,
			    memfd_capacity);
	state_maps_lines_in((uintptr_t)memfd_view_two,
			    (uintptr_t)memfd_view_two + MEMFD_PAGES * STATE_PAGE_SIZE, second,
			    sizeof(second));
	state_append_text(memfd_out, memfd_capacity, second, strlen(second));
	state_maps_drop_inodes(anon_out, anon_capacity);
	state_maps_drop_inodes(memfd_out, memfd_capacity);
}

/* The maps line of the part, whose offset field says PART_FIRST pages. */
static void record_part_maps(char *out, size_t capacity)
{
	state_maps_lines_in((uintptr_t)shared_part,
			    (uintptr_t)shared_part + (PART_END - PART_FIRST) * STATE_PAGE_SIZE, out,
			    capacity);
	state_maps_drop_inodes(out, capacity);
}

/* Shared anonymous memory whose head and tail were unmapped: its offset is not 0. */
static void build_shared_part(void)
{
	unsigned char *whole = mmap(NULL, PART_OBJECT_PAGES * STATE_PAGE_SIZE,
				    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (whole == MAP_FAILED)
		state_setup_fail("mmap: %s", strerror(errno));
	state_fill(whole, PART_OBJECT_PAGES * STATE_PAGE_SIZE, 640);
	if (munmap(whole, PART_FIRST * STATE_PAGE_SIZE) != 0 ||
	    munmap(whole + PART_END * STATE_PAGE_SIZE,
		   (PART_OBJECT_PAGES - PART_END) * STATE_PAGE_SIZE) != 0)
		state_setup_fail("munmap: %s", strerror(errno));
	shared_part = whole + PART_FIRST * STATE_PAGE_SIZE;
	record_part_maps(part_maps_before, sizeof(part_maps_before));
}

static void check_shared_part(void)
{
	char part_maps_after[512];
	unsigned char expected[(PART_END - PART_FIRST) * STATE_PAGE_SIZE];
	unsigned char whole[PART_OBJECT_PAGES * STATE_PAGE_SIZE];

	record_part_maps(part_maps_after, sizeof(part_maps_after));
	state_expect_equal_text(part_maps_after, part_maps_before,
				"maps of shared anonymous memory at an offset");
	state_fill(whole, sizeof(whole), 640);
	memcpy(expected, whole + PART_FIRST * STATE_PAGE_SIZE, sizeof(expected));
	state_expect_equal_bytes(shared_part, expected, sizeof(expected),
				 "shared anonymous memory at an offset");
}

static void build_shared_memory(void)
{
	size_t memfd_length = MEMFD_PAGES * STATE_PAGE_SIZE;

	shared_anon = mmap(NULL, SHARED_PAGES * STATE_PAGE_SIZE, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memfd = memfd_create("ckpt-state-memfd", MFD_CLOEXEC);
	if (shared_anon == MAP_FAILED || memfd < 0 || ftruncate(memfd, (off_t)memfd_length) != 0)
		state_setup_fail("shared memory: %s", strerror(errno));
	memfd_view_one = mmap(NULL, memfd_length, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	memfd_view_two = mmap(NULL, memfd_length, PROT_READ, MAP_SHARED, memfd, 0);
	if (memfd_view_one == MAP_FAILED || memfd_view_two == MAP_FAILED)
		state_setup_fail("mmap memfd: %s", strerror(errno));
	state_fill(shared_anon, SHARED_PAGES * STATE_PAGE_SIZE / 2, 610);
	state_fill(memfd_view_one, memfd_length, 620);
	record_maps(anon_maps_before, sizeof(anon_maps_before), memfd_maps_before,
		    sizeof(memfd_maps_before));
}

static void check_shared_memory(void)
{
	char anon_maps_after[512];
	char memfd_maps_after[1024];
	size_t memfd_length = MEMFD_PAGES * STATE_PAGE_SIZE;

	record_maps(anon_maps_after, sizeof(anon_maps_after), memfd_maps_after,
		    sizeof(memfd_maps_after));
	state_expect_equal_text(anon_maps_after, anon_maps_before, "maps of shared anonymous");
	state_expect_equal_text(memfd_maps_after, memfd_maps_before, "maps of the memfd views");
	state_expect_pattern(shared_anon, SHARED_PAGES * STATE_PAGE_SIZE / 2, 610,
			     "shared anonymous memory");
	state_expect(state_is_all_zero(shared_anon + SHARED_PAGES * STATE_PAGE_SIZE / 2,
				       SHARED_PAGES * STATE_PAGE_SIZE / 2),
		     "untouched half of shared anonymous memory is not zero");
	state_expect_pattern(memfd_view_two, memfd_length, 620, "second memfd view");
	state_fill(memfd_view_one, memfd_length, 630);
	state_expect_pattern(memfd_view_two, memfd_length, 630,
			     "second memfd view after a store to the first");
}

int main(void)
{
	state_init();
	build_shared_memory();
	build_shared_part();
	state_ready();
	state_wait_go_signal();
	check_shared_memory();
	check_shared_part();
	state_finish();
}
