/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of src/sys/cpu.c: the saved layout of an image's xstate (fixed
 * offsets, PKRU from the size, refusal of components whose place varies),
 * convert_xstate() between made-up layouts (legacy region and components
 * copied to their new offsets, XSTATE_BV of the components held, XCOMP_BV
 * zero, the rest zero, a missing feature refused by name), and the names
 * of features.
 */
#include <stdlib.h>
#include <string.h>

#include "../tools/unit_check.h"
#include "sys/cpu.h"
#include "sys/tracing.h"

#define BV_AT XSAVE_LEGACY_SIZE
#define AVX_512 0xe0ull

static uint64_t get_u64(const uint8_t *bytes)
{
	uint64_t value;

	memcpy(&value, bytes, sizeof(value));
	return value;
}

static void put_u64(uint8_t *bytes, uint64_t value)
{
	memcpy(bytes, &value, sizeof(value));
}

static void fill_pattern(uint8_t *bytes, size_t length, uint8_t seed)
{
	for (size_t i = 0; i < length; i++)
		bytes[i] = (uint8_t)(seed + i * 7);
}

static bool all_zero(const uint8_t *bytes, size_t length)
{
	for (size_t i = 0; i < length; i++) {
		if (bytes[i])
			return false;
	}
	return true;
}

/* A layout as CPUID would report it, with AVX-512 when asked. */
static struct xstate_layout made_up_layout(uint64_t features, uint32_t avx_offset)
{
	struct xstate_layout layout = { .features = features, .size = XSAVE_MIN_SIZE };

	if (features & 4) {
		layout.offsets[2] = avx_offset;
		layout.sizes[2] = 256;
		layout.size = avx_offset + 256;
	}
	if (features & AVX_512) {
		layout.offsets[5] = 1088, layout.sizes[5] = 64;
		layout.offsets[6] = 1152, layout.sizes[6] = 512;
		layout.offsets[7] = 1664, layout.sizes[7] = 1024;
		layout.size = 2688;
	}
	return layout;
}

static void test_saved_layouts(void)
{
	struct ckpt_error err = { 0 };
	struct xstate_layout layout;

	check(saved_xstate_layout(0x7, 832, &layout, &err) == 0 && layout.offsets[2] == 576 &&
		      layout.sizes[2] == 256,
	      "AVX at 576 in an 832-byte area: %s", err.message);
	check(saved_xstate_layout(0xe7, 2688, &layout, &err) == 0 && layout.offsets[7] == 1664,
	      "AVX-512 components at their fixed places: %s", err.message);
	check(saved_xstate_layout(0x207, 2440, &layout, &err) == 0 && layout.offsets[9] == 2432,
	      "PKRU of an AMD Zen 3 area (2440 bytes) at 2432: %s", err.message);
	check(saved_xstate_layout(0x2e7, 2696, &layout, &err) == 0 && layout.offsets[9] == 2688,
	      "PKRU of an Intel area (2696 bytes) at 2688: %s", err.message);
	err.code = 0;
	check(saved_xstate_layout(0x60207, 11008, &layout, &err) < 0 && strstr(err.message, "AMX"),
	      "AMX (its place varies) refused by name: '%s'", err.message);
	err.code = 0;
	check(saved_xstate_layout(0xe7, 1000, &layout, &err) < 0 && strstr(err.message, "too small"),
	      "AVX-512 in a 1000-byte area refused: '%s'", err.message);
}

