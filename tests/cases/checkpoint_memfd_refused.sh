# memfd states ckpt cannot save yet: data that no mapping shows, a second
# open file description of one memfd, a memfd held only read-only, and a
# private (copy-on-write) mapping of a memfd.  Each checkpoint must refuse
# with one line naming the memfd, exit 1, write nothing, and leave the
# process running with its memfd intact (it checks its data afterwards).
source "$(dirname "$0")/lib.bash"

need_file "$CKPT"
program=$case_dir/memfd_holder
cat >"$case_dir/memfd_holder.c" <<'EOF'
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { LENGTH = 8192 };

static char data[LENGTH];

/* Builds the state named by how; returns the fd the data can be read from. */
static int build(const char *how, int memfd)
{
	char path[64];
	int other;

	if (write(memfd, data, LENGTH) != LENGTH)
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	if (strcmp(how, "unmapped") == 0)
		return memfd;
	if (strcmp(how, "private") == 0)
		return mmap(NULL, LENGTH, PROT_READ, MAP_PRIVATE, memfd, 0) == MAP_FAILED ? -1 : memfd;
	if (mmap(NULL, LENGTH, PROT_READ, MAP_SHARED, memfd, 0) == MAP_FAILED)
		return -1;
	other = open(path, strcmp(how, "second") == 0 ? O_RDWR : O_RDONLY);
	if (strcmp(how, "readonly") == 0)
		close(memfd);
	return other;
}

int main(int argc, char **argv)
{
	char line[16], now[LENGTH];
	int memfd = memfd_create("ckpt-refused", 0), readable;

	for (int i = 0; i < LENGTH; i++)
		data[i] = (char)(i * 7 + 3);
	readable = argc > 1 && memfd >= 0 ? build(argv[1], memfd) : -1;
	if (readable < 0) {
		printf("fail: setup: %m\n");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "go\n") != 0)
		return 1;
	if (pread(readable, now, LENGTH, 0) != LENGTH || memcmp(now, data, LENGTH) != 0)
		printf("fail: the memfd's data changed\n");
	else
		printf("pass\n");
	return 0;
}
EOF
cc -O1 -o "$program" "$case_dir/memfd_holder.c" || fail "cannot build the memfd program"

# $1: the state to build, $2: words the error must contain; the message
# must also name the memfd.
expect_refused() {
	local how=$1

	expect_checkpoint_refused memfd "$@"
	grep -q "ckpt-refused" "$case_dir/stderr" ||
		fail "$how: the message does not name the memfd: $(head -1 "$case_dir/stderr")"
}

expect_refused unmapped "holds data at offset 0 that no mapping shows"
expect_refused second "second open file description"
expect_refused readonly "only read-write memfd fds"
expect_refused private "private (copy-on-write) mapping of a memfd"
exit 0
