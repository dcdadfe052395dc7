/*
 * Helpers shared by the state programs (the C files in tests/state/).
 *
 * A state program builds some process state, says "ready", waits to be
 * checkpointed and restarted (or checkpointed and left running), then checks
 * that every bit of that state is still there and says "pass" or
 * "fail: <what differs>".  tests/README.md describes the protocol.
 *
 * Everything here is static inline so that each program can include it
 * under -Wmissing-prototypes.  Output goes through write(2) on fd 1, never
 * through stdio buffers.
 */
#ifndef CKPT_TESTS_STATE_H
#define CKPT_TESTS_STATE_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum state_exit_status {
	STATE_EXIT_PASS = 0,
	STATE_EXIT_FAIL = 1,
	STATE_EXIT_SKIP = 77,
};

enum {
	STATE_MESSAGE_MAX = 480,
	STATE_PAGE_SIZE = 4096,
	STATE_GO_SIGNAL = SIGUSR1,
};

/* What the checks found so far: the first difference is what gets reported. */
struct state_findings {
	pid_t pid_at_start;
	pid_t tid_at_start;
	unsigned long failure_count;
	char first_failure[STATE_MESSAGE_MAX];
};

static struct state_findings state_findings;
static volatile sig_atomic_t state_go_signal_count;

/* ---- Output ---------------------------------------------------------- */

static inline void state_write_all(int fd, const char *text, size_t length)
{
	while (length > 0) {
		ssize_t written = write(fd, text, length);

		if (written < 0 && errno == EINTR)
			continue;
		if (written <= 0)
			_exit(STATE_EXIT_FAIL);
		text += written;
		length -= (size_t)written;
	}
}

static inline void state_say(const char *line)
{
	state_write_all(STDOUT_FILENO, line, strlen(line));
}

__attribute__((noreturn, format(printf, 3, 0))) static inline void
state_say_and_exit(int status, const char *prefix, const char *format, va_list arguments)
{
	char line[STATE_MESSAGE_MAX + 32];
	size_t used = (size_t)snprintf(line, sizeof(line), "%s", prefix);

	vsnprintf(line + used, sizeof(line) - used - 1, format, arguments);
	strcat(line, "\n");
	state_say(line);
	exit(status);
}

/* The state could not even be built: say so instead of "ready". */
__attribute__((noreturn, format(printf, 1, 2))) static inline void
state_setup_fail(const char *format, ...)
{
	va_list arguments;

	va_start(arguments, format);
	state_say_and_exit(STATE_EXIT_FAIL, "fail: setup: ", format, arguments);
}

/* This machine lacks something the program needs: say "skip" instead of "ready". */
__attribute__((noreturn, format(printf, 1, 2))) static inline void state_skip(const char *format, ...)
{
	va_list arguments;

	va_start(arguments, format);
	state_say_and_exit(STATE_EXIT_SKIP, "skip: ", format, arguments);
}

/* ---- Checks ---------------------------------------------------------- */

/* Records a failed check; returns ok so callers can stop early if they need to. */
__attribute__((format(printf, 2, 3))) static inline bool state_expect(bool ok, const char *format, ...)
{
	va_list arguments;

	if (ok)
		return true;
	state_findings.failure_count++;
	if (state_findings.failure_count > 1)
		return false;
	va_start(arguments, format);
	vsnprintf(state_findings.first_failure, sizeof(state_findings.first_failure), format,
		  arguments);
	va_end(arguments);
	return false;
}

static inline bool state_expect_equal_long(long long actual, long long expected, const char *what)
{
	return state_expect(actual == expected, "%s is %lld, was %lld", what, actual, expected);
}

static inline bool state_expect_equal_text(const char *actual, const char *expected, const char *what)
{
	return state_expect(strcmp(actual, expected) == 0, "%s is \"%.160s\", was \"%.160s\"", what,
			    actual, expected);
}

static inline bool state_expect_equal_bytes(const void *actual, const void *expected, size_t length,
					    const char *what)
{
	const unsigned char *now = actual;
	const unsigned char *before = expected;

	for (size_t offset = 0; offset < length; offset++) {
		if (now[offset] != before[offset])
			return state_expect(false, "%s differs at byte %zu (0x%02x, was 0x%02x)",
					    what, offset, now[offset], before[offset]);
	}
	return true;
}

