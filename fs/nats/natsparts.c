/*
 * natsparts.c - chunks longer than one NATS message (natshome.h): their
 * bytes published first as parts on the topic's side subject
 * sfs.<stream uuid>.<topic uuid>.p, then one head on the topic's subject
 * that names them (Sfs-Parts), so that the visible commit of any write()
 * is one message, published with the expected last subject sequence like
 * any other chunk; reading a part back for a byte position; removing a
 * topic's parts with it (docs/nats.md, "Chunks longer than one NATS
 * message").
 *
 * Why a head and parts, not a chain of chunks: other writers never wait
 * behind an unfinished write (there is none on the topic's subject), a
 * writer killed before its head leaves nothing a reader sees, and a
 * head refused because another daemon appended first is published again
 * with new Sfs-Off and Sfs-Pos without sending its bytes again (parts
 * hold bytes only, no positions).
 */
#include "natshome.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "fault.h"
#include "logging.h"
#include "util/clock.h"

/* Worst-case bytes of one part's entry in Sfs-Parts: a space and a stream
 * sequence of 20 digits (a range "a-b" stands for two parts or more). */
#define PART_ENTRY_MAX 21

size_t nats_part_max(const struct nats_cluster *nc)
{
	return nc->max_payload > NATS_HEADER_ROOM ? (size_t)(nc->max_payload - NATS_HEADER_ROOM)
						  : 1;
}

size_t nats_chunk_max(const struct nats_cluster *nc)
{
	size_t part = nats_part_max(nc);
	/* The head holds every header but Sfs-Parts in NATS_HEADER_ROOM, and
	 * Sfs-Parts (its part size, 10 digits at most, then the list) in the
	 * rest of a message: the head carries no payload. */
	size_t room = nc->max_payload > 2 * NATS_HEADER_ROOM ?
		      (size_t)nc->max_payload - NATS_HEADER_ROOM - 16 : 0;
	size_t parts = room / PART_ENTRY_MAX;
	if (parts > NATS_PARTS_MAX)
		parts = NATS_PARTS_MAX;
	if (parts < 1)
		return part; /* a tiny max_payload: no parts at all */
	uint64_t max = (uint64_t)parts * part;
	return max > UINT32_MAX ? UINT32_MAX : (size_t)max;
}

void nats_parts_subject(const char *subject, char *out, size_t n)
{
	snprintf(out, n, "%s.p", subject);
}

void nats_body_free(struct nats_body *b)
{
	free(b->parts);
	b->parts = NULL;
}

/*
 * Publish BUF/LEN as part I of the chunk of writer WRITER on NT's parts
 * subject, retried (within nats_timeout_ms) while NATS is away or does
 * not answer; a retry after a lost acknowledgement is recognised by
 * JetStream (the same Nats-Msg-Id) and answered with the first one's
 * sequence. 0 with its stream sequence in *SEQ, or a negative errno
 * (-ENOENT: the data stream is gone; -EDQUOT, -ENOSPC: full; -EIO:
 * refused or no answer, logged; -EINTR: a signal to the caller).
 */
static int publish_part(struct nats_topic *nt, const char *buf, size_t len, const char *writer,
			size_t i, uint64_t *seq)
{
	struct nats_cluster *nc = nt->nc;
	char id[96];
	snprintf(id, sizeof(id), "%s.p%zu", writer, i);
	uint64_t deadline = mono_ns() + (uint64_t)nc->timeout_ms * 1000000;
	for (;;) {
		if (atomic_load(&nt->deleted))
			return -ENOENT;
		uint64_t now = mono_ns();
		if (now >= deadline) {
			log_warn("%s: part %zu of an append not acknowledged by NATS within %lld ms",
				 nt->path, i, (long long)nc->timeout_ms);
			return -EIO;
		}
		if (cluster_interrupted())
			return -EINTR; /* parts stored so far are orphans, never read */
		if (natsConnection_Status(nc->conn) != NATS_CONN_STATUS_CONNECTED) {
			nats_pause(); /* not even tried: see nats_connected */
			continue;
		}
		natsMsg *m = NULL;
		jsPubAck *ack = NULL;
		jsErrCode ec = 0;
		jsPubOptions po;
		jsPubOptions_Init(&po);
		po.MsgId = id;
		uint64_t slice = nats_slice(deadline);
		po.MaxWait = slice > now + 1000000 ? (int64_t)((slice - now) / 1000000) : 1;
		natsStatus s = natsMsg_Create(&m, nt->psubject, NULL, buf, (int)len);
		if (s == NATS_OK)
			s = js_PublishMsg(&ack, nc->js, m, &po, &ec);
		*seq = ack ? ack->Sequence : 0;
		jsPubAck_Destroy(ack);
		natsMsg_Destroy(m);
		if (s == NATS_OK && *seq)
			return 0;
		if (ec == JSStreamNotFoundErr)
			return -ENOENT;
		if (ec == JSStreamMessageExceedsMaximumErr || nats_limit_errno(ec) != -EIO) {
			log_warn("%s: part %zu of an append refused by JetStream: %s (%d)",
				 nt->path, i,
				 nats_GetLastError(NULL) ? nats_GetLastError(NULL) : "?", (int)ec);
			return nats_limit_errno(ec);
		}
		if (s == NATS_NO_MEMORY)
			return -ENOMEM;
		/* No answer in time, the connection dropped, or a refusal of a
		 * moment (a leader being elected): again (the same Nats-Msg-Id)
		 * until the deadline. */
		nats_pause();
	}
}

