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

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logging.h"
#include "names.h"
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

int nats_kv_last(struct nats_cluster *nc, const char *key, uint64_t *rev, natsMsg **msg)
{
	char stream[300], subj[NATS_KEY_MAX + 300];
	snprintf(stream, sizeof(stream), "KV_%s", nc->bucket);
	snprintf(subj, sizeof(subj), "$KV.%s.%s", nc->bucket, key);
	*rev = 0;
	if (msg)
		*msg = NULL;
	natsMsg *m = NULL;
	jsErrCode ec = 0;
	/* The context's own wait (nats_timeout_ms), as kvStore_Get's. */
	natsStatus s = js_GetLastMsg(&m, nc->js, stream, subj, NULL, &ec);
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

int nats_kv_holds(struct nats_cluster *nc, const char *key, const uuid_t uuid, uint64_t *rev)
{
	natsMsg *m = NULL;
	uint64_t at = 0;
	int r = nats_kv_last(nc, key, &at, &m);
	if (r <= 0)
		return r; /* deleted, or no answer */
	uuid_t u;
	json_t *j = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, NULL);
	const char *us = j ? json_string_value(json_object_get(j, "uuid")) : NULL;
	bool ours = us && uuid_parse(us, u) == 0 && uuid_compare(u, uuid) == 0;
	json_decref(j);
	natsMsg_Destroy(m);
	*rev = at;
	return ours ? 1 : 0;
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

int nats_kv_delete_if(struct nats_cluster *nc, const char *key, const uuid_t uuid)
{
	uint64_t deadline = mono_ns() + (uint64_t)nc->timeout_ms * 1000000;
	char subj[NATS_KEY_MAX + 300];
	snprintf(subj, sizeof(subj), "$KV.%s.%s", nc->bucket, key);
	while (mono_ns() < deadline) {
		uint64_t r = 0;
		int held = nats_kv_holds(nc, key, uuid, &r);
		if (held <= 0)
			return held; /* deleted already, another incarnation took the name, or an error */
		char rev[32];
		snprintf(rev, sizeof(rev), "%llu", (unsigned long long)r);
		/* The key-value wire form of a delete, only over that revision. */
		natsMsg *m = NULL;
		jsPubAck *ack = NULL;
		jsErrCode ec = 0;
		jsPubOptions po;
		jsPubOptions_Init(&po);
		po.MaxWait = nc->timeout_ms;
		natsStatus s = natsMsg_Create(&m, subj, NULL, NULL, 0);
		if (s == NATS_OK)
			s = natsMsgHeader_Set(m, "KV-Operation", "DEL");
		if (s == NATS_OK)
			s = natsMsgHeader_Set(m, "Nats-Expected-Last-Subject-Sequence", rev);
		if (s == NATS_OK)
			s = js_PublishMsg(&ack, nc->js, m, &po, &ec);
		if (s == NATS_OK && ack)
			nats_kv_wrote(nc, key, ack->Sequence);
		natsMsg_Destroy(m);
		jsPubAck_Destroy(ack);
		if (s == NATS_OK)
			return 0;
		if (ec != JSStreamWrongLastSequenceErr)
			return nats_status_errno(s, ec);
		/* Changed meanwhile (a chmod): look again. */
	}
	return -ETIMEDOUT;
}

int nats_kv_update_if(struct nats_cluster *nc, const char *key, const uuid_t uuid,
		      const char *txt, uint64_t *rev)
{
	uint64_t deadline = mono_ns() + (uint64_t)nc->timeout_ms * 1000000;
	while (mono_ns() < deadline) {
		uint64_t nrev = 0;
		natsStatus s = kvStore_Update(&nrev, nc->kv, key, txt, (int)strlen(txt), *rev);
		if (s == NATS_OK) {
			*rev = nrev;
			nats_kv_wrote(nc, key, nrev);
			return 0;
		}
		/* Changed meanwhile: by whom? */
		uint64_t cur = 0;
		int held = nats_kv_holds(nc, key, uuid, &cur);
		if (held < 0)
			return held;
		if (!held)
			return -ENOENT; /* removed (and the name maybe taken again) */
		if (cur == *rev)
			return -EIO; /* refused for another reason */
		*rev = cur;
	}
	return -ETIMEDOUT;
}

int nats_kv_create(struct nats_cluster *nc, const char *key, const char *txt, uint64_t *rev,
		   kvEntry **e)
{
	uint64_t deadline = mono_ns() + (uint64_t)nc->timeout_ms * 1000000;
	size_t len = strlen(txt);
	for (;;) {
		if (kvStore_Create(rev, nc->kv, key, txt, (int)len) == NATS_OK) {
			nats_kv_wrote(nc, key, *rev);
			return 0;
		}
		kvEntry *g = NULL;
		if (kvStore_Get(&g, nc->kv, key) == NATS_OK) {
			if ((size_t)kvEntry_ValueLen(g) == len && !memcmp(kvEntry_Value(g), txt, len)) {
				*rev = kvEntry_Revision(g); /* ours: its acknowledgement was lost */
				kvEntry_Destroy(g);
				return 0;
			}
			if (e)
				*e = g;
			else
				kvEntry_Destroy(g);
			return -EEXIST;
		}
		if (mono_ns() >= deadline ||
		    natsConnection_Status(nc->conn) != NATS_CONN_STATUS_CONNECTED)
			return -EIO;
		nats_pause(); /* neither answered: NATS is electing a leader */
	}
}

int nats_connected(struct nats_cluster *nc, const char *what)
{
	if (nc->conn && natsConnection_Status(nc->conn) == NATS_CONN_STATUS_CONNECTED)
		return 0;
	log_warn("cluster %s: %s: not connected to NATS", nc->cl->name, what);
	return -EIO;
}

