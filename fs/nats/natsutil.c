/*
 * natsutil.c - the small pieces every file of the NATS home shares
 * (natshome.h): names as NATS keys, NATS's errors as errnos, deadlines cut
 * into slices, a JetStream consumer closed and removed without libnats'
 * unsubscribe, its subscription kept until libnats' reader is done with
 * it (nats_consumer_close, nats_parked_release), and the compare-and-set writes of
 * the cluster's bucket (create, update and delete only over the revision
 * known). docs/nats.md.
 */
#include "natshome.h"
#include "natskvwatch.h"
#include "natsmerge.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "logging.h"
#include "names.h"
#include "namespace.h"
#include "util/clock.h"

int nats_encode(const char *name, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		bool keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || *p == '-';
		if (o + (keep ? 1 : 3) >= n)
			return -ENAMETOOLONG;
		if (keep) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '_';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = 0;
	return 0;
}

int nats_decode(const char *in, char *out, size_t n)
{
	size_t o = 0;
	for (const char *p = in; *p; p++) {
		if (o + 1 >= n)
			return -EINVAL;
		if (*p != '_') {
			out[o++] = *p;
			continue;
		}
		unsigned v;
		char h[3] = { p[1], p[1] ? p[2] : 0, 0 };
		if (!h[0] || !h[1] || sscanf(h, "%2X", &v) != 1)
			return -EINVAL;
		out[o++] = (char)v;
		p += 2;
	}
	out[o] = 0;
	return name_valid(out) ? 0 : -EINVAL;
}

int nats_status_errno(natsStatus s, jsErrCode ec)
{
	if (s == NATS_OK)
		return 0;
	if (s == NATS_NOT_FOUND || ec == JSStreamNotFoundErr || ec == JSNoMessageFoundErr)
		return -ENOENT;
	if (s == NATS_TIMEOUT)
		return -ETIMEDOUT;
	return -EIO;
}

int nats_limit_errno(jsErrCode ec)
{
	switch (ec) {
	case JSAccountResourcesExceededErr: /* the account's max_storage, max_streams... */
	case JSMaximumStreamsLimitErr:
	case JSMaximumConsumersLimitErr:
		return -EDQUOT;
	case JSStorageResourcesExceededErr: /* the servers' own store */
	case JSMemoryResourcesExceededErr:
	case JSInsufficientResourcesErr:
		return -ENOSPC;
	default:
		return -EIO;
	}
}

void nats_jsopts(jsOptions *jo, uint64_t deadline_ns)
{
	jsOptions_Init(jo);
	uint64_t now = mono_ns();
	int64_t ms = deadline_ns > now ? (int64_t)((deadline_ns - now) / 1000000) : 0;
	jo->Wait = ms > 0 ? ms : 1;
}

/*
 * libnats 3.4.1's own count of a subscription's references: exported by
 * its shared library, though declared only in its source (src/sub.h).
 * The one way to keep a subscription after natsSubscription_Destroy
 * (nats_parked_release says why); a libnats without them fails to link.
 */
void natsSub_retain(natsSubscription *sub);
void natsSub_release(natsSubscription *sub);

/* One subscription kept by nats_consumer_close (natshome.h, parked). */
struct nats_parked {
	struct nats_parked *next;
	natsSubscription *sub;	/* our one reference */
	uint64_t seq;		/* nc->park_seq when parked */
};

/* Keep SUB (one reference of ours) for nats_parked_release. Without
 * memory for the list, SUB is never released: a small leak, where a
 * release could free it under libnats' reader. */
static void park(struct nats_cluster *nc, natsSubscription *sub)
{
	struct nats_parked *p = malloc(sizeof(*p));
	if (!p)
		return;
	p->sub = sub;
	pthread_mutex_lock(&nc->park_mu);
	p->seq = ++nc->park_seq;
	p->next = nc->parked;
	nc->parked = p;
	pthread_mutex_unlock(&nc->park_mu);
}

