/*
 * gwclient.c - the sending side of the gateway (gwclient.h): connection,
 * backoff, one request and its answer at a time.
 */
#include "gwclient.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "../fs/logging.h"
#include "gateway.h"
#include "util/clock.h"

struct gwclient {
	SSL_CTX *ctx;			/* borrowed */
	char cluster[256];
	char hostport[300];
	int timeout_ms;

	pthread_mutex_t mu;		/* conn and interrupted, for gwclient_interrupt */
	struct tls_conn *conn;
	bool interrupted;

	bool fresh;			/* conn has carried no request yet */
	uint64_t last_answer_ns;	/* mono_ns of conn's last answer */
	uint64_t next_attempt_ns;	/* backoff: no connect before this */
	uint32_t backoff_ms;
	char last_err[1400];		/* why the last connect failed */
	int last_rc;			/* and its error (negative errno) */
	char down_err[1400];		/* a copy under mu, for gwclient_reachable */
	bool logged_down;		/* "unreachable" logged since last up */

	struct gw_buf out, in, scratch;
};

struct gwclient *gwclient_new(SSL_CTX *ctx, const char *cluster,
			      const char *hostport, int timeout_ms)
{
	struct gwclient *gc = calloc(1, sizeof(*gc));
	if (!gc)
		return NULL;
	gc->ctx = ctx;
	snprintf(gc->cluster, sizeof(gc->cluster), "%s", cluster);
	snprintf(gc->hostport, sizeof(gc->hostport), "%s", hostport);
	gc->timeout_ms = timeout_ms;
	pthread_mutex_init(&gc->mu, NULL);
	return gc;
}

/* The peer's words go into our log and status: make them one clean line. */
static void clean_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* Close the connection (lane thread). */
static void drop(struct gwclient *gc)
{
	pthread_mutex_lock(&gc->mu);
	struct tls_conn *c = gc->conn;
	gc->conn = NULL;
	pthread_mutex_unlock(&gc->mu);
	tls_close(c);
}

void gwclient_free(struct gwclient *gc)
{
	if (!gc)
		return;
	drop(gc);
	gw_buf_free(&gc->out);
	gw_buf_free(&gc->in);
	gw_buf_free(&gc->scratch);
	pthread_mutex_destroy(&gc->mu);
	free(gc);
}

void gwclient_interrupt(struct gwclient *gc)
{
	pthread_mutex_lock(&gc->mu);
	gc->interrupted = true;
	if (gc->conn)
		shutdown(tls_fd(gc->conn), SHUT_RDWR);
	pthread_mutex_unlock(&gc->mu);
}

/* The next connect waits a little longer (exponential, capped). */
static void back_off(struct gwclient *gc)
{
	gc->backoff_ms = gc->backoff_ms ? gc->backoff_ms * 2 : GWCLIENT_BACKOFF_MIN_MS;
	if (gc->backoff_ms > GWCLIENT_BACKOFF_MAX_MS)
		gc->backoff_ms = GWCLIENT_BACKOFF_MAX_MS;
	gc->next_attempt_ns = mono_ns() + gc->backoff_ms * 1000000ull;
}

/*
 * The gateway is unreachable for the reason in gc->last_err: tell the
 * caller (ERR), log it once until it is back, and back off. Returns RC.
 */
static int went_down(struct gwclient *gc, int rc, char *err, size_t errlen)
{
	gc->last_rc = rc;
	snprintf(err, errlen, "%s", gc->last_err);
	pthread_mutex_lock(&gc->mu);
	snprintf(gc->down_err, sizeof(gc->down_err), "%s", gc->last_err);
	pthread_mutex_unlock(&gc->mu);
	if (!gc->logged_down)
		log_warn("%s", gc->last_err);
	gc->logged_down = true;
	back_off(gc);
	return rc;
}

