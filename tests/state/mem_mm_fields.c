/*
 * What the kernel keeps about the address space besides the mappings: the
 * program re-executes itself with extra arguments and environment, then
 * checks after restart that /proc/self/cmdline, /proc/self/environ and
 * /proc/self/auxv read the same, getauxval(AT_PHDR), the 16 AT_RANDOM bytes
 * and AT_EXECFN are the same, readlink(/proc/self/exe) is the same, and the
 * code/data/brk/arg/env addresses in /proc/self/stat are the same.
 */
#include "state.h"

#include <sys/auxv.h>

#define MARK_VARIABLE "CKPT_STATE_MARK"

enum {
	PROC_FILE_MAX = 1 << 16,
	STAT_FIELD_COUNT = 10
};

struct mm_snapshot {
	char cmdline[PROC_FILE_MAX];
	long cmdline_length;
	char environ[PROC_FILE_MAX];
	long environ_length;
	char auxv[PROC_FILE_MAX];
	long auxv_length;
	unsigned long phdr;
	unsigned char random_bytes[16];
	char execfn[512];
	char exe[512];
	unsigned long long stat_fields[STAT_FIELD_COUNT];
};

/* startcode endcode startstack, start_data end_data start_brk arg_start arg_end env_start env_end */
static const int stat_field_numbers[STAT_FIELD_COUNT] = { 26, 27, 28, 45, 46, 47, 48, 49, 50, 51 };

static struct mm_snapshot before;
static struct mm_snapshot after;

static void reexec_with_arguments(char *program)
{
	char *const arguments[] = { program, (char *)(uintptr_t) "first argument",
				    (char *)(uintptr_t) "", (char *)(uintptr_t) "x=y z", NULL };

	setenv(MARK_VARIABLE, "checkpoint me, then restart me", 1);
	setenv("CKPT_STATE_EMPTY", "", 1);
	execv("/proc/self/exe", arguments);
	state_setup_fail("execv: %s", strerror(errno));
}

static void read_stat_fields(unsigned long long *fields)
{
	char stat_text[2048];
	char *cursor;
	int field_number = 3;
	unsigned next = 0;

	state_read_file("/proc/self/stat", stat_text, sizeof(stat_text));
	cursor = strrchr(stat_text, ')');
	if (cursor == NULL)
		return;
	cursor += 2; /* field 3 starts here */
	while (*cursor != '\0' && next < STAT_FIELD_COUNT) {
		if (field_number == stat_field_numbers[next])
			fields[next++] = strtoull(cursor, NULL, 10);
		cursor += strcspn(cursor, " ");
		cursor += *cursor == ' ';
		field_number++;
	}
}

static void take_snapshot(struct mm_snapshot *snapshot)
{
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	ssize_t exe_length;

	snapshot->cmdline_length =
		state_read_file("/proc/self/cmdline", snapshot->cmdline, PROC_FILE_MAX);
	snapshot->environ_length =
		state_read_file("/proc/self/environ", snapshot->environ, PROC_FILE_MAX);
	snapshot->auxv_length = state_read_file("/proc/self/auxv", snapshot->auxv, PROC_FILE_MAX);
	snapshot->phdr = getauxval(AT_PHDR);
	memcpy(snapshot->random_bytes, (const void *)getauxval(AT_RANDOM), 16);
	snprintf(snapshot->execfn, sizeof(snapshot->execfn), "%s", execfn ? execfn : "(none)");
	exe_length = readlink("/proc/self/exe", snapshot->exe, sizeof(snapshot->exe) - 1);
	snapshot->exe[exe_length > 0 ? exe_length : 0] = '\0';
	read_stat_fields(snapshot->stat_fields);
}

static void check_proc_files(void)
{
	state_expect_equal_long(after.cmdline_length, before.cmdline_length, "cmdline length");
	state_expect_equal_bytes(after.cmdline, before.cmdline, (size_t)before.cmdline_length,
				 "/proc/self/cmdline");
	state_expect_equal_long(after.environ_length, before.environ_length, "environ length");
	state_expect_equal_bytes(after.environ, before.environ, (size_t)before.environ_length,
				 "/proc/self/environ");
	state_expect_equal_long(after.auxv_length, before.auxv_length, "auxv length");
	state_expect_equal_bytes(after.auxv, before.auxv, (size_t)before.auxv_length,
				 "/proc/self/auxv");
}

static void check_auxv_values(void)
{
	state_expect(after.phdr == before.phdr, "AT_PHDR is %#lx, was %#lx", after.phdr, before.phdr);
	state_expect_equal_bytes(after.random_bytes, before.random_bytes, 16, "AT_RANDOM bytes");
	state_expect_equal_text(after.execfn, before.execfn, "AT_EXECFN");
	state_expect_equal_text(after.exe, before.exe, "/proc/self/exe");
	for (unsigned index = 0; index < STAT_FIELD_COUNT; index++)
		state_expect(after.stat_fields[index] == before.stat_fields[index],
			     "/proc/self/stat field %d is %#llx, was %#llx",
			     stat_field_numbers[index], after.stat_fields[index],
			     before.stat_fields[index]);
}

static void check_arguments_arrived(int argc, char **argv)
{
	if (argc != 4 || strcmp(argv[3], "x=y z") != 0 || getenv(MARK_VARIABLE) == NULL)
		state_setup_fail("re-executed with the wrong arguments");
	if (before.cmdline_length < 20 || before.stat_fields[STAT_FIELD_COUNT - 1] == 0)
		state_setup_fail("could not read /proc/self/cmdline or /proc/self/stat");
}

int main(int argc, char **argv)
{
	if (argc == 1)
		reexec_with_arguments(argv[0]);
	state_init();
	take_snapshot(&before);
	check_arguments_arrived(argc, argv);
	state_ready();
	state_wait_go_signal();
	take_snapshot(&after);
	check_proc_files();
	check_auxv_values();
	state_finish();
}
