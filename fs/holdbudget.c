/*
 * holdbudget.c - bytes held for users between their writes, bounded per
 * user and in all (holdbudget.h).
 */
#include "holdbudget.h"
#include "util/lockcheck.h"

#include <errno.h>
#include <stdlib.h>

void hold_budget_init(struct hold_budget *b, uint64_t max_user, uint64_t max_total)
{
	pthread_mutex_init(&b->mu, NULL);
	b->max_user = max_user;
	b->max_total = max_total;
	b->total = 0;
	b->users = NULL;
	b->nusers = b->cap = 0;
}

void hold_budget_destroy(struct hold_budget *b)
{
	free(b->users);
	b->users = NULL;
	b->nusers = b->cap = 0;
	pthread_mutex_destroy(&b->mu);
}

/* The entry of UID, or NULL; b->mu held. */
static struct hold_user *find(struct hold_budget *b, uid_t uid)
{
	LOCK_ASSERT_HELD(&b->mu);
	for (size_t i = 0; i < b->nusers; i++)
		if (b->users[i].uid == uid)
			return &b->users[i];
	return NULL;
}

int hold_charge(struct hold_budget *b, uid_t uid, uint64_t bytes)
{
	int rc = 0;
	pthread_mutex_lock(&b->mu);
	struct hold_user *u = find(b, uid);
	uint64_t had = u ? u->bytes : 0;
	if (had + bytes > b->max_user || b->total + bytes > b->max_total) {
		rc = -ENOBUFS;
		goto out;
	}
	if (!u) {
		if (b->nusers == b->cap) {
			size_t cap = b->cap ? b->cap * 2 : 16;
			struct hold_user *v = realloc(b->users, cap * sizeof(*v));
			if (!v) {
				rc = -ENOMEM;
				goto out;
			}
			b->users = v;
			b->cap = cap;
		}
		u = &b->users[b->nusers++];
		u->uid = uid;
		u->bytes = 0;
	}
	u->bytes += bytes;
	b->total += bytes;
out:
	pthread_mutex_unlock(&b->mu);
	return rc;
}

void hold_release(struct hold_budget *b, uid_t uid, uint64_t bytes)
{
	pthread_mutex_lock(&b->mu);
	struct hold_user *u = find(b, uid);
	if (u) {
		uint64_t n = bytes < u->bytes ? bytes : u->bytes;
		u->bytes -= n;
		b->total -= n < b->total ? n : b->total;
		/* Users holding nothing leave the table: it stays as small as
		 * the number of users holding bytes now. */
		if (!u->bytes)
			*u = b->users[--b->nusers];
	}
	pthread_mutex_unlock(&b->mu);
}

uint64_t hold_total(struct hold_budget *b)
{
	pthread_mutex_lock(&b->mu);
	uint64_t t = b->total;
	pthread_mutex_unlock(&b->mu);
	return t;
}

uint64_t hold_of(struct hold_budget *b, uid_t uid)
{
	pthread_mutex_lock(&b->mu);
	struct hold_user *u = find(b, uid);
	uint64_t n = u ? u->bytes : 0;
	pthread_mutex_unlock(&b->mu);
	return n;
}
