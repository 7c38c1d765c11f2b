/*
 * maprcli.c - main() of maprcli: the table of commands (MapR's verbs and
 * option names), help, dispatch to the handlers (cli/cmd_*.c,
 * cli/autosetup.c) and the exit status. docs/maprcli.md.
 *
 * maprcli works only through the mounted filesystem: mkdir/rmdir, topic
 * files and the control files .replicas, .upstreams and .info.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "mount.h"
#include "report.h"

#define PERM_WHY "streamfs uses the stream's owner, group and mode (chmod/chown on the stream directory) instead of MapR access expressions"
#define PARTS_WHY "streamfs topics have one partition"

#define PATH_OPT(what) { "path", OPT_STR, true, what }
#define IGNORED(name, why) { name, OPT_IGNORED, false, why }
#define STREAM_IGNORED                                                              \
	IGNORED("produceperm", PERM_WHY), IGNORED("consumeperm", PERM_WHY),         \
	IGNORED("topicperm", PERM_WHY), IGNORED("copyperm", PERM_WHY),              \
	IGNORED("adminperm", PERM_WHY), IGNORED("defaultpartitions", PARTS_WHY),    \
	IGNORED("ttl", "streamfs keeps every message until its topic is deleted"),  \
	IGNORED("compression", "streamfs stores messages uncompressed"),            \
	IGNORED("autocreate", "streamfs always creates a topic at its first append")
#define SYNC_OPT { "synchronous", OPT_BOOL, false, "synchronous replication (true/false, yes/no, 1/0)" }
#define PAUSED_OPT { "paused", OPT_BOOL, false, "stop sending, keeping the position (true/false)" }
#define COMP_OPT { "networkcompression", OPT_STR, false, "off, lz4 or zstd (MapR's lzf and zlib are taken as lz4; stored, for the gateway)" }
/* MapR replica options with no streamfs meaning: accepted, noted, ignored. */
#define REPLICA_IGNORED                                                             \
	IGNORED("throttle", "streamfs does not throttle replication"),              \
	IGNORED("networkencryption", "streamfs encrypts gateway traffic always (TLS); local replicas need none")
#define REPLICA_OPT { "replica", OPT_STR, true, "the replica stream, /mapr/<cluster>/<stream>" }
#define UPSTREAM_OPT { "upstream", OPT_STR, true, "the upstream stream, /mapr/<cluster>/<stream>" }
#define TOPIC_OPT { "topic", OPT_STR, true, "the topic name" }

static const struct opt_spec o_stream_create[] = {
	PATH_OPT("the stream, /mapr/<cluster>/<stream>"), STREAM_IGNORED, { NULL }
};
static const struct opt_spec o_stream[] = {
	PATH_OPT("the stream, /mapr/<cluster>/<stream>"), { NULL }
};
static const struct opt_spec o_topic_create[] = {
	PATH_OPT("the stream"), TOPIC_OPT, IGNORED("partitions", PARTS_WHY), { NULL }
};
static const struct opt_spec o_topic[] = {
	PATH_OPT("the stream"), TOPIC_OPT, { NULL }
};
static const struct opt_spec o_replica_add[] = {
	PATH_OPT("the source stream"), REPLICA_OPT, SYNC_OPT, PAUSED_OPT, COMP_OPT,
	REPLICA_IGNORED, { NULL }
};
static const struct opt_spec o_replica[] = {
	PATH_OPT("the source stream"), REPLICA_OPT, { NULL }
};
static const struct opt_spec o_replica_list[] = {
	PATH_OPT("the source stream"),
	IGNORED("refreshnow", "streamfs status is always current"), { NULL }
};
static const struct opt_spec o_autosetup[] = {
	PATH_OPT("the source stream (must exist)"),
	{ "replica", OPT_STR, true, "the replica stream to create (must not exist)" },
	{ "multimaster", OPT_BOOL, false, "also replicate back from the replica (true/false)" },
	{ "synchronous", OPT_BOOL, false, "synchronous replication, both ways with -multimaster (true/false)" },
	{ "networkcompression", OPT_STR, false, "off, lz4 or zstd, both ways with -multimaster" },
	{ "wait", OPT_FLAG, false, "return when the initial copy is done (progress bar on a terminal)" },
	{ "timeout", OPT_STR, false, "seconds -wait waits at most (default 600)" },
	REPLICA_IGNORED,
	{ NULL }
};
static const struct opt_spec o_upstream[] = {
	PATH_OPT("the stream that accepts"), UPSTREAM_OPT, { NULL }
};

