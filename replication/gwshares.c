/*
 * gwshares.c - per-peer shares of the gateway's connections and frame
 * buffers, a frame's deadline, and the set of upstream clusters
 * (gwshares.h). No locks: the caller holds gateway.mu.
 */
#include "gwshares.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

void gws_init(struct gw_shares *s, uint64_t max_message)
{
	memset(s, 0, sizeof(*s));
	/* A compressed frame is held twice: as sent and decompressed. */
	uint64_t frame = max_message + GWS_BATCH_OVER;
	if (frame > GW_FRAME_MAX_BODY)
		frame = GW_FRAME_MAX_BODY;
	s->share = GWS_BUDGET_MIN / GWS_SHARE_PART;
	if (2 * frame > s->share)
		s->share = 2 * frame;
	s->budget = GWS_BUDGET_MIN;
	if (GWS_SHARE_PART * s->share > s->budget)
		s->budget = GWS_SHARE_PART * s->share;
}

void gws_free(struct gw_shares *s)
{
	for (int i = 0; i < GWS_MAX_PEERS; i++) {
		free(s->peers[i].names);
		s->peers[i] = (struct gws_peer){ 0 };
	}
	s->bytes = 0;
}

static int find(const struct gw_shares *s, const char *names)
{
	for (int i = 0; i < GWS_MAX_PEERS; i++)
		if (s->peers[i].names && !strcmp(s->peers[i].names, names))
			return i;
	return -1;
}

int gws_join(struct gw_shares *s, const char *names, int max_conns)
{
	int i = find(s, names);
	if (i >= 0) {
		if (s->peers[i].conns >= max_conns)
			return -EUSERS;
		s->peers[i].conns++;
		return i;
	}
	for (i = 0; i < GWS_MAX_PEERS && s->peers[i].names; i++)
		;
	if (i == GWS_MAX_PEERS)
		return -EMFILE;
	if (!(s->peers[i].names = strdup(names)))
		return -ENOMEM;
	s->peers[i].conns = 1;
	s->peers[i].bytes = 0;
	return i;
}

int gws_conns(const struct gw_shares *s, const char *names)
{
	int i = find(s, names);
	return i < 0 ? 0 : s->peers[i].conns;
}

void gws_leave(struct gw_shares *s, int peer)
{
	if (peer < 0 || peer >= GWS_MAX_PEERS || !s->peers[peer].names)
		return;
	struct gws_peer *p = &s->peers[peer];
	if (p->conns > 0)
		p->conns--;
	/* Its bytes were released before (each connection lets go of its
	 * buffers first); should any be left, the entry stays to hold them. */
	if (p->conns == 0 && p->bytes == 0) {
		free(p->names);
		*p = (struct gws_peer){ 0 };
	}
}

int gws_reserve(struct gw_shares *s, int peer, uint64_t more)
{
	if (peer < 0 || peer >= GWS_MAX_PEERS || !s->peers[peer].names)
		return -EINVAL;
	struct gws_peer *p = &s->peers[peer];
	if (more > s->share - p->bytes)
		return -EDQUOT;
	if (more > s->budget - s->bytes)
		return -ENOBUFS;
	p->bytes += more;
	s->bytes += more;
	return 0;
}

void gws_release(struct gw_shares *s, int peer, uint64_t n)
{
	if (peer < 0 || peer >= GWS_MAX_PEERS || !s->peers[peer].names)
		return;
	struct gws_peer *p = &s->peers[peer];
	if (n > p->bytes)
		n = p->bytes;
	p->bytes -= n;
	s->bytes -= n;
	if (p->conns == 0 && p->bytes == 0) {
		free(p->names);
		*p = (struct gws_peer){ 0 };
	}
}

uint64_t gws_frame_deadline_ns(uint64_t start_ns, uint64_t length, int timeout_ms)
{
	const uint64_t cap = UINT64_MAX - 1;
	uint64_t t = timeout_ms > 0 ? (uint64_t)timeout_ms * 1000000ull : 0;
	/* length / rate in ns without overflow: whole seconds, then the rest
	 * (under GWS_FRAME_MIN_RATE, so the product fits in 64 bits). */
	uint64_t secs = length / GWS_FRAME_MIN_RATE, rest = length % GWS_FRAME_MIN_RATE;
	if (secs > cap / 1000000000ull)
		return cap;
	uint64_t body = secs * 1000000000ull + rest * 1000000000ull / GWS_FRAME_MIN_RATE;
	if (body > cap - t || start_ns > cap - t - body)
		return cap;
	return start_ns + t + body;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int gws_names_build(struct gws_names *out, const char *const *names, size_t n)
{
	out->v = NULL;
	out->n = 0;
	if (!n)
		return 0;
	char **v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!(v[i] = strdup(names[i]))) {
			for (size_t k = 0; k < i; k++)
				free(v[k]);
			free(v);
			return -ENOMEM;
		}
	}
	qsort(v, n, sizeof(*v), cmp_names);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k && !strcmp(v[k - 1], v[i]))
			free(v[i]);
		else
			v[k++] = v[i];
	}
	out->v = v;
	out->n = k;
	return 0;
}

bool gws_names_any(const struct gws_names *set, const char *list)
{
	char one[256];
	for (const char *p = list; set->n && *p;) {
		size_t len = strcspn(p, " ");
		if (len && len < sizeof(one)) {
			memcpy(one, p, len);
			one[len] = 0;
			const char *key = one;
			if (bsearch(&key, set->v, set->n, sizeof(*set->v), cmp_names))
				return true;
		}
		p += len;
		while (*p == ' ')
			p++;
	}
	return false;
}

void gws_names_free(struct gws_names *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}
