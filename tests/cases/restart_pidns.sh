# restart --pidns: the tree is rebuilt in a new PID namespace with its own
# PIDs, so three copies run beside the original, which keeps its PIDs.
# The tree is bash waiting for tree_generations (four generations that
# check their PIDs, parents, memory and exit statuses); bash reports the
# status.  ckpt prints the root's PID as we see it, and that process is the
# image's root PID one namespace down.  Without --detach ckpt waits for the
# namespace and exits with the root's status.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
program=$BUILD/tests/state/tree_generations
need_file "$program"
coproc TARGET { close_extra_fds; exec bash -c '"$0"; echo "status $?"' "$program"; }
original=$TARGET_PID
exec {target_out}<&"${TARGET[0]}" {target_in}>&"${TARGET[1]}"
read_line "$target_out" line 30 "ready from tree_generations"
[ "$line" = ready ] || fail "tree_generations said '$line', not ready"
"$CKPT" checkpoint -o "$case_dir/image" "$original" 2>"$case_dir/stderr" ||
	fail "checkpoint: $(head -1 "$case_dir/stderr")"

# Restarts copy $1 with --pidns --detach on its own FIFOs; sets copy_pid_$1,
# copy_in_$1 and copy_out_$1.
restart_copy() {
	local n=$1 pid
	mkfifo "$case_dir/in$n" "$case_dir/out$n"
	exec {in}<>"$case_dir/in$n" {out}<>"$case_dir/out$n"
	(close_extra_fds; exec "$CKPT" restart --pidns --detach "$case_dir/image") \
		<"$case_dir/in$n" >"$case_dir/out$n" 2>"$case_dir/stderr$n" &
	wait $! || fail "restart $n: $(head -1 "$case_dir/stderr$n")"
	read_line "$out" pid 10 "the PID printed by restart $n"
	printf -v "copy_pid_$n" '%s' "$pid"
	printf -v "copy_in_$n" '%s' "$in"
	printf -v "copy_out_$n" '%s' "$out"
}

# The NSpid line of $1 must be "$1 $2": one namespace down, PID $2 inside.
expect_nspid() {
	local nspid
	nspid=$(awk '/^NSpid:/ { $1 = ""; print substr($0, 2) }' "/proc/$1/status")
	[ "$nspid" = "$1 $2" ] || fail "process $1: NSpid '$nspid', expected '$1 $2'"
}

# Three copies side by side, and the original still running.
for n in 1 2 3; do
	restart_copy "$n"
	pid_var=copy_pid_$n
	expect_nspid "${!pid_var}" "$original"
done
[ "$(printf '%s\n' "$copy_pid_1" "$copy_pid_2" "$copy_pid_3" | sort -u | wc -l)" -eq 3 ] ||
	fail "the copies do not have three PIDs: $copy_pid_1 $copy_pid_2 $copy_pid_3"
is_running "$original" || fail "the original $original stopped running"

# Says go to the tree_generations under bash $1 (stdin $2, stdout $3) and
# expects pass, then bash's "status 0".
expect_tree_pass() {
	local program_pid line
	program_pid=$(pgrep -P "$1") || fail "$4: no tree_generations under bash $1"
	echo go >&"$2"
	kill -USR1 "$program_pid"
	read_line "$3" line 30 "the verdict of $4"
	[ "$line" = pass ] || fail "$4: $line"
	read_line "$3" line 30 "the exit status of $4"
	[ "$line" = "status 0" ] || fail "$4: $line"
}

expect_tree_pass "$copy_pid_1" "$copy_in_1" "$copy_out_1" "copy 1"
expect_tree_pass "$copy_pid_2" "$copy_in_2" "$copy_out_2" "copy 2"
expect_tree_pass "$copy_pid_3" "$copy_in_3" "$copy_out_3" "copy 3"
expect_tree_pass "$original" "$target_in" "$target_out" "the original"

# A restart that fails half way (pages) or at the very end (release) leaves
# no process of its namespace behind: the same number of processes with the
# original's PID innermost as before.
count_with_inner_pid() {
	grep -l -E "^NSpid:.*[[:space:]]$1\$" /proc/[0-9]*/status 2>/dev/null | wc -l
}
before=$(count_with_inner_pid "$original")
for point in restart.pages restart.handover; do
	status=$(CKPT_FAULT=$point status_of "$CKPT" restart --pidns --detach "$case_dir/image")
	[ "$status" -eq 1 ] || fail "restart --pidns with the fault $point exited $status, expected 1"
	after=$(count_with_inner_pid "$original")
	[ "$after" -eq "$before" ] ||
		fail "restart --pidns failing at $point left $((after - before)) process(es) behind"
done

# In the foreground: ckpt exits with the root's status once all are gone.
mkfifo "$case_dir/in4" "$case_dir/out4"
(close_extra_fds; exec "$CKPT" restart --pidns "$case_dir/image") \
	<"$case_dir/in4" >"$case_dir/out4" 2>"$case_dir/stderr4" &
waiter=$!
exec {in4}>"$case_dir/in4" {out4}<"$case_dir/out4"
# Its root (ckpt's grandchild, under the namespace's init) shows up once
# the restart is done: polled, within a deadline.
root=
for attempt in $(seq 200); do
	init=$(pgrep -P "$waiter") && root=$(pgrep -P "$init") && pgrep -P "$root" >/dev/null && break
	root=
	sleep 0.05
done
[ -n "$root" ] || fail "the foreground copy did not appear under ckpt restart --pidns"
expect_tree_pass "$root" "$in4" "$out4" "the foreground copy"
exec {in4}>&- {out4}<&-
wait "$waiter"
status=$?
[ "$status" -eq 0 ] || fail "ckpt restart --pidns exited $status: $(head -1 "$case_dir/stderr4")"
exit 0
