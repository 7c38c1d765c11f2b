/*
 * marks.h - the exactly-once rules every home of a topic shares
 * (docs/replication.md, "Exactly once"; docs/security.md, "Origins"): a
 * topic's origin table with each origin's high-water mark, which
 * replicated messages are new, and which batches cannot be true and are
 * refused whole. Pure functions over a table the home keeps (and makes
 * last: the local log in .origins and its checkpoint); the caller holds
 * whatever lock guards it.
 */
#ifndef STREAMFS_MARKS_H
#define STREAMFS_MARKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uuid/uuid.h>

#include "topic.h"

/* One entry of an origin table: where messages were first appended. */
struct topic_origin {
	uuid_t stream;		/* origin stream UUID */
	uuid_t topic;		/* incarnation UUID of the topic there */
	uint64_t hwm;		/* highest origin offset applied here */
	bool seen;		/* hwm is valid */
};

/*
 * marks_find - the index of origin (STREAM, TOPIC) in the N entries of V,
 * or -1. HINT (or -1) is tried first: consecutive messages share their
 * origin.
 */
int marks_find(const struct topic_origin *v, size_t n, const uuid_t stream,
	       const uuid_t topic, int hint);

/*
 * marks_check_batch - may the N replicated messages MSGS be applied to the
 * topic NAME of stream OWN_STREAM whose origin table is the NV entries of
 * V? Refused whole (-EPROTO, one line in ERR, ERRLEN bytes): a message
 * whose origin is OWN_STREAM (those are appended there, never received:
 * echo suppression keeps them from coming back), one holding a '\n' (a
 * message is a line), one that skips offsets of an origin (every path
 * delivers an origin's messages in order and complete, so a jump is a
 * forgery or a bug, and applying it would hide the skipped messages for
 * ever), a batch that would take the table past MAX_ORIGINS (0:
 * TOPIC_MAX_ORIGINS) or bring more than TOPIC_BATCH_NEW_ORIGINS new
 * origins. An origin not in V must start at origin offset 0, its first
 * (-ENODATA otherwise: the source sends the topic again from its start).
 * Duplicates (at or below the mark) are fine: they are dropped. Returns 0,
 * -EPROTO, -ENODATA or -ENOMEM.
 */
int marks_check_batch(const struct topic_origin *v, size_t nv, const char *name,
		      const uuid_t own_stream, uint32_t max_origins,
		      const struct topic_msg *msgs, size_t n, char *err, size_t errlen);

/*
 * marks_select - which of the N messages MSGS (message i of origin IDX[i]
 * of the NV entries of V, all present) are new here: KEEP[i] true for
 * those above their origin's mark, in order, and the marks they leave in
 * NEWHWM[k] for each origin k with TOUCHED[k] true (NEWHWM and TOUCHED
 * have NV entries; the caller commits them to V once the new messages are
 * stored). Returns the number kept.
 */
size_t marks_select(const struct topic_origin *v, size_t nv, const int *idx,
		    const struct topic_msg *msgs, size_t n, bool *keep, uint64_t *newhwm,
		    bool *touched);

#endif
