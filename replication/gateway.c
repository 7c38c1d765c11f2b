/*
 * gateway.c - the gateway's listener and connection threads (gateway.h).
 *
 * A connection's life: TLS handshake (mutual; refused peers are logged and
 * closed), a slot within its peer's share (else its hello is answered with
 * the reason, and it is closed), then GW_HELLO naming a local cluster, then
 * any number of requests, each answered by one GW_RESULT. The connection
 * stays open while the peer keeps it; the daemon's stop closes it.
 */
#define _GNU_SOURCE
#include "gateway.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xxhash.h>

#include "../fs/logging.h"
#include "../fs/topic.h"
#include "apply.h"
#include "frame.h"
#include "util/clock.h"
#include "util/hostport.h"
#include "../fs/util/lockcheck.h"

struct gateway_conn {
	struct gateway *g;
	int fd;				/* owned by tc once the handshake ran */
	struct tls_conn *tc;
	pthread_t thread;
	bool done;			/* under g->mu: the thread has ended */
	int share;			/* its peer's entry in g->shares (gws_join) */
	char peer[80];			/* ADDR:PORT, for log lines */
	char cluster[256];		/* from GW_HELLO: the local cluster addressed */
	/* Reasons already logged on this connection (hashes): a source
	 * retries every second, and its own status shows the error. */
	uint32_t logged[GATEWAY_LOGGED_REASONS];
	int nlogged;
	struct gw_buf in, scratch, out;
};

