/* SPDX-License-Identifier: MIT */
/* Loading an image's metadata and checking the rules that span records. */
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "image/records.h"

static void *keep_in(struct block_list *list, const void *data, size_t length, struct ckpt_error *err)
{
	void **blocks = realloc(list->blocks, (list->count + 1) * sizeof(*blocks));
	void *copy;

	if (!blocks) {
		fail(err, ENOMEM, "loading the image: out of memory");
		return NULL;
	}
	list->blocks = blocks;
	copy = malloc(length ? length : 1);
	if (!copy) {
		fail(err, ENOMEM, "loading the image: out of memory");
		return NULL;
	}
	memcpy(copy, data, length);
	list->blocks[list->count++] = copy;
	return copy;
}

static void *keep_copy(struct image_process *image, const void *data, size_t length,
		       struct ckpt_error *err)
{
	return keep_in(&image->blocks, data, length, err);
}

static void free_blocks(struct block_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->blocks[i]);
	free(list->blocks);
	memset(list, 0, sizeof(*list));
}

/* Appends one element to a growing array owned by the image. */
static void *append(void **array, size_t *count, size_t element_size, struct ckpt_error *err)
{
	char *grown = realloc(*array, (*count + 1) * element_size);

	if (!grown) {
		fail(err, ENOMEM, "loading the image: out of memory");
		return NULL;
	}
	*array = grown;
	(*count)++;
	return grown + (*count - 1) * element_size;
}

void image_process_free(struct image_process *image)
{
	if (image->owned_tree) {
		image_tree_free(image->owned_tree);
		free(image->owned_tree);
	}
	free_blocks(&image->blocks);
	free(image->fds);
	free(image->threads);
	free(image->seccomp_filters);
	free(image->vmas);
	free(image->pending);
	free(image->posix_timers);
	free(image->locks);
	memset(image, 0, sizeof(*image));
}

const struct image_file *image_find_file(const struct image_process *image, uint32_t id)
{
	if (id == 0 || id > image->file_count)
		return NULL;
	return &image->files[id - 1];
}

bool vma_holds_pages(const struct ckpt_vma *vma)
{
	return vma->kind == CKPT_VMA_ANON || vma->kind == CKPT_VMA_FILE_PRIVATE ||
	       vma->kind == CKPT_VMA_SHARED_ANON;
}

static int out_of_order(struct ckpt_error *err, const struct image_record *record,
			const char *expected)
{
	return fail(err, EINVAL, "bad image: %s record at byte %llu where %s was expected",
		    record_type_name(record->type), (unsigned long long)record->offset, expected);
}

static int expect_record(struct image_reader *reader, enum ckpt_record_type type,
			 struct image_record *record)
{
	int ret = image_read_record(reader, record);

	if (ret == -ENODATA)
		return fail(reader->err, EINVAL, "bad image: stream ends before its %s record%s",
			    record_type_name(type), reader->offset == 0 ? " (empty image)" : "");
	if (ret < 0)
		return ret;
	if (record->type != type)
		return out_of_order(reader->err, record, record_type_name(type));
	return 0;
}

static int load_process_record(const struct image_record *record, struct image_process *image,
			       struct ckpt_error *err)
{
	memcpy(&image->process, record->payload, sizeof(image->process));
	image->cwd = keep_copy(image, (const char *)record->payload + sizeof(image->process),
			       image->process.cwd_length, err);
	return image->cwd ? 0 : -ENOMEM;
}

static int load_identity(struct image_reader *reader, struct image_process *image)
{
	struct image_record record;
	int ret;

	ret = expect_record(reader, CKPT_RECORD_CREDS, &record);
	if (ret < 0)
		return ret;
	memcpy(&image->creds, record.payload, sizeof(image->creds));
	image->groups = keep_copy(image, (const char *)record.payload + sizeof(image->creds),
				  image->creds.group_count * sizeof(uint32_t), reader->err);
	if (!image->groups)
		return -ENOMEM;
	ret = expect_record(reader, CKPT_RECORD_RLIMITS, &record);
	if (ret < 0)
		return ret;
	memcpy(&image->rlimits, record.payload, sizeof(image->rlimits));
	ret = expect_record(reader, CKPT_RECORD_SIGACTIONS, &record);
	if (ret < 0)
		return ret;
	memcpy(&image->sigactions, record.payload, sizeof(image->sigactions));
	ret = expect_record(reader, CKPT_RECORD_TIMERS, &record);
	if (ret < 0)
		return ret;
	memcpy(&image->timers, record.payload, sizeof(image->timers));
	return 0;
}

