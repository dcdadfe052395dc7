# Kill at random moments: a target holding 64-256 MiB is checkpointed
# (alternately left running and --kill) while another process SIGKILLs it
# after a random delay.  Every time ckpt must exit within 30 s, with 0 (it
# finished first: the image must pass `ckpt inspect`) or 1 with exactly one
# line on stderr; never a partial image at OUT nor an OUT.tmp.* left; and
# the killed target must be gone afterwards (not held as a traced zombie).
#
# RELIABILITY_KILL_TRIALS (default 50) trials kill after 0-50 ms, as the
# issue asks; RELIABILITY_FREEZE_KILLS (default 20) more kill after 0-8 ms,
# while ckpt freezes the target and runs syscalls inside it;
# RELIABILITY_LATE_KILLS (default 10) more kill anywhere within a whole
# checkpoint's measured duration, so the write, sync and commit steps (and
# ckpt finishing first) are hit too.  RELIABILITY_SEED fixes the
# random choices (the seed used is in the table).  The counts are the most
# each group runs: each stops once its share of RELIABILITY_BUDGET (see
# common.bash) is spent, after one trial (early trials up to 50% of it,
# freeze trials up to 70%, late ones up to 100%), so a busy machine runs
# fewer trials instead of timing out; the table counts those run.
# Results: $BUILD/reliability/reliability_kill.tsv.
source "$(dirname "$0")/../reliability/common.bash"
need_target
start_results reliability_kill

TRIALS=${RELIABILITY_KILL_TRIALS:-50}
FREEZE_TRIALS=${RELIABILITY_FREEZE_KILLS:-20}
LATE_TRIALS=${RELIABILITY_LATE_KILLS:-10}
SEED=${RELIABILITY_SEED:-$(date +%s)}
RUN_SECONDS=30
RANDOM=$SEED
record kill seed info "$SEED"

finished_first=0
failed_cleanly=0
declare -A MESSAGES=()

DEATH_WORDS='exited|killed|zombie|died|no process|gone|no longer'

# A message with its numbers and addresses replaced, to count kinds.
normalized() {
	sed -E 's/0x[0-9a-f]+/0x.../g; s/[0-9]+/N/g' <<<"$1"
}

now_us() {
	echo "${EPOCHREALTIME/./}"
}

# "1.234" seconds for sleep(1) from a number of microseconds.
seconds_of_us() {
	printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000))
}

# What is wrong with the outcome of one trial, or nothing.
outcome_problems() {
	local status=$1 out=$2 stderr=$3 leftovers lines
	leftovers=$(ls -d "$out".tmp.* 2>/dev/null | tr '\n' ' ')
	[ -z "$leftovers" ] || echo -n "left $leftovers; "
	case $status in
	0)
		"$CKPT" inspect "$out" >/dev/null 2>"$case_dir/inspect-stderr" ||
			echo -n "exit 0 but the image fails inspect: $(head -1 "$case_dir/inspect-stderr"); "
		;;
	1)
		[ ! -e "$out" ] || echo -n "exit 1 but an image is at OUT; "
		lines=$(grep -c . "$stderr")
		[ "$lines" -eq 1 ] || echo -n "$lines lines on stderr: $(head -c 200 "$stderr" | tr '\n' '|'); "
		;;
	124 | 137) echo -n "ckpt still running after ${RUN_SECONDS} s; " ;;
	*) echo -n "exit status $status: $(head -c 200 "$stderr" | tr '\n' '|'); " ;;
	esac
}

