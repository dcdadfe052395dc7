#!/usr/bin/env bash
# Bad images are refused cleanly.
#
# For every kind of hand-made bad image (tests/tools/mkbadimage --list), both
# `ckpt restart FILE` and `ckpt inspect FILE` must exit with status 1, print
# exactly one line on stderr that names the problem, not crash, and leave no
# process behind: neither the image's PID (31999) nor any process with the
# image's name (ckpt-badimage) exists afterwards.  A valid image from the same
# builder must pass `ckpt inspect`, so each failure is the defect's doing.
#
# Environment:
#   BUILD      build directory (default: build); $BUILD/libckpt.a must exist
#   CKPT       the ckpt binary (default: $BUILD/ckpt)
#   CKPT_ASAN  optional: a ckpt built with -fsanitize=address,undefined; it is
#              run the same way and any sanitizer report fails the test
#   CC         compiler for mkbadimage (default: cc)
# Exit status: 0 pass, 1 fail, 77 skip.
set -u

cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
CKPT=${CKPT:-$BUILD/ckpt}
CC=${CC:-cc}
IMAGE_PID=31999		# SPEC_PID in tests/tools/image_builder.h
IMAGE_COMM=ckpt-badimage	# SPEC_COMM
RUN_SECONDS=30
WARNINGS=(-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
	-Wno-format-nonliteral -Wpointer-arith -Wcast-qual -Wvla -Wundef -Wwrite-strings)

# What stderr must mention for each kind (extended regex, case-insensitive).
declare -A PROBLEM=(
	[bad-length]='claims|wrong size|length'
	[huge-counts]='count|length|size|range|limit'
	[overlapping-vmas]='overlap'
	[unordered-vmas]='precede|order'
	[noncanonical-address]='canonical|user address'
	[unaligned-address]='align'
	[bad-checksum]='checksum'
	[unknown-record-type]='unknown record type'
	[bad-event-records]='does not follow its (FILE|INOTIFY)|no epoll'
	[bad-socket-records]='does not follow its (FILE|UNIX_SOCKET|INET_SOCKET|TCP_STREAM)'
	[bad-pipe-records]='does not follow its (FILE|PIPE)|power of two'
	[bad-pty-records]='does not follow its FILE|input longer than its data'
	[missing-tail]='tail'
	[eof-mid-record]='truncated|ends early'
	[path-not-terminated]='terminat'
	[path-too-long]='too long|PATH_MAX|longer than'
	[empty]='empty'
	[wrong-version]='version'
	[wrong-magic]='magic|not a ckpt image'
	[flipped-byte-in-each-record]='checksum|hash'
	[pages-outside-vma]='outside'
	[page-count-mismatch]='page count|page_count'
	[xstate-size-mismatch]='xstate size'
	[bad-sharing-owner]='sharing owner'
	[bad-prctl-values]='out of range|unknown (prctl flags|securebits)'
	[bad-sched-values]='out of range|unknown (scheduling policy|membarrier)'
	[bad-seccomp]='seccomp'
	[bad-lock-and-timer-records]='not an fd of file|unknown lock kind|not in the image|where FD, FILE_LOCK or MM'
)

failures=0
runs=0
pid_was_free=true
declare -A REPORTED=()	# leftover PIDs already reported

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

build_mkbadimage() {
	local out=$BUILD/tests/tools/mkbadimage

	if [ ! -f "$BUILD/libckpt.a" ]; then
		echo "bad_images: $BUILD/libckpt.a is missing: run make first"
		return 1
	fi
	mkdir -p "$BUILD/tests/tools" || return 1
	"$CC" -D_GNU_SOURCE -Iinclude -Isrc "${WARNINGS[@]}" -O1 -g tests/tools/mkbadimage.c \
		"$BUILD/libckpt.a" -o "$out" || { echo "bad_images: cannot build mkbadimage"; return 1; }
	MKBADIMAGE=$out
}

# Every kind mkbadimage makes has an expected problem here, and the reverse.
check_kind_table() {
	local kind

	for kind in $KINDS; do
		[ -n "${PROBLEM[$kind]:-}" ] || fail "mkbadimage makes '$kind' but this script does not check it"
	done
	for kind in "${!PROBLEM[@]}"; do
		grep -qx -- "$kind" <<<"$KINDS" || fail "mkbadimage --list lacks '$kind'"
	done
}

# PIDs of processes named like the image's process.
image_processes() {
	grep -lx -- "$IMAGE_COMM" /proc/[0-9]*/comm 2>/dev/null | cut -d/ -f3
}

process_state() {
	sed -n 's/^State:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null
}

# Fails once per process left behind, and kills it: a process of the image's
# name, or one with the image's PID when that PID was free before the test.
check_no_process_left() {
	local label=$1 pid candidates

	candidates=$(image_processes)
	if $pid_was_free && [ -e "/proc/$IMAGE_PID" ]; then
		candidates="$IMAGE_PID $candidates"
	fi
	for pid in $candidates; do
		[ -n "${REPORTED[$pid]:-}" ] && continue
		REPORTED[$pid]=1
		fail "$label: left process $pid ($(tr -d '\n' <"/proc/$pid/comm" 2>/dev/null), $(process_state "$pid")) behind"
		kill -KILL "$pid" 2>/dev/null
	done
}

