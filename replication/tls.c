/*
 * tls.c - the gateway's secure channel (tls.h): OpenSSL contexts, TCP
 * connect and accept with deadlines, mutual authentication and the
 * "certificate names this cluster" check.
 *
 * Why one thread per connection rather than an event loop: each
 * connection is driven by one thread (a replication lane on the client, a
 * connection thread in the gateway), so a deadline per call is all that
 * is needed to keep a stalled peer from hanging anything. After the
 * handshake the socket is non-blocking and every wait is a poll(2) with
 * its own bound: a blocking SSL_read would wait for a whole TLS record,
 * and a record sent a byte at a time would keep it waiting however short
 * SO_RCVTIMEO is (each byte restarts it).
 */
#include "tls.h"
#include "util/hostport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "datadir.h"
#include "names.h"
#include "util/clock.h"

struct tls_conn {
	int fd;
	SSL *ssl;
	int timeout_ms;		/* each wait for the socket, after the handshake */
	char subject[512];
	char *clusters;		/* the names the peer's certificate names, malloc'd */
	char why[256];		/* OpenSSL's reason for the last -EIO */
};

/* OpenSSL's queued errors as one line (the last is the most precise). */
static void ssl_reason(char *buf, size_t len)
{
	unsigned long e, last = 0;
	while ((e = ERR_get_error()))
		last = e;
	if (last)
		ERR_error_string_n(last, buf, len);
	else
		snprintf(buf, len, "%s", errno ? strerror(errno) : "unknown error");
}

/*
 * PATH must be a readable regular file that no one but root and this
 * daemon's user can change, nor, for the private KEY, read; and so must
 * the directories (and symlinks) on the way to it (datadir_check, as for
 * the data): whoever could change the CA file could make certificates
 * for any cluster, whoever reads the key is this daemon to its peers
 * (docs/security.md, "The data directory"). OpenSSL's own words for a
 * missing file ("system lib") say nothing, so that is checked here too.
 */
static bool file_usable(const char *path, bool key, char *err, size_t errlen)
{
	struct stat st;
	uid_t self = geteuid();
	if (stat(path, &st) < 0 || access(path, R_OK) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return false;
	}
	if (st.st_uid != 0 && st.st_uid != self) {
		snprintf(err, errlen, "%s is owned by uid %u (only root or uid %u may own it)", path,
			 (unsigned)st.st_uid, (unsigned)self);
		return false;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s is writable by %s (mode %04o): chmod go-w it", path,
			 (st.st_mode & S_IWOTH) ? "others" : "its group",
			 (unsigned)(st.st_mode & 07777));
		return false;
	}
	if (key && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		snprintf(err, errlen, "%s is a private key readable by %s (mode %04o): chmod 600 it",
			 path, (st.st_mode & S_IRWXO) ? "others" : "its group",
			 (unsigned)(st.st_mode & 07777));
		return false;
	}
	return datadir_check(path, self, err, errlen) == 0;
}

SSL_CTX *tls_ctx_new(const char *cert, const char *key, const char *ca,
		     char *err, size_t errlen)
{
	char why[256];
	const char *what = NULL;
	if (!file_usable(cert, false, err, errlen) || !file_usable(key, true, err, errlen) ||
	    !file_usable(ca, false, err, errlen))
		return NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	if (!ctx) {
		what = "OpenSSL context";
		goto fail;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* Both sides present a certificate and check the other's. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		what = cert;
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		what = key;
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		what = key;
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		what = ca;
		goto fail;
	}
	return ctx;
fail:
	ssl_reason(why, sizeof(why));
	snprintf(err, errlen, "%s: %s", what, why);
	SSL_CTX_free(ctx);
	return NULL;
}

void tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