/* Read one whole frame of type TYPE into *F. */
static int read_answer(struct gwclient *gc, struct tls_conn *c, uint8_t type,
		       struct gw_frame *f)
{
	uint8_t hb[GW_FRAME_HEADER];
	struct gw_header h;
	int rc = tls_read_full(c, hb, sizeof(hb));
	if (rc < 0)
		return rc;
	if ((rc = gw_header_decode(hb, &h)) < 0)
		return rc;
	if (h.type != type)
		return -EPROTO;
	if (gc->in.cap < h.length) {
		uint8_t *p = realloc(gc->in.p, h.length);
		if (!p)
			return -ENOMEM;
		gc->in.p = p;
		gc->in.cap = h.length;
	}
	if (h.length && (rc = tls_read_full(c, gc->in.p, h.length)) < 0)
		return rc;
	gc->in.len = h.length;
	return gw_body_decode(&h, gc->in.p, h.length, &gc->scratch, f);
}

/* Read one whole GW_RESULT into *F. */
static int read_result(struct gwclient *gc, struct tls_conn *c, struct gw_frame *f)
{
	return read_answer(gc, c, GW_RESULT, f);
}

/* Connect and say hello, unless connected or backing off. */
static int ensure_connected(struct gwclient *gc, char *err, size_t errlen)
{
	pthread_mutex_lock(&gc->mu);
	bool up = gc->conn != NULL, intr = gc->interrupted;
	pthread_mutex_unlock(&gc->mu);
	if (intr) {
		snprintf(err, errlen, "gateway %s: the daemon is stopping", gc->cluster);
		return -ESHUTDOWN;
	}
	if (up)
		return 0;
	uint64_t now = mono_ns();
	if (now < gc->next_attempt_ns) {
		/* The same words as the failure itself: the replica's status
		 * (and the log, which repeats only changes) stay quiet. */
		snprintf(err, errlen, "%s", gc->last_err);
		return -EAGAIN;
	}
	struct tls_conn *c;
	char why[1100];
	int rc = tls_connect(gc->ctx, gc->hostport, gc->cluster, gc->timeout_ms, &c,
			     why, sizeof(why));
	struct gw_frame f;
	if (rc == 0) {
		/* Not gc->out: it holds the request waiting for this connection. */
		struct gw_buf hello = { 0 };
		rc = gw_encode_hello(&hello, gc->cluster);
		if (rc == 0)
			rc = tls_write_full(c, hello.p, hello.len);
		gw_buf_free(&hello);
		if (rc == 0 && (rc = read_result(gc, c, &f)) == 0) {
			if (f.status < 0) {
				rc = f.status;
				snprintf(why, sizeof(why), "%s", f.message);
				clean_line(why);
			}
			gw_frame_free(&f);
		} else if ((rc == -EIO || rc == -ECONNRESET) && tls_handshake_confirmed(c)) {
			/* The gateway finished the handshake, so it took our
			 * certificate: closed for another reason (a gateway
			 * refusing a connection for its share answers the
			 * hello with why; one that says nothing is stopping,
			 * or older). Never blame the certificate then. */
			snprintf(why, sizeof(why), "%s: connection closed by the replica's gateway at hello, after accepting this daemon's certificate (its log says why)",
				 gc->hostport);
		} else if (rc == -EIO || rc == -ECONNRESET) {
			/* TLS 1.3: the gateway checks our certificate after our
			 * side of the handshake is done, and its refusal reaches
			 * us as an alert or a reset, whichever comes first. One
			 * wording for both keeps the status and the log quiet. */
			snprintf(why, sizeof(why), "%s closed the connection at hello: it did not accept this daemon's certificate (its log says why)",
				 gc->hostport);
		} else if (rc < 0) {
			snprintf(why, sizeof(why), "%s: no answer to hello: %s", gc->hostport,
				 strerror(-rc));
		}
		if (rc < 0)
			tls_close(c);
	}
	if (rc < 0) {
		snprintf(gc->last_err, sizeof(gc->last_err), "gateway %s: %s", gc->cluster, why);
		return went_down(gc, rc, err, errlen);
	}
	if (gc->logged_down)
		log_info("gateway %s: connected to %s", gc->cluster, gc->hostport);
	gc->logged_down = false;
	gc->backoff_ms = 0;
	gc->fresh = true;
	pthread_mutex_lock(&gc->mu);
	gc->conn = c;
	if (gc->interrupted)
		shutdown(tls_fd(c), SHUT_RDWR);
	pthread_mutex_unlock(&gc->mu);
	return 0;
}

/*
 * Send the frame in gc->out and read its GW_RESULT into *F. A connection
 * that had served earlier requests may have been closed by the gateway
 * while idle: then one more try on a new connection.
 */
