/* SPDX-License-Identifier: MIT */
/*
 * What inet_socket.c (TCP listeners, UDP sockets) and tcp_stream.c
 * (established TCP connections) share: addresses, socket options, the
 * socket's kind and state, and the options restored before bind().
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

/* ---- checkpoint ---- */

/* The address and port of a sockaddr of the family (a port in host order). */
void split_inet_address(const struct sockaddr_storage *address, uint8_t ret_address[16],
			uint16_t *ret_port, uint32_t *ret_scope)
{
	const struct sockaddr_in *in = (const void *)address;
	const struct sockaddr_in6 *in6 = (const void *)address;

	memset(ret_address, 0, 16);
	if (address->ss_family == AF_INET) {
		memcpy(ret_address, &in->sin_addr, 4);
		*ret_port = ntohs(in->sin_port);
		*ret_scope = 0;
		return;
	}
	memcpy(ret_address, &in6->sin6_addr, 16);
	*ret_port = ntohs(in6->sin6_port);
	*ret_scope = in6->sin6_scope_id;
}

socklen_t join_address(uint32_t family, const uint8_t address[16], uint16_t port, uint32_t scope,
		       struct sockaddr_storage *ret)
{
	struct sockaddr_in *in = (void *)ret;
	struct sockaddr_in6 *in6 = (void *)ret;

	memset(ret, 0, sizeof(*ret));
	ret->ss_family = (sa_family_t)family;
	if (family == AF_INET) {
		memcpy(&in->sin_addr, address, 4);
		in->sin_port = htons(port);
		return sizeof(*in);
	}
	memcpy(&in6->sin6_addr, address, 16);
	in6->sin6_port = htons(port);
	in6->sin6_scope_id = scope;
	return sizeof(*in6);
}

/* "127.0.0.1:80" or "[::1]:80", for messages. */
const char *address_text(uint32_t family, const uint8_t address[16], uint16_t port,
			 char text[ADDRESS_TEXT_SIZE])
{
	char host[INET6_ADDRSTRLEN] = "?";

	inet_ntop(family == AF_INET ? AF_INET : AF_INET6, address, host, sizeof(host));
	snprintf(text, ADDRESS_TEXT_SIZE, family == AF_INET ? "%s:%u" : "[%s]:%u", host, port);
	return text;
}

bool is_v4_mapped_address(const uint8_t address[16])
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(address, prefix, sizeof(prefix)) == 0;
}

/* 127.0.0.0/8, ::1, or ::ffff:127.0.0.0/104. */
bool is_loopback_address(uint32_t family, const uint8_t address[16])
{
	static const uint8_t ipv6_loopback[16] = { [15] = 1 };

	if (family == AF_INET)
		return address[0] == 127;
	if (is_v4_mapped_address(address))
		return address[12] == 127;
	return memcmp(address, ipv6_loopback, 16) == 0;
}

int refuse_inet_fd(struct dump_context *ctx, int fd, const char *what)
{
	return fail(ctx->err, ENOTSUP, "fd %d of process %d is %s: not supported yet", fd, ctx->pid,
		    what);
}

int read_socket_option(struct dump_context *ctx, int sock, int level, int name, uint32_t *ret_value)
{
	int value = 0;
	socklen_t length = sizeof(value);

	if (getsockopt(sock, level, name, &value, &length) < 0)
		return fail(ctx->err, errno, "getsockopt(%d, %d) on a socket of process %d: %s",
			    level, name, ctx->pid, strerror(errno));
	*ret_value = (uint32_t)value;
	return 0;
}

static int read_flag(struct dump_context *ctx, int sock, int level, int name, uint32_t flag,
		     uint32_t *flags)
{
	uint32_t value = 0;
	int ret = read_socket_option(ctx, sock, level, name, &value);

	if (ret == 0 && value)
		*flags |= flag;
	return ret;
}