struct command {
	const char *words;	/* "stream replica add" */
	const char *synopsis;	/* its options, short */
	const char *summary;	/* what it does, and as what file operation */
	cmd_fn fn;
	const struct opt_spec *opts;
};

static const struct command commands[] = {
	{ "stream create", "-path STREAM", "create a stream (mkdir)",
	  cmd_stream_create, o_stream_create },
	{ "stream delete", "-path STREAM",
	  "delete a stream: empty .upstreams and .replicas, remove its topics, rmdir",
	  cmd_stream_delete, o_stream },
	{ "stream info", "-path STREAM", "the stream's status (from .info)",
	  cmd_stream_info, o_stream },
	{ "stream edit", "-path STREAM",
	  "accepted for MapR compatibility: its options are all ignored",
	  cmd_stream_edit, o_stream_create },
	{ "stream topic create", "-path STREAM -topic NAME",
	  "create a topic (create the file exclusively)", cmd_topic_create, o_topic_create },
	{ "stream topic delete", "-path STREAM -topic NAME", "delete a topic (unlink)",
	  cmd_topic_delete, o_topic },
	{ "stream topic list", "-path STREAM", "the topics (from .info)",
	  cmd_topic_list, o_stream },
	{ "stream topic info", "-path STREAM -topic NAME",
	  "one topic (from .info and stat)", cmd_topic_info, o_topic },
	{ "stream replica add",
	  "-path SRC -replica DST [-synchronous B] [-paused B] [-networkcompression off|lz4|zstd]",
	  "SRC sends its messages to DST (a line in SRC/.replicas)",
	  cmd_replica_add, o_replica_add },
	{ "stream replica remove", "-path SRC -replica DST",
	  "stop replicating SRC to DST (\"-DST\" in SRC/.replicas)",
	  cmd_replica_remove, o_replica },
	{ "stream replica list", "-path SRC", "the replicas of SRC and their status (.info)",
	  cmd_replica_list, o_replica_list },
	{ "stream replica pause", "-path SRC -replica DST",
	  "stop sending, keep the position (paused=true)", cmd_replica_pause, o_replica },
	{ "stream replica resume", "-path SRC -replica DST",
	  "send again from where it stopped (paused=false)", cmd_replica_resume, o_replica },
	{ "stream replica edit",
	  "-path SRC -replica DST [-synchronous B] [-paused B] [-networkcompression off|lz4|zstd]",
	  "change the settings of a replica", cmd_replica_edit, o_replica_add },
	{ "stream replica autosetup",
	  "-path SRC -replica DST [-multimaster B] [-synchronous B] [-networkcompression C] [-wait [-timeout S]]",
	  "create DST as a replica of SRC: mkdir DST, SRC into DST/.upstreams, DST into SRC/.replicas (and the reverse with -multimaster); the daemon copies SRC's messages",
	  cmd_replica_autosetup, o_autosetup },
	{ "stream upstream add", "-path STREAM -upstream UP",
	  "STREAM accepts messages from UP (a line in STREAM/.upstreams)",
	  cmd_upstream_add, o_upstream },
	{ "stream upstream remove", "-path STREAM -upstream UP",
	  "stop accepting from UP (\"-UP\" in STREAM/.upstreams)",
	  cmd_upstream_remove, o_upstream },
	{ "stream upstream list", "-path STREAM", "the upstreams of STREAM (.info)",
	  cmd_upstream_list, o_stream },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char global_help[] =
	"Global options (anywhere on the line):\n"
	"  -json        MapR's JSON: {\"timestamp\",\"timeofday\",\"status\":\"OK\",\"total\",\"data\":[...]},\n"
	"               on error {\"status\":\"ERROR\",\"errors\":[{\"id\",\"desc\"}]} (on stdout)\n"
	"  -noheader    table output without its header row\n"
	"  -mount DIR   the streamfs mountpoint (default: $STREAMFS_MOUNT)\n"
	"  -h           help: 'maprcli stream -h', 'maprcli stream replica add -h'\n"
	"  --version    the version (alone on the line)\n"
	"\n"
	"Paths are /mapr/<cluster>/<stream>, or the same under the real mountpoint.\n"
	"The mount used: -mount DIR, else $STREAMFS_MOUNT, else the streamfs mount\n"
	"that holds the path, else /mapr if it is a streamfs mount (fuse.streamfs in\n"
	"/proc/mounts), else the only streamfs mount there is.\n"
	"Booleans: true/false, yes/no, 1/0. Options MapR has and streamfs does not\n"
	"use are accepted and ignored, with a note on stderr.\n"
	"Exit status: 0 success; 1 the command failed; 2 usage error (nothing done).\n"
	"Documentation: maprcli(1), docs/maprcli.md\n";

/* The words of CMD after the group prefix G (of GL bytes). */
static bool in_group(const struct command *cmd, const char *g, size_t gl)
{
	return gl == 0 || (!strncmp(cmd->words, g, gl) && cmd->words[gl] == ' ');
}

/* The commands of group G ("" for all), one per line, on FP. */
static void list_commands(FILE *fp, const char *g)
{
	size_t gl = strlen(g);
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (!in_group(&commands[i], g, gl))
			continue;
		fprintf(fp, "  maprcli %s %s\n      %s\n", commands[i].words,
			commands[i].synopsis, commands[i].summary);
	}
}

