/*
 * config.h - mount.conf, the daemon's configuration (INI, parsed by inih).
 *
 * Sections and keys (every key is documented in docs/configuration.md):
 *   [mount]   mountpoint, log, max_message, segment_bytes, fsync,
 *             fsync_interval_ms, read_ahead
 *   [cluster NAME]  data = DIR      (a local cluster)
 *                   gateway = HOST:PORT   (a remote cluster, no data),
 *                   access = replicate|read|write|admin (what it may do here)
 *                   nats = URL[,URL...] and nats_*  (kept in NATS
 *                   JetStream: fs/config_nats.h)
 *   [gateway] listen, cert, key, ca, timeout_ms  (replication/gateway.h)
 *   [replication] sync_timeout_ms, batch_messages, positions_interval_ms
 *   [metrics] listen                (fs/config_metrics.h)
 * Relative paths are taken relative to the directory of the config file,
 * so `streamfs -c /repo/mount.conf` works from any working directory.
 */
#ifndef STREAMFS_CONFIG_H
#define STREAMFS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define SFS_MAX_CLUSTERS 64
#define SFS_NAME_MAX 255

enum sfs_fsync_policy {
	SFS_FSYNC_OS,		/* leave flushing to the OS (default, as Kafka) */
	SFS_FSYNC_INTERVAL,	/* a background sync every fsync_interval_ms */
	SFS_FSYNC_ALWAYS,	/* sync before write() returns (group commit) */
};

/*
 * What a peer cluster may do here through the gateway ([cluster] access,
 * docs/global-namespace.md), each level all the ones before it:
 * replicate (the default: replication into streams whose .upstreams name
 * it, nothing else), read (browse, stat, read topics and control files),
 * write (append, create and delete topics), admin (streams, control
 * files, owners and modes; root stays root).
 */
enum sfs_access {
	SFS_ACCESS_REPLICATE = 0,
	SFS_ACCESS_READ,
	SFS_ACCESS_WRITE,
	SFS_ACCESS_ADMIN,
};

struct sfs_cluster_conf {
	char *name;		/* 1-255 chars of [A-Za-z0-9._-], not starting '.' */
	char *data;		/* absolute data directory; NULL for a remote cluster */
	char *gateway;		/* "HOST:PORT" of a remote cluster; NULL if local */
	enum sfs_access access;	/* what that remote cluster may do here */
	/* NATS JetStream (fs/config_nats.h): the nats = value or NULL; the
	 * files (absolute) or NULL; replicas 0 = automatic; the bound of
	 * every wait in ms; the line of each nats key (0: not set). */
	char *nats, *nats_creds, *nats_tls_cert, *nats_tls_key, *nats_tls_ca;
	int nats_replicas;
	uint64_t nats_timeout_ms;
	uint64_t nats_cache;	/* bytes of fetched chunks kept in memory */
	int nats_lines[8];
	int line;		/* line of the [cluster] header, for messages */
};

struct sfs_config {
	char *path;		/* the file read, as given */
	char *mountpoint;	/* absolute; NULL if not set (then given on argv) */
	char *log;		/* absolute log file path, NULL = stderr */
	size_t max_message;	/* bytes; default 1 MiB (1048576) */
	uint64_t segment_bytes;	/* bytes at which a segment rolls; default 64 MiB */
	enum sfs_fsync_policy fsync;
	uint64_t fsync_interval_ms;	/* for SFS_FSYNC_INTERVAL; default 1000 */
	uint64_t read_ahead;	/* accepted for older configurations and
				 * ignored: topics are read without the
				 * kernel's page cache; default 0 */
	uint64_t sync_timeout_ms;	/* synchronous replica timeout; default 1000 */
	uint32_t batch_messages;	/* replication batch size; default 4096 */
	uint32_t positions_interval_ms;	/* least time between saves of a stream's
					 * replication positions while they keep
					 * moving; default 1000, 0 = every round */
	struct sfs_cluster_conf clusters[SFS_MAX_CLUSTERS];
	int nclusters;
	char *gateway_listen;	/* "ADDR:PORT" or NULL */
	char *gateway_cert, *gateway_key, *gateway_ca;	/* absolute or NULL */
	uint64_t gateway_timeout_ms;	/* connect, handshake, each read/write;
					 * default 5000 */
	char *metrics_listen;	/* [metrics] listen "ADDR:PORT" or NULL */
};

/*
 * config_load - read and check the INI file PATH into *CFG (zeroed first).
 * Checks: unknown section or key, bad value, duplicate cluster name, invalid
 * cluster name, a cluster with both or neither of data/gateway, no cluster.
 * It does not touch the disk beyond reading PATH (data directories are made
 * by the caller).
 * On error returns a negative errno (-EINVAL for bad content, the errno of
 * fopen for an unreadable file) and writes one line into ERR (ERRLEN bytes)
 * naming file, line and key: "mount.conf:7: [cluster x]: unknown key 'foo'".
 * On success the strings in *CFG are malloc'd and owned by *CFG: release with
 * config_free.
 */
int config_load(const char *path, struct sfs_config *cfg, char *err,
		size_t errlen);

/* config_free - release everything config_load allocated; CFG may be zeroed. */
void config_free(struct sfs_config *cfg);

/*
 * config_find_cluster - the cluster named NAME, or NULL. Borrowed pointer,
 * valid as long as CFG.
 */
const struct sfs_cluster_conf *config_find_cluster(const struct sfs_config *cfg,
						   const char *name);

#endif
