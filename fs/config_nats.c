/*
 * config_nats.c - the NATS JetStream keys of a [cluster NAME] section
 * (config_nats.h): their syntax, ranges, repeats, defaults and the rules
 * between them. Whether the files named can be read and the servers
 * reached is checked when the daemon starts (fs/nats/).
 */
#include "config_nats.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_values.h"
#include "util/hostport.h"

enum nats_key {
	NK_NATS, NK_CREDS, NK_CERT, NK_KEY, NK_CA, NK_REPLICAS, NK_TIMEOUT, NK_CACHE, NK_COUNT
};

static const char *const key_names[NK_COUNT] = {
	"nats", "nats_creds", "nats_tls_cert", "nats_tls_key", "nats_tls_ca",
	"nats_replicas", "nats_timeout_ms", "nats_cache",
};

/* DIR/P, or P when absolute: malloc'd or NULL. */
static char *join_path(const char *dir, const char *p)
{
	if (p[0] == '/')
		return strdup(p);
	size_t n = strlen(dir) + strlen(p) + 2;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s/%s", dir, p);
	return s;
}

/* Is U "nats://HOST:PORT" or "tls://HOST:PORT" (U is [U, U+LEN))? */
static bool url_ok(const char *u, size_t len)
{
	char buf[600];
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, u, len);
	buf[len] = 0;
	const char *hp = !strncmp(buf, "nats://", 7) ? buf + 7 : !strncmp(buf, "tls://", 6) ? buf + 6 : NULL;
	return hp && hostport_split(hp, NULL, 0, NULL, 0) == 0;
}

/* The URL of a nats = value at *P (blanks around it skipped): its start,
 * its length in *LEN; *P moves past its comma, or to NULL after the
 * last one. */
static const char *next_url(const char **p, size_t *len)
{
	const char *u = *p;
	while (*u == ' ' || *u == '\t')
		u++;
	const char *end = strchr(u, ',');
	size_t n = end ? (size_t)(end - u) : strlen(u);
	while (n && (u[n - 1] == ' ' || u[n - 1] == '\t'))
		n--;
	*len = n;
	*p = end ? end + 1 : NULL;
	return u;
}

/* Check a nats = value: URLs separated by commas (blanks around them
 * allowed). 0 or -EINVAL. */
static int check_urls(const char *v)
{
	int count = 0;
	for (const char *p = v; p;) {
		size_t len;
		const char *u = next_url(&p, &len);
		if (!len || !url_ok(u, len) || ++count > SFS_NATS_MAX_URLS)
			return -EINVAL;
	}
	return 0;
}

int config_nats_urls(const struct sfs_cluster_conf *cc, char ***urls)
{
	char **v = calloc(SFS_NATS_MAX_URLS, sizeof(*v));
	int n = 0;
	if (!v)
		return -ENOMEM;
	for (const char *p = cc->nats; p && n < SFS_NATS_MAX_URLS;) {
		size_t len;
		const char *u = next_url(&p, &len);
		if (!(v[n++] = strndup(u, len))) {
			for (int i = 0; i < n - 1; i++)
				free(v[i]);
			free(v);
			return -ENOMEM;
		}
	}
	*urls = v;
	return n;
}

