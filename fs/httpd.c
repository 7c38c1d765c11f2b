/*
 * httpd.c - the metrics endpoint's HTTP server (httpd.h). Owns its
 * listening socket, its wake pipe and its thread.
 */
#define _GNU_SOURCE /* accept4 */
#include "httpd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "logging.h"
#include "util/clock.h"
#include "util/hostport.h"

#define HTTPD_BACKLOG 64
#define HTTPD_MAX_REQUEST 8192
#define HTTPD_DEADLINE_MS 2000

int httpd_bind(struct httpd *h, const char *listen_on, char *err, size_t errlen)
{
	memset(h, 0, sizeof(*h));
	h->lfd = -1;
	h->wake[0] = h->wake[1] = -1;
	snprintf(h->listen, sizeof(h->listen), "%s", listen_on);
	char why[256];
	int fd = hostport_listen(listen_on, HTTPD_BACKLOG, why, sizeof(why));
	if (fd < 0) {
		snprintf(err, errlen, "[metrics] listen = %s: %s", listen_on, why);
		return fd;
	}
	h->lfd = fd;
	return 0;
}

/* Connections served at once; a new one past that closes the oldest. */
#define HTTPD_CONNS 32

/* One connection: reading its request, then writing its answer. */
struct hconn {
	int fd;			/* -1: a free slot */
	uint64_t deadline;	/* mono_ns: the whole exchange ends by then */
	uint64_t opened;	/* mono_ns: its age, for eviction */
	char *in;		/* HTTPD_MAX_REQUEST + 1 bytes */
	size_t got;
	char *out;		/* the whole answer, once known */
	size_t outlen, sent;
};

