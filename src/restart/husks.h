/* SPDX-License-Identifier: MIT */
/* The husks of a restart (restart/husks.c), used by the restart pipeline. */
#ifndef CKPT_RESTART_HUSKS_H
#define CKPT_RESTART_HUSKS_H

#include "objects/restore.h"

/* Whether the image's sessions and process groups can be built by husks. */
int check_groups_restorable(struct restore_context *ctx);
/* The root husk from ckpt; each husk forks its own children, zombies included. */
int create_husk_tree(struct restore_context *ctx);
/* On failure: nothing of the tree stays (ckpt is their subreaper meanwhile). */
void kill_husk_tree(struct restore_context *ctx);
/* After a successful restart: the namespace's init no longer dies with ckpt. */
void let_namespace_init_go(struct restore_context *ctx);

#endif
