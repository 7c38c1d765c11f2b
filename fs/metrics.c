/*
 * metrics.c - Prometheus text of the mount's status (metrics.h), made
 * from the same JSON object as /.info (rootinfo_json).
 */
#define _GNU_SOURCE /* open_memstream */
#include "metrics.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rootinfo.h"
#include "stats.h"

/* V as a label value: backslash, quote and newline escaped. */
static void label(FILE *f, const char *v)
{
	for (; v && *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The daemon-wide counters: JSON key, metric name, help. */
static const char *const counters[][3] = {
	{ "messagesAppended", "streamfs_appended_messages_total", "Messages appended through the mount." },
	{ "bytesAppended", "streamfs_appended_bytes_total", "Bytes appended through the mount (with each message's newline)." },
	{ "messagesRead", "streamfs_read_messages_total", "Messages (newlines) read from topics through the mount." },
	{ "bytesRead", "streamfs_read_bytes_total", "Bytes read from topics through the mount." },
	{ "replicationMessagesSent", "streamfs_replication_sent_messages_total", "Messages sent to replicas." },
	{ "replicationBytesSent", "streamfs_replication_sent_bytes_total", "Bytes sent to replicas." },
	{ "replicationMessagesApplied", "streamfs_replication_applied_messages_total", "Messages from upstreams stored here." },
	{ "warnings", "streamfs_log_warnings_total", "Warn lines logged (refused input, recoverable faults)." },
	{ "errors", "streamfs_log_errors_total", "Error lines logged (failures of the daemon)." },
};

/* A stream's or a replica's gauges: JSON key, metric suffix, help. */
static const char *const stream_gauges[][3] = {
	{ "numtopics", "streamfs_stream_topics", "Topics of the stream." },
	{ "messages", "streamfs_stream_messages", "Messages stored in the stream." },
	{ "bytes", "streamfs_stream_bytes", "Bytes stored in the stream." },
	{ "lastErrorEpoch", "streamfs_stream_last_error_time_seconds", "Time of the stream's last refused control-file write (0: none)." },
};
static const char *const replica_gauges[][3] = {
	{ "putsPending", "streamfs_replica_pending_messages", "Messages not yet on the replica." },
	{ "bytesPending", "streamfs_replica_pending_bytes", "Bytes not yet on the replica." },
	{ "lagSeconds", "streamfs_replica_lag_seconds", "Age of the oldest message not yet on the replica (0: none)." },
	{ "lastErrorEpoch", "streamfs_replica_last_error_time_seconds", "Time of the replica's current error (0: healthy)." },
};

static void number(FILE *f, json_t *v)
{
	if (json_is_integer(v))
		fprintf(f, "%lld\n", (long long)json_integer_value(v));
	else
		fprintf(f, "%.3f\n", json_number_value(v));
}

static void stream_labels(FILE *f, json_t *s)
{
	fputs("{cluster=\"", f);
	label(f, json_string_value(json_object_get(s, "cluster")));
	fputs("\",stream=\"", f);
	label(f, json_string_value(json_object_get(s, "stream")));
	fputc('"', f);
}

static void render(FILE *f, json_t *j)
{
	head(f, "streamfs_info", "gauge", "The daemon's version (always 1).");
	fputs("streamfs_info{version=\"", f);
	label(f, json_string_value(json_object_get(j, "version")));
	fputs("\"} 1\n", f);
	head(f, "streamfs_uptime_seconds", "gauge", "Seconds since the daemon started.");
	/* .info's uptimeSeconds is whole seconds: the clock's own here */
	fprintf(f, "streamfs_uptime_seconds %.3f\n", stats_uptime_s());
	head(f, "streamfs_cluster_reachable", "gauge",
	     "1 if the cluster can be reached, 0 if not; absent while unknown.");
	size_t i, k;
	json_t *c, *s, *r;
	json_array_foreach(json_object_get(j, "clusters"), i, c) {
		json_t *up = json_object_get(c, "reachable");
		if (!json_is_boolean(up))
			continue;
		fputs("streamfs_cluster_reachable{cluster=\"", f);
		label(f, json_string_value(json_object_get(c, "name")));
		fputs("\",home=\"", f);
		label(f, json_string_value(json_object_get(c, "home")));
		fprintf(f, "\"} %d\n", json_is_true(up));
	}
	json_t *cnt = json_object_get(j, "counters");
	for (k = 0; k < sizeof(counters) / sizeof(counters[0]); k++) {
		head(f, counters[k][1], "counter", counters[k][2]);
		fprintf(f, "%s ", counters[k][1]);
		number(f, json_object_get(cnt, counters[k][0]));
	}
	json_t *streams = json_object_get(j, "streams");
	for (k = 0; k < sizeof(stream_gauges) / sizeof(stream_gauges[0]); k++) {
		head(f, stream_gauges[k][1], "gauge", stream_gauges[k][2]);
		json_array_foreach(streams, i, s) {
			fputs(stream_gauges[k][1], f);
			stream_labels(f, s);
			fputs("} ", f);
			number(f, json_object_get(s, stream_gauges[k][0]));
		}
	}
	for (k = 0; k < sizeof(replica_gauges) / sizeof(replica_gauges[0]); k++) {
		head(f, replica_gauges[k][1], "gauge", replica_gauges[k][2]);
		json_array_foreach(streams, i, s) {
			size_t m;
			json_array_foreach(json_object_get(s, "replicas"), m, r) {
				fputs(replica_gauges[k][1], f);
				stream_labels(f, s);
				fputs(",replica=\"", f);
				label(f, json_string_value(json_object_get(r, "replicaPath")));
				fputs("\"} ", f);
				number(f, json_object_get(r, replica_gauges[k][0]));
			}
		}
	}
}

int metrics_render(struct sfs_namespace *ns, char **out, size_t *len)
{
	json_t *j = rootinfo_json(ns, NULL);
	if (!j)
		return -ENOMEM;
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f) {
		json_decref(j);
		return -ENOMEM;
	}
	render(f, j);
	json_decref(j);
	if (fclose(f) != 0 || !buf) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*len = n;
	return 0;
}
