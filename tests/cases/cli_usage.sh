# Bad usage exits 2; --help exits 0.
source "$(dirname "$0")/lib.bash"

expect_usage_error() {
	local status
	status=$(status_of "$CKPT" "$@")
	[ "$status" -eq 2 ] || fail "ckpt $*: exit status $status, expected 2 (bad usage)"
	[ -s "$case_dir/stderr" ] || fail "ckpt $*: bad usage but nothing on stderr"
}

need_file "$CKPT"
expect_usage_error
expect_usage_error no-such-command
expect_usage_error checkpoint
expect_usage_error checkpoint not-a-pid
expect_usage_error checkpoint 1 2
expect_usage_error checkpoint --no-such-option 1
expect_usage_error restart --no-such-option
expect_usage_error inspect
status=$(status_of "$CKPT" --help)
[ "$status" -eq 0 ] || fail "ckpt --help: exit status $status"
[ -s "$case_dir/stdout" ] || fail "ckpt --help printed nothing"
exit 0
