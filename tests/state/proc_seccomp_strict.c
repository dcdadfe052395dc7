/*
 * A thread in seccomp strict mode (read, write, exit and sigreturn only),
 * blocked in read() on a unix socket (a socketpair with the main thread); the main thread is free.  After the
 * checkpoint: the thread's status still says Seccomp 1, it answers each
 * byte with the byte plus one (raw read and write), and on 'q' it exits
 * with SYS_exit; the main thread joins it.  A strict thread that were not
 * restored strict, or killed by an injected syscall, would fail this.
 */
#include "state.h"

#include <linux/seccomp.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

static int ends[2]; /* main's end, the thread's end */
static volatile pid_t strict_tid;

/* From the prctl on, only raw read, write and exit. */
static void *strict_loop(void *unused)
{
	char byte = 's';

	(void)unused;
	strict_tid = (pid_t)syscall(SYS_gettid);
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0) != 0)
		byte = 'f';
	syscall(SYS_write, ends[1], &byte, 1);
	for (;;) {
		if (syscall(SYS_read, ends[1], &byte, 1) != 1 || byte == 'q')
			break;
		byte++;
		syscall(SYS_write, ends[1], &byte, 1);
	}
	syscall(SYS_exit, 0);
	return NULL;
}

static int seccomp_mode_of(pid_t tid)
{
	char path[64], status[4096];
	const char *mode;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	if (state_read_file(path, status, sizeof(status)) < 0)
		return -1;
	mode = strstr(status, "\nSeccomp:");
	return mode ? atoi(mode + 9) : -1;
}

static char ask(char byte)
{
	char answer = 0;

	if (write(ends[0], &byte, 1) != 1 || read(ends[0], &answer, 1) != 1)
		return 0;
	return answer;
}

int main(void)
{
	pthread_t thread;
	char byte = 0;

	state_init();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0 ||
	    pthread_create(&thread, NULL, strict_loop, NULL) != 0)
		state_setup_fail("socketpair or pthread_create: %s", strerror(errno));
	if (read(ends[0], &byte, 1) != 1 || byte != 's')
		state_setup_fail("the thread could not enter strict mode");
	state_expect_equal_long(ask('a'), 'b', "answer before the checkpoint");
	state_expect_equal_long(seccomp_mode_of(strict_tid), 1, "the thread's seccomp mode");
	state_expect_equal_long(seccomp_mode_of((pid_t)syscall(SYS_gettid)), 0,
				"main's seccomp mode");
	state_ready();
	state_wait_go_signal();

	state_check_identity();
	state_expect_equal_long(seccomp_mode_of(strict_tid), 1, "the thread's seccomp mode after");
	state_expect_equal_long(seccomp_mode_of((pid_t)syscall(SYS_gettid)), 0,
				"main's seccomp mode after");
	state_expect_equal_long(ask('x'), 'y', "answer after");
	state_expect_equal_long(ask('0'), '1', "second answer after");
	if (write(ends[0], "q", 1) != 1)
		state_expect(false, "cannot tell the thread to quit");
	pthread_join(thread, NULL);
	state_finish();
	return 0;
}
