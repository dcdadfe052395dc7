/*
 * The target of the reliability cases: a process that holds state, answers
 * "check" as often as asked, and says whether every bit of it is intact.
 *
 *   rel_target [--mib N] [--threads N] [--file PATH | --append-file PATH] [--sharer]
 *              [--socketpair 1] [--children N]
 *
 * State: N MiB (default 4) of anonymous memory filled with a pattern (one
 * 64-bit word per index), 32 malloc blocks with patterns, N worker threads
 * (default 1) each keeping a pattern on its own stack and waiting on a
 * semaphore, and with --file, PATH created with known bytes and kept open
 * twice: O_RDWR at an offset and O_WRONLY|O_APPEND (with --append-file, only
 * the second).  After setup the program never writes PATH again (the cases
 * check that restart does not either).  An eventfd holding 42, watched by
 * an epoll (so the walk passes the event-file steps), stays untouched, and
 * with --socketpair 1 so does a unix socketpair with "queued" waiting at one
 * end (the socket steps; valgrind knows no pidfd_getfd, so not always).
 * With --sharer, a child made with
 * clone(CLONE_VM | CLONE_FILES | CLONE_FS | CLONE_SIGHAND) that must go on
 * sharing all four with it (kcmp); the child leaves when the target ends or
 * once its parent is gone (it looks every second: cleanup, not a sync).
 *
 * With --children N (up to 4), N forked children each keep 4 MiB of their
 * own pattern and, asked over a unix socketpair, check it and answer; a
 * check asks every child (so a child that died or computes wrong fails it).
 *
 * Protocol (tests/README.md, the stdin variant): it writes "ready", then reads
 * commands from stdin, one per line: "check" verifies everything and writes
 * "pass" or "fail: <first difference>" and waits for the next command; "go"
 * does the same and exits 0 or 1.  End of input exits 2 without a word.
 * SIGUSR1 is ignored: only stdin says when to check.
 */
#include "state.h"

#include <dirent.h>
#include <linux/kcmp.h>
#include <sched.h>
#include <sys/wait.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>

enum {
	MAX_CHILDREN = 4,
	CHILD_WORDS = (4 << 20) / 8,
	CHILD_SEED = 0xc41d,
	MAX_WORKERS = 16,
	HEAP_BLOCK_COUNT = 32,
	WORKER_STACK_BYTES = 4096,
	FILE_BYTES = 64 * 1024,
	FILE_OFFSET = 12345,
	ANSWER_SECONDS = 10,
	DATA_SEED = 0x5eed,
	FILE_SEED = 0xf11e,
};

struct options {
	size_t data_mib;
	unsigned worker_count;
	const char *file_path;
	bool append_only;
	bool sharer;
	bool socketpair;      /* --socketpair 1 */
	unsigned child_count; /* --children N */
};

struct worker {
	pthread_t thread;
	pid_t tid;
	sem_t asked;
	sem_t answered;
	bool intact;
};

struct heap_block {
	unsigned char *bytes;
	size_t length;
};

static struct options options = { .data_mib = 4, .worker_count = 1 };
static uint64_t *data_words;
static size_t data_word_count;
static struct heap_block heap_blocks[HEAP_BLOCK_COUNT];
static struct worker workers[MAX_WORKERS];
static int file_fd = -1;
static int append_fd = -1;
static struct stat file_stat_before;
static pid_t sharer_pid;
static pid_t sharer_parent; /* our PID, as the sharer saw it at start */
static volatile bool sharer_may_leave;
static uint64_t file_hash_before;

/* ---- Setup --------------------------------------------------------------- */

static unsigned long parse_count(const char *text, unsigned long limit, const char *what)
{
	char *end;
	unsigned long value = strtoul(text, &end, 10);

	if (*text == '\0' || *end != '\0' || value > limit)
		state_setup_fail("bad %s '%s'", what, text);
	return value;
}

