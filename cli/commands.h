/*
 * commands.h - the maprcli command handlers and what they share.
 *
 * A handler gets the parsed command line, the report to fill and the mount
 * context; it returns the exit status (0, or the status of the failure it
 * recorded with report_fail). Handlers live in cli/cmd_stream.c,
 * cli/cmd_topic.c, cli/cmd_replica.c, cli/cmd_upstream.c and
 * cli/autosetup.c; the helpers below in cli/commands.c.
 */
#ifndef MAPRCLI_COMMANDS_H
#define MAPRCLI_COMMANDS_H

#include <jansson.h>
#include <stdbool.h>

#include "args.h"
#include "mount.h"
#include "report.h"

/* One invocation. */
struct cli {
	const char *cmd;	/* "stream replica add", for messages */
	struct args *args;
	struct report *out;
	struct mount_ctx *mnt;
};

typedef int (*cmd_fn)(struct cli *c);

/*
 * cli_stream - resolve the stream named by option OPT ("-path",
 * "-replica", "-upstream"); with MUST_EXIST also check that it exists.
 * Returns 0, or an exit status with the failure recorded.
 */
int cli_stream(struct cli *c, const char *opt, bool must_exist,
	       struct stream_ref *out);

/*
 * cli_same_mount - A and B are in the same mount; otherwise records a
 * failure and returns its exit status.
 */
int cli_same_mount(struct cli *c, const struct stream_ref *a,
		   const struct stream_ref *b);

/* cli_info - read S's .info into *INFO; returns 0 or an exit status. */
int cli_info(struct cli *c, const struct stream_ref *s, json_t **info);

/*
 * cli_pick - a new object with the members KEYS (NULL-terminated) of OBJ,
 * in that order; a missing member becomes "". NULL when out of memory.
 */
json_t *cli_pick(json_t *obj, const char *const *keys);

/*
 * cli_usage - record a usage error (exit 2, EINVAL) about the current
 * command: "MESSAGE (see 'maprcli CMD -h')".
 */
int cli_usage(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Handlers. */
int cmd_stream_create(struct cli *c);
int cmd_stream_delete(struct cli *c);
int cmd_stream_info(struct cli *c);
int cmd_stream_edit(struct cli *c);
int cmd_topic_create(struct cli *c);
int cmd_topic_delete(struct cli *c);
int cmd_topic_list(struct cli *c);
int cmd_topic_info(struct cli *c);
int cmd_replica_add(struct cli *c);
int cmd_replica_remove(struct cli *c);
int cmd_replica_list(struct cli *c);
int cmd_replica_pause(struct cli *c);
int cmd_replica_resume(struct cli *c);
int cmd_replica_edit(struct cli *c);
int cmd_replica_autosetup(struct cli *c);
int cmd_upstream_add(struct cli *c);
int cmd_upstream_remove(struct cli *c);
int cmd_upstream_list(struct cli *c);

/*
 * replica_settings - the " key=value" settings of a .replicas line from
 * the options -synchronous, -paused and -networkcompression that were
 * given (cli/cmd_replica.c). Writes them to OUT ("" when none). Returns 0,
 * or an exit status (a bad -networkcompression value is a usage error).
 */
int replica_settings(struct cli *c, char *out, size_t outlen);

#endif
