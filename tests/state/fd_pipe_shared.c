/*
 * A jobserver-like pipe (make -j): its read end at fd 10 and write end at
 * fd 11, shared by the root and two children through fork, with three
 * tokens "abc" in flight.  After restart each child takes a token and puts
 * it back with a mark of its own ("x" or "y"); the root, once both
 * children have passed, finds exactly "abcxy" (in any order) in the pipe:
 * one pipe shared by the three processes, the tokens neither lost nor
 * doubled.
 */
#include "state.h"

#include <stdlib.h>

enum {
	TOKEN_READ = 10,
	TOKEN_WRITE = 11
};

#include "tree.h"

static int compare_bytes(const void *a, const void *b)
{
	return *(const unsigned char *)a - *(const unsigned char *)b;
}

static void make_jobserver(void)
{
	int ends[2];

	if (pipe(ends) < 0)
		state_setup_fail("pipe: %s", strerror(errno));
	if (dup2(ends[0], TOKEN_READ) != TOKEN_READ || dup2(ends[1], TOKEN_WRITE) != TOKEN_WRITE)
		state_setup_fail("dup2: %s", strerror(errno));
	close(ends[0]);
	close(ends[1]);
	fcntl(TOKEN_READ, F_SETFL, O_NONBLOCK);
	state_write_all(TOKEN_WRITE, "abc", 3);
}

__attribute__((noreturn)) static void run_child(char mark)
{
	char token = 0;

	tree_report_ready();
	state_wait_go_signal();
	state_expect(read(TOKEN_READ, &token, 1) == 1, "child %c: no token: %s", mark,
		     strerror(errno));
	state_expect(token >= 'a' && token <= 'c', "child %c: token '%c'", mark, token);
	state_expect(write(TOKEN_WRITE, &token, 1) == 1 && write(TOKEN_WRITE, &mark, 1) == 1,
		     "child %c: putting the token back: %s", mark, strerror(errno));
	tree_child_finish(STATE_EXIT_PASS);
}

static void expect_tokens(void)
{
	char got[16] = { 0 };
	ssize_t length = read(TOKEN_READ, got, sizeof(got) - 1);

	state_expect(length == 5, "the pipe held %zd bytes, expected 5", length);
	if (length > 0)
		qsort(got, (size_t)length, 1, compare_bytes);
	state_expect_equal_text(got, "abcxy", "tokens in the pipe");
}

int main(void)
{
	pid_t children[2];

	tree_init();
	make_jobserver();
	for (int i = 0; i < 2; i++) {
		children[i] = tree_fork();
		if (children[i] == 0)
			run_child(i == 0 ? 'x' : 'y');
		tree_wait_ready(children[i]);
	}
	state_ready();
	state_wait_go_signal();
	for (int i = 0; i < 2; i++) {
		state_expect(kill(children[i], STATE_GO_SIGNAL) == 0, "kill: %s", strerror(errno));
		tree_expect_child_exit(children[i], STATE_EXIT_PASS, i == 0 ? "child x" : "child y");
	}
	expect_tokens();
	state_finish();
}
