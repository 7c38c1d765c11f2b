/*
 * httpd.c - the metrics endpoint's HTTP server (httpd.h). Owns its
 * listening socket, its wake pipe and its thread.
 */
#define _GNU_SOURCE /* accept4 */
#include "httpd.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "logging.h"
#include "util/clock.h"
#include "util/hostport.h"

#define HTTPD_BACKLOG 16
#define HTTPD_MAX_REQUEST 8192
#define HTTPD_DEADLINE_MS 2000

int httpd_bind(struct httpd *h, const char *listen_on, char *err, size_t errlen)
{
	memset(h, 0, sizeof(*h));
	h->lfd = -1;
	h->wake[0] = h->wake[1] = -1;
	snprintf(h->listen, sizeof(h->listen), "%s", listen_on);
	char host[256], port[32];
	if (hostport_split(listen_on, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(err, errlen, "[metrics] listen = %s: not ADDR:PORT", listen_on);
		return -EINVAL;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res = NULL;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai) {
		snprintf(err, errlen, "[metrics] listen = %s: %s", listen_on, gai_strerror(gai));
		return -EINVAL;
	}
	int rc = -EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai && h->lfd < 0; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, HTTPD_BACKLOG) < 0) {
			rc = -errno;
			close(fd);
			continue;
		}
		h->lfd = fd;
	}
	freeaddrinfo(res);
	if (h->lfd < 0) {
		snprintf(err, errlen, "[metrics] listen = %s: %s", listen_on, strerror(-rc));
		return rc;
	}
	return 0;
}

/* Milliseconds left until DEADLINE (a mono_ns value), at least 0. */
static int left_ms(uint64_t deadline)
{
	uint64_t now = mono_ns();
	return now >= deadline ? 0 : (int)((deadline - now) / 1000000ull);
}

/* Write all of BUF (LEN bytes) to FD before DEADLINE. 0 or -1. */
static int send_all(int fd, const char *buf, size_t len, uint64_t deadline)
{
	while (len) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		if (poll(&p, 1, left_ms(deadline)) <= 0)
			return -1;
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

static void answer(int fd, int code, const char *reason, const char *type, const char *body,
		   size_t len, bool with_body, uint64_t deadline)
{
	char hd[256];
	int n = snprintf(hd, sizeof(hd),
			 "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n", code, reason, type, len);
	if (send_all(fd, hd, (size_t)n, deadline) == 0 && with_body)
		send_all(fd, body, len, deadline);
}

/* One exchange on connection FD, within HTTPD_DEADLINE_MS. */
static void serve(struct httpd *h, int fd)
{
	uint64_t deadline = mono_ns() + HTTPD_DEADLINE_MS * 1000000ull;
	char req[HTTPD_MAX_REQUEST + 1];
	size_t got = 0;
	while (!memmem(req, got, "\r\n\r\n", 4) && !memmem(req, got, "\n\n", 2)) {
		if (got == HTTPD_MAX_REQUEST) {
			static const char m[] = "request too large\n";
			answer(fd, 431, "Request Header Fields Too Large", "text/plain", m,
			       sizeof(m) - 1, true, deadline);
			return;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, left_ms(deadline)) <= 0)
			return;	/* too slow: closed without an answer */
		ssize_t r = recv(fd, req + got, HTTPD_MAX_REQUEST - got, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			return;
		got += (size_t)r;
	}
	req[got] = 0;
	char method[16] = "", path[256] = "";
	sscanf(req, "%15s %255s", method, path);
	bool head = !strcmp(method, "HEAD");
	if (strcmp(method, "GET") && !head) {
		static const char m[] = "only GET\n";
		answer(fd, 405, "Method Not Allowed", "text/plain", m, sizeof(m) - 1, true, deadline);
		return;
	}
	size_t pl = strcspn(path, "?");
	if (pl != 8 || strncmp(path, "/metrics", 8)) {
		static const char m[] = "not found: the metrics are at /metrics\n";
		answer(fd, 404, "Not Found", "text/plain", m, sizeof(m) - 1, !head, deadline);
		return;
	}
	char *body = NULL;
	size_t len = 0;
	int rc = h->render(h->arg, &body, &len);
	if (rc < 0) {
		static const char m[] = "cannot render the metrics\n";
		answer(fd, 500, "Internal Server Error", "text/plain", m, sizeof(m) - 1, !head,
		       deadline);
		return;
	}
	answer(fd, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body, len, !head,
	       deadline);
	free(body);
}

static void *httpd_main(void *arg)
{
	struct httpd *h = arg;
	for (;;) {
		struct pollfd p[2] = { { .fd = h->lfd, .events = POLLIN },
				       { .fd = h->wake[0], .events = POLLIN } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("[metrics] %s: poll: %s", h->listen, strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		int fd = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;	/* the peer gave up, or no descriptor: next one */
		serve(h, fd);
		close(fd);
	}
	return NULL;
}

int httpd_start(struct httpd *h, httpd_render_fn render, void *arg)
{
	h->render = render;
	h->arg = arg;
	if (pipe2(h->wake, O_CLOEXEC) < 0)
		return -errno;
	int rc = pthread_create(&h->thread, NULL, httpd_main, h);
	if (rc)
		return -rc;
	h->started = true;
	return 0;
}

void httpd_stop(struct httpd *h)
{
	if (h->started) {
		ssize_t w = write(h->wake[1], "x", 1);
		(void)w;
		pthread_join(h->thread, NULL);
		h->started = false;
	}
	for (int i = 0; i < 2; i++)
		if (h->wake[i] >= 0) {
			close(h->wake[i]);
			h->wake[i] = -1;
		}
	if (h->lfd >= 0) {
		close(h->lfd);
		h->lfd = -1;
	}
}
