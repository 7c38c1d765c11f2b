/*
 * natshome.h - clusters kept in NATS JetStream as a home (fs/cluster.h):
 * a key-value bucket per cluster for the namespace (owners, modes, stream
 * and topic metadata, positions), a JetStream stream per streamfs stream
 * for the messages, a subject per topic incarnation, the complete lines
 * of one write() one JetStream message (a chunk). The layout, the append
 * protocol and what each daemon caches: docs/nats.md.
 *
 *   natscluster.c  the home, the connection, the bucket, the cluster ops
 *   natswatch.c    loading the namespace and following others' changes
 *   natskvwatch.c  the bucket's watcher (its declarations in natskvwatch.h)
 *   natsstream.c   the stream ops, each stream's data stream
 *   natsfollow.c   each data stream's consumer, into the chunk indexes
 *   natstopic.c    the topic ops: appends, reads, the chunk index
 *   natsrepl.c     replicated appends under the per-origin marks
 *   natsparts.c    chunks longer than one NATS message: parts and a head
 *                  (its declarations in natsparts.h)
 *   natslease.c    the replication lease of a cluster
 *   natsstatus.c   the replication status, published by the lease holder
 *   natsseq.c      a stream whose sequences went back: told, index rebuilt
 *
 * Only fs/nats/ and the file that wires the daemon (fs/main.c) include
 * this header.
 *
 * Locks of this home are innermost (below stream.lock and topic locks of
 * fs/stream.h): nats_stream.mu, then nats_tdata.mu; nats_topic.append_mu
 * is taken alone, before nats_tdata.mu. The consumer's callback (libnats'
 * delivery thread) takes only these.
 */
#ifndef STREAMFS_NATSHOME_H
#define STREAMFS_NATSHOME_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uuid/uuid.h>

#include <jansson.h>
#include <nats/nats.h>

#include "cluster.h"
#include "stream.h"
#include "natscache.h"
#include "topic.h"

/* The NATS home, for the daemon's table of homes (fs/main.c). */
extern const struct cluster_home nats_home;

/* The longest one request to NATS waits before the waiter looks again
 * at its deadline and at a signal to its caller (ms): an append's
 * publish, a read of the subject's tail (docs/nats.md, "Signals"). */
#define NATS_SLICE_MS 500

/* The longest one request of the checks after a reconnection waits
 * (natsseq.c, natsbucket.c), ms: a request sent just as the servers came
 * back may never be answered, and writers wait on the checks; one not
 * answered makes the check try again a second later. */
#define NATS_CHECK_WAIT_MS 1000

/* The longest the daemon's stop waits for NATS to remove the bucket's
 * watcher, or for a data stream's consumer to close, ms (a data stream's
 * consumer is removed within NATS_CONSUMER_RM_WAIT_MS): the servers
 * remove an idle ephemeral consumer by themselves anyway; a server lost
 * must not make the stop wait nats_timeout_ms per consumer. */
#define NATS_STOP_WAIT_MS 2000

/* The longest a request to remove a data stream's consumer waits (ms;
 * nats_follow_close). */
#define NATS_CONSUMER_RM_WAIT_MS 500

/* The longest one try at making a data stream's consumer waits (ms). */
#define NATS_CONSUMER_WAIT_MS 2000
/* How long the servers keep the consumers of a daemon that died (killed,
 * its host lost): nats-server 2.9 removes an ephemeral consumer 5 s after
 * its client went, so a daemon started again at once under an account's
 * max_consumers waits up to this long for them to go (ms). */
#define NATS_CONSUMER_GONE_MS 8000

/* The idle heartbeat of each data stream's consumer (ms). */
#define NATS_HEARTBEAT_MS 1000

/* Room left in a NATS message for a chunk's headers (bytes). */
#define NATS_HEADER_ROOM 1024
/* Most parts one chunk may have (natsparts.c, docs/nats.md). */
#define NATS_PARTS_MAX 65536
/* Longest key of the bucket: "t." UUID "." and an encoded name. */
#define NATS_KEY_MAX 820

/* The replication lease (natslease.c, docs/nats.md): held for this
 * long after the update that took or renewed it was sent, less the
 * margin on the holder's side (ms); renewed this often (ms). */
#define NATS_LEASE_MS 3000
#define NATS_LEASE_MARGIN_MS 500
#define NATS_LEASE_RENEW_MS 500

