/*
 * eventfds: a counter of 5 at fd 7 (shared with a dup at fd 8), an
 * EFD_SEMAPHORE one holding 3 at fd 9 (O_NONBLOCK), one holding 2^40 + 7
 * (above what eventfd() can be created with) and an empty non-blocking
 * one.  After restart: the counters, semaphore mode, F_GETFL and F_GETFD,
 * the dup still shares the counter, the semaphore gives 1 three times then
 * EAGAIN, the empty one EAGAIN, and fdinfo says the same.
 */
#include "state.h"

#include <sys/eventfd.h>

enum {
	COUNTER_FD = 7,
	DUP_FD = 8,
	SEMAPHORE_FD = 9,
	BIG_FD = 10,
	EMPTY_FD = 11
};

static const uint64_t big_value = (1ull << 40) + 7;

static void make_eventfd(int wanted_fd, unsigned int initial, int flags)
{
	int fd = eventfd(initial, flags);

	if (fd < 0 || dup2(fd, wanted_fd) != wanted_fd)
		state_setup_fail("eventfd at %d: %s", wanted_fd, strerror(errno));
	close(fd);
}

static void build(void)
{
	make_eventfd(COUNTER_FD, 5, 0);
	if (dup2(COUNTER_FD, DUP_FD) != DUP_FD)
		state_setup_fail("dup2: %s", strerror(errno));
	make_eventfd(SEMAPHORE_FD, 3, EFD_SEMAPHORE | EFD_NONBLOCK);
	make_eventfd(BIG_FD, 0, 0);
	if (write(BIG_FD, &big_value, sizeof(big_value)) != sizeof(big_value))
		state_setup_fail("write: %s", strerror(errno));
	make_eventfd(EMPTY_FD, 0, EFD_NONBLOCK);
	if (fcntl(EMPTY_FD, F_SETFD, FD_CLOEXEC) < 0)
		state_setup_fail("F_SETFD: %s", strerror(errno));
}

static void expect_read(int fd, uint64_t expected)
{
	uint64_t value = 0;
	ssize_t got = read(fd, &value, sizeof(value));

	state_expect(got == sizeof(value) && value == expected,
		     "fd %d: read gave %zd bytes, value %llu, expected %llu", fd, got,
		     (unsigned long long)value, (unsigned long long)expected);
}

static void expect_empty(int fd)
{
	uint64_t value = 0;
	ssize_t got = read(fd, &value, sizeof(value));

	state_expect(got < 0 && errno == EAGAIN, "fd %d: read of an empty eventfd gave %zd (%s)",
		     fd, got, got < 0 ? strerror(errno) : "data");
}

static void expect_flags(int fd, int status, int fd_flags)
{
	int got = fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK);

	state_expect(got == status, "fd %d: F_GETFL %#x, expected %#x", fd, got, status);
	state_expect(fcntl(fd, F_GETFD) == fd_flags, "fd %d: F_GETFD %d, expected %d", fd,
		     fcntl(fd, F_GETFD), fd_flags);
}

static void expect_fdinfo(int fd, const char *line)
{
	char path[64], text[1024];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	state_read_file(path, text, sizeof(text));
	state_expect(strstr(text, line) != NULL, "fd %d: fdinfo lacks \"%s\": %s", fd, line, text);
}

static void expect_shared_counter(void)
{
	uint64_t one = 1;

	expect_read(DUP_FD, 5);
	state_expect(write(COUNTER_FD, &one, sizeof(one)) == sizeof(one), "write: %s",
		     strerror(errno));
	expect_read(DUP_FD, 1);
}

static void check(void)
{
	expect_flags(COUNTER_FD, O_RDWR, 0);
	expect_flags(SEMAPHORE_FD, O_RDWR | O_NONBLOCK, 0);
	expect_flags(EMPTY_FD, O_RDWR | O_NONBLOCK, FD_CLOEXEC);
	expect_fdinfo(COUNTER_FD, "eventfd-count:                5");
	expect_fdinfo(SEMAPHORE_FD, "eventfd-semaphore: 1");
	expect_fdinfo(COUNTER_FD, "eventfd-semaphore: 0");
	expect_shared_counter();
	for (int i = 0; i < 3; i++)
		expect_read(SEMAPHORE_FD, 1);
	expect_empty(SEMAPHORE_FD);
	expect_read(BIG_FD, big_value);
	expect_empty(EMPTY_FD);
}

int main(void)
{
	state_init();
	build();
	state_ready();
	state_wait_go_signal();
	check();
	state_finish();
}
