/*
 * natsstatus.c - owns the replication status of a NATS-backed cluster's
 * streams across the daemons that serve it (natshome.h): the daemon that
 * holds the lease, which runs the lanes, publishes each stream's status
 * under key r.<stream uuid> of the cluster's bucket; every other daemon's
 * watcher applies it to its own replicas, so that .replicas, .info and
 * maprcli show the holder's status on every daemon, and a write there
 * that waits for a synchronous replica sees its positions move
 * (docs/nats.md, "Replication status on every daemon").
 *
 * Degraded everywhere: a write on a daemon without the lease that times
 * out waiting for a synchronous replica marks it degraded there
 * (replication/syncwait.c) and sends that daemon's status as a notice,
 * key g.<stream uuid>; the holder's watcher marks the replicas it names
 * degraded, so that its next status shows them degraded everywhere,
 * until its lanes have caught up. A notice lost (NATS away, overwritten
 * by another daemon's before the holder saw it) leaves the replica
 * degraded on the daemon whose write timed out only.
 *
 * Publishing: the lanes mark a stream (nats_status_changed, the stream
 * op status_changed) each time its status may have moved; one thread per
 * cluster puts the status (replication's status_export, fs/replhooks.h)
 * at most every NATS_STATUS_MS per stream, at once when a synchronous
 * replica's position moved, and not at all when it is the same text as
 * the last one this daemon put while holding the same lease. A put that
 * fails (NATS away) is tried again NATS_STATUS_MS later. Only the lease
 * holder puts; two holders at once (docs/nats.md) would each put their
 * own picture, last one wins, as for the positions.
 */
#include "natshome.h"
#include "natskvwatch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logging.h"
#include "namespace.h"
#include "util/clock.h"

/* A stream's place in the publisher's table. The table owns it; the
 * stream's home points at it until its destroy (nats_status_forget). */
struct nats_status_entry {
	uuid_t uuid;		/* of the stream */
	bool dirty;		/* to publish */
	bool now;		/* at once: a synchronous replica moved */
	bool notice;		/* a write here timed out: tell the holder */
	bool gone;		/* its stream was destroyed: free it */
	bool force;		/* put even if unchanged: another's was put over it */
	uint64_t last_ns;	/* the last put tried (mono_ns), 0 none */
	/* The publisher thread's alone: */
	char *last;		/* the text last put, or NULL */
	uint64_t last_epoch;	/* the lease it was put under */
};

/* The key of the status of stream U into KEY (64 bytes): the holder's
 * (PREFIX "r"), or another daemon's notice of a degradation ("g"). */
static void status_key(const char *prefix, const uuid_t u, char *key)
{
	char us[37];
	uuid_unparse(u, us);
	snprintf(key, 64, "%s.%s", prefix, us);
}

void nats_status_changed(struct stream *s, bool now)
{
	struct nats_stream *st = s->home;
	if (!st)
		return;
	struct nats_cluster *nc = st->nc;
	if (!nc->status_init)
		return;
	/* Not the holder: only a write that timed out here changes a
	 * status here, and the holder is told (a notice). */
	bool holder = nats_lease_epoch(nc) != 0;
	pthread_mutex_lock(&nc->status_mu);
	struct nats_status_entry *e = st->sentry;
	if (!e && nc->nstatus == nc->status_cap) {
		size_t cap = nc->status_cap ? nc->status_cap * 2 : 16;
		struct nats_status_entry **v = realloc(nc->status, cap * sizeof(*v));
		if (v) {
			nc->status = v;
			nc->status_cap = cap;
		}
	}
	if (!e && nc->nstatus < nc->status_cap && (e = calloc(1, sizeof(*e)))) {
		uuid_copy(e->uuid, s->uuid);
		nc->status[nc->nstatus++] = e;
		st->sentry = e;
	}
	if (e && holder) {
		e->dirty = true;
		e->now |= now;
	} else if (e) {
		e->notice = true;
	}
	if (e)
		pthread_cond_signal(&nc->status_cv);
	/* Out of memory: this change is not shown elsewhere; the next may. */
	pthread_mutex_unlock(&nc->status_mu);
}

void nats_status_forget(struct nats_stream *st)
{
	struct nats_cluster *nc = st->nc;
	if (!nc->status_init)
		return;
	pthread_mutex_lock(&nc->status_mu);
	if (st->sentry)
		st->sentry->gone = true;
	st->sentry = NULL;
	pthread_mutex_unlock(&nc->status_mu);
}

/* E's stream's status as this daemon has it (NOTICE: marked as a
 * notice), as text, or NULL (the stream is gone, out of memory). */