static void help_top(FILE *fp)
{
	fprintf(fp,
		"Usage: maprcli stream [topic|replica|upstream] VERB -option value ... [-json]\n"
		"\n"
		"MapR Streams commands for streamfs, carried out through the mounted\n"
		"filesystem (mkdir, topic files, .replicas, .upstreams, .info).\n"
		"\n"
		"Commands:\n");
	list_commands(fp, "");
	fprintf(fp, "\n%s", global_help);
}

static void help_group(FILE *fp, const char *g)
{
	fprintf(fp, "Usage: maprcli %s VERB -option value ... [-json]\n\nCommands:\n", g);
	list_commands(fp, g);
	fprintf(fp, "\nGlobal options: -json, -noheader, -mount DIR, -h (see 'maprcli -h').\n");
}

static void help_command(FILE *fp, const struct command *cmd)
{
	fprintf(fp, "Usage: maprcli %s %s [-json] [-noheader] [-mount DIR]\n\n%s.\n\nOptions:\n",
		cmd->words, cmd->synopsis, cmd->summary);
	bool ignored = false;
	for (const struct opt_spec *o = cmd->opts; o->name; o++) {
		if (o->kind == OPT_IGNORED) {
			ignored = true;
			continue;
		}
		fprintf(fp, "  -%-20s %s%s\n", o->name, o->help,
			o->required ? " (required)" : "");
	}
	if (ignored) {
		fprintf(fp, "\nAccepted for MapR compatibility and ignored:\n");
		for (const struct opt_spec *o = cmd->opts; o->name; o++)
			if (o->kind == OPT_IGNORED)
				fprintf(fp, "  -%-20s %s\n", o->name, o->help);
	}
	fprintf(fp, "\nStreams are written /mapr/<cluster>/<stream> (or under the real mountpoint).\n"
		"Global options: -json, -noheader, -mount DIR, -h (see 'maprcli -h').\n");
}

/* The verbs of group G ("stream replica"): "add, remove, ...", each once. */
static void group_verbs(const char *g, char *out, size_t n)
{
	size_t gl = strlen(g), len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (!in_group(&commands[i], g, gl))
			continue;
		const char *v = commands[i].words + gl + 1;
		size_t vl = strcspn(v, " ");
		bool seen = false;
		for (size_t j = 0; j < i; j++) {
			const char *w = commands[j].words + gl + 1;
			seen |= in_group(&commands[j], g, gl) && !strncmp(w, v, vl) &&
				(w[vl] == ' ' || w[vl] == '\0');
		}
		if (!seen && len < n)
			len += (size_t)snprintf(out + len, n - len, "%s%.*s", len ? ", " : "",
						(int)vl, v);
	}
}

