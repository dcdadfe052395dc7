/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the /proc parsers of src/sys/proc_files.c on made-up text:
 * maps and smaps lines (paths with spaces, " (deleted)", parentheses, no
 * newline at the end, a 4000-byte path, anonymous mappings, VmFlags, lines
 * with missing fields), status and fdinfo fields (status_field: tabs and
 * spaces, a prefix of another name, a missing field, the last line without
 * a newline), /proc/self/stat with a comm holding ") (" and spaces, and
 * read_whole_file on files larger than its first buffer and without a
 * trailing newline.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "../tools/unit_check.h"
#include "sys/proc_files.h"

/* Parses a copy of text (the parser cuts lines in place). */
static int parse_copy(const char *text, struct proc_vma_list *list, struct ckpt_error *err)
{
	char *copy = strdup(text);
	int ret;

	if (!copy)
		abort();
	ret = proc_parse_vmas(copy, list, err);
	free(copy);
	return ret;
}

static void test_maps_names(void)
{
	static const char text[] =
		"00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/my program\n"
		"7f0000000000-7f0000021000 rw-s 00001000 00:05 1234   /memfd:a b (deleted)\n"
		"7f0000100000-7f0000101000 ---p 00000000 00:00 0 \n"
		"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n"
		"7f0000200000-7f0000201000 r--p 0000f000 fd:01 18446744073709551615 /tmp/x (1) y";
	struct ckpt_error err = { 0 };
	struct proc_vma_list list = { 0 };

	check(parse_copy(text, &list, &err) == 0 && list.count == 5, "five maps lines: %zu, %s",
	      list.count, err.message);
	if (list.count != 5)
		return;
	check(strcmp(list.vmas[0].name, "/usr/bin/my program") == 0, "space in path: '%s'",
	      list.vmas[0].name);
	check(list.vmas[0].start == 0x400000 && list.vmas[0].end == 0x452000 &&
		      list.vmas[0].prot == (PROT_READ | PROT_EXEC) && list.vmas[0].flags == 0 &&
		      list.vmas[0].dev_major == 8 && list.vmas[0].dev_minor == 2 &&
		      list.vmas[0].inode == 173521,
	      "fields of the first line");
	check(strcmp(list.vmas[1].name, "/memfd:a b (deleted)") == 0, "deleted memfd: '%s'",
	      list.vmas[1].name);
	check(list.vmas[1].flags & PROC_VMA_SHARED && list.vmas[1].offset == 0x1000,
	      "shared mapping at offset 0x1000");
	check(list.vmas[2].name[0] == '\0' && list.vmas[2].prot == 0, "anonymous PROT_NONE: '%s'",
	      list.vmas[2].name);
	check(strcmp(list.vmas[3].name, "[stack]") == 0, "[stack]: '%s'", list.vmas[3].name);
	check(strcmp(list.vmas[4].name, "/tmp/x (1) y") == 0 && list.vmas[4].inode == UINT64_MAX &&
		      list.vmas[4].dev_major == 0xfd,
	      "last line without newline: '%s'", list.vmas[4].name);
	proc_vma_list_free(&list);
}

static void test_maps_long_line(void)
{
	struct ckpt_error err = { 0 };
	struct proc_vma_list list = { 0 };
	size_t path_length = 4000;
	char *text = malloc(path_length + 128);
	int at;

	if (!text)
		abort();
	at = sprintf(text, "7f0000000000-7f0000001000 r--p 00000000 08:01 42 /");
	memset(text + at, 'p', path_length - 1);
	strcpy(text + at + path_length - 1, "\n");
	check(proc_parse_vmas(text, &list, &err) == 0 && list.count == 1 &&
		      strlen(list.vmas[0].name) == path_length,
	      "4000-byte path: %zu bytes", list.count ? strlen(list.vmas[0].name) : 0);
	proc_vma_list_free(&list);
	free(text);
}

static void test_smaps_flags(void)
{
	static const char text[] = "VmFlags: sh gd\n" /* before any mapping: ignored */
				   "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n"
				   "Size:                  4 kB\n"
				   "VmFlags: rd wr mr mw me gd ac dc nr hg\n"
				   "7f0000001000-7f0000002000 rw-s 00000000 00:01 7 /dev/zero\n"
				   "VmFlags: rd sh wf dd nh lo io";
	struct ckpt_error err = { 0 };
	struct proc_vma_list list = { 0 };
	uint32_t first = PROC_VMA_MAYWRITE | PROC_VMA_GROWSDOWN | PROC_VMA_DONTFORK |
			 PROC_VMA_NORESERVE | PROC_VMA_HUGEPAGE;
	uint32_t second = PROC_VMA_SHARED | PROC_VMA_WIPEONFORK | PROC_VMA_DONTDUMP |
			  PROC_VMA_NOHUGEPAGE | PROC_VMA_LOCKED | PROC_VMA_IO;

	check(parse_copy(text, &list, &err) == 0 && list.count == 2, "two smaps entries: %s",
	      err.message);
	if (list.count == 2) {
		check(list.vmas[0].flags == first, "VmFlags of the first: %#x, expected %#x",
		      list.vmas[0].flags, first);
		check(list.vmas[1].flags == second,
		      "VmFlags of the second (no newline): %#x, expected %#x", list.vmas[1].flags,
		      second);
	}
	proc_vma_list_free(&list);
}

