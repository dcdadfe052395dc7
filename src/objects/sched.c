/* SPDX-License-Identifier: MIT */
/*
 * Scheduling and related attributes.  Per thread: the scheduling policy
 * with its nice value, real-time priority, SCHED_DEADLINE parameters,
 * reset-on-fork and utilization clamps (sched_getattr), and the CPU
 * affinity.  Per process: oom_score_adj, loginuid and the membarrier
 * registrations of its memory map.  All but the membarrier registrations
 * are read and set from outside; the registrations are asked for and made
 * again by the process itself (injected membarrier calls).
 *
 * Affinity on another machine: the saved mask is set as it is; the kernel
 * keeps the CPUs of it that exist.  When none of them exists there, the
 * restart fails naming the thread and its CPUs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "objects/dump.h"
#include "objects/restore.h"
#include "util.h"

#ifndef SCHED_FLAG_RESET_ON_FORK
#define SCHED_FLAG_RESET_ON_FORK 0x01
#endif
#define SCHED_FLAG_UTIL_CLAMP_MIN_V1 0x20
#define SCHED_FLAG_UTIL_CLAMP_MAX_V1 0x40
#define MEMBARRIER_CMD_GET_REGISTRATIONS_V1 (1 << 9) /* Linux 6.3 */
#define LOGINUID_UNSET 4294967295u

/* struct sched_attr of the kernel's uapi (SCHED_ATTR_SIZE_VER1). */
struct sched_attr_v1 {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
	uint32_t sched_util_min;
	uint32_t sched_util_max;
};

static int collect_thread_sched(struct dump_context *ctx, struct dump_thread *thread)
{
	struct sched_attr_v1 attr = { .size = sizeof(attr) };
	struct ckpt_thread *record = &thread->record;

	if (syscall(SYS_sched_getattr, thread->tid, &attr, sizeof(attr), 0) < 0)
		return fail(ctx->err, errno, "sched_getattr of thread %d: %s", thread->tid,
			    strerror(errno));
	if (syscall(SYS_sched_getaffinity, thread->tid, sizeof(record->affinity), record->affinity) <
	    0)
		return fail(ctx->err, errno, "sched_getaffinity of thread %d: %s", thread->tid,
			    strerror(errno));
	record->sched_policy = attr.sched_policy & 0xff; /* without SCHED_RESET_ON_FORK */
	record->sched_flags = (uint32_t)attr.sched_flags & CKPT_SCHED_FLAG_MASK;
	record->sched_nice = attr.sched_nice;
	record->sched_priority = attr.sched_priority;
	record->sched_runtime = attr.sched_runtime;
	record->sched_deadline = attr.sched_deadline;
	record->sched_period = attr.sched_period;
	record->sched_util_min = attr.sched_util_min;
	record->sched_util_max = attr.sched_util_max;
	return 0;
}

static int read_proc_number(struct dump_context *ctx, const char *name, long long *ret_value)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/%s", ctx->pid, name);
	ret = read_whole_file(path, &text, NULL, ctx->err);
	if (ret < 0)
		return ret;
	*ret_value = strtoll(text, NULL, 10);
	return 0;
}

/* 0 on a kernel before 6.3, which cannot tell. */
static int collect_membarrier(struct dump_context *ctx)
{
	int64_t registrations = dump_inject(ctx, &ctx->threads[0], "membarrier(GET_REGISTRATIONS)",
					    SYS_membarrier, MEMBARRIER_CMD_GET_REGISTRATIONS_V1, 0,
					    0, 0);

	if (registrations == -EINVAL) {
		ctx->err->code = 0;
		registrations = 0;
	}
	if (registrations < 0)
		return (int)registrations;
	if ((uint64_t)registrations & ~(uint64_t)CKPT_MEMBARRIER_MASK)
		return fail(ctx->err, ENOTSUP,
			    "process %d has membarrier registrations %#llx not known to ckpt",
			    ctx->pid, (unsigned long long)registrations);
	ctx->process.membarrier = (uint32_t)registrations;
	return 0;
}

/* Needs the threads' injectors ready (after collect_thread()). */
int collect_sched(struct dump_context *ctx)
{
	long long oom_score_adj = 0, loginuid = LOGINUID_UNSET;
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < ctx->thread_count; i++)
		ret = collect_thread_sched(ctx, &ctx->threads[i]);
	if (ret == 0)
		ret = read_proc_number(ctx, "oom_score_adj", &oom_score_adj);
	if (ret == 0)
		ret = read_proc_number(ctx, "loginuid", &loginuid);
	if (ret == 0)
		ret = collect_membarrier(ctx);
	ctx->process.oom_score_adj = (int32_t)oom_score_adj;
	ctx->process.loginuid = (uint32_t)loginuid;
	return ret;
}

