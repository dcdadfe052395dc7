/* SPDX-License-Identifier: MIT */
/*
 * Pseudo-terminal pairs with both ends in the tree (tmux, screen, script,
 * expect): the master (/dev/ptmx) and its slave (/dev/pts/N), each open
 * file description one FILE of kind PTY with its PTY record.  The master's
 * record carries the pair's settings (termios, window size, packet mode,
 * lock, exclusive mode, the session it is the controlling terminal of and
 * its foreground group) and the bytes in flight both ways.
 *
 * A tty cannot be read without taking what it reads, so ckpt takes the
 * bytes (on its own copy of the master, and a slave it opens with
 * TIOCGPTPEER) while the tree is frozen and writes them straight back into
 * the same pair: input through the master with echo on and every editing
 * character disabled (the echo tells when the line discipline has taken
 * it all in), output through the slave with output processing off.  The
 * target never notices.  A restart does the same writes into a new pair;
 * its slave has another number (a program that printed its tty name sees
 * the new one from ttyname() but keeps what it printed).
 *
 * A slave whose master is outside the tree is the caller's terminal: at
 * fds 0-2 it is taken over from `ckpt restart` (files.c), above them it is
 * refused.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "objects/dump.h"
#include "objects/event_files.h"
#include "objects/file_kinds.h"
#include "objects/restore.h"
#include "sys/proc_files.h"
#include "util.h"

enum {
	PTMX_MAJOR = 5,
	PTMX_MINOR = 2,
	PTS_FIRST_MAJOR = 136, /* UNIX98_PTY_SLAVE_MAJOR, 8 majors of 256 */
	PTS_MAJOR_COUNT = 8,
	PTY_SETTLE_MS = 5000, /* how long the line discipline may take to take bytes in */
	PTY_CHUNK = 4096,
};

/* The kernel's struct termios2 (asm/termbits.h clashes with termios.h). */
struct kernel_termios2 {
	uint32_t c_iflag;
	uint32_t c_oflag;
	uint32_t c_cflag;
	uint32_t c_lflag;
	uint8_t c_line;
	uint8_t c_cc[CKPT_PTY_CC_COUNT];
	uint32_t c_ispeed;
	uint32_t c_ospeed;
};

#define PTY_TCGETS2 _IOR('T', 0x2A, struct kernel_termios2)
#define PTY_TCSETS2 _IOW('T', 0x2B, struct kernel_termios2)

/* A pty end's kind_state: its record and, on a master, input then output bytes. */
struct pty_state {
	struct ckpt_pty record;
	uint8_t *data;
};

/* The bytes in flight of one pair, as a master's record keeps them. */
struct pty_bytes {
	uint8_t *input; /* the slave side's unread input */
	size_t input_length;
	uint8_t *output; /* what the slave side wrote, unread by the master */
	size_t output_length;
	bool literal_eof; /* a canonical line holds VEOF as data (after VLNEXT) */
};

static bool is_master_device(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && major(st->st_rdev) == PTMX_MAJOR &&
	       minor(st->st_rdev) == PTMX_MINOR;
}

static bool is_slave_device(const struct stat *st)
{
	unsigned int major_number = major(st->st_rdev);

	return S_ISCHR(st->st_mode) && major_number >= PTS_FIRST_MAJOR &&
	       major_number < PTS_FIRST_MAJOR + PTS_MAJOR_COUNT;
}

static uint32_t slave_index(const struct stat *st)
{
	return (major(st->st_rdev) - PTS_FIRST_MAJOR) * 256u + minor(st->st_rdev);
}

static bool is_pty(const struct fd_facts *facts)
{
	return is_master_device(&facts->st) || is_slave_device(&facts->st);
}

static struct pty_state *pty_state(const struct dump_file *file)
{
	return file->kind_state;
}

static void termios_to_record(const struct kernel_termios2 *termios, struct ckpt_pty *record)
{
	record->iflag = termios->c_iflag;
	record->oflag = termios->c_oflag;
	record->cflag = termios->c_cflag;
	record->lflag = termios->c_lflag;
	record->ispeed = termios->c_ispeed;
	record->ospeed = termios->c_ospeed;
	record->line = termios->c_line;
	memcpy(record->cc, termios->c_cc, sizeof(record->cc));
}

static void record_to_termios(const struct ckpt_pty *record, struct kernel_termios2 *termios)
{
	*termios = (struct kernel_termios2){
		.c_iflag = record->iflag,
		.c_oflag = record->oflag,
		.c_cflag = record->cflag,
		.c_lflag = record->lflag,
		.c_line = record->line,
		.c_ispeed = record->ispeed,
		.c_ospeed = record->ospeed,
	};
	memcpy(termios->c_cc, record->cc, sizeof(termios->c_cc));
}

/* ---- bytes in flight, both sides ---- */

static bool is_canonical(const struct ckpt_pty *record)
{
	return record->lflag & ICANON;
}