/* Shared anonymous memory exists only as mappings; a memfd may be an fd too. */
static bool is_openable_file(const struct image_file *file)
{
	return !file_kind_has(file->file.kind, FILE_KIND_MAPPING_ONLY) ||
	       (file->file.flags & CKPT_FILE_MEMFD);
}

static int add_fd(struct image_process *image, const struct image_record *record,
		  struct ckpt_error *err)
{
	const struct ckpt_fd *fd = record->payload;
	struct ckpt_fd *slot;

	if (image->fd_count > 0 && fd->fd <= image->fds[image->fd_count - 1].fd)
		return fail(err, EINVAL, "bad image: FD records out of order or repeated at fd %d",
			    fd->fd);
	if (fd->file_id != 0 && !image_find_file(image, fd->file_id))
		return fail(err, EINVAL, "bad image: fd %d refers to missing file %u", fd->fd,
			    fd->file_id);
	if (fd->file_id != 0 && !is_openable_file(image_find_file(image, fd->file_id)))
		return fail(err, EINVAL,
			    "bad image: fd %d refers to shared memory that is not a memfd", fd->fd);
	slot = append((void **)&image->fds, &image->fd_count, sizeof(*slot), err);
	if (!slot)
		return -ENOMEM;
	*slot = *fd;
	return 0;
}

static int load_mm(struct image_process *image, const struct image_record *record,
		   struct ckpt_error *err)
{
	memcpy(&image->mm, record->payload, sizeof(image->mm));
	if (image->mm.exe_file_id != 0 && !image_find_file(image, image->mm.exe_file_id))
		return fail(err, EINVAL, "bad image: MM refers to missing file %u",
			    image->mm.exe_file_id);
	image->auxv = keep_copy(image, (const char *)record->payload + sizeof(image->mm),
				image->mm.auxv_words * sizeof(uint64_t), err);
	return image->auxv ? 0 : -ENOMEM;
}

static int add_posix_timer(struct image_process *image, const struct image_record *record,
			   struct ckpt_error *err)
{
	const struct ckpt_posix_timer *timer = record->payload;
	struct ckpt_posix_timer *slot;

	if (image->fd_count > 0 || image->lock_count > 0)
		return out_of_order(err, record, "FD, FILE_LOCK or MM");
	for (size_t i = 0; i < image->posix_timer_count; i++) {
		if (image->posix_timers[i].id == timer->id)
			return fail(err, EINVAL, "bad image: POSIX timer %d appears twice",
				    timer->id);
	}
	if (image->posix_timer_count >= CKPT_MAX_POSIX_TIMERS)
		return fail(err, EINVAL, "bad image: more than %u POSIX timers",
			    CKPT_MAX_POSIX_TIMERS);
	slot = append((void **)&image->posix_timers, &image->posix_timer_count, sizeof(*slot), err);
	if (!slot)
		return -ENOMEM;
	*slot = *timer;
	return 0;
}

static const struct ckpt_fd *find_fd(const struct image_process *image, int32_t number)
{
	for (size_t i = 0; i < image->fd_count; i++) {
		if (image->fds[i].fd == number)
			return &image->fds[i];
	}
	return NULL;
}

/* A lock is taken through an fd of the process, open on the lock's FILE. */
static int add_lock(struct image_process *image, const struct image_record *record,
		    struct ckpt_error *err)
{
	const struct ckpt_file_lock *lock = record->payload;
	const struct ckpt_fd *fd = find_fd(image, lock->fd);
	struct ckpt_file_lock *slot;

	if (!fd || fd->file_id != lock->file_id)
		return fail(err, EINVAL, "bad image: a lock through fd %d, not an fd of file %u",
			    lock->fd, lock->file_id);
	if (image->lock_count >= CKPT_MAX_FILE_LOCKS)
		return fail(err, EINVAL, "bad image: more than %u file locks", CKPT_MAX_FILE_LOCKS);
	slot = append((void **)&image->locks, &image->lock_count, sizeof(*slot), err);
	if (!slot)
		return -ENOMEM;
	*slot = *lock;
	return 0;
}

