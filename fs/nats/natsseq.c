/*
 * natsseq.c - a NATS-backed stream whose sequences went back (natshome.h):
 * telling it, and reading its index again.
 *
 * JetStream never gives a stream sequence to a second message, which is
 * what lets a daemon name a chunk by its sequence in its index and its
 * cache (natscache.h). The exception: a crash of every server of a
 * stream (or of an R1 stream's one server) before they wrote their files
 * (nats-server 2.9 writes them every 2 minutes) loses acknowledged
 * messages, and the stream gives their sequences to the next ones
 * (docs/nats.md, "Durability"). A daemon that kept running would serve
 * the lost chunks from its index and cache, follow nothing new until the
 * sequences pass its own, and refuse its writers' appends.
 *
 * Told: after each reconnection, and whenever a chunk or a tail is not
 * what the index says (nats_seq_suspect), the watch thread asks, for
 * each stream, JetStream's messages at the sequences the consumer's last
 * incarnations delivered last (the same JetStream time?) and at each
 * topic's last indexed chunk (its subject, its Sfs-Ts?); another message
 * there, or none and a stream's last sequence below it, and the stream
 * went back (went_back). Then the stream's index is read again from its
 * first message
 * (nats_stream_rebuild), logged as an error: acknowledged messages were
 * lost. A stream that cannot be asked (no leader yet after the servers'
 * restart) is asked again a second later.
 */
#include "natshome.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fault.h"
#include "logging.h"
#include "namespace.h"
#include "replhooks.h"
#include "util/clock.h"

bool nats_chunk_mine(struct nats_tdata *td, uint64_t seq, uint64_t ts)
{
	pthread_mutex_lock(&td->mu);
	const struct nats_chunk *c = nats_chunk_find(td, seq);
	bool mine = td->purged || (c && c->ts == ts);
	pthread_mutex_unlock(&td->mu);
	return mine;
}

/* ST's topic indexes now, a reference each (nats_tdata_put), in an array
 * the caller frees; *N of them. NULL with *N > 0: out of memory. */
static struct nats_tdata **tdata_all(struct nats_stream *st, size_t *n)
{
	pthread_mutex_lock(&st->mu);
	*n = st->ntdata;
	struct nats_tdata **tds = *n ? malloc(*n * sizeof(*tds)) : NULL;
	for (size_t i = 0; tds && i < *n; i++) {
		tds[i] = st->tdata[i];
		atomic_fetch_add(&tds[i]->refs, 1);
	}
	pthread_mutex_unlock(&st->mu);
	return tds;
}

/* Empty TD's index, as if no chunk of it was ever delivered (a rebuild);
 * whoever waits on it wakes. */
static void tdata_reset(struct nats_tdata *td)
{
	pthread_mutex_lock(&td->mu);
	nats_chunks_free_parts(td->c, td->n);
	free(td->c);
	td->c = NULL;
	td->n = td->cap = 0;
	td->last_seq = td->next_off = td->next_pos = td->own_next = 0;
	td->own_gen = 0; /* the epoch the bucket names stays */
	uuid_copy(td->own_key, td->uuid);
	free(td->origins);
	td->origins = NULL;
	td->norigins = td->ocap = 0;
	td->damaged_logged = false;
	td->gen++;
	pthread_cond_broadcast(&td->cv);
	pthread_mutex_unlock(&td->mu);
}

