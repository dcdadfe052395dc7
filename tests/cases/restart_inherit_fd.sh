# A process writing to fd 5, an anonymous pipe whose reader is this test
# (outside the checkpointed tree): its fd 5 is an inherited fd.  Restarted
# without --inherit-fd, the restart is refused with exit 1 and one line
# naming fd 5 and the option, and no process is left.  Restarted with
# `--inherit-fd 5=7` (fd 7 a new write end of the same pipe), the process
# writes on and the test reads on from the read end it kept; once the
# process ends, the test reads end-of-file: no copy of the write end
# stayed anywhere (ckpt's staged fd was closed in the husk).
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
program=$case_dir/pipe_writer
cat >"$case_dir/pipe_writer.c" <<'SOURCE'
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	char line[64];

	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		if (write(5, line, strlen(line)) != (ssize_t)strlen(line)) {
			printf("fail: write to fd 5: %m\n");
			return 1;
		}
		printf("sent\n");
		fflush(stdout);
	}
	return 0;
}
SOURCE
cc -O1 -o "$program" "$case_dir/pipe_writer.c" || fail "cannot build the pipe writer"

# Closes every fd above 2 of this (sub)shell but $1.
close_fds_but() {
	local fd_path fd
	for fd_path in /proc/$BASHPID/fd/*; do
		fd=${fd_path##*/}
		if ((fd > 2 && fd != $1)); then
			eval "exec $fd>&-" 2>/dev/null
		fi
	done
}

# Sends $1 to the writer on fd $2, waits for "sent" on fd $3, and reads $1
# back from the pipe.
send_through() {
	local line
	echo "$1" >&"$2"
	read_line "$3" line 10 "'sent' from the writer ($1)"
	[ "$line" = sent ] || fail "$1: the writer said: $line"
	read_line "$pipe_read" line 10 "'$1' from the pipe"
	[ "$line" = "$1" ] || fail "read '$line' from the pipe, expected '$1'"
}

# An anonymous pipe (process substitution), opened again for each end.
exec {pipe_both}<> <(:)
exec {pipe_read}<"/proc/self/fd/$pipe_both" {pipe_write}>"/proc/self/fd/$pipe_both"
exec {pipe_both}>&-
[[ $(readlink "/proc/self/fd/$pipe_read") == pipe:* ]] || fail "no anonymous pipe: $(readlink "/proc/self/fd/$pipe_read")"

coproc WRITER { exec 5>&"$pipe_write"; close_fds_but 5; exec "$program"; }
pid=$WRITER_PID
exec {out}<&"${WRITER[0]}" {in}>&"${WRITER[1]}" {pipe_write}>&-
read_line "$out" line 10 "ready from the pipe writer"
[ "$line" = ready ] || fail "the pipe writer said: $line"
send_through before "$in" "$out"
"$CKPT" checkpoint --kill -o "$case_dir/image" "$pid" 2>"$case_dir/stderr" ||
	fail "checkpoint: $(head -1 "$case_dir/stderr")"
wait "$pid"
exec {in}>&- {out}<&-

status=$(status_of "$CKPT" restart --detach "$case_dir/image")
[ "$status" -eq 1 ] || fail "without --inherit-fd: exit $status, expected 1"
expect_one_line "$case_dir/stderr" "without --inherit-fd"
grep -q "fd 5 of process $pid .*--inherit-fd 5=" "$case_dir/stderr" ||
	fail "without --inherit-fd: unexpected message: $(head -1 "$case_dir/stderr")"
if is_running "$pid"; then
	fail "without --inherit-fd: process $pid runs"
fi

status=$(status_of "$CKPT" restart --detach --inherit-fd 5=999 "$case_dir/image")
[ "$status" -ne 0 ] || fail "--inherit-fd 5=999 (not open): exit 0"
grep -q "fd 999 is not open" "$case_dir/stderr" ||
	fail "--inherit-fd 5=999: unexpected message: $(head -1 "$case_dir/stderr")"

rm -f "$case_dir/in" "$case_dir/out"
mkfifo "$case_dir/in" "$case_dir/out"
exec {pipe_write}>"/proc/self/fd/$pipe_read"
(exec 7>&"$pipe_write"; close_fds_but 7; exec "$CKPT" restart --detach --inherit-fd 5=7 "$case_dir/image") \
	<"$case_dir/in" >"$case_dir/out" 2>"$case_dir/restart-stderr" &
restart_pid=$!
exec {pipe_write}>&-
exec {restored_in}>"$case_dir/in" {restored_out}<"$case_dir/out"
wait "$restart_pid" || fail "ckpt restart --inherit-fd 5=7: $(head -1 "$case_dir/restart-stderr")"
read_line "$restored_out" restored_pid 10 "the pid from ckpt restart --detach"
[ "$restored_pid" = "$pid" ] || fail "restarted as $restored_pid, not $pid"
send_through after "$restored_in" "$restored_out"
exec {restored_in}>&-
if IFS= read -r -t 10 -u "$pipe_read" line; then
	fail "the pipe gave '$line' after the writer ended"
elif (($? > 128)); then
	fail "no end-of-file on the pipe 10 s after the writer ended: a write end stayed open"
fi
echo "fd 5 refused by number without --inherit-fd; with --inherit-fd 5=7 the pipe carries on to end-of-file"
exit 0