static void parse_options(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--sharer") == 0) {
			options.sharer = true;
			continue;
		}
		if (i + 1 >= argc)
			state_setup_fail("option %s needs a value", argv[i]);
		if (strcmp(argv[i], "--mib") == 0)
			options.data_mib = parse_count(argv[++i], 4096, "--mib");
		else if (strcmp(argv[i], "--threads") == 0)
			options.worker_count =
				(unsigned)parse_count(argv[++i], MAX_WORKERS, "--threads");
		else if (strcmp(argv[i], "--children") == 0)
			options.child_count =
				(unsigned)parse_count(argv[++i], MAX_CHILDREN, "--children");
		else if (strcmp(argv[i], "--socketpair") == 0)
			options.socketpair = parse_count(argv[++i], 1, "--socketpair") == 1;
		else if (strcmp(argv[i], "--file") == 0)
			options.file_path = argv[++i];
		else if (strcmp(argv[i], "--append-file") == 0) {
			options.file_path = argv[++i];
			options.append_only = true;
		} else
			state_setup_fail("unknown option %s", argv[i]);
	}
}

static void fill_data(void)
{
	size_t length = options.data_mib << 20;

	if (length == 0)
		return;
	data_words = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (data_words == MAP_FAILED)
		state_setup_fail("mmap of %zu MiB: %s", options.data_mib, strerror(errno));
	data_word_count = length / sizeof(*data_words);
	for (size_t i = 0; i < data_word_count; i++)
		data_words[i] = state_mix64(DATA_SEED + i);
}

static void fill_heap(void)
{
	for (unsigned i = 0; i < HEAP_BLOCK_COUNT; i++) {
		heap_blocks[i].length = 24 + (size_t)i * i * 211;
		heap_blocks[i].bytes = malloc(heap_blocks[i].length);
		if (heap_blocks[i].bytes == NULL)
			state_setup_fail("malloc(%zu)", heap_blocks[i].length);
		state_fill(heap_blocks[i].bytes, heap_blocks[i].length, 500 + i);
	}
}

static uint64_t hash_file(int fd)
{
	static unsigned char contents[FILE_BYTES];
	ssize_t got = pread(fd, contents, sizeof(contents), 0);

	return got < 0 ? 0 : state_hash(contents, (size_t)got);
}

static void open_file(void)
{
	static unsigned char contents[FILE_BYTES];

	if (options.file_path == NULL)
		return;
	state_fill(contents, sizeof(contents), FILE_SEED);
	state_write_file(options.file_path, contents, sizeof(contents));
	if (!options.append_only)
		file_fd = open(options.file_path, O_RDWR | O_CLOEXEC);
	append_fd = open(options.file_path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if ((!options.append_only && file_fd < 0) || append_fd < 0)
		state_setup_fail("open %s: %s", options.file_path, strerror(errno));
	if (fstat(append_fd, &file_stat_before) != 0)
		state_setup_fail("fstat %s: %s", options.file_path, strerror(errno));
	if (file_fd >= 0 && lseek(file_fd, FILE_OFFSET, SEEK_SET) != FILE_OFFSET)
		state_setup_fail("lseek %s: %s", options.file_path, strerror(errno));
	if (file_fd >= 0)
		file_hash_before = hash_file(file_fd);
}

/* ---- Event files -------------------------------------------------------- */

enum {
	EVENT_COUNT = 42
};

static int event_fd = -1;
static int epoll_fd = -1;

static void open_event_files(void)
{
	struct epoll_event event = { .events = EPOLLIN, .data.u64 = EVENT_COUNT };

	event_fd = eventfd(EVENT_COUNT, EFD_CLOEXEC | EFD_NONBLOCK);
	epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (event_fd < 0 || epoll_fd < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, event_fd, &event) < 0)
		state_setup_fail("eventfd or epoll: %s", strerror(errno));
}