int nats_stream_rebuild(struct stream *s, bool follow)
{
	struct nats_stream *st = s->home;
	pthread_mutex_lock(&st->mu);
	struct nats_follow *old = st->fol;
	st->fol = NULL;
	pthread_mutex_unlock(&st->mu);
	if (old) {
		/* Retired first, then waited for: no callback of it adds a
		 * chunk once the indexes are emptied below (on_chunk). */
		atomic_store(&old->retired, true);
		nats_follow_close(old);
		uint64_t deadline = mono_ns() + (uint64_t)NATS_STOP_WAIT_MS * 1000000;
		while (atomic_load(&old->active) > 0 && mono_ns() < deadline) {
			struct timespec pause = { 0, 1000000 };
			nanosleep(&pause, NULL);
		}
		pthread_mutex_lock(&st->mu);
		old->next = st->retired;
		st->retired = old;
		pthread_mutex_unlock(&st->mu);
		if (atomic_load(&old->active) > 0) {
			log_error("cluster %s: stream %s: its consumer's callback did not end "
				  "within %d ms; its index is not rebuilt",
				  s->cluster->name, s->name, NATS_STOP_WAIT_MS);
			return -EBUSY;
		}
	}
	pthread_mutex_lock(&st->mu);
	st->caught_up = false;
	memset(st->seen, 0, sizeof(st->seen));
	pthread_mutex_unlock(&st->mu);
	size_t n;
	struct nats_tdata **tds = tdata_all(st, &n);
	if (n && !tds)
		return -ENOMEM; /* its consumer retired: the next check tries again */
	for (size_t i = 0; i < n; i++) {
		tdata_reset(tds[i]);
		nats_tdata_put(tds[i]);
	}
	free(tds);
	nats_cache_drop_stream(&st->nc->cache, s->uuid);
	if (!follow)
		return 0;
	return nats_stream_follow(s, false) < 0 ? -EIO : 0;
}

void nats_seq_suspect(struct nats_cluster *nc)
{
	atomic_store(&nc->seq_check, true);
}

/* Not at SEQ (asked with jsOptions JO): lost if the stream's last
 * sequence is below it, else purged with its topic (a purge keeps the
 * sequences). 1 lost, 0 purged, -EAGAIN no answer. */
static int missing_went_back(struct nats_stream *st, uint64_t seq, jsOptions *jo)
{
	jsStreamInfo *si = NULL;
	jsErrCode ec = 0;
	natsStatus ns = js_GetStreamInfo(&si, st->nc->js, st->jsname, jo, &ec);
	if (ns != NATS_OK)
		return ec == JSStreamNotFoundErr ? 2 : -EAGAIN;
	bool back = si->State.LastSeq < seq;
	jsStreamInfo_Destroy(si);
	return back ? 1 : 0;
}

/* The message at SEQ of ST's data stream: 0 with it in *M (the caller
 * destroys it), or, with *M NULL, what its absence says: 0 purged with
 * its topic, 1 lost, 2 the data stream gone, -EAGAIN no answer. */
static int message_at(struct nats_stream *st, uint64_t seq, natsMsg **m)
{
	jsOptions jo;
	jsErrCode ec = 0;
	*m = NULL;
	nats_jsopts(&jo, mono_ns() + (uint64_t)NATS_CHECK_WAIT_MS * 1000000);
	natsStatus ns = js_GetMsg(m, st->nc->js, st->jsname, seq, &jo, &ec);
	if (ns == NATS_OK)
		return 0;
	*m = NULL;
	if (ec == JSStreamNotFoundErr)
		return 2;
	if (ec != JSNoMessageFoundErr && ns != NATS_NOT_FOUND)
		return -EAGAIN;
	return missing_went_back(st, seq, &jo);
}

/* Is the message the consumer delivered at SEQ, at JetStream time TIME,
 * still there? As message_at, 1 also when another message is there. */
static int message_went_back(struct nats_stream *st, uint64_t seq, int64_t time)
{
	if (FAULT_LIE("nats-stream-back")) /* tests: a leader behind */
		return 1;
	natsMsg *m;
	int rc = message_at(st, seq, &m);
	if (!m)
		return rc;
	bool same = natsMsg_GetTime(m) == time;
	natsMsg_Destroy(m);
	return same ? 0 : 1;
}

/* Is the last chunk TD's index holds, at sequence SEQ with Sfs-Ts TS,
 * still in JetStream on its subject? As message_went_back. */
