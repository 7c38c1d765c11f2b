/*
 * natsbucket.c - the thread that follows a NATS-backed cluster's bucket
 * (natshome.h): every change another daemon makes to it, in the
 * bucket's order, applied to this daemon's view (natswatch.c); its
 * watcher made anew when it falls silent or an event could not be
 * applied (a replay of every current value); the checks after a
 * reconnection: of the streams' sequences (natsseq.c) and of the bucket
 * itself, which a crash of every server may have sent back (then read
 * again whole, and what it no longer names taken out here); docs/nats.md,
 * "What each daemon caches", "Durability".
 */
#include "natshome.h"
#include "natskvwatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fault.h"
#include "logging.h"
#include "namespace.h"
#include "util/clock.h"

/* A check found the bucket went back: act now? True once the first one
 * that found it (*SINCE, mono_ns, set here; 0: none) is NATS_CONFIRM_MS
 * old (the watcher applies nothing meanwhile: the second asks about the
 * same entries); *SINCE back to 0 then. The caller zeroes it on "kept". */
static bool back_confirmed(uint64_t *since)
{
	uint64_t now = mono_ns();
	if (!*since) {
		*since = now ? now : 1; /* the first */
		return false;
	}
	if (now - *since < (uint64_t)NATS_CONFIRM_MS * 1000000)
		return false;
	*since = 0;
	return true;
}

/* Set on the thread of watch_main (nats_watch_thread). */
static __thread bool in_watch_thread;

bool nats_watch_thread(void)
{
	return in_watch_thread;
}

/* The watcher's state in its thread. */
struct follow {
	bool replay;	/* the current values of a new watcher come first */
	uint64_t last_ns;	/* the last entry (mono_ns) */
	uint64_t remake_ns;	/* make the watcher anew then; 0: no need */
	uint64_t backoff_ms;	/* between tries to make it */
	/* Replayed topic puts whose stream came later in the replay. */
	struct nats_kventry **held;
	size_t nheld, cap;
	/* The bucket went back: the replay under way (or the next, if it is
	 * cut short) is applied whatever its revisions, and what it does not
	 * name is taken out at its end (sweep). */
	bool reconcile;
	bool failed;	/* an entry of this replay could not be applied */
};

/* A new watcher for NC's thread, whose old one (if any) goes. The new
 * one delivers every current value again (F->replay) then the changes. */
static void watch_remake(struct nats_cluster *nc, struct follow *f)
{
	nats_kvwatch_close(nc->watcher); /* its consumer removed, bounded */
	nc->watcher = NULL;
	for (size_t i = 0; i < f->nheld; i++) /* a replay cut short */
		nats_kventry_free(f->held[i]);
	f->nheld = 0;
	uint64_t now = mono_ns();
	if (nats_kvwatch_open(&nc->watcher, nc, ">", NULL) < 0) {
		nc->watcher = NULL;
		f->backoff_ms = f->backoff_ms ? f->backoff_ms * 2 : NATS_WATCH_RETRY_MS;
		if (f->backoff_ms > NATS_WATCH_RETRY_MAX_MS)
			f->backoff_ms = NATS_WATCH_RETRY_MAX_MS;
		f->remake_ns = now + f->backoff_ms * 1000000;
		return;
	}
	f->replay = true;
	f->failed = false;
	f->remake_ns = 0;
	f->last_ns = now;
}

/* Ask for a new watcher (a replay) in NATS_WATCH_RETRY_MS at the latest. */
static void remake_soon(struct follow *f)
{
	uint64_t at = mono_ns() + (uint64_t)NATS_WATCH_RETRY_MS * 1000000;
	if (!f->remake_ns || f->remake_ns > at)
		f->remake_ns = at;
}

/* Apply entry E; false: F holds it now (a replayed topic of a stream
 * that comes later in the replay). */
