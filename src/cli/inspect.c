/* SPDX-License-Identifier: MIT */
/* ckpt inspect [--json] FILE: what an image holds, after checking all of it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
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

struct totals {
	uint64_t vmas;
	uint64_t image_bytes;
	uint64_t pages;
	uint64_t mapped_bytes;
};

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

/*
 * The text output is the record table's printers (image/print.c) over the
 * loaded image.  PROCESS and TREE printers take the record's payload as the
 * stream has it, the struct and then what follows it; the loaded image
 * keeps those parts apart, so they are put back together here.
 */
static void print_process_payload(const struct image_process *image,
				  const struct record_print_context *context)
{
	_Alignas(struct ckpt_process) uint8_t payload[sizeof(struct ckpt_process) + CKPT_PATH_MAX];
	size_t cwd_length = image->process.cwd_length;

	if (cwd_length > CKPT_PATH_MAX)
		cwd_length = 0; /* the reader refused it already */
	memcpy(payload, &image->process, sizeof(image->process));
	memcpy(payload + sizeof(image->process), image->cwd, cwd_length);
	print_record(stdout, CKPT_RECORD_PROCESS, payload, sizeof(image->process) + cwd_length,
		     context);
}

static void print_text_process(const struct image_tree *tree, const struct image_process *image)
{
	const struct record_print_context context = { tree, image };

	print_process_payload(image, &context);
	for (size_t i = 0; i < image->thread_count; i++)
		print_record(stdout, CKPT_RECORD_THREAD, &image->threads[i].thread,
			     sizeof(image->threads[i].thread), &context);
	for (size_t i = 0; i < image->fd_count; i++)
		print_record(stdout, CKPT_RECORD_FD, &image->fds[i], sizeof(image->fds[i]), &context);
	for (size_t i = 0; i < image->vma_count; i++)
		print_record(stdout, CKPT_RECORD_VMA, &image->vmas[i], sizeof(image->vmas[i]),
			     &context);
}

/* Each entry as a TREE payload of one entry: the printer prints a line per entry. */
static void print_tree_entries(const struct image_tree *tree)
{
	for (size_t i = 0; i < tree->entry_count; i++) {
		const struct {
			struct ckpt_tree tree;
			struct ckpt_tree_entry entry;
		} payload = { { 1, tree->highest_fd }, tree->entries[i] };

		print_record(stdout, CKPT_RECORD_TREE, &payload, sizeof(payload), NULL);
	}
}

static void print_text(const struct image_tree *tree, const struct image_process *processes,
		       size_t count, const struct totals *totals)
{
	const struct record_print_context context = { tree, NULL };

	print_record(stdout, CKPT_RECORD_HEAD, &tree->head, sizeof(tree->head), &context);
	print_tree_entries(tree);
	for (size_t i = 0; i < tree->epoll_target_count; i++)
		print_record(stdout, CKPT_RECORD_EPOLL_TARGET, &tree->epoll_targets[i],
			     sizeof(tree->epoll_targets[i]), &context);
	for (size_t i = 0; i < count; i++)
		print_text_process(tree, &processes[i]);
	printf("total: %zu process%s, %" PRIu64 " vmas, %" PRIu64 " MiB mapped, %" PRIu64
	       " pages (%" PRIu64 " MiB) of data, image %" PRIu64 " bytes\n",
	       count, count == 1 ? "" : "es", totals->vmas, totals->mapped_bytes >> 20,
	       totals->pages, (totals->pages * CKPT_PAGE_SIZE) >> 20, totals->image_bytes);
}

static void print_json_vmas(const struct image_process *image)
{
	printf("  \"vmas\": [\n");
	for (size_t i = 0; i < image->vma_count; i++) {
		const struct ckpt_vma *vma = &image->vmas[i];
		char prot[4];

		vma_prot_text(vma->prot, prot);
		printf("    {\"start\": %" PRIu64 ", \"end\": %" PRIu64
		       ", \"prot\": \"%s\", \"kind\": \"%s\", \"pages\": %" PRIu64 ", \"path\": ",
		       vma->start, vma->end, prot, image_vma_kind_name(vma->kind), vma->page_count);
		print_json_string(vma_display_name(vma, image_find_file(image, vma->file_id)));
		printf("}%s\n", i + 1 < image->vma_count ? "," : "");
	}
	printf("  ],\n");
}

static void print_json_fds(const struct image_process *image)
{
	printf("  \"fds\": [\n");
	for (size_t i = 0; i < image->fd_count; i++) {
		const struct ckpt_fd *fd = &image->fds[i];
		const struct image_file *file = image_find_file(image, fd->file_id);

		printf("    {\"fd\": %d, \"kind\": \"%s\", \"inherited\": %s, \"cloexec\": %s, \"path\": ",
		       fd->fd,
		       file ? image_file_kind_name(&file->file)
			    : image_inherit_kind_name(fd->inherit_kind),
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

static void print_json_process(const struct image_process *image)
{
	const struct ckpt_process *process = &image->process;

	printf("  {\n  \"process\": {\"pid\": %d, \"ppid\": %d, \"pgid\": %d, \"sid\": %d, \"comm\": ",
	       process->pid, process->ppid, process->pgid, process->sid);
	print_json_string(process->comm);
	printf(", \"uid\": %u, \"gid\": %u, \"threads\": %u, \"umask\": %u, \"cwd\": ",
	       image->creds.uid[CKPT_ID_REAL], image->creds.gid[CKPT_ID_REAL],
	       process->thread_count, process->umask);
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
		       entry->pid, entry->ppid, entry->pgid, entry->sid,
		       image_tree_state_name(entry->state), entry->exit_status);
		printf("\"mm_owner\": %d, \"files_owner\": %d, \"fs_owner\": %d, \"sighand_owner\": %d}%s\n",
		       entry->mm_owner, entry->files_owner, entry->fs_owner, entry->sighand_owner,
		       i + 1 < tree->entry_count ? "," : "");
	}
	printf("  ],\n");
}

static void print_json(const struct image_tree *tree, const struct image_process *processes,
		       size_t count, const struct totals *totals)
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
	printf("  ],\n  \"totals\": {\"processes\": %zu, \"vmas\": %" PRIu64
	       ", \"mapped_bytes\": %" PRIu64 ", \"pages\": %" PRIu64 ", \"data_bytes\": %" PRIu64
	       ", \"image_bytes\": %" PRIu64 "}\n}\n",
	       count, totals->vmas, totals->mapped_bytes, totals->pages,
	       totals->pages * CKPT_PAGE_SIZE, totals->image_bytes);
}

static void add_up(const struct image_process *processes, size_t count, struct totals *totals)
{
	for (size_t p = 0; p < count; p++) {
		const struct image_process *image = &processes[p];

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
	struct image_process *processes = NULL;
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
		image_free_all(&tree, processes, count);
	}
	image_reader_free(&reader);
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
			cli_error("inspect", "unexpected argument '%s' (see ckpt inspect --help)",
				  argv[i]);
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
