/* SPDX-License-Identifier: MIT */
/* Process-wide attributes: ids, cwd, umask, comm, personality, creds, rlimits. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "objects/dump.h"
#include "util.h"

static int read_proc_text(struct dump_context *ctx, const char *name, char **ret_text)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", ctx->pid, name);
	return read_whole_file(path, ret_text, NULL, ctx->err);
}

static int read_cwd(struct dump_context *ctx)
{
	char path[64], target[PATH_MAX];
	ssize_t length;

	snprintf(path, sizeof(path), "/proc/%d/cwd", ctx->pid);
	length = readlink(path, target, sizeof(target) - 1);
	if (length < 0)
		return fail(ctx->err, errno, "reading the cwd of process %d: %s", ctx->pid,
			    strerror(errno));
	target[length] = '\0';
	if (strstr(target, " (deleted)"))
		return fail(ctx->err, ENOTSUP, "the cwd of process %d was deleted: %s", ctx->pid,
			    target);
	ctx->cwd = strdup(target);
	if (!ctx->cwd)
		return fail(ctx->err, ENOMEM, "out of memory");
	ctx->process.cwd_length = (uint32_t)length + 1;
	return 0;
}

static int read_comm_and_personality(struct dump_context *ctx)
{
	_cleanup_free_ char *comm = NULL;
	_cleanup_free_ char *personality = NULL;
	int ret;

	ret = read_proc_text(ctx, "comm", &comm);
	if (ret < 0)
		return ret;
	comm[strcspn(comm, "\n")] = '\0';
	snprintf(ctx->process.comm, sizeof(ctx->process.comm), "%s", comm);
	ret = read_proc_text(ctx, "personality", &personality);
	if (ret < 0)
		return ret;
	ctx->process.personality = (uint32_t)strtoul(personality, NULL, 16);
	return 0;
}

int collect_process(struct dump_context *ctx)
{
	uint64_t ids[3]; /* ppid, pgrp, session: fields 4-6 */
	_cleanup_free_ char *status = NULL;
	const char *umask_text;
	int ret;

	ctx->process.pid = ctx->pid;
	ctx->process.thread_count = (uint32_t)ctx->thread_count;
	ret = proc_stat_fields(ctx->pid, ids, 4, 3, ctx->err);
	if (ret < 0)
		return ret;
	ctx->process.ppid = (int32_t)ids[0];
	ctx->process.pgid = (int32_t)ids[1];
	ctx->process.sid = (int32_t)ids[2];
	ret = read_proc_text(ctx, "status", &status);
	if (ret < 0)
		return ret;
	umask_text = status_field(status, "Umask");
	ctx->process.umask = umask_text ? (uint32_t)strtoul(umask_text, NULL, 8) : 022;
	ret = read_comm_and_personality(ctx);
	if (ret < 0)
		return ret;
	return read_cwd(ctx);
}

static int parse_ids(const char *status, const char *name, uint32_t ids[CKPT_ID_COUNT],
		     struct ckpt_error *err)
{
	const char *text = status_field(status, name);

	if (!text || sscanf(text, "%u %u %u %u", &ids[0], &ids[1], &ids[2], &ids[3]) != 4)
		return fail(err, EINVAL, "cannot parse %s: in /proc/PID/status", name);
	return 0;
}

static uint64_t parse_hex_field(const char *status, const char *name)
{
	const char *text = status_field(status, name);

	return text ? strtoull(text, NULL, 16) : 0;
}

static int parse_groups(struct dump_context *ctx, const char *status)
{
	const char *text = status_field(status, "Groups");
	uint32_t count = 0;

	ctx->groups = calloc(CKPT_MAX_GROUPS, sizeof(*ctx->groups));
	if (!ctx->groups)
		return fail(ctx->err, ENOMEM, "out of memory");
	while (text && *text && *text != '\n' && count < CKPT_MAX_GROUPS) {
		char *end;
		unsigned long group = strtoul(text, &end, 10);

		if (end == text)
			break;
		ctx->groups[count++] = (uint32_t)group;
		text = end + strspn(end, " \t");
	}
	ctx->creds.group_count = count;
	return 0;
}

