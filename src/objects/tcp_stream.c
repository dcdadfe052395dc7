/* SPDX-License-Identifier: MIT */
/*
 * Established TCP connections, IPv4 and IPv6: each is one FILE (kind
 * TCP_STREAM) with its TCP_STREAM record, then its queued bytes as TCP_QUEUE
 * records (the receive queue, then the send queue).  inet_socket.c hands a
 * socket over here when TCP_INFO says ESTABLISHED.
 *
 * Checkpoint puts ckpt's copy of the socket (pidfd_getfd) in repair mode
 * (TCP_REPAIR, which needs CAP_NET_ADMIN; the mode belongs to the socket,
 * so the target's fd is in it too) while the target is frozen, and reads
 * the sequence numbers of both queues (TCP_QUEUE_SEQ), their bytes (peeked:
 * the send queue is what was sent but not acknowledged, then what was not
 * sent yet), the options agreed with the peer (MSS, window scale, SACK,
 * timestamps), the windows (TCP_REPAIR_WINDOW) and the timestamp clock.
 * Repair mode is turned off again (without a window probe) before the
 * target goes on.  With --kill it is turned on again when the image is
 * written, and ckpt closes its copy after the kill: a socket closed in
 * repair mode sends neither FIN nor RST, so the peer sees nothing.
 *
 * Restart makes the socket in repair mode: options, both queues' sequence
 * numbers, bind() (repair mode may share the port with a listener),
 * connect() (which sends no SYN in repair mode), the TCP options, the
 * timestamp clock, the receive queue and the sent part of the send queue,
 * the windows.  Repair mode ends in the seal hook, once every socket of
 * the tree exists (two ends over loopback must both be there before either
 * sends a window probe), and the unsent bytes are sent then, as new data.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "objects/dump.h"
#include "fault.h"
#include "objects/event_files.h"
#include "objects/file_kinds.h"
#include "objects/inet_common.h"
#include "objects/restore.h"
#include "util.h"

/* A connection's kind_state. */
struct tcp_stream_state {
	struct ckpt_tcp_stream record;
	uint8_t *received; /* recv_queue_length bytes */
	uint8_t *sending;  /* send_queue_length bytes */
	int sock;	   /* ckpt's copy: with --kill, closed in repair mode after the kill */
	int pidfd;	   /* the process that showed it: still running at the end means let go */
	bool repairing;
};

static struct tcp_stream_state *stream_state(const struct dump_file *file)
{
	return file->kind_state;
}

/* "127.0.0.1:5000 to 127.0.0.1:41000", for messages. */
static const char *connection_text(const struct ckpt_inet_socket *sock,
				   char text[2 * ADDRESS_TEXT_SIZE + 4])
{
	char local[ADDRESS_TEXT_SIZE], remote[ADDRESS_TEXT_SIZE];

	address_text(sock->family, sock->local_address, sock->local_port, local);
	address_text(sock->family, sock->remote_address, sock->remote_port, remote);
	snprintf(text, 2 * ADDRESS_TEXT_SIZE + 4, "%s to %s", local, remote);
	return text;
}

static int set_repair(int sock, int mode)
{
	return setsockopt(sock, IPPROTO_TCP, TCP_REPAIR, &mode, sizeof(mode)) < 0 ? -errno : 0;
}

static int select_queue(int sock, int queue)
{
	return setsockopt(sock, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof(queue)) < 0 ? -errno
											  : 0;
}

