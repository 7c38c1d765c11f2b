/*
 * config.c - mount.conf: reading and checking the daemon's configuration
 * (config.h). Owns the section and key rules, the defaults, the syntax of
 * sizes, numbers and HOST:PORT values, resolution of relative paths against
 * the file's directory, and the one-line error messages.
 *
 * inih does the INI syntax. It is fed through our own line reader, which
 * counts lines (inih's handler is not told the line number in Debian's
 * build) and sees section headers (inih only reports keys, so an empty
 * section or a repeated [cluster NAME] would otherwise go unnoticed). The
 * reader mirrors inih's line classification exactly; see scan_line().
 */
#include "config.h"
#include "config_values.h"
#include "config_metrics.h"
#include "config_nats.h"
#include "names.h"
#include "util/hostport.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum section_kind {
	SEC_NONE,		/* before the first [section] */
	SEC_MOUNT,
	SEC_CLUSTER,
	SEC_GATEWAY,
	SEC_REPLICATION,
	SEC_METRICS,		/* its keys: config_metrics.c */
	SEC_BAD,		/* a section we already reported an error for */
};

enum value_type {
	V_PATH,			/* a path, made absolute */
	V_SIZE,			/* bytes, with optional K/M/G suffix */
	V_UINT,			/* a plain decimal number */
	V_FSYNC,		/* os | interval | always */
	V_ACCESS,		/* replicate | read | write | admin */
	V_HOSTPORT,		/* HOST:PORT */
};

enum key_id {
	K_MOUNTPOINT, K_LOG, K_MAX_MESSAGE, K_SEGMENT_BYTES, K_FSYNC,
	K_FSYNC_INTERVAL_MS,
	K_READ_AHEAD,
	K_LISTEN, K_CERT, K_KEY, K_CA, K_GW_TIMEOUT_MS,
	K_SYNC_TIMEOUT_MS, K_BATCH_MESSAGES, K_POSITIONS_INTERVAL_MS,
	K_DATA, K_GATEWAY, K_ACCESS,
	K_COUNT
};

struct key_def {
	enum section_kind sec;
	const char *name;
	enum value_type type;
	uint64_t min, max;	/* for V_SIZE and V_UINT */
};

static const struct key_def keys[K_COUNT] = {
	[K_MOUNTPOINT] = { SEC_MOUNT, "mountpoint", V_PATH, 0, 0 },
	[K_LOG] = { SEC_MOUNT, "log", V_PATH, 0, 0 },
	[K_MAX_MESSAGE] = { SEC_MOUNT, "max_message", V_SIZE, 1, 64 * MIB },
	[K_SEGMENT_BYTES] = { SEC_MOUNT, "segment_bytes", V_SIZE, 4 * KIB, TIB },
	[K_FSYNC] = { SEC_MOUNT, "fsync", V_FSYNC, 0, 0 },
	[K_FSYNC_INTERVAL_MS] = { SEC_MOUNT, "fsync_interval_ms", V_UINT, 1,
				  86400000 },
	[K_READ_AHEAD] = { SEC_MOUNT, "read_ahead", V_SIZE, 0, 1024 * MIB },
	[K_LISTEN] = { SEC_GATEWAY, "listen", V_HOSTPORT, 0, 0 },
	[K_CERT] = { SEC_GATEWAY, "cert", V_PATH, 0, 0 },
	[K_KEY] = { SEC_GATEWAY, "key", V_PATH, 0, 0 },
	[K_CA] = { SEC_GATEWAY, "ca", V_PATH, 0, 0 },
	[K_GW_TIMEOUT_MS] = { SEC_GATEWAY, "timeout_ms", V_UINT, 100, 600000 },
	[K_SYNC_TIMEOUT_MS] = { SEC_REPLICATION, "sync_timeout_ms", V_UINT, 1,
				3600000 },
	[K_BATCH_MESSAGES] = { SEC_REPLICATION, "batch_messages", V_UINT, 1,
			       1048576 },
	[K_POSITIONS_INTERVAL_MS] = { SEC_REPLICATION, "positions_interval_ms", V_UINT,
				      0, 3600000 },
	[K_DATA] = { SEC_CLUSTER, "data", V_PATH, 0, 0 },
	[K_GATEWAY] = { SEC_CLUSTER, "gateway", V_HOSTPORT, 0, 0 },
	[K_ACCESS] = { SEC_CLUSTER, "access", V_ACCESS, 0, 0 },
};