/* "ADDR:PORT" of a socket address, for logs. */
static void addr_text(const struct sockaddr_storage *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?", port[16] = "?";
	getnameinfo((const struct sockaddr *)sa, sizeof(*sa), host, sizeof(host), port,
		    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(buf, len, sa->ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

int gateway_bind(struct gateway *g, const char *listen_on, char *err, size_t errlen)
{
	memset(g, 0, sizeof(*g));
	g->lfd = -1;
	pthread_mutex_init(&g->mu, NULL);
	snprintf(g->listen, sizeof(g->listen), "%s", listen_on);
	char host[256], port[32];
	if (hostport_split(listen_on, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(err, errlen, "[gateway] listen = %s: not ADDR:PORT", listen_on);
		return -EINVAL;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE },
			*res = NULL;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai) {
		snprintf(err, errlen, "[gateway] listen = %s: %s", listen_on, gai_strerror(gai));
		return -EINVAL;
	}
	int rc = -EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai && g->lfd < 0; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
			rc = -errno;
			close(fd);
			continue;
		}
		g->lfd = fd;
	}
	freeaddrinfo(res);
	if (g->lfd < 0) {
		snprintf(err, errlen, "[gateway] listen = %s: %s", listen_on, strerror(-rc));
		return rc;
	}
	return 0;
}

/* Log a refusal once per connection and reason (a source retries every
 * second; its own status shows the error meanwhile). */
static void refuse_log(struct gateway_conn *c, const char *msg)
{
	uint32_t h = XXH32(msg, strlen(msg), 0);
	for (int i = 0; i < c->nlogged; i++)
		if (c->logged[i] == h)
			return;
	if (c->nlogged < GATEWAY_LOGGED_REASONS)
		c->logged[c->nlogged++] = h;
	log_warn("gateway: %s (%s): refused: %s", c->peer, tls_peer_subject(c->tc), msg);
}

/*
 * Has something of KEY been logged for PEER's address within the last
 * minute? If not, it is noted as logged now. A refused peer reconnects
 * with backoff for as long as it runs, and an attacker as fast as it can:
 * one line a minute per address and reason says it all.
 */
static bool log_quiet(struct gateway *g, const char *peer, const char *key)
{
	char host[80];
	snprintf(host, sizeof(host), "%s", peer);
	char *colon = strrchr(host, ':');
	if (colon)
		*colon = 0;	/* the port changes with every connection */
	uint32_t h = XXH32(key, strlen(key), XXH32(host, strlen(host), 0));
	uint64_t now = now_ns();
	bool quiet = false;
	pthread_mutex_lock(&g->mu);
	int slot = 0;
	for (int i = 0; i < GATEWAY_REFUSALS; i++) {
		if (g->refusals[i].hash == h) {
			quiet = now - g->refusals[i].when_ns < GATEWAY_REFUSAL_QUIET_NS;
			slot = i;
			break;
		}
		if (g->refusals[i].when_ns < g->refusals[slot].when_ns)
			slot = i;
	}
	if (!quiet) {
		g->refusals[slot].hash = h;
		g->refusals[slot].when_ns = now;
	}
	pthread_mutex_unlock(&g->mu);
	return quiet;
}

/* Log a connection refused before any request (failed handshake, no
 * slot) once a minute per peer address and reason (log_quiet). */
static void conn_refuse_log(struct gateway *g, const char *peer, const char *why)
{
	if (!log_quiet(g, peer, why))
		log_warn("gateway: %s: connection refused: %s (repeats from this address are logged once a minute)",
			 peer, why);
}

/*
 * The clusters named in some local stream's .upstreams into *OUT.
 * Returns 0 or -ENOMEM. Takes the namespace lock and each stream's lock
 * in turn, so the caller holds no lock.
 */
static int upstream_names(struct sfs_namespace *ns, struct gws_names *out)
{
	struct stream **v;
	int n = ns_streams_snapshot(ns, &v);
	if (n < 0)
		return n;
	size_t cnt = 0, cap = 0;
	char (*names)[256] = NULL;
	int rc = 0;
	for (int i = 0; i < n; i++) {
		struct stream *t = v[i];
		pthread_mutex_lock(&t->lock);
		int k = t->deleted ? 0 : t->nupstreams;
		if (rc == 0 && cnt + k > cap) {
			size_t ncap = (cnt + k) * 2;
			char (*p)[256] = realloc(names, ncap * sizeof(*names));
			if (p) {
				names = p;
				cap = ncap;
			} else {
				rc = -ENOMEM;
			}
		}
		for (int j = 0; rc == 0 && j < k; j++)
			memcpy(names[cnt++], t->upstreams[j].cluster, 256);
		pthread_mutex_unlock(&t->lock);
		stream_put(t);
	}
	free(v);
	const char **ptrs = rc == 0 ? calloc(cnt ? cnt : 1, sizeof(*ptrs)) : NULL;
	if (rc == 0 && !ptrs)
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < cnt; i++) {
		names[i][255] = 0;
		ptrs[i] = names[i];
	}
	if (rc == 0)
		rc = gws_names_build(out, ptrs, cnt);
	free(ptrs);
	free(names);
	return rc;
}

/*
 * Is any of NAMES (tls_peer_clusters) some local stream's upstream? The
 * set is built once per change of .upstreams (ns->upstreams_gen moves
 * with every write of one and every stream removed), so asking costs a
 * lookup; building it a pass over the streams, after a change only. The
 * caller holds no lock. Out of memory, the last set stands (none yet: a
 * stranger).
 */
static bool peer_upstream(struct gateway *g, const char *names)
{
	uint64_t gen = atomic_load(&g->ns->upstreams_gen);
	pthread_mutex_lock(&g->mu);
	bool fresh = g->up_valid && g->up_gen == gen;
	bool yes = fresh && gws_names_any(&g->up, names);
	pthread_mutex_unlock(&g->mu);
	if (fresh)
		return yes;
	struct gws_names set = { 0 };
	int rc = upstream_names(g->ns, &set);
	pthread_mutex_lock(&g->mu);
	if (rc == 0 && (!g->up_valid || gen > g->up_gen)) {
		struct gws_names old = g->up;
		g->up = set;
		set = old;
		g->up_gen = gen;
		g->up_valid = true;
	}
	yes = g->up_valid && gws_names_any(&g->up, names);
	pthread_mutex_unlock(&g->mu);
	gws_names_free(&set);
	return yes;
}