static int read_device(struct dump_context *ctx, int sock, struct ckpt_inet_socket *state)
{
	socklen_t length = sizeof(state->device);

	memset(state->device, 0, sizeof(state->device));
	if (getsockopt(sock, SOL_SOCKET, SO_BINDTODEVICE, state->device, &length) < 0)
		return fail(ctx->err, errno, "SO_BINDTODEVICE of a socket of process %d: %s",
			    ctx->pid, strerror(errno));
	state->device[sizeof(state->device) - 1] = '\0';
	return 0;
}

static int read_tcp_options(struct dump_context *ctx, int sock, struct ckpt_inet_socket *state)
{
	int ret = read_flag(ctx, sock, IPPROTO_TCP, TCP_NODELAY, CKPT_INET_NODELAY, &state->flags);

	if (ret == 0)
		ret = read_socket_option(ctx, sock, IPPROTO_TCP, TCP_KEEPIDLE,
					 &state->keepalive_idle);
	if (ret == 0)
		ret = read_socket_option(ctx, sock, IPPROTO_TCP, TCP_KEEPINTVL,
					 &state->keepalive_interval);
	if (ret == 0)
		ret = read_socket_option(ctx, sock, IPPROTO_TCP, TCP_KEEPCNT,
					 &state->keepalive_count);
	if (ret == 0)
		ret = read_socket_option(ctx, sock, IPPROTO_TCP, TCP_DEFER_ACCEPT,
					 &state->defer_accept);
	if (ret == 0)
		ret = read_socket_option(ctx, sock, IPPROTO_TCP, TCP_FASTOPEN, &state->fastopen);
	return ret;
}

int read_inet_options(struct dump_context *ctx, int sock, struct ckpt_inet_socket *state)
{
	int ret = read_flag(ctx, sock, SOL_SOCKET, SO_REUSEADDR, CKPT_INET_REUSEADDR, &state->flags);

	if (ret == 0)
		ret = read_flag(ctx, sock, SOL_SOCKET, SO_REUSEPORT, CKPT_INET_REUSEPORT,
				&state->flags);
	if (ret == 0)
		ret = read_flag(ctx, sock, SOL_SOCKET, SO_KEEPALIVE, CKPT_INET_KEEPALIVE,
				&state->flags);
	if (ret == 0 && state->family == AF_INET6)
		ret = read_flag(ctx, sock, IPPROTO_IPV6, IPV6_V6ONLY, CKPT_INET_V6ONLY,
				&state->flags);
	if (ret == 0)
		ret = read_socket_option(ctx, sock, SOL_SOCKET, SO_RCVBUF, &state->rcvbuf);
	if (ret == 0)
		ret = read_socket_option(ctx, sock, SOL_SOCKET, SO_SNDBUF, &state->sndbuf);
	if (ret == 0)
		ret = read_device(ctx, sock, state);
	if (ret == 0 && state->type == SOCK_STREAM)
		ret = read_tcp_options(ctx, sock, state);
	return ret;
}

int read_local_address(struct dump_context *ctx, int sock, struct ckpt_inet_socket *state)
{
	struct sockaddr_storage address;
	socklen_t length = sizeof(address);

	if (getsockname(sock, (struct sockaddr *)&address, &length) < 0)
		return fail(ctx->err, errno, "getsockname on a socket of process %d: %s", ctx->pid,
			    strerror(errno));
	split_inet_address(&address, state->local_address, &state->local_port, &state->scope_id);
	return 0;
}

/* 1 and the remote address when connected, 0 when not, or -errno. */
int read_remote_address(struct dump_context *ctx, int sock, struct ckpt_inet_socket *state)
{
	struct sockaddr_storage address;
	socklen_t length = sizeof(address);
	uint32_t scope = 0;

	if (getpeername(sock, (struct sockaddr *)&address, &length) < 0 && errno == ENOTCONN)
		return 0;
	if (length == 0 || address.ss_family != state->family)
		return fail(ctx->err, errno ? errno : EIO,
			    "getpeername on a socket of process %d: %s", ctx->pid,
			    strerror(errno ? errno : EIO));
	split_inet_address(&address, state->remote_address, &state->remote_port, &scope);
	return 1;
}

