/*
 * natspeer.c - the NATS JetStream client of `make bench`: the peer of
 * figure 4 (figure 9 of bench/run.py), NATS JetStream stream mirrors
 * measured the way figure 4 measures streamfs replication in one daemon;
 * and figure 11's raw publishes, beside the NATS home. A client of the
 * nats-servers bench/run.py starts (-js), through the NATS C client
 * (libnats, nats.c 3.4, Debian libnats-dev).
 *
 *   natspeer catchup URL N MSG_BYTES
 *       Deletes streams A and B if they exist, creates A (file storage, one
 *       subject "a.t"), stores N messages of MSG_BYTES bytes in it with
 *       js_PublishAsync (at most PUB_WINDOW unacknowledged), waits for
 *       every ack, sync()s, then creates B as a mirror of A and times it
 *       from just before js_AddStream(B) until js_GetStreamInfo(B), polled
 *       every 10 ms, shows N messages.
 *       Output: catchup msgs=N seconds=S msgs_per_s=R fill_seconds=S
 *       fill_msgs_per_s=R  (fill: the storing of A, not part of the figure)
 *
 *   natspeer latency URL N MSG_BYTES
 *       With A and B as catchup left them (created empty if missing): waits
 *       until B has all of A, subscribes to B with an ordered push consumer
 *       (deliver-new, no acks, js_SubscribeSync bound to stream B), then N
 *       times, 1 ms apart: js_Publish of one message to A (waits for its
 *       ack: stored in A), then natsSubscription_NextMsg until that message
 *       arrives from B. A sample is from just before js_Publish to the
 *       return of NextMsg; WARMUP messages go first and are not counted.
 *       The connection sends each publish at once (natsOptions_SetSendAsap).
 *       Output: latency n=N p50_us= p90_us= p99_us= max_us= mean_us=
 *       publish_p50_us= publish_p99_us=  (publish_*: js_Publish alone)
 *
 *   natspeer publish URL N MSG_BYTES BLOCK sync|async|home|follow|homefollow|notice REPLICAS
 *       Figure 11's raw JetStream publish: deletes stream P if it exists,
 *       creates it (file storage, REPLICAS replicas, one subject "p.t")
 *       and publishes N lines of MSG_BYTES bytes and '\n' to it, the way
 *       bench/writer writes them to a file: with BLOCK 0, one line per
 *       publish; else the lines as one continuous stream cut into BLOCK
 *       byte writes, each publish the complete lines a write finishes
 *       (what the NATS home makes one chunk of, docs/nats.md). sync:
 *       js_Publish, each publish waits for its ack (as every NATS-home
 *       append does); async: js_PublishAsync, at most PUB_WINDOW
 *       unacknowledged and at most PUB_WINDOW_BYTES of them, then every
 *       ack awaited; home: as sync, each
 *       publish also carrying what the NATS home's chunk carries (the
 *       expected last subject sequence, eight Sfs-* headers of the same
 *       lengths, a Nats-Msg-Id), without FUSE and without the daemon's consumer, to
 *       tell where the home's time goes; follow: as sync, with an
 *       ordered push consumer delivering headers only subscribed to P
 *       (libnats' shared delivery threads, idle heartbeats every second:
 *       as each NATS-home daemon follows its data streams,
 *       fs/nats/natsstream.c), each publish waiting for its ack and then
 *       until that consumer has delivered it (as a NATS-home append waits
 *       for its daemon's index: read your writes); homefollow: home and
 *       follow together, what a NATS-home append asks of NATS without
 *       FUSE and the daemon; notice: a design without a consumer on
 *       the stream (docs/performance.md, "A design without a consumer"):
 *       each publish expects the stream's last sequence (not the
 *       subject's: JetStream checks it without reading a message back)
 *       and carries the eight Sfs-* headers, then its sequence goes out
 *       at once (send-asap connection) as a plain NATS message (a
 *       notice, not stored) that other daemons would follow, this
 *       client's subscription among them; the publisher does not wait
 *       for it (a daemon would index its own chunk from the ack: the
 *       expected sequence proves nothing came between). Timed from the
 *       first
 *       publish to the last ack; then checks that P holds every publish.
 *       The connection uses the library's flusher, as the daemon's does.
 *       Output: publish msgs=N publishes=K bytes=B seconds=S msgs_per_s=R
 *       mb_per_s=R p50_us= p99_us=  (per publish; 0 for async)
 *
 * It owns its one connection, its JetStream context and subscription, and
 * the streams A, B and P on that server; it starts and stops no process.
 * Exit status 0 on success, 1 on any error (one line on stderr), 2 on bad
 * usage.
 */