/* Append " A" or " A-B" (the run of sequences A..B) to OUT at *AT. */
static void put_run(char *out, size_t *at, uint64_t a, uint64_t b)
{
	if (a == b)
		*at += (size_t)sprintf(out + *at, " %" PRIu64, a);
	else
		*at += (size_t)sprintf(out + *at, " %" PRIu64 "-%" PRIu64, a, b);
}

int nats_body_make(struct nats_topic *nt, const char *buf, size_t len, const char *writer,
		   struct nats_body *b)
{
	struct nats_cluster *nc = nt->nc;
	size_t part = nats_part_max(nc);
	b->data = buf;
	b->len = len;
	b->parts = NULL;
	snprintf(b->by, sizeof(b->by), "%s", writer);
	if (len <= part)
		return 0; /* one message: the chunk is its own payload */
	if (len > nats_chunk_max(nc)) {
		log_warn("%s: refused: an append of %zu bytes is longer than a chunk in parts can be with max_payload %lld (%zu bytes, docs/nats.md)",
			 nt->path, len, (long long)nc->max_payload, nats_chunk_max(nc));
		return -EMSGSIZE;
	}
	size_t n = (len + part - 1) / part;
	char *list = malloc(16 + n * PART_ENTRY_MAX + 1);
	if (!list)
		return -ENOMEM;
	size_t at = (size_t)sprintf(list, "%zu", part);
	uint64_t first = 0, last = 0;
	for (size_t i = 0; i < n; i++) {
		size_t off = i * part, k = len - off < part ? len - off : part;
		uint64_t seq;
		int rc = publish_part(nt, buf + off, k, writer, i, &seq);
		if (rc < 0) {
			free(list); /* the parts stored so far are never read */
			return rc;
		}
		if (first && seq == last + 1) {
			last = seq;
			continue;
		}
		if (first)
			put_run(list, &at, first, last);
		first = last = seq;
	}
	put_run(list, &at, first, last);
	b->data = NULL;
	b->parts = list;
	FAULT_POINT("nats-after-parts"); /* parts stored, no head: orphans */
	return 0;
}

int nats_parts_parse(natsMsg *m, uint64_t head_seq, uint32_t len, struct nats_parts **out)
{
	const char *v = NULL;
	*out = NULL;
	if (natsMsgHeader_Get(m, "Sfs-Parts", &v) != NATS_OK || !v)
		return 0; /* one message */
	char *end;
	errno = 0;
	unsigned long long size = strtoull(v, &end, 10);
	if (errno || end == v || size == 0 || size > UINT32_MAX || size >= len)
		return -EPROTO;
	uint64_t n = ((uint64_t)len + size - 1) / size;
	if (n > NATS_PARTS_MAX)
		return -EPROTO;
	struct nats_parts *p = malloc(sizeof(*p) + n * sizeof(p->seq[0]));
	if (!p)
		return -ENOMEM;
	p->n = (uint32_t)n;
	p->size = (uint32_t)size;
	const char *by = NULL;
	p->by = natsMsgHeader_Get(m, "Sfs-Parts-By", &by) == NATS_OK && by ?
		nats_parts_by(by, strlen(by)) : 0;
	uint64_t k = 0;
	const char *s = end;
	while (*s == ' ') {
		s++;
		if (*s < '0' || *s > '9')
			goto bad;
		unsigned long long a = strtoull(s, &end, 10), b = a;
		if (errno)
			goto bad;
		s = end;
		if (*s == '-') {
			s++;
			if (*s < '0' || *s > '9')
				goto bad;
			b = strtoull(s, &end, 10);
			if (errno)
				goto bad;
			s = end;
		}
		/* Parts are stored before their head. */
		if (a == 0 || b < a || b >= head_seq || b - a >= n - k)
			goto bad;
		for (uint64_t q = a; q <= b; q++)
			p->seq[k++] = q;
	}
	if (*s || k != n)
		goto bad;
	*out = p;
	return 0;
bad:
	free(p);
	return -EPROTO;
}

