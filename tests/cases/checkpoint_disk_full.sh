# A checkpoint that runs out of room (/dev/full, a tiny tmpfs) fails with one
# clear line, leaves no image or temporary file, and the target runs on
# unharmed, also with --kill.
source "$(dirname "$0")/lib.bash"
need_file "$CKPT"

expect_untouched_target() {
	is_running "$target_pid" || fail "$1: the target died"
	grep -q '^TracerPid:[[:space:]]*0$' "/proc/$target_pid/status" ||
		fail "$1: the target is still traced"
}

start_state_program mem_heap

status=$("$CKPT" checkpoint --kill "$target_pid" 2>"$case_dir/stderr" >/dev/full; echo $?)
[ "$status" -eq 1 ] || fail "checkpoint to /dev/full: exit status $status, expected 1"
expect_one_line "$case_dir/stderr" "checkpoint to /dev/full"
grep -qi "no space" "$case_dir/stderr" || fail "checkpoint to /dev/full: $(head -1 "$case_dir/stderr")"
expect_untouched_target "checkpoint to /dev/full"

mount_point=$case_dir/tiny
mkdir -p "$mount_point"
mount -t tmpfs -o size=1m tmpfs "$mount_point" 2>/dev/null || skip "cannot mount a tmpfs here"
trap 'umount "$mount_point" 2>/dev/null' EXIT
status=$(status_of "$CKPT" checkpoint --kill -o "$mount_point/image" "$target_pid")
[ "$status" -eq 1 ] || fail "checkpoint to a full tmpfs: exit status $status, expected 1"
expect_one_line "$case_dir/stderr" "checkpoint to a full tmpfs"
leftovers=$(ls -A "$mount_point")
[ -z "$leftovers" ] || fail "checkpoint to a full tmpfs left: $leftovers"
expect_untouched_target "checkpoint to a full tmpfs"

expect_pass "$target_pid" "$target_out" "$target_in"
wait "$target_pid" || fail "target exit status $? after failed checkpoints"
exit 0