/* Looks without reading: the epoll reports the eventfd, fdinfo shows its count. */
static void check_event_files(void)
{
	struct epoll_event event = { 0 };
	char path[64], text[512];

	state_expect(epoll_wait(epoll_fd, &event, 1, 0) == 1 && event.data.u64 == EVENT_COUNT,
		     "the epoll does not report its eventfd");
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", event_fd);
	state_read_file(path, text, sizeof(text));
	state_expect(strstr(text, "eventfd-count:               2a") != NULL,
		     "the eventfd's count changed: %s", text);
}

/* ---- A socketpair ------------------------------------------------------- */

static const char socket_queued[] = "queued";
static int socket_ends[2] = { -1, -1 };

static void open_socketpair(void)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, socket_ends) < 0 ||
	    send(socket_ends[0], socket_queued, sizeof(socket_queued), 0) != sizeof(socket_queued))
		state_setup_fail("socketpair: %s", strerror(errno));
}

/* Peeks without taking: the bytes still wait at the second end. */
static void check_socketpair(void)
{
	char buffer[64] = { 0 };
	ssize_t got = recv(socket_ends[1], buffer, sizeof(buffer), MSG_PEEK | MSG_DONTWAIT);

	state_expect(got == sizeof(socket_queued) &&
			     memcmp(buffer, socket_queued, sizeof(socket_queued)) == 0,
		     "the socketpair's queue changed (%zd bytes)", got);
}

/* ---- Workers ------------------------------------------------------------- */

static void wait_semaphore(sem_t *semaphore)
{
	while (sem_wait(semaphore) != 0 && errno == EINTR)
		;
}

static void *run_worker(void *argument)
{
	struct worker *self = argument;
	unsigned char stack_bytes[WORKER_STACK_BYTES];
	uint64_t seed = 9000 + (uint64_t)(self - workers);

	self->tid = (pid_t)syscall(SYS_gettid);
	state_fill(stack_bytes, sizeof(stack_bytes), seed);
	sem_post(&self->answered);
	for (;;) {
		wait_semaphore(&self->asked);
		self->intact = state_find_mismatch(stack_bytes, sizeof(stack_bytes), seed) < 0 &&
			       syscall(SYS_gettid) == self->tid;
		sem_post(&self->answered);
	}
	return NULL;
}

static void start_workers(void)
{
	for (unsigned i = 0; i < options.worker_count; i++) {
		struct worker *worker = &workers[i];

		if (sem_init(&worker->asked, 0, 0) != 0 || sem_init(&worker->answered, 0, 0) != 0)
			state_setup_fail("sem_init: %s", strerror(errno));
		if (pthread_create(&worker->thread, NULL, run_worker, worker) != 0)
			state_setup_fail("pthread_create failed");
		wait_semaphore(&worker->answered);
	}
}

/* The sharer waits for SIGUSR2 (blocked before the clone), a second at a time. */
static int run_sharer(void *unused)
{
	struct timespec one_second = { .tv_sec = 1 };
	sigset_t leave_set;

	(void)unused;
	sigemptyset(&leave_set);
	sigaddset(&leave_set, SIGUSR2);
	while (!sharer_may_leave && syscall(SYS_getppid) == sharer_parent)
		sigtimedwait(&leave_set, NULL, &one_second);
	return 0;
}

static void start_sharer(void)
{
	size_t stack_size = 64 * 1024;
	char *stack;
	sigset_t leave_set;

	if (!options.sharer)
		return;
	sigemptyset(&leave_set);
	sigaddset(&leave_set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &leave_set, NULL);
	stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (stack == MAP_FAILED)
		state_setup_fail("mmap of the sharer's stack: %s", strerror(errno));
	sharer_parent = getpid();
	sharer_pid = clone(run_sharer, stack + stack_size,
			   CLONE_VM | CLONE_FILES | CLONE_FS | CLONE_SIGHAND | SIGCHLD, NULL);
	if (sharer_pid < 0)
		state_setup_fail("clone of the sharer: %s", strerror(errno));
}

