/*
 * apply.h - the receiving side of replication: what a replica stream does
 * with messages offered to it, whether they come from a stream of this
 * daemon or through the gateway from another host. One code path for both,
 * so the allow-list and exactly-once (docs/replication.md, "Allow-list" and
 * "Exactly once") are enforced where the replica is, by the replica.
 */
#ifndef STREAMFS_APPLY_H
#define STREAMFS_APPLY_H

#include <stddef.h>
#include <stdint.h>
#include <uuid/uuid.h>

#include "../fs/namespace.h"

/*
 * apply_open - the replica stream DST_CLUSTER/DST_STREAM of this daemon,
 * checked to accept SRC_CLUSTER/SRC_STREAM: it must exist, be local, and
 * list the source in its .upstreams. Returns 0 with a new reference in *OUT
 * (stream_put it) and the stream's UUID in UUID, or -ENOENT (no such local
 * stream) or -EACCES (not an upstream), with one line in ERR (ERRLEN bytes).
 */
int apply_open(struct sfs_namespace *ns, const char *src_cluster,
	       const char *src_stream, const char *dst_cluster,
	       const char *dst_stream, struct stream **out, uuid_t uuid,
	       char *err, size_t errlen);

/*
 * apply_topic - make sure topic NAME exists in replica stream T. Made if
 * missing, owned by T's owner and group, with the permission bits of MODE
 * (the source topic's) less setuid, setgid and sticky; UID/GID (the source
 * topic's owner) are not used: a peer picks no local owner and replication
 * never widens access (docs/security.md). A topic that exists gets
 * -EACCES if it lets group or others read what MODE does not, or if it
 * belongs to someone other than T's owner while MODE lets no others read
 * (its owner would read what the source keeps from others); its mode is
 * never changed. A topic is made only while the stream holds fewer than
 * TOPIC_MAX_REPLICATED topics (fs/topic.h), else -ENOSPC. Returns 0 or a
 * negative errno (-EACCES, -ENOSPC, or from topic creation: -EINVAL bad
 * name, ...) with a line in ERR.
 */
int apply_topic(struct sfs_namespace *ns, struct stream *t, const char *name,
		uint32_t uid, uint32_t gid, uint32_t mode, char *err,
		size_t errlen);

/*
 * apply_append - append the N messages MSGS to topic NAME of replica T
 * (created as by apply_topic if missing); those at or below the topic's
 * high-water mark for their origin are dropped (docs/replication.md).
 * *APPLIED (may be NULL) gets the number appended. All or nothing.
 * Returns 0 or a negative errno with a line in ERR: apply_topic's, -EPROTO
 * or -ENODATA (a batch that cannot be true, topic_append_replicated; ERR
 * begins "refused by the replica:"), -ENOSPC, -EIO, -ENOENT for a topic
 * deleted meanwhile.
 */
int apply_append(struct sfs_namespace *ns, struct stream *t, const char *name,
		 uint32_t uid, uint32_t gid, uint32_t mode,
		 const struct topic_msg *msgs, size_t n, size_t *applied,
		 char *err, size_t errlen);

#endif