/* Does certificate X name CLUSTER (a DNS SAN, else the CN)? */
static bool cert_names(X509 *x, const char *cluster)
{
	if (!x)
		return false;
	bool found = false, any_dns = false;
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		if (g->type != GEN_DNS)
			continue;
		any_dns = true;
		const unsigned char *p = ASN1_STRING_get0_data(g->d.dNSName);
		int n = ASN1_STRING_length(g->d.dNSName);
		/* Exact bytes: an embedded NUL or a prefix never matches. */
		if (n == (int)strlen(cluster) && !memcmp(p, cluster, n))
			found = true;
	}
	GENERAL_NAMES_free(names);
	if (found || any_dns)
		return found;
	char cn[256];
	int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
					  cn, sizeof(cn));
	return n > 0 && n == (int)strlen(cluster) && !strcmp(cn, cluster);
}

bool tls_ctx_names(SSL_CTX *ctx, const char *cluster)
{
	return cert_names(SSL_CTX_get0_certificate(ctx), cluster);
}

static void set_timeouts(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* A dead peer on an idle connection is noticed within about a minute. */
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	int idle = 30, intvl = 10, cnt = 3;
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* Non-blocking connect to one address, bounded by MS. Returns fd or -errno. */
static int connect_one(const struct addrinfo *ai, int ms)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			ai->ai_protocol);
	if (fd < 0)
		return -errno;
	int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	if (rc < 0 && errno == EINPROGRESS) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		rc = poll(&p, 1, ms);
		if (rc == 0) {
			close(fd);
			return -ETIMEDOUT;
		}
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr) {
			close(fd);
			return -soerr;
		}
	} else if (rc < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	set_timeouts(fd, ms);
	return fd;
}

/* Wrap connected FD in TLS; the handshake runs in the caller. */
static struct tls_conn *conn_new(SSL_CTX *ctx, int fd)
{
	struct tls_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = fd;
	c->ssl = SSL_new(ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
		SSL_free(c->ssl);
		free(c);
		return NULL;
	}
	return c;
}

/*
 * The names certificate X names (as cert_names reads it: its DNS entries,
 * or its CN when it has none) that can be cluster names (name_valid), one
 * space between each; "" for none. Malloc'd; NULL when out of memory.
 */
static char *cert_clusters(X509 *x)
{
	size_t cap = 256, len = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	out[0] = 0;
	char one[256];
	bool any_dns = false;
	GENERAL_NAMES *names = x ? X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL) : NULL;
	int n = names ? sk_GENERAL_NAME_num(names) : 0;
	for (int i = 0; i <= n; i++) {
		int k = -1;
		if (i < n) {
			const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
			if (g->type != GEN_DNS)
				continue;
			any_dns = true;
			k = ASN1_STRING_length(g->d.dNSName);
			if (k <= 0 || k >= (int)sizeof(one))
				continue;
			memcpy(one, ASN1_STRING_get0_data(g->d.dNSName), k);
			one[k] = 0;
		} else if (!any_dns && x) {
			k = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
						      one, sizeof(one));
		}
		/* An embedded NUL or a byte no name has: not a cluster. */
		if (k <= 0 || strlen(one) != (size_t)k || !name_valid(one))
			continue;
		if (len + k + 2 > cap) {
			cap = (len + k + 2) * 2;
			char *p = realloc(out, cap);
			if (!p) {
				free(out);
				out = NULL;
				break;
			}
			out = p;
		}
		if (len)
			out[len++] = ' ';
		memcpy(out + len, one, k + 1);
		len += k;
	}
	GENERAL_NAMES_free(names);
	return out;
}

/* After a handshake: the peer's subject, for log lines, and its names. */
static void note_subject(struct tls_conn *c)
{
	X509 *x = SSL_get1_peer_certificate(c->ssl);
	if (x) {
		X509_NAME_oneline(X509_get_subject_name(x), c->subject, sizeof(c->subject));
	} else {
		snprintf(c->subject, sizeof(c->subject), "(no certificate)");
	}
	free(c->clusters);
	c->clusters = cert_clusters(x);
	X509_free(x);
}

/*
 * The handshake is done: from now on the socket is non-blocking, and each
 * wait for it a poll(2) bounded by TIMEOUT_MS (and a call's deadline).
 */
