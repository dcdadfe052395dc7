# The ASan+UBSan build of ckpt (tests/run exports CKPT_ASAN) checkpoints and
# restarts state programs without a sanitizer report.
source "$(dirname "$0")/lib.bash"

[ -n "${CKPT_ASAN:-}" ] || skip "CKPT_ASAN is not set (tests/run sets it)"
[ -x "$CKPT_ASAN" ] || skip "$CKPT_ASAN was not built"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=98

check_clean() {
	! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' "$1" ||
		fail "sanitizer report from $2: $(grep -m1 -E 'ERROR|runtime error' "$1")"
}

round_trip() {
	local program=$1
	start_state_program "$program"
	"$CKPT_ASAN" checkpoint -o "$case_dir/live.img" "$target_pid" 2>"$case_dir/live-stderr" ||
		fail "asan checkpoint of $program: $(head -1 "$case_dir/live-stderr")"
	check_clean "$case_dir/live-stderr" "checkpoint"
	"$CKPT_ASAN" inspect --json "$case_dir/live.img" >/dev/null 2>"$case_dir/inspect-stderr" ||
		fail "asan inspect: $(head -1 "$case_dir/inspect-stderr")"
	check_clean "$case_dir/inspect-stderr" "inspect"
	"$CKPT_ASAN" checkpoint --kill -o "$case_dir/image" "$target_pid" 2>"$case_dir/stderr" ||
		fail "asan checkpoint --kill of $program: $(head -1 "$case_dir/stderr")"
	check_clean "$case_dir/stderr" "checkpoint --kill"
	wait "$target_pid" 2>/dev/null
	restart_detached "$CKPT_ASAN" "$case_dir/image"
	check_clean "$case_dir/restart-stderr" "restart"
	[ "$restored_pid" = "$target_pid" ] || fail "restored as $restored_pid, not $target_pid"
	expect_pass "$restored_pid" "$restored_out" "$restored_in"
}

round_trip mem_heap
round_trip fd_regular
round_trip sig_actions
exit 0
