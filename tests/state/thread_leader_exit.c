/*
 * The main thread has left with pthread_exit() and a second thread runs the
 * process: the thread group leader is a zombie (state Z in /proc) while the
 * process lives on.  The second thread says "ready" and waits for SIGUSR1.
 * After restart it has its tid, TLS and stack data; the leader is still
 * listed in /proc/self/task as a zombie; the process has the same two
 * tasks; and when the second thread ends the process exits with its status.
 */
#include "state.h"

#include <dirent.h>
#include <pthread.h>
#include <sched.h>

enum {
	STACK_BYTES = 1024,
	EXIT_TIMEOUT_SECONDS = 10
};

static __thread uint64_t tls_word;

static int count_tasks(void)
{
	DIR *tasks = opendir("/proc/self/task");
	int count = 0;

	if (tasks == NULL)
		return -1;
	for (struct dirent *entry = readdir(tasks); entry != NULL; entry = readdir(tasks))
		count += entry->d_name[0] != '.';
	closedir(tasks);
	return count;
}

/* The state letter of the leader task, or '?'. */
static char leader_state(void)
{
	char path[64];
	char stat[512];
	const char *end;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)getpid());
	if (state_read_file(path, stat, sizeof(stat)) <= 0)
		return '?';
	end = strrchr(stat, ')');
	return end != NULL && end[1] == ' ' ? end[2] : '?';
}

/* pthread_exit() of main returns before the kernel marks the leader a zombie. */
static bool wait_for_leader_zombie(void)
{
	int64_t give_up_ns = state_now_ns(CLOCK_MONOTONIC) + EXIT_TIMEOUT_SECONDS * 1000000000LL;

	while (leader_state() != 'Z') {
		if (state_now_ns(CLOCK_MONOTONIC) > give_up_ns)
			return false;
		sched_yield();
	}
	return true;
}

static void *run_survivor(void *argument)
{
	unsigned char stack_data[STACK_BYTES];
	int task_count_before;

	(void)argument;
	state_findings.tid_at_start = (pid_t)syscall(SYS_gettid);
	tls_word = 0x5eadbeef;
	state_fill(stack_data, STACK_BYTES, 77);
	if (!wait_for_leader_zombie())
		state_setup_fail("the main thread is in state %c, not a zombie", leader_state());
	task_count_before = count_tasks();
	state_ready();
	state_wait_go_signal();
	state_expect(leader_state() == 'Z', "the leader is in state %c, not a zombie",
		     leader_state());
	state_expect_equal_long(count_tasks(), task_count_before, "task count");
	state_expect(tls_word == 0x5eadbeef, "__thread word is %#llx", (unsigned long long)tls_word);
	state_expect_pattern(stack_data, STACK_BYTES, 77, "stack data");
	state_finish(); /* exit() from this thread ends the process */
}

int main(void)
{
	pthread_t survivor;

	state_init();
	if (pthread_create(&survivor, NULL, run_survivor, NULL) != 0)
		state_setup_fail("pthread_create");
	pthread_exit(NULL);
}
