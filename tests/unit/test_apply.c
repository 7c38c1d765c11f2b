/*
 * test_apply.c - unit tests of replication/apply.c, the receiving side,
 * against a real namespace in a scratch directory: the allow-list
 * (.upstreams), topics made by replication (the replica stream's owner,
 * the source's bits without setuid/setgid/sticky), an existing topic that
 * lets others read more than the source refused (its mode untouched), a
 * private source topic refused into a topic someone else owns, exactly
 * once, a refused batch's error, and a message that is not one line of at
 * most max_message bytes refused before anything is made.
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
#include "replication/apply.h"

static struct nsfix fix;
static struct stream *r;	/* newyork/r, the replica: owned 1234:5678 */

static int setup(void **state)
{
	(void)state;
	if (nsfix_open(&fix, "apply", false) < 0)
		return -1;
	return ns_create_stream(&fix.ns, ns_cluster(&fix.ns, "newyork"), "r", 1234, 5678, 0755, &r);
}

static int teardown(void **state)
{
	(void)state;
	if (r)
		stream_put(r);
	return nsfix_close(&fix);
}

static void allow(const char *line)
{
	pthread_mutex_lock(&r->lock);
	int k = r->nupstreams++;
	snprintf(r->upstreams[k].cluster, 256, "%s", "sanfrancisco");
	snprintf(r->upstreams[k].stream, 256, "%s", line);
	pthread_mutex_unlock(&r->lock);
}

static void test_allow_list(void **state)
{
	(void)state;
	struct stream *t = NULL;
	uuid_t u;
	char err[512] = "";
	assert_int_equal(apply_open(&fix.ns, "sanfrancisco", "s", "newyork", "r", &t, u, err,
				    sizeof(err)), -EACCES);
	assert_null(t);
	assert_non_null(strstr(err, "is not in /mapr/newyork/r/.upstreams"));
	assert_int_equal(apply_open(&fix.ns, "sanfrancisco", "s", "newyork", "nosuch", &t, u, err,
				    sizeof(err)), -ENOENT);
	allow("s");
	assert_int_equal(apply_open(&fix.ns, "sanfrancisco", "s", "newyork", "r", &t, u, err,
				    sizeof(err)), 0);
	assert_ptr_equal(t, r);
	assert_int_equal(uuid_compare(u, r->uuid), 0);
	stream_put(t);
}

static struct topic_msg msg(const uuid_t os, const uuid_t ot, uint64_t off, const char *text)
{
	struct topic_msg m;
	memset(&m, 0, sizeof(m));
	m.payload = (const uint8_t *)text;
	m.len = (uint32_t)strlen(text);
	m.origin_offset = off;
	m.timestamp_ns = 1;
	uuid_copy(m.origin_stream, os);
	uuid_copy(m.origin_topic, ot);
	return m;
}

static void test_owner_mode_and_exactly_once(void **state)
{
	(void)state;
	uuid_t os, ot;
	uuid_generate(os);
	uuid_generate(ot);
	char err[512] = "";
	struct topic_msg m[2] = { msg(os, ot, 0, "a"), msg(os, ot, 1, "b") };
	size_t applied = 9;
	/* a peer's uid 0 and mode 06777 pick nothing */
	assert_int_equal(apply_append(&fix.ns, r, "t", 0, 0, 06777, m, 2, &applied, err,
				      sizeof(err)), 0);
	assert_int_equal(applied, 2);
	struct topic *t = stream_find_topic(r, "t");
	assert_non_null(t);
	assert_int_equal(t->uid, 1234);
	assert_int_equal(t->gid, 5678);
	assert_int_equal(t->mode, 0777);
	/* again: exactly once */
	assert_int_equal(apply_append(&fix.ns, r, "t", 0, 0, 0777, m, 2, &applied, err,
				      sizeof(err)), 0);
	assert_int_equal(applied, 0);
	/* the source narrowed to 0640: its next messages are refused while
	 * the replica lets others read; its mode is not touched */
	struct topic_msg c = msg(os, ot, 2, "c");
	assert_int_equal(apply_append(&fix.ns, r, "t", 0, 0, 0640, &c, 1, &applied, err,
				      sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "lets others read (mode 777), the source topic does not (mode 640)"));
	assert_int_equal(t->mode, 0777);
	assert_true(topic_end(t) == 2);
	/* a peer's mode 0 changes no local mode either */
	assert_int_equal(apply_append(&fix.ns, r, "t", 0, 0, 0, &c, 1, &applied, err, sizeof(err)),
			 -EACCES);
	assert_int_equal(t->mode, 0777);
	/* narrowed there (chmod by its owner): the messages go on; write and
	 * execute bits the source lacks do not matter */
	assert_int_equal(topic_set_owner(t, (uid_t)-1, (gid_t)-1, 0662), 0);
	assert_int_equal(apply_append(&fix.ns, r, "t", 0, 0, 0640, &c, 1, &applied, err,
				      sizeof(err)), 0);
	assert_int_equal(applied, 1);
	assert_int_equal(t->mode, 0662);
	topic_put(t);
	/* a batch that cannot be true says so */
	struct topic_msg j = msg(os, ot, 9, "jump");
	assert_int_equal(apply_append(&fix.ns, r, "t", 0, 0, 0640, &j, 1, &applied, err,
				      sizeof(err)), -ENODATA);
	assert_non_null(strstr(err, "refused by the replica: topic t: messages of origin"));
	uuid_t nt;
	uuid_generate(nt);
	struct topic_msg late = msg(os, nt, 5, "late");
	assert_int_equal(apply_append(&fix.ns, r, "t", 0, 0, 0640, &late, 1, &applied, err,
				      sizeof(err)), -ENODATA);
	assert_non_null(strstr(err, "refused by the replica: topic t:"));
}