static inline void state_check_identity(void)
{
	state_expect_equal_long(getpid(), state_findings.pid_at_start, "getpid()");
	state_expect_equal_long(syscall(SYS_gettid), state_findings.tid_at_start, "gettid()");
}

/* Says "pass" or "fail: <first difference>" and exits 0 or 1. */
__attribute__((noreturn)) static inline void state_finish(void)
{
	char line[STATE_MESSAGE_MAX + 64];

	state_check_identity();
	if (state_findings.failure_count == 0) {
		state_say("pass\n");
		exit(STATE_EXIT_PASS);
	}
	if (state_findings.failure_count == 1)
		snprintf(line, sizeof(line), "fail: %s\n", state_findings.first_failure);
	else
		snprintf(line, sizeof(line), "fail: %s (and %lu more)\n",
			 state_findings.first_failure, state_findings.failure_count - 1);
	state_say(line);
	exit(STATE_EXIT_FAIL);
}

/* ---- The protocol ----------------------------------------------------- */

static inline void state_on_go_signal(int signal_number)
{
	(void)signal_number;
	state_go_signal_count++;
}

/*
 * Call first.  Installs the SIGUSR1 handler and blocks SIGUSR1 so that a
 * signal sent early stays pending until state_wait_go_signal().
 */
static inline void state_init(void)
{
	struct sigaction action;
	sigset_t go_set;

	state_findings.pid_at_start = getpid();
	state_findings.tid_at_start = (pid_t)syscall(SYS_gettid);
	memset(&action, 0, sizeof(action));
	action.sa_handler = state_on_go_signal;
	sigemptyset(&action.sa_mask);
	if (sigaction(STATE_GO_SIGNAL, &action, NULL) != 0)
		state_setup_fail("sigaction(SIGUSR1): %s", strerror(errno));
	sigemptyset(&go_set);
	sigaddset(&go_set, STATE_GO_SIGNAL);
	if (sigprocmask(SIG_BLOCK, &go_set, NULL) != 0)
		state_setup_fail("sigprocmask: %s", strerror(errno));
}

/* For programs that wait on something else: SIGUSR1 must not interrupt them. */
static inline void state_ignore_go_signal(void)
{
	if (signal(STATE_GO_SIGNAL, SIG_IGN) == SIG_ERR)
		state_setup_fail("signal(SIGUSR1, SIG_IGN): %s", strerror(errno));
}

static inline void state_ready(void)
{
	state_say("ready\n");
}

/* Sleeps in sigsuspend() until SIGUSR1 has been handled. */
static inline void state_wait_go_signal(void)
{
	sigset_t wait_mask;

	sigprocmask(SIG_SETMASK, NULL, &wait_mask);
	sigdelset(&wait_mask, STATE_GO_SIGNAL);
	while (state_go_signal_count == 0)
		sigsuspend(&wait_mask);
}

/*
 * Reads one line from fd 0.  True when it is "go"; end of file counts as go
 * too (restart from a pipe gives the program a stdin at end of file).
 */
static inline bool state_wait_go_line(void)
{
	char line[16];
	size_t used = 0;

	while (used < sizeof(line) - 1) {
		ssize_t got = read(STDIN_FILENO, line + used, 1);

		if (got < 0 && errno == EINTR)
			continue;
		if (got == 0)
			return used == 0;
		if (got < 0 || line[used] == '\n')
			break;
		used++;
	}
	line[used] = '\0';
	return strcmp(line, "go") == 0;
}

/* ---- Memory patterns -------------------------------------------------- */

static inline uint64_t state_mix64(uint64_t value)
{
	value += 0x9e3779b97f4a7c15ULL;
	value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ULL;
	value = (value ^ (value >> 27)) * 0x94d049bb133111ebULL;
	return value ^ (value >> 31);
}

static inline unsigned char state_pattern_byte(uint64_t seed, size_t offset)
{
	uint64_t word = state_mix64(seed + offset / 8);

	return (unsigned char)(word >> (8 * (offset % 8)));
}

/* Fills buffer with bytes that depend on seed and position (never all zero). */
static inline void state_fill(void *buffer, size_t length, uint64_t seed)
{
	unsigned char *bytes = buffer;

	for (size_t offset = 0; offset < length; offset++)
		bytes[offset] = state_pattern_byte(seed, offset);
}

