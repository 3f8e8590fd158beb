// SPDX-License-Identifier: MIT
/*
 * The bounded window (compl_chain_set_window() and the windowed adds):
 * the limit kept (a single producer against a slow ordered step, checked
 * in the step itself), the try, blocking and timed forms, what counts (plain
 * adds count but never wait; a deferred entry counts until its function is
 * called), room for waiters when the window grows, the low-water mark
 * (hysteresis, waiters woken together), the room watch, directly
 * and through a notifier on epoll, turning the window on and off, misuse,
 * and many producers with defer and cancel in chain order.
 */
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>

#include <cchain/notify.h>

#include "util.h"
#include "misuse-recorder.h"

static bool untouched(const struct compl_chain_entry *e)
{
	static const struct compl_chain_entry zero;

	return memcmp(e, &zero, sizeof(zero)) == 0;
}

/* compl_chain_dump()'s output has @text (@quiet: do not print it if not). */
static bool dump_has_q(struct compl_chain *chain, const char *text, bool quiet)
{
	char buf[4096] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

	CHECK(f != NULL);
	compl_chain_dump(chain, f);
	fclose(f);
	if (!strstr(buf, text) && !quiet)
		fprintf(stderr, "dump without \"%s\":\n%s", text, buf);
	return strstr(buf, text) != NULL;
}

static bool dump_has(struct compl_chain *chain, const char *text)
{
	return dump_has_q(chain, text, false);
}

/* The dump shows @text within 10 s (an adder's thread may start late). */
static bool dump_shows_soon(struct compl_chain *chain, const char *text)
{
	uint64_t end = now_ns() + 10000 * MS;

	while (!dump_has_q(chain, text, true))
		if (now_ns() >= end)
			return dump_has(chain, text);
	return true;
}

/* The room watch's function (and a deferred one). */
static int watch_calls;

static void on_room(struct compl_chain_entry *watch)
{
	(void)watch;
	watch_calls++;
}

static void test_try_add(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry e[3] = { 0 };

	(void)state;
	assert_int_equal(compl_chain_window(&chain), 0);
	assert_int_equal(compl_chain_set_window(&chain, 2), 0);
	assert_int_equal(compl_chain_window(&chain), 2);
	assert_int_equal(compl_chain_window_try_add(&chain, &e[0]), 0);
	assert_int_equal(compl_chain_window_try_add(&chain, &e[1]), 0);
	/* Full: the entry is not added, not even written. */
	assert_int_equal(compl_chain_window_try_add(&chain, &e[2]), EAGAIN);
	assert_true(untouched(&e[2]));
	assert_int_equal(compl_chain_window_add_timeout(&chain, &e[2], 0), EAGAIN);
	assert_true(untouched(&e[2]));
	assert_true(compl_chain_try_wait(&e[0]));
	compl_chain_complete(&e[0]);
	assert_int_equal(compl_chain_window_try_add(&chain, &e[2]), 0);
	/* A cancel makes room too. */
	compl_chain_cancel(&e[2]);
	assert_int_equal(compl_chain_window_try_add(&chain, &e[2]), 0);
	compl_chain_complete(&e[1]);
	compl_chain_complete(&e[2]);
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
}

/* compl_chain_init() on garbage: no window, nothing counted, nobody waiting, no watch. */
static void test_init_on_garbage(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry e[3];
	int i;

	(void)state;
	memset(&chain, 0xa5, sizeof(chain));
	compl_chain_init(&chain);
	assert_int_equal(compl_chain_window(&chain), 0);
	assert_int_equal(compl_chain_set_window(&chain, 3), 0);
	assert_true(dump_has(&chain, "window 3: 0 pending, 0 adders waiting for room, no room watch"));
	assert_int_equal(compl_chain_window_low(&chain), 2); /* no mark from the garbage */
	for (i = 0; i < 3; i++)
		assert_int_equal(compl_chain_window_try_add(&chain, &e[i]), 0);
	assert_true(dump_has(&chain, "window 3: 3 pending, 0 adders waiting for room, no room watch"));
	for (i = 0; i < 3; i++)
		compl_chain_complete(&e[i]);
	compl_chain_destroy(&chain);
}

/* compl_chain_add() and flush count, but never wait. */
static void test_plain_add_counts(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry a, b, c, d;

	(void)state;
	assert_int_equal(compl_chain_set_window(&chain, 1), 0);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b); /* past the limit: plain adds never wait */
	assert_true(compl_chain_pending(&b));
	assert_int_equal(compl_chain_window_try_add(&chain, &c), EAGAIN);
	compl_chain_complete(&a);
	/* Still one pending (b): no room for a windowed add. */
	assert_int_equal(compl_chain_window_try_add(&chain, &c), EAGAIN);
	compl_chain_complete(&b);
	assert_int_equal(compl_chain_window_try_add(&chain, &c), 0);
	compl_chain_complete(&c);
	/* A flush's own entry leaves the count as it found it. */
	compl_chain_flush(&chain);
	assert_int_equal(compl_chain_window_try_add(&chain, &d), 0);
	compl_chain_complete(&d);
	compl_chain_destroy(&chain);
}

