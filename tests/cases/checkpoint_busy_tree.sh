# A busy tree (tree_busy_fork: the root and a spawner child fork and reap
# short-lived children without pause) is checkpointed 30 times while it
# runs on.  Every checkpoint must succeed, whatever the children were doing
# (being created, running, exiting, zombies); every image must be whole
# (ckpt inspect), and three of them restart with --pidns beside the
# original and pass tree_busy_fork's checks, as does the original.
# Bounded by count, not time.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
rounds=30
start_state_program tree_busy_fork
failures=0
first_failure=
for n in $(seq "$rounds"); do
	if ! "$CKPT" checkpoint -o "$case_dir/image$n" "$target_pid" 2>"$case_dir/stderr$n"; then
		failures=$((failures + 1))
		[ -n "$first_failure" ] || first_failure="checkpoint $n: $(head -1 "$case_dir/stderr$n")"
		continue
	fi
	"$CKPT" inspect "$case_dir/image$n" >/dev/null 2>"$case_dir/inspect$n" ||
		fail "image $n: ckpt inspect: $(head -1 "$case_dir/inspect$n")"
	is_running "$target_pid" || fail "the tree stopped running after checkpoint $n"
done
[ "$failures" -eq 0 ] || fail "$failures of $rounds checkpoints of a busy tree failed; $first_failure"

# Restarts image $1 with --pidns --detach on its own FIFOs, says go and
# expects pass from the copy.
restart_and_check() {
	local n=$1 in out pid line
	mkfifo "$case_dir/in$n" "$case_dir/out$n"
	exec {in}<>"$case_dir/in$n" {out}<>"$case_dir/out$n"
	(close_extra_fds; exec "$CKPT" restart --pidns --detach "$case_dir/image$n") \
		<"$case_dir/in$n" >"$case_dir/out$n" 2>"$case_dir/restart$n" &
	wait $! || fail "restart of image $n: $(head -1 "$case_dir/restart$n")"
	read_line "$out" pid 10 "the PID printed by the restart of image $n"
	echo go >&"$in"
	kill -USR1 "$pid"
	read_line "$out" line 30 "the verdict of the copy from image $n"
	[ "$line" = pass ] || fail "the copy from image $n: $line"
	exec {in}>&- {out}>&-
}

for n in 1 15 "$rounds"; do
	restart_and_check "$n"
done
expect_pass "$target_pid" "$target_out" "$target_in"
exit 0
