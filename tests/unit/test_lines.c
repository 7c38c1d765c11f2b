/*
 * test_lines.c - unit tests of fs/lines.c, line assembly without a mount:
 * complete lines become one run of messages and the rest is held; a
 * message over max_message is refused whole however the write is cut, and
 * the writer's resend of refused bytes is dropped; the hold budget bounds
 * what is held; a failed append changes nothing; control-file text comes
 * out whole; the pending list hands out its entries locked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/lines.h"

/* An in-memory topic: the messages appended, joined by '|'. */
struct sink {
	char log[4096];
	int calls;
	int fail;	/* the next append returns this (negative), once */
};

static int sink_append(void *arg, const struct iovec *iov, size_t n)
{
	struct sink *k = arg;
	if (k->fail) {
		int rc = k->fail;
		k->fail = 0;
		return rc;
	}
	k->calls++;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(k->log);
		snprintf(k->log + len, sizeof(k->log) - len, "%.*s|", (int)iov[i].iov_len,
			 (const char *)iov[i].iov_base);
	}
	return 0;
}

static int w(struct line_asm *la, struct sink *k, const char *s, size_t max)
{
	return lines_write(la, "test", s, strlen(s), max, sink_append, k);
}

static void test_lines_and_rest(void **state)
{
	(void)state;
	struct line_asm la;
	struct sink k = { 0 };
	lines_init(&la, NULL, 0);
	assert_int_equal(w(&la, &k, "a\nbb\nc", 100), 6);
	assert_string_equal(k.log, "a|bb|");
	assert_int_equal(k.calls, 1);	/* one run for the whole write */
	assert_int_equal(la.len, 1);
	assert_int_equal(w(&la, &k, "d", 100), 1);	/* held, nothing stored */
	assert_int_equal(k.calls, 1);
	assert_int_equal(w(&la, &k, "e\n\n", 100), 3);
	assert_string_equal(k.log, "a|bb|cde||");	/* an empty line is a message */
	assert_int_equal(la.len, 0);
	assert_int_equal(la.iovcap, 64);	/* a small line array is kept */
	/* a write of 100,000 empty lines: its 1.6 MB line array is not kept */
	char *many = malloc(100001);
	assert_non_null(many);
	memset(many, '\n', 100000);
	many[100000] = 0;
	k.log[0] = 0;
	assert_int_equal(lines_write(&la, "test", many, 100000, 100, sink_append, &k), 100000);
	assert_int_equal(la.iovcap, 0);
	free(many);
	lines_destroy(&la);
}

static void test_over_long_refused_whole(void **state)
{
	(void)state;
	struct line_asm la;
	struct sink k = { 0 };
	lines_init(&la, NULL, 0);
	/* max 4: "12345" in three writes, the last ending it */
	assert_int_equal(w(&la, &k, "12", 4), 2);
	assert_int_equal(w(&la, &k, "34", 4), 2);
	assert_int_equal(w(&la, &k, "5", 4), -EMSGSIZE);
	/* every later write is refused up to and including one with '\n' */
	assert_int_equal(w(&la, &k, "6", 4), -EMSGSIZE);
	assert_int_equal(w(&la, &k, "7\n", 4), -EMSGSIZE);
	assert_string_equal(k.log, "");
	/* then writing goes on as before */
	assert_int_equal(w(&la, &k, "ok\n", 4), 3);
	assert_string_equal(k.log, "ok|");
	/* a short line before an over-long one in the same write: none stored */
	assert_int_equal(w(&la, &k, "a\nabcde\n", 4), -EMSGSIZE);
	assert_string_equal(k.log, "ok|");
	lines_destroy(&la);
}

static void test_resend_dropped(void **state)
{
	(void)state;
	struct line_asm la;
	struct sink k = { 0 };
	lines_init(&la, NULL, 0);
	const char *buf = "abcdef\nnext\n";
	/* refused: its first message is over max */
	assert_int_equal(w(&la, &k, buf, 4), -EMSGSIZE);
	assert_string_equal(k.log, "");
	/* the writer sends the same bytes again: the refused message is
	 * dropped, the rest stored, the whole count returned */
	assert_int_equal(w(&la, &k, buf, 4), (int)strlen(buf));
	assert_string_equal(k.log, "next|");
	/* only the refused part, sent again alone: refused again */
	assert_int_equal(w(&la, &k, "wxyz!\n", 4), -EMSGSIZE);
	assert_int_equal(w(&la, &k, "wxyz!\n", 4), -EMSGSIZE);
	assert_string_equal(k.log, "next|");
	lines_destroy(&la);
}