#define _GNU_SOURCE
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stats.h"

#define STREAM_A "A"
#define STREAM_B "B"
#define SUBJECT "a.t"
#define PUB_WINDOW 4000          /* unacknowledged async publishes at most (the Go client's default) */
#define PUB_WINDOW_BYTES (16 << 20) /* and `publish async`: at most this many bytes unacknowledged */
#define POLL_US 10000            /* stream info polling interval, as figure 4 polls .info */
#define CATCHUP_TIMEOUT_US 600e6 /* give up on the mirror after 10 min, as figure 4 does */
#define WAIT_MS 60000            /* JetStream API and ack waits, in ms */
#define WARMUP 10                /* latency messages sent first and not counted */
#define GAP_US 1000              /* pause between latency samples, as bench/latency */
#define SAMPLE_TIMEOUT_MS 10000  /* a sample not back from B after this fails the run */


/* Print "natspeer: WHAT: <status text> [(JetStream error JERR)] [<library
 * detail>]" on stderr. Always returns -1, for `return fail(...)`. */
static int fail(const char *what, natsStatus s, jsErrCode jerr)
{
	natsStatus ls;
	const char *detail = nats_GetLastError(&ls);
	fprintf(stderr, "natspeer: %s: %s", what, natsStatus_GetText(s));
	if (jerr)
		fprintf(stderr, " (JetStream error %d)", (int)jerr);
	if (detail && *detail)
		fprintf(stderr, ": %s", detail);
	fputc('\n', stderr);
	return -1;
}

/* Fill the MLEN bytes of MSG with "<tag> <i, 8 digits> " and 'x' up to the
 * end (MLEN >= 24; no terminating NUL is written past MLEN). */
static void make_msg(char *msg, size_t mlen, const char *tag, long i)
{
	char head[64];
	int h = snprintf(head, sizeof(head), "%s %08ld ", tag, i);
	size_t hl = (size_t)h < mlen ? (size_t)h : mlen;
	memcpy(msg, head, hl);
	memset(msg + hl, 'x', mlen - hl);
}

/* Errors reported by the library for async publishes (its own thread). */
static atomic_long pub_errors;

/* jsPubAckErrHandler: count a failed async publish; the library destroys
 * the message after we return. */
static void on_pub_err(jsCtx *js, jsPubAckErr *pae, void *closure)
{
	(void)js;
	(void)closure;
	if (atomic_fetch_add(&pub_errors, 1) == 0)
		fprintf(stderr, "natspeer: async publish failed: %s (JetStream error %d)\n",
			pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err),
			(int)pae->ErrCode);
}

/* Connect to URL (SEND_ASAP: every publish is written to the socket at once
 * instead of by the library's flusher thread) and make a JetStream context
 * whose async publishes stall at WINDOW pending, for up to WAIT_MS.
 * On success *NC and *JS are set and 0 returned; on error -1, nothing is
 * left allocated. */
static int connect_js(const char *url, int send_asap, int window, natsConnection **nc,
		      jsCtx **js, int global_delivery)
{
	natsOptions *opts = NULL;
	jsOptions jo;
	natsStatus s;
	int rc = -1;

	*nc = NULL;
	*js = NULL;
	if ((s = natsOptions_Create(&opts)) != NATS_OK ||
	    (s = natsOptions_SetURL(opts, url)) != NATS_OK ||
	    (s = natsOptions_SetTimeout(opts, 5000)) != NATS_OK ||
	    (s = natsOptions_SetAllowReconnect(opts, false)) != NATS_OK ||
	    (s = natsOptions_SetSendAsap(opts, send_asap)) != NATS_OK ||
	    (s = natsOptions_UseGlobalMessageDelivery(opts, global_delivery)) != NATS_OK) {
		fail("connection options", s, 0);
		goto out;
	}
	if ((s = natsConnection_Connect(nc, opts)) != NATS_OK) {
		fail(url, s, 0);
		goto out;
	}
	jsOptions_Init(&jo);
	jo.Wait = WAIT_MS;
	jo.PublishAsync.MaxPending = window;
	jo.PublishAsync.StallWait = WAIT_MS;
	jo.PublishAsync.ErrHandler = on_pub_err;
	if ((s = natsConnection_JetStream(js, *nc, &jo)) != NATS_OK) {
		fail("JetStream context", s, 0);
		natsConnection_Destroy(*nc);
		*nc = NULL;
		goto out;
	}
	rc = 0;
out:
	natsOptions_Destroy(opts);
	return rc;
}