static int add_fd_in_order(struct image_process *image, const struct image_record *record,
			   struct ckpt_error *err)
{
	if (image->lock_count > 0)
		return out_of_order(err, record, "FILE_LOCK or MM");
	return add_fd(image, record, err);
}

/* A POSIX timer that signals one thread names a thread of the process. */
static int check_timer_threads(const struct image_process *image, struct ckpt_error *err)
{
	for (size_t i = 0; i < image->posix_timer_count; i++) {
		int32_t tid = image->posix_timers[i].thread_id;
		bool found = tid == 0;

		for (size_t t = 0; !found && t < image->thread_count; t++)
			found = image->threads[t].thread.tid == tid;
		if (!found)
			return fail(err, EINVAL,
				    "bad image: POSIX timer %d signals thread %d, not in the image",
				    image->posix_timers[i].id, tid);
	}
	return 0;
}

/* POSIX_TIMER* FD* FILE_LOCK* MM, in that order. */
static int load_fds_and_mm(struct image_reader *reader, struct image_process *image)
{
	struct image_record record;
	int ret;

	for (;;) {
		ret = image_read_record(reader, &record);
		if (ret == -ENODATA)
			return fail(reader->err, EINVAL,
				    "bad image: stream ends before its MM record");
		if (ret < 0)
			return ret;
		if (record.type == CKPT_RECORD_FD)
			ret = add_fd_in_order(image, &record, reader->err);
		else if (record.type == CKPT_RECORD_POSIX_TIMER)
			ret = add_posix_timer(image, &record, reader->err);
		else if (record.type == CKPT_RECORD_FILE_LOCK)
			ret = add_lock(image, &record, reader->err);
		else if (record.type == CKPT_RECORD_MM)
			return load_mm(image, &record, reader->err);
		else
			return out_of_order(reader->err, &record, "FD, FILE_LOCK or MM");
		if (ret < 0)
			return ret;
	}
}

static int check_thread(const struct image_process *image, const struct image_thread *added,
			struct ckpt_error *err)
{
	if (added->thread.xstate_size != image->head.xstate_size)
		return fail(err, EINVAL,
			    "bad image: xstate size %u of thread %d differs from the head's %u",
			    added->thread.xstate_size, added->thread.tid, image->head.xstate_size);
	for (const struct image_thread *other = image->threads; other < added; other++) {
		if (other->thread.tid == added->thread.tid)
			return fail(err, EINVAL, "bad image: thread %d appears twice",
				    added->thread.tid);
	}
	return 0;
}

static int load_threads(struct image_reader *reader, struct image_process *image)
{
	struct image_record record;

	for (uint32_t i = 0; i < image->process.thread_count; i++) {
		struct image_thread *slot;
		int ret = expect_record(reader, CKPT_RECORD_THREAD, &record);

		if (ret < 0)
			return ret;
		slot = append((void **)&image->threads, &image->thread_count, sizeof(*slot),
			      reader->err);
		if (!slot)
			return -ENOMEM;
		memcpy(&slot->thread, record.payload, sizeof(slot->thread));
		ret = check_thread(image, slot, reader->err);
		if (ret < 0)
			return ret;
		slot->xstate = keep_copy(image, (const char *)record.payload + sizeof(slot->thread),
					 slot->thread.xstate_size, reader->err);
		if (!slot->xstate)
			return -ENOMEM;
	}
	if (image->threads[0].thread.tid != image->process.pid)
		return fail(reader->err, EINVAL, "bad image: first thread %d is not the process %d",
			    image->threads[0].thread.tid, image->process.pid);
	return 0;
}

static int check_vma_file(const struct image_process *image, const struct ckpt_vma *vma,
			  struct ckpt_error *err)
{
	const struct image_file *file;
	uint32_t expected;

	if (vma->file_id == 0)
		return 0;
	file = image_find_file(image, vma->file_id);
	expected = vma->kind == CKPT_VMA_SHARED_ANON ? CKPT_FILE_SHMEM : CKPT_FILE_REGULAR;
	if (!file || file->file.kind != expected)
		return fail(err, EINVAL,
			    "bad image: VMA at %#llx maps a missing file or one of the wrong kind (%u)",
			    (unsigned long long)vma->start, vma->file_id);
	return 0;
}

