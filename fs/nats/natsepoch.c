/*
 * natsepoch.c - epochs of a NATS-backed topic's own origin (natshome.h),
 * and the topic's metadata they are kept in, as JSON (nats_topic_meta)
 * and applied here (nats_topic_apply_locked).
 *
 * Why: a message's identity is its origin (stream UUID, origin topic key,
 * origin offset), and a replica drops whatever is at or below its mark of
 * that origin (docs/replication.md). A crash of every NATS server can
 * lose acknowledged messages that a replica already received; JetStream
 * then gives their sequences, and the topic their offsets, to new
 * messages. Under the same origin key those would be taken for the lost
 * ones and dropped, for good. So the daemon that finds the loss
 * (natsseq.c) starts a new epoch of each topic of the stream: a new random
 * origin key, written to the topic's bucket key with a generation one
 * past the last; the topic's next own message is offset 0 of that key,
 * an origin no replica has seen (docs/nats.md, "Durability").
 *
 * Bytes: a topic's bucket value gets "epoch" (the generation, 1, 2, ...)
 * and "epoch_key" (the UUID); an own chunk of generation g > 0 carries
 * Sfs-Own-Gen: g, its origin key in Sfs-Origin as always. A chunk without
 * Sfs-Own-Gen is of generation 0, whose key is the topic's UUID.
 *
 * Invariants: the own origin of the index (own_gen, own_key, own_next)
 * is that of the last own chunk in sequence order, so every daemon
 * computes it alike; a writer goes on from it, or starts a newer epoch
 * at offset 0, never an older one (nats_epoch_own); the expected last
 * subject sequence makes that choice on the chunks JetStream holds.
 */
#include "natshome.h"

#include <errno.h>
#include <string.h>

#include "logging.h"
#include "metafile.h"
#include "util/clock.h"

/* The epoch META names: its generation (0: none or unreadable), KEY. */
static uint32_t meta_epoch(json_t *meta, uuid_t key)
{
	json_int_t g = json_integer_value(json_object_get(meta, "epoch"));
	const char *ks = json_string_value(json_object_get(meta, "epoch_key"));
	if (g <= 0 || g > UINT32_MAX || !ks || uuid_parse(ks, key) < 0)
		return 0;
	return (uint32_t)g;
}

void nats_epoch_load(struct nats_tdata *td, json_t *meta)
{
	uuid_t key;
	uint32_t g = meta_epoch(meta, key);
	pthread_mutex_lock(&td->mu);
	if (g > td->epoch_gen) {
		td->epoch_gen = g;
		uuid_copy(td->epoch_key, key);
	}
	pthread_mutex_unlock(&td->mu);
}

json_t *nats_topic_meta(struct topic *t)
{
	struct nats_topic *nt = nats_topic_of(t);
	char u[37];
	uuid_unparse(t->uuid, u);
	json_t *j = json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:I}", "format", 1, "uuid", u,
			      "uid", (json_int_t)t->uid, "gid", (json_int_t)t->gid, "mode",
			      (json_int_t)t->mode, "created_ns", (json_int_t)nt->ctime_ns,
			      "changed_ns", (json_int_t)nt->change_ns);
	if (j && nats_epoch_meta(nt->td, j) < 0) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

void nats_topic_apply_locked(struct nats_topic *nt, json_t *meta)
{
	struct topic *t = &nt->base;
	t->uid = (uid_t)meta_int(meta, "uid", t->uid);
	t->gid = (gid_t)meta_int(meta, "gid", t->gid);
	t->mode = (mode_t)meta_int(meta, "mode", t->mode) & 07777;
	nt->change_ns = (uint64_t)meta_int(meta, "changed_ns", (long long)nt->change_ns);
	nats_epoch_load(nt->td, meta); /* lock order: nt->mu, then td->mu */
}

int nats_epoch_meta(struct nats_tdata *td, json_t *meta)
{
	char ks[37];
	pthread_mutex_lock(&td->mu);
	uint32_t g = td->epoch_gen;
	uuid_unparse(td->epoch_key, ks);
	pthread_mutex_unlock(&td->mu);
	if (!g)
		return 0;
	if (json_object_set_new(meta, "epoch", json_integer(g)) < 0 ||
	    json_object_set_new(meta, "epoch_key", json_string(ks)) < 0)
		return -ENOMEM;
	return 0;
}