static bool apply(struct nats_cluster *nc, struct follow *f, struct nats_kventry *e)
{
	const char *key = e->key;
	int rc = 0;
	uint64_t t0 = mono_ns();
	if (!strcmp(key, "c") && e->op == NATS_KV_PUT) {
		pthread_rwlock_wrlock(&nc->cl->ns->lock);
		nats_watch_cluster_meta(nc->cl, e, f->replay && f->reconcile);
		pthread_rwlock_unlock(&nc->cl->ns->lock);
	} else if (!strncmp(key, "s.", 2)) {
		rc = nats_watch_stream_event(nc, e, f->replay && f->reconcile);
	} else if (!strncmp(key, "t.", 2)) {
		rc = nats_watch_topic_event(nc, e, f->replay && f->reconcile);
		if (rc == 1 && f->replay) {
			if (f->nheld == f->cap) {
				size_t cap = f->cap ? f->cap * 2 : 16;
				struct nats_kventry **v = realloc(f->held, cap * sizeof(*v));
				if (!v) {
					remake_soon(f);
					return true;
				}
				f->held = v;
				f->cap = cap;
			}
			f->held[f->nheld++] = e;
			return false;
		}
	} else if (!strncmp(key, "r.", 2) ||
		   (!strncmp(key, "g.", 2) && e->rev > nc->watch_rev)) {
		/* A notice is an event, not a state: one a replay delivers
		 * again (at a revision met already) is not acted on twice. */
		nats_status_event(nc, e, false);
	}
	if (e->rev > nc->watch_rev) {
		nc->watch_rev = e->rev;
		nc->watch_time = e->time;
		struct nats_recent *r = &nc->recent[nc->nrecent++ % NATS_RECENT];
		r->rev = e->rev;
		r->time = e->time;
		snprintf(r->key, sizeof(r->key), "%s", e->key);
	}
	if (rc < 0) {
		f->failed = true;
		log_warn("cluster %s: a change of key %s could not be applied (NATS did not "
			 "answer); the bucket is read again", nc->cl->name, key);
		remake_soon(f);
	}
	/* Others' changes show here only as fast as this goes: say when slow. */
	uint64_t ms = (mono_ns() - t0) / 1000000;
	if (ms >= 1000)
		log_warn("cluster %s: applying a change of key %s took %llu ms", nc->cl->name,
			 key, (unsigned long long)ms);
	return true;
}

/* ---- a bucket that went back ------------------------------------------- */

static int entry_went_back(struct nats_cluster *nc, const char *name, jsOptions *jo,
			   uint64_t rev, int64_t time, const char *key);

/*
 * This daemon's last writes (nats_kv_wrote) past what the last check
 * found kept, asked of JetStream as the entries applied are: its key's
 * subject at that revision means kept (its JetStream time is not known
 * here), another subject there or a last revision below it means the
 * bucket went back (written, acknowledged, lost, maybe before the
 * watcher applied it). 1 yes, 0 no, -EAGAIN no answer; *TOP the highest
 * revision asked about.
 */
static int wrote_went_back(struct nats_cluster *nc, const char *name, jsOptions *jo,
			   uint64_t *top)
{
	struct nats_wrote v[NATS_WROTE];
	pthread_mutex_lock(&nc->wrote_mu);
	unsigned n = nc->nwrote < NATS_WROTE ? nc->nwrote : NATS_WROTE;
	for (unsigned i = 0; i < n; i++)
		v[i] = nc->wrote[(nc->nwrote - 1 - i) % NATS_WROTE]; /* newest first */
	uint64_t verified = nc->wrote_verified;
	pthread_mutex_unlock(&nc->wrote_mu);
	*top = verified;
	for (unsigned i = 0; i < n; i++) {
		if (v[i].rev <= verified)
			continue;
		if (v[i].rev > *top)
			*top = v[i].rev;
		int b = entry_went_back(nc, name, jo, v[i].rev, 0, v[i].key);
		if (b)
			return b;
	}
	return 0;
}

