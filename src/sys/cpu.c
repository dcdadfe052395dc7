/* SPDX-License-Identifier: MIT */
/* The XSAVE layout of this CPU and of the CPU that saved an image. */
#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sys/cpu.h"
#include "sys/tracing.h"
#include "util.h"

#define XSTATE_BV_OFFSET XSAVE_LEGACY_SIZE
#define XCOMP_BV_OFFSET (XSAVE_LEGACY_SIZE + 8)
#define PKRU_COMPONENT 9u
#define PKRU_SIZE 8u

/*
 * Standard-format offsets and sizes of the user components whose place does
 * not depend on the CPU.  CPUID reports them per CPU, but they are the same
 * on every Intel and AMD part that has them: AVX 576, MPX 960 and 1024,
 * AVX-512 1088, 1152 and 1664 (Intel SDM vol. 1, 13.4.3; AMD parts with
 * AVX-512 use the same places).  PKRU (component 9) is not among them: it
 * sits at 2688 on Intel parts and at 2432 on AMD Zen 1-3 (debuggers that
 * assumed 2688 read the wrong bytes there), so saved_xstate_layout() takes
 * it from the saved area's size instead.  Components past 9 (CET, AMX, APX)
 * are never moved: an image holding them restarts only on a CPU with the
 * same features and size.
 */
static const struct {
	uint32_t offset;
	uint32_t size;
} fixed_components[] = {
	[2] = { 576, 256 },   /* AVX: upper halves of ymm0-15 */
	[3] = { 960, 64 },    /* MPX bound registers */
	[4] = { 1024, 64 },   /* MPX BNDCFGU, BNDSTATUS */
	[5] = { 1088, 64 },   /* AVX-512 opmask k0-7 */
	[6] = { 1152, 512 },  /* AVX-512 upper halves of zmm0-15 */
	[7] = { 1664, 1024 }, /* AVX-512 zmm16-31 */
};

static const struct {
	unsigned first;
	unsigned last;
	const char *name;
} feature_names[] = {
	{ 0, 0, "x87" },   { 1, 1, "SSE" },	{ 2, 2, "AVX" },
	{ 3, 4, "MPX" },   { 5, 7, "AVX-512" }, { 9, 9, "PKRU" },
	{ 11, 12, "CET" }, { 17, 18, "AMX" },	{ 19, 19, "APX" },
};

static uint64_t read_u64(const uint8_t *bytes)
{
	uint64_t value;

	memcpy(&value, bytes, sizeof(value));
	return value;
}

static void write_u64(uint8_t *bytes, uint64_t value)
{
	memcpy(bytes, &value, sizeof(value));
}

static bool has_feature(uint64_t features, unsigned component)
{
	return (features >> component) & 1;
}

void cpu_xstate_layout(struct xstate_layout *ret_layout)
{
	unsigned int size, offset, ecx, edx;

	memset(ret_layout, 0, sizeof(*ret_layout));
	ret_layout->features = cpu_xfeatures();
	ret_layout->size = (uint32_t)cpu_xstate_size();
	for (unsigned i = 2; i < XSTATE_COMPONENTS; i++) {
		if (!has_feature(ret_layout->features, i))
			continue;
		if (!__get_cpuid_count(0xd, i, &size, &offset, &ecx, &edx))
			continue;
		ret_layout->offsets[i] = offset;
		ret_layout->sizes[i] = size;
	}
}

static unsigned highest_component(uint64_t features)
{
	return features ? 63u - (unsigned)__builtin_clzll(features) : 0;
}

/* PKRU is the last component below AMX on every known part, so in an area
 * whose highest feature is PKRU it fills the area's last 8 bytes. */
static int place_pkru(struct xstate_layout *layout, struct ckpt_error *err)
{
	if (highest_component(layout->features) != PKRU_COMPONENT || layout->size < 1088 + PKRU_SIZE)
		return fail(err, ENOTSUP,
			    "cannot tell where the image's CPU kept PKRU (bit 9) in its %u-byte xstate",
			    layout->size);
	layout->offsets[PKRU_COMPONENT] = layout->size - PKRU_SIZE;
	layout->sizes[PKRU_COMPONENT] = PKRU_SIZE;
	return 0;
}

static int place_component(struct xstate_layout *layout, unsigned component, struct ckpt_error *err)
{
	char name[64];

	if (component == PKRU_COMPONENT)
		return place_pkru(layout, err);
	if (component >= ARRAY_SIZE(fixed_components) || fixed_components[component].size == 0)
		return fail(err, ENOTSUP,
			    "the image's CPU state holds %s, whose place differs between CPUs: it restarts only on a CPU with the same features",
			    describe_xfeatures(1ull << component, name, sizeof(name)));
	layout->offsets[component] = fixed_components[component].offset;
	layout->sizes[component] = fixed_components[component].size;
	return 0;
}

int saved_xstate_layout(uint64_t features, uint32_t size, struct xstate_layout *ret_layout,
			struct ckpt_error *err)
{
	struct xstate_layout layout = { .features = features, .size = size };

