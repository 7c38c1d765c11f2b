/*
 * natskvwatch.c - streamfs' own watcher of a cluster's key-value bucket
 * (natskvwatch.h), in place of libnats' kvWatcher, whose stop reads its
 * ordered consumer's name without libnats' lock while libnats' own thread
 * that makes that consumer anew frees it (a use after free in libnats
 * 3.4.1). What it owns: one ordered push consumer on KV_<bucket> (deliver
 * policy last per subject, as kvStore_WatchAll without history), made
 * anew from the revision after the last one delivered whenever a message
 * may be missing (libnats dropped one past the pending limits, or a gap in
 * the consumer's sequences), the "initial values delivered" marker, and
 * the close by nats_consumer_close. docs/nats.md, "What each daemon
 * caches" and "A watcher made anew".
 */
#include "natskvwatch.h"
#include "natshome.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logging.h"
#include "util/clock.h"

struct nats_kvwatch {
	struct nats_cluster *nc;
	char stream[272];	/* KV_<bucket> */
	char subject[1024];	/* $KV.<bucket>.<filter> */
	size_t prelen;		/* of "$KV.<bucket>." */
	struct nats_kvw_opts o;
	natsSubscription *sub;	/* NULL: to be made (from last_seq + 1) */
	uint64_t last_seq;	/* revision of the last entry delivered, 0: none */
	uint64_t next_dseq;	/* consumer sequence expected next, 0: any */
	int64_t dropped;	/* sub's dropped messages seen */
	bool drop_seen;		/* one dropped: made anew once the queue is read */
	/* The marker, as libnats computes it (kv.c, kvWatcher_Next). */
	bool init_done, ret_marker;
	uint64_t received, init_pending;
	uint64_t remakes;
};


void nats_kventry_free(struct nats_kventry *e)
{
	if (!e)
		return;
	natsMsg_Destroy(e->msg);
	free(e);
}

uint64_t nats_kvwatch_remakes(const struct nats_kvwatch *w)
{
	return w->remakes;
}

int64_t nats_kvwatch_dropped(const struct nats_kvwatch *w)
{
	int64_t n = 0;
	if (w->sub && natsSubscription_GetDropped(w->sub, &n) != NATS_OK)
		n = 0;
	return n;
}

enum nats_kvop nats_kv_op(natsMsg *m)
{
	const char *v = NULL;
	if (natsMsgHeader_Get(m, "KV-Operation", &v) != NATS_OK || !v)
		return NATS_KV_PUT;
	return !strcmp(v, "DEL") ? NATS_KV_DELETE : !strcmp(v, "PURGE") ? NATS_KV_PURGE :
								       NATS_KV_PUT;
}

/* W's consumer: from stream sequence FROM (0: each key's last value),
 * each request within W's wait. */
static int kvw_subscribe(struct nats_kvwatch *w, uint64_t from)
{
	struct nats_cluster *nc = w->nc;
	jsSubOptions so;
	jsSubOptions_Init(&so);
	so.Stream = w->stream;
	so.Ordered = true;
	so.Config.HeadersOnly = w->o.headers_only;
	/* libnats makes an ordered consumer anew after two missed idle
	 * heartbeats (its default: 5 s each): ours are the data streams'. */
	so.Config.Heartbeat = (int64_t)NATS_HEARTBEAT_MS * 1000000;
	if (from) {
		so.Config.DeliverPolicy = js_DeliverByStartSequence;
		so.Config.OptStartSeq = from;
	} else {
		so.Config.DeliverPolicy = js_DeliverLastPerSubject;
	}
	jsOptions jo;
	jsErrCode ec = 0;
	nats_jsopts(&jo, mono_ns() + (uint64_t)w->o.wait_ms * 1000000);
	natsSubscription *sub = NULL;
	natsStatus s = js_SubscribeSync(&sub, nc->js, w->subject, &jo, &so, &ec);
	if (s != NATS_OK)
		return s == NATS_TIMEOUT ? -ETIMEDOUT :
		       nats_limit_errno(ec) == -EDQUOT ? -EDQUOT : nats_status_errno(s, ec);
	/* Bounded memory: past these libnats drops, which next() sees. */
	s = natsSubscription_SetPendingLimits(sub, w->o.max_msgs, w->o.max_bytes);
	jsConsumerInfo *ci = NULL;
	if (s == NATS_OK && !w->init_done) {
		/* What libnats keeps from the consumer's creation (jsi->pending):
		 * nothing to replay, the marker comes first. */
		nats_jsopts(&jo, mono_ns() + (uint64_t)w->o.wait_ms * 1000000);
		s = natsSubscription_GetConsumerInfo(&ci, sub, &jo, &ec);
		if (s == NATS_OK && ci->NumPending + ci->Delivered.Consumer == 0)
			w->init_done = w->ret_marker = true;
		jsConsumerInfo_Destroy(ci);
	}
	if (s != NATS_OK) {
		nats_consumer_close(nc, sub);
		return s == NATS_TIMEOUT ? -ETIMEDOUT : -EIO;
	}
	w->sub = sub;
	w->next_dseq = 1;
	w->dropped = 0;
	w->drop_seen = false;
	w->received = w->init_pending = 0;
	return 0;
}

