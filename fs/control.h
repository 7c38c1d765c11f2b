/*
 * control.h - the text of the .replicas and .upstreams control files.
 *
 * This module only parses and formats text; it knows nothing of streams.
 * Resolving the named cluster and stream, limits, and applying the change
 * belong to fs/ctlfiles.c. docs/control-files.md:
 *
 *   PATH [key=value ...] [# comment]   add, or update the given settings
 *   -PATH                              remove
 *   # ...  / blank line                ignored
 *
 * PATH is the global form /mapr/<cluster>/<stream>, or the same under the
 * real mountpoint (MOUNTPOINT/<cluster>/<stream>); a trailing '/' is allowed.
 * Keys for .replicas: synchronous, paused (true/false, yes/no as in MapR),
 * networkcompression (off|none|lz4|zstd; stored, used by the gateway).
 * .upstreams takes no keys.
 */
#ifndef STREAMFS_CONTROL_H
#define STREAMFS_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

enum ctl_kind { CTL_REPLICAS, CTL_UPSTREAMS };

enum ctl_compression { CTL_COMP_OFF, CTL_COMP_LZ4, CTL_COMP_ZSTD };

struct ctl_entry {
	char cluster[256];
	char stream[256];
	bool remove;		/* line was "-PATH" */
	/* settings present on the line; has_* false = keep the current value */
	bool has_synchronous, synchronous;
	bool has_paused, paused;
	bool has_compression;
	enum ctl_compression compression;
	int line;		/* 1-based line number within the write */
};

/*
 * ctl_parse - parse LEN bytes of BUF (complete lines; a last line without
 * '\n' is parsed too) written to a control file of KIND.
 * MOUNTPOINT is the real mountpoint (may be NULL or "/mapr").
 * On success returns the number of entries (0 for only comments/blank lines)
 * and sets *OUT to a malloc'd array the caller frees (NULL when 0).
 * On error returns -EINVAL (bad path, bad name, unknown key, bad value,
 * a key given twice, a key on a "-PATH" line), writes nothing to *OUT,
 * and writes one line into ERR naming the line and the problem.
 * Cluster and stream names are checked with name_valid().
 */
int ctl_parse(const char *buf, size_t len, enum ctl_kind kind,
	      const char *mountpoint, struct ctl_entry **out, char *err,
	      size_t errlen);

/* ctl_compression_name - "off", "lz4" or "zstd". Static string. */
const char *ctl_compression_name(enum ctl_compression c);

/*
 * ctl_hide_uuids - copy TEXT into OUT (N bytes, always terminated, cut
 * short if need be) with every UUID in its text form (8-4-4-4-12 hex
 * digits) replaced by "hidden": what a status line shows to a reader who
 * may not learn other streams' UUIDs (docs/security.md).
 */
void ctl_hide_uuids(const char *text, char *out, size_t n);


#endif
