// SPDX-License-Identifier: MIT
/*
 * Per-chain statistics: switching them on and off, each counter against a
 * known sequence of operations, the head's age (timed and lower bound),
 * waits, deferred runs, the table's limit, and counts that add up after
 * concurrent use.
 */
#include <stdatomic.h>

#include "util.h"
#include "misuse-recorder.h"

static struct compl_chain_stats get(struct compl_chain *chain)
{
	struct compl_chain_stats st;

	assert_int_equal(compl_chain_get_stats(chain, &st), 0);
	return st;
}

static void test_on_off(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry e;
	struct compl_chain_stats st;

	(void)state;
	assert_int_equal(compl_chain_get_stats(&chain, &st), ENOENT);
	assert_int_equal(compl_chain_stats_enable(&chain), 0);
	st = get(&chain);
	assert_int_equal(st.adds, 0);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.head_age_ns, 0);
	compl_chain_add(&chain, &e);
	compl_chain_complete(&e);
	/* Enabling again keeps the counts. */
	assert_int_equal(compl_chain_stats_enable(&chain), 0);
	assert_int_equal(get(&chain).adds, 1);
	compl_chain_stats_disable(&chain);
	assert_int_equal(compl_chain_get_stats(&chain, &st), ENOENT);
	compl_chain_stats_disable(&chain); /* off already: nothing */
	/* destroy switches them off too. */
	assert_int_equal(compl_chain_stats_enable(&chain), 0);
	compl_chain_destroy(&chain);
	compl_chain_init(&chain);
	assert_int_equal(compl_chain_get_stats(&chain, &st), ENOENT);
	compl_chain_destroy(&chain);
}

static void test_counters(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	DEFINE_COMPL_CHAIN(other);
	struct compl_chain_entry e[4], o, o2;
	struct compl_chain_stats st;
	uint64_t t;

	(void)state;
	assert_int_equal(compl_chain_stats_enable(&chain), 0);
	compl_chain_add(&chain, &e[0]); /* lock-free: the turn untimed */
	compl_chain_add(&chain, &e[1]);
	compl_chain_add(&chain, &e[2]);
	compl_chain_add(&chain, &e[3]);
	/* Another chain, without statistics, works alongside (locked paths too). */
	compl_chain_add(&other, &o);
	compl_chain_add(&other, &o2);
	compl_chain_complete(&o);
	compl_chain_complete(&o2);
	assert_int_equal(compl_chain_get_stats(&other, &st), ENOENT);

	st = get(&chain);
	assert_int_equal(st.adds, 4);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.max_entries, 4);
	compl_chain_cancel(&e[2]);
	compl_chain_complete(&e[0]); /* hands the turn to e[1], timed */
	sleep_ns(20 * MS);
	st = get(&chain);
	assert_int_equal(st.adds, 4);
	assert_int_equal(st.completes, 1);
	assert_int_equal(st.cancels, 1);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.max_entries, 4);
	assert_true(st.head_age_exact);
	assert_true(st.head_age_ns >= 20 * MS);
	assert_true(st.head_age_ns < 20 * 1000 * MS);
	t = now_ns();
	compl_chain_cancel(&e[1]); /* the head: the turn goes to e[3] */
	st = get(&chain);
	assert_int_equal(st.cancels, 2);
	assert_true(st.head_age_exact);
	assert_true(st.head_age_ns <= now_ns() - t);
	compl_chain_complete(&e[3]);
	st = get(&chain);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.completes, 2);
	assert_int_equal(st.head_age_ns, 0);
	assert_int_equal(st.waits, 0);
	compl_chain_destroy(&chain);
	compl_chain_destroy(&other);
}

