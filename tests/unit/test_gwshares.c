/*
 * test_gwshares.c - unit tests of replication/gwshares.c: the gateway's
 * shares per peer (connections: 8 for an upstream, 1 for a stranger;
 * frame-buffer bytes: a peer's share and the budget of all, sized from
 * max_message), a frame's deadline, and the set of upstream clusters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>

#include "replication/frame.h"
#include "replication/gwshares.h"

#define MIB (1ull << 20)

static void test_sizes(void **state)
{
	(void)state;
	struct gw_shares s;
	/* the default max_message: a quarter of 256 MiB */
	gws_init(&s, 1 * MIB);
	assert_int_equal(s.share, 64 * MIB);
	assert_int_equal(s.budget, 256 * MIB);
	/* 64 MiB messages: a batch around one, and its decompressed copy */
	gws_init(&s, 64 * MIB);
	assert_int_equal(s.share, 2 * (64 * MIB + GWS_BATCH_OVER));
	assert_int_equal(s.budget, GWS_SHARE_PART * s.share);
	/* never more than two of the largest frame a peer can send */
	gws_init(&s, 1ull << 40);
	assert_int_equal(s.share, 2ull * GW_FRAME_MAX_BODY);
	/* every frame type but a batch fits in a stranger's bound */
	for (uint8_t t = GW_HELLO; t <= GW_RESULT; t++)
		if (t != GW_APPEND)
			assert_true(gw_body_max(t) <= GWS_STRANGER_BODY);
	assert_true(gw_body_max(GW_APPEND) > GWS_STRANGER_BODY);
	gws_free(&s);
}

static void test_connections(void **state)
{
	(void)state;
	struct gw_shares s;
	gws_init(&s, 1 * MIB);
	int up[GWS_UPSTREAM_CONNS];
	for (int i = 0; i < GWS_UPSTREAM_CONNS; i++) {
		up[i] = gws_join(&s, "sanfrancisco", GWS_UPSTREAM_CONNS);
		assert_true(up[i] >= 0);
		assert_int_equal(up[i], up[0]);	/* one peer, one entry */
	}
	assert_int_equal(gws_join(&s, "sanfrancisco", GWS_UPSTREAM_CONNS), -EUSERS);
	assert_int_equal(gws_conns(&s, "sanfrancisco"), GWS_UPSTREAM_CONNS);
	/* a stranger: one; another peer is not held back by either */
	int st = gws_join(&s, "tokyo", GWS_STRANGER_CONNS);
	assert_true(st >= 0 && st != up[0]);
	assert_int_equal(gws_join(&s, "tokyo", GWS_STRANGER_CONNS), -EUSERS);
	assert_true(gws_join(&s, "paris tokyo", GWS_STRANGER_CONNS) >= 0);
	/* a peer that is no upstream any more gets no more than a stranger */
	gws_leave(&s, up[0]);
	assert_int_equal(gws_join(&s, "sanfrancisco", GWS_STRANGER_CONNS), -EUSERS);
	assert_int_equal(gws_join(&s, "sanfrancisco", GWS_UPSTREAM_CONNS), up[0]);
	/* the last connection gone, the entry goes */
	gws_leave(&s, st);
	assert_int_equal(gws_conns(&s, "tokyo"), 0);
	assert_true(gws_join(&s, "tokyo", GWS_STRANGER_CONNS) >= 0);
	/* out-of-range leaves change nothing */
	gws_leave(&s, -1);
	gws_leave(&s, GWS_MAX_PEERS);
	assert_int_equal(gws_conns(&s, "sanfrancisco"), GWS_UPSTREAM_CONNS);
	gws_free(&s);
	assert_int_equal(gws_conns(&s, "sanfrancisco"), 0);
}

static void test_peer_table_full(void **state)
{
	(void)state;
	struct gw_shares s;
	gws_init(&s, 1 * MIB);
	char name[32];
	for (int i = 0; i < GWS_MAX_PEERS; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		assert_true(gws_join(&s, name, GWS_STRANGER_CONNS) >= 0);
	}
	assert_int_equal(gws_join(&s, "one-more", GWS_UPSTREAM_CONNS), -EMFILE);
	/* a known peer still counts against its own share */
	assert_int_equal(gws_join(&s, "c0", GWS_STRANGER_CONNS), -EUSERS);
	gws_free(&s);
}

