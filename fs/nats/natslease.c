/*
 * natslease.c - the replication lease of a cluster kept in NATS
 * (natshome.h): which one of the daemons serving the cluster runs the
 * replication lanes of its streams, held in key "lease" of the
 * cluster's bucket with revision-checked updates, taken over when its
 * holder stops renewing it (docs/nats.md, "The replication lease").
 *
 * The rules, on each daemon's monotonic clock, never on wall clocks:
 * the holder renews every NATS_LEASE_RENEW_MS with an update over the
 * revision it wrote last, and counts itself the holder only until
 * NATS_LEASE_MS - NATS_LEASE_MARGIN_MS after it sent the last update
 * that succeeded. Another daemon takes the lease (an update over the
 * revision it saw) only once it has seen the same revision for
 * NATS_LEASE_MS: it first saw that revision after it was written, so
 * after the holder sent it, so the holder has stopped by then. A daemon
 * that stops cleanly hands the lease back (holder "") and another takes
 * it at once.
 *
 * The holder runs every stream's lanes, so it must name every cluster
 * the streams replicate to. Each daemon says in the lease's value whether
 * it does ("covers"); one that does takes the lease at once from a
 * holder that does not (which sees it gone at its next look, within
 * NATS_LEASE_RENEW_MS: the marks drop what both sent meanwhile), so a
 * daemon missing a replica's cluster runs the lanes only while no daemon
 * naming them all is there (docs/nats.md, "The replication lease").
 */
#include "natshome.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "logging.h"
#include "namespace.h"
#include "replhooks.h"
#include "util/clock.h"

#define LEASE_KEY "lease"

/* The bucket as the lease reads and writes it: through the context whose
 * requests wait NATS_STOP_WAIT_MS at most (a renewal that waits longer
 * is late anyway), so that the stop never waits nats_timeout_ms for it. */
static kvStore *lease_kv(struct nats_cluster *nc)
{
	return nc->wkv ? nc->wkv : nc->kv;
}

/* Epochs of every lease taken in this daemon: a new one each time. */
static atomic_uint_fast64_t lease_epochs;

uint64_t nats_lease_epoch(struct nats_cluster *nc)
{
	if (mono_ns() >= atomic_load(&nc->lease_until))
		return 0;
	return atomic_load(&nc->lease_epoch);
}

/* Does this daemon's configuration name the cluster of every replica of
 * NC's streams (local, remote or NATS)? Out of memory: true (the lease
 * moves for nothing then). */
static bool covers(struct nats_cluster *nc)
{
	size_t n;
	struct stream **v = nats_streams_all(nc->cl, &n);
	bool all = true;
	for (size_t i = 0; v && i < n; i++) {
		struct stream *s = v[i];
		pthread_mutex_lock(&s->lock);
		for (int k = 0; k < s->nreplicas && all; k++)
			all = ns_cluster(nc->cl->ns, s->replicas[k]->cluster) != NULL;
		pthread_mutex_unlock(&s->lock);
		stream_put(s);
	}
	free(v);
	return all;
}

/* The lease's value naming this daemon (HOLD) or nobody; COVERS: this
 * daemon names every replica's cluster (covers). */
static int lease_value(struct nats_cluster *nc, bool hold, bool cover, char *out, size_t n)
{
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	return snprintf(out, n, "{\"holder\":\"%s\",\"host\":\"%s\",\"pid\":%d,\"covers\":%s}",
			hold ? nc->instance : "", host, (int)getpid(), cover ? "true" : "false");
}

/* This daemon holds the lease at revision REV since it sent the update
 * at T0 (mono_ns): runs the lanes until T0 + NATS_LEASE_MS - margin. */
static void held(struct nats_cluster *nc, uint64_t rev, uint64_t t0, const char *from)
{
	bool was = nats_lease_epoch(nc) != 0;
	nc->lease_rev = rev;
	if (!was)
		atomic_store(&nc->lease_epoch, atomic_fetch_add(&lease_epochs, 1) + 1);
	atomic_store(&nc->lease_until,
		     t0 + (uint64_t)(NATS_LEASE_MS - NATS_LEASE_MARGIN_MS) * 1000000);
	if (was)
		return;
	log_info("cluster %s: this daemon runs the replication of its streams now (lease taken%s%s)",
		 nc->cl->name, from[0] ? " over from " : "", from);
	/* Every stream of it is the lanes' business now. */
	atomic_fetch_add(&nc->cl->ns->repl_gen_all, 1);
	repl_wake(nc->cl->ns);
}

/* Another daemon holds it: stop at once. */
static void lost(struct nats_cluster *nc, const char *to)
{
	if (!atomic_load(&nc->lease_epoch))
		return;
	atomic_store(&nc->lease_until, 0);
	atomic_store(&nc->lease_epoch, 0);
	log_info("cluster %s: another daemon runs the replication of its streams (%s)",
		 nc->cl->name, to);
	/* What the new holder put while this one still ran the lanes was
	 * not applied here: read it now. */
	nats_status_resync(nc);
}