/* A head that got the turn by a lock-free add: its age is a lower bound. */
static void test_head_age_lockfree(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry a, b;
	struct compl_chain_stats st;
	uint64_t t;

	(void)state;
	assert_int_equal(compl_chain_stats_enable(&chain), 0);
	compl_chain_add(&chain, &a);
	st = get(&chain);
	assert_false(st.head_age_exact);
	sleep_ns(10 * MS);
	st = get(&chain);
	assert_false(st.head_age_exact);
	assert_true(st.head_age_ns >= 10 * MS);
	/* The same entry, completed and added again: a new head, a new age. */
	t = now_ns();
	compl_chain_complete(&a);
	compl_chain_add(&chain, &a);
	st = get(&chain);
	assert_true(st.head_age_ns <= now_ns() - t);
	/* An add behind it notes the head first. */
	compl_chain_complete(&a);
	compl_chain_add(&chain, &a);
	sleep_ns(10 * MS);
	compl_chain_add(&chain, &b);
	sleep_ns(10 * MS);
	st = get(&chain);
	assert_false(st.head_age_exact);
	assert_true(st.head_age_ns >= 10 * MS);
	assert_true(st.head_age_ns < 20 * 1000 * MS);
	compl_chain_complete(&a);
	compl_chain_complete(&b);
	compl_chain_destroy(&chain);
}

/*
 * A new turn starts a new age: for the same address after the head was
 * cancelled (not only completed), and for a deferred run that starts at
 * once, on a head the library had not seen.
 */
static struct compl_chain_stats age_in_run;
static DEFINE_COMPL_CHAIN(age_chain);

static void age_reading_fn(struct compl_chain_entry *entry)
{
	(void)entry;
	assert_int_equal(compl_chain_get_stats(&age_chain, &age_in_run), 0);
}

static void test_head_age_new_turns(void **state)
{
	struct compl_chain_entry a, b, d;
	uint64_t t;

	(void)state;
	assert_int_equal(compl_chain_stats_enable(&age_chain), 0);
	compl_chain_add(&age_chain, &a);
	get(&age_chain); /* a seen now */
	sleep_ns(20 * MS);
	compl_chain_cancel(&a);
	t = now_ns();
	compl_chain_add(&age_chain, &a); /* lock-free again, the same address */
	assert_true(get(&age_chain).head_age_ns <= now_ns() - t);

	/* An add behind a head already seen keeps its age. */
	get(&age_chain);
	sleep_ns(20 * MS);
	compl_chain_add(&age_chain, &b);
	assert_true(get(&age_chain).head_age_ns >= 20 * MS);
	compl_chain_cancel(&b);

	/* d, unseen, runs at once: its run's age starts then. */
	get(&age_chain);
	sleep_ns(20 * MS);
	compl_chain_complete(&a);
	t = now_ns();
	compl_chain_add(&age_chain, &d);
	compl_chain_defer(&d, age_reading_fn);
	assert_true(age_in_run.head_age_ns <= now_ns() - t);
	assert_int_equal(age_in_run.deferred_runs, 1);
	assert_true(compl_chain_empty(&age_chain));
	compl_chain_destroy(&age_chain);
}

struct waiter {
	struct compl_chain_entry entry;
	pthread_t tid;
	_Atomic bool about_to_wait;
	uint64_t waited; /* as the waiter measured it, around the call */
};

static void *wait_and_complete(void *arg)
{
	struct waiter *w = arg;
	uint64_t t0 = now_ns();

	atomic_store(&w->about_to_wait, true);
	compl_chain_wait(&w->entry);
	w->waited = now_ns() - t0;
	compl_chain_complete(&w->entry);
	return NULL;
}

static void test_waits(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry head;
	struct waiter w = { .about_to_wait = false };
	struct compl_chain_stats st;

	(void)state;
	assert_int_equal(compl_chain_stats_enable(&chain), 0);
	compl_chain_add(&chain, &head);
	compl_chain_add(&chain, &w.entry);
	w.tid = start_thread(wait_and_complete, &w);
	while (!atomic_load(&w.about_to_wait))
		sleep_ns(MS / 10);
	sleep_ns(300 * MS);
	compl_chain_complete(&head);
	join_thread(w.tid);
	/*
	 * A timed-out wait counts too.  Long enough to reach its sleep under
	 * valgrind, whose first run of a code path may take milliseconds.
	 */
	compl_chain_add(&chain, &head);
	compl_chain_add(&chain, &w.entry);
	assert_int_equal(compl_chain_wait_timeout(&w.entry, 100 * MS), ETIMEDOUT);
	compl_chain_complete(&head);
	compl_chain_complete(&w.entry);
	st = get(&chain);
	assert_int_equal(st.waits, 2);
	assert_int_equal(st.waits_slept, 2);
	/* The library times the wait inside the call the waiter timed. */
	assert_true(st.wait_ns_max <= w.waited);
	assert_true(st.wait_ns_max >= 200 * MS); /* 300 ms, less a preemption */
	assert_true(st.wait_ns_total >= st.wait_ns_max + 50 * MS);
	assert_int_equal(st.completes, 4);
	compl_chain_destroy(&chain);
}

