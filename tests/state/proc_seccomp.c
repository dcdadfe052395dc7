/*
 * seccomp filters: two stacked filters installed by the main thread before
 * its threads exist (so every thread shares them): the older one makes
 * getppid and getpgrp fail with EPERM, the newer one (with
 * SECCOMP_FILTER_FLAG_LOG) makes getppid fail with EACCES, which wins only
 * while it is the newer.  One thread adds a third filter of its own
 * (getsid fails with ENOENT); another has none of its own.  After the
 * checkpoint: each thread's syscalls fail or work as before, the
 * Seccomp/Seccomp_filters lines of every thread are unchanged, and, once
 * the thread with its own filter has ended, a filter added with
 * SECCOMP_FILTER_FLAG_TSYNC syncs the other thread: it still shares the
 * main thread's filters.
 */
#include "state.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#define SYSCALL_NUMBER offsetof(struct seccomp_data, nr)

/* What a thread's three syscalls return: the value, or -errno. */
struct outcome {
	long getppid;
	long getpgrp;
	long getsid;
};

struct worker {
	pthread_t thread;
	pid_t tid;
	bool own_filter;
	struct outcome before, after;
	char status_before[64], status_after[64];
};

static struct worker workers[2] = { { .own_filter = true }, { .own_filter = false } };
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int ready_count, check_round, checked_count;

static long result_of(long value)
{
	return value < 0 ? -errno : value;
}

static void try_syscalls(struct outcome *outcome)
{
	outcome->getppid = result_of(syscall(SYS_getppid));
	outcome->getpgrp = result_of(syscall(SYS_getpgrp));
	outcome->getsid = result_of(syscall(SYS_getsid, 0));
}

static int install(struct sock_filter *code, unsigned short length, unsigned int flags)
{
	struct sock_fprog program = { length, code };

	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &program);
}

/* Fails `first` (and `second`, unless -1) with `error`; allows the rest. */
static int install_errno_filter(int first, int second, int error, unsigned int flags)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_NUMBER),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)first, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)second, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)error),
	};

	return install(code, sizeof(code) / sizeof(code[0]), flags);
}

/* The Seccomp and Seccomp_filters lines of a thread's status: "mode M filters N". */
static void read_seccomp_lines(pid_t tid, char *out, size_t capacity)
{
	char path[64], status[4096];
	const char *mode, *count;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	snprintf(out, capacity, "unreadable");
	if (state_read_file(path, status, sizeof(status)) < 0)
		return;
	mode = strstr(status, "\nSeccomp:");
	count = strstr(status, "\nSeccomp_filters:");
	if (mode && count)
		snprintf(out, capacity, "mode %d filters %d", atoi(mode + 9), atoi(count + 17));
}

static void wait_for(int *counter, int wanted)
{
	pthread_mutex_lock(&lock);
	while (*counter < wanted)
		pthread_cond_wait(&changed, &lock);
	pthread_mutex_unlock(&lock);
}

static void count_up(int *counter)
{
	pthread_mutex_lock(&lock);
	(*counter)++;
	pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&lock);
}

static void *work(void *argument)
{
	struct worker *self = argument;

	self->tid = (pid_t)syscall(SYS_gettid);
	if (self->own_filter && install_errno_filter(SYS_getsid, -1, ENOENT, 0) != 0)
		self->before.getsid = -1000 - errno;
	else
		try_syscalls(&self->before);
	count_up(&ready_count);
	wait_for(&check_round, 1);
	try_syscalls(&self->after);
	count_up(&checked_count);
	if (self->own_filter)
		return NULL;
	wait_for(&check_round, 2); /* stays, to be synced by TSYNC */
	return NULL;
}

static void expect_result(const char *who, const char *call, long actual, long expected)
{
	state_expect(actual == expected, "%s: %s gives %ld, was %ld", who, call, actual, expected);
}

static void compare_outcome(const char *who, const struct outcome *before,
			    const struct outcome *after, const struct outcome *wanted)
{
	state_expect(before->getppid == wanted->getppid && before->getpgrp == wanted->getpgrp &&
			     (before->getsid < 0) == (wanted->getsid < 0) &&
			     (wanted->getsid > 0 || before->getsid == wanted->getsid),
		     "%s: setup: getppid %ld, getpgrp %ld, getsid %ld", who, before->getppid,
		     before->getpgrp, before->getsid);
	expect_result(who, "getppid", after->getppid, before->getppid);
	expect_result(who, "getpgrp", after->getpgrp, before->getpgrp);
	expect_result(who, "getsid", after->getsid, before->getsid);
}

/* A new filter with TSYNC: every other thread must share the main thread's filters. */
static void check_tsync(pid_t other)
{
	struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
	long result = install(allow, 1, SECCOMP_FILTER_FLAG_TSYNC);
	char lines[64];

	state_expect_equal_long(result, 0, "TSYNC from main (non-zero: thread that does not share)");
	read_seccomp_lines(other, lines, sizeof(lines));
	state_expect(strstr(lines, "filters 3") != NULL, "after TSYNC the thread shows: %s", lines);
}

int main(void)
{
	const struct outcome wanted_main = { -EACCES, -EPERM, 1 };
	const struct outcome wanted_own = { -EACCES, -EPERM, -ENOENT };
	struct outcome main_before, main_after;
	char main_lines_before[64], main_lines_after[64];

	state_init();
	if (install_errno_filter(SYS_getppid, SYS_getpgrp, EPERM, 0) != 0 ||
	    install_errno_filter(SYS_getppid, -1, EACCES, SECCOMP_FILTER_FLAG_LOG) != 0)
		state_setup_fail("seccomp: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		if (pthread_create(&workers[i].thread, NULL, work, &workers[i]) != 0)
			state_setup_fail("pthread_create failed");
	}
	wait_for(&ready_count, 2);
	try_syscalls(&main_before);
	read_seccomp_lines((pid_t)syscall(SYS_gettid), main_lines_before, sizeof(main_lines_before));
	for (int i = 0; i < 2; i++)
		read_seccomp_lines(workers[i].tid, workers[i].status_before,
				   sizeof(workers[i].status_before));
	state_ready();
	state_wait_go_signal();

	state_check_identity();
	for (int i = 0; i < 2; i++)
		read_seccomp_lines(workers[i].tid, workers[i].status_after,
				   sizeof(workers[i].status_after));
	read_seccomp_lines((pid_t)syscall(SYS_gettid), main_lines_after, sizeof(main_lines_after));
	try_syscalls(&main_after);
	count_up(&check_round);
	wait_for(&checked_count, 2);
	compare_outcome("main", &main_before, &main_after, &wanted_main);
	compare_outcome("thread with its own filter", &workers[0].before, &workers[0].after,
			&wanted_own);
	compare_outcome("thread without", &workers[1].before, &workers[1].after, &wanted_main);
	state_expect_equal_text(main_lines_before, "mode 2 filters 2", "main thread status");
	state_expect_equal_text(workers[0].status_before, "mode 2 filters 3", "own filter status");
	state_expect_equal_text(workers[1].status_before, "mode 2 filters 2", "other status");
	state_expect_equal_text(main_lines_after, main_lines_before, "main thread status after");
	state_expect_equal_text(workers[0].status_after, workers[0].status_before,
				"own filter status after");
	state_expect_equal_text(workers[1].status_after, workers[1].status_before,
				"other status after");
	pthread_join(workers[0].thread, NULL);
	check_tsync(workers[1].tid);
	count_up(&check_round);
	pthread_join(workers[1].thread, NULL);
	state_finish();
	return 0;
}
