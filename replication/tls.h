/*
 * tls.h - the gateway's secure channel: OpenSSL TLS 1.2+ with mutual
 * authentication (docs/gateway.md). Owns the SSL_CTX made from [gateway] cert,
 * key and ca, TCP connect/accept with timeouts, the handshake, the check
 * that a peer's certificate names a cluster, and whole-buffer reads and
 * writes with a deadline. Knows nothing of frames or streams.
 *
 * A certificate "names" a cluster when the cluster's name is one of its
 * subjectAltName DNS entries, or, for a certificate without DNS entries,
 * its subject CN. One certificate may name several clusters (a daemon
 * serving several local clusters). The peer must also chain to the CA in
 * [gateway] ca: OpenSSL's verification, SSL_VERIFY_PEER and
 * SSL_VERIFY_FAIL_IF_NO_PEER_CERT on both sides.
 *
 * Timeouts: every blocking call takes a timeout in milliseconds; the socket
 * carries SO_RCVTIMEO/SO_SNDTIMEO, so a stalled peer (SIGSTOP, a cut link)
 * costs at most that long per call, never a hang.
 */
#ifndef STREAMFS_TLS_H
#define STREAMFS_TLS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ssl_ctx_st SSL_CTX;
struct tls_conn;

/*
 * tls_ctx_new - load CERT (PEM chain), KEY (PEM private key) and CA (PEM
 * trust anchors) into a context used both to serve and to connect.
 * Returns the context (free with tls_ctx_free) or NULL with one line in ERR
 * naming the file and OpenSSL's reason.
 */
SSL_CTX *tls_ctx_new(const char *cert, const char *key, const char *ca,
		     char *err, size_t errlen);

/* tls_ctx_free - release CTX (NULL is fine). */
void tls_ctx_free(SSL_CTX *ctx);

/*
 * tls_ctx_names - does CTX's own certificate name CLUSTER? Used at
 * start-up to refuse a [gateway] cert that does not name a local cluster.
 */
bool tls_ctx_names(SSL_CTX *ctx, const char *cluster);

/*
 * tls_connect - TCP connect to HOSTPORT ("host:port", IPv4/IPv6 literal or
 * name), TLS handshake as a client, then check that the server's
 * certificate names PEER_CLUSTER. TIMEOUT_MS bounds the connect and each
 * later read or write. Returns 0 and a connection in *OUT (tls_close it),
 * or a negative errno (-ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH, -EPROTO
 * for a failed handshake, -EACCES for a certificate naming another
 * cluster) with one line in ERR.
 */
int tls_connect(SSL_CTX *ctx, const char *hostport, const char *peer_cluster,
		int timeout_ms, struct tls_conn **out, char *err, size_t errlen);

/*
 * tls_accept_start - begin a TLS handshake as the server on connected
 * socket FD (taken over: closed on error and by tls_close), without
 * blocking: the socket is non-blocking until the handshake is done, so one
 * thread can drive many handshakes (the gateway bounds each by a deadline
 * of its own). Returns the connection, or NULL (out of memory; FD closed).
 */
struct tls_conn *tls_accept_start(SSL_CTX *ctx, int fd);

/*
 * tls_accept_step - advance the handshake of C as far as the socket
 * allows. Returns 1 when it is done: the socket is blocking again, each
 * later read or write bounded by TIMEOUT_MS, the peer's certificate
 * verified against the CA; 0 when it waits for the socket (*EVENTS gets
 * POLLIN or POLLOUT); or -EPROTO (handshake or certificate refused; one
 * line in ERR), after which C is only to be tls_close'd.
 */
int tls_accept_step(struct tls_conn *c, int timeout_ms, short *events, char *err,
		    size_t errlen);

/* tls_peer_names - does the peer's certificate name CLUSTER? */
bool tls_peer_names(struct tls_conn *c, const char *cluster);

/* tls_peer_subject - the peer certificate's subject, one line, for logs.
 * Static to the connection; valid until tls_close. */
const char *tls_peer_subject(struct tls_conn *c);

/*
 * tls_read_full / tls_write_full - move exactly LEN bytes. Return 0,
 * -ECONNRESET (the peer closed or reset), -ETIMEDOUT (no progress within
 * the timeout) or -EIO (a TLS error).
 */
int tls_read_full(struct tls_conn *c, void *buf, size_t len);
int tls_write_full(struct tls_conn *c, const void *buf, size_t len);

/*
 * tls_wait_readable - wait up to MS milliseconds for data (buffered in TLS
 * or on the socket). Returns 1 if readable, 0 on timeout, negative errno.
 */
int tls_wait_readable(struct tls_conn *c, int ms);

/* tls_last_error - OpenSSL's reason for the last -EIO, one line. Valid
 * until the next call on C. */
const char *tls_last_error(struct tls_conn *c);

/* tls_fd - the connection's socket (for shutdown(2) from another thread). */
int tls_fd(struct tls_conn *c);

/* tls_close - close the connection (no TLS close_notify wait) and free it. */
void tls_close(struct tls_conn *c);

#endif
