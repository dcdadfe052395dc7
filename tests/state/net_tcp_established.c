/*
 * Established TCP connections over loopback, both ends in this process:
 * fd 5 a listener on 127.0.0.1 (SO_REUSEADDR), fd 6 a client connected to
 * it, fd 7 the accepted end (O_NONBLOCK, TCP_NODELAY); fds 8 and 9 the same
 * over [::1] without a listener left.  Data is in flight both ways: the
 * client sent 96 KiB of which the server read 16 KiB (the rest waits in
 * fd 7's receive queue); the server sent as much as fits while the client
 * read nothing and has a small receive buffer (so bytes wait in fd 6's
 * receive queue and in fd 7's send queue, not all sent).  After restart:
 * the same addresses, each side reads exactly the bytes in flight, in
 * order, then they go on exchanging both ways, and the listener still
 * accepts a new client.
 */
#include "state.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

enum {
	LISTENER = 5,
	CLIENT4,
	SERVER4,
	CLIENT6,
	SERVER6
};

#define UP_TOTAL (96u << 10)	 /* client to server, sent before the checkpoint */
#define UP_READ (16u << 10)	 /* of which the server read this much */
#define DOWN_CAPACITY (4u << 20) /* server to client: as much as fits */
#define MORE 50000u		 /* after restart, each way */

struct pair {
	int client, server;
	uint64_t seed_up, seed_down;
	size_t down_sent; /* bytes the server sent before the checkpoint */
	struct sockaddr_storage client_address, server_address;
};

static struct pair pairs[2] = {
	{ CLIENT4, SERVER4, 11, 12, 0, { 0 }, { 0 } },
	{ CLIENT6, SERVER6, 21, 22, 0, { 0 }, { 0 } },
};

static unsigned char *up_data, *down_data;

static void move_fd(int from, int to)
{
	if (from != to && (dup2(from, to) < 0 || close(from) < 0))
		state_setup_fail("dup2(%d, %d): %s", from, to, strerror(errno));
}

static void set_int(int fd, int level, int name, int value)
{
	if (setsockopt(fd, level, name, &value, sizeof(value)) < 0)
		state_setup_fail("setsockopt(%d, %d) on fd %d: %s", level, name, fd, strerror(errno));
}

static socklen_t loopback(int family, struct sockaddr_storage *address)
{
	struct sockaddr_in *in = (void *)address;
	struct sockaddr_in6 *in6 = (void *)address;

	memset(address, 0, sizeof(*address));
	address->ss_family = (sa_family_t)family;
	if (family == AF_INET) {
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*in);
	}
	in6->sin6_addr = in6addr_loopback;
	return sizeof(*in6);
}

static void send_all(int fd, const unsigned char *data, size_t length)
{
	while (length > 0) {
		ssize_t sent = send(fd, data, length, MSG_NOSIGNAL);

		if (sent < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd wait = { .fd = fd, .events = POLLOUT };

			poll(&wait, 1, 10000);
			continue;
		}
		if (sent <= 0)
			state_setup_fail("send on fd %d: %s", fd, strerror(errno));
		data += sent;
		length -= (size_t)sent;
	}
}

/* Reads exactly length bytes (blocking, with a poll deadline); false on EOF, error or timeout. */
static bool read_exactly(int fd, unsigned char *out, size_t length)
{
	while (length > 0) {
		struct pollfd wait = { .fd = fd, .events = POLLIN };
		ssize_t got;

		if (poll(&wait, 1, 20000) != 1)
			return false;
		got = recv(fd, out, length, MSG_DONTWAIT);
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (got <= 0)
			return false;
		out += got;
		length -= (size_t)got;
	}
	return true;
}

/* Fills the server's way down until the client's window and the server's buffer are full. */
static size_t fill_down(int server)
{
	size_t sent_total = 0;

	for (;;) {
		ssize_t sent = send(server, down_data + sent_total, DOWN_CAPACITY - sent_total,
				    MSG_DONTWAIT | MSG_NOSIGNAL);
		struct pollfd wait = { .fd = server, .events = POLLOUT };

		if (sent > 0) {
			sent_total += (size_t)sent;
			continue;
		}
		if (sent < 0 && errno != EAGAIN)
			state_setup_fail("send on fd %d: %s", server, strerror(errno));
		if (poll(&wait, 1, 200) == 0) /* nothing freed: the pipe is full */
			return sent_total;
	}
}

