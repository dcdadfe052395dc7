/* SPDX-License-Identifier: MIT */
/*
 * Unix socketpairs with both ends in the tree.  Each end is one FILE (kind
 * UNIX_SOCKET) with its UNIX_SOCKET record and the data waiting in its
 * receive queue as SOCKET_QUEUE records.  ckpt finds the peer with
 * sock_diag (UNIX_DIAG_PEER) and reads the queue through its own copy of
 * the target's socket with MSG_PEEK and SO_PEEK_OFF, leaving it in place.
 * Restart makes the pair with socketpair() and sends each end's queue from
 * the other end.  Bound, listening and unconnected sockets are refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "objects/dump.h"
#include "fault.h"
#include "objects/event_files.h"
#include "objects/file_kinds.h"
#include "objects/restore.h"
#include "util.h"

#define PEEK_BUFFER_SIZE CKPT_MAX_SOCKET_DATA /* one SOCKET_QUEUE record at most */

/* A datagram, packet or run of stream bytes waiting in a unix socket. */
struct socket_message {
	uint8_t *data;
	uint32_t length;
};

/* A socket's kind_state. */
struct unix_socket_state {
	struct ckpt_unix_socket record;
	uint32_t peer_inode;		 /* matched to the peer's FILE once the tree is collected */
	struct socket_message *messages; /* its receive queue */
	size_t message_count;
};

static struct unix_socket_state *socket_state(const struct dump_file *file)
{
	return file->kind_state;
}

struct diag_facts {
	uint32_t peer_inode;
	uint32_t shutdown;
	bool has_name;
};

static int refuse(struct dump_context *ctx, int fd, const char *what)
{
	return fail(ctx->err, ENOTSUP, "fd %d of process %d is %s: not supported yet", fd, ctx->pid,
		    what);
}

static int ask_sock_diag(struct dump_context *ctx, int netlink, uint32_t inode)
{
	struct {
		struct nlmsghdr header;
		struct unix_diag_req request;
	} question = {
		.header = { .nlmsg_len = sizeof(question),
			    .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			    .nlmsg_flags = NLM_F_REQUEST },
		.request = { .sdiag_family = AF_UNIX,
			     .udiag_states = ~0u,
			     .udiag_ino = inode,
			     .udiag_show = UDIAG_SHOW_PEER | UDIAG_SHOW_NAME,
			     .udiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } },
	};

	if (send(netlink, &question, sizeof(question), 0) != (ssize_t)sizeof(question))
		return fail(ctx->err, errno, "sock_diag request: %s", strerror(errno));
	return 0;
}

static void read_diag_attributes(const struct nlmsghdr *header, struct diag_facts *facts)
{
	const struct unix_diag_msg *message = (const void *)((const char *)header + NLMSG_HDRLEN);
	const struct nlattr *attr = (const void *)(message + 1);
	int left = (int)header->nlmsg_len - NLMSG_LENGTH(sizeof(*message));

	while (left >= (int)sizeof(*attr) && attr->nla_len >= sizeof(*attr) && attr->nla_len <= left) {
		const void *value = (const char *)attr + NLA_HDRLEN;

		if (attr->nla_type == UNIX_DIAG_PEER)
			memcpy(&facts->peer_inode, value, sizeof(facts->peer_inode));
		else if (attr->nla_type == UNIX_DIAG_SHUTDOWN)
			facts->shutdown = *(const uint8_t *)value & 3u;
		else if (attr->nla_type == UNIX_DIAG_NAME)
			facts->has_name = true;
		left -= NLA_ALIGN(attr->nla_len);
		attr = (const void *)((const char *)attr + NLA_ALIGN(attr->nla_len));
	}
}

