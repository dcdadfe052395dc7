# The image can go to stdout (no -o, or -o -) and come back on stdin.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
start_state_program fd_regular
"$CKPT" checkpoint "$target_pid" >"$case_dir/live.img" 2>"$case_dir/stderr" ||
	fail "checkpoint to stdout: $(head -1 "$case_dir/stderr")"
[ -s "$case_dir/live.img" ] || fail "checkpoint to stdout wrote nothing"
"$CKPT" checkpoint --kill -o - "$target_pid" >"$case_dir/image" 2>"$case_dir/stderr" ||
	fail "checkpoint -o -: $(head -1 "$case_dir/stderr")"
wait "$target_pid" 2>/dev/null
"$CKPT" inspect "$case_dir/live.img" >/dev/null 2>"$case_dir/stderr" ||
	fail "inspect of the stdout image: $(head -1 "$case_dir/stderr")"

rm -f "$case_dir/in" "$case_dir/out"
mkfifo "$case_dir/out"
(close_extra_fds; exec "$CKPT" restart --detach) <"$case_dir/image" >"$case_dir/out" 2>"$case_dir/stderr" &
restart_pid=$!
exec {restored_out}<"$case_dir/out"
wait "$restart_pid" || fail "restart from stdin: $(head -1 "$case_dir/stderr")"
read_line "$restored_out" restored_pid 10 "the pid from ckpt restart --detach"
[ "$restored_pid" = "$target_pid" ] || fail "restored as $restored_pid, not $target_pid"
kill -USR1 "$restored_pid"
read_line "$restored_out" line 30 "the result"
[ "$line" = pass ] || fail "restored from stdin: $line"
exit 0
