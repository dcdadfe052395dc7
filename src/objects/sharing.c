/* SPDX-License-Identifier: MIT */
/*
 * Kernel objects that processes of the tree share without being threads of
 * one another: the memory map (CLONE_VM), the fd table (CLONE_FILES), the
 * cwd, root and umask (CLONE_FS) and the signal handlers (CLONE_SIGHAND).
 * kcmp finds them; each TREE entry names the first process in tree order
 * holding the same object (its owner), whose image alone holds a shared
 * memory map or fd table.  On restart a sharer is cloned by its parent's
 * husk with the matching clone flags, so the parent must hold the object
 * too: anything else is refused at checkpoint.
 */
#include <errno.h>
#include <linux/kcmp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "objects/dump.h"
#include "fault.h"
#include "util.h"

enum sharing_kind {
	SHARING_MM,
	SHARING_FILES,
	SHARING_FS,
	SHARING_SIGHAND,
	SHARING_KIND_COUNT
};

static const struct {
	int kcmp_type;
	const char *what;
} sharing_kinds[SHARING_KIND_COUNT] = {
	[SHARING_MM] = { KCMP_VM, "its memory (CLONE_VM)" },
	[SHARING_FILES] = { KCMP_FILES, "its fd table (CLONE_FILES)" },
	[SHARING_FS] = { KCMP_FS, "its cwd and umask (CLONE_FS)" },
	[SHARING_SIGHAND] = { KCMP_SIGHAND, "its signal handlers (CLONE_SIGHAND)" },
};

static int32_t *owner_field(struct ckpt_tree_entry *entry, enum sharing_kind kind)
{
	switch (kind) {
	case SHARING_MM:
		return &entry->mm_owner;
	case SHARING_FILES:
		return &entry->files_owner;
	case SHARING_FS:
		return &entry->fs_owner;
	default:
		return &entry->sighand_owner;
	}
}

static struct ckpt_tree_entry *entry_with_pid(struct dump_tree *tree, pid_t pid)
{
	for (size_t i = 0; i < tree->entry_count; i++) {
		if (tree->entries[i].pid == pid)
			return &tree->entries[i];
	}
	return NULL;
}

static bool same_object(pid_t first, pid_t second, enum sharing_kind kind)
{
	return syscall(SYS_kcmp, first, second, sharing_kinds[kind].kcmp_type, 0, 0) == 0;
}

/* One live process in the sort by kernel object. */
struct sharing_slot {
	pid_t pid;
	size_t index; /* in tree order */
};

static int sort_kcmp_type; /* for the qsort() comparator below */

/* kcmp orders kernel objects: sharers end up side by side, first in tree order first. */
static int compare_by_object(const void *a, const void *b)
{
	const struct sharing_slot *first = a, *second = b;
	long order = syscall(SYS_kcmp, first->pid, second->pid, sort_kcmp_type, 0, 0);

	if (order == 1)
		return -1;
	if (order == 2)
		return 1;
	if (order == 0)
		return (first->index > second->index) - (first->index < second->index);
	return (first->pid > second->pid) - (first->pid < second->pid);
}

/*
 * Each process's owner of one kind: the first process in tree order
 * holding the same object.  Sorting keeps this at N log N kcmp calls.
 */
static int find_owners(struct dump_tree *tree, struct ckpt_tree_entry **entries,
		       enum sharing_kind kind)
{
	size_t count = tree->process_count;
	_cleanup_free_ struct sharing_slot *slots = calloc(count, sizeof(*slots));
	pid_t owner = 0;

	if (!slots)
		return fail(tree->shared.err, ENOMEM, "out of memory");
	for (size_t i = 0; i < count; i++)
		slots[i] = (struct sharing_slot){ .pid = tree->processes[i].pid, .index = i };
	sort_kcmp_type = sharing_kinds[kind].kcmp_type;
	qsort(slots, count, sizeof(*slots), compare_by_object);
	for (size_t i = 0; i < count; i++) {
		if (i == 0 || !same_object(slots[i - 1].pid, slots[i].pid, kind))
			owner = slots[i].pid;
		*owner_field(entries[slots[i].index], kind) = owner;
	}
	return 0;
}

/* The root must not share with its parent, which stays outside the image. */
static int check_root_alone(struct dump_tree *tree)
{
	pid_t root = tree->processes[0].pid, parent = tree->entries[0].ppid;

	for (int kind = 0; parent > 0 && kind < SHARING_KIND_COUNT; kind++) {
		if (same_object(root, parent, (enum sharing_kind)kind))
			return fail(tree->shared.err, ENOTSUP,
				    "process %d shares %s with its parent %d, outside the checkpointed tree: not supported",
				    root, sharing_kinds[kind].what, parent);
	}
	return 0;
}

/*
 * The husk of the parent clones the sharer with the flag: the parent must
 * hold the object (a CLONE_PARENT child, or a chain broken by an unshare or
 * an exec in between, cannot be rebuilt).
 */
