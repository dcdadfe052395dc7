/*
 * Credentials: the program (started as root) sets supplementary groups,
 * then drops to distinct real/effective/saved ids: setresgid(1000, 1001,
 * 1002) and setresuid(1000, 1001, 1002).  After restart getresuid(),
 * getresgid(), the file-system ids, getgroups(), the capability sets and
 * the dumpable flag are the same.
 */
#include "state.h"

#include <grp.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>

enum {
	GROUPS_MAX = 64
};

struct credentials {
	uid_t uids[3];
	gid_t gids[3];
	uid_t fs_uid;
	gid_t fs_gid;
	int group_count;
	gid_t groups[GROUPS_MAX];
	struct __user_cap_data_struct capabilities[2];
	int dumpable;
};

static void read_credentials(struct credentials *credentials)
{
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };

	memset(credentials, 0, sizeof(*credentials));
	getresuid(&credentials->uids[0], &credentials->uids[1], &credentials->uids[2]);
	getresgid(&credentials->gids[0], &credentials->gids[1], &credentials->gids[2]);
	credentials->fs_uid = (uid_t)setfsuid((uid_t)-1);
	credentials->fs_gid = (gid_t)setfsgid((gid_t)-1);
	credentials->group_count = getgroups(GROUPS_MAX, credentials->groups);
	syscall(SYS_capget, &header, credentials->capabilities);
	credentials->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
}

static void drop_privileges(void)
{
	static const gid_t groups[] = { 1000, 1001, 24, 27, 4000 };

	if (getuid() != 0)
		state_skip("needs root to change credentials");
	if (setgroups(sizeof(groups) / sizeof(groups[0]), groups) != 0 ||
	    setresgid(1000, 1001, 1002) != 0 || setresuid(1000, 1001, 1002) != 0)
		state_setup_fail("changing credentials: %s", strerror(errno));
}

static void compare_ids(const struct credentials *now, const struct credentials *then)
{
	static const char *const which[3] = { "real", "effective", "saved" };

	for (int index = 0; index < 3; index++) {
		state_expect(now->uids[index] == then->uids[index], "%s uid is %u, was %u",
			     which[index], now->uids[index], then->uids[index]);
		state_expect(now->gids[index] == then->gids[index], "%s gid is %u, was %u",
			     which[index], now->gids[index], then->gids[index]);
	}
	state_expect(now->fs_uid == then->fs_uid, "fsuid is %u, was %u", now->fs_uid, then->fs_uid);
	state_expect(now->fs_gid == then->fs_gid, "fsgid is %u, was %u", now->fs_gid, then->fs_gid);
}

static void compare_groups_and_capabilities(const struct credentials *now,
					    const struct credentials *then)
{
	state_expect_equal_long(now->group_count, then->group_count, "number of groups");
	state_expect_equal_bytes(now->groups, then->groups, sizeof(now->groups),
				 "supplementary groups");
	state_expect_equal_bytes(now->capabilities, then->capabilities, sizeof(now->capabilities),
				 "capability sets");
	state_expect_equal_long(now->dumpable, then->dumpable, "PR_GET_DUMPABLE");
}

int main(void)
{
	struct credentials before;
	struct credentials after;

	state_init();
	drop_privileges();
	read_credentials(&before);
	state_ready();
	state_wait_go_signal();
	read_credentials(&after);
	compare_ids(&after, &before);
	compare_groups_and_capabilities(&after, &before);
	state_finish();
}
