/*
 * natslease.h - the replication lease of a NATS-backed cluster (fs/nats/natslease.c). Included by natshome.h, after the types it names;
 * only fs/nats/ includes it.
 */
#ifndef STREAMFS_NATSLEASE_H
#define STREAMFS_NATSLEASE_H

/*
 * nats_lease_start - start NC's lease thread, which takes, renews and
 * watches the cluster's replication lease (key "lease" of its bucket).
 * 0 or a negative errno (no thread). nats_lease_stop and nats_lease_free
 * undo it.
 */
int nats_lease_start(struct nats_cluster *nc);

/* nats_lease_stop - stop that thread (the lease is kept until
 * nats_lease_release or its time runs out). Idempotent. */
void nats_lease_stop(struct nats_cluster *nc);

/* nats_lease_release - hand the lease back if this daemon holds it, so
 * that another daemon takes it at once; after nats_lease_stop and after
 * the bucket's watcher is stopped (no event of it left in flight).
 * Idempotent. */
void nats_lease_release(struct nats_cluster *nc);

/* nats_lease_free - release the lease's lock and condition (NC's close). */
void nats_lease_free(struct nats_cluster *nc);

/*
 * nats_lease_epoch - does this daemon run the replication of NC's
 * streams now? 0: no (another daemon holds the lease, or this one could
 * not renew it in time); else the epoch of the lease held, a number new
 * each time this daemon takes it (fs/stream.h, lanes_epoch).
 */
uint64_t nats_lease_epoch(struct nats_cluster *nc);

#endif
