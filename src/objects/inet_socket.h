/* SPDX-License-Identifier: MIT */
/*
 * What inet_socket.c (TCP listeners, UDP sockets) and tcp_stream.c
 * (established TCP connections) share: addresses, options, the hand-off.
 */
#ifndef CKPT_OBJECTS_INET_SOCKET_H
#define CKPT_OBJECTS_INET_SOCKET_H

#include <arpa/inet.h>
#include <stdint.h>
#include <sys/socket.h>

#include "image/format.h"

#define ADDRESS_TEXT_SIZE (INET6_ADDRSTRLEN + 8)

struct dump_context;
struct dump_file;
struct restore_context;

socklen_t join_address(uint32_t family, const uint8_t address[16], uint16_t port, uint32_t scope,
		       struct sockaddr_storage *ret);
/* "127.0.0.1:80" or "[::1]:80", for messages. */
const char *address_text(uint32_t family, const uint8_t address[16], uint16_t port,
			 char text[ADDRESS_TEXT_SIZE]);
/* "TCP", "TCPv6", "UDP", "UDPv6". */
const char *protocol_name(const struct ckpt_inet_socket *state);

/* Checkpoint: the socket's family and type, its addresses, its options (read through sock). */
int read_inet_kind(struct dump_context *ctx, int fd, int sock, struct ckpt_inet_socket *state);
int read_local_address(struct dump_context *ctx, int sock, struct ckpt_inet_socket *state);
/* 1 and the remote address when connected, 0 when not, or -errno. */
int read_remote_address(struct dump_context *ctx, int sock, struct ckpt_inet_socket *state);
int read_inet_options(struct dump_context *ctx, int sock, struct ckpt_inet_socket *state);

/* Restart: the options set before bind(), and a TCP socket's own. */
int restore_bind_options(struct restore_context *ctx, int sock, const struct ckpt_inet_socket *state);
int restore_tcp_options(struct restore_context *ctx, int sock, const struct ckpt_inet_socket *state);

/* tcp_stream.c: an established connection's state, which makes its FILE a TCP_STREAM. */
int collect_tcp_stream(struct dump_context *ctx, int fd, int sock, struct dump_file *file);

#endif