/* Is the entry of key KEY at revision REV (JetStream time TIME; 0: not
 * known, the key's subject is compared instead) still what NC's bucket
 * (stream NAME) holds? The same entry there: yes; none there but a later
 * value of KEY (the bucket keeps one a key): yes; another entry there,
 * or none and KEY's last value older than REV, or none: the bucket went
 * back. 1 went back, 0 not, -EAGAIN no answer. */
static int entry_went_back(struct nats_cluster *nc, const char *name, jsOptions *jo,
			   uint64_t rev, int64_t time, const char *key)
{
	if (!rev)
		return 0;
	char subj[NATS_KEY_MAX + 300];
	snprintf(subj, sizeof(subj), "$KV.%s.%s", nc->bucket, key);
	natsMsg *m = NULL;
	jsErrCode ec = 0;
	nats_jsopts(jo, mono_ns() + (uint64_t)NATS_CHECK_WAIT_MS * 1000000); /* each request */
	natsStatus s = js_GetMsg(&m, nc->js, name, rev, jo, &ec);
	if (s == NATS_OK) {
		const char *ms = natsMsg_GetSubject(m);
		bool same = time ? natsMsg_GetTime(m) == time : ms && !strcmp(ms, subj);
		natsMsg_Destroy(m);
		return same ? 0 : 1;
	}
	if (ec != JSNoMessageFoundErr && s != NATS_NOT_FOUND)
		return -EAGAIN;
	ec = 0;
	nats_jsopts(jo, mono_ns() + (uint64_t)NATS_CHECK_WAIT_MS * 1000000);
	s = js_GetLastMsg(&m, nc->js, name, subj, jo, &ec);
	if (s == NATS_OK) {
		uint64_t at = natsMsg_GetSequence(m);
		natsMsg_Destroy(m);
		return at > rev ? 0 : 1;
	}
	if (ec != JSNoMessageFoundErr && s != NATS_NOT_FOUND)
		return -EAGAIN;
	return 1; /* its key holds nothing at all: written, then lost */
}

/*
 * Did NC's bucket go back? A crash of every server can lose the bucket's
 * last changes, as it loses messages (docs/nats.md, "Durability"), and
 * give their revisions to the next ones. Asked of the entry this thread
 * applied last (watch_rev), of the others applied since the last check
 * (recent, at most NATS_RECENT) and of this daemon's last write
 * (wrote_went_back),
 * each as entry_went_back says: the same JetStream time there means no; none
 * there with the bucket's last revision at or past it (a later value of
 * the key took its place) means no; another entry there, or a last
 * revision below it, means yes. 1 yes (*LAST the bucket's last revision,
 * *LAST_TIME its entry's JetStream time or 0), 0 no, -EAGAIN no answer.
 * The thread's. Not asked before an entry's time is known.
 */
static int bucket_went_back(struct nats_cluster *nc, uint64_t *last, int64_t *last_time)
{
	char name[300];
	snprintf(name, sizeof(name), "KV_%s", nc->bucket);
	jsOptions jo;
	nats_jsopts(&jo, mono_ns() + (uint64_t)NATS_CHECK_WAIT_MS * 1000000);
	/* The entry applied last; those applied since the last check, newest
	 * first (entries written after a crash may have taken the lost ones'
	 * revisions, and the consumer delivered them on before the check);
	 * this daemon's last write, maybe not applied yet. */
	if (FAULT_LIE("nats-bucket-unanswered")) /* tests: no answer yet */
		return -EAGAIN;
	int b = 0;
	unsigned n = nc->nrecent < NATS_RECENT ? nc->nrecent : NATS_RECENT;
	uint64_t upto = nc->watch_rev;
	for (unsigned i = 1; b == 0 && i <= n; i++) { /* newest first */
		const struct nats_recent *r = &nc->recent[(nc->nrecent - i) % NATS_RECENT];
		if (r->rev <= nc->verified_rev)
			break;
		b = entry_went_back(nc, name, &jo, r->rev, r->time, r->key);
	}
	uint64_t wtop = 0;
	if (b == 0)
		b = wrote_went_back(nc, name, &jo, &wtop);
	if (b == 0 && FAULT_LIE("nats-bucket-back")) /* tests: a leader behind */
		b = 1;
	if (b == 0) {
		nc->verified_rev = upto;
		pthread_mutex_lock(&nc->wrote_mu);
		if (wtop > nc->wrote_verified)
			nc->wrote_verified = wtop;
		pthread_mutex_unlock(&nc->wrote_mu);
	}
	if (b <= 0)
		return b;
	jsStreamInfo *si = NULL;
	jsErrCode ec = 0;
	nats_jsopts(&jo, mono_ns() + (uint64_t)NATS_CHECK_WAIT_MS * 1000000);
	if (js_GetStreamInfo(&si, nc->js, name, &jo, &ec) != NATS_OK)
		return -EAGAIN;
	*last = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	/* What the next check compares with: the entry at the last revision. */
	*last_time = 0;
	natsMsg *m = NULL;
	if (*last && js_GetMsg(&m, nc->js, name, *last, &jo, &ec) == NATS_OK) {
		*last_time = natsMsg_GetTime(m);
		natsMsg_Destroy(m);
	}
	return 1;
}

