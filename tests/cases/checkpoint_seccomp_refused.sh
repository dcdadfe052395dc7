# What of seccomp is still refused: a filter that can hand a syscall to a
# user-space listener (SECCOMP_RET_USER_NOTIF, installed with
# SECCOMP_FILTER_FLAG_NEW_LISTENER: the listener cannot be made again), and
# a filter whose action is computed at run time (BPF_RET | BPF_A: it could
# be USER_NOTIF), and any filter when ckpt lacks CAP_SYS_ADMIN (it can
# neither read the filters nor suspend them while it injects syscalls).  Plain filters and strict mode are saved (proc_seccomp,
# proc_seccomp_strict).  Each checkpoint must exit 1 with one line naming
# the thread and the listener, write nothing, and leave the process running
# unharmed: afterwards it still says pass.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
program=$case_dir/seccomp_holder
cat >"$case_dir/seccomp_holder.c" <<'EOF'
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <stddef.h>

#define NUMBER offsetof(struct seccomp_data, nr)

/* getppid goes to a listener (notify) or gets the action held in A (computed); plain allows all. */
static int install_filter(int notify, int plain)
{
	struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
	struct sock_fprog allow_all = { 1, allow };
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NUMBER),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_IMM, SECCOMP_RET_ERRNO | 1),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};

	if (notify)
		code[3] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
	struct sock_fprog program = { 5, code };

	if (plain)
		return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &allow_all) < 0 ? -1 : 0;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			    notify ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0, &program) < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	char line[16];
	int notify = argc > 1 && strcmp(argv[1], "notify") == 0;
	int plain = argc > 1 && strcmp(argv[1], "plain") == 0;

	if (install_filter(notify, plain) != 0) {
		printf("fail: setup: %m\n");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "go\n") != 0)
		return 1;
	printf("pass\n");
	return 0;
}
EOF
cc -O1 -pthread -o "$program" "$case_dir/seccomp_holder.c" || fail "cannot build the seccomp program"

# $1: notify, computed or plain; $2: the message; then the command that
# runs ckpt (a prefix, such as capsh dropping a capability).
expect_refused() {
	local how=$1 message=$2 ready line status
	shift 2
	coproc HOLDER { close_extra_fds; exec "$program" "$how"; }
	local pid=$HOLDER_PID
	exec {out}<&"${HOLDER[0]}" {in}>&"${HOLDER[1]}"
	read_line "$out" ready 10 "ready from the seccomp program ($how)"
	[ "$ready" = ready ] || fail "$how: $ready"
	status=$(status_of "$@" "$CKPT checkpoint -o $case_dir/image $pid")
	[ "$status" -eq 1 ] || fail "$how: checkpoint exited $status, expected 1"
	expect_one_line "$case_dir/stderr" "$how"
	grep -qE "$message" "$case_dir/stderr" ||
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

listener="thread [0-9]+ of process [0-9]+ has a seccomp filter that may notify a listener \(SECCOMP_RET_USER_NOTIF\)"
expect_refused notify "$listener" bash -c
expect_refused computed "$listener" bash -c
# Without CAP_SYS_ADMIN the filters can neither be read nor suspended.
command -v capsh >/dev/null || fail "capsh is missing (package libcap2-bin)"
expect_refused plain "thread [0-9]+ runs under seccomp: checkpoint and restart of seccomp need CAP_SYS_ADMIN" \
	capsh --drop=cap_sys_admin -- -c
echo "seccomp filters that may notify a listener refused, and any filter without CAP_SYS_ADMIN; the process unharmed"
exit 0
