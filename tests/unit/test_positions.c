/*
 * test_positions.c - unit tests of position_find (replication/positions.c):
 * a replica's positions found by topic name through the hash index, with
 * thousands of topics, after removals (as stream_delete_topic does them)
 * and after a reset of all positions, always the same answer a search of
 * every position gives.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/stream.h"
#include "replication/positions.h"

#define N 5000

/* The position of TOPIC found by looking at each one: the reference. */
static struct replica_position *search(struct replica *r, const char *topic)
{
	for (size_t i = 0; i < r->npos; i++)
		if (!strcmp(r->pos[i].topic, topic))
			return &r->pos[i];
	return NULL;
}

static void name(char *buf, size_t len, int i)
{
	snprintf(buf, len, "topic-%05d", i);
}

static void test_many_topics(void **state)
{
	(void)state;
	struct replica *r = replica_new();
	assert_non_null(r);
	uuid_t inc;
	uuid_generate(inc);
	char t[64];
	/* N topics added; each keeps the offset written into it. */
	for (int i = 0; i < N; i++) {
		name(t, sizeof(t), i);
		struct replica_position *p = position_find(r, t, inc);
		assert_non_null(p);
		assert_int_equal(p->offset, 0);
		p->offset = (uint64_t)i + 1;
	}
	assert_int_equal(r->npos, N);
	for (int i = 0; i < N; i++) {
		name(t, sizeof(t), i);
		struct replica_position *p = position_find(r, t, inc);
		assert_ptr_equal(p, search(r, t));
		assert_int_equal(p->offset, (uint64_t)i + 1);
	}
	assert_int_equal(r->npos, N);	/* found, not added again */

	/* Removals as stream_delete_topic makes them: the last position
	 * moves into the hole and the index is marked stale. */
	for (int i = 0; i < N; i += 3) {
		name(t, sizeof(t), i);
		struct replica_position *p = search(r, t);
		assert_non_null(p);
		*p = r->pos[--r->npos];
		r->pidx_n = (size_t)-1;
	}
	for (int i = 0; i < N; i++) {
		name(t, sizeof(t), i);
		if (i % 3 == 0) {
			assert_null(search(r, t));
			continue;
		}
		struct replica_position *p = position_find(r, t, inc);
		assert_ptr_equal(p, search(r, t));
		assert_int_equal(p->offset, (uint64_t)i + 1);
	}
	/* A removed topic made again starts at 0. */
	name(t, sizeof(t), 0);
	struct replica_position *p = position_find(r, t, inc);
	assert_non_null(p);
	assert_int_equal(p->offset, 0);

	/* Another incarnation of a topic: its position restarts at 0. */
	uuid_t other;
	uuid_generate(other);
	name(t, sizeof(t), 1);
	p = position_find(r, t, other);
	assert_int_equal(p->offset, 0);
	assert_ptr_equal(p, search(r, t));

	/* All positions reset (a new replica stream): none is found. */
	size_t before = r->npos;
	r->npos = 0;
	r->pidx_n = (size_t)-1;
	name(t, sizeof(t), 2);
	p = position_find(r, t, inc);
	assert_int_equal(r->npos, 1);
	assert_int_equal(p->offset, 0);
	assert_true(before > 1);
	replica_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_topics),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
