/*
 * UDP sockets: fd 5 bound to 127.0.0.1 with four datagrams waiting (1, 0,
 * 1500 and 9000 bytes) from two senders (fds 7 and 8), fd 6 bound to [::1]
 * and connected to fd 9 ([::1]) with two datagrams waiting from it, and
 * SO_REUSEADDR, SO_RCVBUF and O_NONBLOCK on fd 5.  After restart: the same
 * addresses, options and peer; each datagram read with its boundaries, bytes
 * and source address, then EAGAIN; the sockets still send and receive.
 */
#include "state.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

enum {
	BOUND = 5,
	CONNECTED,
	SENDER_A,
	SENDER_B,
	PEER
};

struct datagram {
	int from;
	size_t length;
};

static const struct datagram bound_queue[] = {
	{ SENDER_A, 1 }, { SENDER_B, 0 }, { SENDER_A, 1500 }, { SENDER_B, 9000 }
};
static const struct datagram connected_queue[] = { { PEER, 20 }, { PEER, 700 } };

static struct sockaddr_storage addresses[PEER + 1];
static socklen_t address_lengths[PEER + 1];
static int rcvbuf_before;

static void open_at(int wanted, int family, const char *host)
{
	struct sockaddr_storage address = { 0 };
	struct sockaddr_in *in = (void *)&address;
	struct sockaddr_in6 *in6 = (void *)&address;
	int fd = socket(family, SOCK_DGRAM, 0);

	address.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		inet_pton(AF_INET, host, &in->sin_addr);
	else
		inet_pton(AF_INET6, host, &in6->sin6_addr);
	if (fd < 0 || dup2(fd, wanted) != wanted || close(fd) < 0 ||
	    bind(wanted, (struct sockaddr *)&address, sizeof(address)) < 0)
		state_setup_fail("socket/bind fd %d: %s", wanted, strerror(errno));
	address_lengths[wanted] = sizeof(addresses[wanted]);
	getsockname(wanted, (struct sockaddr *)&addresses[wanted], &address_lengths[wanted]);
}

static void send_datagram(int from, int to, size_t length, uint64_t seed)
{
	static char buffer[9000];

	state_fill(buffer, length, seed);
	if (sendto(from, buffer, length, 0, (struct sockaddr *)&addresses[to],
		   address_lengths[to]) != (ssize_t)length)
		state_setup_fail("sendto from fd %d: %s", from, strerror(errno));
}

static void build(void)
{
	int one = 1, size = 100000;
	socklen_t length = sizeof(rcvbuf_before);

	open_at(BOUND, AF_INET, "127.0.0.1");
	open_at(CONNECTED, AF_INET6, "::1");
	open_at(SENDER_A, AF_INET, "127.0.0.1");
	open_at(SENDER_B, AF_INET, "127.0.0.1");
	open_at(PEER, AF_INET6, "::1");
	if (connect(CONNECTED, (struct sockaddr *)&addresses[PEER], address_lengths[PEER]) < 0 ||
	    setsockopt(BOUND, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(BOUND, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0 ||
	    fcntl(BOUND, F_SETFL, O_NONBLOCK) < 0)
		state_setup_fail("connect/setsockopt: %s", strerror(errno));
	getsockopt(BOUND, SOL_SOCKET, SO_RCVBUF, &rcvbuf_before, &length);
	for (size_t i = 0; i < sizeof(bound_queue) / sizeof(bound_queue[0]); i++)
		send_datagram(bound_queue[i].from, BOUND, bound_queue[i].length, 10 + i);
	for (size_t i = 0; i < sizeof(connected_queue) / sizeof(connected_queue[0]); i++)
		send_datagram(PEER, CONNECTED, connected_queue[i].length, 20 + i);
}

static void expect_datagram(int fd, const struct datagram *expected, uint64_t seed)
{
	static char buffer[10000];
	struct sockaddr_storage source = { 0 };
	socklen_t length = sizeof(source);
	ssize_t got = recvfrom(fd, buffer, sizeof(buffer), MSG_DONTWAIT, (struct sockaddr *)&source,
			       &length);

	if (!state_expect(got == (ssize_t)expected->length,
			  "fd %d: datagram of %zd bytes (%s), expected %zu", fd, got,
			  got < 0 ? strerror(errno) : "data", expected->length))
		return;
	state_expect_pattern(buffer, expected->length, seed, "datagram");
	state_expect(length == address_lengths[expected->from] &&
			     memcmp(&source, &addresses[expected->from], length) == 0,
		     "fd %d: a datagram of %zu bytes came from another address than fd %d's", fd,
		     expected->length, expected->from);
}

static void expect_drained(int fd)
{
	char byte;
	ssize_t got = recv(fd, &byte, 1, MSG_DONTWAIT);

	state_expect(got < 0 && errno == EAGAIN, "fd %d: recv after the queue gave %zd", fd, got);
}

static void expect_address(int fd, bool peer)
{
	struct sockaddr_storage now = { 0 };
	socklen_t length = sizeof(now);
	int ret = peer ? getpeername(fd, (struct sockaddr *)&now, &length)
		       : getsockname(fd, (struct sockaddr *)&now, &length);
	int reference = peer ? PEER : fd;

	state_expect(ret == 0 && length == address_lengths[reference] &&
			     memcmp(&now, &addresses[reference], length) == 0,
		     "fd %d: its %s address changed", fd, peer ? "peer" : "own");
}

static void expect_still_talking(void)
{
	char byte = 0;

	send_datagram(SENDER_A, BOUND, 1, 99);
	send(CONNECTED, "y", 1, 0);
	state_expect(recv(BOUND, &byte, 1, MSG_DONTWAIT) == 1, "fd %d: no new datagram", BOUND);
	state_expect(recv(PEER, &byte, 1, MSG_DONTWAIT) == 1 && byte == 'y',
		     "fd %d: nothing from fd %d", PEER, CONNECTED);
}

static void check(void)
{
	int reuse = 0, rcvbuf = 0;
	socklen_t length = sizeof(int);

	expect_address(BOUND, false);
	expect_address(CONNECTED, false);
	expect_address(CONNECTED, true);
	getsockopt(BOUND, SOL_SOCKET, SO_REUSEADDR, &reuse, &length);
	getsockopt(BOUND, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &length);
	state_expect(reuse == 1, "fd %d lost SO_REUSEADDR", BOUND);
	state_expect(rcvbuf == rcvbuf_before, "fd %d: SO_RCVBUF %d, was %d", BOUND, rcvbuf,
		     rcvbuf_before);
	state_expect((fcntl(BOUND, F_GETFL) & O_NONBLOCK) != 0, "fd %d lost O_NONBLOCK", BOUND);
	for (size_t i = 0; i < sizeof(bound_queue) / sizeof(bound_queue[0]); i++)
		expect_datagram(BOUND, &bound_queue[i], 10 + i);
	expect_drained(BOUND);
	for (size_t i = 0; i < sizeof(connected_queue) / sizeof(connected_queue[0]); i++)
		expect_datagram(CONNECTED, &connected_queue[i], 20 + i);
	expect_drained(CONNECTED);
	expect_still_talking();
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