/* The peer's inode, the shutdown bits and whether it has an address, from sock_diag. */
static int query_sock_diag(struct dump_context *ctx, uint32_t inode, struct diag_facts *facts)
{
	_cleanup_close_ int netlink =
		socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	_Alignas(struct nlmsghdr) char answer[8192];
	const struct nlmsghdr *header = (const void *)answer;
	ssize_t got;
	int ret;

	if (netlink < 0)
		return fail(ctx->err, errno, "netlink sock_diag socket: %s", strerror(errno));
	ret = ask_sock_diag(ctx, netlink, inode);
	if (ret < 0)
		return ret;
	got = recv(netlink, answer, sizeof(answer), 0);
	if (got < (ssize_t)sizeof(*header) || !NLMSG_OK(header, (size_t)got))
		return fail(ctx->err, got < 0 ? errno : EIO,
			    "sock_diag answer for socket %u unreadable", inode);
	if (header->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *error = (const void *)((const char *)header + NLMSG_HDRLEN);

		return fail(ctx->err, -error->error, "sock_diag for socket %u: %s", inode,
			    strerror(-error->error));
	}
	read_diag_attributes(header, facts);
	return 0;
}

static int socket_option(struct dump_context *ctx, int sock, int name, int *ret_value)
{
	socklen_t length = sizeof(*ret_value);

	if (getsockopt(sock, SOL_SOCKET, name, ret_value, &length) < 0)
		return fail(ctx->err, errno, "getsockopt(%d) on a socket of process %d: %s", name,
			    ctx->pid, strerror(errno));
	return 0;
}

static int check_socket_kind(struct dump_context *ctx, int fd, int sock, int *ret_type)
{
	int domain = 0, listening = 0;
	int ret = socket_option(ctx, sock, SO_DOMAIN, &domain);

	if (ret == 0)
		ret = socket_option(ctx, sock, SO_TYPE, ret_type);
	if (ret == 0)
		ret = socket_option(ctx, sock, SO_ACCEPTCONN, &listening);
	if (ret < 0)
		return ret;
	if (domain == AF_NETLINK)
		return refuse(ctx, fd, "a netlink socket");
	if (domain == AF_PACKET)
		return refuse(ctx, fd, "a packet socket");
	if (domain != AF_UNIX)
		return fail(ctx->err, ENOTSUP,
			    "fd %d of process %d is a socket of address family %d: only unix socketpairs, TCP and UDP are supported",
			    fd, ctx->pid, domain);
	if (listening)
		return refuse(ctx, fd, "a listening unix socket");
	if (*ret_type != SOCK_STREAM && *ret_type != SOCK_DGRAM && *ret_type != SOCK_SEQPACKET)
		return refuse(ctx, fd, "a unix socket of an unknown type");
	return 0;
}

static int add_message(struct dump_context *ctx, struct unix_socket_state *state, const void *data,
		       size_t length)
{
	struct socket_message *grown =
		realloc(state->messages, (state->message_count + 1) * sizeof(*grown));

	if (!grown)
		return fail(ctx->err, ENOMEM, "out of memory");
	state->messages = grown;
	grown[state->message_count].data = malloc(length ? length : 1);
	if (!grown[state->message_count].data)
		return fail(ctx->err, ENOMEM, "out of memory");
	memcpy(grown[state->message_count].data, data, length);
	grown[state->message_count].length = (uint32_t)length;
	state->message_count++;
	return 0;
}

/* Closes fds that a peek of SCM_RIGHTS put into ckpt; true if there were any. */
static bool had_passed_fds(struct msghdr *message)
{
	bool found = false;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(message); c; c = CMSG_NXTHDR(message, c)) {
		int *fds = (int *)CMSG_DATA(c);
		size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		found = true;
		for (size_t i = 0; i < count; i++)
			close(fds[i]);
	}
	return found || (message->msg_flags & MSG_CTRUNC);
}

