/* SPDX-License-Identifier: MIT */
/*
 * The printers of the record table: what `ckpt inspect` shows of each
 * record, as text, to a caller's FILE *.  Records are valid (the reader
 * checked them); ids of files are resolved through the print context.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "image/image.h"
#include "image/records.h"

static const char *const vma_kind_names[] = {
	[CKPT_VMA_ANON] = "anon",
	[CKPT_VMA_FILE_PRIVATE] = "file-private",
	[CKPT_VMA_FILE_SHARED] = "file-shared",
	[CKPT_VMA_SHARED_ANON] = "shared-anon",
	[CKPT_VMA_VDSO] = "vdso",
	[CKPT_VMA_VVAR] = "vvar",
	[CKPT_VMA_VVAR_VCLOCK] = "vvar_vclock",
};

static const char *const inherit_kind_names[] = {
	[CKPT_INHERIT_NONE] = "",
	[CKPT_INHERIT_TTY] = "terminal",
	[CKPT_INHERIT_PIPE] = "pipe",
	[CKPT_INHERIT_SOCKET] = "socket",
};

static const char *const tree_state_names[] = {
	[CKPT_TREE_ALIVE] = "alive",
	[CKPT_TREE_ZOMBIE] = "zombie",
};

#define NAME_IN(names, index) \
	((index) < sizeof(names) / sizeof((names)[0]) && (names)[index] ? (names)[index] : "?")

const char *image_vma_kind_name(uint32_t kind)
{
	return NAME_IN(vma_kind_names, kind);
}

const char *image_inherit_kind_name(uint32_t kind)
{
	return NAME_IN(inherit_kind_names, kind);
}

const char *image_tree_state_name(uint32_t state)
{
	return NAME_IN(tree_state_names, state);
}

static const struct image_file *find_context_file(const struct record_print_context *context,
						  uint32_t id)
{
	if (!context || id == 0)
		return NULL;
	if (context->process)
		return image_find_file(context->process, id);
	if (context->tree && id <= context->tree->file_count)
		return &context->tree->files[id - 1];
	return NULL;
}

void print_head_record(FILE *out, const void *payload, uint64_t length,
		       const struct record_print_context *context)
{
	const struct ckpt_head *head = payload;

	(void)length;
	(void)context;
	fprintf(out, "image: format %u, %s, kernel %s, xstate %u bytes\n", head->version,
		head->tool_version, head->kernel_release, head->xstate_size);
}

static void print_sharing(FILE *out, const struct ckpt_tree_entry *entry)
{
	const struct {
		int32_t owner;
		const char *what;
	} shared[] = {
		{ entry->mm_owner, "memory" },
		{ entry->files_owner, "fd table" },
		{ entry->fs_owner, "fs" },
		{ entry->sighand_owner, "signal handlers" },
	};

	for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++) {
		if (shares_with_other(shared[i].owner, entry->pid))
			fprintf(out, ", %s of %d", shared[i].what, shared[i].owner);
	}
}

static void print_tree_entry(FILE *out, const struct ckpt_tree_entry *entry)
{
	fprintf(out, "tree: pid %d ppid %d pgid %d sid %d %s", entry->pid, entry->ppid, entry->pgid,
		entry->sid, image_tree_state_name(entry->state));
	if (entry->state == CKPT_TREE_ZOMBIE)
		fprintf(out, " (wait status %#x)", (unsigned)entry->exit_status);
	print_sharing(out, entry);
	fputc('\n', out);
}

void print_tree_record(FILE *out, const void *payload, uint64_t length,
		       const struct record_print_context *context)
{
	const struct ckpt_tree *tree = payload;
	const struct ckpt_tree_entry *entries = (const struct ckpt_tree_entry *)(tree + 1);

	(void)length;
	(void)context;
	for (uint32_t i = 0; i < tree->count; i++)
		print_tree_entry(out, &entries[i]);
}

/* The uid and gid come from the process's CREDS record, when the context has the process. */
void print_process_record(FILE *out, const void *payload, uint64_t length,
			  const struct record_print_context *context)
{
	const struct ckpt_process *process = payload;
	const struct image_process *image = context ? context->process : NULL;

	(void)length;
	fprintf(out, "process: pid %d (%s), ppid %d, pgid %d, sid %d, ", process->pid,
		process->comm, process->ppid, process->pgid, process->sid);
	if (image)
		fprintf(out, "uid %u, gid %u", image->creds.uid[CKPT_ID_REAL],
			image->creds.gid[CKPT_ID_REAL]);
	else
		fputs("uid ?, gid ?", out);
	fprintf(out, ", %u thread%s\n", process->thread_count, process->thread_count == 1 ? "" : "s");
	fprintf(out, "cwd: %s\numask: %03o\n", (const char *)(process + 1), process->umask);
	fprintf(out, "prctl: child subreaper %s, THP disable %u, dumpable %u\n",
		process->prctl_flags & CKPT_PROCESS_CHILD_SUBREAPER ? "yes" : "no",
		process->thp_disable, process->dumpable);
	fprintf(out, "oom_score_adj %d, loginuid %u, membarrier registrations %#x\n",
		process->oom_score_adj, process->loginuid, process->membarrier);
}

