/*
 * Per-process flags set with prctl(): no_new_privs, child subreaper,
 * timer slack, THP disable, dumpable cleared, keep-caps.  After restart
 * each reads back the same, including from /proc/self/status.
 */
#include "state.h"

#include <sys/prctl.h>

enum {
	CHOSEN_TIMER_SLACK_NS = 123456
};

struct prctl_values {
	int no_new_privs;
	int child_subreaper;
	long timer_slack;
	int thp_disable;
	int dumpable;
	int keep_caps;
	char status_no_new_privs[64];
};

static void read_values(struct prctl_values *values)
{
	char status[4096];
	const char *line;

	values->no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	values->child_subreaper = -1;
	prctl(PR_GET_CHILD_SUBREAPER, &values->child_subreaper, 0, 0, 0);
	values->timer_slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	values->thp_disable = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
	values->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	values->keep_caps = prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0);
	state_read_file("/proc/self/status", status, sizeof(status));
	line = strstr(status, "NoNewPrivs:");
	snprintf(values->status_no_new_privs, sizeof(values->status_no_new_privs), "%.*s",
		 line ? (int)strcspn(line, "\n") : 0, line ? line : "");
}

static void set_values(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_TIMERSLACK, CHOSEN_TIMER_SLACK_NS, 0, 0, 0) != 0 ||
	    prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 ||
	    prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
		state_setup_fail("prctl: %s", strerror(errno));
}

int main(void)
{
	struct prctl_values before;
	struct prctl_values after;

	state_init();
	set_values();
	read_values(&before);
	if (before.timer_slack != CHOSEN_TIMER_SLACK_NS || before.no_new_privs != 1)
		state_setup_fail("prctl values did not stick");
	state_ready();
	state_wait_go_signal();
	read_values(&after);
	state_expect_equal_long(after.no_new_privs, before.no_new_privs, "PR_GET_NO_NEW_PRIVS");
	state_expect_equal_long(after.child_subreaper, before.child_subreaper,
				"PR_GET_CHILD_SUBREAPER");
	state_expect_equal_long(after.timer_slack, before.timer_slack, "PR_GET_TIMERSLACK");
	state_expect_equal_long(after.thp_disable, before.thp_disable, "PR_GET_THP_DISABLE");
	state_expect_equal_long(after.dumpable, before.dumpable, "PR_GET_DUMPABLE");
	state_expect_equal_long(after.keep_caps, before.keep_caps, "PR_GET_KEEPCAPS");
	state_expect_equal_text(after.status_no_new_privs, before.status_no_new_privs,
				"NoNewPrivs in /proc/self/status");
	state_finish();
}