static void connect_pair(struct pair *pair, int family, int listener)
{
	struct sockaddr_storage address;
	socklen_t length = loopback(family, &address);
	int client = socket(family, SOCK_STREAM, 0), server;
	unsigned char *discard = malloc(UP_READ);

	if (client < 0 || !discard || getsockname(listener, (struct sockaddr *)&address, &length) < 0)
		state_setup_fail("socket: %s", strerror(errno));
	set_int(client, SOL_SOCKET, SO_RCVBUF, 4096);
	if (connect(client, (struct sockaddr *)&address, length) < 0)
		state_setup_fail("connect: %s", strerror(errno));
	server = accept(listener, NULL, NULL);
	if (server < 0)
		state_setup_fail("accept: %s", strerror(errno));
	move_fd(client, pair->client);
	move_fd(server, pair->server);
	set_int(pair->server, IPPROTO_TCP, TCP_NODELAY, 1);
	fcntl(pair->server, F_SETFL, O_NONBLOCK);
	send_all(pair->client, up_data, UP_TOTAL);
	if (!read_exactly(pair->server, discard, UP_READ) || memcmp(discard, up_data, UP_READ) != 0)
		state_setup_fail("the first bytes up did not arrive");
	free(discard);
	pair->down_sent = fill_down(pair->server);
	length = sizeof(pair->client_address);
	getsockname(pair->client, (struct sockaddr *)&pair->client_address, &length);
	length = sizeof(pair->server_address);
	getsockname(pair->server, (struct sockaddr *)&pair->server_address, &length);
}

static int open_listener(int family)
{
	struct sockaddr_storage address;
	socklen_t length = loopback(family, &address);
	int listener = socket(family, SOCK_STREAM, 0);

	if (listener < 0)
		state_setup_fail("socket: %s", strerror(errno));
	set_int(listener, SOL_SOCKET, SO_REUSEADDR, 1);
	if (bind(listener, (struct sockaddr *)&address, length) < 0 || listen(listener, 8) < 0)
		state_setup_fail("bind/listen: %s", strerror(errno));
	return listener;
}

static void build(void)
{
	int listener6;

	up_data = malloc(UP_TOTAL + MORE);
	down_data = malloc(DOWN_CAPACITY + MORE);
	if (!up_data || !down_data)
		state_setup_fail("out of memory");
	state_fill(up_data, UP_TOTAL + MORE, 1);
	state_fill(down_data, DOWN_CAPACITY + MORE, 2);
	move_fd(open_listener(AF_INET), LISTENER);
	connect_pair(&pairs[0], AF_INET, LISTENER);
	listener6 = 20;
	move_fd(open_listener(AF_INET6), listener6);
	connect_pair(&pairs[1], AF_INET6, listener6);
	close(listener6);
}

static void expect_same_address(int fd, const struct sockaddr_storage *before)
{
	struct sockaddr_storage now;
	socklen_t length = sizeof(now);

	getsockname(fd, (struct sockaddr *)&now, &length);
	state_expect(memcmp(&now, before, length) == 0, "fd %d: its local address changed", fd);
}

/* Both ways: what was in flight, then more. */
static void check_pair(struct pair *pair)
{
	size_t up_left = UP_TOTAL - UP_READ;
	unsigned char *got = malloc(pair->down_sent + MORE);

	expect_same_address(pair->client, &pair->client_address);
	expect_same_address(pair->server, &pair->server_address);
	state_expect((fcntl(pair->server, F_GETFL) & O_NONBLOCK) != 0, "fd %d lost O_NONBLOCK",
		     pair->server);
	if (!state_expect(read_exactly(pair->server, got, up_left),
			  "fd %d: the %zu bytes in flight up did not arrive", pair->server, up_left))
		return;
	state_expect(memcmp(got, up_data + UP_READ, up_left) == 0,
		     "fd %d: the bytes in flight up differ", pair->server);
	if (!state_expect(read_exactly(pair->client, got, pair->down_sent),
			  "fd %d: the %zu bytes in flight down did not arrive", pair->client,
			  pair->down_sent))
		return;
	state_expect(memcmp(got, down_data, pair->down_sent) == 0,
		     "fd %d: the bytes in flight down differ", pair->client);
	send_all(pair->client, up_data + UP_TOTAL, MORE);
	state_expect(read_exactly(pair->server, got, MORE) &&
			     memcmp(got, up_data + UP_TOTAL, MORE) == 0,
		     "fd %d: new bytes up lost", pair->server);
	send_all(pair->server, down_data + pair->down_sent, MORE);
	state_expect(read_exactly(pair->client, got, MORE) &&
			     memcmp(got, down_data + pair->down_sent, MORE) == 0,
		     "fd %d: new bytes down lost", pair->client);
	state_expect(recv(pair->client, got, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN,
		     "fd %d: a byte too many", pair->client);
	free(got);
}

static void check_listener(void)
{
	struct sockaddr_storage address;
	socklen_t length = sizeof(address);
	int client = socket(AF_INET, SOCK_STREAM, 0), accepted;

	getsockname(LISTENER, (struct sockaddr *)&address, &length);
	state_expect(connect(client, (struct sockaddr *)&address, length) == 0,
		     "the listener refuses a client");
	accepted = accept(LISTENER, NULL, NULL);
	state_expect(accepted >= 0, "the listener accepts nothing");
	close(accepted);
	close(client);
}

int main(void)
{
	state_init();
	build();
	state_ready();
	state_wait_go_signal();
	check_pair(&pairs[0]);
	check_pair(&pairs[1]);
	check_listener();
	state_finish();
}
