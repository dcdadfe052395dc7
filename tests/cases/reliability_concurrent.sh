# Concurrent checkpoints: two `ckpt checkpoint` of the same process let go
# at the same instant (both wait on one FIFO) in odd rounds, the second 0-200
# ms after the first in even rounds, RELIABILITY_CONCURRENT_ROUNDS (default
# 10) rounds: at least one succeeds; the other succeeds too or fails
# cleanly (exit 1, one line on stderr, no image and no OUT.tmp.*); every
# image written passes `ckpt inspect`; the target is never left traced or
# stopped and passes its own check after every round.  The first rounds
# write two files, the later ones race for the same OUT (one valid image
# must be there).  Finally the process is killed and restarted from the
# last image, and passes its check.
# Results: $BUILD/reliability/reliability_concurrent.tsv.
source "$(dirname "$0")/../reliability/common.bash"
need_target
start_results reliability_concurrent

ROUNDS=${RELIABILITY_CONCURRENT_ROUNDS:-10}
RUN_SECONDS=30
declare -A MESSAGES=()
both_succeeded=0
one_succeeded=0

# Starts one checkpoint held at a gate (a FIFO); sets racer_pid.  $1 its
# number, $2 OUT, $3 the gate.
start_racer() {
	local gate=$3
	(
		close_extra_fds
		read -r _ <"$gate"	# blocks until the gate opens (EOF)
		exec timeout -k 5 "$RUN_SECONDS" "$CKPT" checkpoint -o "$2" "$target_pid"
	) >/dev/null 2>"$case_dir/stderr.$1" &
	racer_pid=$!
}

# What is wrong with racer $1's outcome ($2 its status, $3 its OUT).
racer_problems() {
	local number=$1 status=$2 out=$3 err=$case_dir/stderr.$1
	case $status in
	0) "$CKPT" inspect "$out" >/dev/null 2>&1 || echo -n "checkpoint $number: exit 0 but $out fails inspect; " ;;
	1)
		[ "$(grep -c . "$err")" -eq 1 ] || echo -n "checkpoint $number: not one line on stderr; "
		[ "$out" = "$shared_out" ] || [ ! -e "$out" ] || echo -n "checkpoint $number: exit 1 but $out exists; "
		;;
	124 | 137) echo -n "checkpoint $number: still running after $RUN_SECONDS s; " ;;
	*) echo -n "checkpoint $number: exit status $status: $(head -1 "$err"); " ;;
	esac
}

one_round() {
	local round=$1 out1 out2 pid1 pid2 status1 status2 problems= answer outcome stagger_ms
	shared_out=
	if ((round <= ROUNDS / 2)); then
		out1=$case_dir/round-$round.a.img
		out2=$case_dir/round-$round.b.img
	else
		out1=$case_dir/round-$round.img
		out2=$out1
		shared_out=$out1
	fi
	gate=$case_dir/gate.$round
	mkfifo "$gate" "$gate.second"
	start_racer 1 "$out1" "$gate"
	pid1=$racer_pid
	if ((round % 2)); then
		start_racer 2 "$out2" "$gate"	# the same gate: the same instant
		stagger_ms=0
	else
		start_racer 2 "$out2" "$gate.second"
		stagger_ms=$((RANDOM % 200))
	fi
	pid2=$racer_pid
	sleep 0.05	# both blocked in open(gate) by now (a late one still races)
	: >"$gate"	# open for writing and close: its readers see EOF at once
	if ((round % 2 == 0)); then
		sleep "0.$(printf '%03d' "$stagger_ms")"
		: >"$gate.second"
	fi
	wait "$pid1"
	status1=$?
	wait "$pid2"
	status2=$?
	problems+=$(racer_problems 1 "$status1" "$out1")
	problems+=$(racer_problems 2 "$status2" "$out2")
	[ "$status1" -eq 0 ] || [ "$status2" -eq 0 ] || problems+="neither checkpoint succeeded; "
	[ -z "$(ls "$case_dir"/round-"$round"*.tmp.* 2>/dev/null)" ] || problems+="left $(ls "$case_dir"/round-"$round"*.tmp.*); "
	[ -z "$(freedom_problems "$target_pid")" ] || problems+="$(freedom_problems "$target_pid"); "
	answer=$(ask "$target_pid" "$target_in" "$target_out" check) || problems+="the target's check says: $answer; "
	if [ "$status1" -eq 0 ] && [ "$status2" -eq 0 ]; then
		both_succeeded=$((both_succeeded + 1))
		outcome="both succeeded"
	else
		one_succeeded=$((one_succeeded + 1))
		outcome="one succeeded, the other: $(cat "$case_dir/stderr.1" "$case_dir/stderr.2" | head -1)"
		MESSAGES[$(cat "$case_dir/stderr.1" "$case_dir/stderr.2" | head -1 | sed -E 's/[0-9]+/N/g')]=1
	fi
	local what="round $round ($([ -n "$shared_out" ] && echo "same OUT" || echo "two files"), $( ((stagger_ms)) && echo "second $stagger_ms ms later" || echo "same instant"))"
	if [ -n "$problems" ]; then
		problem concurrent "$what" "${problems%; }"
	else
		record concurrent "$what" pass "$outcome"
	fi
	last_good=$( ([ "$status2" -eq 0 ] && echo "$out2") || ([ "$status1" -eq 0 ] && echo "$out1") )
}

start_target --mib 32 --threads 2 --file "$case_dir/data" || fail "$target_error"
for ((round = 1; round <= ROUNDS; round++)); do
	one_round "$round"
done
for message in "${!MESSAGES[@]}"; do
	record concurrent "message of the one that failed" info "$message"
done
record concurrent "both succeeded" info "$both_succeeded of $ROUNDS rounds"
record concurrent "one succeeded" info "$one_succeeded of $ROUNDS rounds"

# The last image written restarts the process.
pid=$target_pid
kill_and_reap "$pid"
close_pipes "$target_in" "$target_out"
if [ -n "${last_good:-}" ]; then
	restart_image "$last_good" "$CKPT"
	if [ "$restart_status" -ne 0 ]; then
		problem concurrent "restart from an image of a concurrent checkpoint" "$restart_message"
	else
		answer=$(ask "$pid" "$restored_in" "$restored_out" go)
		if [ "$answer" = pass ]; then
			record concurrent "restart from an image of a concurrent checkpoint" pass "the process passes its check"
		else
			problem concurrent "restart from an image of a concurrent checkpoint" "$answer"
		fi
		wait_gone "$pid" 10 || kill_and_reap "$pid"
	fi
fi
finish_case "concurrent checkpoints: $ROUNDS rounds, both succeeded in $both_succeeded, one in $one_succeeded" reliability_concurrent
