/* SPDX-License-Identifier: MIT */
/*
 * Checks of each record's own fields, the validators of the record table
 * (records.c).  The table's size rule has held when they run: the struct
 * is there, and any trailing array has the length its count says.
 */
#include <string.h>
#include <sys/socket.h>
#include <sys/mman.h>

#include "image/image.h"
#include "image/records.h"

#define USER_ADDRESS_LIMIT (1ull << 47)
#define PROT_ALL (PROT_READ | PROT_WRITE | PROT_EXEC)

static int bad(struct ckpt_error *err, enum ckpt_record_type type, const char *what)
{
	return fail(err, EINVAL, "bad image: %s record: %s", record_type_name(type), what);
}

static bool is_page_aligned(uint64_t value)
{
	return (value & (CKPT_PAGE_SIZE - 1)) == 0;
}

static bool is_user_address(uint64_t value)
{
	return value <= USER_ADDRESS_LIMIT;
}

static bool is_fixed_string(const char *text, size_t size)
{
	return memchr(text, '\0', size) != NULL;
}

int validate_head_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_head *head = payload;

	(void)length;
	if (memcmp(head->magic, CKPT_IMAGE_MAGIC, sizeof(head->magic)) != 0)
		return fail(err, EINVAL, "bad image: not a ckpt image (wrong magic)");
	if (head->version != CKPT_FORMAT_VERSION)
		return fail(err, EINVAL, "bad image: format version %u, this ckpt reads version %u",
			    head->version, CKPT_FORMAT_VERSION);
	if (head->arch != CKPT_ARCH_X86_64)
		return fail(err, EINVAL, "bad image: made on architecture %u, this is x86_64",
			    head->arch);
	if (head->page_size != CKPT_PAGE_SIZE)
		return bad(err, CKPT_RECORD_HEAD, "page size is not 4096");
	if (head->xstate_size > CKPT_MAX_XSTATE)
		return bad(err, CKPT_RECORD_HEAD, "xstate size too large");
	if (!is_fixed_string(head->kernel_release, sizeof(head->kernel_release)) ||
	    !is_fixed_string(head->tool_version, sizeof(head->tool_version)))
		return bad(err, CKPT_RECORD_HEAD, "unterminated string");
	return 0;
}

static bool is_thp_disable_value(uint32_t value)
{
	return value == 0 || value == 1 || value == (1 | CKPT_THP_DISABLE_EXCEPT_ADVISED);
}

static int validate_process_prctl(const struct ckpt_process *process, struct ckpt_error *err)
{
	if (process->prctl_flags & ~(uint32_t)CKPT_PROCESS_PRCTL_FLAG_MASK)
		return bad(err, CKPT_RECORD_PROCESS, "unknown prctl flags");
	if (!is_thp_disable_value(process->thp_disable))
		return bad(err, CKPT_RECORD_PROCESS, "THP disable value out of range");
	if (process->dumpable > CKPT_SUID_DUMP_ROOT || process->reserved != 0)
		return bad(err, CKPT_RECORD_PROCESS, "dumpable out of range or reserved field set");
	if (process->oom_score_adj < CKPT_OOM_SCORE_ADJ_MIN ||
	    process->oom_score_adj > CKPT_OOM_SCORE_ADJ_MAX)
		return bad(err, CKPT_RECORD_PROCESS, "oom_score_adj out of range");
	if ((process->membarrier & ~(uint32_t)CKPT_MEMBARRIER_MASK) || process->reserved2 != 0)
		return bad(err, CKPT_RECORD_PROCESS,
			   "unknown membarrier registrations or reserved field set");
	return 0;
}

/* The cwd is a string of cwd_length bytes (the size rule). */
int validate_process_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_process *process = payload;
	const char *cwd = (const char *)(process + 1);

	(void)length;
	if (cwd[0] != '/')
		return bad(err, CKPT_RECORD_PROCESS, "cwd is not an absolute NUL-terminated path");
	if (process->pid <= 0 || process->thread_count == 0 || process->umask > 0777)
		return bad(err, CKPT_RECORD_PROCESS, "pid, thread count or umask out of range");
	if (!is_fixed_string(process->comm, sizeof(process->comm)))
		return bad(err, CKPT_RECORD_PROCESS, "comm is not terminated");
	return validate_process_prctl(process, err);
}

int validate_creds_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_creds *creds = payload;

	(void)length;
	if (creds->no_new_privs > 1)
		return bad(err, CKPT_RECORD_CREDS, "no_new_privs is not 0 or 1");
	return 0;
}

int validate_rlimits_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_rlimits *rlimits = payload;

	(void)length;
	if (rlimits->count != CKPT_MAX_RLIMITS || rlimits->reserved)
		return bad(err, CKPT_RECORD_RLIMITS, "wrong size or count");
	for (unsigned i = 0; i < CKPT_MAX_RLIMITS; i++) {
		if (rlimits->limits[i].soft > rlimits->limits[i].hard)
			return bad(err, CKPT_RECORD_RLIMITS, "a soft limit is above its hard limit");
	}
	return 0;
}

