/*
 * A process checkpointed while blocked in read() on its stdin pipe keeps
 * waiting after restart (on the new stdin) and reads exactly "go\n": one
 * read() call, no EINTR, no early end of file.  SIGUSR1 is ignored.
 */
#include "state.h"

int main(void)
{
	char buffer[64];
	ssize_t got;

	state_init();
	state_ignore_go_signal();
	state_ready();
	got = read(STDIN_FILENO, buffer, sizeof(buffer));
	state_expect(got >= 0, "read: %s", strerror(errno));
	state_expect(got == 3 && memcmp(buffer, "go\n", 3) == 0,
		     "read returned %zd bytes \"%.*s\", expected \"go\\n\"", got,
		     got > 0 ? (int)got : 0, buffer);
	state_finish();
}
