# Sockets ckpt cannot save: a netlink socket, a packet socket, a TCP
# listener with a connection waiting to be accepted, a TCP connection
# half-closed by its peer (CLOSE_WAIT: established ones are saved, see
# net_tcp_established), a listening unix socket, a
# socketpair end bound to an abstract name, an unconnected datagram socket,
# a socketpair whose peer lives outside the checkpointed tree, and a
# socketpair with a file descriptor (SCM_RIGHTS) in flight, and a datagram
# socketpair with an empty datagram queued.  Each
# checkpoint must refuse with one line naming the socket, exit 1, write
# nothing, and leave the process running with its socket intact.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
program=$case_dir/socket_holder
cat >"$case_dir/socket_holder.c" <<'EOF'
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int place(int fd)
{
	if (fd < 0 || dup2(fd, 20) < 0)
		return -1;
	return close(fd);
}

static int abstract_address(struct sockaddr_un *address, const char *name)
{
	memset(address, 0, sizeof(*address));
	address->sun_family = AF_UNIX;
	snprintf(address->sun_path + 1, sizeof(address->sun_path) - 1, "ckpt-test-%d-%s", getpid(), name);
	return (int)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(address->sun_path + 1));
}

/* The peer end goes to a grandchild outside the tree; it leaves when the end closes. */
static int give_away(int keep, int give)
{
	pid_t child = fork();
	char byte;

	if (child == 0) {
		if (fork() == 0) {
			close(keep);
			while (read(give, &byte, 1) > 0)
				;
			_exit(0);
		}
		_exit(0);
	}
	close(give);
	waitpid(child, NULL, 0);
	return place(keep);
}

static int send_own_stdin(int via)
{
	int fd = 0;
	char data = 'x', control[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec part = { &data, 1 };
	struct msghdr message = { .msg_iov = &part, .msg_iovlen = 1, .msg_control = control,
				  .msg_controllen = sizeof(control) };
	struct cmsghdr *header = CMSG_FIRSTHDR(&message);

	header->cmsg_level = SOL_SOCKET;
	header->cmsg_type = SCM_RIGHTS;
	header->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(header), &fd, sizeof(fd));
	return sendmsg(via, &message, 0) == 1 ? 0 : -1;
}

/* A listener on 127.0.0.1 with one connection in its accept queue; or the accepted end, its peer shut down for writing (CLOSE_WAIT, seen by a read of 0). */
static int tcp_connection(int keep_client)
{
	struct sockaddr_in address = { .sin_family = AF_INET };
	socklen_t length = sizeof(address);
	int listener = socket(AF_INET, SOCK_STREAM, 0), client = socket(AF_INET, SOCK_STREAM, 0);

	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(listener, (struct sockaddr *)&address, length) < 0 || listen(listener, 4) < 0 ||
	    getsockname(listener, (struct sockaddr *)&address, &length) < 0 ||
	    connect(client, (struct sockaddr *)&address, length) < 0)
		return -1;
	if (keep_client) {
		int server = accept(listener, NULL, NULL);
		char byte;

		close(listener);
		if (server < 0 || dup2(client, 21) < 0 || close(client) < 0 || shutdown(21, SHUT_WR) < 0 ||
		    read(server, &byte, 1) != 0)
			return -1;
		return place(server);
	}
	close(client);
	return place(listener);
}

static int build(const char *how)
{
	struct sockaddr_un address;
	int pair[2], length;

	if (strcmp(how, "netlink") == 0)
		return place(socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE));
	if (strcmp(how, "packet") == 0)
		return place(socket(AF_PACKET, SOCK_DGRAM, 0));
	if (strcmp(how, "backlog") == 0)
		return tcp_connection(0);
	if (strcmp(how, "closing") == 0)
		return tcp_connection(1);
	if (strcmp(how, "unconnected") == 0)
		return place(socket(AF_UNIX, SOCK_DGRAM, 0));
	if (strcmp(how, "listening") == 0) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		length = abstract_address(&address, how);
		if (bind(fd, (struct sockaddr *)&address, (socklen_t)length) < 0 || listen(fd, 4) < 0)
			return -1;
		return place(fd);
	}
	if (strcmp(how, "empty") == 0) {
		if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair) < 0 || send(pair[1], "", 0, 0) != 0)
			return -1;
		return place(pair[0]);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) < 0)
		return -1;
	if (strcmp(how, "outside") == 0)
		return give_away(pair[0], pair[1]);
	if (strcmp(how, "bound") == 0) {
		length = abstract_address(&address, how);
		if (bind(pair[0], (struct sockaddr *)&address, (socklen_t)length) < 0)
			return -1;
		return place(pair[0]);
	}
	if (place(pair[0]) < 0 || dup2(pair[1], 21) < 0 || close(pair[1]) < 0)
		return -1;
	return send_own_stdin(21);	/* "rights" */
}

/* Still as built: the socket's type, and for "rights" the fd still in flight. */
static int intact(const char *how)
{
	char data, control[CMSG_SPACE(sizeof(int))];
	struct iovec part = { &data, 1 };
	struct msghdr message = { .msg_iov = &part, .msg_iovlen = 1, .msg_control = control,
				  .msg_controllen = sizeof(control) };
	int type = 0;
	socklen_t type_length = sizeof(type);

	if (getsockopt(20, SOL_SOCKET, SO_TYPE, &type, &type_length) < 0)
		return 0;
	if (strcmp(how, "rights") != 0)
		return 1;
	return recvmsg(20, &message, MSG_DONTWAIT) == 1 && CMSG_FIRSTHDR(&message) &&
	       CMSG_FIRSTHDR(&message)->cmsg_type == SCM_RIGHTS;
}

int main(int argc, char **argv)
{
	char line[16];

	if (argc < 2 || build(argv[1]) < 0) {
		printf("fail: setup: %m\n");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "go\n") != 0)
		return 1;
	printf(intact(argv[1]) ? "pass\n" : "fail: the socket is not as it was\n");
	return 0;
}
EOF
cc -O1 -o "$program" "$case_dir/socket_holder.c" || fail "cannot build the socket program"

# $1: the state to build, $2: words the error must contain.
expect_refused() { expect_checkpoint_refused socket "$@"; }

expect_refused netlink "fd 20 of process [0-9]* is a netlink socket: not supported yet"
expect_refused packet "fd 20 of process [0-9]* is a packet socket: not supported yet"
expect_refused backlog "fd 20 of process [0-9]* is a listening TCP socket with 1 connections waiting to be accepted: not supported yet"
expect_refused closing "fd 20 of process [0-9]* is a TCP connection half-closed by its peer (CLOSE_WAIT): not supported yet"
expect_refused listening "fd 20 of process [0-9]* is a listening unix socket: not supported yet"
expect_refused unconnected "fd 20 of process [0-9]* is a unix socket without a peer: not supported yet"
expect_refused bound "fd 20 of process [0-9]* is a unix socket bound to an address: not supported yet"
expect_refused outside "unix socket socket:\[[0-9]*\] (first fd 20 of process [0-9]*) has its peer socket:\[[0-9]*\] outside the checkpointed tree: not supported"
expect_refused empty "fd 20 of process [0-9]* is a unix socket with an empty datagram or packet queued: not supported yet"
expect_refused rights "fd 20 of process [0-9]* is a unix socket with file descriptors (SCM_RIGHTS) in flight: not supported yet"
exit 0
