/* SPDX-License-Identifier: MIT */
/*
 * seccomp: each thread's mode (/proc status "Seccomp:") and, in filter mode,
 * its filters, read back with PTRACE_SECCOMP_GET_FILTER (index 0 is the
 * oldest, whatever the man page says: the kernel counts back from the
 * newest, count - index steps) and PTRACE_SECCOMP_GET_METADATA (the LOG flag).
 *
 * Injected syscalls are filtered like the thread's own: a filter could
 * refuse them or kill the thread, and strict mode allows only read, write,
 * exit and sigreturn.  So, at checkpoint and at restart, a thread under
 * seccomp is traced with PTRACE_O_SUSPEND_SECCOMP (needs CAP_SYS_ADMIN):
 * its filters do not apply while ckpt holds it, and apply again from the
 * moment it is let go.  Restart installs the filters while the husk is
 * still root (seccomp() then needs no no_new_privs): the filters every
 * thread shares first, once, with SECCOMP_FILTER_FLAG_TSYNC from the main
 * thread, so the threads share them again; then each thread's own, oldest
 * first.  A strict-mode thread gets prctl(PR_SET_SECCOMP, STRICT).
 *
 * Refused by name: a filter that can hand a syscall to a user-space
 * listener (SECCOMP_RET_USER_NOTIF, or an action computed at run time),
 * and a filter the kernel cannot give back.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include "objects/dump.h"
#include "objects/restore.h"
#include "util.h"

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif
#ifndef PTRACE_SECCOMP_GET_METADATA
#define PTRACE_SECCOMP_GET_METADATA 0x420d
#endif
#ifndef PTRACE_O_SUSPEND_SECCOMP
#define PTRACE_O_SUSPEND_SECCOMP (1 << 21)
#endif
#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
#endif

struct seccomp_metadata_v1 {
	uint64_t filter_off;
	uint64_t flags;
};

static int suspend_seccomp(pid_t tid, long options, struct ckpt_error *err)
{
	if (ptrace(PTRACE_SETOPTIONS, tid, NULL, (void *)(options | PTRACE_O_SUSPEND_SECCOMP)) == 0)
		return 0;
	if (errno == EPERM)
		return fail(err, EPERM,
			    "thread %d runs under seccomp: checkpoint and restart of seccomp need CAP_SYS_ADMIN, and ckpt itself not under seccomp",
			    tid);
	return fail(err, errno, "suspending seccomp of thread %d (PTRACE_O_SUSPEND_SECCOMP): %s",
		    tid, strerror(errno));
}

/* Whether the filter can return SECCOMP_RET_USER_NOTIF: a listener ckpt cannot make again. */
static bool may_notify_listener(const struct sock_filter *program, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		const struct sock_filter *insn = &program[i];

		if (BPF_CLASS(insn->code) != BPF_RET)
			continue;
		if (BPF_RVAL(insn->code) != BPF_K)
			return true; /* the action is computed: it could be */
		if ((insn->k & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_USER_NOTIF)
			return true;
	}
	return false;
}

static int read_filter_flags(struct dump_context *ctx, pid_t tid, long index, uint32_t *ret_flags)
{
	struct seccomp_metadata_v1 metadata = { .filter_off = (uint64_t)index };

	if (ptrace(PTRACE_SECCOMP_GET_METADATA, tid, (void *)sizeof(metadata), &metadata) < 0)
		return fail(ctx->err, errno,
			    "reading the flags of seccomp filter %ld of thread %d: %s", index, tid,
			    strerror(errno));
	*ret_flags = metadata.flags & SECCOMP_FILTER_FLAG_LOG ? CKPT_SECCOMP_LOG : 0;
	return 0;
}

/* Filter `index` (0: the oldest) into *ret_filter; -ENOENT past the newest. */
static int read_filter(struct dump_context *ctx, pid_t tid, long index,
		       struct dump_seccomp *ret_filter)
{
	long count = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)index, NULL);
	_cleanup_free_ uint64_t *program = NULL;

	if (count < 0 && errno == ENOENT)
		return -ENOENT;
	if (count < 0)
		return fail(ctx->err, errno,
			    "reading seccomp filter %ld of thread %d of process %d: %s", index, tid,
			    ctx->pid, strerror(errno));
	if (count == 0 || count > CKPT_MAX_SECCOMP_INSTRUCTIONS)
		return fail(ctx->err, EINVAL, "seccomp filter %ld of thread %d has %ld instructions",
			    index, tid, count);
	program = calloc((size_t)count, sizeof(*program));
	if (!program)
		return fail(ctx->err, ENOMEM, "out of memory");
	if (ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)index, program) != count)
		return fail(ctx->err, EIO, "seccomp filter %ld of thread %d changed while read",
			    index, tid);
	if (may_notify_listener((const struct sock_filter *)program, (uint32_t)count))
		return fail(ctx->err, ENOTSUP,
			    "thread %d of process %d has a seccomp filter that may notify a listener (SECCOMP_RET_USER_NOTIF): not supported",
			    tid, ctx->pid);
	ret_filter->record =
		(struct ckpt_seccomp){ .tid = tid, .instruction_count = (uint32_t)count };
	ret_filter->program = program;
	program = NULL;
	return read_filter_flags(ctx, tid, index, &ret_filter->record.flags);
}

