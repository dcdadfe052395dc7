/* SPDX-License-Identifier: MIT */
/*
 * Eight 64-bit accumulators over 64-byte stripes: each word, mixed with a
 * fixed key, is multiplied half by half (32x32->64) into its lane and added
 * as is to the neighbouring lane; every 1 KiB the lanes are scrambled.  The
 * loop vectorises (AVX2 where the CPU has it) and the result does not
 * depend on which version ran.
 */
#include "image/page_hash.h"

#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

#define LANES 8
#define STRIPE_BYTES (LANES * 8)
#define STRIPES_PER_BLOCK 16
#define PRIME32_A 0x9e3779b1u
#define PRIME64_A 0x9e3779b185ebca87ull
#define PRIME64_B 0xc2b2ae3d27d4eb4full

static const uint64_t stripe_key[LANES] = {
	0xbe4ba423396cfeb8ull, 0x1cad21f72c81017cull, 0xdb979083e96dd4deull, 0x1f67b3b7a4a44072ull,
	0x78e5c0cc4ee679cbull, 0x2172ffcc7dd05a82ull, 0x8e2443f7744608b8ull, 0x4c263a81e69035e0ull,
};

static void accumulate_stripe(uint64_t lanes[LANES], const unsigned char *stripe)
{
	uint64_t words[LANES];

	memcpy(words, stripe, sizeof(words));
	for (int i = 0; i < LANES; i++) {
		uint64_t keyed = words[i] ^ stripe_key[i];

		lanes[i ^ 1] += words[i];
		lanes[i] += (keyed & 0xffffffffu) * (keyed >> 32);
	}
}

static void scramble_lanes(uint64_t lanes[LANES])
{
	for (int i = 0; i < LANES; i++)
		lanes[i] = (lanes[i] ^ (lanes[i] >> 47) ^ stripe_key[i]) * PRIME32_A;
}

static void accumulate_blocks_scalar(uint64_t lanes[LANES], const unsigned char *bytes, size_t blocks)
{
	for (size_t block = 0; block < blocks; block++) {
		for (int stripe = 0; stripe < STRIPES_PER_BLOCK; stripe++)
			accumulate_stripe(lanes, bytes + stripe * STRIPE_BYTES);
		scramble_lanes(lanes);
		bytes += STRIPES_PER_BLOCK * STRIPE_BYTES;
	}
}

/* The same arithmetic as accumulate_stripe(), four lanes per register. */
__attribute__((target("avx2"))) static __m256i accumulate_half_stripe(__m256i lanes, __m256i words,
								      __m256i key)
{
	__m256i keyed = _mm256_xor_si256(words, key);
	__m256i high_halves = _mm256_srli_epi64(keyed, 32);
	__m256i swapped_words = _mm256_shuffle_epi32(words, _MM_SHUFFLE(1, 0, 3, 2));

	lanes = _mm256_add_epi64(lanes, swapped_words);
	return _mm256_add_epi64(lanes, _mm256_mul_epu32(keyed, high_halves));
}

__attribute__((target("avx2"))) static __m256i scramble_half(__m256i lanes, __m256i key)
{
	__m256i mixed = _mm256_xor_si256(_mm256_xor_si256(lanes, _mm256_srli_epi64(lanes, 47)), key);
	__m256i prime = _mm256_set1_epi64x(PRIME32_A);
	__m256i low_product = _mm256_mul_epu32(mixed, prime);
	__m256i high_product = _mm256_mul_epu32(_mm256_srli_epi64(mixed, 32), prime);

	return _mm256_add_epi64(low_product, _mm256_slli_epi64(high_product, 32));
}

__attribute__((target("avx2"))) static void
accumulate_blocks_avx2(uint64_t lanes[LANES], const unsigned char *bytes, size_t blocks)
{
	__m256i low = _mm256_loadu_si256((const __m256i *)lanes);
	__m256i high = _mm256_loadu_si256((const __m256i *)(lanes + 4));
	__m256i key_low = _mm256_loadu_si256((const __m256i *)stripe_key);
	__m256i key_high = _mm256_loadu_si256((const __m256i *)(stripe_key + 4));

	for (size_t block = 0; block < blocks; block++) {
		for (int stripe = 0; stripe < STRIPES_PER_BLOCK; stripe++) {
			const unsigned char *at = bytes + stripe * STRIPE_BYTES;

			low = accumulate_half_stripe(low, _mm256_loadu_si256((const __m256i *)at),
						     key_low);
			high = accumulate_half_stripe(
				high, _mm256_loadu_si256((const __m256i *)(at + 32)), key_high);
		}
		low = scramble_half(low, key_low);
		high = scramble_half(high, key_high);
		bytes += STRIPES_PER_BLOCK * STRIPE_BYTES;
	}
	_mm256_storeu_si256((__m256i *)lanes, low);
	_mm256_storeu_si256((__m256i *)(lanes + 4), high);
}

static void accumulate_blocks(uint64_t lanes[LANES], const unsigned char *bytes, size_t blocks)
{
	if (__builtin_cpu_supports("avx2"))
		accumulate_blocks_avx2(lanes, bytes, blocks);
	else
		accumulate_blocks_scalar(lanes, bytes, blocks);
}

static uint64_t fold_lanes(const uint64_t lanes[LANES], size_t length)
{
	uint64_t hash = length * PRIME64_A;

	for (int i = 0; i < LANES; i += 2) {
		__uint128_t product = (__uint128_t)(lanes[i] ^ stripe_key[i]) *
				      (lanes[i + 1] ^ stripe_key[i + 1]);

		hash += (uint64_t)product ^ (uint64_t)(product >> 64);
	}
	hash ^= hash >> 37;
	hash *= PRIME64_B;
	return hash ^ (hash >> 32);
}

uint64_t page_hash(const void *data, size_t length)
{
	const unsigned char *bytes = data;
	uint64_t lanes[LANES] = { PRIME32_A, PRIME64_A, PRIME64_B, 1, 2, 3, 4, 5 };
	size_t block_bytes = STRIPES_PER_BLOCK * STRIPE_BYTES;
	size_t blocks = length / block_bytes;

	accumulate_blocks(lanes, bytes, blocks);
	bytes += blocks * block_bytes;
	for (size_t rest = length % block_bytes; rest >= STRIPE_BYTES; rest -= STRIPE_BYTES) {
		accumulate_stripe(lanes, bytes);
		bytes += STRIPE_BYTES;
	}
	return fold_lanes(lanes, length);
}