/* Delete stream NAME if it exists. 0 if it is gone (or never was), -1 on
 * any other error. */
static int delete_stream(jsCtx *js, const char *name)
{
	jsErrCode jerr = 0;
	natsStatus s = js_DeleteStream(js, name, NULL, &jerr);
	if (s == NATS_OK || jerr == JSStreamNotFoundErr)
		return 0;
	return fail("delete stream", s, jerr);
}

/* Create stream NAME with file storage and the server's defaults otherwise
 * (no limits, sync left to the server: every 2 min by default): with the
 * one subject SUBJECT if MIRROR is NULL, else as a mirror of stream MIRROR
 * (a mirror has no subjects of its own). 0 on success, -1 on error. */
static int add_stream(jsCtx *js, const char *name, const char *mirror)
{
	jsStreamConfig cfg;
	jsStreamSource src;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	const char *subjects[] = { SUBJECT };
	natsStatus s;

	jsStreamConfig_Init(&cfg);
	cfg.Name = name;
	cfg.Storage = js_FileStorage;
	if (mirror) {
		jsStreamSource_Init(&src);
		src.Name = mirror;
		cfg.Mirror = &src;
	} else {
		cfg.Subjects = subjects;
		cfg.SubjectsLen = 1;
	}
	s = js_AddStream(&si, js, &cfg, NULL, &jerr);
	jsStreamInfo_Destroy(si);
	return s == NATS_OK ? 0 : fail(mirror ? "create mirror stream" : "create stream", s, jerr);
}

/* The number of messages and last sequence of stream NAME, from
 * js_GetStreamInfo (one API round trip). 0 on success, -1 on error; 1,
 * silently, if the stream does not exist. */
static int stream_state(jsCtx *js, const char *name, uint64_t *msgs, uint64_t *last)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_GetStreamInfo(&si, js, name, NULL, &jerr);
	if (s != NATS_OK && jerr == JSStreamNotFoundErr)
		return 1;
	if (s != NATS_OK)
		return fail("stream info", s, jerr);
	*msgs = si->State.Msgs;
	*last = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	return 0;
}

/* Store N messages of MLEN bytes in stream A with js_PublishAsync, at most
 * PUB_WINDOW awaiting their ack, then wait (up to WAIT_MS) for every ack.
 * Returns the seconds taken, or -1 on error (a failed publish, a missing
 * ack, or A not holding N messages afterwards). */
static double fill(jsCtx *js, long n, size_t mlen)
{
	jsPubOptions po;
	uint64_t msgs = 0, last = 0;
	natsStatus s;
	char *msg = malloc(mlen);
	double t0 = now_us(), secs = -1;

	if (!msg) {
		fprintf(stderr, "natspeer: out of memory\n");
		return -1;
	}
	for (long i = 0; i < n; i++) {
		make_msg(msg, mlen, "fill", i);
		if ((s = js_PublishAsync(js, SUBJECT, msg, (int)mlen, NULL)) != NATS_OK) {
			fail("async publish", s, 0);
			goto out;
		}
	}
	jsPubOptions_Init(&po);
	po.MaxWait = WAIT_MS;
	if ((s = js_PublishAsyncComplete(js, &po)) != NATS_OK) {
		fail("waiting for publish acks", s, 0);
		goto out;
	}
	secs = (now_us() - t0) / 1e6;
	if (atomic_load(&pub_errors)) {
		fprintf(stderr, "natspeer: %ld async publishes failed\n", atomic_load(&pub_errors));
		secs = -1;
		goto out;
	}
	int r = stream_state(js, STREAM_A, &msgs, &last);
	if (r != 0) {
		if (r > 0)
			fprintf(stderr, "natspeer: no stream A after the fill\n");
		secs = -1;
		goto out;
	}
	if (msgs != (uint64_t)n) {
		fprintf(stderr, "natspeer: stream A holds %llu messages, expected %ld\n",
			(unsigned long long)msgs, n);
		secs = -1;
	}
out:
	free(msg);
	return secs;
}

