/*
 * natswatch.h - what a daemon knows of a NATS-backed cluster's namespace
 * (fs/nats/natswatch.c) and the thread that follows its bucket
 * (fs/nats/natsbucket.c). Included by natshome.h, after the types it
 * names; only fs/nats/ includes it.
 */
#ifndef STREAMFS_NATSWATCH_H
#define STREAMFS_NATSWATCH_H

/* nats_stream_by_uuid - the stream of CL whose UUID is U, a new reference,
 * or NULL. LOCKED: the caller holds the namespace lock. */
struct stream *nats_stream_by_uuid(struct cluster *cl, const uuid_t u, bool locked);

/* nats_streams_all - CL's streams now, a reference each (stream_put), in
 * an array the caller frees; *N of them. NULL with *N > 0: out of
 * memory. Takes the namespace lock for reading. */
struct stream **nats_streams_all(struct cluster *cl, size_t *n);


/*
 * nats_watch_open - read every key of NC's bucket and load the cluster's
 * owner, streams and topics into its cluster (nobody else sees it yet),
 * wait for the streams' consumers to catch up, then start the thread
 * that follows later changes. 0 or a negative errno with one line in
 * ERR (ERRLEN bytes).
 */
int nats_watch_open(struct nats_cluster *nc, char *err, size_t errlen);

/*
 * nats_watch_forget_topic - take topic NAME of S out of this daemon's
 * view, as when another daemon removed it, asking nothing of NATS: its key
 * is not in the bucket any more (lost with a crash of every server,
 * natsseq.c). The watch thread's. 0 (also when there is no such topic),
 * or stream_delete_topic's errno.
 */
int nats_watch_forget_topic(struct stream *s, const char *name);

/*
 * nats_watch_forget_stream - take stream S, its topics first, out of this
 * daemon's namespace, as when another daemon removed it, asking nothing of
 * NATS: neither its key nor its data stream is in NATS any more (a crash
 * of every server lost both, natsseq.c). The watch thread's. 0, or -EBUSY
 * when a topic of it stayed.
 */
int nats_watch_forget_stream(struct nats_cluster *nc, struct stream *s);

/*
 * nats_watch_thread - true on the thread that follows the bucket
 * (natsbucket.c): a change it applies here (a topic another daemon
 * removed) was saved by the daemon that made it, so a stream's metadata
 * is not written from it (ns_save): this daemon's view may be behind, and
 * writing it would undo another daemon's newer change (a chmod lost so,
 * 87-nats-cluster2.bats).
 */
bool nats_watch_thread(void);

/*
 * nats_stream_apply_locked - S as its metadata META says (s->lock held):
 * owner, group, mode, times, replicas and upstreams (a replica named
 * before keeps its object and positions, one no longer named is freed).
 * For another daemon's change, applied by the bucket's thread, and for
 * one merged with this daemon's (ns_save; natsmerge.h).
 */
void nats_stream_apply_locked(struct stream *s, json_t *meta);

/*
 * nats_stream_created_locked - a mkdir's create of S's key found E there
 * (-EEXIST): if E names S's own incarnation, a try of this mkdir stored
 * it (its answer lost) and another daemon changed it since (a chmod, a
 * topic made): E's revision in *REV, its value S's base and applied
 * (nats_stream_saved_locked), 0; else -EEXIST (the name taken). E (or
 * NULL) is destroyed. s->lock held.
 */
int nats_stream_created_locked(struct stream *s, json_t *ours, natsMsg *e, uint64_t *rev);

/*
 * nats_stream_base_locked - keep a copy of META as the value at S's
 * revision (nats_stream.rev), which a save merges against (natsmerge.h).
 * s->lock held; out of memory, none is kept (a save is then last writer
 * wins, as before).
 */
void nats_stream_base_locked(struct stream *s, const json_t *meta);

/*
 * nats_stream_saved_locked - after a save of S's metadata (s->lock
 * held): STORED, what the bucket now holds, is the value at its revision;
 * if it is not OURS, what this daemon asked to save (another daemon's
 * change merged with it, natsmerge.h), S is as STORED says, logged once.
 */
void nats_stream_saved_locked(struct stream *s, json_t *ours, json_t *stored);

/*
 * nats_watch_stream_event, nats_watch_topic_event - apply bucket entry E
 * of a stream key ("s.") or a topic key ("t.") to this daemon's view: a
 * stream or topic made, changed (owner, mode, control files, epoch) or
 * removed by another daemon; an entry at or below the revision this
 * daemon knows of it is one it has gone past, unless FORCE (the replay of
 * a bucket that went back: what it holds is what is true, whatever its
 * revisions). Either marks what E names as seen in the bucket's current
 * replay (nats_cluster.bucket_gen). 0; -EAGAIN: not applied for
 * want of an answer from NATS or of memory (a replay applies it); the
 * topic's only: 1, its stream is not known here and E is a put (a replay
 * keeps it for its end, where the stream's key has been read). The
 * bucket's thread's (natsbucket.c).
 */
int nats_watch_stream_event(struct nats_cluster *nc, struct nats_kventry *e, bool force);
int nats_watch_topic_event(struct nats_cluster *nc, struct nats_kventry *e, bool force);

/* nats_watch_cluster_meta - owner, group and mode of cluster CL from the
 * value of its key "c" (E), unless older than what this daemon stored
 * there (FORCE: a bucket read again, whatever its revision); a value that
 * is not JSON changes nothing. ns->lock held for writing. */
void nats_watch_cluster_meta(struct cluster *cl, struct nats_kventry *e, bool force);

/* nats_cluster_meta_locked - cluster CL as META, its key's value at
 * revision REV, says (owner, group, mode), kept as the base a chmod of
 * the cluster merges against. ns->lock held for writing. */
void nats_cluster_meta_locked(struct cluster *cl, json_t *meta, uint64_t rev);

/* ---- natsbucket.c ------------------------------------------------------- */

/* nats_bucket_follow_start - start NC's thread that follows its bucket
 * from the watcher nats_watch_open made (nc->watcher). 0 or a negative
 * errno (no thread). */
int nats_bucket_follow_start(struct nats_cluster *nc);

/* nats_watch_stop - stop that thread (the cluster's stop); its watcher
 * is closed. */
void nats_watch_stop(struct nats_cluster *nc);

/* nats_stream_load - a stream from bucket value VAL (LEN bytes) of key
 * KEY, revision REV: as nats_stream_new without making anything. */
int nats_stream_load(struct cluster *cl, const char *key, const void *val, int len,
		     uint64_t rev, struct stream **out);

#endif
