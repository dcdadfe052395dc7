/*
 * Character devices: /dev/null (read-write), /dev/zero (read-only) and
 * /dev/urandom (read-only, O_NONBLOCK) at chosen fds 10, 11 and 12.  After
 * restart each fd has the same path, st_rdev and F_GETFL, and behaves like
 * its device: /dev/null takes writes and reads end of file, /dev/zero
 * reads zeros, /dev/urandom reads bytes that are not all the same.
 */
#include "state.h"

#include <sys/sysmacros.h>

enum {
	NULL_FD = 10,
	ZERO_FD = 11,
	URANDOM_FD = 12,
	DEVICE_COUNT = 3
};

struct device_fd {
	const char *path;
	int fd;
	int flags;
	dev_t device_number;
	int status_flags;
};

static struct device_fd devices[DEVICE_COUNT] = {
	{ "/dev/null", NULL_FD, O_RDWR, 0, 0 },
	{ "/dev/zero", ZERO_FD, O_RDONLY, 0, 0 },
	{ "/dev/urandom", URANDOM_FD, O_RDONLY | O_NONBLOCK, 0, 0 },
};

static void open_device(struct device_fd *device)
{
	struct stat status;
	int fd = open(device->path, device->flags);

	if (fd < 0 || dup2(fd, device->fd) != device->fd)
		state_setup_fail("open %s: %s", device->path, strerror(errno));
	close(fd);
	fstat(device->fd, &status);
	device->device_number = status.st_rdev;
	device->status_flags = fcntl(device->fd, F_GETFL);
}

static void check_device(const struct device_fd *device)
{
	struct stat status;
	char link[64];
	char path[64] = "";

	snprintf(link, sizeof(link), "/proc/self/fd/%d", device->fd);
	readlink(link, path, sizeof(path) - 1);
	state_expect_equal_text(path, device->path, "device fd path");
	fstat(device->fd, &status);
	state_expect(status.st_rdev == device->device_number, "%s: device %u:%u, was %u:%u",
		     device->path, major(status.st_rdev), minor(status.st_rdev),
		     major(device->device_number), minor(device->device_number));
	state_expect(fcntl(device->fd, F_GETFL) == device->status_flags,
		     "%s: F_GETFL is %#x, was %#x", device->path,
		     (unsigned)fcntl(device->fd, F_GETFL), (unsigned)device->status_flags);
}

static bool all_bytes_equal(const unsigned char *bytes, size_t length)
{
	for (size_t index = 1; index < length; index++) {
		if (bytes[index] != bytes[0])
			return false;
	}
	return true;
}

static void check_behaviour(void)
{
	unsigned char buffer[256];

	state_expect(write(NULL_FD, "discarded", 9) == 9, "write to /dev/null");
	state_expect(read(NULL_FD, buffer, sizeof(buffer)) == 0, "/dev/null read is not EOF");
	memset(buffer, 0xff, sizeof(buffer));
	state_expect(read(ZERO_FD, buffer, sizeof(buffer)) == (ssize_t)sizeof(buffer) &&
			     state_is_all_zero(buffer, sizeof(buffer)),
		     "/dev/zero does not read zeros");
	memset(buffer, 0, sizeof(buffer));
	state_expect(read(URANDOM_FD, buffer, sizeof(buffer)) == (ssize_t)sizeof(buffer) &&
			     !all_bytes_equal(buffer, sizeof(buffer)),
		     "/dev/urandom does not read random bytes");
}

int main(void)
{
	state_init();
	for (int index = 0; index < DEVICE_COUNT; index++)
		open_device(&devices[index]);
	state_ready();
	state_wait_go_signal();
	for (int index = 0; index < DEVICE_COUNT; index++)
		check_device(&devices[index]);
	check_behaviour();
	state_finish();
}
