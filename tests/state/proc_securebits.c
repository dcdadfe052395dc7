/*
 * Securebits with a change of uid: as root the program sets NOROOT,
 * NO_SETUID_FIXUP (both locked), KEEP_CAPS and NO_CAP_AMBIENT_RAISE, then
 * becomes uid 1000 keeping its capabilities (no fixup) and drops
 * CAP_SETPCAP and CAP_SYS_ADMIN.  After restart: the same securebits,
 * keep-caps, uids and capability sets, and the bits still act: an ambient
 * raise and any change of securebits are refused with EPERM.
 */
#include "state.h"

#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>

enum {
	CHOSEN_SECUREBITS = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
			    SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS |
			    SECBIT_NO_CAP_AMBIENT_RAISE,
};

struct securebits_state {
	int securebits;
	int keep_caps;
	uid_t uids[3];
	struct __user_cap_data_struct capabilities[2];
};

static void read_state(struct securebits_state *state)
{
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };

	memset(state, 0, sizeof(*state));
	state->securebits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	state->keep_caps = prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0);
	getresuid(&state->uids[0], &state->uids[1], &state->uids[2]);
	syscall(SYS_capget, &header, state->capabilities);
}

static void drop_capabilities(void)
{
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct sets[2];

	if (syscall(SYS_capget, &header, sets) != 0)
		state_setup_fail("capget: %s", strerror(errno));
	sets[0].effective &= ~(1u << CAP_SETPCAP | 1u << CAP_SYS_ADMIN);
	sets[0].permitted &= ~(1u << CAP_SETPCAP | 1u << CAP_SYS_ADMIN);
	if (syscall(SYS_capset, &header, sets) != 0)
		state_setup_fail("capset: %s", strerror(errno));
}

static void build_state(void)
{
	if (getuid() != 0)
		state_skip("needs root to set securebits");
	if (prctl(PR_SET_SECUREBITS, CHOSEN_SECUREBITS, 0, 0, 0) != 0)
		state_setup_fail("PR_SET_SECUREBITS: %s", strerror(errno));
	if (setresuid(1000, 1000, 1000) != 0)
		state_setup_fail("setresuid: %s", strerror(errno));
	drop_capabilities();
}

static void check_bits_still_act(void)
{
	int raised = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_CHOWN, 0, 0);
	int raise_error = errno;
	int changed = prctl(PR_SET_SECUREBITS, 0, 0, 0, 0);

	state_expect(raised == -1 && raise_error == EPERM,
		     "PR_CAP_AMBIENT_RAISE returned %d (%s), expected EPERM", raised,
		     strerror(raise_error));
	state_expect(changed == -1 && errno == EPERM,
		     "PR_SET_SECUREBITS(0) returned %d (%s), expected EPERM", changed,
		     strerror(errno));
}

int main(void)
{
	struct securebits_state before;
	struct securebits_state after;

	state_init();
	build_state();
	read_state(&before);
	if (before.securebits != CHOSEN_SECUREBITS || before.uids[0] != 1000)
		state_setup_fail("securebits %#x, uid %u", before.securebits, before.uids[0]);
	state_ready();
	state_wait_go_signal();
	read_state(&after);
	state_expect(after.securebits == before.securebits, "securebits %#x, was %#x",
		     after.securebits, before.securebits);
	state_expect_equal_long(after.keep_caps, before.keep_caps, "PR_GET_KEEPCAPS");
	state_expect_equal_bytes(after.uids, before.uids, sizeof(after.uids), "res uids");
	state_expect_equal_bytes(after.capabilities, before.capabilities,
				 sizeof(after.capabilities), "capability sets");
	check_bits_still_act();
	state_finish();
}