int validate_sigactions_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_sigactions *actions = payload;

	(void)length;
	if (actions->count != CKPT_MAX_SIGNALS || actions->reserved)
		return bad(err, CKPT_RECORD_SIGACTIONS, "wrong size or count");
	return 0;
}

/* A memfd is shared memory named like its maps line: "/memfd:NAME (deleted)". */
static bool is_memfd_record(const struct ckpt_file *file, const char *path)
{
	return file->kind == CKPT_FILE_SHMEM && strncmp(path, "/memfd:", 7) == 0;
}

/* Its kind's check of the path and flags; an unknown kind needs an absolute path (then fails on its kind). */
static bool has_valid_file_fields(const struct ckpt_file *file, const char *path)
{
	const struct file_kind_info *kind = find_file_kind(file->kind);

	if (!kind)
		return path[0] == '/';
	return kind->has_valid_fields(file, path);
}

/* The path is a string of path_length bytes (the size rule). */
int validate_file_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_file *file = payload;
	const char *path = (const char *)(file + 1);

	(void)length;
	if (!has_valid_file_fields(file, path))
		return bad(err, CKPT_RECORD_FILE, "path is not an absolute NUL-terminated path");
	if (file->id == 0 || !find_file_kind(file->kind))
		return bad(err, CKPT_RECORD_FILE, "bad id or kind");
	if (file->flags & ~(uint32_t)(CKPT_FILE_MAPPED | CKPT_FILE_MEMFD))
		return bad(err, CKPT_RECORD_FILE, "unknown flags");
	if ((file->flags & CKPT_FILE_MEMFD) && !is_memfd_record(file, path))
		return bad(err, CKPT_RECORD_FILE, "memfd flag on a file that is not a memfd");
	return 0;
}

int validate_fd_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_fd *fd = payload;

	(void)length;
	if (fd->fd < 0 || fd->fd >= (1 << 20))
		return bad(err, CKPT_RECORD_FD, "fd number out of range");
	if (fd->flags & ~(uint32_t)(CKPT_FD_CLOEXEC | CKPT_FD_INHERIT))
		return bad(err, CKPT_RECORD_FD, "unknown flags");
	if (fd->inherit_kind > CKPT_INHERIT_SOCKET)
		return bad(err, CKPT_RECORD_FD, "unknown inherited kind");
	if (fd->flags & CKPT_FD_INHERIT) {
		if (fd->file_id != 0 || (fd->fd > 2 && fd->inherit_kind != CKPT_INHERIT_PIPE))
			return bad(err, CKPT_RECORD_FD,
				   "only fds 0-2 and pipes are inherited, without a file");
	} else if (fd->file_id == 0) {
		return bad(err, CKPT_RECORD_FD, "no file");
	}
	return 0;
}

int validate_mm_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_mm *mm = payload;

	(void)length;
	if (mm->auxv_words % 2 != 0)
		return bad(err, CKPT_RECORD_MM, "auxv is not made of pairs");
	if ((mm->lock_future & ~(uint64_t)CKPT_MM_LOCK_MASK) ||
	    mm->lock_future == CKPT_MM_LOCK_ONFAULT)
		return bad(err, CKPT_RECORD_MM, "unknown future lock flags");
	for (int i = 0; i < CKPT_MM_FIELD_COUNT; i++) {
		if (!is_user_address(mm->fields[i]))
			return bad(err, CKPT_RECORD_MM, "an address is not a user address");
	}
	if (mm->fields[CKPT_MM_START_CODE] >= mm->fields[CKPT_MM_END_CODE] ||
	    mm->fields[CKPT_MM_START_BRK] > mm->fields[CKPT_MM_BRK] ||
	    mm->fields[CKPT_MM_ARG_START] > mm->fields[CKPT_MM_ARG_END] ||
	    mm->fields[CKPT_MM_ENV_START] > mm->fields[CKPT_MM_ENV_END])
		return bad(err, CKPT_RECORD_MM, "a range ends before it starts");
	return 0;
}

static int validate_thread_prctl(const struct ckpt_thread *thread, struct ckpt_error *err)
{
	if (thread->pdeath_signal > CKPT_MAX_SIGNALS)
		return bad(err, CKPT_RECORD_THREAD, "parent-death signal out of range");
	if (thread->securebits & ~CKPT_SECUREBITS_MASK)
		return bad(err, CKPT_RECORD_THREAD, "unknown securebits");
	if (thread->mce_kill_policy > CKPT_MCE_KILL_DEFAULT || thread->reserved3 != 0)
		return bad(err, CKPT_RECORD_THREAD,
			   "MCE kill policy out of range or reserved field set");
	return 0;
}