static const char *tcp_state_name(int state)
{
	static const char *const names[] = {
		[TCP_ESTABLISHED] = "an established TCP connection",
		[TCP_SYN_SENT] = "a TCP socket connecting (SYN_SENT)",
		[TCP_SYN_RECV] = "a TCP socket in SYN_RECV",
		[TCP_FIN_WAIT1] = "a TCP connection closing (FIN_WAIT1)",
		[TCP_FIN_WAIT2] = "a TCP connection half-closed (FIN_WAIT2)",
		[TCP_TIME_WAIT] = "a TCP socket in TIME_WAIT",
		[TCP_CLOSE_WAIT] = "a TCP connection half-closed by its peer (CLOSE_WAIT)",
		[TCP_LAST_ACK] = "a TCP connection closing (LAST_ACK)",
		[TCP_CLOSING] = "a TCP connection closing (CLOSING)",
	};

	if (state >= 0 && (size_t)state < ARRAY_SIZE(names) && names[state])
		return names[state];
	return "a TCP socket in an unknown state";
}

int read_tcp_state(struct dump_context *ctx, int fd, int sock, struct ckpt_inet_socket *state)
{
	struct tcp_info info = { 0 };
	socklen_t length = sizeof(info);

	if (getsockopt(sock, IPPROTO_TCP, TCP_INFO, &info, &length) < 0)
		return fail(ctx->err, errno, "TCP_INFO of fd %d of process %d: %s", fd, ctx->pid,
			    strerror(errno));
	if (info.tcpi_state == TCP_LISTEN)
		state->state = CKPT_INET_LISTENING;
	else if (info.tcpi_state == TCP_CLOSE)
		state->state = CKPT_INET_OPEN;
	else
		return refuse_inet_fd(ctx, fd, tcp_state_name(info.tcpi_state));
	return 0;
}

int read_udp_state(struct dump_context *ctx, int sock, struct ckpt_inet_socket *state)
{
	int connected = read_remote_address(ctx, sock, state);

	if (connected < 0)
		return connected;
	state->state = connected ? CKPT_INET_CONNECTED : CKPT_INET_OPEN;
	return 0;
}

int read_inet_kind(struct dump_context *ctx, int fd, int sock, struct ckpt_inet_socket *state)
{
	uint32_t family = 0, type = 0, protocol = 0;
	int ret = read_socket_option(ctx, sock, SOL_SOCKET, SO_DOMAIN, &family);

	if (ret == 0)
		ret = read_socket_option(ctx, sock, SOL_SOCKET, SO_TYPE, &type);
	if (ret == 0)
		ret = read_socket_option(ctx, sock, SOL_SOCKET, SO_PROTOCOL, &protocol);
	if (ret < 0)
		return ret;
	if ((family != AF_INET && family != AF_INET6) ||
	    !((type == SOCK_STREAM && protocol == IPPROTO_TCP) ||
	      (type == SOCK_DGRAM && protocol == IPPROTO_UDP)))
		return refuse_inet_fd(ctx, fd,
				      "an internet socket of a protocol other than TCP or UDP");
	state->family = (uint16_t)family;
	state->type = (uint16_t)type;
	return 0;
}

/* ---- restart ---- */

const char *protocol_name(const struct ckpt_inet_socket *state)
{
	if (state->type == SOCK_STREAM)
		return state->family == AF_INET ? "TCP" : "TCPv6";
	return state->family == AF_INET ? "UDP" : "UDPv6";
}

/* Sets an option only when the new socket's value differs (sysctl defaults stay defaults). */
static int restore_option(struct restore_context *ctx, int sock, int level, int name, uint32_t wanted)
{
	int current = 0, value = (int)wanted;
	socklen_t length = sizeof(current);

	if (getsockopt(sock, level, name, &current, &length) < 0)
		return fail(ctx->err, errno, "getsockopt(%d, %d) on a new socket: %s", level, name,
			    strerror(errno));
	if ((uint32_t)current == wanted)
		return 0;
	if (setsockopt(sock, level, name, &value, sizeof(value)) < 0)
		return fail(ctx->err, errno, "setsockopt(%d, %d, %d) on a new socket: %s", level,
			    name, value, strerror(errno));
	return 0;
}

