// SPDX-License-Identifier: MIT
/*
 * The kernel-style async layer: cookies, domains, synchronisation on full
 * domains and on cookies, the concurrency limit, thread reuse, shutdown
 * and restart.
 */
#include <stdatomic.h>

#include "util.h"
#include "misuse-recorder.h"

#include <cchain/async.h>

/* A gate that async functions block on until the main thread opens it. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool open;
};

#define GATE_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false }

static void gate_wait(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

struct call {
	struct gate *gate;
	async_cookie_t cookie;     /* as passed to the function */
	bool was_async;
	uint64_t sleep;
	_Atomic bool done;
};

static void call_fn(void *data, async_cookie_t cookie)
{
	struct call *c = data;

	c->cookie = cookie;
	c->was_async = current_is_async();
	if (c->gate)
		gate_wait(c->gate);
	if (c->sleep)
		sleep_ns(c->sleep);
	atomic_store(&c->done, true);
}

static void test_cookies_and_full_sync(void **state)
{
	ASYNC_DOMAIN(domain);
	struct call calls[50];
	async_cookie_t cookies[50];
	int i;

	(void)state;
	memset(calls, 0, sizeof(calls));
	assert_false(current_is_async());
	for (i = 0; i < 50; i++) {
		calls[i].sleep = (uint64_t)(i % 5) * MS;
		cookies[i] = async_schedule_domain(call_fn, &calls[i], &domain);
		/* Monotonic: every call gets a larger cookie. */
		if (i)
			assert_true(cookies[i] > cookies[i - 1]);
	}
	async_synchronize_full_domain(&domain);
	for (i = 0; i < 50; i++) {
		assert_true(atomic_load(&calls[i].done));
		assert_true(calls[i].was_async);
		/* The function got the cookie that the call returned. */
		assert_int_equal(calls[i].cookie, cookies[i]);
	}
}

struct syncer {
	async_cookie_t cookie;
	struct async_domain *domain;
	int full; /* 1: async_synchronize_full() */
	_Atomic bool done;
};

static void *syncer_fn(void *arg)
{
	struct syncer *s = arg;

	if (s->full)
		async_synchronize_full();
	else
		async_synchronize_cookie_domain(s->cookie, s->domain);
	atomic_store(&s->done, true);
	return NULL;
}

static void test_sync_cookie_waits_for_lower_only(void **state)
{
	ASYNC_DOMAIN(domain);
	struct gate g1 = GATE_INIT, g3 = GATE_INIT;
	struct call c1 = { .gate = &g1 }, c2 = { 0 }, c3 = { .gate = &g3 };
	struct syncer s = { .domain = &domain };
	async_cookie_t k3;
	pthread_t t;

	(void)state;
	async_schedule_domain(call_fn, &c1, &domain);
	async_schedule_domain(call_fn, &c2, &domain);
	k3 = async_schedule_domain(call_fn, &c3, &domain);
	/* Waits for c1 and c2 (lower cookies), not for c3 itself. */
	s.cookie = k3;
	t = start_thread(syncer_fn, &s);
	sleep_ns(30 * MS);
	assert_false(atomic_load(&s.done));
	gate_open(&g1);
	join_thread(t);
	assert_true(atomic_load(&c1.done));
	assert_true(atomic_load(&c2.done));
	assert_false(atomic_load(&c3.done));
	gate_open(&g3);
	async_synchronize_full_domain(&domain);
	assert_true(atomic_load(&c3.done));
}

static void test_exclusive_domain_not_in_full(void **state)
{
	ASYNC_DOMAIN_EXCLUSIVE(excl);
	ASYNC_DOMAIN(reg);
	struct gate ge = GATE_INIT, gr = GATE_INIT;
	struct call ce = { .gate = &ge }, cr = { .gate = &gr };
	struct syncer s = { .full = 1 };
	pthread_t t;

	(void)state;
	async_schedule_domain(call_fn, &ce, &excl);
	async_schedule_domain(call_fn, &cr, &reg);
	t = start_thread(syncer_fn, &s);
	sleep_ns(30 * MS);
	/* The registered domain's call holds async_synchronize_full() up... */
	assert_false(atomic_load(&s.done));
	gate_open(&gr);
	/* ...the exclusive one does not. */
	join_thread(t);
	assert_false(atomic_load(&ce.done));
	gate_open(&ge);
	async_synchronize_full_domain(&excl);
	assert_true(atomic_load(&ce.done));
}

static void test_default_domain(void **state)
{
	struct call c = { .sleep = 5 * MS };
	async_cookie_t k;

	(void)state;
	k = async_schedule(call_fn, &c);
	async_synchronize_cookie(k + 1);
	assert_true(atomic_load(&c.done));
	assert_int_equal(c.cookie, k);
	async_synchronize_full();
}

/* Concurrency limit and thread reuse. */

