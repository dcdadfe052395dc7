# An established TCP connection whose peer is outside the checkpointed
# tree: a client (not checkpointed) streams numbered 16-byte records to a
# server (checkpointed) and reads them echoed.  The server echoes the first
# 400 of 800 records, then waits for SIGUSR1 with 400 records unread in its
# receive queue; the client reads the 400 echoes and goes quiet (all its
# bytes acknowledged, its own ACKs sent: ckpt sets no network lock, so the
# peer must not send while the server is away).  The server is checkpointed
# with --kill (its socket is closed in repair mode: no FIN, no RST) and
# restarted; it gets SIGUSR1, the client sends 400 more records, and must
# read all 1200 echoes in order, no gap, no duplicate, no ECONNRESET, then
# the server's EOF after its own shutdown.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
cat >"$case_dir/server.c" <<'EOF'
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_usr1(int sig) { (void)sig; }

static int read_full(int fd, char *out, size_t length)
{
	while (length > 0) {
		ssize_t got = read(fd, out, length);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return (int)got;
		out += got;
		length -= (size_t)got;
	}
	return 1;
}

int main(void)
{
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t length = sizeof(address);
	int listener = socket(AF_INET, SOCK_STREAM, 0), conn, echoed = 0;
	sigset_t usr1, old;
	char record[16];

	signal(SIGUSR1, on_usr1);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &old);
	if (bind(listener, (struct sockaddr *)&address, length) < 0 || listen(listener, 1) < 0 ||
	    getsockname(listener, (struct sockaddr *)&address, &length) < 0)
		return 1;
	printf("%u\n", ntohs(address.sin_port));
	fflush(stdout);
	conn = accept(listener, NULL, NULL);
	close(listener);
	for (;;) {
		int got = read_full(conn, record, sizeof(record));

		if (got == 0)
			break;
		if (got < 0) {
			printf("server: read: %s\n", strerror(errno));
			return 1;
		}
		if (write(conn, record, sizeof(record)) != (ssize_t)sizeof(record)) {
			printf("server: write: %s\n", strerror(errno));
			return 1;
		}
		if (++echoed == 400) {
			printf("paused\n");
			fflush(stdout);
			sigsuspend(&old);
		}
	}
	shutdown(conn, SHUT_WR);
	printf("done %d\n", echoed);
	fflush(stdout);
	return 0;
}
EOF
cat >"$case_dir/client.c" <<'EOF'
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int conn;

static void send_records(int from, int to)
{
	char record[17];

	for (int i = from; i < to; i++) {
		snprintf(record, sizeof(record), "%015d\n", i);
		if (send(conn, record, 16, MSG_NOSIGNAL) != 16) {
			printf("client: send %d: %s\n", i, strerror(errno));
			exit(1);
		}
	}
}

/* Reads echoes from..to-1 in order; quick ACKs, so that none waits when it goes quiet. */
static void expect_echoes(int from, int to)
{
	char record[17] = { 0 }, wanted[17];
	int one = 1;

	for (int i = from; i < to; i++) {
		size_t have = 0;

		while (have < 16) {
			struct pollfd wait = { .fd = conn, .events = POLLIN };
			ssize_t got;

			if (poll(&wait, 1, 20000) != 1) {
				printf("client: no echo %d within 20 s\n", i);
				exit(1);
			}
			got = recv(conn, record + have, 16 - have, 0);
			if (got <= 0) {
				printf("client: echo %d: %s\n", i, got < 0 ? strerror(errno) : "end of stream");
				exit(1);
			}
			have += (size_t)got;
			setsockopt(conn, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
		}
		snprintf(wanted, sizeof(wanted), "%015d\n", i);
		if (memcmp(record, wanted, 16) != 0) {
			printf("client: echo %d is %.15s\n", i, record);
			exit(1);
		}
	}
}

/* Until the server has acknowledged every byte sent (bounded: 20 s). */
static void wait_acknowledged(void)
{
	for (int i = 0; i < 20000; i++) {
		int unacknowledged = -1;

		if (ioctl(conn, SIOCOUTQ, &unacknowledged) == 0 && unacknowledged == 0)
			return;
		poll(NULL, 0, 1);
	}
	printf("client: bytes still unacknowledged after 20 s\n");
	exit(1);
}

int main(int argc, char **argv)
{
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char line[16], rest;

	if (argc != 2)
		return 2;
	address.sin_port = htons((unsigned short)atoi(argv[1]));
	conn = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(conn, (struct sockaddr *)&address, sizeof(address)) < 0) {
		printf("client: connect: %s\n", strerror(errno));
		return 1;
	}
	send_records(0, 800);
	expect_echoes(0, 400);
	wait_acknowledged();
	printf("quiet\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "go\n") != 0)
		return 1;
	send_records(800, 1200);
	expect_echoes(400, 1200);
	shutdown(conn, SHUT_WR);
	if (recv(conn, &rest, 1, 0) != 0) {
		printf("client: no clean end of stream: %s\n", strerror(errno));
		return 1;
	}
	printf("pass\n");
	return 0;
}
EOF
cc -O1 -Wall -Werror -o "$case_dir/server" "$case_dir/server.c" || fail "cannot build the server"
cc -O1 -Wall -Werror -o "$case_dir/client" "$case_dir/client.c" || fail "cannot build the client"

coproc SERVER { close_extra_fds; exec "$case_dir/server"; }
server_pid=$SERVER_PID
exec {server_out}<&"${SERVER[0]}" {server_in}>&"${SERVER[1]}"
read_line "$server_out" port 10 "the server's port"
coproc CLIENT { close_extra_fds; exec "$case_dir/client" "$port"; }
client_pid=$CLIENT_PID
exec {client_out}<&"${CLIENT[0]}" {client_in}>&"${CLIENT[1]}"
read_line "$server_out" line 20 "the server pausing"
[ "$line" = paused ] || fail "server: $line"
read_line "$client_out" line 20 "the client going quiet"
[ "$line" = quiet ] || fail "$line"

status=$(status_of "$CKPT" checkpoint --kill -o "$case_dir/image" "$server_pid")
[ "$status" -eq 0 ] || fail "checkpoint --kill exited $status: $(head -1 "$case_dir/stderr")"
is_running "$server_pid" && fail "the server still runs after checkpoint --kill"
restart_detached "$CKPT" "$case_dir/image"
[ "$restored_pid" = "$server_pid" ] || fail "restored as $restored_pid, not $server_pid"
kill -USR1 "$server_pid"
echo go >&"$client_in"
read_line "$client_out" line 30 "the client's verdict"
[ "$line" = pass ] || fail "$line"
read_line "$restored_out" line 20 "the restored server's end"
[ "$line" = "done 1200" ] || fail "restored server: $line"
wait "$client_pid" || fail "the client exited non-zero"
echo "a client outside the tree kept its connection across checkpoint --kill and restart: 1200 records echoed in order, no reset"
exit 0
