/* SPDX-License-Identifier: MIT */
/*
 * The CPU's extended state (XSAVE) layout, and moving a saved XSAVE area to
 * this CPU's layout, so that an image made on a CPU with fewer features (an
 * older machine, or a checkpoint under valgrind) restarts here.
 */
#ifndef CKPT_SYS_CPU_H
#define CKPT_SYS_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define XSAVE_LEGACY_SIZE 512u /* x87 and SSE state (the FXSAVE layout) */
#define XSAVE_HEADER_SIZE 64u  /* XSTATE_BV, XCOMP_BV, reserved */
#define XSAVE_MIN_SIZE (XSAVE_LEGACY_SIZE + XSAVE_HEADER_SIZE)
#define XSTATE_COMPONENTS 64

/* Where each state component sits in a standard-format (non-compacted)
 * XSAVE area; components 0 and 1 live in the legacy region. */
struct xstate_layout {
	uint64_t features; /* the XCR0 bits this area holds */
	uint32_t size;	   /* bytes of the whole area */
	uint32_t offsets[XSTATE_COMPONENTS];
	uint32_t sizes[XSTATE_COMPONENTS];
};

/* This CPU's layout: XCR0, and CPUID leaf 0xD (sub-leaf i: EAX size, EBX offset). */
void cpu_xstate_layout(struct xstate_layout *ret_layout);

/*
 * The layout of an area saved by another CPU, known only from its features
 * and size (the image head's xfeatures and xstate_size).  Fails, naming the
 * component, when a feature's offset there cannot be told.
 */
int saved_xstate_layout(uint64_t features, uint32_t size, struct xstate_layout *ret_layout,
			struct ckpt_error *err);

/*
 * Copies the area `saved` (laid out as `from`) into `out` (out_layout->size
 * bytes, laid out as `to`): legacy region, a header whose XSTATE_BV keeps the
 * saved components, each component at its new offset.  Components the area
 * does not hold get their XSTATE_BV bit clear (their init state).  Fails when
 * `from` holds a feature `to` lacks, or a component changed size.
 */
int convert_xstate(const uint8_t *saved, const struct xstate_layout *from, uint8_t *out,
		   const struct xstate_layout *to, struct ckpt_error *err);

/*
 * The area `saved` (an image's, with the head's features and `size` bytes)
 * in this CPU's layout, in a new buffer of *ret_size bytes (free() it).
 */
int convert_xstate_for_cpu(const uint8_t *saved, uint64_t features, uint32_t size,
			   uint8_t **ret_xstate, size_t *ret_size, struct ckpt_error *err);

/* "AVX-512 (bits 5-7), PKRU (bit 9)": the features of `mask`, by name, in `buffer`. */
const char *describe_xfeatures(uint64_t mask, char *buffer, size_t size);

#endif