/* Whether byte ends a line in canonical mode (VEOF's lines are marked by ckpt with VEOF itself). */
static bool ends_line(const struct ckpt_pty *record, uint8_t byte)
{
	if (byte == '\n')
		return true;
	if (record->cc[VEOL] && byte == record->cc[VEOL])
		return true;
	return (record->lflag & IEXTEN) && record->cc[VEOL2] && byte == record->cc[VEOL2];
}

/* A byte that is in none of the data and no line end: what editing characters are set to. */
static int find_unused_byte(const struct ckpt_pty *record, const struct pty_bytes *bytes)
{
	bool used[256] = { false };

	used[0] = used['\n'] = true;
	used[record->cc[VEOF]] = used[record->cc[VEOL]] = used[record->cc[VEOL2]] = true;
	for (size_t i = 0; i < bytes->input_length; i++)
		used[bytes->input[i]] = true;
	for (int byte = 1; byte < 256; byte++) {
		if (!used[byte])
			return byte;
	}
	return -1;
}

/*
 * The settings the bytes are written back under: the saved ones with echo
 * on (alone: one echoed byte per input byte), no signals, no input or
 * output translation, and every editing character set to `unused`.  In
 * packet mode IXON stays (changing it queues a status byte for the master).
 */
static struct kernel_termios2 writing_termios(const struct ckpt_pty *record, uint8_t unused)
{
	static const int editing[] = { VINTR, VQUIT,	VERASE,	  VKILL,   VSTART, VSTOP,
				       VSUSP, VREPRINT, VDISCARD, VWERASE, VLNEXT, VSWTC };
	struct kernel_termios2 termios;

	record_to_termios(record, &termios);
	termios.c_lflag &=
		~(uint32_t)(ISIG | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOPRT | ECHOKE | NOFLSH);
	termios.c_lflag |= ECHO;
	termios.c_iflag &=
		~(uint32_t)(INLCR | IGNCR | ICRNL | IUCLC | ISTRIP | PARMRK | IXOFF | IMAXBEL);
	termios.c_oflag &= ~(uint32_t)OPOST;
	if (!(record->flags & CKPT_PTY_PACKET))
		termios.c_iflag &= ~(uint32_t)IXON;
	for (size_t i = 0; i < ARRAY_SIZE(editing); i++) {
		bool flow = editing[i] == VSTART || editing[i] == VSTOP;

		if (!flow || !(termios.c_iflag & IXON))
			termios.c_cc[editing[i]] = unused;
	}
	termios.c_cc[VMIN] = 1;
	termios.c_cc[VTIME] = 0;
	return termios;
}

static int set_termios(struct ckpt_error *err, int master, const struct kernel_termios2 *termios)
{
	if (ioctl(master, PTY_TCSETS2, termios) < 0)
		return fail(err, errno, "setting a terminal's termios: %s", strerror(errno));
	return 0;
}

static int wait_readable(struct ckpt_error *err, int fd, const char *what)
{
	struct pollfd waiting = { .fd = fd, .events = POLLIN };
	int ready;

	do {
		ready = poll(&waiting, 1, PTY_SETTLE_MS);
	} while (ready < 0 && errno == EINTR);
	if (ready <= 0)
		return fail(err, ready < 0 ? errno : ETIMEDOUT, "a terminal did not give back %s",
			    what);
	return 0;
}

/* One read of the master: its data without the packet-mode header, 0 for a status byte alone. */
static ssize_t read_master_once(int master, bool packet, uint8_t *buffer)
{
	uint8_t chunk[PTY_CHUNK + 1];
	ssize_t got = read(master, packet ? chunk : buffer, PTY_CHUNK);

	if (got <= 0 || !packet)
		return got < 0 ? -errno : got;
	if (chunk[0] != 0)
		return 0; /* a status byte (TIOCPKT_*), which ckpt's own settings changes queued */
	memcpy(buffer, chunk + 1, (size_t)got - 1);
	return got - 1;
}

/* Reads the echo of `expected` input bytes written under writing_termios(), and drops it. */
static int swallow_echo(struct ckpt_error *err, int master, bool packet, size_t expected)
{
	uint8_t buffer[PTY_CHUNK];
	size_t seen = 0;

	while (seen < expected) {
		int ret = wait_readable(err, master, "the echo of its input");
		ssize_t got;

		if (ret < 0)
			return ret;
		got = read_master_once(master, packet, buffer);
		if (got < 0 && got != -EAGAIN)
			return fail(err, (int)-got, "reading a terminal's echo: %s",
				    strerror((int)-got));
		seen += got > 0 ? (size_t)got : 0;
	}
	if (seen != expected)
		return fail(err, EIO, "a terminal echoed %zu bytes of %zu", seen, expected);
	return 0;
}

