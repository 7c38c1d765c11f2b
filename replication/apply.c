/*
 * apply.c - the receiving side of replication (apply.h). Called by the
 * replication thread for replicas in this daemon and by the gateway for
 * replicas whose source is on another host.
 */
#include "apply.h"

#include <errno.h>
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
 * A topic that exists already is never more permissive than the source
 * topic either: bits the source does not grant are taken away (a later
 * chmod of the source that narrows it reaches the replica with its next
 * messages; one that widens it does not). And its owner can read it
 * whatever its mode: if that is not the replica stream's owner (someone
 * made the topic first), the messages of a source topic that others may
 * not read are refused (-EACCES, the reason in ERR), rather than handed
 * to that someone.
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
	int rc = stream_topic_get_or_create(t, name, owner, group, src, false, &ns->topic_opts,
					    out, &created);
	if (rc < 0) {
		snprintf(err, errlen, "topic %s: cannot be created on the replica: %s", name,
			 strerror(-rc));
		return rc;
	}
	if (created)
		return 0;
	struct topic *dst = *out;
	if (dst->uid != owner && !(src & 0004)) {
		snprintf(err, errlen, "refused by the replica: topic %s there belongs to uid %u, not to the replica stream's owner (uid %u), and the source topic is not readable by others (mode %03o)",
			 name, (unsigned)dst->uid, (unsigned)owner, (unsigned)src);
		topic_put(dst);
		*out = NULL;
		return -EACCES;
	}
	mode_t cur = dst->mode;
	if (cur & ~src) {
		rc = topic_set_owner(dst, (uid_t)-1, (gid_t)-1, cur & src);
		if (rc < 0) {
			snprintf(err, errlen, "topic %s: the replica cannot narrow its mode to the source's (%03o): %s",
				 name, (unsigned)src, strerror(-rc));
			topic_put(dst);
			*out = NULL;
			return rc;
		}
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
	int rc = get_topic(ns, t, name, uid, gid, mode, &dst, err, errlen);
	if (rc < 0)
		return rc;
	char why[512] = "";
	rc = topic_append_replicated(dst, msgs, n, applied, why, sizeof(why));
	topic_put(dst);
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
