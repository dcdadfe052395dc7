# Helpers for tests/cases/*.sh (sourced, not a case itself).
#
# The harness runs each case with bash and sets CKPT (absolute path of ckpt),
# BUILD (absolute build directory), TMPDIR (a scratch directory removed after
# the case) and, when tests/run built it, CKPT_ASAN.  A case exits 0 to pass,
# 77 to skip, anything else to fail; its last line of output is the reason.
# Synchronisation is on pipes; polling /proc is bounded by a deadline.

set -u

# A misspelt or missing helper would otherwise only print a line and let the
# case run on to "exit 0": end the whole case instead.
command_not_found_handle() {
	echo "case error: $1: command not found" >&2
	kill -s TERM $$
	return 127
}

case_dir=$(mktemp -d "${TMPDIR:-/tmp}/case-XXXXXX")

fail() {
	echo "$*"
	exit 1
}

skip() {
	echo "$*"
	exit 77
}

need_file() {
	[ -x "$1" ] || fail "$1 is missing (was it built?)"
}

# Reads one line from fd $1 into the variable named $2, failing after $3 s.
read_line() {
	local read_line_value
	if ! IFS= read -r -t "$3" -u "$1" read_line_value; then
		fail "timeout or end of output while waiting for $4"
	fi
	printf -v "$2" '%s' "$read_line_value"
}

# Exactly one non-empty line in the file $1 (the "one line on stderr" rule).
expect_one_line() {
	local count
	count=$(grep -c . "$1")
	[ "$count" -eq 1 ] || fail "$2: $count lines on stderr, expected one: $(head -c 300 "$1")"
}

# Exit status of "$@", with stderr kept in $case_dir/stderr.
status_of() {
	"$@" 2>"$case_dir/stderr" >"$case_dir/stdout"
	echo $?
}

# True while pid $1 exists and is neither a zombie nor gone.
is_running() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# Closes every fd above 2 of the current (sub)shell: the programs a case
# starts must not inherit the pipes of earlier ones.
close_extra_fds() {
	local fd_path fd
	for fd_path in /proc/$BASHPID/fd/*; do
		fd=${fd_path##*/}
		if ((fd > 2)); then
			eval "exec $fd>&-" 2>/dev/null
		fi
	done
}

# Starts state program $1 on anonymous pipes (a coprocess) and waits for
# "ready".  Sets target_pid, target_out and target_in.
start_state_program() {
	local program=$BUILD/tests/state/$1 ready_line
	need_file "$program"
	coproc TARGET { close_extra_fds; exec "$program"; }
	target_pid=$TARGET_PID
	exec {target_out}<&"${TARGET[0]}" {target_in}>&"${TARGET[1]}"
	read_line "$target_out" ready_line 30 "ready from $1"
	[ "$ready_line" = ready ] || fail "$1 said '$ready_line', not ready"
}

# Runs "ckpt restart --detach IMAGE" on fresh pipes (named FIFOs, so that
# nothing closes them when ckpt exits).  Sets restored_pid, restored_out,
# restored_in.  $1 is the ckpt binary, $2 the image.
restart_detached() {
	local ckpt=$1 image=$2 status
	rm -f "$case_dir/in" "$case_dir/out"
	mkfifo "$case_dir/in" "$case_dir/out"
	(close_extra_fds; exec "$ckpt" restart --detach "$image") \
		<"$case_dir/in" >"$case_dir/out" 2>"$case_dir/restart-stderr" &
	local restart_pid=$!
	exec {restored_in}>"$case_dir/in" {restored_out}<"$case_dir/out"
	wait "$restart_pid"
	status=$?
	[ "$status" -eq 0 ] || fail "ckpt restart --detach: status $status: $(head -1 "$case_dir/restart-stderr")"
	read_line "$restored_out" restored_pid 10 "the pid from ckpt restart --detach"
}

# Sends go (line and SIGUSR1) to a state program and expects "pass".
expect_pass() {
	local pid=$1 out=$2 in=$3 result_line
	echo go >&"$in" 2>/dev/null
	kill -USR1 "$pid" 2>/dev/null
	read_line "$out" result_line 30 "the result of pid $pid"
	[ "$result_line" = pass ] || fail "pid $pid: $result_line"
}

# Starts "$program HOW" (a holder that builds a state, prints "ready", then
# checks itself on "go") and checks that checkpointing it fails with exit 1
# and one line containing WORDS, that no image is left in $case_dir, and that
# the holder still passes its own check.
# $1: the holder's name in messages, $2: HOW, $3: WORDS.
expect_checkpoint_refused() {
	local name=$1 how=$2 words=$3 ready line status
	coproc HOLDER { close_extra_fds; exec "$program" "$how"; }
	local pid=$HOLDER_PID
	exec {out}<&"${HOLDER[0]}" {in}>&"${HOLDER[1]}"
	read_line "$out" ready 10 "ready from the $name program ($how)"
	[ "$ready" = ready ] || fail "$how: $ready"
	status=$(status_of "$CKPT" checkpoint -o "$case_dir/image" "$pid")
	[ "$status" -eq 1 ] || fail "$how: checkpoint exited $status, expected 1"
	expect_one_line "$case_dir/stderr" "$how"
	grep -q -- "$words" "$case_dir/stderr" ||
		fail "$how: unexpected message: $(head -1 "$case_dir/stderr")"
	[ ! -e "$case_dir/image" ] || fail "$how: an image was written"
	ls "$case_dir"/image.tmp.* >/dev/null 2>&1 && fail "$how: a temporary image was left"
	echo go >&"$in"
	read_line "$out" line 10 "the verdict of the $name program ($how)"
	[ "$line" = pass ] || fail "$how: after the refused checkpoint: $line"
	exec {in}>&- {out}<&-
	wait "$pid"
}
