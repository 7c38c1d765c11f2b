/*
 * natskv.h - a NATS-backed cluster's bucket as this daemon reads and
 * changes it (fs/nats/natsutil.c): a key's last entry asked of the
 * bucket's leader, and the compare-and-set writes (create, update and
 * delete only over the revision known, a put), each tried again while
 * NATS is away or electing a leader, until nats_timeout_ms; docs/nats.md,
 * "Creation, removal and races between daemons". Included by natshome.h,
 * after the types it names; only fs/nats/ includes it.
 */
#ifndef STREAMFS_NATSKV_H
#define STREAMFS_NATSKV_H

/*
 * The writes below end by UNTIL (mono_ns): the deadline nats_connected
 * gave the change (its own start + nats_timeout_ms, so that a wait for
 * the connection counts within it), or 0 (or one passed meanwhile) for
 * now + nats_timeout_ms.
 */

/* nats_kv_last - KEY's last entry as the bucket's leader holds it
 * (STREAM.MSG.GET, asked in NATS_SLICE_MS tries up to nats_timeout_ms),
 * not as kvStore_Get's direct get, which a replica behind may answer. 1:
 * a value, *REV its revision, *MSG it (caller's to natsMsg_Destroy; MSG
 * may be NULL); 0: none (*REV its deletion's, or 0); -EIO, -ETIMEDOUT:
 * no answer (also on a signal). docs/nats.md, "Creation, removal". */
int nats_kv_last(struct nats_cluster *nc, const char *key, uint64_t *rev, natsMsg **msg);

/* nats_kv_incarnation - M's value (a bucket entry) as JSON whose "uuid"
 * is UUID, the incarnation of a stream or topic that still holds the
 * name (UUID NULL: any JSON object, a key without one): the object (the
 * caller's, json_decref), else NULL (another incarnation's, not JSON). */
json_t *nats_kv_incarnation(natsMsg *m, const uuid_t uuid);

/* nats_kv_holds - whether KEY of NC's bucket holds JSON whose "uuid" is
 * UUID (that incarnation still has the name), as its leader says
 * (nats_kv_last): 1 with its revision in *REV, 0 (deleted, or another
 * incarnation's), or a negative errno. */
int nats_kv_holds(struct nats_cluster *nc, const char *key, const uuid_t uuid, uint64_t *rev);

/* nats_kv_delete_if - remove KEY from NC's bucket if its value is JSON
 * whose "uuid" is UUID (an incarnation that is still the one named
 * there): a delete marker published only over that revision. 0 (deleted,
 * or not ours anymore), or a negative errno. */
int nats_kv_delete_if(struct nats_cluster *nc, const char *key, const uuid_t uuid,
		      uint64_t until);

/* nats_kv_update_if - put OURS under KEY over revision *REV, whose value
 * is BASE; changed by another daemon since (incarnation UUID still; NULL:
 * a key without one, the cluster's own), OURS's
 * changes to BASE made again over its value (nats_meta_merge); never over
 * a removal. 0: *REV the new revision, *STORED (caller's; STORED may be
 * NULL) the value; -ENOENT (removed), -EINTR, -EIO, -ENOMEM. */
int nats_kv_update_if(struct nats_cluster *nc, const char *key, const uuid_t uuid,
		      const json_t *base, const json_t *ours, uint64_t *rev, json_t **stored,
		      uint64_t until);

/* nats_kv_create - put TXT under KEY of NC's bucket only if the key holds
 * nothing (the bucket's create), tried again while NATS is away or cannot
 * answer (a reconnection, a leader being elected) until nats_timeout_ms.
 * 0 with the revision in *REV (made here, also when a first try's
 * acknowledgement was lost: the leader holds TXT), -EEXIST (another value
 * is there: in *E, its message the caller destroys, when E is not NULL),
 * -EINTR (a signal), or -EIO (logged). */
int nats_kv_create(struct nats_cluster *nc, const char *key, const char *txt, uint64_t *rev,
		   natsMsg **e, uint64_t until);

/* nats_kv_put - put TXT under KEY of NC's bucket whatever it holds (last
 * writer wins), tried as nats_kv_create: 0, -EINTR, or -EIO (logged). */
int nats_kv_put(struct nats_cluster *nc, const char *key, const char *txt, uint64_t until);

/* nats_connected - 0 once NC's connection is up (a reconnection waited
 * for up to nats_timeout_ms; -EINTR on a signal), else -EIO, logged naming
 * WHAT: no change is tried while it is down, for libnats would send it
 * after the reconnection, behind the back of a caller told it failed. On
 * 0, *UNTIL (UNTIL may be NULL) the change's deadline for the writes
 * above: this call's start + nats_timeout_ms. */
int nats_connected(struct nats_cluster *nc, const char *what, uint64_t *until);

/* nats_slice - one request's deadline within DEADLINE: NATS_SLICE_MS at most. */
uint64_t nats_slice(uint64_t deadline);

/* nats_pause - 20 ms between tries while NATS is away or electing a leader. */
void nats_pause(void);

/*
 * nats_kv_wrote - this daemon wrote key KEY of NC's bucket, stored at
 * revision REV (0: unknown, ignored): remembered among its last
 * NATS_WROTE writes (natsbucket.c asks JetStream about them after a
 * reconnection). Takes
 * nc->wrote_mu; never blocks on NATS.
 */
void nats_kv_wrote(struct nats_cluster *nc, const char *key, uint64_t rev);

#endif
