# An epoll watching fd 1 (a pipe at checkpoint time), restarted with fd 1
# a regular file (`ckpt restart IMG > FILE`): the kernel cannot watch a
# regular file, so the restart refuses up front with exit 1 and one line
# naming fd 1 and what works (a pipe), before any process is created.  The
# same image restarted with fd 1 a pipe runs on, its epoll watching it.
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
program=$case_dir/epoll_stdout
cat >"$case_dir/epoll_stdout.c" <<'SOURCE'
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

int main(void)
{
	struct epoll_event event = { .events = EPOLLOUT, .data.u64 = 77 };
	char line[16];
	int epoll_fd = epoll_create1(0);

	if (epoll_fd < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, 1, &event) != 0) {
		printf("fail: setup: %m\n");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "go\n") != 0)
		return 1;
	memset(&event, 0, sizeof(event));
	if (epoll_wait(epoll_fd, &event, 1, 10000) != 1 || event.data.u64 != 77) {
		printf("fail: the epoll no longer reports fd 1\n");
		return 1;
	}
	printf("pass\n");
	return 0;
}
SOURCE
cc -O1 -o "$program" "$case_dir/epoll_stdout.c" || fail "cannot build the epoll program"

coproc HOLDER { close_extra_fds; exec "$program"; }
pid=$HOLDER_PID
exec {out}<&"${HOLDER[0]}" {in}>&"${HOLDER[1]}"
read_line "$out" line 10 "ready from the epoll program"
[ "$line" = ready ] || fail "the epoll program said: $line"
"$CKPT" checkpoint --kill -o "$case_dir/image" "$pid" 2>"$case_dir/stderr" ||
	fail "checkpoint: $(head -1 "$case_dir/stderr")"
wait "$pid"
exec {in}>&- {out}<&-

status=$(status_of "$CKPT" restart --detach "$case_dir/image")
[ "$status" -eq 1 ] || fail "fd 1 a regular file: exit $status, expected 1"
expect_one_line "$case_dir/stderr" "fd 1 a regular file"
grep -q "watches fd 1.*a regular file.*a pipe" "$case_dir/stderr" ||
	fail "fd 1 a regular file: unexpected message: $(head -1 "$case_dir/stderr")"
if grep -q . "$case_dir/stdout"; then
	fail "fd 1 a regular file: something was started: $(head -1 "$case_dir/stdout")"
fi

restart_detached "$CKPT" "$case_dir/image"
echo go >&"$restored_in"
read_line "$restored_out" line 10 "the answer of the process restarted on a pipe"
[ "$line" = pass ] || fail "on a pipe: $line"
echo "fd 1 a regular file refused with one line naming it; a pipe works"
exit 0
