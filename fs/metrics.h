/*
 * metrics.h - the mount's status (fs/rootinfo.h) as Prometheus text
 * (exposition format 0.0.4), served by the [metrics] listener
 * (fs/httpd.h). Metric names, all streamfs_*: docs/operating.md,
 * "Monitoring".
 */
#ifndef STREAMFS_METRICS_H
#define STREAMFS_METRICS_H

#include <stddef.h>

#include "namespace.h"

/*
 * metrics_render - the metrics of NS now into *OUT (malloc'd, the caller
 * frees it; *LEN bytes). As root sees /.info, but no error texts (only
 * their times). Call with no lock held. 0 or -ENOMEM.
 */
int metrics_render(struct sfs_namespace *ns, char **out, size_t *len);

#endif