/* Poll stream NAME's info every POLL_US until it holds at least N messages.
 * Returns 0, or -1 on an error or after TIMEOUT_US microseconds from T0
 * (a now_us() time). */
static int wait_msgs(jsCtx *js, const char *name, uint64_t n, double t0, double timeout_us)
{
	uint64_t msgs = 0, last = 0;
	for (;;) {
		int r = stream_state(js, name, &msgs, &last);
		if (r < 0)
			return -1;
		if (r == 0 && msgs >= n)
			return 0;
		if (now_us() - t0 > timeout_us) {
			fprintf(stderr, "natspeer: stream %s has %llu of %llu messages after %.0f s\n",
				name, (unsigned long long)msgs, (unsigned long long)n, timeout_us / 1e6);
			return -1;
		}
		usleep(POLL_US);
	}
}

/* `catchup`: see the file comment. 0 on success, 1 on error. */
static int cmd_catchup(const char *url, long n, size_t mlen)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	double fill_s, t0, secs;
	int rc = 1;

	if (connect_js(url, 0, PUB_WINDOW, &nc, &js, 0) < 0)
		return 1;
	if (delete_stream(js, STREAM_B) < 0 || delete_stream(js, STREAM_A) < 0 ||
	    add_stream(js, STREAM_A, NULL) < 0)
		goto out;
	if ((fill_s = fill(js, n, mlen)) < 0)
		goto out;
	sync();   /* as figure 4: A's data written back before the timed copy */
	t0 = now_us();
	if (add_stream(js, STREAM_B, STREAM_A) < 0 ||
	    wait_msgs(js, STREAM_B, (uint64_t)n, t0, CATCHUP_TIMEOUT_US) < 0)
		goto out;
	secs = (now_us() - t0) / 1e6;
	printf("catchup msgs=%ld seconds=%.6f msgs_per_s=%.1f fill_seconds=%.6f "
	       "fill_msgs_per_s=%.1f\n", n, secs, n / secs, fill_s, n / fill_s);
	rc = 0;
out:
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return rc;
}

/* Wait until the message of MLEN bytes in MSG comes out of SUB, discarding
 * any other, for up to SAMPLE_TIMEOUT_MS from T0 (a now_us() time).
 * 0 when it came, -1 on a timeout or error. */
static int receive(natsSubscription *sub, const char *msg, size_t mlen, double t0)
{
	for (;;) {
		natsMsg *m = NULL;
		int64_t left = SAMPLE_TIMEOUT_MS - (int64_t)((now_us() - t0) / 1000);
		natsStatus s = left > 0 ? natsSubscription_NextMsg(&m, sub, left) : NATS_TIMEOUT;
		if (s != NATS_OK) {
			fail("receiving from the mirror", s, 0);
			return -1;
		}
		int same = (size_t)natsMsg_GetDataLength(m) == mlen &&
			   memcmp(natsMsg_GetData(m), msg, mlen) == 0;
		natsMsg_Destroy(m);
		if (same)
			return 0;
	}
}

