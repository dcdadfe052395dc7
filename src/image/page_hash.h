/* SPDX-License-Identifier: MIT */
#ifndef CKPT_PAGE_HASH_H
#define CKPT_PAGE_HASH_H

#include <stddef.h>
#include <stdint.h>

/*
 * A fast 64-bit checksum for page data: eight 64-bit lanes over 64-byte
 * stripes (multiply-accumulate, scrambled every 1 KiB), folded with the
 * length.  CRC32C covers every record's structure; page contents are
 * covered by this hash because the crc32 instruction runs at a fraction of
 * memory bandwidth on some CPUs.  `length` must be a multiple of 64 (pages
 * always are): a shorter tail is not hashed.
 */
uint64_t page_hash(const void *data, size_t length);

#endif
