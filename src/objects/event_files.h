/* SPDX-License-Identifier: MIT */
/* eventfd, timerfd, signalfd and epoll files: see event_files.c. */
#ifndef CKPT_EVENT_FILES_H
#define CKPT_EVENT_FILES_H

#include <stdbool.h>
#include <stdint.h>

struct dump_context;
struct dump_file;
struct dump_shared;
struct restore_context;
struct image_file;
struct ckpt_file;

/* checkpoint side */
uint32_t event_file_kind(const char *link);	/* enum ckpt_file_kind, 0 if none of these */
int read_event_fdinfo(struct dump_context *ctx, int fd, char **ret_text);
int fdinfo_number(struct dump_context *ctx, const char *text, const char *name, int base,
		  int fd, uint64_t *ret_value);
int take_target_file(struct dump_context *ctx, int fd);
int collect_event_state(struct dump_context *ctx, int fd, struct dump_file *file);
int write_event_state(struct dump_shared *shared, const struct dump_file *file);
int collect_eventfd(struct dump_context *ctx, int fd, struct dump_file *file);
int collect_timerfd(struct dump_context *ctx, int fd, struct dump_file *file);
int collect_signalfd(struct dump_context *ctx, int fd, struct dump_file *file);
int collect_epoll_targets(struct dump_context *ctx);
int find_epoll_watching(struct dump_context *ctx, int fd);
int write_epoll_targets(struct dump_shared *shared);

/* restart side */
bool is_event_file(const struct ckpt_file *file);
int create_event_file(struct restore_context *ctx, const struct image_file *file);
int create_eventfd(struct restore_context *ctx, const struct image_file *file);
int create_timerfd(struct restore_context *ctx, const struct image_file *file);
int create_signalfd(struct restore_context *ctx, const struct image_file *file);
int create_epoll(struct restore_context *ctx, const struct image_file *file);
int restore_epoll_targets(struct restore_context *ctx);

#endif
