/*
 * test_holdbudget.c - unit tests of fs/holdbudget.c: bytes held for users
 * between writes, bounded per user and in all; a refused charge counts
 * nothing; releases bring the counts back to zero.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>

#include "fs/holdbudget.h"

static void test_per_user_and_total(void **state)
{
	(void)state;
	struct hold_budget b;
	hold_budget_init(&b, 100, 250);
	assert_int_equal(hold_charge(&b, 1, 60), 0);
	assert_int_equal(hold_charge(&b, 1, 40), 0);
	/* user 1 at its bound: refused, nothing counted */
	assert_int_equal(hold_charge(&b, 1, 1), -ENOBUFS);
	assert_int_equal(hold_of(&b, 1), 100);
	/* others are not held back by user 1 */
	assert_int_equal(hold_charge(&b, 2, 100), 0);
	/* the daemon's bound: 200 held, 50 left in all */
	assert_int_equal(hold_charge(&b, 3, 60), -ENOBUFS);
	assert_int_equal(hold_charge(&b, 3, 50), 0);
	assert_int_equal(hold_total(&b), 250);
	/* releases free room for everyone */
	hold_release(&b, 1, 100);
	assert_int_equal(hold_of(&b, 1), 0);
	assert_int_equal(hold_charge(&b, 3, 50), 0);
	hold_release(&b, 2, 100);
	hold_release(&b, 3, 100);
	assert_int_equal(hold_total(&b), 0);
	/* releasing more than held (or for nobody) changes nothing */
	hold_release(&b, 9, 10);
	assert_int_equal(hold_total(&b), 0);
	hold_budget_destroy(&b);
}

static void test_many_users(void **state)
{
	(void)state;
	struct hold_budget b;
	hold_budget_init(&b, 10, 1000000);
	for (uid_t u = 0; u < 500; u++)
		assert_int_equal(hold_charge(&b, u, 10), 0);
	assert_int_equal(hold_total(&b), 5000);
	for (uid_t u = 0; u < 500; u++)
		assert_int_equal(hold_charge(&b, u, 1), -ENOBUFS);
	for (uid_t u = 0; u < 500; u++)
		hold_release(&b, u, 10);
	assert_int_equal(hold_total(&b), 0);
	assert_int_equal(b.nusers, 0);
	hold_budget_destroy(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_user_and_total),
		cmocka_unit_test(test_many_users),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