static void test_budget_bounds_held(void **state)
{
	(void)state;
	struct hold_budget b;
	hold_budget_init(&b, 512, 1024);
	struct line_asm la, lb;
	struct sink k = { 0 };
	lines_init(&la, &b, 7);
	lines_init(&lb, &b, 8);
	char big[600];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	/* 599 held bytes would need a 1024-byte buffer: past user 7's 512 */
	assert_int_equal(w(&la, &k, big, 4096), -ENOBUFS);
	assert_int_equal(la.len, 0);
	assert_int_equal(hold_of(&b, 7), 0);
	assert_int_equal(w(&la, &k, "abc", 4096), 3);
	assert_int_equal(hold_of(&b, 7), 256);
	/* another user is not held back by user 7 */
	assert_int_equal(w(&lb, &k, "de", 4096), 2);
	assert_int_equal(hold_total(&b), 512);
	lines_destroy(&la);
	lines_destroy(&lb);
	assert_int_equal(hold_total(&b), 0);
	hold_budget_destroy(&b);
}

static void test_failed_append_changes_nothing(void **state)
{
	(void)state;
	struct line_asm la;
	struct sink k = { 0 };
	lines_init(&la, NULL, 0);
	assert_int_equal(w(&la, &k, "ab", 100), 2);
	k.fail = -EIO;
	assert_int_equal(w(&la, &k, "c\nd", 100), -EIO);
	assert_int_equal(la.len, 2);	/* "ab" still held */
	assert_int_equal(w(&la, &k, "c\nd", 100), 3);	/* the retry */
	assert_string_equal(k.log, "abc|");
	assert_int_equal(la.len, 1);
	lines_destroy(&la);
}

struct texts {
	char got[256];
	int rc;
};

static int collect_text(void *arg, const char *text, size_t len)
{
	struct texts *t = arg;
	if (t->rc)
		return t->rc;
	size_t n = strlen(t->got);
	snprintf(t->got + n, sizeof(t->got) - n, "[%.*s]", (int)len, text);
	return 0;
}

static void test_collect(void **state)
{
	(void)state;
	struct line_asm la;
	struct texts t = { { 0 }, 0 };
	lines_init(&la, NULL, 0);
	assert_int_equal(lines_collect(&la, "t", "a b\nc", 5, 16, collect_text, &t), 5);
	assert_string_equal(t.got, "[a b\n]");
	assert_int_equal(lines_collect(&la, "t", "d\ne\nf", 5, 16, collect_text, &t), 5);
	assert_string_equal(t.got, "[a b\n][cd\ne\n]");
	/* a held line may not pass MAX_LINE */
	assert_int_equal(lines_collect(&la, "t", "0123456789abcdefg", 17, 16, collect_text, &t),
			 -E2BIG);
	assert_int_equal(la.len, 1);	/* "f" */
	/* the consumer's error changes nothing */
	t.rc = -EINVAL;
	assert_int_equal(lines_collect(&la, "t", "\n", 1, 16, collect_text, &t), -EINVAL);
	assert_int_equal(la.len, 1);
	lines_destroy(&la);
}

/* pending_commit's STORE for the tests: checks the entry as a store
 * gets it, counts it, and (slow) holds the store until *release. */
struct store_log {
	struct pending_list *pl;
	int n;
	struct pending_line *seen[4];
	atomic_int entered;
	atomic_bool *release;
};