int collect_creds(struct dump_context *ctx)
{
	_cleanup_free_ char *status = NULL;
	const char *no_new_privs;
	int ret;

	ret = read_proc_text(ctx, "status", &status);
	if (ret < 0)
		return ret;
	ret = parse_ids(status, "Uid", ctx->creds.uid, ctx->err);
	if (ret == 0)
		ret = parse_ids(status, "Gid", ctx->creds.gid, ctx->err);
	if (ret < 0)
		return ret;
	ctx->creds.cap_inheritable = parse_hex_field(status, "CapInh");
	ctx->creds.cap_permitted = parse_hex_field(status, "CapPrm");
	ctx->creds.cap_effective = parse_hex_field(status, "CapEff");
	ctx->creds.cap_bounding = parse_hex_field(status, "CapBnd");
	ctx->creds.cap_ambient = parse_hex_field(status, "CapAmb");
	no_new_privs = status_field(status, "NoNewPrivs");
	ctx->creds.no_new_privs = no_new_privs && *no_new_privs == '1';
	return parse_groups(ctx, status);
}

static uint64_t parse_limit(const char *text)
{
	return strncmp(text, "unlimited", 9) == 0 ? UINT64_MAX : strtoull(text, NULL, 10);
}

/*
 * /proc/PID/limits: readable where prlimit() is not (another uid's process
 * needs CAP_SYS_RESOURCE).  One line per resource, in resource order, the
 * values starting at column 26.
 */
static int read_limits_file(struct dump_context *ctx)
{
	_cleanup_free_ char *text = NULL;
	char *line;
	unsigned resource = 0;
	int ret = read_proc_text(ctx, "limits", &text);

	if (ret < 0)
		return ret;
	line = strchr(text, '\n'); /* skip the header */
	while (line && resource < CKPT_MAX_RLIMITS) {
		char soft[32], hard[32];

		line++;
		if (strlen(line) < 26 || sscanf(line + 26, "%31s %31s", soft, hard) != 2)
			break;
		ctx->rlimits.limits[resource].soft = parse_limit(soft);
		ctx->rlimits.limits[resource].hard = parse_limit(hard);
		resource++;
		line = strchr(line, '\n');
	}
	if (resource != CKPT_MAX_RLIMITS)
		return fail(ctx->err, EINVAL, "cannot parse /proc/%d/limits", ctx->pid);
	return 0;
}

int collect_rlimits(struct dump_context *ctx)
{
	ctx->rlimits.count = CKPT_MAX_RLIMITS;
	for (unsigned resource = 0; resource < CKPT_MAX_RLIMITS; resource++) {
		struct rlimit limit;

		if (prlimit(ctx->pid, (__rlimit_resource_t)resource, NULL, &limit) < 0 &&
		    errno == EPERM)
			return read_limits_file(ctx);
		if (prlimit(ctx->pid, (__rlimit_resource_t)resource, NULL, &limit) < 0)
			return fail(ctx->err, errno, "reading rlimit %u of process %d: %s",
				    resource, ctx->pid, strerror(errno));
		ctx->rlimits.limits[resource].soft = limit.rlim_cur;
		ctx->rlimits.limits[resource].hard = limit.rlim_max;
	}
	return 0;
}

int write_process(struct dump_context *ctx)
{
	struct iovec process[2] = {
		{ &ctx->process, sizeof(ctx->process) },
		{ ctx->cwd, ctx->process.cwd_length },
	};
	struct iovec creds[2] = {
		{ &ctx->creds, sizeof(ctx->creds) },
		{ ctx->groups, ctx->creds.group_count * sizeof(uint32_t) },
	};
	int ret;

	ret = image_write_record(ctx->writer, CKPT_RECORD_PROCESS, process, 2);
	if (ret == 0)
		ret = image_write_record(ctx->writer, CKPT_RECORD_CREDS, creds, 2);
	if (ret == 0)
		ret = image_write_simple(ctx->writer, CKPT_RECORD_RLIMITS, &ctx->rlimits,
					 sizeof(ctx->rlimits));
	return ret;
}

/* ---- restart side ---- */

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "objects/restore.h"
#include "sys/cpu.h"
#include "util.h"

static int read_own_status(char **ret_text, struct ckpt_error *err)
{
	return read_whole_file("/proc/self/status", ret_text, NULL, err);
}

static int check_pid_free(struct restore_context *ctx, pid_t pid)
{
	char path[64];
	_cleanup_free_ char *status = NULL;
	struct ckpt_error ignored = { 0 };
	const char *state, *name;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (access(path, F_OK) < 0)
		return 0;
	if (read_whole_file(path, &status, NULL, &ignored) < 0)
		return fail(ctx->err, EEXIST, "PID %d is in use", pid);
	state = status_field(status, "State");
	name = status_field(status, "Name");
	return fail(ctx->err, EEXIST, "PID %d is in use by %.*s%s", pid,
		    name ? (int)strcspn(name, "\n") : 1, name ? name : "?",
		    state && *state == 'Z' ? " (a zombie its parent has not reaped yet)" : "");
}

