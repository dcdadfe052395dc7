/* SPDX-License-Identifier: MIT */
/* ckpt inspect [--json] FILE: what an image holds, after checking all of it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/cli.h"
#include "image/image.h"
#include "image/records.h"
#include "util.h"

static const char help[] =
	"usage: ckpt inspect [--json] FILE\n"
	"\n"
	"Reads and checks a whole image and shows what it holds: the process, its\n"
	"threads' registers, files and fds, memory areas with sizes and page counts,\n"
	"and the totals.  Exit 1 with the first problem when the image is bad.\n"
	"--json prints one JSON document, described in doc/inspect-json.md.\n";

/* Of the --json output (doc/inspect-json.md): raised when a field changes meaning or goes. */
#define INSPECT_JSON_VERSION 1

static const char *const vma_kind_names[] = {
	[CKPT_VMA_ANON] = "anon",	  [CKPT_VMA_FILE_PRIVATE] = "file-private",
	[CKPT_VMA_FILE_SHARED] = "file-shared", [CKPT_VMA_SHARED_ANON] = "shared-anon",
	[CKPT_VMA_VDSO] = "vdso",	  [CKPT_VMA_VVAR] = "vvar",
	[CKPT_VMA_VVAR_VCLOCK] = "vvar_vclock",
};

static const char *const file_kind_names[] = {
	[CKPT_FILE_REGULAR] = "file", [CKPT_FILE_DIRECTORY] = "directory",
	[CKPT_FILE_CHARDEV] = "chardev", [CKPT_FILE_SHMEM] = "shared-memory",
	[CKPT_FILE_EVENTFD] = "eventfd", [CKPT_FILE_TIMERFD] = "timerfd",
	[CKPT_FILE_SIGNALFD] = "signalfd", [CKPT_FILE_EPOLL] = "epoll",
	[CKPT_FILE_UNIX_SOCKET] = "unix-socket",
};

static const char *file_kind_name(const struct image_file *file)
{
	if (file->file.flags & CKPT_FILE_MEMFD)
		return "memfd";
	return file_kind_names[file->file.kind];
}

static const char *const inherit_names[] = {
	[CKPT_INHERIT_NONE] = "", [CKPT_INHERIT_TTY] = "terminal",
	[CKPT_INHERIT_PIPE] = "pipe", [CKPT_INHERIT_SOCKET] = "socket",
};

struct totals {
	uint64_t vmas;
	uint64_t image_bytes;
	uint64_t pages;
	uint64_t mapped_bytes;
};

static void prot_text(uint32_t prot, char text[4])
{
	text[0] = prot & PROT_READ ? 'r' : '-';
	text[1] = prot & PROT_WRITE ? 'w' : '-';
	text[2] = prot & PROT_EXEC ? 'x' : '-';
	text[3] = '\0';
}

static const char *unix_socket_type_name(uint32_t type)
{
	if (type == SOCK_STREAM)
		return "stream";
	return type == SOCK_DGRAM ? "dgram" : "seqpacket";
}

static void print_unix_socket_fd(const struct ckpt_fd *fd, const struct image_file *file,
				 const char *cloexec)
{
	const struct ckpt_unix_socket *state = image_file_unix_socket(file);
	uint64_t bytes = 0;

	for (size_t i = 0; i < file->queue_count; i++)
		bytes += file->queue[i]->length;
	printf("fd %d: unix socket %s (%s), peer FILE %u, %zu messages (%" PRIu64 " bytes) queued%s%s%s\n",
	       fd->fd, unix_socket_type_name(state->type), file->path, state->peer_file_id,
	       file->queue_count, bytes, state->shutdown & CKPT_UNIX_SHUT_RD ? " shut-rd" : "",
	       state->shutdown & CKPT_UNIX_SHUT_WR ? " shut-wr" : "", cloexec);
}

