/*
 * The file mode creation mask: umask(027).  After restart umask() and the
 * Umask line of /proc/self/status report 027, and a new file created with
 * mode 0666 gets mode 0640.
 */
#include "state.h"

enum {
	CHOSEN_UMASK = 027
};

static char scratch_dir[256];

static void check_umask(void)
{
	mode_t mask = umask(CHOSEN_UMASK);
	char status[4096];
	char path[300];
	struct stat file_status;
	int fd;

	state_expect(mask == CHOSEN_UMASK, "umask is %04o, was %04o", (unsigned)mask,
		     (unsigned)CHOSEN_UMASK);
	state_read_file("/proc/self/status", status, sizeof(status));
	state_expect(strstr(status, "Umask:\t0027\n") != NULL, "/proc/self/status Umask differs");
	state_path_in(path, sizeof(path), scratch_dir, "masked");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0666);
	state_expect(fd >= 0 && fstat(fd, &file_status) == 0 && (file_status.st_mode & 07777) == 0640,
		     "new file has mode %04o, expected 0640",
		     (unsigned)(file_status.st_mode & 07777));
	close(fd);
	unlink(path);
}

int main(void)
{
	state_init();
	state_make_scratch_dir(scratch_dir, sizeof(scratch_dir));
	umask(CHOSEN_UMASK);
	state_ready();
	state_wait_go_signal();
	check_umask();
	rmdir(scratch_dir);
	state_finish();
}