static void stop_sharer(void)
{
	if (!sharer_pid)
		return;
	sharer_may_leave = true;
	kill(sharer_pid, SIGUSR2);
	waitpid(sharer_pid, NULL, 0);
}

/* ---- Checks -------------------------------------------------------------- */

static void check_sharer(void)
{
	static const struct {
		int type;
		const char *what;
	} kinds[] = {
		{ KCMP_VM, "memory" },
		{ KCMP_FILES, "fd table" },
		{ KCMP_FS, "fs" },
		{ KCMP_SIGHAND, "signal handlers" },
	};

	if (!sharer_pid)
		return;
	if (!state_expect(kill(sharer_pid, 0) == 0, "the sharer %d is gone", sharer_pid))
		return;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		state_expect(syscall(SYS_kcmp, getpid(), sharer_pid, kinds[i].type, 0, 0) == 0,
			     "the sharer %d no longer shares our %s", sharer_pid, kinds[i].what);
}

/* ---- Children ------------------------------------------------------------ */

static pid_t child_pids[MAX_CHILDREN];
static int child_sockets[MAX_CHILDREN] = { -1, -1, -1, -1 };

static bool child_words_intact(const uint64_t *words, unsigned index)
{
	for (size_t i = 0; i < CHILD_WORDS; i++) {
		if (words[i] != state_mix64(CHILD_SEED + index * CHILD_WORDS + i))
			return false;
	}
	return true;
}

/* A child: fills its words, then answers each request byte with p or f. */
static void run_child(int socket_fd, unsigned index)
{
	uint64_t *words = malloc(CHILD_WORDS * sizeof(*words));
	char request;

	if (!words)
		_exit(3);
	for (size_t i = 0; i < CHILD_WORDS; i++)
		words[i] = state_mix64(CHILD_SEED + index * CHILD_WORDS + i);
	while (read(socket_fd, &request, 1) == 1) {
		char answer = child_words_intact(words, index) ? 'p' : 'f';

		if (write(socket_fd, &answer, 1) != 1)
			break;
	}
	_exit(0);
}

static void start_children(void)
{
	for (unsigned i = 0; i < options.child_count; i++) {
		int ends[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) < 0)
			state_setup_fail("socketpair: %s", strerror(errno));
		child_pids[i] = fork();
		if (child_pids[i] < 0)
			state_setup_fail("fork: %s", strerror(errno));
		if (child_pids[i] == 0) {
			close(ends[0]);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			run_child(ends[1], i);
		}
		close(ends[1]);
		child_sockets[i] = ends[0];
	}
}

static void check_child(unsigned index)
{
	struct pollfd wait_for = { .fd = child_sockets[index], .events = POLLIN };
	char answer = 0;

	state_expect(write(child_sockets[index], "c", 1) == 1, "child %u: cannot ask it: %s", index,
		     strerror(errno));
	state_expect(poll(&wait_for, 1, ANSWER_SECONDS * 1000) == 1, "child %u: no answer", index);
	state_expect(read(child_sockets[index], &answer, 1) == 1 && answer == 'p',
		     "child %u answered '%c'", index, answer ? answer : '-');
}

static void check_children(void)
{
	for (unsigned i = 0; i < options.child_count; i++)
		check_child(i);
}

static void check_data(void)
{
	for (size_t i = 0; i < data_word_count; i++) {
		if (data_words[i] != state_mix64(DATA_SEED + i)) {
			state_expect(false, "data word %zu of %zu differs", i, data_word_count);
			return;
		}
	}
}

static void check_heap(void)
{
	char what[64];

	for (unsigned i = 0; i < HEAP_BLOCK_COUNT; i++) {
		snprintf(what, sizeof(what), "malloc block %u", i);
		state_expect_pattern(heap_blocks[i].bytes, heap_blocks[i].length, 500 + i, what);
	}
}