/* eventfd, timerfd, signalfd, unix socket: their state instead of a path and offset. */
static void print_event_fd(const struct ckpt_fd *fd, const struct image_file *file)
{
	const char *cloexec = fd->flags & CKPT_FD_CLOEXEC ? " cloexec" : "";

	if (file->file.kind == CKPT_FILE_EVENTFD)
		printf("fd %d: eventfd counter %" PRIu64 "%s%s\n", fd->fd, image_file_eventfd(file)->counter,
		       image_file_eventfd(file)->flags & CKPT_EVENTFD_SEMAPHORE ? " semaphore" : "", cloexec);
	else if (file->file.kind == CKPT_FILE_TIMERFD)
		printf("fd %d: timerfd clock %d next in %" PRIu64 " ns every %" PRIu64 " ns, %" PRIu64 " expirations pending%s%s\n",
		       fd->fd, image_file_timerfd(file)->clock_id, image_file_timerfd(file)->remaining_ns,
		       image_file_timerfd(file)->interval_ns, image_file_timerfd(file)->ticks,
		       image_file_timerfd(file)->settime_flags & CKPT_TIMERFD_ABSTIME ? " absolute" : "", cloexec);
	else if (file->file.kind == CKPT_FILE_SIGNALFD)
		printf("fd %d: signalfd mask %#" PRIx64 "%s\n", fd->fd, image_file_signalfd(file)->mask, cloexec);
	else
		print_unix_socket_fd(fd, file, cloexec);
}

static const char *vma_file_path(const struct image *image, const struct ckpt_vma *vma)
{
	const struct image_file *file = image_find_file(image, vma->file_id);

	if (file)
		return file->path;
	if (vma->flags & CKPT_VMA_HEAP)
		return "[heap]";
	if (vma->flags & CKPT_VMA_STACK)
		return "[stack]";
	return "";
}

/* Minimal JSON string escaping for paths. */
static void print_json_string(const char *text)
{
	putchar('"');
	for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
		if (*c == '"' || *c == '\\')
			printf("\\%c", *c);
		else if (*c < 0x20)
			printf("\\u%04x", *c);
		else
			putchar(*c);
	}
	putchar('"');
}

static void print_text_thread(const struct ckpt_thread *thread)
{
	printf("thread %d (%s): rip %#" PRIx64 " rsp %#" PRIx64 " fs_base %#" PRIx64 "%s\n",
	       thread->tid, thread->comm, thread->regs[16], thread->regs[19], thread->regs[21],
	       thread->flags & CKPT_THREAD_SYSCALL_RESTART ? " (in a syscall, restarts it)" : "");
	printf("  timer slack %" PRIu64 " ns, parent-death signal %u, securebits %#x, no_new_privs %s, MCE kill policy %u\n",
	       thread->timer_slack_ns, thread->pdeath_signal, thread->securebits,
	       thread->flags & CKPT_THREAD_NO_NEW_PRIVS ? "yes" : "no", thread->mce_kill_policy);
}

/* Through the record table's printers: "lock: ..." and "posix timer ..." lines. */
static void print_locks_and_timers(const struct image *image)
{
	const struct record_print_context context = { .process = image };

	for (size_t i = 0; i < image->lock_count; i++)
		print_record(stdout, CKPT_RECORD_FILE_LOCK, &image->locks[i], sizeof(image->locks[i]),
			     &context);
	for (size_t i = 0; i < image->posix_timer_count; i++)
		print_record(stdout, CKPT_RECORD_POSIX_TIMER, &image->posix_timers[i],
			     sizeof(image->posix_timers[i]), &context);
}

