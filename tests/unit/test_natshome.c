/*
 * test_natshome.c - unit tests of the NATS home's pure parts (fs/nats/):
 * the encoding of names in NATS bucket and key names (every valid name
 * round-trips, nothing else decodes), the reading of a chunk's
 * headers (docs/nats.md, "Chunks") and of a head's list of parts, the
 * part that holds a byte position and the bound on a chunk in parts
 * (docs/nats.md, "Chunks longer than one NATS message"), on messages made
 * in memory, without a server; the chunk index skipping a chunk that does
 * not follow, and what nats_chunk_settle tells its writer (docs/nats.md,
 * "Appends are linearizable"), also when the topic is removed meanwhile.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/nats/natshome.h"
#include "fs/util/clock.h"

static void test_encode_roundtrip(void **state)
{
	(void)state;
	const char *names[] = { "a", "tokyo", "my.stream", "under_score", "x-y", "A.b_C-9", "t." };
	char enc[1024], dec[256];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(nats_encode(names[i], enc, sizeof(enc)), 0);
		/* only what bucket names allow */
		for (const char *p = enc; *p; p++)
			assert_non_null(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					       "0123456789-_", *p));
		assert_int_equal(nats_decode(enc, dec, sizeof(dec)), 0);
		assert_string_equal(dec, names[i]);
	}
	assert_int_equal(nats_encode("my.stream", enc, sizeof(enc)), 0);
	assert_string_equal(enc, "my_2Estream");
	assert_int_equal(nats_encode("a_b", enc, sizeof(enc)), 0);
	assert_string_equal(enc, "a_5Fb");
	/* a name of 255 dots takes 765 bytes encoded */
	char dots[256];
	memset(dots, '.', 255);
	dots[255] = 0;
	dots[0] = 'a';
	assert_int_equal(nats_encode(dots, enc, 700), -ENAMETOOLONG);
	assert_int_equal(nats_encode(dots, enc, sizeof(enc)), 0);
	assert_int_equal(nats_decode(enc, dec, sizeof(dec)), 0);
	assert_string_equal(dec, dots);
}

static void test_decode_refuses(void **state)
{
	(void)state;
	char dec[256];
	assert_int_equal(nats_decode("_2Ehidden", dec, sizeof(dec)), -EINVAL); /* ".hidden" */
	assert_int_equal(nats_decode("a_2", dec, sizeof(dec)), -EINVAL);
	assert_int_equal(nats_decode("a_zz", dec, sizeof(dec)), -EINVAL);
	assert_int_equal(nats_decode("a_2F", dec, sizeof(dec)), -EINVAL); /* "a/" */
	assert_int_equal(nats_decode("", dec, sizeof(dec)), -EINVAL);
}

/* A message with headers KV (NULL-terminated key, value pairs). */
static natsMsg *msg_with(const char *kv, ...)
{
	natsMsg *m = NULL;
	assert_int_equal(natsMsg_Create(&m, "sfs.x.y", NULL, "a\nb\n", 4), NATS_OK);
	va_list ap;
	va_start(ap, kv);
	for (const char *k = kv; k; k = va_arg(ap, const char *)) {
		const char *v = va_arg(ap, const char *);
		assert_int_equal(natsMsgHeader_Set(m, k, v), NATS_OK);
	}
	va_end(ap);
	return m;
}