static int append_filter(struct dump_context *ctx, struct dump_thread *thread,
			 const struct dump_seccomp *filter)
{
	size_t count = thread->record.seccomp_filter_count;
	struct dump_seccomp *grown = realloc(thread->seccomp_filters, (count + 1) * sizeof(*grown));

	if (!grown)
		return fail(ctx->err, ENOMEM, "out of memory");
	thread->seccomp_filters = grown;
	grown[count] = *filter;
	thread->record.seccomp_filter_count++;
	return 0;
}

/* Oldest first, as the kernel counts them. */
static int read_filters(struct dump_context *ctx, struct dump_thread *thread)
{
	long index = 0;
	int ret;

	for (;;) {
		struct dump_seccomp filter = { .program = NULL };

		ret = read_filter(ctx, thread->tid, index, &filter);
		if (ret == -ENOENT)
			break;
		if (ret == 0)
			ret = append_filter(ctx, thread, &filter);
		if (ret < 0) {
			free(filter.program);
			return ret;
		}
		if (++index > (long)CKPT_MAX_SECCOMP_FILTERS)
			return fail(ctx->err, E2BIG, "thread %d has too many seccomp filters",
				    thread->tid);
	}
	return 0;
}

/*
 * `mode` is the thread's "Seccomp:" status field.  Called before anything
 * is injected in the thread.
 */
int collect_thread_seccomp(struct dump_context *ctx, struct dump_thread *thread, const char *mode)
{
	int ret;

	if (*mode == '0')
		return 0;
	if (*mode != '1' && *mode != '2')
		return fail(ctx->err, ENOTSUP, "thread %d of process %d: unknown seccomp mode %.8s",
			    thread->tid, ctx->pid, mode);
	ret = suspend_seccomp(thread->tid, PTRACE_O_TRACESYSGOOD, ctx->err);
	if (ret < 0)
		return ret;
	thread->record.seccomp_mode = *mode == '1' ? CKPT_SECCOMP_STRICT : CKPT_SECCOMP_FILTER;
	if (thread->record.seccomp_mode == CKPT_SECCOMP_STRICT)
		return 0;
	ret = read_filters(ctx, thread);
	if (ret == 0 && thread->record.seccomp_filter_count == 0)
		ret = fail(ctx->err, EIO, "thread %d is in seccomp filter mode with no filter",
			   thread->tid);
	return ret;
}

