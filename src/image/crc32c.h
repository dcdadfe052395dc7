/* SPDX-License-Identifier: MIT */
#ifndef CKPT_CRC32C_H
#define CKPT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC32C (Castagnoli).  Start with crc = 0; feed pieces in order. */
uint32_t crc32c_update(uint32_t crc, const void *data, size_t length);

#endif