static int validate_thread_seccomp(const struct ckpt_thread *thread, struct ckpt_error *err)
{
	bool filters = thread->seccomp_filter_count > 0;

	if (thread->seccomp_mode > CKPT_SECCOMP_FILTER)
		return bad(err, CKPT_RECORD_THREAD, "unknown seccomp mode");
	if (filters != (thread->seccomp_mode == CKPT_SECCOMP_FILTER) ||
	    thread->seccomp_filter_count > CKPT_MAX_SECCOMP_FILTERS)
		return bad(err, CKPT_RECORD_THREAD, "seccomp filter count does not match its mode");
	return 0;
}

static bool is_known_sched_policy(uint32_t policy)
{
	return policy == 0 || policy == 1 || policy == 2 || policy == 3 || policy == 5 || policy == 6;
}

static int validate_thread_sched(const struct ckpt_thread *thread, struct ckpt_error *err)
{
	bool realtime = thread->sched_policy == 1 || thread->sched_policy == 2;

	if (!is_known_sched_policy(thread->sched_policy) ||
	    (thread->sched_flags & ~(uint32_t)CKPT_SCHED_FLAG_MASK))
		return bad(err, CKPT_RECORD_THREAD, "unknown scheduling policy or flags");
	if (thread->sched_nice < -20 || thread->sched_nice > 19 || thread->sched_priority > 99 ||
	    realtime != (thread->sched_priority > 0))
		return bad(err, CKPT_RECORD_THREAD, "nice or real-time priority out of range");
	if (thread->sched_util_min > thread->sched_util_max ||
	    thread->sched_util_max > CKPT_SCHED_UTIL_MAX)
		return bad(err, CKPT_RECORD_THREAD, "utilization clamp out of range");
	if (thread->sched_policy != 6 && (thread->sched_deadline || thread->sched_period))
		return bad(err, CKPT_RECORD_THREAD, "deadline parameters without SCHED_DEADLINE");
	return 0;
}

/* The size rule checked xstate_size against the size and its upper limit. */
int validate_thread_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_thread *thread = payload;
	int ret;

	(void)length;
	if (thread->xstate_size < 576)
		return bad(err, CKPT_RECORD_THREAD, "xstate size out of range");
	if (thread->tid <= 0 || thread->reserved != 0 || thread->reserved2 != 0)
		return bad(err, CKPT_RECORD_THREAD, "bad tid or reserved field");
	if (thread->flags & ~(uint32_t)CKPT_THREAD_FLAG_MASK)
		return bad(err, CKPT_RECORD_THREAD, "unknown flags");
	if (!is_fixed_string(thread->comm, sizeof(thread->comm)))
		return bad(err, CKPT_RECORD_THREAD, "comm is not terminated");
	ret = validate_thread_seccomp(thread, err);
	if (ret == 0)
		ret = validate_thread_sched(thread, err);
	if (ret == 0)
		ret = validate_thread_prctl(thread, err);
	return ret;
}

/* The size rule checked instruction_count against the size and its limit. */
int validate_seccomp_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_seccomp *filter = payload;

	(void)length;
	if (filter->tid <= 0 || filter->instruction_count == 0 || filter->reserved != 0)
		return bad(err, CKPT_RECORD_SECCOMP, "bad tid, empty program or reserved field set");
	if (filter->flags & ~(uint32_t)CKPT_SECCOMP_FLAG_MASK)
		return bad(err, CKPT_RECORD_SECCOMP, "unknown flags");
	return 0;
}

static bool vma_needs_file(uint32_t kind)
{
	return kind == CKPT_VMA_FILE_PRIVATE || kind == CKPT_VMA_FILE_SHARED ||
	       kind == CKPT_VMA_SHARED_ANON;
}

int validate_vma_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_vma *vma = payload;

	(void)length;
	if (!is_page_aligned(vma->start) || !is_page_aligned(vma->end) ||
	    !is_page_aligned(vma->file_offset))
		return bad(err, CKPT_RECORD_VMA, "address or offset not page-aligned");
	if (vma->start >= vma->end || !is_user_address(vma->end) || vma->start == 0)
		return bad(err, CKPT_RECORD_VMA, "address range empty or not canonical");
	if ((vma->prot & ~(uint32_t)PROT_ALL) || (vma->flags & ~(uint32_t)CKPT_VMA_FLAG_MASK))
		return bad(err, CKPT_RECORD_VMA, "unknown protection or flags");
	if (vma->kind < CKPT_VMA_ANON || vma->kind > CKPT_VMA_VVAR_VCLOCK)
		return bad(err, CKPT_RECORD_VMA, "unknown kind");
	if (vma_needs_file(vma->kind) != (vma->file_id != 0))
		return bad(err, CKPT_RECORD_VMA, "file id does not match the kind");
	if (vma->page_count > (vma->end - vma->start) / CKPT_PAGE_SIZE)
		return bad(err, CKPT_RECORD_VMA, "more pages than the VMA holds");
	if (vma->file_offset > UINT64_MAX - (vma->end - vma->start))
		return bad(err, CKPT_RECORD_VMA, "file offset too large");
	return 0;
}

