/*
 * marks.c - the exactly-once rules every home of a topic shares (marks.h).
 */
#include "marks.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int marks_find(const struct topic_origin *v, size_t n, const uuid_t stream,
	       const uuid_t topic, int hint)
{
	if (hint >= 0 && (size_t)hint < n &&
	    !uuid_compare(v[hint].stream, stream) &&
	    !uuid_compare(v[hint].topic, topic))
		return hint;
	for (size_t i = n; i-- > 0;)
		if (!uuid_compare(v[i].stream, stream) &&
		    !uuid_compare(v[i].topic, topic))
			return (int)i;
	return -1;
}

/* An origin first met in the batch being checked, and its mark. */
struct new_origin {
	uuid_t stream, topic;
	uint64_t mark;
};

/*
 * An origin's first message here must be its first (origin offset 0): a
 * start past it would lose the earlier ones for good (nothing could bring
 * them in order any more), and is how an upstream would plant an origin
 * at a huge offset so that every real message of it looks old
 * (docs/security.md). Writes why into ERR; returns -ENODATA, which tells
 * a source that sends the topic again from its start (replicator.c).
 */
static int refuse_unseen(const char *name, const struct topic_msg *m, char *err,
			 size_t errlen)
{
	char u[37];
	uuid_unparse(m->origin_stream, u);
	snprintf(err, errlen, "topic %s: messages of origin %s start at offset %" PRIu64
		 " here, not at its first (0): refused",
		 name, u, m->origin_offset);
	return -ENODATA;
}

/*
 * Refuse a replicated batch that cannot be true (docs/security.md): a
 * message whose origin is this topic's own stream (those are appended
 * here, never received: echo suppression keeps them from coming back), or
 * one that skips offsets of an origin (every path delivers an origin's
 * messages in order and complete: a sender sends its topic in offset order
 * from where the replica stands, and every copy of an origin's messages
 * holds a complete prefix of them, so a jump is a forgery or a bug, and
 * applying it would hide the skipped messages for ever). Duplicates (at or
 * below the mark) are fine: they are dropped. An origin not seen here yet
 * must start at its first message, origin offset 0 (refuse_unseen). A
 * jump and such a start are -ENODATA: the source sends the topic again
 * from its start, once per position (replicator.c), which fills a
 * replica that lost messages it had (a crash of its store); anything
 * else that cannot be true is -EPROTO.
 * At most TOPIC_BATCH_NEW_ORIGINS origins may be new in one batch.
 */
int marks_check_batch(const struct topic_origin *v, size_t nv, const char *name,
		      const uuid_t own_stream, uint32_t max_origins,
		      const struct topic_msg *msgs, size_t n, char *err, size_t errlen)
{
	int rc = 0, hint = -1;
	uint64_t *mark = calloc(nv ? nv : 1, sizeof(*mark));
	bool *touched = calloc(nv ? nv : 1, sizeof(*touched));
	struct new_origin *nw = NULL;
	size_t nnew = 0, newcap = 0;
	if (!mark || !touched) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct topic_msg *m = &msgs[i];
		char u[37];
		if (!uuid_compare(m->origin_stream, own_stream)) {
			snprintf(err, errlen, "topic %s: a message claims this stream as its origin (offset %" PRIu64 "): refused",
				 name, m->origin_offset);
			rc = -EPROTO;
			goto out;
		}
		/* A message is a line: one holding a '\n' would read as two
		 * (and break the batches of fs/local/segment_batch.c). */
		if (m->len && memchr(m->payload, '\n', m->len)) {
			snprintf(err, errlen, "topic %s: a message holds a newline (origin offset %" PRIu64 "): refused",
				 name, m->origin_offset);
			rc = -EPROTO;
			goto out;
		}
		int k = marks_find(v, nv, m->origin_stream, m->origin_topic, hint);
		bool seen;
		uint64_t *mk;
		if (k >= 0) {
			hint = k;
			seen = touched[k] || v[k].seen;
			if (!touched[k])
				mark[k] = v[k].hwm;
			mk = &mark[k];
			touched[k] = true;
		} else {
			size_t j = 0;
			while (j < nnew && (uuid_compare(nw[j].stream, m->origin_stream) ||
					    uuid_compare(nw[j].topic, m->origin_topic)))
				j++;
			if (j == nnew) {
				uint32_t max = max_origins ? max_origins : TOPIC_MAX_ORIGINS;
				if (nv + nnew + 1 > max) {
					snprintf(err, errlen, "topic %s: a batch would bring it to more than %u origins, the most a topic learns through replication: refused",
						 name, max);
					rc = -EPROTO;
					goto out;
				}
				if (nnew == TOPIC_BATCH_NEW_ORIGINS) {
					snprintf(err, errlen, "topic %s: a batch brings more than %d new origins: refused",
						 name, TOPIC_BATCH_NEW_ORIGINS);
					rc = -EPROTO;
					goto out;
				}
				if (nnew == newcap) {
					size_t cap = newcap ? newcap * 2 : 8;
					struct new_origin *v = realloc(nw, cap * sizeof(*v));
					if (!v) {
						rc = -ENOMEM;
						goto out;
					}
					nw = v;
					newcap = cap;
				}
				if (m->origin_offset != 0) {
					rc = refuse_unseen(name, m, err, errlen);
					goto out;
				}
				uuid_copy(nw[j].stream, m->origin_stream);
				uuid_copy(nw[j].topic, m->origin_topic);
				nw[j].mark = m->origin_offset;
				nnew++;
				continue;
			}
			seen = true;
			mk = &nw[j].mark;
		}
		if (!seen) {
			if (m->origin_offset != 0) {
				rc = refuse_unseen(name, m, err, errlen);
				goto out;
			}
			*mk = m->origin_offset;
			continue;
		}
		if (m->origin_offset <= *mk)
			continue; /* a duplicate: dropped */
		if (m->origin_offset > *mk + 1) {
			uuid_unparse(m->origin_stream, u);
			snprintf(err, errlen, "topic %s: messages of origin %s jump from offset %" PRIu64
				 " to %" PRIu64 " (%" PRIu64 " never arrived): refused",
				 name, u, *mk, m->origin_offset, m->origin_offset - *mk - 1);
			/* Like a start past the first: the replica lacks what
			 * came before (lost there, or never sent), so the
			 * source sends the topic again from its start, once. */
			rc = -ENODATA;
			goto out;
		}
		*mk = m->origin_offset;
	}
out:
	free(mark);
	free(touched);
	free(nw);
	return rc;
}

size_t marks_select(const struct topic_origin *v, size_t nv, const int *idx,
		    const struct topic_msg *msgs, size_t n, bool *keep, uint64_t *newhwm,
		    bool *touched)
{
	size_t kept = 0;
	memset(touched, 0, (nv ? nv : 1) * sizeof(*touched));
	for (size_t i = 0; i < n; i++) {
		int k = idx[i];
		bool seen = touched[k] || v[k].seen;
		uint64_t mark = touched[k] ? newhwm[k] : v[k].hwm;
		keep[i] = !(seen && msgs[i].origin_offset <= mark);
		if (!keep[i])
			continue; /* already here: exactly once */
		newhwm[k] = msgs[i].origin_offset;
		touched[k] = true;
		kept++;
	}
	return kept;
}