static int add_vma(struct image_process *image, const struct image_record *record,
		   struct ckpt_error *err)
{
	const struct ckpt_vma *vma = record->payload;
	struct ckpt_vma *slot;
	int ret;

	if (image->vma_count > 0 && vma->start < image->vmas[image->vma_count - 1].end)
		return fail(err, EINVAL,
			    "bad image: VMA at %#llx overlaps or precedes the one before",
			    (unsigned long long)vma->start);
	if (vma->page_count > 0 && !vma_holds_pages(vma))
		return fail(err, EINVAL, "bad image: VMA at %#llx of this kind cannot hold pages",
			    (unsigned long long)vma->start);
	ret = check_vma_file(image, vma, err);
	if (ret < 0)
		return ret;
	slot = append((void **)&image->vmas, &image->vma_count, sizeof(*slot), err);
	if (!slot)
		return -ENOMEM;
	*slot = *vma;
	return 0;
}

static bool has_thread(const struct image_process *image, int32_t tid)
{
	for (size_t i = 0; i < image->thread_count; i++) {
		if (image->threads[i].thread.tid == tid)
			return true;
	}
	return false;
}

static int add_pending_signal(struct image_process *image, const struct image_record *record,
			      struct ckpt_error *err)
{
	const struct ckpt_siginfo *siginfo = record->payload;
	struct ckpt_siginfo *slot;

	if (image->vma_count > 0)
		return out_of_order(err, record, "VMA, PAGES, PROCESS or TAIL");
	if (siginfo->tid != 0 && !has_thread(image, siginfo->tid))
		return fail(err, EINVAL,
			    "bad image: a pending signal for thread %d, not in the image",
			    siginfo->tid);
	slot = append((void **)&image->pending, &image->pending_count, sizeof(*slot), err);
	if (!slot)
		return -ENOMEM;
	*slot = *siginfo;
	return 0;
}

static const struct ckpt_thread *find_thread(const struct image_process *image, int32_t tid)
{
	for (size_t i = 0; i < image->thread_count; i++) {
		if (image->threads[i].thread.tid == tid)
			return &image->threads[i].thread;
	}
	return NULL;
}

static size_t count_seccomp_filters(const struct image_process *image, int32_t tid)
{
	size_t count = 0;

	for (size_t i = 0; i < image->seccomp_filter_count; i++)
		count += image->seccomp_filters[i].filter.tid == tid;
	return count;
}

static int add_seccomp_filter(struct image_process *image, const struct image_record *record,
			      struct ckpt_error *err)
{
	const struct ckpt_seccomp *filter = record->payload;
	const struct ckpt_thread *thread = find_thread(image, filter->tid);
	struct image_seccomp *slot;

	if (image->vma_count > 0)
		return out_of_order(err, record, "VMA, PAGES, PROCESS or TAIL");
	if (!thread)
		return fail(err, EINVAL,
			    "bad image: a seccomp filter for thread %d, not in the image",
			    filter->tid);
	if (count_seccomp_filters(image, filter->tid) >= thread->seccomp_filter_count)
		return fail(err, EINVAL,
			    "bad image: more seccomp filters for thread %d than its THREAD record counts",
			    filter->tid);
	slot = append((void **)&image->seccomp_filters, &image->seccomp_filter_count, sizeof(*slot),
		      err);
	if (!slot)
		return -ENOMEM;
	slot->filter = *filter;
	slot->program = keep_copy(image, filter + 1, (size_t)filter->instruction_count * 8, err);
	return slot->program ? 0 : -ENOMEM;
}

static int check_seccomp_filters_complete(const struct image_process *image, struct ckpt_error *err)
{
	for (size_t i = 0; i < image->thread_count; i++) {
		const struct ckpt_thread *thread = &image->threads[i].thread;

		if (count_seccomp_filters(image, thread->tid) != thread->seccomp_filter_count)
			return fail(err, EINVAL,
				    "bad image: thread %d has %zu seccomp filters, its THREAD record counts %u",
				    thread->tid, count_seccomp_filters(image, thread->tid),
				    thread->seccomp_filter_count);
	}
	return 0;
}