static int validate_runs(const struct ckpt_page_run *runs, uint64_t run_count, uint64_t page_count,
			 struct ckpt_error *err)
{
	uint64_t pages_in_runs = 0;
	uint64_t previous_end = 0;

	for (uint64_t i = 0; i < run_count; i++) {
		uint64_t start = runs[i].start;

		if (!is_page_aligned(start) || runs[i].pages == 0 || runs[i].pages > page_count)
			return bad(err, CKPT_RECORD_PAGES, "run not aligned or of bad length");
		if (!is_user_address(start) ||
		    runs[i].pages > (USER_ADDRESS_LIMIT - start) / CKPT_PAGE_SIZE)
			return bad(err, CKPT_RECORD_PAGES,
				   "run is not canonical (outside the user address range)");
		if (start < previous_end)
			return bad(err, CKPT_RECORD_PAGES,
				   "runs overlap, are unordered or not canonical");
		previous_end = start + runs[i].pages * CKPT_PAGE_SIZE;
		pages_in_runs += runs[i].pages;
	}
	if (pages_in_runs != page_count)
		return bad(err, CKPT_RECORD_PAGES, "runs do not add up to the page count");
	return 0;
}

/* The size rule checked only the struct: the runs and data are checked here. */
int validate_pages_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_pages *pages = payload;
	uint64_t expected;

	if (pages->run_count == 0 || pages->run_count > CKPT_MAX_PAGE_RUNS ||
	    pages->page_count == 0 || pages->page_count > CKPT_PAGES_PER_RECORD)
		return bad(err, CKPT_RECORD_PAGES, "run or page count out of range");
	expected = sizeof(*pages) + pages->run_count * sizeof(struct ckpt_page_run) +
		   pages->page_count * CKPT_PAGE_SIZE;
	if (length != expected)
		return bad(err, CKPT_RECORD_PAGES, "size does not match its counts");
	return validate_runs((const struct ckpt_page_run *)(pages + 1), pages->run_count,
			     pages->page_count, err);
}

int validate_tail_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_tail *tail = payload;

	(void)length;
	if (memcmp(tail->magic, CKPT_TAIL_MAGIC, sizeof(tail->magic)) != 0)
		return bad(err, CKPT_RECORD_TAIL, "wrong size or magic");
	return 0;
}

static int32_t owner_at(const struct ckpt_tree_entry *entry, size_t field_offset)
{
	int32_t owner;

	memcpy(&owner, (const char *)entry + field_offset, sizeof(owner));
	return owner;
}

/*
 * An owner is the entry itself, or an earlier live entry of the tree that
 * is the entry's parent or whose object the parent holds too (restart
 * clones the sharer from its parent's husk).
 */
static bool is_valid_owner(const struct ckpt_tree_entry *entries, uint32_t index, size_t field_offset)
{
	const struct ckpt_tree_entry *entry = &entries[index];
	int32_t owner = owner_at(entry, field_offset);

	if (!shares_with_other(owner, entry->pid))
		return owner >= 0;
	if (entry->state != CKPT_TREE_ALIVE)
		return false;
	for (uint32_t i = 0; i < index; i++) {
		if (entries[i].pid == entry->ppid)
			return entries[i].state == CKPT_TREE_ALIVE &&
			       (entries[i].pid == owner ||
				owner_at(&entries[i], field_offset) == owner);
	}
	return false;
}

/* Shared signal handlers come only with shared memory (the kernel's rule for CLONE_SIGHAND). */
static bool has_valid_owners(const struct ckpt_tree_entry *entries, uint32_t index)
{
	const struct ckpt_tree_entry *entry = &entries[index];

	if (shares_with_other(entry->sighand_owner, entry->pid) &&
	    !shares_with_other(entry->mm_owner, entry->pid))
		return false;
	return is_valid_owner(entries, index, offsetof(struct ckpt_tree_entry, mm_owner)) &&
	       is_valid_owner(entries, index, offsetof(struct ckpt_tree_entry, files_owner)) &&
	       is_valid_owner(entries, index, offsetof(struct ckpt_tree_entry, fs_owner)) &&
	       is_valid_owner(entries, index, offsetof(struct ckpt_tree_entry, sighand_owner));
}