/* `latency`: see the file comment. 0 on success, 1 on error. */
static int cmd_latency(const char *url, long n, size_t mlen)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	natsSubscription *sub = NULL;
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;
	uint64_t a_msgs = 0, a_last = 0, b_msgs = 0, b_last = 0;
	double *lat = calloc(n, sizeof(*lat)), *plat = calloc(n, sizeof(*plat));
	char *msg = malloc(mlen);
	int rc = 1;

	if (!lat || !plat || !msg) {
		fprintf(stderr, "natspeer: out of memory\n");
		goto out;
	}
	if (connect_js(url, 1, PUB_WINDOW, &nc, &js, 0) < 0)
		goto out;
	/* Used alone: make the pair. After catchup: it is there, caught up. */
	int r = stream_state(js, STREAM_B, &b_msgs, &b_last);
	if (r < 0)
		goto out;
	if (r > 0 && (delete_stream(js, STREAM_A) < 0 || add_stream(js, STREAM_A, NULL) < 0 ||
		      add_stream(js, STREAM_B, STREAM_A) < 0))
		goto out;
	if ((r = stream_state(js, STREAM_A, &a_msgs, &a_last)) > 0)
		fprintf(stderr, "natspeer: no stream A\n");
	if (r != 0 ||
	    wait_msgs(js, STREAM_B, a_msgs, now_us(), 60e6) < 0)
		goto out;
	jsSubOptions_Init(&so);
	so.Stream = STREAM_B;
	so.Ordered = true;
	so.Config.DeliverPolicy = js_DeliverNew;
	if ((s = js_SubscribeSync(&sub, js, SUBJECT, NULL, &so, &jerr)) != NATS_OK) {
		fail("ordered consumer on B", s, jerr);
		goto out;
	}
	for (long i = -WARMUP; i < n; i++) {
		make_msg(msg, mlen, "latency", i);
		double t0 = now_us();
		if ((s = js_Publish(NULL, js, SUBJECT, msg, (int)mlen, NULL, &jerr)) != NATS_OK) {
			fail("publish", s, jerr);
			goto out;
		}
		double tp = now_us();
		if (receive(sub, msg, mlen, t0) < 0)
			goto out;
		double t1 = now_us();
		if (i >= 0) {
			lat[i] = t1 - t0;
			plat[i] = tp - t0;
		}
		usleep(GAP_US);
	}
	double sum = 0;
	for (long i = 0; i < n; i++)
		sum += lat[i];
	qsort(lat, n, sizeof(*lat), cmp_d);
	qsort(plat, n, sizeof(*plat), cmp_d);
	printf("latency n=%ld p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f mean_us=%.1f "
	       "publish_p50_us=%.1f publish_p99_us=%.1f\n",
	       n, pct(lat, n, 50), pct(lat, n, 90), pct(lat, n, 99), lat[n - 1], sum / n,
	       pct(plat, n, 50), pct(plat, n, 99));
	rc = 0;
out:
	if (sub) {
		natsSubscription_Unsubscribe(sub);   /* removes the ephemeral consumer */
		natsSubscription_Destroy(sub);
	}
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	free(lat);
	free(plat);
	free(msg);
	return rc;
}

/* Create stream NAME with file storage, REPLICAS replicas and the one
 * subject SUBJ, deleting it first if it exists. 0 or -1. */
static int fresh_stream(jsCtx *js, const char *name, const char *subj, int replicas)
{
	jsStreamConfig cfg;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	const char *subjects[] = { subj };
	if (delete_stream(js, name) < 0)
		return -1;
	jsStreamConfig_Init(&cfg);
	cfg.Name = name;
	cfg.Storage = js_FileStorage;
	cfg.Replicas = replicas;
	cfg.Subjects = subjects;
	cfg.SubjectsLen = 1;
	natsStatus s = js_AddStream(&si, js, &cfg, NULL, &jerr);
	jsStreamInfo_Destroy(si);
	return s == NATS_OK ? 0 : fail("create stream", s, jerr);
}

enum { PUB_SYNC, PUB_ASYNC, PUB_HOME, PUB_FOLLOW, PUB_HOME_FOLLOW, PUB_NOTICE };

/* What `publish follow` and `homefollow` share with their consumer's
 * callback (libnats' delivery thread): the highest stream sequence
 * delivered so far, under MU, CV signalled at each delivery. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t seq;
} followed = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };

/* The consumer's callback: note the message's stream sequence. */
static void on_followed(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
	(void)nc;
	(void)sub;
	(void)closure;
	jsMsgMetaData *meta = NULL;
	if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
		pthread_mutex_lock(&followed.mu);
		if (meta->Sequence.Stream > followed.seq)
			followed.seq = meta->Sequence.Stream;
		pthread_cond_broadcast(&followed.cv);
		pthread_mutex_unlock(&followed.mu);
	}
	jsMsgMetaData_Destroy(meta);
	natsMsg_Destroy(m);
}

/* `publish notice`'s subscription (another daemon's, in the design): a
 * notice's first field is the stream sequence it tells of. */
static void on_notice(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
	(void)nc;
	(void)sub;
	(void)closure;
	unsigned long long q = strtoull(natsMsg_GetData(m), NULL, 10);
	pthread_mutex_lock(&followed.mu);
	if (q > followed.seq)
		followed.seq = q;
	pthread_cond_broadcast(&followed.cv);
	pthread_mutex_unlock(&followed.mu);
	natsMsg_Destroy(m);
}

/* Follow stream P as each NATS-home daemon follows its data stream
 * (fs/nats/natsstream.c, follow()): an ordered push consumer delivering
 * headers only, idle heartbeats every second, its callback on libnats'
 * shared delivery threads. *SUB set on success; 0 or -1. */
