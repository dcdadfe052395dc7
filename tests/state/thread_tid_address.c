/*
 * clear_child_tid: glibc points it (set_tid_address) at the thread's tid
 * field.  After restart prctl(PR_GET_TID_ADDRESS) gives the same address
 * and the word there still holds our tid.
 */
#include "state.h"

#include <sys/prctl.h>

static int *tid_address(void)
{
	int *address = NULL;

	if (prctl(PR_GET_TID_ADDRESS, &address, 0, 0, 0) != 0)
		state_expect(false, "prctl(PR_GET_TID_ADDRESS): %s", strerror(errno));
	return address;
}

int main(void)
{
	int *address_before;
	int *address_after;

	state_init();
	address_before = tid_address();
	if (address_before == NULL || *address_before != getpid())
		state_setup_fail("clear_child_tid is %p", (void *)address_before);
	state_ready();
	state_wait_go_signal();
	address_after = tid_address();
	state_expect(address_after == address_before, "clear_child_tid is %p, was %p",
		     (void *)address_after, (void *)address_before);
	if (address_after != NULL)
		state_expect_equal_long(*address_after, getpid(), "word at clear_child_tid");
	state_finish();
}
