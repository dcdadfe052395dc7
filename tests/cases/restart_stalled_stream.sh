# A restart from a stream that stalls (a FIFO whose writer stays open and
# never writes again) gives up after --timeout: exit 1, one line saying the
# stream stalled, and no process of the image left (the husks that held
# their PIDs are killed).  Half of the image of a four-generation tree is
# written, so the husks exist when the stream stops.  --timeout 0 and a
# bad value are checked too.
source "$(dirname "$0")/../reliability/common.bash"	# a child subreaper: the killed tree is reaped at once

need_file "$CKPT"
status=$(status_of "$CKPT" restart --timeout soon "$case_dir/none")
[ "$status" -eq 2 ] || fail "--timeout soon: exit $status, expected 2 (usage)"
grep -q -- "--timeout needs a number" "$case_dir/stderr" || fail "--timeout soon: $(head -1 "$case_dir/stderr")"

start_state_program tree_generations
"$CKPT" checkpoint --kill -o "$case_dir/image" "$target_pid" 2>"$case_dir/stderr" ||
	fail "checkpoint: $(head -1 "$case_dir/stderr")"
exec {target_in}>&- {target_out}<&-
wait "$target_pid" 2>/dev/null
"$CKPT" inspect "$case_dir/image" >"$case_dir/inspect" 2>&1 || fail "inspect: $(head -1 "$case_dir/inspect")"
mapfile -t pids < <(sed -n 's/^tree: pid \([0-9]*\) .*/\1/p' "$case_dir/inspect")
((${#pids[@]} == 4)) || fail "the image holds ${#pids[@]} processes, expected 4"
for pid in "${pids[@]}"; do
	deadline=$((SECONDS + 10))
	while [ -e "/proc/$pid" ] && ((SECONDS < deadline)); do sleep 0.02; done
done

size=$(stat -c %s "$case_dir/image")
mkfifo "$case_dir/stream"
exec {hold}<>"$case_dir/stream"	# a writer that never writes nor closes
head -c $((size / 2)) "$case_dir/image" >"$case_dir/stream" &
started=$SECONDS
status=$(status_of timeout 30 "$CKPT" restart --timeout 2 --detach "$case_dir/stream")
elapsed=$((SECONDS - started))
exec {hold}>&-
[ "$status" -eq 1 ] || fail "a stalled stream: exit $status after $elapsed s, expected 1 (124: it hung)"
expect_one_line "$case_dir/stderr" "a stalled stream"
grep -q "nothing came for 2 s: the stream stalled" "$case_dir/stderr" ||
	fail "a stalled stream: unexpected message: $(head -1 "$case_dir/stderr")"
((elapsed < 20)) || fail "a stalled stream: ckpt gave up only after $elapsed s"
for pid in "${pids[@]}"; do
	[ ! -e "/proc/$pid" ] || fail "PID $pid of the image is still taken after the stalled restart"
done

# --timeout 0 waits as long as it takes; a complete image still restarts.
restart_detached "$CKPT" "$case_dir/image"
echo go >&"$restored_in"
kill -USR1 "$restored_pid"
read_line "$restored_out" line 30 "the answer of the restored tree"
[ "$line" = pass ] || fail "the restored tree says: $line"
for pid in "${pids[@]}"; do
	kill -KILL "$pid" 2>/dev/null	# generations that were not told to go
done
echo "a stalled stream fails after --timeout with one line, nothing of the image left"
exit 0
