/*
 * natscluster.c - a cluster kept in NATS JetStream (natshome.h): the home
 * itself (which sections it serves, libnats opened once), the connection
 * to the servers of a nats = key, the cluster's key-value bucket, the
 * cluster operations of fs/cluster.h. The helpers the other files of the
 * home share are natsutil.c's. docs/nats.md.
 */
#include "natshome.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_nats.h"
#include "fault.h"
#include "logging.h"
#include "names.h"
#include "namespace.h"
#include "util/clock.h"

#define CLUSTER_KEY "c"

static struct nats_cluster *nc_of(const struct cluster *cl)
{
	return cl->home;
}

/* ---- the connection --------------------------------------------------------- */

static void on_disconnected(natsConnection *conn, void *arg)
{
	(void)conn;
	struct nats_cluster *nc = arg;
	if (!atomic_load(&nc->closing))
		log_warn("cluster %s: disconnected from NATS; reconnecting", nc->cl->name);
}

/* The last callback of the connection (libnats calls them one at a time). */
static void on_closed(natsConnection *conn, void *arg)
{
	(void)conn;
	struct nats_cluster *nc = arg;
	pthread_mutex_lock(&nc->closed_mu);
	nc->closed = true;
	pthread_cond_broadcast(&nc->closed_cv);
	pthread_mutex_unlock(&nc->closed_mu);
}

static void on_reconnected(natsConnection *conn, void *arg)
{
	(void)conn;
	struct nats_cluster *nc = arg;
	log_info("cluster %s: reconnected to NATS", nc->cl->name);
	nats_seq_suspect(nc); /* a crash of every server? (natsseq.c) */
}

/* Connect NC to the servers of its nats = key. 0 or a negative errno with
 * one line in ERR. */
static int nats_connect(struct nats_cluster *nc, char *err, size_t errlen)
{
	const struct sfs_cluster_conf *cc = nc->cc;
	const char *cfgpath = nc->cl->ns->cfg->path;
	char **urls = NULL;
	int nurls = config_nats_urls(cc, &urls);
	if (nurls < 0) {
		snprintf(err, errlen, "out of memory");
		return nurls;
	}
	natsOptions *o = NULL;
	const char *what = "nats", *file = NULL;
	int line = cc->nats_lines[0];
	natsStatus s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = natsOptions_SetServers(o, (const char **)urls, nurls);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, nc->timeout_ms);
	if (s == NATS_OK)
		s = natsOptions_SetName(o, "streamfs");
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1); /* for ever; /.info shows it */
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, 250);
	/* Nothing is kept to be sent after a reconnection: an append that
	 * failed must not be stored later behind the writer's back. */
	if (s == NATS_OK)
		s = natsOptions_SetReconnectBufSize(o, 1);
	if (s == NATS_OK)
		s = natsOptions_UseGlobalMessageDelivery(o, true);
	/* Not SendAsap, which wrote every publish in the caller's thread:
	 * with it, libnats 3.4.1 crashes when an ordered consumer is
	 * re-created on a connection that just broke (its re-creating
	 * thread's write fails and it detaches a NULL thread: js.c
	 * _recreateOrderedCons, fixed upstream in 3.10.0). Without it those
	 * few bytes are appended to libnats' 32 KiB buffer for its flusher
	 * thread, and fail only if that buffer is nearly full at that moment
	 * (docs/nats.md, Limits). The flusher's writes, and a large publish
	 * written in the caller's thread, are held by a server that stops
	 * reading nats_timeout_ms at most. */
	if (s == NATS_OK)
		s = natsOptions_SetSendAsap(o, false);
	if (s == NATS_OK)
		s = natsOptions_SetWriteDeadline(o, nc->timeout_ms);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(o, on_disconnected, nc);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(o, on_reconnected, nc);
	if (s == NATS_OK)
		s = natsOptions_SetClosedCB(o, on_closed, nc);
	if (s == NATS_OK && cc->nats_creds) {
		what = "nats_creds", file = cc->nats_creds, line = cc->nats_lines[1];
		s = natsOptions_SetUserCredentialsFromFiles(o, cc->nats_creds, NULL);
	}
	if (s == NATS_OK && cc->nats_tls_cert) {
		what = "nats_tls_cert", file = cc->nats_tls_cert, line = cc->nats_lines[2];
		s = natsOptions_LoadCertificatesChain(o, cc->nats_tls_cert, cc->nats_tls_key);
	}
	if (s == NATS_OK && cc->nats_tls_ca) {
		what = "nats_tls_ca", file = cc->nats_tls_ca, line = cc->nats_lines[4];
		s = natsOptions_LoadCATrustedCertificates(o, cc->nats_tls_ca);
	}
	/* tls:// asks for TLS as the certificate keys do: libnats would
	 * otherwise talk plain text to a server that offers none. */
	bool tls_url = false;
	for (int i = 0; i < nurls; i++)
		tls_url |= !strncmp(urls[i], "tls://", 6);
	if (s == NATS_OK && (cc->nats_tls_ca || cc->nats_tls_cert || tls_url))
		s = natsOptions_SetSecure(o, true);
	if (s == NATS_OK) {
		what = "nats", file = NULL, line = cc->nats_lines[0];
		s = natsConnection_Connect(&nc->conn, o);
	}
	if (s != NATS_OK) {
		const char *last = nats_GetLastError(NULL);
		if (file)
			snprintf(err, errlen, "%s:%d: [cluster %s]: %s: %s: %s", cfgpath, line,
				 nc->cl->name, what, file, last ? last : natsStatus_GetText(s));
		else
			snprintf(err, errlen, "%s:%d: [cluster %s]: nats: cannot connect to %s: %s",
				 cfgpath, line, nc->cl->name, cc->nats,
				 last ? last : natsStatus_GetText(s));
	}
	natsOptions_Destroy(o);
	for (int i = 0; i < nurls; i++)
		free(urls[i]);
	free(urls);
	return s == NATS_OK ? 0 : -EHOSTUNREACH;
}