static const char *sched_policy_name(uint32_t policy)
{
	static const char *const names[] = { "other", "fifo", "rr", "batch", "?", "idle", "deadline" };

	return policy < sizeof(names) / sizeof(names[0]) ? names[policy] : "?";
}

static const char *seccomp_mode_name(uint32_t mode)
{
	return mode == CKPT_SECCOMP_STRICT   ? "strict"
	       : mode == CKPT_SECCOMP_FILTER ? "filter"
					     : "off";
}

/* The CPUs of the affinity mask, as ranges: "0-3,6". */
static void print_cpu_list(FILE *out, const uint64_t *affinity)
{
	const char *separator = "";
	unsigned cpu = 0;

	while (cpu < CKPT_AFFINITY_WORDS * 64) {
		unsigned first;

		if (!(affinity[cpu / 64] >> (cpu % 64) & 1)) {
			cpu++;
			continue;
		}
		first = cpu;
		while (cpu + 1 < CKPT_AFFINITY_WORDS * 64 &&
		       (affinity[(cpu + 1) / 64] >> ((cpu + 1) % 64) & 1))
			cpu++;
		fprintf(out, first == cpu ? "%s%u" : "%s%u-%u", separator, first, cpu);
		separator = ",";
		cpu++;
	}
}

static void print_thread_sched(FILE *out, const struct ckpt_thread *thread)
{
	fprintf(out, "  sched %s, nice %d, priority %u%s", sched_policy_name(thread->sched_policy),
		thread->sched_nice, thread->sched_priority,
		thread->sched_flags & CKPT_SCHED_RESET_ON_FORK ? ", reset on fork" : "");
	if (thread->sched_policy == 6)
		fprintf(out, ", runtime %" PRIu64 " deadline %" PRIu64 " period %" PRIu64,
			thread->sched_runtime, thread->sched_deadline, thread->sched_period);
	fputs(", CPUs ", out);
	print_cpu_list(out, thread->affinity); /* nothing when not saved */
	fprintf(out, ", seccomp %s", seccomp_mode_name(thread->seccomp_mode));
	if (thread->seccomp_filter_count)
		fprintf(out, " (%u filter%s)", thread->seccomp_filter_count,
			thread->seccomp_filter_count == 1 ? "" : "s");
	fputc('\n', out);
}

void print_seccomp_record(FILE *out, const void *payload, uint64_t length,
			  const struct record_print_context *context)
{
	const struct ckpt_seccomp *filter = payload;

	(void)length;
	(void)context;
	fprintf(out, "seccomp filter of thread %d: %u instructions%s\n", filter->tid,
		filter->instruction_count, filter->flags & CKPT_SECCOMP_LOG ? ", log" : "");
}

void print_thread_record(FILE *out, const void *payload, uint64_t length,
			 const struct record_print_context *context)
{
	const struct ckpt_thread *thread = payload;

	(void)length;
	(void)context;
	fprintf(out, "thread %d (%s): rip %#" PRIx64 " rsp %#" PRIx64 " fs_base %#" PRIx64 "%s\n",
		thread->tid, thread->comm, thread->regs[16], thread->regs[19], thread->regs[21],
		thread->flags & CKPT_THREAD_SYSCALL_RESTART ? " (in a syscall, restarts it)" : "");
	fprintf(out,
		"  timer slack %" PRIu64
		" ns, parent-death signal %u, securebits %#x, no_new_privs %s, MCE kill policy %u\n",
		thread->timer_slack_ns, thread->pdeath_signal, thread->securebits,
		thread->flags & CKPT_THREAD_NO_NEW_PRIVS ? "yes" : "no", thread->mce_kill_policy);
	print_thread_sched(out, thread);
}

