/*
 * hostport.c - owns the HOST:PORT syntax (hostport.h).
 */
#include "hostport.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

int hostport_split(const char *s, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s)
		return -EINVAL;
	const char *h = s;
	size_t n = (size_t)(colon - s);
	for (size_t i = 0; i < n; i++)
		if (isspace((unsigned char)h[i]))
			return -EINVAL;
	if (h[0] == '[') {
		if (n < 3 || h[n - 1] != ']')
			return -EINVAL;
		h++;
		n -= 2;
	} else if (memchr(h, ':', n)) {
		return -EINVAL;	/* bare IPv6 needs brackets */
	}
	const char *p = colon + 1;
	size_t plen = strlen(p);
	unsigned long v = 0;
	if (plen == 0 || plen > 5)
		return -EINVAL;
	for (size_t i = 0; i < plen; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -EINVAL;
	if ((host && n >= hostlen) || (port && plen >= portlen))
		return -ENAMETOOLONG;
	if (host) {
		memcpy(host, h, n);
		host[n] = '\0';
	}
	if (port)
		memcpy(port, p, plen + 1);
	return 0;
}