static _Atomic int running, max_running;

static void limited_fn(void *data, async_cookie_t cookie)
{
	int now = atomic_fetch_add(&running, 1) + 1, seen;

	(void)data;
	(void)cookie;
	seen = atomic_load(&max_running);
	while (now > seen && !atomic_compare_exchange_weak(&max_running, &seen, now))
		;
	sleep_ns(2 * MS);
	atomic_fetch_sub(&running, 1);
}

static void test_max_active(void **state)
{
	ASYNC_DOMAIN(domain);
	int i;

	(void)state;
	assert_int_equal(cchain_async_max_active(), 512);
	assert_int_equal(cchain_async_set_max_active(0), EINVAL);
	assert_int_equal(cchain_async_set_max_active(4), 0);
	assert_int_equal(cchain_async_max_active(), 4);
	atomic_store(&max_running, 0);
	for (i = 0; i < 40; i++)
		async_schedule_domain(limited_fn, NULL, &domain);
	async_synchronize_full_domain(&domain);
	assert_true(atomic_load(&max_running) <= 4);
	assert_true(atomic_load(&max_running) >= 2);
	/* Raising the limit starts queued calls at once. */
	atomic_store(&max_running, 0);
	assert_int_equal(cchain_async_set_max_active(1), 0);
	for (i = 0; i < 16; i++)
		async_schedule_domain(limited_fn, NULL, &domain);
	assert_int_equal(cchain_async_set_max_active(8), 0);
	async_synchronize_full_domain(&domain);
	assert_true(atomic_load(&max_running) <= 8);
	assert_true(atomic_load(&max_running) >= 2);
	assert_int_equal(cchain_async_set_max_active(512), 0);
}

static int process_threads(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int n = -1;

	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	CHECK(n > 0);
	return n;
}

static void test_threads_reused(void **state)
{
	ASYNC_DOMAIN(domain);
	int round, i, before;

	(void)state;
	before = process_threads();
	for (round = 0; round < 20; round++) {
		for (i = 0; i < 4; i++)
			async_schedule_domain(limited_fn, NULL, &domain);
		async_synchronize_full_domain(&domain);
	}
	/* 80 calls, 4 at a time: idle workers were reused, not replaced. */
	assert_true(process_threads() <= before + 4);
}

/* The seed's pattern: a domain on the stack, synchronised before return. */
static _Atomic int stack_sum;

static void add_fn(void *data, async_cookie_t cookie)
{
	(void)cookie;
	atomic_fetch_add(&stack_sum, (int)(intptr_t)data);
}

static void scan_like(int n)
{
	ASYNC_DOMAIN(domain);
	int i;

	for (i = 1; i <= n; i++)
		async_schedule_domain(add_fn, (void *)(intptr_t)i, &domain);
	async_synchronize_full_domain(&domain);
}

static void test_stack_domain(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 50; i++) {
		atomic_store(&stack_sum, 0);
		scan_like(100);
		assert_int_equal(atomic_load(&stack_sum), 5050);
	}
}

/* Async functions may schedule more work, as the kernel allows. */
struct nest {
	struct async_domain *domain;
	struct call child;
	_Atomic bool child_done_seen;
};

static void nest_fn(void *data, async_cookie_t cookie)
{
	struct nest *n = data;

	(void)cookie;
	async_schedule_domain(call_fn, &n->child, n->domain);
}

static void test_nested_schedule(void **state)
{
	ASYNC_DOMAIN(domain);
	struct nest n = { .domain = &domain, .child = { .sleep = 5 * MS } };

	(void)state;
	async_schedule_domain(nest_fn, &n, &domain);
	async_synchronize_full_domain(&domain);
	assert_true(atomic_load(&n.child.done));
}

/* Threads before the first test: the caller. */
static int main_threads;

/* TSan starts a thread of its own once the program starts one. */
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define RUNTIME_THREADS 1
#else
#define RUNTIME_THREADS 0
#endif

/* Shutdown waits for every domain's calls, then leaves only the caller. */
static void test_shutdown_and_restart(void **state)
{
	ASYNC_DOMAIN_EXCLUSIVE(excl);
	ASYNC_DOMAIN(reg);
	struct call calls[8] = { { 0 } };
	int round, i, base_threads;

	(void)state;
	/* Earlier tests' idle workers go too. */
	cchain_async_shutdown();
	base_threads = process_threads();
	assert_true(base_threads <= main_threads + RUNTIME_THREADS);
	for (round = 0; round < 3; round++) {
		for (i = 0; i < 8; i++) {
			atomic_store(&calls[i].done, false);
			calls[i].sleep = (uint64_t)(i + 1) * 2 * MS;
			if (i % 3 == 0)
				async_schedule(call_fn, &calls[i]);
			else
				async_schedule_domain(call_fn, &calls[i], i % 3 == 1 ? &excl : &reg);
		}
		/* Workers started again (each call sleeps for milliseconds). */
		assert_true(process_threads() > base_threads);
		cchain_async_shutdown();
		for (i = 0; i < 8; i++) {
			assert_true(atomic_load(&calls[i].done));
			/* A plain write of the function: TSan checks the ordering. */
			assert_true(calls[i].was_async);
		}
		assert_int_equal(process_threads(), base_threads);
	}
	/* With no worker at all, it returns at once. */
	cchain_async_shutdown();
	assert_int_equal(process_threads(), base_threads);
}

