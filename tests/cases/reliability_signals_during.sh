# Signals sent to the target during a checkpoint: another process streams
# SIGRTMIN+1 with distinct si_value payloads (sigqueue, 0, 1, 2, ...) at a
# target holding 64 MiB, before, during and after `ckpt checkpoint`.
#   live: the checkpoint must finish while the stream runs (endless; the
#     target's queue holds at most 2048: see rel_signals.c); afterwards
#     every value sent arrived exactly once (none lost, none twice).
#   restart: the checkpoint --kill runs while a stream of 5000 runs (a
#     restart re-queues what the image holds under the image's own
#     RLIMIT_SIGPENDING, so the target keeps the default) at a target that
#     blocks the signal, so all of them wait in its queue; the restored
#     process, unblocking it, gets every value sent before the checkpoint
#     began exactly once (pending at the freeze: through the image), and
#     none twice.
# ROUNDS (RELIABILITY_SIGNAL_ROUNDS, default 3) of each.
# Results: $BUILD/reliability/reliability_signals_during.tsv.
source "$(dirname "$0")/../reliability/common.bash"
need_file "$CKPT"
start_results reliability_signals_during
HELPER=$(build_helper rel_signals) || fail "cannot build tests/reliability/rel_signals.c"
ROUNDS=${RELIABILITY_SIGNAL_ROUNDS:-3}

# start_sender PID [COUNT]: sender_pid, sender_out (its stdout); waits for "started".
start_sender() {
	local fifo=$case_dir/sender.$((++target_serial)) line
	mkfifo "$fifo" || fail "mkfifo"
	exec {sender_out}<>"$fifo"
	(close_extra_fds; exec "$HELPER" send "$@") >"$fifo" 2>>"$case_dir/sender.err" &
	sender_pid=$!
	IFS= read -r -t 20 -u "$sender_out" line && [ "$line" = started ] ||
		fail "the sender did not start: '${line:-}' $(head -c 200 "$case_dir/sender.err")"
}

# sender_line: the sender's next line (mark N or sent N): its number.
sender_number() {
	local line
	IFS= read -r -t 20 -u "$sender_out" line || { echo -1; return; }
	echo "${line##* }"
}

live_round() {
	local round=$1 sent answer status
	REL_TARGET=$HELPER start_target target 2048 || fail "target: $target_error"
	start_sender "$target_pid"
	timeout -k 5 30 "$CKPT" checkpoint -o "$case_dir/live.img" "$target_pid" 2>"$case_dir/stderr"
	status=$?
	kill -TERM "$sender_pid"
	sent=$(sender_number)
	wait "$sender_pid"
	if [ "$status" -ne 0 ]; then
		problem live "round $round" "the checkpoint failed while the stream ran (exit $status): $(head -1 "$case_dir/stderr")"
	elif answer=$(ask "$target_pid" "$target_in" "$target_out" "expect $sent"); then
		record live "round $round" pass "$sent signals sent, each arrived once"
	else
		problem live "round $round" "$sent sent: $answer"
	fi
	kill_and_reap "$target_pid"
	close_pipes "$target_in" "$target_out"
	exec {sender_out}<&-
	rm -f "$case_dir/live.img"
}

restart_round() {
	local round=$1 marked sent answer status
	REL_TARGET=$HELPER start_target target || fail "target: $target_error"
	answer=$(ask "$target_pid" "$target_in" "$target_out" block) || fail "block: $answer"
	start_sender "$target_pid" 5000
	kill -USR1 "$sender_pid"
	marked=$(sender_number)
	timeout -k 5 30 "$CKPT" checkpoint --kill -o "$case_dir/restart.img" "$target_pid" 2>"$case_dir/stderr"
	status=$?
	kill -TERM "$sender_pid" 2>/dev/null
	sent=$(sender_number)
	wait "$sender_pid"
	wait_gone "$target_pid" 10
	close_pipes "$target_in" "$target_out"
	exec {sender_out}<&-
	if [ "$status" -ne 0 ]; then
		problem restart "round $round" "the checkpoint failed while the stream ran (exit $status): $(head -1 "$case_dir/stderr")"
		return
	fi
	restart_image "$case_dir/restart.img" "$CKPT"
	if [ "$restart_status" -ne 0 ]; then
		problem restart "round $round" "restart failed: $restart_message"
		return
	fi
	if answer=$(ask "$restored_pid" "$restored_in" "$restored_out" "atleast $marked"); then
		record restart "round $round" pass "$marked sent before the checkpoint (of $sent) each arrived once"
	else
		problem restart "round $round" "$marked sent before the checkpoint (of $sent): $answer"
	fi
	kill_and_reap "$restored_pid"
	close_pipes "$restored_in" "$restored_out"
	rm -f "$case_dir/restart.img"
}

for ((round = 1; round <= ROUNDS; round++)); do
	live_round "$round"
	restart_round "$round"
done
finish_case "signals during checkpoint: $ROUNDS live and $ROUNDS restart rounds of a sigqueue stream" reliability_signals_during
