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

/*
 * Run fn(arg) on a new thread and wait up to @timeout_ns for it to return.
 * Return: true if it returned in time.  Otherwise the thread is left
 * behind, detached, still blocked (a deadlock, for the caller to report):
 * whatever it uses must stay valid, so @arg should not live on the stack.
 */
struct bounded_run {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done, abandoned;
	void (*fn)(void *);
	void *arg;
};

static inline void *bounded_run_thread(void *p)
{
	struct bounded_run *r = p;
	bool abandoned;

	r->fn(r->arg);
	CHECK(pthread_mutex_lock(&r->lock) == 0);
	r->done = true;
	abandoned = r->abandoned;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	if (abandoned)
		free(r);
	return NULL;
}

static inline bool run_bounded(void (*fn)(void *), void *arg, uint64_t timeout_ns)
{
	struct bounded_run *r = calloc(1, sizeof(*r));
	uint64_t deadline = now_ns() + timeout_ns;
	pthread_condattr_t attr;
	struct timespec ts;
	pthread_t tid;
	bool done;

	CHECK(r != NULL);
	r->fn = fn;
	r->arg = arg;
	CHECK(pthread_mutex_init(&r->lock, NULL) == 0);
	CHECK(pthread_condattr_init(&attr) == 0);
	CHECK(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0);
	CHECK(pthread_cond_init(&r->cond, &attr) == 0);
	pthread_condattr_destroy(&attr);
	ts.tv_sec = (time_t)(deadline / 1000000000u);
	ts.tv_nsec = (long)(deadline % 1000000000u);
	CHECK(pthread_create(&tid, NULL, bounded_run_thread, r) == 0);
	CHECK(pthread_mutex_lock(&r->lock) == 0);
	while (!r->done && pthread_cond_timedwait(&r->cond, &r->lock, &ts) != ETIMEDOUT)
		;
	done = r->done;
	r->abandoned = !done;
	pthread_mutex_unlock(&r->lock);
	if (!done) {
		pthread_detach(tid);
		return false;
	}
	join_thread(tid);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return true;
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

/*
 * A FIFO of work items from one producer to worker threads.  Items embed a
 * struct work_node; work_pop() blocks, and returns NULL once the queue is
 * closed and empty.
 */
struct work_node {
	struct work_node *next;
};

/* The item of type @type whose member @member is the node @n. */
#define work_item(n, type, member) ((type *)((char *)(n) - offsetof(type, member)))

struct work_queue {
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct work_node *first, **last;
	bool closing;
};

static inline void work_init(struct work_queue *q)
{
	CHECK(pthread_mutex_init(&q->lock, NULL) == 0);
	CHECK(pthread_cond_init(&q->more, NULL) == 0);
	q->first = NULL;
	q->last = &q->first;
	q->closing = false;
}

static inline void work_push(struct work_queue *q, struct work_node *n)
{
	CHECK(pthread_mutex_lock(&q->lock) == 0);
	n->next = NULL;
	*q->last = n;
	q->last = &n->next;
	pthread_cond_signal(&q->more);
	pthread_mutex_unlock(&q->lock);
}

static inline struct work_node *work_pop(struct work_queue *q)
{
	struct work_node *n;

	CHECK(pthread_mutex_lock(&q->lock) == 0);
	while (!q->first && !q->closing)
		pthread_cond_wait(&q->more, &q->lock);
	n = q->first;
	if (n) {
		q->first = n->next;
		if (!q->first)
			q->last = &q->first;
	}
	pthread_mutex_unlock(&q->lock);
	return n;
}

/* No more items: the workers return once they have taken the rest. */
static inline void work_close(struct work_queue *q)
{
	CHECK(pthread_mutex_lock(&q->lock) == 0);
	q->closing = true;
	pthread_cond_broadcast(&q->more);
	pthread_mutex_unlock(&q->lock);
}

static inline void work_destroy(struct work_queue *q)
{
	pthread_cond_destroy(&q->more);
	pthread_mutex_destroy(&q->lock);
}

#endif /* CCHAIN_TESTS_UTIL_H */
