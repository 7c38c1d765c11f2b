/*
 * test_blockpool.c - unit tests of the pool of memory blocks
 * (fs/util/blockpool.h): blocks are distinct, aligned, writable and in
 * regions aligned to their size; a get is all or none at the pool's
 * maximum; blocks given back are handed out again before a new region is
 * mapped; and threads getting, filling, checking and giving back blocks
 * at once never see another's bytes in theirs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fs/util/blockpool.h"

#define PER_REGION (BLOCKPOOL_REGION / BLOCKPOOL_BLOCK)

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
	return x < y ? -1 : x > y;
}

static void test_get_put(void **state)
{
	(void)state;
	struct blockpool p;
	size_t n = PER_REGION + 10; /* two regions */
	blockpool_init(&p, n);
	void **b = calloc(n + 1, sizeof(*b));
	assert_non_null(b);
	assert_int_equal(blockpool_get(&p, n - 1, b), 0);
	assert_int_equal(blockpool_get(&p, 1, b + n - 1), 0);
	assert_int_equal(p.nregions, 2);
	/* distinct, block-aligned, in size-aligned regions, writable */
	for (size_t i = 0; i < p.nregions; i++) {
		assert_int_equal((uintptr_t)p.regions[i] % BLOCKPOOL_REGION, 0);
		if (i)
			assert_true((uintptr_t)p.regions[i - 1] < (uintptr_t)p.regions[i]);
	}
	for (size_t i = 0; i < n; i++) {
		assert_int_equal((uintptr_t)b[i] % BLOCKPOOL_BLOCK, 0);
		memset(b[i], (int)(i & 0xff), BLOCKPOOL_BLOCK);
	}
	void **sorted = malloc(n * sizeof(*sorted));
	assert_non_null(sorted);
	memcpy(sorted, b, n * sizeof(*b));
	qsort(sorted, n, sizeof(*sorted), cmp_ptr);
	for (size_t i = 1; i < n; i++)
		assert_true((char *)sorted[i] >= (char *)sorted[i - 1] + BLOCKPOOL_BLOCK);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(((uint8_t *)b[i])[BLOCKPOOL_BLOCK - 1], i & 0xff);
	/* at the maximum: one more is refused, and nothing is taken */
	void *extra = (void *)0x1;
	assert_int_equal(blockpool_get(&p, 1, &extra), -ENOMEM);
	assert_ptr_equal(extra, (void *)0x1);
	assert_int_equal(p.used, n);
	/* given back, then asked for again: the same blocks, no new region */
	blockpool_put(&p, b, 20);
	assert_int_equal(p.used, n - 20);
	assert_int_equal(blockpool_get(&p, 21, b), -ENOMEM); /* 20 free, 21 asked */
	assert_int_equal(blockpool_get(&p, 20, b), 0);
	assert_int_equal(p.nregions, 2);
	memcpy(sorted, b, n * sizeof(*b));
	qsort(sorted, n, sizeof(*sorted), cmp_ptr);
	for (size_t i = 1; i < n; i++)
		assert_true(sorted[i] != sorted[i - 1]);
	blockpool_put(&p, b, n);
	assert_int_equal(p.used, 0);
	blockpool_destroy(&p);
	free(sorted);
	free(b);
}

/* Eight regions' blocks out and back in a shuffled order: every block
 * given back is found in its region (blockpool_put asserts it). */
static void test_many_regions(void **state)
{
	(void)state;
	struct blockpool p;
	size_t n = 8 * PER_REGION;
	blockpool_init(&p, n);
	void **b = malloc(n * sizeof(*b));
	assert_non_null(b);
	for (size_t i = 0; i < n; i += 100)
		assert_int_equal(blockpool_get(&p, n - i < 100 ? n - i : 100, b + i), 0);
	assert_int_equal(p.nregions, 8);
	for (size_t i = 1; i < p.nregions; i++)
		assert_true((uintptr_t)p.regions[i - 1] < (uintptr_t)p.regions[i]);
	unsigned seed = 12345;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)rand_r(&seed) % (i + 1);
		void *t = b[i];
		b[i] = b[j];
		b[j] = t;
	}
	for (size_t i = 0; i < n; i += 7)
		blockpool_put(&p, b + i, n - i < 7 ? n - i : 7);
	assert_int_equal(p.used, 0);
	blockpool_destroy(&p);
	free(b);
}

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
/* AddressSanitizer builds: a block given back is poisoned, first word
 * too, and stays so while older blocks given back are handed out first,
 * so a stale use of a cached piece's block is reported, not silently
 * reading the bytes of the piece that got the block next. */
static void test_poisoned_while_free(void **state)
{
	(void)state;
	struct blockpool p;
	blockpool_init(&p, 64);
	void *a[4], *b;
	assert_int_equal(blockpool_get(&p, 4, a), 0);
	assert_false(__asan_address_is_poisoned(a[0]));
	blockpool_put(&p, a, 1);
	assert_true(__asan_address_is_poisoned(a[0]));
	assert_true(__asan_address_is_poisoned((char *)a[0] + BLOCKPOOL_BLOCK - 1));
	blockpool_put(&p, a + 1, 1);
	assert_int_equal(blockpool_get(&p, 1, &b), 0);
	assert_ptr_equal(b, a[0]); /* the oldest first */
	assert_true(__asan_address_is_poisoned(a[1]));
	assert_false(__asan_address_is_poisoned((char *)b + BLOCKPOOL_BLOCK - 1));
	blockpool_put(&p, &b, 1);
	blockpool_put(&p, a + 2, 2);
	assert_int_equal(p.used, 0);
	blockpool_destroy(&p);
}
#endif

struct worker {
	struct blockpool *p;
	unsigned seed;
	int bad, refused;
};

/* Gets of 1..24 blocks, each filled with the thread's and the round's
 * byte, checked, given back. */
static void *work(void *arg)
{
	struct worker *w = arg;
	void *b[24];
	for (int round = 0; round < 3000; round++) {
		size_t n = 1 + (size_t)rand_r(&w->seed) % 24;
		if (blockpool_get(w->p, n, b) < 0) {
			w->refused++;
			continue;
		}
		uint8_t mark = (uint8_t)(w->seed ^ (unsigned)round);
		for (size_t i = 0; i < n; i++)
			memset(b[i], mark, BLOCKPOOL_BLOCK);
		for (size_t i = 0; i < n; i++)
			for (size_t k = 0; k < BLOCKPOOL_BLOCK; k += 512)
				if (((uint8_t *)b[i])[k] != mark)
					w->bad++;
		blockpool_put(w->p, b, n);
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct blockpool p;
	blockpool_init(&p, 6 * 24); /* every thread's largest get at once fits */
	pthread_t th[6];
	struct worker w[6];
	for (int i = 0; i < 6; i++) {
		w[i] = (struct worker){ &p, (unsigned)i * 7919 + 3, 0, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].bad, 0);
		assert_int_equal(w[i].refused, 0);
	}
	assert_int_equal(p.used, 0);
	assert_int_equal(p.nregions, 1); /* 144 blocks: one region, reused */
	blockpool_destroy(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_put),
		cmocka_unit_test(test_many_regions),
#if defined(__SANITIZE_ADDRESS__)
		cmocka_unit_test(test_poisoned_while_free),
#endif
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