static int chunk_went_back(struct nats_stream *st, const uuid_t topic, uint64_t seq,
			   uint64_t ts)
{
	natsMsg *m;
	int rc = message_at(st, seq, &m);
	if (!m)
		return rc;
	/* sfs.<stream uuid>.<topic uuid>, and its writer's time */
	char want[96], u[37];
	uuid_unparse(topic, u);
	snprintf(want, sizeof(want), "%.*s.%s", (int)(strlen(st->subject) - 2), st->subject, u);
	const char *subj = natsMsg_GetSubject(m), *t = NULL;
	bool same = subj && !strcmp(subj, want) && natsMsgHeader_Get(m, "Sfs-Ts", &t) == NATS_OK &&
		    t && strtoull(t, NULL, 10) == ts;
	natsMsg_Destroy(m);
	return same ? 0 : 1;
}

/*
 * Did S go back? JetStream loses a suffix of a stream. Asked first of the
 * last message each remembered consumer incarnation delivered: the one
 * before a crash is among them (the reconnection makes a new one), unless
 * NATS_SEEN_MAX more came since. Then of each topic's last indexed chunk:
 * a chunk written after the loss over a topic that lost chunks claims the
 * lost chunks' offsets, so the index skips it and its last chunk stays a
 * lost one (unless later writes made the claims meet again). 1 yes (or S
 * has no consumer: a rebuild that did not follow again), 2 its data stream
 * is not in JetStream, 0 no, -EAGAIN: JetStream did not answer.
 */
/* Of two answers about a stream, the one that says most: 2 (its data
 * stream gone), 1 (went back), -EAGAIN (no answer), 0 (nothing). */
static int worse(int a, int b)
{
	int rank_a = a == 2 ? 3 : a == 1 ? 2 : a < 0 ? 1 : 0;
	int rank_b = b == 2 ? 3 : b == 1 ? 2 : b < 0 ? 1 : 0;
	return rank_b > rank_a ? b : a;
}

static int went_back(struct stream *s, bool *following, struct nats_back *ev)
{
	struct nats_stream *st = s->home;
	pthread_mutex_lock(&st->mu);
	*following = st->fol != NULL;
	bool lost = st->data_lost;
	pthread_mutex_unlock(&st->mu);
	if (lost)
		return 0; /* emptied for good (nats_seq_check) */
	size_t n;
	struct nats_tdata **tds = tdata_all(st, &n);
	if (!*following) {
		for (size_t i = 0; tds && i < n; i++)
			nats_tdata_put(tds[i]);
		free(tds);
		return 1;
	}
	if (n && !tds)
		return -EAGAIN;
	int rc = 0;
	struct nats_seen seen[NATS_SEEN_MAX];
	pthread_mutex_lock(&st->mu);
	memcpy(seen, st->seen, sizeof(seen));
	pthread_mutex_unlock(&st->mu);
	for (int k = 0; k < NATS_SEEN_MAX && rc < 1; k++) {
		int r = seen[k].seq ? message_went_back(st, seen[k].seq, seen[k].time) : 0;
		if (r >= 1) /* what a confirmation asks about again */
			*ev = (struct nats_back){ .seq = seen[k].seq, .time = seen[k].time };
		rc = worse(rc, r);
	}
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&tds[i]->mu);
		bool any = tds[i]->n > 0 && !tds[i]->purged;
		uint64_t seq = any ? tds[i]->c[tds[i]->n - 1].seq : 0;
		uint64_t ts = any ? tds[i]->c[tds[i]->n - 1].ts : 0;
		pthread_mutex_unlock(&tds[i]->mu);
		int r = rc >= 1 || !any ? 0 : chunk_went_back(st, tds[i]->uuid, seq, ts);
		if (r >= 1) {
			*ev = (struct nats_back){ .chunk = true, .seq = seq, .ts = ts };
			uuid_copy(ev->topic, tds[i]->uuid);
		}
		rc = worse(rc, r);
		nats_tdata_put(tds[i]);
	}
	free(tds);
	return rc;
}

/*
 * S's data stream is not in JetStream. Removed with S by another daemon
 * (the watcher drops S soon), or lost with the bucket's key in a crash of
 * every server (nothing will ever drop S here: it stays listed until a
 * restart), or lost while the bucket still names S: its topics are
 * emptied here for good, so that nothing lost is served. 0 done,
 * -EAGAIN the bucket did not answer.
 */