static _Atomic int deferred_calls;

static void deferred_fn(struct compl_chain_entry *entry)
{
	(void)entry;
	atomic_fetch_add(&deferred_calls, 1);
}

/* Read from inside a deferred run: the rest of the run is still pending. */
static struct compl_chain_stats in_run;
static DEFINE_COMPL_CHAIN(run_chain);

static void reading_fn(struct compl_chain_entry *entry)
{
	(void)entry;
	assert_int_equal(compl_chain_get_stats(&run_chain, &in_run), 0);
}

static void test_stats_inside_run(void **state)
{
	struct compl_chain_entry head, d[3], tail;

	(void)state;
	assert_int_equal(compl_chain_stats_enable(&run_chain), 0);
	compl_chain_add(&run_chain, &head);
	compl_chain_add(&run_chain, &d[0]);
	compl_chain_add(&run_chain, &d[1]);
	compl_chain_add(&run_chain, &d[2]);
	compl_chain_add(&run_chain, &tail);
	compl_chain_defer(&d[0], reading_fn);
	compl_chain_defer(&d[1], deferred_fn);
	compl_chain_defer(&d[2], deferred_fn);
	compl_chain_complete(&head);
	/* d[0] runs: d[1] and d[2] are taken off but pending, tail listed. */
	assert_int_equal(in_run.entries, 3);
	assert_int_equal(in_run.adds, 5);
	assert_int_equal(in_run.deferred_runs, 3);
	assert_int_equal(in_run.completes, 1);
	compl_chain_complete(&tail);
	assert_int_equal(get(&run_chain).adds, 5);
	assert_int_equal(get(&run_chain).entries, 0);
	compl_chain_destroy(&run_chain);
}

/*
 * Adds made while a deferred run holds the turn count the run's pending
 * entries too: the most entries at once is the peak, read after it passed.
 */
static DEFINE_COMPL_CHAIN(peak_chain);
static struct compl_chain_entry peak_extra[3];

static void adding_fn(struct compl_chain_entry *entry)
{
	int i;

	(void)entry;
	for (i = 0; i < 3; i++)
		compl_chain_add(&peak_chain, &peak_extra[i]);
	for (i = 0; i < 3; i++)
		compl_chain_cancel(&peak_extra[i]);
}

static void quiet_fn(struct compl_chain_entry *entry)
{
	(void)entry;
}

static void test_peak_during_run(void **state)
{
	struct compl_chain_entry head, d[3];
	struct compl_chain_stats st;

	(void)state;
	assert_int_equal(compl_chain_stats_enable(&peak_chain), 0);
	compl_chain_add(&peak_chain, &head);
	compl_chain_add(&peak_chain, &d[0]);
	compl_chain_add(&peak_chain, &d[1]);
	compl_chain_add(&peak_chain, &d[2]);
	compl_chain_defer(&d[0], adding_fn);
	compl_chain_defer(&d[1], quiet_fn);
	compl_chain_defer(&d[2], quiet_fn);
	assert_int_equal(get(&peak_chain).max_entries, 4);
	compl_chain_complete(&head);
	/* In d[0]'s function: d[1] and d[2] pending (as in_run counts), then 3 more. */
	st = get(&peak_chain);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.max_entries, 5);
	assert_int_equal(st.cancels, 3);
	compl_chain_destroy(&peak_chain);
}

/*
 * The first entry added while a deferred run holds the turn counts at once
 * towards the peak, with the run's entries still to come.  Statistics are
 * switched on after the adds, so that the peak is the run's own.
 */