static int follow_stream(jsCtx *js, natsSubscription **sub)
{
	jsSubOptions so;
	jsErrCode jerr = 0;
	jsSubOptions_Init(&so);
	so.Stream = "P";
	so.Ordered = true;
	so.Config.HeadersOnly = true;
	so.Config.Heartbeat = (int64_t)1000 * 1000000;
	natsStatus s = js_Subscribe(sub, js, "p.t", on_followed, NULL, NULL, &so, &jerr);
	return s == NATS_OK ? 0 : fail("subscribe", s, jerr);
}

/* Wait (up to WAIT_MS) until the consumer has delivered sequence SEQ.
 * 0, or -1 (reported) on timeout. */
static int wait_followed(uint64_t seq)
{
	struct timespec ts;
	int rc = 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_MS / 1000;
	pthread_mutex_lock(&followed.mu);
	while (followed.seq < seq && rc == 0)
		rc = pthread_cond_timedwait(&followed.cv, &followed.mu, &ts);
	pthread_mutex_unlock(&followed.mu);
	if (rc)
		fprintf(stderr, "natspeer: sequence %llu not delivered within %d ms\n",
			(unsigned long long)seq, WAIT_MS);
	return rc ? -1 : 0;
}

/* One publish of `publish home`: the LEN bytes of BUF (lines FIRST ..
 * FIRST + N) to p.t as the NATS home publishes a chunk (fs/nats/natstopic.c):
 * js_PublishMsg with Nats-Expected-Last-Subject-Sequence *LAST (the
 * previous ack's sequence; none for the first), its eight Sfs-* headers
 * of the same lengths and its Nats-Msg-Id. *LAST becomes this one's sequence. */
static natsStatus publish_as_home(jsCtx *js, const char *buf, size_t len, long first, long n,
				  uint64_t *last, jsErrCode *jerr)
{
	char h[8][100];
	static const char *const keys[8] = { "Sfs-Off", "Sfs-Pos", "Sfs-N", "Sfs-Len",
					     "Sfs-Own", "Sfs-Origin", "Sfs-Ts", "Sfs-Writer" };
	natsMsg *m = NULL;
	jsPubAck *ack = NULL;
	jsPubOptions po;
	snprintf(h[0], 100, "%ld", first);
	snprintf(h[1], 100, "%zu", (size_t)first * len / (size_t)n);
	snprintf(h[2], 100, "%ld", n);
	snprintf(h[3], 100, "%zu", len);
	snprintf(h[4], 100, "%ld", first + n);
	snprintf(h[5], 100, "00000000-0000-4000-8000-000000000000 "
		 "00000000-0000-4000-8000-000000000001 %ld", first);
	snprintf(h[6], 100, "%lld", (long long)(now_us() * 1000));
	snprintf(h[7], 100, "00000000-0000-4000-8000-000000000002-%ld", first);
	natsStatus s = natsMsg_Create(&m, "p.t", NULL, buf, (int)len);
	for (int i = 0; i < 8 && s == NATS_OK; i++)
		s = natsMsgHeader_Set(m, keys[i], h[i]);
	/* The home's Nats-Msg-Id is its Sfs-Writer (de-duplication). */
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Nats-Msg-Id", h[7]);
	jsPubOptions_Init(&po);
	po.MaxWait = WAIT_MS;
	po.ExpectLastSubjectSeq = *last;   /* 0: not sent (the first publish) */
	if (s == NATS_OK)
		s = js_PublishMsg(&ack, js, m, &po, jerr);
	if (s == NATS_OK)
		*last = ack->Sequence;
	jsPubAck_Destroy(ack);
	natsMsg_Destroy(m);
	return s;
}

/* One publish of `publish notice`: as publish_as_home, but expecting the
 * stream's last sequence *LAST, then the notice of its sequence on
 * "notice.p". *LAST becomes this one's sequence. */
