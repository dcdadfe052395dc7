/*
 * Listening TCP sockets: fd 5 on 127.0.0.1 (SO_REUSEADDR, TCP_NODELAY,
 * keepalive with its idle/interval/count, SO_RCVBUF, SO_BINDTODEVICE lo,
 * TCP_DEFER_ACCEPT, TCP_FASTOPEN, O_NONBLOCK, backlog 17), shared with a
 * child process; fd 6 on [::1] with IPV6_V6ONLY; fds 7 and 8 a
 * SO_REUSEPORT pair on one port of 127.0.0.1; fd 9 on [::] dual-stack.
 * After restart: the same addresses and options, the child still shares
 * fd 5 (kcmp), a client connects to each and data goes both ways (the
 * child accepts one on fd 5), the port of 7/8 still takes a third
 * SO_REUSEPORT socket and refuses a plain one.
 */
#include "state.h"

#include <arpa/inet.h>
#include <linux/kcmp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

enum {
	LISTEN4 = 5,
	LISTEN6,
	REUSE_A,
	REUSE_B,
	DUAL,
	CHILD_WAKE = 10
};

struct option_probe {
	int level, name;
	const char *what;
};

static const struct option_probe probes[] = {
	{ SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR" },
	{ SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT" },
	{ SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE" },
	{ SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF" },
	{ SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF" },
	{ SOL_SOCKET, SO_ACCEPTCONN, "SO_ACCEPTCONN" },
	{ IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY" },
	{ IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE" },
	{ IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL" },
	{ IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT" },
	{ IPPROTO_TCP, TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT" },
	{ IPPROTO_TCP, TCP_FASTOPEN, "TCP_FASTOPEN" },
};

#define PROBE_COUNT (sizeof(probes) / sizeof(probes[0]))
#define LISTENER_COUNT 5

struct snapshot {
	int options[PROBE_COUNT];
	int v6only;
	char device[IFNAMSIZ];
	struct sockaddr_storage address;
	socklen_t address_length;
	int status_flags;
};

static struct snapshot before[LISTENER_COUNT];
static pid_t child;

static void set_int(int fd, int level, int name, int value)
{
	if (setsockopt(fd, level, name, &value, sizeof(value)) < 0)
		state_setup_fail("setsockopt(%d, %d) on fd %d: %s", level, name, fd, strerror(errno));
}

static void take_snapshot(int fd, struct snapshot *out)
{
	socklen_t length;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < PROBE_COUNT; i++) {
		length = sizeof(int);
		getsockopt(fd, probes[i].level, probes[i].name, &out->options[i], &length);
	}
	length = sizeof(int);
	getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &out->v6only, &length);
	length = sizeof(out->device);
	getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, out->device, &length);
	out->address_length = sizeof(out->address);
	getsockname(fd, (struct sockaddr *)&out->address, &out->address_length);
	out->status_flags = fcntl(fd, F_GETFL);
}

static void listen_at(int wanted, int family, const char *host, uint16_t port, int backlog)
{
	struct sockaddr_storage address = { 0 };
	struct sockaddr_in *in = (void *)&address;
	struct sockaddr_in6 *in6 = (void *)&address;
	int fd = socket(family, SOCK_STREAM, 0);

	address.ss_family = (sa_family_t)family;
	if (family == AF_INET) {
		inet_pton(AF_INET, host, &in->sin_addr);
		in->sin_port = htons(port);
	} else {
		inet_pton(AF_INET6, host, &in6->sin6_addr);
		in6->sin6_port = htons(port);
	}
	if (fd < 0 || dup2(fd, wanted) != wanted || close(fd) < 0)
		state_setup_fail("socket: %s", strerror(errno));
	if (wanted == REUSE_A || wanted == REUSE_B)
		set_int(wanted, SOL_SOCKET, SO_REUSEPORT, 1);
	if (family == AF_INET6)
		set_int(wanted, IPPROTO_IPV6, IPV6_V6ONLY, wanted == LISTEN6);
	if (wanted == LISTEN4 && setsockopt(wanted, SOL_SOCKET, SO_BINDTODEVICE, "lo", 2) < 0)
		state_setup_fail("SO_BINDTODEVICE: %s", strerror(errno));
	if (bind(wanted, (struct sockaddr *)&address, sizeof(address)) < 0 ||
	    listen(wanted, backlog) < 0)
		state_setup_fail("bind/listen fd %d: %s", wanted, strerror(errno));
}

static uint16_t port_of(int fd)
{
	struct sockaddr_storage address;
	socklen_t length = sizeof(address);

	getsockname(fd, (struct sockaddr *)&address, &length);
	return ntohs(((struct sockaddr_in *)&address)->sin_port);
}

static void tune_first_listener(void)
{
	set_int(LISTEN4, SOL_SOCKET, SO_REUSEADDR, 1);
	set_int(LISTEN4, SOL_SOCKET, SO_KEEPALIVE, 1);
	set_int(LISTEN4, SOL_SOCKET, SO_RCVBUF, 65536);
	set_int(LISTEN4, IPPROTO_TCP, TCP_NODELAY, 1);
	set_int(LISTEN4, IPPROTO_TCP, TCP_KEEPIDLE, 77);
	set_int(LISTEN4, IPPROTO_TCP, TCP_KEEPINTVL, 11);
	set_int(LISTEN4, IPPROTO_TCP, TCP_KEEPCNT, 5);
	set_int(LISTEN4, IPPROTO_TCP, TCP_DEFER_ACCEPT, 3);
	set_int(LISTEN4, IPPROTO_TCP, TCP_FASTOPEN, 7);
	if (fcntl(LISTEN4, F_SETFL, O_NONBLOCK) < 0)
		state_setup_fail("fcntl: %s", strerror(errno));
}

/* Connects to the listener's address (loopback for a wildcard), sends a line, returns the fd. */
static int connect_to(int listener, int family, const char *line)
{
	struct sockaddr_storage address;
	socklen_t length = sizeof(address);
	int client = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	getsockname(listener, (struct sockaddr *)&address, &length);
	if (listener == DUAL) {
		struct sockaddr_in *in = (void *)&address;
		uint16_t port = port_of(DUAL);

		memset(&address, 0, sizeof(address));
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		inet_pton(AF_INET, "127.0.0.1", &in->sin_addr);
		length = sizeof(*in);
	}
	if (connect(client, (struct sockaddr *)&address, length) < 0 ||
	    send(client, line, strlen(line), 0) != (ssize_t)strlen(line))
		state_expect(false, "connect to fd %d: %s", listener, strerror(errno));
	return client;
}

/* Accepts one connection (waiting up to 20 s), checks its line, answers. */
static bool serve_one(int listener, const char *line)
{
	struct pollfd ready = { listener, POLLIN, 0 };
	char buffer[64] = { 0 };
	int server;

	if (poll(&ready, 1, 20000) != 1)
		return state_expect(false, "fd %d: no connection to accept", listener);
	server = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	if (server < 0)
		return state_expect(false, "accept on fd %d: %s", listener, strerror(errno));
	ready.fd = server;
	poll(&ready, 1, 20000);
	recv(server, buffer, sizeof(buffer) - 1, 0);
	state_expect(strcmp(buffer, line) == 0, "fd %d: a connection sent \"%s\", expected \"%s\"",
		     listener, buffer, line);
	send(server, "ok", 2, 0);
	close(server);
	return true;
}

static void expect_answer(int client)
{
	char buffer[4] = { 0 };
	struct pollfd ready = { client, POLLIN, 0 };

	poll(&ready, 1, 20000);
	recv(client, buffer, 2, MSG_DONTWAIT);
	state_expect_equal_text(buffer, "ok", "answer from the server");
	close(client);
}

static void child_main(void)
{
	uint64_t wake;

	if (read(CHILD_WAKE, &wake, sizeof(wake)) != sizeof(wake))
		_exit(2);
	connect_to(LISTEN4, AF_INET, "from the child");
	_exit(serve_one(LISTEN4, "from the child") && state_findings.failure_count == 0 ? 0 : 1);
}

static void build(void)
{
	int wake = eventfd(0, 0);

	listen_at(LISTEN4, AF_INET, "127.0.0.1", 0, 17);
	tune_first_listener();
	listen_at(LISTEN6, AF_INET6, "::1", 0, 9);
	listen_at(REUSE_A, AF_INET, "127.0.0.1", 0, 4);
	listen_at(REUSE_B, AF_INET, "127.0.0.1", port_of(REUSE_A), 4);
	listen_at(DUAL, AF_INET6, "::", 0, 3);
	for (int i = 0; i < LISTENER_COUNT; i++)
		take_snapshot(LISTEN4 + i, &before[i]);
	if (wake < 0 || dup2(wake, CHILD_WAKE) != CHILD_WAKE || close(wake) < 0)
		state_setup_fail("eventfd: %s", strerror(errno));
	child = fork();
	if (child < 0)
		state_setup_fail("fork: %s", strerror(errno));
	if (child == 0)
		child_main();
}

static void expect_snapshot(int fd, const struct snapshot *old)
{
	struct snapshot now;

	take_snapshot(fd, &now);
	for (size_t i = 0; i < PROBE_COUNT; i++)
		state_expect(now.options[i] == old->options[i], "fd %d: %s is %d, was %d", fd,
			     probes[i].what, now.options[i], old->options[i]);
	state_expect(now.v6only == old->v6only, "fd %d: IPV6_V6ONLY is %d, was %d", fd, now.v6only,
		     old->v6only);
	state_expect(strcmp(now.device, old->device) == 0,
		     "fd %d: SO_BINDTODEVICE \"%s\", was \"%s\"", fd, now.device, old->device);
	state_expect(now.address_length == old->address_length &&
			     memcmp(&now.address, &old->address, now.address_length) == 0,
		     "fd %d: address changed", fd);
	state_expect(now.status_flags == old->status_flags, "fd %d: status flags %#x, were %#x", fd,
		     now.status_flags, old->status_flags);
}

static void expect_reuseport_group(void)
{
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(port_of(REUSE_A)) };
	int third = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
	    plain = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
	setsockopt(third, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	state_expect(bind(third, (struct sockaddr *)&address, sizeof(address)) == 0,
		     "a third SO_REUSEPORT socket cannot bind the pair's port: %s", strerror(errno));
	state_expect(bind(plain, (struct sockaddr *)&address, sizeof(address)) < 0 &&
			     errno == EADDRINUSE,
		     "a plain socket could bind the SO_REUSEPORT pair's port");
	close(third);
	close(plain);
}

static void expect_child_shares(void)
{
	int status = -1;

	state_expect(syscall(SYS_kcmp, getpid(), child, KCMP_FILE, LISTEN4, LISTEN4) == 0,
		     "the child's fd 5 is not the parent's listener");
	state_expect(write(CHILD_WAKE, &(uint64_t){ 1 }, 8) == 8, "cannot wake the child");
	state_expect(waitpid(child, &status, 0) == child && WIFEXITED(status) &&
			     WEXITSTATUS(status) == 0,
		     "the child failed to accept on the shared listener (status %#x)", status);
}

static void check(void)
{
	static const int families[LISTENER_COUNT] = { AF_INET, AF_INET6, AF_INET, AF_INET, AF_INET };
	int client;

	for (int i = 0; i < LISTENER_COUNT; i++)
		expect_snapshot(LISTEN4 + i, &before[i]);
	for (int i = 0; i < LISTENER_COUNT; i++) {
		if (LISTEN4 + i == REUSE_B)
			continue; /* the kernel picks one socket of the pair */
		client = connect_to(LISTEN4 + i, families[i], "hello");
		if (LISTEN4 + i == REUSE_A) {
			struct pollfd ready[2] = { { REUSE_A, POLLIN, 0 }, { REUSE_B, POLLIN, 0 } };

			poll(ready, 2, 20000);
			serve_one(ready[0].revents ? REUSE_A : REUSE_B, "hello");
		} else {
			serve_one(LISTEN4 + i, "hello");
		}
		expect_answer(client);
	}
	expect_reuseport_group();
	expect_child_shares();
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
