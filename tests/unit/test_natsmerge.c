/*
 * test_natsmerge.c - unit tests of nats_meta_merge (fs/nats/natsmerge.h;
 * docs/nats.md, "Metadata changed on two daemons at once"): a daemon's
 * change made again over another daemon's keeps both when they changed
 * different fields, takes this daemon's value for a field both changed,
 * never moves a time back, never puts back a topic's origin epoch that
 * the other daemon moved on, merges lists (a control file's lines) entry
 * by entry, refuses a merged list past NATS_META_LIST_MAX, and changes
 * nothing it is given.
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

#include "fs/nats/natsmerge.h"

/* A JSON object from TXT (the test's own, well formed). */
static json_t *obj(const char *txt)
{
	json_t *j = json_loads(txt, 0, NULL);
	assert_non_null(j);
	return j;
}

/* nats_meta_merge's object, which must be made (0). */
static json_t *merge(const json_t *base, const json_t *ours, const json_t *theirs)
{
	json_t *m = NULL;
	assert_int_equal(nats_meta_merge(base, ours, theirs, &m), 0);
	assert_non_null(m);
	return m;
}

/* Is J the object TXT says? */
static void assert_json(json_t *j, const char *txt)
{
	json_t *want = obj(txt);
	if (!json_equal(j, want)) {
		char *got = json_dumps(j, JSON_SORT_KEYS);
		fail_msg("got %s, want %s", got ? got : "(null)", txt);
	}
	json_decref(want);
}

/* A stream: a chmod here, a control-file write there: both stay. */
static void test_different_fields(void **state)
{
	(void)state;
	json_t *base = obj("{\"uuid\":\"u\",\"mode\":493,\"changed_ns\":10,\"upstreams\":[]}");
	json_t *ours = obj("{\"uuid\":\"u\",\"mode\":448,\"changed_ns\":30,\"upstreams\":[]}");
	json_t *theirs = obj("{\"uuid\":\"u\",\"mode\":493,\"changed_ns\":20,"
			     "\"upstreams\":[{\"cluster\":\"tokyo\",\"stream\":\"s2\"}]}");
	json_t *m = merge(base, ours, theirs);
	assert_non_null(m);
	assert_json(m, "{\"uuid\":\"u\",\"mode\":448,\"changed_ns\":30,"
		       "\"upstreams\":[{\"cluster\":\"tokyo\",\"stream\":\"s2\"}]}");
	/* nothing given changed */
	assert_json(theirs, "{\"uuid\":\"u\",\"mode\":493,\"changed_ns\":20,"
			    "\"upstreams\":[{\"cluster\":\"tokyo\",\"stream\":\"s2\"}]}");
	assert_json(ours, "{\"uuid\":\"u\",\"mode\":448,\"changed_ns\":30,\"upstreams\":[]}");
	json_decref(m);
	json_decref(base);
	json_decref(ours);
	json_decref(theirs);
}

/* The same field changed on both: this daemon's value (it stores last);
 * a time only forward. */
static void test_same_field_and_times(void **state)
{
	(void)state;
	json_t *base = obj("{\"mode\":493,\"changed_ns\":10,\"modified_ns\":5}");
	json_t *ours = obj("{\"mode\":384,\"changed_ns\":15,\"modified_ns\":5}");
	json_t *theirs = obj("{\"mode\":448,\"changed_ns\":40,\"modified_ns\":50}");
	json_t *m = merge(base, ours, theirs);
	assert_json(m, "{\"mode\":384,\"changed_ns\":40,\"modified_ns\":50}");
	json_decref(m);
	json_decref(base);
	json_decref(ours);
	json_decref(theirs);
}

/* A topic's chmod here while another daemon started a new origin epoch:
 * the epoch stays (a chmod never puts an older one back); an epoch this
 * daemon has not seen at all (BASE without one) stays too. */
static void test_epoch_kept(void **state)
{
	(void)state;
	json_t *base = obj("{\"uid\":0,\"mode\":420,\"epoch\":1,\"epoch_key\":\"k1\"}");
	json_t *ours = obj("{\"uid\":0,\"mode\":384,\"epoch\":1,\"epoch_key\":\"k1\"}");
	json_t *theirs = obj("{\"uid\":0,\"mode\":420,\"epoch\":2,\"epoch_key\":\"k2\"}");
	json_t *m = merge(base, ours, theirs);
	assert_json(m, "{\"uid\":0,\"mode\":384,\"epoch\":2,\"epoch_key\":\"k2\"}");
	json_decref(m);
	json_decref(base);
	json_decref(ours);
	base = obj("{\"uid\":0,\"mode\":420}");
	ours = obj("{\"uid\":7,\"mode\":420}");
	m = merge(base, ours, theirs);
	assert_json(m, "{\"uid\":7,\"mode\":420,\"epoch\":2,\"epoch_key\":\"k2\"}");
	json_decref(m);
	json_decref(base);
	json_decref(ours);
	json_decref(theirs);
}

/* A field this daemon removed goes; without a base every field of OURS
 * counts as changed (the last writer wins); not objects: NULL. */
