/*
 * test_natskvwatch.c - unit tests of the bucket's watcher (fs/nats/
 * natskvwatch.c, docs/nats.md "What each daemon caches") against a real
 * nats-server (Debian's, JetStream, on a free 127.0.0.1 port, its store in
 * a scratch directory, stopped by its PID): each key's last value in
 * revision order, then the marker, then changes (put, delete, purge); the
 * marker at once on keys that hold nothing; a wait that ends in
 * -ETIMEDOUT within its bound; messages libnats drops past small pending
 * limits delivered anyway, in order, once each (the consumer made anew),
 * after the marker and before it;
 * a close while the server is gone returning within its bound.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs/nats/natshome.h"
#include "fs/nats/natskvwatch.h"
#include "fs/util/clock.h"
#include "scratch.h"

static char dir[256];
static pid_t server = -1;
static struct nats_cluster nc;
static kvStore *kv;
static char url[64];

static uint64_t ms_since(uint64_t t0)
{
	return (mono_ns() - t0) / 1000000;
}

/* A free TCP port of 127.0.0.1 (closed again: the server takes it). */
static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return ntohs(a.sin_port);
}

/* nats-server with JetStream on 127.0.0.1, a connection to it (tried for
 * 10 s at most) and bucket "W" (history 1, as the daemon's). */
static int setup(void **state)
{
	(void)state;
	if (scratch_make("natskvwatch", dir, sizeof(dir), NULL) < 0)
		return -1;
	int port = free_port();
	if (port < 0)
		return -1;
	char ps[16], sd[300], log[300];
	snprintf(ps, sizeof(ps), "%d", port);
	snprintf(sd, sizeof(sd), "%s/js", dir);
	snprintf(log, sizeof(log), "%s/nats.log", dir);
	server = fork();
	if (server == 0) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		execlp("nats-server", "nats-server", "-a", "127.0.0.1", "-p", ps, "-js", "-sd", sd,
		       "-l", log, (char *)NULL);
		_exit(127);
	}
	if (server < 0)
		return -1;
	snprintf(url, sizeof(url), "nats://127.0.0.1:%d", port);
	natsOptions *o = NULL;
	natsOptions_Create(&o);
	natsOptions_SetURL(o, url);
	natsOptions_SetMaxReconnect(o, -1);
	natsOptions_SetReconnectWait(o, 100);
	memset(&nc, 0, sizeof(nc));
	snprintf(nc.bucket, sizeof(nc.bucket), "W");
	nc.timeout_ms = 5000;
	uint64_t t0 = mono_ns();
	natsStatus s;
	while ((s = natsConnection_Connect(&nc.conn, o)) != NATS_OK && ms_since(t0) < 10000) {
		struct timespec pause = { 0, 50 * 1000000 };
		nanosleep(&pause, NULL); /* the server starting */
	}
	natsOptions_Destroy(o);
	if (s != NATS_OK)
		return -1;
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = 5000;
	kvConfig kc;
	kvConfig_Init(&kc);
	kc.Bucket = "W";
	kc.History = 1;
	if (natsConnection_JetStream(&nc.js, nc.conn, &jo) != NATS_OK)
		return -1;
	/* JetStream may not be ready in the server's first milliseconds */
	t0 = mono_ns();
	while ((s = js_CreateKeyValue(&kv, nc.js, &kc)) != NATS_OK && ms_since(t0) < 10000) {
		struct timespec pause = { 0, 50 * 1000000 };
		nanosleep(&pause, NULL);
	}
	return s == NATS_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	kvStore_Destroy(kv);
	jsCtx_Destroy(nc.js);
	natsConnection_Destroy(nc.conn);
	/* the reader joined: what the closes kept goes (else a leak) */
	assert_int_equal(nats_parked_release(&nc, true), 0);
	assert_null(nc.parked);
	if (server > 0) {
		kill(server, SIGKILL);
		waitpid(server, NULL, 0);
	}
	return scratch_remove(dir, NULL);
}

/* The next entry of W within 5 s: KEY, VAL (NULL: no value), OP; its
 * revision, above *REV, goes into *REV. */
