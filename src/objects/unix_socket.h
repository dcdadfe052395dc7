/* SPDX-License-Identifier: MIT */
/* Unix socketpairs with both ends in the tree: see unix_socket.c. */
#ifndef CKPT_UNIX_SOCKET_H
#define CKPT_UNIX_SOCKET_H

struct dump_context;
struct dump_file;
struct dump_shared;
struct restore_context;
struct image_file;

/* checkpoint side */
int collect_unix_socket(struct dump_context *ctx, int fd, struct dump_file *file);
int pair_unix_sockets(struct dump_shared *shared);
int write_unix_socket(struct dump_shared *shared, const struct dump_file *file);

/* restart side */
int create_unix_socket(struct restore_context *ctx, const struct image_file *file);

#endif