static void print_text_process(const struct image *image)
{
	const struct ckpt_process *process = &image->process;

	printf("process: pid %d (%s), ppid %d, pgid %d, sid %d, uid %u, gid %u, %u thread%s\n",
	       process->pid, process->comm, process->ppid, process->pgid, process->sid,
	       image->creds.uid[CKPT_ID_REAL], image->creds.gid[CKPT_ID_REAL], process->thread_count,
	       process->thread_count == 1 ? "" : "s");
	printf("cwd: %s\numask: %03o\n", image->cwd, process->umask);
	printf("prctl: child subreaper %s, THP disable %u, dumpable %u\n",
	       process->prctl_flags & CKPT_PROCESS_CHILD_SUBREAPER ? "yes" : "no",
	       process->thp_disable, process->dumpable);
	for (size_t i = 0; i < image->thread_count; i++)
		print_text_thread(&image->threads[i].thread);
	for (size_t i = 0; i < image->fd_count; i++) {
		const struct ckpt_fd *fd = &image->fds[i];
		const struct image_file *file = image_find_file(image, fd->file_id);

		if (file && image_file_has_state(file))
			print_event_fd(fd, file);
		else if (file)
			printf("fd %d: %s %s offset %" PRIu64 "%s\n", fd->fd, file_kind_name(file),
			       file->path, file->file.offset, fd->flags & CKPT_FD_CLOEXEC ? " cloexec" : "");
		else
			printf("fd %d: %s (taken over from the restarting ckpt)\n", fd->fd,
			       inherit_names[fd->inherit_kind]);
	}
	print_locks_and_timers(image);
	for (size_t i = 0; i < image->vma_count; i++) {
		const struct ckpt_vma *vma = &image->vmas[i];
		char prot[4];

		prot_text(vma->prot, prot);
		printf("vma %#014" PRIx64 "-%#014" PRIx64 " %s %-12s %8" PRIu64 " KiB %8" PRIu64 " pages %s\n",
		       vma->start, vma->end, prot, vma_kind_names[vma->kind], (vma->end - vma->start) >> 10,
		       vma->page_count, vma_file_path(image, vma));
	}
}

static const char *const tree_state_names[] = {
	[CKPT_TREE_ALIVE] = "alive", [CKPT_TREE_ZOMBIE] = "zombie",
};

static void print_epoll_targets(const struct image_tree *tree)
{
	for (size_t i = 0; i < tree->epoll_target_count; i++) {
		const struct ckpt_epoll_target *target = &tree->epoll_targets[i];

		const char *kind = target->target_file_id ?
			file_kind_names[tree->files[target->target_file_id - 1].file.kind] : "taken over";

		printf("epoll file %u: watches fd %d (%s, file %u) events %#x data %#" PRIx64 "\n",
		       target->epoll_file_id, target->fd, kind, target->target_file_id, target->events,
		       target->data);
	}
}

static void print_text_sharing(const struct ckpt_tree_entry *entry)
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

	for (size_t i = 0; i < ARRAY_SIZE(shared); i++) {
		if (shares_with_other(shared[i].owner, entry->pid))
			printf(", %s of %d", shared[i].what, shared[i].owner);
	}
}

static void print_text(const struct image_tree *tree, const struct image *processes, size_t count,
		       const struct totals *totals)
{
	const struct ckpt_head *head = &tree->head;

	printf("image: format %u, %s, kernel %s, xstate %u bytes\n", head->version, head->tool_version,
	       head->kernel_release, head->xstate_size);
	for (size_t i = 0; i < tree->entry_count; i++) {
		const struct ckpt_tree_entry *entry = &tree->entries[i];

		printf("tree: pid %d ppid %d pgid %d sid %d %s", entry->pid, entry->ppid, entry->pgid,
		       entry->sid, tree_state_names[entry->state]);
		if (entry->state == CKPT_TREE_ZOMBIE)
			printf(" (wait status %#x)", (unsigned)entry->exit_status);
		print_text_sharing(entry);
		putchar('\n');
	}
	print_epoll_targets(tree);
	for (size_t i = 0; i < count; i++)
		print_text_process(&processes[i]);
	printf("total: %zu process%s, %" PRIu64 " vmas, %" PRIu64 " MiB mapped, %" PRIu64 " pages (%" PRIu64 " MiB) of data, image %" PRIu64 " bytes\n",
	       count, count == 1 ? "" : "es", totals->vmas, totals->mapped_bytes >> 20, totals->pages,
	       (totals->pages * CKPT_PAGE_SIZE) >> 20, totals->image_bytes);
}

