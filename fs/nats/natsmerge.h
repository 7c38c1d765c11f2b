/*
 * natsmerge.h - the three-way merge of a metadata change with another
 * daemon's (docs/nats.md, "Metadata changed on two daemons at once").
 *
 * A stream's or a topic's metadata is one JSON object under one bucket
 * key. A daemon changes it over the revision it knows; when another
 * daemon changed it meanwhile, the compare-and-set is refused, and the
 * daemon's change is made again over what is there: each top-level field
 * this daemon changed (OURS differs from BASE, the object at the revision
 * it knew) takes its value, every other field keeps the other daemon's.
 * So a chmod on one daemon and a control-file write on another both
 * stay, and a topic's origin epochs, which another daemon may have moved
 * on, are never put back by a chmod. A list (a stream's replicas or
 * upstreams, an entry a line of its control file) is merged entry by
 * entry, an entry known by its "cluster" and "stream": what this daemon
 * added, changed or removed is added, changed or removed in the other
 * daemon's list, so lines appended on two daemons at once all stay. Two
 * daemons that change the same field (or entry): the last one stored
 * wins, as with two writes of one file. Times (fields ending in "_ns")
 * only move forward.
 *
 * Pure: jansson only, no I/O, no locks (tests/unit/test_natsmerge.c).
 */
#ifndef STREAMFS_NATSMERGE_H
#define STREAMFS_NATSMERGE_H

#include <jansson.h>

/* The most entries a merged list may have (a stream's replicas or
 * upstreams: STREAM_MAX_REPLICAS, STREAM_MAX_UPSTREAMS). */
#define NATS_META_LIST_MAX 64

/*
 * nats_meta_merge - THEIRS with this daemon's change made over it, in
 * *OUT (a new object, the caller's: json_decref): each top-level field
 * whose value in OURS differs from BASE's (json_equal; one that BASE
 * lacks counts as changed) set to OURS's value, or, for a list that all
 * three hold and THEIRS changed too, OURS's added, changed and removed
 * entries made in THEIRS's (new ones at its end; one THEIRS removed stays
 * removed); each field of BASE that OURS lacks removed; every other field
 * as in THEIRS; a field ending in "_ns" that both hold as integers takes
 * the larger. BASE NULL (or no object): every field of OURS counts as
 * changed. Nothing given is changed. 0; -EINVAL: OURS or THEIRS is no
 * object; -ENOSPC: a merged list would have more than NATS_META_LIST_MAX
 * entries; -ENOMEM.
 */
int nats_meta_merge(const json_t *base, const json_t *ours, const json_t *theirs, json_t **out);

#endif
