/*
 * blockpool.c - the pool of blockpool.h: regions of BLOCKPOOL_REGION
 * bytes mapped on demand, aligned to their size and advised as huge
 * pages, cut into blocks handed out from a free list first, then from the
 * newest region's unused tail.
 *
 * Invariants, checked by assertions: used <= max; REGIONS is sorted by
 * address; every block given back starts a block of one of them (a binary
 * search, so the check stays cheap with thousands of regions); bump_left
 * blocks from bump are never-used blocks of the newest region.
 */
#include "blockpool.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

/* Under AddressSanitizer a block is poisoned while nobody holds it (its
 * free list's link too, unpoisoned only to be read or written here), and
 * blocks given back are handed out again oldest first (FIFO), so a use of
 * a cached piece's block after it was given back is caught until the
 * pool has handed out all the blocks freed before it, as ASan's
 * quarantine does for malloc'd memory. Otherwise the newest block given
 * back is handed out first (LIFO: it is the likeliest in the CPU's
 * caches), which would hand a block just given back to the next get at
 * once, where no poisoning could see a stale use of it. */
#if defined(__SANITIZE_ADDRESS__)
#define POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_ASAN 1
#endif
#endif
#ifdef POOL_ASAN
#include <sanitizer/asan_interface.h>
#define POOL_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define POOL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POOL_POISON(p, n) ((void)(p), (void)(n))
#define POOL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

void blockpool_init(struct blockpool *p, size_t max_blocks)
{
	*p = (struct blockpool){ .max = max_blocks };
	pthread_mutex_init(&p->mu, NULL);
}

void blockpool_destroy(struct blockpool *p)
{
	for (size_t i = 0; i < p->nregions; i++) {
		POOL_UNPOISON(p->regions[i], BLOCKPOOL_REGION);
		munmap(p->regions[i], BLOCKPOOL_REGION);
	}
	free(p->regions);
	pthread_mutex_destroy(&p->mu);
	*p = (struct blockpool){ 0 };
}

/* A new region, aligned to its size (a huge page can only back an
 * aligned range): twice the size mapped, the unaligned ends unmapped.
 * NULL when the kernel refuses. */
static char *map_region(void)
{
	size_t sz = (size_t)BLOCKPOOL_REGION * 2;
	char *r = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		return NULL;
	uintptr_t a = ((uintptr_t)r + BLOCKPOOL_REGION - 1) & ~(uintptr_t)(BLOCKPOOL_REGION - 1);
	char *al = (char *)a;
	if (al > r)
		munmap(r, (size_t)(al - r));
	char *end = r + sz, *alend = al + BLOCKPOOL_REGION;
	if (end > alend)
		munmap(alend, (size_t)(end - alend));
	/* Advice only: refused (THP "never", an old kernel), the region is
	 * plain memory and works the same. */
	(void)madvise(al, BLOCKPOOL_REGION, MADV_HUGEPAGE);
	POOL_POISON(al, BLOCKPOOL_REGION);
	return al;
}

/* One block, from the free list or the newest region; NULL when a region
 * cannot be mapped. mu held. */
static void *take(struct blockpool *p)
{
	if (p->free) {
		void *b = p->free;
		POOL_UNPOISON(b, BLOCKPOOL_BLOCK);
		p->free = *(void **)b;
#ifdef POOL_ASAN
		if (!p->free)
			p->free_tail = NULL;
#endif
		return b;
	}
	if (!p->bump_left) {
		if (p->nregions == p->rcap) {
			size_t cap = p->rcap ? p->rcap * 2 : 8;
			void **v = realloc(p->regions, cap * sizeof(*v));
			if (!v)
				return NULL;
			p->regions = v;
			p->rcap = cap;
		}
		char *r = map_region();
		if (!r)
			return NULL;
		size_t k = p->nregions++; /* kept sorted: owns() searches it */
		for (; k > 0 && (uintptr_t)p->regions[k - 1] > (uintptr_t)r; k--)
			p->regions[k] = p->regions[k - 1];
		p->regions[k] = r;
		p->bump = r;
		p->bump_left = BLOCKPOOL_REGION / BLOCKPOOL_BLOCK;
	}
	void *b = p->bump;
	p->bump += BLOCKPOOL_BLOCK;
	p->bump_left--;
	POOL_UNPOISON(b, BLOCKPOOL_BLOCK);
	return b;
}

#ifndef NDEBUG
/* Whether B is the start of a block of one of P's regions. mu held. */
static int owns(const struct blockpool *p, const void *b)
{
	uintptr_t x = (uintptr_t)b;
	size_t lo = 0, hi = p->nregions; /* the last region starting at or before B */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if ((uintptr_t)p->regions[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return 0;
	uintptr_t r = (uintptr_t)p->regions[lo - 1];
	return x - r < BLOCKPOOL_REGION && (x - r) % BLOCKPOOL_BLOCK == 0;
}
#endif

/* Give block B back. mu held. */
static void give(struct blockpool *p, void *b)
{
#ifdef POOL_ASAN
	*(void **)b = NULL;
	POOL_POISON(b, BLOCKPOOL_BLOCK);
	if (p->free_tail) {
		POOL_UNPOISON(p->free_tail, sizeof(void *));
		*(void **)p->free_tail = b;
		POOL_POISON(p->free_tail, sizeof(void *));
	} else {
		p->free = b;
	}
	p->free_tail = b;
#else
	*(void **)b = p->free;
	p->free = b;
#endif
}

int blockpool_get(struct blockpool *p, size_t n, void **out)
{
	pthread_mutex_lock(&p->mu); /* leaf */
	if (n > p->max - p->used) {
		pthread_mutex_unlock(&p->mu);
		return -ENOMEM;
	}
	size_t i = 0;
	for (; i < n; i++)
		if (!(out[i] = take(p)))
			break;
	if (i < n) { /* all or none */
		while (i-- > 0)
			give(p, out[i]);
		pthread_mutex_unlock(&p->mu);
		return -ENOMEM;
	}
	p->used += n;
	assert(p->used <= p->max);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void blockpool_put(struct blockpool *p, void *const *blocks, size_t n)
{
	pthread_mutex_lock(&p->mu); /* leaf */
	assert(p->used >= n);
	for (size_t i = 0; i < n; i++) {
		assert(owns(p, blocks[i]));
		give(p, blocks[i]);
	}
	p->used -= n;
	pthread_mutex_unlock(&p->mu);
}
