/* SPDX-License-Identifier: MIT */
/*
 * Fault injection for testing every exit path: with CKPT_FAULT=<point> in
 * the environment, fault_point() fails at that point as if the step had
 * failed.  `ckpt fault-points` lists the points (fault_point_names).
 */
#ifndef CKPT_FAULT_H
#define CKPT_FAULT_H

#include "error.h"

int fault_point(struct ckpt_error *err, const char *point);
extern const char *const fault_point_names[];

#endif
