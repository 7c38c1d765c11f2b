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
 * Timeouts: every blocking call takes a timeout in milliseconds. After the
 * handshake the socket is non-blocking and each wait for it is a poll(2)
 * of at most that long, so a stalled peer (SIGSTOP, a cut link) costs at
 * most that long per call, never a hang; tls_read_by and tls_write_by
 * also end at a deadline of the caller's, however the peer trickles.
 */
#ifndef STREAMFS_TLS_H
#define STREAMFS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ssl_ctx_st SSL_CTX;
struct tls_conn;

/*
 * tls_ctx_new - load CERT (PEM chain), KEY (PEM private key) and CA (PEM
 * trust anchors) into a context used both to serve and to connect.
 * Each file must be a regular file that only root and this daemon's user
 * can change (the key: or read), in directories only they can change.
 * Returns the context (free with tls_ctx_free) or NULL with one line in ERR
 * naming the file and why (its owner or mode, or OpenSSL's reason).
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
 * certificate names PEER_CLUSTER. TIMEOUT_MS bounds the connect, each
 * read or write of the handshake, and each later wait for the socket. Returns 0 and a connection in *OUT (tls_close it),
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
 * allows. Returns 1 when it is done: each later wait for the socket
 * bounded by TIMEOUT_MS (the socket stays non-blocking), the peer's
 * certificate verified against the CA; 0 when it waits for the socket (*EVENTS gets
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
 * tls_peer_clusters - every cluster the peer's certificate names (as
 * tls_peer_names reads it: its DNS entries, or its CN without them), those
 * that are valid names only, separated by one space, in the certificate's
 * order; "" if none. The gateway's key for a peer's shares. Owned by the
 * connection; valid until tls_close.
 */
const char *tls_peer_clusters(struct tls_conn *c);

/*
 * tls_handshake_confirmed - (client side) has the server shown that it
 * finished the handshake, i.e. accepted our certificate? Always with TLS
 * 1.2; with TLS 1.3, once its session ticket has been read (SSL_read
 * reads it on the way to the first answer, or to an end of the
 * connection). A connection closed before that may have been refused for
 * its certificate; one closed after it was closed for another reason.
 */
bool tls_handshake_confirmed(struct tls_conn *c);

/*
 * tls_read_full / tls_write_full - move exactly LEN bytes. Return 0,
 * -ECONNRESET (the peer closed or reset), -ETIMEDOUT (no progress within
 * the timeout) or -EIO (a TLS error).
 */
int tls_read_full(struct tls_conn *c, void *buf, size_t len);
int tls_write_full(struct tls_conn *c, const void *buf, size_t len);

/*
 * tls_read_by / tls_write_by - as tls_read_full / tls_write_full, and
 * -ETIMEDOUT also once DEADLINE_NS (mono_ns(), util/clock.h) has passed
 * with bytes still to move, however steadily the peer trickles them.
 */
int tls_read_by(struct tls_conn *c, void *buf, size_t len, uint64_t deadline_ns);
int tls_write_by(struct tls_conn *c, const void *buf, size_t len, uint64_t deadline_ns);

/*
 * tls_read_some - read what has arrived, up to LEN bytes, without
 * waiting. Returns the count (> 0), 0 if nothing has arrived yet, or a
 * negative errno as tls_read_full.
 */
int tls_read_some(struct tls_conn *c, void *buf, size_t len);

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
