/*
 * A pool of 64 threads: producers push numbered work items into a bounded
 * queue (mutex and two condition variables), consumers take them, compute a
 * value for each and add it to a checksum.  Consuming starts only at "go",
 * so at the checkpoint the queue is full and the producers and 32 consumers
 * are blocked in pthread_cond_wait(), 16 consumers are blocked in
 * pthread_mutex_lock() on the queue mutex (which main holds), and 8 threads
 * spin in user space computing a hash chain.  After restart every item is
 * consumed exactly once, the checksum is the one computed beforehand, the
 * spinners' chains are right, and every thread has its tid.
 */
#include "state.h"

#include <dirent.h>
#include <pthread.h>
#include <sched.h>

enum {
	PRODUCER_COUNT = 8,
	WAITER_COUNT = 32,
	LOCKER_COUNT = 16,
	SPINNER_COUNT = 8,
	WORKER_COUNT = PRODUCER_COUNT + WAITER_COUNT + LOCKER_COUNT + SPINNER_COUNT,
	ITEM_COUNT = 20000,
	QUEUE_CAPACITY = 64,
	WORK_ROUNDS = 32,
	SPIN_BLOCK_ROUNDS = 1 << 20,
	PARK_TIMEOUT_SECONDS = 20,
	SYSCALL_FUTEX = 202,
};

enum role {
	ROLE_PRODUCER,
	ROLE_WAITER,
	ROLE_LOCKER,
	ROLE_SPINNER
};

static const char *const role_names[] = { "producer", "waiter", "locker", "spinner" };

struct worker {
	enum role role;
	unsigned index;
	pthread_t thread;
	pid_t tid;
	volatile int parked; /* about to block (or spinning): set before the wait */
	uint64_t spin_blocks;
	uint64_t spin_bad_blocks;
	uint64_t spin_rounds;
	uint64_t spin_value;
	char failure[160];
};

struct work_queue {
	pthread_mutex_t mutex;
	pthread_cond_t items_ready;
	pthread_cond_t space_ready;
	uint32_t items[QUEUE_CAPACITY];
	unsigned head;
	unsigned count;
	bool consuming_allowed;
	unsigned producers_done;
	uint64_t checksum;
	uint64_t consumed;
	unsigned char times_seen[ITEM_COUNT + 1];
};

static struct work_queue queue = {
	.mutex = PTHREAD_MUTEX_INITIALIZER,
	.items_ready = PTHREAD_COND_INITIALIZER,
	.space_ready = PTHREAD_COND_INITIALIZER,
};
static struct worker workers[WORKER_COUNT];
static volatile int spinners_go;

static uint64_t work_value(uint32_t item)
{
	uint64_t value = item;

	for (unsigned round = 0; round < WORK_ROUNDS; round++)
		value = state_mix64(value);
	return value;
}

static uint64_t expected_checksum(void)
{
	uint64_t sum = 0;

	for (uint32_t item = 1; item <= ITEM_COUNT; item++)
		sum += work_value(item);
	return sum;
}

static pid_t current_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* ---- Producers and consumers ------------------------------------------ */

static void push_item(struct worker *self, uint32_t item)
{
	pthread_mutex_lock(&queue.mutex);
	while (queue.count == QUEUE_CAPACITY) {
		__atomic_store_n(&self->parked, 1, __ATOMIC_RELEASE);
		pthread_cond_wait(&queue.space_ready, &queue.mutex);
	}
	queue.items[(queue.head + queue.count) % QUEUE_CAPACITY] = item;
	queue.count++;
	pthread_cond_signal(&queue.items_ready);
	pthread_mutex_unlock(&queue.mutex);
}

static void produce(struct worker *self)
{
	for (uint32_t item = self->index + 1; item <= ITEM_COUNT; item += PRODUCER_COUNT)
		push_item(self, item);
	pthread_mutex_lock(&queue.mutex);
	queue.producers_done++;
	pthread_cond_broadcast(&queue.items_ready);
	pthread_mutex_unlock(&queue.mutex);
}

static bool consumer_must_wait(void)
{
	if (!queue.consuming_allowed)
		return true;
	return queue.count == 0 && queue.producers_done < PRODUCER_COUNT;
}