static void print_json_vmas(const struct image *image)
{
	printf("  \"vmas\": [\n");
	for (size_t i = 0; i < image->vma_count; i++) {
		const struct ckpt_vma *vma = &image->vmas[i];
		char prot[4];

		prot_text(vma->prot, prot);
		printf("    {\"start\": %" PRIu64 ", \"end\": %" PRIu64 ", \"prot\": \"%s\", \"kind\": \"%s\", \"pages\": %" PRIu64 ", \"path\": ",
		       vma->start, vma->end, prot, vma_kind_names[vma->kind], vma->page_count);
		print_json_string(vma_file_path(image, vma));
		printf("}%s\n", i + 1 < image->vma_count ? "," : "");
	}
	printf("  ],\n");
}

static void print_json_fds(const struct image *image)
{
	printf("  \"fds\": [\n");
	for (size_t i = 0; i < image->fd_count; i++) {
		const struct ckpt_fd *fd = &image->fds[i];
		const struct image_file *file = image_find_file(image, fd->file_id);

		printf("    {\"fd\": %d, \"kind\": \"%s\", \"inherited\": %s, \"cloexec\": %s, \"path\": ",
		       fd->fd, file ? file_kind_name(file) : inherit_names[fd->inherit_kind],
		       file ? "false" : "true", fd->flags & CKPT_FD_CLOEXEC ? "true" : "false");
		print_json_string(file ? file->path : "");
		printf(", \"offset\": %" PRIu64 "}%s\n", file ? file->file.offset : 0,
		       i + 1 < image->fd_count ? "," : "");
	}
	printf("  ],\n");
}

static void print_json_thread(const struct ckpt_thread *thread, bool first)
{
	printf("%s{\"tid\": %d, \"comm\": ", first ? "" : ", ", thread->tid);
	print_json_string(thread->comm);
	printf(", \"rip\": %" PRIu64 ", \"rsp\": %" PRIu64 ", \"in_syscall\": %s", thread->regs[16],
	       thread->regs[19], thread->flags & CKPT_THREAD_SYSCALL_RESTART ? "true" : "false");
	printf(", \"timer_slack_ns\": %" PRIu64 ", \"pdeath_signal\": %u, \"securebits\": %u"
	       ", \"no_new_privs\": %s, \"mce_kill_policy\": %u}",
	       thread->timer_slack_ns, thread->pdeath_signal, thread->securebits,
	       thread->flags & CKPT_THREAD_NO_NEW_PRIVS ? "true" : "false", thread->mce_kill_policy);
}

static void print_json_process(const struct image *image)
{
	const struct ckpt_process *process = &image->process;

	printf("  {\n  \"process\": {\"pid\": %d, \"ppid\": %d, \"pgid\": %d, \"sid\": %d, \"comm\": ",
	       process->pid, process->ppid, process->pgid, process->sid);
	print_json_string(process->comm);
	printf(", \"uid\": %u, \"gid\": %u, \"threads\": %u, \"umask\": %u, \"cwd\": ",
	       image->creds.uid[CKPT_ID_REAL], image->creds.gid[CKPT_ID_REAL], process->thread_count,
	       process->umask);
	print_json_string(image->cwd);
	printf(", \"child_subreaper\": %s, \"thp_disable\": %u, \"dumpable\": %u",
	       process->prctl_flags & CKPT_PROCESS_CHILD_SUBREAPER ? "true" : "false",
	       process->thp_disable, process->dumpable);
	printf("},\n  \"threads\": [");
	for (size_t i = 0; i < image->thread_count; i++)
		print_json_thread(&image->threads[i].thread, i == 0);
	printf("],\n");
	print_json_fds(image);
	print_json_vmas(image);
	printf("  \"vma_count\": %zu\n  }", image->vma_count);
}

