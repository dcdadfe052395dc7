/*
 * memfds (memfd_create): one held as an fd with a size that is not a whole
 * number of pages, a file position and seals against shrinking and growing,
 * and mapped whole; one whose fd was closed, mapped only in part at an
 * offset; one sealed against writes whose data came through write() and
 * which is mapped read-only.  After restart each is still one object
 * (a store through its mapping shows through its fd), with its name, size,
 * position, seals, contents and maps lines (all but the inode numbers).
 */
#include "state.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

enum {
	OPEN_PAGES = 6, /* the held memfd: 6 pages and TAIL_BYTES */
	TAIL_BYTES = 100,
	FD_POSITION = 1234,
	PART_OBJECT_PAGES = 8, /* the closed memfd: pages [PART_FIRST, +PART_PAGES) mapped */
	PART_FIRST = 2,
	PART_PAGES = 3,
	SEALED_PAGES = 2,
};

#define OPEN_SIZE ((size_t)OPEN_PAGES * STATE_PAGE_SIZE + TAIL_BYTES)
#define OPEN_MAPPED ((size_t)(OPEN_PAGES + 1) * STATE_PAGE_SIZE)
#define SEALED_SIZE ((size_t)SEALED_PAGES * STATE_PAGE_SIZE)
#define OPEN_SEALS (F_SEAL_SHRINK | F_SEAL_GROW)
#define SEALED_SEALS (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

static int open_memfd = -1;
static unsigned char *open_view;
static unsigned char *part_view;
static int sealed_memfd = -1;
static unsigned char *sealed_view;
static char maps_before[2048];

static void record_maps(char *out, size_t capacity)
{
	char part[512], sealed[512];

	state_maps_lines_in((uintptr_t)open_view, (uintptr_t)open_view + OPEN_MAPPED, out, capacity);
	state_maps_lines_in((uintptr_t)part_view,
			    (uintptr_t)part_view + PART_PAGES * STATE_PAGE_SIZE, part, sizeof(part));
	state_maps_lines_in((uintptr_t)sealed_view, (uintptr_t)sealed_view + SEALED_SIZE, sealed,
			    sizeof(sealed));
	state_append_text(out, capacity, part, strlen(part));
	state_append_text(out, capacity, sealed, strlen(sealed));
	state_maps_drop_inodes(out, capacity);
}

static void check_maps(void)
{
	char maps_after[2048];

	record_maps(maps_after, sizeof(maps_after));
	state_expect_equal_text(maps_after, maps_before, "maps of the memfd mappings");
}

static int make_memfd(const char *name, unsigned int flags, off_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC | flags);

	if (fd < 0 || ftruncate(fd, size) != 0)
		state_setup_fail("memfd %s: %s", name, strerror(errno));
	return fd;
}

static void *map_memfd(int fd, size_t length, int prot, off_t offset)
{
	void *view = mmap(NULL, length, prot, MAP_SHARED, fd, offset);

	if (view == MAP_FAILED)
		state_setup_fail("mmap of a memfd: %s", strerror(errno));
	return view;
}

static void build_open_memfd(void)
{
	open_memfd = make_memfd("ckpt-open", MFD_ALLOW_SEALING, (off_t)OPEN_SIZE);
	open_view = map_memfd(open_memfd, OPEN_MAPPED, PROT_READ | PROT_WRITE, 0);
	state_fill(open_view, OPEN_SIZE, 700);
	if (fcntl(open_memfd, F_ADD_SEALS, OPEN_SEALS) != 0 ||
	    lseek(open_memfd, FD_POSITION, SEEK_SET) != FD_POSITION)
		state_setup_fail("sealing or seeking the memfd: %s", strerror(errno));
}

static void build_part_memfd(void)
{
	int fd = make_memfd("ckpt-part", 0, (off_t)PART_OBJECT_PAGES * STATE_PAGE_SIZE);

	part_view = map_memfd(fd, PART_PAGES * STATE_PAGE_SIZE, PROT_READ | PROT_WRITE,
			      (off_t)PART_FIRST * STATE_PAGE_SIZE);
	state_fill(part_view, PART_PAGES * STATE_PAGE_SIZE, 710);
	close(fd);
}

