/*
 * gateway.c - the gateway's listener (gateway.h): bind, the accept thread
 * with its handshakes, slots within each peer's share, start and stop.
 * What one connection does once it has its thread is gwconn.c's.
 *
 * A connection's life: TLS handshake (mutual; refused peers are logged and
 * closed), a slot within its peer's share (else its hello is answered with
 * the reason, and it is closed), then GW_HELLO naming a local cluster, then
 * any number of requests, each answered by one GW_RESULT. The connection
 * stays open while the peer keeps it; the daemon's stop closes it.
 */
#define _GNU_SOURCE
#include "gateway_internal.h"

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
#include "gwfs.h"
#include "util/clock.h"
#include "util/hostport.h"
#include "../fs/util/lockcheck.h"


/* "ADDR:PORT" of a socket address, for logs. */
static void addr_text(const struct sockaddr_storage *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?", port[16] = "?";
	getnameinfo((const struct sockaddr *)sa, sizeof(*sa), host, sizeof(host), port,
		    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(buf, len, sa->ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

#define GW_STR_(x) #x
#define GW_STR(x) GW_STR_(x)

/* SA's address, without the port, as 16 bytes (IPv4 as IPv4-mapped
 * IPv6): what the handshakes from one address are counted by. */
static void addr_key(const struct sockaddr_storage *sa, unsigned char key[16])
{
	memset(key, 0, 16);
	if (sa->ss_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	} else if (sa->ss_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	}
}

int gateway_bind(struct gateway *g, const char *listen_on, char *err, size_t errlen)
{
	memset(g, 0, sizeof(*g));
	g->lfd = -1;
	pthread_mutex_init(&g->mu, NULL);
	snprintf(g->listen, sizeof(g->listen), "%s", listen_on);
	char why[256];
	int fd = hostport_listen(listen_on, 64, why, sizeof(why));
	if (fd < 0) {
		snprintf(err, errlen, "[gateway] listen = %s: %s", listen_on, why);
		return fd;
	}
	g->lfd = fd;
	return 0;
}


/*
 * Has something of KEY been logged for PEER's address within the last
 * minute? If not, it is noted as logged now. A refused peer reconnects
 * with backoff for as long as it runs, and an attacker as fast as it can:
 * one line a minute per address and reason says it all.
 */
bool gw_log_quiet(struct gateway *g, const char *peer, const char *key)
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
	if (!gw_log_quiet(g, peer, why))
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
bool gw_peer_upstream(struct gateway *g, const char *names)
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

enum sfs_access gw_peer_access(struct gateway *g, const char *names)
{
	enum sfs_access best = SFS_ACCESS_REPLICATE;
	const char *p = names;
	while (p && *p) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		char name[256];
		if (n && n < sizeof(name)) {
			memcpy(name, p, n);
			name[n] = 0;
			const struct sfs_cluster_conf *cc = config_find_cluster(g->ns->cfg, name);
			if (cc && cc->gateway && cc->access > best)
				best = cc->access;
		}
		p += n;
	}
	return best;
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
	unsigned char addr[16];	/* the client's address (addr_key) */
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
	/* Before the lock: it may have to look at every stream. A peer
	 * granted access here is no stranger either, and its users' file
	 * operations come on connections of their own. */
	bool access = gw_peer_access(g, names) >= SFS_ACCESS_READ;
	bool upstream = access || gw_peer_upstream(g, names);
	int max_conns = access ? GWS_ACCESS_CONNS : upstream ? GWS_UPSTREAM_CONNS : GWS_STRANGER_CONNS;
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
	} else if ((share = gws_join(&g->shares, names, max_conns)) < 0) {
		rc = share == -ENOMEM ? -ENOMEM : -EUSERS;
		if (share == -EUSERS && upstream)
			snprintf(why, whylen, "too many connections from this cluster (%s: %d, the most for one peer)",
				 names[0] ? names : "(no cluster)", max_conns);
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
		if (pthread_create(&c->thread, NULL, gw_conn_main, c) == 0) {
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
		gw_conn_free(reap[i]);
	free(c);
	return rc;
}

/* Drop handshake H (closing its connection), logging WHY unless stopping. */
static void handshake_drop(struct gateway *g, struct handshake *h, const char *why)
{
	if (why && !gw_stopping(g))
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
	while (!gw_stopping(g)) {
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
			unsigned char key[16];
			addr_key(&sa, key);
			int free_i = -1, oldest = -1, same = 0;
			for (int i = 0; i < GATEWAY_MAX_HANDSHAKES; i++) {
				if (!hs[i].tc) {
					if (free_i < 0)
						free_i = i;
					continue;
				}
				if (!memcmp(hs[i].addr, key, 16) && !hs[i].refusing)
					same++;
				if (oldest < 0 || hs[i].deadline_ns < hs[oldest].deadline_ns)
					oldest = i;
			}
			if (same >= GATEWAY_MAX_HANDSHAKES_PER_ADDR) {
				/* Closed before any TLS: costs this thread an
				 * accept and a close, not a key exchange. */
				char peer[80];
				addr_text(&sa, peer, sizeof(peer));
				close(fd);
				conn_refuse_log(g, peer, "too many TLS handshakes at once from this address ("
					    GW_STR(GATEWAY_MAX_HANDSHAKES_PER_ADDR) " at most)");
				continue;
			}
			if (free_i < 0) {
				handshake_drop(g, &hs[oldest], hs[oldest].refusing ? NULL :
					       "TLS handshake dropped: too many at once");
				free_i = oldest;
			}
			struct handshake *h = &hs[free_i];
			h->refusing = false;
			memcpy(h->addr, key, sizeof(h->addr));
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
		  int timeout_ms, uint64_t max_message, const char *mountpoint)
{
	g->ns = ns;
	g->ctx = ctx;
	g->timeout_ms = timeout_ms;
	if (!(g->fs = gwfs_new(mountpoint, ns)))
		return -ENOMEM;
	gws_init(&g->shares, max_message);
	int rc = pthread_create(&g->accept_thread, NULL, accept_main, g);
	if (rc) {
		gwfs_free(g->fs);
		g->fs = NULL;
		return -rc;
	}
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
				gw_conn_free(g->conns[i]);
		g->started = false;
		gws_free(&g->shares);
		gws_names_free(&g->up);
		g->up_valid = false;
		gwfs_free(g->fs);
		g->fs = NULL;
	}
	if (g->lfd >= 0)
		close(g->lfd);
	g->lfd = -1;
}