static void check_file(void)
{
	struct stat now;

	if (append_fd < 0)
		return;
	state_expect(fstat(append_fd, &now) == 0 && now.st_ino == file_stat_before.st_ino &&
			     now.st_dev == file_stat_before.st_dev,
		     "the append fd is no longer the same file");
	state_expect_equal_long(fcntl(append_fd, F_GETFL) & (O_ACCMODE | O_APPEND),
				O_WRONLY | O_APPEND, "flags of the append fd");
	if (file_fd < 0)
		return;
	state_expect_equal_long(lseek(file_fd, 0, SEEK_CUR), FILE_OFFSET, "offset of the file fd");
	state_expect(fstat(file_fd, &now) == 0 && now.st_ino == file_stat_before.st_ino &&
			     now.st_dev == file_stat_before.st_dev,
		     "the file fd is no longer the same file");
	state_expect(hash_file(file_fd) == file_hash_before, "the file's contents changed");
}

static void ask_worker(unsigned index)
{
	struct worker *worker = &workers[index];
	struct timespec deadline;
	int waited;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += ANSWER_SECONDS;
	worker->intact = false;
	sem_post(&worker->asked);
	do {
		waited = sem_timedwait(&worker->answered, &deadline);
	} while (waited != 0 && errno == EINTR);
	if (waited != 0)
		state_expect(false, "worker %u (tid %d) does not answer", index, worker->tid);
	else
		state_expect(worker->intact, "worker %u (tid %d): stack or tid changed", index,
			     worker->tid);
}

static unsigned count_threads(void)
{
	DIR *tasks = opendir("/proc/self/task");
	unsigned count = 0;

	if (tasks == NULL)
		return 0;
	for (struct dirent *entry = readdir(tasks); entry != NULL; entry = readdir(tasks)) {
		if (entry->d_name[0] != '.')
			count++;
	}
	closedir(tasks);
	return count;
}

static void check_everything(void)
{
	state_findings.failure_count = 0;
	state_check_identity();
	check_data();
	check_heap();
	check_file();
	check_event_files();
	check_sharer();
	check_children();
	if (options.socketpair)
		check_socketpair();
	for (unsigned i = 0; i < options.worker_count; i++)
		ask_worker(i);
	state_expect_equal_long(count_threads(), 1 + options.worker_count, "thread count");
}

static bool report_findings(void)
{
	char line[STATE_MESSAGE_MAX + 64];

	if (state_findings.failure_count == 0) {
		state_say("pass\n");
		return true;
	}
	snprintf(line, sizeof(line), "fail: %s (%lu difference%s)\n", state_findings.first_failure,
		 state_findings.failure_count, state_findings.failure_count == 1 ? "" : "s");
	state_say(line);
	return false;
}

/* ---- Commands ------------------------------------------------------------ */

/* One line from stdin without its newline; false at end of input. */
static bool read_command(char *line, size_t capacity)
{
	size_t used = 0;

	while (used < capacity - 1) {
		ssize_t got = read(STDIN_FILENO, line + used, 1);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return false;
		if (line[used] == '\n')
			break;
		used++;
	}
	line[used] = '\0';
	return true;
}

int main(int argc, char **argv)
{
	char command[32];

	state_init();
	state_ignore_go_signal();
	parse_options(argc, argv);
	start_children(); /* first: they do not share the big data */
	fill_data();
	fill_heap();
	open_file();
	open_event_files();
	if (options.socketpair)
		open_socketpair();
	start_workers();
	start_sharer();
	state_ready();
	while (read_command(command, sizeof(command))) {
		bool intact;

		if (strcmp(command, "check") != 0 && strcmp(command, "go") != 0) {
			state_say("fail: unknown command\n");
			continue;
		}
		check_everything();
		intact = report_findings();
		if (strcmp(command, "go") == 0) {
			stop_sharer();
			return intact ? STATE_EXIT_PASS : STATE_EXIT_FAIL;
		}
	}
	stop_sharer();
	return 2;
}
