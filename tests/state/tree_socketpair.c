/*
 * A parent and its child talking over socketpairs across the checkpoint.
 * A stream pair at fds 5 and 6 is held by both processes (one object per
 * end, shared); a datagram pair at 7 (root only) and 8 (child only).
 * Before ready the root sent "to-child" on 5 and the child sent
 * "to-root" on 6 and two datagrams on 8, all still queued.  After restart
 * the child reads "to-child" on 6 and sends a third datagram; the root
 * reads "to-root" on 5, the three datagrams in order on 7, then finds
 * every queue empty: one pair of sockets, shared, the data in place.
 */
#include "state.h"

#include <sys/socket.h>

enum {
	STREAM_ROOT = 5,
	STREAM_CHILD = 6,
	DGRAM_ROOT = 7,
	DGRAM_CHILD = 8
};

#include "tree.h"

static const char *const datagrams[] = { "first", "second datagram", "third, after restart" };

static void make_pair(int type, int wanted_a, int wanted_b)
{
	int pair[2];

	if (socketpair(AF_UNIX, type, 0, pair) < 0)
		state_setup_fail("socketpair: %s", strerror(errno));
	if (dup2(pair[0], wanted_a) != wanted_a || dup2(pair[1], wanted_b) != wanted_b)
		state_setup_fail("dup2: %s", strerror(errno));
	close(pair[0]);
	close(pair[1]);
}

static void send_text(int fd, const char *text)
{
	if (send(fd, text, strlen(text), 0) != (ssize_t)strlen(text))
		state_setup_fail("send on fd %d: %s", fd, strerror(errno));
}

static void expect_text(const char *who, int fd, const char *text)
{
	char buffer[128] = { 0 };
	ssize_t got = recv(fd, buffer, sizeof(buffer) - 1, MSG_DONTWAIT);

	state_expect(got == (ssize_t)strlen(text) && strcmp(buffer, text) == 0,
		     "%s: fd %d gave %zd bytes \"%s\", expected \"%s\"", who, fd, got,
		     got > 0 ? buffer : "", text);
}

static void expect_empty(const char *who, int fd)
{
	char byte;

	state_expect(recv(fd, &byte, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN,
		     "%s: fd %d still has data", who, fd);
}

__attribute__((noreturn)) static void run_child(void)
{
	close(DGRAM_ROOT);
	send_text(STREAM_CHILD, "to-root");
	send_text(DGRAM_CHILD, datagrams[0]);
	send_text(DGRAM_CHILD, datagrams[1]);
	tree_report_ready();
	state_wait_go_signal();
	expect_text("child", STREAM_CHILD, "to-child");
	state_expect(send(DGRAM_CHILD, datagrams[2], strlen(datagrams[2]), 0) > 0,
		     "child: send: %s", strerror(errno));
	tree_child_finish(STATE_EXIT_PASS);
}

int main(void)
{
	pid_t child;

	tree_init();
	make_pair(SOCK_STREAM, STREAM_ROOT, STREAM_CHILD);
	make_pair(SOCK_DGRAM, DGRAM_ROOT, DGRAM_CHILD);
	send_text(STREAM_ROOT, "to-child");
	child = tree_fork();
	if (child == 0)
		run_child();
	close(DGRAM_CHILD);
	tree_wait_ready(child);
	state_ready();
	state_wait_go_signal();
	expect_text("root", STREAM_ROOT, "to-root");
	state_expect(kill(child, STATE_GO_SIGNAL) == 0, "kill(child, SIGUSR1): %s", strerror(errno));
	tree_expect_child_exit(child, STATE_EXIT_PASS, "child");
	for (size_t i = 0; i < 3; i++)
		expect_text("root", DGRAM_ROOT, datagrams[i]);
	expect_empty("root", DGRAM_ROOT);
	expect_empty("root", STREAM_ROOT);
	expect_empty("root", STREAM_CHILD);
	state_finish();
}