/* A process sharing another's memory has no VMA of its own: the owner holds them. */
static int check_memory_present(const struct image_process *image, struct ckpt_error *err)
{
	bool shares_mm = shares_with_other(image->entry.mm_owner, image->entry.pid);

	if (image->vma_count == 0 && !shares_mm)
		return fail(err, EINVAL, "bad image: no memory (no VMA records)");
	if (image->vma_count > 0 && shares_mm)
		return fail(err, EINVAL,
			    "bad image: process %d shares the memory of %d but has VMA records",
			    image->entry.pid, image->entry.mm_owner);
	return 0;
}

static int load_vmas(struct image_reader *reader, struct image_process *image,
		     struct image_record *ret_next)
{
	for (;;) {
		int ret = image_read_record(reader, ret_next);

		if (ret == -ENODATA)
			return fail(reader->err, EINVAL,
				    "bad image: truncated: stream ends without a tail record");
		if (ret < 0)
			return ret;
		if (ret_next->type == CKPT_RECORD_PAGES || ret_next->type == CKPT_RECORD_TAIL ||
		    ret_next->type == CKPT_RECORD_PROCESS)
			break;
		if (ret_next->type == CKPT_RECORD_SIGINFO || ret_next->type == CKPT_RECORD_SECCOMP) {
			ret = ret_next->type == CKPT_RECORD_SIGINFO
				      ? add_pending_signal(image, ret_next, reader->err)
				      : add_seccomp_filter(image, ret_next, reader->err);
			if (ret < 0)
				return ret;
			continue;
		}
		if (ret_next->type != CKPT_RECORD_VMA)
			return out_of_order(reader->err, ret_next, "VMA, PAGES, PROCESS or TAIL");
		ret = add_vma(image, ret_next, reader->err);
		if (ret < 0)
			return ret;
	}
	if (check_seccomp_filters_complete(image, reader->err) < 0)
		return reader->err->code;
	return check_memory_present(image, reader->err);
}

static int check_process_in_tree(struct image_tree *tree, struct image_process *image,
				 const struct image_record *record, struct ckpt_error *err)
{
	const struct ckpt_tree_entry *entry = NULL;

	while (tree->next_entry < tree->entry_count && !entry) {
		if (tree->entries[tree->next_entry].state == CKPT_TREE_ALIVE)
			entry = &tree->entries[tree->next_entry];
		tree->next_entry++;
	}
	if (!entry)
		return fail(err, EINVAL, "bad image: PROCESS record at byte %llu is not in the tree",
			    (unsigned long long)record->offset);
	if (entry->pid != image->process.pid)
		return fail(err, EINVAL, "bad image: PROCESS %d where the tree has %d next",
			    image->process.pid, entry->pid);
	image->entry = *entry;
	return 0;
}

static int check_fds_in_range(const struct image_tree *tree, const struct image_process *image,
			      struct ckpt_error *err)
{
	if (image->fd_count && shares_with_other(image->entry.files_owner, image->entry.pid))
		return fail(err, EINVAL,
			    "bad image: process %d shares the fd table of %d but has FD records",
			    image->entry.pid, image->entry.files_owner);
	if (image->fd_count && image->fds[image->fd_count - 1].fd > (int32_t)tree->highest_fd)
		return fail(err, EINVAL, "bad image: fd %d is above the tree's highest fd %u",
			    image->fds[image->fd_count - 1].fd, tree->highest_fd);
	return 0;
}

int image_load_process(struct image_reader *reader, struct image_tree *tree,
		       const struct image_record *first, struct image_process *image,
		       struct image_record *ret_next)
{
	int ret;

	memset(image, 0, sizeof(*image));
	image->head = tree->head;
	image->files = tree->files;
	image->file_count = tree->file_count;
	if (first->type != CKPT_RECORD_PROCESS)
		return out_of_order(reader->err, first, "PROCESS");
	ret = load_process_record(first, image, reader->err);
	if (ret == 0)
		ret = check_process_in_tree(tree, image, first, reader->err);
	if (ret == 0)
		ret = load_identity(reader, image);
	if (ret == 0)
		ret = load_fds_and_mm(reader, image);
	if (ret == 0)
		ret = check_fds_in_range(tree, image, reader->err);
	if (ret == 0)
		ret = load_threads(reader, image);
	if (ret == 0)
		ret = check_timer_threads(image, reader->err);
	if (ret == 0)
		ret = load_vmas(reader, image, ret_next);
	return ret;
}

