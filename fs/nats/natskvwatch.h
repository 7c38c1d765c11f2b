/*
 * natskvwatch.h - streamfs' own watcher of a NATS-backed cluster's
 * key-value bucket (natskvwatch.c), in place of libnats' kvWatcher: an
 * ordered push consumer on the bucket's stream KV_<bucket>, filtered on
 * $KV.<bucket>.<filter>, that delivers each key's last value (deliver
 * policy last per subject), then every change, then the same again from
 * where it was if it must make its consumer anew. It is closed without
 * libnats' unsubscribe (whose read of the consumer's name races libnats'
 * own remaking of an ordered consumer, a use after free in libnats 3.4.1):
 * docs/nats.md, "What each daemon caches", "A watcher made anew".
 */
#ifndef STREAMFS_NATSKVWATCH_H
#define STREAMFS_NATSKVWATCH_H

#include <stdbool.h>
#include <stdint.h>

#include <nats/nats.h>

struct nats_cluster;

/* What a bucket entry says, from its KV-Operation header (none: a put;
 * "DEL": a delete; "PURGE": a purge), as libnats maps it. */
enum nats_kvop { NATS_KV_PUT, NATS_KV_DELETE, NATS_KV_PURGE };

/* nats_kv_op - what the bucket message M says (its KV-Operation header,
 * as libnats' _getKVOp reads it): a put without one. */
enum nats_kvop nats_kv_op(natsMsg *m);

/* One entry a watcher delivers. Owned by the caller: nats_kventry_free. */
struct nats_kventry {
	const char *key;	/* within the bucket ("s.x"), NUL-terminated */
	const char *val;	/* LEN bytes, not NUL-terminated; none for a delete */
	int len;
	uint64_t rev;		/* its revision: the stream sequence in KV_<bucket> */
	int64_t time;		/* JetStream's time of it, ns since the epoch */
	enum nats_kvop op;
	natsMsg *msg;		/* holds key and value */
};

/* Pending limits of a watcher's subscription (libnats drops past them):
 * messages and bytes. JetStream's flow control keeps what the servers
 * send ahead of the reader under 32 MiB (nats-server 2.9), so the bytes
 * are over that; a drop anyway makes the consumer anew (docs/nats.md). */
#define NATS_KVW_MAX_MSGS 262144
#define NATS_KVW_MAX_BYTES (64 * 1024 * 1024)

/* Options of a watcher; zeroes are the defaults. */
struct nats_kvw_opts {
	bool headers_only;	/* entries without their values (len 0) */
	int max_msgs, max_bytes;	/* pending limits; 0: NATS_KVW_MAX_* */
	int64_t wait_ms;	/* each request to NATS (ms); 0: NATS_STOP_WAIT_MS */
};

struct nats_kvwatch;

/*
 * nats_kvwatch_open - a watcher of NC's bucket (NC's conn, js and bucket
 * are used) on keys matching FILTER (a NATS subject within the bucket:
 * ">" every key, "t.<uuid>.>" a stream's topics), options O (NULL:
 * defaults). Its consumer is made (one request) and asked how many
 * entries it holds (one more: none, the marker comes first), each within
 * O's wait_ms. 0 with *OUT (freed by nats_kvwatch_close), or a negative
 * errno: -EINVAL (a bad filter, logged), -ETIMEDOUT (NATS did not answer
 * in time), -EDQUOT (the account's max_consumers), -EIO, -ENOMEM.
 */
int nats_kvwatch_open(struct nats_kvwatch **out, struct nats_cluster *nc, const char *filter,
		      const struct nats_kvw_opts *o);

/*
 * nats_kvwatch_next - the watcher's next entry, waiting TIMEOUT_MS (>= 1)
 * at most for one; more when it must first make its consumer anew (a
 * message dropped or a gap: from the revision after the last it
 * delivered): the old one's removal (2 x NATS_CONSUMER_RM_WAIT_MS at
 * most) and two requests of its wait_ms at most. 0 with *OUT an entry
 * (the caller's: nats_kventry_free), or 0 with *OUT NULL once: the
 * marker, every entry the bucket held when the watcher was made has been
 * delivered (at once when it held none; else after the entry whose
 * JetStream metadata says none is pending after it, or after one more
 * entry than the first said were pending after it, as libnats'
 * kvWatcher_Next computes it). Negative errno: -ETIMEDOUT nothing within
 * TIMEOUT_MS; -EAGAIN its consumer must be made anew and NATS is away or
 * did not answer, or memory ran out (the next call tries again, from the
 * same place); -EIO another NATS error (the next call makes the consumer
 * anew, from the same place); -EINVAL a bad TIMEOUT_MS (logged). One
 * thread at a time.
 */
int nats_kvwatch_next(struct nats_kvwatch *w, struct nats_kventry **out, int64_t timeout_ms);

/*
 * nats_kvwatch_close - free W (NULL: nothing). Its consumer is removed the
 * way of nats_consumer_close (natshome.h): at most two requests of
 * NATS_CONSUMER_RM_WAIT_MS each, none while NC is not connected or a
 * removal went unanswered in the last NATS_STOP_WAIT_MS.
 */
void nats_kvwatch_close(struct nats_kvwatch *w);

/* nats_kvwatch_remakes - how many times W made its consumer anew itself
 * (a message dropped by libnats, a gap, an error): for logs and tests. */
uint64_t nats_kvwatch_remakes(const struct nats_kvwatch *w);

/* nats_kvwatch_dropped - how many messages libnats dropped on W's
 * subscription (0 without one): for tests. */
int64_t nats_kvwatch_dropped(const struct nats_kvwatch *w);

/* nats_kventry_free - free entry E and its message (NULL: nothing). */
void nats_kventry_free(struct nats_kventry *e);

#endif