static int data_stream_gone(struct nats_cluster *nc, struct stream *s)
{
	struct nats_stream *st = s->home;
	uint64_t rev;
	int holds = nats_kv_holds(nc, st->key, s->uuid, &rev);
	if (holds < 0)
		return -EAGAIN;
	if (holds)
		log_error("cluster %s: stream %s: its data stream %s is not in JetStream any "
			  "more (lost in a crash of every NATS server? docs/nats.md, "
			  "\"Durability\"); its topics are empty here", nc->cl->name, s->name,
			  st->jsname);
	else
		log_info("cluster %s: stream %s: neither its data stream %s nor its key is in "
			 "NATS any more; it is taken out here", nc->cl->name, s->name,
			 st->jsname);
	if (nats_stream_rebuild(s, false) < 0)
		return -EAGAIN;
	pthread_mutex_lock(&st->mu);
	st->data_lost = true;
	pthread_mutex_unlock(&st->mu);
	/* Named by no key: made in what a crash lost, or removed by another
	 * daemon (whose event then finds nothing to do). */
	if (!holds && nats_watch_forget_stream(nc, s) < 0)
		log_warn("cluster %s: stream %s: a topic of it stays listed (empty)", nc->cl->name,
			 s->name);
	return 0;
}

/* S went back and was read again: a topic whose key the bucket lost with
 * it (made in the lost part) is taken out here; one whose key names
 * another incarnation is too (the watcher brings the new one). 0, or
 * -EAGAIN: the bucket did not answer for one (the next check asks
 * again). */
static int forget_lost_topics(struct nats_cluster *nc, struct stream *s)
{
	struct lost { char name[256], key[NATS_KEY_MAX]; uuid_t uuid; } *v = NULL;
	size_t n = 0;
	pthread_mutex_lock(&s->lock);
	if (s->ntopics && (v = calloc(s->ntopics, sizeof(*v))))
		for (; n < s->ntopics; n++) {
			struct topic *t = s->topics[n];
			snprintf(v[n].name, sizeof(v[n].name), "%s", t->name);
			snprintf(v[n].key, sizeof(v[n].key), "%s", nats_topic_of(t)->key);
			uuid_copy(v[n].uuid, t->uuid);
		}
	bool none = !s->ntopics;
	pthread_mutex_unlock(&s->lock);
	if (!v)
		return none ? 0 : -EAGAIN;
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t rev;
		int h = nats_kv_holds(nc, v[i].key, v[i].uuid, &rev);
		if (h < 0) {
			rc = -EAGAIN;
			continue;
		}
		if (h)
			continue;
		log_info("/%s/%s: topic %s is not in NATS any more (lost with its stream's "
			 "messages); it is taken out here", s->cluster->name, s->name, v[i].name);
		nats_watch_forget_topic(s, v[i].name);
	}
	free(v);
	return rc;
}

/* S went back: each replica of it may hold lost messages (they stay
 * there). Said, once per replica, as an error. */
static void warn_replicas(struct stream *s)
{
	pthread_mutex_lock(&s->lock);
	for (int k = 0; k < s->nreplicas; k++)
		log_error("/%s/%s: replica %s/%s may hold messages this stream lost; they stay "
			  "there, and what is appended from now on reaches it under new origin "
			  "keys (docs/nats.md, \"Durability\")", s->cluster->name, s->name,
			  s->replicas[k]->cluster, s->replicas[k]->stream);
	pthread_mutex_unlock(&s->lock);
}

/* ST went back: each topic's own appends wait for its new epoch (its
 * tdata's epoch_due, cleared by new_epochs). Set before the index is
 * read again, so no writer takes a place in the new index under the old
 * key. Best effort on -ENOMEM (nothing to wait for then). */
