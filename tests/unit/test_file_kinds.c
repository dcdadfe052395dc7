/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the objects side's FILE kind table (src/objects/file_kinds.h):
 * it has a row for every kind the image side knows and for no other, the
 * rows agree with the image side's FILE kind table (a kind with a state
 * record writes it, a kind with targets writes them), and each kind of fd
 * is recognised by exactly the row it belongs to (or by none, for a kind
 * ckpt refuses).  Prints one line per failed check; exit 0 when all pass.
 */
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>

#include "../tools/unit_check.h"
#include "image/records.h"
#include "objects/file_kinds.h"
#include "util.h"

#define KIND_PROBE_LIMIT 64u

static void test_rows_match_image_table(void)
{
	for (uint32_t kind = 0; kind < KIND_PROBE_LIMIT; kind++) {
		const struct file_kind_info *info = find_file_kind(kind);
		const struct file_kind_ops *ops = find_file_kind_ops(kind);

		check(!info == !ops,
		      "kind %u: a row on the objects side exactly when the image side has one", kind);
		if (!info || !ops)
			continue;
		check(ops->kind == kind, "kind %u (%s): its row says kind %u", kind, info->name,
		      ops->kind);
		check(ops->create != NULL, "kind %s: a create hook", info->name);
		check(!info->state_record || ops->write_state,
		      "kind %s: it has a state record, so its row writes it", info->name);
		check(!(info->flags & FILE_KIND_HAS_TARGETS) || ops->write_links,
		      "kind %s: EPOLL_TARGET records name it, so its row writes them", info->name);
		check(!ops->write_state || ops->free_state,
		      "kind %s: the state it writes is freed by its row", info->name);
	}
	check(find_file_kind_ops(UINT32_MAX) == NULL, "kind UINT32_MAX has no row");
}

static void test_iteration(void)
{
	size_t rows = 0, expected = 0;
	uint32_t last = 0;

	for (uint32_t kind = 0; kind < KIND_PROBE_LIMIT; kind++)
		expected += find_file_kind_ops(kind) != NULL;
	for (const struct file_kind_ops *ops = next_file_kind_ops(NULL); ops;
	     ops = next_file_kind_ops(ops)) {
		check(rows == 0 || ops->kind > last, "rows come in kind order (%u after %u)",
		      ops->kind, last);
		last = ops->kind;
		rows++;
	}
	check(rows == expected, "next_file_kind_ops visits %zu rows of %zu", rows, expected);
}

struct sample_fd {
	const char *target;
	mode_t type;
	nlink_t links;
	uint32_t kind;	       /* 0: refused (no row) */
	uint32_t inherited_as; /* at fd 0-2 */
	const char *protocol;  /* a socket's sockprotoname */
};