static void test_chunk_headers(void **state)
{
	(void)state;
	const char *org = "0b8e8a5c-3f7e-4b5e-9a34-6f1f0d2c1a11 9d2b3c4d-1e2f-4a5b-8c6d-7e8f9a0b1c2d 7";
	natsMsg *m = msg_with("Sfs-Off", "10", "Sfs-Pos", "100", "Sfs-N", "2", "Sfs-Len", "4",
			      "Sfs-Own", "9", "Sfs-Origin", org, "Sfs-Ts", "123", NULL);
	struct nats_chunk c;
	struct nats_origin o;
	assert_int_equal(nats_chunk_headers(m, 42, &c, &o), 0);
	assert_int_equal(c.seq, 42);
	assert_int_equal(c.off, 10);
	assert_int_equal(c.pos, 100);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.len, 4);
	assert_int_equal(c.origin_off, 7);
	assert_int_equal(c.ts, 123);
	char u[37];
	uuid_unparse(o.topic, u);
	assert_string_equal(u, "9d2b3c4d-1e2f-4a5b-8c6d-7e8f9a0b1c2d");
	natsMsg_Destroy(m);
	/* not a chunk: a header missing, not a number, fewer bytes than lines,
	 * no lines, a bad origin */
	natsMsg *bad[] = {
		msg_with("Sfs-Off", "10", "Sfs-Pos", "100", "Sfs-N", "2", "Sfs-Len", "4",
			 "Sfs-Own", "9", "Sfs-Origin", org, NULL),
		msg_with("Sfs-Off", "-1", "Sfs-Pos", "100", "Sfs-N", "2", "Sfs-Len", "4",
			 "Sfs-Own", "9", "Sfs-Origin", org, "Sfs-Ts", "1", NULL),
		msg_with("Sfs-Off", "1", "Sfs-Pos", "100", "Sfs-N", "5", "Sfs-Len", "4",
			 "Sfs-Own", "9", "Sfs-Origin", org, "Sfs-Ts", "1", NULL),
		msg_with("Sfs-Off", "1", "Sfs-Pos", "100", "Sfs-N", "0", "Sfs-Len", "4",
			 "Sfs-Own", "9", "Sfs-Origin", org, "Sfs-Ts", "1", NULL),
		msg_with("Sfs-Off", "1", "Sfs-Pos", "100", "Sfs-N", "2", "Sfs-Len", "4",
			 "Sfs-Own", "9", "Sfs-Origin", "nope 7", "Sfs-Ts", "1", NULL),
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(nats_chunk_headers(bad[i], 1, &c, &o), -EPROTO);
		natsMsg_Destroy(bad[i]);
	}
}

/* A head of a chunk of LEN bytes in parts: Sfs-Parts PARTS. */
static int parse(const char *parts, uint64_t head_seq, uint32_t len, struct nats_parts **out)
{
	natsMsg *m = NULL;
	assert_int_equal(natsMsg_Create(&m, "sfs.x.y", NULL, NULL, 0), NATS_OK);
	if (parts)
		assert_int_equal(natsMsgHeader_Set(m, "Sfs-Parts", parts), NATS_OK);
	int rc = nats_parts_parse(m, head_seq, len, out);
	natsMsg_Destroy(m);
	return rc;
}

/* A part as publish_part stores it: Nats-Msg-Id ID. */
static natsMsg *part_msg(const char *id)
{
	natsMsg *m = NULL;
	assert_int_equal(natsMsg_Create(&m, "sfs.x.y.p", NULL, "abc", 3), NATS_OK);
	if (id)
		assert_int_equal(natsMsgHeader_Set(m, "Nats-Msg-Id", id), NATS_OK);
	return m;
}