/* The bucket's watcher (natswatch.c): one that delivers nothing for
 * NATS_WATCH_SILENT_MS while connected is made anew (the lease key is
 * written every NATS_LEASE_RENEW_MS, a takeover within NATS_LEASE_MS);
 * tries to make it are NATS_WATCH_RETRY_MS apart, doubling up to
 * NATS_WATCH_RETRY_MAX_MS. */
#define NATS_WATCH_SILENT_MS (2 * NATS_LEASE_MS)
#define NATS_WATCH_RETRY_MS 500
#define NATS_WATCH_RETRY_MAX_MS 8000
/* The replication status of a stream is published at most this often
 * (ms), but at once when a synchronous replica's position moves
 * (natsstatus.c, docs/nats.md). */
#define NATS_STATUS_MS 150

/* A subject's last chunk that JetStream names behind this daemon's index
 * is asked again for this long (ms) before an append is refused: a leader
 * just elected may answer before it has applied its log (natstopic.c). */
#define NATS_BEHIND_MS 2000
/* Bucket entries applied that a check after a reconnection asks about
 * (natsbucket.c). */
#define NATS_RECENT 64
/* A check of the bucket that found it kept is made once more this much
 * later (ms): entries queued before it are applied by then. */
#define NATS_RECHECK_MS 2000
/* A bucket or stream found gone back is acted on once a check this much
 * later (ms) finds it too: a leader just elected answers before applying
 * its predecessor's commits (nats-server 2.9 raft.go switchToLeader). */
#define NATS_CONFIRM_MS 2000
/* This daemon's own bucket writes a check asks about (natsbucket.c). */
#define NATS_WROTE 16

#define NATS_EPOCH_OWED 1 /* nats_tdata.epoch_due */
#define NATS_EPOCH_HELD 2
/* Consumer incarnations remembered per stream (nats_stream.seen). */
#define NATS_SEEN_MAX 4

struct nats_status_entry;
struct nats_kvwatch;
struct nats_kventry;

