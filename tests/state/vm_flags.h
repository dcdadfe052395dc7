/*
 * The "VmFlags:" line of /proc/self/smaps for the VMA that starts at an
 * address, for state programs that check VMA flags (madvise, mlock).
 */
#ifndef CKPT_TESTS_VM_FLAGS_H
#define CKPT_TESTS_VM_FLAGS_H

#include "state.h"

/* Copies the VmFlags line of the VMA starting at start into out ("" if none). */
static inline void vm_flags_of(const void *start, char *out, size_t capacity)
{
	static char smaps[1 << 21];
	char header[32];
	char *block;
	char *flags;

	out[0] = '\0';
	if (state_read_file("/proc/self/smaps", smaps, sizeof(smaps)) < 0)
		return;
	snprintf(header, sizeof(header), "\n%lx-", (unsigned long)start);
	block = strstr(smaps, header);
	if (block == NULL && strncmp(smaps, header + 1, strlen(header + 1)) == 0)
		block = smaps;
	if (block == NULL)
		return;
	flags = strstr(block, "VmFlags:");
	if (flags == NULL)
		return;
	snprintf(out, capacity, "%.*s", (int)strcspn(flags, "\n"), flags);
}

/* True when the VmFlags line holds the two-letter flag. */
static inline bool vm_flags_have(const char *line, const char *flag)
{
	char needle[8];

	snprintf(needle, sizeof(needle), " %s", flag);
	for (const char *at = strstr(line, needle); at; at = strstr(at + 1, needle)) {
		if (at[3] == ' ' || at[3] == '\0')
			return true;
	}
	return false;
}

#endif
