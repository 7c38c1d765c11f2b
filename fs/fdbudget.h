/*
 * fdbudget.h - the budget of file descriptors the topics of a namespace may
 * keep open. Every idle topic would hold two descriptors per segment; with
 * thousands of topics that passes the process limit. So a topic opens its
 * segment files when it is used and counts them here; past the budget (the
 * limit less a reserve for FUSE, sockets and metadata files), the files of
 * the users counted longest ago are closed again through the EVICT
 * callback, which may refuse (a user busy right now) and must never wait
 * for a lock: it is called with the budget's mutex held, from inside some
 * other topic's use.
 *
 * The namespace owns one (ns->fds) and hands it to its topics through
 * struct topic_opts. Locking: fd_budget.mu, taken inside a topic's open_mu
 * (docs/architecture.md); EVICT only trylocks.
 */
#ifndef STREAMFS_FDBUDGET_H
#define STREAMFS_FDBUDGET_H

#include <pthread.h>
#include <stdbool.h>

/* One user of descriptors (embedded in a topic). Zero it to start. */
struct fd_user {
	struct fd_user *prev, *next;	/* most recently counted first */
	long count;			/* descriptors counted for it */
	bool linked;
};

struct fd_budget {
	pthread_mutex_t mu;	/* everything below */
	struct fd_user *head, *tail;
	long fds;		/* counted in all */
	long limit;		/* evict past this */
	/* Close U's descriptors if it is not busy: true if closed (the budget
	 * then forgets U's count). Called with mu held; must not block. */
	bool (*evict)(struct fd_user *u, void *arg);
	void *arg;
};

/*
 * fd_budget_init - an empty budget of LIMIT descriptors (0: from the
 * process's RLIMIT_NOFILE as it is now, less a reserve: the limit less 512
 * above 2,048, else half of it), closing through EVICT (ARG).
 * fd_budget_destroy - free it (its users must be gone).
 */
void fd_budget_init(struct fd_budget *b, long limit,
		    bool (*evict)(struct fd_user *u, void *arg), void *arg);
void fd_budget_destroy(struct fd_budget *b);

/*
 * fd_budget_add - count N more descriptors for U (linking it as the most
 * recent), then, past the limit, evict the users counted longest ago (never
 * U) until 10% under it or none is left that can be closed. B may be NULL
 * (no budget).
 */
void fd_budget_add(struct fd_budget *b, struct fd_user *u, long n);

/* fd_budget_remove - forget U and its count (its files are closed). B may
 * be NULL. */
void fd_budget_remove(struct fd_budget *b, struct fd_user *u);

#endif