/* One cluster kept in NATS: its connection and bucket. */
struct nats_cluster {
	const struct sfs_cluster_conf *cc;	/* borrowed from the config */
	struct cluster *cl;
	natsConnection *conn;
	jsCtx *js;
	kvStore *kv;
	char bucket[256];	/* SFS_E(cluster) */
	int replicas;		/* of the bucket and the data streams */
	int64_t timeout_ms;	/* nats_timeout_ms */
	int64_t max_payload;	/* the servers' max_payload, bytes */
	char instance[37];	/* this daemon's writer id (a UUID) */
	atomic_uint_fast64_t writes;	/* chunks published, for writer ids */
	/* The connection's callbacks are over once it says it is closed. */
	pthread_mutex_t closed_mu;
	pthread_cond_t closed_cv;
	bool closed;
	atomic_bool closing;	/* a disconnection is ours: not logged */
	/* Streams whose consumer had not closed when they were put (NATS
	 * away): freed once the connection is closed (nats_stream_bury). */
	pthread_mutex_t grave_mu;
	struct nats_stream **grave;
	size_t ngrave, gcap;
	struct nats_kvwatch *watcher;	/* following the bucket (natswatch.c) */
	/* The cluster's own key ("c": owner, group, mode) as last applied
	 * or stored here, and its revision (0: none known), which a chmod
	 * of the cluster merges against (natsmerge.h). Under ns->lock. */
	json_t *c_meta;
	uint64_t c_rev;
	/* The highest bucket revision any of its watchers delivered: a
	 * replay's notice (key g.) at or below it was met already. */
	uint64_t watch_rev;
	/* JetStream's time (ns) of the entry at watch_rev: is it still
	 * there? (natsbucket.c, a bucket that went back). The thread's. */
	int64_t watch_time;
	/* The last NATS_RECENT entries applied (revision, JetStream time),
	 * a ring: after a reconnection each one past what the last check
	 * found kept is asked about (natsbucket.c): the restored servers'
	 * consumer may have delivered entries written since the restart,
	 * past the lost ones, before the check. The thread's. */
	struct nats_recent {
		uint64_t rev;
		int64_t time;
		char key[NATS_KEY_MAX];
	} recent[NATS_RECENT];
	unsigned nrecent;	/* entries put in the ring, ever */
	uint64_t verified_rev;	/* what the last check found kept */	/* Times the bucket was found to have gone back and was read again
	 * whole; a stream or topic seen in that replay, or made since,
	 * carries the count (seen), one not seen is not in the bucket. */
	atomic_uint_fast64_t bucket_gen;
	/* The bucket again, through a context whose requests wait
	 * NATS_STOP_WAIT_MS at most: the watcher's and the lease's (their
	 * waits must not hold the stop for nats_timeout_ms). */
	jsCtx *wjs;
	kvStore *wkv;
	pthread_t thread;
	bool thread_started;
	atomic_bool watch_stop;	/* the thread ends (nats_watch_stop) */
	atomic_bool seq_check;	/* nats_seq_suspect asked for a check */
	/* A check of the streams' sequences (or of the bucket) is under
	 * way, or a stream's verdict waits for its confirmation: a writer
	 * whose tail is behind its index waits for the verdict before it
	 * calls the subject's state lost (natstopic.c). */
	atomic_bool seq_checking;
	/* Checks of the streams' sequences that ended in a verdict (the
	 * watch thread's nats_seq_check returned 0): a writer behind its
	 * index waits for one begun after it asked (natstopic.c). */
	atomic_uint_fast64_t seq_verdicts;
	/* The bucket alone is to be checked (natsbucket.c): its watcher's
	 * consumer was made anew by libnats (a reconnection), so what the
	 * old one delivered has been applied and can be asked about. */
	atomic_bool bucket_check;
	/* The last NATS_WROTE writes of this daemon to the bucket, revision
	 * and key (under wrote_mu): a write its watcher has not applied yet,
	 * which a crash may lose all the same, is asked about too
	 * (natsbucket.c). */
	pthread_mutex_t wrote_mu;
	struct nats_wrote {
		uint64_t rev;
		char key[NATS_KEY_MAX];
	} wrote[NATS_WROTE];	/* a ring of its last writes */
	unsigned nwrote;	/* writes put in the ring, ever */
	uint64_t wrote_verified;	/* what the last check found kept */
	/* A data stream's consumer is not asked to be removed before this
	 * (mono_ns): a removal, or nats_parked_release's ping, went unanswered
	 * (nats_consumer_close). */
	atomic_uint_fast64_t consumer_rm_after;
	/* Subscriptions closed by nats_consumer_close that libnats' reader
	 * may still hold without a reference: kept (our reference) until a
	 * round trip to the server begun after their close has come back,
	 * or the connection is closed (natsutil.c, nats_parked_release).
	 * A zeroed mutex is a valid one (the unit tests' static clusters). */
	pthread_mutex_t park_mu;
	struct nats_parked *parked;	/* newest first */
	uint64_t park_seq;		/* of the last one parked */
	/* The replication lease (natslease.c). */
	pthread_t lease_thread;
	bool lease_init, lease_started;
	pthread_mutex_t lease_mu;	/* lease_stop */
	pthread_cond_t lease_cv;	/* lease_stop set (CLOCK_MONOTONIC) */
	bool lease_stop;
	atomic_uint_fast64_t lease_epoch;	/* of the lease held, 0: none */
	atomic_uint_fast64_t lease_until;	/* held until (mono_ns) */
	uint64_t lease_rev;	/* the revision this daemon wrote last */
	uint64_t lease_seen_rev, lease_seen_ns;	/* another's, seen since */
	/* statfs: the account's JetStream usage, asked at most once a
	 * second (NATS_STATFS_MS) and kept for when NATS is away. */
	pthread_mutex_t statfs_mu;	/* leaf */
	uint64_t statfs_at_ns;		/* when asked last, mono_ns; 0: never */
	uint64_t statfs_used;		/* bytes stored, every replica */
	int64_t statfs_max;		/* the account's max_storage, -1: none */
	struct nats_cache cache;	/* fetched chunks and parts (natscache.h) */
	/* The replication status publisher (natsstatus.c). */
	pthread_t status_thread;
	bool status_init, status_started;
	pthread_mutex_t status_mu;	/* everything below, nats_stream.sentry */
	pthread_cond_t status_cv;	/* an entry marked (CLOCK_MONOTONIC) */
	bool status_stop;
	bool status_resync;	/* the lease was lost: read the statuses */
	struct nats_status_entry **status;	/* one per stream that had one */
	size_t nstatus, status_cap;
};

/* The parts of a chunk longer than one NATS message (its head's
 * Sfs-Parts, docs/nats.md): part I holds the chunk's bytes from I * SIZE,
 * SIZE of them (the last: the rest), at stream sequence SEQ[I]. */