static const struct sample_fd samples[] = {
	{ "/etc/passwd", S_IFREG, 1, CKPT_FILE_REGULAR, CKPT_INHERIT_NONE, NULL },
	{ "/tmp", S_IFDIR, 2, CKPT_FILE_DIRECTORY, CKPT_INHERIT_NONE, NULL },
	{ "/dev/null", S_IFCHR, 1, CKPT_FILE_CHARDEV, CKPT_INHERIT_NONE, NULL },
	{ "/dev/urandom", S_IFCHR, 1, CKPT_FILE_CHARDEV, CKPT_INHERIT_NONE, NULL },
	{ "/dev/pts/0", S_IFCHR, 1, CKPT_FILE_PTY, CKPT_INHERIT_NONE, NULL },
	{ "/dev/pts/300", S_IFCHR, 1, CKPT_FILE_PTY, CKPT_INHERIT_NONE, NULL },
	{ "/dev/ptmx", S_IFCHR, 1, CKPT_FILE_PTY, CKPT_INHERIT_NONE, NULL },
	{ "/dev/tty", S_IFCHR, 1, 0, 0, NULL },
	{ "/dev/tty1", S_IFCHR, 1, 0, 0, NULL },
	{ "/dev/sda", S_IFBLK, 1, 0, 0, NULL },
	{ "/memfd:cache (deleted)", S_IFREG, 0, CKPT_FILE_SHMEM, CKPT_INHERIT_NONE, NULL },
	{ "/tmp/gone (deleted)", S_IFREG, 0, 0, 0, NULL },
	{ "anon_inode:[eventfd]", S_IFREG, 1, CKPT_FILE_EVENTFD, CKPT_INHERIT_NONE, NULL },
	{ "anon_inode:[timerfd]", S_IFREG, 1, CKPT_FILE_TIMERFD, CKPT_INHERIT_NONE, NULL },
	{ "anon_inode:[signalfd]", S_IFREG, 1, CKPT_FILE_SIGNALFD, CKPT_INHERIT_NONE, NULL },
	{ "anon_inode:[eventpoll]", S_IFREG, 1, CKPT_FILE_EPOLL, CKPT_INHERIT_NONE, NULL },
	{ "anon_inode:[eventfd]x", S_IFREG, 1, 0, 0, NULL },
	{ "anon_inode:inotify", S_IFREG, 1, CKPT_FILE_INOTIFY, CKPT_INHERIT_NONE, NULL },
	{ "anon_inode:[inotify]", S_IFREG, 1, CKPT_FILE_INOTIFY, CKPT_INHERIT_NONE, NULL },
	{ "anon_inode:[fanotify]", S_IFREG, 1, 0, 0, NULL },
	{ "anon_inode:[pidfd]", S_IFREG, 1, 0, 0, NULL },
	{ "socket:[4242]", S_IFSOCK, 1, CKPT_FILE_UNIX_SOCKET, CKPT_INHERIT_SOCKET, "UNIX-STREAM" },
	{ "socket:[4243]", S_IFSOCK, 1, CKPT_FILE_UNIX_SOCKET, CKPT_INHERIT_SOCKET, "NETLINK" },
	{ "socket:[4244]", S_IFSOCK, 1, CKPT_FILE_INET_SOCKET, CKPT_INHERIT_SOCKET, "TCP" },
	{ "socket:[4245]", S_IFSOCK, 1, CKPT_FILE_INET_SOCKET, CKPT_INHERIT_SOCKET, "UDPv6" },
	{ "socket:[4246]", S_IFSOCK, 1, CKPT_FILE_UNIX_SOCKET, CKPT_INHERIT_SOCKET, "TCPx" },
	{ "pipe:[4242]", S_IFIFO, 1, CKPT_FILE_PIPE, CKPT_INHERIT_PIPE, NULL },
	{ "/tmp/fifo", S_IFIFO, 1, CKPT_FILE_PIPE, CKPT_INHERIT_PIPE, NULL },
};

/* The device numbers of the terminals among the samples (pts: majors 136-143). */
static dev_t device_number(const char *target)
{
	unsigned int index = 0;

	if (sscanf(target, "/dev/pts/%u", &index) == 1)
		return makedev(136 + index / 256, index % 256);
	if (strcmp(target, "/dev/ptmx") == 0)
		return makedev(5, 2);
	if (sscanf(target, "/dev/tty%u", &index) == 1)
		return makedev(4, index);
	return strcmp(target, "/dev/tty") == 0 ? makedev(5, 0) : 0;
}

static size_t count_recognising_rows(const struct fd_facts *facts)
{
	size_t count = 0;

	for (const struct file_kind_ops *ops = next_file_kind_ops(NULL); ops;
	     ops = next_file_kind_ops(ops))
		count += ops->recognise && ops->recognise(facts);
	return count;
}

static void test_recognition(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(samples); i++) {
		const struct sample_fd *sample = &samples[i];
		struct fd_facts facts = { .fd = 7 };
		const struct file_kind_ops *ops;

		strcpy(facts.target, sample->target);
		strcpy(facts.socket_protocol, sample->protocol ? sample->protocol : "");
		facts.st.st_mode = sample->type | 0600;
		facts.st.st_nlink = sample->links;
		facts.st.st_rdev = device_number(sample->target);
		ops = recognise_fd(&facts);
		check(ops ? ops->kind == sample->kind : sample->kind == 0,
		      "%s is recognised as kind %u (got %u)", sample->target, sample->kind,
		      ops ? ops->kind : 0);
		check(count_recognising_rows(&facts) == (sample->kind ? 1 : 0),
		      "%s: one row at most recognises it", sample->target);
		check(!ops || ops->inherited_as == sample->inherited_as,
		      "%s at fd 0-2 is taken over as %u", sample->target, sample->inherited_as);
	}
}

int main(void)
{
	test_rows_match_image_table();
	test_iteration();
	test_recognition();
	return finish_checks("test_file_kinds");
}