/* Leaving repair mode clears SO_REUSEADDR: set it again when the program had it. */
static int end_repair(int sock, int mode, const struct ckpt_inet_socket *state)
{
	int one = 1, ret = set_repair(sock, mode);

	if (ret == 0 && (state->flags & CKPT_INET_REUSEADDR) &&
	    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		ret = -errno;
	return ret;
}

/* ---- checkpoint ---- */

static int stream_fail(struct dump_context *ctx, int fd, int error, const char *what)
{
	return fail(ctx->err, error, "fd %d of process %d (an established TCP connection): %s: %s",
		    fd, ctx->pid, what, strerror(error));
}

static int start_repair(struct dump_context *ctx, int fd, struct tcp_stream_state *state)
{
	char text[2 * ADDRESS_TEXT_SIZE + 4];
	int ret = set_repair(state->sock, TCP_REPAIR_ON);

	if (ret == -EPERM)
		return fail(ctx->err, ENOTSUP,
			    "fd %d of process %d is an established TCP connection %s: saving it needs CAP_NET_ADMIN (TCP_REPAIR), which ckpt lacks: not supported without it",
			    fd, ctx->pid, connection_text(&state->record.socket, text));
	if (ret < 0)
		return stream_fail(ctx, fd, -ret, "TCP_REPAIR");
	state->repairing = true;
	return 0;
}

static int read_queue_seq(struct dump_context *ctx, int fd, int sock, int queue, uint32_t *ret_seq)
{
	int seq = 0;
	socklen_t length = sizeof(seq);
	int ret = select_queue(sock, queue);

	if (ret == 0 && getsockopt(sock, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, &length) < 0)
		ret = -errno;
	if (ret < 0)
		return stream_fail(ctx, fd, -ret, "TCP_QUEUE_SEQ");
	*ret_seq = (uint32_t)seq;
	return 0;
}

static int read_queue_length(struct dump_context *ctx, int fd, int sock, unsigned long request,
			     uint32_t *ret_length)
{
	int length = 0;

	if (ioctl(sock, request, &length) < 0)
		return stream_fail(ctx, fd, errno, "queue length");
	if (length < 0 || (uint32_t)length > CKPT_MAX_TCP_QUEUE)
		return fail(ctx->err, ENOTSUP,
			    "fd %d of process %d is an established TCP connection with %d bytes queued (at most %u can be saved): not supported yet",
			    fd, ctx->pid, length, CKPT_MAX_TCP_QUEUE);
	*ret_length = (uint32_t)length;
	return 0;
}

/* Peeks a whole queue; the kernel copies the send queue whole, so the buffer holds it all and one more byte. */
static int peek_queue(struct dump_context *ctx, int fd, int sock, int queue, uint32_t length,
		      uint8_t **ret_data)
{
	uint8_t *data = malloc((size_t)length + 1);
	ssize_t got;
	int ret = select_queue(sock, queue);

	if (!data)
		return fail(ctx->err, ENOMEM, "out of memory");
	*ret_data = data;
	if (ret < 0)
		return stream_fail(ctx, fd, -ret, "TCP_REPAIR_QUEUE");
	if (length == 0)
		return 0;
	got = recv(sock, data, (size_t)length + 1, MSG_PEEK | MSG_DONTWAIT);
	if (got < 0)
		return stream_fail(ctx, fd, errno, "peeking its queue");
	if ((uint32_t)got != length)
		return fail(ctx->err, EIO,
			    "fd %d of process %d: peeked %zd bytes of a TCP queue of %u", fd,
			    ctx->pid, got, length);
	return 0;
}

static int read_queues(struct dump_context *ctx, int fd, struct tcp_stream_state *state)
{
	struct ckpt_tcp_stream *record = &state->record;
	int ret = read_queue_seq(ctx, fd, state->sock, TCP_RECV_QUEUE, &record->recv_seq);

	if (ret == 0)
		ret = read_queue_seq(ctx, fd, state->sock, TCP_SEND_QUEUE, &record->send_seq);
	if (ret == 0)
		ret = read_queue_length(ctx, fd, state->sock, SIOCINQ, &record->recv_queue_length);
	if (ret == 0)
		ret = read_queue_length(ctx, fd, state->sock, SIOCOUTQ, &record->send_queue_length);
	if (ret == 0)
		ret = read_queue_length(ctx, fd, state->sock, SIOCOUTQNSD, &record->unsent_length);
	if (ret == 0)
		ret = peek_queue(ctx, fd, state->sock, TCP_RECV_QUEUE, record->recv_queue_length,
				 &state->received);
	if (ret == 0)
		ret = peek_queue(ctx, fd, state->sock, TCP_SEND_QUEUE, record->send_queue_length,
				 &state->sending);
	if (ret == 0)
		ret = select_queue(state->sock, TCP_NO_QUEUE) < 0
			      ? stream_fail(ctx, fd, errno, "TCP_NO_QUEUE")
			      : 0;
	return ret;
}

static int read_int_option(struct dump_context *ctx, int fd, int sock, int name, const char *what,
			   uint32_t *ret_value)
{
	int value = 0;
	socklen_t length = sizeof(value);

	if (getsockopt(sock, IPPROTO_TCP, name, &value, &length) < 0)
		return stream_fail(ctx, fd, errno, what);
	*ret_value = (uint32_t)value;
	return 0;
}

/* The options agreed at the handshake, as TCP_INFO shows them; only ESTABLISHED is saved. */
static int read_agreed_options(struct dump_context *ctx, int fd, struct tcp_stream_state *state)
{
	struct ckpt_tcp_stream *record = &state->record;
	struct tcp_info info = { 0 };
	socklen_t length = sizeof(info);

	if (getsockopt(state->sock, IPPROTO_TCP, TCP_INFO, &info, &length) < 0)
		return stream_fail(ctx, fd, errno, "TCP_INFO");
	if (info.tcpi_state != TCP_ESTABLISHED)
		return fail(ctx->err, ENOTSUP,
			    "fd %d of process %d is a TCP connection that began closing while ckpt read it: not supported yet",
			    fd, ctx->pid);
	if (info.tcpi_options & TCPI_OPT_TIMESTAMPS)
		record->options |= CKPT_TCP_TIMESTAMPS;
	if (info.tcpi_options & TCPI_OPT_SACK)
		record->options |= CKPT_TCP_SACK;
	if (info.tcpi_options & TCPI_OPT_WSCALE) {
		record->options |= CKPT_TCP_WSCALE;
		record->snd_wscale = info.tcpi_snd_wscale;
		record->rcv_wscale = info.tcpi_rcv_wscale;
	}
	return read_int_option(ctx, fd, state->sock, TCP_MAXSEG, "TCP_MAXSEG", &record->mss);
}

static int read_window(struct dump_context *ctx, int fd, struct tcp_stream_state *state)
{
	struct tcp_repair_window window = { 0 };
	socklen_t length = sizeof(window);

	if (getsockopt(state->sock, IPPROTO_TCP, TCP_REPAIR_WINDOW, &window, &length) < 0)
		return stream_fail(ctx, fd, errno, "TCP_REPAIR_WINDOW");
	state->record.snd_wl1 = window.snd_wl1;
	state->record.snd_wnd = window.snd_wnd;
	state->record.max_window = window.max_window;
	state->record.rcv_wnd = window.rcv_wnd;
	state->record.rcv_wup = window.rcv_wup;
	return read_int_option(ctx, fd, state->sock, TCP_TIMESTAMP, "TCP_TIMESTAMP",
			       &state->record.timestamp);
}

static int read_socket(struct dump_context *ctx, int fd, int sock,
		       struct ckpt_inet_socket *socket_record)
{
	int ret = read_inet_kind(ctx, fd, sock, socket_record);

	if (ret == 0)
		ret = read_local_address(ctx, sock, socket_record);
	if (ret == 0)
		ret = read_remote_address(ctx, sock, socket_record);
	if (ret == 0)
		return fail(ctx->err, ENOTSUP,
			    "fd %d of process %d is a TCP connection without a peer: not supported yet",
			    fd, ctx->pid);
	if (ret > 0)
		ret = read_inet_options(
			ctx, sock, socket_record); /* before repair mode, which changes SO_REUSEADDR */
	socket_record->state = CKPT_INET_ESTABLISHED;
	return ret;
}

static int read_stream(struct dump_context *ctx, int fd, struct tcp_stream_state *state)
{
	int ret = start_repair(ctx, fd, state);

	if (ret == 0)
		ret = read_agreed_options(ctx, fd, state);
	if (ret == 0)
		ret = read_queues(ctx, fd, state);
	if (ret == 0)
		ret = read_window(ctx, fd, state);
	if (state->repairing &&
	    end_repair(state->sock, TCP_REPAIR_OFF_NO_WP, &state->record.socket) == 0)
		state->repairing = false;
	if (ret == 0 && state->repairing)
		ret = stream_fail(ctx, fd, EIO, "leaving repair mode");
	return ret;
}

/* The socket is ckpt's copy of the target's fd; file becomes a TCP_STREAM FILE. */
int collect_tcp_stream(struct dump_context *ctx, int fd, int sock, struct dump_file *file)
{
	struct tcp_stream_state *state = calloc(1, sizeof(*state));
	int ret;

	if (!state)
		return fail(ctx->err, ENOMEM, "out of memory");
	state->sock = -1;
	state->pidfd = -1;
	file->kind_state = state;
	file->record.kind = CKPT_FILE_TCP_STREAM;
	state->record.socket.file_id = file->record.id;
	state->sock = fcntl(sock, F_DUPFD_CLOEXEC, 3);
	if (state->sock < 0)
		return stream_fail(ctx, fd, errno, "dup");
	state->pidfd = (int)syscall(SYS_pidfd_open, ctx->pid, 0);
	if (state->pidfd < 0)
		return stream_fail(ctx, fd, errno, "pidfd_open");
	ret = read_socket(ctx, fd, state->sock, &state->record.socket);
	return ret < 0 ? ret : read_stream(ctx, fd, state);
}

/* Writes a queue in records of at most CKPT_MAX_SOCKET_DATA bytes. */
static int write_queue(struct dump_shared *shared, uint32_t file_id, uint32_t queue, uint8_t *data,
		       uint32_t length)
{
	int ret = 0;

	for (uint32_t done = 0; ret == 0 && done < length;) {
		uint32_t part = length - done < CKPT_MAX_SOCKET_DATA ? length - done
								     : CKPT_MAX_SOCKET_DATA;
		struct ckpt_tcp_queue header = { .file_id = file_id, .length = part, .queue = queue };
		struct iovec parts[2] = { { &header, sizeof(header) }, { data + done, part } };

		ret = image_write_record(&shared->writer, CKPT_RECORD_TCP_QUEUE, parts, 2);
		done += part;
	}
	return ret;
}

/* With --kill, repair mode again now that nothing can fail but the image's own writes: the kill then sends nothing. */
static int write_tcp_stream(struct dump_shared *shared, const struct dump_file *file)
{
	struct tcp_stream_state *state = stream_state(file);
	const struct ckpt_tcp_stream *record = &state->record;
	int ret =
		image_write_simple(&shared->writer, CKPT_RECORD_TCP_STREAM, record, sizeof(*record));

	if (ret == 0)
		ret = write_queue(shared, record->socket.file_id, CKPT_TCP_RECV_QUEUE,
				  state->received, record->recv_queue_length);
	if (ret == 0)
		ret = write_queue(shared, record->socket.file_id, CKPT_TCP_SEND_QUEUE,
				  state->sending, record->send_queue_length);
	if (ret < 0 || !(shared->options->flags & CKPT_OPT_KILL))
		return ret;
	ret = set_repair(state->sock, TCP_REPAIR_ON);
	if (ret < 0)
		return fail(shared->err, -ret, "TCP_REPAIR before the kill: %s", strerror(-ret));
	state->repairing = true;
	return 0;
}

static bool has_exited(int pidfd)
{
	struct pollfd poll_fd = { .fd = pidfd, .events = POLLIN };

	return poll(&poll_fd, 1, 0) == 1;
}

/* After the tree was killed ckpt's copy is the last: closed in repair mode, silently; a tree let go gets its socket back out of repair mode. */
static void free_tcp_stream(struct dump_file *file)
{
	struct tcp_stream_state *state = stream_state(file);

	if (!state)
		return;
	if (state->repairing && state->pidfd >= 0 && !has_exited(state->pidfd))
		end_repair(state->sock, TCP_REPAIR_OFF_NO_WP, &state->record.socket);
	if (state->sock >= 0)
		close(state->sock);
	if (state->pidfd >= 0)
		close(state->pidfd);
	free(state->received);
	free(state->sending);
	free_plain_state(file);
}

/* ---- restart ---- */

static int restore_fail(struct restore_context *ctx, const struct image_file *file, int error,
			const char *what)
{
	char text[2 * ADDRESS_TEXT_SIZE + 4];

	return fail(ctx->err, error, "restoring TCP connection %s (FILE %u): %s: %s",
		    connection_text(&image_file_tcp_stream(file)->socket, text), file->file.id,
		    what, strerror(error));
}

static int set_queue_seq(int sock, int queue, uint32_t seq)
{
	int ret = select_queue(sock, queue);

	if (ret == 0 && setsockopt(sock, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, sizeof(seq)) < 0)
		ret = -errno;
	return ret;
}

static int bind_and_connect(struct restore_context *ctx, int sock, const struct image_file *file)
{
	const struct ckpt_inet_socket *state = &image_file_tcp_stream(file)->socket;
	struct sockaddr_storage address;
	socklen_t length = join_address(state->family, state->local_address, state->local_port,
					state->scope_id, &address);
	char text[2 * ADDRESS_TEXT_SIZE + 4];

	if (bind(sock, (struct sockaddr *)&address, length) < 0)
		return restore_fail(ctx, file, errno, "bind");
	length = join_address(state->family, state->remote_address, state->remote_port,
			      state->scope_id, &address);
	if (connect(sock, (struct sockaddr *)&address, length) == 0)
		return 0;
	if (errno == EADDRNOTAVAIL)
		return fail(ctx->err, EADDRINUSE,
			    "cannot restore TCP connection %s (FILE %u): that connection is still open on this machine (was the checkpoint taken without --kill, with its process still running?)",
			    connection_text(state, text), file->file.id);
	return restore_fail(ctx, file, errno, "connect in repair mode");
}

static int restore_agreed_options(struct restore_context *ctx, int sock, const struct image_file *file)
{
	const struct ckpt_tcp_stream *stream = image_file_tcp_stream(file);
	struct tcp_repair_opt options[4];
	size_t count = 0;
	uint32_t timestamp = stream->timestamp;

	options[count++] = (struct tcp_repair_opt){ TCPOPT_MAXSEG, stream->mss };
	if (stream->options & CKPT_TCP_WSCALE)
		options[count++] = (struct tcp_repair_opt){
			TCPOPT_WINDOW, stream->snd_wscale | ((uint32_t)stream->rcv_wscale << 16)
		};
	if (stream->options & CKPT_TCP_SACK)
		options[count++] = (struct tcp_repair_opt){ TCPOPT_SACK_PERMITTED, 0 };
	if (stream->options & CKPT_TCP_TIMESTAMPS)
		options[count++] = (struct tcp_repair_opt){ TCPOPT_TIMESTAMP, 0 };
	if (setsockopt(sock, IPPROTO_TCP, TCP_REPAIR_OPTIONS, options,
		       (socklen_t)(count * sizeof(options[0]))) < 0)
		return restore_fail(ctx, file, errno, "TCP_REPAIR_OPTIONS");
	if (setsockopt(sock, IPPROTO_TCP, TCP_TIMESTAMP, &timestamp, sizeof(timestamp)) < 0)
		return restore_fail(ctx, file, errno, "TCP_TIMESTAMP");
	return 0;
}

/* Sends bytes [from, to) of one queue (its TCP_QUEUE records in order) with flags. */
static int send_queue_range(struct restore_context *ctx, int sock, const struct image_file *file,
			    uint32_t queue, uint64_t from, uint64_t to)
{
	uint64_t offset = 0;

	for (size_t i = 0; i < file->queue_count && offset < to; i++) {
		const struct ckpt_tcp_queue *part = image_file_tcp_queue(file, i);
		uint64_t start = offset > from ? offset : from, end;

		if (part->queue != queue)
			continue;
		end = offset + part->length < to ? offset + part->length : to;
		for (; start < end;) {
			ssize_t sent = send(sock, (const uint8_t *)(part + 1) + (start - offset),
					    end - start, MSG_DONTWAIT | MSG_NOSIGNAL);

			if (sent <= 0)
				return restore_fail(ctx, file, sent < 0 ? errno : EIO,
						    "putting its queued bytes back");
			start += (uint64_t)sent;
		}
		offset += part->length;
	}
	return 0;
}

static int restore_queues(struct restore_context *ctx, int sock, const struct image_file *file)
{
	const struct ckpt_tcp_stream *stream = image_file_tcp_stream(file);
	int ret = select_queue(sock, TCP_RECV_QUEUE);

	if (ret < 0)
		return restore_fail(ctx, file, -ret, "TCP_REPAIR_QUEUE");
	ret = send_queue_range(ctx, sock, file, CKPT_TCP_RECV_QUEUE, 0, stream->recv_queue_length);
	if (ret == 0 && (ret = select_queue(sock, TCP_SEND_QUEUE)) < 0)
		return restore_fail(ctx, file, -ret, "TCP_REPAIR_QUEUE");
	if (ret == 0)
		ret = send_queue_range(ctx, sock, file, CKPT_TCP_SEND_QUEUE, 0,
				       stream->send_queue_length - stream->unsent_length);
	if (ret == 0 && (ret = select_queue(sock, TCP_NO_QUEUE)) < 0)
		return restore_fail(ctx, file, -ret, "TCP_REPAIR_QUEUE");
	return ret;
}

static int restore_window(struct restore_context *ctx, int sock, const struct image_file *file)
{
	const struct ckpt_tcp_stream *stream = image_file_tcp_stream(file);
	struct tcp_repair_window window = {
		.snd_wl1 = stream->snd_wl1,
		.snd_wnd = stream->snd_wnd,
		.max_window = stream->max_window,
		.rcv_wnd = stream->rcv_wnd,
		.rcv_wup = stream->rcv_wup,
	};

	if (setsockopt(sock, IPPROTO_TCP, TCP_REPAIR_WINDOW, &window, sizeof(window)) < 0)
		return restore_fail(ctx, file, errno, "TCP_REPAIR_WINDOW");
	return 0;
}

/*
 * The kernel grows a connection's buffers past what SO_SNDBUF may ask
 * (net.core.wmem_max): the queued bytes need the size the original had,
 * and room for the kernel's overhead (twice the bytes), which the FORCE
 * options give (CAP_NET_ADMIN, as repair mode needs).
 */
static int force_buffer(struct restore_context *ctx, int sock, const struct image_file *file,
			int name, int force_name, uint32_t wanted, uint32_t queued)
{
	int current = 0, value = (int)(wanted / 2 > queued ? wanted / 2 : queued);
	socklen_t length = sizeof(current);

	if (getsockopt(sock, SOL_SOCKET, name, &current, &length) < 0)
		return restore_fail(ctx, file, errno, "reading its buffer size");
	if (current >= 2 * value)
		return 0;
	if (setsockopt(sock, SOL_SOCKET, force_name, &value, sizeof(value)) < 0)
		return restore_fail(ctx, file, errno, "setting its buffer size");
	return 0;
}

static int rebuild_stream(struct restore_context *ctx, int sock, const struct image_file *file)
{
	const struct ckpt_tcp_stream *stream = image_file_tcp_stream(file);
	int ret = restore_bind_options(
		ctx, sock, &stream->socket); /* SO_REUSEADDR first: repair mode overrides it */

	if (ret == 0)
		ret = restore_tcp_options(ctx, sock, &stream->socket);
	if (ret == 0)
		ret = force_buffer(ctx, sock, file, SO_SNDBUF, SO_SNDBUFFORCE,
				   stream->socket.sndbuf, stream->send_queue_length);
	if (ret == 0)
		ret = force_buffer(ctx, sock, file, SO_RCVBUF, SO_RCVBUFFORCE,
				   stream->socket.rcvbuf, stream->recv_queue_length);
	if (ret < 0)
		return ret;
	ret = set_repair(sock, TCP_REPAIR_ON);
	if (ret == -EPERM)
		return fail(ctx->err, EPERM,
			    "restoring TCP connection FILE %u needs CAP_NET_ADMIN (TCP_REPAIR)",
			    file->file.id);
	if (ret < 0)
		return restore_fail(ctx, file, -ret, "TCP_REPAIR");
	if (set_queue_seq(sock, TCP_RECV_QUEUE, stream->recv_seq - stream->recv_queue_length) < 0)
		ret = restore_fail(ctx, file, errno, "TCP_QUEUE_SEQ");
	if (ret == 0 &&
	    set_queue_seq(sock, TCP_SEND_QUEUE, stream->send_seq - stream->send_queue_length) < 0)
		ret = restore_fail(ctx, file, errno, "TCP_QUEUE_SEQ");
	if (ret == 0)
		ret = bind_and_connect(ctx, sock, file);
	if (ret == 0)
		ret = restore_agreed_options(ctx, sock, file);
	if (ret == 0)
		ret = restore_queues(ctx, sock, file);
	if (ret == 0)
		ret = restore_window(ctx, sock, file);
	return ret;
}

/* The socket stays in repair mode until every socket of the tree exists (seal_tcp_streams). */
static int create_tcp_stream(struct restore_context *ctx, const struct file_opener *opener,
			     const struct image_file *file, int *ret_fd)
{
	const struct ckpt_tcp_stream *stream = image_file_tcp_stream(file);
	int sock, ret = fault_point(ctx->err, "restart.sockets");

	(void)opener;
	if (ret < 0)
		return ret;
	sock = socket(stream->socket.family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (sock < 0)
		return fail(ctx->err, errno, "a new %s socket: %s", protocol_name(&stream->socket),
			    strerror(errno));
	ret = rebuild_stream(ctx, sock, file);
	if (ret < 0) {
		close(sock);
		return ret;
	}
	*ret_fd = sock;
	return 0;
}

/* Out of repair mode (with a window probe, so the peer hears the window), then the bytes never sent. */
static int finish_stream(struct restore_context *ctx, int sock, const struct image_file *file)
{
	const struct ckpt_tcp_stream *stream = image_file_tcp_stream(file);
	int ret = end_repair(sock, TCP_REPAIR_OFF, &stream->socket);

	if (ret < 0)
		return restore_fail(ctx, file, -ret, "leaving repair mode");
	ret = send_queue_range(ctx, sock, file, CKPT_TCP_SEND_QUEUE,
			       stream->send_queue_length - stream->unsent_length,
			       stream->send_queue_length);
	if (ret == 0 && fcntl(sock, F_SETFL, (int)(file->file.open_flags & O_NONBLOCK)) < 0)
		ret = restore_fail(ctx, file, errno, "fcntl(F_SETFL)");
	return ret;
}

static int seal_tcp_streams(struct restore_context *ctx)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < ctx->tree.file_count; i++) {
		const struct image_file *file = &ctx->tree.files[i];

		if (image_file_tcp_stream(file) && ctx->staged_fds[i] >= 0)
			ret = finish_stream(ctx, ctx->staged_fds[i], file);
	}
	return ret;
}

