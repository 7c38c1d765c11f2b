/*
 * natsrepl.c - replicated appends into a topic kept in NATS JetStream
 * (natshome.h, nats_append_replicated): the exactly-once rules of
 * fs/marks.h over marks that are the topic's own chunks, and the publish
 * of what is new as chunks that keep each message's origin
 * (docs/nats.md, "Replication into NATS").
 *
 * Why the marks need no table of their own: every chunk names its origin
 * and the origin offset of its first line (Sfs-Origin), so a topic's
 * mark for an origin is one past the last line of that origin's last
 * chunk, which every daemon computes alike from the chunks it indexed
 * (nats_tdata_add). A batch's new messages are published with the
 * expected last subject sequence of the chunk the marks were computed
 * at: JetStream refuses the publish if any chunk (another daemon's,
 * carrying the same messages maybe) was stored since, and the marks are
 * computed again once this daemon has indexed it. So the check and the
 * append are one atomic step, as the local log's lock makes them. A
 * message longer than one NATS message is a run of its own, its bytes
 * published once as parts (natsparts.c) however often its head is
 * refused.
 */
#include "natshome.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logging.h"
#include "marks.h"
#include "util/clock.h"

/* The topic's origin table and tail as indexed now, into V (room for NV
 * + the batch's new origins) and *TL. */
static int snapshot(struct nats_tdata *td, struct topic_origin **v, size_t *nv, size_t extra,
		    struct nats_tail *tl)
{
	pthread_mutex_lock(&td->mu);
	size_t n = td->norigins;
	struct topic_origin *o = calloc(n + extra ? n + extra : 1, sizeof(*o));
	if (!o) {
		pthread_mutex_unlock(&td->mu);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		uuid_copy(o[i].stream, td->origins[i].stream);
		uuid_copy(o[i].topic, td->origins[i].topic);
		o[i].seen = td->origins[i].next > 0;
		o[i].hwm = o[i].seen ? td->origins[i].next - 1 : 0;
	}
	*tl = (struct nats_tail){ td->last_seq, td->next_off, td->next_pos, td->own_next };
	pthread_mutex_unlock(&td->mu);
	*v = o;
	*nv = n;
	return 0;
}

/* Origin index of each message of MSGS in V (NV entries, origins not in
 * it added unseen: V has room for N more). */
static void index_origins(struct topic_origin *v, size_t *nv, const struct topic_msg *msgs,
			  size_t n, int *idx)
{
	int hint = -1;
	for (size_t i = 0; i < n; i++) {
		int k = marks_find(v, *nv, msgs[i].origin_stream, msgs[i].origin_topic, hint);
		if (k < 0) {
			k = (int)(*nv)++;
			uuid_copy(v[k].stream, msgs[i].origin_stream);
			uuid_copy(v[k].topic, msgs[i].origin_topic);
			v[k].seen = false;
			v[k].hwm = 0;
		}
		idx[i] = hint = k;
	}
}

/* The bytes of the run being published and what its head is published
 * with, kept while the same run is tried again: its parts (a message
 * longer than one NATS message) are published once (natsparts.c). */
struct run_body {
	size_t i, j;
	char *buf;	/* NULL: none */
	struct nats_body body;
};

static void run_body_free(struct run_body *rb)
{
	if (rb->buf)
		nats_body_free(&rb->body);
	free(rb->buf);
	rb->buf = NULL;
}

/* Messages [I, J) of MSGS as the bytes of a chunk in RB, their parts
 * published if they need some (then *DEADLINE moved to nats_timeout_ms
 * from now: the head gets its whole time). 0 or a negative errno. */
static int run_body_make(struct nats_topic *nt, const struct topic_msg *msgs, size_t i,
			 size_t j, struct run_body *rb, uint64_t *deadline)
{
	if (rb->buf && rb->i == i && rb->j == j)
		return 0;
	run_body_free(rb);
	size_t bytes = 0;
	for (size_t k = i; k < j; k++)
		bytes += msgs[k].len + 1;
	char *buf = malloc(bytes ? bytes : 1);
	if (!buf)
		return -ENOMEM;
	size_t o = 0;
	for (size_t k = i; k < j; k++) {
		memcpy(buf + o, msgs[k].payload, msgs[k].len);
		o += msgs[k].len;
		buf[o++] = '\n';
	}
	char writer[64];
	nats_writer_id(nt->nc, writer, sizeof(writer));
	int rc = nats_body_make(nt, buf, bytes, writer, &rb->body);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	rb->buf = buf;
	rb->i = i;
	rb->j = j;
	if (rb->body.parts) {
		uint64_t d = mono_ns() + (uint64_t)nt->nc->timeout_ms * 1000000;
		if (d > *deadline)
			*deadline = d;
	}
	return 0;
}

/*
 * Publish messages [I, J) of MSGS (all kept, one origin, consecutive
 * origin offsets, one timestamp; one NATS message, or one message in
 * parts) after TL, their bytes kept in RB. 0 (stored, indexed or the
 * deadline near), -EAGAIN (TL was stale: the tail read and waited for),
 * or a negative errno.
 */
