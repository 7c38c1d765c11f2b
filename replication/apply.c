/*
 * apply.c - the receiving side of replication (apply.h). Called by the
 * replication thread for replicas in this daemon and by the gateway for
 * replicas whose source is on another host.
 */
#include "apply.h"
#include "../fs/stats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int apply_open(struct sfs_namespace *ns, const char *src_cluster,
	       const char *src_stream, const char *dst_cluster,
	       const char *dst_stream, struct stream **out, uuid_t uuid,
	       char *err, size_t errlen)
{
	*out = NULL;
	struct stream *t = ns_stream(ns, dst_cluster, dst_stream);
	if (!t) {
		snprintf(err, errlen, "replica stream /mapr/%s/%s does not exist",
			 dst_cluster, dst_stream);
		return -ENOENT;
	}
	bool allowed = false;
	pthread_mutex_lock(&t->lock);
	for (int i = 0; i < t->nupstreams && !allowed; i++)
		allowed = !strcmp(t->upstreams[i].cluster, src_cluster) &&
			  !strcmp(t->upstreams[i].stream, src_stream);
	uuid_copy(uuid, t->uuid);
	bool deleted = t->deleted;
	pthread_mutex_unlock(&t->lock);
	if (deleted) {
		stream_put(t);
		snprintf(err, errlen, "replica stream /mapr/%s/%s does not exist",
			 dst_cluster, dst_stream);
		return -ENOENT;
	}
	if (!allowed) {
		stream_put(t);
		snprintf(err, errlen, "refused by the replica: /mapr/%s/%s is not in /mapr/%s/%s/.upstreams",
			 src_cluster, src_stream, dst_cluster, dst_stream);
		return -EACCES;
	}
	*out = t;
	return 0;
}

/*
 * The topic NAME of T, created if missing; a new reference in *OUT. A topic
 * made by replication belongs to the replica stream's owner and group, and
 * has the source topic's permission bits without setuid, setgid or sticky
 * (MODE as the source, or a peer, says): a peer picks no local owner, and
 * replication never widens access (docs/security.md). The source's owner
 * (UID/GID) is not used.
 *
 * A topic that exists already gets no message that the source keeps from
 * its readers: if it lets group or others read what the source topic
 * does not (a chmod of the source that narrowed it, or a topic made
 * first on the replica), or if it belongs to someone other than the
 * replica stream's owner (who reads it whatever its mode) while the
 * source lets no others read, the messages are refused (-EACCES, the
 * reason in ERR) until it is removed there (replication makes it again)
 * or narrowed (chmod) or given to the stream's owner (chown). Its mode is
 * never changed here: a peer picks no local mode, not even a narrower one.
 */
static int get_topic(struct sfs_namespace *ns, struct stream *t, const char *name,
		     uint32_t uid, uint32_t gid, uint32_t mode, struct topic **out,
		     char *err, size_t errlen)
{
	(void)uid;
	(void)gid;
	pthread_mutex_lock(&t->lock);
	uid_t owner = t->uid;
	gid_t group = t->gid;
	pthread_mutex_unlock(&t->lock);
	mode_t src = mode & 0777;
	bool created = false;
	uint32_t max = ns->max_replicated_topics ? ns->max_replicated_topics :
							       TOPIC_MAX_REPLICATED;
	/* The usual case, a topic that is there: one lookup, no creation. */
	*out = stream_find_topic(t, name);
	if (!*out) {
		pthread_mutex_lock(&t->lock);
		size_t nt = t->ntopics;
		pthread_mutex_unlock(&t->lock);
		if (nt >= max) {
			snprintf(err, errlen, "refused by the replica: topic %s cannot be made there: the stream holds %zu topics, the most replication makes one more in",
				 name, nt);
			return -ENOSPC;
		}
		int rc = stream_topic_get_or_create(t, name, owner, group, src, false,
						    out, &created);
		if (rc < 0) {
			snprintf(err, errlen, "topic %s: cannot be created on the replica: %s", name,
				 strerror(-rc));
			return rc;
		}
	}
	if (created)
		return 0;
	struct topic *dst = *out;
	if (dst->uid != owner && !(src & 0004)) {
		snprintf(err, errlen, "refused by the replica: topic %s there belongs to uid %u, not to the replica stream's owner (uid %u), and the source topic is not readable by others (mode %03o): remove it there, replication makes it again",
			 name, (unsigned)dst->uid, (unsigned)owner, (unsigned)src);
		topic_put(dst);
		*out = NULL;
		return -EACCES;
	}
	mode_t cur = dst->mode & 0777;
	if (cur & 0044 & ~src) {
		snprintf(err, errlen, "refused by the replica: topic %s there lets %s read (mode %03o), the source topic does not (mode %03o): remove it there, replication makes it again",
			 name, (cur & 0004 & ~src) ? "others" : "its group", (unsigned)cur,
			 (unsigned)src);
		topic_put(dst);
		*out = NULL;
		return -EACCES;
	}
	return 0;
}

int apply_topic(struct sfs_namespace *ns, struct stream *t, const char *name,
		uint32_t uid, uint32_t gid, uint32_t mode, char *err,
		size_t errlen)
{
	struct topic *dst;
	int rc = get_topic(ns, t, name, uid, gid, mode, &dst, err, errlen);
	if (rc == 0)
		topic_put(dst);
	return rc;
}

int apply_append(struct sfs_namespace *ns, struct stream *t, const char *name,
		 uint32_t uid, uint32_t gid, uint32_t mode,
		 const struct topic_msg *msgs, size_t n, size_t *applied,
		 char *err, size_t errlen)
{
	struct topic *dst;
	if (applied)
		*applied = 0;
	/* A message is one line, at most max_message bytes, wherever it was
	 * appended: one holding a newline would read as two (and counts and
	 * offsets would no longer match what readers see); a longer one
	 * would make readers here hold more than the bound. Checked before
	 * the topic is made. */
	for (size_t i = 0; i < n; i++) {
		const char *why = msgs[i].len > ns->cfg->max_message ? "bytes" :
				  msgs[i].len && memchr(msgs[i].payload, '\n', msgs[i].len) ?
				  "newline" : NULL;
		if (!why)
			continue;
		char u[37];
		uuid_unparse(msgs[i].origin_stream, u);
		if (why[0] == 'b')
			snprintf(err, errlen, "refused by the replica: topic %s: a message of origin %s (offset %" PRIu64 ") has %" PRIu32 " bytes, more than this daemon's max_message (%zu)",
				 name, u, msgs[i].origin_offset, msgs[i].len, ns->cfg->max_message);
		else
			snprintf(err, errlen, "refused by the replica: topic %s: a message of origin %s (offset %" PRIu64 ") holds a newline: a message is one line",
				 name, u, msgs[i].origin_offset);
		return -EPROTO;
	}
	int rc = get_topic(ns, t, name, uid, gid, mode, &dst, err, errlen);
	if (rc < 0)
		return rc;
	char why[512] = "";
	size_t got = 0;
	rc = topic_append_replicated(dst, msgs, n, &got, why, sizeof(why));
	topic_put(dst);
	if (applied)
		*applied = got;
	stats_add(&sfs_stats.repl_applied_msgs, got);
	if (rc == -EPROTO || rc == -ENODATA) {
		/* A batch that cannot be true: the caller logs it (the gateway,
		 * or the source's status in this daemon). */
		snprintf(err, errlen, "refused by the replica: %s", why);
	} else if (rc < 0) {
		snprintf(err, errlen, "topic %s: the replica cannot store messages: %s",
			 name, strerror(-rc));
	}
	return rc;
}
