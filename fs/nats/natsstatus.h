/*
 * natsstatus.h - the replication status a NATS-backed cluster's lease holder publishes (fs/nats/natsstatus.c). Included by natshome.h, after the types it names;
 * only fs/nats/ includes it.
 */
#ifndef STREAMFS_NATSSTATUS_H
#define STREAMFS_NATSSTATUS_H

/*
 * nats_status_start - start NC's status publisher: a thread that, while
 * this daemon holds the lease, puts the replication status of each
 * stream marked by nats_status_changed under key r.<stream uuid> of the
 * bucket (docs/nats.md, "Replication status on every daemon"). 0 or a
 * negative errno (no thread). nats_status_stop and nats_status_free undo
 * it.
 */
int nats_status_start(struct nats_cluster *nc);

/* nats_status_stop - stop that thread. Idempotent. */
void nats_status_stop(struct nats_cluster *nc);

/* nats_status_free - free its table (NC's close, after nats_status_stop
 * and after every stream is gone). */
void nats_status_free(struct nats_cluster *nc);

/* nats_status_changed - the status_changed operation of a NATS stream
 * (fs/stream.h): on the lease holder, S's status is published within
 * NATS_STATUS_MS of the last time, at once with NOW; on another daemon
 * (a write there timed out waiting for a synchronous replica) this
 * daemon's status of S goes to the holder as a notice, key g.<uuid>.
 * Never blocks. */
void nats_status_changed(struct stream *s, bool now);

/* nats_status_forget - S's home state ST goes (its destroy): its entry is
 * left for the publisher to free. */
void nats_status_forget(struct nats_stream *st);

/*
 * nats_status_event - the watcher's entry E of key r.<stream uuid>: the
 * status another daemon published is applied to that stream's replicas
 * here (repl_status_import), unless this daemon holds the lease itself:
 * then one put by another daemon (an old holder that had not yet seen
 * the lease move) is put over again with this daemon's own, even if
 * unchanged, or every other daemon would show the old holder's for as
 * long as nothing changes; or of key g.<stream uuid>, another daemon's
 * notice, applied only by the holder. LOCKED: the caller holds the
 * namespace lock (start-up).
 */
void nats_status_event(struct nats_cluster *nc, struct nats_kventry *e, bool locked);

/*
 * nats_status_resync - this daemon no longer holds NC's lease: its own
 * picture of each stream it published is stale. The publisher reads
 * each one's r.<stream uuid> from the bucket and applies it, as the
 * watcher would have (a put of the new holder that came while this
 * daemon still believed it held the lease was not applied). Never
 * blocks; each read (in the publisher's thread, of the bucket's leader:
 * nats_kv_last) waits nats_timeout_ms at most.
 */
void nats_status_resync(struct nats_cluster *nc);

#endif
