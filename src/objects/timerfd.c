/* SPDX-License-Identifier: MIT */
/*
 * timerfd: clock, interval, time to the next expiry and the expirations
 * not read yet.  The kernel counts a periodic timer's missed periods only
 * when it is read, so checkpoint reads the count through its own copy of
 * the file and gives it back with TFD_IOC_SET_TICKS: the target keeps its
 * expirations, the image gets the exact number.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "objects/dump.h"
#include "objects/event_files.h"
#include "objects/file_kinds.h"
#include "objects/restore.h"
#include "util.h"

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif

#define NS_PER_SECOND 1000000000ull

static uint64_t timespec_ns(const struct timespec *time)
{
	return (uint64_t)time->tv_sec * NS_PER_SECOND + (uint64_t)time->tv_nsec;
}

static struct timespec ns_timespec(uint64_t ns)
{
	return (struct timespec){ .tv_sec = (time_t)(ns / NS_PER_SECOND),
				  .tv_nsec = (long)(ns % NS_PER_SECOND) };
}

static uint64_t clock_now_ns(clockid_t clock_id)
{
	struct timespec now;

	clock_gettime(clock_id == CLOCK_REALTIME_ALARM	 ? CLOCK_REALTIME
		      : clock_id == CLOCK_BOOTTIME_ALARM ? CLOCK_BOOTTIME
							 : clock_id,
		      &now);
	return timespec_ns(&now);
}

/* Reads the pending expirations (the file is not blocking then: ticks > 0) and puts them back. */
static int count_ticks(struct dump_context *ctx, int fd, int timer, uint64_t *ret_ticks)
{
	uint64_t ticks = 0;

	if (read(timer, &ticks, sizeof(ticks)) != sizeof(ticks))
		return fail(ctx->err, errno,
			    "reading the expirations of timerfd %d of process %d: %s", fd, ctx->pid,
			    strerror(errno));
	if (ioctl(timer, TFD_IOC_SET_TICKS, &ticks) < 0)
		return fail(ctx->err, errno,
			    "giving back %llu expirations to timerfd %d of process %d: %s",
			    (unsigned long long)ticks, fd, ctx->pid, strerror(errno));
	*ret_ticks = ticks;
	return 0;
}

static int read_timer(struct dump_context *ctx, int fd, const char *fdinfo, struct ckpt_timerfd *state)
{
	_cleanup_close_ int timer = take_target_file(ctx, fd);
	struct itimerspec setting;
	uint64_t ticks = 0;
	int ret;

	if (timer < 0)
		return timer;
	ret = fdinfo_number(ctx, fdinfo, "ticks", 10, fd, &ticks);
	if (ret == 0 && ticks > 0)
		ret = count_ticks(ctx, fd, timer, &ticks);
	if (ret < 0)
		return ret;
	if (timerfd_gettime(timer, &setting) < 0)
		return fail(ctx->err, errno, "timerfd_gettime on fd %d of process %d: %s", fd,
			    ctx->pid, strerror(errno));
	state->ticks = ticks;
	state->interval_ns = timespec_ns(&setting.it_interval);
	state->remaining_ns = timespec_ns(&setting.it_value);
	if (state->remaining_ns == 0 && state->interval_ns != 0)
		state->remaining_ns = 1; /* armed, due now */
	if (state->settime_flags & CKPT_TIMERFD_ABSTIME)
		state->expiry_ns = clock_now_ns(state->clock_id) + state->remaining_ns;
	return 0;
}

static bool is_timerfd(const struct fd_facts *facts)
{
	return is_anon_inode_of(facts, "timerfd");
}

/* fdinfo: "clockid: N", "ticks: N", "settime flags: 0<octal>". */
static int collect_timerfd(struct dump_context *ctx, const struct fd_facts *facts,
			   struct dump_file *file)
{
	struct ckpt_timerfd *state;
	_cleanup_free_ char *text = NULL;
	uint64_t clock_id = 0, settime_flags = 0;
	int fd = facts->fd, ret = read_event_fdinfo(ctx, fd, &text);

	if (ret == 0)
		ret = fdinfo_number(ctx, text, "clockid", 10, fd, &clock_id);
	if (ret == 0)
		ret = fdinfo_number(ctx, text, "settime flags", 8, fd, &settime_flags);
	if (ret < 0)
		return ret;
	state = malloc(sizeof(*state));
	if (!state)
		return fail(ctx->err, ENOMEM, "out of memory");
	file->kind_state = state;
	*state = (struct ckpt_timerfd){
		.file_id = file->record.id,
		.clock_id = (int32_t)clock_id,
		.settime_flags = (uint32_t)settime_flags &
				 (TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET),
	};
	return read_timer(ctx, fd, text, state);
}

static int write_timerfd(struct dump_shared *shared, const struct dump_file *file)
{
	return image_write_simple(&shared->writer, CKPT_RECORD_TIMERFD, file->kind_state,
				  sizeof(struct ckpt_timerfd));
}

/* ---- restart side ---- */

static bool is_wall_clock(int32_t clock_id)
{
	return clock_id == CLOCK_REALTIME || clock_id == CLOCK_REALTIME_ALARM;
}

/* Wall-clock deadlines stay; other clocks keep the time that was left. */
static struct itimerspec restarted_setting(const struct ckpt_timerfd *state)
{
	struct itimerspec setting = { .it_interval = ns_timespec(state->interval_ns) };
	uint64_t next = state->remaining_ns;

	if (next && (state->settime_flags & CKPT_TIMERFD_ABSTIME))
		next = is_wall_clock(state->clock_id) ? state->expiry_ns
						      : clock_now_ns(state->clock_id) + next;
	setting.it_value = ns_timespec(next);
	return setting;
}

static int arm_timer(struct restore_context *ctx, const struct ckpt_timerfd *state, int fd)
{
	struct itimerspec setting = restarted_setting(state);
	uint64_t ticks = state->ticks;

	if (timerfd_settime(fd, (int)state->settime_flags, &setting, NULL) < 0)
		return fail(ctx->err, errno, "timerfd_settime: %s", strerror(errno));
	if (ticks && ioctl(fd, TFD_IOC_SET_TICKS, &ticks) < 0)
		return fail(ctx->err, errno, "setting %llu expirations of a timerfd: %s",
			    (unsigned long long)ticks, strerror(errno));
	return 0;
}

static int create_timerfd(struct restore_context *ctx, const struct file_opener *opener,
			  const struct image_file *file, int *ret_fd)
{
	const struct ckpt_timerfd *state = image_file_timerfd(file);
	int flags = TFD_CLOEXEC | (int)(file->file.open_flags & O_NONBLOCK);
	int fd, ret = begin_event_file(ctx);

	(void)opener;
	if (ret < 0)
		return ret;
	fd = timerfd_create(state->clock_id, flags);
	if (fd < 0)
		return fail(ctx->err, errno, "timerfd_create(clock %d): %s", state->clock_id,
			    strerror(errno));
	ret = arm_timer(ctx, state, fd);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	*ret_fd = fd;
	return 0;
}

const struct file_kind_ops timerfd_ops = {
	.kind = CKPT_FILE_TIMERFD,
	.recognise = is_timerfd,
	.collect = collect_timerfd,
	.write_state = write_timerfd,
	.free_state = free_plain_state,
	.create = create_timerfd,
};
