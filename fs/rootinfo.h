/*
 * rootinfo.h - the status of the whole mount, as /.info shows it (JSON)
 * and the metrics endpoint serves it (fs/metrics.h): the daemon's version,
 * start time and uptime, each cluster with its home and reachability, the
 * daemon's counters (fs/stats.h), and each local stream with its totals
 * and its replicas' pending counts, lag and last error.
 * Fields: docs/operating.md, "The mount's .info".
 */
#ifndef STREAMFS_ROOTINFO_H
#define STREAMFS_ROOTINFO_H

#include <jansson.h>
#include <stddef.h>

#include "ctlfiles.h"
#include "namespace.h"

/*
 * rootinfo_json - the status of NS now, as READER may see it (NULL:
 * root's view): for others, UUIDs in error texts read "hidden", as in a
 * stream's .info. Takes the namespace's and each stream's locks in turn;
 * call with none held. Returns a new object (the caller json_decrefs it),
 * or NULL when out of memory.
 */
json_t *rootinfo_json(struct sfs_namespace *ns, const struct ctl_reader *reader);

/*
 * rootinfo_render - the same as text, indented JSON ending in '\n', into
 * *OUT (malloc'd, the caller frees it; *LEN bytes). 0 or -ENOMEM.
 */
int rootinfo_render(struct sfs_namespace *ns, const struct ctl_reader *reader, char **out,
		    size_t *len);

#endif