/* Waits until the master's line discipline holds `expected` bytes. */
static int wait_master_holds(struct ckpt_error *err, int master, size_t expected)
{
	const struct timespec pause = { 0, 1000000 };
	int held = 0;

	for (int tries = 0; tries < PTY_SETTLE_MS; tries++) {
		if (ioctl(master, FIONREAD, &held) < 0)
			return fail(err, errno, "FIONREAD on a terminal master: %s", strerror(errno));
		if ((size_t)held >= expected)
			return (size_t)held == expected
				       ? 0
				       : fail(err, EIO, "a terminal master holds %d bytes, not %zu",
					      held, expected);
		nanosleep(&pause, NULL);
	}
	return fail(err, ETIMEDOUT, "a terminal master took in %d of %zu bytes", held, expected);
}

static int write_all(struct ckpt_error *err, int fd, const uint8_t *data, size_t length,
		     const char *what)
{
	while (length > 0) {
		ssize_t wrote = write(fd, data, length);

		if (wrote < 0 && errno == EAGAIN)
			wrote = 0;
		if (wrote < 0)
			return fail(err, errno, "writing %s into a terminal: %s", what,
				    strerror(errno));
		if (wrote == 0)
			return fail(err, EIO, "a terminal took no more of %s (output stopped?)",
				    what);
		data += wrote;
		length -= (size_t)wrote;
	}
	return 0;
}

/* Echoed bytes of input written under writing_termios(): VEOF marks no echo. */
static size_t echo_count(const struct ckpt_pty *record, const struct pty_bytes *bytes)
{
	size_t count = bytes->input_length;

	for (size_t i = 0; is_canonical(record) && i < bytes->input_length; i++)
		count -= bytes->input[i] == record->cc[VEOF];
	return count;
}

/* A status byte ckpt's own termios changes queued in packet mode: read and dropped. */
static void drop_own_status(int master, const struct ckpt_pty *record)
{
	struct pollfd status = { .fd = master, .events = POLLPRI };
	uint8_t byte;

	if ((record->flags & CKPT_PTY_PACKET) && poll(&status, 1, 0) == 1 &&
	    (status.revents & POLLPRI))
		(void)!read(master, &byte, 1);
}

/*
 * Puts the bytes into the pair (master and slave both non-blocking, the
 * master's line discipline empty), then the saved termios.
 */
static int put_bytes_in_flight(struct ckpt_error *err, int master, int slave,
			       const struct ckpt_pty *record, const struct pty_bytes *bytes)
{
	bool packet = record->flags & CKPT_PTY_PACKET;
	struct kernel_termios2 saved, writing;
	int unused = find_unused_byte(record, bytes);
	int ret;

	if (unused < 0)
		return fail(err, ENOTSUP, "terminal input using every byte value: not supported");
	writing = writing_termios(record, (uint8_t)unused);
	record_to_termios(record, &saved);
	ret = set_termios(err, master, &writing);
	if (ret == 0)
		ret = write_all(err, master, bytes->input, bytes->input_length, "its input");
	if (ret == 0)
		ret = swallow_echo(err, master, packet, echo_count(record, bytes));
	if (ret == 0)
		ret = write_all(err, slave, bytes->output, bytes->output_length, "its output");
	if (ret == 0)
		ret = wait_master_holds(err, master, bytes->output_length);
	if (set_termios(err, master, &saved) < 0 && ret == 0)
		ret = -err->code;
	drop_own_status(master, record);
	return ret;
}

/* ---- checkpoint side ---- */

static int refuse(struct dump_context *ctx, int fd, const char *what)
{
	return fail(ctx->err, ENOTSUP, "fd %d of process %d is %s: not supported yet", fd, ctx->pid,
		    what);
}

/* The tree whose processes share `shared` (ckpt_checkpoint() keeps it inside its dump_tree). */
static const struct dump_tree *tree_of(const struct dump_shared *shared)
{
	return (const struct dump_tree *)(const void *)((const char *)shared -
							offsetof(struct dump_tree, shared));
}

static bool names_master(int pid, const char *name, uint32_t index)
{
	char path[96], target[64];
	_cleanup_free_ char *text = NULL;
	struct ckpt_error ignored = { 0 };
	const char *field;
	ssize_t length;

	snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, name);
	length = readlink(path, target, sizeof(target) - 1);
	if (length < 0)
		return false;
	target[length] = '\0';
	if (strcmp(target, "/dev/ptmx") != 0 && strcmp(target, "/dev/pts/ptmx") != 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, name);
	if (read_whole_file(path, &text, NULL, &ignored) < 0)
		return false;
	field = status_field(text, "tty-index");
	return field && strtoul(field, NULL, 10) == index;
}

static bool holds_master(int pid, uint32_t index)
{
	char path[64];
	struct dirent *entry;
	bool found = false;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir)
		return false;
	for (entry = readdir(dir); entry && !found; entry = readdir(dir))
		found = entry->d_name[0] != '.' && names_master(pid, entry->d_name, index);
	closedir(dir);
	return found;
}

