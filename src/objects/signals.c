/* SPDX-License-Identifier: MIT */
/* Signal dispositions: read by rt_sigaction run inside the target. */
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "checkpoint.h"

int collect_sigactions(struct dump_context *ctx)
{
	struct ckpt_sigaction *actions = ctx->sigactions.actions;
	int ret;

	ctx->sigactions.count = CKPT_MAX_SIGNALS;
	for (unsigned signal = 1; signal <= CKPT_MAX_SIGNALS; signal++) {
		if (signal == SIGKILL || signal == SIGSTOP)
			continue;
		ret = (int)dump_inject(ctx, &ctx->threads[0], "rt_sigaction", SYS_rt_sigaction, signal, 0,
				       ctx->scratch + (signal - 1) * sizeof(*actions), 8);
		if (ret < 0)
			return ret;
	}
	/* The kernel's struct sigaction is handler, flags, restorer, mask: ours. */
	return dump_read_memory(ctx, ctx->scratch, actions, CKPT_MAX_SIGNALS * sizeof(*actions));
}

int write_sigactions(struct dump_context *ctx)
{
	return image_write_simple(&ctx->writer, CKPT_RECORD_SIGACTIONS, &ctx->sigactions,
				  sizeof(ctx->sigactions));
}

/* ---- restart side ---- */

#include "restart.h"

/* Runs in the husk, with every signal blocked. */
int restore_sigactions_in_husk(const struct restore_context *ctx)
{
	const struct ckpt_sigaction *actions = ctx->image.sigactions.actions;

	for (unsigned signal = 1; signal <= CKPT_MAX_SIGNALS; signal++) {
		if (signal == SIGKILL || signal == SIGSTOP)
			continue;
		if (syscall(SYS_rt_sigaction, signal, &actions[signal - 1], NULL, 8) < 0)
			return -errno;
	}
	return 0;
}