static void epochs_owed(struct nats_stream *st)
{
	size_t n;
	struct nats_tdata **tds = tdata_all(st, &n);
	for (size_t i = 0; tds && i < n; i++) {
		pthread_mutex_lock(&tds[i]->mu);
		/* Not a removed topic's: nothing would ever pay it (a topic
		 * that comes back owes its own, nats_topic_make). */
		if (tds[i]->topic && !tds[i]->purged)
			tds[i]->epoch_due |= NATS_EPOCH_OWED;
		pthread_mutex_unlock(&tds[i]->mu);
		nats_tdata_put(tds[i]);
	}
	free(tds);
}

/* ST may have gone back, a verdict waiting for its confirmation: each
 * topic's own appends wait (HOLD: NATS_EPOCH_HELD, as if it owed its new
 * epoch already), or go again (not HOLD: not confirmed). */
static void epochs_hold(struct nats_stream *st, bool hold)
{
	size_t n;
	struct nats_tdata **tds = tdata_all(st, &n);
	for (size_t i = 0; tds && i < n; i++) {
		pthread_mutex_lock(&tds[i]->mu);
		if (hold && tds[i]->topic && !tds[i]->purged)
			tds[i]->epoch_due |= NATS_EPOCH_HELD;
		if (!hold) {
			tds[i]->epoch_due &= (uint8_t)~NATS_EPOCH_HELD;
			pthread_cond_broadcast(&tds[i]->cv);
		}
		pthread_mutex_unlock(&tds[i]->mu);
		nats_tdata_put(tds[i]);
	}
	free(tds);
}

/* TD's epoch is known here (or none is owed any more): its writers go. */
static void epoch_paid(struct nats_tdata *td)
{
	pthread_mutex_lock(&td->mu);
	td->epoch_due = 0;
	pthread_cond_broadcast(&td->cv);
	pthread_mutex_unlock(&td->mu);
}

/* Whether TD still owes its new epoch. */
static bool epoch_owed(struct nats_tdata *td)
{
	pthread_mutex_lock(&td->mu);
	bool due = td->epoch_due & NATS_EPOCH_OWED;
	pthread_mutex_unlock(&td->mu);
	return due;
}

/*
 * S went back: the offsets of its lost messages are given again, and a
 * replica that holds the lost ones would take the new ones for them. So
 * each topic's own origin starts a new epoch (natsepoch.c), and every
 * replica's position in each topic goes back to its start: a position
 * past the topic's end now would skip the new messages, and one within
 * it may be past the first of the new epoch; the marks drop what a
 * replica holds already. 0, or -EAGAIN: some topic's epoch could not be
 * written (NATS did not answer): the next check does it.
 */
static int new_epochs(struct stream *s)
{
	pthread_mutex_lock(&s->lock);
	size_t n = s->ntopics;
	struct topic **v = n ? calloc(n, sizeof(*v)) : NULL;
	for (size_t i = 0; v && i < n; i++) {
		v[i] = s->topics[i];
		topic_get(v[i]);
	}
	pthread_mutex_unlock(&s->lock);
	if (n && !v)
		return -EAGAIN;
	int rc = 0;
	bool *owed = n ? calloc(n, sizeof(*owed)) : NULL;
	if (n && !owed) {
		for (size_t i = 0; i < n; i++)
			topic_put(v[i]);
		free(v);
		return -EAGAIN;
	}
	/* One topic after the other, each within nats_timeout_ms: stopped at
	 * the first NATS does not answer (the next check goes on from there),
	 * not every topic waited for in turn. */
	for (size_t i = 0; i < n && rc == 0; i++) {
		uint32_t g;
		uuid_t key;
		struct nats_tdata *td = nats_topic_of(v[i])->td;
		if (!epoch_owed(td))
			continue; /* written at an earlier try, or made since */
		owed[i] = true;
		int r = nats_epoch_bump(nats_topic_of(v[i]), &g, key);
		if (r == 0 || r == -ENOENT)
			epoch_paid(td);
		if (r == 0 && g) {
			char ks[37];
			uuid_unparse(key, ks);
			log_info("/%s/%s/%s: its own messages from now on have origin key %s, from "
				 "offset 0 (epoch %u; docs/nats.md, \"Durability\")", s->cluster->name,
				 s->name, v[i]->name, ks, (unsigned)g);
		}
		if (r < 0 && r != -ENOENT) {
			log_warn("/%s/%s/%s: a new epoch of its origin cannot be written (%s); tried "
				 "again", s->cluster->name, s->name, v[i]->name, strerror(-r));
			rc = -EAGAIN;
		}
	}
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < n; i++)
		if (owed[i]) /* its positions from 0 */
			repl_topic_deleted(s->cluster->ns, s, v[i]->name);
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < n; i++)
		topic_put(v[i]);
	free(v);
	free(owed);
	stream_touch_replication(s);
	return rc;
}

