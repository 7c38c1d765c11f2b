/*
 * natssub.h - the end of a NATS-backed cluster's JetStream subscriptions
 * (fs/nats/natsutil.c): a consumer closed and removed without libnats'
 * unsubscribe, and its subscription kept until libnats' reader is done
 * with it. Included by natshome.h, after the types it names; only
 * fs/nats/ includes it.
 */
#ifndef STREAMFS_NATSSUB_H
#define STREAMFS_NATSSUB_H

/*
 * nats_consumer_close - close SUB, a JetStream subscription of NC (a data
 * stream's consumer, the bucket's watcher, natskvwatch.c), and remove its
 * consumer; SUB is no longer the caller's (kept until libnats' reader is
 * surely done with it, nats_parked_release, which runs here first).
 * Never through natsSubscription_Unsubscribe
 * or _Drain: for an ordered consumer those delete the consumer by a name
 * libnats 3.4 reads without its lock while its own thread, making the
 * consumer anew after missed heartbeats, frees it (a use after free seen
 * under AddressSanitizer). The consumer is removed by the name libnats
 * gives under its lock (natsSubscription_GetConsumerInfo), once the
 * subscription is closed, each request waiting NATS_CONSUMER_RM_WAIT_MS
 * at most: one left (NATS away, or made anew meanwhile) would count
 * against an account's max_consumers until the servers remove it, 5 s
 * later (docs/nats.md, "Each stream's chunk index"). An unanswered
 * request skips the removals of the next NATS_STOP_WAIT_MS, so a stop
 * with NATS away does not wait once per stream. Bounded: two requests
 * of NATS_CONSUMER_RM_WAIT_MS at most.
 */
void nats_consumer_close(struct nats_cluster *nc, natsSubscription *sub);

/*
 * nats_parked_release - let go of the subscriptions nats_consumer_close
 * closed and kept: those closed before a round trip to NC's server
 * (natsConnection_FlushTimeout, NATS_CONSUMER_RM_WAIT_MS at most) that
 * came back, or all of them when ALL (the connection closed: libnats'
 * reader thread is joined). Why: libnats 3.4.1's reader takes a
 * subscription from its table and drops the table's lock before it locks
 * the subscription, holding no reference (conn.c, natsConn_processMsg);
 * the last reference dropped in between freed it under the reader, which
 * then waited for good on a freed lock (seen: every request of a daemon
 * timing out, and a stop that never ended). The reader handles what it
 * reads in order, so once the server's answer to a ping sent after the
 * close is handled, no message taken before it is still in its hands.
 * The ping is not sent while NATS is away, nor before nc->consumer_rm_after
 * (a request unanswered in the last NATS_STOP_WAIT_MS; an unanswered ping
 * sets it too), so a stop with NATS not answering does not wait once per
 * stream. Returns how many are still kept (none after ALL).
 */
size_t nats_parked_release(struct nats_cluster *nc, bool all);

#endif
