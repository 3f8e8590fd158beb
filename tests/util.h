/* SPDX-License-Identifier: MIT */
/* Helpers shared by the test programs. */
#ifndef CCHAIN_TESTS_UTIL_H
#define CCHAIN_TESTS_UTIL_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <cchain/cchain.h>

/* Aborts rather than failing an assertion: usable on any thread. */
#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

#define MS 1000000ull

static inline pthread_t start_thread(void *(*fn)(void *), void *arg)
{
	pthread_t tid;
	int err = pthread_create(&tid, NULL, fn, arg);

	CHECK(err == 0);
	return tid;
}

static inline void *join_thread(pthread_t tid)
{
	void *ret;

	CHECK(pthread_join(tid, &ret) == 0);
	return ret;
}

static inline void *xmalloc(size_t n)
{
	void *p = malloc(n);

	CHECK(p != NULL);
	return p;
}

/* xorshift64: cheap per-thread randomness, reproducible from a seed. */
static inline uint64_t rnd_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Scale of the threaded tests: CCHAIN_TEST_SCALE in percent (default 100). */
static inline unsigned long test_scale(unsigned long n)
{
	const char *s = getenv("CCHAIN_TEST_SCALE");
	unsigned long pct = s ? strtoul(s, NULL, 10) : 100;

	n = n * (pct ? pct : 100) / 100;
	return n ? n : 1;
}

#endif /* CCHAIN_TESTS_UTIL_H */
