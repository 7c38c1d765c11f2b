/*
 * test_replstatus.c - unit tests of a stream's replica status as JSON
 * (replication/replstatus.c), what a NATS-backed cluster's lease holder
 * publishes and its other daemons apply (docs/nats.md, "Replication
 * status on every daemon"): the export names each replica's state,
 * counts, error and degraded flag, and only a synchronous replica's
 * positions that moved lately; the import on a daemon that does not run
 * the lanes shows them as they are (not counted from its own
 * positions), keeps a pause written there, moves the positions, resets
 * them for another pinned stream, and clears a degradation of its own
 * only once the holder says the replica caught up; and the notice of
 * another daemon whose write timed out degrades the synchronous replicas
 * it names degraded, nothing else.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "fs/namespace.h"
#include "fs/stream.h"
#include "replication/positions.h"
#include "replication/replica.h"

/* Streams whose lanes run on another daemon (lanes_epoch 0). */
static uint64_t elsewhere(struct stream *s)
{
	(void)s;
	return 0;
}

static const struct stream_ops ops = { .lanes_epoch = elsewhere };

static int wakes;

static void wake(void *arg)
{
	(void)arg;
	wakes++;
}

static struct repl_hooks hooks;
static struct sfs_namespace ns;
static struct cluster cl;

/* A stream NAME of the test's cluster with replicas tokyo/a (synchronous)
 * and tokyo/b. */
static struct stream *make(const char *name)
{
	hooks = replication_hooks;
	hooks.wake = wake;	/* no replicator: counted */
	ns.hooks = &hooks;
	cl.ns = &ns;
	snprintf(cl.name, sizeof(cl.name), "paris");
	struct stream *s = stream_alloc(&cl, name, &ops, NULL);
	assert_non_null(s);
	const char *names[] = { "a", "b" };
	for (int i = 0; i < 2; i++) {
		struct replica *r = replica_new();
		assert_non_null(r);
		snprintf(r->conf.cluster, sizeof(r->conf.cluster), "tokyo");
		snprintf(r->conf.stream, sizeof(r->conf.stream), "%s", names[i]);
		r->conf.synchronous = i == 0;
		s->replicas[s->nreplicas++] = &r->conf;
	}
	return s;
}

static struct replica *rep(struct stream *s, int i)
{
	return replica_of(s->replicas[i]);
}

static void test_export_then_import(void **state)
{
	(void)state;
	struct stream *src = make("src"), *dst = make("dst");
	uuid_t inc, target;
	uuid_generate(inc);
	uuid_generate(target);
	struct replica *a = rep(src, 0), *b = rep(src, 1);
	uuid_copy(a->target_uuid, target);
	a->state = REPLICA_STATE_REPLICATING;
	a->copied = true;
	a->pending_msgs = 3;
	a->pending_bytes = 30;
	/* t moved now; u long ago (never, as loaded from saved positions) */
	position_acked(position_find(a, "t", inc), 7, 70);
	position_find(a, "u", inc)->offset = 5;
	b->state = REPLICA_STATE_UNEXPECTED;
	snprintf(b->last_error, sizeof(b->last_error), "refused by the replica");
	b->last_error_ns = 1234;
	position_acked(position_find(b, "t", inc), 9, 90);

	pthread_mutex_lock(&src->lock);
	json_t *j = replstatus_export(src);
	pthread_mutex_unlock(&src->lock);
	assert_non_null(j);
	json_t *ja = json_array_get(json_object_get(j, "replicas"), 0);
	json_t *jb = json_array_get(json_object_get(j, "replicas"), 1);
	assert_string_equal(json_string_value(json_object_get(ja, "state")),
			    "REPLICA_STATE_REPLICATING");
	assert_int_equal(json_integer_value(json_object_get(ja, "pending")), 3);
	/* a synchronous replica's recent positions only */
	json_t *ts = json_object_get(ja, "topics");
	assert_int_equal(json_object_size(ts), 1);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(ts, "t"), 1)), 7);
	assert_null(json_object_get(jb, "topics"));
	assert_string_equal(json_string_value(json_object_get(jb, "error")),
			    "refused by the replica");

	/* Applied where the lanes do not run; b is paused there. */
	struct replica *da = rep(dst, 0), *db = rep(dst, 1);
	db->conf.paused = true;
	db->state = REPLICA_STATE_PAUSED;
	pthread_mutex_lock(&dst->lock);
	replstatus_import(dst, j);
	struct replica_status st;
	repl_replica_status(&ns, dst, &da->conf, NULL, 0, &st);
	assert_string_equal(st.state, "REPLICA_STATE_REPLICATING");
	assert_int_equal(st.pending_msgs, 3);	/* published, not counted here */
	assert_int_equal(st.pending_bytes, 30);
	assert_false(st.uptodate);
	assert_int_equal(position_find(da, "t", inc)->offset, 7);
	assert_int_equal(position_find(da, "t", inc)->vpos, 70);
	assert_int_equal(da->npos, 1);		/* u did not go */
	assert_int_equal(uuid_compare(da->target_uuid, target), 0);
	repl_replica_status(&ns, dst, &db->conf, NULL, 0, &st);
	assert_string_equal(st.state, "REPLICA_STATE_PAUSED");	/* its own pause */
	assert_string_equal(st.last_error, "refused by the replica");
	pthread_mutex_unlock(&dst->lock);
	json_decref(j);
	stream_put(src);
	stream_put(dst);
}