/* At fds 0-2: a master is saved, and a slave whose master a process of the tree holds. */
static bool is_saved_at_low_fd(struct dump_context *ctx, const struct fd_facts *facts)
{
	const struct dump_tree *tree = tree_of(ctx->shared);

	if (is_master_device(&facts->st))
		return true;
	for (size_t i = 0; i < tree->process_count; i++) {
		if (holds_master(tree->processes[i].pid, slave_index(&facts->st)))
			return true;
	}
	return false;
}

static int master_ioctl(struct dump_context *ctx, int fd, int master, unsigned long request,
			const char *name, void *value)
{
	if (ioctl(master, request, value) < 0)
		return fail(ctx->err, errno, "%s on fd %d of process %d: %s", name, fd, ctx->pid,
			    strerror(errno));
	return 0;
}

/* The session it is the controlling terminal of (0: none) and its foreground group. */
static int read_session(struct dump_context *ctx, int fd, int master, struct ckpt_pty *record)
{
	pid_t session = 0, group = 0;

	if (ioctl(master, TIOCGSID, &session) < 0 && errno != ENOTTY)
		return fail(ctx->err, errno, "TIOCGSID on fd %d of process %d: %s", fd, ctx->pid,
			    strerror(errno));
	if (session > 0 && ioctl(master, TIOCGPGRP, &group) < 0)
		return fail(ctx->err, errno, "TIOCGPGRP on fd %d of process %d: %s", fd, ctx->pid,
			    strerror(errno));
	record->session = session > 0 ? session : 0;
	record->foreground_pgrp = session > 0 ? group : 0;
	return 0;
}

static int read_settings(struct dump_context *ctx, int fd, int master, struct ckpt_pty *record)
{
	struct kernel_termios2 termios;
	struct winsize size = { 0 };
	unsigned int index = 0;
	int packet = 0, locked = 0;
	int ret = master_ioctl(ctx, fd, master, TIOCGPTN, "TIOCGPTN", &index);

	if (ret == 0)
		ret = master_ioctl(ctx, fd, master, PTY_TCGETS2, "TCGETS2", &termios);
	if (ret == 0)
		ret = master_ioctl(ctx, fd, master, TIOCGWINSZ, "TIOCGWINSZ", &size);
	if (ret == 0)
		ret = master_ioctl(ctx, fd, master, TIOCGPKT, "TIOCGPKT", &packet);
	if (ret == 0)
		ret = master_ioctl(ctx, fd, master, TIOCGPTLCK, "TIOCGPTLCK", &locked);
	if (ret == 0)
		ret = read_session(ctx, fd, master, record);
	if (ret < 0)
		return ret;
	record->index = index;
	termios_to_record(&termios, record);
	record->rows = size.ws_row;
	record->columns = size.ws_col;
	record->xpixels = size.ws_xpixel;
	record->ypixels = size.ws_ypixel;
	record->flags |= (packet ? CKPT_PTY_PACKET : 0) | (locked ? CKPT_PTY_LOCKED : 0);
	return 0;
}

/* A slave of ckpt's own, read-write and non-blocking (the lock lifted for the open). */
static int open_own_slave(struct ckpt_error *err, int master, bool locked)
{
	int unlock = 0, lock = 1, slave;

	if (locked && ioctl(master, TIOCSPTLCK, &unlock) < 0)
		return fail(err, errno, "TIOCSPTLCK on a terminal master: %s", strerror(errno));
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (slave < 0)
		fail(err, errno, "TIOCGPTPEER on a terminal master: %s", strerror(errno));
	if (locked && ioctl(master, TIOCSPTLCK, &lock) < 0 && slave >= 0) {
		close(slave);
		return fail(err, errno, "TIOCSPTLCK on a terminal master: %s", strerror(errno));
	}
	return slave < 0 ? -err->code : slave;
}

static int append_bytes(struct ckpt_error *err, uint8_t *buffer, size_t *length, const void *data,
			size_t count)
{
	if (*length + count > CKPT_MAX_PTY_DATA / 2)
		return fail(err, ENOTSUP, "a terminal with more than %u bytes waiting: not supported",
			    CKPT_MAX_PTY_DATA / 2);
	memcpy(buffer + *length, data, count);
	*length += count;
	return 0;
}

/* What the slave side wrote and the master has not read. */
static int take_output(struct ckpt_error *err, int master, bool packet, struct pty_bytes *bytes)
{
	uint8_t buffer[PTY_CHUNK];
	ssize_t got;
	int ret = 0;

	while (ret == 0 && (got = read_master_once(master, packet, buffer)) >= 0)
		ret = append_bytes(err, bytes->output, &bytes->output_length, buffer, (size_t)got);
	if (ret == 0 && got != -EAGAIN)
		ret = fail(err, (int)-got, "reading a terminal master: %s", strerror((int)-got));
	return ret;
}

