/*
 * gwpool.c - the connections of the global namespace's file operations
 * (gwpool.h): per remote cluster, GWPOOL_CONNS gateway clients and which
 * of them is busy, under one mutex and condition variable per cluster.
 */
#include "gwpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gwclient.h"
#include "util/clock.h"

struct pool_cluster {
	const char *name, *hostport;	/* borrowed from the configuration */
	pthread_mutex_t mu;		/* busy, gc, stop */
	pthread_cond_t cv;		/* a connection was given back */
	struct gwclient *gc[GWPOOL_CONNS];
	bool busy[GWPOOL_CONNS];
};

struct gwpool {
	SSL_CTX *ctx;
	int timeout_ms;
	int n;
	atomic_bool stop;		/* the daemon stops */
	struct pool_cluster *cl;
};

struct gwpool *gwpool_new(const struct sfs_config *cfg, SSL_CTX *ctx, int timeout_ms)
{
	struct gwpool *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->ctx = ctx;
	p->timeout_ms = timeout_ms;
	p->cl = calloc(cfg->nclusters ? (size_t)cfg->nclusters : 1, sizeof(*p->cl));
	if (!p->cl) {
		free(p);
		return NULL;
	}
	for (int i = 0; i < cfg->nclusters; i++) {
		if (!cfg->clusters[i].gateway)
			continue;
		struct pool_cluster *c = &p->cl[p->n++];
		c->name = cfg->clusters[i].name;
		c->hostport = cfg->clusters[i].gateway;
		pthread_mutex_init(&c->mu, NULL);
		pthread_cond_init(&c->cv, NULL);
	}
	return p;
}

void gwpool_interrupt(struct gwpool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n; i++) {
		struct pool_cluster *c = &p->cl[i];
		atomic_store(&p->stop, true);
		pthread_mutex_lock(&c->mu);
		for (int k = 0; k < GWPOOL_CONNS; k++)
			if (c->gc[k])
				gwclient_interrupt(c->gc[k]);
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
	}
}

void gwpool_free(struct gwpool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n; i++) {
		for (int k = 0; k < GWPOOL_CONNS; k++)
			gwclient_free(p->cl[i].gc[k]);
		pthread_mutex_destroy(&p->cl[i].mu);
		pthread_cond_destroy(&p->cl[i].cv);
	}
	free(p->cl);
	free(p);
}

/* Take a free connection of C (made on first use): its index, or -ETIMEDOUT,
 * -EINTR, -ESHUTDOWN, -ENOMEM. */
static int take(struct gwpool *p, struct pool_cluster *c, bool (*interrupted)(void *),
		void *iarg)
{
	uint64_t deadline = mono_ns() + (uint64_t)p->timeout_ms * 1000000ull;
	pthread_mutex_lock(&c->mu);
	int rc;
	for (;;) {
		rc = -ESHUTDOWN;
		if (atomic_load(&p->stop))
			break;
		for (rc = 0; rc < GWPOOL_CONNS && c->busy[rc]; rc++)
			;
		if (rc < GWPOOL_CONNS) {
			if (!c->gc[rc] &&
			    !(c->gc[rc] = gwclient_new(p->ctx, c->name, c->hostport, p->timeout_ms))) {
				rc = -ENOMEM;
				break;
			}
			c->busy[rc] = true;
			break;
		}
		rc = -EINTR;
		if (interrupted && interrupted(iarg))
			break;
		rc = -ETIMEDOUT;
		uint64_t now = mono_ns();
		if (now >= deadline)
			break;
		/* A 100 ms step: the interruption is asked for on each. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&c->cv, &c->mu, &ts);
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int gwpool_reachable(struct gwpool *p, const char *cluster, char *why, size_t n)
{
	int best = -1;
	for (int i = 0; p && i < p->n; i++) {
		struct pool_cluster *c = &p->cl[i];
		if (strcmp(c->name, cluster))
			continue;
		pthread_mutex_lock(&c->mu);
		for (int k = 0; k < GWPOOL_CONNS && best < 1; k++) {
			char w[512];
			int r = c->gc[k] ? gwclient_reachable(c->gc[k], w, sizeof(w)) : -1;
			if (r > best) {
				best = r;
				snprintf(why, n, "%s", r == 0 ? w : "");
			}
		}
		pthread_mutex_unlock(&c->mu);
	}
	return best;
}

static void give_back(struct pool_cluster *c, int k)
{
	pthread_mutex_lock(&c->mu);
	c->busy[k] = false;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

int gwpool_call(struct gwpool *p, const struct fs_req *q, struct fs_rep *rep,
		bool (*interrupted)(void *), void *iarg, char *err, size_t errlen)
{
	memset(rep, 0, sizeof(*rep));
	struct pool_cluster *c = NULL;
	for (int i = 0; p && i < p->n && !c; i++)
		if (!strcmp(p->cl[i].name, q->cluster))
			c = &p->cl[i];
	if (!c || !p->ctx) {
		snprintf(err, errlen, "cluster %s has no gateway this daemon can reach", q->cluster);
		return -EHOSTUNREACH;
	}
	int k = take(p, c, interrupted, iarg);
	if (k < 0) {
		snprintf(err, errlen, "cluster %s: %s", q->cluster,
			 k == -ETIMEDOUT ? "every connection to its gateway stayed busy for timeout_ms" :
					   strerror(-k));
		return k;
	}
	int rc = gwclient_fs(c->gc[k], q, rep, interrupted, iarg, err, errlen);
	/* Backing off after a failure: that failure is the answer. */
	if (rc == -EAGAIN && gwclient_last_failure(c->gc[k]) == -ETIMEDOUT)
		rc = -ETIMEDOUT;
	give_back(c, k);
	/* The user sees one of two words for a gateway it cannot use: down,
	 * or too slow (docs/global-namespace.md, "Failures"). A request
	 * that could not be encoded is the caller's (-EINVAL). */
	if (rc < 0 && rc != -ETIMEDOUT && rc != -EINTR && rc != -ESHUTDOWN && rc != -ENOMEM &&
	    rc != -EINVAL && rc != -EMSGSIZE)
		rc = -EHOSTDOWN;
	return rc;
}