/* getsockopt() reports twice what setsockopt() asked for. */
static int restore_buffer(struct restore_context *ctx, int sock, int name, uint32_t wanted)
{
	int current = 0, value = (int)(wanted / 2);
	socklen_t length = sizeof(current);

	if (getsockopt(sock, SOL_SOCKET, name, &current, &length) < 0)
		return fail(ctx->err, errno, "getsockopt(%d) on a new socket: %s", name,
			    strerror(errno));
	if ((uint32_t)current == wanted)
		return 0;
	if (setsockopt(sock, SOL_SOCKET, name, &value, sizeof(value)) < 0)
		return fail(ctx->err, errno, "setsockopt(%d, %d) on a new socket: %s", name, value,
			    strerror(errno));
	return 0;
}

static uint32_t flag_value(const struct ckpt_inet_socket *state, uint32_t flag)
{
	return (state->flags & flag) ? 1 : 0;
}

static int restore_device(struct restore_context *ctx, int sock, const struct ckpt_inet_socket *state)
{
	if (state->device[0] == '\0')
		return 0;
	if (setsockopt(sock, SOL_SOCKET, SO_BINDTODEVICE, state->device,
		       (socklen_t)strlen(state->device)) < 0)
		return fail(ctx->err, errno, "SO_BINDTODEVICE %s on a new %s socket: %s",
			    state->device, protocol_name(state), strerror(errno));
	return 0;
}

/* What must be set before bind(): the address rules, the device, the buffers. */
int restore_bind_options(struct restore_context *ctx, int sock, const struct ckpt_inet_socket *state)
{
	int ret = restore_option(ctx, sock, SOL_SOCKET, SO_REUSEADDR,
				 flag_value(state, CKPT_INET_REUSEADDR));

	if (ret == 0)
		ret = restore_option(ctx, sock, SOL_SOCKET, SO_REUSEPORT,
				     flag_value(state, CKPT_INET_REUSEPORT));
	if (ret == 0 && state->family == AF_INET6)
		ret = restore_option(ctx, sock, IPPROTO_IPV6, IPV6_V6ONLY,
				     flag_value(state, CKPT_INET_V6ONLY));
	if (ret == 0)
		ret = restore_device(ctx, sock, state);
	if (ret == 0)
		ret = restore_buffer(ctx, sock, SO_RCVBUF, state->rcvbuf);
	if (ret == 0)
		ret = restore_buffer(ctx, sock, SO_SNDBUF, state->sndbuf);
	if (ret == 0)
		ret = restore_option(ctx, sock, SOL_SOCKET, SO_KEEPALIVE,
				     flag_value(state, CKPT_INET_KEEPALIVE));
	return ret;
}

int restore_tcp_options(struct restore_context *ctx, int sock, const struct ckpt_inet_socket *state)
{
	int ret = restore_option(ctx, sock, IPPROTO_TCP, TCP_NODELAY,
				 flag_value(state, CKPT_INET_NODELAY));

	if (ret == 0)
		ret = restore_option(ctx, sock, IPPROTO_TCP, TCP_KEEPIDLE, state->keepalive_idle);
	if (ret == 0)
		ret = restore_option(ctx, sock, IPPROTO_TCP, TCP_KEEPINTVL,
				     state->keepalive_interval);
	if (ret == 0)
		ret = restore_option(ctx, sock, IPPROTO_TCP, TCP_KEEPCNT, state->keepalive_count);
	if (ret == 0)
		ret = restore_option(ctx, sock, IPPROTO_TCP, TCP_DEFER_ACCEPT, state->defer_accept);
	if (ret == 0)
		ret = restore_option(ctx, sock, IPPROTO_TCP, TCP_FASTOPEN, state->fastopen);
	return ret;
}