static void store_test(struct pending_line *pn, void *arg)
{
	struct store_log *log = arg;
	assert_int_equal(pthread_mutex_trylock(pn->mu), EBUSY);	/* handed over locked */
	pthread_mutex_lock(&log->pl->mu);
	assert_true(pn->listed && pn->storing);	/* others still see it */
	pthread_mutex_unlock(&log->pl->mu);
	log->seen[log->n++] = pn;
	atomic_fetch_add(&log->entered, 1);
	while (log->release && !atomic_load(log->release)) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

static void test_pending_list(void **state)
{
	(void)state;
	struct pending_list pl;
	pending_init(&pl);
	pthread_mutex_t m[3];
	struct pending_line pn[3];
	int key_a, key_b;
	for (int i = 0; i < 3; i++) {
		pthread_mutex_init(&m[i], NULL);
		memset(&pn[i], 0, sizeof(pn[i]));
		pn[i].mu = &m[i];
		pn[i].key = i < 2 ? (void *)&key_a : (void *)&key_b;
	}
	struct store_log log = { .pl = &pl };
	pending_commit(&pl, &key_a, store_test, &log, NULL);
	assert_int_equal(log.n, 0);
	pending_add(&pl, &pn[0]);
	pending_add(&pl, &pn[0]);	/* listed once */
	pending_add(&pl, &pn[1]);
	pending_add(&pl, &pn[2]);
	assert_int_equal(atomic_load(&pl.count), 3);
	pending_commit(&pl, &key_a, store_test, &log, NULL);
	assert_int_equal(log.n, 2);
	for (int i = 0; i < 2; i++) {
		assert_true(log.seen[i] == &pn[0] || log.seen[i] == &pn[1]);
		assert_false(log.seen[i]->listed || log.seen[i]->storing);
		assert_int_equal(pthread_mutex_trylock(log.seen[i]->mu), 0);	/* unlocked after */
		pthread_mutex_unlock(log.seen[i]->mu);
	}
	assert_true(log.seen[0] != log.seen[1]);
	assert_int_equal(atomic_load(&pl.count), 1);
	pending_remove(&pl, &pn[2]);
	pending_remove(&pl, &pn[2]);	/* not listed: nothing */
	assert_int_equal(atomic_load(&pl.count), 0);
	log.n = 0;
	pending_commit(&pl, &key_b, store_test, &log, NULL);
	assert_int_equal(log.n, 0);
	for (int i = 0; i < 3; i++)
		pthread_mutex_destroy(&m[i]);
	pending_destroy(&pl);
}

struct committer {
	struct pending_list *pl;
	const void *key;
	struct store_log *log;
	bool (*interrupted)(void);
	atomic_bool done;
};

static void *commit_thread(void *arg)
{
	struct committer *c = arg;
	pending_commit(c->pl, c->key, store_test, c->log, c->interrupted);
	atomic_store(&c->done, true);
	return NULL;
}

static atomic_bool interrupt_now;
static bool test_interrupted(void)
{
	return atomic_load(&interrupt_now);
}

/* A reader that comes while another stores a line of its topic waits for
 * that store (the close came before it looked), and a signal ends that
 * wait. */
static void test_pending_wait(void **state)
{
	(void)state;
	struct pending_list pl;
	pending_init(&pl);
	pthread_mutex_t m;
	pthread_mutex_init(&m, NULL);
	struct pending_line pn;
	memset(&pn, 0, sizeof(pn));
	int key;
	pn.mu = &m;
	pn.key = &key;
	for (int round = 0; round < 2; round++) {
		atomic_bool release = false;
		struct store_log slow = { .pl = &pl, .release = &release };
		struct store_log none = { .pl = &pl };
		pending_add(&pl, &pn);
		struct committer a = { &pl, &key, &slow, NULL, false };
		struct committer b = { &pl, &key, &none, test_interrupted, false };
		pthread_t ta, tb;
		assert_int_equal(pthread_create(&ta, NULL, commit_thread, &a), 0);
		while (!atomic_load(&slow.entered)) {
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
		/* A stores (slowly); B comes and finds it storing */
		assert_int_equal(pthread_create(&tb, NULL, commit_thread, &b), 0);
		struct timespec ts = { 0, 300 * 1000000 };
		nanosleep(&ts, NULL);
		assert_false(atomic_load(&b.done));	/* waits for A's store */
		assert_int_equal(none.n, 0);		/* and stores nothing itself */
		if (round == 0) {
			atomic_store(&release, true);	/* A's store ends: B returns */
			pthread_join(ta, NULL);
			pthread_join(tb, NULL);
		} else {
			atomic_store(&interrupt_now, true);	/* B's caller is signalled */
			pthread_join(tb, NULL);
			assert_false(atomic_load(&a.done));
			atomic_store(&release, true);
			pthread_join(ta, NULL);
			atomic_store(&interrupt_now, false);
		}
		assert_true(atomic_load(&b.done));
		assert_int_equal(slow.n, 1);
		assert_false(pn.listed);
	}
	pthread_mutex_destroy(&m);
	pending_destroy(&pl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_and_rest),
		cmocka_unit_test(test_over_long_refused_whole),
		cmocka_unit_test(test_resend_dropped),
		cmocka_unit_test(test_budget_bounds_held),
		cmocka_unit_test(test_failed_append_changes_nothing),
		cmocka_unit_test(test_collect),
		cmocka_unit_test(test_pending_list),
		cmocka_unit_test(test_pending_wait),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
