/*
 * The command name: prctl(PR_SET_NAME) sets a 15-character comm.  After
 * restart PR_GET_NAME, /proc/self/comm and /proc/self/task/TID/comm give
 * the same name.
 */
#include "state.h"

#include <sys/prctl.h>

static const char chosen_name[] = "ckpt-renamed-15";

int main(void)
{
	char name[32] = "";
	char comm[64] = "";
	char task_path[64];

	state_init();
	if (prctl(PR_SET_NAME, chosen_name, 0, 0, 0) != 0)
		state_setup_fail("PR_SET_NAME: %s", strerror(errno));
	state_ready();
	state_wait_go_signal();
	prctl(PR_GET_NAME, name, 0, 0, 0);
	state_expect_equal_text(name, chosen_name, "PR_GET_NAME");
	state_read_file("/proc/self/comm", comm, sizeof(comm));
	state_expect_equal_text(comm, "ckpt-renamed-15\n", "/proc/self/comm");
	snprintf(task_path, sizeof(task_path), "/proc/self/task/%d/comm", getpid());
	state_read_file(task_path, comm, sizeof(comm));
	state_expect_equal_text(comm, "ckpt-renamed-15\n", "task comm");
	state_finish();
}