/* With the mutex held: takes the next item, or 0 when all are done. */
static uint32_t take_item(struct worker *self)
{
	uint32_t item;

	while (consumer_must_wait()) {
		__atomic_store_n(&self->parked, 1, __ATOMIC_RELEASE);
		pthread_cond_wait(&queue.items_ready, &queue.mutex);
	}
	if (queue.count == 0)
		return 0;
	item = queue.items[queue.head];
	queue.head = (queue.head + 1) % QUEUE_CAPACITY;
	queue.count--;
	queue.times_seen[item]++;
	pthread_cond_signal(&queue.space_ready);
	return item;
}

/* Called with the mutex held; returns with it released. */
static void consume_locked(struct worker *self)
{
	uint64_t checksum = 0;
	uint64_t consumed = 0;

	for (uint32_t item = take_item(self); item != 0; item = take_item(self)) {
		pthread_mutex_unlock(&queue.mutex);
		checksum += work_value(item);
		consumed++;
		pthread_mutex_lock(&queue.mutex);
	}
	queue.checksum += checksum;
	queue.consumed += consumed;
	pthread_mutex_unlock(&queue.mutex);
}

static uint64_t spin_seed(const struct worker *self)
{
	return 0x5eed0000 + self->index;
}

static uint64_t hash_chain(uint64_t value, uint64_t rounds)
{
	for (uint64_t round = 0; round < rounds; round++)
		value = state_mix64(value);
	return value;
}

/*
 * Runs a hash chain in blocks of SPIN_BLOCK_ROUNDS from the same seed, so
 * each block must end on the same value: a register or stack slot changed
 * under the thread shows up as a bad block or a wrong partial chain.
 */
static void spin_until_go(struct worker *self)
{
	uint64_t seed = spin_seed(self);
	uint64_t block_end = hash_chain(seed, SPIN_BLOCK_ROUNDS);
	uint64_t value = seed;
	uint64_t rounds = 0;

	__atomic_store_n(&self->parked, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&spinners_go, __ATOMIC_ACQUIRE)) {
		value = state_mix64(value);
		rounds++;
		if (rounds < SPIN_BLOCK_ROUNDS)
			continue;
		self->spin_blocks++;
		self->spin_bad_blocks += value != block_end;
		value = seed;
		rounds = 0;
	}
	self->spin_rounds = rounds;
	self->spin_value = value;
}

static void check_spin_chain(struct worker *self)
{
	uint64_t value = hash_chain(spin_seed(self), self->spin_rounds);

	if (self->spin_bad_blocks != 0)
		snprintf(self->failure, sizeof(self->failure),
			 "spinner %u: %llu of %llu hash chain blocks ended wrong", self->index,
			 (unsigned long long)self->spin_bad_blocks,
			 (unsigned long long)self->spin_blocks);
	else if (value != self->spin_value)
		snprintf(self->failure, sizeof(self->failure),
			 "spinner %u chain of %llu rounds ends in %#llx, should be %#llx",
			 self->index, (unsigned long long)self->spin_rounds,
			 (unsigned long long)self->spin_value, (unsigned long long)value);
}

static void run_role(struct worker *self)
{
	switch (self->role) {
	case ROLE_PRODUCER:
		produce(self);
		break;
	case ROLE_WAITER:
		pthread_mutex_lock(&queue.mutex);
		consume_locked(self);
		break;
	case ROLE_LOCKER:
		__atomic_store_n(&self->parked, 1, __ATOMIC_RELEASE);
		pthread_mutex_lock(&queue.mutex);
		consume_locked(self);
		break;
	case ROLE_SPINNER:
		spin_until_go(self);
		check_spin_chain(self);
		pthread_mutex_lock(&queue.mutex);
		consume_locked(self);
		break;
	}
}

static void *run_worker(void *argument)
{
	struct worker *self = argument;

	__atomic_store_n(&self->tid, current_tid(), __ATOMIC_RELEASE);
	run_role(self);
	if (self->failure[0] == '\0' && current_tid() != self->tid)
		snprintf(self->failure, sizeof(self->failure), "%s %u tid is %d, was %d",
			 role_names[self->role], self->index, (int)current_tid(), (int)self->tid);
	return NULL;
}

/* ---- Setup: start the threads and wait until each is where it should be - */

