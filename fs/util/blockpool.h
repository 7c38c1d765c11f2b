/*
 * blockpool.h - a pool of fixed-size memory blocks (BLOCKPOOL_BLOCK
 * bytes) taken from regions of BLOCKPOOL_REGION bytes that the pool maps
 * itself, aligned to and advised as transparent huge pages
 * (madvise(MADV_HUGEPAGE), which a kernel with THP set to "madvise" or
 * "always" honours; with "never" the regions are plain memory).
 *
 * Why: memory a process touches for the first time costs a page fault per
 * 4 KiB page, and on a virtual machine whose page tables the hypervisor
 * keeps (ours: about 10 us a fault, docs/performance.md) that was most of
 * the NATS home's CPU per 64 KiB append, all of it in its cache's copy of
 * the chunk (fs/nats/natscache.c). A huge page is one fault per 2 MiB.
 * malloc cannot be told to use them for one purpose, so the cache keeps
 * its large pieces in these blocks instead.
 *
 * Memory: regions are mapped as blocks are needed, never more than
 * MAX_BLOCKS blocks in use (blockpool_get fails past it), and returned to
 * the kernel only by blockpool_destroy: a block given back is kept on a
 * free list for the next get. So the pool holds at most its highest use,
 * rounded up to a region.
 *
 * Locks: one mutex, a leaf (held only to move pointers).
 */
#ifndef STREAMFS_BLOCKPOOL_H
#define STREAMFS_BLOCKPOOL_H

#include <pthread.h>
#include <stddef.h>

#define BLOCKPOOL_BLOCK 4096u
#define BLOCKPOOL_REGION (2u << 20)

struct blockpool {
	pthread_mutex_t mu;	/* leaf: everything below */
	void *free;		/* blocks given back, linked through their first word */
	void *free_tail;	/* its last (AddressSanitizer builds: FIFO, blockpool.c) */
	char *bump;		/* the next never-used block of the newest region */
	size_t bump_left;	/* blocks left after bump in that region */
	void **regions;		/* every region mapped, sorted by address */
	size_t nregions, rcap;
	size_t used, max;	/* blocks in use, and at most */
};

/*
 * blockpool_init - an empty pool P that hands out at most MAX_BLOCKS
 * blocks at once; maps nothing yet. Cannot fail.
 */
void blockpool_init(struct blockpool *p, size_t max_blocks);

/*
 * blockpool_destroy - unmap every region of P. Blocks still out are gone
 * with them: call it once nothing uses the pool.
 */
void blockpool_destroy(struct blockpool *p);

/*
 * blockpool_get - N blocks of BLOCKPOOL_BLOCK bytes each into OUT[0..N),
 * all or none: 0, or -ENOMEM when N more would pass the pool's maximum or
 * a region cannot be mapped (OUT untouched, nothing taken). A block's
 * bytes are what its last user left there (a new one's are zero). The
 * caller owns the blocks until it gives them back with blockpool_put.
 */
int blockpool_get(struct blockpool *p, size_t n, void **out);

/* blockpool_put - give back the N blocks of BLOCKS, all from P's gets. */
void blockpool_put(struct blockpool *p, void *const *blocks, size_t n);

#endif
