/*
 * natsfollow.c - how this daemon follows a NATS-backed stream's data
 * stream SFS-<uuid>: one ordered consumer delivering headers only, each
 * chunk's headers into its topic's chunk index (on_chunk, in libnats'
 * delivery thread), made and made again by nats_stream_follow, and the
 * wait for it to have caught up (docs/nats.md, "What each daemon caches
 * and how it learns of others' changes"). Split from natsstream.c, which
 * keeps the stream operations.
 */
#include "natshome.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logging.h"
#include "util/clock.h"

static struct nats_stream *st_of(const struct stream *s)
{
	return s->home;
}

/* A chunk's headers delivered (libnats' delivery thread). */
static void on_chunk(natsConnection *conn, natsSubscription *sub, natsMsg *m, void *arg)
{
	(void)conn;
	(void)sub;
	struct nats_follow *fol = arg;
	struct nats_stream *st = fol->st;
	jsMsgMetaData *meta = NULL;
	/* Counted before the look at the flag, both sequentially consistent:
	 * a rebuild that set it either is seen here, or sees this callback
	 * running and waits for it (nats_stream_rebuild). */
	atomic_fetch_add(&fol->active, 1);
	if (atomic_load(&fol->retired))
		goto out;
	const char *subj = natsMsg_GetSubject(m);
	const char *dot = subj ? strrchr(subj, '.') : NULL;
	uuid_t tu;
	struct nats_chunk c;
	struct nats_origin o;
	if (natsMsg_GetMetaData(&meta, m) != NATS_OK) {
		log_warn("%s: a message without its JetStream metadata (subject %s)", st->jsname,
			 subj ? subj : "?");
		goto out;
	}
	/* A part of a chunk (sfs.<stream>.<topic>.p): its head, delivered
	 * later, names it; readers fetch it (natsparts.c). */
	if (dot && !strcmp(dot, ".p"))
		goto pending;
	if (!dot || uuid_parse(dot + 1, tu) < 0) {
		log_warn("%s: a message that is not streamfs's (subject %s)", st->jsname,
			 subj ? subj : "?");
		goto pending;
	}
	int rc = nats_chunk_headers(m, meta->Sequence.Stream, &c, &o);
	if (rc == 0)
		rc = nats_parts_parse(m, meta->Sequence.Stream, c.len, &c.parts);
	if (rc < 0) {
		log_warn("%s: message %llu is not a chunk of streamfs", st->jsname,
			 (unsigned long long)meta->Sequence.Stream);
	} else {
		struct nats_tdata *td = nats_stream_tdata(st, tu);
		if (td) {
			nats_tdata_add(td, &c, &o);
			nats_tdata_put(td);
		} else {
			free(c.parts);
		}
	}
pending:
	pthread_mutex_lock(&st->mu);
	if (meta->Sequence.Consumer <= st->seen[0].cseq) /* a new incarnation */
		memmove(&st->seen[1], &st->seen[0], (NATS_SEEN_MAX - 1) * sizeof(st->seen[0]));
	st->seen[0] = (struct nats_seen){ meta->Sequence.Stream, meta->Sequence.Consumer,
					  meta->Timestamp };
	if (meta->NumPending == 0) {
		st->caught_up = true;
		pthread_cond_broadcast(&st->cv);
	}
	pthread_mutex_unlock(&st->mu);
out:
	jsMsgMetaData_Destroy(meta);
	natsMsg_Destroy(m);
	atomic_fetch_sub(&fol->active, 1);
}

/* The consumer is closed and its callback will not run again (libnats'
 * delivery thread): ST may go. */
void nats_follow_close(struct nats_follow *fol)
{
	if (!fol->sub)
		return;
	nats_consumer_close(fol->st->nc, fol->sub);
	fol->sub = NULL;
}

static void on_complete(void *arg)
{
	struct nats_follow *fol = arg;
	struct nats_stream *st = fol->st;
	pthread_mutex_lock(&st->mu);
	fol->completed = true;
	pthread_cond_broadcast(&st->cv);
	pthread_mutex_unlock(&st->mu);
}