void nats_epoch_own(const struct nats_tdata *td, uuid_t key, uint64_t *off, uint32_t *gen)
{
	if (td->epoch_gen > td->own_gen) {
		uuid_copy(key, td->epoch_key);
		*off = 0;
		*gen = td->epoch_gen;
	} else {
		uuid_copy(key, td->own_key);
		*off = td->own_next;
		*gen = td->own_gen;
	}
}

void nats_epoch_index(struct nats_tdata *td, const struct nats_chunk *c,
		      const struct nats_origin *o)
{
	/* Own: the topic's first key, or a chunk marked with its epoch (a
	 * replicated chunk never is: natsrepl.c publishes generation 0). */
	if (c->own_gen == 0 && uuid_compare(o->topic, td->uuid))
		return;
	td->own_gen = c->own_gen;
	uuid_copy(td->own_key, o->topic);
	td->own_next = c->origin_off + c->n;
}

/* The bucket's value of NT's key as JSON (a new reference) and its
 * revision, or NULL with *RC: -ENOENT (gone, or another incarnation's),
 * -EIO. */
static json_t *key_get(struct nats_topic *nt, uint64_t *rev, int *rc)
{
	kvEntry *e = NULL;
	natsStatus s = kvStore_Get(&e, nt->nc->kv, nt->key);
	if (s != NATS_OK) {
		*rc = s == NATS_NOT_FOUND ? -ENOENT : nats_status_errno(s, 0);
		return NULL;
	}
	json_t *j = json_loadb(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), 0, NULL);
	*rev = kvEntry_Revision(e);
	kvEntry_Destroy(e);
	uuid_t u;
	const char *us = json_string_value(json_object_get(j, "uuid"));
	if (!us || uuid_parse(us, u) < 0 || uuid_compare(u, nt->base.uuid)) {
		json_decref(j);
		*rc = -ENOENT;
		return NULL;
	}
	return j;
}

int nats_epoch_bump(struct nats_topic *nt, uint32_t *gen, uuid_t out)
{
	*gen = 0;
	struct nats_tdata *td = nt->td;
	pthread_mutex_lock(&td->mu);
	uint32_t seen = td->epoch_gen > td->own_gen ? td->epoch_gen : td->own_gen;
	pthread_mutex_unlock(&td->mu);
	uint64_t deadline = mono_ns() + (uint64_t)nt->nc->timeout_ms * 1000000;
	int rc = -ETIMEDOUT;
	while (mono_ns() < deadline) {
		uint64_t rev = 0;
		json_t *j = key_get(nt, &rev, &rc);
		if (!j)
			break;
		uuid_t k;
		uint32_t there = meta_epoch(j, k);
		if (there > seen) { /* another daemon started a newer one */
			nats_epoch_load(td, j);
			json_decref(j);
			return 0;
		}
		uuid_t key;
		char ks[37];
		uuid_generate_random(key);
		uuid_unparse(key, ks);
		char *txt = NULL;
		if (json_object_set_new(j, "epoch", json_integer(seen + 1)) == 0 &&
		    json_object_set_new(j, "epoch_key", json_string(ks)) == 0)
			txt = json_dumps(j, JSON_COMPACT);
		uint64_t nrev = 0;
		natsStatus s = txt ? kvStore_Update(&nrev, nt->nc->kv, nt->key, txt, (int)strlen(txt),
						    rev) : NATS_NO_MEMORY;
		free(txt);
		if (s == NATS_OK) {
			nats_kv_wrote(nt->nc, nt->key, nrev);
			pthread_mutex_lock(&nt->mu);
			if (nrev > nt->rev) {
				/* J is the key's value at NREV: another daemon's
				 * change this daemon's watcher had not applied yet
				 * too, whose entry, older than NREV, it now skips
				 * (and a chmod here would write the old fields over
				 * it, natsmerge.h). */
				nats_topic_apply_locked(nt, j);
				nt->rev = nrev;
			} else {
				nats_epoch_load(td, j); /* lock order: nt->mu, then td->mu */
			}
			pthread_mutex_unlock(&nt->mu);
			json_decref(j);
			*gen = seen + 1;
			uuid_copy(out, key);
			return 0;
		}
		json_decref(j);
		rc = s == NATS_NO_MEMORY ? -ENOMEM : -EAGAIN;
		if (rc == -ENOMEM)
			break;
		nats_pause(); /* changed meanwhile, or no answer: read it again */
	}
	return rc == -EAGAIN ? -ETIMEDOUT : rc;
}
