/*
 * metafile.h - small JSON metadata files, and directory housekeeping (stream, topic and cluster
 * settings, replication positions), replaced atomically: write a temporary
 * file, optionally fsync it, rename it over the old one, fsync the directory.
 * A crash leaves either the old file or the new one, never a mix (docs/storage.md).
 */
#ifndef STREAMFS_METAFILE_H
#define STREAMFS_METAFILE_H

#include <jansson.h>
#include <stdbool.h>

/*
 * metafile_write - replace file NAME in directory DIRFD with the JSON of
 * ROOT (not consumed). DURABLE true fsyncs the file and the directory
 * before returning; false relies on the page cache (safe against a crash of
 * the daemon, not of the machine). Returns 0 or a negative errno; on error
 * the old file is intact and no temporary file is left.
 */
int metafile_write(int dirfd, const char *name, json_t *root, bool durable);

/*
 * metafile_replace - the same guarantee as metafile_write (NAME always holds
 * a whole version, the old or the new), for a file replaced many times a
 * second (replication positions). The new content is written in place into
 * the scratch file ".tmp.NAME", which is then exchanged with NAME
 * (renameat2 RENAME_EXCHANGE): the previous version stays in the scratch
 * file to be overwritten next time. No inode is created or freed, so a
 * filesystem mounted with `discard` does not issue a synchronous discard
 * per replacement, and ext4 does not start writeback of the new file (its
 * replace-by-rename heuristic, auto_da_alloc) before returning: on the
 * benchmark machine that cut the write() latency on a replicated stream's
 * source from about 150 us to 70-90 us (docs/performance.md). Where
 * exchange is unsupported (EINVAL) it falls back to a plain rename.
 * DURABLE as for metafile_write. Returns 0 or a negative errno; on error
 * NAME is intact.
 * Source: Linux rename(2), RENAME_EXCHANGE (3.15; ext4, xfs, btrfs, tmpfs).
 */
int metafile_replace(int dirfd, const char *name, json_t *root, bool durable);

/*
 * metafile_read - parse file NAME in DIRFD. On success *OUT is a new
 * reference the caller must json_decref. Returns 0, -ENOENT if missing,
 * -EINVAL if the content is not a JSON object (logged with the reason),
 * or another negative errno.
 */
int metafile_read(int dirfd, const char *name, json_t **out);

/*
 * remove_tree - remove directory NAME under DIRFD and everything in it (no
 * symlinks followed). Returns 0 (also if it did not exist) or a negative
 * errno of the final rmdir.
 */
int remove_tree(int dirfd, const char *name);

/* Accessors that tolerate missing keys: the default DEF is returned. */
long long meta_int(json_t *obj, const char *key, long long def);
const char *meta_str(json_t *obj, const char *key, const char *def);
bool meta_bool(json_t *obj, const char *key, bool def);

#endif