static void build_sealed_memfd(void)
{
	unsigned char data[SEALED_SIZE];

	sealed_memfd = make_memfd("ckpt-sealed", MFD_ALLOW_SEALING, 0);
	state_fill(data, sizeof(data), 720);
	if (write(sealed_memfd, data, sizeof(data)) != (ssize_t)sizeof(data) ||
	    fcntl(sealed_memfd, F_ADD_SEALS, SEALED_SEALS) != 0)
		state_setup_fail("filling or sealing the memfd: %s", strerror(errno));
	sealed_view = map_memfd(sealed_memfd, SEALED_SIZE, PROT_READ, 0);
}

static void expect_fd_facts(int fd, const char *name, off_t size, int seals, off_t position)
{
	char link[64], target[128], expected[128];
	struct stat st;
	ssize_t length;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	length = readlink(link, target, sizeof(target) - 1);
	target[length < 0 ? 0 : length] = '\0';
	snprintf(expected, sizeof(expected), "/memfd:%s (deleted)", name);
	state_expect_equal_text(target, expected, "fd link of the memfd");
	state_expect(fstat(fd, &st) == 0 && st.st_size == size, "size of memfd %s is %lld", name,
		     (long long)st.st_size);
	state_expect_equal_long(fcntl(fd, F_GET_SEALS), seals, "seals of the memfd");
	state_expect_equal_long(lseek(fd, 0, SEEK_CUR), position, "position of the memfd fd");
	state_expect_equal_long(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR,
				"access mode of the memfd fd");
}

static void expect_file_pattern(int fd, size_t length, uint64_t seed, const char *what)
{
	static unsigned char contents[OPEN_SIZE];

	state_expect(pread(fd, contents, length, 0) == (ssize_t)length, "pread of %s: %s", what,
		     strerror(errno));
	state_expect_pattern(contents, length, seed, what);
}

static void check_open_memfd(void)
{
	expect_fd_facts(open_memfd, "ckpt-open", (off_t)OPEN_SIZE, OPEN_SEALS, FD_POSITION);
	state_expect_pattern(open_view, OPEN_SIZE, 700, "mapping of the held memfd");
	expect_file_pattern(open_memfd, OPEN_SIZE, 700, "the held memfd through its fd");
	state_fill(open_view, OPEN_SIZE, 730);
	expect_file_pattern(open_memfd, OPEN_SIZE, 730,
			    "the held memfd after a store to its mapping");
	state_expect(ftruncate(open_memfd, (off_t)OPEN_SIZE * 2) != 0 && errno == EPERM,
		     "a memfd sealed against growing grew");
}

static void check_part_memfd(void)
{
	state_expect_pattern(part_view, PART_PAGES * STATE_PAGE_SIZE, 710,
			     "memfd mapped at an offset");
}

static void check_sealed_memfd(void)
{
	void *writable;

	expect_fd_facts(sealed_memfd, "ckpt-sealed", (off_t)SEALED_SIZE, SEALED_SEALS,
			(off_t)SEALED_SIZE);
	state_expect_pattern(sealed_view, SEALED_SIZE, 720, "mapping of the write-sealed memfd");
	expect_file_pattern(sealed_memfd, SEALED_SIZE, 720, "the write-sealed memfd");
	state_expect(pwrite(sealed_memfd, "x", 1, 0) < 0 && errno == EPERM,
		     "a write to a write-sealed memfd succeeded");
	writable = mmap(NULL, SEALED_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, sealed_memfd, 0);
	state_expect(writable == MAP_FAILED, "a write-sealed memfd was mapped writable");
	state_expect(mprotect(sealed_view, SEALED_SIZE, PROT_READ | PROT_WRITE) != 0,
		     "the read-only mapping of a write-sealed memfd became writable");
}

int main(void)
{
	state_init();
	build_open_memfd();
	build_part_memfd();
	build_sealed_memfd();
	record_maps(maps_before, sizeof(maps_before));
	state_ready();
	state_wait_go_signal();
	check_maps();
	check_open_memfd();
	check_part_memfd();
	check_sealed_memfd();
	state_finish();
}
