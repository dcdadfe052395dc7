# Fault walk: every step of checkpoint and restart fails on purpose
# (CKPT_FAULT=<point>, the points `ckpt fault-points` lists), and each
# failure must be clean.
#
# The target has a child sharing its memory, fd table, fs and signal
# handlers (rel_target --sharer), so the walk also goes through the steps
# that rebuild a sharer.
# checkpoint.* (with and without --kill, on one multithreaded target that
# also holds a socketpair with queued bytes):
# exit 1, one stderr line naming the injected fault, nothing at OUT and no
# OUT.tmp.* left, every thread neither traced nor stopped, and the target
# still passes its own check.
# restart.* (from the file and from a pipe): exit 1, one stderr line naming
# the fault, no process left with the image's PID (a zombie reaped by this
# subreaper shell is allowed), the image unchanged (sha256 and mtime), and a
# restart without the fault then works and the process passes its check.
# Every point runs once (checkpoint live, restart from the file); the second
# mode (--kill) and source (a pipe) run while within RELIABILITY_BUDGET
# (common.bash), so a busy machine covers each point once instead of timing
# out; the table counts the second runs.
#
# The first pass is bounded by the number of points (about 60, each a few
# seconds of waiting on a busy machine), not by time: hence a wider limit.
# case-timeout: 300
# Results: $BUILD/reliability/reliability_faults.tsv.
source "$(dirname "$0")/../reliability/common.bash"
need_target
start_results reliability_faults

RUN_SECONDS=30
data_file=$case_dir/target-data

# Starts a fresh target (the walk goes on with a new one if a fault killed it).
start_fault_target() {
	start_target --mib 16 --threads 2 --file "$data_file" --sharer --socketpair 1 ||
		fail "cannot start the target: $target_error"
}

# expect_fault_message POINT STDERR: exactly one line naming the fault.
fault_message_problem() {
	local point=$1 stderr=$2 lines
	lines=$(grep -c . "$stderr")
	if [ "$lines" -ne 1 ]; then
		echo "$lines lines on stderr: $(head -c 200 "$stderr" | tr '\n' '|')"
	elif ! grep -qE "injected fault at ${point//./\\.}([^a-z_.]|$)" "$stderr"; then
		echo "stderr does not name the fault: $(head -1 "$stderr")"
	fi
}

status_problem() {
	case $1 in
	1) ;;
	0) echo "exit 0: the fault point did not fire" ;;
	124 | 137) echo "still running after ${RUN_SECONDS} s" ;;
	*) echo "exit status $1, expected 1" ;;
	esac
}

# What a failed checkpoint may leave: nothing at OUT, no OUT.tmp.*.
leftover_problem() {
	local out=$1 leftovers
	leftovers=$(ls -d "$out" "$out".tmp.* 2>/dev/null | tr '\n' ' ')
	[ -z "$leftovers" ] || echo "left $leftovers"
}

# One checkpoint fault.  $1 the point, $2 "live" or "kill".
checkpoint_fault() {
	local point=$1 mode=$2 out=$case_dir/$1.$2.img status problems=() answer
	local flags=()
	[ "$mode" = kill ] && flags=(--kill)
	CKPT_FAULT=$point timeout -k 5 "$RUN_SECONDS" "$CKPT" checkpoint "${flags[@]}" -o "$out" \
		"$target_pid" 2>"$case_dir/stderr" >/dev/null
	status=$?
	problems+=("$(status_problem "$status")")
	problems+=("$(fault_message_problem "$point" "$case_dir/stderr")")
	problems+=("$(leftover_problem "$out")")
	problems+=("$(freedom_problems "$target_pid")")
	if [ "$(process_state "$target_pid")" = gone ]; then
		problems+=("the target died")
	else
		answer=$(ask "$target_pid" "$target_in" "$target_out" check) ||
			problems+=("the target's check says: $answer")
	fi
	report_fault "checkpoint ($mode)" "$point" "$(head -1 "$case_dir/stderr")" "${problems[@]}"
	rm -f "$out" "$out".tmp.*
	if [ "$(process_state "$target_pid")" = gone ] || [ -n "$(freedom_problems "$target_pid")" ]; then
		kill_and_reap "$target_pid"
		close_pipes "$target_in" "$target_out"
		start_fault_target
	fi
}

# report_fault AREA POINT MESSAGE PROBLEM...: one row, pass when no problem.
report_fault() {
	local area=$1 point=$2 message=$3 joined=
	shift 3
	for problem_text in "$@"; do
		[ -n "$problem_text" ] && joined+="$problem_text; "
	done
	if [ -n "$joined" ]; then
		problem "$area" "$point" "${joined%; }"
	else
		record "$area" "$point" pass "$message"
	fi
}

