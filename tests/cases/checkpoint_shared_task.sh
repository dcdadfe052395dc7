# Sharing that the restart cannot rebuild is refused: the checkpoint exits
# 1 with one line naming the process and what it shares, writes nothing,
# and leaves every process running unharmed (each program then still runs
# to its end and says pass).  The cases: a parent waiting in vfork() (it
# cannot even be stopped), its vfork child checkpointed alone and a
# CLONE_VM child checkpointed alone (their memory is their parent's,
# outside the tree), and a CLONE_PARENT | CLONE_VM child, whose parent in
# the tree does not hold the memory it shares.  (tree_clone_* test the
# sharing that is restored.)
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
program=$case_dir/sharer
cat >"$case_dir/sharer.c" <<'EOF'
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int shared_word = 1;

static void say(const char *format, int a, int b, int c)
{
	char line[64];
	int length = snprintf(line, sizeof(line), format, a, b, c);

	if (write(1, line, (size_t)length) != length)
		_exit(3);
}

static void wait_usr1(void)
{
	sigset_t usr1;
	int got;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigwait(&usr1, &got);
}

static bool wait_go(void)
{
	char line[16];

	return fgets(line, sizeof(line), stdin) && strcmp(line, "go\n") == 0;
}

static bool exits_zero(pid_t child)
{
	int status;

	return waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static pid_t clone_on_stack(int (*start)(void *), int flags)
{
	size_t size = 256 * 1024;
	char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return clone(start, stack + size, flags, NULL);
}

static int store_two(void *unused)
{
	(void)unused;
	wait_usr1();
	shared_word = 2;
	return 0;
}

/* ready PARENT CHILD; the child waits in read() while the parent waits in vfork(). */
static int run_vfork(void)
{
	char line[16];
	pid_t parent = getpid(), child = vfork();

	if (child == 0) {
		say("ready %d %d %d\n", parent, getpid(), 0);
		_exit(read(0, line, sizeof(line)) > 0 ? 0 : 3);
	}
	printf(exits_zero(child) ? "pass\n" : "fail: the vfork child\n");
	return 0;
}

/* ready PARENT CHILD; the child stores 2 in the parent's memory on go. */
static int run_clone_vm(void)
{
	pid_t child = clone_on_stack(store_two, CLONE_VM | SIGCHLD);

	say("ready %d %d %d\n", getpid(), child, 0);
	if (!wait_go())
		return 1;
	kill(child, SIGUSR1);
	printf(exits_zero(child) && shared_word == 2 ? "pass\n" : "fail: the clone child\n");
	return 0;
}

/* ready ROOT SHARER CHILD: the child forks from the root and clones the sharer as the root's child. */
static int run_clone_parent(void)
{
	int report[2];
	pid_t child, sharer = 0;

	if (pipe(report) != 0)
		return 1;
	child = fork();
	if (child == 0) {
		sharer = clone_on_stack(store_two, CLONE_PARENT | CLONE_VM | SIGCHLD);
		if (write(report[1], &sharer, sizeof(sharer)) != sizeof(sharer))
			_exit(3);
		wait_usr1();
		_exit(0);
	}
	if (read(report[0], &sharer, sizeof(sharer)) != sizeof(sharer))
		return 1;
	say("ready %d %d %d\n", getpid(), sharer, child);
	if (!wait_go())
		return 1;
	kill(sharer, SIGUSR1);
	kill(child, SIGUSR1);
	printf(exits_zero(sharer) && exits_zero(child) ? "pass\n" : "fail: the children\n");
	return 0;
}

int main(int argc, char **argv)
{
	sigset_t usr1;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 1 && strcmp(argv[1], "vfork") == 0)
		return run_vfork();
	if (argc > 1 && strcmp(argv[1], "clone-vm") == 0)
		return run_clone_vm();
	return run_clone_parent();
}
EOF
cc -O1 -o "$program" "$case_dir/sharer.c" || fail "cannot build the sharing test program"

# $1: the program's mode, $2: which reported pid to checkpoint (1-3),
# $3: the words the error must contain (%1 %2 %3 stand for the pids).
expect_refused() {
	local mode=$1 which=$2 words=$3 ready line status target
	local -a pids
	coproc SHARER { close_extra_fds; exec "$program" "$mode"; }
	local pid=$SHARER_PID
	exec {out}<&"${SHARER[0]}" {in}>&"${SHARER[1]}"
	read_line "$out" ready 10 "ready from the sharing program"
	read -r -a pids <<<"${ready#ready }"
	target=${pids[$((which - 1))]}
	words=${words//%1/${pids[0]}}
	words=${words//%2/${pids[1]}}
	words=${words//%3/${pids[2]}}
	status=$(status_of "$CKPT" checkpoint -o "$case_dir/image" "$target")
	[ "$status" -eq 1 ] || fail "$mode: checkpoint exited $status, expected 1"
	expect_one_line "$case_dir/stderr" "$mode"
	grep -qF "$words" "$case_dir/stderr" ||
		fail "$mode: unexpected message: $(head -1 "$case_dir/stderr") (expected: $words)"
	[ ! -e "$case_dir/image" ] || fail "$mode: an image was written"
	ls "$case_dir"/image.tmp.* >/dev/null 2>&1 && fail "$mode: a temporary image was left"
	echo go >&"$in"
	read_line "$out" line 10 "the verdict of the sharing program"
	[ "$line" = pass ] || fail "$mode: after the refused checkpoint: $line"
	exec {in}>&- {out}<&-
	wait "$pid"
}

expect_refused vfork 1 "process %1 waits in vfork() for its child to exec or exit (CLONE_VFORK)"
expect_refused vfork 2 "process %2 shares its memory (CLONE_VM) with its parent %1, outside the checkpointed tree"
expect_refused clone-vm 2 "process %2 shares its memory (CLONE_VM) with its parent %1, outside the checkpointed tree"
expect_refused clone-parent 1 "process %2 shares its memory (CLONE_VM) with process %3, which its parent %1 does not hold"
exit 0