/* Offset of the first byte that is not the pattern, or -1 when all match. */
static inline long long state_find_mismatch(const void *buffer, size_t length, uint64_t seed)
{
	const unsigned char *bytes = buffer;

	for (size_t offset = 0; offset < length; offset++) {
		if (bytes[offset] != state_pattern_byte(seed, offset))
			return (long long)offset;
	}
	return -1;
}

static inline bool state_expect_pattern(const void *buffer, size_t length, uint64_t seed,
					const char *what)
{
	long long mismatch = state_find_mismatch(buffer, length, seed);

	return state_expect(mismatch < 0, "%s differs from its pattern at byte %lld", what, mismatch);
}

static inline bool state_is_all_zero(const void *buffer, size_t length)
{
	const unsigned char *bytes = buffer;

	for (size_t offset = 0; offset < length; offset++) {
		if (bytes[offset] != 0)
			return false;
	}
	return true;
}

static volatile unsigned char state_read_sink;

/* Reads one byte so that its page gets mapped (maps the zero page if untouched). */
static inline void state_touch_read(const volatile unsigned char *address)
{
	state_read_sink = *address;
}

/* FNV-1a, 64 bit: a checksum of memory taken before and compared after. */
static inline uint64_t state_hash(const void *buffer, size_t length)
{
	const unsigned char *bytes = buffer;
	uint64_t hash = 0xcbf29ce484222325ULL;

	for (size_t offset = 0; offset < length; offset++) {
		hash ^= bytes[offset];
		hash *= 0x100000001b3ULL;
	}
	return hash;
}

/* ---- Files and /proc --------------------------------------------------- */

/* Reads a whole (small) file into buffer, NUL-terminated; length or -1. */
static inline long state_read_file(const char *path, char *buffer, size_t capacity)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t used = 0;

	if (fd < 0)
		return -1;
	while (used < capacity - 1) {
		ssize_t got = read(fd, buffer + used, capacity - 1 - used);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		used += (size_t)got;
	}
	close(fd);
	buffer[used] = '\0';
	return (long)used;
}

static inline void state_write_file(const char *path, const void *data, size_t length)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		state_setup_fail("create %s: %s", path, strerror(errno));
	state_write_all(fd, data, length);
	close(fd);
}

static inline void state_append_text(char *out, size_t capacity, const char *text, size_t length)
{
	size_t used = strlen(out);

	if (used + length >= capacity)
		length = capacity - used - 1;
	memcpy(out + used, text, length);
	out[used + length] = '\0';
}

/* Copies the /proc/self/maps lines that overlap [start, end) into out. */
static inline void state_maps_lines_in(uintptr_t start, uintptr_t end, char *out, size_t capacity)
{
	static char maps[1 << 17];
	char *line = maps;

	out[0] = '\0';
	if (state_read_file("/proc/self/maps", maps, sizeof(maps)) < 0)
		return;
	while (*line != '\0') {
		char *line_end = strchr(line, '\n');
		size_t length = line_end ? (size_t)(line_end - line) + 1 : strlen(line);
		unsigned long line_start = 0;
		unsigned long line_stop = 0;

		sscanf(line, "%lx-%lx", &line_start, &line_stop);
		if (line_start < end && line_stop > start)
			state_append_text(out, capacity, line, length);
		line += length;
	}
}

/* The maps line without its inode field, appended to out. */
static inline void state_append_without_inode(char *out, size_t capacity, const char *line,
					      size_t length)
{
	const char *inode = line;
	const char *name;

	for (int field = 0; field < 4 && inode; field++) {
		inode = memchr(inode, ' ', length - (size_t)(inode - line));
		if (inode)
			inode++;
	}
	if (!inode) {
		state_append_text(out, capacity, line, length);
		return;
	}
	name = inode + strspn(inode, "0123456789");
	name += strspn(name, " ");
	state_append_text(out, capacity, line, (size_t)(inode - line));
	state_append_text(out, capacity, name, length - (size_t)(name - line));
}

