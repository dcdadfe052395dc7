/* SPDX-License-Identifier: MIT */
/* Pipes and FIFOs, and fds wired to the restarter's (--inherit-fd): see pipe.c. */
#ifndef CKPT_PIPE_H
#define CKPT_PIPE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

struct dump_context;
struct dump_file;
struct dump_shared;
struct dump_tree;
struct restore_context;
struct image_file;
struct ckpt_fd;

/* One pipe (anonymous or FIFO) some fd of the tree holds, and which ends. */
struct pipe_census_entry {
	uint64_t device;
	uint64_t inode;
	bool read_end;
	bool write_end;
};

/* checkpoint side */
int collect_pipe_census(struct dump_tree *tree);
/* Whether the fd's pipe is checkpointed (else it is taken over at restart). */
bool is_restored_pipe(const struct dump_shared *shared, int fd, const struct stat *st,
		      const char *target);
int collect_pipe(struct dump_context *ctx, int fd, struct dump_file *file);
int write_pipe(struct dump_shared *shared, const struct dump_file *file);

/* restart side */
int open_pipe_end(struct restore_context *ctx, const struct image_file *file);
int stage_wired_fds(struct restore_context *ctx);
/* The staged fd --inherit-fd gives this inherited fd; -ENOENT: none (fds 0-2). */
int find_wired_fd(struct restore_context *ctx, const struct ckpt_fd *record);
void release_pipe_files(struct restore_context *ctx);

#endif
