/*
 * A process checkpointed in select() on its stdin pipe with a 30 s timeout
 * stays in select() after restart and wakes when "go" arrives on the new
 * stdin: select returns 1 with stdin readable and time left over.
 */
#include "state.h"

#include <sys/select.h>

enum {
	SELECT_TIMEOUT_SECONDS = 30
};

int main(void)
{
	struct timeval timeout = { .tv_sec = SELECT_TIMEOUT_SECONDS, .tv_usec = 0 };
	fd_set readable;
	int result;

	state_init();
	state_ignore_go_signal();
	FD_ZERO(&readable);
	FD_SET(STDIN_FILENO, &readable);
	state_ready();
	result = select(STDIN_FILENO + 1, &readable, NULL, NULL, &timeout);
	state_expect(result == 1, "select returned %d (%s)", result,
		     result < 0 ? strerror(errno) : "timeout or nothing ready");
	state_expect(FD_ISSET(STDIN_FILENO, &readable), "stdin not readable after select");
	state_expect(timeout.tv_sec > 0 || timeout.tv_usec > 0, "select used its whole timeout");
	state_expect(timeout.tv_sec < SELECT_TIMEOUT_SECONDS, "select left the whole timeout");
	state_expect(state_wait_go_line(), "stdin did not hold \"go\"");
	state_finish();
}
