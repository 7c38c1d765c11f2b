/*
 * cmd_stream.c - maprcli stream create | delete | info | edit.
 *
 *   create  mkdir MOUNT/<cluster>/<stream>
 *   delete  empty .upstreams and .replicas, remove every topic, rmdir
 *   info    one row built from .info
 *   edit    checks the stream exists; every option it takes is a MapR
 *           option that streamfs accepts and ignores (notes on stderr)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "streamio.h"

int cmd_stream_create(struct cli *c)
{
	struct stream_ref s;
	int rc = cli_stream(c, "-path", false, &s);
	if (rc)
		return rc;
	if (mkdir(s.dir, 0777) == 0)
		return 0;
	int e = errno;
	char err[1024];
	if (e == EEXIST)
		return report_fail(c->out, EXIT_FAIL, e, "stream %s already exists", s.global);
	if (e == ENOENT && mount_check_stream(&s, err, sizeof(err)) == -ENOENT)
		return report_fail(c->out, EXIT_FAIL, e, "cannot create stream %s: %s",
				   s.global, err);
	return report_fail(c->out, EXIT_FAIL, e, "cannot create stream %s: %s", s.global,
			   strerror(e));
}

/*
 * Remove every entry of LIST ("replicas"/"upstreams") of S's INFO with one
 * write of "-PATH" lines to FILE. Returns 0 or an exit status.
 */
static int clear_list(struct cli *c, const struct stream_ref *s, json_t *info,
		      const char *list, const char *file)
{
	json_t *arr = json_object_get(info, list), *e;
	size_t i, cap = json_array_size(arr) * 600 + 1;
	char *text = calloc(1, cap), err[1024];
	if (!text)
		return report_fail(c->out, EXIT_FAIL, ENOMEM, "out of memory");
	size_t len = 0;
	json_array_foreach(arr, i, e)
		len += (size_t)snprintf(text + len, cap - len, "-/mapr/%s/%s\n",
					sio_str(e, "cluster"), sio_str(e, "stream"));
	int rc = 0;
	if (len && (rc = sio_append(s, file, text, err, sizeof(err))) < 0)
		rc = report_fail(c->out, EXIT_FAIL, -rc,
				 "cannot delete stream %s: emptying %s failed: %s", s->global,
				 file, err);
	free(text);
	return rc;
}

int cmd_stream_delete(struct cli *c)
{
	struct stream_ref s;
	json_t *info = NULL;
	char err[1024];
	int rc = cli_stream(c, "-path", true, &s);
	if (!rc)
		rc = cli_info(c, &s, &info);
	/* Upstreams first: nothing new arrives while the topics go. */
	if (!rc)
		rc = clear_list(c, &s, info, "upstreams", ".upstreams");
	if (!rc)
		rc = clear_list(c, &s, info, "replicas", ".replicas");
	json_decref(info);
	if (rc)
		return rc;
	int e = sio_remove_stream(&s, err, sizeof(err));
	if (e < 0)
		return report_fail(c->out, EXIT_FAIL, -e, "cannot delete stream %s: %s",
				   s.global, err);
	return 0;
}

int cmd_stream_info(struct cli *c)
{
	struct stream_ref s;
	json_t *info = NULL;
	int rc = cli_stream(c, "-path", true, &s);
	if (!rc)
		rc = cli_info(c, &s, &info);
	if (rc)
		return rc;
	long long bytes = 0, msgs = 0;
	json_t *topics = json_object_get(info, "topics"), *t;
	size_t i;
	json_array_foreach(topics, i, t) {
		bytes += sio_int(t, "bytes");
		msgs += sio_int(t, "messages");
	}
	json_t *row = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:i, s:b, s:i, s:s, s:I, s:I, s:s, s:s, s:s}",
		"path", s.global, "uuid", sio_str(info, "uuid"),
		"numtopics", (json_int_t)json_array_size(topics),
		"logicalsize", (json_int_t)bytes, "nummessages", (json_int_t)msgs,
		"numreplicas", (json_int_t)json_array_size(json_object_get(info, "replicas")),
		"numupstreams", (json_int_t)json_array_size(json_object_get(info, "upstreams")),
		"defaultpartitions", 1, "autocreate", 1, "ttl", 0, "compression", "off",
		"uid", (json_int_t)sio_int(info, "uid"), "gid", (json_int_t)sio_int(info, "gid"),
		"mode", sio_str(info, "mode"), "lastError", sio_str(info, "lastError"),
		"lastErrorTime", sio_str(info, "lastErrorTime"));
	json_decref(info);
	return report_row(c->out, row) < 0 ? c->out->status : 0;
}

int cmd_stream_edit(struct cli *c)
{
	struct stream_ref s;
	return cli_stream(c, "-path", true, &s);
}