/* 0 when the connection's four-tuple is free here, or fails naming it: a socket in repair mode tries it, silently. */
static int check_connection_free(struct restore_context *ctx, const struct image_file *file)
{
	int sock = socket(image_file_tcp_stream(file)->socket.family, SOCK_STREAM | SOCK_CLOEXEC,
			  IPPROTO_TCP);
	int ret;

	if (sock < 0)
		return restore_fail(ctx, file, errno, "socket");
	ret = set_repair(sock, TCP_REPAIR_ON);
	if (ret == -EPERM)
		ret = fail(ctx->err, EPERM,
			   "restoring TCP connection FILE %u needs CAP_NET_ADMIN (TCP_REPAIR)",
			   file->file.id);
	else if (ret < 0)
		ret = restore_fail(ctx, file, -ret, "TCP_REPAIR");
	else
		ret = bind_and_connect(ctx, sock, file);
	close(sock);
	return ret;
}

static int check_tcp_streams(struct restore_context *ctx)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < ctx->tree.file_count; i++) {
		if (image_file_tcp_stream(&ctx->tree.files[i]))
			ret = check_connection_free(ctx, &ctx->tree.files[i]);
	}
	return ret;
}

const struct file_kind_ops tcp_stream_ops = {
	.kind = CKPT_FILE_TCP_STREAM,
	.inherited_as = CKPT_INHERIT_SOCKET,
	.recognise = NULL, /* inet_socket.c hands established connections over */
	.write_state = write_tcp_stream,
	.free_state = free_tcp_stream,
	.check = check_tcp_streams,
	.create = create_tcp_stream,
	.seal = seal_tcp_streams,
};