static DEFINE_COMPL_CHAIN(late_chain);
static struct compl_chain_entry late_extra;

static void late_adding_fn(struct compl_chain_entry *entry)
{
	(void)entry;
	compl_chain_add(&late_chain, &late_extra);
	compl_chain_cancel(&late_extra);
}

static void test_peak_counted_late(void **state)
{
	struct compl_chain_entry head, d[2];
	struct compl_chain_stats st;

	(void)state;
	compl_chain_add(&late_chain, &head);
	compl_chain_add(&late_chain, &d[0]);
	compl_chain_add(&late_chain, &d[1]);
	assert_int_equal(compl_chain_stats_enable(&late_chain), 0);
	compl_chain_defer(&d[0], late_adding_fn);
	compl_chain_defer(&d[1], quiet_fn);
	compl_chain_complete(&head);
	/* In d[0]'s function: d[1] pending and the extra entry, 2 at once. */
	st = get(&late_chain);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.max_entries, 2);
	compl_chain_destroy(&late_chain);
}

/*
 * Entries added while a deferred run holds the turn do not take the turn's
 * timing over: the run's age stays exact, from the hand-over.
 */
static DEFINE_COMPL_CHAIN(timed_chain);
static struct compl_chain_entry timed_extra[2];
static struct compl_chain_stats timed_in_run;

static void timed_adding_fn(struct compl_chain_entry *entry)
{
	(void)entry;
	compl_chain_add(&timed_chain, &timed_extra[0]);
	compl_chain_add(&timed_chain, &timed_extra[1]);
	assert_int_equal(compl_chain_get_stats(&timed_chain, &timed_in_run), 0);
}

static void test_run_age_with_adds(void **state)
{
	struct compl_chain_entry head, d;

	(void)state;
	assert_int_equal(compl_chain_stats_enable(&timed_chain), 0);
	compl_chain_add(&timed_chain, &head);
	compl_chain_add(&timed_chain, &d);
	compl_chain_defer(&d, timed_adding_fn);
	compl_chain_complete(&head);
	assert_int_equal(timed_in_run.entries, 2);
	assert_true(timed_in_run.head_age_exact);
	compl_chain_complete(&timed_extra[0]);
	compl_chain_complete(&timed_extra[1]);
	compl_chain_destroy(&timed_chain);
}

/*
 * An add to an empty chain that compl_chain_dump() has pinned takes the
 * lock, and the turn with it: its age is timed, exact.  The add is made
 * from the dump's output, once the adding thread waits for the lock.
 */
struct pinned_add {
	struct compl_chain *chain;
	struct compl_chain_entry e;
	pthread_t thread;
	atomic_int added;
	bool started, added_during_dump;
};

static void *pinned_add_thread(void *arg)
{
	struct pinned_add *p = arg;

	compl_chain_add(p->chain, &p->e);
	atomic_store(&p->added, 1);
	return NULL;
}

static ssize_t pinned_add_write(void *cookie, const char *buf, size_t len)
{
	struct pinned_add *p = cookie;
	struct timespec pause = { 0, 1000 * 1000 };
	int i;

	(void)buf;
	if (!p->started) {
		p->started = true;
		CHECK(pthread_create(&p->thread, NULL, pinned_add_thread, p) == 0);
		/* glibc's lock word is 2 once a thread waits for the mutex. */
		for (i = 0; i < 20000 && !atomic_load(&p->added) &&
			    __atomic_load_n(&p->chain->lock.__data.__lock, __ATOMIC_RELAXED) != 2;
		     i++)
			nanosleep(&pause, NULL);
	}
	if (atomic_load(&p->added))
		p->added_during_dump = true;
	return (ssize_t)len;
}

