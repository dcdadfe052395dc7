/* SPDX-License-Identifier: MIT */
/*
 * TCP and UDP sockets, IPv4 and IPv6: each is one FILE (kind INET_SOCKET)
 * with its INET_SOCKET record, and for UDP the datagrams waiting in its
 * receive queue as INET_DATAGRAM records with the addresses they came from.
 *
 * Checkpoint reads a socket through ckpt's own copy of it (pidfd_getfd):
 * its addresses, its options (getsockopt), its TCP state; a listener's
 * backlog and accept queue come from sock_diag (inet_diag); a UDP socket's
 * datagrams are peeked with SO_PEEK_OFF, leaving them in place.  Saved:
 * unbound and bound sockets, TCP listeners with an empty accept queue, UDP
 * sockets bound or connected, with datagrams from loopback addresses.
 * Refused by name: a listener with connections waiting to be accepted,
 * established and other TCP states, datagrams from other addresses.
 *
 * Restart makes the socket in ckpt (the husks inherit it): socket(),
 * options, bind(), listen() or connect(), then sends each waiting datagram
 * again from its source address and port through a raw socket, so the
 * program reads it with the address it came from.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "objects/dump.h"
#include "fault.h"
#include "objects/event_files.h"
#include "objects/file_kinds.h"
#include "objects/inet_common.h"
#include "objects/restore.h"
#include "util.h"

#define DATAGRAM_BUFFER_SIZE (CKPT_MAX_INET_DATAGRAM + 1)
#define UDP_HEADER_SIZE 8

/* A datagram waiting in a UDP socket. */
struct inet_datagram {
	struct ckpt_inet_datagram header;
	uint8_t *data;
};

/* A socket's kind_state. */
struct inet_socket_state {
	struct ckpt_inet_socket record;
	struct inet_datagram *datagrams; /* its receive queue, oldest first */
	size_t datagram_count;
};

static struct inet_socket_state *inet_state(const struct dump_file *file)
{
	return file->kind_state;
}

static bool is_inet_socket(const struct fd_facts *facts)
{
	static const char *const names[] = { "TCP", "UDP", "TCPv6", "UDPv6" };

	if (!S_ISSOCK(facts->st.st_mode))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (strcmp(facts->socket_protocol, names[i]) == 0)
			return true;
	}
	return false;
}

/* ---- addresses ---- */

/* ---- checkpoint: options ---- */

/* ---- checkpoint: addresses and state ---- */

/* ---- checkpoint: a listener's backlog and accept queue (inet_diag) ---- */

struct listener_facts {
	uint32_t waiting; /* connections in the accept queue */
	uint32_t backlog;
	bool found;
};