struct nats_parts {
	uint32_t n, size;
	/* nats_parts_by of the writer id its parts were published as (their
	 * Nats-Msg-Id is "<id>.p<i>"), from the head's Sfs-Parts-By; 0: not
	 * said (a head of an earlier streamfs). A part fetched must match it. */
	uint64_t by;
	uint64_t seq[];
};

/* One chunk of a topic, as the index keeps it (docs/nats.md). */
struct nats_chunk {
	uint64_t seq;		/* stream sequence in JetStream (its head's) */
	uint64_t off, pos;	/* offset of its first line, byte position */
	uint64_t origin_off;	/* origin offset of its first line */
	uint64_t ts;		/* ns since the epoch */
	uint32_t n, len;	/* lines, payload bytes (with parts: theirs) */
	uint32_t origin;	/* index into nats_tdata.origins */
	/* Of an own chunk: the epoch of the topic's own origin it belongs
	 * to (Sfs-Own-Gen; 0: the first, keyed by the topic's UUID); 0 for
	 * a replicated one (natsepoch.c). */
	uint32_t own_gen;
	struct nats_parts *parts;	/* owned; NULL: the head is the payload */
};

/* An origin of a topic's chunks (an entry of its origin table). */
struct nats_origin {
	uuid_t stream, topic;
	/* One past the highest origin offset of this origin the topic
	 * holds (0: none), from the chunks indexed: its mark
	 * (docs/nats.md, "Replication into NATS"). */
	uint64_t next;
};

/*
 * What a daemon knows of one topic incarnation's messages: its chunk
 * index, fed by its stream's consumer in sequence order. Kept by the
 * stream (found by the topic's UUID, made when its first chunk or its
 * topic shows up, whichever comes first) and referenced by the topic.
 */
struct nats_tdata {
	uuid_t uuid;
	atomic_int refs;
	pthread_mutex_t mu;	/* everything below */
	pthread_cond_t cv;	/* last_seq moved (CLOCK_MONOTONIC) */
	struct nats_chunk *c;
	size_t n, cap;
	uint64_t last_seq;	/* of the last chunk delivered */
	uint64_t next_off, next_pos, own_next, mtime_ns;
	/* The own origin of the last own chunk indexed: its epoch and key
	 * (0 and the topic's UUID before any); own_next counts in it. */
	uint32_t own_gen;
	uuid_t own_key;
	/* The latest epoch the bucket's key of the topic names (0: none):
	 * the next own chunk starts it unless the chunks reached it
	 * (natsepoch.c, docs/nats.md "Durability"). */
	uint32_t epoch_gen;
	uuid_t epoch_key;
	/* Its stream went back and this topic's new epoch is not written
	 * yet (natsseq.c sets it before the index is read again, clears it
	 * once the epoch is known here): an own chunk published meanwhile
	 * would take a lost offset of the old key, which a replica holding
	 * the lost message drops; so own appends wait (natstopic.c). Bits:
	 * OWED; HELD while a verdict waits for its confirmation. */
	uint8_t epoch_due;
	struct nats_origin *origins;
	size_t norigins, ocap;
	/* The topic made of it (not a reference; cleared by its destroy),
	 * whose on_append a new chunk calls. */
	struct topic *topic;
	bool damaged_logged;
	bool purged;		/* its topic removed: nothing more indexed */
	/* Times the index was emptied to be read again (natsseq.c); an
	 * open file that read before sees ESTALE (natsread.c). */
	uint64_t gen;
};

/* One subscription of a stream's consumer (the closure of its callbacks).
 * A stream has one current one; one retired by an index rebuild
 * (nats_stream_rebuild) is kept until the stream goes, its messages
 * ignored from the moment it is retired. */
struct nats_follow {
	struct nats_stream *st;
	natsSubscription *sub;
	atomic_bool retired;	/* its messages are ignored */
	atomic_int active;	/* callbacks running now */
	bool completed;		/* closed: no callback will run (st->mu) */
	struct nats_follow *next;	/* the stream's retired ones */
};

