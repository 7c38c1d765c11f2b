/*
 * ctlfiles.h - what a stream's control files show and what writing them
 * does (docs/control-files.md): .replicas, .upstreams (read/write) and .info (JSON,
 * read only). The text syntax itself is fs/control.c's.
 */
#ifndef STREAMFS_CTLFILES_H
#define STREAMFS_CTLFILES_H

#include <stdbool.h>
#include <stddef.h>

#include "control.h"
#include "namespace.h"

enum ctlfile { CTLFILE_REPLICAS, CTLFILE_UPSTREAMS, CTLFILE_INFO };

/* ctlfile_by_name - the control file called NAME (".replicas"...), or -1. */
int ctlfile_by_name(const char *name);

/* Who reads a control file: what the UUIDs of other streams shown in it
 * depend on (a stream's UUID is shown only to those who may read it). */
struct ctl_reader {
	uid_t uid;
	gid_t gid;
	const gid_t *groups;	/* supplementary groups */
	int ngroups;
};

/*
 * ctlfile_render - the current text of control file WHICH of stream S, as
 * READER (NULL: anyone, everything shown) sees it: configuration lines
 * with status after " # " for .replicas/.upstreams, a JSON object for
 * .info. An upstream's UUID is shown only if READER may read that stream's
 * directory (its modes; root may), else "hidden" (docs/security.md).
 * *OUT is malloc'd (caller frees), *LEN its bytes. Returns 0 or -ENOMEM.
 */
int ctlfile_render(struct sfs_namespace *ns, struct stream *s, const struct ctl_reader *reader,
		   enum ctlfile which, char **out, size_t *len);

/*
 * ctlfile_apply - apply N parsed lines E to the replicas (KIND
 * CTL_REPLICAS) or upstreams of S, in order: add or update, or remove.
 * REPLACE: the set becomes exactly the lines given (entries kept keep
 * their replication position). Everything is checked before anything
 * changes; DRY_RUN checks only.
 * Errors (nothing changed; one "warn" log line and the stream's last error
 * are written, in a dry run too, since a dry run is how a truncating write
 * is checked and refused):
 *   -ENOENT  unknown cluster, or a stream that does not exist, or removing
 *            an entry that is not there
 *   -EINVAL  a stream naming itself
 *   -EOPNOTSUPP  a remote cluster (needs the gateway)
 *   -ENOSPC  more than 64 replicas or upstreams
 *   or the negative errno of saving the metadata.
 * On success the replication thread is woken.
 */
int ctlfile_apply(struct sfs_namespace *ns, struct stream *s,
		  enum ctl_kind kind, const struct ctl_entry *e, int n,
		  bool replace, bool dry_run);

/*
 * ctl_reader_allows - would the kernel's permission check (with
 * default_permissions) let reader R do WANT (a mask of 4 read, 2 write,
 * 1 search) on a file of owner UID, group GID and permission bits MODE?
 * Root (uid 0) and a NULL reader (the daemon itself) may do anything.
 * Pure; POSIX's owner, then group, then others classes.
 */
bool ctl_reader_allows(const struct ctl_reader *r, uid_t uid, gid_t gid, mode_t mode,
		       int want);

#endif
