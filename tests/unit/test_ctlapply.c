/*
 * test_ctlapply.c - unit tests of fs/ctlfiles.c without a mount: applying
 * parsed .replicas and .upstreams lines to a stream of a real namespace
 * (local clusters in a scratch directory, one remote cluster): adds,
 * updates and removals; a replace ('>') keeps the replica objects of the
 * entries it keeps (their replication state); every refusal changes
 * nothing and says why; the 64-entry bound; a dry run changes nothing;
 * what .replicas then shows; which stream a line pins a replica to.
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

#include "tests/unit/nsfix.h"
#include "fs/ctlfiles.h"

static struct nsfix fix;
static struct stream *s;	/* sanfrancisco/s, where lines are applied */

static int setup(void **state)
{
	(void)state;
	if (nsfix_open(&fix, "ctlapply", true) < 0)
		return -1;
	struct cluster *sf = ns_cluster(&fix.ns, "sanfrancisco"), *ny = ns_cluster(&fix.ns, "newyork");
	if (ns_create_stream(&fix.ns, sf, "s", 0, 0, 0755, &s) < 0 ||
	    ns_create_stream(&fix.ns, ny, "a", 0, 0, 0755, NULL) < 0 ||
	    ns_create_stream(&fix.ns, ny, "b", 0, 0, 0755, NULL) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (s)
		stream_put(s);
	return nsfix_close(&fix);
}

/* Parse TEXT as lines of KIND and apply them. Returns ctlfile_apply's. */
static int apply(enum ctl_kind kind, const char *text, bool replace, bool dry_run)
{
	struct ctl_entry *e = NULL;
	char err[512];
	int n = ctl_parse(text, strlen(text), kind, "/mapr", &e, err, sizeof(err));
	if (n < 0)
		fail_msg("ctl_parse(%s): %s", text, err);
	int rc = ctlfile_apply(&fix.ns, s, kind, e, n, replace, dry_run);
	free(e);
	return rc;
}

/* What .replicas shows now (malloc'd). */
static char *replicas_text(void)
{
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(ctlfile_render(&fix.ns, s, NULL, CTLFILE_REPLICAS, &text, &len), 0);
	return text;
}

static void test_add_update_remove(void **state)
{
	(void)state;
	assert_int_equal(apply(CTL_REPLICAS, "/mapr/newyork/a\n/mapr/newyork/b synchronous=true\n",
			       false, false), 0);
	assert_int_equal(s->nreplicas, 2);
	assert_string_equal(s->replicas[0]->stream, "a");
	assert_false(s->replicas[0]->synchronous);
	assert_true(s->replicas[1]->synchronous);
	struct replica_conf *a = s->replicas[0];
	/* an update keeps the object, changes only what the line names */
	assert_int_equal(apply(CTL_REPLICAS, "/mapr/newyork/a paused=true\n", false, false), 0);
	assert_ptr_equal(s->replicas[0], a);
	assert_true(a->paused);
	assert_false(a->synchronous);
	char *text = replicas_text();
	assert_non_null(strstr(text, "/mapr/newyork/a synchronous=false paused=true"));
	assert_non_null(strstr(text, "/mapr/newyork/b synchronous=true paused=false"));
	free(text);
	/* removal */
	assert_int_equal(apply(CTL_REPLICAS, "-/mapr/newyork/b\n", false, false), 0);
	assert_int_equal(s->nreplicas, 1);
	assert_ptr_equal(s->replicas[0], a);
	assert_int_equal(apply(CTL_REPLICAS, "-/mapr/newyork/a\n", false, false), 0);
	assert_int_equal(s->nreplicas, 0);
	assert_false(atomic_load(&s->has_replicas));
}

static void test_replace_keeps_objects(void **state)
{
	(void)state;
	assert_int_equal(apply(CTL_REPLICAS, "/mapr/newyork/a\n/mapr/newyork/b\n", false, false),
			 0);
	struct replica_conf *b = s->replicas[1];
	/* '>' with b alone, paused: b's object is kept (its state and
	 * positions live in it), a goes */
	assert_int_equal(apply(CTL_REPLICAS, "/mapr/newyork/b paused=true\n", true, false), 0);
	assert_int_equal(s->nreplicas, 1);
	assert_ptr_equal(s->replicas[0], b);
	assert_true(b->paused);
	/* written back as read: nothing changes, not even the object */
	char *text = replicas_text();
	assert_int_equal(apply(CTL_REPLICAS, text, true, false), 0);
	free(text);
	assert_int_equal(s->nreplicas, 1);
	assert_ptr_equal(s->replicas[0], b);
	assert_true(b->paused);
	/* an empty replace empties the set */
	assert_int_equal(apply(CTL_REPLICAS, "# nothing\n", true, false), 0);
	assert_int_equal(s->nreplicas, 0);
}

static void test_refusals_change_nothing(void **state)
{
	(void)state;
	assert_int_equal(apply(CTL_REPLICAS, "/mapr/newyork/a\n", false, false), 0);
	struct replica_conf *a = s->replicas[0];
	/* an unknown cluster, a missing stream, this stream itself, removing
	 * what is not listed: refused, the set as it was, the reason kept */
	assert_int_equal(apply(CTL_REPLICAS, "/mapr/newyork/b\n/mapr/tokyo/x\n", false, false),
			 -ENOENT);
	assert_non_null(strstr(s->last_error, "unknown cluster 'tokyo'"));
	assert_int_equal(apply(CTL_REPLICAS, "/mapr/newyork/nosuch\n", true, false), -ENOENT);
	assert_non_null(strstr(s->last_error, "does not exist"));
	assert_int_equal(apply(CTL_REPLICAS, "/mapr/sanfrancisco/s\n", false, false), -EINVAL);
	assert_non_null(strstr(s->last_error, "names this stream itself"));
	assert_int_equal(apply(CTL_REPLICAS, "-/mapr/newyork/b\n", false, false), -ENOENT);
	assert_non_null(strstr(s->last_error, "is not listed"));
	assert_int_equal(s->nreplicas, 1);
	assert_ptr_equal(s->replicas[0], a);
	/* a dry run of a good set changes nothing either */
	assert_int_equal(apply(CTL_REPLICAS, "/mapr/newyork/b\n", true, true), 0);
	assert_int_equal(s->nreplicas, 1);
	assert_ptr_equal(s->replicas[0], a);
	/* a remote cluster's stream cannot be looked at from here: taken */
	assert_int_equal(apply(CTL_REPLICAS, "/mapr/london/s\n", false, false), 0);
	assert_int_equal(s->nreplicas, 2);
	assert_int_equal(apply(CTL_REPLICAS, "# none\n", true, false), 0);
}

static void test_bound_of_64(void **state)
{
	(void)state;
	char text[64 * 32 + 64];
	size_t o = 0;
	for (int i = 1; i <= 64; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "/mapr/london/s%d\n", i);
	assert_int_equal(apply(CTL_REPLICAS, text, false, false), 0);
	assert_int_equal(s->nreplicas, 64);
	assert_int_equal(apply(CTL_REPLICAS, "/mapr/london/s65\n", false, false), -ENOSPC);
	assert_non_null(strstr(s->last_error, "more than 64 replicas"));
	assert_int_equal(s->nreplicas, 64);
	/* upstreams have their own 64 */
	o = 0;
	for (int i = 1; i <= 65; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "/mapr/london/u%d\n", i);
	assert_int_equal(apply(CTL_UPSTREAMS, text, false, false), -ENOSPC);
	assert_int_equal(s->nupstreams, 0);
	assert_int_equal(apply(CTL_REPLICAS, "", true, false), 0);
	assert_int_equal(s->nreplicas, 0);
}

static void test_upstreams(void **state)
{
	(void)state;
	assert_int_equal(apply(CTL_UPSTREAMS, "/mapr/newyork/a\n/mapr/london/x\n", false, false),
			 0);
	assert_int_equal(s->nupstreams, 2);
	assert_string_equal(s->upstreams[1].cluster, "london");
	assert_int_equal(apply(CTL_UPSTREAMS, "/mapr/newyork/b\n", true, false), 0);
	assert_int_equal(s->nupstreams, 1);
	assert_string_equal(s->upstreams[0].stream, "b");
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(ctlfile_render(&fix.ns, s, NULL, CTLFILE_UPSTREAMS, &text, &len), 0);
	assert_non_null(strstr(text, "/mapr/newyork/b # uuid="));
	free(text);
	assert_int_equal(apply(CTL_UPSTREAMS, "", true, false), 0);
	assert_int_equal(s->nupstreams, 0);
}

/* Is RC to take the stream of newyork/NAME (its UUID now)? */
static bool pinned_to(struct replica_conf *rc, const char *name)
{
	struct stream *t = ns_stream(&fix.ns, "newyork", name);
	assert_non_null(t);
	bool same = rc->repin && !uuid_compare(rc->repin_uuid, t->uuid);
	stream_put(t);
	return same;
}

static void test_pins(void **state)
{
	(void)state;
	/* a new local replica takes the stream its line named, in a replace
	 * too, paused too; a new remote one is not seen from here */
	assert_int_equal(apply(CTL_REPLICAS, "/mapr/newyork/a\n/mapr/london/x\n", false, false), 0);
	assert_int_equal(apply(CTL_REPLICAS, "/mapr/newyork/a\n/mapr/london/x\n/mapr/newyork/b paused=true\n",
			       true, false), 0);
	assert_int_equal(s->nreplicas, 3);
	assert_true(pinned_to(s->replicas[0], "a"));
	assert_false(s->replicas[1]->repin);
	assert_true(pinned_to(s->replicas[2], "b"));
	/* replication took them (it clears the flag) */
	for (int i = 0; i < s->nreplicas; i++)
		s->replicas[i]->repin = false;
	/* named again: the stream under the name now; a line that pauses or
	 * resumes it, or a replace, is no naming */
	assert_int_equal(apply(CTL_REPLICAS, "/mapr/newyork/b paused=false\n", false, false), 0);
	assert_false(s->replicas[2]->repin);
	assert_int_equal(apply(CTL_REPLICAS, "/mapr/newyork/a\n/mapr/london/x\n/mapr/newyork/b\n",
			       true, false), 0);
	assert_false(s->replicas[2]->repin);
	assert_int_equal(apply(CTL_REPLICAS, "/mapr/newyork/b synchronous=true\n", false, false), 0);
	assert_true(pinned_to(s->replicas[2], "b"));
	/* a remote one named again, replication not refusing it (no hooks
	 * here: nothing to take): accepted, nothing taken */
	assert_int_equal(apply(CTL_REPLICAS, "/mapr/london/x\n", false, false), 0);
	assert_false(s->replicas[1]->repin);
	assert_int_equal(apply(CTL_REPLICAS, "", true, false), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_update_remove),
		cmocka_unit_test(test_replace_keeps_objects),
		cmocka_unit_test(test_refusals_change_nothing),
		cmocka_unit_test(test_bound_of_64),
		cmocka_unit_test(test_upstreams),
		cmocka_unit_test(test_pins),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