/* "fd N: " then the state record's phrase: eventfd, timerfd, signalfd, unix socket. */
static void print_fd_with_state(FILE *out, const struct ckpt_fd *fd, const struct image_file *file,
				const struct record_print_context *context)
{
	const struct file_kind_info *kind = find_file_kind(file->file.kind);
	const struct record_type_info *state = find_record_type(kind->state_record);

	fprintf(out, "fd %d: ", fd->fd);
	print_record(out, state->type, file->state, state->size.fixed, context);
	fprintf(out, "%s\n", fd->flags & CKPT_FD_CLOEXEC ? " cloexec" : "");
}

void print_fd_record(FILE *out, const void *payload, uint64_t length,
		     const struct record_print_context *context)
{
	const struct ckpt_fd *fd = payload;
	const struct image_file *file = find_context_file(context, fd->file_id);
	const char *cloexec = fd->flags & CKPT_FD_CLOEXEC ? " cloexec" : "";

	(void)length;
	if (file && image_file_has_state(file))
		print_fd_with_state(out, fd, file, context);
	else if (file)
		fprintf(out, "fd %d: %s %s offset %" PRIu64 "%s\n", fd->fd,
			image_file_kind_name(&file->file), file->path, file->file.offset, cloexec);
	else if (fd->file_id)
		fprintf(out, "fd %d: file %u%s\n", fd->fd, fd->file_id, cloexec);
	else
		fprintf(out, "fd %d: %s (taken over from the restarting ckpt)\n", fd->fd,
			image_inherit_kind_name(fd->inherit_kind));
}

void vma_prot_text(uint32_t prot, char text[4])
{
	text[0] = prot & PROT_READ ? 'r' : '-';
	text[1] = prot & PROT_WRITE ? 'w' : '-';
	text[2] = prot & PROT_EXEC ? 'x' : '-';
	text[3] = '\0';
}

const char *vma_display_name(const struct ckpt_vma *vma, const struct image_file *file)
{
	if (file)
		return file->path;
	if (vma->flags & CKPT_VMA_HEAP)
		return "[heap]";
	if (vma->flags & CKPT_VMA_STACK)
		return "[stack]";
	return "";
}

void print_vma_record(FILE *out, const void *payload, uint64_t length,
		      const struct record_print_context *context)
{
	const struct ckpt_vma *vma = payload;
	char prot[4];

	(void)length;
	vma_prot_text(vma->prot, prot);
	fprintf(out,
		"vma %#014" PRIx64 "-%#014" PRIx64 " %s %-12s %8" PRIu64 " KiB %8" PRIu64
		" pages %s\n",
		vma->start, vma->end, prot, image_vma_kind_name(vma->kind),
		(vma->end - vma->start) >> 10, vma->page_count,
		vma_display_name(vma, find_context_file(context, vma->file_id)));
}

void print_epoll_target_record(FILE *out, const void *payload, uint64_t length,
			       const struct record_print_context *context)
{
	const struct ckpt_epoll_target *target = payload;
	const struct image_file *file = find_context_file(context, target->target_file_id);
	const struct file_kind_info *kind = file ? find_file_kind(file->file.kind) : NULL;
	const char *kind_name = kind ? kind->name : "?";

	(void)length;
	if (target->target_file_id == 0)
		kind_name = "taken over";
	fprintf(out, "epoll file %u: watches fd %d (%s, file %u) events %#x data %#" PRIx64 "\n",
		target->epoll_file_id, target->fd, kind_name, target->target_file_id,
		target->events, target->data);
}

void print_eventfd_record(FILE *out, const void *payload, uint64_t length,
			  const struct record_print_context *context)
{
	const struct ckpt_eventfd *eventfd = payload;

	(void)length;
	(void)context;
	fprintf(out, "eventfd counter %" PRIu64 "%s", eventfd->counter,
		eventfd->flags & CKPT_EVENTFD_SEMAPHORE ? " semaphore" : "");
}

void print_timerfd_record(FILE *out, const void *payload, uint64_t length,
			  const struct record_print_context *context)
{
	const struct ckpt_timerfd *timerfd = payload;

	(void)length;
	(void)context;
	fprintf(out,
		"timerfd clock %d next in %" PRIu64 " ns every %" PRIu64 " ns, %" PRIu64
		" expirations pending%s",
		timerfd->clock_id, timerfd->remaining_ns, timerfd->interval_ns, timerfd->ticks,
		timerfd->settime_flags & CKPT_TIMERFD_ABSTIME ? " absolute" : "");
}