static char *status_text(struct nats_cluster *nc, struct nats_status_entry *e, bool notice)
{
	struct stream *s = nats_stream_by_uuid(nc->cl, e->uuid, false);
	if (!s)
		return NULL;
	pthread_mutex_lock(&s->lock);
	json_t *j = s->deleted ? NULL : repl_status_export(nc->cl->ns, s);
	pthread_mutex_unlock(&s->lock);
	stream_put(s);
	if (j)
		json_object_set_new(j, "holder", json_string(nc->instance));
	if (j && notice)
		json_object_set_new(j, "notice", json_true());
	char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return txt;
}

/* Tell the holder that a write here timed out (E's notice): this
 * daemon's status of the stream under key g.<uuid>, whose degraded
 * replicas the holder marks degraded. Once, not again on failure: the
 * replica stays degraded here all the same. No lock held. */
static void notify(struct nats_cluster *nc, struct nats_status_entry *e)
{
	if (nats_lease_epoch(nc) || natsConnection_Status(nc->conn) != NATS_CONN_STATUS_CONNECTED)
		return;
	char *txt = status_text(nc, e, true);
	char key[64];
	status_key("g", e->uuid, key);
	if (txt)
		kvStore_PutString(NULL, nc->kv, key, txt);
	free(txt);
}

/* Put E's stream's status, if this daemon holds the lease and it differs
 * from the last one put. No lock held. */
static void publish(struct nats_cluster *nc, struct nats_status_entry *e, bool force)
{
	uint64_t epoch = nats_lease_epoch(nc);
	if (!epoch)
		return;
	char *txt = status_text(nc, e, false);
	if (!txt)
		return;
	if (!force && e->last && e->last_epoch == epoch && !strcmp(e->last, txt)) {
		free(txt);
		return;
	}
	char key[64];
	status_key("r", e->uuid, key);
	natsStatus ns = NATS_CONNECTION_DISCONNECTED;
	if (natsConnection_Status(nc->conn) == NATS_CONN_STATUS_CONNECTED)
		ns = kvStore_PutString(NULL, nc->kv, key, txt);
	if (ns != NATS_OK) {
		free(txt);
		pthread_mutex_lock(&nc->status_mu);
		e->dirty = true; /* again after NATS_STATUS_MS */
		e->force |= force;
		pthread_mutex_unlock(&nc->status_mu);
		return;
	}
	free(e->last);
	e->last = txt;
	e->last_epoch = epoch;
}

/* The lease went to another daemon (nats_status_resync): each stream
 * this daemon has an entry for gets the status the bucket holds now.
 * Called and returns with status_mu held; drops it meanwhile. */
static void resync(struct nats_cluster *nc)
{
	size_t n = nc->nstatus;
	uuid_t *v = n ? malloc(n * sizeof(*v)) : NULL;
	size_t k = 0;
	for (size_t i = 0; v && i < n; i++)
		if (!nc->status[i]->gone)
			uuid_copy(v[k++], nc->status[i]->uuid);
	pthread_mutex_unlock(&nc->status_mu);
	if (n && !v)
		log_warn("cluster %s: out of memory: replica statuses here may stay as this "
			 "daemon last had them", nc->cl->name);
	for (size_t i = 0; i < k && !nats_lease_epoch(nc) &&
			   !__atomic_load_n(&nc->status_stop, __ATOMIC_RELAXED); i++) {
		char key[64];
		status_key("r", v[i], key);
		uint64_t rev = 0;
		natsMsg *m = NULL;
		/* From the bucket's leader: a replica behind would give an
		 * older status (nats_kv_last). */
		if (natsConnection_Status(nc->conn) != NATS_CONN_STATUS_CONNECTED ||
		    nats_kv_last(nc, key, &rev, &m) <= 0)
			continue; /* none yet: the new holder's put comes by the watcher */
		struct nats_kventry ke = { .key = key, .val = natsMsg_GetData(m),
					   .len = natsMsg_GetDataLength(m), .rev = rev,
					   .op = NATS_KV_PUT };
		nats_status_event(nc, &ke, false);
		natsMsg_Destroy(m);
	}
	free(v);
	pthread_mutex_lock(&nc->status_mu);
}

void nats_status_resync(struct nats_cluster *nc)
{
	if (!nc->status_init)
		return;
	pthread_mutex_lock(&nc->status_mu);
	nc->status_resync = true;
	pthread_cond_signal(&nc->status_cv);
	pthread_mutex_unlock(&nc->status_mu);
}