static void test_bytes(void **state)
{
	(void)state;
	struct gw_shares s;
	gws_init(&s, 1 * MIB);
	int a = gws_join(&s, "a", GWS_UPSTREAM_CONNS), b = gws_join(&s, "b", GWS_UPSTREAM_CONNS);
	int c = gws_join(&s, "c", GWS_UPSTREAM_CONNS), d = gws_join(&s, "d", GWS_UPSTREAM_CONNS);
	int e = gws_join(&s, "e", GWS_UPSTREAM_CONNS);
	/* one peer: its share, then no more, and a refusal counts nothing */
	assert_int_equal(gws_reserve(&s, a, 60 * MIB), 0);
	assert_int_equal(gws_reserve(&s, a, 4 * MIB), 0);
	assert_int_equal(gws_reserve(&s, a, 1), -EDQUOT);
	assert_int_equal(s.peers[a].bytes, 64 * MIB);
	/* others fill the rest of the budget */
	assert_int_equal(gws_reserve(&s, b, 64 * MIB), 0);
	assert_int_equal(gws_reserve(&s, c, 64 * MIB), 0);
	assert_int_equal(gws_reserve(&s, d, 63 * MIB), 0);
	assert_int_equal(gws_reserve(&s, e, 2 * MIB), -ENOBUFS);
	assert_int_equal(gws_reserve(&s, e, 1 * MIB), 0);
	assert_int_equal(s.bytes, s.budget);
	/* released, there is room again */
	gws_release(&s, a, 10 * MIB);
	assert_int_equal(gws_reserve(&s, e, 10 * MIB), 0);
	/* releasing more than held brings it to zero, no lower */
	gws_release(&s, b, 100 * MIB);
	assert_int_equal(s.peers[b].bytes, 0);
	assert_int_equal(s.bytes, 54 * MIB + 64 * MIB + 63 * MIB + 11 * MIB);
	/* a peer that left with bytes held keeps its entry until released */
	gws_leave(&s, d);
	assert_int_equal(gws_conns(&s, "d"), 0);
	assert_int_equal(gws_reserve(&s, d, 0), 0);
	gws_release(&s, d, 63 * MIB);
	assert_int_equal(gws_reserve(&s, d, 1), -EINVAL);
	/* no such peer */
	assert_int_equal(gws_reserve(&s, -1, 1), -EINVAL);
	gws_free(&s);
}

static void test_deadline(void **state)
{
	(void)state;
	const uint64_t s = 1000000000ull;
	/* timeout_ms, then the body at 1 MiB/s */
	assert_int_equal(gws_frame_deadline_ns(7, 0, 5000), 7 + 5 * s);
	assert_int_equal(gws_frame_deadline_ns(0, 80 * MIB, 5000), 85 * s);
	assert_int_equal(gws_frame_deadline_ns(0, MIB / 2, 1000), 1 * s + s / 2);
	assert_int_equal(gws_frame_deadline_ns(0, 12, 0), 12 * s / MIB);
	/* grows with the size, never wraps */
	assert_true(gws_frame_deadline_ns(0, 2 * MIB, 100) > gws_frame_deadline_ns(0, MIB, 100));
	assert_int_equal(gws_frame_deadline_ns(UINT64_MAX - 10, MIB, 1000), UINT64_MAX - 1);
	assert_int_equal(gws_frame_deadline_ns(0, UINT64_MAX, 1000), UINT64_MAX - 1);
	assert_int_equal(gws_frame_deadline_ns(0, 0, -1), 0);
}

static void test_names(void **state)
{
	(void)state;
	struct gws_names set;
	const char *v[] = { "tokyo", "london", "tokyo", "paris", "london" };
	assert_int_equal(gws_names_build(&set, v, 5), 0);
	assert_int_equal(set.n, 3);
	assert_string_equal(set.v[0], "london");
	assert_string_equal(set.v[1], "paris");
	assert_string_equal(set.v[2], "tokyo");
	assert_true(gws_names_any(&set, "tokyo"));
	assert_true(gws_names_any(&set, "newyork paris"));
	assert_true(gws_names_any(&set, "a  b london"));
	assert_false(gws_names_any(&set, "newyork"));
	assert_false(gws_names_any(&set, "tokyo2 toky"));
	assert_false(gws_names_any(&set, ""));
	gws_names_free(&set);
	assert_int_equal(set.n, 0);
	/* an empty set has no one */
	assert_int_equal(gws_names_build(&set, NULL, 0), 0);
	assert_false(gws_names_any(&set, "tokyo"));
	gws_names_free(&set);
}

/* A peer granted access (the global namespace) has its users' file
 * operations' connections besides an upstream's. */
static void test_access_share(void **state)
{
	(void)state;
	struct gw_shares s;
	gws_init(&s, 1 << 20);
	for (int i = 0; i < GWS_ACCESS_CONNS; i++)
		assert_true(gws_join(&s, "london", GWS_ACCESS_CONNS) >= 0);
	assert_int_equal(gws_join(&s, "london", GWS_ACCESS_CONNS), -EUSERS);
	assert_int_equal(gws_conns(&s, "london"), GWS_ACCESS_CONNS);
	assert_true(GWS_ACCESS_CONNS > GWS_UPSTREAM_CONNS);
	gws_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_connections),
		cmocka_unit_test(test_access_share),
		cmocka_unit_test(test_peer_table_full),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