/* One published status of replica tokyo/a: PENDING, DEGRADED, TARGET. */
static json_t *status_of(uint64_t pending, bool degraded, const char *target)
{
	return json_pack("{s:i, s:[{s:s, s:s, s:s, s:s, s:b, s:b, s:I}]}", "format", 1,
			 "replicas", "cluster", "tokyo", "stream", "a", "uuid", target,
			 "state", "REPLICA_STATE_REPLICATING", "copied", 1, "degraded",
			 degraded, "pending", (json_int_t)pending);
}

static void test_degraded_and_pin(void **state)
{
	(void)state;
	struct stream *s = make("s");
	struct replica *a = rep(s, 0);
	uuid_t inc, target;
	uuid_generate(inc);
	uuid_generate(target);
	char ts[37];
	uuid_unparse(target, ts);
	position_find(a, "t", inc)->offset = 4;
	pthread_mutex_lock(&s->lock);
	/* A write here timed out: degraded here until the holder says the
	 * replica caught up. */
	a->degraded = true;
	json_t *j = status_of(2, false, "00000000-0000-0000-0000-000000000000");
	replstatus_import(s, j);
	json_decref(j);
	assert_true(a->degraded);
	assert_int_equal(position_find(a, "t", inc)->offset, 4);	/* no pin named */
	j = status_of(0, false, ts);
	replstatus_import(s, j);
	json_decref(j);
	assert_false(a->degraded);
	/* pinned to another stream there: the positions here are dropped */
	assert_int_equal(a->npos, 0);
	assert_int_equal(uuid_compare(a->target_uuid, target), 0);
	/* degraded by the holder: degraded here too */
	j = status_of(0, true, ts);
	replstatus_import(s, j);
	json_decref(j);
	assert_true(a->degraded);
	/* not a status: nothing changes */
	j = json_pack("{s:i}", "format", 2);
	replstatus_import(s, j);
	json_decref(j);
	assert_true(a->degraded);
	pthread_mutex_unlock(&s->lock);
	stream_put(s);
}

/* Another daemon's notice: only the synchronous replicas it names
 * degraded become so, and the lanes are woken to look. */
static void test_notice(void **state)
{
	(void)state;
	struct stream *s = make("s");
	struct replica *a = rep(s, 0), *b = rep(s, 1);
	a->pending_msgs = 5;
	json_t *j = json_pack("{s:i, s:b, s:[{s:s, s:s, s:b, s:I}, {s:s, s:s, s:b}]}",
			      "format", 1, "notice", 1, "replicas",
			      "cluster", "tokyo", "stream", "a", "degraded", 1, "pending", 0,
			      "cluster", "tokyo", "stream", "b", "degraded", 1);
	int before = wakes;
	pthread_mutex_lock(&s->lock);
	replstatus_import(s, j);
	assert_true(a->degraded);
	assert_false(b->degraded);		/* not synchronous */
	assert_int_equal(a->pending_msgs, 5);	/* nothing else taken */
	assert_false(a->imported);
	pthread_mutex_unlock(&s->lock);
	assert_int_equal(wakes, before + 1);
	json_decref(j);
	stream_put(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_export_then_import),
		cmocka_unit_test(test_degraded_and_pin),
		cmocka_unit_test(test_notice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