static void expect(struct nats_kvwatch *w, const char *key, const char *val, enum nats_kvop op,
		   uint64_t *rev)
{
	struct nats_kventry *e = NULL;
	assert_int_equal(nats_kvwatch_next(w, &e, 5000), 0);
	assert_non_null(e);
	assert_string_equal(e->key, key);
	assert_int_equal(e->op, op);
	if (val) {
		assert_int_equal(e->len, (int)strlen(val));
		assert_memory_equal(e->val, val, strlen(val));
	} else {
		assert_int_equal(e->len, 0);
	}
	assert_true(e->rev > *rev);
	*rev = e->rev;
	nats_kventry_free(e);
}

/* The marker next, within 5 s. */
static void expect_marker(struct nats_kvwatch *w)
{
	struct nats_kventry *e = (struct nats_kventry *)1;
	assert_int_equal(nats_kvwatch_next(w, &e, 5000), 0);
	assert_null(e);
}

/* Each key's last value in revision order, the marker, then a delete, a
 * purge and a put as they happen; nothing else. */
static void test_initial_then_changes(void **state)
{
	(void)state;
	assert_int_equal(kvStore_PutString(NULL, kv, "a.1", "one"), NATS_OK);
	assert_int_equal(kvStore_PutString(NULL, kv, "a.2", "two"), NATS_OK);
	assert_int_equal(kvStore_PutString(NULL, kv, "a.3", "three"), NATS_OK);
	assert_int_equal(kvStore_PutString(NULL, kv, "a.2", "TWO"), NATS_OK); /* a.2 last */
	assert_int_equal(kvStore_PutString(NULL, kv, "b.1", "other"), NATS_OK); /* not a.> */
	struct nats_kvwatch *w = NULL;
	assert_int_equal(nats_kvwatch_open(&w, &nc, "a.>", NULL), 0);
	uint64_t rev = 0;
	expect(w, "a.1", "one", NATS_KV_PUT, &rev);
	expect(w, "a.3", "three", NATS_KV_PUT, &rev);
	expect(w, "a.2", "TWO", NATS_KV_PUT, &rev);
	assert_int_equal(rev, 4); /* revisions are the stream's sequences */
	expect_marker(w);
	assert_int_equal(kvStore_Delete(kv, "a.1"), NATS_OK);
	expect(w, "a.1", NULL, NATS_KV_DELETE, &rev);
	assert_int_equal(rev, 6);
	assert_int_equal(kvStore_Purge(kv, "a.3", NULL), NATS_OK);
	expect(w, "a.3", NULL, NATS_KV_PURGE, &rev);
	assert_int_equal(kvStore_PutString(NULL, kv, "a.4", "four"), NATS_OK);
	expect(w, "a.4", "four", NATS_KV_PUT, &rev);
	struct nats_kventry *e = NULL;
	assert_int_equal(nats_kvwatch_next(w, &e, 100), -ETIMEDOUT);
	assert_null(e);
	assert_int_equal(nats_kvwatch_remakes(w), 0);
	uint64_t seq = nc.park_seq;
	nats_kvwatch_close(w);
	/* its subscription kept over the close, then let go once a round
	 * trip to the server came back (nats_parked_release) */
	assert_int_equal(nc.park_seq, seq + 1);
	assert_null(nc.parked);
	/* A new watcher: the delete marker of a.1 and the purge of a.3 are
	 * their keys' last values. */
	assert_int_equal(nats_kvwatch_open(&w, &nc, "a.>", NULL), 0);
	rev = 0;
	expect(w, "a.2", "TWO", NATS_KV_PUT, &rev);
	expect(w, "a.1", NULL, NATS_KV_DELETE, &rev);
	expect(w, "a.3", NULL, NATS_KV_PURGE, &rev);
	expect(w, "a.4", "four", NATS_KV_PUT, &rev);
	expect_marker(w);
	nats_kvwatch_close(w);
}

/* An empty bucket ("E"), then keys of "W" that hold nothing: the marker
 * at once; a wait of 300 ms ends in -ETIMEDOUT after 300 ms and well
 * within 2 s; a put after the marker comes as a change. Bad input is
 * refused. */