int validate_tree_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_tree *tree = payload;
	const struct ckpt_tree_entry *entries = (const struct ckpt_tree_entry *)(tree + 1);

	(void)length;
	if (tree->highest_fd >= (1u << 20) || tree->count == 0)
		return bad(err, CKPT_RECORD_TREE, "size does not match its process count");
	for (uint32_t i = 0; i < tree->count; i++) {
		const struct ckpt_tree_entry *entry = &entries[i];

		/* A group or session led from outside our PID namespace reads as 0. */
		if (entry->pid <= 0 || entry->ppid < 0 || entry->pgid < 0 || entry->sid < 0)
			return bad(err, CKPT_RECORD_TREE, "a process id is out of range");
		if (entry->state < CKPT_TREE_ALIVE || entry->state > CKPT_TREE_ZOMBIE ||
		    entry->exit_signal > CKPT_MAX_SIGNALS || entry->reserved)
			return bad(err, CKPT_RECORD_TREE, "bad state, exit signal or reserved field");
		if (!has_valid_owners(entries, i))
			return bad(
				err, CKPT_RECORD_TREE,
				"a sharing owner is neither its parent nor an earlier live process its parent shares with");
	}
	return 0;
}

int validate_timers_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const uint64_t a_century_us = 100ull * 366 * 24 * 3600 * 1000000;
	const struct ckpt_timers *timers = payload;

	(void)length;
	for (int i = 0; i < 3; i++) {
		if (timers->itimers[i].interval_us > a_century_us ||
		    timers->itimers[i].value_us > a_century_us)
			return bad(err, CKPT_RECORD_TIMERS, "timer value out of range");
	}
	return 0;
}

int validate_siginfo_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_siginfo *siginfo = payload;
	int32_t signal;

	(void)length;
	if (siginfo->reserved)
		return bad(err, CKPT_RECORD_SIGINFO, "wrong size or reserved field set");
	memcpy(&signal, siginfo->info, sizeof(signal));
	if (siginfo->tid < 0 || signal < 1 || signal > (int32_t)CKPT_MAX_SIGNALS)
		return bad(err, CKPT_RECORD_SIGINFO, "bad thread or signal number");
	return 0;
}

int validate_eventfd_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_eventfd *eventfd = payload;

	(void)length;
	if (eventfd->file_id == 0)
		return bad(err, CKPT_RECORD_EVENTFD, "wrong size or no file");
	if (eventfd->flags & ~(uint32_t)CKPT_EVENTFD_SEMAPHORE)
		return bad(err, CKPT_RECORD_EVENTFD, "unknown flags");
	if (eventfd->counter == UINT64_MAX)
		return bad(err, CKPT_RECORD_EVENTFD, "counter out of range");
	return 0;
}

static bool is_timerfd_clock(int32_t clock_id)
{
	return clock_id == 0 || clock_id == 1 || clock_id == 7 || clock_id == 8 || clock_id == 9;
}

int validate_timerfd_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const uint64_t a_century_ns = 100ull * 366 * 24 * 3600 * 1000000000;
	const struct ckpt_timerfd *timerfd = payload;

	(void)length;
	if (timerfd->file_id == 0 || timerfd->reserved)
		return bad(err, CKPT_RECORD_TIMERFD, "wrong size, no file or reserved field set");
	if (!is_timerfd_clock(timerfd->clock_id))
		return bad(err, CKPT_RECORD_TIMERFD, "clock not usable by a timerfd");
	if (timerfd->settime_flags & ~(uint32_t)(CKPT_TIMERFD_ABSTIME | CKPT_TIMERFD_CANCEL_ON_SET))
		return bad(err, CKPT_RECORD_TIMERFD, "unknown flags");
	if (timerfd->interval_ns > a_century_ns || timerfd->remaining_ns > a_century_ns)
		return bad(err, CKPT_RECORD_TIMERFD, "time out of range");
	if (timerfd->expiry_ns > INT64_MAX || timerfd->ticks == UINT64_MAX)
		return bad(err, CKPT_RECORD_TIMERFD, "expiry or ticks out of range");
	return 0;
}

int validate_signalfd_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_signalfd *signalfd = payload;

	(void)length;
	if (signalfd->file_id == 0 || signalfd->reserved)
		return bad(err, CKPT_RECORD_SIGNALFD, "wrong size, no file or reserved field set");
	return 0;
}

int validate_epoll_target_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_epoll_target *target = payload;

	(void)length;
	if (target->epoll_file_id == 0)
		return bad(err, CKPT_RECORD_EPOLL_TARGET, "wrong size or no epoll");
	if (target->target_file_id == 0 && target->fd > 2)
		return bad(err, CKPT_RECORD_EPOLL_TARGET, "no file for an fd above 2");
	if (target->fd < 0 || target->epoll_file_id == target->target_file_id)
		return bad(err, CKPT_RECORD_EPOLL_TARGET, "bad fd, or an epoll watching itself");
	return 0;
}

static bool is_unix_socket_type(uint32_t type)
{
	return type == SOCK_STREAM || type == SOCK_DGRAM || type == SOCK_SEQPACKET;
}