static void print_json_tree(const struct image_tree *tree)
{
	printf("  \"tree\": [\n");
	for (size_t i = 0; i < tree->entry_count; i++) {
		const struct ckpt_tree_entry *entry = &tree->entries[i];

		printf("    {\"pid\": %d, \"ppid\": %d, \"pgid\": %d, \"sid\": %d, \"state\": \"%s\", \"exit_status\": %d, ",
		       entry->pid, entry->ppid, entry->pgid, entry->sid, tree_state_names[entry->state],
		       entry->exit_status);
		printf("\"mm_owner\": %d, \"files_owner\": %d, \"fs_owner\": %d, \"sighand_owner\": %d}%s\n",
		       entry->mm_owner, entry->files_owner, entry->fs_owner, entry->sighand_owner,
		       i + 1 < tree->entry_count ? "," : "");
	}
	printf("  ],\n");
}

static void print_json(const struct image_tree *tree, const struct image *processes, size_t count,
		       const struct totals *totals)
{
	printf("{\n  \"format\": \"ckpt-inspect\",\n  \"version\": %d,\n", INSPECT_JSON_VERSION);
	printf("  \"format_version\": %u,\n  \"kernel\": ", tree->head.version);
	print_json_string(tree->head.kernel_release);
	printf(",\n");
	print_json_tree(tree);
	printf("  \"processes\": [\n");
	for (size_t i = 0; i < count; i++) {
		print_json_process(&processes[i]);
		printf("%s\n", i + 1 < count ? "," : "");
	}
	printf("  ],\n  \"totals\": {\"processes\": %zu, \"vmas\": %" PRIu64 ", \"mapped_bytes\": %" PRIu64
	       ", \"pages\": %" PRIu64 ", \"data_bytes\": %" PRIu64 ", \"image_bytes\": %" PRIu64 "}\n}\n",
	       count, totals->vmas, totals->mapped_bytes, totals->pages, totals->pages * CKPT_PAGE_SIZE,
	       totals->image_bytes);
}

static void add_up(const struct image *processes, size_t count, struct totals *totals)
{
	for (size_t p = 0; p < count; p++) {
		const struct image *image = &processes[p];

		totals->vmas += image->vma_count;
		for (size_t i = 0; i < image->vma_count; i++) {
			totals->mapped_bytes += image->vmas[i].end - image->vmas[i].start;
		}
	}
}

static int inspect_fd(int fd, bool json, struct ckpt_error *err)
{
	struct image_reader reader;
	struct image_tree tree;
	struct image *processes = NULL;
	size_t count = 0;
	struct totals totals = { 0 };
	int ret;

	image_reader_init(&reader, fd, err);
	ret = image_read_all(&reader, &tree, &processes, &count);
	if (ret == 0) {
		totals.image_bytes = reader.offset;
		add_up(processes, count, &totals);
		totals.pages = reader.page_count;
		if (json)
			print_json(&tree, processes, count, &totals);
		else
			print_text(&tree, processes, count, &totals);
		image_release_all(&tree, processes, count);
	}
	image_reader_release(&reader);
	return ret;
}

int command_inspect(int argc, char **argv)
{
	struct ckpt_error err = { 0 };
	bool json = false;
	const char *path = NULL;
	int fd;

	if (wants_help(argc, argv)) {
		fputs(help, stdout);
		return EXIT_OK;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (!path && argv[i][0] != '-')
			path = argv[i];
		else {
			cli_error("inspect", "unexpected argument '%s' (see ckpt inspect --help)", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (!path) {
		cli_error("inspect", "expected an image FILE (see ckpt inspect --help)");
		return EXIT_USAGE;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cli_error("inspect", "cannot open %s: %s", path, strerror(errno));
		return EXIT_FAILED;
	}
	if (inspect_fd(fd, json, &err) < 0) {
		cli_error("inspect", "%s: %s", path, err.message);
		close(fd);
		return EXIT_FAILED;
	}
	close(fd);
	return EXIT_OK;
}