/* How many servers NC's connection knows of: its URLs and those the NATS
 * cluster announced (0 if it cannot tell). */
static int servers_known(struct nats_cluster *nc)
{
	char **servers = NULL;
	int count = 0;
	if (natsConnection_GetServers(nc->conn, &servers, &count) != NATS_OK)
		return 0;
	for (int i = 0; i < count; i++)
		free(servers[i]);
	free(servers);
	return count;
}

/* The bucket of NC, opened or made. 0 or a negative errno with ERR. */
static int open_bucket(struct nats_cluster *nc, char *err, size_t errlen)
{
	const char *cfgpath = nc->cl->ns->cfg->path;
	int line = nc->cc->nats_lines[0];
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = nc->timeout_ms;
	natsStatus s = natsConnection_JetStream(&nc->js, nc->conn, &jo);
	/* Tried again while JetStream cannot place it yet (servers started
	 * a moment ago, a leader being elected), until nats_timeout_ms. */
	uint64_t deadline = mono_ns() + (uint64_t)nc->timeout_ms * 1000000;
	while (s == NATS_OK) {
		s = js_KeyValue(&nc->kv, nc->js, nc->bucket);
		if (s != NATS_OK) {
			kvConfig kc;
			kvConfig_Init(&kc);
			kc.Bucket = nc->bucket;
			kc.History = 1;
			kc.Replicas = nc->replicas;
			kc.StorageType = js_FileStorage;
			s = js_CreateKeyValue(&nc->kv, nc->js, &kc);
			if (s != NATS_OK) /* made meanwhile by another daemon? */
				s = js_KeyValue(&nc->kv, nc->js, nc->bucket);
		}
		if (s == NATS_OK || mono_ns() + 200000000 >= deadline)
			break;
		s = NATS_OK;
		struct timespec pause = { 0, 200 * 1000000 };
		nanosleep(&pause, NULL);
	}
	if (s != NATS_OK) {
		const char *last = nats_GetLastError(NULL);
		/* Fewer servers known than replicas asked for is the likely
		 * reason JetStream could not place the bucket. */
		int count = servers_known(nc);
		if (nc->replicas > count)
			snprintf(err, errlen, "%s:%d: [cluster %s]: nats: key-value bucket %s: %s "
				 "(nats_replicas %d needs a NATS cluster of %d servers at least; "
				 "%d known)", cfgpath, line, nc->cl->name, nc->bucket,
				 last ? last : natsStatus_GetText(s), nc->replicas, nc->replicas, count);
		else
			snprintf(err, errlen, "%s:%d: [cluster %s]: nats: key-value bucket %s: %s (is "
				 "JetStream enabled on the servers?)", cfgpath, line, nc->cl->name,
				 nc->bucket, last ? last : natsStatus_GetText(s));
		return -EIO;
	}
	return 0;
}

