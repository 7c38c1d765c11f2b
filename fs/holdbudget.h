/*
 * holdbudget.h - how many bytes the daemon holds for its users between
 * their writes: the unfinished last line of each open topic file and of
 * each control file. Bounded per user and in all, so no user (nor all of
 * them) can make the daemon hold unbounded memory by leaving lines
 * unfinished in many open files (docs/security.md, "Bounds").
 *
 * Locking: one mutex, a leaf lock (nothing else is taken under it).
 */
#ifndef STREAMFS_HOLDBUDGET_H
#define STREAMFS_HOLDBUDGET_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct hold_user {
	uid_t uid;
	uint64_t bytes;
};

struct hold_budget {
	pthread_mutex_t mu;
	uint64_t max_user, max_total;	/* bytes */
	uint64_t total;
	struct hold_user *users;	/* those holding bytes now */
	size_t nusers, cap;
};

/* hold_budget_init - an empty budget of MAX_USER bytes per user and
 * MAX_TOTAL in all. hold_budget_destroy - free it (all released or not). */
void hold_budget_init(struct hold_budget *b, uint64_t max_user, uint64_t max_total);
void hold_budget_destroy(struct hold_budget *b);

/*
 * hold_charge - count BYTES more held for user UID. Returns 0, or -ENOBUFS
 * (nothing counted) when that would take UID past max_user or the daemon
 * past max_total; -ENOMEM if the user table cannot grow.
 */
int hold_charge(struct hold_budget *b, uid_t uid, uint64_t bytes);

/* hold_release - count BYTES less held for UID (what hold_charge took). */
void hold_release(struct hold_budget *b, uid_t uid, uint64_t bytes);

/* hold_total - bytes held now, in all; hold_of - held for UID. */
uint64_t hold_total(struct hold_budget *b);
uint64_t hold_of(struct hold_budget *b, uid_t uid);

#endif
