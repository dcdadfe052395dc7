# Event-loop states ckpt cannot save yet: an epoll watching a file of an
# unsupported kind (a fanotify instance), an inotify with an unread event
# (reading it would consume it), and an epoll whose watched file
# was registered under an fd number that was closed since (the file lives
# on under another number).  Each checkpoint must refuse with one line
# naming the fd, exit 1, write nothing, and leave the process running with
# its epoll intact (it checks that the epoll still reports its eventfd).
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
program=$case_dir/epoll_holder
cat >"$case_dir/epoll_holder.c" <<'EOF'
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <unistd.h>

static int watch(int epoll_fd, int fd, unsigned long long data)
{
	struct epoll_event event = { .events = EPOLLIN, .data.u64 = data };

	return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
}

/* Builds the state named by how on an epoll at fd 20 that watches an eventfd holding 1. */
static int build(const char *how, int epoll_fd)
{
	int counter = eventfd(1, 0);

	if (counter < 0 || watch(epoll_fd, counter, 7) < 0)
		return -1;
	if (strcmp(how, "fanotify") == 0)
		return watch(epoll_fd, fanotify_init(FAN_CLASS_NOTIF, 0), 8);
	if (strcmp(how, "unread") == 0) {
		int inotify_fd = inotify_init1(0), file = memfd_create("watched", 0);
		char path[64];

		/* an IN_MODIFY event of the memfd waits unread */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", file);
		if (inotify_add_watch(inotify_fd, path, IN_MODIFY) != 1 || write(file, "x", 1) != 1)
			return -1;
		close(file);
		return watch(epoll_fd, inotify_fd, 8);
	}
	if (dup2(counter, 30) < 0)
		return -1;
	return close(counter);	/* "moved": registered as the closed fd, alive as 30 */
}

int main(int argc, char **argv)
{
	struct epoll_event event = { 0 };
	char line[16];
	int first_fd = epoll_create1(0), epoll_fd = dup2(first_fd, 20);

	if (argc < 2 || epoll_fd < 0 || close(first_fd) < 0 || build(argv[1], epoll_fd) < 0) {
		printf("fail: setup: %m\n");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "go\n") != 0)
		return 1;
	if (epoll_wait(epoll_fd, &event, 1, 0) != 1 || event.data.u64 != 7)
		printf("fail: the epoll no longer reports its eventfd\n");
	else
		printf("pass\n");
	return 0;
}
EOF
cc -O1 -o "$program" "$case_dir/epoll_holder.c" || fail "cannot build the epoll program"

# $1: the state to build, $2: words the error must contain.
expect_refused() { expect_checkpoint_refused epoll "$@"; }

expect_refused fanotify "fd 4 of process [0-9]* is an anonymous-inode file of another kind (anon_inode:\\[fanotify\\]), watched by epoll fd 20: not supported yet"
expect_refused unread "fd 4 of process [0-9]* is an inotify with [0-9]* bytes of unread events: not supported yet"
expect_refused moved "fd 20 of process [0-9]* is an epoll watching a file under fd 3, which no longer holds that file: not supported yet"
exit 0