static int add_file(struct image_tree *tree, const struct image_record *record, struct ckpt_error *err)
{
	const struct ckpt_file *file = record->payload;
	struct image_file *slot;

	if (file->id != tree->file_count + 1)
		return fail(err, EINVAL,
			    "bad image: FILE record at byte %llu has id %u, expected %zu",
			    (unsigned long long)record->offset, file->id, tree->file_count + 1);
	slot = append((void **)&tree->files, &tree->file_count, sizeof(*slot), err);
	if (!slot)
		return -ENOMEM;
	memset(slot, 0, sizeof(*slot));
	slot->file = *file;
	slot->path = keep_in(&tree->blocks, file + 1, file->path_length, err);
	return slot->path ? 0 : -ENOMEM;
}

/*
 * A FILE kind's state record (EVENTFD, TIMERFD, SIGNALFD, UNIX_SOCKET):
 * right after the FILE it belongs to (file_id is the first field), kept
 * whole until the tree is released.
 */
static int add_file_state(struct image_tree *tree, const struct image_record *record,
			  const struct file_kind_info *kind, struct ckpt_error *err)
{
	uint32_t file_id;
	struct image_file *file;

	memcpy(&file_id, record->payload, sizeof(file_id));
	file = tree->file_count ? &tree->files[tree->file_count - 1] : NULL;
	if (!file || file->file.id != file_id || file->state || file->file.kind != kind->kind)
		return fail(err, EINVAL,
			    "bad image: %s record at byte %llu does not follow its FILE %u",
			    record_type_name(record->type), (unsigned long long)record->offset,
			    file_id);
	file->state = keep_in(&tree->blocks, record->payload, record->length, err);
	return file->state ? 0 : -ENOMEM;
}

/* A queue record (SOCKET_QUEUE, INET_DATAGRAM: both begin with file_id, length): after its file's state record, kept whole until the tree is released. */
static int add_file_queue(struct image_tree *tree, const struct image_record *record,
			  const struct file_kind_info *kind, struct ckpt_error *err)
{
	const struct ckpt_socket_queue *queue = record->payload;
	struct image_file *file = tree->file_count ? &tree->files[tree->file_count - 1] : NULL;
	const struct ckpt_socket_queue *kept, **slot;

	if (!file || file->file.id != queue->file_id || !file->state || file->file.kind != kind->kind)
		return fail(err, EINVAL,
			    "bad image: %s record at byte %llu does not follow its %s %u",
			    record_type_name(record->type), (unsigned long long)record->offset,
			    record_type_name(kind->state_record), queue->file_id);
	kept = keep_in(&tree->blocks, record->payload, record->length, err);
	if (!kept)
		return -ENOMEM;
	slot = append((void **)&file->queue, &file->queue_count, sizeof(*slot), err);
	if (!slot)
		return -ENOMEM;
	*slot = kept;
	return 0;
}

static int add_epoll_target(struct image_tree *tree, const struct image_record *record,
			    struct ckpt_error *err)
{
	const struct ckpt_epoll_target *target = record->payload;
	struct ckpt_epoll_target *slot;

	if (target->epoll_file_id > tree->file_count || target->target_file_id > tree->file_count ||
	    !file_kind_has(tree->files[target->epoll_file_id - 1].file.kind, FILE_KIND_HAS_TARGETS))
		return fail(err, EINVAL,
			    "bad image: EPOLL_TARGET record at byte %llu names missing files or a file that is no epoll",
			    (unsigned long long)record->offset);
	slot = append((void **)&tree->epoll_targets, &tree->epoll_target_count, sizeof(*slot), err);
	if (!slot)
		return -ENOMEM;
	*slot = *target;
	return 0;
}

/* One record of the files part: FILE, its kind's state or queue records, or EPOLL_TARGET (after every FILE). */
static int add_files_record(struct image_tree *tree, const struct image_record *record,
			    struct ckpt_error *err)
{
	bool targets_begun = tree->epoll_target_count > 0;
	const struct file_kind_info *kind;

