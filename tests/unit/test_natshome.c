/*
 * test_natshome.c - unit tests of the NATS home's pure parts (fs/nats/):
 * the encoding of names in NATS bucket and key names (every valid name
 * round-trips, nothing else decodes), and the reading of a chunk's
 * headers (docs/nats.md, "Chunks"), on messages made in memory, without a
 * server.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_roundtrip),
		cmocka_unit_test(test_decode_refuses),
		cmocka_unit_test(test_chunk_headers),
	};
	if (nats_Open(-1) != NATS_OK)
		return 1;
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	nats_CloseAndWait(5000);
	return rc;
}
