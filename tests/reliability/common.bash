# Helpers for tests/cases/reliability_*.sh (sourced, not a case itself).
#
# On top of tests/cases/lib.bash: child-subreaper mode, the target program
# (rel_target.c, built here on first use), checks that a process is neither
# traced nor stopped, an unprivileged user, and the results table each case
# writes for tests/reliability/report: $BUILD/reliability/NAME.tsv, one row
# per check, "area<TAB>item<TAB>result<TAB>detail", result pass, fail or info.
#
# A reliability case keeps going after a failed check (so the table is
# complete), counts it with problem(), and exits 1 at the end if any.

# Every reliability case runs as a child subreaper: sourcing this file
# re-executes the case under PR_SET_CHILD_SUBREAPER (kept across execve), so
# the husks of a failed restart and whatever a restart leaves come back to
# the case's shell, which reaps them (bash reaps every child on SIGCHLD).
# The flag holds our PID, which execve keeps: a child case starts afresh.
if [ "${RELIABILITY_SUBREAPER:-}" != "$$" ]; then
	export RELIABILITY_SUBREAPER=$$ RELIABILITY_STARTED_US=${EPOCHREALTIME/./}
	exec python3 -c '
import ctypes, os, sys
PR_SET_CHILD_SUBREAPER = 36
if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_CHILD_SUBREAPER): " + os.strerror(ctypes.get_errno()))
os.execvp("bash", ["bash"] + sys.argv[1:])
' "$(realpath "$0")" "$@"
fi

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
BUILD=${BUILD:-$PWD/build}
CKPT=${CKPT:-$BUILD/ckpt}
export TMPDIR=${TMPDIR:-/tmp}

source tests/cases/lib.bash

RELIABILITY_DIR=$BUILD/reliability
read -r -a REL_WARNINGS <<<"$(make -s --no-print-directory print-warn)"
problem_count=0
# Work bounded by time as well as by count, so that a busy machine makes a
# case do fewer trials instead of running past the harness's 60 s: the
# repeated part of a case goes on while within_budget, after at least one
# trial, and the table says how many ran.  RELIABILITY_BUDGET seconds
# (default 30, half the harness's limit; 0: no limit, only the counts).
RELIABILITY_BUDGET=${RELIABILITY_BUDGET:-30}
results_file=/dev/null
case_started_us=$RELIABILITY_STARTED_US

# Starts the results table of this case: $1 is its name.
start_results() {
	mkdir -p "$RELIABILITY_DIR" || fail "cannot create $RELIABILITY_DIR"
	results_file=$RELIABILITY_DIR/$1.tsv
	: >"$results_file"
}