static long thread_syscall(pid_t tid)
{
	char path[64];
	char text[256];

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	if (state_read_file(path, text, sizeof(text)) <= 0)
		return -2;
	if (strncmp(text, "running", 7) == 0)
		return -1;
	return strtol(text, NULL, 10);
}

static bool worker_settled(const struct worker *worker)
{
	if (!__atomic_load_n(&worker->parked, __ATOMIC_ACQUIRE))
		return false;
	if (worker->role == ROLE_SPINNER)
		return true;
	return thread_syscall(__atomic_load_n(&worker->tid, __ATOMIC_ACQUIRE)) == SYSCALL_FUTEX;
}

static void wait_until_settled(unsigned first, unsigned count, const char *what)
{
	int64_t give_up_ns = state_now_ns(CLOCK_MONOTONIC) + PARK_TIMEOUT_SECONDS * 1000000000LL;
	unsigned index = first;

	while (index < first + count) {
		if (worker_settled(&workers[index])) {
			index++;
			continue;
		}
		if (state_now_ns(CLOCK_MONOTONIC) > give_up_ns)
			state_setup_fail("%s thread %u did not block in time", what, index);
		sched_yield();
	}
}

static void start_workers(unsigned first, unsigned count, enum role role)
{
	for (unsigned index = first; index < first + count; index++) {
		workers[index].role = role;
		workers[index].index = index - first;
		if (pthread_create(&workers[index].thread, NULL, run_worker, &workers[index]) != 0)
			state_setup_fail("pthread_create of thread %u", index);
	}
}

static void build_pool(void)
{
	unsigned lockers_first = PRODUCER_COUNT + WAITER_COUNT;
	unsigned spinners_first = lockers_first + LOCKER_COUNT;

	start_workers(0, PRODUCER_COUNT, ROLE_PRODUCER);
	start_workers(PRODUCER_COUNT, WAITER_COUNT, ROLE_WAITER);
	wait_until_settled(0, PRODUCER_COUNT + WAITER_COUNT, "producer or waiter");
	pthread_mutex_lock(&queue.mutex);
	if (queue.count != QUEUE_CAPACITY)
		state_setup_fail("queue holds %u items, not %u", queue.count, QUEUE_CAPACITY);
	start_workers(lockers_first, LOCKER_COUNT, ROLE_LOCKER);
	wait_until_settled(lockers_first, LOCKER_COUNT, "locker");
	start_workers(spinners_first, SPINNER_COUNT, ROLE_SPINNER);
	wait_until_settled(spinners_first, SPINNER_COUNT, "spinner");
}

static void release_pool(void)
{
	queue.consuming_allowed = true;
	pthread_cond_broadcast(&queue.items_ready);
	pthread_mutex_unlock(&queue.mutex);
	__atomic_store_n(&spinners_go, 1, __ATOMIC_RELEASE);
}

/* ---- Checks ------------------------------------------------------------ */

static int count_threads(void)
{
	DIR *tasks = opendir("/proc/self/task");
	int count = 0;

	if (tasks == NULL)
		return -1;
	for (struct dirent *entry = readdir(tasks); entry != NULL; entry = readdir(tasks))
		count += entry->d_name[0] != '.';
	closedir(tasks);
	return count;
}

static void check_every_item_once(void)
{
	for (uint32_t item = 1; item <= ITEM_COUNT; item++)
		state_expect(queue.times_seen[item] == 1, "item %u consumed %u times", item,
			     queue.times_seen[item]);
}

int main(void)
{
	uint64_t checksum_expected;
	int thread_count_before;

	state_init();
	checksum_expected = expected_checksum();
	build_pool();
	thread_count_before = count_threads();
	state_ready();
	state_wait_go_signal();
	state_expect_equal_long(count_threads(), thread_count_before, "thread count");
	release_pool();
	for (unsigned index = 0; index < WORKER_COUNT; index++) {
		pthread_join(workers[index].thread, NULL);
		state_expect(workers[index].failure[0] == '\0', "%s", workers[index].failure);
	}
	state_expect_equal_long((long long)queue.consumed, ITEM_COUNT, "items consumed");
	check_every_item_once();
	state_expect(queue.checksum == checksum_expected, "checksum is %#llx, expected %#llx",
		     (unsigned long long)queue.checksum, (unsigned long long)checksum_expected);
	state_finish();
}
