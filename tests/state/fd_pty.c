/*
 * Pseudo-terminal pairs with both ends in the process.  Pair A (master fd 5,
 * slave fd 6): raw mode with custom control characters, a 33x111 window,
 * packet mode on the master, 300 bytes of input waiting at the slave (with
 * ^C and DEL in them, plain data in raw mode) and 1000 bytes the slave
 * wrote waiting at the master.  Pair B (master fd 7, slave fd 8,
 * O_NONBLOCK): canonical mode with echo, two whole lines and a partial
 * line of input waiting, their echo waiting at the master, the master
 * locked (TIOCSPTLCK) and the slave exclusive (TIOCEXCL).  After restart
 * (the pts numbers may differ): the same termios, window size and modes,
 * the bytes exactly (the lines one read each, the partial line only after
 * its newline), and both pairs still carry bytes both ways.
 */
#include "state.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>

enum {
	MASTER_A = 5,
	SLAVE_A,
	MASTER_B,
	SLAVE_B
};
enum {
	INPUT_A = 300,
	OUTPUT_A = 1000
};

static const char lines_b[] = "line one\nline two\npartial";
static const char echo_b[] = "line one\r\nline two\r\npartial";
static struct termios termios_a, termios_b;

static void open_pair(int wanted_master, int wanted_slave, int slave_flags)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY), slave;

	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
		state_setup_fail("posix_openpt: %s", strerror(errno));
	slave = open(ptsname(master), O_RDWR | O_NOCTTY | slave_flags);
	if (slave < 0)
		state_setup_fail("open %s: %s", ptsname(master), strerror(errno));
	if (dup2(master, wanted_master) != wanted_master || dup2(slave, wanted_slave) != wanted_slave)
		state_setup_fail("dup2: %s", strerror(errno));
	close(master);
	close(slave);
}

static int queued(int fd)
{
	int count = -1;

	ioctl(fd, FIONREAD, &count);
	return count;
}

/* Waits (bounded) until the line discipline of fd holds `count` bytes. */
static void wait_queued(int fd, int count)
{
	for (int tries = 0; tries < 20000 && queued(fd) != count; tries++)
		poll(NULL, 0, 1);
	if (queued(fd) != count)
		state_setup_fail("fd %d holds %d bytes, not %d", fd, queued(fd), count);
}

static void write_exactly(int fd, const void *data, size_t length)
{
	if (write(fd, data, length) != (ssize_t)length)
		state_setup_fail("write on fd %d: %s", fd, strerror(errno));
}

static void build_a(void)
{
	struct winsize size = { .ws_row = 33, .ws_col = 111, .ws_xpixel = 7, .ws_ypixel = 9 };
	char buffer[OUTPUT_A];
	int on = 1;

	open_pair(MASTER_A, SLAVE_A, 0);
	tcgetattr(SLAVE_A, &termios_a);
	cfmakeraw(&termios_a);
	termios_a.c_cc[VINTR] = 0x07;
	termios_a.c_cc[VMIN] = 1;
	termios_a.c_cc[VTIME] = 3;
	cfsetspeed(&termios_a, B9600);
	if (tcsetattr(SLAVE_A, TCSANOW, &termios_a) < 0 || ioctl(MASTER_A, TIOCSWINSZ, &size) < 0 ||
	    ioctl(MASTER_A, TIOCPKT, &on) < 0)
		state_setup_fail("terminal settings: %s", strerror(errno));
	tcgetattr(SLAVE_A, &termios_a);
	state_fill(buffer, INPUT_A, 1);
	buffer[10] = 0x03;
	buffer[11] = 0x7f;
	buffer[12] = '\n';
	write_exactly(MASTER_A, buffer, INPUT_A);
	state_fill(buffer, OUTPUT_A, 2);
	write_exactly(SLAVE_A, buffer, OUTPUT_A);
	wait_queued(SLAVE_A, INPUT_A);
	wait_queued(MASTER_A, OUTPUT_A);
}

static void build_b(void)
{
	int on = 1;

	open_pair(MASTER_B, SLAVE_B, O_NONBLOCK);
	tcgetattr(SLAVE_B, &termios_b);
	termios_b.c_cc[VERASE] = 0x08;
	termios_b.c_cc[VKILL] = 0x19;
	if (tcsetattr(SLAVE_B, TCSANOW, &termios_b) < 0 || ioctl(MASTER_B, TIOCSPTLCK, &on) < 0 ||
	    ioctl(SLAVE_B, TIOCEXCL) < 0)
		state_setup_fail("terminal settings: %s", strerror(errno));
	tcgetattr(SLAVE_B, &termios_b);
	write_exactly(MASTER_B, lines_b, strlen(lines_b));
	wait_queued(MASTER_B, (int)strlen(echo_b));
}

