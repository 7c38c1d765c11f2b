/*
 * test_natscache.c - unit tests of the NATS home's pieces cache
 * (fs/nats/natscache.h): a piece is found only under its own data stream
 * and sequence and length, the budget holds with the least recently used
 * pieces leaving first, a piece too big for it is not kept, a piece of
 * 16 KiB or more is kept in the pool's 4 KiB blocks (read back across
 * their edges, counted by its blocks, its blocks given back when it
 * leaves), and readers and writers on several threads at once only ever
 * copy the bytes the key names (each piece's bytes are a function of its
 * key, so a torn, stale or misplaced copy shows), small and large pieces
 * alike.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fs/nats/natscache.h"

/* The bytes of piece (STREAM, SEQ): LEN bytes made from both. */
static void piece_bytes(const uuid_t stream, uint64_t seq, uint8_t *out, size_t len)
{
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(stream[i % 16] ^ (seq * 31 + i * 7) ^ (seq >> 8));
}

static void test_key_and_length(void **state)
{
	(void)state;
	struct nats_cache c;
	assert_int_equal(nats_cache_init(&c, 1 << 20), 0);
	uuid_t a, b;
	uuid_generate(a);
	uuid_generate(b);
	uint8_t data[100], got[100];
	piece_bytes(a, 7, data, sizeof(data));
	nats_cache_put(&c, a, 7, data, sizeof(data));
	uint64_t one = nats_cache_bytes(&c); /* its bytes and its entry's */
	assert_true(one >= 100 + 48 && one < 100 + 256);
	/* the whole piece, and a slice of it */
	assert_true(nats_cache_read(&c, a, 7, 100, 0, got, 100));
	assert_memory_equal(got, data, 100);
	memset(got, 0, sizeof(got));
	assert_true(nats_cache_read(&c, a, 7, 100, 40, got, 10));
	assert_memory_equal(got, data + 40, 10);
	/* another stream's sequence 7, another sequence, another length:
	 * not this piece; nothing is copied */
	memset(got, 0xaa, sizeof(got));
	assert_false(nats_cache_read(&c, b, 7, 100, 0, got, 100));
	assert_false(nats_cache_read(&c, a, 8, 100, 0, got, 100));
	assert_false(nats_cache_read(&c, a, 7, 99, 0, got, 99));
	for (size_t i = 0; i < sizeof(got); i++)
		assert_int_equal(got[i], 0xaa);
	/* a slice past the piece's end is refused */
	assert_false(nats_cache_read(&c, a, 7, 100, 95, got, 10));
	assert_false(nats_cache_read(&c, a, 7, 100, 101, got, 0));
	/* a second put of the same piece keeps one copy */
	nats_cache_put(&c, a, 7, data, sizeof(data));
	assert_int_equal(nats_cache_bytes(&c), one);
	nats_cache_free(&c);
}

static void test_budget_and_lru(void **state)
{
	(void)state;
	struct nats_cache c;
	/* 16 shards of 64 KiB: pieces of 4 KiB, 16 per shard at most */
	assert_int_equal(nats_cache_init(&c, 16 * 65536), 0);
	uuid_t s;
	uuid_generate(s);
	static uint8_t data[4096], got[4096];
	for (uint64_t seq = 1; seq <= 2000; seq++) {
		piece_bytes(s, seq, data, sizeof(data));
		nats_cache_put(&c, s, seq, data, sizeof(data));
		assert_true(nats_cache_bytes(&c) <= 16 * 65536);
		/* piece 1 is read after every put: always the most recent */
		piece_bytes(s, 1, data, sizeof(data));
		assert_true(nats_cache_read(&c, s, 1, sizeof(got), 0, got, sizeof(got)));
		assert_memory_equal(got, data, sizeof(got));
	}
	/* the newest are there, the oldest (but piece 1) are gone */
	assert_true(nats_cache_read(&c, s, 2000, sizeof(got), 0, got, sizeof(got)));
	assert_false(nats_cache_read(&c, s, 2, sizeof(got), 0, got, sizeof(got)));
	assert_true(nats_cache_bytes(&c) > 8 * 65536);
	/* a piece over an eighth of a shard's budget is not kept */
	static uint8_t big[65536 / 8 + 1];
	nats_cache_put(&c, s, 5000, big, sizeof(big));
	assert_false(nats_cache_read(&c, s, 5000, sizeof(big), 0, big, 1));
	nats_cache_free(&c);
	/* budget 0: the cache keeps nothing */
	assert_int_equal(nats_cache_init(&c, 0), 0);
	nats_cache_put(&c, s, 1, data, 10);
	assert_false(nats_cache_read(&c, s, 1, 10, 0, got, 10));
	assert_int_equal(nats_cache_bytes(&c), 0);
	nats_cache_free(&c);
}

