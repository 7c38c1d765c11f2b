/*
 * streamio.h - maprcli's only contact with a stream: reading its .info
 * (JSON) and appending lines to its .replicas or .upstreams, through the
 * mounted filesystem (docs/control-files.md).
 */
#ifndef MAPRCLI_STREAMIO_H
#define MAPRCLI_STREAMIO_H

#include <jansson.h>
#include <stddef.h>

#include "mount.h"

/*
 * sio_info - read and parse S's .info into *OUT (caller decrefs).
 * Returns 0, or a negative errno with a message in ERR.
 */
int sio_info(const struct stream_ref *s, json_t **out, char *err, size_t errlen);

/*
 * sio_append - append TEXT (complete lines) to S's control file FILE
 * (".replicas" or ".upstreams") in one write(), then close it. The daemon
 * checks the write whole and refuses it with an errno, changing nothing.
 * Returns 0, or the negative errno with the reason in ERR: the errno's
 * text and, when the daemon recorded one, its explanation (.info
 * lastError), e.g. "No such file or directory (streamfs: .replicas line 1:
 * stream /mapr/newyork/x does not exist)".
 */
int sio_append(const struct stream_ref *s, const char *file, const char *text,
	       char *err, size_t errlen);

/*
 * sio_entry - the object of LIST ("replicas" or "upstreams") in INFO that
 * names stream WHO (by cluster and stream), or NULL. Borrowed reference.
 */
json_t *sio_entry(json_t *info, const char *list, const struct stream_ref *who);

/*
 * sio_remove_stream - unlink every topic of S, then rmdir it (retrying for
 * up to 2 s while replication still creates topics). Its control files
 * go with it. Returns 0, or a negative errno with a message in ERR.
 */
int sio_remove_stream(const struct stream_ref *s, char *err, size_t errlen);

/* sio_int - integer member KEY of OBJ, or 0. */
long long sio_int(json_t *obj, const char *key);

/* sio_str - string member KEY of OBJ, or "". */
const char *sio_str(json_t *obj, const char *key);

#endif