	/* From the top, so a component that cannot move is named before PKRU. */
	for (unsigned i = XSTATE_COMPONENTS - 1; i >= 2; i--) {
		int ret = has_feature(features, i) ? place_component(&layout, i, err) : 0;

		if (ret < 0)
			return ret;
		if (layout.offsets[i] + layout.sizes[i] > size)
			return fail(err, EINVAL,
				    "bad image: xstate of %u bytes is too small for component %u",
				    size, i);
	}
	*ret_layout = layout;
	return 0;
}

static int copy_component(const uint8_t *saved, const struct xstate_layout *from, uint8_t *out,
			  const struct xstate_layout *to, unsigned component, struct ckpt_error *err)
{
	char name[64];

	if (!has_feature(to->features, component))
		return fail(err, ENOTSUP, "the image's CPU state uses %s, which this CPU lacks",
			    describe_xfeatures(1ull << component, name, sizeof(name)));
	if (from->sizes[component] != to->sizes[component] ||
	    to->offsets[component] + to->sizes[component] > to->size)
		return fail(err, ENOTSUP,
			    "xstate component %u is %u bytes in the image and %u bytes on this CPU",
			    component, from->sizes[component], to->sizes[component]);
	memcpy(out + to->offsets[component], saved + from->offsets[component],
	       from->sizes[component]);
	return 0;
}

int convert_xstate(const uint8_t *saved, const struct xstate_layout *from, uint8_t *out,
		   const struct xstate_layout *to, struct ckpt_error *err)
{
	uint64_t saved_components;

	if (from->size < XSAVE_MIN_SIZE || to->size < XSAVE_MIN_SIZE)
		return fail(err, EINVAL, "xstate of %u or %u bytes is shorter than %u", from->size,
			    to->size, XSAVE_MIN_SIZE);
	saved_components = read_u64(saved + XSTATE_BV_OFFSET) & from->features;
	memset(out, 0, to->size);
	memcpy(out, saved, XSAVE_LEGACY_SIZE);
	for (unsigned i = 2; i < XSTATE_COMPONENTS; i++) {
		int ret = has_feature(saved_components, i)
				  ? copy_component(saved, from, out, to, i, err)
				  : 0;

		if (ret < 0)
			return ret;
	}
	write_u64(out + XSTATE_BV_OFFSET, saved_components & to->features);
	write_u64(out + XCOMP_BV_OFFSET, 0); /* the standard format */
	return 0;
}

static int copy_as_saved(const uint8_t *saved, uint32_t size, uint8_t **ret_xstate,
			 size_t *ret_size, struct ckpt_error *err)
{
	uint8_t *copy = malloc(size);

	if (!copy)
		return fail(err, ENOMEM, "out of memory");
	memcpy(copy, saved, size);
	*ret_xstate = copy;
	*ret_size = size;
	return 0;
}

int convert_xstate_for_cpu(const uint8_t *saved, uint64_t features, uint32_t size,
			   uint8_t **ret_xstate, size_t *ret_size, struct ckpt_error *err)
{
	struct xstate_layout from, to;
	_cleanup_free_ uint8_t *converted = NULL;
	int ret;

	cpu_xstate_layout(&to);
	if (features == to.features && size == to.size)
		return copy_as_saved(saved, size, ret_xstate, ret_size, err);
	ret = saved_xstate_layout(features, size, &from, err);
	if (ret < 0)
		return ret;
	converted = malloc(to.size);
	if (!converted)
		return fail(err, ENOMEM, "out of memory");
	ret = convert_xstate(saved, &from, converted, &to, err);
	if (ret < 0)
		return ret;
	*ret_xstate = converted;
	converted = NULL;
	*ret_size = to.size;
	return 0;
}

static void append_name(char *buffer, size_t size, size_t *used, const char *text)
{
	int written = snprintf(buffer + *used, size - *used, "%s%s", *used ? ", " : "", text);

	if (written > 0)
		*used = *used + (size_t)written < size ? *used + (size_t)written : size - 1;
}

/* "AVX-512 (bits 5-7)" or "AVX (bit 2)". */
static void append_group(char *buffer, size_t size, size_t *used, unsigned first, unsigned last,
			 const char *name)
{
	char text[48];

	if (first == last)
		snprintf(text, sizeof(text), "%s (bit %u)", name, first);
	else
		snprintf(text, sizeof(text), "%s (bits %u-%u)", name, first, last);
	append_name(buffer, size, used, text);
}

static uint64_t group_mask(unsigned first, unsigned last)
{
	return (~0ull >> (63 - last)) & (~0ull << first);
}

const char *describe_xfeatures(uint64_t mask, char *buffer, size_t size)
{
	size_t used = 0;
	char text[32];

	buffer[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(feature_names); i++) {
		uint64_t group = group_mask(feature_names[i].first, feature_names[i].last);

		if (!(mask & group))
			continue;
		append_group(buffer, size, &used, feature_names[i].first, feature_names[i].last,
			     feature_names[i].name);
		mask &= ~group;
	}
	for (unsigned bit = 0; mask && bit < 64; bit++) {
		if (!has_feature(mask, bit))
			continue;
		snprintf(text, sizeof(text), "feature bit %u", bit);
		append_name(buffer, size, &used, text);
		mask &= ~(1ull << bit);
	}
	return buffer;
}