/* Pieces of 1 byte (a writer's empty lines, one chunk each) count their
 * entries too: a cache of 64 KiB keeps a few hundred of them, not 65536
 * entries of 80 bytes and more each (5 MiB and more of memory). */
static void test_small_pieces(void **state)
{
	(void)state;
	struct nats_cache c;
	assert_int_equal(nats_cache_init(&c, 16 * 4096), 0);
	uuid_t s;
	uuid_generate(s);
	uint8_t one = '\n', got;
	for (uint64_t seq = 1; seq <= 70000; seq++)
		nats_cache_put(&c, s, seq, &one, 1);
	size_t kept = 0;
	for (uint64_t seq = 1; seq <= 70000; seq++)
		kept += nats_cache_read(&c, s, seq, 1, 0, &got, 1);
	/* an entry is at least its key, its length and 3 links: 48 bytes */
	assert_true(kept > 100);
	assert_true(kept * (1 + 48) <= 16 * 4096);
	assert_true(nats_cache_bytes(&c) <= 16 * 4096);
	nats_cache_free(&c);
}

static void test_blocks(void **state)
{
	(void)state;
	struct nats_cache c;
	/* 16 shards of 1 MiB: pieces up to 128 KiB kept */
	assert_int_equal(nats_cache_init(&c, 16 << 20), 0);
	uuid_t s;
	uuid_generate(s);
	static uint8_t data[70000], got[70000];
	/* lengths either side of 16 KiB, a 64 KiB write's chunk, more */
	static const size_t lens[] = { 16383, 16384, 16385, 65549, 70000 };
	static const size_t cost[] = { 16383, 16384, 20480, 69632, 73728 };
	uint64_t want = 0;
	for (size_t i = 0; i < 5; i++) {
		piece_bytes(s, i + 1, data, lens[i]);
		nats_cache_put(&c, s, i + 1, data, lens[i]);
		want += cost[i];
		if (i == 0) /* in one malloc with its entry: counted with it */
			want = nats_cache_bytes(&c);
		assert_int_equal(nats_cache_bytes(&c), want);
	}
	/* blocks only for the pieces of 16 KiB or more: 4 + 5 + 17 + 18 */
	assert_int_equal(c.pool.used, 44);
	for (size_t i = 0; i < 5; i++) {
		size_t len = lens[i];
		piece_bytes(s, i + 1, data, len);
		memset(got, 0, len);
		assert_true(nats_cache_read(&c, s, i + 1, len, 0, got, len));
		assert_memory_equal(got, data, len);
		/* slices across block edges, at the end, of one byte */
		static const size_t from[] = { 4090, 4095, 4096, 8191, 12000 };
		for (size_t k = 0; k < 5; k++) {
			size_t n = from[k] + 9000 <= len ? 9000 : len - from[k];
			memset(got, 0, n);
			assert_true(nats_cache_read(&c, s, i + 1, len, from[k], got, n));
			assert_memory_equal(got, data + from[k], n);
		}
		assert_true(nats_cache_read(&c, s, i + 1, len, len - 1, got, 1));
		assert_int_equal(got[0], data[len - 1]);
		assert_false(nats_cache_read(&c, s, i + 1, len, len - 1, got, 2));
	}
	/* many more than the budget holds: evicted pieces give their blocks
	 * back, which the next ones reuse */
	for (uint64_t seq = 100; seq < 1100; seq++) {
		piece_bytes(s, seq, data, 65549);
		nats_cache_put(&c, s, seq, data, 65549);
		assert_true(nats_cache_bytes(&c) <= 16 << 20);
	}
	assert_true(c.pool.used * 4096 <= 16 << 20);
	assert_true(c.pool.nregions <= 8 + 1); /* 16 MiB of 2 MiB regions, and one */
	piece_bytes(s, 1099, data, 65549);
	assert_true(nats_cache_read(&c, s, 1099, 65549, 0, got, 65549));
	assert_memory_equal(got, data, 65549);
	/* a stream dropped gives every block back */
	nats_cache_drop_stream(&c, s);
	assert_int_equal(c.pool.used, 0);
	assert_int_equal(nats_cache_bytes(&c), 0);
	nats_cache_free(&c);
}