static void test_part_is(void **state)
{
	(void)state;
	const char *w = "2f1c9a3e-0000-4000-8000-000000000001-17";
	uint64_t by = nats_parts_by(w, strlen(w));
	assert_true(by & 1);
	char id[96];
	snprintf(id, sizeof(id), "%s.p3", w);
	natsMsg *m = part_msg(id);
	assert_true(nats_part_is(m, by, 3));
	assert_false(nats_part_is(m, by, 2));	/* another index */
	assert_false(nats_part_is(m, nats_parts_by("other-1", 7), 3));	/* another writer */
	natsMsg_Destroy(m);
	const char *bad[] = { NULL, "no-dot", "w.q3", "w.p", "w.p3x", "w.p-1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = part_msg(bad[i]);
		assert_false(nats_part_is(m, nats_parts_by("w", 1), 3));
		natsMsg_Destroy(m);
	}
	/* the head says whose its parts are (Sfs-Parts-By) */
	natsMsg *h = NULL;
	struct nats_parts *p = NULL;
	assert_int_equal(natsMsg_Create(&h, "sfs.x.y", NULL, NULL, 0), NATS_OK);
	assert_int_equal(natsMsgHeader_Set(h, "Sfs-Parts", "100 4-5"), NATS_OK);
	assert_int_equal(natsMsgHeader_Set(h, "Sfs-Parts-By", w), NATS_OK);
	assert_int_equal(nats_parts_parse(h, 10, 150, &p), 0);
	assert_int_equal(p->by, by);
	struct nats_chunk c = { .seq = 10, .pos = 0, .len = 150, .n = 2, .parts = p };
	struct nats_piece pc;
	nats_piece_at(&c, 120, &pc);
	assert_int_equal(pc.index, 1);
	assert_int_equal(pc.by, by);
	free(p);
	natsMsg_Destroy(h);
}

static void test_parts_parse(void **state)
{
	(void)state;
	struct nats_parts *p = NULL;
	assert_int_equal(parse(NULL, 10, 5, &p), 0);
	assert_null(p);
	/* 250 bytes in parts of 100: 3 parts, at 4, 5 (a run) and 8 */
	assert_int_equal(parse("100 4-5 8", 10, 250, &p), 0);
	assert_non_null(p);
	assert_int_equal(p->n, 3);
	assert_int_equal(p->size, 100);
	assert_int_equal(p->seq[0], 4);
	assert_int_equal(p->seq[1], 5);
	assert_int_equal(p->seq[2], 8);
	/* the piece holding a byte position: chunk at position 1000 */
	struct nats_chunk c = { .seq = 10, .pos = 1000, .len = 250, .n = 3, .parts = p };
	struct nats_piece pc;
	nats_piece_at(&c, 1000, &pc);
	assert_true(pc.part);
	assert_int_equal(pc.seq, 4);
	assert_int_equal(pc.pos, 1000);
	assert_int_equal(pc.len, 100);
	nats_piece_at(&c, 1199, &pc);
	assert_int_equal(pc.seq, 5);
	assert_int_equal(pc.pos, 1100);
	nats_piece_at(&c, 1249, &pc);
	assert_int_equal(pc.seq, 8);
	assert_int_equal(pc.pos, 1200);
	assert_int_equal(pc.len, 50);
	struct nats_parts *q = nats_parts_dup(p);
	assert_memory_equal(q, p, sizeof(*p) + 3 * sizeof(p->seq[0]));
	free(q);
	free(p);
	/* one message: the chunk itself */
	struct nats_chunk one = { .seq = 7, .pos = 50, .len = 20, .n = 1 };
	nats_piece_at(&one, 60, &pc);
	assert_false(pc.part);
	assert_int_equal(pc.seq, 7);
	assert_int_equal(pc.pos, 50);
	assert_int_equal(pc.len, 20);
	/* lists no writer makes: too few or too many parts, a part at or
	 * after its head, a part 0, bad syntax, a part size of the whole */
	const char *bad[] = { "100 4-5", "100 4-7", "100 4 5 10", "100 0-2", "100 4-5 x",
			      "100 5-4 8", "100 4-5 8 ", "100  4-5 8", "x 4-5 8", "250 4",
			      "0 4-5 8", "100 4-5-6 8", "100 4--5 8" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = (struct nats_parts *)1;
		assert_int_equal(parse(bad[i], 10, 250, &p), -EPROTO);
		assert_null(p);
	}
	/* more than NATS_PARTS_MAX parts */
	assert_int_equal(parse("1 1-70000", 100000, 70000, &p), -EPROTO);
}

