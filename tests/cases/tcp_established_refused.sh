# What of established TCP connections is refused: a checkpoint by a ckpt
# without CAP_NET_ADMIN (TCP_REPAIR needs it) exits 1 with one line naming
# the fd, the connection and the capability, writes no image and leaves the
# connections unharmed (net_tcp_established still passes); and a restart
# of a live checkpoint beside the running original (the same four-tuple
# cannot exist twice) fails with one line saying the connection is still
# open, and leaves the original unharmed.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
command -v capsh >/dev/null || fail "capsh is missing (package libcap2-bin)"
start_state_program net_tcp_established
status=$(status_of capsh --drop=cap_net_admin -- -c "$CKPT checkpoint -o $case_dir/image $target_pid")
[ "$status" -eq 1 ] || fail "checkpoint without CAP_NET_ADMIN exited $status, expected 1"
expect_one_line "$case_dir/stderr" "without CAP_NET_ADMIN"
grep -qE "fd [0-9]+ of process $target_pid is an established TCP connection .* needs CAP_NET_ADMIN" "$case_dir/stderr" ||
	fail "unexpected message: $(head -1 "$case_dir/stderr")"
[ ! -e "$case_dir/image" ] || fail "an image was written without CAP_NET_ADMIN"

status=$(status_of "$CKPT" checkpoint -o "$case_dir/image" "$target_pid")
[ "$status" -eq 0 ] || fail "live checkpoint exited $status: $(head -1 "$case_dir/stderr")"
status=$(status_of "$CKPT" restart --pidns "$case_dir/image")
[ "$status" -ne 0 ] || fail "a restart beside the live original succeeded"
expect_one_line "$case_dir/stderr" "restart beside the original"
grep -q "that connection is still open on this machine" "$case_dir/stderr" ||
	fail "unexpected restart message: $(head -1 "$case_dir/stderr")"
expect_pass "$target_pid" "$target_out" "$target_in"
echo "established connections refused without CAP_NET_ADMIN and restarted beside their live original; the connections unharmed"
exit 0
