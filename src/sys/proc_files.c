/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys/proc_files.h"
#include "util.h"

static int grow_text(char **text, size_t *capacity, struct ckpt_error *err)
{
	char *bigger = realloc(*text, *capacity * 2);

	if (!bigger)
		return fail(err, ENOMEM, "out of memory");
	*text = bigger;
	*capacity *= 2;
	return 0;
}

int read_whole_file(const char *path, char **ret_text, size_t *ret_length, struct ckpt_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t capacity = 65536, length = 0;
	char *text;

	if (fd < 0)
		return fail(err, errno, "cannot open %s: %s", path, strerror(errno));
	text = malloc(capacity);
	if (!text)
		return fail(err, ENOMEM, "out of memory");
	for (;;) {
		ssize_t got;

		if (length + 1 >= capacity && grow_text(&text, &capacity, err) < 0)
			break;
		got = read(fd, text + length, capacity - length - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			fail(err, errno, "cannot read %s: %s", path, strerror(errno));
			break;
		}
		if (got == 0) {
			text[length] = '\0';
			*ret_text = text;
			if (ret_length)
				*ret_length = length;
			return 0;
		}
		length += (size_t)got;
	}
	free(text);
	return err->code;
}

static uint32_t parse_vm_flags(const char *line)
{
	static const struct {
		char name[3];
		uint32_t flag;
	} known[] = {
		{ "sh", PROC_VMA_SHARED },     { "gd", PROC_VMA_GROWSDOWN },
		{ "hg", PROC_VMA_HUGEPAGE },   { "nh", PROC_VMA_NOHUGEPAGE },
		{ "dc", PROC_VMA_DONTFORK },   { "dd", PROC_VMA_DONTDUMP },
		{ "wf", PROC_VMA_WIPEONFORK }, { "mw", PROC_VMA_MAYWRITE },
		{ "lo", PROC_VMA_LOCKED },     { "io", PROC_VMA_IO },
		{ "pf", PROC_VMA_IO },	       { "nr", PROC_VMA_NORESERVE },
		{ "mg", PROC_VMA_MERGEABLE },  { "lf", PROC_VMA_LOCKONFAULT },
		{ "dp", PROC_VMA_DROPPABLE },
	};
	uint32_t flags = 0;

	for (const char *at = line; *at && *at != '\n'; at++) {
		if (at[0] == ' ' || !at[1] || at[1] == ' ' || at[1] == '\n')
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
			if (at[0] == known[i].name[0] && at[1] == known[i].name[1] &&
			    (at == line || at[-1] == ' '))
				flags |= known[i].flag;
		}
	}
	return flags;
}

/* "start-end perms offset major:minor inode   name" */
static int parse_maps_line(char *line, struct proc_vma *vma)
{
	char perms[5] = "";
	int name_at = 0;
	unsigned long long start, end, offset, inode;

	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %n", &start, &end, perms, &offset,
		   &vma->dev_major, &vma->dev_minor, &inode, &name_at) < 7)
		return -EINVAL;
	vma->start = start;
	vma->end = end;
	vma->offset = offset;
	vma->inode = inode;
	vma->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
		    (perms[2] == 'x' ? PROT_EXEC : 0);
	vma->flags = perms[3] == 's' ? PROC_VMA_SHARED : 0;
	vma->name = strdup(line + name_at);
	return vma->name ? 0 : -ENOMEM;
}

static bool is_maps_line(const char *line)
{
	const char *dash = strchr(line, '-');
	const char *space = strchr(line, ' ');

	return dash && space && dash < space;
}

static int add_vma_line(struct proc_vma_list *list, char *line, struct ckpt_error *err)
{
	struct proc_vma *grown = realloc(list->vmas, (list->count + 1) * sizeof(*grown));

	if (!grown)
		return fail(err, ENOMEM, "out of memory");
	list->vmas = grown;
	memset(&grown[list->count], 0, sizeof(*grown));
	if (parse_maps_line(line, &grown[list->count]) < 0)
		return fail(err, EINVAL, "cannot parse maps line: %.80s", line);
	list->count++;
	return 0;
}

static int parse_vma_lines(char *text, struct proc_vma_list *list, struct ckpt_error *err)
{
	char *line = text;

	while (line && *line) {
		char *next = strchr(line, '\n');
		int ret = 0;

		if (next)
			*next++ = '\0';
		if (is_maps_line(line))
			ret = add_vma_line(list, line, err);
		else if (strncmp(line, "VmFlags:", 8) == 0 && list->count > 0)
			list->vmas[list->count - 1].flags |= parse_vm_flags(line + 8);
		if (ret < 0)
			return ret;
		line = next;
	}
	return 0;
}

int proc_parse_vmas(char *text, struct proc_vma_list *ret_list, struct ckpt_error *err)
{
	struct proc_vma_list list = { 0 };
	int ret = parse_vma_lines(text, &list, err);

	if (ret < 0) {
		proc_vma_list_free(&list);
		return ret;
	}
	*ret_list = list;
	return 0;
}

