# Endurance: one process goes through RELIABILITY_CYCLES (default 200)
# checkpoint --kill / restart cycles.  Every cycle keeps its PID; its state
# verifies every 50 cycles and after the last; its fd count (/proc/PID/fd)
# and VmRSS/VmSize, taken at the same moment of every cycle (right after the
# restart), do not grow from cycle 1 to the last (small noise allowed).
# Cycles after the first stop once RELIABILITY_BUDGET (common.bash) is
# spent, so a busy machine runs fewer instead of timing out; the table
# counts those run.
# Results: $BUILD/reliability/reliability_endurance.tsv.
source "$(dirname "$0")/../reliability/common.bash"
need_target
start_results reliability_endurance

CYCLES=${RELIABILITY_CYCLES:-200}
CHECK_EVERY=50
RSS_NOISE_KIB=512	# allowed growth of VmRSS from cycle 1 to the last
SIZE_NOISE_KIB=0	# VmSize must not grow at all

status_kib() {
	sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status"
}

fd_count() {
	ls "/proc/$1/fd" | wc -l
}

# checkpoint --kill then restart; the process keeps its PID.  Returns 1 on
# the first failure (recorded).
one_cycle() {
	local cycle=$1 pid=$process_pid
	if ! "$CKPT" checkpoint --kill -o "$image" "$pid" 2>"$case_dir/stderr"; then
		problem cycles "cycle $cycle" "checkpoint --kill: $(head -1 "$case_dir/stderr")"
		return 1
	fi
	wait_gone "$pid" 10 || { problem cycles "cycle $cycle" "pid $pid stays after --kill"; return 1; }
	close_pipes "$process_in" "$process_out"
	restart_image "$image" "$CKPT"
	if [ "$restart_status" -ne 0 ] || [ "$restored_pid" != "$pid" ]; then
		problem cycles "cycle $cycle" "restart: status $restart_status, pid '$restored_pid': $restart_message"
		return 1
	fi
	process_in=$restored_in
	process_out=$restored_out
	rm -f "$case_dir"/restored.*.in "$case_dir"/restored.*.out
}

# Measures the process right after its restart: fds, VmRSS, VmSize.
measure() {
	echo "$(fd_count "$process_pid") $(status_kib "$process_pid" VmRSS) $(status_kib "$process_pid" VmSize)"
}

check_state() {
	local cycle=$1 answer
	answer=$(ask "$process_pid" "$process_in" "$process_out" check) ||
		{ problem cycles "check after cycle $cycle" "$answer"; return 1; }
}

compare_growth() {
	local first last CYCLES=$done_cycles
	read -ra first <<<"$1"
	read -ra last <<<"$2"
	record growth "fds" "$([ "${last[0]}" -le "${first[0]}" ] && echo pass || echo fail)" \
		"cycle 1: ${first[0]}, cycle $CYCLES: ${last[0]}"
	[ "${last[0]}" -le "${first[0]}" ] || problem growth "fds" "${first[0]} fds after cycle 1, ${last[0]} after cycle $CYCLES"
	if ((last[1] - first[1] > RSS_NOISE_KIB)); then
		problem growth "VmRSS" "${first[1]} kB after cycle 1, ${last[1]} kB after cycle $CYCLES"
	else
		record growth "VmRSS" pass "cycle 1: ${first[1]} kB, cycle $CYCLES: ${last[1]} kB"
	fi
	if ((last[2] - first[2] > SIZE_NOISE_KIB)); then
		problem growth "VmSize" "${first[2]} kB after cycle 1, ${last[2]} kB after cycle $CYCLES"
	else
		record growth "VmSize" pass "cycle 1: ${first[2]} kB, cycle $CYCLES: ${last[2]} kB"
	fi
}

image=$case_dir/image
start_target --mib 4 --threads 2 --file "$case_dir/data" || fail "$target_error"
process_pid=$target_pid
process_in=$target_in
process_out=$target_out
# A first check before cycle 1: whatever the check itself allocates (opendir,
# stdio) is there before the first measurement.
check_state 0 || fail "the process fails its check before any cycle"
record cycles "process before cycle 1" info "$(measure | awk '{print $1 " fds, VmRSS " $2 " kB, VmSize " $3 " kB"}')"
series=$RELIABILITY_DIR/reliability_endurance.series	# cycle fds VmRSS VmSize
echo "# cycle fds VmRSS_kB VmSize_kB (right after each restart)" >"$series"
started=$SECONDS
done_cycles=0
broken=0
while keep_going "$done_cycles" "$CYCLES" 100; do
	cycle=$((done_cycles + 1))
	one_cycle "$cycle" || { broken=1; break; }
	done_cycles=$cycle
	last_measure=$(measure)
	[ "$cycle" -eq 1 ] && first_measure=$last_measure
	echo "$cycle $last_measure" >>"$series"
	if ((cycle % CHECK_EVERY == 0)); then
		check_state "$cycle" || { broken=1; break; }
	fi
done
elapsed=$((SECONDS - started))
record cycles "cycles run" info "$done_cycles of $CYCLES in $elapsed s (time budget ${RELIABILITY_BUDGET} s)"
if [ "$broken" -eq 0 ]; then
	answer=$(ask "$process_pid" "$process_in" "$process_out" go)
	if [ "$answer" = pass ]; then
		record cycles "state after $done_cycles cycles" pass "the process's check passes"
	else
		problem cycles "state after $done_cycles cycles" "$answer"
	fi
	compare_growth "$first_measure" "$last_measure"
	record growth "range over all cycles" info "$(awk '!/^#/ {
		for (i = 2; i <= 4; i++) { if (NR == 2 || $i < lo[i]) lo[i] = $i; if (NR == 2 || $i > hi[i]) hi[i] = $i }
	} END { printf "fds %d-%d, VmRSS %d-%d kB, VmSize %d-%d kB", lo[2], hi[2], lo[3], hi[3], lo[4], hi[4] }' "$series")"
fi
kill_and_reap "$process_pid"
finish_case "endurance: $done_cycles of $CYCLES checkpoint --kill/restart cycles in $elapsed s" reliability_endurance