static void test_removed_no_base_bad(void **state)
{
	(void)state;
	json_t *base = obj("{\"a\":1,\"b\":2}");
	json_t *ours = obj("{\"a\":1}");
	json_t *theirs = obj("{\"a\":3,\"b\":2,\"c\":4}");
	json_t *m = merge(base, ours, theirs);
	assert_json(m, "{\"a\":3,\"c\":4}");
	json_decref(m);
	m = merge(NULL, ours, theirs);
	assert_json(m, "{\"a\":1,\"b\":2,\"c\":4}");
	json_decref(m);
	json_t *arr = json_array();
	assert_int_equal(nats_meta_merge(base, arr, theirs, &m), -EINVAL);
	assert_null(m);
	assert_int_equal(nats_meta_merge(base, ours, arr, &m), -EINVAL);
	assert_null(m);
	/* a base that is no object counts as none */
	m = merge(arr, ours, theirs);
	assert_json(m, "{\"a\":1,\"b\":2,\"c\":4}");
	json_decref(m);
	json_decref(arr);
	json_decref(base);
	json_decref(ours);
	json_decref(theirs);
}

/* Lines appended on two daemons at once both stay; a line removed here
 * goes there too; one changed here (paused) is changed there; one the
 * other daemon removed stays removed though changed here. */
static void test_lists(void **state)
{
	(void)state;
	json_t *base = obj("{\"upstreams\":[{\"cluster\":\"c\",\"stream\":\"a\"}],"
			   "\"replicas\":[{\"cluster\":\"c\",\"stream\":\"r1\",\"paused\":false},"
			   "{\"cluster\":\"c\",\"stream\":\"r2\",\"paused\":false},"
			   "{\"cluster\":\"c\",\"stream\":\"r3\",\"paused\":false}]}");
	json_t *ours = obj("{\"upstreams\":[{\"cluster\":\"c\",\"stream\":\"a\"},"
			   "{\"cluster\":\"c\",\"stream\":\"b\"}],"
			   "\"replicas\":[{\"cluster\":\"c\",\"stream\":\"r2\",\"paused\":true},"
			   "{\"cluster\":\"c\",\"stream\":\"r3\",\"paused\":true}]}");
	json_t *theirs = obj("{\"upstreams\":[{\"cluster\":\"c\",\"stream\":\"a\"},"
			     "{\"cluster\":\"d\",\"stream\":\"x\"}],"
			     "\"replicas\":[{\"cluster\":\"c\",\"stream\":\"r1\",\"paused\":false},"
			     "{\"cluster\":\"c\",\"stream\":\"r2\",\"paused\":false},"
			     "{\"cluster\":\"c\",\"stream\":\"r4\",\"paused\":false}]}");
	json_t *m = merge(base, ours, theirs);
	assert_json(m, "{\"upstreams\":[{\"cluster\":\"c\",\"stream\":\"a\"},"
		       "{\"cluster\":\"d\",\"stream\":\"x\"},{\"cluster\":\"c\",\"stream\":\"b\"}],"
		       "\"replicas\":[{\"cluster\":\"c\",\"stream\":\"r2\",\"paused\":true},"
		       "{\"cluster\":\"c\",\"stream\":\"r4\",\"paused\":false}]}");
	json_decref(m);
	/* the other daemon changed nothing of a list: this one's whole, in
	 * its order */
	json_t *t2 = obj("{\"upstreams\":[{\"cluster\":\"c\",\"stream\":\"a\"}],\"mode\":1}");
	json_t *b2 = obj("{\"upstreams\":[{\"cluster\":\"c\",\"stream\":\"a\"}],\"mode\":0}");
	json_t *o2 = obj("{\"upstreams\":[{\"cluster\":\"c\",\"stream\":\"z\"},"
			 "{\"cluster\":\"c\",\"stream\":\"a\"}],\"mode\":0}");
	m = merge(b2, o2, t2);
	assert_json(m, "{\"upstreams\":[{\"cluster\":\"c\",\"stream\":\"z\"},"
		       "{\"cluster\":\"c\",\"stream\":\"a\"}],\"mode\":1}");
	json_decref(m);
	json_decref(t2);
	json_decref(b2);
	json_decref(o2);
	json_decref(base);
	json_decref(ours);
	json_decref(theirs);
}

/* 40 entries added on each daemon: past NATS_META_LIST_MAX together,
 * refused (-ENOSPC), nothing made. */
static void test_list_bound(void **state)
{
	(void)state;
	json_t *base = obj("{\"upstreams\":[]}");
	json_t *ours = obj("{\"upstreams\":[]}"), *theirs = obj("{\"upstreams\":[]}");
	char name[16];
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "o%d", i);
		json_array_append_new(json_object_get(ours, "upstreams"),
				      json_pack("{s:s, s:s}", "cluster", "c", "stream", name));
		snprintf(name, sizeof(name), "t%d", i);
		json_array_append_new(json_object_get(theirs, "upstreams"),
				      json_pack("{s:s, s:s}", "cluster", "c", "stream", name));
	}
	json_t *m = NULL;
	assert_int_equal(nats_meta_merge(base, ours, theirs, &m), -ENOSPC);
	assert_null(m);
	json_decref(base);
	json_decref(ours);
	json_decref(theirs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_different_fields),
		cmocka_unit_test(test_same_field_and_times),
		cmocka_unit_test(test_epoch_kept),
		cmocka_unit_test(test_removed_no_base_bad),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_list_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