/* One canonical line, with VEOF put back where the line ended by it (not by a line end). */
static int keep_line(struct ckpt_error *err, const struct ckpt_pty *record, struct pty_bytes *bytes,
		     const uint8_t *line, size_t length)
{
	uint8_t end_of_file = record->cc[VEOF];
	int ret = 0;

	bytes->literal_eof |= memchr(line, end_of_file, length) != NULL;
	if (length)
		ret = append_bytes(err, bytes->input, &bytes->input_length, line, length);
	if (ret == 0 && (length == 0 || !ends_line(record, line[length - 1])))
		ret = append_bytes(err, bytes->input, &bytes->input_length, &end_of_file, 1);
	return ret;
}

static int read_slave_all(struct ckpt_error *err, int slave, struct pty_bytes *bytes,
			  const struct ckpt_pty *record, bool lines)
{
	uint8_t buffer[PTY_CHUNK];
	ssize_t got;
	int ret = 0;

	while (ret == 0 && (got = read(slave, buffer, sizeof(buffer))) >= 0) {
		if (lines)
			ret = keep_line(err, record, bytes, buffer, (size_t)got);
		else if (got == 0)
			break;
		else
			ret = append_bytes(err, bytes->input, &bytes->input_length, buffer,
					   (size_t)got);
	}
	if (ret == 0 && got < 0 && errno != EAGAIN)
		ret = fail(err, errno, "reading a terminal slave: %s", strerror(errno));
	return ret;
}

/*
 * The slave side's unread input.  In canonical mode the whole lines come
 * first, one read each; then, with ICANON off for a moment (nothing is left
 * whose line boundaries that could lose), the partial line.
 */
static int take_input(struct ckpt_error *err, int master, int slave, const struct ckpt_pty *record,
		      struct pty_bytes *bytes)
{
	struct kernel_termios2 partial;
	int ret;

	if (!is_canonical(record))
		return read_slave_all(err, slave, bytes, record, false);
	ret = read_slave_all(err, slave, bytes, record, true);
	record_to_termios(record, &partial);
	partial.c_lflag &= ~(uint32_t)ICANON;
	partial.c_cc[VMIN] = 1;
	partial.c_cc[VTIME] = 0;
	if (ret == 0)
		ret = set_termios(err, master, &partial);
	if (ret == 0)
		ret = read_slave_all(err, slave, bytes, record, false);
	return ret;
}

static int refuse_pending_status(struct dump_context *ctx, int fd, int master,
				 const struct ckpt_pty *record)
{
	struct pollfd status = { .fd = master, .events = POLLPRI };

	if (!(record->flags & CKPT_PTY_PACKET) || poll(&status, 1, 0) != 1 ||
	    !(status.revents & POLLPRI))
		return 0;
	return refuse(ctx, fd,
		      "a terminal master in packet mode with a status change (TIOCPKT) not yet read");
}

/* Takes the bytes in flight, keeps a copy, and puts them back: the target notices nothing. */
static int copy_bytes_in_flight(struct dump_context *ctx, int master, int slave,
				struct pty_state *state)
{
	struct pty_bytes bytes = { 0 };
	_cleanup_free_ uint8_t *output = malloc(CKPT_MAX_PTY_DATA / 2);
	int ret, put;

	state->data = malloc(CKPT_MAX_PTY_DATA);
	if (!state->data || !output)
		return fail(ctx->err, ENOMEM, "out of memory");
	bytes.input = state->data;
	bytes.output = output;
	ret = take_output(ctx->err, master, state->record.flags & CKPT_PTY_PACKET, &bytes);
	if (ret == 0)
		ret = take_input(ctx->err, master, slave, &state->record, &bytes);
	put = put_bytes_in_flight(ctx->err, master, slave, &state->record, &bytes);
	if (ret < 0 || put < 0)
		return ret < 0 ? ret : put;
	if (bytes.literal_eof)
		return fail(
			ctx->err, ENOTSUP,
			"a terminal whose input holds a literal end-of-file character (typed after VLNEXT): not supported yet");
	memcpy(state->data + bytes.input_length, output, bytes.output_length);
	state->record.input_length = (uint32_t)bytes.input_length;
	state->record.data_length = (uint32_t)(bytes.input_length + bytes.output_length);
	return 0;
}

