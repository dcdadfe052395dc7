/*
 * Thread-local storage: initialised (.tdata) and zero-initialised (.tbss)
 * __thread variables, a 4 KiB __thread buffer with a pattern, and errno set
 * to a chosen value.  The program waits by spinning in user space (a
 * syscall would overwrite errno).  After restart the fs base
 * (ARCH_GET_FS) and pthread_self() are the same and every TLS byte and
 * errno are intact.
 */
#include "state.h"

#include <asm/prctl.h>
#include <pthread.h>

enum {
	CHOSEN_ERRNO = 4242,
	TLS_BUFFER_BYTES = 4096
};

static __thread uint64_t initialised_counter = 0x1234567890abcdefULL;
static __thread uint64_t zeroed_counter;
static __thread unsigned char tls_buffer[TLS_BUFFER_BYTES];
static __thread void *self_pointer;

static unsigned long fs_base_before;
static pthread_t self_before;

static unsigned long fs_base(void)
{
	unsigned long base = 0;

	syscall(SYS_arch_prctl, ARCH_GET_FS, &base);
	return base;
}

static void build_tls(void)
{
	initialised_counter += 5;
	zeroed_counter = 0xfeedfacecafef00dULL;
	state_fill(tls_buffer, TLS_BUFFER_BYTES, 2024);
	self_pointer = &self_pointer;
	fs_base_before = fs_base();
	self_before = pthread_self();
}

static void unblock_go_signal(void)
{
	sigset_t go_set;

	sigemptyset(&go_set);
	sigaddset(&go_set, STATE_GO_SIGNAL);
	sigprocmask(SIG_UNBLOCK, &go_set, NULL);
}

static void spin_until_go(void)
{
	while (state_go_signal_count == 0)
		__builtin_ia32_pause();
}

int main(void)
{
	int errno_after;

	state_init();
	build_tls();
	unblock_go_signal();
	state_ready();
	errno = CHOSEN_ERRNO;
	spin_until_go();
	errno_after = errno;
	state_expect_equal_long(errno_after, CHOSEN_ERRNO, "errno");
	state_expect(fs_base() == fs_base_before, "fs base is %#lx, was %#lx", fs_base(),
		     fs_base_before);
	state_expect(pthread_equal(pthread_self(), self_before), "pthread_self() changed");
	state_expect(initialised_counter == 0x1234567890abcdefULL + 5,
		     "initialised __thread variable is %#llx",
		     (unsigned long long)initialised_counter);
	state_expect(zeroed_counter == 0xfeedfacecafef00dULL, "zeroed __thread variable is %#llx",
		     (unsigned long long)zeroed_counter);
	state_expect(self_pointer == &self_pointer, "__thread pointer to itself is %p, now at %p",
		     self_pointer, (void *)&self_pointer);
	state_expect_pattern(tls_buffer, TLS_BUFFER_BYTES, 2024, "__thread buffer");
	state_finish();
}
