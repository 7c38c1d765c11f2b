/*
 * config_nats.h - the NATS JetStream keys of a [cluster NAME] section of
 * mount.conf (docs/configuration.md, docs/nats.md):
 *   nats = nats://HOST:PORT[,nats://HOST:PORT...]   the cluster lives in
 *                             NATS JetStream (tls://HOST:PORT for TLS)
 *   nats_creds = FILE         a NATS credentials file (JWT and NKey seed)
 *   nats_tls_cert = FILE, nats_tls_key = FILE   client certificate and key
 *   nats_tls_ca = FILE        CA that signs the servers' certificates
 *   nats_replicas = 1..5      JetStream replicas (default: 3 when the NATS
 *                             cluster has 3 servers or more, else 1)
 *   nats_timeout_ms = 100..600000   bound of every wait on NATS (5000)
 *   nats_cache = SIZE         bytes of fetched chunks kept in memory for
 *                             the next readers (64M; 0: none)
 * config.c hands every cluster key whose name begins with "nats" here, and
 * calls config_nats_check once the whole file is read.
 */
#ifndef STREAMFS_CONFIG_NATS_H
#define STREAMFS_CONFIG_NATS_H

#include <stddef.h>

struct sfs_config;
struct sfs_cluster_conf;

/* The default of nats_timeout_ms (milliseconds), and its default for a
 * cluster kept with more than one JetStream replica: above the 4 to 9 s
 * a leader election of nats-server's RAFT takes after a server is lost
 * (docs/nats.md, "A cluster of three NATS servers"). */
#define SFS_NATS_TIMEOUT_MS 5000
#define SFS_NATS_TIMEOUT_REPLICATED_MS 15000
/* The longest leader election seen with nats-server 2.9 (ms): a
 * replicated cluster's nats_timeout_ms below it is warned about. */
#define SFS_NATS_ELECTION_MS 9000
/* The default of nats_cache (bytes), and its largest value. */
#define SFS_NATS_CACHE (64ULL << 20)
#define SFS_NATS_CACHE_MAX (64ULL << 30)
/* At most this many URLs in one nats = value. */
#define SFS_NATS_MAX_URLS 16

/*
 * config_nats_key - set key NAME of cluster section CC (its header shown
 * as SECNAME in messages) to VALUE (trimmed), read at line LINE; relative
 * file names are taken from DIR (the configuration file's directory).
 * Returns 0, or -EINVAL with one line in MSG (N bytes) naming the section
 * and key (unknown key, repeated key, bad value), -ENOMEM. Strings set are
 * owned by CC (config_nats_free).
 */
int config_nats_key(struct sfs_cluster_conf *cc, const char *secname, const char *dir,
		    int line, const char *name, const char *value, char *msg, size_t n);

/*
 * config_nats_check - whole-section rules once every line is read: nats =
 * with data = or gateway =, nats_* keys without nats =, a TLS certificate
 * without its key (or the other way round); sets the defaults. Returns 0,
 * or the line of the first fault with one line in MSG (N bytes), without
 * the "file:line: " prefix.
 */
int config_nats_check(struct sfs_config *cfg, char *msg, size_t n);

/* config_nats_free - free what config_nats_key set in CC. */
void config_nats_free(struct sfs_cluster_conf *cc);

/*
 * config_nats_urls - split CC's nats = value into at most SFS_NATS_MAX_URLS
 * URLs: *URLS a malloc'd array of malloc'd strings (free each, then the
 * array). Returns the count (at least 1) or -ENOMEM.
 */
int config_nats_urls(const struct sfs_cluster_conf *cc, char ***urls);

#endif
