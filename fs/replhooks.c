/*
 * replhooks.c - owns the filesystem's side of the replication hooks
 * (replhooks.h): each call goes to the hook installed in the namespace, or
 * to a default that keeps fs/ usable without replication (unit tests).
 */
#include "replhooks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "namespace.h"

void repl_wake(struct sfs_namespace *ns)
{
	if (ns->hooks && ns->hooks->wake)
		ns->hooks->wake(ns->hooks_arg);
}

struct replica_conf *repl_replica_new(struct sfs_namespace *ns)
{
	if (ns->hooks && ns->hooks->replica_new)
		return ns->hooks->replica_new(ns->hooks_arg);
	return calloc(1, sizeof(struct replica_conf));
}

void repl_replica_free(struct sfs_namespace *ns, struct replica_conf *rc)
{
	if (ns->hooks && ns->hooks->replica_free)
		ns->hooks->replica_free(ns->hooks_arg, rc);
	else
		free(rc);
}

void repl_replica_configured(struct sfs_namespace *ns, struct replica_conf *rc)
{
	if (ns->hooks && ns->hooks->replica_configured)
		ns->hooks->replica_configured(ns->hooks_arg, rc);
}

void repl_replica_status(struct sfs_namespace *ns, struct stream *s, struct replica_conf *rc,
			 struct topic **topics, int nt, struct replica_status *out)
{
	*out = (struct replica_status){
		.state = rc->paused ? "REPLICA_STATE_PAUSED" : "REPLICA_STATE_COPY_IN_PROGRESS",
		.last_error = "",
	};
	if (ns->hooks && ns->hooks->replica_status)
		ns->hooks->replica_status(ns->hooks_arg, s, rc, topics, nt, out);
}

void repl_topic_deleted(struct sfs_namespace *ns, struct stream *s, const char *name)
{
	if (ns->hooks && ns->hooks->topic_deleted)
		ns->hooks->topic_deleted(ns->hooks_arg, s, name);
}

int repl_sync_wait(struct sfs_namespace *ns, struct stream *s, struct topic *t, uint64_t upto,
		   uint64_t timeout_ms, bool (*interrupted)(void *iarg), void *iarg)
{
	if (ns->hooks && ns->hooks->sync_wait)
		return ns->hooks->sync_wait(ns->hooks_arg, s, t, upto, timeout_ms, interrupted,
					    iarg);
	return 0;
}

int repl_cluster_reachable(struct sfs_namespace *ns, const char *name, char *why, size_t n)
{
	if (n)
		why[0] = 0;
	if (ns->hooks && ns->hooks->cluster_reachable)
		return ns->hooks->cluster_reachable(ns->hooks_arg, name, why, n);
	return -1;
}

int repl_replica_lookup(struct sfs_namespace *ns, struct stream *s, const char *cluster,
			const char *stream, uuid_t out, char *err, size_t errlen)
{
	if (ns->hooks && ns->hooks->replica_lookup)
		return ns->hooks->replica_lookup(ns->hooks_arg, s, cluster, stream, out, err,
						 errlen);
	return -EALREADY;
}

int repl_fs_call(struct sfs_namespace *ns, const struct fs_req *q, struct fs_rep *rep,
		 bool (*interrupted)(void *iarg), void *iarg, char *err, size_t errlen)
{
	if (ns->hooks && ns->hooks->fs_call)
		return ns->hooks->fs_call(ns->hooks_arg, q, rep, interrupted, iarg, err, errlen);
	memset(rep, 0, sizeof(*rep));
	snprintf(err, errlen, "cluster %s has no gateway this daemon can reach", q->cluster);
	return -EHOSTUNREACH;
}

json_t *repl_status_export(struct sfs_namespace *ns, struct stream *s)
{
	if (ns->hooks && ns->hooks->status_export)
		return ns->hooks->status_export(ns->hooks_arg, s);
	return NULL;
}

void repl_status_import(struct sfs_namespace *ns, struct stream *s, json_t *status)
{
	if (ns->hooks && ns->hooks->status_import)
		ns->hooks->status_import(ns->hooks_arg, s, status);
}