static int request(struct gwclient *gc, struct gw_frame *f, char *err, size_t errlen)
{
	for (int attempt = 0;; attempt++) {
		int rc = ensure_connected(gc, err, errlen);
		if (rc < 0)
			return rc;
		bool reused = !gc->fresh;
		gc->fresh = false;
		rc = tls_write_full(gc->conn, gc->out.p, gc->out.len);
		if (rc == 0)
			rc = read_result(gc, gc->conn, f);
		if (rc == 0)
			return 0;
		snprintf(gc->last_err, sizeof(gc->last_err), "gateway %s: %s: %s", gc->cluster,
			 gc->hostport, rc == -EPROTO ? "malformed answer" :
			 rc == -ECONNRESET ? "connection closed by the replica's gateway (its log says why)" :
			 rc == -EIO ? tls_last_error(gc->conn) : strerror(-rc));
		drop(gc);
		if (reused && attempt == 0 && rc == -ECONNRESET)
			continue;
		return went_down(gc, rc, err, errlen);
	}
}

/* The gateway's answer F as our return value (its message in ERR). */
static int answer(struct gw_frame *f, size_t *applied, char *err, size_t errlen)
{
	int rc = f->status;
	if (rc < 0) {
		snprintf(err, errlen, "%s", f->message);
		clean_line(err);
	}
	if (applied)
		*applied = f->applied;
	gw_frame_free(f);
	return rc;
}

int gwclient_open(struct gwclient *gc, const char *src_cluster,
		  const char *src_stream, const char *dst_stream, uuid_t uuid,
		  char *err, size_t errlen)
{
	struct gw_frame f;
	gc->out.len = 0;
	int rc = gw_encode_open(&gc->out, src_cluster, src_stream, dst_stream);
	if (rc == 0)
		rc = request(gc, &f, err, errlen);
	else
		snprintf(err, errlen, "cannot encode a request: %s", strerror(-rc));
	if (rc < 0)
		return rc;
	uuid_copy(uuid, f.uuid);
	return answer(&f, NULL, err, errlen);
}

int gwclient_topic(struct gwclient *gc, const char *src_cluster,
		   const char *src_stream, const char *dst_stream,
		   const uuid_t expect, const char *topic, uint32_t uid,
		   uint32_t gid, uint32_t mode, char *err, size_t errlen)
{
	struct gw_frame f;
	gc->out.len = 0;
	int rc = gw_encode_topic(&gc->out, src_cluster, src_stream, dst_stream, expect,
				 topic, uid, gid, mode);
	if (rc == 0)
		rc = request(gc, &f, err, errlen);
	else
		snprintf(err, errlen, "cannot encode a request: %s", strerror(-rc));
	return rc < 0 ? rc : answer(&f, NULL, err, errlen);
}

int gwclient_append(struct gwclient *gc, enum gw_compression comp,
		    const char *src_cluster, const char *src_stream,
		    const char *dst_stream, const uuid_t expect,
		    const char *topic, uint32_t uid, uint32_t gid,
		    uint32_t mode, const struct topic_msg *msgs, size_t n,
		    size_t *applied, char *err, size_t errlen)
{
	struct gw_frame f;
	gc->out.len = 0;
	int rc = gw_encode_append(&gc->out, comp, src_cluster, src_stream, dst_stream,
				  expect, topic, uid, gid, mode, msgs, n);
	if (rc == 0)
		rc = request(gc, &f, err, errlen);
	else
		snprintf(err, errlen, "cannot encode a request: %s", strerror(-rc));
	return rc < 0 ? rc : answer(&f, applied, err, errlen);
}

/*
 * Wait until the answer to the request just sent can be read: at most
 * gc->timeout_ms, asking INTERRUPTED (IARG) every 100 ms. 0, -ETIMEDOUT,
 * -EINTR, or the connection's error.
 */
