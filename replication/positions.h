/*
 * positions.h - durable replication positions (docs/replication.md): per source
 * stream, per replica, per topic, the next source offset to send. Kept in
 * <stream>/.positions.json, replaced atomically (fs/metafile.c).
 *
 * Why positions may lag the replica without harm: the replica drops
 * anything at or below its per-origin high-water mark (fs/topic.h), so a
 * position saved late only costs re-sending messages that are then
 * dropped; a position saved early could lose messages, so a position is
 * saved only after the replica has applied what it covers.
 */
#ifndef STREAMFS_POSITIONS_H
#define STREAMFS_POSITIONS_H

#include <jansson.h>

#include "../fs/stream.h"
#include "replica.h"

/*
 * positions_load - read S's position file into its replicas (matched by
 * cluster/stream name; entries for replicas no longer configured are
 * ignored). A missing file is not an error. Takes S->lock.
 * Returns 0 or a negative errno (-EINVAL for an unreadable file, logged).
 */
int positions_load(struct stream *s);

/*
 * Saving is two steps, so that the file is written with no stream lock
 * held (writers of a replicated stream take that lock):
 *
 * positions_snapshot_locked - if s->positions_dirty (and S is not
 * deleted), S's positions as JSON (the caller owns it and passes it to
 * positions_write), dirty cleared, *GEN its generation. Else NULL.
 * Caller holds S->lock.
 *
 * positions_write - write SNAP (taken over) to .positions.json atomically
 * (DURABLE: fsynced, the strict fsync policy) unless a newer generation is
 * already there. Takes s->positions_mu, then briefly S->lock on failure.
 * Returns 0 or a negative errno (the old file stays, dirty is set again,
 * one log line).
 */
json_t *positions_snapshot_locked(struct stream *s, uint64_t *gen);
int positions_write(struct stream *s, json_t *snap, uint64_t gen, bool durable);

/*
 * position_find - the position of topic TOPIC in replica R, added at offset
 * 0 if missing (-ENOMEM if that fails: returns NULL). If INCARNATION differs
 * from the stored one, the topic was re-created on the source: the position
 * restarts at 0 for the new incarnation. Caller holds the stream lock.
 */
struct replica_position *position_find(struct replica *r, const char *topic,
				       const uuid_t incarnation);

/*
 * position_restart - the replica answered that the batch P sent from
 * source offset POS starts an origin past its first (-ENODATA): its topic
 * lacks what came before (removed there and made again). Moves P back to
 * offset 0 (the whole topic is sent again; the replica drops what it has)
 * if P is still at POS and POS is past the position of the last such move
 * not yet got past (restart_at): at most once per position, so a source
 * that lacks the start itself gets an error that shows, not a loop. True
 * if moved. Caller holds the stream lock.
 */
bool position_restart(struct replica_position *p, uint64_t pos);

/*
 * position_acked - the replica applied P's batch up to source offset NEXT
 * (exclusive), BYTES topic-file bytes (lines and their newlines): P moves
 * there, and forgets its restart point once past it. Caller holds the
 * stream lock.
 */
void position_acked(struct replica_position *p, uint64_t next, uint64_t bytes);

/*
 * positions_pending - set R->pending_msgs and R->pending_bytes (messages
 * and topic-file bytes from R's positions to the ends of TOPICS, N of
 * them) and return the message count. Caller holds the stream lock.
 */
uint64_t positions_pending(struct replica *r, struct topic **topics, int n);

/*
 * positions_lanes_here - may this daemon run S's replication lanes now
 * (fs/stream.h, lanes_epoch: another daemon serving the same NATS
 * cluster may hold them; docs/nats.md, "The replication lease")? With
 * LOAD, after a takeover the positions are loaded again first
 * (positions_load): the daemon that held the lanes moved them, and
 * resuming from older ones only sends again what the replica's marks
 * drop. No lock held.
 */
bool positions_lanes_here(struct stream *s, bool load);

#endif
