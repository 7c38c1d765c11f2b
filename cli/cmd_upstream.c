/*
 * cmd_upstream.c - maprcli stream upstream add | remove | list, as lines
 * appended to the stream's .upstreams ("/mapr/C/S" adds, "-/mapr/C/S"
 * removes); list shows the upstreams of .info.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "streamio.h"

/*
 * The stream (-path, must exist), the upstream (-upstream), the stream's
 * .info and whether the upstream is listed. Returns 0 or an exit status.
 */
static int upstream_refs(struct cli *c, struct stream_ref *s,
			 struct stream_ref *up, json_t **info, bool *listed)
{
	int rc;
	*info = NULL;
	if ((rc = cli_stream(c, "-path", true, s)) ||
	    (rc = cli_stream(c, "-upstream", false, up)) ||
	    (rc = cli_same_mount(c, s, up)))
		return rc;
	if (!strcmp(s->global, up->global))
		return report_fail(c->out, EXIT_FAIL, EINVAL,
				   "%s cannot be an upstream of itself", s->global);
	if ((rc = cli_info(c, s, info)))
		return rc;
	*listed = sio_entry(*info, "upstreams", up) != NULL;
	return 0;
}

/* Append "[-]UP" to S's .upstreams. Returns 0 or an exit status. */
static int write_line(struct cli *c, const struct stream_ref *s,
		      const struct stream_ref *up, bool remove)
{
	char line[700], err[1024];
	snprintf(line, sizeof(line), "%s%s\n", remove ? "-" : "", up->global);
	int rc = sio_append(s, ".upstreams", line, err, sizeof(err));
	if (rc < 0)
		return report_fail(c->out, EXIT_FAIL, -rc, "cannot %s %s as an upstream of %s: %s",
				   remove ? "remove" : "add", up->global, s->global, err);
	return 0;
}

int cmd_upstream_add(struct cli *c)
{
	struct stream_ref s, up;
	json_t *info;
	bool listed = false;
	int rc = upstream_refs(c, &s, &up, &info, &listed);
	if (!rc && listed)
		rc = report_fail(c->out, EXIT_FAIL, EEXIST, "%s is already an upstream of %s",
				 up.global, s.global);
	if (!rc)
		rc = write_line(c, &s, &up, false);
	json_decref(info);
	return rc;
}

int cmd_upstream_remove(struct cli *c)
{
	struct stream_ref s, up;
	json_t *info;
	bool listed = false;
	int rc = upstream_refs(c, &s, &up, &info, &listed);
	if (!rc && !listed)
		rc = report_fail(c->out, EXIT_FAIL, ENOENT, "%s is not an upstream of %s",
				 up.global, s.global);
	if (!rc)
		rc = write_line(c, &s, &up, true);
	json_decref(info);
	return rc;
}

int cmd_upstream_list(struct cli *c)
{
	static const char *const keys[] = { "cluster", "stream", "uuid", NULL };
	struct stream_ref s;
	json_t *info = NULL, *u;
	int rc = cli_stream(c, "-path", true, &s);
	if (!rc)
		rc = cli_info(c, &s, &info);
	if (rc)
		return rc;
	size_t i;
	json_array_foreach(json_object_get(info, "upstreams"), i, u) {
		if (report_row(c->out, cli_pick(u, keys)) < 0) {
			rc = c->out->status;
			break;
		}
	}
	json_decref(info);
	return rc;
}