void nats_consumer_close(struct nats_cluster *nc, natsSubscription *sub)
{
	jsConsumerInfo *ci = NULL;
	jsOptions jo;
	jsErrCode ec = 0;
	if (mono_ns() >= atomic_load(&nc->consumer_rm_after) &&
	    natsConnection_Status(nc->conn) == NATS_CONN_STATUS_CONNECTED) {
		nats_jsopts(&jo, mono_ns() + (uint64_t)NATS_CONSUMER_RM_WAIT_MS * 1000000);
		if (natsSubscription_GetConsumerInfo(&ci, sub, &jo, &ec) == NATS_TIMEOUT)
			atomic_store(&nc->consumer_rm_after,
				     mono_ns() + (uint64_t)NATS_STOP_WAIT_MS * 1000000);
	}
	/* natsSubscription_Destroy clears the "delete the consumer" flag
	 * before its unsubscribe, and drops our reference: one more, taken
	 * first, keeps SUB for libnats' reader (nats_parked_release). */
	natsSub_retain(sub);
	natsSubscription_Destroy(sub);
	park(nc, sub);
	if (ci && ci->Stream && ci->Name) {
		ec = 0;
		nats_jsopts(&jo, mono_ns() + (uint64_t)NATS_CONSUMER_RM_WAIT_MS * 1000000);
		if (js_DeleteConsumer(nc->js, ci->Stream, ci->Name, &jo, &ec) == NATS_TIMEOUT)
			atomic_store(&nc->consumer_rm_after,
				     mono_ns() + (uint64_t)NATS_STOP_WAIT_MS * 1000000);
	}
	jsConsumerInfo_Destroy(ci);
	nats_parked_release(nc, false);
}

size_t nats_parked_release(struct nats_cluster *nc, bool all)
{
	uint64_t upto;
	pthread_mutex_lock(&nc->park_mu);
	upto = nc->park_seq;
	bool any = nc->parked != NULL;
	pthread_mutex_unlock(&nc->park_mu);
	if (!any)
		return 0;
	/* Not asked while NATS is away, nor within NATS_STOP_WAIT_MS of a
	 * request that went unanswered (consumer_rm_after, as the removals):
	 * a server that is there but does not answer (SIGSTOP) would make a
	 * stop wait 500 ms once per stream. */
	natsStatus fs = NATS_CONNECTION_DISCONNECTED;
	if (!all && natsConnection_Status(nc->conn) == NATS_CONN_STATUS_CONNECTED &&
	    mono_ns() >= atomic_load(&nc->consumer_rm_after)) {
		fs = natsConnection_FlushTimeout(nc->conn, NATS_CONSUMER_RM_WAIT_MS);
		if (fs == NATS_TIMEOUT)
			atomic_store(&nc->consumer_rm_after,
				     mono_ns() + (uint64_t)NATS_STOP_WAIT_MS * 1000000);
	}
	if (!all && fs != NATS_OK)
		upto = 0; /* kept for a later round trip, or the close */
	struct nats_parked *go = NULL, **pp;
	size_t kept = 0;
	pthread_mutex_lock(&nc->park_mu);
	/* Newest first: those parked after the ping began stay. */
	for (pp = &nc->parked; *pp && !all && (*pp)->seq > upto; pp = &(*pp)->next)
		kept++;
	go = *pp;
	*pp = NULL;
	pthread_mutex_unlock(&nc->park_mu);
	while (go) {
		struct nats_parked *next = go->next;
		natsSub_release(go->sub);
		free(go);
		go = next;
	}
	return all ? 0 : kept;
}

/* KEY's last entry as the leader holds it (nats_kv_last), the request
 * waiting until DEADLINE (mono_ns). */
static int kv_last(struct nats_cluster *nc, const char *key, uint64_t deadline, uint64_t *rev,
		   natsMsg **msg)
{
	char stream[300], subj[NATS_KEY_MAX + 300];
	snprintf(stream, sizeof(stream), "KV_%s", nc->bucket);
	snprintf(subj, sizeof(subj), "$KV.%s.%s", nc->bucket, key);
	*rev = 0;
	if (msg)
		*msg = NULL;
	natsMsg *m = NULL;
	jsErrCode ec = 0;
	jsOptions jo;
	nats_jsopts(&jo, deadline);
	natsStatus s = js_GetLastMsg(&m, nc->js, stream, subj, &jo, &ec);
	if (s != NATS_OK)
		return s == NATS_NOT_FOUND || ec == JSNoMessageFoundErr ? 0 :
		       s == NATS_TIMEOUT ? -ETIMEDOUT : -EIO;
	*rev = natsMsg_GetSequence(m);
	/* A deletion or a purge leaves a marker. */
	bool value = nats_kv_op(m) == NATS_KV_PUT;
	if (value && msg)
		*msg = m;
	else
		natsMsg_Destroy(m);
	return value ? 1 : 0;
}

