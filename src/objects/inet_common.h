/* SPDX-License-Identifier: MIT */
/*
 * What inet_socket.c (TCP listeners, UDP sockets) and tcp_stream.c
 * (established TCP connections) share, defined in inet_common.c; and the
 * hand-off of an established connection to tcp_stream.c.
 */
#ifndef CKPT_OBJECTS_INET_COMMON_H
#define CKPT_OBJECTS_INET_COMMON_H

#include <arpa/inet.h>
#include <stdint.h>
#include <stdbool.h>
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

/* inet_common.c: addresses, checks, options */
void split_inet_address(const struct sockaddr_storage *address, uint8_t ret_address[16],
			uint16_t *ret_port, uint32_t *ret_scope);
bool is_v4_mapped_address(const uint8_t address[16]);
bool is_loopback_address(uint32_t family, const uint8_t address[16]);
int refuse_inet_fd(struct dump_context *ctx, int fd, const char *what);
int read_socket_option(struct dump_context *ctx, int sock, int level, int name, uint32_t *ret_value);
int read_tcp_state(struct dump_context *ctx, int fd, int sock, struct ckpt_inet_socket *state);
int read_udp_state(struct dump_context *ctx, int sock, struct ckpt_inet_socket *state);

/* tcp_stream.c: an established connection's state, which makes its FILE a TCP_STREAM. */
int collect_tcp_stream(struct dump_context *ctx, int fd, int sock, struct dump_file *file);

#endif