int write_seccomp_filters(struct dump_context *ctx)
{
	for (size_t i = 0; i < ctx->thread_count; i++) {
		const struct dump_thread *thread = &ctx->threads[i];

		for (uint32_t k = 0; k < thread->record.seccomp_filter_count; k++) {
			struct dump_seccomp *filter = &thread->seccomp_filters[k];
			struct iovec parts[2] = {
				{ &filter->record, sizeof(filter->record) },
				{ filter->program,
				  filter->record.instruction_count * sizeof(uint64_t) },
			};
			int ret = image_write_record(ctx->writer, CKPT_RECORD_SECCOMP, parts, 2);

			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

void free_thread_seccomp(struct dump_thread *thread)
{
	for (uint32_t k = 0; k < thread->record.seccomp_filter_count; k++)
		free(thread->seccomp_filters[k].program);
	free(thread->seccomp_filters);
	thread->seccomp_filters = NULL;
}

/* ---- restart side ---- */

#define DATA_SECCOMP_PROG 16384 /* struct sock_fprog */
#define DATA_SECCOMP_CODE 24576 /* up to 32 KiB of instructions */

/* The filters of thread `index`, oldest first, and how many. */
static const struct image_seccomp *thread_filters(const struct image_process *image, size_t index,
						  size_t *ret_count)
{
	int32_t tid = image->threads[index].thread.tid;
	const struct image_seccomp *first = NULL;

	*ret_count = 0;
	for (size_t i = 0; i < image->seccomp_filter_count; i++) {
		if (image->seccomp_filters[i].filter.tid != tid)
			continue;
		if (!first)
			first = &image->seccomp_filters[i];
		(*ret_count)++;
	}
	return first;
}

static bool same_filter(const struct image_seccomp *a, const struct image_seccomp *b)
{
	return a->filter.flags == b->filter.flags &&
	       a->filter.instruction_count == b->filter.instruction_count &&
	       memcmp(a->program, b->program, a->filter.instruction_count * sizeof(uint64_t)) == 0;
}

/*
 * How many of the oldest filters every thread has, the same programs in the
 * same order: inherited from one thread, or synced with TSYNC.
 */
static size_t shared_filter_count(const struct image_process *image)
{
	size_t main_count, shared;
	const struct image_seccomp *main_filters = thread_filters(image, 0, &main_count);

	shared = main_count;
	for (size_t i = 1; i < image->thread_count && shared > 0; i++) {
		size_t count, same = 0;
		const struct image_seccomp *filters = thread_filters(image, i, &count);

		while (same < shared && same < count &&
		       same_filter(&main_filters[same], &filters[same]))
			same++;
		shared = same;
	}
	return shared;
}

static bool has_seccomp(const struct image_process *image)
{
	for (size_t i = 0; i < image->thread_count; i++) {
		if (image->threads[i].thread.seccomp_mode != CKPT_SECCOMP_DISABLED)
			return true;
	}
	return false;
}

static int install_filter(struct restore_context *ctx, size_t index,
			  const struct image_seccomp *filter, unsigned int extra_flags)
{
	uint32_t count = filter->filter.instruction_count;
	unsigned int flags = extra_flags |
			     (filter->filter.flags & CKPT_SECCOMP_LOG ? SECCOMP_FILTER_FLAG_LOG : 0);
	struct {
		uint16_t len;
		uint16_t pad[3];
		uint64_t filter;
	} prog = { .len = (uint16_t)count };
	uint64_t prog_address;
	int64_t ret = husk_put_data(ctx, DATA_SECCOMP_CODE, filter->program,
				    count * sizeof(uint64_t), &prog.filter);

	if (ret == 0)
		ret = husk_put_data(ctx, DATA_SECCOMP_PROG, &prog, sizeof(prog), &prog_address);
	if (ret == 0)
		ret = thread_call(ctx, index, "seccomp(SECCOMP_SET_MODE_FILTER)", SYS_seccomp,
				  SECCOMP_SET_MODE_FILTER, flags, prog_address, 0);
	if (ret > 0) /* TSYNC: the thread that could not be synced */
		return fail(ctx->err, EBUSY, "seccomp TSYNC failed at thread %lld", (long long)ret);
	return ret < 0 ? (int)ret : 0;
}

static int install_thread_filters(struct restore_context *ctx, size_t index, size_t first)
{
	size_t count;
	const struct image_seccomp *filters = thread_filters(&ctx->image, index, &count);

	for (size_t k = first; k < count; k++) {
		int ret = install_filter(ctx, index, &filters[k], 0);

		if (ret < 0)
			return ret;
	}
	if (ctx->image.threads[index].thread.seccomp_mode != CKPT_SECCOMP_STRICT)
		return 0;
	return (int)thread_call(ctx, index, "prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT)", SYS_prctl,
				PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0);
}

/*
 * A step before the credentials: the husk is still root, so seccomp()
 * needs no no_new_privs (restore_prctl() sets it after, where the image
 * has it; TSYNC would copy the main thread's to every thread).
 */
int restore_seccomp(struct restore_context *ctx)
{
	const struct image_process *image = &ctx->image;
	size_t shared = shared_filter_count(image);
	size_t main_count;
	const struct image_seccomp *main_filters = thread_filters(image, 0, &main_count);
	int ret = 0;

	if (!has_seccomp(image))
		return 0;
	for (size_t i = 0; ret == 0 && i < image->thread_count; i++)
		ret = suspend_seccomp(ctx->thread_tids[i],
				      PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE,
				      ctx->err);
	for (size_t k = 0; ret == 0 && k < shared; k++)
		ret = install_filter(ctx, 0, &main_filters[k], SECCOMP_FILTER_FLAG_TSYNC);
	for (size_t i = 0; ret == 0 && i < image->thread_count; i++)
		ret = install_thread_filters(ctx, i, shared);
	return ret;
}
