/*
 * cmd_replica.c - maprcli stream replica add | remove | list | pause |
 * resume | edit, as lines appended to the source stream's .replicas:
 *
 *   add     "/mapr/C/S [synchronous=..] [paused=..] [networkcompression=..]"
 *   remove  "-/mapr/C/S"
 *   pause   "/mapr/C/S paused=true"      resume  "... paused=false"
 *   edit    "/mapr/C/S" and the settings given
 *   list    the replicas of .info
 * (autosetup is cli/autosetup.c.)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "streamio.h"

int replica_settings(struct cli *c, char *out, size_t outlen)
{
	size_t len = 0;
	out[0] = '\0';
	if (args_has(c->args, "synchronous"))
		len += (size_t)snprintf(out + len, outlen - len, " synchronous=%s",
					args_bool(c->args, "synchronous", false) ? "true" : "false");
	if (args_has(c->args, "paused"))
		len += (size_t)snprintf(out + len, outlen - len, " paused=%s",
					args_bool(c->args, "paused", false) ? "true" : "false");
	const char *nc = args_get(c->args, "networkcompression");
	if (nc) {
		static const char *const ok[] = { "off", "none", "lz4", "zstd" };
		const char *v = NULL;
		for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
			if (!strcasecmp(nc, ok[i]))
				v = i == 1 ? "off" : ok[i];
		/* MapR's other codecs: streamfs has lz4 for the fast one. */
		if (!v && (!strcasecmp(nc, "lzf") || !strcasecmp(nc, "zlib"))) {
			fprintf(stderr, "maprcli: note: -networkcompression %s is taken as lz4 (streamfs offers off, lz4 and zstd)\n",
				nc);
			v = "lz4";
		}
		if (!v)
			return cli_usage(c, "option -networkcompression: '%s' is not off, lz4, zstd (or MapR's lzf, zlib)",
					 nc);
		snprintf(out + len, outlen - len, " networkcompression=%s", v);
	}
	return 0;
}

/*
 * The source (-path, must exist), the replica (-replica), the source's
 * .info, and the replica's entry in it (*ENTRY, NULL if not listed).
 * Returns 0 or an exit status (then *INFO is NULL).
 */
static int replica_refs(struct cli *c, struct stream_ref *src,
			struct stream_ref *dst, json_t **info, json_t **entry)
{
	int rc;
	*info = NULL;
	if ((rc = cli_stream(c, "-path", true, src)) ||
	    (rc = cli_stream(c, "-replica", false, dst)) ||
	    (rc = cli_same_mount(c, src, dst)))
		return rc;
	if (!strcmp(src->global, dst->global))
		return report_fail(c->out, EXIT_FAIL, EINVAL,
				   "%s cannot be a replica of itself", src->global);
	if ((rc = cli_info(c, src, info)))
		return rc;
	*entry = sio_entry(*info, "replicas", dst);
	return 0;
}

/*
 * Append "[-]DST SETTINGS" to SRC's .replicas; on refusal record
 * "cannot WHAT: reason". Returns 0 or an exit status.
 */
static int write_line(struct cli *c, const struct stream_ref *src,
		      const struct stream_ref *dst, bool remove,
		      const char *settings, const char *what)
{
	char line[1024], err[1024];
	snprintf(line, sizeof(line), "%s%s%s\n", remove ? "-" : "", dst->global, settings);
	int rc = sio_append(src, ".replicas", line, err, sizeof(err));
	if (rc < 0 && !strcmp(what, "add"))
		return report_fail(c->out, EXIT_FAIL, -rc, "cannot add %s as a replica of %s: %s",
				   dst->global, src->global, err);
	if (rc < 0)
		return report_fail(c->out, EXIT_FAIL, -rc, "cannot %s replica %s of %s: %s",
				   what, dst->global, src->global, err);
	return 0;
}

/* Record that DST is not a replica of SRC. */
static int not_listed(struct cli *c, const struct stream_ref *src,
		      const struct stream_ref *dst)
{
	return report_fail(c->out, EXIT_FAIL, ENOENT, "%s is not a replica of %s",
			   dst->global, src->global);
}

int cmd_replica_add(struct cli *c)
{
	struct stream_ref src, dst;
	json_t *info, *entry;
	char settings[256];
	int rc = replica_refs(c, &src, &dst, &info, &entry);
	if (!rc && entry)
		rc = report_fail(c->out, EXIT_FAIL, EEXIST,
				 "%s is already a replica of %s (change its settings with 'maprcli stream replica edit')",
				 dst.global, src.global);
	if (!rc)
		rc = replica_settings(c, settings, sizeof(settings));
	if (!rc)
		rc = write_line(c, &src, &dst, false, settings, "add");
	json_decref(info);
	return rc;
}

int cmd_replica_remove(struct cli *c)
{
	struct stream_ref src, dst;
	json_t *info, *entry;
	int rc = replica_refs(c, &src, &dst, &info, &entry);
	if (!rc && !entry)
		rc = not_listed(c, &src, &dst);
	if (!rc)
		rc = write_line(c, &src, &dst, true, "", "remove");
	json_decref(info);
	return rc;
}

/* Pause (PAUSED true) or resume a listed replica. */
static int set_paused(struct cli *c, bool paused)
{
	struct stream_ref src, dst;
	json_t *info, *entry;
	int rc = replica_refs(c, &src, &dst, &info, &entry);
	if (!rc && !entry)
		rc = not_listed(c, &src, &dst);
	if (!rc)
		rc = write_line(c, &src, &dst, false, paused ? " paused=true" : " paused=false",
				paused ? "pause" : "resume");
	json_decref(info);
	return rc;
}

int cmd_replica_pause(struct cli *c)
{
	return set_paused(c, true);
}

int cmd_replica_resume(struct cli *c)
{
	return set_paused(c, false);
}

int cmd_replica_edit(struct cli *c)
{
	struct stream_ref src, dst;
	json_t *info = NULL, *entry;
	char settings[256];
	int rc = replica_settings(c, settings, sizeof(settings));
	if (!rc && !settings[0])
		rc = cli_usage(c, "nothing to change: give -synchronous, -paused or -networkcompression");
	if (!rc)
		rc = replica_refs(c, &src, &dst, &info, &entry);
	if (!rc && !entry)
		rc = not_listed(c, &src, &dst);
	if (!rc)
		rc = write_line(c, &src, &dst, false, settings, "edit");
	json_decref(info);
	return rc;
}

int cmd_replica_list(struct cli *c)
{
	static const char *const keys[] = {
		"cluster", "stream", "replicaPath", "replicaState", "paused",
		"synchronous", "degraded", "networkcompression", "isUptodate", "putsPending",
		"bytesPending", "oldestPendingTime", "lastError", "lastErrorTime", NULL
	};
	struct stream_ref src;
	json_t *info = NULL, *r;
	int rc = cli_stream(c, "-path", true, &src);
	if (!rc)
		rc = cli_info(c, &src, &info);
	if (rc)
		return rc;
	size_t i;
	json_array_foreach(json_object_get(info, "replicas"), i, r) {
		if (report_row(c->out, cli_pick(r, keys)) < 0) {
			rc = c->out->status;
			break;
		}
	}
	json_decref(info);
	return rc;
}