static void conn_close(struct hconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Make C's answer: status CODE, BODY (LEN bytes) unless HEAD. */
static void answer(struct hconn *c, int code, const char *reason, const char *type,
		   const char *body, size_t len, bool with_body)
{
	char hd[256];
	int n = snprintf(hd, sizeof(hd),
			 "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n", code, reason, type, len);
	size_t total = (size_t)n + (with_body ? len : 0);
	c->out = malloc(total);
	if (!c->out) {
		c->outlen = 0;
		return;
	}
	memcpy(c->out, hd, (size_t)n);
	if (with_body && len)
		memcpy(c->out + n, body, len);
	c->outlen = total;
	c->sent = 0;
}

/* C's request is complete (or too large): decide its answer. */
static void respond(struct httpd *h, struct hconn *c, bool too_large)
{
	if (too_large) {
		static const char m[] = "request too large\n";
		answer(c, 431, "Request Header Fields Too Large", "text/plain", m, sizeof(m) - 1,
		       true);
		return;
	}
	c->in[c->got] = 0;
	char method[16] = "", path[256] = "";
	sscanf(c->in, "%15s %255s", method, path);
	bool head = !strcmp(method, "HEAD");
	if (strcmp(method, "GET") && !head) {
		static const char m[] = "only GET\n";
		answer(c, 405, "Method Not Allowed", "text/plain", m, sizeof(m) - 1, true);
		return;
	}
	size_t pl = strcspn(path, "?");
	if (pl != 8 || strncmp(path, "/metrics", 8)) {
		static const char m[] = "not found: the metrics are at /metrics\n";
		answer(c, 404, "Not Found", "text/plain", m, sizeof(m) - 1, !head);
		return;
	}
	char *body = NULL;
	size_t len = 0;
	if (h->render(h->arg, &body, &len) < 0) {
		static const char m[] = "cannot render the metrics\n";
		answer(c, 500, "Internal Server Error", "text/plain", m, sizeof(m) - 1, !head);
		return;
	}
	answer(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body, len, !head);
	free(body);
}

/* C is readable: take what came; answer once the request head is whole.
 * False: close C (the peer left, or an error). */
static bool conn_read(struct httpd *h, struct hconn *c)
{
	ssize_t r = recv(c->fd, c->in + c->got, HTTPD_MAX_REQUEST - c->got, MSG_DONTWAIT);
	if (r < 0)
		return errno == EAGAIN || errno == EINTR;
	if (r == 0)
		return false;
	c->got += (size_t)r;
	if (memmem(c->in, c->got, "\r\n\r\n", 4) || memmem(c->in, c->got, "\n\n", 2))
		respond(h, c, false);
	else if (c->got == HTTPD_MAX_REQUEST)
		respond(h, c, true);
	else
		return true;
	return c->out != NULL;
}

/* C is writable: send more of its answer. False: done, or an error. */
static bool conn_write(struct hconn *c)
{
	ssize_t w = send(c->fd, c->out + c->sent, c->outlen - c->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0)
		return errno == EAGAIN || errno == EINTR;
	c->sent += (size_t)w;
	return c->sent < c->outlen;
}

/*
 * Up to HTTPD_CONNS connections at once, each given HTTPD_DEADLINE_MS for
 * its whole exchange and HTTPD_MAX_REQUEST bytes of request: slow or
 * silent clients (one byte a second, say) cannot delay a scrape, whose
 * request arrives whole and is answered in the same round. Past
 * HTTPD_CONNS, a new connection closes the oldest one.
 */
static void *httpd_main(void *arg)
{
	struct httpd *h = arg;
	struct hconn c[HTTPD_CONNS];
	struct pollfd p[HTTPD_CONNS + 2];
	for (int i = 0; i < HTTPD_CONNS; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].fd = -1;
	}
	for (;;) {
		uint64_t now = mono_ns(), next = UINT64_MAX;
		int np = 0;
		p[np++] = (struct pollfd){ .fd = h->lfd, .events = POLLIN };
		p[np++] = (struct pollfd){ .fd = h->wake[0], .events = POLLIN };
		for (int i = 0; i < HTTPD_CONNS; i++) {
			if (c[i].fd < 0)
				continue;
			if (c[i].deadline <= now) {
				conn_close(&c[i]); /* too slow: closed without an answer */
				continue;
			}
			if (c[i].deadline < next)
				next = c[i].deadline;
		}
		for (int i = 0; i < HTTPD_CONNS; i++)
			p[np++] = (struct pollfd){ .fd = c[i].fd,
						   .events = c[i].out ? POLLOUT : POLLIN };
		int wait = next == UINT64_MAX ? -1 : (int)((next - now) / 1000000ull) + 1;
		if (poll(p, (nfds_t)np, wait) < 0) {
			if (errno == EINTR)
				continue;
			log_error("[metrics] %s: poll: %s", h->listen, strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		for (int i = 0; i < HTTPD_CONNS; i++) {
			short ev = p[2 + i].revents;
			if (c[i].fd < 0 || !ev)
				continue;
			bool keep = (ev & (POLLERR | POLLNVAL)) ? false :
				    c[i].out ? conn_write(&c[i]) : conn_read(h, &c[i]);
			if (!keep)
				conn_close(&c[i]);
		}
		if (!(p[0].revents & POLLIN))
			continue;
		int fd = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			continue;	/* the peer gave up, or no descriptor: next one */
		int slot = -1, oldest = 0;
		for (int i = 0; i < HTTPD_CONNS && slot < 0; i++)
			if (c[i].fd < 0)
				slot = i;
			else if (c[i].opened < c[oldest].opened)
				oldest = i;
		if (slot < 0) {
			conn_close(&c[oldest]);
			slot = oldest;
		}
		c[slot].in = malloc(HTTPD_MAX_REQUEST + 1);
		if (!c[slot].in) {
			close(fd);
			continue;
		}
		c[slot].fd = fd;
		c[slot].opened = mono_ns();
		c[slot].deadline = c[slot].opened + HTTPD_DEADLINE_MS * 1000000ull;
	}
	for (int i = 0; i < HTTPD_CONNS; i++)
		conn_close(&c[i]);
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