int nats_kv_last(struct nats_cluster *nc, const char *key, uint64_t *rev, natsMsg **msg)
{
	/* In slices: a request to a leader just lost is never answered, and
	 * only one sent after the election is (a read: asked again). */
	uint64_t deadline = mono_ns() + (uint64_t)nc->timeout_ms * 1000000;
	for (;;) {
		int r = kv_last(nc, key, nats_slice(deadline), rev, msg);
		if (r != -ETIMEDOUT || mono_ns() >= deadline || cluster_interrupted())
			return r;
		if (natsConnection_Status(nc->conn) != NATS_CONN_STATUS_CONNECTED)
			nats_pause(); /* a reconnection under way */
	}
}

json_t *nats_kv_incarnation(natsMsg *m, const uuid_t uuid)
{
	json_t *j = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, NULL);
	const char *us = json_string_value(json_object_get(j, "uuid"));
	uuid_t u;
	if (!uuid && json_is_object(j))
		return j;
	if (uuid && us && uuid_parse(us, u) == 0 && uuid_compare(u, uuid) == 0)
		return j;
	json_decref(j);
	return NULL;
}

/* nats_kv_holds, the request waiting until DEADLINE (0: as
 * nats_kv_last, in slices until nats_timeout_ms). */
static int kv_holds(struct nats_cluster *nc, const char *key, const uuid_t uuid,
		    uint64_t deadline, uint64_t *rev)
{
	natsMsg *m = NULL;
	uint64_t at = 0;
	int r = deadline ? kv_last(nc, key, deadline, &at, &m) : nats_kv_last(nc, key, &at, &m);
	if (r <= 0)
		return r; /* deleted, or no answer */
	json_t *j = nats_kv_incarnation(m, uuid);
	bool ours = j != NULL;
	json_decref(j);
	natsMsg_Destroy(m);
	*rev = at;
	return ours ? 1 : 0;
}

int nats_kv_holds(struct nats_cluster *nc, const char *key, const uuid_t uuid, uint64_t *rev)
{
	return kv_holds(nc, key, uuid, 0, rev);
}

uint64_t nats_slice(uint64_t deadline)
{
	uint64_t s = mono_ns() + (uint64_t)NATS_SLICE_MS * 1000000;
	return s < deadline ? s : deadline;
}

void nats_pause(void)
{
	struct timespec pause = { 0, 20 * 1000000 };
	nanosleep(&pause, NULL);
}

void nats_kv_wrote(struct nats_cluster *nc, const char *key, uint64_t rev)
{
	if (!rev)
		return;
	pthread_mutex_lock(&nc->wrote_mu);
	struct nats_wrote *w = &nc->wrote[nc->nwrote++ % NATS_WROTE];
	w->rev = rev;
	snprintf(w->key, sizeof(w->key), "%s", key);
	pthread_mutex_unlock(&nc->wrote_mu);
}

/*
 * One try at a put of TXT (NULL: a delete marker) under KEY of NC's
 * bucket over revision EXPECT (the key's last; 0: none ever), its answer
 * waited for until nats_slice(DEADLINE): a leader lost leaves a publish
 * unanswered, and only a try after the election can be taken. 0 with the
 * revision in *SEQ; -EAGAIN: refused, the key is not at EXPECT (changed
 * meanwhile, or an earlier try of ours was stored); -ETIMEDOUT: no answer
 * (maybe stored all the same), or not tried: not connected, for libnats
 * would send it after its reconnection, behind the caller's back
 * (nats_connected); -ENOSPC, -EDQUOT, -EIO: refused (nats_limit_errno).
 */
static int kv_try(struct nats_cluster *nc, const char *key, const char *txt, uint64_t expect,
		  uint64_t deadline, uint64_t *seq)
{
	if (natsConnection_Status(nc->conn) != NATS_CONN_STATUS_CONNECTED)
		return -ETIMEDOUT;
	char subj[NATS_KEY_MAX + 300], rev[32];
	snprintf(subj, sizeof(subj), "$KV.%s.%s", nc->bucket, key);
	snprintf(rev, sizeof(rev), "%llu", (unsigned long long)expect);
	natsMsg *m = NULL;
	jsPubAck *ack = NULL;
	jsErrCode ec = 0;
	jsPubOptions po;
	jsPubOptions_Init(&po);
	uint64_t now = mono_ns(), until = nats_slice(deadline);
	po.MaxWait = until > now ? (int64_t)((until - now) / 1000000) : 1;
	if (po.MaxWait < 1)
		po.MaxWait = 1;
	natsStatus s = natsMsg_Create(&m, subj, NULL, txt, txt ? (int)strlen(txt) : 0);
	if (s == NATS_OK && !txt) /* the key-value wire form of a delete */
		s = natsMsgHeader_Set(m, "KV-Operation", "DEL");
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Nats-Expected-Last-Subject-Sequence", rev);
	if (s == NATS_OK)
		s = js_PublishMsg(&ack, nc->js, m, &po, &ec);
	*seq = s == NATS_OK && ack ? ack->Sequence : 0;
	natsMsg_Destroy(m);
	jsPubAck_Destroy(ack);
	if (s == NATS_OK) {
		nats_kv_wrote(nc, key, *seq);
		return 0;
	}
	if (ec == JSStreamWrongLastSequenceErr)
		return -EAGAIN;
	if (s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS || s == NATS_CONNECTION_CLOSED ||
	    s == NATS_CONNECTION_DISCONNECTED)
		return -ETIMEDOUT;
	return nats_limit_errno(ec);
}