/* A stream's home state (stream.home). */
struct nats_stream {
	struct nats_cluster *nc;
	char jsname[48];	/* SFS-<uuid> */
	char subject[64];	/* sfs.<uuid>.> */
	char key[NATS_KEY_MAX];	/* s.E(name) */
	uint64_t rev;		/* bucket revision of the metadata known here */
	json_t *meta;		/* its value, or NULL (s->lock; natsmerge.h) */
	bool gone;		/* removed by another daemon: remove nothing */
	struct nats_follow *fol;	/* the current subscription, or NULL */
	struct nats_follow *retired;	/* earlier ones (rebuilds) */
	pthread_mutex_t mu;	/* the table below, caught_up, fols */
	pthread_cond_t cv;	/* caught_up or a completion (CLOCK_MONOTONIC) */
	bool caught_up;		/* the consumer delivered what was there */
	bool data_lost;		/* its data stream gone: emptied for good */
	atomic_uint_fast64_t bucket_seen;	/* nats_cluster.bucket_gen when last seen */
	/* A topic this daemon had removed came back with a bucket that
	 * went back (its removal lost in a crash, its messages with it):
	 * its chunks, passed by the consumer, are read again (natsseq.c). */
	atomic_bool reindex_due;
	/* Went back: its topics' own origins owe a new epoch (natsseq.c). */
	atomic_bool epochs_due;
	/* A check found it went back then (mono_ns; 0: none), on message
	 * BACK (a delivered one, or a topic's last chunk): asked about
	 * again NATS_CONFIRM_MS later (natsseq.c). The watch thread's. */
	uint64_t back_since;
	struct nats_back {
		bool chunk;
		uint64_t seq, ts;	/* ts: a chunk's Sfs-Ts */
		int64_t time;		/* a delivered message's JetStream time */
		uuid_t topic;		/* a chunk's */
	} back;
	/* Its data stream is kept by a JetStream cluster (a raft group,
	 * even of one replica): a topic's messages are removed one by one,
	 * never purged (nats_seqs_delete). Set when it is followed. */
	atomic_bool raft;
	/* The last message each of the consumer's last NATS_SEEN_MAX
	 * incarnations delivered (libnats makes an ordered consumer anew
	 * after a reconnection or a gap; its consumer sequences start again
	 * at 1), newest first: stream and consumer sequence, JetStream's
	 * time (ns). What natsseq.c asks JetStream about. */
	struct nats_seen {
		uint64_t seq, cseq;
		int64_t time;
	} seen[NATS_SEEN_MAX];
	struct nats_tdata **tdata;	/* sorted by UUID, one reference each */
	size_t ntdata, tcap;
	/* Its entry in the status publisher's table, or NULL (under
	 * nc->status_mu; natsstatus.c). */
	struct nats_status_entry *sentry;
};

/* A topic of a NATS-backed stream. */
struct nats_topic {
	struct topic base;
	struct nats_cluster *nc;
	struct nats_tdata *td;	/* a reference */
	char jsname[48];
	char subject[96];	/* sfs.<stream uuid>.<topic uuid> */
	char psubject[100];	/* that and ".p": its chunks' parts */
	char key[NATS_KEY_MAX];	/* t.<stream uuid>.E(name) */
	char *path;		/* "/<cluster>/<stream>/<topic>", for log lines; owned */
	pthread_mutex_t append_mu;	/* this daemon's writers, one at a time */
	pthread_mutex_t mu;	/* rev, change_ns */
	uint64_t rev;		/* bucket revision of its metadata known here */
	uint64_t ctime_ns, change_ns;
	atomic_uint_fast64_t bucket_seen;	/* nats_cluster.bucket_gen when last seen */
	atomic_bool deleted;	/* appends fail (-ENOENT) */
	atomic_bool gone;	/* removed by another daemon: remove nothing */
};

/* ---- natsread.c ----------------------------------------------------------- */

/*
 * nats_topic_read - topic_ops.read of a NATS-backed topic: up to SIZE bytes
 * of topic T's file from byte VPOS into BUF, as far as the index holds
 * (0 at its end); HINT (may be NULL) keeps the last piece this open file
 * read (freed by the caller's hint). Bytes read, or a negative errno
 * (-EIO: NATS did not answer in time; -EINTR: a signal to the caller).
 */
ssize_t nats_topic_read(struct topic *t, uint64_t vpos, char *buf, size_t size,
			struct topic_read_hint *hint);

/*
 * nats_topic_read_batch - topic_ops.read_batch of a NATS-backed topic:
 * messages from offset FROM into B (at most MAX_MSGS, and MAX_BYTES once
 * one is there), with their origins and timestamps, for replication.
 * 0 (B->n may be 0 at the end) or a negative errno.
 */
