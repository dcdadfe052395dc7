# A truncated or corrupted image makes restart fail with one line on stderr
# and leaves nothing running under the original pid; the intact image then
# restarts fine.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
start_state_program mem_heap
"$CKPT" checkpoint --kill -o "$case_dir/image" "$target_pid" 2>"$case_dir/stderr" ||
	fail "checkpoint: $(head -1 "$case_dir/stderr")"
wait "$target_pid" 2>/dev/null
size=$(stat -c %s "$case_dir/image")

try_bad_image() {
	local what=$1 status
	status=$(status_of "$CKPT" restart --detach "$case_dir/bad")
	[ "$status" -eq 1 ] || fail "restart of $what: exit status $status, expected 1"
	expect_one_line "$case_dir/stderr" "restart of $what"
	! is_running "$target_pid" || fail "restart of $what left pid $target_pid running"
}

for keep in 16 $((size / 3)) $((size / 2)) $((size - 64)) $((size - 1)); do
	head -c "$keep" "$case_dir/image" >"$case_dir/bad"
	try_bad_image "the first $keep of $size bytes"
done
for offset in 20 $((size / 2)) $((size - 40)); do
	cp "$case_dir/image" "$case_dir/bad"
	printf '\xa5\x5a\xa5\x5a' | dd of="$case_dir/bad" bs=1 seek="$offset" conv=notrunc status=none
	try_bad_image "an image corrupted at byte $offset"
done

restart_detached "$CKPT" "$case_dir/image"
[ "$restored_pid" = "$target_pid" ] || fail "restored as $restored_pid, not $target_pid"
expect_pass "$restored_pid" "$restored_out" "$restored_in"
exit 0