static void expect_same_termios(int fd, const struct termios *saved)
{
	struct termios now;

	tcgetattr(fd, &now);
	state_expect(now.c_iflag == saved->c_iflag && now.c_oflag == saved->c_oflag &&
			     now.c_cflag == saved->c_cflag && now.c_lflag == saved->c_lflag,
		     "fd %d: termios flags %o %o %o %o, expected %o %o %o %o", fd, now.c_iflag,
		     now.c_oflag, now.c_cflag, now.c_lflag, saved->c_iflag, saved->c_oflag,
		     saved->c_cflag, saved->c_lflag);
	state_expect_equal_bytes(now.c_cc, saved->c_cc, sizeof(now.c_cc), "termios c_cc");
	state_expect(cfgetospeed(&now) == cfgetospeed(saved), "fd %d: speed changed", fd);
}

static int ioctl_value(int fd, unsigned long request)
{
	int value = -1;

	ioctl(fd, request, &value);
	return value;
}

/* Reads `length` bytes (one read of the master gives a packet header first when packet). */
static void expect_bytes(int fd, size_t length, uint64_t seed, bool packet, const char *what)
{
	char buffer[OUTPUT_A + 1];
	ssize_t got = read(fd, buffer, length + packet);

	if (!state_expect(got == (ssize_t)(length + packet), "%s: read gave %zd, expected %zu",
			  what, got, length + packet))
		return;
	state_expect(!packet || buffer[0] == 0, "%s: packet header %d", what, buffer[0]);
	state_expect_pattern(buffer + packet, length, seed, what);
}

static void check_a(void)
{
	struct winsize size = { 0 };
	char input[INPUT_A], expected[INPUT_A];

	expect_same_termios(SLAVE_A, &termios_a);
	ioctl(SLAVE_A, TIOCGWINSZ, &size);
	state_expect(size.ws_row == 33 && size.ws_col == 111 && size.ws_xpixel == 7 &&
			     size.ws_ypixel == 9,
		     "window size %dx%d (%d, %d)", size.ws_row, size.ws_col, size.ws_xpixel,
		     size.ws_ypixel);
	state_expect(ioctl_value(MASTER_A, TIOCGPKT) == 1, "pair A lost packet mode");
	state_expect(queued(SLAVE_A) == INPUT_A, "pair A: %d bytes of input, expected %d",
		     queued(SLAVE_A), INPUT_A);
	state_expect(read(SLAVE_A, input, sizeof(input)) == INPUT_A, "pair A: short read of input");
	state_fill(expected, INPUT_A, 1);
	expected[10] = 0x03;
	expected[11] = 0x7f;
	expected[12] = '\n';
	state_expect_equal_bytes(input, expected, INPUT_A, "pair A input");
	expect_bytes(MASTER_A, OUTPUT_A, 2, true, "pair A output");
	write_exactly(MASTER_A, "x", 1);
	state_expect(read(SLAVE_A, input, 1) == 1 && input[0] == 'x',
		     "pair A: no byte from the master");
	write_exactly(SLAVE_A, "y", 1);
	state_expect(read(MASTER_A, input, 2) == 2 && input[0] == 0 && input[1] == 'y',
		     "pair A: no byte from the slave");
}

static void expect_line(int fd, const char *line)
{
	char buffer[64] = { 0 };
	ssize_t got = read(fd, buffer, sizeof(buffer) - 1);

	state_expect(got == (ssize_t)strlen(line) && strcmp(buffer, line) == 0,
		     "pair B: read %zd \"%s\", expected \"%s\"", got, got > 0 ? buffer : "", line);
}

static void check_b(void)
{
	char buffer[64] = { 0 };
	char path[64];

	expect_same_termios(SLAVE_B, &termios_b);
	state_expect(ioctl_value(MASTER_B, TIOCGPTLCK) == 1, "pair B lost its lock");
	state_expect(ioctl_value(SLAVE_B, TIOCGEXCL) == 1, "pair B lost exclusive mode");
	state_expect((fcntl(SLAVE_B, F_GETFL) & O_NONBLOCK) != 0, "fd %d lost O_NONBLOCK", SLAVE_B);
	state_expect(ttyname_r(SLAVE_B, path, sizeof(path)) == 0 && strncmp(path, "/dev/pts/", 9) == 0,
		     "ttyname of fd %d: %s", SLAVE_B, path);
	state_expect(read(MASTER_B, buffer, sizeof(buffer) - 1) == (ssize_t)strlen(echo_b) &&
			     strcmp(buffer, echo_b) == 0,
		     "pair B: echo waiting at the master \"%s\"", buffer);
	expect_line(SLAVE_B, "line one\n");
	expect_line(SLAVE_B, "line two\n");
	state_expect(read(SLAVE_B, buffer, sizeof(buffer)) < 0 && errno == EAGAIN,
		     "pair B: the partial line was readable before its newline");
	write_exactly(MASTER_B, "!\n", 2);
	for (int tries = 0; tries < 20000 && queued(SLAVE_B) <= 0; tries++)
		poll(NULL, 0, 1);
	expect_line(SLAVE_B, "partial!\n");
}

int main(void)
{
	state_init();
	build_a();
	build_b();
	state_ready();
	state_wait_go_signal();
	check_a();
	check_b();
	state_finish();
}