/* Answer with GW_RESULT. Returns 0 or a negative errno (connection lost). */
static int reply(struct gateway_conn *c, int status, uint32_t applied, const uuid_t uuid,
		 const char *msg)
{
	c->out.len = 0;
	int rc = gw_encode_result(&c->out, status, applied, uuid, msg);
	/* The same deadline as a small frame read: a peer that does not
	 * read its answers holds its thread no longer than that. */
	if (rc == 0)
		rc = tls_write_by(c->tc, c->out.p, c->out.len,
				  gws_frame_deadline_ns(mono_ns(), c->out.len, c->g->timeout_ms));
	return rc;
}

/*
 * Handle one request F. Returns 0 to go on, or a negative errno to close
 * the connection (a protocol violation or a lost connection).
 */
static int handle(struct gateway_conn *c, struct gw_frame *f)
{
	struct sfs_namespace *ns = c->g->ns;
	uuid_t none = { 0 };
	char msg[1024] = "";
	int status = 0;
	size_t applied = 0;

	if (f->type == GW_HELLO) {
		struct cluster *cl = ns_cluster(ns, f->dst_cluster);
		if (f->version != GW_VERSION) {
			snprintf(msg, sizeof(msg), "protocol version %u is not supported (this gateway speaks %d)",
				 f->version, GW_VERSION);
			status = -EPROTONOSUPPORT;
		} else if (!cl || cl->remote) {
			snprintf(msg, sizeof(msg), "cluster %s is not served by this gateway",
				 f->dst_cluster);
			status = -ENOENT;
		} else {
			snprintf(c->cluster, sizeof(c->cluster), "%s", f->dst_cluster);
		}
		if (status < 0)
			refuse_log(c, msg);
		int rc = reply(c, status, 0, none, msg);
		return rc < 0 ? rc : status;
	}
	if (f->type == GW_RESULT || !c->cluster[0]) {
		log_warn("gateway: %s (%s): %s before hello: connection closed", c->peer,
			 tls_peer_subject(c->tc), f->type == GW_RESULT ? "a result" : "a request");
		return -EPROTO;
	}

	struct stream *t = NULL;
	uuid_t uuid;
	uuid_clear(uuid);
	if (!tls_peer_names(c->tc, f->src_cluster)) {
		snprintf(msg, sizeof(msg), "the sending daemon's certificate (%s) does not name cluster %s",
			 tls_peer_subject(c->tc), f->src_cluster);
		status = -EACCES;
	} else {
		status = apply_open(ns, f->src_cluster, f->src_stream, c->cluster,
				    f->dst_stream, &t, uuid, msg, sizeof(msg));
	}
	if (status == 0 && f->type != GW_OPEN && uuid_compare(uuid, f->uuid)) {
		snprintf(msg, sizeof(msg), "replica stream /mapr/%s/%s was re-created",
			 c->cluster, f->dst_stream);
		status = -ESTALE;
	}
	if (status == 0 && f->type == GW_TOPIC)
		status = apply_topic(ns, t, f->topic, f->uid, f->gid, f->mode, msg, sizeof(msg));
	if (status == 0 && f->type == GW_APPEND)
		status = apply_append(ns, t, f->topic, f->uid, f->gid, f->mode, f->msgs,
				      f->nmsgs, &applied, msg, sizeof(msg));
	if (t)
		stream_put(t);
	if (status < 0 && status != -ESTALE)
		refuse_log(c, msg);
	/* A refused request learns no UUID (docs/security.md). */
	return reply(c, status, applied, f->type == GW_OPEN && status == 0 ? uuid : none, msg);
}

/*
 * Room for NEED bytes in buffer B of connection C, counted in its peer's
 * share and in the budget of all (gws_reserve). Returns 0, -EDQUOT (the
 * peer's share is spent), -ENOBUFS (the budget of all is) or -ENOMEM.
 */