/* Between tries of a bucket write that had no answer (R: kv_try's, or a
 * read's): 0 to try again, -EINTR (a signal) or -EIO (DEADLINE passed:
 * logged, naming KEY) to end. */
static int kv_wait(struct nats_cluster *nc, const char *key, uint64_t deadline, int r)
{
	if (mono_ns() >= deadline) {
		log_warn("cluster %s: key %s: NATS did not take the change within "
			 "nats_timeout_ms (%lld ms): %s", nc->cl->name, key,
			 (long long)nc->timeout_ms, strerror(r < 0 ? -r : EIO));
		return -EIO;
	}
	if (cluster_interrupted())
		return -EINTR;
	if (r == -ETIMEDOUT || r == -EIO)
		nats_pause(); /* away, or a leader being elected */
	return 0;
}

/* A bucket write's deadline: D, nats_connected's for the change (its
 * start + nats_timeout_ms: the wait for the connection counts, not that
 * long and then as long again), if still ahead and within
 * nats_timeout_ms; else (0, or passed) now + nats_timeout_ms. */
static uint64_t write_deadline(struct nats_cluster *nc, uint64_t d)
{
	uint64_t now = mono_ns(), t = (uint64_t)nc->timeout_ms * 1000000;
	return d > now && d - now <= t ? d : now + t;
}

int nats_kv_delete_if(struct nats_cluster *nc, const char *key, const uuid_t uuid,
		      uint64_t until)
{
	uint64_t deadline = write_deadline(nc, until);
	for (;;) {
		uint64_t at = 0, seq;
		int r = kv_holds(nc, key, uuid, nats_slice(deadline), &at);
		if (r == 0)
			return 0; /* deleted already, or another incarnation took the name */
		/* Only over that revision: a chmod meanwhile, look again. A
		 * read without an answer is tried again. */
		if (r == 1) {
			r = kv_try(nc, key, NULL, at, deadline, &seq);
			if (r == 0)
				return 0;
			if (r != -EAGAIN && r != -ETIMEDOUT)
				return r;
		}
		if ((r = kv_wait(nc, key, deadline, r)) < 0)
			return r;
	}
}

/* Is M's value exactly TXT? */
static bool holds_txt(natsMsg *m, const char *txt)
{
	size_t len = strlen(txt);
	return (size_t)natsMsg_GetDataLength(m) == len && !memcmp(natsMsg_GetData(m), txt, len);
}

int nats_kv_update_if(struct nats_cluster *nc, const char *key, const uuid_t uuid,
		      const json_t *base, const json_t *ours, uint64_t *rev, json_t **stored,
		      uint64_t until)
{
	uint64_t deadline = write_deadline(nc, until);
	/* The revision tried over; *REV only on success: a change that
	 * fails keeps the one whose value the caller holds, so the watcher
	 * still applies the other daemon's change it was refused for. */
	uint64_t expect = *rev;
	json_t *cur = json_deep_copy((json_t *)ours); /* what is tried */
	char *txt = cur ? json_dumps(cur, JSON_COMPACT) : NULL;
	int rc = txt ? 0 : -ENOMEM;
	while (rc == 0) {
		uint64_t seq = 0;
		int r = kv_try(nc, key, txt, expect, deadline, &seq);
		if (r == 0) {
			*rev = seq;
			break;
		}
		if (r != -EAGAIN && r != -ETIMEDOUT) {
			rc = r;
			break;
		}
		/* Changed meanwhile, or no answer: what is there, as the
		 * leader holds it? */
		natsMsg *m = NULL;
		uint64_t at = 0;
		int l = kv_last(nc, key, nats_slice(deadline), &at, &m);
		if (l == 1 && holds_txt(m, txt)) {
			*rev = at; /* a try of ours, its answer lost */
			natsMsg_Destroy(m);
			break;
		}
		json_t *theirs = l == 1 ? nats_kv_incarnation(m, uuid) : NULL;
		natsMsg_Destroy(m);
		if (l == 0 || (l == 1 && !theirs)) {
			rc = -ENOENT; /* removed (and the name maybe taken again) */
			break;
		}
		if (theirs && at == expect && r == -EAGAIN) {
			json_decref(theirs);
			rc = -EIO; /* refused for another reason */
			break;
		}
		if (theirs) { /* this daemon's change made again over theirs */
			json_t *merged = NULL;
			int mr = nats_meta_merge(base, ours, theirs, &merged);
			char *mt = mr == 0 ? json_dumps(merged, JSON_COMPACT) : NULL;
			json_decref(theirs);
			if (!mt) {
				json_decref(merged);
				rc = mr ? mr : -ENOMEM;
				if (rc == -ENOSPC)
					log_warn("cluster %s: key %s: this daemon's change and another "
						 "daemon's together make a list of more than %d: refused",
						 nc->cl->name, key, NATS_META_LIST_MAX);
				break;
			}
			json_decref(cur);
			free(txt);
			cur = merged;
			txt = mt;
			expect = at;
			if (FAULT_LIE("nats-merge-deadline")) {
				rc = -EIO; /* tests: nats_timeout_ms over now */
				break;
			}
		}
		rc = kv_wait(nc, key, deadline, l < 0 ? l : r);
	}
	free(txt);
	if (rc == 0 && stored)
		*stored = cur;
	else
		json_decref(cur);
	return rc;
}

