# Kill ckpt itself at random moments: `ckpt checkpoint` of a target holding
# 64-256 MiB, three threads and two forked children is SIGKILLed at a
# random moment of its long phase, once the image has begun to be written
# (alternately with and without --kill).  Whenever ckpt did not finish
# first, the target must run on unharmed: not traced, not stopped, and its
# own self-check (data, heap, every thread, each child answering over its
# socketpair) passes.  Nothing may be left at OUT: no image, no OUT.tmp.*
# (the image is an unnamed file until complete).
#
# RELIABILITY_KILL_CKPT_TRIALS (default 10) such trials.  The short moments
# in which a thread holds injected state (an injected syscall or batch
# running, during the first milliseconds) are the remaining window: the
# undisturbed first checkpoint measures it (--stats: injected_ms against
# total_ms), and RELIABILITY_KILL_CKPT_EARLY (default 4) more trials kill
# within the first 12 ms and count the targets harmed there (info rows,
# not failures).  RELIABILITY_SEED fixes the random choices.
# Results: $BUILD/reliability/reliability_kill_ckpt.tsv.
source "$(dirname "$0")/../reliability/common.bash"
need_target
start_results reliability_kill_ckpt

TRIALS=${RELIABILITY_KILL_CKPT_TRIALS:-10}
EARLY_TRIALS=${RELIABILITY_KILL_CKPT_EARLY:-4}
early_harmed=0
SEED=${RELIABILITY_SEED:-$(date +%s)}
RANDOM=$SEED
record kill-ckpt seed info "$SEED"

finished_first=0
survived=0
target_pid=

# Waits until ckpt ($1) has written part of the image (its fd 3); false if
# it ended first.
wait_writing() {
	local size
	while [ -e "/proc/$1" ]; do
		size=$(stat -Lc %s "/proc/$1/fd/3" 2>/dev/null) || size=0
		((size > 0)) && return 0
		sleep 0.002
	done
	return 1
}

seconds_of_us() {
	printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000))
}

new_target() {
	local mib=$((64 + RANDOM % 193))
	if [ -n "$target_pid" ]; then
		kill_and_reap "$target_pid"
		close_pipes "$target_in" "$target_out"
	fi
	start_target --mib "$mib" --threads 3 --children 2 || fail "cannot start the target: $target_error"
	target_mib=$mib
}

# The whole checkpoint of a 256 MiB target, undisturbed: whole_us, and the
# --stats line (injected_ms against total_ms).
measure_checkpoint() {
	local started ended stats
	start_target --mib 256 --threads 3 --children 2 || fail "cannot start the target: $target_error"
	started=${EPOCHREALTIME/./}
	"$CKPT" checkpoint --stats -o "$case_dir/measure.img" "$target_pid" 2>"$case_dir/stderr" ||
		fail "checkpoint of an undisturbed target: $(head -1 "$case_dir/stderr")"
	ended=${EPOCHREALTIME/./}
	whole_us=$((ended - started))
	stats=$(grep '^stats:' "$case_dir/stderr")
	injected_ms=$(sed -n 's/.* injected_ms=\([0-9.]*\).*/\1/p' <<<"$stats")
	total_ms=$(sed -n 's/.* total_ms=\([0-9.]*\).*/\1/p' <<<"$stats")
	record window "256 MiB, 3 threads, 2 children: time with injected state in place" info \
		"$injected_ms ms of $total_ms ms ($(awk -v a="$injected_ms" -v b="$total_ms" 'BEGIN { printf "%.2f", 100 * a / b }') %)"
	local answer
	answer=$(ask "$target_pid" "$target_in" "$target_out" check) ||
		problem kill-ckpt "the undisturbed checkpoint" "the target says: $answer"
	rm -f "$case_dir/measure.img"
}

# What is wrong at OUT after a killed ckpt, or nothing.
leftovers_at() {
	local out=$1 found
	found=$(ls -d "$out" "$out".tmp.* 2>/dev/null | tr '\n' ' ')
	[ -z "$found" ] || echo -n "left behind: $found; "
}

# One trial: $1 its number, $2 the delay in microseconds, $3 its kind:
# "writing" (the delay counts from the first byte written) or "early".
kill_trial() {
	local trial=$1 delay_us=$2 kind=$3 mode flags=() out status ckpt problems= answer
	mode=$([ $((trial % 2)) -eq 0 ] && echo kill || echo live)
	[ "$mode" = kill ] && flags=(--kill)
	out=$case_dir/trial-$trial.img
	"$CKPT" checkpoint "${flags[@]}" -o "$out" "$target_pid" >/dev/null 2>"$case_dir/stderr" &
	ckpt=$!
	[ "$kind" = early ] || wait_writing "$ckpt"
	sleep "$(seconds_of_us "$delay_us")"
	kill -KILL "$ckpt" 2>/dev/null
	wait "$ckpt"
	status=$?
	local what="trial $trial ($kind, $mode, $target_mib MiB, kill after $((delay_us / 1000)) ms)"
	if [ "$status" -eq 137 ] && [ -e "$out" ] && "$CKPT" inspect "$out" >/dev/null 2>&1; then
		status=0	# killed after its commit: the image is complete
	fi
	if [ "$status" -eq 0 ]; then
		finished_first=$((finished_first + 1))
		record kill-ckpt "$what" pass "ckpt finished first"
		rm -f "$out"
		[ "$mode" = kill ] && new_target
		return
	fi
	if [ "$status" -ne 137 ]; then
		problems+="ckpt exited $status: $(head -1 "$case_dir/stderr"); "
	fi
	problems+=$(leftovers_at "$out")
	local freedom
	freedom=$(freedom_problems "$target_pid")
	[ -z "$freedom" ] || problems+="$freedom; "
	if ! answer=$(ask "$target_pid" "$target_in" "$target_out" check); then
		problems+="its self-check says: $answer ($(process_state "$target_pid")); "
	fi
	if [ -n "$problems" ] && [ "$kind" = early ]; then
		early_harmed=$((early_harmed + 1))
		record kill-ckpt "$what" info "in the window? ${problems%; }"
		new_target
		return
	elif [ -n "$problems" ]; then
		problem kill-ckpt "$what" "${problems%; }"
		new_target
		return
	fi
	survived=$((survived + 1))
	record kill-ckpt "$what" pass "the target runs on and passes its self-check"
}

measure_checkpoint
target_mib=256
record kill-ckpt "a whole checkpoint of 256 MiB" info "$((whole_us / 1000)) ms"
for ((trial = 1; trial <= TRIALS; trial++)); do
	kill_trial "$trial" $(((RANDOM * 32768 + RANDOM) % (whole_us / 2))) writing
done
for ((trial = 1; trial <= EARLY_TRIALS; trial++)); do
	kill_trial $((TRIALS + trial)) $((RANDOM % 12000)) early
done
record kill-ckpt "killed within the first 12 ms: targets harmed (the injection window)" info \
	"$early_harmed of $EARLY_TRIALS"
answer=$(ask "$target_pid" "$target_in" "$target_out" go) ||
	problem kill-ckpt "the last target at the end" "$answer"
record kill-ckpt "ckpt finished first" info "$finished_first"
record kill-ckpt "ckpt killed, target unharmed" info "$survived"
finish_case "kill ckpt at random moments: $TRIALS trials while writing and $EARLY_TRIALS early, $survived targets unharmed, $finished_first checkpoints finished first, $early_harmed harmed in the first 12 ms" reliability_kill_ckpt
