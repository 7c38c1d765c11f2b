/*
 * config_metrics.h - mount.conf's [metrics] section (docs/configuration.md):
 *   [metrics] listen = ADDR:PORT   where the Prometheus text endpoint
 *                                  listens (fs/metrics.h); unset: none
 * config.c hands each key of the section here.
 */
#ifndef STREAMFS_CONFIG_METRICS_H
#define STREAMFS_CONFIG_METRICS_H

#include <stddef.h>

struct sfs_config;

/*
 * config_metrics_key - set key NAME of [metrics] in CFG to VALUE (trimmed).
 * Returns 0, or -EINVAL with one line in MSG (N bytes) naming the key
 * (unknown key, repeated key, bad value), -ENOMEM. What it sets is owned
 * by CFG (config_free frees it).
 */
int config_metrics_key(struct sfs_config *cfg, const char *name, const char *value, char *msg,
		       size_t n);

#endif