static void test_chunk_max(void **state)
{
	(void)state;
	struct nats_cluster nc;
	memset(&nc, 0, sizeof(nc));
	nc.max_payload = 1048576; /* nats-server's default */
	assert_int_equal(nats_part_max(&nc), 1048576 - 1024);
	/* 65536 parts of 1 MiB less 1 KiB: past UINT32_MAX, so that */
	assert_int_equal(nats_chunk_max(&nc), UINT32_MAX);
	nc.max_payload = 65536;
	/* (65536 - 1024 - 16) / 21 = 3071 parts of 64,512 bytes */
	assert_int_equal(nats_chunk_max(&nc), 3071 * 64512);
	assert_true(nats_chunk_max(&nc) > 64 * 1048576 + 1048576 + 1);
	nc.max_payload = 1500; /* too small for a head that lists parts */
	assert_int_equal(nats_chunk_max(&nc), nats_part_max(&nc));
}

/* Chunk SEQ of N lines and LEN bytes at offset OFF and position POS. */
static struct nats_chunk chunk(uint64_t seq, uint64_t off, uint64_t pos, uint32_t n, uint32_t len)
{
	struct nats_chunk c = { .seq = seq, .off = off, .pos = pos, .n = n, .len = len,
				.origin_off = off };
	return c;
}

/* A stream home ST (in memory, no server) with one topic's index, of
 * a new incarnation *U: a reference the caller gives back with
 * one_topic_free. */
static struct nats_tdata *one_topic(struct nats_stream *st, uuid_t u)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->mu, NULL);
	uuid_generate(u);
	struct nats_tdata *td = nats_stream_tdata(st, u);
	assert_non_null(td);
	return td;
}

static void one_topic_free(struct nats_stream *st, struct nats_tdata *td)
{
	nats_tdata_put(td);
	nats_tdata_put(st->tdata[0]);
	free(st->tdata);
	pthread_mutex_destroy(&st->mu);
}

/* Two chunks with the same expectation both stored (a clustered stream
 * lets that through): the second is skipped by the index, its writer is
 * told to publish again, and the next chunk that follows is indexed. */
static void test_index_skips(void **state)
{
	(void)state;
	struct nats_stream st;
	uuid_t u;
	struct nats_tdata *td = one_topic(&st, u);
	struct nats_origin o;
	memset(&o, 0, sizeof(o));
	uuid_copy(o.topic, u); /* its own lines */
	struct nats_chunk c1 = chunk(1, 0, 0, 2, 4), c2 = chunk(2, 2, 4, 1, 2),
			  stale = chunk(3, 2, 4, 1, 3), c4 = chunk(4, 3, 6, 1, 2);
	nats_tdata_add(td, &c1, &o);
	nats_tdata_add(td, &c2, &o);
	nats_tdata_add(td, &stale, &o);	/* claims what c2 took */
	nats_tdata_add(td, &c4, &o);
	assert_int_equal(td->n, 3);
	assert_int_equal(td->last_seq, 4);	/* the expected last subject sequence */
	assert_int_equal(td->next_off, 4);
	assert_int_equal(td->next_pos, 8);
	assert_int_equal(td->c[2].seq, 4);
	uint64_t deadline = mono_ns() + 10 * 1000000ull;
	assert_int_equal(nats_chunk_settle(td, 2, deadline), 0);
	assert_int_equal(nats_chunk_settle(td, 3, deadline), -EAGAIN);
	assert_int_equal(nats_chunk_settle(td, 4, deadline), 0);
	assert_int_equal(nats_chunk_settle(td, 5, deadline), -ETIMEDOUT);
	one_topic_free(&st, td);
}

/* The topic removed meanwhile. */
static void *purge_later(void *arg)
{
	struct nats_tdata *td = arg;
	struct timespec pause = { 0, 50 * 1000000 };
	nanosleep(&pause, NULL);
	pthread_mutex_lock(&td->mu);
	td->purged = true;
	pthread_cond_broadcast(&td->cv); /* as ns_topic_purge */
	pthread_mutex_unlock(&td->mu);
	return NULL;
}