int nats_stream_follow(struct stream *s, bool create)
{
	struct nats_stream *st = st_of(s);
	struct nats_cluster *nc = st->nc;
	jsOptions jo;
	jsErrCode ec = 0;
	jsStreamInfo *si = NULL;
	uint64_t start = mono_ns(), deadline = start + (uint64_t)nc->timeout_ms * 1000000, at;
	natsStatus ns;
	const char *what = "cannot make";
	bool made = false; /* made here: removed again if it cannot be followed */
	bool interrupted = false;
	nats_jsopts(&jo, deadline);
	if (create) {
		jsStreamConfig sc;
		const char *subjects[] = { st->subject };
		jsStreamConfig_Init(&sc);
		sc.Name = st->jsname;
		sc.Subjects = subjects;
		sc.SubjectsLen = 1;
		sc.Storage = js_FileStorage;
		sc.Replicas = nc->replicas;
		/* Tried again while JetStream cannot place it yet (a server
		 * just lost or back, a leader being elected), until the
		 * deadline, each try waiting NATS_CONSUMER_WAIT_MS at most,
		 * so that a signal ends mkdir (EINTR). The name is a new
		 * UUID: nobody else makes it, and a try that finds it made
		 * finds an earlier try's. A limit (EDQUOT, ENOSPC) is told
		 * at once: trying again only waits, and the last try, cut by
		 * the deadline, would make it a timeout (EIO). */
		bool again = false;
		for (;;) {
			uint64_t slice = mono_ns() + (uint64_t)NATS_CONSUMER_WAIT_MS * 1000000;
			nats_jsopts(&jo, slice < deadline ? slice : deadline);
			ec = 0;
			ns = js_AddStream(&si, nc->js, &sc, &jo, &ec);
			if (ns != NATS_OK && again && ec == JSStreamNameExistErr) {
				ec = 0;
				ns = js_GetStreamInfo(&si, nc->js, st->jsname, &jo, &ec);
			}
			if (ns == NATS_OK || nats_limit_errno(ec) != -EIO ||
			    mono_ns() + 100000000 >= deadline ||
			    natsConnection_Status(nc->conn) != NATS_CONN_STATUS_CONNECTED)
				break;
			if (cluster_interrupted()) {
				log_warn("cluster %s: stream %s: mkdir interrupted while JetStream "
					 "made its data stream %s", s->cluster->name, s->name,
					 st->jsname);
				return -EINTR;
			}
			again = true;
			struct timespec pause = { 0, 100 * 1000000 };
			nanosleep(&pause, NULL);
		}
		nats_jsopts(&jo, deadline);
	} else {
		what = "cannot find";
		ns = js_GetStreamInfo(&si, nc->js, st->jsname, &jo, &ec);
	}
	if (ns != NATS_OK)
		goto fail;
	made = create;
	atomic_store(&st->raft, si->Cluster != NULL);
	bool empty = si->State.Msgs == 0;
	jsStreamInfo_Destroy(si);
	pthread_mutex_lock(&st->mu);
	st->caught_up = empty;
	pthread_mutex_unlock(&st->mu);
	jsSubOptions so;
	jsSubOptions_Init(&so);
	so.Stream = st->jsname;
	so.Ordered = true;
	so.Config.HeadersOnly = true;
	/* Idle heartbeats: an ordered consumer whose server is lost is made
	 * anew (by libnats) after two missed ones, and tried again at that
	 * pace until the stream has a leader again (docs/nats.md). */
	so.Config.Heartbeat = (int64_t)NATS_HEARTBEAT_MS * 1000000;
	nats_jsopts(&jo, deadline);
	what = "cannot follow";
	struct nats_follow *fol = calloc(1, sizeof(*fol));
	if (!fol)
		return -ENOMEM;
	fol->st = st;
	atomic_init(&fol->retired, false);
	atomic_init(&fol->active, 0);
	/* Each try makes a new consumer, which NATS places on one of the
	 * stream's servers: one lost but not yet known as lost never answers,
	 * so a try waits NATS_CONSUMER_WAIT_MS and the next is placed anew. */
	int told = 0;
	for (;;) {
		ec = 0;
		uint64_t slice = mono_ns() + (uint64_t)NATS_CONSUMER_WAIT_MS * 1000000;
		nats_jsopts(&jo, slice < deadline ? slice : deadline);
		ns = js_Subscribe(&fol->sub, nc->js, st->subject, on_chunk, fol, &jo, &so, &ec);
		/* An existing stream refused for the account's max_consumers:
		 * the consumers of a daemon killed moments ago, which the
		 * servers remove within NATS_CONSUMER_GONE_MS (not for a
		 * mkdir: its caller waits). */
		uint64_t gone = start + (uint64_t)NATS_CONSUMER_GONE_MS * 1000000;
		if (!create && ec == JSMaximumConsumersLimitErr && deadline < gone)
			deadline = gone;
		/* A stream followed for the bucket's key removed meanwhile
		 * (its consumer tried until the deadline, the watcher held). */
		if (ns == NATS_OK || mono_ns() + 100000000 >= deadline ||
		    natsConnection_Status(nc->conn) != NATS_CONN_STATUS_CONNECTED ||
		    (!create && ec == JSStreamNotFoundErr))
			break;
		if (create && cluster_interrupted()) {
			fol->sub = NULL;
			free(fol);
			ns = NATS_TIMEOUT;
			what = "mkdir interrupted: cannot follow";
			interrupted = true;
			goto fail;
		}
		if (!told++) /* once a call: a refusal comes again every 100 ms */
			log_info("cluster %s: stream %s: its consumer is not made yet (%s); tried "
				 "again", s->cluster->name, s->name, ec && nats_GetLastError(NULL) ?
				 nats_GetLastError(NULL) : natsStatus_GetText(ns));
		fol->sub = NULL;
		struct timespec pause = { 0, 100 * 1000000 };
		nanosleep(&pause, NULL);
	}
	if (ns == NATS_OK && (ns = natsSubscription_SetOnCompleteCB(fol->sub, on_complete, fol)) !=
			     NATS_OK) {
		/* Callbacks may have run: retired and kept until the stream
		 * goes, as a rebuild's. */
		atomic_store(&fol->retired, true);
		nats_follow_close(fol);
		pthread_mutex_lock(&st->mu);
		fol->completed = true; /* no close will be reported */
		fol->next = st->retired;
		st->retired = fol;
		pthread_mutex_unlock(&st->mu);
		fol = NULL;
	}
	if (ns == NATS_OK) {
		pthread_mutex_lock(&st->mu);
		st->fol = fol;
		pthread_mutex_unlock(&st->mu);
		return 0;
	}
	free(fol);
fail:
	/* Removed since its key was read (the data stream goes after it). */
	if (!create && nats_status_errno(ns, ec) == -ENOENT &&
	    nats_kv_holds(nc, st->key, s->uuid, &at) == 0) {
		log_info("cluster %s: stream %s: removed meanwhile (neither its data stream %s "
			 "nor its key is there)", s->cluster->name, s->name, st->jsname);
		return -ENOENT;
	}
	/* libnats' last error text is this thread's last, maybe an older
	 * call's: only a JetStream refusal (EC) is sure to have set it. A
	 * mkdir's failure is its caller's (a warning, as an append's); a
	 * stream named by the bucket that cannot be followed, an error. */
	sfs_log(create ? SFS_LOG_WARN : SFS_LOG_ERROR, "cluster %s: stream %s: %s its data stream "
		"%s: %s", s->cluster->name, s->name, what, st->jsname,
		ec && nats_GetLastError(NULL) ? nats_GetLastError(NULL) : natsStatus_GetText(ns));
	if (made) {
		/* Made just now, named by no key: nothing else would ever
		 * remove it, and it would hold a place under the account's
		 * max_streams. */
		jsErrCode dec = 0;
		nats_jsopts(&jo, mono_ns() + (uint64_t)nc->timeout_ms * 1000000);
		natsStatus ds = js_DeleteStream(nc->js, st->jsname, &jo, &dec);
		if (ds != NATS_OK && dec != JSStreamNotFoundErr)
			log_warn("cluster %s: stream %s: its data stream %s is left: %s",
				 s->cluster->name, s->name, st->jsname, natsStatus_GetText(ds));
	}
	if (interrupted)
		return -EINTR;
	return nats_status_errno(ns, ec) == -ENOENT ? -ENOENT : nats_limit_errno(ec);
}

int nats_stream_wait_caught_up(struct stream *s, uint64_t deadline_ns)
{
	struct nats_stream *st = st_of(s);
	struct timespec ts = { (time_t)(deadline_ns / 1000000000), (long)(deadline_ns % 1000000000) };
	int rc = 0;
	pthread_mutex_lock(&st->mu);
	while (!st->caught_up && rc == 0) /* CLOCK_MONOTONIC (nats_cond_init_mono) */
		rc = pthread_cond_timedwait(&st->cv, &st->mu, &ts) ? -ETIMEDOUT : 0;
	pthread_mutex_unlock(&st->mu);
	return rc;
}