/* ---- restart side ---- */

#define DATA_LOGINUID 12288

static int read_husk_number(struct restore_context *ctx, const char *name, long long *ret_value)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/%s", ctx->husk, name);
	ret = read_whole_file(path, &text, NULL, ctx->err);
	if (ret < 0)
		return ret;
	*ret_value = strtoll(text, NULL, 10);
	return 0;
}

/* Only the task itself may write its loginuid: the husk opens, writes, closes. */
static int write_husk_loginuid(struct restore_context *ctx, uint32_t loginuid)
{
	char text[16];
	int length = snprintf(text, sizeof(text), "%u", loginuid);
	const char path[] = "/proc/self/loginuid";
	uint64_t path_address, text_address;
	int64_t fd, written;
	int ret = husk_put_data(ctx, DATA_LOGINUID, path, sizeof(path), &path_address);

	if (ret == 0)
		ret = husk_put_data(ctx, DATA_LOGINUID + 64, text, (size_t)length, &text_address);
	if (ret < 0)
		return ret;
	fd = husk_call(ctx, "open /proc/self/loginuid", SYS_openat, (uint64_t)AT_FDCWD,
		       path_address, O_WRONLY | O_CLOEXEC, 0, 0, 0);
	if (fd < 0)
		return (int)fd;
	written = husk_call(ctx, "write loginuid", SYS_write, (uint64_t)fd, text_address,
			    (uint64_t)length, 0, 0, 0);
	husk_call(ctx, "close", SYS_close, (uint64_t)fd, 0, 0, 0, 0, 0);
	if (written == -EPERM || written == -EACCES) {
		ctx->err->code = 0;
		return fail(ctx->err, EPERM,
			    "process %d had loginuid %u: setting it needs CAP_AUDIT_CONTROL",
			    ctx->image.process.pid, loginuid);
	}
	return written < 0 ? (int)written : 0;
}

/*
 * Before the threads are made (they inherit it) and while the husk is
 * still root (it needs CAP_AUDIT_CONTROL).  A husk holds the restarter's
 * loginuid: nothing to do when the image's is the same.
 */
int restore_loginuid(struct restore_context *ctx)
{
	long long current = LOGINUID_UNSET;
	int ret = read_husk_number(ctx, "loginuid", &current);

	if (ret < 0)
		return ret;
	if ((uint32_t)current == ctx->image.process.loginuid)
		return 0;
	return write_husk_loginuid(ctx, ctx->image.process.loginuid);
}

/* Written only when it differs from the husk's (the restarter's): lowering needs a capability. */
static int restore_oom_score_adj(struct restore_context *ctx)
{
	char path[64], text[16];
	int value = ctx->image.process.oom_score_adj;
	int length = snprintf(text, sizeof(text), "%d", value);
	long long current = 0;
	_cleanup_close_ int fd = -1;

	if (read_husk_number(ctx, "oom_score_adj", &current) == 0 && current == value)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", ctx->husk);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(ctx->err, errno, "opening %s: %s", path, strerror(errno));
	if (write(fd, text, (size_t)length) == length)
		return 0;
	if (errno == EACCES)
		return fail(ctx->err, EACCES,
			    "process %d had oom_score_adj %d: lowering it needs CAP_SYS_RESOURCE",
			    ctx->image.process.pid, value);
	return fail(ctx->err, errno, "setting oom_score_adj %d of process %d: %s", value,
		    ctx->image.process.pid, strerror(errno));
}

static bool has_default_clamp(const struct ckpt_thread *thread)
{
	return thread->sched_util_min == 0 &&
	       (thread->sched_util_max == CKPT_SCHED_UTIL_MAX || thread->sched_util_max == 0);
}

static bool has_any_cpu(const uint64_t *affinity)
{
	for (unsigned i = 0; i < CKPT_AFFINITY_WORDS; i++) {
		if (affinity[i])
			return true;
	}
	return false;
}

/* "CPU 5", "CPUs 4, 7, ..." (the first few). */
static void describe_cpus(const uint64_t *affinity, char *out, size_t capacity)
{
	size_t used = 0;
	unsigned listed = 0;

	out[0] = '\0';
	for (unsigned cpu = 0; cpu < CKPT_AFFINITY_WORDS * 64 && used + 16 < capacity; cpu++) {
		if (!(affinity[cpu / 64] >> (cpu % 64) & 1))
			continue;
		if (listed == 6) {
			snprintf(out + used, capacity - used, ", ...");
			return;
		}
		used += (size_t)snprintf(out + used, capacity - used, "%s%u",
					 listed ? ", " : "CPU ", cpu);
		listed++;
	}
}