/* The replay of a bucket that went back is over: what it named is marked
 * seen (nats_watch_*_event); a stream or topic not seen in it, nor made
 * since it began, is in the bucket no more (made or renamed in what the
 * crash lost): taken out of this daemon's view, asking nothing of NATS. */
static void sweep(struct nats_cluster *nc)
{
	struct cluster *cl = nc->cl;
	uint64_t gen = atomic_load(&nc->bucket_gen);
	size_t n;
	struct stream **v = nats_streams_all(cl, &n);
	for (size_t i = 0; v && i < n; i++) {
		struct stream *s = v[i];
		struct nats_stream *st = s->home;
		if (!s->deleted && atomic_load(&st->bucket_seen) < gen) {
			log_info("cluster %s: stream %s is not in the bucket any more (lost in a "
				 "crash of every NATS server); it is taken out here", cl->name, s->name);
			if (nats_watch_forget_stream(nc, s) < 0)
				log_warn("cluster %s: stream %s: a topic of it stays listed", cl->name,
					 s->name);
		}
		for (bool again = !s->deleted; again;) {
			char name[sizeof(((struct topic *)0)->name)];
			again = false;
			pthread_mutex_lock(&s->lock);
			for (size_t k = 0; k < s->ntopics && !again; k++)
				if (atomic_load(&nats_topic_of(s->topics[k])->bucket_seen) < gen &&
				    !atomic_load(&nats_topic_of(s->topics[k])->gone)) {
					snprintf(name, sizeof(name), "%s", s->topics[k]->name);
					again = true;
				}
			pthread_mutex_unlock(&s->lock);
			if (!again)
				break;
			log_info("/%s/%s/%s: not in the bucket any more (lost in a crash of every NATS "
				 "server); it is taken out here", cl->name, s->name, name);
			if (nats_watch_forget_topic(s, name) < 0)
				break; /* told by its errno's caller; the next reconcile */
		}
		stream_put(s);
	}
	free(v);
	if (n && !v)
		log_warn("cluster %s: out of memory: what the bucket lost stays listed", cl->name);
}

/* Start reading a bucket that went back again, whole (LAST its last
 * revision now, LAST_TIME that entry's time). */