struct nats_parts *nats_parts_dup(const struct nats_parts *p)
{
	if (!p)
		return NULL;
	size_t sz = sizeof(*p) + p->n * sizeof(p->seq[0]);
	struct nats_parts *q = malloc(sz);
	if (q)
		memcpy(q, p, sz);
	return q;
}

void nats_chunks_free_parts(struct nats_chunk *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].parts);
		c[i].parts = NULL;
	}
}

void nats_piece_at(const struct nats_chunk *c, uint64_t at, struct nats_piece *pc)
{
	if (!c->parts) {
		*pc = (struct nats_piece){ c->seq, c->pos, c->len, false, c->ts, 0, 0 };
		return;
	}
	uint64_t i = (at - c->pos) / c->parts->size;
	if (i >= c->parts->n)
		i = c->parts->n - 1;
	uint64_t from = i * c->parts->size;
	pc->seq = c->parts->seq[i];
	pc->pos = c->pos + from;
	pc->len = (uint32_t)(c->len - from < c->parts->size ? c->len - from : c->parts->size);
	pc->part = true;
	pc->ts = 0;
	pc->by = c->parts->by;
	pc->index = (uint32_t)i;
}

uint64_t nats_parts_by(const char *id, size_t len)
{
	return XXH3_64bits(id, len) | 1;
}

bool nats_part_is(natsMsg *m, uint64_t by, uint32_t index)
{
	const char *id = NULL;
	if (natsMsgHeader_Get(m, "Nats-Msg-Id", &id) != NATS_OK || !id)
		return false;
	const char *dot = strrchr(id, '.');
	if (!dot || dot[1] != 'p' || dot[2] < '0' || dot[2] > '9')
		return false;
	char *end;
	unsigned long long i = strtoull(dot + 2, &end, 10);
	return !*end && i == index && nats_parts_by(id, (size_t)(dot - id)) == by;
}

int nats_piece_fetch(struct nats_topic *nt, const struct nats_piece *pc, uint8_t *dst)
{
	jsOptions jo;
	jsErrCode ec = 0;
	natsMsg *m = NULL;
	/* Tried again in slices (a leader election, a server gone) until
	 * nats_timeout_ms; a signal to the caller ends it. "No such
	 * message" for a piece the index holds ends it only when the topic
	 * is gone (removed here, or its key gone: another daemon removed it):
	 * while a stream elects a leader, a server that has not applied the
	 * piece yet may answer so. */
	uint64_t deadline = mono_ns() + (uint64_t)nt->nc->timeout_ms * 1000000;
	natsStatus s;
	bool live = false; /* "no such message", and the topic's key still names it */
	for (;;) {
		ec = 0;
		nats_jsopts(&jo, nats_slice(deadline));
		s = js_GetMsg(&m, nt->nc->js, nt->jsname, pc->seq, &jo, &ec);
		if (s == NATS_OK || mono_ns() >= deadline)
			break;
		if (nats_status_errno(s, ec) == -ENOENT) {
			uint64_t rev;
			if (atomic_load(&nt->deleted))
				break;
			if (!live && nats_kv_holds(nt->nc, nt->key, nt->base.uuid, &rev) == 0)
				break;
			live = true;
		}
		if (cluster_interrupted())
			return -EINTR;
		nats_pause();
	}
	if (s != NATS_OK) {
		int rc = nats_status_errno(s, ec);
		if (live) {
			/* "No such message" until the deadline (its last try
			 * maybe cut short) while the topic's key names it: a
			 * piece NATS lost, never a silent end of the topic. */
			log_error("%s: %s %" PRIu64 " is in the index but not in NATS any more "
				  "(lost by the servers? docs/nats.md, Durability)", nt->path,
				  pc->part ? "part" : "chunk", pc->seq);
			nats_seq_suspect(nt->nc);
			return -EIO;
		}
		if (rc != -ENOENT)
			log_warn("%s: %s %" PRIu64 " cannot be read from NATS: %s", nt->path,
				 pc->part ? "part" : "chunk", pc->seq, natsStatus_GetText(s));
		return rc == -ETIMEDOUT ? -EIO : rc;
	}
	/* Whose message it is comes first: after a crash that lost messages
	 * (natsseq.c) another message holds the sequence, of any subject and
	 * size; that is told as such, never as a damaged one, and never
	 * served. Each check asks for the stream to be checked. */
	int rc = -EIO;
	const char *subj = natsMsg_GetSubject(m), *ts = NULL;
	const char *want = pc->part ? nt->psubject : nt->subject;
	if (!subj || strcmp(subj, want)) {
		log_error("%s: %s %" PRIu64 " is not the one indexed (on subject %s, not %s): its "
			  "stream's sequences went back? (docs/nats.md, Durability)", nt->path,
			  pc->part ? "part" : "chunk", pc->seq, subj ? subj : "?", want);
	} else if (pc->part && pc->by && !nats_part_is(m, pc->by, pc->index)) {
		/* Another writer's part at that sequence. */
		log_error("%s: part %" PRIu64 " is not the one its head names: its stream's "
			  "sequences went back? (docs/nats.md, Durability)", nt->path,
			  pc->seq);
	} else if (pc->ts && !(natsMsgHeader_Get(m, "Sfs-Ts", &ts) == NATS_OK && ts &&
			       strtoull(ts, NULL, 10) == pc->ts)) {
		/* Another chunk of the topic at the sequence. */
		log_error("%s: chunk %" PRIu64 " is not the one indexed (Sfs-Ts %s, not %" PRIu64
			  "): its stream's sequences went back? (docs/nats.md, Durability)",
			  nt->path, pc->seq, ts ? ts : "missing", pc->ts);
	} else if (natsMsg_GetDataLength(m) != (int)pc->len) {
		log_error("%s: %s %" PRIu64 " holds %d bytes where its head says %u",
			  nt->path, pc->part ? "part" : "chunk", pc->seq,
			  natsMsg_GetDataLength(m), pc->len);
	} else {
		rc = 0;
	}
	if (rc)
		nats_seq_suspect(nt->nc);
	else
		memcpy(dst, natsMsg_GetData(m), pc->len);
	natsMsg_Destroy(m);
	return rc;
}

