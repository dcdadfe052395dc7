/* SPDX-License-Identifier: MIT */
/* What the event file kinds (eventfd.c, timerfd.c, signalfd.c, epoll.c) share: see event_files.c. */
#ifndef CKPT_EVENT_FILES_H
#define CKPT_EVENT_FILES_H

#include <stdbool.h>
#include <stdint.h>

struct dump_context;
struct fd_facts;
struct restore_context;

/* checkpoint side */
/* Whether the fd's link is "anon_inode:[NAME]" for this NAME. */
bool is_anon_inode_of(const struct fd_facts *facts, const char *name);
int read_event_fdinfo(struct dump_context *ctx, int fd, char **ret_text);
int fdinfo_number(struct dump_context *ctx, const char *text, const char *name, int base, int fd,
		  uint64_t *ret_value);
int take_target_file(struct dump_context *ctx, int fd);
/* The lowest fd of an epoll of the process that watches fd, or -1 (for refusal messages). */
int find_epoll_watching(struct dump_context *ctx, int fd);

/* restart side */
/* The fault point every event file's creation passes. */
int begin_event_file(struct restore_context *ctx);

#endif