int validate_unix_socket_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const uint32_t shutdown_bits = CKPT_UNIX_SHUT_RD | CKPT_UNIX_SHUT_WR;
	const struct ckpt_unix_socket *sock = payload;

	(void)length;
	if (sock->file_id == 0 || sock->reserved)
		return bad(err, CKPT_RECORD_UNIX_SOCKET, "wrong size, no file or reserved field set");
	if (!is_unix_socket_type(sock->type))
		return bad(err, CKPT_RECORD_UNIX_SOCKET,
			   "not a stream, datagram or seqpacket socket");
	if (sock->peer_file_id == 0 || sock->peer_file_id == sock->file_id)
		return bad(err, CKPT_RECORD_UNIX_SOCKET, "no peer, or its own peer");
	if ((sock->shutdown & ~shutdown_bits) || (sock->flags & ~(uint32_t)CKPT_UNIX_PASSCRED))
		return bad(err, CKPT_RECORD_UNIX_SOCKET, "unknown shutdown bits or flags");
	if (sock->rcvbuf > INT32_MAX || sock->sndbuf > INT32_MAX)
		return bad(err, CKPT_RECORD_UNIX_SOCKET, "buffer size out of range");
	return 0;
}

/* The size rule checked the data length against the size and its limit. */
int validate_socket_queue_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_socket_queue *queue = payload;

	(void)length;
	if (queue->file_id == 0)
		return bad(err, CKPT_RECORD_SOCKET_QUEUE,
			   "no file, or more data than a record holds");
	return 0;
}

static bool is_inet_family(uint32_t family)
{
	return family == AF_INET || family == AF_INET6;
}

/* An IPv4 address fills 4 of the 16 bytes; the rest is zero. */
static bool has_clean_address(uint32_t family, const uint8_t address[16])
{
	for (size_t i = family == AF_INET ? 4 : 16; i < 16; i++) {
		if (address[i])
			return false;
	}
	return true;
}

static bool is_known_inet_state(const struct ckpt_inet_socket *sock)
{
	if (sock->state == CKPT_INET_OPEN)
		return true;
	if (sock->state == CKPT_INET_LISTENING)
		return sock->type == SOCK_STREAM && sock->local_port != 0;
	if (sock->state == CKPT_INET_ESTABLISHED)
		return sock->type == SOCK_STREAM && sock->local_port != 0 && sock->remote_port != 0;
	return sock->state == CKPT_INET_CONNECTED && sock->type == SOCK_DGRAM &&
	       sock->remote_port != 0;
}

static bool has_remote_address(const struct ckpt_inet_socket *sock)
{
	return sock->state == CKPT_INET_CONNECTED || sock->state == CKPT_INET_ESTABLISHED;
}

static bool has_tcp_fields_only_for_tcp(const struct ckpt_inet_socket *sock)
{
	if (sock->type == SOCK_STREAM)
		return true;
	return !(sock->flags & CKPT_INET_NODELAY) && sock->keepalive_idle == 0 &&
	       sock->keepalive_interval == 0 && sock->keepalive_count == 0 &&
	       sock->defer_accept == 0 && sock->fastopen == 0;
}

static bool has_device_name(const char device[CKPT_INET_DEVICE_SIZE])
{
	return memchr(device, '\0', CKPT_INET_DEVICE_SIZE) != NULL;
}

/* The fields an INET_SOCKET record and a TCP_STREAM record's socket share; type names the record. */
static int validate_inet_fields(const struct ckpt_inet_socket *sock, enum ckpt_record_type type,
				struct ckpt_error *err)
{
	if (sock->file_id == 0 || sock->reserved || sock->reserved2 || sock->reserved3)
		return bad(err, type, "wrong size, no file or reserved field set");
	if (!is_inet_family(sock->family) || (sock->type != SOCK_STREAM && sock->type != SOCK_DGRAM))
		return bad(err, type, "not a TCP or UDP socket of IPv4 or IPv6");
	if (!is_known_inet_state(sock))
		return bad(err, type, "unknown state, or a state its type or ports cannot have");
	if ((sock->flags & ~CKPT_INET_FLAGS_ALL) || !has_tcp_fields_only_for_tcp(sock) ||
	    ((sock->flags & CKPT_INET_V6ONLY) && sock->family != AF_INET6))
		return bad(err, type, "unknown flags, or options its type cannot have");
	if (!has_clean_address(sock->family, sock->local_address) ||
	    !has_clean_address(sock->family, sock->remote_address) ||
	    (!has_remote_address(sock) && sock->remote_port) ||
	    (sock->family == AF_INET && sock->scope_id))
		return bad(err, type, "addresses do not fit the family or state");
	if (sock->rcvbuf > INT32_MAX || sock->sndbuf > INT32_MAX || sock->backlog > INT32_MAX ||
	    sock->keepalive_idle > INT32_MAX || sock->keepalive_interval > INT32_MAX ||
	    sock->keepalive_count > INT32_MAX || sock->defer_accept > INT32_MAX ||
	    sock->fastopen > INT32_MAX || (sock->state != CKPT_INET_LISTENING && sock->backlog))
		return bad(err, type, "a size, count or time out of range");
	if (!has_device_name(sock->device))
		return bad(err, type, "device name not NUL-terminated");
	return 0;
}