# record AREA ITEM RESULT DETAIL: one row of the table (tabs and newlines
# in DETAIL become spaces).
record() {
	local detail=${4:-}
	detail=${detail//$'\t'/ }
	detail=${detail//$'\n'/ }
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$detail" >>"$results_file"
}

# problem AREA ITEM DETAIL: a failed check, recorded and counted.
problem() {
	record "$1" "$2" fail "$3"
	echo "FAIL: $1: $2: $3"
	problem_count=$((problem_count + 1))
}

# within_budget PERCENT: true while the case has used less than PERCENT% of
# RELIABILITY_BUDGET (always true when it is 0).
within_budget() {
	((RELIABILITY_BUDGET == 0)) && return 0
	((${EPOCHREALTIME/./} - case_started_us < RELIABILITY_BUDGET * 10000 * $1))
}

# keep_going DONE MAX PERCENT: one more trial?  Always the first (when MAX
# is not 0), then while fewer than MAX ran and within PERCENT% of the budget.
keep_going() {
	(($1 < $2)) || return 1
	(($1 == 0)) || within_budget "$3"
}

# The end of a case: elapsed time in the table, exit 1 on any problem.
finish_case() {
	local summary=$1
	local tenths=$(((${EPOCHREALTIME/./} - case_started_us) / 100000))
	record time "$2" info "$((tenths / 10)).$((tenths % 10)) s"
	if ((problem_count > 0)); then
		echo "$summary: $problem_count problem(s), first: $(grep -m1 -P '\tfail\t' "$results_file" | cut -f2,4)"
		exit 1
	fi
	echo "$summary"
	exit 0
}

# Builds tests/reliability/$1.c into $RELIABILITY_DIR/$1 (once) and prints
# the path.  Extra arguments go to the compiler.
build_helper() {
	local name=$1 source=tests/reliability/$1.c out=$RELIABILITY_DIR/$1
	shift
	mkdir -p "$RELIABILITY_DIR" || return 1
	if [ ! -x "$out" ] || [ "$source" -nt "$out" ] || [ tests/state/state.h -nt "$out" ]; then
		cc -D_GNU_SOURCE -Itests/state "${REL_WARNINGS[@]}" -O2 -g -pthread "$source" -o "$out.tmp.$$" "$@" ||
			return 1
		mv -f "$out.tmp.$$" "$out" || return 1
	fi
	echo "$out"
}

need_target() {
	need_file "$CKPT"
	REL_TARGET=$(build_helper rel_target) || fail "cannot build tests/reliability/rel_target.c"
}

target_serial=0
TARGET_WRAPPER=()	# e.g. setpriv ...: how start_target runs rel_target
TARGET_DIR=		# where its FIFOs and stderr go (default: $case_dir)
TARGET_OWNER=		# user:group that gets its FIFOs and stderr file

# start_target ARGS...: starts rel_target on FIFOs (opened read-write by us,
# so nothing blocks) and waits for "ready".  Sets target_pid, target_in,
# target_out.  Returns 1 (with target_error set) when it does not get ready.
start_target() {
	local base=${TARGET_DIR:-$case_dir}/target.$((++target_serial)) line
	mkfifo "$base.in" "$base.out" || fail "mkfifo in ${TARGET_DIR:-$case_dir}"
	: >"$base.err"
	if [ -n "$TARGET_OWNER" ]; then
		chown "$TARGET_OWNER" "$base.in" "$base.out" "$base.err" || fail "chown $TARGET_OWNER"
	fi
	(close_extra_fds; exec "${TARGET_WRAPPER[@]}" "$REL_TARGET" "$@") <"$base.in" >"$base.out" 2>>"$base.err" &
	target_pid=$!
	disown "$target_pid"	# no "Killed" notices: wait_gone polls instead
	exec {target_in}<>"$base.in" {target_out}<>"$base.out"
	if ! IFS= read -r -t 30 -u "$target_out" line || [ "$line" != ready ]; then
		target_error="rel_target $* did not get ready: '${line:-}' $(head -c 200 "$base.err")"
		return 1
	fi
	return 0
}

# close_pipes IN OUT: our ends of a target's FIFOs.
close_pipes() {
	eval "exec $1>&- $2<&-"
}

# ask PID IN OUT COMMAND: sends check or go; prints the answer line; returns
# 0 on "pass".
ask() {
	local pid=$1 in=$2 out=$3 command=$4 line=
	echo "$command" >&"$in" 2>/dev/null || { echo "cannot write to pid $pid"; return 1; }
	if ! IFS= read -r -t 30 -u "$out" line; then
		echo "no answer from pid $pid ($(process_state "$pid"))"
		return 1
	fi
	echo "$line"
	[ "$line" = pass ]
}

# The State letter of a process, or "gone".
process_state() {
	local state
	state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null)
	echo "${state:-gone}"
}

# Prints what is wrong with every thread of PID (traced, stopped, gone), or
# nothing when all run free.
freedom_problems() {
	local pid=$1 task tracer state found=false found_problems=
	for task in /proc/"$pid"/task/*; do
		[ -r "$task/status" ] || continue
		found=true
		tracer=$(sed -n 's/^TracerPid:[[:space:]]*//p' "$task/status" 2>/dev/null)
		state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "$task/status" 2>/dev/null)
		[ "${tracer:-0}" = 0 ] || found_problems+="thread ${task##*/} traced by $tracer, "
		case $state in
		t | T) found_problems+="thread ${task##*/} stopped ($state), " ;;
		Z | X) found_problems+="thread ${task##*/} dead ($state), " ;;
		esac
	done
	$found || found_problems="process $pid is gone"
	printf '%s' "${found_problems%, }"
}

# kill_and_reap PID: SIGKILL, then wait until it is gone (our child, or an
# orphan this subreaper shell reaps).
kill_and_reap() {
	kill -KILL "$1" 2>/dev/null
	wait_gone "$1" 10
}

# wait_gone PID SECONDS: true once no process (not even a zombie) has PID.
# This shell reaps its children and adopted orphans on SIGCHLD by itself.
wait_gone() {
	local pid=$1 deadline=$((SECONDS + $2))
	while [ -e "/proc/$pid" ]; do
		((SECONDS < deadline)) || return 1
		sleep 0.02
	done
	return 0
}

