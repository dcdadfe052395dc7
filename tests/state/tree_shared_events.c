/*
 * An eventfd and an epoll shared by parent and child.  The root makes an
 * eventfd holding 3 at fd 7 and an epoll at fd 8 watching it (data
 * 0xabc), then forks; the child dups the eventfd to fd 20, adds 4 and
 * sets O_NONBLOCK on it.  After restart the root sees O_NONBLOCK and the
 * epoll reporting the eventfd; the child reads 7 through its dup and sees
 * the epoll report nothing more; then the root's read finds the counter
 * empty (EAGAIN): one counter, one epoll, one set of status flags.
 */
#include "state.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

enum {
	COUNTER_FD = 7,
	EPOLL_FD = 8,
	CHILD_DUP_FD = 20
};

#include "tree.h"

static void place(int fd, int wanted_fd)
{
	if (fd < 0 || dup2(fd, wanted_fd) != wanted_fd)
		state_setup_fail("fd %d: %s", wanted_fd, strerror(errno));
	close(fd);
}

static bool epoll_reports_counter(void)
{
	struct epoll_event event = { 0 };
	int count = epoll_wait(EPOLL_FD, &event, 1, 0);

	return count == 1 && event.data.u64 == 0xabc && (event.events & EPOLLIN);
}

static void build_root(void)
{
	struct epoll_event event = { .events = EPOLLIN, .data.u64 = 0xabc };

	place(eventfd(3, 0), COUNTER_FD);
	place(epoll_create1(0), EPOLL_FD);
	if (epoll_ctl(EPOLL_FD, EPOLL_CTL_ADD, COUNTER_FD, &event) < 0)
		state_setup_fail("epoll_ctl: %s", strerror(errno));
}

__attribute__((noreturn)) static void run_child(void)
{
	uint64_t four = 4, value = 0;

	if (dup2(COUNTER_FD, CHILD_DUP_FD) != CHILD_DUP_FD ||
	    write(CHILD_DUP_FD, &four, sizeof(four)) != sizeof(four) ||
	    fcntl(CHILD_DUP_FD, F_SETFL, O_NONBLOCK) < 0)
		state_setup_fail("child: %s", strerror(errno));
	tree_report_ready();
	state_wait_go_signal();
	state_expect(read(CHILD_DUP_FD, &value, sizeof(value)) == sizeof(value) && value == 7,
		     "child: read %llu through fd %d, expected 7", (unsigned long long)value,
		     CHILD_DUP_FD);
	state_expect(!epoll_reports_counter(), "child: the epoll still reports the emptied eventfd");
	tree_child_finish(STATE_EXIT_PASS);
}

int main(void)
{
	uint64_t value = 0;
	pid_t child;

	tree_init();
	build_root();
	child = tree_fork();
	if (child == 0)
		run_child();
	tree_wait_ready(child);
	state_ready();
	state_wait_go_signal();
	state_expect((fcntl(COUNTER_FD, F_GETFL) & O_NONBLOCK) != 0,
		     "root: the child's O_NONBLOCK is not shared");
	state_expect(epoll_reports_counter(), "root: the epoll does not report the eventfd");
	state_expect(kill(child, STATE_GO_SIGNAL) == 0, "kill(child, SIGUSR1): %s", strerror(errno));
	tree_expect_child_exit(child, STATE_EXIT_PASS, "child");
	state_expect(read(COUNTER_FD, &value, sizeof(value)) < 0 && errno == EAGAIN,
		     "root: the counter is not shared (read gave %llu)", (unsigned long long)value);
	state_finish();
}