/* A run's entries count until their functions are called, not when taken off. */
struct counted {
	struct compl_chain_entry entry;
	struct compl_chain *chain;
	struct compl_chain_entry *probe;
	int try_ret;
};

static void try_in_fn(struct compl_chain_entry *e)
{
	struct counted *c = (struct counted *)e;

	c->try_ret = compl_chain_window_try_add(c->chain, c->probe);
}

static void test_defer_counts_until_called(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry a, probe1 = { 0 }, probe2 = { 0 };
	struct counted b = { .chain = &chain, .probe = &probe1, .try_ret = -1 };
	struct counted c = { .chain = &chain, .probe = &probe2, .try_ret = -1 };

	(void)state;
	assert_int_equal(compl_chain_set_window(&chain, 1), 0);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b.entry);
	compl_chain_add(&chain, &c.entry);
	compl_chain_defer(&b.entry, try_in_fn);
	compl_chain_defer(&c.entry, try_in_fn);
	/* b and c run as one run: c is taken off with b, and counts until called. */
	compl_chain_complete(&a);
	assert_false(compl_chain_pending(&b.entry));
	assert_false(compl_chain_pending(&c.entry));
	assert_int_equal(b.try_ret, EAGAIN);
	assert_true(untouched(&probe1));
	/* In c's function, c has left: the window is empty. */
	assert_int_equal(c.try_ret, 0);
	assert_true(compl_chain_pending(&probe2));
	compl_chain_complete(&probe2);
	compl_chain_destroy(&chain);
}

/* A blocking add sleeps until an entry leaves, then adds after it. */
struct adder;
static void adder_add(struct adder *a);

