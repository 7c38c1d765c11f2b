/*
 * cmd_topic.c - maprcli stream topic create | delete | list | info.
 *
 *   create  creates the topic file exclusively (O_CREAT|O_EXCL)
 *   delete  unlink
 *   list    one row per topic of .info
 *   info    one row: the topic in .info, plus owner and mode from stat
 * streamfs topics have one partition: -partitions is accepted and ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "fs/names.h"
#include "streamio.h"

/*
 * The stream of -path (it must exist) and the topic of -topic, with its
 * path in PATH. Returns 0 or an exit status.
 */
static int topic_ref(struct cli *c, struct stream_ref *s, const char **topic,
		     char *path, size_t pathlen)
{
	int rc = cli_stream(c, "-path", true, s);
	if (rc)
		return rc;
	*topic = args_get(c->args, "topic");
	if (!*topic)
		return cli_usage(c, "missing option -topic");
	if (!name_valid(*topic))
		return report_fail(c->out, EXIT_FAIL, EINVAL,
				   "invalid topic name '%s' (names are 1-255 of A-Z a-z 0-9 . _ -, not starting with '.')",
				   *topic);
	snprintf(path, pathlen, "%s/%s", s->dir, *topic);
	return 0;
}

int cmd_topic_create(struct cli *c)
{
	struct stream_ref s;
	const char *topic;
	char path[PATH_MAX + 300];
	int rc = topic_ref(c, &s, &topic, path, sizeof(path));
	if (rc)
		return rc;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0) {
		int e = errno;
		if (e == EEXIST)
			return report_fail(c->out, EXIT_FAIL, e,
					   "topic '%s' already exists in stream %s", topic, s.global);
		return report_fail(c->out, EXIT_FAIL, e, "cannot create topic '%s' in %s: %s",
				   topic, s.global, strerror(e));
	}
	if (close(fd) < 0) {
		int e = errno;
		return report_fail(c->out, EXIT_FAIL, e, "creating topic '%s' in %s: %s",
				   topic, s.global, strerror(e));
	}
	return 0;
}

int cmd_topic_delete(struct cli *c)
{
	struct stream_ref s;
	const char *topic;
	char path[PATH_MAX + 300];
	int rc = topic_ref(c, &s, &topic, path, sizeof(path));
	if (rc)
		return rc;
	if (unlink(path) == 0)
		return 0;
	int e = errno;
	if (e == ENOENT)
		return report_fail(c->out, EXIT_FAIL, e, "topic '%s' does not exist in stream %s",
				   topic, s.global);
	return report_fail(c->out, EXIT_FAIL, e, "cannot delete topic '%s' of %s: %s", topic,
			   s.global, strerror(e));
}

/* A row of topic list: topic, partitions, logicalsize, maxoffset, messages. */
static json_t *topic_row(json_t *t)
{
	long long msgs = sio_int(t, "messages");
	return json_pack("{s:s, s:i, s:I, s:I, s:I}", "topic", sio_str(t, "name"),
			 "partitions", 1, "logicalsize", (json_int_t)sio_int(t, "bytes"),
			 "maxoffset", (json_int_t)(msgs - 1), "messages", (json_int_t)msgs);
}

int cmd_topic_list(struct cli *c)
{
	struct stream_ref s;
	json_t *info = NULL, *t;
	int rc = cli_stream(c, "-path", true, &s);
	if (!rc)
		rc = cli_info(c, &s, &info);
	if (rc)
		return rc;
	size_t i;
	json_array_foreach(json_object_get(info, "topics"), i, t) {
		if (report_row(c->out, topic_row(t)) < 0) {
			rc = c->out->status;
			break;
		}
	}
	json_decref(info);
	return rc;
}

int cmd_topic_info(struct cli *c)
{
	struct stream_ref s;
	const char *topic;
	char path[PATH_MAX + 300];
	json_t *info = NULL, *t, *found = NULL;
	struct stat st;
	int rc = topic_ref(c, &s, &topic, path, sizeof(path));
	if (rc)
		return rc;
	if (stat(path, &st) < 0) {
		int e = errno;
		if (e == ENOENT)
			return report_fail(c->out, EXIT_FAIL, e,
					   "topic '%s' does not exist in stream %s", topic, s.global);
		return report_fail(c->out, EXIT_FAIL, e, "cannot stat topic '%s' of %s: %s",
				   topic, s.global, strerror(e));
	}
	if ((rc = cli_info(c, &s, &info)))
		return rc;
	size_t i;
	json_array_foreach(json_object_get(info, "topics"), i, t)
		if (!strcmp(sio_str(t, "name"), topic))
			found = t;
	if (!found) {
		json_decref(info);
		return report_fail(c->out, EXIT_FAIL, ENOENT,
				   "topic '%s' does not exist in stream %s", topic, s.global);
	}
	char mode[8], when[40];
	snprintf(mode, sizeof(mode), "0%03o", (unsigned)(st.st_mode & 0777));
	struct tm tm;
	gmtime_r(&st.st_mtim.tv_sec, &tm);
	size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + n, sizeof(when) - n, ".%03ldZ", st.st_mtim.tv_nsec / 1000000);
	json_t *row = topic_row(found);
	json_t *more = json_pack("{s:s, s:s, s:I, s:I, s:s}", "uuid",
				 sio_str(found, "uuid"), "lastappendtime", when,
				 "uid", (json_int_t)st.st_uid, "gid", (json_int_t)st.st_gid,
				 "mode", mode);
	if (!row || !more || json_object_update(row, more) < 0) {
		json_decref(row);
		row = NULL;
	}
	json_decref(more);
	json_decref(info);
	return report_row(c->out, row) < 0 ? c->out->status : 0;
}