static void *unregister_fn(void *arg)
{
	async_unregister_domain(arg);
	return NULL;
}

/*
 * With a call pending, unregistering is misuse and the domain stays
 * registered (async_synchronize_full() still waits for it); once it has
 * none, a call from another thread makes it exclusive.
 */
static void test_unregister_domain(void **state)
{
	ASYNC_DOMAIN(domain);
	struct gate g1 = GATE_INIT, g2 = GATE_INIT;
	struct call c1 = { .gate = &g1 }, c2 = { .gate = &g2 };
	struct syncer s = { .full = 1 };
	pthread_t t;

	(void)state;
	async_schedule_domain(call_fn, &c1, &domain);
	async_unregister_domain(&domain);
	assert_int_equal(misuse_count, 1);
	assert_string_equal(misuse_func, "async_unregister_domain");
	t = start_thread(syncer_fn, &s);
	sleep_ns(30 * MS);
	assert_false(atomic_load(&s.done));
	gate_open(&g1);
	join_thread(t);
	assert_true(atomic_load(&c1.done));

	join_thread(start_thread(unregister_fn, &domain));
	assert_int_equal(misuse_count, 1);
	async_schedule_domain(call_fn, &c2, &domain);
	async_synchronize_full(); /* exclusive now: not waited for */
	assert_false(atomic_load(&c2.done));
	gate_open(&g2);
	async_synchronize_full_domain(&domain);
	assert_true(atomic_load(&c2.done));
}

static void shutdown_fn(void *data, async_cookie_t cookie)
{
	(void)data;
	(void)cookie;
	cchain_async_shutdown();
}

static void test_shutdown_from_async_is_misuse(void **state)
{
	ASYNC_DOMAIN(domain);

	(void)state;
	async_schedule_domain(shutdown_fn, NULL, &domain);
	async_synchronize_full_domain(&domain);
	assert_int_equal(misuse_count, 1);
	assert_string_equal(misuse_func, "cchain_async_shutdown");
	cchain_async_shutdown();
}

static atomic_int null_test_calls;

static void count_call(void *data, async_cookie_t cookie)
{
	(void)data;
	(void)cookie;
	atomic_fetch_add(&null_test_calls, 1);
}

/* The async calls given NULL: misuse, cookie 0, nothing run. */
static void test_null_arguments(void **state)
{
	ASYNC_DOMAIN_EXCLUSIVE(domain);

	(void)state;
	assert_int_equal(async_schedule(NULL, NULL), 0);
	assert_null_misuse("async_schedule", "func");
	assert_int_equal(async_schedule_domain(NULL, NULL, &domain), 0);
	assert_null_misuse("async_schedule_domain", "func");
	assert_int_equal(async_schedule_domain(count_call, NULL, NULL), 0);
	assert_null_misuse("async_schedule_domain", "domain");
	async_unregister_domain(NULL);
	assert_null_misuse("async_unregister_domain", "domain");
	/* NULL is documented for these: every registered domain. */
	async_synchronize_full_domain(NULL);
	async_synchronize_cookie_domain(ASYNC_COOKIE_MAX, NULL);
	assert_int_equal(misuse_count, 0);
	async_synchronize_full_domain(&domain);
	assert_int_equal(atomic_load(&null_test_calls), 0);
	assert_null(domain.first);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cookies_and_full_sync),
		cmocka_unit_test(test_sync_cookie_waits_for_lower_only),
		cmocka_unit_test(test_exclusive_domain_not_in_full),
		cmocka_unit_test(test_default_domain),
		cmocka_unit_test(test_max_active),
		cmocka_unit_test(test_threads_reused),
		cmocka_unit_test(test_stack_domain),
		cmocka_unit_test(test_nested_schedule),
		cmocka_unit_test(test_shutdown_and_restart),
		cmocka_unit_test_setup_teardown(test_unregister_domain, setup_recorder,
						restore_default),
		cmocka_unit_test_setup_teardown(test_shutdown_from_async_is_misuse,
						setup_recorder, restore_default),
		cmocka_unit_test_setup_teardown(test_null_arguments, setup_recorder,
						restore_default),
	};

	main_threads = process_threads();
	return cmocka_run_group_tests_name("async", tests, NULL, NULL);
}