static void test_foreign_owner(void **state)
{
	(void)state;
	/* someone (uid 65534) made topic p first, open to all */
	struct topic *p = NULL;
	assert_int_equal(stream_topic_get_or_create(r, "p", 65534, 65534, 0666, true,
						    &p, NULL), 0);
	uuid_t os, ot;
	uuid_generate(os);
	uuid_generate(ot);
	struct topic_msg m = msg(os, ot, 0, "secret");
	size_t applied = 9;
	char err[512] = "";
	/* a source topic others may not read: refused, nothing stored */
	assert_int_equal(apply_append(&fix.ns, r, "p", 0, 0, 0600, &m, 1, &applied, err,
				      sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "belongs to uid 65534"));
	assert_true(topic_end(p) == 0);
	assert_int_equal(p->mode, 0666);
	/* one others may read: stored, the mode as it was */
	assert_int_equal(apply_append(&fix.ns, r, "p", 0, 0, 0666, &m, 1, &applied, err,
				      sizeof(err)), 0);
	assert_int_equal(applied, 1);
	assert_int_equal(p->mode, 0666);
	topic_put(p);
}

/* Replication makes topics only up to the stream's bound. */
static void test_topic_bound(void **state)
{
	(void)state;
	char err[512] = "";
	pthread_mutex_lock(&r->lock);
	size_t have = r->ntopics;
	pthread_mutex_unlock(&r->lock);
	fix.ns.max_replicated_topics = (uint32_t)have + 1;
	assert_int_equal(apply_topic(&fix.ns, r, "q1", 0, 0, 0644, err, sizeof(err)), 0);
	assert_int_equal(apply_topic(&fix.ns, r, "q2", 0, 0, 0644, err, sizeof(err)), -ENOSPC);
	assert_non_null(strstr(err, "the most replication makes one more in"));
	struct topic *q2 = stream_find_topic(r, "q2");
	assert_null(q2);
	/* topics that exist still take messages */
	assert_int_equal(apply_topic(&fix.ns, r, "q1", 0, 0, 0644, err, sizeof(err)), 0);
	fix.ns.max_replicated_topics = 0;
	assert_int_equal(apply_topic(&fix.ns, r, "q2", 0, 0, 0644, err, sizeof(err)), 0);
}

static void test_one_line(void **state)
{
	(void)state;
	uuid_t os, ot;
	uuid_generate(os);
	uuid_generate(ot);
	char err[512] = "";
	size_t applied = 9;
	struct topic_msg m[2] = { msg(os, ot, 0, "fine"), msg(os, ot, 1, "two\nlines") };
	assert_int_equal(apply_append(&fix.ns, r, "nl", 0, 0, 0644, m, 2, &applied, err,
				      sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "refused by the replica: topic nl: a message of origin"));
	assert_non_null(strstr(err, "(offset 1) holds a newline"));
	assert_int_equal(applied, 0);
	struct topic *t = stream_find_topic(r, "nl");
	assert_null(t);	/* nothing made, nothing appended */
	size_t max = fix.ns.cfg->max_message;
	char *big = malloc(max + 2);
	assert_non_null(big);
	memset(big, 'x', max + 1);
	big[max + 1] = 0;
	struct topic_msg b[2] = { msg(os, ot, 0, "fine"), msg(os, ot, 1, big) };
	assert_int_equal(apply_append(&fix.ns, r, "nl", 0, 0, 0644, b, 2, &applied, err,
				      sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "more than this daemon's max_message"));
	assert_null(stream_find_topic(r, "nl"));
	/* exactly max_message, and an empty message: fine */
	big[max] = 0;
	struct topic_msg ok[2] = { msg(os, ot, 0, ""), msg(os, ot, 1, big) };
	assert_int_equal(apply_append(&fix.ns, r, "nl", 0, 0, 0644, ok, 2, &applied, err,
				      sizeof(err)), 0);
	assert_int_equal(applied, 2);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allow_list),
		cmocka_unit_test(test_owner_mode_and_exactly_once),
		cmocka_unit_test(test_foreign_owner),
		cmocka_unit_test(test_topic_bound),
		cmocka_unit_test(test_one_line),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