static int ask_listeners(struct dump_context *ctx, int netlink, uint32_t family)
{
	struct {
		struct nlmsghdr header;
		struct inet_diag_req_v2 request;
	} question = {
		.header = { .nlmsg_len = sizeof(question),
			    .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			    .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.request = { .sdiag_family = (uint8_t)family,
			     .sdiag_protocol = IPPROTO_TCP,
			     .idiag_states = 1u << TCP_LISTEN },
	};

	if (send(netlink, &question, sizeof(question), 0) != (ssize_t)sizeof(question))
		return fail(ctx->err, errno, "inet_diag request: %s", strerror(errno));
	return 0;
}

/* 1 when the dump is done, 0 for more, or -errno; fills facts when the inode is in this part. */
static int read_listener_part(struct dump_context *ctx, char *answer, unsigned int length,
			      uint32_t inode, struct listener_facts *facts)
{
	for (struct nlmsghdr *header = (void *)answer; NLMSG_OK(header, length);
	     header = NLMSG_NEXT(header, length)) {
		const struct inet_diag_msg *message = NLMSG_DATA(header);

		if (header->nlmsg_type == NLMSG_DONE)
			return 1;
		if (header->nlmsg_type == NLMSG_ERROR)
			return fail(ctx->err, EIO, "inet_diag answered with an error");
		if (message->idiag_inode != inode || facts->found)
			continue;
		facts->found = true;
		facts->waiting = message->idiag_rqueue;
		facts->backlog = message->idiag_wqueue;
	}
	return 0;
}

static int query_listener(struct dump_context *ctx, uint32_t family, uint32_t inode,
			  struct listener_facts *facts)
{
	_cleanup_close_ int netlink =
		socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	_cleanup_free_ char *answer = malloc(32768);
	int ret;

	if (netlink < 0 || !answer)
		return fail(ctx->err, answer ? errno : ENOMEM, "netlink sock_diag socket: %s",
			    strerror(answer ? errno : ENOMEM));
	ret = ask_listeners(ctx, netlink, family);
	while (ret == 0) {
		ssize_t got = recv(netlink, answer, 32768, 0);

		if (got <= 0)
			return fail(ctx->err, got < 0 ? errno : EIO, "inet_diag answer unreadable");
		ret = read_listener_part(ctx, answer, (unsigned int)got, inode, facts);
	}
	return ret < 0 ? ret : 0;
}

static int collect_listener(struct dump_context *ctx, int fd, struct dump_file *file)
{
	struct ckpt_inet_socket *state = &inet_state(file)->record;
	struct listener_facts facts = { 0 };
	char what[128];
	int ret = query_listener(ctx, state->family, (uint32_t)file->record.inode, &facts);

	if (ret < 0)
		return ret;
	if (!facts.found)
		return fail(ctx->err, ENOTSUP,
			    "fd %d of process %d is a listening TCP socket that sock_diag does not show (another network namespace?): not supported yet",
			    fd, ctx->pid);
	if (facts.waiting) {
		snprintf(what, sizeof(what),
			 "a listening TCP socket with %u connections waiting to be accepted",
			 facts.waiting);
		return refuse_inet_fd(ctx, fd, what);
	}
	state->backlog = facts.backlog;
	return 0;
}

/* ---- checkpoint: a UDP socket's datagrams ---- */

static int add_datagram(struct dump_context *ctx, struct inet_socket_state *state,
			const struct ckpt_inet_datagram *header, const uint8_t *data)
{
	struct inet_datagram *grown =
		realloc(state->datagrams, (state->datagram_count + 1) * sizeof(*grown));

	if (!grown)
		return fail(ctx->err, ENOMEM, "out of memory");
	state->datagrams = grown;
	grown[state->datagram_count].header = *header;
	grown[state->datagram_count].data = malloc(header->length ? header->length : 1);
	if (!grown[state->datagram_count].data)
		return fail(ctx->err, ENOMEM, "out of memory");
	memcpy(grown[state->datagram_count].data, data, header->length);
	state->datagram_count++;
	return 0;
}

static int refuse_source(struct dump_context *ctx, int fd, const struct ckpt_inet_datagram *header)
{
	char text[ADDRESS_TEXT_SIZE];

	return fail(ctx->err, ENOTSUP,
		    "fd %d of process %d is a UDP socket with a datagram from %s queued (only datagrams from loopback addresses can be put back): not supported yet",
		    fd, ctx->pid,
		    address_text(header->source_family, header->source_address, header->source_port,
				 text));
}

/* One peek at the peek offset: 1 and a datagram, 0 when none is left, or -errno. */
static int peek_datagram(struct dump_context *ctx, int fd, int sock, uint8_t *buffer,
			 struct ckpt_inet_datagram *ret_header)
{
	struct sockaddr_storage source = { 0 };
	struct iovec part = { buffer, DATAGRAM_BUFFER_SIZE };
	struct msghdr message = {
		.msg_name = &source, .msg_namelen = sizeof(source), .msg_iov = &part, .msg_iovlen = 1
	};
	ssize_t got = recvmsg(sock, &message, MSG_PEEK | MSG_DONTWAIT);
	uint32_t scope = 0;

	if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (got < 0)
		return fail(ctx->err, errno, "peeking at fd %d of process %d: %s", fd, ctx->pid,
			    strerror(errno));
	if ((message.msg_flags & MSG_TRUNC) || got > (ssize_t)CKPT_MAX_INET_DATAGRAM)
		return refuse_inet_fd(ctx, fd,
				      "a UDP socket with a datagram above 65535 bytes queued");
	memset(ret_header, 0, sizeof(*ret_header));
	ret_header->length = (uint32_t)got;
	ret_header->source_family = source.ss_family;
	split_inet_address(&source, ret_header->source_address, &ret_header->source_port, &scope);
	if (!is_loopback_address(ret_header->source_family, ret_header->source_address))
		return refuse_source(ctx, fd, ret_header);
	return 1;
}

static int peek_datagrams(struct dump_context *ctx, int fd, int sock, struct dump_file *file)
{
	_cleanup_free_ uint8_t *buffer = malloc(DATAGRAM_BUFFER_SIZE);
	struct ckpt_inet_datagram header;
	int ret = 1;

	if (!buffer)
		return fail(ctx->err, ENOMEM, "out of memory");
	while (ret == 1) {
		ret = peek_datagram(ctx, fd, sock, buffer, &header);
		header.file_id = file->record.id;
		if (ret == 1)
			ret = add_datagram(ctx, inet_state(file), &header, buffer) == 0 ? 1 : -ENOMEM;
	}
	return ret;
}

/* Reads the receive queue without taking it: SO_PEEK_OFF from 0, then as it was. */
static int collect_datagrams(struct dump_context *ctx, int fd, int sock, struct dump_file *file)
{
	uint32_t saved = 0;
	int start = 0, ret = read_socket_option(ctx, sock, SOL_SOCKET, SO_PEEK_OFF, &saved);

	if (ret < 0)
		return ret;
	if (setsockopt(sock, SOL_SOCKET, SO_PEEK_OFF, &start, sizeof(start)) < 0)
		return fail(ctx->err, errno, "SO_PEEK_OFF on fd %d of process %d: %s", fd, ctx->pid,
			    strerror(errno));
	ret = peek_datagrams(ctx, fd, sock, file);
	if (setsockopt(sock, SOL_SOCKET, SO_PEEK_OFF, &saved, sizeof(saved)) < 0 && ret == 0)
		ret = fail(ctx->err, errno, "restoring SO_PEEK_OFF on fd %d of process %d: %s", fd,
			   ctx->pid, strerror(errno));
	return ret;
}

/* ---- checkpoint: the hooks ---- */

static int collect_state(struct dump_context *ctx, int fd, int sock, struct dump_file *file)
{
	struct ckpt_inet_socket *state = &inet_state(file)->record;
	int ret = read_inet_kind(ctx, fd, sock, state);

	if (ret == 0 && state->type == SOCK_STREAM)
		ret = read_tcp_state(ctx, fd, sock, state);
	if (ret == 0 && state->type == SOCK_DGRAM)
		ret = read_udp_state(ctx, sock, state);
	if (ret == 0)
		ret = read_local_address(ctx, sock, state);
	if (ret == 0)
		ret = read_inet_options(ctx, sock, state);
	if (ret == 0 && state->state == CKPT_INET_LISTENING)
		ret = collect_listener(ctx, fd, file);
	if (ret == 0 && state->type == SOCK_DGRAM)
		ret = collect_datagrams(ctx, fd, sock, file);
	return ret;
}

/* A TCP socket in ESTABLISHED: a TCP_STREAM FILE (tcp_stream.c) instead. */
static bool is_established_tcp(int sock)
{
	struct tcp_info info = { 0 };
	socklen_t length = sizeof(info);
	int protocol = 0;
	socklen_t protocol_length = sizeof(protocol);

	if (getsockopt(sock, SOL_SOCKET, SO_PROTOCOL, &protocol, &protocol_length) < 0 ||
	    protocol != IPPROTO_TCP)
		return false;
	return getsockopt(sock, IPPROTO_TCP, TCP_INFO, &info, &length) == 0 &&
	       info.tcpi_state == TCP_ESTABLISHED;
}

static int collect_inet_socket(struct dump_context *ctx, const struct fd_facts *facts,
			       struct dump_file *file)
{
	_cleanup_close_ int sock = -1;
	int ret = fault_point(ctx->err, "checkpoint.sockets");

	if (ret < 0)
		return ret;
	sock = take_target_file(ctx, facts->fd);
	if (sock < 0)
		return sock;
	if (is_established_tcp(sock))
		return collect_tcp_stream(ctx, facts->fd, sock, file);
	file->kind_state = calloc(1, sizeof(struct inet_socket_state));
	if (!file->kind_state)
		return fail(ctx->err, ENOMEM, "out of memory");
	inet_state(file)->record.file_id = file->record.id;
	return collect_state(ctx, facts->fd, sock, file);
}

static int write_inet_socket(struct dump_shared *shared, const struct dump_file *file)
{
	const struct inet_socket_state *state = inet_state(file);
	int ret = image_write_simple(&shared->writer, CKPT_RECORD_INET_SOCKET, &state->record,
				     sizeof(state->record));

	for (size_t i = 0; ret == 0 && i < state->datagram_count; i++) {
		struct ckpt_inet_datagram header = state->datagrams[i].header;
		struct iovec parts[2] = {
			{ &header, sizeof(header) },
			{ state->datagrams[i].data, header.length },
		};

		ret = image_write_record(&shared->writer, CKPT_RECORD_INET_DATAGRAM, parts, 2);
	}
	return ret;
}

static void free_inet_socket(struct dump_file *file)
{
	struct inet_socket_state *state = inet_state(file);

	for (size_t i = 0; state && i < state->datagram_count; i++)
		free(state->datagrams[i].data);
	if (state)
		free(state->datagrams);
	free_plain_state(file);
}

/* ---- restart: options ---- */

/* ---- restart: addresses ---- */

static int bind_socket(struct restore_context *ctx, int sock, const struct image_file *file)
{
	const struct ckpt_inet_socket *state = image_file_inet_socket(file);
	struct sockaddr_storage address;
	socklen_t length = join_address(state->family, state->local_address, state->local_port,
					state->scope_id, &address);
	char text[ADDRESS_TEXT_SIZE];

	if (state->local_port == 0)
		return 0;
	if (bind(sock, (struct sockaddr *)&address, length) == 0)
		return 0;
	address_text(state->family, state->local_address, state->local_port, text);
	if (errno == EADDRINUSE)
		return fail(
			ctx->err, EADDRINUSE,
			"cannot bind %s socket %s (FILE %u) to %s: port %u is in use (is the checkpointed process, or another, still holding it?)",
			protocol_name(state), file->path, file->file.id, text, state->local_port);
	return fail(ctx->err, errno, "cannot bind %s socket %s (FILE %u) to %s: %s",
		    protocol_name(state), file->path, file->file.id, text, strerror(errno));
}

static int listen_or_connect(struct restore_context *ctx, int sock,
			     const struct ckpt_inet_socket *state)
{
	struct sockaddr_storage address;
	socklen_t length;
	char text[ADDRESS_TEXT_SIZE];

	if (state->state == CKPT_INET_LISTENING && listen(sock, (int)state->backlog) < 0)
		return fail(ctx->err, errno, "listen on a new %s socket: %s", protocol_name(state),
			    strerror(errno));
	if (state->state != CKPT_INET_CONNECTED)
		return 0;
	length = join_address(state->family, state->remote_address, state->remote_port, 0, &address);
	if (connect(sock, (struct sockaddr *)&address, length) < 0)
		return fail(ctx->err, errno, "connecting a new UDP socket to %s: %s",
			    address_text(state->family, state->remote_address, state->remote_port,
					 text),
			    strerror(errno));
	return 0;
}

/* ---- restart: datagrams, sent again from their sources ---- */

/* Where the new socket receives: its own address, or loopback when it is bound to any. */
static void queue_destination(const struct ckpt_inet_socket *state, uint32_t family,
			      uint8_t ret_address[16])
{
	static const uint8_t any[16];

	memset(ret_address, 0, 16);
	if (family == AF_INET && state->family == AF_INET6 &&
	    is_v4_mapped_address(state->local_address))
		memcpy(ret_address, state->local_address + 12, 4);
	else if (family == (uint32_t)state->family && memcmp(state->local_address, any, 16) != 0)
		memcpy(ret_address, state->local_address, 16);
	else if (family == AF_INET)
		memcpy(ret_address, (const uint8_t[4]){ 127, 0, 0, 1 }, 4);
	else
		ret_address[15] = 1;
}

/* A raw UDP socket bound to the source address: it can send from any port, even a taken one. */
static int open_sender(struct restore_context *ctx, uint32_t family, const uint8_t source[16])
{
	struct sockaddr_storage address;
	socklen_t length = join_address(family, source, 0, 0, &address);
	int offset = 6, sender = socket((int)family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP);

	if (sender < 0)
		return fail(ctx->err, errno, "a raw socket to put datagrams back: %s",
			    strerror(errno));
	if (family == AF_INET6 &&
	    setsockopt(sender, IPPROTO_IPV6, IPV6_CHECKSUM, &offset, sizeof(offset)) < 0) {
		close(sender);
		return fail(ctx->err, errno, "IPV6_CHECKSUM on a raw socket: %s", strerror(errno));
	}
	if (bind(sender, (struct sockaddr *)&address, length) < 0) {
		close(sender);
		return fail(ctx->err, errno, "binding a raw socket to a datagram's source: %s",
			    strerror(errno));
	}
	return sender;
}

static int send_datagram(struct restore_context *ctx, const struct ckpt_inet_socket *state,
			 const struct ckpt_inet_datagram *datagram)
{
	uint32_t family = datagram->source_family;
	uint8_t source[16] = { 0 }, destination[16];
	_cleanup_free_ uint8_t *packet = malloc(UDP_HEADER_SIZE + datagram->length);
	_cleanup_close_ int sender = -1;
	struct sockaddr_storage address;
	socklen_t length;
	uint16_t header[4];

	if (!packet)
		return fail(ctx->err, ENOMEM, "out of memory");
	memcpy(source, datagram->source_address, 16);
	if (family == AF_INET6 && is_v4_mapped_address(source)) {
		family = AF_INET;
		memmove(source, source + 12, 4);
		memset(source + 4, 0, 12);
	}
	queue_destination(state, family, destination);
	sender = open_sender(ctx, family, source);
	if (sender < 0)
		return sender;
	header[0] = htons(datagram->source_port);
	header[1] = htons(state->local_port);
	header[2] = htons((uint16_t)(UDP_HEADER_SIZE + datagram->length));
	header[3] = 0; /* IPv4: no checksum; IPv6: the kernel fills it (IPV6_CHECKSUM) */
	memcpy(packet, header, sizeof(header));
	memcpy(packet + UDP_HEADER_SIZE, datagram + 1, datagram->length);
	length = join_address(family, destination, 0, 0, &address);
	if (sendto(sender, packet, UDP_HEADER_SIZE + datagram->length, 0, (struct sockaddr *)&address,
		   length) != (ssize_t)(UDP_HEADER_SIZE + datagram->length))
		return fail(ctx->err, errno ? errno : EIO, "putting a datagram back: %s",
			    strerror(errno ? errno : EIO));
	return 0;
}

/* How many datagrams wait in sock, counted with a peek offset (then reset). */
static int count_datagrams(int sock, size_t *ret_count)
{
	_cleanup_free_ char *buffer = malloc(DATAGRAM_BUFFER_SIZE);
	int start = 0, off = -1;
	size_t count = 0;

	if (!buffer)
		return -ENOMEM;
	if (setsockopt(sock, SOL_SOCKET, SO_PEEK_OFF, &start, sizeof(start)) < 0)
		return -errno;
	while (recv(sock, buffer, DATAGRAM_BUFFER_SIZE, MSG_PEEK | MSG_DONTWAIT) >= 0)
		count++;
	if (setsockopt(sock, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)) < 0)
		return -errno;
	*ret_count = count;
	return 0;
}

