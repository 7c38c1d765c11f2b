/*
 * test_positions.c - unit tests of position_find (replication/positions.c):
 * a replica's positions found by topic name through the hash index, with
 * thousands of topics, after removals (as stream_delete_topic does them)
 * and after a reset of all positions, always the same answer a search of
 * every position gives; and the guard of a restart after the replica
 * answered that its topic lacks an origin's start (position_restart): once
 * per position, never a loop.
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

/*
 * A sender and a replica, as the replication lane drives them: the source
 * topic holds NMSG messages; those from offset LACK_FROM on are of an
 * origin whose start the source itself lacks when LACK_FROM < NMSG (it
 * holds that origin from its offset 7 on). The replica's topic was removed
 * and made again: it knows no origin, so a batch that brings the origin
 * past its start is refused (-ENODATA), as topic_check_batch does; a batch
 * starting at 0 brings the other origin from its start.
 */
struct sim {
	uint64_t nmsg, lack_from, batch;
	bool knows_local;	/* the replica has the local origin's start */
	int restarts, refusals, batches;
};

/* The replica's answer to the batch [POS, POS + n). */
static int sim_apply(struct sim *m, uint64_t pos, uint64_t n)
{
	if (!m->knows_local && pos > 0)
		return -ENODATA;	/* the local origin, not from its 0 */
	m->knows_local = true;
	if (pos + n > m->lack_from)
		return -ENODATA;	/* the other origin, from its 7 */
	return 0;
}

/* One round of the lane over P: batches until the end, or a refusal that
 * is not moved back (shown as the replica's error). Returns the error. */
static int sim_round(struct sim *m, struct replica_position *p)
{
	while (p->offset < m->nmsg) {
		uint64_t pos = p->offset;
		uint64_t n = m->nmsg - pos < m->batch ? m->nmsg - pos : m->batch;
		m->batches++;
		assert_true(m->batches < 1000);	/* no loop */
		int rc = sim_apply(m, pos, n);
		if (rc == -ENODATA && position_restart(p, pos)) {
			m->restarts++;
			continue;
		}
		if (rc < 0) {
			m->refusals++;
			return rc;
		}
		position_acked(p, pos + n, n * 4);
	}
	return 0;
}

static void test_restart_guard(void **state)
{
	(void)state;
	struct replica *r = replica_new();
	assert_non_null(r);
	uuid_t inc;
	uuid_generate(inc);
	struct replica_position *p = position_find(r, "t", inc);
	assert_non_null(p);

	/* The replica's topic made again, the source whole: one restart, then
	 * everything; the restart point is forgotten once past it. */
	struct sim m = { .nmsg = 300, .lack_from = 300, .batch = 25 };
	p->offset = 100;
	p->vpos = 400;
	p->oldest_at = 100;
	p->oldest_ns = 5;
	assert_int_equal(sim_round(&m, p), 0);
	assert_int_equal(m.restarts, 1);
	assert_int_equal(p->offset, 300);
	assert_int_equal(p->vpos, 1200);
	assert_int_equal(p->restart_at, 0);

	/* The source lacks an origin's start itself (from offset 150): one
	 * restart for the replica's topic made again (at 100); once past 100
	 * the refusal at 150 is past the restart point, so it moves back once
	 * more; then the refusal at 150 shows, and every later round (the
	 * lane retries) stops there again without moving back. */
	p->offset = 100;
	p->vpos = 400;
	m = (struct sim){ .nmsg = 300, .lack_from = 150, .batch = 25 };
	assert_int_equal(sim_round(&m, p), -ENODATA);
	assert_int_equal(m.restarts, 2);
	assert_int_equal(m.refusals, 1);
	assert_int_equal(p->offset, 150);
	assert_int_equal(p->restart_at, 150);
	for (int round = 0; round < 10; round++)
		assert_int_equal(sim_round(&m, p), -ENODATA);
	assert_int_equal(m.restarts, 2);	/* never again */
	assert_int_equal(m.refusals, 11);
	assert_int_equal(p->offset, 150);
	/* the topic up to 150 sent again twice, then one batch a round */
	assert_int_equal(m.batches, 1 + 6 + 1 + 6 + 1 + 10);

	/* Position 0 never moves (nothing before it); a position that moved
	 * meanwhile (another round acknowledged) is not moved back. */
	p->offset = 0;
	p->restart_at = 0;
	assert_false(position_restart(p, 0));
	p->offset = 60;
	assert_false(position_restart(p, 50));
	assert_int_equal(p->offset, 60);
	assert_true(position_restart(p, 60));
	assert_int_equal(p->offset, 0);
	assert_int_equal(p->vpos, 0);
	assert_int_equal(p->oldest_ns, 0);
	/* Back at 60 (acknowledged up to it, not past it): no second move;
	 * past it, a later answer may move it again. */
	position_acked(p, 60, 240);
	assert_false(position_restart(p, 60));
	position_acked(p, 61, 4);
	assert_int_equal(p->restart_at, 0);
	assert_true(position_restart(p, 61));

	/* A new incarnation of the source topic forgets the restart point. */
	uuid_t other;
	uuid_generate(other);
	p = position_find(r, "t", other);
	assert_int_equal(p->restart_at, 0);
	replica_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_topics),
		cmocka_unit_test(test_restart_guard),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