int config_nats_key(struct sfs_cluster_conf *cc, const char *secname, const char *dir,
		    int line, const char *name, const char *value, char *msg, size_t n)
{
	int k = 0;
	while (k < NK_COUNT && strcmp(key_names[k], name) != 0)
		k++;
	if (k == NK_COUNT) {
		snprintf(msg, n, "%s: unknown key '%s'", secname, name);
		return -EINVAL;
	}
	if (cc->nats_lines[k]) {
		snprintf(msg, n, "%s: '%s' already set at line %d", secname, name,
			 cc->nats_lines[k]);
		return -EINVAL;
	}
	cc->nats_lines[k] = line;
	if (!*value) {
		snprintf(msg, n, "%s: empty value for '%s'", secname, name);
		return -EINVAL;
	}
	char *end, **str = NULL;
	unsigned long long v = 0;
	switch (k) {
	case NK_NATS:
		if (check_urls(value) < 0) {
			snprintf(msg, n, "%s: bad value '%s' for 'nats' (expected nats://HOST:PORT "
				 "or tls://HOST:PORT, at most %d separated by commas)", secname,
				 value, SFS_NATS_MAX_URLS);
			return -EINVAL;
		}
		if (!(cc->nats = strdup(value)))
			goto nomem;
		return 0;
	case NK_CREDS: str = &cc->nats_creds; break;
	case NK_CERT: str = &cc->nats_tls_cert; break;
	case NK_KEY: str = &cc->nats_tls_key; break;
	case NK_CA: str = &cc->nats_tls_ca; break;
	case NK_CACHE: {
		uint64_t bytes;
		if (!config_parse_size(value, &bytes) || bytes > SFS_NATS_CACHE_MAX) {
			snprintf(msg, n, "%s: bad value '%s' for 'nats_cache' (expected a size "
				 "such as 64M, 0 to 64G)", secname, value);
			return -EINVAL;
		}
		cc->nats_cache = bytes;
		return 0;
	}
	case NK_REPLICAS:
	case NK_TIMEOUT:
		errno = 0;
		v = strtoull(value, &end, 10);
		bool bad = errno || *end || value[0] < '0' || value[0] > '9';
		unsigned long long lo = k == NK_REPLICAS ? 1 : 100, hi = k == NK_REPLICAS ? 5 : 600000;
		if (bad || v < lo || v > hi) {
			snprintf(msg, n, "%s: bad value '%s' for '%s' (expected a whole number, "
				 "%llu to %llu)", secname, value, name, lo, hi);
			return -EINVAL;
		}
		if (k == NK_REPLICAS)
			cc->nats_replicas = (int)v;
		else
			cc->nats_timeout_ms = v;
		return 0;
	}
	if (!(*str = join_path(dir, value)))
		goto nomem;
	return 0;
nomem:
	snprintf(msg, n, "out of memory");
	return -ENOMEM;
}

int config_nats_check(struct sfs_config *cfg, char *msg, size_t n)
{
	for (int i = 0; i < cfg->nclusters; i++) {
		struct sfs_cluster_conf *c = &cfg->clusters[i];
		const int *l = c->nats_lines;
		if (c->nats && (c->data || c->gateway)) {
			snprintf(msg, n, "[cluster %s]: 'nats' given with '%s': a cluster lives in "
				 "one place (data, gateway or nats)", c->name,
				 c->data ? "data" : "gateway");
			return l[NK_NATS];
		}
		for (int k = NK_CREDS; k < NK_COUNT && !c->nats; k++)
			if (l[k]) {
				snprintf(msg, n, "[cluster %s]: '%s' without 'nats' (it only "
					 "applies to a cluster kept in NATS JetStream)", c->name,
					 key_names[k]);
				return l[k];
			}
		if (!c->nats_tls_cert != !c->nats_tls_key) {
			int k = c->nats_tls_cert ? NK_CERT : NK_KEY;
			snprintf(msg, n, "[cluster %s]: '%s' without '%s' (a client certificate "
				 "needs its key)", c->name, key_names[k],
				 key_names[k == NK_CERT ? NK_KEY : NK_CERT]);
			return l[k];
		}
		if (c->nats && !c->nats_timeout_ms)
			c->nats_timeout_ms = SFS_NATS_TIMEOUT_MS;
		if (c->nats && !l[NK_CACHE])
			c->nats_cache = SFS_NATS_CACHE;
	}
	return 0;
}

void config_nats_free(struct sfs_cluster_conf *cc)
{
	free(cc->nats);
	free(cc->nats_creds);
	free(cc->nats_tls_cert);
	free(cc->nats_tls_key);
	free(cc->nats_tls_ca);
}