int nats_seq_check(struct nats_cluster *nc)
{
	struct cluster *cl = nc->cl;
	size_t n;
	struct stream **v = nats_streams_all(cl, &n);
	if (n && !v)
		return -EAGAIN;
	int rc = 0;
	bool pending = false;
	for (size_t i = 0; i < n; i++) {
		struct stream *s = v[i];
		bool following = true;
		struct nats_stream *st = s->home;
		int b = 0;
		uint64_t now = mono_ns(), wait = (uint64_t)NATS_CONFIRM_MS * 1000000;
		if (s->deleted || atomic_load(&nc->watch_stop)) {
			b = 0;
		} else if (st->back_since && now - st->back_since < wait) {
			b = -EAGAIN; /* its confirmation comes later */
			pending = true;
		} else if (st->back_since) {
			/* The same message asked about again: a leader that had
			 * not applied its log yet has it by now; a loss stays. */
			struct nats_back *e = &st->back;
			b = e->chunk ? chunk_went_back(st, e->topic, e->seq, e->ts) :
				       message_went_back(st, e->seq, e->time);
			if (b >= 0)
				st->back_since = 0;
			if (b == 0)
				epochs_hold(st, false);
			if (b == 0)
				log_info("cluster %s: stream %s: JetStream seemed not to hold a message "
					 "this daemon indexed, but does %d ms later: a leader that had "
					 "not applied its log yet; nothing read again (docs/nats.md, "
					 "\"Durability\")", cl->name, s->name, NATS_CONFIRM_MS);
			if (b < 0)
				pending = true;
		} else {
			struct nats_back ev = { 0 };
			b = went_back(s, &following, &ev);
			/* Without a consumer (a rebuild that did not follow)
			 * nothing is asked again. */
			if (b == 2 || (b == 1 && following)) {
				st->back_since = now ? now : 1;
				st->back = ev;
				epochs_hold(st, true); /* no own append under the old key */
				pending = true;
				b = -EAGAIN;
			}
		}
		if (b == 1) {
			epochs_owed(st); /* before the index is read again */
			atomic_store(&st->epochs_due, true);
		}
		if (b == 2)
			b = data_stream_gone(nc, s);
		if (b < 0)
			rc = -EAGAIN;
		if (b == 1 && following)
			log_error("cluster %s: stream %s: JetStream no longer holds the messages this "
				  "daemon indexed (a crash of every NATS server lost acknowledged "
				  "messages and gave their sequences again, docs/nats.md, "
				  "\"Durability\"); its index and cache are read again",
				  cl->name, s->name);
		if (b == 1 && following)
			warn_replicas(s);
		if (b == 1)
			atomic_store(&st->reindex_due, false); /* read again below */
		if (b == 1 && (nats_stream_rebuild(s, true) < 0 || forget_lost_topics(nc, s) < 0))
			rc = -EAGAIN;
		/* A topic removed here came back with the bucket: its chunks,
		 * passed by the consumer meanwhile, are read again. */
		if (b == 0 && !s->deleted && atomic_exchange(&st->reindex_due, false) &&
		    nats_stream_rebuild(s, true) < 0) {
			atomic_store(&st->reindex_due, true);
			rc = -EAGAIN;
		}
		if (!s->deleted && atomic_load(&st->epochs_due) && b >= 0) {
			if (new_epochs(s) < 0)
				rc = -EAGAIN; /* owed still: the next check */
			else
				atomic_store(&st->epochs_due, false);
		}
		stream_put(s);
	}
	free(v);
	return pending ? 1 : rc;
}