static int frame_reserve(struct gateway_conn *c, struct gw_buf *b, size_t need)
{
	if (need <= b->cap)
		return 0;
	struct gateway *g = c->g;
	uint64_t more = need - b->cap;
	pthread_mutex_lock(&g->mu);
	int rc = gws_reserve(&g->shares, c->share, more);
	pthread_mutex_unlock(&g->mu);
	if (rc < 0)
		return rc;
	uint8_t *p = realloc(b->p, need);
	if (!p) {
		pthread_mutex_lock(&g->mu);
		gws_release(&g->shares, c->share, more);
		pthread_mutex_unlock(&g->mu);
		return -ENOMEM;
	}
	b->p = p;
	b->cap = need;
	return 0;
}

/* Let go of buffer B of C if it is big (or ALL), out of the shares. */
static void frame_release(struct gateway_conn *c, struct gw_buf *b, bool all)
{
	if (!b->cap || (!all && b->cap <= GATEWAY_FRAME_KEEP))
		return;
	pthread_mutex_lock(&c->g->mu);
	gws_release(&c->g->shares, c->share, b->cap);
	pthread_mutex_unlock(&c->g->mu);
	gw_buf_free(b);
}

/* Why frame_reserve failed, for the log. */
static const char *reserve_what(int rc)
{
	return rc == -EDQUOT ? "frame buffers of this peer's connections at its share" :
	       rc == -ENOBUFS ? "frame buffers of all connections at their bound" :
				"frame buffer";
}

/* May connection C take a frame needing LEN bytes (as sent, or
 * decompressed)? A stranger only small ones (gwshares.h). */
static bool frame_allowed(struct gateway_conn *c, uint64_t len)
{
	return len <= GWS_STRANGER_BODY || peer_upstream(c->g, tls_peer_clusters(c->tc));
}

/*
 * Read one frame into *F. Returns 0, 1 when the peer closed between
 * frames, or a negative errno (the reason is logged here, once a minute
 * per address and reason). The body is read a piece at a time, its buffer
 * grown as the bytes come: announcing a large body pins nothing until it
 * is sent. The whole frame, from its first byte, has a deadline
 * (gws_frame_deadline_ns): timeout_ms, and its size at 1 MiB/s; a peer
 * trickling it is cut off there, whatever its pace.
 */