static int collect_master(struct dump_context *ctx, int fd, struct pty_state *state)
{
	_cleanup_close_ int master = take_target_file(ctx, fd);
	_cleanup_close_ int slave = -1;
	int exclusive = 0, flags, ret;

	if (master < 0)
		return master;
	ret = read_settings(ctx, fd, master, &state->record);
	if (ret == 0)
		ret = refuse_pending_status(ctx, fd, master, &state->record);
	if (ret < 0)
		return ret;
	slave = open_own_slave(ctx->err, master, state->record.flags & CKPT_PTY_LOCKED);
	if (slave < 0)
		return slave;
	if (ioctl(slave, TIOCGEXCL, &exclusive) < 0)
		return fail(ctx->err, errno, "TIOCGEXCL on the slave of fd %d of process %d: %s",
			    fd, ctx->pid, strerror(errno));
	state->record.flags |= exclusive ? CKPT_PTY_EXCLUSIVE : 0;
	flags = fcntl(master, F_GETFL);
	if (flags < 0 || fcntl(master, F_SETFL, flags | O_NONBLOCK) < 0)
		return fail(ctx->err, errno, "fcntl on fd %d of process %d: %s", fd, ctx->pid,
			    strerror(errno));
	ret = copy_bytes_in_flight(ctx, master, slave, state);
	if (fcntl(master, F_SETFL, flags) < 0 && ret == 0)
		ret = fail(ctx->err, errno, "fcntl on fd %d of process %d: %s", fd, ctx->pid,
			   strerror(errno));
	return ret;
}

static int collect_pty(struct dump_context *ctx, const struct fd_facts *facts, struct dump_file *file)
{
	struct pty_state *state = calloc(1, sizeof(*state));

	if (!state)
		return fail(ctx->err, ENOMEM, "out of memory");
	file->kind_state = state;
	state->record.file_id = file->record.id;
	if (is_slave_device(&facts->st)) {
		state->record.role = CKPT_PTY_SLAVE;
		state->record.index = slave_index(&facts->st);
		return 0;
	}
	state->record.role = CKPT_PTY_MASTER;
	return collect_master(ctx, facts->fd, state);
}

static struct dump_file *find_end(struct dump_shared *shared, uint32_t role, uint32_t index)
{
	for (size_t i = 0; i < shared->file_count; i++) {
		struct dump_file *file = &shared->files[i];

		if (file->record.kind == CKPT_FILE_PTY && pty_state(file)->record.role == role &&
		    pty_state(file)->record.index == index)
			return file;
	}
	return NULL;
}

static const struct ckpt_tree_entry *find_entry(const struct dump_tree *tree, pid_t pid)
{
	for (size_t i = 0; i < tree->entry_count; i++) {
		if (tree->entries[i].pid == pid)
			return &tree->entries[i];
	}
	return NULL;
}

static bool has_group(const struct dump_tree *tree, pid_t session, pid_t group)
{
	for (size_t i = 0; i < tree->entry_count; i++) {
		if (tree->entries[i].sid == session && tree->entries[i].pgid == group)
			return true;
	}
	return false;
}

/* Its session's leader must be in the tree to take it again, with its foreground group. */
static int check_session(struct dump_shared *shared, const struct dump_file *master)
{
	const struct dump_tree *tree = tree_of(shared);
	const struct ckpt_pty *record = &pty_state(master)->record;
	const struct ckpt_tree_entry *leader = find_entry(tree, record->session);

	if (!record->session)
		return 0;
	if (!leader || leader->state != CKPT_TREE_ALIVE || leader->sid != leader->pid)
		return fail(shared->err, ENOTSUP,
			    "terminal /dev/pts/%u (fd %d of process %d) is the controlling terminal of session %d, whose leader is not a live process of the tree: not supported",
			    record->index, master->first_fd, master->first_pid, record->session);
	if (!record->peer_file_id)
		return fail(shared->err, ENOTSUP,
			    "terminal /dev/pts/%u (fd %d of process %d) is a controlling terminal that no process of the tree holds open: not supported",
			    record->index, master->first_fd, master->first_pid);
	if (record->foreground_pgrp && !has_group(tree, record->session, record->foreground_pgrp))
		return fail(
			shared->err, ENOTSUP,
			"terminal /dev/pts/%u (fd %d of process %d) has its foreground process group %d outside the tree: not supported",
			record->index, master->first_fd, master->first_pid, record->foreground_pgrp);
	return 0;
}

/* Each end names the other; a slave whose master is outside the tree is refused (above fd 2). */
static int pair_pty(struct dump_shared *shared, struct dump_file *end)
{
	struct ckpt_pty *record = &pty_state(end)->record;
	const struct dump_file *peer;

	if (record->role == CKPT_PTY_MASTER) {
		peer = find_end(shared, CKPT_PTY_SLAVE, record->index);
		record->peer_file_id = peer ? peer->record.id : 0;
		return check_session(shared, end);
	}
	peer = find_end(shared, CKPT_PTY_MASTER, record->index);
	if (!peer)
		return fail(shared->err, ENOTSUP,
			    "fd %d of process %d is terminal %s, whose master is outside the checkpointed tree: not supported yet (only at fds 0-2, taken over from ckpt restart)",
			    end->first_fd, end->first_pid, end->path);
	*record = pty_state(peer)->record;
	record->file_id = end->record.id;
	record->role = CKPT_PTY_SLAVE;
	record->peer_file_id = peer->record.id;
	record->input_length = 0;
	record->data_length = 0;
	return 0;
}