static int wait_answer(struct gwclient *gc, bool (*interrupted)(void *), void *iarg)
{
	uint64_t deadline = mono_ns() + (uint64_t)gc->timeout_ms * 1000000ull;
	for (;;) {
		if (interrupted && interrupted(iarg))
			return -EINTR;
		uint64_t now = mono_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		uint64_t left_ms = (deadline - now + 999999) / 1000000;
		int rc = tls_wait_readable(gc->conn, left_ms < 100 ? (int)left_ms : 100);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
}

int gwclient_fs(struct gwclient *gc, const struct fs_req *q, struct fs_rep *rep,
		bool (*interrupted)(void *), void *iarg, char *err, size_t errlen)
{
	memset(rep, 0, sizeof(*rep));
	gc->out.len = 0;
	int rc = gw_encode_fs(&gc->out, q);
	if (rc < 0) {
		snprintf(err, errlen, "cannot encode a request: %s", strerror(-rc));
		return rc;
	}
	struct gw_frame f;
	/* What changes something is never sent twice: rather than find an
	 * idle connection closed after sending (the gateway closes one idle
	 * for GATEWAY_IDLE_NS), it goes on a new one. */
	bool idempotent = q->op == FS_GETATTR || q->op == FS_READDIR || q->op == FS_READ ||
			  q->op == FS_STATFS;
	if (!idempotent && gc->conn && mono_ns() - gc->last_answer_ns > GATEWAY_IDLE_NS / 2)
		drop(gc);
	for (int attempt = 0;; attempt++) {
		if ((rc = ensure_connected(gc, err, errlen)) < 0)
			return rc;
		bool reused = !gc->fresh;
		gc->fresh = false;
		rc = tls_write_full(gc->conn, gc->out.p, gc->out.len);
		if (rc == 0)
			rc = wait_answer(gc, interrupted, iarg);
		if (rc == 0)
			rc = read_answer(gc, gc->conn, GW_FSREPLY, &f);
		if (rc == 0) {
			gc->last_answer_ns = mono_ns();
			break;
		}
		if (rc == -EINTR) {
			/* Its answer would come after the next request: a new
			 * connection for that one. Not a failure of the peer. */
			drop(gc);
			snprintf(err, errlen, "interrupted");
			return rc;
		}
		snprintf(gc->last_err, sizeof(gc->last_err), "gateway %s: %s: %s", gc->cluster,
			 gc->hostport, rc == -EPROTO ? "malformed answer" :
			 rc == -ECONNRESET ? "connection closed by the gateway (its log says why)" :
			 rc == -EIO ? tls_last_error(gc->conn) : strerror(-rc));
		drop(gc);
		/* Only a connection that sat idle may have been closed under
		 * us before the request arrived: the request was not carried
		 * out, so sending it again is safe. */
		if (idempotent && reused && attempt == 0 && rc == -ECONNRESET)
			continue;
		return went_down(gc, rc, err, errlen);
	}
	/* The answer's bytes are the client's buffer's: copy them out. */
	rep->status = f.fsrep.status;
	rep->attr = f.fsrep.attr;
	uuid_copy(rep->topic, f.fsrep.topic);
	rep->sv = f.fsrep.sv;
	snprintf(rep->message, sizeof(rep->message), "%s", f.message[0] ? f.message : f.fsrep.message);
	clean_line(rep->message);
	if (f.fsrep.len) {
		rep->data = malloc(f.fsrep.len);
		if (!rep->data) {
			gw_frame_free(&f);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		memcpy(rep->data, f.fsrep.data, f.fsrep.len);
		rep->len = f.fsrep.len;
	}
	gw_frame_free(&f);
	return 0;
}

int gwclient_last_failure(struct gwclient *gc)
{
	return gc->last_rc;
}

int gwclient_backoff_ms(struct gwclient *gc)
{
	pthread_mutex_lock(&gc->mu);
	bool up = gc->conn != NULL;
	pthread_mutex_unlock(&gc->mu);
	uint64_t now = mono_ns();
	if (up || now >= gc->next_attempt_ns)
		return 0;
	return (int)((gc->next_attempt_ns - now + 999999) / 1000000);
}

int gwclient_reachable(struct gwclient *gc, char *why, size_t n)
{
	pthread_mutex_lock(&gc->mu);
	int rc = gc->conn ? 1 : gc->down_err[0] ? 0 : -1;
	snprintf(why, n, "%s", gc->conn ? "" : gc->down_err);
	pthread_mutex_unlock(&gc->mu);
	return rc;
}