/* The longest known group that the words W start with ("" if none). */
static void known_group(const char *w, char *g, size_t n)
{
	g[0] = '\0';
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const char *cw = commands[i].words;
		for (size_t k = 0; cw[k]; k++) {
			if (cw[k] != ' ')
				continue;
			/* cw[0..k) is a group; does W start with it? */
			if (!strncmp(w, cw, k) && (w[k] == ' ' || w[k] == '\0') && k > strlen(g) &&
			    k < n) {
				memcpy(g, cw, k);
				g[k] = '\0';
			}
		}
	}
}

int main(int argc, char **argv)
{
	struct args a;
	struct report out;
	struct mount_ctx mnt;
	char err[1024], words[256] = "";
	bool json = false, noheader = false;

	for (int i = 1; i < argc; i++) {
		json |= !strcmp(argv[i], "-json");
		noheader |= !strcmp(argv[i], "-noheader");
	}
	report_init(&out, json, noheader);
	mount_init(&mnt, NULL);
	struct cli c = { .cmd = "", .args = &a, .out = &out, .mnt = &mnt };

	if (argc == 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-version"))) {
		printf("maprcli (streamfs) %s\n", SFS_VERSION);
		report_free(&out);
		return 0;
	}
	if (argc < 2) {
		help_top(stderr);
		report_free(&out);
		return EXIT_USAGE;
	}
	if (args_split(argc - 1, argv + 1, &a, err, sizeof(err)) < 0) {
		report_fail(&out, EXIT_USAGE, EINVAL, "%s (see 'maprcli -h')", err);
		goto done;
	}
	for (int i = 0; i < a.nwords; i++)
		snprintf(words + strlen(words), sizeof(words) - strlen(words), "%s%s",
			 i ? " " : "", a.words[i]);

	const struct command *cmd = NULL;
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].words, words))
			cmd = &commands[i];
	if (!cmd) {
		char g[128], verbs[1024];
		known_group(words, g, sizeof(g));
		bool is_group = !strcmp(g, words) || (!a.nwords && a.help);
		if (a.help && (is_group || !a.nwords)) {
			if (a.nwords)
				help_group(stdout, words);
			else
				help_top(stdout);
			report_free(&out);
			return EXIT_OK;
		}
		if (!a.nwords) {
			report_fail(&out, EXIT_USAGE, EINVAL,
				    "no command given (see 'maprcli -h')");
		} else if (!g[0]) {
			report_fail(&out, EXIT_USAGE, EINVAL,
				    "unknown command '%s' (see 'maprcli -h')", words);
		} else {
			group_verbs(g, verbs, sizeof(verbs));
			if (is_group)
				report_fail(&out, EXIT_USAGE, EINVAL,
					    "'maprcli %s' needs a verb: %s (see 'maprcli %s -h')",
					    g, verbs, g);
			else
				report_fail(&out, EXIT_USAGE, EINVAL,
					    "unknown verb '%s' for 'maprcli %s' (verbs: %s)",
					    words + strlen(g) + 1, g, verbs);
		}
		goto done;
	}
	c.cmd = cmd->words;
	if (a.help) {
		help_command(stdout, cmd);
		report_free(&out);
		return EXIT_OK;
	}
	if (args_parse(&a, cmd->opts, err, sizeof(err)) < 0) {
		cli_usage(&c, "%s", err);
		goto done;
	}
	mount_free(&mnt);
	mount_init(&mnt, a.mount);
	for (int i = 0; i < a.nopts; i++)
		if (a.opts[i].spec->kind == OPT_IGNORED)
			report_note("-%s is accepted for MapR compatibility and ignored: %s",
				    a.opts[i].spec->name, a.opts[i].spec->help);
	cmd->fn(&c);
done:;
	int status = report_print(&out);
	report_free(&out);
	mount_free(&mnt);
	return status;
}
