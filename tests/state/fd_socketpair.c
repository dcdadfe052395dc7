/*
 * Unix socketpairs: a stream pair (fds 5, 6) with bytes queued both ways,
 * a datagram pair (7, 8) with three datagrams of 1, 100 and 3000 bytes
 * queued at 8, a seqpacket pair (9, 10) with two packets at 9 (fd 9
 * O_NONBLOCK, fd 10 FD_CLOEXEC), and a stream pair (11, 12) where 11 sent
 * "bye" then shut down writing.  After restart: each end reads exactly what
 * was waiting, datagram and packet boundaries kept, then EAGAIN; fd 12 sees
 * end of file after "bye"; socket types, flags, and the pairs still talk.
 */
#include "state.h"

#include <sys/socket.h>

enum {
	STREAM_A = 5,
	STREAM_B,
	DGRAM_A,
	DGRAM_B,
	PACKET_A,
	PACKET_B,
	SHUT_A,
	SHUT_B
};

static const size_t datagram_sizes[] = { 1, 100, 3000 };
static const size_t packet_sizes[] = { 17, 200 };

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

static void send_pattern(int fd, size_t length, uint64_t seed)
{
	char buffer[4096];

	state_fill(buffer, length, seed);
	if (send(fd, buffer, length, 0) != (ssize_t)length)
		state_setup_fail("send on fd %d: %s", fd, strerror(errno));
}

static void build(void)
{
	make_pair(SOCK_STREAM, STREAM_A, STREAM_B);
	make_pair(SOCK_DGRAM, DGRAM_A, DGRAM_B);
	make_pair(SOCK_SEQPACKET, PACKET_A, PACKET_B);
	make_pair(SOCK_STREAM, SHUT_A, SHUT_B);
	send_pattern(STREAM_A, 1000, 1);
	send_pattern(STREAM_A, 24, 2);
	send_pattern(STREAM_B, 333, 3);
	for (size_t i = 0; i < 3; i++)
		send_pattern(DGRAM_A, datagram_sizes[i], 10 + i);
	for (size_t i = 0; i < 2; i++)
		send_pattern(PACKET_B, packet_sizes[i], 20 + i);
	send_pattern(SHUT_A, 3, 30);
	if (shutdown(SHUT_A, SHUT_WR) < 0 || fcntl(PACKET_A, F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(PACKET_B, F_SETFD, FD_CLOEXEC) < 0)
		state_setup_fail("shutdown/fcntl: %s", strerror(errno));
}

static void expect_message(int fd, size_t length, uint64_t seed)
{
	char buffer[8192];
	ssize_t got = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);

	if (state_expect(got == (ssize_t)length, "fd %d: recv gave %zd (%s), expected %zu bytes",
			 fd, got, got < 0 ? strerror(errno) : "data", length))
		state_expect_pattern(buffer, length, seed, "message");
}

static void expect_stream(int fd, size_t length, uint64_t seed)
{
	char buffer[4096];
	size_t have = 0;
	ssize_t got = 1;

	while (have < length && got > 0) {
		got = recv(fd, buffer + have, length - have, MSG_DONTWAIT);
		have += got > 0 ? (size_t)got : 0;
	}
	if (state_expect(have == length, "fd %d: %zu stream bytes, expected %zu", fd, have, length))
		state_expect_pattern(buffer, length, seed, "stream");
}

static void expect_drained(int fd)
{
	char byte;
	ssize_t got = recv(fd, &byte, 1, MSG_DONTWAIT);

	state_expect(got < 0 && errno == EAGAIN, "fd %d: recv after the queue gave %zd (%s)", fd,
		     got, got < 0 ? strerror(errno) : "data or end of file");
}

static void expect_type(int fd, int type)
{
	int got = 0;
	socklen_t length = sizeof(got);

	getsockopt(fd, SOL_SOCKET, SO_TYPE, &got, &length);
	state_expect(got == type, "fd %d: SO_TYPE %d, expected %d", fd, got, type);
}

static void expect_still_talking(int from, int to)
{
	char byte = 'x';

	state_expect(send(from, &byte, 1, 0) == 1, "send on fd %d: %s", from, strerror(errno));
	byte = 0;
	state_expect(recv(to, &byte, 1, MSG_DONTWAIT) == 1 && byte == 'x',
		     "fd %d: no byte from fd %d", to, from);
}

static void check_queues(void)
{
	char buffer[1400];

	state_fill(buffer, 1000, 1);
	expect_stream(STREAM_B, 1000, 1);
	expect_stream(STREAM_B, 24, 2);
	expect_drained(STREAM_B);
	expect_stream(STREAM_A, 333, 3);
	expect_drained(STREAM_A);
	for (size_t i = 0; i < 3; i++)
		expect_message(DGRAM_B, datagram_sizes[i], 10 + i);
	expect_drained(DGRAM_B);
	for (size_t i = 0; i < 2; i++)
		expect_message(PACKET_A, packet_sizes[i], 20 + i);
	expect_drained(PACKET_A);
	expect_stream(SHUT_B, 3, 30);
	state_expect(recv(SHUT_B, buffer, 1, MSG_DONTWAIT) == 0,
		     "fd %d: no end of file after shutdown", SHUT_B);
	state_expect(send(SHUT_A, "z", 1, MSG_NOSIGNAL) < 0 && errno == EPIPE,
		     "fd %d: send after SHUT_WR did not fail with EPIPE", SHUT_A);
}

static void check(void)
{
	expect_type(STREAM_A, SOCK_STREAM);
	expect_type(DGRAM_B, SOCK_DGRAM);
	expect_type(PACKET_A, SOCK_SEQPACKET);
	state_expect((fcntl(PACKET_A, F_GETFL) & O_NONBLOCK) != 0, "fd %d lost O_NONBLOCK", PACKET_A);
	state_expect((fcntl(STREAM_A, F_GETFL) & O_NONBLOCK) == 0, "fd %d became O_NONBLOCK",
		     STREAM_A);
	state_expect(fcntl(PACKET_B, F_GETFD) == FD_CLOEXEC, "fd %d lost FD_CLOEXEC", PACKET_B);
	check_queues();
	expect_still_talking(STREAM_A, STREAM_B);
	expect_still_talking(STREAM_B, STREAM_A);
	expect_still_talking(DGRAM_A, DGRAM_B);
	expect_still_talking(PACKET_B, PACKET_A);
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
