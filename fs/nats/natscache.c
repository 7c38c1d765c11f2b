/*
 * natscache.c - the pieces cache of the NATS home (natscache.h): why a
 * piece never goes stale is at the top of natscache.h.
 *
 * Layout: NATS_CACHE_SHARDS shards chosen by a hash of (stream UUID,
 * sequence); each a chained hash table (power-of-two slots, doubled when
 * it holds more entries than slots) and a doubly linked LRU list, with
 * its own byte count and budget.
 *
 * Where the bytes are: a piece under NATS_CACHE_BLOCKED bytes follows its
 * entry in one malloc'd allocation and costs both; a longer one (a
 * 64 KiB write's chunk, a part) is kept in 4 KiB blocks of the cache's
 * pool (fs/util/blockpool.h: regions mapped as transparent huge pages,
 * since first touches of fresh malloc'd memory were most of the NATS
 * home's CPU per 64 KiB append, docs/performance.md), its entry holding
 * the blocks' addresses, and costs its blocks (a whole number of 4 KiB),
 * so the budget bounds the memory held either way. The pool's maximum
 * (nats_cache_init) is twice the budget's blocks and two per shard: the
 * pieces kept, and what puts in flight hold beyond them (each its piece
 * before it evicts, then what it evicted until it gives it back: at most
 * two eighths of a shard's budget, for any number of puts at once on one
 * shard), so a put finds the pool at its maximum only with some 64 such
 * puts at once.
 *
 * Invariants, checked by assertions: a shard's bytes are the sum of its
 * entries' costs, and at most its budget once a put returns; an entry
 * has blocks if and only if its piece is NATS_CACHE_BLOCKED bytes or
 * more, as many as its length needs.
 *
 * Lock order: a shard's mutex, then the pool's (both leaves otherwise):
 * a removal gives its blocks back under the shard's lock.
 */
#include "natscache.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Pieces of this many bytes or more are kept in the pool's blocks: at most
 * a quarter of such a piece's cost is the rest of its last block. */
#define NATS_CACHE_BLOCKED (4 * BLOCKPOOL_BLOCK)

struct nats_cached {
	struct nats_cached *chain;	/* the next in its hash slot */
	struct nats_cached *prev, *next;	/* LRU: prev is more recent */
	uuid_t stream;
	uint64_t seq;
	size_t len;
	size_t cost;		/* what it counts against the budget */
	size_t nblocks;		/* 0: the bytes follow in blocks[]'s place */
	void *blocks[];		/* its blocks, or its bytes */
};

/* The blocks a piece of LEN bytes is kept in (0: none, inline). */
static size_t blocks_for(size_t len)
{
	return len < NATS_CACHE_BLOCKED ? 0 : (len + BLOCKPOOL_BLOCK - 1) / BLOCKPOOL_BLOCK;
}

/* What a piece of LEN bytes costs against the budget: its blocks, or its
 * bytes and its entry's (one malloc), so that pieces of a few bytes (a
 * chunk per line written) cannot hold many times the budget in entries.
 * A blocked piece's entry and its blocks' addresses (at most 0.5% of the
 * blocks) are not counted. */
static size_t cost_of(size_t len)
{
	size_t nb = blocks_for(len);
	return nb ? nb * BLOCKPOOL_BLOCK : sizeof(struct nats_cached) + len;
}

/* Copy SRC's LEN bytes (E's length) into E. */
static void piece_fill(struct nats_cached *e, const uint8_t *src)
{
	if (!e->nblocks) {
		memcpy(e->blocks, src, e->len);
		return;
	}
	for (size_t i = 0, done = 0; i < e->nblocks; i++) {
		size_t k = e->len - done < BLOCKPOOL_BLOCK ? e->len - done : BLOCKPOOL_BLOCK;
		memcpy(e->blocks[i], src + done, k);
		done += k;
	}
}

/* Copy N bytes of E from byte FROM into DST (FROM + N <= its length). */
static void piece_copy(const struct nats_cached *e, size_t from, uint8_t *dst, size_t n)
{
	assert(from <= e->len && n <= e->len - from);
	if (!e->nblocks) {
		memcpy(dst, (const uint8_t *)e->blocks + from, n);
		return;
	}
	while (n) {
		size_t b = from / BLOCKPOOL_BLOCK, off = from % BLOCKPOOL_BLOCK;
		size_t k = BLOCKPOOL_BLOCK - off < n ? BLOCKPOOL_BLOCK - off : n;
		assert(b < e->nblocks);
		memcpy(dst, (const uint8_t *)e->blocks[b] + off, k);
		dst += k;
		from += k;
		n -= k;
	}
}

