/*
 * hostport.c - owns the HOST:PORT syntax (hostport.h).
 */
#include "hostport.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

int hostport_listen(const char *s, int backlog, char *why, size_t n)
{
	char host[256], port[32];
	if (hostport_split(s, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(why, n, "not ADDR:PORT");
		return -EINVAL;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res = NULL;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai) {
		snprintf(why, n, "%s", gai_strerror(gai));
		return -EINVAL;
	}
	int rc = -EADDRNOTAVAIL, lfd = -1;
	for (struct addrinfo *ai = res; ai && lfd < 0; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
			rc = -errno;
			close(fd);
			continue;
		}
		lfd = fd;
	}
	freeaddrinfo(res);
	if (lfd < 0) {
		snprintf(why, n, "%s", strerror(-rc));
		return rc;
	}
	return lfd;
}
