# Kill `ckpt restart` at random moments: the image of a 100-process tree
# (tests/state/tree_hundred) is restarted with --detach, and ckpt gets
# SIGKILL after a random delay within a whole restart's measured duration,
# so the husks are hit while they are created, while ckpt rebuilds them and
# after the handover.  Every time, either ckpt finished first (the tree runs
# and is killed by the case) or within 10 s no process of the image is left
# (no husk running on, untraced, holding its PID); and the next restart
# always succeeds.  At the end the image restarts and the tree passes its
# own check.
#
# RELIABILITY_RESTART_KILLS (default 20) trials kill after a random delay;
# RELIABILITY_CREATION_KILLS (default 20) more kill as soon as a randomly
# chosen PID of the image exists (so while the husks are created, the
# moment a SIGKILL of ckpt used to leave them running for good).
# RELIABILITY_SEED fixes the random choices.  Results: $BUILD/reliability/reliability_restart_kill.tsv.
source "$(dirname "$0")/../reliability/common.bash"
need_file "$CKPT"
start_results reliability_restart_kill

TRIALS=${RELIABILITY_RESTART_KILLS:-20}
CREATION_TRIALS=${RELIABILITY_CREATION_KILLS:-20}
SEED=${RELIABILITY_SEED:-$(date +%s)}
RANDOM=$SEED
record restart-kill seed info "$SEED"

# Every PID of the tree under $1 (itself first), from /proc.
tree_pids() {
	local queue=("$1") pid child
	while ((${#queue[@]})); do
		pid=${queue[0]}
		queue=("${queue[@]:1}")
		echo "$pid"
		for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
			queue+=("$child")
		done
	done
}

# The PIDs of image_pids still taken (alive or zombie), after up to $1 s.
left_over() {
	local pid deadline=$((SECONDS + $1)) left
	while :; do
		left=
		for pid in "${image_pids[@]}"; do
			[ ! -e "/proc/$pid" ] || left+="$pid "
		done
		[ -n "$left" ] && ((SECONDS < deadline)) || break
		sleep 0.02
	done
	echo "$left"
}

kill_image_processes() {
	local pid
	for pid in "${image_pids[@]}"; do
		kill -KILL "$pid" 2>/dev/null
	done
}

start_state_program tree_hundred
mapfile -t image_pids < <(tree_pids "$target_pid")
((${#image_pids[@]} == 101)) || fail "tree_hundred has ${#image_pids[@]} processes, expected 101"
"$CKPT" checkpoint --kill -o "$case_dir/image" "$target_pid" 2>"$case_dir/stderr" ||
	fail "checkpoint: $(head -1 "$case_dir/stderr")"
exec {target_in}>&- {target_out}<&-
wait "$target_pid" 2>/dev/null
[ -z "$(left_over 10)" ] || fail "the checkpointed tree did not go"

# Whole restarts, timed (the second: the first fills caches), then killed:
# the range of the random delays.
for round in 1 2; do
	started=${EPOCHREALTIME/./}
	restart_image "$case_dir/image" "$CKPT"
	duration_us=$((${EPOCHREALTIME/./} - started))
	[ "$restart_status" -eq 0 ] || fail "restart $round failed: $restart_message"
	kill_image_processes
	[ -z "$(left_over 10)" ] || fail "the restored tree did not go after SIGKILL"
done
record restart-kill "restart duration" info "$((duration_us / 1000)) ms"

# Waits (busy, bounded) until the process with PID $1 exists.
wait_for_pid() {
	local deadline=$((SECONDS + 10))
	while [ ! -e "/proc/$1" ] && ((SECONDS < deadline)); do
		:
	done
}

finished_first=0
killed=0
for ((trial = 1; trial <= TRIALS + CREATION_TRIALS; trial++)); do
	delay_us=$(((RANDOM * 32768 + RANDOM) % (duration_us + 1)))
	(close_extra_fds; exec "$CKPT" restart --detach "$case_dir/image") \
		</dev/null >"$case_dir/trial.out" 2>"$case_dir/trial.err" &
	restart_pid=$!
	if ((trial > TRIALS)); then	# while the husks are created
		wait_for_pid "${image_pids[RANDOM % ${#image_pids[@]}]}"
	else
		sleep "$(printf '%d.%06d' $((delay_us / 1000000)) $((delay_us % 1000000)))"
	fi
	kill -KILL "$restart_pid" 2>/dev/null
	wait "$restart_pid" 2>/dev/null
	status=$?
	if [ "$status" -eq 0 ]; then
		finished_first=$((finished_first + 1))
		kill_image_processes
	else
		killed=$((killed + 1))
	fi
	left=$(left_over 10)
	if [ -n "$left" ]; then
		problem restart-kill "trial $trial (kill after $((delay_us / 1000)) ms, status $status)" \
			"PIDs still taken 10 s later: ${left:0:80}"
		kill_image_processes
		left_over 10 >/dev/null
	fi
done
record restart-kill "SIGKILL of ckpt restart at a random moment" info \
	"$TRIALS trials within a restart's duration, $CREATION_TRIALS once a random PID of the image exists (husks being created): $killed killed, $finished_first finished first"
((problem_count > 0)) || record restart-kill "no process of the image left after a killed restart" pass \
	"$killed of $killed"

restart_image "$case_dir/image" "$CKPT"
if [ "$restart_status" -ne 0 ]; then
	problem restart-kill "restart after the trials" "$restart_message"
else
	echo go >&"$restored_in"
	kill -USR1 "$restored_pid" 2>/dev/null
	IFS= read -r -t 30 -u "$restored_out" answer || answer="no answer"
	if [ "$answer" = pass ]; then
		record restart-kill "restart after the trials" pass "the tree passes"
	else
		problem restart-kill "restart after the trials" "the tree says: $answer"
	fi
	kill_image_processes
fi
finish_case "SIGKILL of ckpt restart: $((TRIALS + CREATION_TRIALS)) trials ($killed killed), nothing of the image left" \
	reliability_restart_kill