/* An empty mask was not saved (a tool wrote the image): the husk keeps its own. */
static bool is_same_sched(const struct sched_attr_v1 *current, const struct sched_attr_v1 *wanted)
{
	return (current->sched_policy & 0xff) == wanted->sched_policy &&
	       (current->sched_flags & CKPT_SCHED_FLAG_MASK) == wanted->sched_flags &&
	       current->sched_nice == wanted->sched_nice &&
	       current->sched_priority == wanted->sched_priority &&
	       current->sched_runtime == wanted->sched_runtime &&
	       current->sched_deadline == wanted->sched_deadline &&
	       current->sched_period == wanted->sched_period &&
	       current->sched_util_min == wanted->sched_util_min &&
	       current->sched_util_max == wanted->sched_util_max;
}

static int restore_thread_affinity(struct restore_context *ctx, size_t index)
{
	const struct ckpt_thread *thread = &ctx->image.threads[index].thread;

	if (!has_any_cpu(thread->affinity))
		return 0;
	if (syscall(SYS_sched_setaffinity, ctx->thread_tids[index], sizeof(thread->affinity),
		    thread->affinity) == 0)
		return 0;
	if (errno == EINVAL) {
		char cpus[64];

		describe_cpus(thread->affinity, cpus, sizeof(cpus));
		return fail(ctx->err, EINVAL,
			    "thread %d ran only on CPUs that this machine lacks (%s)", thread->tid,
			    cpus);
	}
	return fail(ctx->err, errno, "sched_setaffinity of thread %d: %s", thread->tid,
		    strerror(errno));
}

/*
 * SCHED_IDLE takes no nice value, yet keeps (and reports) the one the
 * thread had: a husk has ckpt's, so the image's is set first, as
 * SCHED_OTHER.  Returns 0 or -1 with errno.
 */
static int set_idle_thread_nice(pid_t tid, const struct sched_attr_v1 *wanted)
{
	struct sched_attr_v1 other = { .size = sizeof(other), .sched_nice = wanted->sched_nice };

	if (wanted->sched_policy != SCHED_IDLE)
		return 0;
	return (int)syscall(SYS_sched_setattr, tid, &other, 0);
}

static int restore_thread_sched(struct restore_context *ctx, size_t index)
{
	const struct ckpt_thread *thread = &ctx->image.threads[index].thread;
	struct sched_attr_v1 attr = {
		.size = sizeof(attr),
		.sched_policy = thread->sched_policy,
		.sched_flags = thread->sched_flags,
		.sched_nice = thread->sched_nice,
		.sched_priority = thread->sched_priority,
		.sched_runtime = thread->sched_runtime,
		.sched_deadline = thread->sched_deadline,
		.sched_period = thread->sched_period,
		.sched_util_min = thread->sched_util_min,
		.sched_util_max = thread->sched_util_max,
	};
	struct sched_attr_v1 current = { .size = sizeof(current) };
	int ret = restore_thread_affinity(ctx, index);

	if (ret < 0)
		return ret;
	if (syscall(SYS_sched_getattr, ctx->thread_tids[index], &current, sizeof(current), 0) == 0 &&
	    is_same_sched(&current, &attr))
		return 0; /* nothing to ask for: an unprivileged restarter may not */
	if (!has_default_clamp(thread))
		attr.sched_flags |= SCHED_FLAG_UTIL_CLAMP_MIN_V1 | SCHED_FLAG_UTIL_CLAMP_MAX_V1;
	ret = set_idle_thread_nice(ctx->thread_tids[index], &attr);
	if (ret == 0 && syscall(SYS_sched_setattr, ctx->thread_tids[index], &attr, 0) == 0)
		return 0;
	return fail(ctx->err, errno,
		    "setting the scheduling policy %u (nice %d, priority %u) of thread %d: %s",
		    thread->sched_policy, thread->sched_nice, thread->sched_priority, thread->tid,
		    strerror(errno));
}

static int restore_membarrier(struct restore_context *ctx)
{
	uint32_t registrations = ctx->image.process.membarrier;

	for (uint32_t bit = 1; bit <= CKPT_MEMBARRIER_MASK; bit <<= 1) {
		int64_t ret;

		if (!(registrations & bit))
			continue;
		ret = husk_call(ctx, "membarrier (register)", SYS_membarrier, bit, 0, 0, 0, 0, 0);
		if (ret < 0)
			return (int)ret;
	}
	return 0;
}

/*
 * Just before the registers: a real-time policy or an affinity away from
 * the restarter's CPU would only slow the injections down.
 */
int restore_sched(struct restore_context *ctx)
{
	int ret = restore_membarrier(ctx);

	if (ret == 0)
		ret = restore_oom_score_adj(ctx);
	for (size_t i = 0; ret == 0 && i < ctx->image.thread_count; i++)
		ret = restore_thread_sched(ctx, i);
	return ret;
}