static int check_parent_holds(struct dump_tree *tree, struct ckpt_tree_entry *entry,
			      enum sharing_kind kind)
{
	int32_t owner = *owner_field(entry, kind);
	struct ckpt_tree_entry *parent = entry_with_pid(tree, entry->ppid);

	if (!shares_with_other(owner, entry->pid))
		return 0;
	if (parent && parent->state == CKPT_TREE_ALIVE &&
	    (parent->pid == owner || *owner_field(parent, kind) == owner))
		return 0;
	return fail(tree->shared.err, ENOTSUP,
		    "process %d shares %s with process %d, which its parent %d does not hold (CLONE_PARENT?): not supported",
		    entry->pid, sharing_kinds[kind].what, owner, entry->ppid);
}

/* clone3's flags, the first field of the struct its first argument points to. */
static uint64_t clone3_flags(pid_t tid, uint64_t args_address)
{
	uint64_t flags = 0;
	struct iovec local = { &flags, sizeof(flags) };
	struct iovec remote = { (void *)(uintptr_t)args_address, sizeof(flags) };

	if (process_vm_readv(tid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof(flags))
		return 0;
	return flags;
}

/* /proc/TID/syscall of a blocked task: its syscall number and first argument. */
static bool waits_in_vfork(pid_t pid, pid_t tid)
{
	char path[80], text[256];
	long number = -1;
	unsigned long long first = 0;
	FILE *file;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
	file = fopen(path, "re");
	if (!file)
		return false;
	if (!fgets(text, sizeof(text), file) || sscanf(text, "%ld %llx", &number, &first) < 1)
		number = -1;
	fclose(file);
	if (number == SYS_vfork)
		return true;
	if (number == SYS_clone)
		return first & CLONE_VFORK;
	return number == SYS_clone3 && (clone3_flags(tid, first) & CLONE_VFORK);
}

/*
 * A parent in vfork() waits for its child to exec or exit and cannot be
 * stopped meanwhile (nor be rebuilt: it would run its vfork again).  Called
 * before freezing `pid`.
 */
int check_not_in_vfork(pid_t pid, struct ckpt_error *err)
{
	_cleanup_free_ pid_t *tids = NULL;
	size_t count = 0;
	int ret = list_thread_ids(pid, &tids, &count, err);

	for (size_t i = 0; ret == 0 && i < count; i++) {
		if (waits_in_vfork(pid, tids[i]))
			ret = fail(err, ENOTSUP,
				   "process %d waits in vfork() for its child to exec or exit (CLONE_VFORK): not supported",
				   pid);
	}
	return ret;
}

static int check_restorable(struct dump_tree *tree, struct dump_context *ctx,
			    struct ckpt_tree_entry *entry)
{
	int ret = 0;

	for (int kind = 0; ret == 0 && kind < SHARING_KIND_COUNT; kind++)
		ret = check_parent_holds(tree, entry, (enum sharing_kind)kind);
	if (ret == 0 && shares_with_other(entry->sighand_owner, entry->pid) &&
	    !shares_with_other(entry->mm_owner, entry->pid))
		ret = fail(tree->shared.err, ENOTSUP,
			   "process %d shares its signal handlers but not its memory: not supported",
			   ctx->pid);
	ctx->shares_mm = shares_with_other(entry->mm_owner, entry->pid);
	ctx->shares_files = shares_with_other(entry->files_owner, entry->pid);
	return ret;
}

/* The TREE entry of each live process, in tree order. */
static int list_entries(struct dump_tree *tree, struct ckpt_tree_entry ***ret_entries)
{
	struct ckpt_tree_entry **entries = calloc(tree->process_count, sizeof(*entries));

	if (!entries)
		return fail(tree->shared.err, ENOMEM, "out of memory");
	for (size_t i = 0; i < tree->process_count; i++) {
		entries[i] = entry_with_pid(tree, tree->processes[i].pid);
		if (!entries[i]) {
			free(entries);
			return fail(tree->shared.err, EINVAL,
				    "internal: process %d is not in the tree",
				    tree->processes[i].pid);
		}
	}
	*ret_entries = entries;
	return 0;
}

/*
 * Fills the owner fields of every live entry (tree order: parents first),
 * and refuses what the restart cannot build again.
 */
int collect_sharing(struct dump_tree *tree)
{
	_cleanup_free_ struct ckpt_tree_entry **entries = NULL;
	int ret = fault_point(tree->shared.err, "checkpoint.sharing");

	if (ret == 0)
		ret = check_root_alone(tree);
	if (ret == 0)
		ret = list_entries(tree, &entries);
	for (int kind = 0; ret == 0 && kind < SHARING_KIND_COUNT; kind++)
		ret = find_owners(tree, entries, (enum sharing_kind)kind);
	for (size_t i = 0; ret == 0 && i < tree->process_count; i++)
		ret = check_restorable(tree, &tree->processes[i], entries[i]);
	return ret;
}