/* Restart never gives a process more than the caller has. */
static int check_privilege(struct restore_context *ctx, const struct ckpt_tree_entry *entry,
			   uint64_t caller_caps)
{
	if (entry->capabilities & ~caller_caps)
		return fail(ctx->err, EPERM,
			    "process %d of the image holds capabilities the caller does not (%#llx vs %#llx)",
			    entry->pid, (unsigned long long)entry->capabilities,
			    (unsigned long long)caller_caps);
	if (caller_caps & (1ull << 7)) /* CAP_SETUID */
		return 0;
	if (entry->uid != getuid() || entry->gid != getgid())
		return fail(ctx->err, EPERM,
			    "process %d of the image ran as uid %u gid %u; you are uid %u gid %u",
			    entry->pid, entry->uid, entry->gid, getuid(), getgid());
	return 0;
}

/*
 * An image from a CPU with a subset of this CPU's features restarts (its
 * xstate is moved to this CPU's layout when the threads get their
 * registers); a feature this CPU lacks is refused by name.
 */
static int check_cpu(struct restore_context *ctx)
{
	const struct ckpt_head *head = &ctx->tree.head;
	uint64_t missing = head->xfeatures & ~cpu_xfeatures();
	struct xstate_layout saved;
	char names[160];

	if (missing)
		return fail(
			ctx->err, ENOTSUP,
			"the image's CPU state uses %s, which this CPU lacks (image features %#llx, this CPU %#llx)",
			describe_xfeatures(missing, names, sizeof(names)),
			(unsigned long long)head->xfeatures, (unsigned long long)cpu_xfeatures());
	if (head->xfeatures == cpu_xfeatures() && head->xstate_size == cpu_xstate_size())
		return 0;
	return saved_xstate_layout(head->xfeatures, head->xstate_size, &saved, ctx->err);
}

/* Everything that can be checked before any process is created. */
int check_tree_restartable(struct restore_context *ctx)
{
	_cleanup_free_ char *status = NULL;
	uint64_t caller_caps;
	int ret = check_cpu(ctx);

	if (ret == 0)
		ret = read_own_status(&status, ctx->err);
	if (ret < 0)
		return ret;
	caller_caps = parse_hex_field(status, "CapEff");
	for (size_t i = 0; ret == 0 && i < ctx->tree.entry_count; i++) {
		const struct ckpt_tree_entry *entry = &ctx->tree.entries[i];

		if (entry->state == CKPT_TREE_ALIVE)
			ret = check_privilege(ctx, entry, caller_caps);
		if (ret == 0 && !(ctx->options->flags & CKPT_OPT_PIDNS))
			ret = check_pid_free(ctx, entry->pid);
	}
	return ret;
}

static int check_rlimits(struct restore_context *ctx)
{
	for (unsigned resource = 0; resource < CKPT_MAX_RLIMITS; resource++) {
		struct rlimit ours;

		if (getrlimit((__rlimit_resource_t)resource, &ours) < 0)
			continue;
		if (ctx->image.rlimits.limits[resource].hard > ours.rlim_max)
			return fail(ctx->err, EPERM,
				    "the image's hard limit %u (%llu) is above the caller's (%llu)",
				    resource,
				    (unsigned long long)ctx->image.rlimits.limits[resource].hard,
				    (unsigned long long)ours.rlim_max);
	}
	return 0;
}

static const struct ckpt_tree_entry *tree_entry_of(const struct image_tree *tree, pid_t pid)
{
	for (size_t i = 0; i < tree->entry_count; i++) {
		if (tree->entries[i].pid == pid)
			return &tree->entries[i];
	}
	return NULL;
}

/* A process's own records agree with what was checked from the tree. */
int check_restart_allowed(struct restore_context *ctx)
{
	const struct ckpt_tree_entry *entry = tree_entry_of(&ctx->tree, ctx->image.process.pid);
	const struct ckpt_creds *creds = &ctx->image.creds;
	uint64_t caps = creds->cap_permitted | creds->cap_effective | creds->cap_inheritable |
			creds->cap_ambient;

	if (!entry || highest_id(creds->uid) != entry->uid ||
	    highest_id(creds->gid) != entry->gid || caps != entry->capabilities)
		return fail(ctx->err, EINVAL,
			    "bad image: the credentials of process %d differ from its tree entry",
			    ctx->image.process.pid);
	return check_rlimits(ctx);
}