struct adder {
	struct compl_chain *chain;
	struct compl_chain_entry entry;
	uint64_t timeout_ns; /* 0: compl_chain_window_add() */
	int ret;
	uint64_t wall_ns, cpu_ns; /* the add's */
	_Atomic bool done;
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	CHECK(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *adder_thread(void *p)
{
	struct adder *a = p;
	uint64_t t0 = now_ns(), c0 = thread_cpu_ns();

	adder_add(a);
	a->cpu_ns = thread_cpu_ns() - c0;
	a->wall_ns = now_ns() - t0;
	atomic_store(&a->done, true);
	return NULL;
}

static void adder_add(struct adder *a)
{
	if (a->timeout_ns)
		a->ret = compl_chain_window_add_timeout(a->chain, &a->entry, a->timeout_ns);
	else
		compl_chain_window_add(a->chain, &a->entry);
}

static bool wait_done(struct adder *a, uint64_t ns)
{
	uint64_t end = now_ns() + ns;

	while (!atomic_load(&a->done) && now_ns() < end)
		sleep_ns(MS / 10);
	return atomic_load(&a->done);
}

static void test_blocking_add_waits(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry a, b;
	struct adder w = { .chain = &chain };
	pthread_t t;

	(void)state;
	assert_int_equal(compl_chain_set_window(&chain, 2), 0);
	compl_chain_window_add(&chain, &a);
	compl_chain_window_add(&chain, &b);
	t = start_thread(adder_thread, &w);
	/* One adder waits, asleep: it burns no CPU meanwhile. */
	assert_true(dump_shows_soon(&chain, "window 2: 2 pending, 1 adders waiting for room"));
	assert_false(wait_done(&w, 50 * MS));
	assert_false(compl_chain_pending(&w.entry));
	compl_chain_cancel(&b); /* not the head: room all the same */
	assert_true(wait_done(&w, 10000 * MS));
	join_thread(t);
	assert_true(w.wall_ns >= 50 * MS);
	assert_true(w.cpu_ns < w.wall_ns / 4);
	assert_true(dump_has(&chain, "window 2: 2 pending, 0 adders waiting for room, no room watch"));
	assert_true(compl_chain_pending(&w.entry));
	assert_false(compl_chain_try_wait(&w.entry)); /* behind a */
	compl_chain_complete(&a);
	assert_true(compl_chain_try_wait(&w.entry));
	compl_chain_complete(&w.entry);
	compl_chain_destroy(&chain);
}

static void test_timed_add(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry a;
	struct adder w = { .chain = &chain, .timeout_ns = 30 * MS, .ret = -1 };
	struct adder w2 = { .chain = &chain, .ret = -1 };
	uint64_t t0;
	pthread_t t;

	(void)state;
	assert_int_equal(compl_chain_set_window(&chain, 1), 0);
	compl_chain_window_add(&chain, &a);
	t0 = now_ns();
	assert_int_equal(compl_chain_window_add_timeout(&chain, &w.entry, 30 * MS), ETIMEDOUT);
	assert_true(now_ns() - t0 >= 30 * MS);
	assert_true(untouched(&w.entry));
	/* Room within the timeout: added. */
	w.timeout_ns = 10000 * MS;
	t = start_thread(adder_thread, &w);
	sleep_ns(20 * MS);
	compl_chain_complete(&a);
	join_thread(t);
	assert_int_equal(w.ret, 0);
	/* A timeout of centuries is no timeout: it waits for room. */
	w2.timeout_ns = UINT64_MAX;
	t = start_thread(adder_thread, &w2);
	assert_false(wait_done(&w2, 30 * MS));
	assert_true(compl_chain_try_wait(&w.entry));
	compl_chain_complete(&w.entry);
	join_thread(t);
	assert_int_equal(w2.ret, 0);
	assert_true(compl_chain_try_wait(&w2.entry));
	compl_chain_complete(&w2.entry);
	compl_chain_destroy(&chain);
}

/*
 * Room made by a run's entry, as its function is called, wakes an adder:
 * the head's leave alone leaves the window full (a plain add took it past
 * the limit), the deferred entry behind it makes the room.
 */
static void test_run_entry_makes_room(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry h, d;
	struct adder w = { .chain = &chain };
	pthread_t t;

	(void)state;
	assert_int_equal(compl_chain_set_window(&chain, 1), 0);
	compl_chain_window_add(&chain, &h);
	compl_chain_add(&chain, &d);
	compl_chain_defer(&d, on_room);
	t = start_thread(adder_thread, &w);
	assert_true(dump_shows_soon(&chain, "window 1: 2 pending, 1 adders waiting for room"));
	compl_chain_complete(&h); /* runs d here: its call makes the room */
	assert_true(wait_done(&w, 10000 * MS));
	join_thread(t);
	assert_true(compl_chain_try_wait(&w.entry));
	compl_chain_complete(&w.entry);
	compl_chain_destroy(&chain);
}

/* Growing the window gives every waiter room, not one. */
static void test_grow_wakes_all(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry a;
	struct adder w[3];
	pthread_t t[3];
	int i;

	(void)state;
	assert_int_equal(compl_chain_set_window(&chain, 1), 0);
	compl_chain_window_add(&chain, &a);
	for (i = 0; i < 3; i++) {
		w[i] = (struct adder){ .chain = &chain };
		t[i] = start_thread(adder_thread, &w[i]);
	}
	sleep_ns(30 * MS);
	for (i = 0; i < 3; i++)
		assert_false(atomic_load(&w[i].done));
	assert_int_equal(compl_chain_set_window(&chain, 4), 0);
	for (i = 0; i < 3; i++) {
		assert_true(wait_done(&w[i], 10000 * MS));
		join_thread(t[i]);
	}
	compl_chain_complete(&a);
	/* In chain order, whichever order the adders got in. */
	for (int left = 3; left > 0;)
		for (i = 0; i < 3; i++)
			if (compl_chain_pending(&w[i].entry) && compl_chain_try_wait(&w[i].entry)) {
				compl_chain_complete(&w[i].entry);
				left--;
			}
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
}

/* Complete the entries of @w that are pending, in chain order. */
static void complete_in_order(struct adder *w, int n)
{
	int left = 0, i;

	for (i = 0; i < n; i++)
		left += compl_chain_pending(&w[i].entry);
	while (left > 0)
		for (i = 0; i < n; i++)
			if (compl_chain_pending(&w[i].entry) && compl_chain_try_wait(&w[i].entry)) {
				compl_chain_complete(&w[i].entry);
				left--;
			}
}

/* The low-water mark: which mark is in force, and the window's hysteresis. */
static void test_low_mark(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry e[8] = { 0 };
	int i;

	(void)state;
	/* Set before the window: kept for it. */
	assert_int_equal(compl_chain_window_low(&chain), 0);
	assert_int_equal(compl_chain_set_window_low(&chain, 1), 0);
	assert_int_equal(compl_chain_window_low(&chain), 0);
	assert_int_equal(compl_chain_set_window(&chain, 4), 0);
	assert_int_equal(compl_chain_window_low(&chain), 1);
	/* None, or one not below the limit: the limit minus one. */
	assert_int_equal(compl_chain_set_window_low(&chain, UINT_MAX), 0);
	assert_int_equal(compl_chain_window_low(&chain), 3);
	assert_int_equal(compl_chain_set_window_low(&chain, 4), 0);
	assert_int_equal(compl_chain_window_low(&chain), 3);
	assert_int_equal(compl_chain_set_window_low(&chain, 1), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(compl_chain_window_try_add(&chain, &e[i]), 0);
	assert_int_equal(compl_chain_window_try_add(&chain, &e[4]), EAGAIN);
	assert_true(dump_has(&chain, "window 4: 4 pending, 0 adders waiting for room, "
				     "no room watch, full"));
	/* Full until no more than one is pending. */
	for (i = 0; i < 2; i++) {
		compl_chain_complete(&e[i]);
		assert_int_equal(compl_chain_window_try_add(&chain, &e[4]), EAGAIN);
		assert_int_equal(compl_chain_window_add_timeout(&chain, &e[4], 1 * MS), ETIMEDOUT);
		assert_true(untouched(&e[4]));
	}
	compl_chain_complete(&e[2]);
	assert_true(dump_has(&chain, "window 4: 1 pending, 0 adders waiting for room, "
				     "no room watch\n"));
	for (i = 4; i < 7; i++)
		assert_int_equal(compl_chain_window_try_add(&chain, &e[i]), 0);
	assert_int_equal(compl_chain_window_try_add(&chain, &e[7]), EAGAIN);
	/* A higher mark reopens a full window that has drained to it, not one above it. */
	compl_chain_complete(&e[3]);
	compl_chain_complete(&e[4]);
	assert_int_equal(compl_chain_set_window_low(&chain, 1), 0);
	assert_int_equal(compl_chain_window_try_add(&chain, &e[7]), EAGAIN);
	assert_int_equal(compl_chain_set_window_low(&chain, 2), 0);
	assert_int_equal(compl_chain_window_try_add(&chain, &e[7]), 0);
	assert_int_equal(compl_chain_window_try_add(&chain, &e[0]), 0);
	/* Setting the limit: full exactly while the limit's number is pending. */
	compl_chain_complete(&e[5]);
	assert_int_equal(compl_chain_window_try_add(&chain, &e[1]), EAGAIN);
	assert_int_equal(compl_chain_set_window(&chain, 4), 0);
	assert_int_equal(compl_chain_window_try_add(&chain, &e[1]), 0);
	for (int k = 6; k != 2; k = (k + 1) % 8)
		compl_chain_complete(&e[k]);
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
	/* Initialised anew: the mark is gone. */
	compl_chain_init(&chain);
	assert_int_equal(compl_chain_set_window(&chain, 4), 0);
	assert_int_equal(compl_chain_window_low(&chain), 3);
	compl_chain_destroy(&chain);
}

/*
 * A higher mark set on a full window that has drained to it reopens it at
 * once: every adder asleep is woken (room for both, no leave needed) and
 * the room watch is called.
 */
static void test_raise_mark_wakes_all(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry e[4], watch = { 0 };
	struct adder w[2];
	pthread_t t[2];
	int i;

	(void)state;
	watch_calls = 0;
	assert_int_equal(compl_chain_set_window(&chain, 4), 0);
	assert_int_equal(compl_chain_set_window_low(&chain, 0), 0);
	for (i = 0; i < 4; i++)
		compl_chain_window_add(&chain, &e[i]);
	for (i = 0; i < 2; i++) {
		w[i] = (struct adder){ .chain = &chain };
		t[i] = start_thread(adder_thread, &w[i]);
	}
	assert_true(dump_shows_soon(&chain, "window 4: 4 pending, 2 adders waiting for room"));
	compl_chain_complete(&e[0]);
	compl_chain_complete(&e[1]);
	assert_int_equal(compl_chain_window_notify(&chain, &watch, on_room), 0);
	assert_false(wait_done(&w[0], 30 * MS));
	assert_int_equal(watch_calls, 0);
	assert_int_equal(compl_chain_set_window_low(&chain, 2), 0);
	assert_int_equal(watch_calls, 1);
	for (i = 0; i < 2; i++) {
		assert_true(wait_done(&w[i], 10000 * MS));
		join_thread(t[i]);
	}
	compl_chain_complete(&e[2]);
	compl_chain_complete(&e[3]);
	complete_in_order(w, 2);
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
}

/*
 * Adders asleep on a window with a mark: the leaves above the mark wake
 * nobody, the one that reaches it wakes them all, with room for each and
 * no other leave.
 */
static void test_low_mark_wakes_all(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry a, b, c;
	struct adder w[2];
	pthread_t t[2];
	int i;

	(void)state;
	assert_int_equal(compl_chain_set_window(&chain, 3), 0);
	assert_int_equal(compl_chain_set_window_low(&chain, 0), 0);
	compl_chain_window_add(&chain, &a);
	compl_chain_window_add(&chain, &b);
	compl_chain_window_add(&chain, &c);
	for (i = 0; i < 2; i++) {
		w[i] = (struct adder){ .chain = &chain };
		t[i] = start_thread(adder_thread, &w[i]);
	}
	assert_true(dump_shows_soon(&chain, "window 3: 3 pending, 2 adders waiting for room"));
	compl_chain_complete(&a);
	compl_chain_complete(&b);
	assert_false(wait_done(&w[0], 50 * MS));
	assert_false(atomic_load(&w[1].done));
	assert_true(dump_has(&chain, "window 3: 1 pending, 2 adders waiting for room, "
				     "no room watch, full"));
	compl_chain_complete(&c);
	for (i = 0; i < 2; i++) {
		assert_true(wait_done(&w[i], 10000 * MS));
		join_thread(t[i]);
		assert_true(w[i].cpu_ns < w[i].wall_ns / 4); /* asleep, not spinning */
	}
	complete_in_order(w, 2);
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
}

/* The room watch is called when the window reopens at its mark, not before. */
static void test_low_mark_watch(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry a, b, w = { 0 };

	(void)state;
	watch_calls = 0;
	assert_int_equal(compl_chain_set_window(&chain, 2), 0);
	assert_int_equal(compl_chain_set_window_low(&chain, 0), 0);
	compl_chain_window_add(&chain, &a);
	compl_chain_window_add(&chain, &b);
	assert_int_equal(compl_chain_window_notify(&chain, &w, on_room), 0);
	compl_chain_complete(&a);
	assert_int_equal(watch_calls, 0);
	/* Not full any more only once drained: registering now keeps the watch. */
	assert_int_equal(compl_chain_window_notify(&chain, &w, on_room), 0);
	assert_int_equal(watch_calls, 0);
	compl_chain_complete(&b);
	assert_int_equal(watch_calls, 1);
	assert_false(compl_chain_window_unnotify(&chain, &w));
	compl_chain_destroy(&chain);
}

static void test_on_off(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry a, b;

	(void)state;
	/* What a chain without a window does leaves nothing counted. */
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	compl_chain_defer(&b, on_room);
	compl_chain_cancel(&a); /* b runs */
	compl_chain_add(&chain, &a);
	assert_int_equal(compl_chain_set_window(&chain, 1), EBUSY);
	assert_int_equal(compl_chain_window(&chain), 0);
	compl_chain_complete(&a);
	assert_int_equal(compl_chain_set_window(&chain, 1), 0);
	compl_chain_window_add(&chain, &a);
	assert_int_equal(compl_chain_set_window(&chain, 0), EBUSY);
	assert_int_equal(compl_chain_set_window(&chain, 3), 0); /* nonzero to nonzero: any time */
	compl_chain_window_add(&chain, &b);
	compl_chain_complete(&a);
	compl_chain_complete(&b);
	assert_int_equal(compl_chain_set_window(&chain, 0), 0);
	/* Without a window, the windowed adds never wait. */
	compl_chain_window_add(&chain, &a);
	assert_int_equal(compl_chain_window_try_add(&chain, &b), 0);
	compl_chain_complete(&a);
	compl_chain_complete(&b);
	compl_chain_destroy(&chain);
}


static void test_room_watch(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry a, b, w1 = { 0 }, w2 = { 0 };

	(void)state;
	watch_calls = 0;
	assert_int_equal(compl_chain_set_window(&chain, 1), 0);
	/* Room now: called at once. */
	assert_int_equal(compl_chain_window_notify(&chain, &w1, on_room), 0);
	assert_int_equal(watch_calls, 1);
	assert_false(compl_chain_window_unnotify(&chain, &w1));
	compl_chain_window_add(&chain, &a);
	assert_int_equal(compl_chain_window_notify(&chain, &w1, on_room), 0);
	assert_int_equal(watch_calls, 1);
	assert_int_equal(compl_chain_window_notify(&chain, &w2, on_room), EBUSY);
	/* A plain add that leaves the window full makes no room. */
	compl_chain_add(&chain, &b);
	compl_chain_complete(&a);
	assert_int_equal(watch_calls, 1);
	compl_chain_complete(&b);
	assert_int_equal(watch_calls, 2);
	assert_false(compl_chain_window_unnotify(&chain, &w1));
	/* Withdrawn: never called. */
	compl_chain_window_add(&chain, &a);
	assert_int_equal(compl_chain_window_notify(&chain, &w2, on_room), 0);
	assert_true(compl_chain_window_unnotify(&chain, &w2));
	compl_chain_complete(&a);
	assert_int_equal(watch_calls, 2);
	compl_chain_destroy(&chain);
}

/* A larger window is room: the watch fires. */
static void test_grow_fires_watch(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry a, w = { 0 };

	(void)state;
	watch_calls = 0;
	assert_int_equal(compl_chain_set_window(&chain, 1), 0);
	compl_chain_window_add(&chain, &a);
	assert_int_equal(compl_chain_window_notify(&chain, &w, on_room), 0);
	assert_int_equal(compl_chain_set_window(&chain, 1), 0); /* no larger: no room */
	assert_int_equal(watch_calls, 0);
	assert_int_equal(compl_chain_set_window(&chain, 2), 0);
	assert_int_equal(watch_calls, 1);
	/* Once told, the watch's entry is the loop's again: it may add it. */
	assert_int_equal(compl_chain_window_try_add(&chain, &w), 0);
	compl_chain_complete(&a);
	compl_chain_complete(&w);
	compl_chain_destroy(&chain);
}

static void test_misuse(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry e;

	(void)state;
	assert_int_equal(compl_chain_set_window(NULL, 1), EINVAL);
	assert_null_misuse("compl_chain_set_window", "chain");
	assert_int_equal(compl_chain_window(NULL), 0);
	assert_null_misuse("compl_chain_window", "chain");
	assert_int_equal(compl_chain_set_window_low(NULL, 1), EINVAL);
	assert_null_misuse("compl_chain_set_window_low", "chain");
	assert_int_equal(compl_chain_window_low(NULL), 0);
	assert_null_misuse("compl_chain_window_low", "chain");
	compl_chain_window_add(NULL, &e);
	assert_null_misuse("compl_chain_window_add", "chain");
	compl_chain_window_add(&chain, NULL);
	assert_null_misuse("compl_chain_window_add", "entry");
	assert_int_equal(compl_chain_window_try_add(&chain, NULL), EINVAL);
	assert_null_misuse("compl_chain_window_try_add", "entry");
	assert_int_equal(compl_chain_window_add_timeout(NULL, &e, 1), EINVAL);
	assert_null_misuse("compl_chain_window_add_timeout", "chain");
	assert_int_equal(compl_chain_window_notify(&chain, &e, NULL), EINVAL);
	assert_null_misuse("compl_chain_window_notify", "fn");
	assert_int_equal(compl_chain_window_notify(NULL, &e, on_room), EINVAL);
	assert_null_misuse("compl_chain_window_notify", "chain");
	assert_int_equal(compl_chain_window_notify(&chain, NULL, on_room), EINVAL);
	assert_null_misuse("compl_chain_window_notify", "watch");
	assert_false(compl_chain_window_unnotify(NULL, &e));
	assert_null_misuse("compl_chain_window_unnotify", "chain");
	assert_false(compl_chain_window_unnotify(&chain, NULL));
	assert_null_misuse("compl_chain_window_unnotify", "watch");
	assert_int_equal(compl_notifier_watch_room(NULL, &chain, (struct compl_notify_entry *)&e),
			 EINVAL);
	assert_null_misuse("compl_notifier_watch_room", "n");
	compl_chain_destroy(&chain);
}

/* A blocking windowed add in a deferred function of the full chain. */
struct selfadd {
	struct compl_chain_entry entry;
	struct compl_chain *chain;
	struct compl_chain_entry extra;
};

static void add_in_fn(struct compl_chain_entry *e)
{
	struct selfadd *s = (struct selfadd *)e;

	compl_chain_window_add(s->chain, &s->extra);
}

static void test_blocking_add_in_own_fn_is_misuse(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry a, b;
	struct selfadd s = { .chain = &chain };

	(void)state;
	assert_int_equal(compl_chain_set_window(&chain, 1), 0);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &s.entry);
	compl_chain_add(&chain, &b); /* keeps the window full while s runs */
	compl_chain_defer(&s.entry, add_in_fn);
	compl_chain_complete(&a);
	assert_int_equal(misuse_count, 1);
	assert_string_equal(misuse_func, "compl_chain_window_add");
	misuse_count = 0;
	assert_true(compl_chain_pending(&s.extra)); /* added without waiting */
	compl_chain_complete(&b);
	compl_chain_complete(&s.extra);
	compl_chain_destroy(&chain);
}

/*
 * The limit, checked where it matters: a single producer (so its add order
 * is the chain order) against a slow ordered step.  When item k's function
 * runs, k has left and k+1.. may be pending: the producer cannot have added
 * past k + W.
 */
#define BOUND_N 3000u
#define BOUND_W 8u

struct bitem {
	struct compl_chain_entry entry;
	unsigned int idx;
};

static _Atomic unsigned int produced; /* items whose add has returned */
static unsigned int next_expected, bound_violations;

static void bound_fn(struct compl_chain_entry *e)
{
	struct bitem *it = (struct bitem *)e;
	unsigned int k = it->idx, p = atomic_load(&produced);

	if (k != next_expected)
		bound_violations++;
	next_expected = k + 1;
	/* Items 0..p-1 were added; at most k+1..k+W may be pending now. */
	if (p > k + 1 + BOUND_W)
		bound_violations++;
	if (k % 97 == 0)
		sleep_ns(MS / 5);
	free(it);
}

static void test_window_bound_single_producer(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	unsigned int i;

	(void)state;
	atomic_store(&produced, 0);
	next_expected = 0;
	bound_violations = 0;
	assert_int_equal(compl_chain_set_window(&chain, BOUND_W), 0);
	for (i = 0; i < BOUND_N; i++) {
		struct bitem *it = xmalloc(sizeof(*it));

		it->idx = i;
		compl_chain_window_add(&chain, &it->entry);
		atomic_store(&produced, i + 1);
		compl_chain_defer(&it->entry, bound_fn);
	}
	compl_chain_flush(&chain);
	assert_int_equal(next_expected, BOUND_N);
	assert_int_equal(bound_violations, 0);
	compl_chain_destroy(&chain);
}

/*
 * Many producers, with defer, wait+complete and cancel, through every form
 * of the windowed add: chain order kept (each producer's items in its own
 * order), every item once, the window empty at the end.
 */
#define MP_THREADS 6
#define MP_PER 2000u
#define MP_W 4u

struct mitem {
	struct compl_chain_entry entry;
	unsigned int producer, seq;
};

static struct {
	struct compl_chain chain;
	unsigned int last[MP_THREADS];
	unsigned long done, bad;
	_Atomic unsigned long cancelled;
} mp;

static void mp_step(struct mitem *it)
{
	if (mp.last[it->producer] && it->seq <= mp.last[it->producer])
		mp.bad++;
	mp.last[it->producer] = it->seq;
	mp.done++;
}

static void mp_fn(struct compl_chain_entry *e)
{
	mp_step((struct mitem *)e);
	free(e);
}

static void *mp_producer(void *p)
{
	unsigned int id = (unsigned int)(uintptr_t)p, i;

	for (i = 1; i <= MP_PER; i++) {
		struct mitem *it = xmalloc(sizeof(*it));

		it->producer = id;
		it->seq = i;
		switch (i % 4) {
		case 0:
			compl_chain_window_add(&mp.chain, &it->entry);
			break;
		case 1:
			while (compl_chain_window_try_add(&mp.chain, &it->entry) == EAGAIN)
				sched_yield();
			break;
		default:
			while (compl_chain_window_add_timeout(&mp.chain, &it->entry, 50000) ==
			       ETIMEDOUT)
				;
			break;
		}
		if (i % 7 == 0) {
			compl_chain_cancel(&it->entry);
			atomic_fetch_add(&mp.cancelled, 1);
			free(it);
		} else if (i % 3 == 0) {
			compl_chain_wait(&it->entry);
			mp_step(it);
			compl_chain_complete(&it->entry);
			free(it);
		} else {
			compl_chain_defer(&it->entry, mp_fn);
		}
	}
	return NULL;
}

static void test_many_producers(void **state)
{
	pthread_t t[MP_THREADS];
	struct compl_chain_entry probe[MP_W];
	unsigned int i;

	(void)state;
	memset(&mp.last, 0, sizeof(mp.last));
	mp.done = mp.bad = 0;
	atomic_store(&mp.cancelled, 0);
	compl_chain_init(&mp.chain);
	assert_int_equal(compl_chain_set_window(&mp.chain, MP_W), 0);
	for (i = 0; i < MP_THREADS; i++)
		t[i] = start_thread(mp_producer, (void *)(uintptr_t)i);
	for (i = 0; i < MP_THREADS; i++)
		join_thread(t[i]);
	compl_chain_flush(&mp.chain);
	assert_int_equal(mp.bad, 0);
	assert_int_equal(mp.done + atomic_load(&mp.cancelled), MP_THREADS * MP_PER);
	/* Every entry left the count: the whole window is free. */
	for (i = 0; i < MP_W; i++)
		assert_int_equal(compl_chain_window_try_add(&mp.chain, &probe[i]), 0);
	for (i = 0; i < MP_W; i++)
		compl_chain_complete(&probe[i]);
	compl_chain_destroy(&mp.chain);
}

/*
 * A leaver that runs as the adder goes to sleep: window 1, a producer that
 * adds as fast as it can (so it finds the window full every time and sleeps
 * or is about to), and a consumer that completes each entry the moment it is
 * added, taking the chain's lock right as the adder releases it.  Room made
 * between the adder's look and its sleep must not be lost (a lost one hangs
 * the producer: the run is bounded).
 */
#define RACE_N 2000000u
#define RACE_NS (2000 * MS) /* a bound for slow runs (valgrind) */

static struct {
	struct compl_chain chain;
	struct compl_chain_entry e[2];
	_Atomic unsigned int added, total;
} race;

static void *race_consumer(void *p)
{
	unsigned int i, spins;

	(void)p;
	for (i = 0; i < atomic_load(&race.total); i++) {
		for (spins = 0; atomic_load_explicit(&race.added, memory_order_acquire) <= i;
		     spins++) {
			if (i >= atomic_load(&race.total))
				return NULL;
			if (spins % 1024 == 1023)
				sched_yield();
		}
		/* A delay swept across the adder's path to its sleep. */
		for (spins = 0; spins < (i % 128) * 8; spins++)
			atomic_signal_fence(memory_order_seq_cst);
		compl_chain_complete(&race.e[i % 2]);
	}
	return NULL;
}

static void race_run(void *p)
{
	uint64_t end = now_ns() + RACE_NS;
	unsigned int i;
	pthread_t t;

	(void)p;
	t = start_thread(race_consumer, NULL);
	for (i = 0; i < RACE_N && (i % 1024 || now_ns() < end); i++) {
		compl_chain_window_add(&race.chain, &race.e[i % 2]);
		atomic_store_explicit(&race.added, i + 1, memory_order_release);
	}
	atomic_store(&race.total, i);
	join_thread(t);
}

static void test_room_race(void **state)
{
	(void)state;
	compl_chain_init(&race.chain);
	atomic_store(&race.added, 0);
	atomic_store(&race.total, UINT32_MAX);
	assert_int_equal(compl_chain_set_window(&race.chain, 1), 0);
	if (!run_bounded(race_run, NULL, 30000 * MS))
		fail_msg("an adder slept through room made as it went to sleep");
	assert_true(compl_chain_empty(&race.chain));
	compl_chain_destroy(&race.chain);
}

/* An event loop: try, watch for room through the notifier, poll, try again. */
struct loop_arg {
	struct compl_chain *chain;
	struct compl_chain_entry *head;
};

static void *complete_later(void *p)
{
	struct loop_arg *a = p;

	sleep_ns(20 * MS);
	compl_chain_complete(a->head);
	return NULL;
}

static void test_notifier_room(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_notifier *n = compl_notifier_create();
	struct compl_notify_entry room = { 0 };
	struct compl_chain_entry a, b;
	struct loop_arg arg = { &chain, &a };
	struct pollfd pfd;
	pthread_t t;

	(void)state;
	assert_non_null(n);
	assert_int_equal(compl_chain_set_window(&chain, 1), 0);
	compl_chain_window_add(&chain, &a);
	assert_int_equal(compl_chain_window_try_add(&chain, &b), EAGAIN);
	assert_int_equal(compl_notifier_watch_room(n, &chain, &room), 0);
	assert_null(compl_notifier_take(n));
	assert_true(compl_notifier_arm(n));
	t = start_thread(complete_later, &arg);
	pfd = (struct pollfd){ .fd = compl_notifier_fd(n), .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	compl_notifier_disarm(n);
	assert_int_equal(compl_notifier_ack(n), 1);
	assert_ptr_equal(compl_notifier_take(n), &room);
	assert_null(compl_notifier_take(n));
	join_thread(t);
	assert_int_equal(compl_chain_window_try_add(&chain, &b), 0);
	/* Full again: kept until b leaves. */
	assert_int_equal(compl_notifier_watch_room(n, &chain, &room), 0);
	assert_null(compl_notifier_take(n));
	compl_chain_complete(&b);
	assert_ptr_equal(compl_notifier_take(n), &room);
	/* Room now: queued at once. */
	assert_int_equal(compl_notifier_watch_room(n, &chain, &room), 0);
	assert_ptr_equal(compl_notifier_take(n), &room);
	/* Withdrawn before room: never queued. */
	compl_chain_window_add(&chain, &a);
	assert_int_equal(compl_notifier_watch_room(n, &chain, &room), 0);
	assert_true(compl_notifier_unwatch_room(&chain, &room));
	compl_chain_complete(&a);
	assert_null(compl_notifier_take(n));
	compl_chain_destroy(&chain);
	compl_notifier_destroy(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_try_add),
		cmocka_unit_test(test_init_on_garbage),
		cmocka_unit_test(test_plain_add_counts),
		cmocka_unit_test(test_defer_counts_until_called),
		cmocka_unit_test(test_blocking_add_waits),
		cmocka_unit_test(test_timed_add),
		cmocka_unit_test(test_run_entry_makes_room),
		cmocka_unit_test(test_grow_wakes_all),
		cmocka_unit_test(test_low_mark),
		cmocka_unit_test(test_low_mark_wakes_all),
		cmocka_unit_test(test_raise_mark_wakes_all),
		cmocka_unit_test(test_low_mark_watch),
		cmocka_unit_test(test_on_off),
		cmocka_unit_test(test_room_watch),
		cmocka_unit_test(test_grow_fires_watch),
		cmocka_unit_test_setup_teardown(test_misuse, setup_recorder, restore_default),
		cmocka_unit_test_setup_teardown(test_blocking_add_in_own_fn_is_misuse,
						setup_recorder, restore_default),
		cmocka_unit_test(test_window_bound_single_producer),
		cmocka_unit_test(test_many_producers),
		cmocka_unit_test(test_room_race),
		cmocka_unit_test(test_notifier_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