/* One look at the lease: take, renew or watch it. */
static void lease_step(struct nats_cluster *nc)
{
	char val[512];
	if (natsConnection_Status(nc->conn) != NATS_CONN_STATUS_CONNECTED)
		return; /* the holder's time runs out by itself */
	bool cover = covers(nc);
	lease_value(nc, true, cover, val, sizeof(val));
	kvEntry *e = NULL;
	natsStatus s = kvStore_Get(&e, lease_kv(nc), LEASE_KEY);
	uint64_t rev = 0, t0 = mono_ns();
	if (s == NATS_NOT_FOUND) {
		if (kvStore_CreateString(&rev, lease_kv(nc), LEASE_KEY, val) == NATS_OK)
			held(nc, rev, t0, "");
		return;
	}
	if (s != NATS_OK)
		return;
	rev = kvEntry_Revision(e);
	json_t *j = json_loadb(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), 0, NULL);
	kvEntry_Destroy(e);
	const char *holder = json_string_value(json_object_get(j, "holder"));
	char who[300];
	snprintf(who, sizeof(who), "%s, pid %lld", json_string_value(json_object_get(j, "host")) ?
		 json_string_value(json_object_get(j, "host")) : "?",
		 (long long)json_integer_value(json_object_get(j, "pid")));
	bool mine = holder && !strcmp(holder, nc->instance);
	bool free_ = !holder || !holder[0];
	/* Said by every daemon since December 2026; not said: it does. */
	bool holder_covers = !json_is_false(json_object_get(j, "covers"));
	json_decref(j);
	bool better = !mine && !free_ && cover && !holder_covers;
	if (!mine && !free_ && !better) {
		lost(nc, who);
		uint64_t now = mono_ns();
		if (rev != nc->lease_seen_rev) {
			nc->lease_seen_rev = rev;
			nc->lease_seen_ns = now;
			return;
		}
		if (now - nc->lease_seen_ns < (uint64_t)NATS_LEASE_MS * 1000000)
			return;
	}
	/* Ours to renew, handed back, not renewed for NATS_LEASE_MS, or held
	 * by a daemon that misses a replica's cluster this one names. */
	uint64_t nrev = 0;
	if (kvStore_UpdateString(&nrev, lease_kv(nc), LEASE_KEY, val, rev) == NATS_OK) {
		if (better)
			log_info("cluster %s: the replication lease is taken from %s, which does "
				 "not name every replica's cluster", nc->cl->name, who);
		nats_kv_wrote(nc, LEASE_KEY, nrev);
		held(nc, nrev, t0, mine || free_ ? "" : who);
	}
}

static void *lease_main(void *arg)
{
	struct nats_cluster *nc = arg;
	pthread_mutex_lock(&nc->lease_mu);
	while (!nc->lease_stop) {
		pthread_mutex_unlock(&nc->lease_mu);
		lease_step(nc);
		pthread_mutex_lock(&nc->lease_mu);
		struct timespec ts = clock_deadline(CLOCK_MONOTONIC, NATS_LEASE_RENEW_MS);
		if (!nc->lease_stop)
			pthread_cond_timedwait(&nc->lease_cv, &nc->lease_mu, &ts);
	}
	pthread_mutex_unlock(&nc->lease_mu);
	return NULL;
}

int nats_lease_start(struct nats_cluster *nc)
{
	pthread_mutex_init(&nc->lease_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&nc->lease_cv, &ca);
	pthread_condattr_destroy(&ca);
	nc->lease_init = true;
	int rc = pthread_create(&nc->lease_thread, NULL, lease_main, nc);
	if (rc)
		return -rc;
	nc->lease_started = true;
	return 0;
}

void nats_lease_stop(struct nats_cluster *nc)
{
	if (!nc->lease_init || !nc->lease_started)
		return;
	pthread_mutex_lock(&nc->lease_mu);
	nc->lease_stop = true;
	pthread_cond_broadcast(&nc->lease_cv);
	pthread_mutex_unlock(&nc->lease_mu);
	pthread_join(nc->lease_thread, NULL);
	nc->lease_started = false;
}

void nats_lease_release(struct nats_cluster *nc)
{
	if (!nc->lease_init)
		return;
	/* Handed back, so that another daemon takes it at once. */
	if (nats_lease_epoch(nc) &&
	    natsConnection_Status(nc->conn) == NATS_CONN_STATUS_CONNECTED) {
		char val[512];
		lease_value(nc, false, true, val, sizeof(val));
		if (kvStore_UpdateString(NULL, lease_kv(nc), LEASE_KEY, val, nc->lease_rev) == NATS_OK)
			log_info("cluster %s: replication lease handed back", nc->cl->name);
	}
	atomic_store(&nc->lease_until, 0);
	atomic_store(&nc->lease_epoch, 0);
}

void nats_lease_free(struct nats_cluster *nc)
{
	if (!nc->lease_init)
		return;
	pthread_mutex_destroy(&nc->lease_mu);
	pthread_cond_destroy(&nc->lease_cv);
	nc->lease_init = false;
}
