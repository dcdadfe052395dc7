# A child created with clone() sharing its parent's memory, fd table, fs or
# signal handlers (but not a thread) cannot be rebuilt yet: the checkpoint
# must refuse with one line naming the two processes and what they share,
# exit 1, write nothing, and leave both processes running unharmed (the
# parent then still finds the value its child stores through the shared
# memory).
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
program=$case_dir/clone_child
cat >"$case_dir/clone_child.c" <<'EOF'
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int shared_word = 1;

/* Waits for SIGUSR1 (blocked since before the clone), then stores 2. */
static int child_main(void *unused)
{
	sigset_t none;

	(void)unused;
	sigemptyset(&none);
	sigsuspend(&none);
	shared_word = 2;
	return 0;
}

static void on_usr1(int signal_number)
{
	(void)signal_number;
}

int main(int argc, char **argv)
{
	int flags = argc > 1 ? (int)strtol(argv[1], NULL, 0) : 0;
	size_t stack_size = 256 * 1024;
	char *stack = malloc(stack_size), line[16];
	pid_t child;
	int status;

	sigset_t usr1;

	signal(SIGUSR1, on_usr1);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	child = clone(child_main, stack + stack_size, flags | SIGCHLD, NULL);
	if (child < 0) {
		perror("clone");
		return 1;
	}
	printf("ready %d\n", child);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "go\n") != 0)
		return 1;
	kill(child, SIGUSR1);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		printf("fail: child status %#x\n", status);
	else if ((flags & CLONE_VM) && shared_word != 2)
		printf("fail: the child's store did not reach us\n");
	else
		printf("pass\n");
	return 0;
}
EOF
cc -O1 -o "$program" "$case_dir/clone_child.c" || fail "cannot build the clone test program"

# $1: clone flags, $2: the words the error must contain.
expect_refused() {
	local flags=$1 words=$2 ready child line status
	coproc CLONER { close_extra_fds; exec "$program" "$flags"; }
	local pid=$CLONER_PID
	exec {out}<&"${CLONER[0]}" {in}>&"${CLONER[1]}"
	read_line "$out" ready 10 "ready from the clone program"
	child=${ready#ready }
	status=$(status_of "$CKPT" checkpoint -o "$case_dir/image" "$pid")
	[ "$status" -eq 1 ] || fail "flags $flags: checkpoint exited $status, expected 1"
	expect_one_line "$case_dir/stderr" "flags $flags"
	grep -q "process $child shares $words with process $pid" "$case_dir/stderr" ||
		fail "flags $flags: unexpected message: $(head -1 "$case_dir/stderr")"
	[ ! -e "$case_dir/image" ] || fail "flags $flags: an image was written"
	ls "$case_dir"/image.tmp.* >/dev/null 2>&1 && fail "flags $flags: a temporary image was left"
	echo go >&"$in"
	read_line "$out" line 10 "the verdict of the clone program"
	[ "$line" = pass ] || fail "flags $flags: after the refused checkpoint: $line"
	exec {in}>&- {out}<&-
	wait "$pid"
}

expect_refused 0x100 "its memory (CLONE_VM)"	# CLONE_VM
expect_refused 0x400 "its fd table (CLONE_FILES)"	# CLONE_FILES
expect_refused 0x200 "its cwd and umask (CLONE_FS)"	# CLONE_FS
exit 0
