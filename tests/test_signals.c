// SPDX-License-Identifier: MIT
/*
 * Signals: a waiter whose sleep is interrupted by a signal handler (EINTR
 * from the futex) keeps waiting and keeps its place; a timed wait is not
 * cut short by signals either.
 */
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "util.h"

static _Atomic unsigned long handled;

static void on_signal(int sig)
{
	(void)sig;
	atomic_fetch_add(&handled, 1);
}

static void install_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the futex wait returns EINTR */
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
}

struct waiter {
	struct compl_chain_entry *entry;
	uint64_t timeout; /* 0: compl_chain_wait */
	int ret;
	uint64_t elapsed;
	_Atomic bool started, done;
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;
	uint64_t t0 = now_ns();

	atomic_store(&w->started, true);
	if (w->timeout)
		w->ret = compl_chain_wait_timeout(w->entry, w->timeout);
	else
		compl_chain_wait(w->entry);
	w->elapsed = now_ns() - t0;
	atomic_store(&w->done, true);
	return NULL;
}

/*
 * Install the handler; add @a, @b and @c (if not NULL) to @chain; start
 * @w's thread waiting on its entry, and give it time to fall asleep.
 */
static pthread_t start_waiting(struct compl_chain *chain, struct compl_chain_entry *a,
			       struct compl_chain_entry *b, struct compl_chain_entry *c,
			       struct waiter *w)
{
	pthread_t t;

	install_handler();
	compl_chain_init(chain);
	compl_chain_add(chain, a);
	compl_chain_add(chain, b);
	if (c)
		compl_chain_add(chain, c);
	t = start_thread(waiter_fn, w);
	while (!atomic_load(&w->started))
		sched_yield();
	sleep_ns(20 * MS); /* let it fall asleep */
	return t;
}

/*
 * Signal @t @n times, each once the previous one was handled (pending
 * signals of one kind merge), then give it time to go back to sleep; stop
 * early once *@done says the thread's wait returned.
 * Return: how many were handled.
 */
static unsigned long pelt(pthread_t t, int n, _Atomic bool *done)
{
	unsigned long before = atomic_load(&handled);
	int i;

	for (i = 0; i < n && !atomic_load(done); i++) {
		unsigned long seen = atomic_load(&handled);
		uint64_t deadline = now_ns() + 2000 * MS;

		CHECK(pthread_kill(t, SIGUSR1) == 0);
		while (atomic_load(&handled) == seen && now_ns() < deadline)
			sched_yield();
		sleep_ns(1 * MS);
	}
	return atomic_load(&handled) - before;
}

static void test_wait_survives_signals(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, c;
	struct waiter w = { .entry = &b };
	pthread_t t;

	(void)state;
	t = start_waiting(&chain, &a, &b, &c, &w);
	assert_int_equal(pelt(t, 50, &w.done), 50);
	/* Interrupted 50 times, still waiting, still second in line. */
	assert_false(atomic_load(&w.done));
	assert_true(compl_chain_pending(&b));
	assert_false(compl_chain_try_wait(&c));
	compl_chain_complete(&a);
	join_thread(t);
	assert_true(compl_chain_try_wait(&b));
	assert_false(compl_chain_try_wait(&c));
	compl_chain_complete(&b);
	assert_true(compl_chain_try_wait(&c));
	compl_chain_complete(&c);
	compl_chain_destroy(&chain);
}

static void test_timed_wait_survives_signals(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b;
	struct waiter w = { .entry = &b, .timeout = 150 * MS };
	pthread_t t;

	(void)state;
	t = start_waiting(&chain, &a, &b, NULL, &w);
	assert_true(pelt(t, 30, &w.done) > 0);
	join_thread(t);
	/* Signals neither ended the wait early nor lost the entry's place. */
	assert_int_equal(w.ret, ETIMEDOUT);
	assert_true(w.elapsed >= 150 * MS);
	assert_true(compl_chain_pending(&b));
	compl_chain_complete(&a);
	assert_true(compl_chain_try_wait(&b));
	compl_chain_complete(&b);
	compl_chain_destroy(&chain);
}

static void test_signal_then_turn(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b;
	struct waiter w = { .entry = &b, .timeout = 10000 * MS };
	pthread_t t;

	(void)state;
	t = start_waiting(&chain, &a, &b, NULL, &w);
	assert_int_equal(pelt(t, 10, &w.done), 10);
	compl_chain_complete(&a);
	pelt(t, 3, &w.done); /* may land before or after it wakes: harmless */
	join_thread(t);
	assert_int_equal(w.ret, 0);
	assert_true(w.elapsed < 5000 * MS);
	compl_chain_complete(&b);
	compl_chain_destroy(&chain);
}

/*
 * A shared chain's wait: interrupted 50 times by a signal handler while it
 * sleeps for its turn (EINTR from its futex), it keeps waiting, and the
 * entry keeps its place.  The waiter is a thread of this process, which
 * owns the entries.
 */
struct shared_region {
	struct compl_chain_shared chain;
	struct compl_chain_shared_entry a, b;
};

struct shared_waiter {
	struct compl_chain_shared_entry *entry;
	int ret;
	_Atomic bool started, done;
};

static void *shared_waiter_fn(void *arg)
{
	struct shared_waiter *w = arg;

	atomic_store(&w->started, true);
	w->ret = compl_chain_shared_wait(w->entry);
	atomic_store(&w->done, true);
	return NULL;
}

static void test_shared_wait_survives_signals(void **state)
{
	struct shared_region *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct shared_waiter w = { .ret = -1 };
	pthread_t t;

	(void)state;
	assert_true(r != MAP_FAILED);
	install_handler();
	assert_int_equal(compl_chain_shared_init(&r->chain), 0);
	assert_int_equal(compl_chain_shared_add(&r->chain, &r->a), 1);
	assert_int_equal(compl_chain_shared_add(&r->chain, &r->b), 2);
	w.entry = &r->b;
	t = start_thread(shared_waiter_fn, &w);
	while (!atomic_load(&w.started))
		sched_yield();
	sleep_ns(20 * MS); /* let it fall asleep */
	assert_int_equal(pelt(t, 50, &w.done), 50);
	assert_false(atomic_load(&w.done));
	assert_true(compl_chain_shared_pending(&r->b));
	assert_int_equal(compl_chain_shared_try_wait(&r->b), EBUSY);
	assert_int_equal(compl_chain_shared_complete(&r->a), 0);
	join_thread(t);
	assert_int_equal(w.ret, 0);
	assert_int_equal(compl_chain_shared_complete(&r->b), 0);
	assert_int_equal(compl_chain_shared_destroy(&r->chain), 0);
	assert_int_equal(munmap(r, sizeof(*r)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wait_survives_signals),
		cmocka_unit_test(test_timed_wait_survives_signals),
		cmocka_unit_test(test_signal_then_turn),
		cmocka_unit_test(test_shared_wait_survives_signals),
	};

	return cmocka_run_group_tests_name("signals", tests, NULL, NULL);
}