/* ---- the cluster operations ---------------------------------------------- */

static int nc_open(struct cluster *cl, int line, char *err, size_t errlen)
{
	(void)line;
	struct nats_cluster *nc = nc_of(cl);
	int rc = nats_connect(nc, err, errlen);
	if (rc < 0)
		return rc;
	nc->max_payload = natsConnection_GetMaxPayload(nc->conn);
	if (nc->cc->nats_replicas) {
		nc->replicas = nc->cc->nats_replicas;
	} else {
		nc->replicas = servers_known(nc) >= 3 ? 3 : 1;
	}
	/* nats_timeout_ms not set (its line 0): a replicated cluster waits
	 * out a leader election rather than failing (docs/nats.md). */
	if (nc->replicas > 1 && !nc->cc->nats_lines[6])
		nc->timeout_ms = SFS_NATS_TIMEOUT_REPLICATED_MS;
	else if (nc->replicas > 1 && nc->timeout_ms < SFS_NATS_ELECTION_MS)
		log_warn("cluster %s: nats_timeout_ms %lld is shorter than a leader election "
			 "(4 to 9 s): appends and reads fail with EIO during one (docs/nats.md)",
			 cl->name, (long long)nc->timeout_ms);
	if ((rc = open_bucket(nc, err, errlen)) < 0)
		return rc;
	cl->uid = getuid();
	cl->gid = getgid();
	cl->mode = 0755;
	log_info("cluster %s: NATS JetStream at %s, bucket %s, %d replica(s), max_payload %lld, "
		 "nats_timeout_ms %lld", cl->name, nc->cc->nats, nc->bucket, nc->replicas,
		 (long long)nc->max_payload, (long long)nc->timeout_ms);
	if ((rc = nats_watch_open(nc, err, errlen)) < 0)
		return rc;
	if ((rc = nats_status_start(nc)) < 0) {
		snprintf(err, errlen, "cluster %s: cannot start the replication status thread: %s",
			 cl->name, strerror(-rc));
		return rc;
	}
	if ((rc = nats_lease_start(nc)) < 0)
		snprintf(err, errlen, "cluster %s: cannot start the replication lease thread: %s",
			 cl->name, strerror(-rc));
	return rc;
}

static void nc_stop(struct cluster *cl)
{
	struct nats_cluster *nc = nc_of(cl);
	if (nc) {
		nats_lease_stop(nc);
		nats_status_stop(nc);
		nats_watch_stop(nc);
		nats_lease_release(nc);
	}
}

/* A close left to its thread (close_bounded gave up): libnats is then not
 * waited for at the teardown either, which would wait for that
 * connection in vain (nats_teardown). */
static atomic_bool close_abandoned;

/* The connection's close, in a thread of its own (close_bounded). */
struct closer {
	natsConnection *conn;
	pthread_mutex_t mu;
	pthread_cond_t cv;	/* done (CLOCK_MONOTONIC) */
	bool done;
};

