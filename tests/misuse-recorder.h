/* SPDX-License-Identifier: MIT */
/*
 * A misuse handler that records the last report instead of aborting, and
 * cmocka fixtures that install it and restore the default handler.  For
 * single-threaded tests (or reports made while the test thread waits).
 */
#ifndef CCHAIN_TESTS_MISUSE_RECORDER_H
#define CCHAIN_TESTS_MISUSE_RECORDER_H

#include <stdio.h>

#include <cchain/cchain.h>

static int misuse_count;
static char misuse_func[64];
static char misuse_msg[256];

static void record_misuse(const char *func, const char *msg)
{
	misuse_count++;
	snprintf(misuse_func, sizeof(misuse_func), "%s", func);
	snprintf(misuse_msg, sizeof(misuse_msg), "%s", msg);
}

/*
 * The call just made reported exactly one misuse, from @func, about its
 * NULL argument @arg (a string literal); forget it.  cmocka assertions.
 */
#define assert_null_misuse(func, arg)                          \
	do {                                                   \
		assert_int_equal(misuse_count, 1);             \
		assert_string_equal(misuse_func, (func));      \
		assert_string_equal(misuse_msg, arg " is NULL"); \
		misuse_count = 0;                              \
	} while (0)

static int setup_recorder(void **state)
{
	(void)state;
	misuse_count = 0;
	misuse_func[0] = misuse_msg[0] = '\0';
	cchain_set_misuse_handler(record_misuse);
	return 0;
}

static int restore_default(void **state)
{
	(void)state;
	cchain_set_misuse_handler(NULL);
	return 0;
}

#endif /* CCHAIN_TESTS_MISUSE_RECORDER_H */
