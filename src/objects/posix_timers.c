/* SPDX-License-Identifier: MIT */
/*
 * POSIX timers (timer_create): created again with the same ids.
 *
 * Dump: /proc/PID/timers gives each timer's id, signal, sigev_value,
 * notification and clock; timer_gettime and timer_getoverrun run inside the
 * target give the interval, the time left and the overrun count.
 * Restore: with PR_TIMER_CREATE_RESTORE_IDS (Linux 6.17) timer_create takes
 * the id it is given; each timer is armed with the time that was left.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "objects/dump.h"
#include "objects/restore.h"
#include "util.h"

#ifndef PR_TIMER_CREATE_RESTORE_IDS
#define PR_TIMER_CREATE_RESTORE_IDS 77
#define PR_TIMER_CREATE_RESTORE_IDS_OFF 0
#define PR_TIMER_CREATE_RESTORE_IDS_ON 1
#endif

static uint64_t timespec_ns(const struct timespec *time)
{
	return (uint64_t)time->tv_sec * 1000000000ull + (uint64_t)time->tv_nsec;
}

static struct timespec ns_to_timespec(uint64_t ns)
{
	return (struct timespec){ .tv_sec = (time_t)(ns / 1000000000ull),
				  .tv_nsec = (long)(ns % 1000000000ull) };
}

static int notify_mode(const char *name, const char *target, uint32_t *ret_notify)
{
	uint32_t thread_flag = strcmp(target, "tid") == 0 ? CKPT_TIMER_NOTIFY_THREAD_ID : 0;

	if (strcmp(target, "tid") != 0 && strcmp(target, "pid") != 0)
		return -EINVAL;
	if (strcmp(name, "signal") == 0)
		*ret_notify = CKPT_TIMER_NOTIFY_SIGNAL | thread_flag;
	else if (strcmp(name, "none") == 0)
		*ret_notify = CKPT_TIMER_NOTIFY_NONE | thread_flag;
	else if (strcmp(name, "thread") == 0)
		*ret_notify = CKPT_TIMER_NOTIFY_THREAD | thread_flag;
	else
		return -EINVAL;
	return 0;
}

/*
 * "ID: 0\nsignal: 10/0000000000001234\nnotify: signal/pid.14283\nClockID: 1\n";
 * returns where the next timer starts, or NULL when the text is not that.
 */
static const char *parse_timer(const char *text, struct ckpt_posix_timer *ret_timer)
{
	char name[16], target[8];
	unsigned long long value;
	int signal, notify_pid, consumed = 0;

	if (sscanf(text, "ID: %d\nsignal: %d/%llx\nnotify: %15[a-z]/%7[a-z].%d\nClockID: %d\n%n",
		   &ret_timer->id, &signal, &value, name, target, &notify_pid, &ret_timer->clock_id,
		   &consumed) != 7 ||
	    consumed == 0)
		return NULL;
	if (notify_mode(name, target, &ret_timer->notify) < 0 || signal < 0)
		return NULL;
	ret_timer->value = value;
	ret_timer->signal = (uint32_t)signal;
	ret_timer->thread_id = ret_timer->notify & CKPT_TIMER_NOTIFY_THREAD_ID ? notify_pid : 0;
	if (ret_timer->notify == CKPT_TIMER_NOTIFY_NONE && signal > (int)CKPT_MAX_SIGNALS)
		ret_timer->signal = 0; /* never sent: any number was accepted */
	return text + consumed;
}

/*
 * CLOCK_THREAD_CPUTIME_ID, or the CPU clock of "the calling thread" as
 * glibc encodes it (pid 0 with the per-thread bit: -2 for CPUCLOCK_SCHED).
 */
static bool is_calling_thread_clock(int32_t clock_id)
{
	const int32_t per_thread = 4;

	return clock_id == CLOCK_THREAD_CPUTIME_ID ||
	       (clock_id < 0 && (clock_id & per_thread) && ~(clock_id >> 3) == 0);
}

/* A thread's own CPU clock is the creating thread's, which /proc does not name. */
static int check_restorable(const struct dump_context *ctx, const struct ckpt_posix_timer *timer)
{
	if (timer->notify != CKPT_TIMER_NOTIFY_THREAD_ID && timer->notify > CKPT_TIMER_NOTIFY_THREAD)
		return fail(ctx->err, ENOTSUP,
			    "POSIX timer %d of process %d: unknown notification %u", timer->id,
			    ctx->pid, timer->notify);
	if (is_calling_thread_clock(timer->clock_id) && ctx->thread_count > 1)
		return fail(ctx->err, ENOTSUP,
			    "POSIX timer %d of process %d counts the CPU time of the thread that created it (CLOCK_THREAD_CPUTIME_ID), which /proc does not name: not supported with several threads",
			    timer->id, ctx->pid);
	return 0;
}

/* timer_gettime and timer_getoverrun, run by the target's first thread. */
static int read_timer_state(struct dump_context *ctx, struct ckpt_posix_timer *timer)
{
	struct dump_thread *thread = &ctx->threads[0];
	struct itimerspec setting;
	int64_t overrun;
	int64_t ret = dump_inject(ctx, thread, "timer_gettime", SYS_timer_gettime,
				  (uint64_t)timer->id, scratch_data(ctx), 0, 0);

	if (ret == 0)
		ret = dump_read_memory(ctx, scratch_data(ctx), &setting, sizeof(setting));
	if (ret < 0)
		return (int)ret;
	overrun = dump_inject(ctx, thread, "timer_getoverrun", SYS_timer_getoverrun,
			      (uint64_t)timer->id, 0, 0, 0);
	if (overrun < 0)
		return (int)overrun;
	timer->overrun = (int32_t)overrun;
	timer->interval_ns = timespec_ns(&setting.it_interval);
	timer->remaining_ns = timespec_ns(&setting.it_value);
	return 0;
}