static void reconcile(struct nats_cluster *nc, struct follow *f, uint64_t last,
		      int64_t last_time)
{
	log_error("cluster %s: the bucket %s no longer holds the changes this daemon applied "
		  "(a crash of every NATS server lost them and gave their revisions again, or "
		  "a server not caught up delivered them, docs/nats.md, \"Durability\"); it is "
		  "read again whole", nc->cl->name, nc->bucket);
	atomic_fetch_add(&nc->bucket_gen, 1);
	pthread_mutex_lock(&nc->wrote_mu);
	nc->nwrote = 0; /* told; the writes from now on are asked about */
	nc->wrote_verified = last;
	pthread_mutex_unlock(&nc->wrote_mu);
	/* Notices (key g.) are events: those the bucket holds now are not
	 * acted on again; revisions go on from its last. */
	nc->watch_rev = last;
	nc->watch_time = last_time;
	nc->nrecent = 0;
	nc->verified_rev = last;
	pthread_rwlock_wrlock(&nc->cl->ns->lock);
	nc->c_rev = 0; /* its revisions mean nothing any more */
	pthread_rwlock_unlock(&nc->cl->ns->lock);
	f->reconcile = true;
	watch_remake(nc, f); /* or later, if it cannot be made now */
}

/* The end of a replay: the topics held for their streams; after a
 * bucket that went back, what it did not name is taken out. */
static void replay_end(struct nats_cluster *nc, struct follow *f)
{
	f->replay = false;
	f->backoff_ms = 0;
	bool failed = false;
	for (size_t i = 0; i < f->nheld; i++) {
		if (nats_watch_topic_event(nc, f->held[i], f->reconcile) < 0)
			failed = true;
		nats_kventry_free(f->held[i]);
	}
	f->nheld = 0;
	if (failed || (f->reconcile && f->failed)) {
		remake_soon(f); /* a reconcile stays under way: the next replay */
		return;
	}
	if (f->reconcile)
		sweep(nc);
	f->reconcile = false;
}

/*
 * The thread following the bucket (natskvwatch.c: its consumer is made
 * anew by libnats after missed heartbeats, by itself after a message
 * dropped, each time from where it was). Should that fail for long: the
 * lease key is written every NATS_LEASE_RENEW_MS by its holder, so a
 * watcher that delivers nothing for NATS_WATCH_SILENT_MS while connected
 * is lost: it is made anew, as
 * after an event this daemon could not apply (NATS did not answer). A new
 * watcher delivers every current value again; what this daemon knows at
 * the same revision is skipped (docs/nats.md, "What each daemon caches").
 */