int proc_read_vmas(pid_t pid, bool with_vm_flags, struct proc_vma_list *ret_list,
		   struct ckpt_error *err)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, with_vm_flags ? "smaps" : "maps");
	ret = read_whole_file(path, &text, NULL, err);
	if (ret < 0)
		return ret;
	return proc_parse_vmas(text, ret_list, err);
}

void proc_vma_list_free(struct proc_vma_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->vmas[i].name);
	free(list->vmas);
	list->vmas = NULL;
	list->count = 0;
}

int proc_vma_flags_at(pid_t pid, uint64_t address, uint32_t *ret_flags, struct ckpt_error *err)
{
	struct proc_vma_list list;
	size_t i = 0;
	int ret = proc_read_vmas(pid, true, &list, err);

	if (ret < 0)
		return ret;
	while (i < list.count && !(list.vmas[i].start <= address && address < list.vmas[i].end))
		i++;
	if (i < list.count)
		*ret_flags = list.vmas[i].flags;
	else
		ret = fail(err, ENOENT, "no memory at %#llx in /proc/%d/smaps",
			   (unsigned long long)address, pid);
	proc_vma_list_free(&list);
	return ret;
}

int proc_stat_fields(pid_t pid, uint64_t *values, int first_field, int count, struct ckpt_error *err)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	char *at;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	ret = read_whole_file(path, &text, NULL, err);
	if (ret < 0)
		return ret;
	at = strrchr(text, ')'); /* comm may hold spaces and parentheses */
	if (!at)
		return fail(err, EINVAL, "cannot parse %s", path);
	at += 2; /* field 3 starts here */
	for (int field = 3; field < first_field + count; field++) {
		char *end;
		unsigned long long value = strtoull(at, &end, 10);

		if (field == 3)
			value = (unsigned char)*at;
		else if (end == at)
			return fail(err, EINVAL, "cannot parse field %d of %s", field, path);
		if (field >= first_field)
			values[field - first_field] = value;
		at = strchr(at, ' ');
		if (!at && field + 1 < first_field + count)
			return fail(err, EINVAL, "%s has too few fields", path);
		if (at)
			at++;
	}
	return 0;
}

const char *status_field(const char *status_text, const char *name)
{
	size_t length = strlen(name);
	const char *line = status_text;

	while (line && *line) {
		if (strncmp(line, name, length) == 0 && line[length] == ':')
			return line + length + 1 + strspn(line + length + 1, " \t");
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return NULL;
}

static int append_tid(pid_t **tids, size_t *count, pid_t tid, struct ckpt_error *err)
{
	pid_t *grown = realloc(*tids, (*count + 1) * sizeof(*grown));

	if (!grown)
		return fail(err, ENOMEM, "out of memory");
	grown[(*count)++] = tid;
	*tids = grown;
	return 0;
}

static int compare_tids(const void *a, const void *b)
{
	pid_t left = *(const pid_t *)a, right = *(const pid_t *)b;

	return (left > right) - (left < right);
}

int list_thread_ids(pid_t pid, pid_t **ret_tids, size_t *ret_count, struct ckpt_error *err)
{
	char path[64];
	DIR *dir;
	struct dirent *entry;
	pid_t *tids = NULL;
	size_t count = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return fail(err, errno == ENOENT ? ESRCH : errno, "no process %d", pid);
	for (entry = readdir(dir); entry; entry = readdir(dir)) {
		pid_t tid = atoi(entry->d_name);

		if (tid > 0 && append_tid(&tids, &count, tid, err) < 0)
			break;
	}
	closedir(dir);
	if (failed(err)) {
		free(tids);
		return err->code;
	}
	qsort(tids, count, sizeof(*tids), compare_tids);
	*ret_tids = tids;
	*ret_count = count;
	return 0;
}

static pid_t innermost_pid(const char *status_path);

static ino_t pid_namespace_of(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", pid);
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

pid_t proc_find_by_inner_pid(pid_t namespace_member, const char *directory, pid_t inner)
{
	ino_t namespace = pid_namespace_of(namespace_member);
	DIR *dir = opendir(directory);
	struct dirent *entry;
	pid_t found = 0;

	while (dir && namespace && !found && (entry = readdir(dir)) != NULL) {
		char path[300];
		pid_t outer = (pid_t)atoi(entry->d_name);

		if (outer <= 0)
			continue;
		snprintf(path, sizeof(path), "%s/%d/status", directory, outer);
		if (innermost_pid(path) == inner && pid_namespace_of(outer) == namespace)
			found = outer;
	}
	if (dir)
		closedir(dir);
	return found;
}

/* The NSpid line of a task: its PID in each namespace, innermost last. */
static pid_t innermost_pid(const char *status_path)
{
	_cleanup_free_ char *text = NULL;
	struct ckpt_error ignored = { 0 };
	const char *line;
	pid_t innermost = 0;

	if (read_whole_file(status_path, &text, NULL, &ignored) < 0)
		return 0;
	line = status_field(text, "NSpid");
	while (line && *line && *line != '\n') {
		char *end;
		long value = strtol(line, &end, 10);

		if (end == line)
			break;
		innermost = (pid_t)value;
		line = end + strspn(end, " \t");
	}
	return innermost;
}