int nats_topic_read_batch(struct topic *t, uint64_t from, size_t max_msgs, size_t max_bytes,
			  struct topic_batch *b);

/* ---- natscluster.c ------------------------------------------------------ */

/* nats_encode - E(NAME) into OUT (N bytes): A-Z a-z 0-9 - kept, any other
 * byte "_" and two hex digits. 0, or -ENAMETOOLONG. */
int nats_encode(const char *name, char *out, size_t n);

/* nats_decode - the name E(IN) stands for, into OUT (N bytes). 0, or
 * -EINVAL when IN is no encoding of a valid name. */
int nats_decode(const char *in, char *out, size_t n);

/* nats_status_errno - a negative errno for a libnats status S and
 * JetStream error EC (0 if none): -ENOENT for "not found", -ETIMEDOUT,
 * -EIO otherwise. */
int nats_status_errno(natsStatus s, jsErrCode ec);

/* nats_limit_errno - the errno a JetStream refusal EC means to a writer:
 * -EDQUOT for an account limit (max_storage, max_streams, max_consumers:
 * JetStream's accounts are quotas), -ENOSPC when the servers' own store
 * or memory is full, -EIO for any other (docs/nats.md, "df"). */
int nats_limit_errno(jsErrCode ec);

/* nats_jsopts - JetStream options whose wait is what is left until
 * DEADLINE_NS (mono_ns), at least 1 ms. */
void nats_jsopts(jsOptions *jo, uint64_t deadline_ns);

/* ---- natsstream.c ------------------------------------------------------- */

/*
 * nats_stream_new - a stream NAME of CL kept in NATS, with META (a
 * stream's JSON) loaded, metadata revision REV, its data stream followed
 * by a consumer. CREATE: make the data stream first (a new stream).
 * 0 and a stream with one reference in *OUT, or a negative errno
 * (nothing made). Logs the reason.
 */
int nats_stream_new(struct cluster *cl, const char *name, json_t *meta, uint64_t rev,
		    bool create, struct stream **out);

/* nats_stream_free_graves - free the streams kept for their consumer's
 * close (the cluster's close, once the connection is closed). */
void nats_stream_free_graves(struct nats_cluster *nc);

/* ---- natsfollow.c ------------------------------------------------------- */

/*
 * nats_stream_follow - follow NATS-backed stream S's data stream from its
 * first message into its topics' indexes (a new current subscription;
 * st->fol was NULL). CREATE: make the data stream first. 0 or a negative
 * errno (logged): -ENOENT the data stream is not there.
 */
int nats_stream_follow(struct stream *s, bool create);

/*
 * nats_follow_close - close FOL's subscription (nats_consumer_close); its
 * close is reported to its on_complete later (fol->completed), its
 * callbacks end by then. fol->sub is NULL after it.
 */
void nats_follow_close(struct nats_follow *fol);

/* nats_stream_wait_caught_up - wait until S's consumer delivered what the
 * data stream held when it was made, until DEADLINE_NS (mono_ns). 0 or
 * -ETIMEDOUT. */
int nats_stream_wait_caught_up(struct stream *s, uint64_t deadline_ns);

/* nats_stream_tdata - the index of topic incarnation UUID of S, made if
 * missing: a new reference (nats_tdata_put), or NULL (out of memory). */
struct nats_tdata *nats_stream_tdata(struct nats_stream *st, const uuid_t uuid);

/*
 * nats_chunk_settle - chunk SEQ of TD is stored in JetStream (its
 * acknowledgement came, or it was found as the writer's own): wait until
 * this daemon's consumer delivered it, until DEADLINE (mono_ns). 0 (it is
 * indexed: served; or the topic was removed meanwhile, here or by another
 * daemon: the append came first and counts, nothing of the topic is
 * served any more), -EAGAIN (delivered but skipped: it does not follow
 * the chunk before it, the loser of a race JetStream let through; its
 * lines must be published again), -ETIMEDOUT (not delivered in time),
 * -EINTR (the caller's request interrupted, cluster_interrupted).
 */
int nats_chunk_settle(struct nats_tdata *td, uint64_t seq, uint64_t deadline);

/* nats_chunk_find - the chunk at stream sequence SEQ in TD's index
 * (td->mu held; borrowed, valid while it is), or NULL. */