static int write_pty(struct dump_shared *shared, const struct dump_file *file)
{
	const struct pty_state *state = pty_state(file);
	struct ckpt_pty record = state->record;
	struct iovec parts[2] = {
		{ &record, sizeof(record) },
		{ state->data, record.data_length },
	};

	return image_write_record(&shared->writer, CKPT_RECORD_PTY, parts,
				  record.data_length ? 2 : 1);
}

static void free_pty(struct dump_file *file)
{
	if (file->kind_state)
		free(pty_state(file)->data);
	free_plain_state(file);
}

/* ---- restart side ---- */

static int open_slave_of(struct restore_context *ctx, int master, uint32_t open_flags)
{
	int flags = (int)(open_flags & (O_ACCMODE | O_NONBLOCK | O_APPEND)) | O_NOCTTY | O_CLOEXEC;
	int slave = ioctl(master, TIOCGPTPEER, flags);

	if (slave < 0)
		return fail(ctx->err, errno, "opening the slave of a new terminal: %s",
			    strerror(errno));
	return slave;
}

static int stage(struct restore_context *ctx, uint32_t file_id, int fd)
{
	ctx->staged_fds[file_id - 1] = fcntl(fd, F_DUPFD_CLOEXEC, ctx->stage_base);
	if (ctx->staged_fds[file_id - 1] < 0)
		return fail(ctx->err, errno, "cannot stage a terminal: %s", strerror(errno));
	return 0;
}

/* Every slave FILE of the master, opened and staged (before the lock is set again). */
static int stage_slaves(struct restore_context *ctx, int master, uint32_t master_id)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < ctx->tree.file_count; i++) {
		const struct image_file *file = &ctx->tree.files[i];
		const struct ckpt_pty *record = image_file_pty(file);
		int slave;

		if (!record || record->role != CKPT_PTY_SLAVE || record->peer_file_id != master_id)
			continue;
		slave = open_slave_of(ctx, master, file->file.open_flags);
		if (slave < 0)
			return slave;
		ret = stage(ctx, file->file.id, slave);
		close(slave);
	}
	return ret;
}

static int set_modes(struct restore_context *ctx, int master, int slave, const struct ckpt_pty *record)
{
	struct winsize size = { record->rows, record->columns, record->xpixels, record->ypixels };
	int on = 1;

	if (ioctl(master, TIOCSWINSZ, &size) < 0)
		return fail(ctx->err, errno, "TIOCSWINSZ on a new terminal: %s", strerror(errno));
	if ((record->flags & CKPT_PTY_EXCLUSIVE) && ioctl(slave, TIOCEXCL) < 0)
		return fail(ctx->err, errno, "TIOCEXCL on a new terminal: %s", strerror(errno));
	if ((record->flags & CKPT_PTY_PACKET) && ioctl(master, TIOCPKT, &on) < 0)
		return fail(ctx->err, errno, "TIOCPKT on a new terminal: %s", strerror(errno));
	return 0;
}

static int fill_new_pair(struct restore_context *ctx, int master, int slave,
			 const struct image_file *file)
{
	const struct ckpt_pty *record = image_file_pty(file);
	uint8_t *data = (uint8_t *)(uintptr_t)(record + 1);
	struct pty_bytes bytes = { .input = data,
				   .input_length = record->input_length,
				   .output = data + record->input_length,
				   .output_length = record->data_length - record->input_length };
	struct kernel_termios2 saved;
	int ret;

	record_to_termios(record, &saved);
	ret = set_termios(ctx->err, master, &saved);
	if (ret == 0)
		ret = set_modes(ctx, master, slave, record);
	if (ret == 0 && record->data_length)
		ret = put_bytes_in_flight(ctx->err, master, slave, record, &bytes);
	if (ret == 0)
		ret = stage_slaves(ctx, master, file->file.id);
	return ret;
}

static int finish_master(struct restore_context *ctx, int master, const struct image_file *file)
{
	const struct ckpt_pty *record = image_file_pty(file);
	int lock = 1;

	if ((record->flags & CKPT_PTY_LOCKED) && ioctl(master, TIOCSPTLCK, &lock) < 0)
		return fail(ctx->err, errno, "TIOCSPTLCK on a new terminal: %s", strerror(errno));
	if (fcntl(master, F_SETFL, (int)(file->file.open_flags & (O_NONBLOCK | O_APPEND))) < 0)
		return fail(ctx->err, errno, "fcntl(F_SETFL) on a new terminal: %s", strerror(errno));
	return stage(ctx, file->file.id, master);
}

