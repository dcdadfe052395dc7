/*
 * The execution domain: personality(UNAME26 | ADDR_NO_RANDOMIZE |
 * ADDR_COMPAT_LAYOUT).  After restart personality(0xffffffff) reports the
 * same value and uname() still answers with a 2.6 release (the effect of
 * UNAME26).
 */
#include "state.h"

#include <sys/personality.h>
#include <sys/utsname.h>

enum {
	CHOSEN_PERSONALITY = PER_LINUX | UNAME26 | ADDR_NO_RANDOMIZE | ADDR_COMPAT_LAYOUT
};

int main(void)
{
	struct utsname names;
	int persona_before;
	int persona_after;

	state_init();
	if (personality(CHOSEN_PERSONALITY) < 0)
		state_setup_fail("personality: %s", strerror(errno));
	persona_before = personality(0xffffffff);
	uname(&names);
	if (persona_before != CHOSEN_PERSONALITY || strncmp(names.release, "2.6.", 4) != 0)
		state_setup_fail("personality %#x, release %s", (unsigned)persona_before,
				 names.release);
	state_ready();
	state_wait_go_signal();
	persona_after = personality(0xffffffff);
	state_expect(persona_after == persona_before, "personality is %#x, was %#x",
		     (unsigned)persona_after, (unsigned)persona_before);
	uname(&names);
	state_expect(strncmp(names.release, "2.6.", 4) == 0, "uname release is %s, UNAME26 lost",
		     names.release);
	state_finish();
}
