/*
 * test_callersig.c - unit tests for which pending signals end a wait
 * (fs/callersig.c, callersig_matters): those ignored by default do not,
 * blocked ones do not, stops do not unless handled, any other does.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "callersig.h"

#define BIT(n) (1ULL << ((n) - 1))

static void test_benign_signals_do_not_matter(void **state)
{
	(void)state;
	assert_false(callersig_matters(0, 0, 0));
	assert_false(callersig_matters(BIT(SIGCHLD), 0, 0));
	assert_false(callersig_matters(BIT(SIGWINCH) | BIT(SIGURG) | BIT(SIGCONT), 0, 0));
}

static void test_other_signals_matter(void **state)
{
	(void)state;
	assert_true(callersig_matters(BIT(SIGINT), 0, 0));
	assert_true(callersig_matters(BIT(SIGTERM) | BIT(SIGCHLD), 0, 0));
	assert_true(callersig_matters(BIT(SIGUSR1), 0, 0));
	assert_true(callersig_matters(BIT(SIGALRM), 0, 0));
	assert_true(callersig_matters(BIT(SIGRTMIN), 0, 0));
}

static void test_blocked_signals_do_not_matter(void **state)
{
	(void)state;
	assert_false(callersig_matters(BIT(SIGTERM) | BIT(SIGCHLD), BIT(SIGTERM), 0));
	assert_true(callersig_matters(BIT(SIGTERM) | BIT(SIGINT), BIT(SIGTERM), 0));
}

/* A stop goes on with the request (the kernel stops the caller on its
 * way out); a job-control stop the caller handles itself ends it. */
static void test_stops(void **state)
{
	(void)state;
	assert_false(callersig_matters(BIT(SIGSTOP), 0, 0));
	assert_false(callersig_matters(BIT(SIGTSTP) | BIT(SIGTTIN) | BIT(SIGTTOU), 0, 0));
	assert_true(callersig_matters(BIT(SIGTSTP), 0, BIT(SIGTSTP)));
	assert_false(callersig_matters(BIT(SIGTSTP), 0, BIT(SIGINT)));
	assert_true(callersig_matters(BIT(SIGSTOP) | BIT(SIGINT), 0, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_benign_signals_do_not_matter),
		cmocka_unit_test(test_other_signals_matter),
		cmocka_unit_test(test_blocked_signals_do_not_matter),
		cmocka_unit_test(test_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