struct parse_state {
	struct sfs_config *cfg;
	const char *path;	/* the file, as given: used in messages */
	char *dir;		/* absolute directory of the file */
	FILE *fp;
	char *buf;		/* getline buffer */
	size_t bufcap;
	int lineno;		/* lines handed to inih so far (= current line) */
	bool continuation;	/* current line continues the previous key */
	bool have_prev_name;	/* inih has a previous key in this section */
	enum section_kind sec;
	char secname[SFS_NAME_MAX + 16];	/* "[cluster x]" for messages */
	int cluster;		/* index of the current cluster, or -1 */
	int key_line[K_COUNT];	/* where each non-cluster key was set */
	int data_line[SFS_MAX_CLUSTERS], gw_line[SFS_MAX_CLUSTERS];
	int access_line[SFS_MAX_CLUSTERS];
	int read_errno;		/* errno of a failed read, 0 if none */
	int err_line;		/* lowest line with an error; 0 = none */
	char err[512];
};

/* Record an error at LINE unless one at an earlier line is already known. */
static void __attribute__((format(printf, 3, 4)))
set_error(struct parse_state *st, int line, const char *fmt, ...)
{
	if (st->err_line && st->err_line <= line)
		return;
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st->err_line = line;
	snprintf(st->err, sizeof(st->err), "%s:%d: %s", st->path, line, msg);
}

/* Copy [S, S+N) trimmed of blanks into a new string. */
static char *strndup_trim(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return strndup(s, n);
}

/* Begin the section named by the header text [NAME, NAME+N) at the current line. */
static void begin_section(struct parse_state *st, const char *name, size_t n)
{
	struct sfs_config *cfg = st->cfg;
	int line = st->lineno;
	char *s = strndup_trim(name, n);
	if (!s) {
		set_error(st, line, "out of memory");
		st->sec = SEC_BAD;
		return;
	}
	st->cluster = -1;
	snprintf(st->secname, sizeof(st->secname), "[%s]", s);
	if (strcmp(s, "mount") == 0) {
		st->sec = SEC_MOUNT;
	} else if (strcmp(s, "gateway") == 0) {
		st->sec = SEC_GATEWAY;
	} else if (strcmp(s, "replication") == 0) {
		st->sec = SEC_REPLICATION;
	} else if (strcmp(s, "metrics") == 0) {
		st->sec = SEC_METRICS;
	} else if (strncmp(s, "cluster", 7) == 0 &&
		   (s[7] == '\0' || isspace((unsigned char)s[7]))) {
		const char *cn = s + 7;
		while (isspace((unsigned char)*cn))
			cn++;
		snprintf(st->secname, sizeof(st->secname), "[cluster %s]", cn);
		st->sec = SEC_BAD;
		if (!*cn) {
			set_error(st, line, "[cluster]: missing cluster name (write [cluster NAME])");
		} else if (!name_valid(cn)) {
			set_error(st, line, "%s: invalid cluster name '%s' "
				  "(1-255 of A-Z a-z 0-9 . _ -, not starting "
				  "with '.')", st->secname, cn);
		} else if (config_find_cluster(cfg, cn)) {
			set_error(st, line, "%s: duplicate cluster '%s' "
				  "(first defined at line %d)", st->secname, cn,
				  config_find_cluster(cfg, cn)->line);
		} else if (cfg->nclusters == SFS_MAX_CLUSTERS) {
			set_error(st, line, "%s: too many clusters (at most %d)",
				  st->secname, SFS_MAX_CLUSTERS);
		} else {
			struct sfs_cluster_conf *c =
			    &cfg->clusters[cfg->nclusters];
			c->name = strdup(cn);
			if (!c->name) {
				set_error(st, line, "out of memory");
			} else {
				c->line = line;
				st->cluster = cfg->nclusters++;
				st->sec = SEC_CLUSTER;
			}
		}
	} else {
		set_error(st, line, "%s: unknown section (known: [mount], [cluster NAME], "
			  "[gateway], [replication], [metrics])", st->secname);
		st->sec = SEC_BAD;
	}
	free(s);
}

/*
 * The same scan as inih's, to find inih's find_chars_or_comment() end:
 * the first char of CHARS, or an inline ';' comment after a blank, or NUL.
 */
