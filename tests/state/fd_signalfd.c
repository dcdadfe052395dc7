/*
 * signalfds: one for SIGUSR2 and SIGRTMIN+3 at fd 7 with a SIGUSR2 and two
 * queued SIGRTMIN+3 (values 11 and 22) pending and blocked, and an
 * O_NONBLOCK one for SIGWINCH at fd 8 with nothing pending.  After
 * restart: the masks (fdinfo), F_GETFL; the pending signals are read
 * through fd 7 (SIGUSR2, then SIGRTMIN+3 with 11 and 22), then fd 8 and
 * fd 7 have nothing more (EAGAIN through fd 8, poll says not readable).
 */
#include "state.h"

#include <poll.h>
#include <sys/signalfd.h>

enum {
	BOTH_FD = 7,
	WINCH_FD = 8
};

static uint64_t mask_bits(const sigset_t *set)
{
	uint64_t bits = 0;

	for (int signal_number = 1; signal_number <= 64; signal_number++) {
		if (sigismember(set, signal_number) == 1)
			bits |= 1ull << (signal_number - 1);
	}
	return bits;
}

static void make_signalfd(int wanted_fd, const sigset_t *set, int flags)
{
	int fd = signalfd(-1, set, flags);

	if (fd < 0 || dup2(fd, wanted_fd) != wanted_fd)
		state_setup_fail("signalfd at %d: %s", wanted_fd, strerror(errno));
	close(fd);
}

static void build(void)
{
	sigset_t both, winch;

	sigemptyset(&both);
	sigaddset(&both, SIGUSR2);
	sigaddset(&both, SIGRTMIN + 3);
	sigemptyset(&winch);
	sigaddset(&winch, SIGWINCH);
	sigprocmask(SIG_BLOCK, &both, NULL);
	sigprocmask(SIG_BLOCK, &winch, NULL);
	make_signalfd(BOTH_FD, &both, 0);
	make_signalfd(WINCH_FD, &winch, SFD_NONBLOCK);
	kill(getpid(), SIGUSR2);
	sigqueue(getpid(), SIGRTMIN + 3, (union sigval){ .sival_int = 11 });
	sigqueue(getpid(), SIGRTMIN + 3, (union sigval){ .sival_int = 22 });
}

static void expect_mask(int fd, uint64_t bits)
{
	char path[64], text[1024], line[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	snprintf(line, sizeof(line), "sigmask:\t%016llx", (unsigned long long)bits);
	state_read_file(path, text, sizeof(text));
	state_expect(strstr(text, line) != NULL, "fd %d: fdinfo lacks \"%s\": %s", fd, line, text);
}

static void expect_signal(int signal_number, int value)
{
	struct signalfd_siginfo info = { 0 };
	ssize_t got = read(BOTH_FD, &info, sizeof(info));

	state_expect(got == sizeof(info) && (int)info.ssi_signo == signal_number &&
			     (value == 0 || info.ssi_int == value),
		     "read signalfd: %zd bytes, signal %u value %d, expected %d value %d", got,
		     info.ssi_signo, info.ssi_int, signal_number, value);
}

static void check(void)
{
	sigset_t both, winch;
	struct pollfd wanted = { .fd = BOTH_FD, .events = POLLIN };
	struct signalfd_siginfo info;

	sigemptyset(&both);
	sigaddset(&both, SIGUSR2);
	sigaddset(&both, SIGRTMIN + 3);
	sigemptyset(&winch);
	sigaddset(&winch, SIGWINCH);
	expect_mask(BOTH_FD, mask_bits(&both));
	expect_mask(WINCH_FD, mask_bits(&winch));
	state_expect((fcntl(WINCH_FD, F_GETFL) & O_NONBLOCK) != 0, "fd %d lost O_NONBLOCK", WINCH_FD);
	state_expect((fcntl(BOTH_FD, F_GETFL) & O_NONBLOCK) == 0, "fd %d gained O_NONBLOCK", BOTH_FD);
	expect_signal(SIGUSR2, 0);
	expect_signal(SIGRTMIN + 3, 11);
	expect_signal(SIGRTMIN + 3, 22);
	state_expect(read(WINCH_FD, &info, sizeof(info)) < 0 && errno == EAGAIN, "fd %d: a signal",
		     WINCH_FD);
	state_expect(poll(&wanted, 1, 0) == 0, "fd %d still readable", BOTH_FD);
}

int main(void)
{
	state_init();
	build();
	state_ready();
	state_wait_go_signal();
	check();
	state_finish();
}