/* A writer waits for its chunk (stored, not delivered yet) while the
 * topic is removed, here or by another daemon: its append counts (0),
 * never "not seen here" (-ETIMEDOUT, then EIO) at the deadline; the
 * same once removed. */
static void test_settle_removed(void **state)
{
	(void)state;
	struct nats_stream st;
	uuid_t u;
	struct nats_tdata *td = one_topic(&st, u);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, purge_later, td), 0);
	uint64_t deadline = mono_ns() + 5000 * 1000000ull;
	assert_int_equal(nats_chunk_settle(td, 9, deadline), 0);
	assert_true(nats_chunk_mine(td, 9, 12345));
	pthread_join(th, NULL);
	assert_int_equal(nats_chunk_settle(td, 10, mono_ns() + 10 * 1000000ull), 0);
	one_topic_free(&st, td);
}

/* The own origin of a topic's next own chunk across epochs
 * (fs/nats/natsepoch.c): the chunks' own origin goes on; a newer epoch
 * the bucket names starts at offset 0 under its key; an older or equal
 * one changes nothing; a replicated chunk between own ones moves nothing;
 * an own chunk of the new epoch moves the own origin there. */
static void test_epochs(void **state)
{
	(void)state;
	struct nats_stream st;
	uuid_t u, key, e1, e2, other;
	uint64_t off;
	uint32_t gen;
	struct nats_tdata *td = one_topic(&st, u);
	uuid_generate(e1);
	uuid_generate(e2);
	uuid_generate(other);
	struct nats_origin own, rep, own1;
	memset(&own, 0, sizeof(own));
	memset(&rep, 0, sizeof(rep));
	memset(&own1, 0, sizeof(own1));
	uuid_copy(own.topic, u);
	uuid_copy(rep.topic, other);
	uuid_copy(own1.topic, e1);
	/* three own lines, then one replicated */
	struct nats_chunk c1 = chunk(1, 0, 0, 3, 6), r = chunk(2, 3, 6, 1, 2);
	r.origin_off = 40;
	nats_tdata_add(td, &c1, &own);
	nats_tdata_add(td, &r, &rep);
	pthread_mutex_lock(&td->mu);
	nats_epoch_own(td, key, &off, &gen);
	pthread_mutex_unlock(&td->mu);
	assert_int_equal(uuid_compare(key, u), 0);
	assert_int_equal(off, 3);
	assert_int_equal(gen, 0);
	/* the bucket names epoch 1 (key e1): the next own chunk starts it */
	char ks[37];
	uuid_unparse(e1, ks);
	json_t *m1 = json_pack("{s:i, s:s}", "epoch", 1, "epoch_key", ks);
	nats_epoch_load(td, m1);
	pthread_mutex_lock(&td->mu);
	nats_epoch_own(td, key, &off, &gen);
	pthread_mutex_unlock(&td->mu);
	assert_int_equal(uuid_compare(key, e1), 0);
	assert_int_equal(off, 0);
	assert_int_equal(gen, 1);
	/* that chunk indexed (two lines), a replicated one after it */
	struct nats_chunk c3 = chunk(3, 4, 8, 2, 4), r2 = chunk(4, 6, 12, 1, 2);
	c3.origin_off = 0;
	c3.own_gen = 1;
	r2.origin_off = 41;
	nats_tdata_add(td, &c3, &own1);
	nats_tdata_add(td, &r2, &rep);
	/* an older epoch (0) or the same one named again changes nothing */
	json_t *m0 = json_pack("{s:i, s:s}", "epoch", 0, "epoch_key", ks);
	nats_epoch_load(td, m0);
	nats_epoch_load(td, m1);
	pthread_mutex_lock(&td->mu);
	nats_epoch_own(td, key, &off, &gen);
	pthread_mutex_unlock(&td->mu);
	assert_int_equal(uuid_compare(key, e1), 0);
	assert_int_equal(off, 2);
	assert_int_equal(gen, 1);
	assert_int_equal(td->next_off, 7);
	/* what the topic's metadata says of it, read into another index */
	json_t *meta = json_object();
	assert_int_equal(nats_epoch_meta(td, meta), 0);
	assert_int_equal(json_integer_value(json_object_get(meta, "epoch")), 1);
	assert_string_equal(json_string_value(json_object_get(meta, "epoch_key")), ks);
	/* epoch 2 (key e2) after it: offset 0 again, under e2 */
	uuid_unparse(e2, ks);
	json_t *m2 = json_pack("{s:i, s:s}", "epoch", 2, "epoch_key", ks);
	nats_epoch_load(td, m2);
	pthread_mutex_lock(&td->mu);
	nats_epoch_own(td, key, &off, &gen);
	pthread_mutex_unlock(&td->mu);
	assert_int_equal(uuid_compare(key, e2), 0);
	assert_int_equal(off, 0);
	assert_int_equal(gen, 2);
	/* unreadable epochs are ignored */
	json_t *bad = json_pack("{s:i, s:s}", "epoch", 9, "epoch_key", "nope");
	nats_epoch_load(td, bad);
	assert_int_equal(td->epoch_gen, 2);
	json_decref(m0);
	json_decref(m1);
	json_decref(m2);
	json_decref(bad);
	json_decref(meta);
	one_topic_free(&st, td);
}

