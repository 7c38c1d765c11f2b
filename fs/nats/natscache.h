/*
 * natscache.h - the bytes of chunks and parts a daemon fetched from NATS
 * JetStream, kept in memory for the next readers (docs/nats.md, "What
 * each daemon caches").
 *
 * A piece (a chunk's payload, or one part of a chunk in parts) is named
 * by its data stream, which a streamfs stream's UUID names (SFS-<uuid>),
 * and its stream sequence. JetStream never gives a sequence of a stream
 * to a second message, a purge leaves the sequences where they were, and
 * a stream removed is never made again under its UUID (a new stream gets
 * a new one): so the bytes a (stream UUID, sequence) names never change,
 * and a cached piece is right for as long as it is kept. Pieces leave by
 * least-recent use once the cache holds more than its budget
 * (`nats_cache`, docs/configuration.md). The one exception: a crash of
 * every server may lose acknowledged messages and give their sequences
 * again; a stream found to have gone back loses all its pieces here
 * (nats_cache_drop_stream, natsseq.c).
 *
 * Locks: NATS_CACHE_SHARDS shard mutexes, each a leaf but for the pool's
 * mutex under it (nothing else is locked or called out while one is held
 * but memcpy).
 */
#ifndef STREAMFS_NATSCACHE_H
#define STREAMFS_NATSCACHE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uuid/uuid.h>

#include "util/blockpool.h"

#define NATS_CACHE_SHARDS 16

struct nats_cached;

struct nats_cache_shard {
	pthread_mutex_t mu;	/* leaf */
	struct nats_cached **slots;	/* hash chains */
	size_t nslots, n;
	struct nats_cached *lru_head, *lru_tail;	/* head: the most recent */
	uint64_t bytes;
};

struct nats_cache {
	uint64_t shard_budget;	/* bytes per shard; 0: the cache is off */
	struct nats_cache_shard shard[NATS_CACHE_SHARDS];
	struct blockpool pool;	/* the blocks of its large pieces (natscache.c) */
};

/*
 * nats_cache_init - an empty cache C holding at most BUDGET bytes of
 * pieces (0: keeps nothing): a piece of 16 KiB or more counts the 4 KiB
 * blocks it is kept in, a shorter one its length and its entry's
 * (natscache.c). 0 or -ENOMEM (then C holds nothing to free).
 */
int nats_cache_init(struct nats_cache *c, uint64_t budget);

/* nats_cache_free - free every piece of C and its tables. */
void nats_cache_free(struct nats_cache *c);

/*
 * nats_cache_put - keep a copy of LEN bytes DATA, the piece at sequence
 * SEQ of stream STREAM's data stream, evicting the least recently used
 * pieces to stay within the budget. A piece over an eighth of a shard's
 * budget is not kept (it would evict too many others). Nothing happens
 * when the piece is there already or memory is short: the cache only
 * saves round trips, readers never depend on it.
 */
void nats_cache_put(struct nats_cache *c, const uuid_t stream, uint64_t seq, const void *data,
		    size_t len);

/*
 * nats_cache_read - copy N bytes from byte FROM of the piece (STREAM,
 * SEQ), if kept and LEN bytes long (the length the index gives it), into
 * DST; the piece becomes the most recently used. true if copied; false
 * (DST untouched) when it is not kept, or FROM + N passes LEN.
 */
bool nats_cache_read(struct nats_cache *c, const uuid_t stream, uint64_t seq, size_t len,
		     size_t from, void *dst, size_t n);

/*
 * nats_cache_drop_stream - every piece of STREAM leaves C: for a stream
 * whose sequences went back (a crash of every NATS server gave a sequence
 * to a second message, the one exception to the rule above; natsseq.c).
 * O(pieces held).
 */
void nats_cache_drop_stream(struct nats_cache *c, const uuid_t stream);

/* nats_cache_bytes - the bytes C's pieces count against its budget now
 * (as nats_cache_init says; for tests and /.info). */
uint64_t nats_cache_bytes(struct nats_cache *c);

#endif