/* umask, name and personality, set by the husk itself (the cwd comes with the creds). */
int restore_process_attributes(struct restore_context *ctx)
{
	const struct ckpt_process *process = &ctx->image.process;
	uint64_t comm;
	int64_t ret = husk_put_data(ctx, 8192, process->comm, sizeof(process->comm), &comm);

	if (ret == 0)
		ret = husk_call(ctx, "umask", SYS_umask, process->umask, 0, 0, 0, 0, 0);
	if (ret >= 0)
		ret = husk_call(ctx, "prctl(PR_SET_NAME)", SYS_prctl, PR_SET_NAME, comm, 0, 0, 0, 0);
	if (ret >= 0)
		ret = husk_call(ctx, "personality", SYS_personality, process->personality, 0, 0, 0,
				0, 0);
	return ret < 0 ? (int)ret : 0;
}

/*
 * The cwd is entered once the process has its own credentials: the path
 * is looked up as the process, not as the restarter.
 */
static int enter_cwd(struct restore_context *ctx)
{
	uint64_t cwd;
	int64_t ret = husk_put_data(ctx, 0, ctx->image.cwd, ctx->image.process.cwd_length, &cwd);

	if (ret == 0)
		ret = husk_call(ctx, "chdir", SYS_chdir, cwd, 0, 0, 0, 0, 0);
	return ret < 0 ? (int)ret : 0;
}

int restore_rlimits(struct restore_context *ctx)
{
	for (unsigned resource = 0; resource < CKPT_MAX_RLIMITS; resource++) {
		struct rlimit limit = {
			.rlim_cur = ctx->image.rlimits.limits[resource].soft,
			.rlim_max = ctx->image.rlimits.limits[resource].hard,
		};

		if (prlimit(ctx->husk, (__rlimit_resource_t)resource, &limit, NULL) < 0)
			return fail(ctx->err, errno, "setting rlimit %u: %s", resource,
				    strerror(errno));
	}
	return 0;
}

static bool same_groups(const struct image_process *image)
{
	gid_t current[CKPT_MAX_GROUPS / 4];
	int count = getgroups((int)ARRAY_SIZE(current), current);

	if (count < 0 || (uint32_t)count != image->creds.group_count)
		return false;
	for (int i = 0; i < count; i++) {
		if (current[i] != image->groups[i])
			return false;
	}
	return true;
}

static int restore_groups(struct restore_context *ctx)
{
	const struct ckpt_creds *creds = &ctx->image.creds;
	uint64_t address;
	int ret;

	if (same_groups(&ctx->image))
		return 0;
	if (creds->group_count * sizeof(uint32_t) > CONTROL_DATA_SIZE)
		return fail(ctx->err, E2BIG, "too many supplementary groups (%u)",
			    creds->group_count);
	ret = husk_put_data(ctx, 0, ctx->image.groups, creds->group_count * sizeof(uint32_t),
			    &address);
	if (ret < 0)
		return ret;
	return (int)all_threads_call(ctx, "setgroups", SYS_setgroups, creds->group_count, address, 0);
}

/*
 * Drops from the husk's bounding set (ckpt's) what the image's lacks; it
 * cannot add any.  Needs CAP_SETPCAP, so it comes before setresuid.
 */
static int restore_bounding_set(struct restore_context *ctx)
{
	uint64_t image_bounding = ctx->image.creds.cap_bounding;
	int64_t ret = 0;

	for (unsigned long capability = 0; ret >= 0 && capability < 64; capability++) {
		bool ours = prctl(PR_CAPBSET_READ, capability, 0, 0, 0) == 1;

		if (ours && !((image_bounding >> capability) & 1))
			ret = all_threads_call(ctx, "prctl(PR_CAPBSET_DROP)", SYS_prctl,
					       PR_CAPBSET_DROP, capability, 0);
	}
	return ret < 0 ? (int)ret : 0;
}

static bool keeps_capabilities(const struct ckpt_creds *creds)
{
	return creds->cap_permitted | creds->cap_inheritable | creds->cap_ambient;
}

/*
 * Capabilities the husk keeps until the end of restore_creds() beyond the
 * image's: CAP_SETPCAP while securebits remain to be set.
 */
static uint64_t capabilities_needed_meanwhile(const struct image_process *image)
{
	return image_securebits_union(image) ? 1ull << CAP_SETPCAP : 0;
}

