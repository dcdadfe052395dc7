/*
 * Shared anonymous memory (MAP_SHARED | MAP_ANONYMOUS, backed by shmem) and
 * a memfd mapped twice: after restart the data is there, the maps lines are
 * the same but for the inode numbers (the kernel numbers each new shmem
 * object itself), and the two mappings of the memfd still share their pages.
 */
#include "state.h"

#include <sys/mman.h>

enum { SHARED_PAGES = 10, MEMFD_PAGES = 4 };

static unsigned char *shared_anon;
static unsigned char *memfd_view_one;
static unsigned char *memfd_view_two;
static int memfd = -1;
static char anon_maps_before[512];
static char memfd_maps_before[1024];

/* The maps line without its inode field, appended to out. */
static void append_without_inode(char *out, size_t capacity, const char *line, size_t length)
{
	const char *inode = line;
	const char *name;

	for (int field = 0; field < 4 && inode; field++) {
		inode = memchr(inode, ' ', length - (size_t)(inode - line));
		if (inode)
			inode++;
	}
	if (!inode) {
		state_append_text(out, capacity, line, length);
		return;
	}
	name = inode + strspn(inode, "0123456789");
	name += strspn(name, " ");
	state_append_text(out, capacity, line, (size_t)(inode - line));
	state_append_text(out, capacity, name, length - (size_t)(name - line));
}

/* Drops the inode field of each maps line: a restored shmem object has a new one. */
static void drop_inodes(char *lines, size_t capacity)
{
	char kept[1024] = "";
	const char *line = lines;

	while (*line != '\0') {
		const char *line_end = strchr(line, '\n');
		size_t length = line_end ? (size_t)(line_end - line) + 1 : strlen(line);

		append_without_inode(kept, sizeof(kept), line, length);
		line += length;
	}
	snprintf(lines, capacity, "%s", kept);
}

static void record_maps(char *anon_out, size_t anon_capacity, char *memfd_out,
			size_t memfd_capacity)
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
	drop_inodes(anon_out, anon_capacity);
	drop_inodes(memfd_out, memfd_capacity);
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
	state_ready();
	state_wait_go_signal();
	check_shared_memory();
	state_finish();
}
