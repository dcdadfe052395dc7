/*
 * An epoll at fd 7 watching: an eventfd holding 1 (fd 8, level-triggered),
 * a fired timerfd (fd 9, EPOLLET), an empty eventfd (fd 11, EPOLLONESHOT),
 * an eventfd for writing (fd 12, EPOLLOUT | EPOLLEXCLUSIVE), a nested
 * epoll (fd 13) that watches a ready eventfd (fd 14), and stdout for
 * writing (fd 1: after restart, the pipe ckpt restart hands over).  After restart: the
 * watched list in fdinfo (fd, events, data) is the same for both epolls;
 * epoll_wait reports exactly the ready ones with their data; a write makes
 * the one-shot report once and then no more; EPOLL_CTL_MOD and
 * EPOLL_CTL_DEL work on the old fd numbers.
 */
#include "state.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

enum {
	OUTER_FD = 7,
	COUNTER_FD = 8,
	TIMER_FD = 9,
	ONESHOT_FD = 11,
	WRITABLE_FD = 12,
	INNER_FD = 13,
	INNER_COUNTER_FD = 14
};

static char outer_before[4096], inner_before[4096];

static void place(int fd, int wanted_fd)
{
	if (fd < 0 || dup2(fd, wanted_fd) != wanted_fd)
		state_setup_fail("fd %d: %s", wanted_fd, strerror(errno));
	close(fd);
}

static void watch(int epoll_fd, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event event = { .events = events, .data.u64 = data };

	if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) < 0)
		state_setup_fail("epoll_ctl add %d: %s", fd, strerror(errno));
}

static void make_fired_timer(void)
{
	struct itimerspec setting = { .it_value = { 0, 1000000 } };

	place(timerfd_create(CLOCK_MONOTONIC, 0), TIMER_FD);
	if (timerfd_settime(TIMER_FD, 0, &setting, NULL) < 0)
		state_setup_fail("timerfd_settime: %s", strerror(errno));
}

/* poll() on the timerfd itself: the epoll's edge stays unconsumed. */
static void wait_timer_fired(void)
{
	struct pollfd wanted = { .fd = TIMER_FD, .events = POLLIN };

	if (poll(&wanted, 1, 10000) != 1)
		state_setup_fail("the timer never fired");
}

static int compare_lines(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* The "tfd: N events: X data: Y" part of each watched line, sorted (the kernel orders by file address). */
static void watched_list(int epoll_fd, char *out, size_t capacity)
{
	char path[64], text[4096], lines[16][80];
	const char *line;
	size_t count = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epoll_fd);
	state_read_file(path, text, sizeof(text));
	for (line = strstr(text, "tfd:"); line && count < 16; line = strstr(line + 1, "tfd:")) {
		const char *end = strstr(line, "pos:");

		if (!end)
			break;
		snprintf(lines[count++], sizeof(lines[0]), "%.*s", (int)(end - line), line);
	}
	qsort(lines, count, sizeof(lines[0]), compare_lines);
	out[0] = '\0';
	for (size_t i = 0; i < count; i++) {
		state_append_text(out, capacity, lines[i], strlen(lines[i]));
		state_append_text(out, capacity, "\n", 1);
	}
}

static void build(void)
{
	uint64_t one = 1;

	place(epoll_create1(0), OUTER_FD);
	place(eventfd(1, 0), COUNTER_FD);
	make_fired_timer();
	place(eventfd(0, EFD_NONBLOCK), ONESHOT_FD);
	place(eventfd(0, 0), WRITABLE_FD);
	place(epoll_create1(0), INNER_FD);
	place(eventfd(0, 0), INNER_COUNTER_FD);
	if (write(INNER_COUNTER_FD, &one, sizeof(one)) != sizeof(one))
		state_setup_fail("write: %s", strerror(errno));
	watch(INNER_FD, INNER_COUNTER_FD, EPOLLIN, 0x5555);
	watch(OUTER_FD, COUNTER_FD, EPOLLIN, 0x1111);
	watch(OUTER_FD, TIMER_FD, EPOLLIN | EPOLLET, 0x2222);
	watch(OUTER_FD, ONESHOT_FD, EPOLLIN | EPOLLONESHOT, 0x3333);
	watch(OUTER_FD, WRITABLE_FD, EPOLLOUT | EPOLLEXCLUSIVE, 0x4444);
	watch(OUTER_FD, INNER_FD, EPOLLIN, 0x6666);
	watch(OUTER_FD, STDOUT_FILENO, EPOLLOUT, 0x8888); /* taken over at restart */
	wait_timer_fired();
	watched_list(OUTER_FD, outer_before, sizeof(outer_before));
	watched_list(INNER_FD, inner_before, sizeof(inner_before));
}

/* Which of the data values epoll_wait reports now, as bits (0x1111 -> 1 << 1, ...). */
static unsigned int ready_set(int epoll_fd)
{
	struct epoll_event events[16];
	unsigned int bits = 0;
	int count = epoll_wait(epoll_fd, events, 16, 0);

	for (int i = 0; i < count; i++)
		bits |= 1u << (events[i].data.u64 & 0xf);
	return bits;
}

static void check_lists(void)
{
	char outer_after[4096], inner_after[4096];

	watched_list(OUTER_FD, outer_after, sizeof(outer_after));
	watched_list(INNER_FD, inner_after, sizeof(inner_after));
	state_expect_equal_text(outer_after, outer_before, "outer epoll's watched list");
	state_expect_equal_text(inner_after, inner_before, "inner epoll's watched list");
}

static void check_events(void)
{
	uint64_t one = 1;
	struct epoll_event changed = { .events = EPOLLOUT, .data.u64 = 0x7777 };
	unsigned int ready = ready_set(OUTER_FD);
	unsigned int expected = 1u << 1 | 1u << 2 | 1u << 4 | 1u << 6 | 1u << 8;

	state_expect(ready == expected, "ready set %#x, expected %#x", ready, expected);
	state_expect(ready_set(INNER_FD) == 1u << 5, "inner epoll does not report its eventfd");
	state_expect(write(ONESHOT_FD, &one, sizeof(one)) == sizeof(one), "write: %s",
		     strerror(errno));
	ready = ready_set(OUTER_FD);
	state_expect(ready & (1u << 3), "the one-shot did not report after a write (%#x)", ready);
	ready = ready_set(OUTER_FD);
	state_expect(!(ready & (1u << 3)), "the one-shot reported twice (%#x)", ready);
	state_expect(epoll_ctl(OUTER_FD, EPOLL_CTL_MOD, COUNTER_FD, &changed) == 0,
		     "EPOLL_CTL_MOD on fd %d: %s", COUNTER_FD, strerror(errno));
	state_expect(ready_set(OUTER_FD) & (1u << 7), "the changed registration does not report");
	state_expect(epoll_ctl(OUTER_FD, EPOLL_CTL_DEL, TIMER_FD, NULL) == 0,
		     "EPOLL_CTL_DEL on fd %d: %s", TIMER_FD, strerror(errno));
}

int main(void)
{
	state_init();
	build();
	state_ready();
	state_wait_go_signal();
	check_lists();
	check_events();
	state_finish();
}
