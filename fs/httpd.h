/*
 * httpd.h - a minimal HTTP/1.0 server for the metrics endpoint
 * ([metrics] listen, docs/operating.md "Monitoring"): GET /metrics answers
 * what a render function makes, anything else 404 (405 for a method other
 * than GET or HEAD). Bounded: 32 connections served at once by one thread
 * (poll; a new one past that closes the oldest), a request head of at
 * most 8 KiB each, 2 seconds for a whole exchange; the connection closes
 * after each answer. So slow clients cannot delay a scrape. No TLS and no
 * authentication: listen on a loopback address, or behind a firewall.
 */
#ifndef STREAMFS_HTTPD_H
#define STREAMFS_HTTPD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* Makes the body of /metrics: 0 with *OUT malloc'd (*LEN bytes), which
 * the server frees, or a negative errno (the answer is then 500). */
typedef int (*httpd_render_fn)(void *arg, char **out, size_t *len);

struct httpd {
	int lfd;		/* listening socket, -1: none */
	int wake[2];		/* a pipe: a byte in it stops the thread */
	char listen[300];	/* "ADDR:PORT" as configured, for messages */
	httpd_render_fn render;
	void *arg;
	pthread_t thread;
	bool started;
};

/*
 * httpd_bind - listen on LISTEN_ON ("ADDR:PORT", "[IPV6]:PORT") so that a
 * port in use is a start-up error. H is set up first (safe to
 * httpd_stop afterwards in any case). Returns 0, or a negative errno with
 * one line in ERR (ERRLEN bytes).
 */
int httpd_bind(struct httpd *h, const char *listen_on, char *err, size_t errlen);

/*
 * httpd_start - serve from a thread of its own, RENDER(ARG) making each
 * answer to GET /metrics (called on that thread; ARG borrowed, outlives
 * the server). Returns 0 or a negative errno from pthread_create or pipe.
 */
int httpd_start(struct httpd *h, httpd_render_fn render, void *arg);

/* httpd_stop - stop the thread (connections in progress are closed) and
 * close the socket. Safe on a server never bound or started. */
void httpd_stop(struct httpd *h);

#endif