const struct nats_chunk *nats_chunk_find(const struct nats_tdata *td, uint64_t seq);

/*
 * nats_chunk_mine - chunk SEQ that TD's index holds is the one this
 * daemon published with Sfs-Ts TS (ns): true, or false when the index
 * holds another chunk at SEQ (its stream went back: a crash of every
 * server gave SEQ to another message, natsseq.c) or none. True also
 * when TD's topic was removed (nothing to tell: none of it is served).
 */
bool nats_chunk_mine(struct nats_tdata *td, uint64_t seq, uint64_t ts);

/*
 * nats_stream_rebuild - S's chunk index is read again from JetStream:
 * its consumer retired (its callbacks ignored from now on; this waits,
 * up to NATS_STOP_WAIT_MS, for one in flight), every topic's index and
 * the cache's pieces of S emptied, then (FOLLOW) a new consumer from the
 * first message. For a stream whose sequences went back, or (not FOLLOW)
 * whose data stream is gone (natsseq.c). 0, or a negative errno
 * (logged): -EBUSY a callback did not end in time (the consumer retired,
 * the indexes as they were: the next check rebuilds), -ENOMEM, -EIO no
 * new consumer (the index stays empty until a rebuild succeeds).
 */
int nats_stream_rebuild(struct stream *s, bool follow);


/* nats_cond_init_mono - initialise CV to time its waits on CLOCK_MONOTONIC
 * (natstdata.c). */
void nats_cond_init_mono(pthread_cond_t *cv);

/* ---- natsseq.c ---------------------------------------------------------- */

/*
 * nats_seq_suspect - something NC saw may mean a stream's sequences went
 * back (a reconnection; a chunk or a tail that is not what the index
 * says): the watch thread checks every stream of the cluster soon
 * (nats_seq_check). Any thread; never blocks.
 */
void nats_seq_suspect(struct nats_cluster *nc);

/*
 * nats_seq_check - for each stream of NC's cluster, is the last chunk of
 * each topic's index still what JetStream holds at that sequence (its
 * subject, its Sfs-Ts), or is the stream's last sequence below it? One that
 * went back (a crash of every server lost acknowledged messages and gave
 * their sequences again: docs/nats.md, "Durability") is logged as an
 * error and rebuilt (nats_stream_rebuild), once a check NATS_CONFIRM_MS
 * later confirms it. The watch thread's, when nats_seq_suspect asked. 0;
 * 1: a verdict waits for its confirmation, -EAGAIN: NATS did not answer
 * (check again later either way; writers wait on a verdict pending).
 */
int nats_seq_check(struct nats_cluster *nc);

/* ---- natsepoch.c: natsepoch.h ------------------------------------------ */

#include "natsepoch.h"

/* ---- natsutil.c: natssub.h, natskv.h ------------------------------------ */

#include "natssub.h"
#include "natskv.h"

/* ---- natstopic.c -------------------------------------------------------- */

/*
 * nats_topic_make - the topic NAME of stream S from its metadata META
 * (made by nats_topic_meta), bucket revision REV. 0 and a topic with one
 * reference in *OUT, -EPROTO (META is no topic's), -ENOMEM.
 */
int nats_topic_make(struct stream *s, const char *name, json_t *meta, uint64_t rev,
		    struct topic **out);


/* nats_topic_key - the bucket key of topic NAME of stream S into OUT
 * (NATS_KEY_MAX bytes). 0 or -ENAMETOOLONG. */
int nats_topic_key(const struct stream *s, const char *name, char *out);

/* nats_topic_of - the NATS topic T is (T must be one). */
struct nats_topic *nats_topic_of(struct topic *t);

/* Where the next chunk of a topic goes: after the chunk at stream
 * sequence SEQ (0: none), at offset OFF and byte position POS, with OWN
 * messages of the topic's own origin before it. */
struct nats_tail {
	uint64_t seq, off, pos, own;
};

/* nats_wait_indexed - wait until TD has indexed stream sequence SEQ, its
 * topic is removed (td->purged), or DEADLINE (mono_ns) passes, whichever
 * comes first. */
void nats_wait_indexed(struct nats_tdata *td, uint64_t seq, uint64_t deadline);

/*
 * nats_read_tail - the subject's last chunk, read from JetStream (within
 * DEADLINE, mono_ns): where the next one goes into *TL, whether its
 * Sfs-Writer is WRITER (*MINE), its sequence in *SEQ (0 and *TL zeroed
 * when the subject is empty). 0, or a negative errno (-ETIMEDOUT, -EIO:
 * NATS away; -EPROTO: not a chunk).
 */