walk_checkpoint_points() {
	local point mode
	start_fault_target
	for point in $CHECKPOINT_POINTS; do
		checkpoint_fault "$point" live
	done
	for point in $CHECKPOINT_POINTS; do
		if within_budget 45; then
			checkpoint_fault "$point" kill
			second_runs=$((second_runs + 1))
		fi
	done
	answer=$(ask "$target_pid" "$target_in" "$target_out" go) ||
		problem "checkpoint" "after the walk" "the target's final check says: $answer"
	wait_gone "$target_pid" 10 || problem "checkpoint" "after the walk" "the target did not exit"
	close_pipes "$target_in" "$target_out"
}

# No process may hold the image's PID once ckpt restart has failed: a live
# one is a failure; a zombie must go once this shell (its subreaper) reaps it.
leftover_process_problem() {
	local pid=$1 state
	state=$(process_state "$pid")
	case $state in
	gone) ;;
	Z) wait_gone "$pid" 5 || echo "pid $pid stays a zombie" ;;
	*)
		echo "pid $pid left behind (state $state, $(tr -d '\n' <"/proc/$pid/comm" 2>/dev/null))"
		kill -KILL "$pid" 2>/dev/null
		wait_gone "$pid" 5
		;;
	esac
}

# One restart fault.  $1 the point, $2 "file" or "pipe".
restart_fault() {
	local point=$1 source=$2 status problems=() answer
	if [ "$source" = file ]; then
		# stdin a FIFO nobody writes: a process restored by mistake waits there
		CKPT_FAULT=$point timeout -k 5 "$RUN_SECONDS" "$CKPT" restart "$image" \
			<>"$idle_fifo" >/dev/null 2>"$case_dir/stderr"
	else
		CKPT_FAULT=$point timeout -k 5 "$RUN_SECONDS" "$CKPT" restart \
			<"$image" >/dev/null 2>"$case_dir/stderr"
	fi
	status=$?
	problems+=("$(status_problem "$status")")
	problems+=("$(fault_message_problem "$point" "$case_dir/stderr")")
	problems+=("$(leftover_process_problem "$image_pid")")
	[ "$(file_identity "$image")" = "$image_identity" ] || problems+=("the image changed")
	restart_image "$image" "$CKPT"
	if [ "$restart_status" -ne 0 ]; then
		problems+=("the restart without the fault then fails: $restart_message")
	elif [ "$restored_pid" != "$image_pid" ]; then
		problems+=("the restart without the fault gives pid $restored_pid, not $image_pid")
	else
		answer=$(ask "$restored_pid" "$restored_in" "$restored_out" go) ||
			problems+=("after the restart without the fault: $answer")
	fi
	[ -n "$restored_pid" ] && { wait_gone "$restored_pid" 10 || kill_and_reap "$restored_pid"; }
	close_pipes "$restored_in" "$restored_out"
	report_fault "restart ($source)" "$point" "$(head -1 "$case_dir/stderr")" "${problems[@]}"
}

walk_restart_points() {
	local point source
	image=$case_dir/good.img
	start_fault_target
	"$CKPT" checkpoint --kill -o "$image" "$target_pid" 2>"$case_dir/stderr" ||
		fail "checkpoint of the restart walk's target: $(head -1 "$case_dir/stderr")"
	image_pid=$target_pid
	wait_gone "$image_pid" 10 || fail "the target of the restart walk does not go away"
	close_pipes "$target_in" "$target_out"
	image_identity=$(file_identity "$image")
	idle_fifo=$case_dir/idle
	mkfifo "$idle_fifo" || fail "mkfifo $idle_fifo"
	for point in $RESTART_POINTS; do
		restart_fault "$point" file
	done
	for point in $RESTART_POINTS; do
		if within_budget 100; then
			restart_fault "$point" pipe
			second_runs=$((second_runs + 1))
		fi
	done
}

ALL_POINTS=$("$CKPT" fault-points) || fail "ckpt fault-points failed"
CHECKPOINT_POINTS=$(grep '^checkpoint\.' <<<"$ALL_POINTS")
RESTART_POINTS=$(grep '^restart\.' <<<"$ALL_POINTS")
[ -n "$CHECKPOINT_POINTS" ] || fail "ckpt fault-points lists no checkpoint.* point"
[ -n "$RESTART_POINTS" ] || fail "ckpt fault-points lists no restart.* point"
record points checkpoint info "$(wc -w <<<"$CHECKPOINT_POINTS")"
record points restart info "$(wc -w <<<"$RESTART_POINTS")"

second_runs=0
walk_checkpoint_points
walk_restart_points
record points "second mode or source run (time budget ${RELIABILITY_BUDGET} s)" info \
	"$second_runs of $(($(wc -w <<<"$CHECKPOINT_POINTS") + $(wc -w <<<"$RESTART_POINTS")))"
finish_case "fault walk: $(wc -w <<<"$CHECKPOINT_POINTS") checkpoint points x 2 modes, $(wc -w <<<"$RESTART_POINTS") restart points x 2 sources" "reliability_faults"