int nats_kvwatch_open(struct nats_kvwatch **out, struct nats_cluster *nc, const char *filter,
		      const struct nats_kvw_opts *o)
{
	*out = NULL;
	if (!filter || !*filter || strpbrk(filter, " \t\r\n") ||
	    strlen(filter) + strlen(nc->bucket) + 6 > sizeof(((struct nats_kvwatch *)0)->subject)) {
		log_error("cluster bucket %s: no key filter to watch: \"%s\"", nc->bucket,
			  filter ? filter : "(null)");
		return -EINVAL;
	}
	struct nats_kvwatch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->nc = nc;
	if (o)
		w->o = *o;
	if (w->o.max_msgs <= 0)
		w->o.max_msgs = NATS_KVW_MAX_MSGS;
	if (w->o.max_bytes <= 0)
		w->o.max_bytes = NATS_KVW_MAX_BYTES;
	if (w->o.wait_ms <= 0)
		w->o.wait_ms = NATS_STOP_WAIT_MS;
	snprintf(w->stream, sizeof(w->stream), "KV_%s", nc->bucket);
	w->prelen = (size_t)snprintf(w->subject, sizeof(w->subject), "$KV.%s.", nc->bucket);
	snprintf(w->subject + w->prelen, sizeof(w->subject) - w->prelen, "%s", filter);
	int rc = kvw_subscribe(w, 0);
	if (rc < 0) {
		free(w);
		return rc;
	}
	*out = w;
	return 0;
}

/* Make W's consumer anew from the revision after the last it delivered:
 * nothing is missed, nothing delivered twice. */
static int kvw_remake(struct nats_kvwatch *w)
{
	if (w->sub)
		nats_consumer_close(w->nc, w->sub);
	w->sub = NULL;
	/* Not tried while away: the request would only wait. */
	if (natsConnection_Status(w->nc->conn) != NATS_CONN_STATUS_CONNECTED)
		return -EAGAIN;
	w->remakes++;
	return kvw_subscribe(w, w->last_seq ? w->last_seq + 1 : 0);
}

/* Is message M (metadata MD) the one that follows what W delivered? A
 * message dropped by libnats (past the pending limits) leaves a gap in
 * the consumer's sequences: libnats' own check of an ordered consumer
 * counts it as delivered, so it never makes the consumer anew for it.
 * A consumer libnats made anew itself starts at 1 again, from the stream
 * sequence after the last message it took in: that is ours only if none
 * was dropped meanwhile. */
static bool kvw_follows(struct nats_kvwatch *w, const jsMsgMetaData *md)
{
	uint64_t d = md->Sequence.Consumer;
	if (d == w->next_dseq)
		return true;
	if (d != 1 || w->drop_seen) {
		log_info("bucket %s: its watcher missed messages (%lld dropped by libnats, "
			 "consumer sequence %llu after %llu); its consumer is made anew after "
			 "revision %llu", w->nc->bucket, (long long)w->dropped,
			 (unsigned long long)d, (unsigned long long)w->next_dseq - 1,
			 (unsigned long long)w->last_seq);
		return false;
	}
	log_info("bucket %s: its watcher's consumer was made anew by libnats (after revision "
		 "%llu)", w->nc->bucket, (unsigned long long)w->last_seq);
	/* After a reconnection: the servers' store may have gone back. */
	atomic_store(&w->nc->bucket_check, true);
	return true;
}