/* The new pair of a master FILE: the master and every slave FILE staged. */
static int make_pair(struct restore_context *ctx, const struct image_file *file)
{
	int access = (int)(file->file.open_flags & O_ACCMODE);
	_cleanup_close_ int master = open("/dev/ptmx", access | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	_cleanup_close_ int slave = -1;
	int unlock = 0, ret;

	if (master < 0)
		return fail(ctx->err, errno, "opening /dev/ptmx: %s", strerror(errno));
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		return fail(ctx->err, errno, "unlocking a new terminal: %s", strerror(errno));
	slave = open_slave_of(ctx, master, O_RDWR | O_NONBLOCK);
	if (slave < 0)
		return slave;
	ret = fill_new_pair(ctx, master, slave, file);
	if (ret == 0)
		ret = finish_master(ctx, master, file);
	return ret;
}

/* Whichever end comes first makes the pair; the FILEs are all staged then. */
static int create_pty(struct restore_context *ctx, const struct file_opener *opener,
		      const struct image_file *file, int *ret_fd)
{
	const struct ckpt_pty *record = image_file_pty(file);
	uint32_t master_id = record->role == CKPT_PTY_MASTER ? file->file.id : record->peer_file_id;

	(void)opener;
	*ret_fd = -1;
	if (ctx->staged_fds[master_id - 1] >= 0)
		return fail(ctx->err, EINVAL,
			    "bad image: terminal FILE %u is not staged with its master",
			    file->file.id);
	return make_pair(ctx, &ctx->tree.files[master_id - 1]);
}

/* The master record of the terminal this session leader had, or NULL. */
static const struct ckpt_pty *find_session_terminal(const struct restore_context *ctx, pid_t leader)
{
	for (size_t i = 0; i < ctx->tree.file_count; i++) {
		const struct ckpt_pty *record = image_file_pty(&ctx->tree.files[i]);

		if (record && record->role == CKPT_PTY_MASTER && record->session == leader)
			return record;
	}
	return NULL;
}

/*
 * Run by the session leader's husk before it creates its children (each
 * process keeps its own pointer to its controlling terminal, copied at
 * fork): the new slave becomes the session's controlling terminal.
 */
static int take_terminal(const struct restore_context *ctx, pid_t pid)
{
	const struct ckpt_pty *record = find_session_terminal(ctx, pid);

	if (!record)
		return 0;
	if (ioctl(ctx->staged_fds[record->peer_file_id - 1], TIOCSCTTY, 0) < 0)
		return -errno;
	return 0;
}

/* In the session leader's husk, once every husk is in its group: the foreground group. */
static int connect_ptys(struct restore_context *ctx)
{
	const struct ckpt_pty *record = find_session_terminal(ctx, ctx->image.entry.pid);
	int32_t group = record ? record->foreground_pgrp : 0;
	uint64_t address = 0;
	int64_t ret;

	if (group == 0)
		return 0;
	ret = husk_put_data(ctx, 0, &group, sizeof(group), &address);
	if (ret == 0)
		ret = husk_call(ctx, "ioctl(TIOCSPGRP)", SYS_ioctl,
				(uint64_t)ctx->staged_fds[record->peer_file_id - 1], TIOCSPGRP,
				address, 0, 0, 0);
	return ret < 0 ? (int)ret : 0;
}

/* ---- the caller's terminal ---- */

/*
 * The last thing before the tree goes, with CKPT_OPT_FOREGROUND (ckpt
 * restart is the foreground job of the terminal at its fd 0): a root that
 * stays in ckpt's session (its session leader was outside the tree: a
 * shell job) but leads a group of its own gets the terminal's foreground,
 * as a shell gives it to the job it runs; otherwise its first read of the
 * terminal would stop it with SIGTTIN.  ckpt restart takes the foreground
 * back when the process ends.  Nothing is refused: without the foreground
 * the process is where it was before this existed.
 */
static int give_foreground(struct restore_context *ctx)
{
	pid_t group = getpgid(ctx->root);
	sigset_t no_ttou, old_mask;

	if (!(ctx->options->flags & CKPT_OPT_FOREGROUND) || (ctx->options->flags & CKPT_OPT_DETACH))
		return 0;
	if (group <= 0 || group == getpgrp() || getsid(ctx->root) != getsid(0) ||
	    tcgetpgrp(STDIN_FILENO) != getpgrp())
		return 0;
	sigemptyset(&no_ttou);
	sigaddset(&no_ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &no_ttou, &old_mask);
	(void)tcsetpgrp(STDIN_FILENO, group);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	return 0;
}

const struct file_kind_ops pty_ops = {
	.kind = CKPT_FILE_PTY,
	.saved_at_low_fd = is_saved_at_low_fd,
	.recognise = is_pty,
	.collect = collect_pty,
	.check_collected = pair_pty,
	.write_state = write_pty,
	.free_state = free_pty,
	.create = create_pty,
	.start_husk = take_terminal,
	.connect = connect_ptys,
	.seal = give_foreground,
};
