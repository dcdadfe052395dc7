/* SPDX-License-Identifier: MIT */
#ifndef CKPT_PAGE_HASH_H
#define CKPT_PAGE_HASH_H

#include <stddef.h>
#include <stdint.h>

/*
 * A fast 64-bit checksum for page data: four multiply-rotate lanes over
 * 32-byte blocks, folded with the length.  CRC32C covers every record's
 * structure; page contents are covered by this hash because the crc32
 * instruction runs at a fraction of memory bandwidth on some CPUs.
 * `length` must be a multiple of 32 (pages always are).
 */
uint64_t page_hash(const void *data, size_t length);

#endif