static void *closer_main(void *arg)
{
	struct closer *c = arg;
	FAULT_STALL("nats-close"); /* test-only: a close that never returns */
	natsConnection_Close(c->conn);
	pthread_mutex_lock(&c->mu);
	c->done = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/*
 * natsConnection_Close of NC's connection, waited for at most
 * nats_timeout_ms: libnats 3.4.1 joins its reader thread there, which was
 * once seen blocked for good on a subscription's lock at the stop (under
 * heavy load, one stop in some thirty), holding the daemon's exit. True
 * if it closed; false: the closing thread is left to the process's exit,
 * and NC with it (nothing of it may be freed).
 */
static bool close_bounded(struct nats_cluster *nc)
{
	struct closer *c = calloc(1, sizeof(*c));
	pthread_t th;
	if (!c) {
		natsConnection_Close(nc->conn);
		return true;
	}
	c->conn = nc->conn;
	pthread_mutex_init(&c->mu, NULL);
	nats_cond_init_mono(&c->cv);
	if (pthread_create(&th, NULL, closer_main, c) != 0) {
		natsConnection_Close(nc->conn);
		c->done = true;
	} else {
		struct timespec ts = clock_deadline(CLOCK_MONOTONIC, nc->timeout_ms);
		pthread_mutex_lock(&c->mu);
		while (!c->done)
			if (pthread_cond_timedwait(&c->cv, &c->mu, &ts))
				break;
		bool done = c->done;
		pthread_mutex_unlock(&c->mu);
		if (!done) {
			log_warn("cluster %s: the NATS connection did not close within %lld ms "
				 "(a libnats thread is stuck); the daemon stops without it",
				 nc->cl->name, (long long)nc->timeout_ms);
			pthread_detach(th);
			atomic_store(&close_abandoned, true);
			return false; /* C, NC: the closing thread's until the exit */
		}
		pthread_join(th, NULL);
	}
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
	return true;
}

static void nc_close(struct cluster *cl)
{
	struct nats_cluster *nc = nc_of(cl);
	if (!nc)
		return;
	nats_lease_stop(nc);
	nats_status_stop(nc);
	nats_watch_stop(nc);
	nats_lease_release(nc);
	kvStore_Destroy(nc->wkv);
	jsCtx_Destroy(nc->wjs);
	kvStore_Destroy(nc->kv);
	jsCtx_Destroy(nc->js);
	if (nc->conn) {
		atomic_store(&nc->closing, true);
		if (!close_bounded(nc))
			return; /* NC left to the stuck close, a leak at the exit */
		/* Its callbacks hold NC: wait for the last (bounded). */
		uint64_t deadline = mono_ns() + (uint64_t)nc->timeout_ms * 1000000;
		struct timespec ts = { (time_t)(deadline / 1000000000),
				       (long)(deadline % 1000000000) };
		pthread_mutex_lock(&nc->closed_mu);
		while (!nc->closed)
			if (pthread_cond_timedwait(&nc->closed_cv, &nc->closed_mu, &ts)) {
				log_warn("cluster %s: the NATS connection is slow to close", cl->name);
				break;
			}
		bool closed = nc->closed;
		pthread_mutex_unlock(&nc->closed_mu);
		nats_parked_release(nc, true); /* the reader is joined */
		nats_stream_free_graves(nc);
		natsConnection_Destroy(nc->conn);
		if (!closed)
			return; /* NC kept for a late callback: a small leak, not a crash */
	}
	nats_stream_free_graves(nc);
	nats_lease_free(nc);
	nats_status_free(nc);
	pthread_mutex_destroy(&nc->closed_mu);
	pthread_mutex_destroy(&nc->wrote_mu);
	pthread_cond_destroy(&nc->closed_cv);
	pthread_mutex_destroy(&nc->grave_mu);
	pthread_mutex_destroy(&nc->statfs_mu);
	pthread_mutex_destroy(&nc->park_mu);
	nats_cache_free(&nc->cache);
	json_decref(nc->c_meta);
	free(nc);
	cl->home = NULL;
}

static int nc_save(struct cluster *cl)
{
	struct nats_cluster *nc = nc_of(cl);
	uint64_t until = 0;
	int cr = nats_connected(nc, "chmod/chown", &until);
	if (cr < 0)
		return cr;
	json_t *j = json_pack("{s:I, s:I, s:I}", "uid", (json_int_t)cl->uid, "gid",
			      (json_int_t)cl->gid, "mode", (json_int_t)cl->mode);
	if (!j)
		return -ENOMEM;
	int rc;
	if (nc->c_rev) { /* over the value known here, merged (natsmerge.h) */
		json_t *stored = NULL;
		uint64_t rev = nc->c_rev;
		rc = nats_kv_update_if(nc, CLUSTER_KEY, NULL, nc->c_meta, j, &rev, &stored, until);
		if (rc == 0)
			nats_cluster_meta_locked(cl, stored, rev);
		json_decref(stored);
	} else { /* never written: the first one (tried as a create would be) */
		char *txt = json_dumps(j, JSON_COMPACT);
		rc = txt ? nats_kv_put(nc, CLUSTER_KEY, txt, until) : -ENOMEM;
		free(txt);
	}
	json_decref(j);
	return rc;
}

static int nc_stream_create(struct cluster *cl, const char *name, uid_t uid, gid_t gid,
			    mode_t mode, struct stream **out)
{
	int cr = nats_connected(nc_of(cl), "mkdir", NULL);
	if (cr < 0)
		return cr;
	uuid_t u;
	char us[37];
	uuid_generate(u);
	uuid_unparse(u, us);
	uint64_t now = now_ns();
	json_t *meta = json_pack("{s:i, s:s, s:I, s:I, s:I, s:I}", "format", 1, "uuid", us,
				 "uid", (json_int_t)uid, "gid", (json_int_t)gid, "mode",
				 (json_int_t)(mode & 07777), "created_ns", (json_int_t)now);
	if (!meta)
		return -ENOMEM;
	int rc = nats_stream_new(cl, name, meta, 0, true, out);
	json_decref(meta);
	return rc;
}

static int nc_stream_remove(struct cluster *cl, struct stream *s)
{
	struct nats_cluster *nc = nc_of(cl);
	struct nats_stream *st = s->home;
	if (st->gone)
		return 0; /* removed by the daemon that removed it */
	uint64_t until = 0;
	int cr = nats_connected(nc, "rmdir", &until);
	if (cr < 0)
		return cr;
	int rc = nats_kv_delete_if(nc, st->key, s->uuid, until);
	if (rc < 0) {
		log_error("cluster %s: stream %s: cannot remove its metadata: %s", cl->name,
			  s->name, strerror(-rc));
		return rc;
	}
	/* Its data stream: in tries of NATS_CONSUMER_WAIT_MS at most until
	 * nats_timeout_ms (JetStream's metadata leader just lost answers no
	 * request: one try of that length left the data stream behind). */
	jsOptions jo;
	jsErrCode ec = 0;
	natsStatus ns;
	uint64_t deadline = mono_ns() + (uint64_t)nc->timeout_ms * 1000000;
	for (;;) {
		uint64_t slice = mono_ns() + (uint64_t)NATS_CONSUMER_WAIT_MS * 1000000;
		nats_jsopts(&jo, slice < deadline ? slice : deadline);
		ec = 0;
		ns = js_DeleteStream(nc->js, st->jsname, &jo, &ec);
		if (ns == NATS_OK || ec == JSStreamNotFoundErr || mono_ns() + 100000000 >= deadline ||
		    natsConnection_Status(nc->conn) != NATS_CONN_STATUS_CONNECTED)
			break;
		struct timespec pause = { 0, 100 * 1000000 };
		nanosleep(&pause, NULL);
	}
	if (ns != NATS_OK && ec != JSStreamNotFoundErr)
		log_warn("cluster %s: stream %s: its data stream %s is left: %s", cl->name,
			 s->name, st->jsname, natsStatus_GetText(ns));
	char pkey[64], u[37];
	uuid_unparse(s->uuid, u);
	snprintf(pkey, sizeof(pkey), "p.%s", u);
	kvStore_Delete(nc->kv, pkey);
	snprintf(pkey, sizeof(pkey), "r.%s", u);
	kvStore_Delete(nc->kv, pkey);
	snprintf(pkey, sizeof(pkey), "g.%s", u);
	kvStore_Delete(nc->kv, pkey);
	return 0;
}

/* How long an answer of the account's usage serves statfs, ms. */
#define NATS_STATFS_MS 1000
/* What df shows free on an account without a storage limit, bytes (the
 * servers' own max_file_store is not told to clients; docs/nats.md). */
#define NATS_STATFS_UNLIMITED (UINT64_C(1) << 50)

/*
 * The space of the JetStream account the cluster is stored in
 * (docs/nats.md, "df"): used = the account's stored bytes (every replica,
 * every stream of the account), size = its max_storage, or used plus
 * 1 PiB without a limit. Asked at most once a second, within
 * min(nats_timeout_ms, 1 s); while NATS is away or does not answer, the
 * last answer (zeros before the first). Never fails.
 */
static int nc_statfs(struct cluster *cl, struct statvfs *sv)
{
	struct nats_cluster *nc = nc_of(cl);
	uint64_t now = mono_ns();
	pthread_mutex_lock(&nc->statfs_mu); /* leaf */
	bool ask = !nc->statfs_at_ns || now - nc->statfs_at_ns >= NATS_STATFS_MS * UINT64_C(1000000);
	if (ask)
		nc->statfs_at_ns = now; /* one asker a second, the others use the last answer */
	pthread_mutex_unlock(&nc->statfs_mu);
	if (ask && nc->conn && natsConnection_Status(nc->conn) == NATS_CONN_STATUS_CONNECTED) {
		jsOptions jo;
		jsErrCode ec = 0;
		jsAccountInfo *ai = NULL;
		int64_t ms = nc->timeout_ms < NATS_STATFS_MS ? nc->timeout_ms : NATS_STATFS_MS;
		nats_jsopts(&jo, now + (uint64_t)ms * 1000000);
		if (js_GetAccountInfo(&ai, nc->js, &jo, &ec) == NATS_OK && ai) {
			pthread_mutex_lock(&nc->statfs_mu);
			nc->statfs_used = ai->Store;
			nc->statfs_max = ai->Limits.MaxStore;
			pthread_mutex_unlock(&nc->statfs_mu);
			jsAccountInfo_Destroy(ai);
		}
	}
	pthread_mutex_lock(&nc->statfs_mu);
	uint64_t used = nc->statfs_used;
	int64_t max = nc->statfs_at_ns ? nc->statfs_max : -1;
	pthread_mutex_unlock(&nc->statfs_mu);
	uint64_t size = max > 0 ? (uint64_t)max : used + NATS_STATFS_UNLIMITED;
	if (size < used)
		size = used; /* over its limit */
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = sv->f_frsize = 4096;
	sv->f_namemax = 255;
	sv->f_blocks = size / 4096;
	sv->f_bfree = sv->f_bavail = (size - used) / 4096;
	return 0;
}

static int nc_reachable(struct cluster *cl, char *why, size_t n)
{
	struct nats_cluster *nc = nc_of(cl);
	natsConnStatus st = nc->conn ? natsConnection_Status(nc->conn) : NATS_CONN_STATUS_CLOSED;
	if (st == NATS_CONN_STATUS_CONNECTED)
		return 1;
	snprintf(why, n, "NATS at %s: %s", nc->cc->nats,
		 st == NATS_CONN_STATUS_RECONNECTING ? "reconnecting" : "not connected");
	return 0;
}

static const struct cluster_ops nats_cluster_ops = {
	.open = nc_open,
	.stop = nc_stop,
	.close = nc_close,
	.save = nc_save,
	.stream_create = nc_stream_create,
	.stream_remove = nc_stream_remove,
	.statfs = nc_statfs,
	.reachable = nc_reachable,
};

/* ---- the home ------------------------------------------------------------- */

static bool nats_serves(const struct sfs_cluster_conf *cc)
{
	return cc->nats != NULL;
}

/* libnats is opened once, when a section names NATS; the state says so. */
static int nats_setup(const struct sfs_config *cfg, void **state, char *err, size_t errlen)
{
	*state = NULL;
	bool any = false;
	for (int i = 0; i < cfg->nclusters; i++)
		any |= cfg->clusters[i].nats != NULL;
	if (!any)
		return 0;
	natsStatus s = nats_Open(-1);
	if (s != NATS_OK) {
		snprintf(err, errlen, "cannot start the NATS client: %s", natsStatus_GetText(s));
		return -EIO;
	}
	*state = (void *)&nats_home; /* anything but NULL: teardown closes it */
	return 0;
}

/* libnats closed: waited for (up to 5 s) unless a connection's close was
 * abandoned, whose threads would hold it that long in vain (a stop then
 * takes nats_timeout_ms more, not 5 s on top; docs/nats.md, Limits). */
static void nats_teardown(void *state)
{
	if (!state)
		return;
	if (atomic_load(&close_abandoned))
		nats_Close();
	else
		nats_CloseAndWait(5000);
}

static int nats_cluster_init(struct cluster *cl, const struct sfs_cluster_conf *cc,
			     void *state, char *err, size_t errlen)
{
	(void)state;
	const char *cfgpath = cl->ns->cfg->path;
	const char *files[] = { cc->nats_creds, cc->nats_tls_cert, cc->nats_tls_key,
				cc->nats_tls_ca };
	static const char *const names[] = { "nats_creds", "nats_tls_cert", "nats_tls_key",
					     "nats_tls_ca" };
	for (int i = 0; i < 4; i++) {
		struct stat fst;
		/* A directory is readable, but no credentials: said here, not
		 * as libnats' puzzling error at the connection. */
		int e = !files[i] ? 0 : access(files[i], R_OK) < 0 ? errno :
			stat(files[i], &fst) < 0 ? errno : S_ISDIR(fst.st_mode) ? EISDIR : 0;
		if (e) {
			snprintf(err, errlen, "%s:%d: [cluster %s]: %s: %s: %s", cfgpath,
				 cc->nats_lines[i + 1], cc->name, names[i], files[i], strerror(e));
			return -e;
		}
	}
	struct nats_cluster *nc = calloc(1, sizeof(*nc));
	if (!nc) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	char enc[220];
	if (nats_encode(cc->name, enc, sizeof(enc)) < 0) {
		free(nc);
		snprintf(err, errlen, "%s:%d: [cluster %s]: nats: the cluster name is too long "
			 "for a NATS bucket name (at most 200 characters once encoded, docs/nats.md)",
			 cfgpath, cc->line, cc->name);
		return -ENAMETOOLONG;
	}
	snprintf(nc->bucket, sizeof(nc->bucket), "SFS_%s", enc);
	uuid_t u;
	uuid_generate(u);
	uuid_unparse(u, nc->instance);
	nc->cc = cc;
	nc->cl = cl;
	pthread_mutex_init(&nc->closed_mu, NULL);
	pthread_mutex_init(&nc->wrote_mu, NULL);
	pthread_mutex_init(&nc->grave_mu, NULL);
	pthread_mutex_init(&nc->statfs_mu, NULL);
	pthread_mutex_init(&nc->park_mu, NULL);
	nc->statfs_max = -1;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&nc->closed_cv, &ca);
	pthread_condattr_destroy(&ca);
	nc->timeout_ms = (int64_t)(cc->nats_timeout_ms ? cc->nats_timeout_ms : SFS_NATS_TIMEOUT_MS);
	if (nats_cache_init(&nc->cache, cc->nats_cache) < 0) {
		pthread_mutex_destroy(&nc->closed_mu);
		pthread_mutex_destroy(&nc->grave_mu);
		pthread_mutex_destroy(&nc->statfs_mu);
		pthread_mutex_destroy(&nc->park_mu);
		pthread_cond_destroy(&nc->closed_cv);
		free(nc);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	cl->ops = &nats_cluster_ops;
	cl->home = nc;
	cl->home_name = "nats";
	cl->where_key = "nats";
	cl->where = cc->nats;
	return 0;
}

const struct cluster_home nats_home = {
	.name = "nats",
	.serves = nats_serves,
	.setup = nats_setup,
	.teardown = nats_teardown,
	.cluster_init = nats_cluster_init,
};