struct worker {
	struct nats_cache *c;
	const uuid_t *streams;
	unsigned seed;
	size_t maxlen;		/* pieces of 1..MAXLEN bytes */
	bool drops;		/* a stream dropped now and then too */
	int hits, bad;
};

/* Puts and reads of random pieces of 3 streams; every copy checked. */
static void *work(void *arg)
{
	struct worker *w = arg;
	static _Thread_local uint8_t data[40000], got[40000];
	for (int i = 0; i < 20000; i++) {
		unsigned r = (unsigned)rand_r(&w->seed);
		const unsigned char *s = w->streams[r % 3];
		uint64_t seq = 1 + (r / 3) % 500;
		/* a length per piece, as the index gives */
		size_t len = 1 + seq * 3 * (w->maxlen / 2000) % w->maxlen;
		piece_bytes(s, seq, data, len);
		if (w->drops && r % 997 == 0) {
			nats_cache_drop_stream(w->c, s);
		} else if (r & 0x10000) {
			nats_cache_put(w->c, s, seq, data, len);
		} else {
			size_t from = (r >> 4) % len, n = len - from;
			if (nats_cache_read(w->c, s, seq, len, from, got, n)) {
				w->hits++;
				if (memcmp(got, data + from, n))
					w->bad++;
			}
		}
	}
	return NULL;
}

/* Six threads on pieces of up to MAXLEN bytes in a cache of BUDGET,
 * dropping streams too with DROPS. Once they are done and every stream
 * dropped, nothing is counted and every block is back in the pool. */
static void threads(size_t maxlen, uint64_t budget, bool drops)
{
	struct nats_cache c;
	assert_int_equal(nats_cache_init(&c, budget), 0);
	uuid_t streams[3];
	for (int i = 0; i < 3; i++)
		uuid_generate(streams[i]);
	pthread_t th[6];
	struct worker w[6];
	for (int i = 0; i < 6; i++) {
		w[i] = (struct worker){ &c, (const uuid_t *)streams, (unsigned)i * 7919 + 1, maxlen,
					drops, 0, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	int hits = 0;
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].bad, 0);
		hits += w[i].hits;
	}
	assert_true(hits > 1000); /* the reads did meet pieces */
	assert_true(nats_cache_bytes(&c) <= budget);
	for (int i = 0; i < 3; i++)
		nats_cache_drop_stream(&c, streams[i]);
	assert_int_equal(nats_cache_bytes(&c), 0);
	assert_int_equal(c.pool.used, 0);
	nats_cache_free(&c);
}

static void test_threads(void **state)
{
	(void)state;
	/* small enough that pieces are evicted all along */
	threads(2000, 16 * 40000, false);
	/* pieces of up to 30 KiB, about half in blocks (16 KiB and more),
	 * evicted all along too */
	threads(40000, 16 * 400000, false);
	/* and with streams dropped meanwhile (blocks given back under a
	 * shard's lock while other threads get blocks for their puts) */
	threads(40000, 16 * 400000, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_and_length),
		cmocka_unit_test(test_budget_and_lru),
		cmocka_unit_test(test_small_pieces),
		cmocka_unit_test(test_blocks),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