void print_signalfd_record(FILE *out, const void *payload, uint64_t length,
			   const struct record_print_context *context)
{
	const struct ckpt_signalfd *signalfd = payload;

	(void)length;
	(void)context;
	fprintf(out, "signalfd mask %#" PRIx64, signalfd->mask);
}

void print_inotify_record(FILE *out, const void *payload, uint64_t length,
			  const struct record_print_context *context)
{
	const struct ckpt_inotify *inotify = payload;

	(void)length;
	(void)context;
	fprintf(out, "inotify %u watch%s", inotify->watch_count,
		inotify->watch_count == 1 ? "" : "es");
}

static const char *unix_socket_type_name(uint32_t type)
{
	if (type == SOCK_STREAM)
		return "stream";
	return type == SOCK_DGRAM ? "dgram" : "seqpacket";
}

/* The path and the waiting data come from the socket's FILE, when the context has it. */
void print_unix_socket_record(FILE *out, const void *payload, uint64_t length,
			      const struct record_print_context *context)
{
	const struct ckpt_unix_socket *sock = payload;
	const struct image_file *file = find_context_file(context, sock->file_id);
	size_t messages = file ? file->queue_count : 0;
	uint64_t bytes = 0;

	(void)length;
	for (size_t i = 0; i < messages; i++)
		bytes += file->queue[i]->length;
	fprintf(out, "unix socket %s (%s), peer FILE %u, %zu messages (%" PRIu64 " bytes) queued%s%s",
		unix_socket_type_name(sock->type), file ? file->path : "?", sock->peer_file_id,
		messages, bytes, sock->shutdown & CKPT_UNIX_SHUT_RD ? " shut-rd" : "",
		sock->shutdown & CKPT_UNIX_SHUT_WR ? " shut-wr" : "");
}

static const char *inet_state_name(uint32_t state)
{
	if (state == CKPT_INET_LISTENING)
		return "listening";
	if (state == CKPT_INET_ESTABLISHED)
		return "established";
	return state == CKPT_INET_CONNECTED ? "connected" : "open";
}

/* "127.0.0.1:80" or "[::1]:80" */
static void print_inet_address(FILE *out, uint32_t family, const uint8_t address[16], uint16_t port)
{
	char text[INET6_ADDRSTRLEN] = "?";

	inet_ntop(family == AF_INET ? AF_INET : AF_INET6, address, text, sizeof(text));
	fprintf(out, family == AF_INET ? "%s:%u" : "[%s]:%u", text, port);
}

void print_inet_socket_record(FILE *out, const void *payload, uint64_t length,
			      const struct record_print_context *context)
{
	const struct ckpt_inet_socket *sock = payload;
	const struct image_file *file = find_context_file(context, sock->file_id);
	size_t datagrams = file ? file->queue_count : 0;

	(void)length;
	fprintf(out, "%s%s socket %s, ", sock->type == SOCK_STREAM ? "tcp" : "udp",
		sock->family == AF_INET ? "" : "6", inet_state_name(sock->state));
	print_inet_address(out, sock->family, sock->local_address, sock->local_port);
	if (sock->state == CKPT_INET_CONNECTED) {
		fprintf(out, " to ");
		print_inet_address(out, sock->family, sock->remote_address, sock->remote_port);
	}
	if (sock->state == CKPT_INET_LISTENING)
		fprintf(out, ", backlog %u", sock->backlog);
	if (sock->type == SOCK_DGRAM)
		fprintf(out, ", %zu datagrams queued", datagrams);
}

/* The path and the bytes in flight come from the pipe's FILEs, when the context has them. */
void print_pipe_record(FILE *out, const void *payload, uint64_t length,
		       const struct record_print_context *context)
{
	const struct ckpt_pipe *pipe = payload;
	const struct image_file *file = find_context_file(context, pipe->file_id);
	size_t records = file ? file->queue_count : 0;
	uint64_t bytes = 0;

	(void)length;
	for (size_t i = 0; i < records; i++)
		bytes += file->queue[i]->length;
	fprintf(out, "pipe %s, %s end, size %" PRIu32, file ? file->path : "?",
		!file						  ? "?"
		: (file->file.open_flags & O_ACCMODE) == O_RDONLY ? "read"
		: (file->file.open_flags & O_ACCMODE) == O_WRONLY ? "write"
								  : "read-write",
		pipe->pipe_size);
	if (pipe->pipe_file_id != pipe->file_id)
		fprintf(out, ", pipe of FILE %" PRIu32, pipe->pipe_file_id);
	else
		fprintf(out, ", %" PRIu64 " bytes in flight%s", bytes,
			pipe->flags & CKPT_PIPE_PACKETS ? " in packets" : "");
}