static void test_grow_to_avx512(void)
{
	struct ckpt_error err = { 0 };
	struct xstate_layout from = made_up_layout(0x7, 576), to = made_up_layout(0xe7, 576);
	uint8_t saved[832], *out = malloc(to.size);

	fill_pattern(saved, sizeof(saved), 3);
	put_u64(saved + BV_AT, 0x7 | AVX_512); /* bits the area does not hold */
	put_u64(saved + BV_AT + 8, 0);
	memset(saved + BV_AT + 16, 0, 48);
	check(convert_xstate(saved, &from, out, &to, &err) == 0, "0x7 -> 0xe7: %s", err.message);
	check(memcmp(out, saved, XSAVE_LEGACY_SIZE) == 0, "legacy region copied");
	check(memcmp(out + 576, saved + 576, 256) == 0, "AVX state copied");
	check(get_u64(out + BV_AT) == 0x7, "XSTATE_BV %#llx, expected 0x7 (AVX-512 in init state)",
	      (unsigned long long)get_u64(out + BV_AT));
	check(get_u64(out + BV_AT + 8) == 0, "XCOMP_BV zero");
	check(all_zero(out + 832, to.size - 832), "AVX-512 components zero");
	free(out);
}

static void test_move_and_refuse(void)
{
	struct ckpt_error err = { 0 };
	struct xstate_layout from = made_up_layout(0x7, 576), moved = made_up_layout(0x7, 640);
	struct xstate_layout big = made_up_layout(0xe7, 576), small = made_up_layout(0x3, 0);
	uint8_t saved[2688], out[2688];

	fill_pattern(saved, sizeof(saved), 11);
	put_u64(saved + BV_AT, 0x3);
	check(convert_xstate(saved, &from, out, &small, &err) == 0 && get_u64(out + BV_AT) == 0x3,
	      "AVX not in use: goes to an x87/SSE-only CPU: %s", err.message);
	put_u64(saved + BV_AT, 0x7);
	check(convert_xstate(saved, &from, out, &moved, &err) == 0 &&
		      memcmp(out + 640, saved + 576, 256) == 0 && all_zero(out + 576, 64),
	      "AVX moved from 576 to 640: %s", err.message);
	put_u64(saved + BV_AT, 0x7 | 0x20);
	check(convert_xstate(saved, &big, out, &from, &err) < 0 &&
		      strstr(err.message, "AVX-512 (bits 5-7)"),
	      "AVX-512 in use on a CPU without it: '%s'", err.message);
	err.code = 0;
	put_u64(saved + BV_AT, 0x7);
	check(convert_xstate(saved, &from, out, &small, &err) < 0 &&
		      strstr(err.message, "AVX (bit 2)"),
	      "AVX in use on a CPU without it: '%s'", err.message);
}

static void test_this_cpu(void)
{
	struct ckpt_error err = { 0 };
	struct xstate_layout here;
	uint8_t saved[XSAVE_MIN_SIZE], *out = NULL;
	size_t size = 0;

	cpu_xstate_layout(&here);
	check(here.size == cpu_xstate_size() && (here.features & 3) == 3,
	      "this CPU: %u bytes, features %#llx", here.size, (unsigned long long)here.features);
	fill_pattern(saved, sizeof(saved), 5);
	put_u64(saved + BV_AT, 0x3);
	memset(saved + BV_AT + 8, 0, 56);
	check(convert_xstate_for_cpu(saved, 0x3, sizeof(saved), &out, &size, &err) == 0 &&
		      size == here.size && memcmp(out, saved, XSAVE_LEGACY_SIZE) == 0 &&
		      get_u64(out + BV_AT) == 0x3,
	      "an x87/SSE area to this CPU: %s", err.message);
	free(out);
}

static void check_names(uint64_t mask, const char *expected)
{
	char names[160];

	describe_xfeatures(mask, names, sizeof(names));
	check(strcmp(names, expected) == 0, "names of %#llx: '%s', expected '%s'",
	      (unsigned long long)mask, names, expected);
}

int main(void)
{
	test_saved_layouts();
	test_grow_to_avx512();
	test_move_and_refuse();
	test_this_cpu();
	check_names(0xe0, "AVX-512 (bits 5-7)");
	check_names(0x20, "AVX-512 (bits 5-7)");
	check_names(0x80004, "AVX (bit 2), APX (bit 19)");
	check_names(0x200 | (1ull << 40), "PKRU (bit 9), feature bit 40");
	return finish_checks("xstate");
}
