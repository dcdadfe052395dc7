# A checkpoint that ends early ends like any failure: the target (128 MiB,
# three threads, two children) runs on unharmed and passes its self-check,
# and nothing is left where the image was to go.
#   - the reader goes away: `ckpt checkpoint PID | head -c 1M` exits 1 with
#     one line (a write error, not death by SIGPIPE);
#   - SIGINT, SIGTERM and SIGHUP while the image is written: exit 1 with one
#     line naming the signal; an existing FILE keeps its old contents and
#     no FILE.tmp.* is left;
#   - SIGKILL while the image is written: no file at all is left (the image
#     is an unnamed O_TMPFILE until complete);
#   - names FILE.tmp.PID.N created in advance for the next 300 PIDs do not
#     block `ckpt checkpoint -o FILE`.
source "$(dirname "$0")/../reliability/common.bash"
need_target
start_results checkpoint_interrupted

check_target() {
	local what=$1 answer freedom
	freedom=$(freedom_problems "$target_pid")
	[ -z "$freedom" ] || problem target "$what" "$freedom"
	answer=$(ask "$target_pid" "$target_in" "$target_out" check) ||
		problem target "$what" "its self-check says: $answer"
}

# Waits until ckpt ($1) has written part of the image (its fd 3).
wait_writing() {
	local size
	while [ -e "/proc/$1" ]; do
		size=$(stat -Lc %s "/proc/$1/fd/3" 2>/dev/null) || size=0
		((size > 0)) && return 0
		sleep 0.002
	done
	return 1
}

start_target --mib 128 --threads 3 --children 2 || fail "cannot start the target: $target_error"
dir=$case_dir/out
mkdir "$dir" || fail "mkdir"

# The reader goes away (SIGPIPE at its default action, whatever we inherited).
env --default-signal=PIPE "$CKPT" checkpoint "$target_pid" 2>"$case_dir/stderr" | head -c 1M >/dev/null
status=${PIPESTATUS[0]}
if [ "$status" -ne 1 ] || [ "$(grep -c . "$case_dir/stderr")" -ne 1 ]; then
	problem sigpipe "ckpt checkpoint PID | head -c 1M" "exit $status: $(head -c 200 "$case_dir/stderr")"
else
	record sigpipe "ckpt checkpoint PID | head -c 1M" pass "exit 1: $(head -1 "$case_dir/stderr")"
fi
check_target "after the reader went away"

# SIGINT, SIGTERM, SIGHUP while writing, over an existing FILE.
for signal in INT TERM HUP; do
	echo old >"$dir/image"
	"$CKPT" checkpoint -o "$dir/image" "$target_pid" 2>"$case_dir/stderr" &
	ckpt=$!
	wait_writing "$ckpt"
	kill -"$signal" "$ckpt"
	wait "$ckpt"
	status=$?
	left=$(ls "$dir" | tr '\n' ' ')
	if [ "$status" -ne 1 ] || ! grep -q "interrupted by signal" "$case_dir/stderr"; then
		problem interrupt "SIG$signal while writing" "exit $status: $(head -c 200 "$case_dir/stderr")"
	elif [ "$(cat "$dir/image")" != old ] || [ "$left" != "image " ]; then
		problem interrupt "SIG$signal while writing" "FILE changed or leftovers: $left"
	else
		record interrupt "SIG$signal while writing" pass "exit 1: $(head -1 "$case_dir/stderr"); FILE kept"
	fi
	check_target "after SIG$signal"
done
rm -f "$dir/image"

# SIGKILL while writing.
"$CKPT" checkpoint -o "$dir/image" "$target_pid" 2>"$case_dir/stderr" &
ckpt=$!
wait_writing "$ckpt"
kill -KILL "$ckpt"
wait "$ckpt"
left=$(ls "$dir" | tr '\n' ' ')
if [ -n "$left" ]; then
	problem kill "SIGKILL while writing" "left behind: $left"
else
	record kill "SIGKILL while writing" pass "nothing left in the directory"
fi
check_target "after SIGKILL of ckpt"

# Names taken in advance.
python3 - "$dir/image" <<'EOF' || fail "cannot create the decoy names"
import sys
last = int(open("/proc/sys/kernel/ns_last_pid").read())
for pid in range(last + 1, last + 301):
    for attempt in range(100):
        open("%s.tmp.%d.%d" % (sys.argv[1], pid, attempt), "w").close()
EOF
if "$CKPT" checkpoint -o "$dir/image" "$target_pid" 2>"$case_dir/stderr" &&
	"$CKPT" inspect "$dir/image" >/dev/null 2>&1; then
	record names "30000 names FILE.tmp.PID.N taken in advance" pass "the checkpoint wrote FILE"
else
	problem names "30000 names FILE.tmp.PID.N taken in advance" "$(head -1 "$case_dir/stderr")"
fi
check_target "after the checkpoint beside the decoys"
rm -rf "$dir"

answer=$(ask "$target_pid" "$target_in" "$target_out" go) || problem target "at the end" "$answer"
finish_case "a checkpoint ended by a lost reader, SIGINT/SIGTERM/SIGHUP or SIGKILL leaves the target unharmed and nothing behind" checkpoint_interrupted