static int read_frame(struct gateway_conn *c, struct gw_frame *f)
{
	struct gateway *g = c->g;
	uint8_t hb[GW_FRAME_HEADER];
	struct gw_header h = { 0 };
	const char *what = NULL;
	char detail[256] = "";
	uint64_t start = mono_ns();
	size_t got = 0;
	int rc = tls_read_by(c->tc, hb, sizeof(hb),
			     gws_frame_deadline_ns(start, sizeof(hb), g->timeout_ms));
	if (rc == -ECONNRESET)
		return 1;
	if (rc < 0) {
		what = rc == -ETIMEDOUT ? "frame too slow" : "reading a frame";
		goto fail;
	}
	if ((rc = gw_header_decode(hb, &h)) < 0) {
		what = rc == -EMSGSIZE ? "oversized frame" : "malformed frame header";
		goto fail;
	}
	if (!frame_allowed(c, h.length)) {
		rc = -EACCES;
		what = "a batch from a peer that is no stream's upstream here";
		snprintf(detail, sizeof(detail), "%" PRIu32 " bytes announced, %u at most until a stream here names its cluster in .upstreams",
			 h.length, GWS_STRANGER_BODY);
		goto fail;
	}
	uint64_t deadline = gws_frame_deadline_ns(start, h.length, g->timeout_ms);
	while (got < h.length) {
		size_t step = h.length - got;
		if (step > GATEWAY_FRAME_KEEP)
			step = GATEWAY_FRAME_KEEP;
		if ((rc = frame_reserve(c, &c->in, got + step)) < 0) {
			what = reserve_what(rc);
			goto fail;
		}
		if ((rc = tls_read_by(c->tc, c->in.p + got, step, deadline)) < 0) {
			what = rc == -ETIMEDOUT ? "frame too slow" : "reading a frame";
			goto fail;
		}
		got += step;
	}
	/* A compressed body's copy counts too (its size is bounded by the
	 * type, gw_body_max; the decoder checks it again). */
	if (h.compression != GW_COMP_NONE && h.length >= 4) {
		uint32_t ulen = (uint32_t)c->in.p[0] | (uint32_t)c->in.p[1] << 8 |
				(uint32_t)c->in.p[2] << 16 | (uint32_t)c->in.p[3] << 24;
		if (!frame_allowed(c, ulen)) {
			rc = -EACCES;
			what = "a batch from a peer that is no stream's upstream here";
			snprintf(detail, sizeof(detail), "%" PRIu32 " bytes once decompressed, %u at most until a stream here names its cluster in .upstreams",
				 ulen, GWS_STRANGER_BODY);
			goto fail;
		}
		if (ulen <= gw_body_max(h.type) &&
		    (rc = frame_reserve(c, &c->scratch, ulen ? ulen : 1)) < 0) {
			what = reserve_what(rc);
			goto fail;
		}
	}
	if ((rc = gw_body_decode(&h, c->in.p, h.length, &c->scratch, f)) < 0) {
		what = rc == -EMSGSIZE ? "oversized frame" : "malformed frame";
		goto fail;
	}
	return 0;
fail:
	if (!detail[0] && !strcmp(what, "frame too slow"))
		snprintf(detail, sizeof(detail), "%zu of %" PRIu32 " body bytes after %" PRIu64 " ms; a frame has timeout_ms (%d ms) and its size at 1 MiB/s",
			 got, h.length, (mono_ns() - start) / 1000000, g->timeout_ms);
	else if (!detail[0])
		snprintf(detail, sizeof(detail), "%s",
			 rc == -EIO ? tls_last_error(c->tc) : strerror(-rc));
	if (!log_quiet(g, c->peer, what))
		log_warn("gateway: %s (%s): %s: %s: connection closed (repeats from this address are logged once a minute)",
			 c->peer, tls_peer_subject(c->tc), what, detail);
	return rc;
}

static bool stopping(struct gateway *g)
{
	pthread_mutex_lock(&g->mu);
	bool s = g->stop;
	pthread_mutex_unlock(&g->mu);
	return s;
}

