# A process that was checkpointed and left running can be checkpointed again
# (with --kill) and restarted: the first checkpoint must leave no trace that
# spoils the second, also for a process asleep in a syscall.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"

twice() {
	local program=$1
	start_state_program "$program"
	"$CKPT" checkpoint -o "$case_dir/first.img" "$target_pid" 2>"$case_dir/stderr" ||
		fail "$program: first checkpoint: $(head -1 "$case_dir/stderr")"
	"$CKPT" checkpoint --kill -o "$case_dir/image" "$target_pid" 2>"$case_dir/stderr" ||
		fail "$program: second checkpoint: $(head -1 "$case_dir/stderr")"
	wait "$target_pid" 2>/dev/null
	restart_detached "$CKPT" "$case_dir/image"
	[ "$restored_pid" = "$target_pid" ] || fail "restored as $restored_pid, not $target_pid"
	expect_pass "$restored_pid" "$restored_out" "$restored_in"
}

twice mem_heap
twice sys_poll
twice sys_nanosleep
exit 0