check_sanitizer_report() {
	local label=$1 err=$2

	if grep -Eq 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:|SUMMARY: [A-Za-z]*Sanitizer' "$err"; then
		fail "$label: sanitizer report: $(grep -Em3 'ERROR:|runtime error:|SUMMARY:' "$err" | tr '\n' ' ')"
	fi
}

check_one_clear_line() {
	local label=$1 err=$2 problem=$3 lines

	lines=$(grep -c '' "$err")
	if [ "$lines" -eq 0 ]; then
		fail "$label: nothing on stderr (expected one line mentioning /$problem/)"
	elif [ "$lines" -gt 1 ]; then
		fail "$label: $lines lines on stderr, expected one: $(head -c 300 "$err" | tr '\n' '|')"
	elif ! grep -Eiq -- "$problem" "$err"; then
		fail "$label: stderr does not mention /$problem/: $(cat "$err")"
	fi
}

# run_bad BINARY COMMAND FILE KIND
run_bad() {
	local binary=$1 command=$2 file=$3 kind=$4 status
	local label="$command $(basename "$file")${5:+ ($5)}"

	runs=$((runs + 1))
	timeout -k 5 "$RUN_SECONDS" "$binary" "$command" "$file" </dev/null >"$WORK/stdout" 2>"$WORK/stderr"
	status=$?
	[ -n "${5:-}" ] && check_sanitizer_report "$label" "$WORK/stderr"
	if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
		fail "$label: still running after ${RUN_SECONDS}s"
	elif [ "$status" -ge 128 ]; then
		fail "$label: crashed with signal $((status - 128)): $(head -c 300 "$WORK/stderr")"
	elif [ "$status" -ne 1 ]; then
		fail "$label: exit status $status, expected 1: $(head -c 300 "$WORK/stderr")"
	fi
	check_one_clear_line "$label" "$WORK/stderr" "${PROBLEM[$kind]}"
	check_no_process_left "$label"
}

# The control: a valid image from the same builder is accepted.
check_good_image() {
	local binary=$1 tag=${2:-}

	"$MKBADIMAGE" good "$WORK/good" >/dev/null || { fail "mkbadimage good failed"; return; }
	if ! "$binary" inspect "$WORK/good" >"$WORK/stdout" 2>"$WORK/stderr"; then
		fail "inspect good${tag:+ ($tag)}: a valid image is refused: $(cat "$WORK/stderr")"
	fi
	[ -n "$tag" ] && check_sanitizer_report "inspect good ($tag)" "$WORK/stderr"
}

run_kind() {
	local kind=$1 binary=$2 tag=${3:-} file files

	files=$("$MKBADIMAGE" "$kind" "$WORK/$kind") || { fail "mkbadimage $kind failed"; return; }
	[ -n "$files" ] || { fail "mkbadimage $kind wrote nothing"; return; }
	for file in $files; do
		run_bad "$binary" restart "$file" "$kind" "$tag"
		run_bad "$binary" inspect "$file" "$kind" "$tag"
	done
}

run_all() {
	local binary=$1 tag=${2:-} kind

	check_good_image "$binary" "$tag"
	for kind in $KINDS; do
		run_kind "$kind" "$binary" "$tag"
	done
}

main() {
	local pid

	if [ ! -x "$CKPT" ]; then
		echo "FAIL: no ckpt binary at $CKPT (set CKPT or BUILD, or run make)"
		exit 1
	fi
	build_mkbadimage || exit 1
	WORK=$(mktemp -d /tmp/ckpt-bad-images.XXXXXX) || exit 1
	trap 'rm -rf "$WORK"' EXIT
	[ -e "/proc/$IMAGE_PID" ] && pid_was_free=false &&
		echo "note: PID $IMAGE_PID is in use already: checking for leftovers by name only"
	for pid in $(image_processes); do
		REPORTED[$pid]=1	# there before the test: not ours
	done
	KINDS=$("$MKBADIMAGE" --list) || { echo "FAIL: mkbadimage --list"; exit 1; }
	check_kind_table
	run_all "$CKPT"
	if [ -n "${CKPT_ASAN:-}" ]; then
		if [ -x "$CKPT_ASAN" ]; then
			ASAN_OPTIONS="detect_leaks=1:exitcode=99:${ASAN_OPTIONS:-}" \
				UBSAN_OPTIONS="print_stacktrace=1:${UBSAN_OPTIONS:-}" run_all "$CKPT_ASAN" asan
		else
			fail "CKPT_ASAN=$CKPT_ASAN is not an executable"
		fi
	fi
	echo "bad_images: $runs runs over $(wc -w <<<"$KINDS") kinds, $failures failed"
	[ "$failures" -eq 0 ]
}

main "$@"
