/*
 * fdbudget.c - owns the accounting of descriptors kept open by topics
 * (fdbudget.h): the list of users, most recently counted first, and the
 * eviction of those counted longest ago.
 */
#include "fdbudget.h"

#include <sys/resource.h>

#include "util/lockcheck.h"

void fd_budget_init(struct fd_budget *b, long limit,
		    bool (*evict)(struct fd_user *u, void *arg), void *arg)
{
	pthread_mutex_init(&b->mu, NULL);
	b->head = b->tail = NULL;
	b->fds = 0;
	if (limit <= 0) {
		struct rlimit rl;
		long lim = 1024;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
			lim = (long)rl.rlim_cur;
		limit = lim > 2048 ? lim - 512 : lim / 2;
	}
	b->limit = limit;
	b->evict = evict;
	b->arg = arg;
}

void fd_budget_destroy(struct fd_budget *b)
{
	pthread_mutex_destroy(&b->mu);
}

/* Take U off the list and forget its count; b->mu held. */
static void unlink_locked(struct fd_budget *b, struct fd_user *u)
{
	LOCK_ASSERT_HELD(&b->mu);
	if (u->prev)
		u->prev->next = u->next;
	else
		b->head = u->next;
	if (u->next)
		u->next->prev = u->prev;
	else
		b->tail = u->prev;
	u->prev = u->next = NULL;
	u->linked = false;
	b->fds -= u->count;
	u->count = 0;
}

/* Close the files of users other than SELF until under the budget; b->mu
 * held. */
static void evict_locked(struct fd_budget *b, struct fd_user *self)
{
	LOCK_ASSERT_HELD(&b->mu);
	long target = b->limit - b->limit / 10;
	struct fd_user *x = b->tail;
	while (x && b->fds > target) {
		struct fd_user *prev = x->prev;
		if (x != self && b->evict && b->evict(x, b->arg))
			unlink_locked(b, x);
		x = prev;
	}
}

void fd_budget_add(struct fd_budget *b, struct fd_user *u, long n)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->mu);
	if (!u->linked) {
		u->prev = NULL;
		u->next = b->head;
		if (b->head)
			b->head->prev = u;
		b->head = u;
		if (!b->tail)
			b->tail = u;
		u->linked = true;
	}
	u->count += n;
	b->fds += n;
	if (b->fds > b->limit)
		evict_locked(b, u);
	pthread_mutex_unlock(&b->mu);
}

void fd_budget_remove(struct fd_budget *b, struct fd_user *u)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->mu);
	if (u->linked)
		unlink_locked(b, u);
	pthread_mutex_unlock(&b->mu);
}
