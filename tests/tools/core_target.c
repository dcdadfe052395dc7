/*
 * The program tests/cases/core_file.sh opens in gdb through `ckpt core`.
 * Built with -g -O0 so that every variable lives in memory.
 *
 * It holds known values in globals, in a malloc'd struct (heap_record),
 * in a private read-only mapping of the file named by argv[1]
 * (file_view: its pages are clean, so the image does not hold them and the
 * core takes them from the file), and in a local variable of each of its two
 * threads: the main thread waits in main_waits_for_go() (reading stdin), the
 * worker in worker_waits() (reading an eventfd nobody writes until the end;
 * ckpt does not save pipes yet).
 * It prints "ready WORKER_TID" once both wait, and exits 0 at "go" or EOF.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct heap_record {
	int id;
	double ratio;
	char name[16];
	long values[4];
};

long core_global = 0x1234567890abcdefL;
char core_global_text[32] = "checkpointed global";
struct heap_record *heap_ptr;
const char *file_view;

static int worker_wakeup;  /* eventfd the worker blocks reading */
static int worker_started; /* eventfd: the worker is about to block */
static long worker_tid;

void worker_waits(void);
void main_waits_for_go(void);

void worker_waits(void)
{
	volatile long worker_local = 424242;
	uint64_t count = 1;

	worker_tid = syscall(SYS_gettid);
	if (write(worker_started, &count, sizeof(count)) != sizeof(count))
		_exit(2);
	if (read(worker_wakeup, &count, sizeof(count)) < 0)
		_exit(2);
	worker_local++;
}

static void *worker_main(void *arg)
{
	(void)arg;
	worker_waits();
	return NULL;
}

void main_waits_for_go(void)
{
	volatile long main_local = -777;
	uint64_t count;
	char line[64];

	if (read(worker_started, &count, sizeof(count)) != sizeof(count))
		_exit(2);
	snprintf(line, sizeof(line), "ready %ld\n", worker_tid);
	if (write(STDOUT_FILENO, line, strlen(line)) < 0)
		_exit(2);
	if (read(STDIN_FILENO, line, sizeof(line)) < 0)
		_exit(2);
	main_local++;
}

static void map_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *view;

	if (fd < 0) {
		perror(path);
		exit(2);
	}
	view = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (view == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	file_view = view;
}

int main(int argc, char **argv)
{
	pthread_t worker;

	if (argc != 2) {
		fprintf(stderr, "usage: core_target FILE\n");
		return 2;
	}
	map_file(argv[1]);
	heap_ptr = malloc(sizeof(*heap_ptr));
	worker_wakeup = eventfd(0, EFD_CLOEXEC);
	worker_started = eventfd(0, EFD_CLOEXEC);
	if (!heap_ptr || worker_wakeup < 0 || worker_started < 0)
		return 2;
	*heap_ptr = (struct heap_record){
		.id = 7, .ratio = 2.5, .name = "heap-record", .values = { 11, 22, 33, 44 }
	};
	if (pthread_create(&worker, NULL, worker_main, NULL) != 0)
		return 2;
	main_waits_for_go();
	if (eventfd_write(worker_wakeup, 1) < 0 || pthread_join(worker, NULL) != 0)
		return 2;
	return 0;
}