static int add_timer(struct dump_context *ctx, const struct ckpt_posix_timer *timer)
{
	size_t count = ctx->posix_timer_count;
	struct ckpt_posix_timer *grown = realloc(ctx->posix_timers, (count + 1) * sizeof(*grown));

	if (!grown)
		return fail(ctx->err, ENOMEM, "out of memory");
	ctx->posix_timers = grown;
	ctx->posix_timers[ctx->posix_timer_count++] = *timer;
	return 0;
}

static int collect_one_timer(struct dump_context *ctx, const char **cursor)
{
	struct ckpt_posix_timer timer = { 0 };
	const char *next = parse_timer(*cursor, &timer);
	int ret;

	if (!next)
		return fail(ctx->err, EINVAL, "cannot parse /proc/%d/timers at: %.40s", ctx->pid,
			    *cursor);
	ret = check_restorable(ctx, &timer);
	if (ret == 0)
		ret = read_timer_state(ctx, &timer);
	if (ret == 0)
		ret = add_timer(ctx, &timer);
	*cursor = next;
	return ret;
}

/* Needs the scratch area: the injected timer_gettime writes into it. */
int collect_posix_timers(struct dump_context *ctx)
{
	_cleanup_free_ char *text = NULL;
	char path[64];
	const char *cursor;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/timers", ctx->pid);
	ret = read_whole_file(path, &text, NULL, ctx->err);
	for (cursor = text; ret == 0 && cursor && *cursor;)
		ret = collect_one_timer(ctx, &cursor);
	if (ret == 0 && ctx->posix_timer_count > CKPT_MAX_POSIX_TIMERS)
		ret = fail(ctx->err, E2BIG, "process %d has more than %u POSIX timers", ctx->pid,
			   CKPT_MAX_POSIX_TIMERS);
	return ret;
}

int write_posix_timers(struct dump_context *ctx)
{
	for (size_t i = 0; i < ctx->posix_timer_count; i++) {
		int ret = image_write_simple(ctx->writer, CKPT_RECORD_POSIX_TIMER,
					     &ctx->posix_timers[i], sizeof(ctx->posix_timers[i]));

		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ---- restart side ---- */

enum {
	TIMER_DATA = 8192,
	TIMER_ID_DATA = TIMER_DATA + 64,
	TIMER_SETTING_DATA = TIMER_DATA + 128
};

static int create_timer(struct restore_context *ctx, const struct ckpt_posix_timer *timer)
{
	struct sigevent event = {
		.sigev_value.sival_ptr = (void *)(uintptr_t)timer->value,
		.sigev_signo = (int)timer->signal,
		.sigev_notify = (int)timer->notify,
	};
	int32_t id = timer->id;
	uint64_t event_address, id_address;
	char what[64];
	int64_t ret;

	event._sigev_un._tid = timer->thread_id;
	ret = husk_put_data(ctx, TIMER_DATA, &event, sizeof(event), &event_address);
	if (ret == 0)
		ret = husk_put_data(ctx, TIMER_ID_DATA, &id, sizeof(id), &id_address);
	snprintf(what, sizeof(what), "timer_create of POSIX timer %d (clock %d)", timer->id,
		 timer->clock_id);
	if (ret == 0)
		ret = husk_call(ctx, what, SYS_timer_create, (uint64_t)(int64_t)timer->clock_id,
				event_address, id_address, 0, 0, 0);
	return ret < 0 ? (int)ret : 0;
}

/* Every clock keeps the time that was left: relative, as TIMER_ABSTIME is not shown. */
static int arm_timer(struct restore_context *ctx, const struct ckpt_posix_timer *timer)
{
	struct itimerspec setting = {
		.it_interval = ns_to_timespec(timer->interval_ns),
		.it_value = ns_to_timespec(timer->remaining_ns),
	};
	uint64_t address;
	int64_t ret;

	if (!timer->remaining_ns)
		return 0;
	ret = husk_put_data(ctx, TIMER_SETTING_DATA, &setting, sizeof(setting), &address);
	if (ret == 0)
		ret = husk_call(ctx, "timer_settime", SYS_timer_settime, (uint64_t)timer->id, 0,
				address, 0, 0, 0);
	return ret < 0 ? (int)ret : 0;
}

/* EINVAL before Linux 6.17: inject's message names the call and the version. */
static int set_restore_ids(struct restore_context *ctx, uint64_t mode)
{
	int64_t ret = husk_call(
		ctx,
		"prctl(PR_TIMER_CREATE_RESTORE_IDS, Linux 6.17 or later) to recreate POSIX timers with their ids",
		SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS, mode, 0, 0, 0, 0);

	return ret < 0 ? (int)ret : 0;
}

int restore_posix_timers(struct restore_context *ctx)
{
	int ret;

	if (ctx->image.posix_timer_count == 0)
		return 0;
	ret = set_restore_ids(ctx, PR_TIMER_CREATE_RESTORE_IDS_ON);
	for (size_t i = 0; ret == 0 && i < ctx->image.posix_timer_count; i++) {
		ret = create_timer(ctx, &ctx->image.posix_timers[i]);
		if (ret == 0)
			ret = arm_timer(ctx, &ctx->image.posix_timers[i]);
	}
	if (ret == 0)
		ret = set_restore_ids(ctx, PR_TIMER_CREATE_RESTORE_IDS_OFF);
	return ret;
}