static void test_empty_and_timeout(void **state)
{
	(void)state;
	static struct nats_cluster ec; /* bucket "E" on the same connection */
	kvStore *ekv = NULL;
	kvConfig kc;
	kvConfig_Init(&kc);
	kc.Bucket = "E";
	kc.History = 1;
	assert_int_equal(js_CreateKeyValue(&ekv, nc.js, &kc), NATS_OK);
	memset(&ec, 0, sizeof(ec));
	ec.conn = nc.conn;
	ec.js = nc.js;
	snprintf(ec.bucket, sizeof(ec.bucket), "E");
	struct nats_kvwatch *w = NULL;
	assert_int_equal(nats_kvwatch_open(&w, &ec, ">", NULL), 0);
	struct nats_kventry *e = (struct nats_kventry *)1;
	uint64_t t0 = mono_ns();
	assert_int_equal(nats_kvwatch_next(w, &e, 1), 0);
	assert_null(e);
	assert_true(ms_since(t0) < 100);
	assert_int_equal(kvStore_PutString(NULL, ekv, "k", "first"), NATS_OK);
	uint64_t rev = 0;
	expect(w, "k", "first", NATS_KV_PUT, &rev);
	assert_int_equal(rev, 1);
	nats_kvwatch_close(w);
	kvStore_Destroy(ekv);
	assert_int_equal(nats_kvwatch_open(&w, &nc, "none.>", NULL), 0);
	e = (struct nats_kventry *)1;
	t0 = mono_ns();
	assert_int_equal(nats_kvwatch_next(w, &e, 1), 0);	/* no wait needed */
	assert_null(e);
	assert_true(ms_since(t0) < 100);
	t0 = mono_ns();
	assert_int_equal(nats_kvwatch_next(w, &e, 300), -ETIMEDOUT);
	uint64_t ms = ms_since(t0);
	/* it waited (libnats' timed wait may end a few ms early: whole ms,
	 * its own clock), not returned at once */
	assert_true(ms >= 250);
	assert_true(ms < 2000);
	assert_int_equal(nats_kvwatch_next(w, &e, 0), -EINVAL);
	assert_int_equal(kvStore_PutString(NULL, kv, "none.x", "late"), NATS_OK);
	rev = 0;
	expect(w, "none.x", "late", NATS_KV_PUT, &rev);
	nats_kvwatch_close(w);
	assert_int_equal(nats_kvwatch_open(&w, &nc, "", NULL), -EINVAL);
	assert_null(w);
	assert_int_equal(nats_kvwatch_open(&w, &nc, "a b", NULL), -EINVAL);
}

/* A watcher whose subscription holds 4 messages (its limits apply once
 * its consumer is made: before, libnats' defaults), then 40 puts while it
 * is not read: libnats keeps 4 and drops 36. Every key still comes once,
 * in revision order, then a later put; the consumer was made anew. */
static void test_drops_remade(void **state)
{
	(void)state;
	struct nats_kvw_opts o = { .max_msgs = 4 };
	struct nats_kvwatch *w = NULL;
	assert_int_equal(nats_kvwatch_open(&w, &nc, "d.>", &o), 0);
	expect_marker(w); /* d.> held nothing */
	char key[16], val[16];
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "d.%02d", i);
		snprintf(val, sizeof(val), "v%d", i);
		assert_int_equal(kvStore_PutString(NULL, kv, key, val), NATS_OK);
	}
	/* all 40 pushed to it: waited for, 5 s at most */
	uint64_t t0 = mono_ns();
	while (nats_kvwatch_dropped(w) < 36 && ms_since(t0) < 5000) {
		struct timespec pause = { 0, 10 * 1000000 };
		nanosleep(&pause, NULL);
	}
	assert_int_equal(nats_kvwatch_dropped(w), 36);
	assert_int_equal(nats_kvwatch_remakes(w), 0);
	uint64_t rev = 0;
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "d.%02d", i);
		snprintf(val, sizeof(val), "v%d", i);
		expect(w, key, val, NATS_KV_PUT, &rev);
	}
	assert_true(nats_kvwatch_remakes(w) >= 1); /* more if its new burst met the limits too */
	assert_int_equal(kvStore_PutString(NULL, kv, "d.40", "v40"), NATS_OK);
	expect(w, "d.40", "v40", NATS_KV_PUT, &rev);
	struct nats_kventry *e = NULL;
	assert_int_equal(nats_kvwatch_next(w, &e, 100), -ETIMEDOUT);
	nats_kvwatch_close(w);
	/* A new watcher: the 41 keys' values, the marker right after them. */
	assert_int_equal(nats_kvwatch_open(&w, &nc, "d.>", NULL), 0);
	rev = 0;
	for (int i = 0; i <= 40; i++) {
		snprintf(key, sizeof(key), "d.%02d", i);
		snprintf(val, sizeof(val), "v%d", i);
		expect(w, key, val, NATS_KV_PUT, &rev);
	}
	expect_marker(w);
	nats_kvwatch_close(w);
}