static const char *find_chars_or_comment(const char *s, const char *chars)
{
	bool was_space = false;
	while (*s && (!chars || !strchr(chars, *s)) &&
	       !(was_space && strchr(INI_INLINE_COMMENT_PREFIXES, *s))) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/*
 * Classify LINE the way inih's ini_parse_stream() will (comment, blank,
 * continuation, section header, key = value, or a syntax error), so that
 * section headers and syntax errors are seen with their line number.
 */
static void scan_line(struct parse_state *st, const char *line)
{
	const char *s = line;
	while (*s && isspace((unsigned char)*s))
		s++;
	st->continuation = false;
	if (*s == '\0' || strchr(INI_START_COMMENT_PREFIXES, *s))
		return;
	if (st->have_prev_name && s > line) {
		st->continuation = true;
		return;
	}
	if (*s == '[') {
		const char *end = find_chars_or_comment(s + 1, "]");
		if (*end == ']') {
			begin_section(st, s + 1, end - (s + 1));
			st->have_prev_name = false;
		} else {
			set_error(st, st->lineno, "section header without "
				  "closing ']'");
		}
		return;
	}
	const char *end = find_chars_or_comment(s, "=:");
	if (*end != '=' && *end != ':')
		set_error(st, st->lineno, "%s: expected 'key = value', "
			  "'[section]' or a comment", st->sec == SEC_NONE ?
			  "(no section)" : st->secname);
}

/* inih's line source: one whole line per call, counted. */
static char *read_line(char *str, int num, void *user)
{
	struct parse_state *st = user;
	errno = 0;
	ssize_t n = getline(&st->buf, &st->bufcap, st->fp);
	if (n < 0) {
		if (ferror(st->fp))
			st->read_errno = errno ? errno : EIO;
		return NULL;
	}
	st->lineno++;
	const char *line = st->buf;
	if (st->lineno == 1 && n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
		line += 3;	/* UTF-8 byte order mark */
		n -= 3;
	}
	if (memchr(line, '\0', n)) {
		set_error(st, st->lineno, "NUL byte in line");
		snprintf(str, num, "\n");
		return str;
	}
	size_t content = n - (n > 0 && line[n - 1] == '\n');
	if (n > num - 1) {
		set_error(st, st->lineno, "line too long (%zu characters, at "
			  "most %d)", content, num - 2);
		snprintf(str, num, "\n");
		return str;
	}
	memcpy(str, line, n);
	str[n] = '\0';
	scan_line(st, str);
	return str;
}

/* Set key K of the current section to VALUE (already trimmed). */
static int set_key(struct parse_state *st, enum key_id k, const char *value)
{
	struct sfs_config *cfg = st->cfg;
	const struct key_def *d = &keys[k];
	int line = st->lineno;
	const char *sn = st->secname;

	/* Repeats: per cluster for cluster keys, per file for the others. */
	int *seen;
	if (d->sec == SEC_CLUSTER)
		seen = k == K_DATA ? &st->data_line[st->cluster] :
		    k == K_ACCESS ? &st->access_line[st->cluster] :
		    &st->gw_line[st->cluster];
	else
		seen = &st->key_line[k];
	if (*seen) {
		set_error(st, line, "%s: '%s' already set at line %d", sn,
			  d->name, *seen);
		return 0;
	}
	*seen = line;

	if (!*value) {
		set_error(st, line, "%s: empty value for '%s'", sn, d->name);
		return 0;
	}

	char *str = NULL;
	uint64_t num = 0;
	enum sfs_fsync_policy pol = SFS_FSYNC_OS;
	enum sfs_access access = SFS_ACCESS_REPLICATE;
	static const char *const access_names[] = { "replicate", "read", "write", "admin" };
	switch (d->type) {
	case V_ACCESS: {
		int a = 0;
		while (a < 4 && strcmp(value, access_names[a]))
			a++;
		if (a == 4) {
			set_error(st, line, "%s: bad value '%s' for '%s' "
				  "(expected replicate, read, write or admin)", sn,
				  value, d->name);
			return 0;
		}
		access = (enum sfs_access)a;
		break;
	}
	case V_PATH:
		str = config_resolve_path(st->dir, value);
		if (!str) {
			set_error(st, line, "out of memory");
			return 0;
		}
		break;
	case V_HOSTPORT:
		if (hostport_split(value, NULL, 0, NULL, 0) < 0) {
			set_error(st, line, "%s: bad value '%s' for '%s' "
				  "(expected HOST:PORT, port 1-65535)", sn,
				  value, d->name);
			return 0;
		}
		str = strdup(value);
		if (!str) {
			set_error(st, line, "out of memory");
			return 0;
		}
		break;
	case V_SIZE:
	case V_UINT: {
		bool ok = d->type == V_SIZE ? config_parse_size(value, &num) :
		    config_parse_uint(value, &num);
		if (!ok) {
			set_error(st, line, "%s: bad value '%s' for '%s' "
				  "(expected %s)", sn, value, d->name,
				  d->type == V_SIZE ? "bytes, optionally with a "
				  "K, M or G suffix" : "a whole number");
			return 0;
		}
		if (num < d->min || num > d->max) {
			char lo[32], hi[32];
			if (d->type == V_SIZE) {
				config_fmt_size(lo, sizeof(lo), d->min);
				config_fmt_size(hi, sizeof(hi), d->max);
			} else {
				snprintf(lo, sizeof(lo), "%llu",
					 (unsigned long long)d->min);
				snprintf(hi, sizeof(hi), "%llu",
					 (unsigned long long)d->max);
			}
			set_error(st, line, "%s: value '%s' for '%s' out of "
				  "range (%s to %s)", sn, value, d->name, lo,
				  hi);
			return 0;
		}
		/* The kernel keeps read-ahead in whole 4 KiB pages: less than
		 * one page would switch it off, the opposite of what was asked. */
		if (k == K_READ_AHEAD && num && (num < 4 * KIB || num % (4 * KIB))) {
			set_error(st, line, "%s: value '%s' for 'read_ahead' is not "
				  "0 or a whole number of 4K pages (4K, 1M, ...)",
				  sn, value);
			return 0;
		}
		break;
	}
	case V_FSYNC:
		if (strcmp(value, "os") == 0) {
			pol = SFS_FSYNC_OS;
		} else if (strcmp(value, "interval") == 0) {
			pol = SFS_FSYNC_INTERVAL;
		} else if (strcmp(value, "always") == 0) {
			pol = SFS_FSYNC_ALWAYS;
		} else {
			set_error(st, line, "%s: bad value '%s' for '%s' "
				  "(expected os, interval or always)", sn,
				  value, d->name);
			return 0;
		}
		break;
	}

	struct sfs_cluster_conf *c =
	    st->cluster >= 0 ? &cfg->clusters[st->cluster] : NULL;
	switch (k) {
	case K_MOUNTPOINT: cfg->mountpoint = str; break;
	case K_LOG: cfg->log = str; break;
	case K_MAX_MESSAGE: cfg->max_message = (size_t)num; break;
	case K_SEGMENT_BYTES: cfg->segment_bytes = num; break;
	case K_FSYNC: cfg->fsync = pol; break;
	case K_FSYNC_INTERVAL_MS: cfg->fsync_interval_ms = num; break;
	case K_READ_AHEAD: cfg->read_ahead = num; break;
	case K_LISTEN: cfg->gateway_listen = str; break;
	case K_CERT: cfg->gateway_cert = str; break;
	case K_KEY: cfg->gateway_key = str; break;
	case K_CA: cfg->gateway_ca = str; break;
	case K_GW_TIMEOUT_MS: cfg->gateway_timeout_ms = num; break;
	case K_SYNC_TIMEOUT_MS: cfg->sync_timeout_ms = num; break;
	case K_BATCH_MESSAGES: cfg->batch_messages = (uint32_t)num; break;
	case K_POSITIONS_INTERVAL_MS: cfg->positions_interval_ms = (uint32_t)num; break;
	case K_DATA: c->data = str; break;
	case K_GATEWAY: c->gateway = str; break;
	case K_ACCESS: c->access = access; break;
	case K_COUNT: free(str); break;
	}

	if (d->sec == SEC_CLUSTER && c->data && c->gateway) {
		bool data_last = k == K_DATA;
		set_error(st, line, "%s: '%s' given with '%s' (line %d): a "
			  "cluster is local (data) or remote (gateway), not both",
			  sn, data_last ? "data" : "gateway",
			  data_last ? "gateway" : "data",
			  data_last ? st->gw_line[st->cluster] :
			  st->data_line[st->cluster]);
		return 0;
	}
	return 1;
}

/* inih's handler: one call per "key = value" line (and continuation). */
static int on_key(void *user, const char *section, const char *name,
		  const char *value)
{
	struct parse_state *st = user;
	(void)section;		/* inih truncates it; st->sec is exact */
	int line = st->lineno;
	st->have_prev_name = true;
	if (st->continuation) {
		set_error(st, line, "%s: indented line continues the value of "
			  "'%s' (multi-line values are not supported: remove "
			  "the indentation)", st->sec == SEC_NONE ?
			  "(no section)" : st->secname, name);
		return 0;
	}
	if (st->sec == SEC_BAD)
		return 1;	/* reported at the section header */
	if (st->sec == SEC_NONE) {
		set_error(st, line, "key '%s' before any [section]", name);
		return 0;
	}
	char msg[400];	/* [metrics]: its own file */
	int mrc = st->sec == SEC_METRICS ? config_metrics_key(st->cfg, name, value, msg, sizeof(msg)) : 1;
	if (mrc < 0)
		set_error(st, line, "%s", msg);
	if (st->sec == SEC_METRICS)
		return mrc == 0;
	if (st->sec == SEC_CLUSTER && !strncmp(name, "nats", 4)) {	/* config_nats.c */
		mrc = config_nats_key(&st->cfg->clusters[st->cluster], st->secname, st->dir, line,
				      name, value, msg, sizeof(msg));
		return mrc < 0 ? (set_error(st, line, "%s", msg), 0) : 1;
	}
	for (int k = 0; k < K_COUNT; k++)
		if (keys[k].sec == st->sec && strcmp(keys[k].name, name) == 0)
			return set_key(st, k, value);
	set_error(st, line, "%s: unknown key '%s'", st->secname, name);
	return 0;
}

/* Copy the recorded error into ERR and return -EINVAL. */
static int report(struct parse_state *st, char *err, size_t errlen)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", st->err);
	return -EINVAL;
}