int validate_inet_socket_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_inet_socket *sock = payload;

	(void)length;
	if (sock->state == CKPT_INET_ESTABLISHED)
		return bad(err, CKPT_RECORD_INET_SOCKET,
			   "unknown state, or a state its type or ports cannot have");
	return validate_inet_fields(sock, CKPT_RECORD_INET_SOCKET, err);
}

static bool has_valid_tcp_options(const struct ckpt_tcp_stream *stream)
{
	if (stream->options & ~CKPT_TCP_OPTIONS_ALL)
		return false;
	if (!(stream->options & CKPT_TCP_WSCALE))
		return stream->snd_wscale == 0 && stream->rcv_wscale == 0;
	return stream->snd_wscale <= CKPT_TCP_MAX_WSCALE && stream->rcv_wscale <= CKPT_TCP_MAX_WSCALE;
}

int validate_tcp_stream_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_tcp_stream *stream = payload;
	int ret = validate_inet_fields(&stream->socket, CKPT_RECORD_TCP_STREAM, err);

	(void)length;
	if (ret < 0)
		return ret;
	if (stream->socket.state != CKPT_INET_ESTABLISHED || stream->reserved || stream->reserved2)
		return bad(err, CKPT_RECORD_TCP_STREAM,
			   "not an established connection, or reserved field set");
	if (stream->send_queue_length > CKPT_MAX_TCP_QUEUE ||
	    stream->recv_queue_length > CKPT_MAX_TCP_QUEUE ||
	    stream->unsent_length > stream->send_queue_length)
		return bad(err, CKPT_RECORD_TCP_STREAM, "queue lengths out of range");
	if (!has_valid_tcp_options(stream) || stream->mss == 0 || stream->mss > 65535)
		return bad(err, CKPT_RECORD_TCP_STREAM,
			   "unknown TCP options, or window scale or MSS out of range");
	return 0;
}

/* The size rule checked the data length against the size and its limit. */
int validate_tcp_queue_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_tcp_queue *queue = payload;

	(void)length;
	if (queue->file_id == 0 || queue->length == 0 || queue->reserved)
		return bad(err, CKPT_RECORD_TCP_QUEUE, "no file, no data or reserved field set");
	if (queue->queue != CKPT_TCP_RECV_QUEUE && queue->queue != CKPT_TCP_SEND_QUEUE)
		return bad(err, CKPT_RECORD_TCP_QUEUE, "neither the receive nor the send queue");
	return 0;
}

static bool is_power_of_two(uint32_t value)
{
	return value != 0 && (value & (value - 1)) == 0;
}

int validate_pipe_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_pipe *pipe = payload;

	(void)length;
	if (pipe->file_id == 0 || pipe->pipe_file_id == 0)
		return bad(err, CKPT_RECORD_PIPE, "wrong size, no file or no pipe");
	if (pipe->pipe_file_id > pipe->file_id)
		return bad(err, CKPT_RECORD_PIPE, "its pipe's first FILE comes after it");
	if (!is_power_of_two(pipe->pipe_size) || pipe->pipe_size < CKPT_MIN_PIPE_SIZE ||
	    pipe->pipe_size > CKPT_MAX_PIPE_SIZE)
		return bad(err, CKPT_RECORD_PIPE,
			   "pipe size is not a power of two from 4096 to 2 GiB");
	if (pipe->flags & ~(uint32_t)CKPT_PIPE_PACKETS)
		return bad(err, CKPT_RECORD_PIPE, "unknown flags");
	return 0;
}

/* The size rule checked the data length against the size and its limit. */
int validate_inet_datagram_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_inet_datagram *datagram = payload;

	(void)length;
	if (datagram->file_id == 0 || datagram->reserved)
		return bad(err, CKPT_RECORD_INET_DATAGRAM, "no file or reserved field set");
	if (!is_inet_family(datagram->source_family) ||
	    !has_clean_address(datagram->source_family, datagram->source_address))
		return bad(err, CKPT_RECORD_INET_DATAGRAM,
			   "source address of no IPv4 or IPv6 family");
	return 0;
}

int validate_file_data_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_file_data *data = payload;

	(void)length;
	if (data->file_id == 0 || data->length == 0)
		return bad(err, CKPT_RECORD_FILE_DATA,
			   "no file, or no data or more than a record holds");
	return 0;
}

int validate_file_lock_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_file_lock *lock = payload;
	bool has_range = lock->kind == CKPT_LOCK_POSIX || lock->kind == CKPT_LOCK_OFD;

	(void)length;
	if (lock->file_id == 0)
		return bad(err, CKPT_RECORD_FILE_LOCK, "wrong size or no file");
	if (lock->fd < 0)
		return bad(err, CKPT_RECORD_FILE_LOCK, "negative fd");
	if (lock->kind < CKPT_LOCK_FLOCK || lock->kind > CKPT_LOCK_LEASE)
		return bad(err, CKPT_RECORD_FILE_LOCK, "unknown lock kind");
	if (lock->type != CKPT_LOCK_READ && lock->type != CKPT_LOCK_WRITE)
		return bad(err, CKPT_RECORD_FILE_LOCK, "unknown lock type");
	if (!has_range && (lock->start || lock->length))
		return bad(err, CKPT_RECORD_FILE_LOCK, "a range on a whole-file lock");
	if (lock->start > INT64_MAX || lock->length > INT64_MAX - lock->start)
		return bad(err, CKPT_RECORD_FILE_LOCK, "range out of range");
	return 0;
}

