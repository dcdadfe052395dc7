# Failures exit 1 with exactly one line on stderr, leave no partial image,
# and never harm the target.
source "$(dirname "$0")/lib.bash"

expect_failure() {
	local what=$1 status
	shift
	status=$(status_of "$@")
	[ "$status" -eq 1 ] || fail "$what: exit status $status, expected 1"
	expect_one_line "$case_dir/stderr" "$what"
}

need_file "$CKPT"
head -c 4096 /dev/urandom >"$case_dir/garbage"
: >"$case_dir/empty"

expect_failure "checkpoint of a missing pid" "$CKPT" checkpoint -o "$case_dir/none.img" 4194303
[ ! -e "$case_dir/none.img" ] || fail "checkpoint of a missing pid left $case_dir/none.img"
expect_failure "inspect of garbage" "$CKPT" inspect "$case_dir/garbage"
expect_failure "inspect of an empty file" "$CKPT" inspect "$case_dir/empty"
expect_failure "inspect of a missing file" "$CKPT" inspect "$case_dir/missing"
expect_failure "restart of garbage" "$CKPT" restart "$case_dir/garbage"
expect_failure "restart of an empty stream" "$CKPT" restart --detach <"$case_dir/empty"

# A checkpoint that cannot write its image fails before touching the target.
start_state_program mem_heap
expect_failure "checkpoint into a missing directory" \
	"$CKPT" checkpoint --kill -o "$case_dir/no/such/dir/image" "$target_pid"
is_running "$target_pid" || fail "target died after a failed checkpoint --kill"
grep -q '^TracerPid:[[:space:]]*0$' "/proc/$target_pid/status" ||
	fail "target still traced after a failed checkpoint"
expect_pass "$target_pid" "$target_out" "$target_in"
wait "$target_pid" || fail "target exit status $? after a failed checkpoint"
exit 0
