/*
 * commands.c - helpers shared by the maprcli command handlers
 * (commands.h): naming streams from options, reading .info, picking
 * output fields, usage errors.
 */
#include "commands.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "streamio.h"

int cli_stream(struct cli *c, const char *opt, bool must_exist,
	       struct stream_ref *out)
{
	char err[1024];
	const char *path = args_get(c->args, opt + 1);
	if (!path)
		return cli_usage(c, "missing option %s", opt);
	int rc = mount_stream(c->mnt, opt, path, out, err, sizeof(err));
	if (rc < 0)
		return report_fail(c->out, EXIT_FAIL, -rc, "%s", err);
	if (must_exist && (rc = mount_check_stream(out, err, sizeof(err))) < 0)
		return report_fail(c->out, EXIT_FAIL, -rc, "%s", err);
	return 0;
}

int cli_same_mount(struct cli *c, const struct stream_ref *a,
		   const struct stream_ref *b)
{
	if (!strcmp(a->mount, b->mount))
		return 0;
	return report_fail(c->out, EXIT_FAIL, EXDEV,
			   "%s is in the streamfs mount %s and %s in %s: one command works on one mount",
			   a->global, a->mount, b->global, b->mount);
}

int cli_info(struct cli *c, const struct stream_ref *s, json_t **info)
{
	char err[1024];
	int rc = sio_info(s, info, err, sizeof(err));
	if (rc < 0)
		return report_fail(c->out, EXIT_FAIL, -rc, "%s", err);
	return 0;
}

json_t *cli_pick(json_t *obj, const char *const *keys)
{
	json_t *row = json_object();
	if (!row)
		return NULL;
	for (const char *const *k = keys; *k; k++) {
		json_t *v = json_object_get(obj, *k);
		if (json_object_set_new(row, *k, v ? json_incref(v) : json_string("")) < 0) {
			json_decref(row);
			return NULL;
		}
	}
	return row;
}

int cli_usage(struct cli *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return report_fail(c->out, EXIT_USAGE, EINVAL, "%s (see 'maprcli %s -h')", msg,
			   c->cmd);
}