static void handshake_done(struct tls_conn *c, int timeout_ms)
{
	int fl = fcntl(c->fd, F_GETFL);
	if (fl >= 0)
		fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
	set_timeouts(c->fd, timeout_ms);
	c->timeout_ms = timeout_ms;
	note_subject(c);
}

/* Why a handshake failed, as one line: verification result or TLS error. */
static void handshake_reason(struct tls_conn *c, int rc, char *err, size_t errlen)
{
	char why[256];
	long v = SSL_get_verify_result(c->ssl);
	int se = SSL_get_error(c->ssl, rc);
	if (v != X509_V_OK) {
		snprintf(err, errlen, "certificate refused: %s",
			 X509_verify_cert_error_string(v));
		ERR_clear_error();
	} else if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE ||
		   (se == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))) {
		/* SO_RCVTIMEO/SO_SNDTIMEO ran out. */
		ERR_clear_error();
		snprintf(err, errlen, "TLS handshake timed out");
	} else {
		ssl_reason(why, sizeof(why));
		snprintf(err, errlen, "TLS handshake failed: %s", why);
	}
}

int tls_connect(SSL_CTX *ctx, const char *hostport, const char *peer_cluster,
		int timeout_ms, struct tls_conn **out, char *err, size_t errlen)
{
	char host[256], port[32];
	*out = NULL;
	if (hostport_split(hostport, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(err, errlen, "bad address %s (HOST:PORT)", hostport);
		return -EINVAL;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai) {
		snprintf(err, errlen, "%s: %s", hostport, gai_strerror(gai));
		return -EHOSTUNREACH;
	}
	int fd = -EHOSTUNREACH;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = connect_one(ai, timeout_ms);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s: %s", hostport, strerror(-fd));
		return fd;
	}
	struct tls_conn *c = conn_new(ctx, fd);
	if (!c) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	int rc = SSL_connect(c->ssl);
	if (rc != 1) {
		handshake_reason(c, rc, err, errlen);
		tls_close(c);
		return strstr(err, "timed out") ? -ETIMEDOUT : -EPROTO;
	}
	handshake_done(c, timeout_ms);
	if (!tls_peer_names(c, peer_cluster)) {
		snprintf(err, errlen, "%s: the gateway's certificate (%s) does not name cluster %s",
			 hostport, c->subject, peer_cluster);
		tls_close(c);
		return -EACCES;
	}
	*out = c;
	return 0;
}

struct tls_conn *tls_accept_start(SSL_CTX *ctx, int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		close(fd);
		return NULL;
	}
	struct tls_conn *c = conn_new(ctx, fd);
	if (!c)
		close(fd);
	return c;
}

int tls_accept_step(struct tls_conn *c, int timeout_ms, short *events, char *err,
		    size_t errlen)
{
	ERR_clear_error();
	int rc = SSL_accept(c->ssl);
	if (rc == 1) {
		handshake_done(c, timeout_ms);
		return 1;
	}
	int se = SSL_get_error(c->ssl, rc);
	if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE) {
		*events = se == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		return 0;
	}
	handshake_reason(c, rc, err, errlen);
	return -EPROTO;
}

bool tls_peer_names(struct tls_conn *c, const char *cluster)
{
	X509 *x = SSL_get1_peer_certificate(c->ssl);
	bool ok = cert_names(x, cluster);
	X509_free(x);
	return ok;
}

const char *tls_peer_subject(struct tls_conn *c)
{
	return c->subject;
}

const char *tls_peer_clusters(struct tls_conn *c)
{
	return c->clusters ? c->clusters : "";
}

bool tls_handshake_confirmed(struct tls_conn *c)
{
	/* TLS 1.2: SSL_connect returned after the server's Finished, which
	 * it sends only once it has checked our certificate. TLS 1.3: our
	 * side ends first; the server's session ticket, sent when its side
	 * ends, is the first sign that it did (OpenSSL's server sends one
	 * unless told not to, and so does Python's). */
	if (SSL_version(c->ssl) < TLS1_3_VERSION)
		return true;
	SSL_SESSION *s = SSL_get_session(c->ssl);
	return s && SSL_SESSION_has_ticket(s);
}