	if (record->type == CKPT_RECORD_EPOLL_TARGET)
		return add_epoll_target(tree, record, err);
	if (targets_begun)
		return out_of_order(err, record, "EPOLL_TARGET or PROCESS");
	if (record->type == CKPT_RECORD_FILE)
		return add_file(tree, record, err);
	kind = find_file_kind_of_state(record->type);
	if (record->type == kind->queue_record)
		return add_file_queue(tree, record, kind, err);
	return add_file_state(tree, record, kind, err);
}

static bool is_files_record(enum ckpt_record_type type)
{
	return type == CKPT_RECORD_FILE || type == CKPT_RECORD_EPOLL_TARGET ||
	       find_file_kind_of_state(type) != NULL;
}

/* Every file has the state record its kind needs, and its links (a socket's peer) hold. */
static int check_file_states(const struct image_tree *tree, struct ckpt_error *err)
{
	for (size_t i = 0; i < tree->file_count; i++) {
		const struct image_file *file = &tree->files[i];
		const struct file_kind_info *kind = find_file_kind(file->file.kind);

		if (kind->state_record && !file->state)
			return fail(err, EINVAL, "bad image: FILE %u (%s) has no state record",
				    file->file.id, file->path);
		if (kind->check_links) {
			int ret = kind->check_links(tree, file, err);

			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

static const struct ckpt_tree_entry *find_entry(const struct image_tree *tree, int32_t pid,
						size_t before)
{
	for (size_t i = 0; i < before; i++) {
		if (tree->entries[i].pid == pid)
			return &tree->entries[i];
	}
	return NULL;
}

/* Unique PIDs, a live root, and every parent listed (alive) before its children. */
static int check_tree(const struct image_tree *tree, struct ckpt_error *err)
{
	if (tree->entries[0].state != CKPT_TREE_ALIVE)
		return fail(err, EINVAL, "bad image: the root of the tree is not alive");
	for (size_t i = 0; i < tree->entry_count; i++) {
		const struct ckpt_tree_entry *entry = &tree->entries[i];
		const struct ckpt_tree_entry *parent = find_entry(tree, entry->ppid, i);

		if (find_entry(tree, entry->pid, i))
			return fail(err, EINVAL, "bad image: process %d appears twice in the tree",
				    entry->pid);
		if (i > 0 && (!parent || parent->state != CKPT_TREE_ALIVE))
			return fail(err, EINVAL,
				    "bad image: the parent %d of process %d is not listed before it",
				    entry->ppid, entry->pid);
	}
	return 0;
}

static int load_tree_record(struct image_reader *reader, struct image_tree *tree)
{
	struct image_record record;
	const struct ckpt_tree *header;
	int ret = expect_record(reader, CKPT_RECORD_TREE, &record);

	if (ret < 0)
		return ret;
	header = record.payload;
	tree->entry_count = header->count;
	tree->highest_fd = header->highest_fd;
	tree->entries = keep_in(&tree->blocks, header + 1, header->count * sizeof(*tree->entries),
				reader->err);
	if (!tree->entries)
		return -ENOMEM;
	return check_tree(tree, reader->err);
}

int image_load_tree(struct image_reader *reader, struct image_tree *tree,
		    struct image_record *ret_next)
{
	struct image_record record;
	int ret;

	memset(tree, 0, sizeof(*tree));
	ret = expect_record(reader, CKPT_RECORD_HEAD, &record);
	if (ret < 0)
		return ret;
	memcpy(&tree->head, record.payload, sizeof(tree->head));
	ret = load_tree_record(reader, tree);
	while (ret == 0) {
		ret = image_read_record(reader, ret_next);
		if (ret == -ENODATA)
			return fail(reader->err, EINVAL,
				    "bad image: stream ends before its first PROCESS record");
		if (ret < 0 || !is_files_record(ret_next->type))
			break;
		ret = add_files_record(tree, ret_next, reader->err);
	}
	if (ret == 0)
		ret = check_file_states(tree, reader->err);
	if (ret == 0 && ret_next->type != CKPT_RECORD_PROCESS)
		return out_of_order(reader->err, ret_next, "FILE or PROCESS");
	return ret;
}

void image_tree_free(struct image_tree *tree)
{
	free_blocks(&tree->blocks);
	for (size_t i = 0; i < tree->file_count; i++)
		free(tree->files[i].queue);
	free(tree->files);
	free(tree->epoll_targets);
	memset(tree, 0, sizeof(*tree));
}