/* The same while the initial values are delivered: a connection whose
 * subscriptions hold 4 messages from the start (libnats' default for
 * them), a watcher on the 41 keys d.*: each burst past 4 is dropped and
 * asked again from where it was, so every key still comes once, in
 * order, and the marker right after the 41st. */
static void test_drops_in_replay(void **state)
{
	(void)state;
	static struct nats_cluster c4;
	memset(&c4, 0, sizeof(c4));
	snprintf(c4.bucket, sizeof(c4.bucket), "W");
	natsOptions *o = NULL;
	assert_int_equal(natsOptions_Create(&o), NATS_OK);
	natsOptions_SetURL(o, url);
	assert_int_equal(natsOptions_SetMaxPendingMsgs(o, 4), NATS_OK);
	assert_int_equal(natsConnection_Connect(&c4.conn, o), NATS_OK);
	natsOptions_Destroy(o);
	assert_int_equal(natsConnection_JetStream(&c4.js, c4.conn, NULL), NATS_OK);
	struct nats_kvw_opts wo = { .max_msgs = 4 };
	struct nats_kvwatch *w = NULL;
	assert_int_equal(nats_kvwatch_open(&w, &c4, "d.>", &wo), 0);
	uint64_t t0 = mono_ns(); /* the first burst in: 4 kept, 37 dropped */
	while (nats_kvwatch_dropped(w) < 37 && ms_since(t0) < 5000) {
		struct timespec pause = { 0, 10 * 1000000 };
		nanosleep(&pause, NULL);
	}
	assert_int_equal(nats_kvwatch_dropped(w), 37);
	char key[16], val[16];
	uint64_t rev = 0;
	for (int i = 0; i <= 40; i++) {
		snprintf(key, sizeof(key), "d.%02d", i);
		snprintf(val, sizeof(val), "v%d", i);
		expect(w, key, val, NATS_KV_PUT, &rev);
	}
	expect_marker(w);
	assert_true(nats_kvwatch_remakes(w) >= 1);
	nats_kvwatch_close(w);
	jsCtx_Destroy(c4.js);
	natsConnection_Destroy(c4.conn);
	nats_parked_release(&c4, true);
}

/* The server gone (killed): a wait ends in -ETIMEDOUT within its bound,
 * and the close returns at once (not connected: nothing asked), well
 * within two removals' bound (2 x NATS_CONSUMER_RM_WAIT_MS). Last: the
 * server is not started again. */
static void test_close_server_gone(void **state)
{
	(void)state;
	struct nats_kvwatch *w = NULL;
	assert_int_equal(nats_kvwatch_open(&w, &nc, "a.>", NULL), 0);
	uint64_t rev = 0;
	expect(w, "a.2", "TWO", NATS_KV_PUT, &rev);
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	server = -1;
	struct nats_kventry *e = NULL;
	uint64_t t0 = mono_ns();
	int r = nats_kvwatch_next(w, &e, 300);
	/* what it had queued, or nothing */
	if (r == 0)
		nats_kventry_free(e);
	assert_true(r == 0 || r == -ETIMEDOUT);
	assert_true(ms_since(t0) < 2000);
	uint64_t seq = nc.park_seq;
	t0 = mono_ns();
	nats_kvwatch_close(w);
	assert_true(ms_since(t0) < 2 * NATS_CONSUMER_RM_WAIT_MS + 200);
	/* no round trip came back: the subscription is kept (released by
	 * teardown, once the connection is closed) */
	assert_int_equal(nc.park_seq, seq + 1);
	assert_non_null(nc.parked);
	assert_int_equal(nats_parked_release(&nc, false), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial_then_changes),
		cmocka_unit_test(test_empty_and_timeout),
		cmocka_unit_test(test_drops_remade),
		cmocka_unit_test(test_drops_in_replay),
		cmocka_unit_test(test_close_server_gone),
	};
	if (nats_Open(-1) != NATS_OK)
		return 1;
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	nats_CloseAndWait(5000);
	return rc;
}