/* Map a failed SSL_read/SSL_write (its SSL_get_error SE, errno E) to a
 * negative errno. */
static int io_error(struct tls_conn *c, int se, int e)
{
	if (se == SSL_ERROR_SSL &&
	    ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		se = SSL_ERROR_ZERO_RETURN;	/* OpenSSL 3: a close without close_notify */
	if (se == SSL_ERROR_SSL)
		ssl_reason(c->why, sizeof(c->why));
	ERR_clear_error();
	if (se == SSL_ERROR_ZERO_RETURN)
		return -ECONNRESET;
	if (se == SSL_ERROR_SYSCALL) {
		if (e == EAGAIN || e == EWOULDBLOCK)
			return -ETIMEDOUT;
		return -ECONNRESET;	/* EOF, or a reset */
	}
	return -EIO;
}

/*
 * Move exactly LEN bytes at P (WR: write, else read). Each wait for the
 * socket lasts at most c->timeout_ms, and none goes past DEADLINE_NS
 * (mono_ns; UINT64_MAX: no deadline). See tls_read_full.
 */
static int io_full(struct tls_conn *c, uint8_t *p, size_t len, bool wr, uint64_t deadline_ns)
{
	while (len) {
		int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
		errno = 0;
		ERR_clear_error();
		int rc = wr ? SSL_write(c->ssl, p, chunk) : SSL_read(c->ssl, p, chunk);
		if (rc > 0) {
			p += rc;
			len -= rc;
			continue;
		}
		int e = errno;
		int se = SSL_get_error(c->ssl, rc);
		if (se != SSL_ERROR_WANT_READ && se != SSL_ERROR_WANT_WRITE)
			return io_error(c, se, e);
		int ms = c->timeout_ms > 0 ? c->timeout_ms : 1;
		if (deadline_ns != UINT64_MAX) {
			uint64_t now = mono_ns();
			if (now >= deadline_ns)
				return -ETIMEDOUT;
			uint64_t left = (deadline_ns - now + 999999) / 1000000;
			if (left < (uint64_t)ms)
				ms = (int)left;
		}
		/* SSL_write may need to read and SSL_read to write (TLS 1.3
		 * key updates): wait for what OpenSSL asked for. */
		struct pollfd pf = { .fd = c->fd,
				     .events = se == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT };
		int pr = poll(&pf, 1, ms);
		if (pr == 0)
			return -ETIMEDOUT;
		if (pr < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

int tls_read_full(struct tls_conn *c, void *buf, size_t len)
{
	return io_full(c, buf, len, false, UINT64_MAX);
}

int tls_write_full(struct tls_conn *c, const void *buf, size_t len)
{
	return io_full(c, (uint8_t *)buf, len, true, UINT64_MAX);
}

int tls_read_by(struct tls_conn *c, void *buf, size_t len, uint64_t deadline_ns)
{
	return io_full(c, buf, len, false, deadline_ns);
}

int tls_write_by(struct tls_conn *c, const void *buf, size_t len, uint64_t deadline_ns)
{
	return io_full(c, (uint8_t *)buf, len, true, deadline_ns);
}

int tls_read_some(struct tls_conn *c, void *buf, size_t len)
{
	int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
	errno = 0;
	ERR_clear_error();
	int rc = SSL_read(c->ssl, buf, chunk);
	if (rc > 0)
		return rc;
	int e = errno;
	int se = SSL_get_error(c->ssl, rc);
	if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE)
		return 0;
	return io_error(c, se, e);
}

int tls_wait_readable(struct tls_conn *c, int ms)
{
	if (SSL_pending(c->ssl) > 0)
		return 1;
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	int rc = poll(&p, 1, ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	return rc > 0;
}

const char *tls_last_error(struct tls_conn *c)
{
	return c->why[0] ? c->why : "TLS error";
}

int tls_fd(struct tls_conn *c)
{
	return c->fd;
}

void tls_close(struct tls_conn *c)
{
	if (!c)
		return;
	SSL_free(c->ssl);
	close(c->fd);
	free(c->clusters);
	free(c);
}
