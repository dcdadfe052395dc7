/*
 * The robust futex list: glibc registers its head with set_robust_list();
 * a robust mutex held by the thread sits on that list.  After restart
 * get_robust_list(0) gives the same head and length, the list still leads
 * to the held mutex, and the mutex can be unlocked and locked again.
 */
#include "state.h"

#include <linux/futex.h>
#include <pthread.h>

static pthread_mutex_t robust_mutex;
static struct robust_list_head *head_before;
static size_t length_before;

static void get_robust_list_of_self(struct robust_list_head **ret_head, size_t *ret_length)
{
	struct robust_list_head *head = NULL;
	size_t length = 0;

	if (syscall(SYS_get_robust_list, 0, &head, &length) != 0)
		state_expect(false, "get_robust_list: %s", strerror(errno));
	*ret_head = head;
	*ret_length = length;
}

static void lock_robust_mutex(void)
{
	pthread_mutexattr_t attributes;

	pthread_mutexattr_init(&attributes);
	pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&robust_mutex, &attributes);
	pthread_mutexattr_destroy(&attributes);
	if (pthread_mutex_lock(&robust_mutex) != 0)
		state_setup_fail("lock robust mutex");
}

static bool list_holds_mutex(const struct robust_list_head *head)
{
	const struct robust_list *entry = head->list.next;

	for (int steps = 0; steps < 16 && entry != &head->list; steps++) {
		if ((const void *)entry == (const void *)&robust_mutex.__data.__list.__next)
			return true;
		entry = entry->next;
	}
	return false;
}

int main(void)
{
	struct robust_list_head *head_after;
	size_t length_after;

	state_init();
	lock_robust_mutex();
	get_robust_list_of_self(&head_before, &length_before);
	if (head_before == NULL || !list_holds_mutex(head_before))
		state_setup_fail("robust list does not hold the mutex");
	state_ready();
	state_wait_go_signal();
	get_robust_list_of_self(&head_after, &length_after);
	state_expect(head_after == head_before, "robust list head is %p, was %p",
		     (void *)head_after, (void *)head_before);
	state_expect(length_after == length_before, "robust list length is %zu, was %zu",
		     length_after, length_before);
	state_expect(list_holds_mutex(head_after), "robust list no longer holds the mutex");
	state_expect(pthread_mutex_unlock(&robust_mutex) == 0, "unlock of the robust mutex");
	state_expect(pthread_mutex_lock(&robust_mutex) == 0, "relock of the robust mutex");
	state_finish();
}