int nats_kvwatch_next(struct nats_kvwatch *w, struct nats_kventry **out, int64_t timeout_ms)
{
	*out = NULL;
	if (timeout_ms < 1) {
		log_error("cluster bucket %s: a watcher's wait of %lld ms", w->nc->bucket,
			  (long long)timeout_ms);
		return -EINVAL;
	}
	uint64_t deadline = mono_ns() + (uint64_t)timeout_ms * 1000000;
	for (;;) {
		if (w->ret_marker) {
			w->ret_marker = false;
			return 0;
		}
		if (!w->sub && kvw_remake(w) < 0)
			return -EAGAIN;
		if (w->drop_seen) {
			int pending = 0;
			if (natsSubscription_GetPending(w->sub, &pending, NULL) != NATS_OK ||
			    pending == 0) {
				/* Everything before the message dropped is
				 * delivered: from there again. */
				log_info("bucket %s: its watcher missed messages (%lld dropped by "
					 "libnats); its consumer is made anew after revision %llu",
					 w->nc->bucket, (long long)w->dropped,
					 (unsigned long long)w->last_seq);
				if (kvw_remake(w) < 0)
					return -EAGAIN;
				continue;
			}
		}
		uint64_t now = mono_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		natsMsg *m = NULL;
		natsStatus s = natsSubscription_NextMsg(&m, w->sub,
							(int64_t)((deadline - now + 999999) / 1000000));
		int64_t dropped = 0;
		if (natsSubscription_GetDropped(w->sub, &dropped) == NATS_OK && dropped > w->dropped) {
			w->dropped = dropped;
			w->drop_seen = true;
		}
		if (s == NATS_TIMEOUT)
			return -ETIMEDOUT;
		if (s == NATS_SLOW_CONSUMER)
			continue; /* a drop: seen above */
		if (s != NATS_OK) {
			log_info("cluster bucket %s: its watcher stopped (%s); made anew",
				 w->nc->bucket, natsStatus_GetText(s));
			nats_consumer_close(w->nc, w->sub);
			w->sub = NULL;
			return -EIO;
		}
		jsMsgMetaData *md = NULL;
		const char *subj = natsMsg_GetSubject(m);
		if (natsMsg_GetMetaData(&md, m) != NATS_OK || !subj ||
		    strlen(subj) <= w->prelen) {
			log_warn("cluster bucket %s: its watcher got a message that is not an "
				 "entry (subject %s)", w->nc->bucket, subj ? subj : "?");
			jsMsgMetaData_Destroy(md);
			natsMsg_Destroy(m);
			continue;
		}
		if (!kvw_follows(w, md)) {
			jsMsgMetaData_Destroy(md);
			natsMsg_Destroy(m);
			if (kvw_remake(w) < 0)
				return -EAGAIN;
			continue;
		}
		w->next_dseq = md->Sequence.Consumer + 1;
		uint64_t seq = md->Sequence.Stream, pending = md->NumPending;
		int64_t stamp = md->Timestamp;
		jsMsgMetaData_Destroy(md);
		if (seq <= w->last_seq) { /* delivered already */
			natsMsg_Destroy(m);
			continue;
		}
		struct nats_kventry *e = calloc(1, sizeof(*e));
		if (!e) {
			/* Not delivered: asked again from there. */
			natsMsg_Destroy(m);
			nats_consumer_close(w->nc, w->sub);
			w->sub = NULL;
			return -EAGAIN;
		}
		e->msg = m;
		e->key = subj + w->prelen;
		e->val = natsMsg_GetData(m);
		e->len = natsMsg_GetDataLength(m);
		e->rev = seq;
		e->time = stamp;
		e->op = nats_kv_op(m);
		w->last_seq = seq;
		if (!w->init_done) {
			w->received++;
			if (w->init_pending == 0)
				w->init_pending = pending;
			if (w->received > w->init_pending || pending == 0)
				w->init_done = w->ret_marker = true;
		}
		*out = e;
		return 0;
	}
}

void nats_kvwatch_close(struct nats_kvwatch *w)
{
	if (!w)
		return;
	if (w->sub)
		nats_consumer_close(w->nc, w->sub);
	free(w);
}