/* setresuid away from root empties the permitted set unless keep-caps is on. */
static int restore_uids(struct restore_context *ctx)
{
	const struct ckpt_creds *creds = &ctx->image.creds;
	bool keep = keeps_capabilities(creds) || capabilities_needed_meanwhile(&ctx->image);
	int64_t ret = 0;

	if (keep)
		ret = all_threads_call(ctx, "prctl(PR_SET_KEEPCAPS)", SYS_prctl, PR_SET_KEEPCAPS, 1,
				       0);
	if (ret >= 0)
		ret = all_threads_call(ctx, "setresuid", SYS_setresuid, creds->uid[CKPT_ID_REAL],
				       creds->uid[CKPT_ID_EFFECTIVE], creds->uid[CKPT_ID_SAVED]);
	if (ret >= 0)
		ret = all_threads_call(ctx, "setfsuid", SYS_setfsuid, creds->uid[CKPT_ID_FS], 0, 0);
	if (ret >= 0 && keep)
		ret = all_threads_call(ctx, "prctl(PR_SET_KEEPCAPS)", SYS_prctl, PR_SET_KEEPCAPS, 0,
				       0);
	return ret < 0 ? (int)ret : 0;
}

static int restore_ambient_set(struct restore_context *ctx)
{
	uint64_t ambient = ctx->image.creds.cap_ambient;
	int64_t ret = all_threads_call(ctx, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)", SYS_prctl,
				       PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0);

	for (unsigned long capability = 0; ret >= 0 && capability < 64; capability++) {
		if ((ambient >> capability) & 1)
			ret = all_threads_call(ctx, "prctl(PR_CAP_AMBIENT_RAISE)", SYS_prctl,
					       PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, capability);
	}
	return ret < 0 ? (int)ret : 0;
}

/*
 * Effective, permitted and inheritable as the image has them, plus `extra`
 * in effective and permitted: after the uids, which change them.
 */
static int set_capability_sets(struct restore_context *ctx, uint64_t extra)
{
	const struct ckpt_creds *creds = &ctx->image.creds;
	struct {
		struct __user_cap_header_struct header;
		struct __user_cap_data_struct data[2];
	} capabilities = { .header = { .version = _LINUX_CAPABILITY_VERSION_3 } };
	uint64_t address;
	int64_t ret;

	for (int half = 0; half < 2; half++) {
		capabilities.data[half] = (struct __user_cap_data_struct){
			.effective = (uint32_t)((creds->cap_effective | extra) >> (32 * half)),
			.permitted = (uint32_t)((creds->cap_permitted | extra) >> (32 * half)),
			.inheritable = (uint32_t)(creds->cap_inheritable >> (32 * half)),
		};
	}
	ret = husk_put_data(ctx, 0, &capabilities, sizeof(capabilities), &address);
	if (ret == 0)
		ret = all_threads_call(ctx, "capset", SYS_capset, address,
				       address + sizeof(capabilities.header), 0);
	return ret < 0 ? (int)ret : 0;
}

/*
 * Securebits go last (NO_CAP_AMBIENT_RAISE would forbid the ambient set,
 * KEEP_CAPS_LOCKED the keep-caps of restore_uids()); setting them needs
 * CAP_SETPCAP, dropped afterwards when the image lacks it.
 */
static int restore_capability_sets(struct restore_context *ctx)
{
	uint64_t extra = capabilities_needed_meanwhile(&ctx->image);
	int ret = set_capability_sets(ctx, extra);

	if (ret == 0)
		ret = restore_ambient_set(ctx);
	if (ret == 0 && extra)
		ret = restore_securebits(ctx);
	if (ret == 0 && extra)
		ret = set_capability_sets(ctx, 0);
	return ret;
}

int restore_creds(struct restore_context *ctx)
{
	const struct ckpt_creds *creds = &ctx->image.creds;
	int64_t ret = restore_groups(ctx);

	if (ret == 0)
		ret = all_threads_call(ctx, "setresgid", SYS_setresgid, creds->gid[CKPT_ID_REAL],
				       creds->gid[CKPT_ID_EFFECTIVE], creds->gid[CKPT_ID_SAVED]);
	if (ret >= 0)
		ret = all_threads_call(ctx, "setfsgid", SYS_setfsgid, creds->gid[CKPT_ID_FS], 0, 0);
	if (ret >= 0)
		ret = restore_bounding_set(ctx);
	if (ret >= 0)
		ret = restore_uids(ctx);
	if (ret >= 0)
		ret = restore_capability_sets(ctx);
	if (ret >= 0)
		ret = enter_cwd(ctx);
	return ret < 0 ? (int)ret : 0;
}