int nats_kv_create(struct nats_cluster *nc, const char *key, const char *txt, uint64_t *rev,
		   natsMsg **e, uint64_t until)
{
	uint64_t deadline = write_deadline(nc, until);
	size_t len = strlen(txt);
	uint64_t expect = 0; /* none ever; or over a deletion's marker */
	for (;;) {
		int r = kv_try(nc, key, txt, expect, deadline, rev);
		if (r == 0 && FAULT_LIE("nats-create-answer-late")) {
			sleep(2); /* tests: stored, its answer lost */
			r = -ETIMEDOUT;
		}
		if (r == 0)
			return 0;
		if (r != -EAGAIN && r != -ETIMEDOUT)
			return r;
		/* What is there, as the leader holds it (a replica behind
		 * would say "nothing" of a value a first try made). */
		natsMsg *g = NULL;
		uint64_t at = 0;
		int l = kv_last(nc, key, nats_slice(deadline), &at, &g);
		if (l == 1) {
			if ((size_t)natsMsg_GetDataLength(g) == len &&
			    !memcmp(natsMsg_GetData(g), txt, len)) {
				*rev = at; /* ours: its acknowledgement was lost */
				natsMsg_Destroy(g);
				return 0;
			}
			if (e)
				*e = g;
			else
				natsMsg_Destroy(g);
			return -EEXIST;
		}
		if (l == 0)
			expect = at; /* nothing there: over its deletion, if any */
		if ((r = kv_wait(nc, key, deadline, l < 0 ? l : r)) < 0)
			return r;
	}
}

int nats_kv_put(struct nats_cluster *nc, const char *key, const char *txt, uint64_t until)
{
	uint64_t deadline = write_deadline(nc, until);
	for (;;) {
		/* Over the last revision the leader holds (or its deletion's) */
		uint64_t at = 0, seq;
		int r = kv_last(nc, key, nats_slice(deadline), &at, NULL);
		if (r >= 0) {
			r = kv_try(nc, key, txt, at, deadline, &seq);
			if (r == 0)
				return 0;
			if (r != -EAGAIN && r != -ETIMEDOUT)
				return r;
		}
		if ((r = kv_wait(nc, key, deadline, r)) < 0)
			return r;
	}
}

int nats_connected(struct nats_cluster *nc, const char *what, uint64_t *until)
{
	uint64_t deadline = mono_ns() + (uint64_t)nc->timeout_ms * 1000000;
	for (;;) {
		natsConnStatus cs = nc->conn ? natsConnection_Status(nc->conn) :
					       NATS_CONN_STATUS_CLOSED;
		if (cs == NATS_CONN_STATUS_CONNECTED) {
			if (until)
				*until = deadline;
			return 0;
		}
		if (cs == NATS_CONN_STATUS_CLOSED || mono_ns() >= deadline)
			break;
		if (cluster_interrupted())
			return -EINTR;
		nats_pause(); /* a reconnection under way (one server lost) */
	}
	log_warn("cluster %s: %s: not connected to NATS (waited up to nats_timeout_ms, %lld ms)",
		 nc->cl->name, what, (long long)nc->timeout_ms);
	return -EIO;
}

