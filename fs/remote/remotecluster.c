/*
 * remotecluster.c - a cluster served by another daemon (remotehome.h): the
 * cluster operations of fs/cluster.h for it, each a request to the serving
 * daemon's gateway through the fs_call hook (fs/replhooks.h), which the
 * daemon's wiring fills with the gateway's client (replication/gwpool.h).
 * It keeps no streams: the daemon's stream list of a remote cluster stays
 * empty, and the FUSE layer hands every operation under /<cluster> to
 * cluster_ops.call (fs/fuse_remote.c).
 */
#include "remotehome.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "fsreq.h"
#include "namespace.h"
#include "replhooks.h"

static int remote_open(struct cluster *cl, int line, char *err, size_t errlen)
{
	(void)cl;
	(void)line;
	(void)err;
	(void)errlen;
	return 0;	/* nothing to load: the serving daemon has the streams */
}

static void remote_close(struct cluster *cl)
{
	(void)cl;
}

/* Owner and mode of /<cluster> are the serving daemon's: a chmod or chown
 * of a remote cluster is a request (FS_CHMOD, FS_CHOWN), never this. */
static int remote_save(struct cluster *cl)
{
	(void)cl;
	return -EOPNOTSUPP;
}

static int remote_stream_create(struct cluster *cl, const char *name, uid_t uid, gid_t gid,
				mode_t mode, struct stream **out)
{
	(void)cl;
	(void)name;
	(void)uid;
	(void)gid;
	(void)mode;
	(void)out;
	return -EOPNOTSUPP;	/* FS_MKDIR, carried out by the serving daemon */
}

static int remote_stream_remove(struct cluster *cl, struct stream *s)
{
	(void)cl;
	(void)s;
	return -EOPNOTSUPP;	/* FS_RMDIR */
}

static int remote_call(struct cluster *cl, const struct fs_req *q, struct fs_rep *rep,
		       bool (*interrupted)(void *), void *iarg)
{
	/* A gateway going down is logged once by its client, not by every
	 * operation that meets it (an ls would log each time). */
	char err[1400];
	return repl_fs_call(cl->ns, q, rep, interrupted, iarg, err, sizeof(err));
}

static int remote_statfs(struct cluster *cl, struct statvfs *sv)
{
	struct fs_req q = { .op = FS_STATFS };
	struct fs_rep rep;
	snprintf(q.cluster, sizeof(q.cluster), "%s", cl->name);
	int rc = remote_call(cl, &q, &rep, NULL, NULL);
	if (rc == 0 && (rc = rep.status) == 0) {
		memset(sv, 0, sizeof(*sv));
		sv->f_bsize = rep.sv.bsize;
		sv->f_frsize = rep.sv.frsize;
		sv->f_blocks = rep.sv.blocks;
		sv->f_bfree = rep.sv.bfree;
		sv->f_bavail = rep.sv.bavail;
		sv->f_files = rep.sv.files;
		sv->f_ffree = rep.sv.ffree;
		sv->f_namemax = rep.sv.namemax;
	}
	fs_rep_free(&rep);
	return rc;
}

static int remote_reachable(struct cluster *cl, char *why, size_t n)
{
	return repl_cluster_reachable(cl->ns, cl->name, why, n);
}

static const struct cluster_ops remote_ops = {
	.open = remote_open,
	.close = remote_close,
	.save = remote_save,
	.stream_create = remote_stream_create,
	.stream_remove = remote_stream_remove,
	.statfs = remote_statfs,
	.reachable = remote_reachable,
	.call = remote_call,
};

static bool remote_serves(const struct sfs_cluster_conf *cc)
{
	return cc->gateway != NULL;
}

static int remote_setup(const struct sfs_config *cfg, void **state, char *err, size_t errlen)
{
	(void)cfg;
	(void)err;
	(void)errlen;
	*state = NULL;
	return 0;
}

static void remote_teardown(void *state)
{
	(void)state;
}

static int remote_cluster_init(struct cluster *cl, const struct sfs_cluster_conf *cc,
			       void *state, char *err, size_t errlen)
{
	(void)state;
	(void)err;
	(void)errlen;
	cl->ops = &remote_ops;
	cl->home = NULL;
	cl->home_name = "remote";
	cl->where_key = "gateway";
	cl->where = cc->gateway;
	cl->remote = true;
	cl->mode = 0755;
	return 0;
}

const struct cluster_home remote_home = {
	.name = "remote",
	.serves = remote_serves,
	.setup = remote_setup,
	.teardown = remote_teardown,
	.cluster_init = remote_cluster_init,
};