# restart_image IMAGE COMMAND...: "COMMAND... restart --detach IMAGE" (COMMAND
# is ckpt, or a wrapper then ckpt) on fresh FIFOs.  Sets restart_status,
# restart_message (first stderr line), restart_stderr (the file),
# restored_pid, restored_in, restored_out.
restart_image() {
	local image=$1 base=$case_dir/restored.$((++target_serial))
	shift
	restored_pid=
	mkfifo "$base.in" "$base.out" || fail "mkfifo in $case_dir"
	exec {restored_in}<>"$base.in" {restored_out}<>"$base.out"
	(close_extra_fds; exec "$@" restart --detach "$image") <"$base.in" >"$base.out" 2>"$base.err"
	restart_status=$?
	restart_message=$(head -1 "$base.err")
	restart_stderr=$base.err
	if [ "$restart_status" -eq 0 ]; then
		IFS= read -r -t 10 -u "$restored_out" restored_pid || restored_pid=
	fi
}

# file_identity PATH: content hash, size, mtime (ns) and ctime of PATH.
file_identity() {
	local hash
	hash=$(sha256sum <"$1" 2>/dev/null | cut -c1-16)
	echo "$hash $(stat -c '%s %.9Y %.9Z %i' "$1" 2>/dev/null)"
}

# ---- An unprivileged user (the privilege cases) ----------------------------

TEST_USER=ckpt-test-user

# Creates $TEST_USER if missing (skips the case when that is impossible) and
# a staging directory the user can reach wherever the repository lives:
# $stage holds copies of ckpt and rel_target, $stage/user belongs to the
# user.  Sets AS_USER (run a command as the user, no capabilities),
# AS_USER_CR (the same with CAP_CHECKPOINT_RESTORE as an ambient
# capability), USER_CKPT, user_uid.
setup_test_user() {
	[ "$(id -u)" -eq 0 ] || skip "the privilege cases need root (to switch users)"
	command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
	if ! id -u "$TEST_USER" >/dev/null 2>&1; then
		useradd -M -s /usr/sbin/nologin "$TEST_USER" 2>"$case_dir/useradd" ||
			skip "cannot create $TEST_USER: $(head -1 "$case_dir/useradd")"
	fi
	user_uid=$(id -u "$TEST_USER")
	stage=$(mktemp -d /tmp/ckpt-reliability.XXXXXX) || fail "mktemp"
	trap 'rm -rf "$stage"' EXIT
	chmod 755 "$stage"
	cp "$CKPT" "$stage/ckpt" && cp "$REL_TARGET" "$stage/rel_target" || fail "cannot copy into $stage"
	mkdir -m 755 "$stage/user" && chown "$TEST_USER:" "$stage/user" || fail "cannot make $stage/user"
	USER_CKPT=$stage/ckpt
	AS_USER=(setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --clear-groups)
	AS_USER_CR=("${AS_USER[@]}" --inh-caps=+checkpoint_restore --ambient-caps=+checkpoint_restore)
}

# start_user_target ARGS...: rel_target (the staged copy) as $TEST_USER,
# in the directory $USER_TARGET_CWD when set.  USER_TARGET_CAPS: more
# setpriv options (capabilities).
start_user_target() {
	local saved_target=$REL_TARGET status
	REL_TARGET=$stage/rel_target
	TARGET_WRAPPER=("${AS_USER[@]}" ${USER_TARGET_CAPS:-})
	[ -z "${USER_TARGET_CWD:-}" ] || TARGET_WRAPPER+=(env -C "$USER_TARGET_CWD")
	TARGET_DIR=$stage/user
	TARGET_OWNER=$TEST_USER:
	start_target "$@"
	status=$?
	REL_TARGET=$saved_target
	TARGET_WRAPPER=()
	TARGET_DIR=
	TARGET_OWNER=
	return "$status"
}

# The capability sets of a process, one line: "Inh=0 Prm=0 Eff=0 Bnd=... Amb=0".
capabilities_of() {
	awk '/^Cap(Inh|Prm|Eff|Bnd|Amb):/ {
		value = $2; sub(/^0+/, "", value)
		printf "%s%s=%s", (n++ ? " " : ""), substr($1, 4, 3), (value == "" ? "0" : value)
	}' "/proc/$1/status" 2>/dev/null
}