/* Free entry E and give its blocks back to C's pool. */
static void piece_free(struct nats_cache *c, struct nats_cached *e)
{
	if (e->nblocks)
		blockpool_put(&c->pool, e->blocks, e->nblocks);
	free(e);
}

/* A 64-bit mix of the key (splitmix64's finaliser over the UUID's words
 * and the sequence). */
static uint64_t key_hash(const uuid_t stream, uint64_t seq)
{
	uint64_t a, b;
	memcpy(&a, stream, 8);
	memcpy(&b, stream + 8, 8);
	uint64_t x = a ^ (b * 0x9e3779b97f4a7c15ULL) ^ (seq * 0xbf58476d1ce4e5b9ULL);
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

int nats_cache_init(struct nats_cache *c, uint64_t budget)
{
	memset(c, 0, sizeof(*c));
	c->shard_budget = budget / NATS_CACHE_SHARDS;
	/* The budget, and as much again for puts in flight (see above). */
	blockpool_init(&c->pool, (size_t)(c->shard_budget / BLOCKPOOL_BLOCK + 1) *
					 NATS_CACHE_SHARDS * 2);
	for (int i = 0; i < NATS_CACHE_SHARDS; i++) {
		struct nats_cache_shard *s = &c->shard[i];
		pthread_mutex_init(&s->mu, NULL);
		s->nslots = 64;
		if (!(s->slots = calloc(s->nslots, sizeof(*s->slots)))) {
			nats_cache_free(c);
			return -ENOMEM;
		}
	}
	return 0;
}

void nats_cache_free(struct nats_cache *c)
{
	for (int i = 0; i < NATS_CACHE_SHARDS; i++) {
		struct nats_cache_shard *s = &c->shard[i];
		for (struct nats_cached *e = s->lru_head, *next; e; e = next) {
			next = e->next;
			piece_free(c, e);
		}
		free(s->slots);
		s->slots = NULL;
		s->lru_head = s->lru_tail = NULL;
		s->n = 0;
		s->bytes = 0;
		pthread_mutex_destroy(&s->mu);
	}
	blockpool_destroy(&c->pool);
}

/* The shard of a key hashed H, and the slot in it. */
static struct nats_cache_shard *shard_of(struct nats_cache *c, uint64_t h)
{
	return &c->shard[h % NATS_CACHE_SHARDS];
}

static size_t slot_of(const struct nats_cache_shard *s, uint64_t h)
{
	return (size_t)(h / NATS_CACHE_SHARDS) & (s->nslots - 1);
}

/* The entry of the key in S, or NULL. mu held. */
static struct nats_cached *find(struct nats_cache_shard *s, uint64_t h, const uuid_t stream,
				uint64_t seq)
{
	for (struct nats_cached *e = s->slots[slot_of(s, h)]; e; e = e->chain)
		if (e->seq == seq && !uuid_compare(e->stream, stream))
			return e;
	return NULL;
}

static void lru_unlink(struct nats_cache_shard *s, struct nats_cached *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		s->lru_head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		s->lru_tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(struct nats_cache_shard *s, struct nats_cached *e)
{
	e->prev = NULL;
	e->next = s->lru_head;
	if (s->lru_head)
		s->lru_head->prev = e;
	s->lru_head = e;
	if (!s->lru_tail)
		s->lru_tail = e;
}

/* Take E out of its hash slot. mu held. */
static void unchain(struct nats_cache_shard *s, struct nats_cached *e)
{
	struct nats_cached **p = &s->slots[slot_of(s, key_hash(e->stream, e->seq))];
	while (*p != e)
		p = &(*p)->chain;
	*p = e->chain;
}

/* Twice the slots, every entry moved; nothing changes without memory. */
static void grow(struct nats_cache_shard *s)
{
	size_t n = s->nslots * 2;
	struct nats_cached **v = calloc(n, sizeof(*v));
	if (!v)
		return;
	struct nats_cached **old = s->slots;
	size_t oldn = s->nslots;
	s->slots = v;
	s->nslots = n;
	for (size_t i = 0; i < oldn; i++)
		for (struct nats_cached *e = old[i], *next; e; e = next) {
			next = e->chain;
			size_t k = slot_of(s, key_hash(e->stream, e->seq));
			e->chain = v[k];
			v[k] = e;
		}
	free(old);
}

void nats_cache_put(struct nats_cache *c, const uuid_t stream, uint64_t seq, const void *data,
		    size_t len)
{
	if (!c->shard_budget || cost_of(len) > c->shard_budget / 8)
		return;
	uint64_t h = key_hash(stream, seq);
	struct nats_cache_shard *s = shard_of(c, h);
	/* Copied before the lock: the lock guards pointers, never a copy of
	 * this size. */
	size_t nb = blocks_for(len);
	struct nats_cached *e = malloc(sizeof(*e) + (nb ? nb * sizeof(void *) : len ? len : 1));
	if (!e)
		return;
	if (nb && blockpool_get(&c->pool, nb, e->blocks) < 0) {
		free(e); /* the pool at its maximum, or no memory */
		return;
	}
	uuid_copy(e->stream, stream);
	e->seq = seq;
	e->len = len;
	e->cost = cost_of(len);
	e->nblocks = nb;
	e->chain = e->prev = e->next = NULL;
	piece_fill(e, data);
	struct nats_cached *evicted = NULL;
	pthread_mutex_lock(&s->mu); /* leaf */
	if (find(s, h, stream, seq)) {
		pthread_mutex_unlock(&s->mu);
		piece_free(c, e);
		return;
	}
	if (s->n >= s->nslots)
		grow(s);
	size_t k = slot_of(s, h);
	e->chain = s->slots[k];
	s->slots[k] = e;
	lru_push(s, e);
	s->n++;
	s->bytes += e->cost;
	while (s->bytes > c->shard_budget) {
		struct nats_cached *old = s->lru_tail;
		assert(old && old != e); /* E alone fits: an eighth of the budget */
		lru_unlink(s, old);
		unchain(s, old);
		s->n--;
		assert(s->bytes >= old->cost);
		s->bytes -= old->cost;
		old->next = evicted; /* freed after the unlock */
		evicted = old;
	}
	assert(s->bytes <= c->shard_budget);
	pthread_mutex_unlock(&s->mu);
	while (evicted) {
		struct nats_cached *next = evicted->next;
		piece_free(c, evicted);
		evicted = next;
	}
}

bool nats_cache_read(struct nats_cache *c, const uuid_t stream, uint64_t seq, size_t len,
		     size_t from, void *dst, size_t n)
{
	if (!c->shard_budget || from > len || n > len - from)
		return false;
	uint64_t h = key_hash(stream, seq);
	struct nats_cache_shard *s = shard_of(c, h);
	pthread_mutex_lock(&s->mu); /* leaf */
	struct nats_cached *e = find(s, h, stream, seq);
	bool hit = e && e->len == len;
	if (hit) {
		piece_copy(e, from, dst, n);
		lru_unlink(s, e);
		lru_push(s, e);
	}
	pthread_mutex_unlock(&s->mu);
	return hit;
}

void nats_cache_drop_stream(struct nats_cache *c, const uuid_t stream)
{
	for (int i = 0; i < NATS_CACHE_SHARDS; i++) {
		struct nats_cache_shard *s = &c->shard[i];
		pthread_mutex_lock(&s->mu);
		for (struct nats_cached *e = s->lru_head, *next; e; e = next) {
			next = e->next;
			if (uuid_compare(e->stream, stream))
				continue;
			unchain(s, e);
			lru_unlink(s, e);
			assert(s->bytes >= e->cost && s->n > 0);
			s->bytes -= e->cost;
			s->n--;
			piece_free(c, e); /* the pool's lock under the shard's */
		}
		pthread_mutex_unlock(&s->mu);
	}
}

uint64_t nats_cache_bytes(struct nats_cache *c)
{
	uint64_t sum = 0;
	for (int i = 0; i < NATS_CACHE_SHARDS; i++) {
		pthread_mutex_lock(&c->shard[i].mu); /* leaf */
		sum += c->shard[i].bytes;
		pthread_mutex_unlock(&c->shard[i].mu);
	}
	return sum;
}