int nats_chunk_fetch(struct nats_topic *nt, const struct nats_chunk *c, uint8_t **out)
{
	uint8_t *data = malloc(c->len ? c->len : 1);
	if (!data)
		return -ENOMEM;
	uint64_t at = c->pos;
	do { /* every chunk holds a line at least: LEN > 0 */
		struct nats_piece pc;
		nats_piece_at(c, at, &pc);
		int rc = nats_piece_fetch(nt, &pc, data + (pc.pos - c->pos));
		if (rc < 0) {
			free(data);
			return rc;
		}
		at = pc.pos + pc.len;
	} while (at < c->pos + c->len);
	*out = data;
	return 0;
}

int nats_subject_purge(struct nats_cluster *nc, const char *jsname, const char *subject)
{
	const char *rest = strchr(subject, '.');
	char filter[160];
	if (!rest || snprintf(filter, sizeof(filter), "*%s", rest) >= (int)sizeof(filter))
		return -EINVAL;
	jsOptions jo;
	jsErrCode ec = 0;
	nats_jsopts(&jo, mono_ns() + (uint64_t)nc->timeout_ms * 1000000);
	jo.Stream.Purge.Subject = filter;
	natsStatus ns = js_PurgeStream(nc->js, jsname, &jo, &ec);
	if (ns == NATS_OK || ec == JSStreamNotFoundErr)
		return 0;
	return nats_status_errno(ns, ec);
}

size_t nats_seqs_delete(struct nats_cluster *nc, const char *jsname, const uint64_t *seqs,
			size_t n, uint64_t deadline)
{
	size_t i = 0, refused = 0;
	while (i < n && mono_ns() < deadline) {
		jsOptions jo;
		jsErrCode ec = 0;
		nats_jsopts(&jo, nats_slice(deadline));
		natsStatus ns = js_DeleteMsg(nc->js, jsname, seqs[i], &jo, &ec);
		if (ns == NATS_TIMEOUT || ns == NATS_NO_RESPONDERS) {
			if (natsConnection_Status(nc->conn) != NATS_CONN_STATUS_CONNECTED)
				break; /* NATS away: the rest are left */
			nats_pause(); /* an election: the same one asked again */
			continue;
		}
		if (ns != NATS_OK && ec != JSSequenceNotFoundErr && ec != JSStreamNotFoundErr &&
		    ec != JSNoMessageFoundErr)
			refused++;
		i++;
	}
	return n - i + refused;
}

uint64_t *nats_chunks_seqs(const struct nats_chunk *c, size_t n, size_t *count)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += 1 + (c[i].parts ? c[i].parts->n : 0);
	*count = k;
	uint64_t *v = k ? malloc(k * sizeof(*v)) : NULL;
	if (!v)
		return NULL;
	k = 0;
	for (size_t i = 0; i < n; i++) {
		v[k++] = c[i].seq;
		for (uint32_t j = 0; c[i].parts && j < c[i].parts->n; j++)
			v[k++] = c[i].parts->seq[j];
	}
	return v;
}