static natsStatus publish_notice(natsConnection *nc, jsCtx *js, const char *buf, size_t len,
				 uint64_t *last, jsErrCode *jerr)
{
	static const char *const keys[8] = { "Sfs-Off", "Sfs-Pos", "Sfs-N", "Sfs-Len",
					     "Sfs-Own", "Sfs-Origin", "Sfs-Ts", "Sfs-Writer" };
	natsMsg *m = NULL;
	jsPubAck *ack = NULL;
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MaxWait = WAIT_MS;
	po.ExpectLastSeq = *last;   /* 0: not sent (the first publish) */
	natsStatus s = natsMsg_Create(&m, "p.t", NULL, buf, (int)len);
	for (int i = 0; i < 8 && s == NATS_OK; i++)
		s = natsMsgHeader_Set(m, keys[i], "00000000-0000-4000-8000-000000000002-1234");
	if (s == NATS_OK)
		s = js_PublishMsg(&ack, js, m, &po, jerr);
	if (s == NATS_OK) {
		char nb[160];
		*last = ack->Sequence;
		int nl = snprintf(nb, sizeof(nb), "%llu %zu", (unsigned long long)*last, len);
		s = natsConnection_Publish(nc, "notice.p", nb, nl);
	}
	jsPubAck_Destroy(ack);
	natsMsg_Destroy(m);
	return s;
}

/* `publish`: see the file comment. 0 on success, 1 on error. */
static int cmd_publish(const char *url, long n, size_t mlen, size_t block, int mode,
		       int replicas)
{
	int async = mode == PUB_ASYNC;
	int follow = mode == PUB_FOLLOW || mode == PUB_HOME_FOLLOW;
	int as_home = mode == PUB_HOME || mode == PUB_HOME_FOLLOW;
	int notice = mode == PUB_NOTICE;
	natsSubscription *sub = NULL, *nsub = NULL;
	uint64_t last_seq = 0;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	size_t line = mlen + 1, cap = block ? block + line : line;
	long maxpub = block ? (long)((n * line) / block + 2) : n;
	char *buf = malloc(cap);
	double *lat = calloc(maxpub, sizeof(*lat));
	uint64_t msgs = 0, last = 0;
	long pubs = 0;
	int rc = 1;

	if (!buf || !lat) {
		fprintf(stderr, "natspeer: out of memory\n");
		goto out;
	}
	/* Async: PUB_WINDOW publishes, but no more than PUB_WINDOW_BYTES (256
	 * of 64 KiB: 4,000 of them, 256 MiB in flight, outlast WAIT_MS on a
	 * loaded three-server cluster). */
	size_t per = block ? block : line;
	int window = PUB_WINDOW_BYTES / per < PUB_WINDOW ? (int)(PUB_WINDOW_BYTES / per) : PUB_WINDOW;
	if (connect_js(url, notice, window > 0 ? window : 1, &nc, &js, follow) < 0 ||
	    fresh_stream(js, "P", "p.t", replicas) < 0 ||
	    (follow && follow_stream(js, &sub) < 0))
		goto out;
	if (notice && natsConnection_Subscribe(&nsub, nc, "notice.p", on_notice, NULL) != NATS_OK) {
		fprintf(stderr, "natspeer: cannot subscribe to the notices\n");
		goto out;
	}
	double t0 = now_us();
	for (long i = 0; i < n;) {
		/* Lines [i, j): one, or those the next BLOCK-byte write finishes. */
		long j = i + 1;
		if (block) {
			/* The write holding line i's last byte ends at END. */
			uint64_t end = (((uint64_t)(i + 1) * line - 1) / block + 1) * block;
			j = (long)(end / line);
			if (j > n)
				j = n;
		}
		size_t len = 0;
		for (long k = i; k < j; k++) {
			make_msg(buf + len, mlen, "pub", k);
			buf[len + mlen] = '\n';
			len += line;   /* at most BLOCK / line + 1 lines: within CAP */
		}
		natsStatus s;
		jsErrCode jerr = 0;
		double tp = now_us();
		jsPubAck *ack = NULL;
		if (async)
			s = js_PublishAsync(js, "p.t", buf, (int)len, NULL);
		else if (notice)
			s = publish_notice(nc, js, buf, len, &last_seq, &jerr);
		else if (!as_home)
			s = js_Publish(follow ? &ack : NULL, js, "p.t", buf, (int)len, NULL, &jerr);
		else
			s = publish_as_home(js, buf, len, i, j - i, &last_seq, &jerr);
		if (s == NATS_OK && ack)
			last_seq = ack->Sequence;
		jsPubAck_Destroy(ack);
		if (s != NATS_OK) {
			fail(async ? "async publish" : "publish", s, jerr);
			goto out;
		}
		/* As a NATS-home append: returned once this client's own
		 * consumer has delivered it (read your writes). */
		if (follow && wait_followed(last_seq) < 0)
			goto out;
		lat[pubs++] = now_us() - tp;
		i = j;
	}
	if (async) {
		jsPubOptions po;
		jsPubOptions_Init(&po);
		po.MaxWait = WAIT_MS;
		natsStatus s = js_PublishAsyncComplete(js, &po);
		if (s != NATS_OK) {
			fail("waiting for publish acks", s, 0);
			goto out;
		}
	}
	double secs = (now_us() - t0) / 1e6;
	if (atomic_load(&pub_errors)) {
		fprintf(stderr, "natspeer: %ld async publishes failed\n", atomic_load(&pub_errors));
		goto out;
	}
	if (stream_state(js, "P", &msgs, &last) != 0 || msgs != (uint64_t)pubs) {
		fprintf(stderr, "natspeer: stream P holds %llu messages, expected %ld\n",
			(unsigned long long)msgs, pubs);
		goto out;
	}
	qsort(lat, pubs, sizeof(*lat), cmp_d);
	printf("publish msgs=%ld publishes=%ld bytes=%llu seconds=%.6f msgs_per_s=%.1f "
	       "mb_per_s=%.3f p50_us=%.1f p99_us=%.1f\n", n, pubs,
	       (unsigned long long)n * line, secs, n / secs, n * line / secs / 1e6,
	       async ? 0.0 : pct(lat, (int)pubs, 50), async ? 0.0 : pct(lat, (int)pubs, 99));
	rc = 0;
out:
	if (sub) {
		natsSubscription_Unsubscribe(sub);
		natsSubscription_Destroy(sub);
	}
	if (nsub) {
		natsSubscription_Unsubscribe(nsub);
		natsSubscription_Destroy(nsub);
	}
	if (js)
		delete_stream(js, "P");   /* its space back before the next figure */
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	free(buf);
	free(lat);
	return rc;
}

