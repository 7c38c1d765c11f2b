/*
 * test_natshome.c - unit tests of the NATS home's pure parts (fs/nats/):
 * the encoding of names in NATS bucket and key names (every valid name
 * round-trips, nothing else decodes), the reading of a chunk's
 * headers (docs/nats.md, "Chunks") and of a head's list of parts, the
 * part that holds a byte position and the bound on a chunk in parts
 * (docs/nats.md, "Chunks longer than one NATS message"), on messages made
 * in memory, without a server.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_roundtrip),
		cmocka_unit_test(test_decode_refuses),
		cmocka_unit_test(test_chunk_headers),
		cmocka_unit_test(test_parts_parse),
		cmocka_unit_test(test_chunk_max),
	};
	if (nats_Open(-1) != NATS_OK)
		return 1;
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	nats_CloseAndWait(5000);
	return rc;
}