/* One peek at the current peek offset: bytes (maybe 0), -EAGAIN when nothing waits, or -errno. */
static ssize_t peek_once(struct dump_context *ctx, int fd, int sock, char *buffer)
{
	char control[CMSG_SPACE(64 * sizeof(int))];
	struct iovec part = { buffer, PEEK_BUFFER_SIZE };
	struct msghdr message = { .msg_iov = &part,
				  .msg_iovlen = 1,
				  .msg_control = control,
				  .msg_controllen = sizeof(control) };
	ssize_t got = recvmsg(sock, &message, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return -EAGAIN;
	if (got < 0)
		return fail(ctx->err, errno, "peeking at fd %d of process %d: %s", fd, ctx->pid,
			    strerror(errno));
	if (had_passed_fds(&message))
		return refuse(ctx, fd, "a unix socket with file descriptors (SCM_RIGHTS) in flight");
	if (message.msg_flags & MSG_TRUNC)
		return refuse(ctx, fd, "a unix socket with a datagram above 1 MiB queued");
	return got;
}

/*
 * A peek gives 0 at the end of a stream, and for datagrams and packets at an
 * empty message, or when nothing is left after a shutdown of receiving.
 */
static bool ends_at_empty_message(const struct ckpt_unix_socket *state)
{
	return state->type != SOCK_STREAM && !(state->shutdown & CKPT_UNIX_SHUT_RD);
}

static int peek_queue(struct dump_context *ctx, int fd, int sock, struct unix_socket_state *state)
{
	_cleanup_free_ char *buffer = malloc(PEEK_BUFFER_SIZE);
	ssize_t got;
	int ret = 0;

	if (!buffer)
		return fail(ctx->err, ENOMEM, "out of memory");
	while (ret == 0 && (got = peek_once(ctx, fd, sock, buffer)) > 0)
		ret = add_message(ctx, state, buffer, (size_t)got);
	if (ret < 0)
		return ret;
	if (got == 0 && ends_at_empty_message(&state->record))
		return refuse(ctx, fd, "a unix socket with an empty datagram or packet queued");
	return got == -EAGAIN || got == 0 ? 0 : (int)got;
}

/* Reads the receive queue without taking it: SO_PEEK_OFF from 0, then as it was. */
static int read_queue(struct dump_context *ctx, int fd, int sock, struct unix_socket_state *state)
{
	int saved = -1, start = 0, ret = socket_option(ctx, sock, SO_PEEK_OFF, &saved);

	if (ret < 0)
		return ret;
	if (setsockopt(sock, SOL_SOCKET, SO_PEEK_OFF, &start, sizeof(start)) < 0)
		return fail(ctx->err, errno, "SO_PEEK_OFF on fd %d of process %d: %s", fd, ctx->pid,
			    strerror(errno));
	ret = peek_queue(ctx, fd, sock, state);
	if (setsockopt(sock, SOL_SOCKET, SO_PEEK_OFF, &saved, sizeof(saved)) < 0 && ret == 0)
		ret = fail(ctx->err, errno, "restoring SO_PEEK_OFF on fd %d of process %d: %s", fd,
			   ctx->pid, strerror(errno));
	return ret;
}

static int collect_options(struct dump_context *ctx, int sock, struct ckpt_unix_socket *state)
{
	int rcvbuf = 0, sndbuf = 0, passcred = 0;
	int ret = socket_option(ctx, sock, SO_RCVBUF, &rcvbuf);

	if (ret == 0)
		ret = socket_option(ctx, sock, SO_SNDBUF, &sndbuf);
	if (ret == 0)
		ret = socket_option(ctx, sock, SO_PASSCRED, &passcred);
	state->rcvbuf = (uint32_t)rcvbuf;
	state->sndbuf = (uint32_t)sndbuf;
	state->flags = passcred ? CKPT_UNIX_PASSCRED : 0;
	return ret;
}

static int collect_diag(struct dump_context *ctx, int fd, struct dump_file *file)
{
	struct diag_facts facts = { 0 };
	int ret = query_sock_diag(ctx, (uint32_t)file->record.inode, &facts);

	if (ret < 0)
		return ret;
	if (facts.has_name)
		return refuse(ctx, fd, "a unix socket bound to an address");
	if (facts.peer_inode == 0)
		return refuse(ctx, fd, "a unix socket without a peer");
	socket_state(file)->peer_inode = facts.peer_inode;
	socket_state(file)->record.shutdown = facts.shutdown;
	return 0;
}

/* Every socket the inet row does not take: unix sockets, and other families to refuse by name. */
static bool is_socket(const struct fd_facts *facts)
{
	return S_ISSOCK(facts->st.st_mode) && !inet_socket_ops.recognise(facts);
}

static int collect_unix_socket(struct dump_context *ctx, const struct fd_facts *facts,
			       struct dump_file *file)
{
	_cleanup_close_ int sock = -1;
	struct ckpt_unix_socket *state;
	int fd = facts->fd, type = 0, ret = fault_point(ctx->err, "checkpoint.sockets");

	if (ret < 0)
		return ret;
	file->kind_state = calloc(1, sizeof(struct unix_socket_state));
	if (!file->kind_state)
		return fail(ctx->err, ENOMEM, "out of memory");
	state = &socket_state(file)->record;
	sock = take_target_file(ctx, fd);
	if (sock < 0)
		return sock;
	ret = check_socket_kind(ctx, fd, sock, &type);
	if (ret == 0)
		ret = collect_diag(ctx, fd, file);
	if (ret == 0)
		ret = collect_options(ctx, sock, state);
	if (ret < 0)
		return ret;
	state->file_id = file->record.id;
	state->type = (uint32_t)type;
	ret = read_queue(ctx, fd, sock, socket_state(file));
	if (ret == 0 && (state->flags & CKPT_UNIX_PASSCRED) && socket_state(file)->message_count)
		return refuse(ctx, fd,
			      "a unix socket with SO_PASSCRED and messages (credentials) in flight");
	return ret;
}

/* The end's peer file id, from the inodes; a peer outside the tree is refused. */
static int pair_unix_socket(struct dump_shared *shared, struct dump_file *end)
{
	struct unix_socket_state *state = socket_state(end);
	uint32_t peer_id = 0;

	for (size_t j = 0; j < shared->file_count && !peer_id; j++) {
		if (shared->files[j].record.kind == CKPT_FILE_UNIX_SOCKET &&
		    shared->files[j].record.inode == state->peer_inode)
			peer_id = shared->files[j].record.id;
	}
	if (!peer_id)
		return fail(shared->err, ENOTSUP,
			    "unix socket %s (first fd %d of process %d) has its peer socket:[%u] outside the checkpointed tree: not supported",
			    end->path, end->first_fd, end->first_pid, state->peer_inode);
	state->record.peer_file_id = peer_id;
	return 0;
}

static int write_unix_socket(struct dump_shared *shared, const struct dump_file *file)
{
	const struct unix_socket_state *state = socket_state(file);
	int ret = image_write_simple(&shared->writer, CKPT_RECORD_UNIX_SOCKET, &state->record,
				     sizeof(state->record));

	for (size_t i = 0; ret == 0 && i < state->message_count; i++) {
		struct ckpt_socket_queue queue = { file->record.id, state->messages[i].length };
		struct iovec parts[2] = {
			{ &queue, sizeof(queue) },
			{ state->messages[i].data, state->messages[i].length },
		};

		ret = image_write_record(&shared->writer, CKPT_RECORD_SOCKET_QUEUE, parts, 2);
	}
	return ret;
}

static void free_unix_socket(struct dump_file *file)
{
	struct unix_socket_state *state = socket_state(file);

	for (size_t i = 0; state && i < state->message_count; i++)
		free(state->messages[i].data);
	if (state)
		free(state->messages);
	free_plain_state(file);
}

/* ---- restart side ---- */

static int set_option(struct restore_context *ctx, int sock, int name, int value)
{
	if (setsockopt(sock, SOL_SOCKET, name, &value, sizeof(value)) < 0)
		return fail(ctx->err, errno, "setsockopt(%d) on a unix socket: %s", name,
			    strerror(errno));
	return 0;
}

/* getsockopt() reports twice what setsockopt() asked for; unchanged sizes are left alone. */
static int restore_buffer(struct restore_context *ctx, int sock, int name, uint32_t wanted)
{
	int current = 0;
	socklen_t length = sizeof(current);

	if (getsockopt(sock, SOL_SOCKET, name, &current, &length) < 0)
		return fail(ctx->err, errno, "getsockopt(%d) on a unix socket: %s", name,
			    strerror(errno));
	if ((uint32_t)current == wanted)
		return 0;
	return set_option(ctx, sock, name, (int)(wanted / 2));
}

static int restore_buffers(struct restore_context *ctx, int sock, const struct ckpt_unix_socket *state)
{
	int ret = restore_buffer(ctx, sock, SO_RCVBUF, state->rcvbuf);

	if (ret == 0)
		ret = restore_buffer(ctx, sock, SO_SNDBUF, state->sndbuf);
	return ret;
}

/* Sends what the receiver had waiting, from its peer, message by message. */
static int refill_queue(struct restore_context *ctx, int sender, const struct image_file *receiver)
{
	for (size_t i = 0; i < receiver->queue_count; i++) {
		const struct ckpt_socket_queue *queue = receiver->queue[i];
		ssize_t sent = send(sender, queue + 1, queue->length, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (sent != (ssize_t)queue->length)
			return fail(ctx->err, sent < 0 ? errno : EIO,
				    "refilling the queue of unix socket FILE %u: %s",
				    receiver->file.id, sent < 0 ? strerror(errno) : "short send");
	}
	return 0;
}

static int finish_end(struct restore_context *ctx, int sock, const struct image_file *file)
{
	const struct ckpt_unix_socket *state = image_file_unix_socket(file);
	int how = -1;

	if (state->shutdown == (CKPT_UNIX_SHUT_RD | CKPT_UNIX_SHUT_WR))
		how = SHUT_RDWR;
	else if (state->shutdown == CKPT_UNIX_SHUT_RD)
		how = SHUT_RD;
	else if (state->shutdown == CKPT_UNIX_SHUT_WR)
		how = SHUT_WR;
	if (how >= 0 && shutdown(sock, how) < 0)
		return fail(ctx->err, errno, "shutdown of a unix socket: %s", strerror(errno));
	if ((state->flags & CKPT_UNIX_PASSCRED) && set_option(ctx, sock, SO_PASSCRED, 1) < 0)
		return -errno;
	if (fcntl(sock, F_SETFL, (int)(file->file.open_flags & O_NONBLOCK)) < 0)
		return fail(ctx->err, errno, "fcntl(F_SETFL) on a unix socket: %s", strerror(errno));
	return 0;
}

static int rebuild_pair(struct restore_context *ctx, const int pair[2],
			const struct image_file *end, const struct image_file *peer)
{
	int ret = restore_buffers(ctx, pair[0], image_file_unix_socket(end));

	if (ret == 0)
		ret = restore_buffers(ctx, pair[1], image_file_unix_socket(peer));
	if (ret == 0)
		ret = refill_queue(ctx, pair[1], end);
	if (ret == 0)
		ret = refill_queue(ctx, pair[0], peer);
	if (ret == 0)
		ret = finish_end(ctx, pair[0], end);
	if (ret == 0)
		ret = finish_end(ctx, pair[1], peer);
	return ret;
}

/* Makes both ends at once: returns this end, stages the peer's at its slot. */
static int create_unix_socket(struct restore_context *ctx, const struct file_opener *opener,
			      const struct image_file *file, int *ret_fd)
{
	const struct ckpt_unix_socket *state = image_file_unix_socket(file);
	size_t peer_index = state->peer_file_id - 1;
	int pair[2], ret = fault_point(ctx->err, "restart.sockets");

	(void)opener;
	if (ret < 0)
		return ret;
	if (socketpair(AF_UNIX, (int)state->type | SOCK_CLOEXEC, 0, pair) < 0)
		return fail(ctx->err, errno, "socketpair: %s", strerror(errno));
	ret = rebuild_pair(ctx, pair, file, &ctx->tree.files[peer_index]);
	if (ret == 0) {
		ctx->staged_fds[peer_index] = fcntl(pair[1], F_DUPFD_CLOEXEC, ctx->stage_base);
		if (ctx->staged_fds[peer_index] < 0)
			ret = fail(ctx->err, errno, "cannot stage a unix socket: %s",
				   strerror(errno));
	}
	close(pair[1]);
	if (ret < 0) {
		close(pair[0]);
		return ret;
	}
	*ret_fd = pair[0];
	return 0;
}

const struct file_kind_ops unix_socket_ops = {
	.kind = CKPT_FILE_UNIX_SOCKET,
	.inherited_as = CKPT_INHERIT_SOCKET,
	.recognise = is_socket,
	.collect = collect_unix_socket,
	.check_collected = pair_unix_socket,
	.write_state = write_unix_socket,
	.free_state = free_unix_socket,
	.create = create_unix_socket,
};