static const char *lock_kind_name(uint32_t kind)
{
	static const char *const names[] = {
		[CKPT_LOCK_FLOCK] = "flock",
		[CKPT_LOCK_POSIX] = "POSIX",
		[CKPT_LOCK_OFD] = "OFD",
		[CKPT_LOCK_LEASE] = "lease",
	};

	return kind < sizeof(names) / sizeof(names[0]) && names[kind] ? names[kind] : "?";
}

static void print_lock_range(FILE *out, const struct ckpt_file_lock *lock)
{
	if (lock->kind != CKPT_LOCK_POSIX && lock->kind != CKPT_LOCK_OFD)
		fprintf(out, "whole file");
	else if (lock->length == 0)
		fprintf(out, "bytes %" PRIu64 " to the end", lock->start);
	else
		fprintf(out, "bytes %" PRIu64 " to %" PRIu64, lock->start,
			lock->start + lock->length - 1);
}

void print_file_lock_record(FILE *out, const void *payload, uint64_t length,
			    const struct record_print_context *context)
{
	const struct ckpt_file_lock *lock = payload;
	const struct image_file *file = find_context_file(context, lock->file_id);

	(void)length;
	fprintf(out, "lock: fd %d (%s): %s %s, ", lock->fd, file ? file->path : "?",
		lock_kind_name(lock->kind), lock->type == CKPT_LOCK_WRITE ? "write" : "read");
	print_lock_range(out, lock);
	fprintf(out, "\n");
}

static const char *timer_notify_name(uint32_t notify)
{
	if (notify == CKPT_TIMER_NOTIFY_NONE)
		return "SIGEV_NONE";
	if (notify == CKPT_TIMER_NOTIFY_THREAD)
		return "SIGEV_THREAD";
	if (notify == CKPT_TIMER_NOTIFY_THREAD_ID)
		return "SIGEV_THREAD_ID";
	return "SIGEV_SIGNAL";
}

void print_posix_timer_record(FILE *out, const void *payload, uint64_t length,
			      const struct record_print_context *context)
{
	const struct ckpt_posix_timer *timer = payload;

	(void)length;
	(void)context;
	fprintf(out, "posix timer %d: clock %d, %s signal %u value %#" PRIx64, timer->id,
		timer->clock_id, timer_notify_name(timer->notify), timer->signal, timer->value);
	if (timer->thread_id)
		fprintf(out, " to thread %d", timer->thread_id);
	fprintf(out, ", next in %" PRIu64 " ns every %" PRIu64 " ns, overrun %d\n",
		timer->remaining_ns, timer->interval_ns, timer->overrun);
}

void print_tcp_stream_record(FILE *out, const void *payload, uint64_t length,
			     const struct record_print_context *context)
{
	const struct ckpt_tcp_stream *stream = payload;
	const struct ckpt_inet_socket *sock = &stream->socket;

	(void)length;
	(void)context;
	fprintf(out, "tcp%s connection ", sock->family == AF_INET ? "" : "6");
	print_inet_address(out, sock->family, sock->local_address, sock->local_port);
	fprintf(out, " to ");
	print_inet_address(out, sock->family, sock->remote_address, sock->remote_port);
	fprintf(out, ", %u bytes to read, %u to send (%u not sent yet)", stream->recv_queue_length,
		stream->send_queue_length, stream->unsent_length);
}

/* "pty master of /dev/pts/3 (24x80), input 2 output 3 bytes waiting, session 42 foreground 43, packet" */
void print_pty_record(FILE *out, const void *payload, uint64_t length,
		      const struct record_print_context *context)
{
	const struct ckpt_pty *pty = payload;

	(void)length;
	(void)context;
	fprintf(out, "pty %s of /dev/pts/%u (%ux%u)",
		pty->role == CKPT_PTY_MASTER ? "master" : "slave", pty->index, pty->rows,
		pty->columns);
	if (pty->role == CKPT_PTY_MASTER)
		fprintf(out, ", input %u output %u bytes waiting", pty->input_length,
			pty->data_length - pty->input_length);
	if (pty->session)
		fprintf(out, ", session %d foreground %d", pty->session, pty->foreground_pgrp);
	fprintf(out, "%s%s%s", pty->flags & CKPT_PTY_PACKET ? ", packet" : "",
		pty->flags & CKPT_PTY_LOCKED ? ", locked" : "",
		pty->flags & CKPT_PTY_EXCLUSIVE ? ", exclusive" : "");
}