/* An authenticated connection's thread: requests until the peer goes. */
static void *conn_main(void *arg)
{
	struct gateway_conn *c = arg;
	struct gateway *g = c->g;
	int rc;
	uint64_t last = now_ns();
	while (!stopping(g)) {
		rc = tls_wait_readable(c->tc, 500);
		if (rc == 0) {
			/* A source with nothing to send has no use for it; it
			 * reconnects when it has (gwclient re-sends then). */
			if (now_ns() - last > GATEWAY_IDLE_NS)
				break;
			continue;
		}
		last = now_ns();
		struct gw_frame f;
		if (rc < 0 || (rc = read_frame(c, &f)) != 0)
			break;
		rc = handle(c, &f);
		gw_frame_free(&f);
		frame_release(c, &c->in, false);
		frame_release(c, &c->scratch, false);
		if (rc < 0)
			break;
	}
	/* Closed now, as the log says, not when the slot is next reaped. */
	pthread_mutex_lock(&g->mu);
	struct tls_conn *tc = c->tc;
	c->tc = NULL;
	c->fd = -1;
	pthread_mutex_unlock(&g->mu);
	tls_close(tc);
	frame_release(c, &c->in, true);
	frame_release(c, &c->scratch, true);
	gw_buf_free(&c->out);
	pthread_mutex_lock(&g->mu);
	/* Its peer may connect again at once: the slot is reaped later. */
	gws_leave(&g->shares, c->share);
	c->done = true;
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

/* Join and free connection C (its thread has ended or is ending). */
static void conn_free(struct gateway_conn *c)
{
	pthread_join(c->thread, NULL);
	if (c->tc)
		tls_close(c->tc);	/* closes fd too */
	gw_buf_free(&c->in);
	gw_buf_free(&c->scratch);
	gw_buf_free(&c->out);
	free(c);
}

/* A free slot (reaping ended connections); -1 if all are busy. g->mu held. */
static int free_slot(struct gateway *g, struct gateway_conn **reap, int *nreap)
{
	LOCK_ASSERT_HELD(&g->mu);
	int slot = -1;
	for (int i = 0; i < GATEWAY_MAX_CONNS; i++) {
		if (g->conns[i] && g->conns[i]->done) {
			reap[(*nreap)++] = g->conns[i];
			g->conns[i] = NULL;
		}
		if (!g->conns[i] && slot < 0)
			slot = i;
	}
	return slot;
}

/*
 * Handshakes. Connections are accepted and their TLS handshakes driven by
 * the accept thread, all at once, non-blocking: a slow or silent client
 * (one byte every few seconds) takes a table entry, not a thread or a
 * connection slot, and its whole handshake has one deadline. Only an
 * authenticated connection gets a slot (GATEWAY_MAX_CONNS), within its
 * peer's share (gwshares.h), and a thread, so unauthenticated clients can
 * neither use up the slots nor delay a peer's handshake. When the table is
 * full the oldest handshake is dropped: a real peer's takes milliseconds
 * and is never the oldest.
 *
 * An authenticated connection refused a slot stays in the table, still
 * driven without blocking, until its hello has come (or the deadline has
 * passed): the hello is answered with a GW_RESULT saying why, then the
 * connection is closed. Its source then shows the reason instead of
 * guessing at its certificate; and since the hello has been read, the
 * close is a FIN, not a reset that could overtake the answer.
 */
struct handshake {
	struct tls_conn *tc;
	uint64_t deadline_ns;
	short events;		/* what the handshake waits for */
	char peer[80];
	/* Refused after the handshake: the answer to send, and the hello
	 * as read so far. */
	bool refusing;
	int status;
	char why[256];
	uint8_t hello[GW_FRAME_HEADER + GWS_STRANGER_BODY];
	size_t hello_len;
};

/*
 * Give authenticated connection TC (from PEER) a slot and a thread.
 * Returns 0 (TC taken), or a negative errno with the reason in WHY (TC
 * left to the caller): -EUSERS when its peer has its share of connections
 * or every slot is taken, -ENOMEM.
 */
static int conn_start(struct gateway *g, struct tls_conn *tc, const char *peer,
		      char *why, size_t whylen)
{
	struct gateway_conn *reap[GATEWAY_MAX_CONNS];
	int nreap = 0, rc = 0;
	const char *names = tls_peer_clusters(tc);
	/* Before the lock: it may have to look at every stream. */
	bool upstream = peer_upstream(g, names);
	struct gateway_conn *c = calloc(1, sizeof(*c));
	pthread_mutex_lock(&g->mu);
	int slot = free_slot(g, reap, &nreap);
	int share = -1;
	if (!c) {
		rc = -ENOMEM;
		snprintf(why, whylen, "out of resources");
	} else if (slot < 0) {
		rc = -EUSERS;
		snprintf(why, whylen, "too many connections at this gateway (%d at most)",
			 GATEWAY_MAX_CONNS);
	} else if ((share = gws_join(&g->shares, names, upstream)) < 0) {
		rc = share == -ENOMEM ? -ENOMEM : -EUSERS;
		if (share == -EUSERS && upstream)
			snprintf(why, whylen, "too many connections from this cluster (%s: %d, the most for one peer)",
				 names[0] ? names : "(no cluster)", GWS_UPSTREAM_CONNS);
		else if (share == -EUSERS)
			snprintf(why, whylen, "too many connections from this cluster (%s: %d, the most for a cluster that is no stream's upstream here)",
				 names[0] ? names : "(no cluster)", GWS_STRANGER_CONNS);
		else
			snprintf(why, whylen, share == -ENOMEM ? "out of resources" :
					      "too many connections at this gateway (%d at most)",
				 GATEWAY_MAX_CONNS);
	} else {
		c->g = g;
		c->tc = tc;
		c->fd = tls_fd(tc);
		c->share = share;
		snprintf(c->peer, sizeof(c->peer), "%s", peer);
		if (pthread_create(&c->thread, NULL, conn_main, c) == 0) {
			g->conns[slot] = c;
			c = NULL;
		} else {
			gws_leave(&g->shares, share);
			rc = -ENOMEM;
			snprintf(why, whylen, "out of resources");
		}
	}
	pthread_mutex_unlock(&g->mu);
	for (int i = 0; i < nreap; i++)
		conn_free(reap[i]);
	free(c);
	return rc;
}

/* Drop handshake H (closing its connection), logging WHY unless stopping. */
static void handshake_drop(struct gateway *g, struct handshake *h, const char *why)
{
	if (why && !stopping(g))
		conn_refuse_log(g, h->peer, why);
	tls_close(h->tc);
	h->tc = NULL;
	h->refusing = false;
}

/*
 * Refused connection H: read its hello as it comes, without waiting;
 * once it is whole (or cannot be a hello), answer with the refusal and
 * close. The answer fits in an empty socket buffer: if it does not go at
 * once, the connection is closed all the same.
 */
static void refusal_step(struct gateway *g, struct handshake *h)
{
	for (;;) {
		size_t room = sizeof(h->hello) - h->hello_len;
		int n = room ? tls_read_some(h->tc, h->hello + h->hello_len, room) : 0;
		if (n < 0) {
			handshake_drop(g, h, NULL);
			return;
		}
		h->hello_len += n;
		struct gw_header hd;
		bool whole = false;
		if (h->hello_len >= GW_FRAME_HEADER) {
			if (gw_header_decode(h->hello, &hd) < 0 || hd.type != GW_HELLO) {
				handshake_drop(g, h, NULL);
				return;
			}
			whole = h->hello_len >= GW_FRAME_HEADER + hd.length;
		}
		if (whole || !room)
			break;
		if (n == 0) {
			h->events = POLLIN;
			return;
		}
	}
	struct gw_buf out = { 0 };
	uuid_t none = { 0 };
	if (gw_encode_result(&out, h->status, 0, none, h->why) == 0)
		tls_write_by(h->tc, out.p, out.len, mono_ns());
	gw_buf_free(&out);
	handshake_drop(g, h, NULL);
}

/* Drive handshake H as far as its socket allows. */
static void handshake_step(struct gateway *g, struct handshake *h)
{
	if (h->refusing) {
		refusal_step(g, h);
		return;
	}
	char err[512];
	int rc = tls_accept_step(h->tc, g->timeout_ms, &h->events, err, sizeof(err));
	if (rc < 0) {
		handshake_drop(g, h, err);
	} else if (rc == 1) {
		rc = conn_start(g, h->tc, h->peer, h->why, sizeof(h->why));
		if (rc == 0) {
			h->tc = NULL;
			return;
		}
		conn_refuse_log(g, h->peer, h->why);
		h->refusing = true;
		h->status = rc;
		h->hello_len = 0;
		/* The hello may have come with the handshake's last bytes. */
		refusal_step(g, h);
	}
}

static void *accept_main(void *arg)
{
	struct gateway *g = arg;
	static struct handshake hs[GATEWAY_MAX_HANDSHAKES];
	struct pollfd p[GATEWAY_MAX_HANDSHAKES + 1];
	int map[GATEWAY_MAX_HANDSHAKES + 1];
	uint64_t hs_ns = (uint64_t)g->timeout_ms * 1000000ull;
	int fl = fcntl(g->lfd, F_GETFL);
	fcntl(g->lfd, F_SETFL, fl | O_NONBLOCK);
	while (!stopping(g)) {
		/* Expired handshakes go; the rest are polled. */
		uint64_t now = now_ns(), next = now + 500000000ull;
		int np = 0;
		p[np++] = (struct pollfd){ .fd = g->lfd, .events = POLLIN };
		for (int i = 0; i < GATEWAY_MAX_HANDSHAKES; i++) {
			if (!hs[i].tc)
				continue;
			if (now >= hs[i].deadline_ns) {
				/* A refused one was logged already. */
				handshake_drop(g, &hs[i],
					       hs[i].refusing ? NULL : "TLS handshake timed out");
				continue;
			}
			if (hs[i].deadline_ns < next)
				next = hs[i].deadline_ns;
			map[np] = i;
			p[np++] = (struct pollfd){ .fd = tls_fd(hs[i].tc), .events = hs[i].events };
		}
		int ms = (int)((next - now + 999999) / 1000000);
		if (poll(p, np, ms) <= 0)
			continue;
		for (int k = 1; k < np; k++)
			if (p[k].revents && hs[map[k]].tc)
				handshake_step(g, &hs[map[k]]);
		if (!(p[0].revents & POLLIN))
			continue;
		/* Every connection waiting to be accepted. */
		for (int n = 0; n < GATEWAY_MAX_HANDSHAKES; n++) {
			struct sockaddr_storage sa;
			socklen_t sl = sizeof(sa);
			int fd = accept4(g->lfd, (struct sockaddr *)&sa, &sl, SOCK_CLOEXEC);
			if (fd < 0)
				break;
			int free_i = -1, oldest = 0;
			for (int i = 0; i < GATEWAY_MAX_HANDSHAKES; i++) {
				if (!hs[i].tc) {
					free_i = i;
					break;
				}
				if (hs[i].deadline_ns < hs[oldest].deadline_ns)
					oldest = i;
			}
			if (free_i < 0) {
				handshake_drop(g, &hs[oldest], hs[oldest].refusing ? NULL :
					       "TLS handshake dropped: too many at once");
				free_i = oldest;
			}
			struct handshake *h = &hs[free_i];
			h->refusing = false;
			addr_text(&sa, h->peer, sizeof(h->peer));
			h->tc = tls_accept_start(g->ctx, fd);
			if (!h->tc) {
				conn_refuse_log(g, h->peer, "out of resources");
				continue;
			}
			h->deadline_ns = now_ns() + hs_ns;
			h->events = POLLIN;
			handshake_step(g, h);
		}
	}
	for (int i = 0; i < GATEWAY_MAX_HANDSHAKES; i++)
		if (hs[i].tc)
			handshake_drop(g, &hs[i], NULL);
	return NULL;
}

int gateway_start(struct gateway *g, struct sfs_namespace *ns, SSL_CTX *ctx,
		  int timeout_ms, uint64_t max_message)
{
	g->ns = ns;
	g->ctx = ctx;
	g->timeout_ms = timeout_ms;
	gws_init(&g->shares, max_message);
	int rc = pthread_create(&g->accept_thread, NULL, accept_main, g);
	if (rc)
		return -rc;
	g->started = true;
	log_info("gateway: listening on %s", g->listen);
	return 0;
}

void gateway_stop(struct gateway *g)
{
	if (g->started) {
		pthread_mutex_lock(&g->mu);
		g->stop = true;
		/* Wake every connection thread out of its read. */
		for (int i = 0; i < GATEWAY_MAX_CONNS; i++)
			if (g->conns[i] && g->conns[i]->fd >= 0)
				shutdown(g->conns[i]->fd, SHUT_RDWR);
		pthread_mutex_unlock(&g->mu);
		pthread_join(g->accept_thread, NULL);
		for (int i = 0; i < GATEWAY_MAX_CONNS; i++)
			if (g->conns[i])
				conn_free(g->conns[i]);
		g->started = false;
		gws_free(&g->shares);
		gws_names_free(&g->up);
		g->up_valid = false;
	}
	if (g->lfd >= 0)
		close(g->lfd);
	g->lfd = -1;
}