/* Sfs-Own-Gen: a positive number when there; else not a chunk. */
static void test_chunk_own_gen(void **state)
{
	(void)state;
	const char *org = "0b8e8a5c-3f7e-4b5e-9a34-6f1f0d2c1a11 9d2b3c4d-1e2f-4a5b-8c6d-7e8f9a0b1c2d 0";
	struct nats_chunk c;
	struct nats_origin o;
	const char *gens[] = { "3", "0", "x", "-1", "4294967296" };
	int want[] = { 0, -EPROTO, -EPROTO, -EPROTO, -EPROTO };
	for (size_t i = 0; i < sizeof(gens) / sizeof(gens[0]); i++) {
		natsMsg *m = msg_with("Sfs-Off", "1", "Sfs-Pos", "2", "Sfs-N", "1", "Sfs-Len", "2",
				      "Sfs-Own", "1", "Sfs-Origin", org, "Sfs-Ts", "5",
				      "Sfs-Own-Gen", gens[i], NULL);
		assert_int_equal(nats_chunk_headers(m, 7, &c, &o), want[i]);
		if (want[i] == 0)
			assert_int_equal(c.own_gen, 3);
		natsMsg_Destroy(m);
	}
	natsMsg *m = msg_with("Sfs-Off", "1", "Sfs-Pos", "2", "Sfs-N", "1", "Sfs-Len", "2",
			      "Sfs-Own", "1", "Sfs-Origin", org, "Sfs-Ts", "5", NULL);
	assert_int_equal(nats_chunk_headers(m, 7, &c, &o), 0);
	assert_int_equal(c.own_gen, 0);
	natsMsg_Destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_roundtrip),
		cmocka_unit_test(test_decode_refuses),
		cmocka_unit_test(test_chunk_headers),
		cmocka_unit_test(test_parts_parse),
		cmocka_unit_test(test_part_is),
		cmocka_unit_test(test_chunk_max),
		cmocka_unit_test(test_index_skips),
		cmocka_unit_test(test_settle_removed),
		cmocka_unit_test(test_epochs),
		cmocka_unit_test(test_chunk_own_gen),
	};
	if (nats_Open(-1) != NATS_OK)
		return 1;
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	nats_CloseAndWait(5000);
	return rc;
}
