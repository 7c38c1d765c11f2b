/*
 * natstopic.c - a topic kept in NATS JetStream (natshome.h): its metadata
 * under key t.<stream uuid>.E(name), its chunks on subject
 * sfs.<stream uuid>.<topic uuid>; appends published with the expected
 * last subject sequence, the chunk index this daemon keeps (docs/nats.md);
 * the topic operations of fs/topic.h (reads: natsread.c).
 */
#include "natshome.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lines.h"
#include "logging.h"
#include "metafile.h"
#include "namespace.h"
#include "util/clock.h"

struct nats_topic *nats_topic_of(struct topic *t)
{
	return (struct nats_topic *)((char *)t - offsetof(struct nats_topic, base));
}

int nats_topic_key(const struct stream *s, const char *name, char *out)
{
	char enc[NATS_KEY_MAX - 40], u[37];
	if (nats_encode(name, enc, sizeof(enc)) < 0)
		return -ENAMETOOLONG;
	uuid_unparse(s->uuid, u);
	snprintf(out, NATS_KEY_MAX, "t.%s.%s", u, enc);
	return 0;
}

/* A header of M as a number; false if missing or not one. */
static bool hdr_u64(natsMsg *m, const char *key, uint64_t *v)
{
	const char *s = NULL;
	char *end;
	if (natsMsgHeader_Get(m, key, &s) != NATS_OK || !s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*v = x;
	return true;
}

int nats_chunk_headers(natsMsg *m, uint64_t seq, struct nats_chunk *c, struct nats_origin *o)
{
	uint64_t n, len, own;
	const char *org = NULL;
	memset(c, 0, sizeof(*c));
	c->seq = seq;
	if (!hdr_u64(m, "Sfs-Off", &c->off) || !hdr_u64(m, "Sfs-Pos", &c->pos) ||
	    !hdr_u64(m, "Sfs-N", &n) || !hdr_u64(m, "Sfs-Len", &len) ||
	    !hdr_u64(m, "Sfs-Own", &own) || !hdr_u64(m, "Sfs-Ts", &c->ts) ||
	    natsMsgHeader_Get(m, "Sfs-Origin", &org) != NATS_OK || !org)
		return -EPROTO;
	char su[37], tu[37];
	unsigned long long first;
	if (n == 0 || n > UINT32_MAX || len > UINT32_MAX || len < n ||
	    sscanf(org, "%36s %36s %llu", su, tu, &first) != 3 ||
	    uuid_parse(su, o->stream) < 0 || uuid_parse(tu, o->topic) < 0)
		return -EPROTO;
	c->n = (uint32_t)n;
	c->len = (uint32_t)len;
	c->origin_off = first;
	(void)own;
	/* The epoch of an own chunk (natsepoch.c); none: the first. */
	uint64_t g = 0;
	const char *gs = NULL;
	if (natsMsgHeader_Get(m, "Sfs-Own-Gen", &gs) == NATS_OK && gs &&
	    (!hdr_u64(m, "Sfs-Own-Gen", &g) || g == 0 || g > UINT32_MAX))
		return -EPROTO;
	c->own_gen = (uint32_t)g;
	return 0;
}

/* The own-origin count after the chunk of M (Sfs-Own), or 0. */
static uint64_t hdr_own(natsMsg *m)
{
	uint64_t v = 0;
	hdr_u64(m, "Sfs-Own", &v);
	return v;
}

/* ---- appends ---------------------------------------------------------------- */

void nats_wait_indexed(struct nats_tdata *td, uint64_t seq, uint64_t deadline)
{
	struct timespec ts = { (time_t)(deadline / 1000000000), (long)(deadline % 1000000000) };
	pthread_mutex_lock(&td->mu);
	while (td->last_seq < seq && !td->purged)
		if (pthread_cond_timedwait(&td->cv, &td->mu, &ts))
			break;
	pthread_mutex_unlock(&td->mu);
}

int nats_read_tail(struct nats_topic *nt, const char *writer, uint64_t deadline,
		   struct nats_tail *tl, bool *mine, uint64_t *seq)
{
	jsOptions jo;
	jsErrCode ec = 0;
	natsMsg *m = NULL;
	nats_jsopts(&jo, deadline);
	*mine = false;
	natsStatus s = js_GetLastMsg(&m, nt->nc->js, nt->jsname, nt->subject, &jo, &ec);
	if (s != NATS_OK) {
		if (ec == JSNoMessageFoundErr || (s == NATS_NOT_FOUND && ec != JSStreamNotFoundErr)) {
			memset(tl, 0, sizeof(*tl)); /* nothing there yet */
			*seq = 0;
			return 0;
		}
		return nats_status_errno(s, ec);
	}
	struct nats_chunk c;
	struct nats_origin o;
	uint64_t sq = natsMsg_GetSequence(m);
	int rc = nats_chunk_headers(m, sq, &c, &o);
	if (rc == 0) {
		const char *w = NULL;
		*mine = natsMsgHeader_Get(m, "Sfs-Writer", &w) == NATS_OK && w && !strcmp(w, writer);
		*seq = sq;
		tl->seq = sq;
		tl->off = c.off + c.n;
		tl->pos = c.pos + c.len;
		tl->own = hdr_own(m);
	}
	natsMsg_Destroy(m);
	return rc;
}

int nats_chunk_publish(struct nats_topic *nt, const struct nats_body *b, size_t n,
		       const struct nats_tail *tl, uint64_t own_after, const char *origin,
		       uint32_t own_gen, uint64_t ts, const char *writer, uint64_t deadline,
		       uint64_t *seq)
{
	char h[8][80];
	snprintf(h[0], 80, "%" PRIu64, tl->seq);
	snprintf(h[1], 80, "%" PRIu64, tl->off);
	snprintf(h[2], 80, "%" PRIu64, tl->pos);
	snprintf(h[3], 80, "%zu", n);
	snprintf(h[4], 80, "%zu", b->len);
	snprintf(h[5], 80, "%" PRIu64, own_after);
	snprintf(h[7], 80, "%" PRIu64, ts);
	natsMsg *m = NULL;
	jsPubAck *ack = NULL;
	jsErrCode ec = 0;
	jsPubOptions po;
	jsPubOptions_Init(&po);
	uint64_t now = mono_ns();
	po.MaxWait = deadline > now + 1000000 ? (int64_t)((deadline - now) / 1000000) : 1;
	/* With parts, the head carries no payload (natsparts.c). */
	natsStatus s = natsMsg_Create(&m, nt->subject, NULL, b->parts ? NULL : b->data,
				      b->parts ? 0 : (int)b->len);
	static const char *const keys[8] = {
		"Nats-Expected-Last-Subject-Sequence", "Sfs-Off", "Sfs-Pos", "Sfs-N",
		"Sfs-Len", "Sfs-Own", "Sfs-Origin", "Sfs-Ts",
	};
	/* Sfs-Origin as given: two UUIDs and an offset of up to 20 digits do
	 * not fit h's 80 bytes (cut there, offsets from 100000 on lost digits). */
	for (int i = 0; i < 8 && s == NATS_OK; i++)
		s = natsMsgHeader_Set(m, keys[i], i == 6 ? origin : h[i]);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Sfs-Writer", writer);
	char g[16];
	snprintf(g, sizeof(g), "%" PRIu32, own_gen);
	if (s == NATS_OK && own_gen)
		s = natsMsgHeader_Set(m, "Sfs-Own-Gen", g);
	if (s == NATS_OK && b->parts)
		s = natsMsgHeader_Set(m, "Sfs-Parts", b->parts);
	if (s == NATS_OK && b->parts && b->by[0])
		s = natsMsgHeader_Set(m, "Sfs-Parts-By", b->by);
	/* The same chunk published again after a lost acknowledgement is
	 * found by JetStream's de-duplication (docs/nats.md). */
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Nats-Msg-Id", writer);
	if (s == NATS_OK)
		s = js_PublishMsg(&ack, nt->nc->js, m, &po, &ec);
	*seq = ack ? ack->Sequence : 0;
	jsPubAck_Destroy(ack);
	natsMsg_Destroy(m);
	if (s == NATS_OK)
		return 0;
	if (ec == JSStreamNotFoundErr)
		return -ENOENT; /* the stream was removed */
	if (ec == JSStreamMessageExceedsMaximumErr || nats_limit_errno(ec) != -EIO) {
		/* Too big, or full (a quota: EDQUOT, the store: ENOSPC). */
		log_warn("%s: append refused by JetStream: %s (%d)", nt->path,
			 nats_GetLastError(NULL) ? nats_GetLastError(NULL) : "?", (int)ec);
		return nats_limit_errno(ec);
	}
	/* Another daemon appended first, no answer in time (the chunk may be
	 * stored: the subject's last chunk says which), or a refusal of a
	 * moment (a server going away, a leader being elected: 503s): the
	 * caller tries again until its deadline. */
	return -EAGAIN;
}

void nats_writer_id(struct nats_cluster *nc, char *out, size_t n)
{
	snprintf(out, n, "%s-%" PRIuFAST64, nc->instance, atomic_fetch_add(&nc->writes, 1));
}

/*
 * -EIO when the subject's last chunk as JetStream names it, TL, is older
 * than INDEXED, the last one this daemon had indexed for the topic before
 * it asked (a chunk indexed since may be newer than the answer, which is
 * no fault), else 0. A subject's chunks are never removed while its topic
 * lives (a removal deletes its key, then purges it: -ENOENT then), so
 * this is a server that answers from behind (a leader just elected that
 * has not applied its log yet: the caller asks again for
 * NATS_BEHIND_MS), a stream that went back (a crash of every server:
 * natsseq.c is asked to check, and rebuilds the index), or a store that
 * lost its per-subject state: nats-server 2.9.10 does after refusing a
 * publish for an account limit, and then takes a publish expecting an
 * empty subject (docs/nats.md, "df"). Publishing over TL would store a
 * chunk claiming offsets already taken, which no reader serves: an
 * acknowledged write lost. Refused instead (tail_refused).
 */
static int tail_behind_index(struct nats_topic *nt, const struct nats_tail *tl,
			     uint64_t indexed)
{
	if (tl->seq >= indexed)
		return 0;
	uint64_t rev;
	if (nats_kv_holds(nt->nc, nt->key, nt->base.uuid, &rev) == 0)
		return -ENOENT; /* removed by another daemon, its subject purged */
	nats_seq_suspect(nt->nc); /* or the stream went back (natsseq.c) */
	return -EIO;
}

/* The append refused: TL stayed behind INDEXED for NATS_BEHIND_MS. */
static int tail_refused(struct nats_topic *nt, const struct nats_tail *tl, uint64_t indexed)
{
	log_error("%s: NATS names sequence %" PRIu64 " as the last chunk of subject %s, "
		  "where %" PRIu64 " is already indexed: its store lost the subject's state "
		  "(make the topic again; docs/nats.md, df); append refused",
		  nt->path, tl->seq, nt->subject, indexed);
	return -EIO;
}

/* The last chunk NT's index holds, 0 once its topic is removed; GEN the
 * index's generation (one more each time it is read again, natsseq.c). */
static uint64_t indexed_seq(struct nats_topic *nt, uint64_t *gen)
{
	pthread_mutex_lock(&nt->td->mu);
	uint64_t seq = nt->td->purged ? 0 : nt->td->last_seq;
	*gen = nt->td->gen;
	pthread_mutex_unlock(&nt->td->mu);
	return seq;
}

/*
 * Chunk SEQ, this daemon's with Sfs-Ts TS, is stored, but the index holds
 * another chunk at SEQ: the stream went back (a crash of every server,
 * natsseq.c). Wait, until DEADLINE, for the index read again to hold it.
 * 0, -ETIMEDOUT, -EINTR, or -EAGAIN (skipped there: publish it again).
 */
static int settle_again(struct nats_topic *nt, uint64_t seq, uint64_t ts, uint64_t deadline)
{
	nats_seq_suspect(nt->nc);
	for (;;) {
		if (cluster_interrupted())
			return -EINTR;
		if (mono_ns() >= deadline)
			return -ETIMEDOUT;
		nats_pause();
		int st = nats_chunk_settle(nt->td, seq, deadline);
		if (st != 0 || nats_chunk_mine(nt->td, seq, ts))
			return st;
	}
}

/* The own origin of a topic's next own chunk (natsepoch.c); DUE: not
 * known yet (its new epoch is being written: wait). */
struct own_origin {
	uuid_t key;
	uint64_t off;
	uint32_t gen;
	bool due;
};

/* TD's tail as indexed now into TL, the next own chunk's origin, and the
 * index's generation (GEN) they are of. */
static void tail_now(struct nats_tdata *td, struct nats_tail *tl, struct own_origin *oo,
		     uint64_t *gen)
{
	pthread_mutex_lock(&td->mu);
	*tl = (struct nats_tail){ td->last_seq, td->next_off, td->next_pos, td->own_next };
	*gen = td->gen;
	nats_epoch_own(td, oo->key, &oo->off, &oo->gen);
	oo->due = td->epoch_due != 0;
	pthread_mutex_unlock(&td->mu);
}

/* Publish the head of a chunk of N lines, B's bytes (its payload or its
 * parts, already stored), as WRITER: tried again after each refusal with
 * the new tail, until DEADLINE. */
static int publish_chunk(struct nats_topic *nt, const struct nats_body *b, size_t n,
			 const char *writer, uint64_t deadline)
{
	struct topic *t = &nt->base;
	struct nats_tdata *td = nt->td;
	char su[37], wid[64];
	uuid_unparse(t->stream_uuid, su);
	/* The head's writer id (Sfs-Writer, Nats-Msg-Id): a new one when a
	 * head is published again after the index skipped it. */
	snprintf(wid, sizeof(wid), "%s", writer);
	struct nats_tail tl;
	struct own_origin oo;
	uint64_t tgen;
	tail_now(td, &tl, &oo, &tgen);
	uint64_t ts = now_ns();
	uint64_t behind_since = 0; /* JetStream's tail behind the index since */
	uint64_t verdict = 0;	/* the count of checks' verdicts to wait for */
	int rc = -ETIMEDOUT;
	for (;;) {
		if (atomic_load(&nt->deleted)) {
			rc = -ENOENT;
			break;
		}
		if (mono_ns() >= deadline)
			break;
		if (cluster_interrupted()) {
			rc = -EINTR; /* the chunk may be stored all the same */
			break;
		}
		if (natsConnection_Status(nt->nc->conn) != NATS_CONN_STATUS_CONNECTED) {
			nats_pause(); /* not even tried: see nats_connected */
			continue;
		}
		/* The index read again since TL was taken (natsseq.c): the tail
		 * and the own origin are the new index's (or a new epoch's). */
		uint64_t gen;
		(void)indexed_seq(nt, &gen);
		if (gen != tgen)
			tail_now(td, &tl, &oo, &tgen);
		if (oo.due) {
			/* Its stream went back: the next own chunk goes under the
			 * new epoch, not yet known here (natsseq.c). */
			nats_pause();
			tail_now(td, &tl, &oo, &tgen);
			continue;
		}
		char origin[100];	/* 36 + 1 + 36 + 1 + 20 digits + NUL */
		char ks[37];
		uuid_unparse(oo.key, ks);
		snprintf(origin, sizeof(origin), "%s %s %" PRIu64, su, ks, oo.off);
		uint64_t seq = 0;
		int p = nats_chunk_publish(nt, b, n, &tl, oo.off + n, origin, oo.gen, ts, wid,
					   nats_slice(deadline), &seq);
		bool mine = p == 0;
		if (p != 0 && p != -EAGAIN) {
			rc = p;
			break;
		}
		if (p == -EAGAIN) {
			struct nats_tail told;
			uint64_t igen;
			uint64_t indexed = indexed_seq(nt, &igen);
			int r = nats_read_tail(nt, wid, nats_slice(deadline), &told, &mine, &seq);
			if (r < 0 && r != -ETIMEDOUT && r != -EIO) {
				rc = r;
				break;
			}
			if (r < 0) {
				nats_pause(); /* NATS away, or electing a leader */
				continue;
			}
			int bad = mine ? 0 : tail_behind_index(nt, &told, indexed);
			/* The index was read again while the tail was asked (a
			 * crash check's verdict, natsseq.c): INDEXED was the old
			 * index's, so nothing is behind it; asked again. */
			uint64_t gen;
			(void)indexed_seq(nt, &gen);
			if (bad == -EIO && gen != igen && mono_ns() < deadline) {
				nats_pause();
				continue;
			}
			if (bad == -EIO && !behind_since) {
				behind_since = mono_ns();
				/* A check running now may have begun before: the
				 * verdict waited for is the next one's. */
				verdict = atomic_load(&nt->nc->seq_verdicts) + 1 +
					  atomic_load(&nt->nc->seq_checking);
			}
			/* The check asked for may find the stream went back (a
			 * crash: it may wait on requests sent before the servers'
			 * restart, or come late on a busy host): its verdict
			 * first, within the deadline. */
			if (bad == -EIO && (mono_ns() - behind_since <
					    (uint64_t)NATS_BEHIND_MS * 1000000 ||
					    atomic_load(&nt->nc->seq_checking) ||
					    atomic_load(&nt->nc->seq_verdicts) < verdict) &&
			    mono_ns() < deadline) {
				nats_pause(); /* asked again: a leader catching up? */
				continue;
			}
			if (bad == -EIO)
				bad = tail_refused(nt, &told, indexed);
			if (bad < 0) {
				rc = bad;
				break;
			}
			behind_since = 0;
		}
		/* Where the next chunk goes is what this daemon indexed up to
		 * the subject's last chunk (a chunk read from JetStream may be
		 * one the index skips). */
		int st = nats_chunk_settle(td, seq, deadline);
		if (mine && st == 0 && !nats_chunk_mine(td, seq, ts))
			st = settle_again(nt, seq, ts, deadline);
		if (mine && st == 0) {
			/* Its bytes are what sequence SEQ holds for good: the
			 * next readers here (tail -f) need no fetch. */
			if (!b->parts && seq)
				nats_cache_put(&nt->nc->cache, t->stream_uuid, seq, b->data, b->len);
			rc = 0;
			break;
		}
		if (st == -EINTR) {
			rc = -EINTR;
			break;
		}
		if (mine && st == -ETIMEDOUT) {
			log_warn("%s: chunk %" PRIu64 " stored in NATS but not seen here within %lld ms; "
				 "the append may or may not count", nats_topic_of(t)->path, seq,
				 (long long)nt->nc->timeout_ms);
			rc = -EIO;
			break;
		}
		if (mine) /* skipped as a loser of a race: publish it again */
			nats_writer_id(nt->nc, wid, sizeof(wid));
		tail_now(td, &tl, &oo, &tgen);
	}
	if (rc == -ETIMEDOUT && oo.due) {
		log_warn("%s: append not made: the new epoch of its origin was not written within "
			 "%lld ms (docs/nats.md, \"Durability\")", nats_topic_of(t)->path,
			 (long long)nt->nc->timeout_ms);
		rc = -EIO;
	} else if (rc == -ETIMEDOUT) {
		log_warn("%s: append not acknowledged by NATS within %lld ms", nats_topic_of(t)->path,
			 (long long)nt->nc->timeout_ms);
		rc = -EIO;
	} else if (rc == -EINTR) {
		log_info("%s: append interrupted by a signal while waiting on NATS; it may be "
			 "stored all the same (docs/nats.md)", nats_topic_of(t)->path);
	}
	return rc;
}

static int nt_append_local(struct topic *t, const struct iovec *msgs, size_t n)
{
	struct nats_topic *nt = nats_topic_of(t);
	if (atomic_load(&nt->deleted))
		return -ENOENT;
	/* The complete lines of one write() are one chunk, however long: one
	 * message, or parts and a head (natsparts.c, docs/nats.md). */
	size_t bytes;
	char *buf = lines_join(msgs, n, &bytes);
	if (!buf)
		return -ENOMEM;
	char writer[64];
	nats_writer_id(nt->nc, writer, sizeof(writer));
	struct nats_body b;
	int rc = nats_body_make(nt, buf, bytes, writer, &b);
	if (rc == 0) {
		uint64_t deadline = mono_ns() + (uint64_t)nt->nc->timeout_ms * 1000000;
		pthread_mutex_lock(&nt->append_mu);
		rc = publish_chunk(nt, &b, n, writer, deadline);
		pthread_mutex_unlock(&nt->append_mu);
		nats_body_free(&b);
	}
	free(buf);
	return rc;
}

/* ---- the rest of the topic operations ------------------------------------------ */

static void nt_stat(struct topic *t, uint64_t *messages, uint64_t *bytes, uint64_t *mtime_ns)
{
	struct nats_topic *nt = nats_topic_of(t);
	struct nats_tdata *td = nt->td;
	pthread_mutex_lock(&td->mu);
	if (messages)
		*messages = td->next_off;
	if (bytes)
		*bytes = td->next_pos;
	if (mtime_ns)
		*mtime_ns = td->mtime_ns > nt->ctime_ns ? td->mtime_ns : nt->ctime_ns;
	pthread_mutex_unlock(&td->mu);
}

static uint64_t nt_ctime(struct topic *t)
{
	struct nats_topic *nt = nats_topic_of(t);
	uint64_t m;
	nt_stat(t, NULL, NULL, &m);
	pthread_mutex_lock(&nt->mu);
	uint64_t c = nt->change_ns > m ? nt->change_ns : m;
	pthread_mutex_unlock(&nt->mu);
	return c;
}

static int nt_set_owner(struct topic *t, uid_t uid, gid_t gid, mode_t mode)
{
	struct nats_topic *nt = nats_topic_of(t);
	uint64_t until = 0;
	int cr = nats_connected(nt->nc, "chmod/chown", &until);
	if (cr < 0)
		return cr;
	uid_t ou = t->uid;
	gid_t og = t->gid;
	mode_t om = t->mode;
	pthread_mutex_lock(&nt->mu);
	uint64_t oc = nt->change_ns;
	/* The change over the value known here: if another daemon changed
	 * the key since (its own chmod, an epoch), only the fields changed
	 * here are made again over its value (natsmerge.h). */
	json_t *base = nats_topic_meta(t);
	if (uid != (uid_t)-1)
		t->uid = uid;
	if (gid != (gid_t)-1)
		t->gid = gid;
	if (mode != (mode_t)-1)
		t->mode = mode & 07777;
	nt->change_ns = now_ns();
	/* Ours as a copy of the base with those fields: the epoch read
	 * once (another daemon's, learned meanwhile, is not ours to set). */
	json_t *j = base ? json_deep_copy(base) : NULL, *stored = NULL;
	json_t *f = json_pack("{s:I, s:I, s:I, s:I}", "uid", (json_int_t)t->uid, "gid",
			      (json_int_t)t->gid, "mode", (json_int_t)t->mode, "changed_ns",
			      (json_int_t)nt->change_ns);
	if (j && (!f || json_object_update(j, f) < 0)) {
		json_decref(j);
		j = NULL;
	}
	json_decref(f);
	int rc = j ? nats_kv_update_if(nt->nc, nt->key, t->uuid, base, j, &nt->rev, &stored,
				       until) : -ENOMEM;
	if (rc == 0) { /* as stored: another daemon's fields too */
		nats_topic_apply_locked(nt, stored);
	} else {
		t->uid = ou;
		t->gid = og;
		t->mode = om;
		nt->change_ns = oc;
	}
	json_decref(stored);
	json_decref(j);
	json_decref(base);
	pthread_mutex_unlock(&nt->mu);
	return rc;
}

static void nt_mark_deleted(struct topic *t)
{
	atomic_store(&nats_topic_of(t)->deleted, true);
}

static bool nt_deleted(struct topic *t)
{
	return atomic_load(&nats_topic_of(t)->deleted);
}

static int nt_sync(struct topic *t)
{
	(void)t;
	return 0; /* an append returns once JetStream has acknowledged it */
}

static void nt_destroy(struct topic *t)
{
	struct nats_topic *nt = nats_topic_of(t);
	struct nats_tdata *td = nt->td;
	pthread_mutex_lock(&td->mu);
	if (td->topic == t)
		td->topic = NULL;
	pthread_mutex_unlock(&td->mu);
	nats_tdata_put(td);
	pthread_mutex_destroy(&nt->append_mu);
	pthread_mutex_destroy(&nt->mu);
	free(nt->path);
	free(nt);
}

static const struct topic_ops nats_topic_ops = {
	.home = "nats",
	.destroy = nt_destroy,
	.append_local = nt_append_local,
	.append_replicated = nats_append_replicated,
	.read = nats_topic_read,
	.read_batch = nats_topic_read_batch,
	.stat = nt_stat,
	.ctime = nt_ctime,
	.set_owner = nt_set_owner,
	.mark_deleted = nt_mark_deleted,
	.deleted = nt_deleted,
	.sync = nt_sync,
};

int nats_topic_make(struct stream *s, const char *name, json_t *meta, uint64_t rev,
		    struct topic **out)
{
	struct nats_stream *st = s->home;
	uuid_t u;
	const char *us = json_string_value(json_object_get(meta, "uuid"));
	if (!us || uuid_parse(us, u) < 0 || meta_int(meta, "format", 1) > 1)
		return -EPROTO;
	struct nats_topic *nt = calloc(1, sizeof(*nt));
	if (!nt)
		return -ENOMEM;
	if (nats_topic_key(s, name, nt->key) < 0) {
		free(nt);
		return -ENAMETOOLONG;
	}
	size_t pl = strlen(s->cluster->name) + strlen(s->name) + strlen(name) + 4;
	if (!(nt->path = malloc(pl))) {
		free(nt);
		return -ENOMEM;
	}
	snprintf(nt->path, pl, "/%s/%s/%s", s->cluster->name, s->name, name);
	if (!(nt->td = nats_stream_tdata(st, u))) {
		free(nt->path);
		free(nt);
		return -ENOMEM;
	}
	topic_init(&nt->base, &nats_topic_ops, name, s->uuid);
	uuid_copy(nt->base.uuid, u);
	nt->base.uid = (uid_t)meta_int(meta, "uid", 0);
	nt->base.gid = (gid_t)meta_int(meta, "gid", 0);
	nt->base.mode = (mode_t)meta_int(meta, "mode", 0644) & 07777;
	nt->nc = st->nc;
	nt->rev = rev;
	nt->ctime_ns = (uint64_t)meta_int(meta, "created_ns", 0);
	nt->change_ns = (uint64_t)meta_int(meta, "changed_ns", 0);
	nats_epoch_load(nt->td, meta);
	atomic_init(&nt->bucket_seen, atomic_load(&st->nc->bucket_gen));
	char su[37];
	uuid_unparse(s->uuid, su);
	snprintf(nt->jsname, sizeof(nt->jsname), "%s", st->jsname);
	snprintf(nt->subject, sizeof(nt->subject), "sfs.%s.%s", su, us);
	nats_parts_subject(nt->subject, nt->psubject, sizeof(nt->psubject));
	pthread_mutex_init(&nt->append_mu, NULL);
	pthread_mutex_init(&nt->mu, NULL);
	atomic_init(&nt->deleted, false);
	atomic_init(&nt->gone, false);
	pthread_mutex_lock(&nt->td->mu);
	nt->td->topic = &nt->base;
	/* Removed here, and named again by the bucket: only a bucket that
	 * went back does that (the removal lost in a crash of every server,
	 * the messages kept or lost with it). Its index is read again from
	 * JetStream, which holds what the crash kept (natsseq.c). */
	bool back = nt->td->purged;
	nt->td->purged = false;
	/* Lines of it appended before the removal may be lost as well, and
	 * on a replica: its own origin starts a new epoch too. */
	if (back)
		nt->td->epoch_due |= NATS_EPOCH_OWED;
	pthread_mutex_unlock(&nt->td->mu);
	if (back) {
		log_info("%s: named again by the bucket after its removal here (lost in a crash of "
			 "every NATS server); its stream's index is read again", nt->path);
		atomic_store(&st->reindex_due, true);
		atomic_store(&st->epochs_due, true);
		nats_seq_suspect(st->nc);
	}
	*out = &nt->base;
	return 0;
}
