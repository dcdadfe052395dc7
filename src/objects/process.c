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

#include "checkpoint.h"
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
		return fail(ctx->err, errno, "reading the cwd of process %d: %s", ctx->pid, strerror(errno));
	target[length] = '\0';
	if (strstr(target, " (deleted)"))
		return fail(ctx->err, ENOTSUP, "the cwd of process %d was deleted: %s", ctx->pid, target);
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
	uint64_t ids[3];	/* ppid, pgrp, session: fields 4-6 */
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

int collect_rlimits(struct dump_context *ctx)
{
	ctx->rlimits.count = CKPT_MAX_RLIMITS;
	for (unsigned resource = 0; resource < CKPT_MAX_RLIMITS; resource++) {
		struct rlimit limit;

		if (prlimit(ctx->pid, (__rlimit_resource_t)resource, NULL, &limit) < 0)
			return fail(ctx->err, errno, "reading rlimit %u of process %d: %s", resource,
				    ctx->pid, strerror(errno));
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

	ret = image_write_record(&ctx->writer, CKPT_RECORD_PROCESS, process, 2);
	if (ret == 0)
		ret = image_write_record(&ctx->writer, CKPT_RECORD_CREDS, creds, 2);
	if (ret == 0)
		ret = image_write_simple(&ctx->writer, CKPT_RECORD_RLIMITS, &ctx->rlimits,
					 sizeof(ctx->rlimits));
	return ret;
}