/* Drops the inode field of each maps line: a restored shmem object has a new one. */
static inline void state_maps_drop_inodes(char *lines, size_t capacity)
{
	char kept[2048] = "";
	const char *line = lines;

	while (*line != '\0') {
		const char *line_end = strchr(line, '\n');
		size_t length = line_end ? (size_t)(line_end - line) + 1 : strlen(line);

		state_append_without_inode(kept, sizeof(kept), line, length);
		line += length;
	}
	snprintf(lines, capacity, "%s", kept);
}

/* Copies the /proc/self/maps line whose path is name (e.g. "[vdso]"). */
static inline bool state_maps_line_named(const char *name, char *out, size_t capacity)
{
	static char maps[1 << 17];
	char *line = maps;
	size_t name_length = strlen(name);

	out[0] = '\0';
	if (state_read_file("/proc/self/maps", maps, sizeof(maps)) < 0)
		return false;
	while (*line != '\0') {
		char *line_end = strchr(line, '\n');
		size_t length = line_end ? (size_t)(line_end - line) : strlen(line);

		if (length >= name_length &&
		    memcmp(line + length - name_length, name, name_length) == 0 &&
		    line[length - name_length - 1] == ' ') {
			state_append_text(out, capacity, line, length);
			return true;
		}
		line += line_end ? length + 1 : length;
	}
	return false;
}

/* Makes a fresh directory under $TMPDIR (or /tmp); path goes to out. */
static inline void state_make_scratch_dir(char *out, size_t capacity)
{
	const char *parent = getenv("TMPDIR");

	if (parent == NULL || parent[0] == '\0')
		parent = "/tmp";
	snprintf(out, capacity, "%s/ckpt-state-XXXXXX", parent);
	if (mkdtemp(out) == NULL)
		state_setup_fail("mkdtemp in %s: %s", parent, strerror(errno));
}

static inline void state_path_in(char *out, size_t capacity, const char *directory, const char *name)
{
	snprintf(out, capacity, "%s/%s", directory, name);
}

/* ---- Time ------------------------------------------------------------- */

static inline int64_t state_now_ns(clockid_t clock)
{
	struct timespec now;

	clock_gettime(clock, &now);
	return (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
}

/*
 * The sleep programs: a sleep of STATE_SLEEP_SECONDS started right after
 * "ready" must end no earlier than its deadline and without EINTR, even
 * though the program was checkpointed (and maybe restarted) in the middle.
 * They ignore SIGUSR1 so that only the sleep decides when it ends, then
 * wait for "go" on stdin so that their answer comes after the harness has
 * finished restarting them.
 */
enum {
	STATE_SLEEP_SECONDS = 3
};

#define STATE_SLEEP_NS ((int64_t)STATE_SLEEP_SECONDS * 1000000000LL)

static inline void state_check_sleep_result(int result, int error, int64_t deadline_ns,
					    clockid_t clock, const char *call)
{
	int64_t woke_ns = state_now_ns(clock);

	state_expect(result == 0, "%s returned %d (%s)", call, result, strerror(error));
	state_expect(woke_ns >= deadline_ns, "%s ended %lld ns before its deadline", call,
		     (long long)(deadline_ns - woke_ns));
	state_expect(state_wait_go_line(), "no \"go\" on stdin after the sleep");
}

/* ---- Faults ----------------------------------------------------------- */

static sigjmp_buf state_fault_return;

static inline void state_on_fault(int signal_number)
{
	siglongjmp(state_fault_return, signal_number);
}

/*
 * Touches one byte at address (reads it, or writes back what is there) and
 * tells whether that raised SIGSEGV or SIGBUS.
 */
static inline bool state_access_faults(volatile unsigned char *address, bool write_access)
{
	struct sigaction catch_fault;
	struct sigaction old_segv;
	struct sigaction old_bus;
	bool faulted = false;

	memset(&catch_fault, 0, sizeof(catch_fault));
	catch_fault.sa_handler = state_on_fault;
	sigemptyset(&catch_fault.sa_mask);
	catch_fault.sa_flags = SA_NODEFER;
	sigaction(SIGSEGV, &catch_fault, &old_segv);
	sigaction(SIGBUS, &catch_fault, &old_bus);
	if (sigsetjmp(state_fault_return, 1) == 0) {
		unsigned char value = *address;

		if (write_access)
			*address = value;
	} else {
		faulted = true;
	}
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return faulted;
}

#endif /* CKPT_TESTS_STATE_H */
