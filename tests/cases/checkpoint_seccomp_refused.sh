# A process under seccomp is refused: its filters cannot be read back or
# made again, and a thread in strict mode would be killed by the first
# syscall ckpt injects.  Two cases: an allow-all filter installed by the
# main thread, and a second thread in strict mode (the main thread is
# free).  Each checkpoint must exit 1 with one line naming the thread and
# the seccomp mode, write nothing, and leave the process running unharmed:
# afterwards the strict thread still reads its wake-up byte and exits, and
# the program says pass.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
program=$case_dir/seccomp_holder
cat >"$case_dir/seccomp_holder.c" <<'EOF'
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int ready_pipe[2], wake_pipe[2];

/* Only read, write and exit are allowed from here on. */
static void *strict_thread(void *unused)
{
	char byte = 's';

	(void)unused;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0) != 0)
		byte = 'f';
	syscall(SYS_write, ready_pipe[1], &byte, 1);
	syscall(SYS_read, wake_pipe[0], &byte, 1);
	syscall(SYS_exit, 0);
	return NULL;
}

static int install_allow_all_filter(void)
{
	struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
	struct sock_fprog program = { 1, allow };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0);
}

static int start_strict_thread(pthread_t *thread)
{
	char byte = 0;

	if (pipe(ready_pipe) != 0 || pipe(wake_pipe) != 0 ||
	    pthread_create(thread, NULL, strict_thread, NULL) != 0)
		return -1;
	return read(ready_pipe[0], &byte, 1) == 1 && byte == 's' ? 0 : -1;
}

int main(int argc, char **argv)
{
	char line[16];
	pthread_t thread;
	int strict = argc > 1 && strcmp(argv[1], "strict") == 0;
	int ret = strict ? start_strict_thread(&thread) : install_allow_all_filter();

	if (ret != 0) {
		printf("fail: setup: %m\n");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "go\n") != 0)
		return 1;
	if (strict && (write(wake_pipe[1], "w", 1) != 1 || pthread_join(thread, NULL) != 0))
		printf("fail: the strict thread did not finish\n");
	else
		printf("pass\n");
	return 0;
}
EOF
cc -O1 -pthread -o "$program" "$case_dir/seccomp_holder.c" || fail "cannot build the seccomp program"

# $1: filter or strict; $2: the mode the message must name.
expect_refused() {
	local how=$1 mode=$2 ready line status
	coproc HOLDER { close_extra_fds; exec "$program" "$how"; }
	local pid=$HOLDER_PID
	exec {out}<&"${HOLDER[0]}" {in}>&"${HOLDER[1]}"
	read_line "$out" ready 10 "ready from the seccomp program ($how)"
	[ "$ready" = ready ] || fail "$how: $ready"
	status=$(status_of "$CKPT" checkpoint -o "$case_dir/image" "$pid")
	[ "$status" -eq 1 ] || fail "$how: checkpoint exited $status, expected 1"
	expect_one_line "$case_dir/stderr" "$how"
	grep -qE "thread [0-9]+ of process $pid runs under seccomp \($mode mode\)" "$case_dir/stderr" ||
		fail "$how: unexpected message: $(head -1 "$case_dir/stderr")"
	[ ! -e "$case_dir/image" ] || fail "$how: an image was written"
	ls "$case_dir"/image.tmp.* >/dev/null 2>&1 && fail "$how: a temporary image was left"
	grep -qE '^TracerPid:[[:space:]]+0$' "/proc/$pid/status" || fail "$how: still traced"
	echo go >&"$in"
	read_line "$out" line 10 "the verdict of the seccomp program ($how)"
	[ "$line" = pass ] || fail "$how: after the refused checkpoint: $line"
	exec {in}>&- {out}<&-
	wait "$pid"
}

expect_refused filter filter
expect_refused strict strict
echo "seccomp filter and strict mode refused, the process unharmed"
exit 0