static void test_add_during_dump_timed(void **state)
{
	struct compl_chain chain;
	struct pinned_add p = { .chain = &chain };
	cookie_io_functions_t io = { .write = pinned_add_write };
	struct compl_chain_stats st;
	FILE *f;

	(void)state;
	compl_chain_init(&chain);
	assert_int_equal(compl_chain_stats_enable(&chain), 0);
	f = fopencookie(&p, "w", io);
	assert_non_null(f);
	setvbuf(f, NULL, _IONBF, 0);
	compl_chain_dump(&chain, f);
	fclose(f);
	pthread_join(p.thread, NULL);
	assert_false(p.added_during_dump);
	assert_true(compl_chain_try_wait(&p.e));
	st = get(&chain);
	assert_int_equal(st.entries, 1);
	assert_true(st.head_age_exact);
	compl_chain_complete(&p.e);
	compl_chain_destroy(&chain);
}

/*
 * Only a wait that sleeps counts as slept: a wait refused (EDEADLK, from a
 * deferred function of the chain) after one that slept does not.  A timeout
 * of 0 returns at once, uncounted; 1 ns is a wait.
 */
static DEFINE_COMPL_CHAIN(slept_chain);
static struct compl_chain_entry slept_later;

static void waiting_fn(struct compl_chain_entry *entry)
{
	(void)entry;
	compl_chain_wait(&slept_later);
}

static void test_waits_slept_only(void **state)
{
	struct compl_chain_entry head, d;
	struct compl_chain_stats st;
	uint64_t slept;

	(void)state;
	assert_int_equal(compl_chain_stats_enable(&slept_chain), 0);
	compl_chain_add(&slept_chain, &head);
	compl_chain_add(&slept_chain, &d);
	assert_int_equal(compl_chain_wait_timeout(&d, 0), ETIMEDOUT);
	assert_int_equal(get(&slept_chain).waits, 0);
	assert_int_equal(compl_chain_wait_timeout(&d, 1), ETIMEDOUT);
	st = get(&slept_chain);
	assert_int_equal(st.waits, 1);
	/* Whether a 1 ns wait reaches its sleep depends on the backend. */
	slept = st.waits_slept;
	assert_true(slept <= 1);
	/* Long enough to reach its sleep (see test_waits). */
	assert_int_equal(compl_chain_wait_timeout(&d, 100 * MS), ETIMEDOUT);
	st = get(&slept_chain);
	assert_int_equal(st.waits, 2);
	assert_int_equal(st.waits_slept, slept + 1);
	compl_chain_add(&slept_chain, &slept_later);
	compl_chain_defer(&d, waiting_fn);
	compl_chain_complete(&head);
	assert_int_equal(misuse_count, 1);
	misuse_count = 0;
	st = get(&slept_chain);
	assert_int_equal(st.waits, 3);
	assert_int_equal(st.waits_slept, slept + 1);
	compl_chain_complete(&slept_later);
	compl_chain_destroy(&slept_chain);
}

static void test_deferred_runs(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry head, d[3];
	struct compl_chain_stats st;

	(void)state;
	assert_int_equal(compl_chain_stats_enable(&chain), 0);
	compl_chain_add(&chain, &head);
	compl_chain_add(&chain, &d[0]);
	compl_chain_add(&chain, &d[1]);
	compl_chain_defer(&d[0], deferred_fn);
	compl_chain_defer(&d[1], deferred_fn);
	assert_int_equal(get(&chain).entries, 3);
	compl_chain_complete(&head);
	/* At the head already: runs at once. */
	compl_chain_add(&chain, &d[2]);
	compl_chain_defer(&d[2], deferred_fn);
	assert_int_equal(atomic_load(&deferred_calls), 3);
	st = get(&chain);
	assert_int_equal(st.deferred_runs, 3);
	assert_int_equal(st.adds, 4);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.max_entries, 3);
	compl_chain_destroy(&chain);
}

static void test_table_limit(void **state)
{
	static struct compl_chain chains[65];
	int i;

	(void)state;
	for (i = 0; i < 64; i++) {
		compl_chain_init(&chains[i]);
		assert_int_equal(compl_chain_stats_enable(&chains[i]), 0);
	}
	compl_chain_init(&chains[64]);
	assert_int_equal(compl_chain_stats_enable(&chains[64]), ENOSPC);
	compl_chain_stats_disable(&chains[3]);
	assert_int_equal(compl_chain_stats_enable(&chains[64]), 0);
	for (i = 0; i < 65; i++)
		compl_chain_destroy(&chains[i]);
	for (i = 0; i < 65; i++) {
		struct compl_chain_stats st;

		assert_int_equal(compl_chain_get_stats(&chains[i], &st), ENOENT);
	}
}

