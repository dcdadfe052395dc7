/* SPDX-License-Identifier: MIT */
/*
 * Rewrites the CPU state of a real image, as if another CPU had made it:
 *
 *   xstate_rewrite subset FEATURES IN OUT   keep only the xstate components
 *       in FEATURES (e.g. 0x3: x87 and SSE; 0x7: and AVX): the head's
 *       xfeatures and xstate_size and every thread's XSAVE area shrink to
 *       the standard-format layout of that subset, XSTATE_BV loses the other
 *       bits (what a CPU without them would have saved)
 *   xstate_rewrite claim FEATURES IN OUT    the head claims FEATURES too
 *       (a feature this CPU lacks), nothing else changes
 *   xstate_rewrite features IN              prints the head's xfeatures
 *
 * Checksums and the tail's byte count are fixed, so the image is well formed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/image_builder.h"
#include "sys/cpu.h"

#define XSTATE_BV_OFFSET XSAVE_LEGACY_SIZE

/* The end of the last kept component: the size of the subset's area. */
static uint32_t subset_size(const struct xstate_layout *layout, uint64_t features)
{
	uint32_t size = XSAVE_MIN_SIZE;

	for (unsigned i = 2; i < XSTATE_COMPONENTS; i++) {
		if (((features >> i) & 1) && layout->offsets[i] + layout->sizes[i] > size)
			size = layout->offsets[i] + layout->sizes[i];
	}
	return size;
}

/* The thread's area cut to the subset: other components zeroed, bits cleared. */
static void shrink_xstate(unsigned char *xstate, const struct xstate_layout *layout, uint64_t features)
{
	uint64_t bv;

	for (unsigned i = 2; i < XSTATE_COMPONENTS; i++) {
		if (((layout->features >> i) & 1) && !((features >> i) & 1))
			memset(xstate + layout->offsets[i], 0, layout->sizes[i]);
	}
	memcpy(&bv, xstate + XSTATE_BV_OFFSET, sizeof(bv));
	bv &= features;
	memcpy(xstate + XSTATE_BV_OFFSET, &bv, sizeof(bv));
}

static void rewrite_thread(struct image_bytes *bytes, size_t offset,
			   const struct xstate_layout *layout, uint64_t features, uint32_t size)
{
	const unsigned char *payload = image_bytes_payload(bytes, offset);
	struct ckpt_thread thread;
	unsigned char *record;

	memcpy(&thread, payload, sizeof(thread));
	record = malloc(sizeof(thread) + thread.xstate_size);
	if (!record)
		abort();
	memcpy(record, payload, sizeof(thread) + thread.xstate_size);
	shrink_xstate(record + sizeof(thread), layout, features);
	thread.xstate_size = size;
	memcpy(record, &thread, sizeof(thread));
	image_bytes_replace_payload(bytes, offset, record, sizeof(thread) + size);
	free(record);
}

static void fix_tail(struct image_bytes *bytes)
{
	size_t offset = image_bytes_find(bytes, CKPT_RECORD_TAIL, 0);

	image_bytes_patch(bytes, offset, offsetof(struct ckpt_tail, stream_bytes), 8, offset);
}

static int make_subset(struct image_bytes *bytes, uint64_t features, struct ckpt_error *err)
{
	size_t head_offset = image_bytes_find(bytes, CKPT_RECORD_HEAD, 0);
	struct ckpt_head head;
	struct xstate_layout layout;
	uint32_t size;
	int ret;

	memcpy(&head, image_bytes_payload(bytes, head_offset), sizeof(head));
	if (features & ~head.xfeatures)
		return fail(err, EINVAL, "features %#llx are not a subset of the image's %#llx",
			    (unsigned long long)features, (unsigned long long)head.xfeatures);
	ret = saved_xstate_layout(head.xfeatures, head.xstate_size, &layout, err);
	if (ret < 0)
		return ret;
	size = subset_size(&layout, features);
	image_bytes_patch(bytes, head_offset, offsetof(struct ckpt_head, xfeatures), 8, features);
	image_bytes_patch(bytes, head_offset, offsetof(struct ckpt_head, xstate_size), 4, size);
	for (size_t offset = 0; image_bytes_has_record_at(bytes, offset);
	     offset = image_bytes_next(bytes, offset)) {
		if (image_bytes_header(bytes, offset).type == CKPT_RECORD_THREAD)
			rewrite_thread(bytes, offset, &layout, features, size);
	}
	fix_tail(bytes);
	return 0;
}

static void claim_features(struct image_bytes *bytes, uint64_t features)
{
	size_t head_offset = image_bytes_find(bytes, CKPT_RECORD_HEAD, 0);
	struct ckpt_head head;

	memcpy(&head, image_bytes_payload(bytes, head_offset), sizeof(head));
	image_bytes_patch(bytes, head_offset, offsetof(struct ckpt_head, xfeatures), 8,
			  head.xfeatures | features);
}

static int load_image(const char *path, struct image_bytes *ret_bytes, struct ckpt_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return fail(err, errno, "%s: %s", path, strerror(errno));
	return image_bytes_from_fd(fd, ret_bytes, err);
}

static int rewrite(const char *mode, uint64_t features, const char *in, const char *out,
		   struct ckpt_error *err)
{
	struct image_bytes bytes;
	int ret = load_image(in, &bytes, err);

	if (ret < 0)
		return ret;
	if (strcmp(mode, "subset") == 0)
		ret = make_subset(&bytes, features, err);
	else
		claim_features(&bytes, features);
	if (ret == 0)
		ret = image_bytes_save(&bytes, out, err);
	image_bytes_release(&bytes);
	return ret;
}

static int print_features(const char *path, struct ckpt_error *err)
{
	struct image_bytes bytes;
	struct ckpt_head head;

	if (load_image(path, &bytes, err) < 0) {
		fprintf(stderr, "xstate_rewrite: %s\n", err->message);
		return 1;
	}
	memcpy(&head, image_bytes_payload(&bytes, image_bytes_find(&bytes, CKPT_RECORD_HEAD, 0)),
	       sizeof(head));
	printf("%#llx\n", (unsigned long long)head.xfeatures);
	image_bytes_release(&bytes);
	return 0;
}

int main(int argc, char **argv)
{
	struct ckpt_error err = { .code = 0 };
	char *end;
	uint64_t features;

	if (argc == 3 && strcmp(argv[1], "features") == 0)
		return print_features(argv[2], &err);
	if (argc != 5 || (strcmp(argv[1], "subset") != 0 && strcmp(argv[1], "claim") != 0)) {
		fprintf(stderr, "usage: xstate_rewrite subset|claim FEATURES IN OUT | features IN\n");
		return 2;
	}
	errno = 0;
	features = strtoull(argv[2], &end, 0);
	if (errno != 0 || *end != '\0') {
		fprintf(stderr, "xstate_rewrite: bad FEATURES '%s'\n", argv[2]);
		return 2;
	}
	if (rewrite(argv[1], features, argv[3], argv[4], &err) < 0) {
		fprintf(stderr, "xstate_rewrite: %s\n", err.message);
		return 1;
	}
	return 0;
}
