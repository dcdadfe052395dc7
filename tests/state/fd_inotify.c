/*
 * inotify: an instance at fd 7 (O_NONBLOCK) watching a scratch directory
 * (wd 1, IN_CREATE | IN_DELETE), a file in it (wd 2, IN_MODIFY |
 * IN_EXCL_UNLINK) and another file (wd 4, IN_ATTRIB | IN_ONESHOT), wd 3
 * removed before (a gap the restart must skip), watched by an epoll at
 * fd 9; an empty blocking instance at fd 8.  After restart: fdinfo lists
 * the same watches (wd, inode, mask), writing the file gives IN_MODIFY on
 * wd 2 and wakes the epoll, creating a file gives IN_CREATE with its name on
 * wd 1, a new watch gets wd 5, and fd 8 has no watch and stays blocking.
 */
#include "state.h"

#include <sys/epoll.h>
#include <sys/inotify.h>

enum {
	INOTIFY_FD = 7,
	EMPTY_FD = 8,
	EPOLL_FD = 9,
	EPOLL_DATA = 0x1707
};

static char scratch_dir[256];
static char watch_lines[2048];

static void path_of(const char *name, char *out, size_t capacity)
{
	state_path_in(out, capacity, scratch_dir, name);
}

static void make_file(const char *name)
{
	char path[512];

	path_of(name, path, sizeof(path));
	state_write_file(path, "x", 1);
}

static void move_fd(int fd, int wanted_fd)
{
	if (fd < 0 || dup2(fd, wanted_fd) != wanted_fd)
		state_setup_fail("fd at %d: %s", wanted_fd, strerror(errno));
	close(fd);
}

static int watch(const char *name, uint32_t mask)
{
	char path[512];

	if (name[0] == '\0')
		snprintf(path, sizeof(path), "%s", scratch_dir);
	else
		path_of(name, path, sizeof(path));
	return inotify_add_watch(INOTIFY_FD, path, mask);
}

/* The "inotify wd:" lines of an fd's fdinfo, each cut before its file handle. */
static void read_watch_lines(int fd, char *out, size_t capacity)
{
	char path[64], text[4096];
	const char *line;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	state_read_file(path, text, sizeof(text));
	out[0] = '\0';
	for (line = strstr(text, "inotify wd:"); line; line = strstr(line + 1, "inotify wd:")) {
		const char *end = strstr(line, " fhandle-bytes:");

		if (end)
			state_append_text(out, capacity, line, (size_t)(end - line + 1));
	}
}

static void build_watches(void)
{
	struct epoll_event event = { .events = EPOLLIN, .data.u64 = EPOLL_DATA };
	int removed;

	make_file("modified");
	make_file("removed");
	make_file("oneshot");
	move_fd(inotify_init1(IN_NONBLOCK), INOTIFY_FD);
	move_fd(inotify_init1(0), EMPTY_FD);
	move_fd(epoll_create1(0), EPOLL_FD);
	if (watch("", IN_CREATE | IN_DELETE) != 1 ||
	    watch("modified", IN_MODIFY | IN_EXCL_UNLINK) != 2)
		state_setup_fail("inotify_add_watch: %s", strerror(errno));
	removed = watch("removed", IN_OPEN);
	if (removed != 3 || inotify_rm_watch(INOTIFY_FD, removed) < 0)
		state_setup_fail("inotify watch 3: %s", strerror(errno));
	if (watch("oneshot", IN_ATTRIB | IN_ONESHOT) != 4)
		state_setup_fail("inotify watch 4: %s", strerror(errno));
	if (epoll_ctl(EPOLL_FD, EPOLL_CTL_ADD, INOTIFY_FD, &event) < 0)
		state_setup_fail("epoll_ctl: %s", strerror(errno));
}

/* Reads away the IN_IGNORED of wd 3, so that nothing is unread at checkpoint. */
static void drain(void)
{
	char buffer[4096];

	while (read(INOTIFY_FD, buffer, sizeof(buffer)) > 0)
		;
}

static void expect_event(int wd, uint32_t mask, const char *name)
{
	char buffer[4096] __attribute__((aligned(8)));
	const struct inotify_event *event = (const void *)buffer;
	ssize_t got = read(INOTIFY_FD, buffer, sizeof(buffer));

	if (!state_expect(got >= (ssize_t)sizeof(*event), "no inotify event for wd %d: %s", wd,
			  got < 0 ? strerror(errno) : "short read"))
		return;
	state_expect(event->wd == wd && event->mask == mask,
		     "inotify event wd %d mask %#x, expected wd %d mask %#x", event->wd,
		     event->mask, wd, mask);
	if (name)
		state_expect(event->len > 0 && strcmp(event->name, name) == 0,
			     "inotify event name \"%s\", expected \"%s\"",
			     event->len ? event->name : "", name);
}

static void expect_epoll_wakes(void)
{
	struct epoll_event event = { 0 };
	int count = epoll_wait(EPOLL_FD, &event, 1, 0);

	state_expect(count == 1 && event.data.u64 == EPOLL_DATA,
		     "epoll_wait gave %d (data %#llx), expected the inotify", count,
		     (unsigned long long)event.data.u64);
}

static void check_events(void)
{
	char path[512];
	int fd;

	path_of("modified", path, sizeof(path));
	fd = open(path, O_WRONLY | O_APPEND);
	state_expect(fd >= 0 && write(fd, "y", 1) == 1, "writing %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	expect_epoll_wakes();
	expect_event(2, IN_MODIFY, NULL);
	make_file("created");
	expect_event(1, IN_CREATE, "created");
	state_expect(watch("removed", IN_OPEN) == 5, "a new watch did not get wd 5");
}

static void check(void)
{
	char lines[2048];
	int flags = fcntl(EMPTY_FD, F_GETFL);

	read_watch_lines(INOTIFY_FD, lines, sizeof(lines));
	state_expect_equal_text(lines, watch_lines, "inotify watches in fdinfo");
	read_watch_lines(EMPTY_FD, lines, sizeof(lines));
	state_expect_equal_text(lines, "", "watches of the empty inotify");
	state_expect(flags >= 0 && !(flags & O_NONBLOCK), "fd 8: F_GETFL %#x", flags);
	state_expect(fcntl(INOTIFY_FD, F_GETFL) & O_NONBLOCK, "fd 7 lost O_NONBLOCK");
	check_events();
}

static void remove_scratch(void)
{
	const char *names[] = { "modified", "removed", "oneshot", "created" };
	char path[512];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		path_of(names[i], path, sizeof(path));
		unlink(path);
	}
	rmdir(scratch_dir);
}

int main(void)
{
	state_init();
	state_make_scratch_dir(scratch_dir, sizeof(scratch_dir));
	build_watches();
	drain();
	read_watch_lines(INOTIFY_FD, watch_lines, sizeof(watch_lines));
	state_ready();
	state_wait_go_signal();
	check();
	remove_scratch();
	state_finish();
}