static int refill_datagrams(struct restore_context *ctx, int sock, const struct image_file *file)
{
	const struct ckpt_inet_socket *state = image_file_inet_socket(file);
	size_t arrived = 0;
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < file->queue_count; i++)
		ret = send_datagram(ctx, state, image_file_inet_datagram(file, i));
	if (ret < 0 || file->queue_count == 0)
		return ret;
	ret = count_datagrams(sock, &arrived);
	if (ret < 0)
		return fail(ctx->err, -ret, "counting the datagrams put back: %s", strerror(-ret));
	if (arrived != file->queue_count)
		return fail(ctx->err, EIO,
			    "UDP socket %s (FILE %u): %zu of %zu datagrams arrived when put back",
			    file->path, file->file.id, arrived, file->queue_count);
	return 0;
}

/* ---- restart: the hook ---- */

static int rebuild_socket(struct restore_context *ctx, int sock, const struct image_file *file)
{
	const struct ckpt_inet_socket *state = image_file_inet_socket(file);
	int ret = restore_bind_options(ctx, sock, state);

	if (ret == 0 && state->type == SOCK_STREAM)
		ret = restore_tcp_options(ctx, sock, state);
	if (ret == 0)
		ret = bind_socket(ctx, sock, file);
	if (ret == 0)
		ret = listen_or_connect(ctx, sock, state);
	if (ret == 0 && state->type == SOCK_DGRAM)
		ret = refill_datagrams(ctx, sock, file);
	if (ret == 0 && fcntl(sock, F_SETFL, (int)(file->file.open_flags & O_NONBLOCK)) < 0)
		ret = fail(ctx->err, errno, "fcntl(F_SETFL) on a new socket: %s", strerror(errno));
	return ret;
}

static int create_inet_socket(struct restore_context *ctx, const struct file_opener *opener,
			      const struct image_file *file, int *ret_fd)
{
	const struct ckpt_inet_socket *state = image_file_inet_socket(file);
	int sock, ret = fault_point(ctx->err, "restart.sockets");

	(void)opener;
	if (ret < 0)
		return ret;
	sock = socket(state->family, state->type | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return fail(ctx->err, errno, "a new %s socket: %s", protocol_name(state),
			    strerror(errno));
	ret = rebuild_socket(ctx, sock, file);
	if (ret < 0) {
		close(sock);
		return ret;
	}
	*ret_fd = sock;
	return 0;
}

const struct file_kind_ops inet_socket_ops = {
	.kind = CKPT_FILE_INET_SOCKET,
	.inherited_as = CKPT_INHERIT_SOCKET,
	.recognise = is_inet_socket,
	.collect = collect_inet_socket,
	.write_state = write_inet_socket,
	.free_state = free_inet_socket,
	.create = create_inet_socket,
};