static bool is_timer_notify(uint32_t notify)
{
	return notify == CKPT_TIMER_NOTIFY_SIGNAL || notify == CKPT_TIMER_NOTIFY_NONE ||
	       notify == CKPT_TIMER_NOTIFY_THREAD || notify == CKPT_TIMER_NOTIFY_THREAD_ID;
}

int validate_posix_timer_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const uint64_t a_century_ns = 100ull * 366 * 24 * 3600 * 1000000000;
	const struct ckpt_posix_timer *timer = payload;
	bool signals = timer->notify != CKPT_TIMER_NOTIFY_NONE;

	(void)length;
	if (timer->id < 0 || timer->overrun < 0)
		return bad(err, CKPT_RECORD_POSIX_TIMER, "negative id or overrun");
	if (!is_timer_notify(timer->notify))
		return bad(err, CKPT_RECORD_POSIX_TIMER, "unknown notification");
	if (timer->signal > CKPT_MAX_SIGNALS || (signals && timer->signal == 0))
		return bad(err, CKPT_RECORD_POSIX_TIMER, "signal out of range");
	if ((timer->notify == CKPT_TIMER_NOTIFY_THREAD_ID) != (timer->thread_id > 0) ||
	    timer->thread_id < 0)
		return bad(err, CKPT_RECORD_POSIX_TIMER,
			   "thread set without SIGEV_THREAD_ID or missing with it");
	if (timer->interval_ns > a_century_ns || timer->remaining_ns > a_century_ns)
		return bad(err, CKPT_RECORD_POSIX_TIMER, "time out of range");
	return 0;
}

int validate_inotify_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_inotify *inotify = payload;

	(void)length;
	if (inotify->file_id == 0)
		return bad(err, CKPT_RECORD_INOTIFY, "wrong size or no file");
	if (inotify->watch_count > CKPT_MAX_INOTIFY_WATCHES)
		return bad(err, CKPT_RECORD_INOTIFY, "more than 65536 watches");
	return 0;
}

int validate_inotify_watch_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const struct ckpt_inotify_watch *watch = payload;
	const char *path = (const char *)(watch + 1);

	(void)length;
	if (watch->file_id == 0)
		return bad(err, CKPT_RECORD_INOTIFY_WATCH, "no file");
	if (watch->wd < 1 || watch->wd > CKPT_MAX_INOTIFY_WD)
		return bad(err, CKPT_RECORD_INOTIFY_WATCH, "wd out of range");
	if ((watch->mask & ~CKPT_INOTIFY_MASK_BITS) || !(watch->mask & 0xfffu))
		return bad(err, CKPT_RECORD_INOTIFY_WATCH, "mask with unknown bits or no event");
	if (path[0] != '/')
		return bad(err, CKPT_RECORD_INOTIFY_WATCH, "path is not absolute");
	return 0;
}

/* The size rule checked the data length against the size and its limit. */
int validate_pty_record(const void *payload, uint64_t length, struct ckpt_error *err)
{
	const uint32_t known_flags = CKPT_PTY_PACKET | CKPT_PTY_LOCKED | CKPT_PTY_EXCLUSIVE;
	const struct ckpt_pty *pty = payload;

	(void)length;
	if (pty->file_id == 0 || pty->reserved2 || pty->reserved3)
		return bad(err, CKPT_RECORD_PTY, "no file or reserved field set");
	if (pty->role != CKPT_PTY_MASTER && pty->role != CKPT_PTY_SLAVE)
		return bad(err, CKPT_RECORD_PTY, "neither a master nor a slave");
	if (pty->peer_file_id == pty->file_id ||
	    (pty->role == CKPT_PTY_SLAVE && pty->peer_file_id == 0))
		return bad(err, CKPT_RECORD_PTY, "a slave without its master, or its own other end");
	if (pty->flags & ~known_flags)
		return bad(err, CKPT_RECORD_PTY, "unknown flags");
	if (pty->input_length > pty->data_length || (pty->role == CKPT_PTY_SLAVE && pty->data_length))
		return bad(err, CKPT_RECORD_PTY, "input longer than its data, or data on a slave");
	if (pty->session < 0 || pty->foreground_pgrp < 0 ||
	    (pty->session == 0 && pty->foreground_pgrp))
		return bad(err, CKPT_RECORD_PTY, "bad session or foreground process group");
	return 0;
}