int nats_read_tail(struct nats_topic *nt, const char *writer, uint64_t deadline,
		   struct nats_tail *tl, bool *mine, uint64_t *seq);

/* nats_writer_id - a new Sfs-Writer value of this daemon into OUT (N
 * bytes, 64 are enough): its instance UUID and a counter. */
void nats_writer_id(struct nats_cluster *nc, char *out, size_t n);

struct nats_body;	/* natsparts.c */

/*
 * nats_chunk_publish - one try at publishing the head of a chunk of B's
 * bytes (N lines, each ending in '\n'; its payload, or its parts named
 * by Sfs-Parts: nats_body_make) as a chunk of NT after TL (the expected
 * last subject sequence and the headers of docs/nats.md, "Chunks"), with
 * Sfs-Own OWN_AFTER, Sfs-Origin ORIGIN ("stream-uuid topic-uuid
 * first-origin-offset"), Sfs-Own-Gen OWN_GEN when not 0 (an own chunk of
 * a later epoch, natsepoch.c), Sfs-Ts TS (ns since the epoch), Sfs-Writer
 * WRITER, waiting for the acknowledgement until DEADLINE (mono_ns).
 * Nats-Msg-Id is WRITER too: JetStream answers a chunk published again
 * after a lost acknowledgement with the first one's sequence.
 * 0 (stored at sequence *SEQ), -EAGAIN (TL is stale, no answer in time
 * and the chunk may be stored: nats_read_tail says which, or a refusal
 * of a moment such as a leader election), -ENOENT (the data stream is
 * gone), -EIO (too large, or no room left in JetStream; logged).
 */
int nats_chunk_publish(struct nats_topic *nt, const struct nats_body *b, size_t n,
		       const struct nats_tail *tl, uint64_t own_after, const char *origin,
		       uint32_t own_gen, uint64_t ts, const char *writer, uint64_t deadline,
		       uint64_t *seq);

/* ---- natsrepl.c --------------------------------------------------------- */

/*
 * nats_append_replicated - the append_replicated operation of a NATS
 * topic (fs/topic.h, topic_append_replicated): the batch is checked
 * against the topic's marks (fs/marks.h, from the chunks this daemon has
 * indexed), and the messages above them are published as chunks, one
 * per run of one origin and one timestamp cut to fit one NATS message (a
 * longer message: a chunk of its own, in parts), each with the expected
 * last subject sequence its marks were computed at, so no message is
 * stored twice whichever daemons apply at once (docs/nats.md,
 * "Replication into NATS"). Errors as topic_append_replicated's, and
 * -EMSGSIZE (a message longer than nats_chunk_max). Unlike the local
 * log's, an error after the first chunk leaves the chunks before it
 * stored (*APPLIED counts them): a re-send drops them by the marks.
 */
int nats_append_replicated(struct topic *t, const struct topic_msg *msgs, size_t n,
			   size_t *applied, char *err, size_t errlen);

/* ---- natstdata.c: a chunk indexed ---------------------------------------- */

/* nats_tdata_add - chunk C (ORIGIN its origin) delivered for TD: indexed
 * if it follows the last one, readers and writers waiting are woken and
 * the topic's on_append called. C->parts (malloc'd or NULL) is TD's from
 * now: kept in the index or freed. Any thread but one holding TD's lock. */
void nats_tdata_add(struct nats_tdata *td, const struct nats_chunk *c,
		    const struct nats_origin *origin);

/* ---- natstopic.c: a chunk's headers ------------------------------------- */

/* nats_chunk_headers - read chunk C and its origin O from the headers of
 * M (SEQ its stream sequence, LEN its payload bytes if it has no Sfs-Len).
 * 0 or -EPROTO (not a chunk). */
int nats_chunk_headers(natsMsg *m, uint64_t seq, struct nats_chunk *c,
		       struct nats_origin *o);

/* ---- natsparts.c: natsparts.h ------------------------------------------ */

#include "natsparts.h"

/* ---- natslease.c: natslease.h; natsstatus.c: natsstatus.h ------------- */

#include "natslease.h"
#include "natsstatus.h"

/* ---- natswatch.c, natsbucket.c: natswatch.h --------------------------- */

#include "natswatch.h"

#endif