/* The absolute, symlink-free directory of PATH; malloc'd, or NULL (errno). */
static char *config_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d;
	if (!slash)
		d = strdup(".");
	else if (slash == path)
		d = strdup("/");
	else
		d = strndup(path, slash - path);
	if (!d)
		return NULL;
	char *r = realpath(d, NULL);
	int e = errno;
	free(d);
	errno = e;
	return r;
}

/*
 * config_load - see config.h. Returns 0, -EINVAL (bad content, message in
 * ERR), or the negative errno of opening or reading PATH. On any error *CFG
 * is left zeroed with nothing allocated.
 */
int config_load(const char *path, struct sfs_config *cfg, char *err,
		size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	if (err && errlen)
		err[0] = '\0';

	struct parse_state st;
	memset(&st, 0, sizeof(st));
	st.cfg = cfg;
	st.path = path;
	st.cluster = -1;
	st.sec = SEC_NONE;

	st.fp = fopen(path, "re");
	if (!st.fp) {
		int e = errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot open: %s", path,
				 strerror(e));
		return -e;
	}
	st.dir = config_dir(path);
	if (!st.dir) {
		int e = errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot resolve its "
				 "directory: %s", path, strerror(e));
		fclose(st.fp);
		return -e;
	}

	cfg->path = strdup(path);
	cfg->max_message = 1048576;
	cfg->segment_bytes = 64 * MIB;
	cfg->fsync = SFS_FSYNC_OS;
	cfg->fsync_interval_ms = 1000;
	cfg->read_ahead = 0;
	cfg->sync_timeout_ms = 1000;
	cfg->batch_messages = 4096;
	cfg->positions_interval_ms = 1000;
	cfg->gateway_timeout_ms = 5000;

	int ret = ini_parse_stream(read_line, &st, on_key, &st);
	fclose(st.fp);
	free(st.buf);
	free(st.dir);

	if (!cfg->path)
		set_error(&st, 0, "out of memory");
	if (st.read_errno) {	/* e.g. EISDIR: PATH is a directory */
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot read: %s", path,
				 strerror(st.read_errno));
		config_free(cfg);
		return -st.read_errno;
	}
	if (ret > 0 && (!st.err_line || ret < st.err_line))
		set_error(&st, ret, "syntax error");
	else if (ret < 0 && !st.err_line)
		set_error(&st, st.lineno, "cannot parse (inih error %d)", ret);

	/* Whole-section checks come after every line-level one, whose
	 * message is more precise (a bad 'data' line also leaves no data). */
	for (int i = 0; i < cfg->nclusters && !st.err_line; i++) {
		const struct sfs_cluster_conf *c = &cfg->clusters[i];
		if (!c->data && !c->gateway && !c->nats)
			set_error(&st, c->line, "[cluster %s]: needs 'data' (a local cluster), "
				  "'gateway' (a remote one) or 'nats' (kept in NATS JetStream)", c->name);
		else if (!c->gateway && st.access_line[i])
			set_error(&st, st.access_line[i], "[cluster %s]: 'access' "
				  "is what a remote cluster may do here: a cluster served "
				  "here (data, nats) has no use for it", c->name);
	}
	char nmsg[400];
	int nline = st.err_line ? 0 : config_nats_check(cfg, nmsg, sizeof(nmsg));
	if (nline)
		set_error(&st, nline, "%s", nmsg);
	/* Two clusters on one directory, or one inside another, would read
	 * each other's streams: refuse it here rather than at start-up. */
	for (int j = 0; j < cfg->nclusters && !st.err_line; j++) {
		const struct sfs_cluster_conf *b = &cfg->clusters[j];
		for (int i = 0; i < j && b->data && !st.err_line; i++) {
			const struct sfs_cluster_conf *a = &cfg->clusters[i];
			if (!a->data)
				continue;
			size_t la = strlen(a->data), lb = strlen(b->data);
			bool same = !strcmp(a->data, b->data);
			bool nested = (la < lb && !strncmp(a->data, b->data, la) &&
				       (b->data[la] == '/' || a->data[la - 1] == '/')) ||
				      (lb < la && !strncmp(a->data, b->data, lb) &&
				       (a->data[lb] == '/' || b->data[lb - 1] == '/'));
			if (same || nested)
				set_error(&st, b->line, "[cluster %s]: data directory %s %s "
					  "the data directory of [cluster %s]", b->name, b->data,
					  same ? "is also" : "overlaps", a->name);
		}
	}
	/* The gateway, used to serve or to reach a remote cluster, needs all
	 * three credentials: TLS is mutual, there is no plain mode. */
	bool need_tls = cfg->gateway_listen != NULL;
	const char *why = "'listen' is set";
	int why_line = st.key_line[K_LISTEN];
	for (int i = 0; i < cfg->nclusters && !need_tls; i++)
		if (cfg->clusters[i].gateway) {
			need_tls = true;
			why = "a remote cluster is declared";
			why_line = cfg->clusters[i].line;
		}
	static const int cred_keys[] = { K_CERT, K_KEY, K_CA };
	for (int i = 0; i < 3 && need_tls && !st.err_line; i++) {
		char *const vals[] = { cfg->gateway_cert, cfg->gateway_key, cfg->gateway_ca };
		if (!vals[i])
			set_error(&st, why_line, "[gateway]: '%s' is required when %s "
				  "(the gateway only speaks mutually authenticated TLS)",
				  keys[cred_keys[i]].name, why);
	}
	if (!st.err_line && cfg->nclusters == 0) {
		snprintf(st.err, sizeof(st.err), "%s: no cluster: add a [cluster NAME] "
			 "section with 'data', 'gateway' or 'nats'", path);
		st.err_line = INT_MAX;
	}
	if (st.err_line) {
		config_free(cfg);
		return report(&st, err, errlen);
	}
	return 0;
}

/* config_free - free every string of CFG and zero it (see config.h). */
void config_free(struct sfs_config *cfg)
{
	free(cfg->path);
	free(cfg->mountpoint);
	free(cfg->log);
	for (int i = 0; i < cfg->nclusters && i < SFS_MAX_CLUSTERS; i++) {
		free(cfg->clusters[i].name);
		free(cfg->clusters[i].data);
		free(cfg->clusters[i].gateway);
		config_nats_free(&cfg->clusters[i]);
	}
	free(cfg->gateway_listen);
	free(cfg->gateway_cert);
	free(cfg->gateway_key);
	free(cfg->gateway_ca);
	free(cfg->metrics_listen);
	memset(cfg, 0, sizeof(*cfg));
}

/* config_find_cluster - linear search by name; borrowed pointer or NULL. */
const struct sfs_cluster_conf *config_find_cluster(const struct sfs_config *cfg,
						   const char *name)
{
	for (int i = 0; i < cfg->nclusters; i++)
		if (cfg->clusters[i].name &&
		    strcmp(cfg->clusters[i].name, name) == 0)
			return &cfg->clusters[i];
	return NULL;
}