static void *status_main(void *arg)
{
	struct nats_cluster *nc = arg;
	const uint64_t gap = (uint64_t)NATS_STATUS_MS * 1000000;
	pthread_mutex_lock(&nc->status_mu);
	while (!nc->status_stop) {
		uint64_t now = mono_ns(), next = UINT64_MAX;
		struct nats_status_entry *pick = NULL;
		bool notice = false;
		for (size_t i = 0; i < nc->nstatus && !pick; i++) {
			struct nats_status_entry *e = nc->status[i];
			if (e->gone && !e->dirty && !e->notice) {
				free(e->last);
				free(e);
				nc->status[i--] = nc->status[--nc->nstatus];
				continue;
			}
			if (e->notice) {
				pick = e; /* at once */
				notice = true;
				continue;
			}
			if (!e->dirty)
				continue;
			uint64_t due = e->now ? 0 : e->last_ns + gap;
			if (due <= now)
				pick = e;
			else if (due < next)
				next = due;
		}
		if (pick) {
			bool gone = pick->gone, force = pick->force;
			if (notice) {
				pick->notice = false;
			} else {
				pick->dirty = pick->now = pick->force = false;
				pick->last_ns = now;
			}
			pthread_mutex_unlock(&nc->status_mu);
			if (!gone && notice)
				notify(nc, pick);
			else if (!gone)
				publish(nc, pick, force);
			pthread_mutex_lock(&nc->status_mu);
			continue;
		}
		if (nc->status_resync) {
			nc->status_resync = false;
			resync(nc); /* unlocks and locks status_mu */
			continue;
		}
		if (next == UINT64_MAX) {
			pthread_cond_wait(&nc->status_cv, &nc->status_mu);
		} else {
			struct timespec ts = { (time_t)(next / 1000000000), (long)(next % 1000000000) };
			pthread_cond_timedwait(&nc->status_cv, &nc->status_mu, &ts);
		}
	}
	pthread_mutex_unlock(&nc->status_mu);
	return NULL;
}

int nats_status_start(struct nats_cluster *nc)
{
	pthread_mutex_init(&nc->status_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&nc->status_cv, &ca);
	pthread_condattr_destroy(&ca);
	nc->status_init = true;
	int rc = pthread_create(&nc->status_thread, NULL, status_main, nc);
	if (rc)
		return -rc;
	nc->status_started = true;
	return 0;
}

void nats_status_stop(struct nats_cluster *nc)
{
	if (!nc->status_init || !nc->status_started)
		return;
	pthread_mutex_lock(&nc->status_mu);
	nc->status_stop = true;
	pthread_cond_broadcast(&nc->status_cv);
	pthread_mutex_unlock(&nc->status_mu);
	pthread_join(nc->status_thread, NULL);
	nc->status_started = false;
}

void nats_status_free(struct nats_cluster *nc)
{
	if (!nc->status_init)
		return;
	for (size_t i = 0; i < nc->nstatus; i++) {
		free(nc->status[i]->last);
		free(nc->status[i]);
	}
	free(nc->status);
	nc->status = NULL;
	nc->nstatus = nc->status_cap = 0;
	pthread_mutex_destroy(&nc->status_mu);
	pthread_cond_destroy(&nc->status_cv);
	nc->status_init = false;
}

void nats_status_event(struct nats_cluster *nc, struct nats_kventry *e, bool locked)
{
	const char *key = e->key;
	uuid_t u;
	char us[37];
	if (e->op != NATS_KV_PUT || strlen(key) != 2 + 36)
		return;
	memcpy(us, key + 2, 37);
	if (uuid_parse(us, u) < 0)
		return;
	/* The holder runs the lanes: its own status is the one to show, and
	 * a notice (g.) is for it alone. */
	bool holding = nats_lease_epoch(nc) != 0;
	if (key[0] != 'r' && key[0] != 'g')
		return;
	if (key[0] == 'g' && !holding)
		return;
	json_t *j = json_loadb(e->val, (size_t)e->len, 0, NULL);
	const char *holder = json_string_value(json_object_get(j, "holder"));
	if (!j || !holder || !strcmp(holder, nc->instance)) {
		json_decref(j); /* this daemon's own, from when it held the lease */
		return;
	}
	struct stream *s = nats_stream_by_uuid(nc->cl, u, locked);
	if (s && key[0] == 'r' && holding) {
		/* Another daemon's status over this holder's: an old holder's,
		 * put before it saw the lease move. Ours again, within
		 * NATS_STATUS_MS (not at once: two daemons that both believe
		 * they hold the lease, until the next renewal, would put over
		 * each other as fast as NATS answers). */
		struct nats_stream *st = s->home;
		pthread_mutex_lock(&nc->status_mu);
		if (st && st->sentry)
			st->sentry->force = true; /* none: nothing put, no match */
		pthread_mutex_unlock(&nc->status_mu);
		nats_status_changed(s, false);
		stream_put(s);
		json_decref(j);
		return;
	}
	if (s) {
		pthread_mutex_lock(&s->lock);
		if (!s->deleted)
			repl_status_import(nc->cl->ns, s, j);
		pthread_mutex_unlock(&s->lock);
		stream_put(s);
	}
	json_decref(j);
}