/* Threads add, wait and complete on one chain; a reader samples meanwhile. */
#define WORKERS 4
static DEFINE_COMPL_CHAIN(shared);
static _Atomic bool stop_reading;

static void *worker(void *arg)
{
	int i, n = (int)(intptr_t)arg;
	struct compl_chain_entry e;

	for (i = 0; i < n; i++) {
		compl_chain_add(&shared, &e);
		compl_chain_wait(&e);
		compl_chain_complete(&e);
	}
	return NULL;
}

static void *reader(void *arg)
{
	struct compl_chain_stats st;

	(void)arg;
	while (!atomic_load(&stop_reading)) {
		CHECK(compl_chain_get_stats(&shared, &st) == 0);
		CHECK(st.entries <= WORKERS + 1);
		sleep_ns(MS / 10);
	}
	return NULL;
}

static void test_concurrent_counts(void **state)
{
	int n = 2000 * (getenv("CCHAIN_TEST_SCALE") ? 1 : 5);
	pthread_t tids[WORKERS], rd;
	struct compl_chain_stats st;
	int i;

	(void)state;
	assert_int_equal(compl_chain_stats_enable(&shared), 0);
	rd = start_thread(reader, NULL);
	for (i = 0; i < WORKERS; i++)
		tids[i] = start_thread(worker, (void *)(intptr_t)n);
	for (i = 0; i < WORKERS; i++)
		join_thread(tids[i]);
	atomic_store(&stop_reading, true);
	join_thread(rd);
	st = get(&shared);
	assert_int_equal(st.adds, (uint64_t)WORKERS * n);
	assert_int_equal(st.completes, (uint64_t)WORKERS * n);
	assert_int_equal(st.entries, 0);
	assert_true(st.max_entries >= 1 && st.max_entries <= WORKERS);
	assert_true(st.waits_slept <= st.waits);
	assert_true(st.waits <= (uint64_t)WORKERS * n);
	compl_chain_destroy(&shared);
}

/* The statistics calls given NULL: misuse, and EINVAL where they return a value. */
static void test_null_arguments(void **state)
{
	struct compl_chain chain;
	struct compl_chain_stats st;

	(void)state;
	compl_chain_init(&chain);
	assert_int_equal(compl_chain_stats_enable(NULL), EINVAL);
	assert_null_misuse("compl_chain_stats_enable", "chain");
	compl_chain_stats_disable(NULL);
	assert_null_misuse("compl_chain_stats_disable", "chain");
	assert_int_equal(compl_chain_get_stats(NULL, &st), EINVAL);
	assert_null_misuse("compl_chain_get_stats", "chain");
	assert_int_equal(compl_chain_stats_enable(&chain), 0);
	assert_int_equal(compl_chain_get_stats(&chain, NULL), EINVAL);
	assert_null_misuse("compl_chain_get_stats", "stats");
	assert_int_equal(compl_chain_get_stats(&chain, &st), 0);
	compl_chain_destroy(&chain);
	assert_int_equal(misuse_count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_on_off),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_head_age_lockfree),
		cmocka_unit_test(test_waits),
		cmocka_unit_test(test_head_age_new_turns),
		cmocka_unit_test(test_peak_during_run),
		cmocka_unit_test(test_deferred_runs),
		cmocka_unit_test(test_peak_counted_late),
		cmocka_unit_test(test_run_age_with_adds),
		cmocka_unit_test(test_add_during_dump_timed),
		cmocka_unit_test_setup_teardown(test_waits_slept_only, setup_recorder, restore_default),
		cmocka_unit_test(test_stats_inside_run),
		cmocka_unit_test(test_table_limit),
		cmocka_unit_test(test_concurrent_counts),
		cmocka_unit_test_setup_teardown(test_null_arguments, setup_recorder,
						restore_default),
	};

	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
