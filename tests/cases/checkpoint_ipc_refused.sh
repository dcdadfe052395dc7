# IPC objects ckpt cannot save yet, each refused by name at checkpoint:
# an fd of a POSIX message queue (its path "/NAME" must not be taken for a
# file of the root filesystem) and System V shared memory attached in the
# process.  Each checkpoint must refuse with one line naming the object,
# exit 1, write nothing, and leave the process running (it checks that the
# object still holds what it put there).
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
program=$case_dir/ipc_holder
queue=/ckpt-case-$$
cat >"$case_dir/ipc_holder.c" <<'EOF2'
#define _GNU_SOURCE
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

static char *attached;
static mqd_t queue = -1;

/* Builds the object named by how: a queue at fd 3 holding "hello", or a segment holding "hello". */
static int build(const char *how, const char *name)
{
	int id;

	if (strcmp(how, "mqueue") == 0) {
		queue = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, NULL);
		return queue < 0 ? -1 : mq_send(queue, "hello", 5, 3);
	}
	id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	attached = id < 0 ? NULL : shmat(id, NULL, 0);
	if (!attached || attached == (void *)-1 || shmctl(id, IPC_RMID, NULL) < 0)
		return -1;
	strcpy(attached, "hello");
	return 0;
}

static int still_there(void)
{
	char message[8192] = "";
	unsigned int priority = 0;

	if (attached)
		return strcmp(attached, "hello") == 0;
	return mq_receive(queue, message, sizeof(message), &priority) == 5 && priority == 3 &&
	       memcmp(message, "hello", 5) == 0;
}

int main(int argc, char **argv)
{
	char line[16];
	int ok;

	const char *name = getenv("CKPT_CASE_QUEUE");

	if (argc < 2 || !name || build(argv[1], name) < 0) {
		printf("fail: setup: %m\n");
		if (queue >= 0)
			mq_unlink(name);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "go\n") != 0)
		return 1;
	ok = still_there();
	if (queue >= 0)
		mq_unlink(name);
	printf(ok ? "pass\n" : "fail: the object lost what it held\n");
	return 0;
}
EOF2
cc -O1 -o "$program" "$case_dir/ipc_holder.c" -lrt || fail "cannot build the IPC program"

# $1: the object to build, $2: words the error must contain.
expect_refused() { expect_checkpoint_refused ipc "$@"; }
export CKPT_CASE_QUEUE=$queue

expect_refused mqueue "fd 3 of process [0-9]* is a POSIX message queue ($queue): not supported yet"
expect_refused sysv-shm "memory at 0x[0-9a-f]*-0x[0-9a-f]* of process [0-9]* (/SYSV00000000 (deleted)) is System V shared memory: not supported yet"
exit 0
