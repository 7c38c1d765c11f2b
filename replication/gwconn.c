/*
 * gwconn.c - one authenticated connection of the gateway (gateway_internal.h):
 * its thread reads frames within its peer's share of buffers and their
 * deadlines, hands each request to the receiving side (apply.c), answers
 * with one GW_RESULT, and closes on a protocol violation, a lost peer, an
 * idle minute or the daemon's stop. The listener, handshakes and slots are
 * gateway.c's.
 */
#define _GNU_SOURCE
#include "gateway_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "../fs/logging.h"
#include "../fs/topic.h"
#include "apply.h"
#include "frame.h"
#include "gwfs.h"
#include "util/clock.h"
#include "../fs/util/lockcheck.h"

/* Log refusal MSG once per connection and KEY (a source retries every
 * second; its own status shows the error meanwhile). */
static void refuse_log_keyed(struct gateway_conn *c, const char *key, const char *msg)
{
	uint32_t h = XXH32(key, strlen(key), 0);
	for (int i = 0; i < c->nlogged; i++)
		if (c->logged[i] == h)
			return;
	if (c->nlogged < GATEWAY_LOGGED_REASONS)
		c->logged[c->nlogged++] = h;
	log_warn("gateway: %s (%s): refused: %s", c->peer, tls_peer_subject(c->tc), msg);
}

/* Log a refusal once per connection and reason. */
static void refuse_log(struct gateway_conn *c, const char *msg)
{
	refuse_log_keyed(c, msg, msg);
}

/*
 * A peer's file operation (GW_FS): refused above its cluster's access
 * here, else carried out on the mount as its user (gwfs.c), and answered
 * with GW_FSREPLY. A refusal (of the level, or of the user's rights) is
 * logged once per connection and reason. Returns 0 to go on, or a
 * negative errno to close the connection.
 */
static int handle_fs(struct gateway_conn *c, struct gw_frame *f)
{
	const struct fs_req *q = &f->fs;
	struct fs_rep rep;
	memset(&rep, 0, sizeof(rep));
	char path[3 * 256 + 8];
	snprintf(path, sizeof(path), "/%s%s%s%s%s", q->cluster, *q->stream ? "/" : "", q->stream,
		 *q->name ? "/" : "", q->name);
	enum sfs_access access = gw_peer_access(c->g, tls_peer_clusters(c->tc));
	int rc;
	if (strcmp(q->cluster, c->cluster)) {
		snprintf(rep.message, sizeof(rep.message),
			 "a request for cluster %s on a connection to cluster %s", q->cluster,
			 c->cluster);
		rep.status = -EACCES;
	} else if ((rc = gwfs_allowed(access, q, rep.message, sizeof(rep.message))) < 0) {
		rep.status = rc;
	} else if ((rc = gwfs_serve(c->g->fs, access, q, &rep)) < 0) {
		rep.status = rc == -ENOTCONN ? -EHOSTDOWN : rc;
	}
	if (rep.status == -EACCES || rep.status == -EPERM) {
		/* Once per connection and kind of refusal (the operation and
		 * the reason), whatever paths and users a peer tries. */
		char key[1200], line[2400];
		snprintf(key, sizeof(key), "fs %s %d %s", fs_op_name(q->op), rep.status, rep.message);
		snprintf(line, sizeof(line), "%s %s as uid %u: %s%s%s", fs_op_name(q->op), path,
			 q->who.uid, strerror(-rep.status), rep.message[0] ? ": " : "", rep.message);
		refuse_log_keyed(c, key, line);
	}
	c->out.len = 0;
	rc = gw_encode_fsreply(&c->out, &rep);
	if (rc == -EMSGSIZE) {
		fs_rep_free(&rep);
		rep.status = -EFBIG;
		rc = gw_encode_fsreply(&c->out, &rep);
	}
	fs_rep_free(&rep);
	if (rc == 0)
		rc = tls_write_by(c->tc, c->out.p, c->out.len,
				  gws_frame_deadline_ns(mono_ns(), c->out.len, c->g->timeout_ms));
	/* A big answer's buffer is not kept for the next one. */
	if (c->out.cap > GATEWAY_FRAME_KEEP)
		gw_buf_free(&c->out);
	return rc;
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
	if (f->type == GW_RESULT || f->type == GW_FSREPLY || !c->cluster[0]) {
		log_warn("gateway: %s (%s): %s before hello: connection closed", c->peer,
			 tls_peer_subject(c->tc),
			 f->type == GW_RESULT || f->type == GW_FSREPLY ? "an answer" : "a request");
		return -EPROTO;
	}
	if (f->type == GW_FS)
		return handle_fs(c, f);

	struct stream *t = NULL;
	bool opened = false;	/* the refusal, if any, is apply_open's */
	uuid_t uuid;
	uuid_clear(uuid);
	if (!tls_peer_names(c->tc, f->src_cluster)) {
		snprintf(msg, sizeof(msg), "the sending daemon's certificate (%s) does not name cluster %s",
			 tls_peer_subject(c->tc), f->src_cluster);
		status = -EACCES;
	} else {
		status = apply_open(ns, f->src_cluster, f->src_stream, c->cluster,
				    f->dst_stream, &t, uuid, msg, sizeof(msg));
		opened = true;
	}
	bool logged = false;
	if (opened && (status == -ENOENT || status == -EACCES)) {
		/* A stream that does not exist and one that does not list the
		 * source are refused alike: a peer cannot probe which streams
		 * a cluster has (docs/security.md). The log says which. */
		refuse_log(c, msg);
		logged = true;
		/* (names cut at 150 bytes: the answer has room for 1,023) */
		snprintf(msg, sizeof(msg),
			 "refused by the replica: /mapr/%.150s/%.150s does not exist, or /mapr/%.150s/%.150s is not in /mapr/%.150s/%.150s/.upstreams",
			 c->cluster, f->dst_stream, f->src_cluster, f->src_stream, c->cluster,
			 f->dst_stream);
		status = -EACCES;
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
	if (status < 0 && status != -ESTALE && !logged)
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
	const char *names = tls_peer_clusters(c->tc);
	return len <= GWS_STRANGER_BODY || gw_peer_upstream(c->g, names) ||
	       gw_peer_access(c->g, names) >= SFS_ACCESS_WRITE;
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
	if (!gw_log_quiet(g, c->peer, what))
		log_warn("gateway: %s (%s): %s: %s: connection closed (repeats from this address are logged once a minute)",
			 c->peer, tls_peer_subject(c->tc), what, detail);
	return rc;
}

bool gw_stopping(struct gateway *g)
{
	pthread_mutex_lock(&g->mu);
	bool s = g->stop;
	pthread_mutex_unlock(&g->mu);
	return s;
}

/* An authenticated connection's thread: requests until the peer goes. */
void *gw_conn_main(void *arg)
{
	struct gateway_conn *c = arg;
	struct gateway *g = c->g;
	int rc;
	uint64_t last = now_ns();
	while (!gw_stopping(g)) {
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
void gw_conn_free(struct gateway_conn *c)
{
	pthread_join(c->thread, NULL);
	if (c->tc)
		tls_close(c->tc);	/* closes fd too */
	gw_buf_free(&c->in);
	gw_buf_free(&c->scratch);
	gw_buf_free(&c->out);
	free(c);
}
