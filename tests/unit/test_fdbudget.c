/*
 * test_fdbudget.c - unit tests of fs/fdbudget.c: descriptors counted per
 * user; past the limit the users counted longest ago are evicted down to
 * 10% under it, never the user being counted, and a user that refuses
 * (busy) keeps its count; removal forgets a user.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>

#include "fs/fdbudget.h"

struct user {
	struct fd_user u;	/* first */
	bool busy, evicted;
};

static bool evict(struct fd_user *u, void *arg)
{
	int *calls = arg;
	struct user *x = (struct user *)u;
	(*calls)++;
	if (x->busy)
		return false;
	x->evicted = true;
	return true;
}

static void test_evicts_oldest_first(void **state)
{
	(void)state;
	int calls = 0;
	struct fd_budget b;
	fd_budget_init(&b, 100, evict, &calls);
	struct user u[6] = { 0 };
	for (int i = 0; i < 5; i++)
		fd_budget_add(&b, &u[i].u, 20);	/* 100: at the limit, no eviction */
	assert_int_equal(b.fds, 100);
	assert_int_equal(calls, 0);
	u[0].busy = true;			/* the oldest is in use */
	fd_budget_add(&b, &u[5].u, 20);		/* 120 > 100: down to 90 */
	assert_false(u[0].evicted);		/* refused: kept, counted */
	assert_true(u[1].evicted);
	assert_true(u[2].evicted);
	assert_false(u[3].evicted);
	assert_false(u[5].evicted);		/* never the one being counted */
	assert_int_equal(b.fds, 80);
	assert_int_equal(u[0].u.count, 20);
	assert_int_equal(u[1].u.count, 0);
	/* an evicted user counted again is the most recent */
	fd_budget_add(&b, &u[1].u, 2);
	assert_ptr_equal(b.head, &u[1].u);
	fd_budget_remove(&b, &u[0].u);
	assert_int_equal(b.fds, 62);
	fd_budget_remove(&b, &u[0].u);		/* twice: nothing */
	assert_int_equal(b.fds, 62);
	for (int i = 1; i < 6; i++)
		fd_budget_remove(&b, &u[i].u);
	assert_int_equal(b.fds, 0);
	assert_null(b.head);
	assert_null(b.tail);
	fd_budget_destroy(&b);
	/* no budget: counting is a no-op */
	fd_budget_add(NULL, &u[0].u, 5);
	fd_budget_remove(NULL, &u[0].u);
}

static void test_limit_from_rlimit(void **state)
{
	(void)state;
	struct fd_budget b;
	fd_budget_init(&b, 0, evict, NULL);
	assert_true(b.limit > 0);
	fd_budget_destroy(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_evicts_oldest_first),
		cmocka_unit_test(test_limit_from_rlimit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
