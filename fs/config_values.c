/*
 * config_values.c - the value syntaxes of mount.conf (config_values.h):
 * paths joined to the file's directory, byte counts with K/M/G, whole
 * numbers, and sizes written back for messages.
 */
#include "config_values.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *config_resolve_path(const char *dir, const char *p)
{
	size_t n = strlen(dir) + strlen(p) + 3;
	char *joined = malloc(n);
	char *out = malloc(n);
	if (!joined || !out) {
		free(joined);
		free(out);
		return NULL;
	}
	if (p[0] == '/')
		snprintf(joined, n, "%s", p);
	else
		snprintf(joined, n, "%s/%s", dir, p);
	size_t o = 0;
	char *save = NULL;
	for (char *c = strtok_r(joined, "/", &save); c;
	     c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0)
			continue;
		out[o++] = '/';
		size_t cl = strlen(c);
		memcpy(out + o, c, cl);
		o += cl;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	free(joined);
	return out;
}

bool config_parse_size(const char *s, uint64_t *out)
{
	if (!isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return false;
	uint64_t mult = 1;
	switch (*end) {
	case 'k': case 'K': mult = KIB; end++; break;
	case 'm': case 'M': mult = MIB; end++; break;
	case 'g': case 'G': mult = GIB; end++; break;
	default: break;
	}
	if (mult > 1) {
		if ((end[0] == 'i' || end[0] == 'I') &&
		    (end[1] == 'b' || end[1] == 'B'))
			end += 2;
		else if (end[0] == 'b' || end[0] == 'B')
			end++;
	}
	if (*end != '\0')
		return false;
	if (v > UINT64_MAX / mult)
		return false;
	*out = v * mult;
	return true;
}

bool config_parse_uint(const char *s, uint64_t *out)
{
	if (!isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end != '\0')
		return false;
	*out = v;
	return true;
}

void config_fmt_size(char *buf, size_t len, uint64_t v)
{
	if (v && v % GIB == 0)
		snprintf(buf, len, "%lluG", (unsigned long long)(v / GIB));
	else if (v && v % MIB == 0)
		snprintf(buf, len, "%lluM", (unsigned long long)(v / MIB));
	else if (v && v % KIB == 0)
		snprintf(buf, len, "%lluK", (unsigned long long)(v / KIB));
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