static int publish_run(struct nats_topic *nt, const struct topic_msg *msgs, size_t i, size_t j,
		       const struct nats_tail *tl, uint64_t *deadline, struct run_body *rb)
{
	int rc = run_body_make(nt, msgs, i, j, rb, deadline);
	if (rc < 0)
		return rc;
	char writer[64], su[37], tu[37], origin[100];
	nats_writer_id(nt->nc, writer, sizeof(writer));
	uuid_unparse(msgs[i].origin_stream, su);
	uuid_unparse(msgs[i].origin_topic, tu);
	snprintf(origin, sizeof(origin), "%s %s %" PRIu64, su, tu, msgs[i].origin_offset);
	uint64_t seq = 0;
	rc = nats_chunk_publish(nt, &rb->body, j - i, tl, tl->own, origin, 0, msgs[i].timestamp_ns,
				writer, nats_slice(*deadline), &seq);
	if (rc == 0) {
		/* Skipped (a race JetStream let through): the marks say what
		 * is left, published again from RB. */
		if (nats_chunk_settle(nt->td, seq, *deadline) == -EAGAIN)
			return -EAGAIN;
		run_body_free(rb);
		return 0;
	}
	if (rc != -EAGAIN)
		return rc;
	/* Stale, or no answer: wait until the subject's last chunk (maybe
	 * this one) is indexed here, after which the marks say what is left. */
	struct nats_tail now;
	bool mine = false;
	int r = nats_read_tail(nt, writer, nats_slice(*deadline), &now, &mine, &seq);
	if (r == 0 && mine) { /* stored, its acknowledgement lost */
		if (nats_chunk_settle(nt->td, seq, *deadline) == -EAGAIN)
			return -EAGAIN;
		run_body_free(rb);
		return 0;
	}
	if (r == 0)
		nats_wait_indexed(nt->td, seq, *deadline);
	else if (r == -ETIMEDOUT || r == -EIO)
		nats_pause();
	else
		return r;
	return -EAGAIN;
}

int nats_append_replicated(struct topic *t, const struct topic_msg *msgs, size_t n,
			   size_t *applied, char *err, size_t errlen)
{
	struct nats_topic *nt = nats_topic_of(t);
	char why[512];
	size_t done = 0;
	if (applied)
		*applied = 0;
	if (!err) {
		err = why;
		errlen = sizeof(why);
	}
	if (atomic_load(&nt->deleted))
		return -ENOENT;
	/* Runs are cut at messages to fit one NATS message; a message longer
	 * than that is a run of its own, in parts (natsparts.c). */
	size_t max = nats_part_max(nt->nc), longest = nats_chunk_max(nt->nc);
	for (size_t i = 0; i < n; i++)
		if ((size_t)msgs[i].len + 1 > longest) {
			snprintf(err, errlen, "topic %s: a message of %u bytes is longer than a chunk in parts can be (max_payload %lld, docs/nats.md)",
				 t->name, msgs[i].len, (long long)nt->nc->max_payload);
			return -EMSGSIZE;
		}
	int *idx = calloc(n ? n : 1, sizeof(*idx));
	bool *keep = calloc(n ? n : 1, sizeof(*keep));
	if (!idx || !keep) {
		free(idx);
		free(keep);
		return -ENOMEM;
	}
	uint64_t deadline = mono_ns() + (uint64_t)nt->nc->timeout_ms * 1000000;
	int rc = 0;
	bool checked = false;
	struct run_body rb = { 0 };
	pthread_mutex_lock(&nt->append_mu);
	for (;;) {
		if (atomic_load(&nt->deleted)) {
			rc = -ENOENT;
			break;
		}
		if (mono_ns() >= deadline) {
			log_warn("%s: replicated messages not stored in NATS within %lld ms", nats_topic_of(t)->path,
				 (long long)nt->nc->timeout_ms);
			rc = -EIO;
			break;
		}
		if (natsConnection_Status(nt->nc->conn) != NATS_CONN_STATUS_CONNECTED) {
			nats_pause(); /* not even tried: see nats_connected */
			continue;
		}
		struct topic_origin *v;
		size_t nv;
		struct nats_tail tl;
		if ((rc = snapshot(nt->td, &v, &nv, n, &tl)) < 0)
			break;
		/* Whether the batch can be true is decided once, against the
		 * first marks: marks only rise, and a batch without jumps
		 * over them has none over higher ones. */
		if (!checked &&
		    (rc = marks_check_batch(v, nv, t->name, t->stream_uuid, 0, msgs, n, err,
					    errlen)) < 0) {
			free(v);
			break;
		}
		checked = true;
		index_origins(v, &nv, msgs, n, idx);
		uint64_t *newhwm = calloc(nv ? nv : 1, sizeof(*newhwm));
		bool *touched = calloc(nv ? nv : 1, sizeof(*touched));
		if (!newhwm || !touched) {
			free(newhwm);
			free(touched);
			free(v);
			rc = -ENOMEM;
			break;
		}
		size_t kept = marks_select(v, nv, idx, msgs, n, keep, newhwm, touched);
		free(newhwm);
		free(touched);
		free(v);
		if (!kept)
			break; /* all of it is here */
		/* The first run of new messages: one origin, consecutive
		 * origin offsets, one timestamp, one NATS message (or one
		 * message longer than that). */
		size_t i = 0;
		while (!keep[i])
			i++;
		size_t j = i + 1, bytes = msgs[i].len + 1;
		while (j < n && keep[j] && idx[j] == idx[i] &&
		       msgs[j].origin_offset == msgs[j - 1].origin_offset + 1 &&
		       msgs[j].timestamp_ns == msgs[i].timestamp_ns &&
		       bytes + msgs[j].len + 1 <= max)
			bytes += msgs[j++].len + 1;
		rc = publish_run(nt, msgs, i, j, &tl, &deadline, &rb);
		if (rc == 0)
			done += j - i;
		else if (rc != -EAGAIN)
			break;
		rc = 0;
	}
	pthread_mutex_unlock(&nt->append_mu);
	run_body_free(&rb);
	free(idx);
	free(keep);
	if (applied)
		*applied = done;
	return rc;
}