static void test_maps_broken(void)
{
	static const char *const broken[] = {
		"7f0000000000-7f0000001000 rw-p\n",
		"7f0000000000-7f0000001000 rw-p 00000000 08:01\n",
		"7f0000000000-zz rw-p 00000000 08:01 42 /x\n",
	};
	struct proc_vma_list list = { 0 };

	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
		struct ckpt_error err = { 0 };

		check(parse_copy(broken[i], &list, &err) < 0 && strstr(err.message, "cannot parse"),
		      "missing fields refused: '%s' gave '%s'", broken[i], err.message);
		check(list.count == 0 && list.vmas == NULL, "nothing returned for '%s'", broken[i]);
	}
	check(parse_copy("", &list, &(struct ckpt_error){ 0 }) == 0 && list.count == 0,
	      "empty text: no mappings");
}

static void test_status_fields(void)
{
	static const char status[] = "Name:\tmy prog (x)\nUmask:\t0022\nSigQ:\t1/63\n"
				     "Sig:\tnot a real field\nCapEff:\t000001ffffffffff\n"
				     "Uid:\t0\t1\t2\t3\nTracerPid:\t0";
	static const char fdinfo[] = "pos:    4096\nflags:  0100002\nmnt_id: 25\nino:    77\n"
				     "settime flags: 01\nticks: 3";
	const char *value;

	value = status_field(status, "Name");
	check(value && strncmp(value, "my prog (x)\n", 12) == 0, "Name: '%.12s'", value ? value : "");
	value = status_field(status, "Sig");
	check(value && strncmp(value, "not a real", 10) == 0, "Sig is not SigQ: '%.10s'",
	      value ? value : "");
	value = status_field(status, "TracerPid");
	check(value && strcmp(value, "0") == 0, "last line without newline: '%s'",
	      value ? value : "");
	check(status_field(status, "Gid") == NULL, "a missing field is NULL");
	check(status_field(status, "Ui") == NULL, "a prefix of a name is not the name");
	check(status_field(status, "0") == NULL, "a value is not a name");
	value = status_field(fdinfo, "flags");
	check(value && strtoul(value, NULL, 8) == 0100002, "fdinfo flags after spaces: '%.8s'",
	      value ? value : "");
	value = status_field(fdinfo, "settime flags");
	check(value && strcmp(value, "01\nticks: 3") == 0, "a name with a space");
	value = status_field(fdinfo, "ticks");
	check(value && strcmp(value, "3") == 0, "fdinfo last line without newline");
	check(status_field("", "pos") == NULL, "empty text");
}

static void test_own_stat(void)
{
	struct ckpt_error err = { 0 };
	uint64_t values[3] = { 0 };

	prctl(PR_SET_NAME, "a) b (c) ", 0, 0, 0);
	check(proc_stat_fields(getpid(), values, 3, 3, &err) == 0, "stat fields: %s", err.message);
	check(values[0] == 'R', "state after a comm with ') (': '%c'", (char)values[0]);
	check(values[1] == (uint64_t)getppid() && values[2] == (uint64_t)getpgrp(),
	      "ppid %llu and pgrp %llu after a comm with spaces", (unsigned long long)values[1],
	      (unsigned long long)values[2]);
	err.code = 0;
	check(proc_stat_fields(getpid(), values, 80, 1, &err) < 0, "field 80 does not exist");
}

static void test_read_whole_file(void)
{
	char path[] = "/tmp/ckpt-unit-proc-XXXXXX";
	int fd = mkstemp(path);
	size_t length = 200000, got_length = 0;
	char *data = malloc(length), *text = NULL;
	struct ckpt_error err = { 0 };

	if (fd < 0 || !data)
		abort();
	for (size_t i = 0; i < length; i++)
		data[i] = (char)('a' + i % 26);
	check(write(fd, data, length) == (ssize_t)length, "write the test file");
	close(fd);
	check(read_whole_file(path, &text, &got_length, &err) == 0 && got_length == length &&
		      memcmp(text, data, length) == 0 && text[length] == '\0',
	      "a 200000-byte file without newline: %zu bytes", got_length);
	free(text);
	unlink(path);
	err.code = 0;
	check(read_whole_file(path, &text, NULL, &err) < 0 && strstr(err.message, path),
	      "a missing file is named: '%s'", err.message);
	free(data);
}

int main(void)
{
	test_maps_names();
	test_maps_long_line();
	test_smaps_flags();
	test_maps_broken();
	test_status_fields();
	test_own_stat();
	test_read_whole_file();
	return finish_checks("proc_files");
}