static void *watch_main(void *arg)
{
	struct nats_cluster *nc = arg;
	in_watch_thread = true;
	struct follow f = { .last_ns = mono_ns() };
	uint64_t check_ns = 0; /* the next check of the streams' sequences */
	uint64_t recheck_ns = 0; /* the bucket's second check after one, 0: none */
	/* A check found the bucket went back then (mono_ns), 0: none: the
	 * watcher applies nothing until a check NATS_CONFIRM_MS later asks
	 * about the same entries again. */
	uint64_t back_since = 0;
	while (!atomic_load(&nc->watch_stop)) {
		uint64_t now = mono_ns();
		bool connected = natsConnection_Status(nc->conn) == NATS_CONN_STATUS_CONNECTED;
		bool seq = false, bk = false;
		if (recheck_ns && now >= recheck_ns) {
			/* Entries the consumer had queued before the check are
			 * applied by now: the bucket asked about once more. */
			recheck_ns = 0;
			atomic_store(&nc->bucket_check, true);
		}
		if (connected && now >= check_ns) {
			seq = atomic_exchange(&nc->seq_check, false);
			bk = atomic_exchange(&nc->bucket_check, false);
		}
		if (seq || bk) {
			uint64_t last = 0;
			int64_t last_time = 0;
			atomic_store(&nc->seq_checking, true);
			/* The streams' check first: writers wait on its verdict. */
			int sc = seq ? nats_seq_check(nc) : 0;
			if (seq && sc == 0)
				atomic_fetch_add(&nc->seq_verdicts, 1);
			int b = bucket_went_back(nc, &last, &last_time);
			uint64_t confirm_ns = 0;
			if (b == 0 && back_since)
				log_info("cluster %s: the bucket %s seemed to have gone back, but "
					 "not %d ms later: a leader that had not applied its log yet "
					 "(docs/nats.md, \"Durability\")", nc->cl->name, nc->bucket,
					 NATS_CONFIRM_MS);
			if (b == 0)
				back_since = 0;
			if (b == 1 && !back_confirmed(&back_since)) {
				b = -EAGAIN; /* a leader catching up? asked again */
				confirm_ns = back_since + (uint64_t)NATS_CONFIRM_MS * 1000000;
			}
			if (b == 1)
				reconcile(nc, &f, last, last_time);
			if (seq && b == 0)
				recheck_ns = mono_ns() + (uint64_t)NATS_RECHECK_MS * 1000000;
			/* A stream's verdict waiting for its confirmation (sc 1)
			 * keeps writers waiting on it. */
			atomic_store(&nc->seq_checking, sc == 1);
			if (sc != 0)
				atomic_store(&nc->seq_check, true); /* asked again in a second */
			if (b < 0)
				atomic_store(&nc->bucket_check, true);
			if (sc != 0 || b < 0)
				check_ns = mono_ns() + 1000000000ULL;
			if (confirm_ns > check_ns)
				check_ns = confirm_ns;
			/* After the check: a watcher it made anew (reconcile) has
			 * its last_ns past the NOW above, read again. */
			now = mono_ns();
		}
		/* A check due (after a reconnection: maybe waiting for NATS
		 * to answer) asks about the entries applied since the last
		 * one, as the ring holds them: none of those is pushed out
		 * of it before the check has run (a crash's lost entries,
		 * applied here, would no longer be asked about). */
		bool full = atomic_load(&nc->bucket_check) && nc->nrecent >= NATS_RECENT &&
			    nc->recent[nc->nrecent % NATS_RECENT].rev > nc->verified_rev;
		if (!connected || back_since || full) {
			/* Silence while away says nothing; nor while the watcher
			 * is held (its entries would change what the
			 * confirmation asks about: the ones applied so far). */
			f.last_ns = now;
		} else if (f.remake_ns && now >= f.remake_ns) {
			watch_remake(nc, &f);
			continue;
		} else if (!f.remake_ns && now - f.last_ns > (uint64_t)NATS_WATCH_SILENT_MS * 1000000) {
			log_warn("cluster %s: the bucket's watcher delivered nothing for %d s; "
				 "it is made anew", nc->cl->name, NATS_WATCH_SILENT_MS / 1000);
			watch_remake(nc, &f);
			continue;
		}
		if (!nc->watcher || back_since || full) {
			struct timespec pause = { 0, 200 * 1000000 };
			nanosleep(&pause, NULL);
			continue;
		}
		struct nats_kventry *e = NULL;
		int r = nats_kvwatch_next(nc->watcher, &e, 200);
		if (r == -ETIMEDOUT)
			continue;
		if (r < 0) { /* it goes on from there at the next call */
			struct timespec pause = { 0, 200 * 1000000 };
			nanosleep(&pause, NULL);
			continue;
		}
		f.last_ns = mono_ns();
		if (!e) { /* every current value delivered */
			if (f.replay)
				replay_end(nc, &f);
			continue;
		}
		if (apply(nc, &f, e))
			nats_kventry_free(e);
	}
	for (size_t i = 0; i < f.nheld; i++)
		nats_kventry_free(f.held[i]);
	free(f.held);
	return NULL;
}

int nats_bucket_follow_start(struct nats_cluster *nc)
{
	int rc = pthread_create(&nc->thread, NULL, watch_main, nc);
	if (rc == 0)
		nc->thread_started = true;
	return -rc;
}

void nats_watch_stop(struct nats_cluster *nc)
{
	if (!nc->watcher && !nc->thread_started)
		return;
	/* The thread sees the flag within 200 ms; only it touches the
	 * watcher (it may be making it anew) until it has ended. */
	atomic_store(&nc->watch_stop, true);
	if (nc->thread_started)
		pthread_join(nc->thread, NULL);
	nc->thread_started = false;
	if (!nc->watcher)
		return;
	nats_kvwatch_close(nc->watcher); /* its consumer removed, bounded */
	nc->watcher = NULL;
}