# One trial: $1 its number, $2 the delay in microseconds, $3 "late" or "early".
kill_trial() {
	local trial=$1 delay_us=$2 kind=$3 mib=$((64 + RANDOM % 193)) mode flags=() out
	local status killer problems message started_us ended_us timing
	mode=$([ $((trial % 2)) -eq 0 ] && echo kill || echo live)
	[ "$mode" = kill ] && flags=(--kill)
	out=$case_dir/trial-$trial.img
	if ! start_target --mib "$mib" --threads 1; then
		problem kill "trial $trial" "$target_error"
		return
	fi
	rm -f "$case_dir/killed-at"
	started_us=$(now_us)
	(
		sleep "$(seconds_of_us "$delay_us")"
		kill -KILL "$target_pid" 2>/dev/null && now_us >"$case_dir/killed-at"
	) &
	killer=$!
	timeout -k 5 "$RUN_SECONDS" "$CKPT" checkpoint "${flags[@]}" -o "$out" "$target_pid" \
		>/dev/null 2>"$case_dir/stderr"
	status=$?
	ended_us=$(now_us)
	wait "$killer"
	timing="ckpt ran $(((ended_us - started_us) / 1000)) ms, "
	if [ -s "$case_dir/killed-at" ]; then
		timing+="the kill came at $((($(<"$case_dir/killed-at") - started_us) / 1000)) ms"
	else
		timing+="the target was gone before the kill"
	fi
	problems=$(outcome_problems "$status" "$out" "$case_dir/stderr")
	wait_gone "$target_pid" 10 || problems+="the killed target stays ($(process_state "$target_pid"), $(freedom_problems "$target_pid")); "
	close_pipes "$target_in" "$target_out"
	message=$(head -1 "$case_dir/stderr")
	local what="trial $trial ($kind, $mode, $mib MiB, kill after $((delay_us / 1000)) ms)"
	problems+=${problems:+"$timing; "}
	if [ -n "$problems" ]; then
		problem kill "$what" "${problems%; }"
	elif [ "$status" -eq 0 ]; then
		finished_first=$((finished_first + 1))
		record kill "$what" pass "ckpt finished first: exit 0, the image passes inspect ($timing)"
	else
		failed_cleanly=$((failed_cleanly + 1))
		record kill "$what" pass "exit 1: $message ($timing)"
		MESSAGES[$(normalized "$message")]=1
	fi
	rm -f "$out" "$out".tmp.*
}

# How long a whole checkpoint of a 256 MiB target takes here: whole_us.
measure_checkpoint() {
	local started ended
	start_target --mib 256 --threads 1 || fail "cannot start the target: $target_error"
	started=$(date +%s%N)
	"$CKPT" checkpoint -o "$case_dir/measure.img" "$target_pid" 2>"$case_dir/stderr" ||
		fail "checkpoint of an undisturbed target: $(head -1 "$case_dir/stderr")"
	ended=$(date +%s%N)
	kill_and_reap "$target_pid"
	close_pipes "$target_in" "$target_out"
	rm -f "$case_dir/measure.img"
	whole_us=$(((ended - started) / 1000))
}

early_run=0 freeze_run=0 late_run=0
while keep_going "$early_run" "$TRIALS" 50; do
	early_run=$((early_run + 1))
	kill_trial "$early_run" $((RANDOM % 51 * 1000 + RANDOM % 1000)) early
done
while keep_going "$freeze_run" "$FREEZE_TRIALS" 70; do
	freeze_run=$((freeze_run + 1))
	kill_trial $((TRIALS + freeze_run)) $((RANDOM % 8000)) freeze
done
if ((LATE_TRIALS > 0)); then
	measure_checkpoint
	record kill "a whole checkpoint of 256 MiB" info "$((whole_us / 1000)) ms"
	while keep_going "$late_run" "$LATE_TRIALS" 100; do
		late_run=$((late_run + 1))
		kill_trial $((TRIALS + FREEZE_TRIALS + late_run)) $(((RANDOM * 32768 + RANDOM) % (whole_us * 5 / 4))) late
	done
fi
record kill "trials run (time budget ${RELIABILITY_BUDGET} s)" info \
	"early $early_run of $TRIALS, freeze $freeze_run of $FREEZE_TRIALS, late $late_run of $LATE_TRIALS"
# Every distinct message, and whether it says that the process died: the
# table shows the ones that blame something else (not a failure here).
for message in "${!MESSAGES[@]}"; do
	if grep -qiE "$DEATH_WORDS" <<<"$message"; then
		record kill "message seen (says the process died)" info "$message"
	else
		record kill "message seen (does not say the process died)" info "$message"
	fi
done
record kill "ckpt finished first" info "$finished_first"
record kill "ckpt failed cleanly" info "$failed_cleanly"
finish_case "kill at random moments: $((early_run + freeze_run + late_run)) of $((TRIALS + FREEZE_TRIALS + LATE_TRIALS)) trials, $finished_first finished first, $failed_cleanly failed cleanly" reliability_kill
