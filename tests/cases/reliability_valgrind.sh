# ckpt under valgrind: a few checkpoint/restart cycles of one process with
# every ckpt command run under memcheck (--leak-check=full
# --errors-for-leak-kinds=definite --error-exitcode=99, --trace-children=no):
# a live checkpoint, `ckpt inspect` of its image, a checkpoint --kill and a
# restart.  Any valgrind error fails.
#
# valgrind 3.19 (Debian 12) does not implement clone3, so under it a restart
# stops where it creates the process ("Function not implemented"): that
# much of the restart (reading, checking, staging files, and unwinding after
# the failure) is checked, the case says so in its table, and a restart
# without valgrind carries the cycle on.  A valgrind that knows clone3 runs
# the whole restart.
# Cycles after the first stop once RELIABILITY_BUDGET (common.bash) is spent.
# Results: $BUILD/reliability/reliability_valgrind.tsv.
source "$(dirname "$0")/../reliability/common.bash"
need_target
start_results reliability_valgrind
command -v valgrind >/dev/null || skip "valgrind is not installed"

CYCLES=${RELIABILITY_VALGRIND_CYCLES:-3}
VALGRIND=(valgrind -q --trace-children=no --leak-check=full --errors-for-leak-kinds=definite
	--error-exitcode=99 --child-silent-after-fork=yes)

# The valgrind report in $1 as one line (its first error and where).
valgrind_summary() {
	grep -E '^==[0-9]+== ' "$1" | sed -E 's/^==[0-9]+== //' | grep -v '^$' | head -6 | tr '\n' '|'
}

# under_valgrind WHAT STDERR STATUS: one row; valgrind's exit 99 is a failure.
judge() {
	local what=$1 stderr=$2 status=$3
	if [ "$status" -eq 99 ] || grep -qE '^==[0-9]+== .*(Invalid|uninitialised|definitely lost|Mismatched|overlap)' "$stderr"; then
		problem valgrind "$what" "valgrind error: $(valgrind_summary "$stderr")"
		return 1
	fi
	return 0
}

live_checkpoint() {
	local cycle=$1 status
	"${VALGRIND[@]}" "$CKPT" checkpoint -o "$case_dir/live.img" "$process_pid" 2>"$case_dir/vg-live" >/dev/null
	status=$?
	judge "cycle $cycle: checkpoint" "$case_dir/vg-live" "$status" || return 0
	if [ "$status" -ne 0 ]; then
		problem valgrind "cycle $cycle: checkpoint" "exit $status: $(grep -v '^==' "$case_dir/vg-live" | head -1)"
		return 0
	fi
	record valgrind "cycle $cycle: checkpoint" pass "no valgrind error"
	"${VALGRIND[@]}" "$CKPT" inspect "$case_dir/live.img" >/dev/null 2>"$case_dir/vg-inspect"
	status=$?
	judge "cycle $cycle: inspect" "$case_dir/vg-inspect" "$status" &&
		record valgrind "cycle $cycle: inspect" "$([ "$status" -eq 0 ] && echo pass || echo fail)" "exit $status"
	[ "$status" -eq 0 ] || problem_count=$((problem_count + 1))
}

kill_checkpoint() {
	local cycle=$1 status
	"${VALGRIND[@]}" "$CKPT" checkpoint --kill -o "$image" "$process_pid" 2>"$case_dir/vg-kill" >/dev/null
	status=$?
	if ! judge "cycle $cycle: checkpoint --kill" "$case_dir/vg-kill" "$status" || [ "$status" -ne 0 ]; then
		[ "$status" -eq 99 ] || problem valgrind "cycle $cycle: checkpoint --kill" "exit $status: $(head -1 "$case_dir/vg-kill")"
		return 1
	fi
	record valgrind "cycle $cycle: checkpoint --kill" pass "no valgrind error"
	wait_gone "$process_pid" 10 || { problem valgrind "cycle $cycle" "pid $process_pid stays after --kill"; return 1; }
	close_pipes "$process_in" "$process_out"
}

# The restart under valgrind; then, if valgrind could not create the
# process, a plain restart.
restart_cycle() {
	local cycle=$1 reach message
	restart_image "$image" "${VALGRIND[@]}" "$CKPT"
	message=$(grep -v '^==' "$restart_stderr" | head -1)
	if [ "$restart_status" -eq 0 ]; then
		reach="the whole restart"
	elif grep -q 'Function not implemented' "$restart_stderr"; then
		reach="up to the process's creation, where valgrind stops it (no clone3 in valgrind $(valgrind --version | sed 's/valgrind-//')): $message"
	else
		reach="a failed restart: $message"
	fi
	judge "cycle $cycle: restart" "$restart_stderr" "$restart_status" &&
		record valgrind "cycle $cycle: restart" pass "no valgrind error in $reach"
	if [ "$restart_status" -ne 0 ] && grep -q 'Function not implemented' "$restart_stderr"; then
		wait_gone "$process_pid" 5 || problem valgrind "cycle $cycle: restart" "pid $process_pid exists after the failed restart"
		close_pipes "$restored_in" "$restored_out"
		restart_image "$image" "$CKPT"
		message=$restart_message
	fi
	if [ "$restart_status" -ne 0 ] || [ "$restored_pid" != "$process_pid" ]; then
		problem valgrind "cycle $cycle: restart" "status $restart_status, pid '$restored_pid': $message"
		return 1
	fi
	process_in=$restored_in
	process_out=$restored_out
}

image=$case_dir/image
start_target --mib 2 --threads 1 --file "$case_dir/data" || fail "$target_error"
process_pid=$target_pid
process_in=$target_in
process_out=$target_out
cycles_run=0
while keep_going "$cycles_run" "$CYCLES" 100; do
	cycle=$((cycles_run + 1))
	cycles_run=$cycle
	live_checkpoint "$cycle"
	kill_checkpoint "$cycle" || break
	restart_cycle "$cycle" || break
	answer=$(ask "$process_pid" "$process_in" "$process_out" check) ||
		{ problem valgrind "cycle $cycle: the process's check" "$answer"; break; }
done
kill_and_reap "$process_pid"
record valgrind "cycles run (time budget ${RELIABILITY_BUDGET} s)" info "$cycles_run of $CYCLES"
finish_case "valgrind: $cycles_run of $CYCLES cycles of checkpoint, inspect, checkpoint --kill and restart" reliability_valgrind
