/*
 * control.c - parsing the text written to .replicas and .upstreams
 * (control.h, docs/control-files.md).
 *
 * Owns the line syntax only: which paths name a stream, which keys exist and
 * what values they take. Whether the cluster and stream exist, the limits and
 * applying the result are fs/ctlfiles.c's business.
 */
#include "control.h"
#include "names.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GLOBAL_PREFIX "/mapr"

/* Longest piece of user input quoted back in an error; keeps it one short line. */
#define QUOTE_MAX 80

struct parser {
	enum ctl_kind kind;
	/* mountpoint without trailing '/', or NULL when only /mapr applies */
	const char *mp;
	size_t mplen;
	char *err;
	size_t errlen;
	int line;
};

struct span {
	const char *s;
	size_t n;
};

static void fail(struct parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail(struct parser *p, const char *fmt, ...)
{
	if (!p->err || p->errlen == 0)
		return;
	int k = snprintf(p->err, p->errlen, "line %d: ", p->line);
	if (k < 0 || (size_t)k >= p->errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err + k, p->errlen - (size_t)k, fmt, ap);
	va_end(ap);
}

/*
 * Copy user input for quoting in an error: the error goes to a log line, so
 * control characters must not reach it, and a huge token must not drown it.
 */
static void quote(char *dst, size_t dstsz, struct span t)
{
	size_t n = t.n, i, o = 0;
	bool cut = false;

	if (n > QUOTE_MAX) {
		n = QUOTE_MAX;
		cut = true;
	}
	for (i = 0; i < n && o + 1 < dstsz; i++) {
		unsigned char c = (unsigned char)t.s[i];
		dst[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (cut && o + 3 < dstsz) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

#define QBUF (QUOTE_MAX + 4)

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Next blank-separated token of [*cur, end); false when none is left. */
static bool next_token(const char **cur, const char *end, struct span *tok)
{
	const char *s = *cur;

	while (s < end && is_blank(*s))
		s++;
	if (s == end)
		return false;
	const char *e = s;
	while (e < end && !is_blank(*e))
		e++;
	tok->s = s;
	tok->n = (size_t)(e - s);
	*cur = e;
	return true;
}

static bool span_is(struct span t, const char *word)
{
	return t.n == strlen(word) && strncasecmp(t.s, word, t.n) == 0;
}

/*
 * If TOK is PREFIX/<a>/<b> (optionally with one trailing '/'), with both
 * components non-empty, set COMP[0..1] and return true.
 */
static bool split_under(struct span tok, const char *prefix, size_t plen,
			struct span comp[2])
{
	if (tok.n <= plen || memcmp(tok.s, prefix, plen) != 0 ||
	    tok.s[plen] != '/')
		return false;

	const char *s = tok.s + plen + 1, *e = tok.s + tok.n;
	if (e > s && e[-1] == '/')
		e--;
	const char *slash = memchr(s, '/', (size_t)(e - s));
	if (!slash || slash == s || slash + 1 == e)
		return false;
	if (memchr(slash + 1, '/', (size_t)(e - slash - 1)))
		return false;

	comp[0].s = s;
	comp[0].n = (size_t)(slash - s);
	comp[1].s = slash + 1;
	comp[1].n = (size_t)(e - slash - 1);
	return true;
}

static int take_name(struct parser *p, struct span c, const char *what,
		     char dst[256])
{
	char q[QBUF];

	/* A NUL would hide the rest of the name from name_valid(). */
	if (c.n < 256 && !memchr(c.s, '\0', c.n)) {
		memcpy(dst, c.s, c.n);
		dst[c.n] = '\0';
		if (name_valid(dst))
			return 0;
	}
	quote(q, sizeof q, c);
	fail(p, "'%s' is not a valid %s name (1-255 of A-Z a-z 0-9 . _ -, "
		"not starting with '.')", q, what);
	return -EINVAL;
}

static int parse_path(struct parser *p, struct span tok, struct ctl_entry *e)
{
	struct span comp[2];
	char q[QBUF];

	/*
	 * Try the mountpoint first: when it lies under /mapr (say /mapr/x),
	 * only its reading of the path has two components.
	 */
	if (!(p->mp && split_under(tok, p->mp, p->mplen, comp)) &&
	    !split_under(tok, GLOBAL_PREFIX, strlen(GLOBAL_PREFIX), comp)) {
		quote(q, sizeof q, tok);
		if (p->mp)
			fail(p, "'%s' is not a stream path (expected "
				GLOBAL_PREFIX "/<cluster>/<stream> or "
				"%.*s/<cluster>/<stream>)",
			     q, (int)p->mplen, p->mp);
		else
			fail(p, "'%s' is not a stream path (expected "
				GLOBAL_PREFIX "/<cluster>/<stream>)", q);
		return -EINVAL;
	}
	if (take_name(p, comp[0], "cluster", e->cluster) ||
	    take_name(p, comp[1], "stream", e->stream))
		return -EINVAL;
	return 0;
}

/* A boolean as maprcli takes one (cli/args.c): true/false, yes/no, 1/0,
 * the words in any case (docs/control-files.md). */
static int parse_bool(struct span v, bool *out)
{
	if (span_is(v, "true") || span_is(v, "yes") || span_is(v, "1")) {
		*out = true;
		return 0;
	}
	if (span_is(v, "false") || span_is(v, "no") || span_is(v, "0")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

static int parse_compression(struct span v, enum ctl_compression *out)
{
	if (span_is(v, "off") || span_is(v, "none"))
		*out = CTL_COMP_OFF;
	else if (span_is(v, "lz4"))
		*out = CTL_COMP_LZ4;
	else if (span_is(v, "zstd"))
		*out = CTL_COMP_ZSTD;
	else
		return -EINVAL;
	return 0;
}

static int parse_key(struct parser *p, struct span tok, struct ctl_entry *e)
{
	char q[QBUF], qv[QBUF];
	const char *eq = memchr(tok.s, '=', tok.n);

	if (!eq) {
		quote(q, sizeof q, tok);
		fail(p, "'%s' is not key=value", q);
		return -EINVAL;
	}
	struct span k = { tok.s, (size_t)(eq - tok.s) };
	struct span v = { eq + 1, tok.n - k.n - 1 };
	quote(q, sizeof q, k);
	quote(qv, sizeof qv, v);

	bool *has;
	int bad;
	const char *expected;
	if (span_is(k, "synchronous")) {
		has = &e->has_synchronous;
		bad = *has ? 0 : parse_bool(v, &e->synchronous);
		expected = "true, false, yes, no, 1, 0";
	} else if (span_is(k, "paused")) {
		has = &e->has_paused;
		bad = *has ? 0 : parse_bool(v, &e->paused);
		expected = "true, false, yes, no, 1, 0";
	} else if (span_is(k, "networkcompression")) {
		has = &e->has_compression;
		bad = *has ? 0 : parse_compression(v, &e->compression);
		expected = "off, none, lz4, zstd";
	} else {
		fail(p, "unknown key '%s' (expected synchronous, paused, "
			"networkcompression)", q);
		return -EINVAL;
	}
	if (*has) {
		fail(p, "key '%s' given twice", q);
		return -EINVAL;
	}
	if (bad) {
		fail(p, "bad value '%s' for %s (expected %s)", qv, q, expected);
		return -EINVAL;
	}
	*has = true;
	return 0;
}

/*
 * Parse one line (without its '\n'). Returns 1 and fills E for an entry,
 * 0 for a line with nothing on it, -EINVAL with the error written.
 */
static int parse_line(struct parser *p, const char *s, size_t n,
		      struct ctl_entry *e)
{
	const char *hash = memchr(s, '#', n);
	const char *end = hash ? hash : s + n;
	struct span tok;
	char q[QBUF];

	if (memchr(s, '\0', (size_t)(end - s))) {
		fail(p, "contains a NUL byte");
		return -EINVAL;
	}
	if (!next_token(&s, end, &tok))
		return 0;

	memset(e, 0, sizeof *e);
	e->line = p->line;
	if (tok.s[0] == '-') {
		e->remove = true;
		tok.s++;
		tok.n--;
	}
	if (parse_path(p, tok, e))
		return -EINVAL;

	while (next_token(&s, end, &tok)) {
		quote(q, sizeof q, tok);
		if (e->remove) {
			fail(p, "a remove line takes no keys (got '%s')", q);
			return -EINVAL;
		}
		if (p->kind == CTL_UPSTREAMS) {
			fail(p, ".upstreams takes no keys (got '%s')", q);
			return -EINVAL;
		}
		if (parse_key(p, tok, e))
			return -EINVAL;
	}
	return 1;
}

int ctl_parse(const char *buf, size_t len, enum ctl_kind kind,
	      const char *mountpoint, struct ctl_entry **out, char *err,
	      size_t errlen)
{
	struct parser p = { .kind = kind, .err = err, .errlen = errlen };
	struct ctl_entry *v = NULL, e;
	size_t cap = 0;
	int n = 0, rc;

	if (mountpoint) {
		size_t ml = strlen(mountpoint);
		while (ml > 0 && mountpoint[ml - 1] == '/')
			ml--;
		/* "/mapr" adds nothing; "/" leaves the empty prefix, still valid */
		if (!(ml == strlen(GLOBAL_PREFIX) &&
		      memcmp(mountpoint, GLOBAL_PREFIX, ml) == 0) &&
		    mountpoint[0] != '\0') {
			p.mp = mountpoint;
			p.mplen = ml;
		}
	}

	const char *s = buf, *end = buf + len;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *le = nl ? nl : end;

		if (p.line == INT_MAX || n == INT_MAX) {
			fail(&p, "too many lines");
			rc = -EINVAL;
			goto fail;
		}
		p.line++;
		rc = parse_line(&p, s, (size_t)(le - s), &e);
		if (rc < 0)
			goto fail;
		if (rc > 0) {
			if ((size_t)n == cap) {
				size_t nc = cap ? cap * 2 : 8;
				struct ctl_entry *nv = realloc(v, nc * sizeof *v);
				if (!nv) {
					fail(&p, "out of memory");
					rc = -ENOMEM;
					goto fail;
				}
				v = nv;
				cap = nc;
			}
			v[n++] = e;
		}
		s = nl ? nl + 1 : end;
	}
	*out = v;
	return n;

fail:
	free(v);
	return rc;
}

const char *ctl_compression_name(enum ctl_compression c)
{
	switch (c) {
	case CTL_COMP_LZ4:
		return "lz4";
	case CTL_COMP_ZSTD:
		return "zstd";
	case CTL_COMP_OFF:
		break;
	}
	return "off";
}

/* Is P the start of a UUID in its text form (8-4-4-4-12 hex digits)? */
static bool uuid_at(const char *p)
{
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? p[i] != '-' : !isxdigit((unsigned char)p[i]))
			return false;
	}
	return true;
}

void ctl_hide_uuids(const char *text, char *out, size_t n)
{
	if (!n)
		return;
	size_t o = 0;
	for (const char *p = text; *p && o + 1 < n;) {
		if (uuid_at(p)) {
			for (const char *h = "hidden"; *h && o + 1 < n; h++)
				out[o++] = *h;
			p += 36;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
}
