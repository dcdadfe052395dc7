/* SPDX-License-Identifier: MIT */
/*
 * CRC32C with the SSE4.2 crc32 instruction where the CPU has it, and a
 * table-driven fallback otherwise.  Both give the same result.
 */
#include "image/crc32c.h"

#include <stdbool.h>
#include <string.h>

#define CRC32C_POLY_REFLECTED 0x82f63b78u

static uint32_t software_table[256];
static bool software_table_ready;

static void build_software_table(void)
{
	for (uint32_t byte = 0; byte < 256; byte++) {
		uint32_t crc = byte;

		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (CRC32C_POLY_REFLECTED & (0u - (crc & 1)));
		software_table[byte] = crc;
	}
	software_table_ready = true;
}

static uint32_t crc32c_software(uint32_t crc, const unsigned char *bytes, size_t length)
{
	if (!software_table_ready)
		build_software_table();
	for (size_t i = 0; i < length; i++)
		crc = (crc >> 8) ^ software_table[(crc ^ bytes[i]) & 0xff];
	return crc;
}

/* a(x) * b(x) modulo the CRC polynomial, in the reflected bit order. */
static uint32_t multiply_modulo_poly(uint32_t a, uint32_t b)
{
	uint32_t product = 0;

	for (uint32_t bit = 1u << 31; bit != 0; bit >>= 1) {
		if (a & bit)
			product ^= b;
		b = (b >> 1) ^ (CRC32C_POLY_REFLECTED & (0u - (b & 1)));
	}
	return product;
}

/* x^(8 * length) modulo the polynomial: advancing a CRC over length zero bytes. */
static uint32_t shift_operator(size_t length)
{
	uint32_t result = 1u << 31; /* x^0 */
	uint32_t power = 1u << 30;  /* x^1 */

	for (uint64_t exponent = (uint64_t)length * 8; exponent != 0; exponent >>= 1) {
		if (exponent & 1)
			result = multiply_modulo_poly(result, power);
		power = multiply_modulo_poly(power, power);
	}
	return result;
}

enum {
	INTERLEAVE_STRIDE = 8192
};
static uint32_t stride_shift;

__attribute__((target("sse4.2"))) static uint64_t
crc32c_words(uint64_t crc, const unsigned char *bytes, size_t words)
{
	for (size_t i = 0; i < words; i++) {
		uint64_t word;

		memcpy(&word, bytes + i * 8, sizeof(word));
		crc = __builtin_ia32_crc32di(crc, word);
	}
	return crc;
}

/* Three independent CRC chains over three stripes, then combined: the crc32
 * instruction's latency is three times its throughput. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_three_stripes(uint32_t crc,
								       const unsigned char *bytes)
{
	uint64_t first = crc, second = 0, third = 0;

	for (size_t i = 0; i < INTERLEAVE_STRIDE; i += 8) {
		uint64_t a, b, c;

		memcpy(&a, bytes + i, 8);
		memcpy(&b, bytes + INTERLEAVE_STRIDE + i, 8);
		memcpy(&c, bytes + 2 * INTERLEAVE_STRIDE + i, 8);
		first = __builtin_ia32_crc32di(first, a);
		second = __builtin_ia32_crc32di(second, b);
		third = __builtin_ia32_crc32di(third, c);
	}
	crc = multiply_modulo_poly(stride_shift, (uint32_t)first) ^ (uint32_t)second;
	return multiply_modulo_poly(stride_shift, crc) ^ (uint32_t)third;
}

__attribute__((target("sse4.2"))) static uint32_t
crc32c_hardware(uint32_t crc, const unsigned char *bytes, size_t length)
{
	if (stride_shift == 0)
		stride_shift = shift_operator(INTERLEAVE_STRIDE);
	while (length >= 3 * INTERLEAVE_STRIDE) {
		crc = crc32c_three_stripes(crc, bytes);
		bytes += 3 * INTERLEAVE_STRIDE;
		length -= 3 * INTERLEAVE_STRIDE;
	}
	crc = (uint32_t)crc32c_words(crc, bytes, length / 8);
	bytes += length & ~(size_t)7;
	length &= 7;
	while (length > 0) {
		crc = __builtin_ia32_crc32qi(crc, *bytes);
		bytes++;
		length--;
	}
	return crc;
}

uint32_t crc32c_update(uint32_t crc, const void *data, size_t length)
{
	const unsigned char *bytes = data;

	crc = ~crc;
	if (__builtin_cpu_supports("sse4.2"))
		crc = crc32c_hardware(crc, bytes, length);
	else
		crc = crc32c_software(crc, bytes, length);
	return ~crc;
}