int main(int argc, char **argv)
{
	char *end;
	long n;
	unsigned long mlen;
	int rc;

	if (argc == 8 && !strcmp(argv[1], "publish")) {
		unsigned long block;
		long reps;
		n = strtol(argv[3], &end, 10);
		if (*end || n < 1)
			goto usage;
		mlen = strtoul(argv[4], &end, 10);
		if (*end || mlen < 24 || mlen > (1 << 20))
			goto usage;
		block = strtoul(argv[5], &end, 10);
		if (*end || (block && block < mlen + 1) || block > (64 << 20))
			goto usage;
		reps = strtol(argv[7], &end, 10);
		int mode = !strcmp(argv[6], "sync") ? PUB_SYNC : !strcmp(argv[6], "async") ?
			   PUB_ASYNC : !strcmp(argv[6], "home") ? PUB_HOME :
			   !strcmp(argv[6], "follow") ? PUB_FOLLOW :
			   !strcmp(argv[6], "homefollow") ? PUB_HOME_FOLLOW :
			   !strcmp(argv[6], "notice") ? PUB_NOTICE : -1;
		if (*end || reps < 1 || reps > 5 || mode < 0)
			goto usage;
		rc = cmd_publish(argv[2], n, mlen, block, mode, (int)reps);
		nats_CloseAndWait(5000);
		return rc;
	}
	if (argc != 5)
		goto usage;
	n = strtol(argv[3], &end, 10);
	if (*end || n < 1)
		goto usage;
	mlen = strtoul(argv[4], &end, 10);
	if (*end || mlen < 24 || mlen > (1 << 20))
		goto usage;
	if (!strcmp(argv[1], "catchup"))
		rc = cmd_catchup(argv[2], n, mlen);
	else if (!strcmp(argv[1], "latency"))
		rc = cmd_latency(argv[2], n, mlen);
	else
		goto usage;
	nats_CloseAndWait(5000);   /* the library's threads, before exit */
	return rc;
usage:
	fprintf(stderr, "usage: natspeer catchup|latency URL N MSG_BYTES   (N >= 1, MSG_BYTES 24..1048576)\n"
			"       natspeer publish URL N MSG_BYTES BLOCK sync|async|home|follow|homefollow REPLICAS   "
			"(BLOCK 0 or > MSG_BYTES, REPLICAS 1..5)\n");
	return 2;
}
