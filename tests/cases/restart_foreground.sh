# Without --detach, ckpt restart waits for the process and exits with its
# status: 0 and 1 as the process exits, 128+N when signal N kills it.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
start_state_program sys_read_pipe
"$CKPT" checkpoint --kill -o "$case_dir/image" "$target_pid" 2>"$case_dir/stderr" ||
	fail "checkpoint: $(head -1 "$case_dir/stderr")"
wait "$target_pid" 2>/dev/null

# Starts "ckpt restart IMAGE" in the foreground on FIFOs; sets waiter_pid.
start_foreground_restart() {
	rm -f "$case_dir/in" "$case_dir/out"
	mkfifo "$case_dir/in" "$case_dir/out"
	(close_extra_fds; exec "$CKPT" restart "$case_dir/image") \
		<"$case_dir/in" >"$case_dir/out" 2>"$case_dir/stderr" &
	waiter_pid=$!
	exec {to_process}>"$case_dir/in" {from_process}<"$case_dir/out"
}

expect_waiter_status() {
	wait "$waiter_pid"
	local status=$?
	[ "$status" -eq "$1" ] || fail "ckpt restart exited $status, expected $1 ($2): $(head -1 "$case_dir/stderr")"
}

# "go" arrives: the program passes and exits 0.
start_foreground_restart
echo go >&"$to_process"
read_line "$from_process" line 30 "the result"
[ "$line" = pass ] || fail "restored program: $line"
exec {to_process}>&- {from_process}<&-
expect_waiter_status 0 "the program passed"

# Its stdin ends without "go": the program says fail and exits 1.
start_foreground_restart
exec {to_process}>&-
read_line "$from_process" line 30 "the result"
exec {from_process}<&-
expect_waiter_status 1 "the program failed"

# Nobody reads its stdout: its answer raises SIGPIPE, 128 + 13.
start_foreground_restart
exec {from_process}<&-
echo go >&"$to_process"
exec {to_process}>&-
expect_waiter_status 141 "the program was killed by SIGPIPE"
exit 0
