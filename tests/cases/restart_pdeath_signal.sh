# The parent-death signal (PR_SET_PDEATHSIG) of a restored root process:
# `ckpt restart` without --detach stays its parent until it exits, so the
# process keeps its signal (SIGUSR2 here); with --detach ckpt leaves at once,
# which would fire the signal for nothing, so the root gets none (0) and
# runs on.  The program reports PR_GET_PDEATHSIG when told to go.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
program=$case_dir/pdeath_holder
cat >"$case_dir/pdeath_holder.c" <<'EOF'
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

int main(void)
{
	char line[16];
	int signal_number = -1;

	if (prctl(PR_SET_PDEATHSIG, SIGUSR2, 0, 0, 0) != 0) {
		printf("fail: setup: %m\n");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "go\n") != 0)
		return 1;
	prctl(PR_GET_PDEATHSIG, &signal_number, 0, 0, 0);
	printf("pdeath %d\n", signal_number);
	return 0;
}
EOF
cc -O1 -o "$program" "$case_dir/pdeath_holder.c" || fail "cannot build the pdeath program"

coproc HOLDER { close_extra_fds; exec "$program"; }
pid=$HOLDER_PID
exec {out}<&"${HOLDER[0]}" {in}>&"${HOLDER[1]}"
read_line "$out" line 10 "ready from the pdeath program"
[ "$line" = ready ] || fail "the pdeath program said: $line"
"$CKPT" checkpoint --kill -o "$case_dir/image" "$pid" 2>"$case_dir/stderr" ||
	fail "checkpoint: $(head -1 "$case_dir/stderr")"
wait "$pid"
exec {in}>&- {out}<&-

coproc RESTART { close_extra_fds; exec "$CKPT" restart "$case_dir/image" 2>"$case_dir/restart-stderr"; }
restart_pid=$RESTART_PID
exec {out}<&"${RESTART[0]}" {in}>&"${RESTART[1]}"
echo go >&"$in"
read_line "$out" line 10 "the answer of the process restarted without --detach"
[ "$line" = "pdeath 12" ] || fail "without --detach: $line, expected pdeath 12 (SIGUSR2)"
wait "$restart_pid" || fail "ckpt restart: status $?: $(head -1 "$case_dir/restart-stderr")"
exec {in}>&- {out}<&-

restart_detached "$CKPT" "$case_dir/image"
echo go >&"$restored_in"
read_line "$restored_out" line 10 "the answer of the process restarted with --detach"
[ "$line" = "pdeath 0" ] || fail "with --detach: $line, expected pdeath 0"
echo "parent-death signal kept without --detach, dropped with it"
exit 0
