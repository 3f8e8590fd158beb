// SPDX-License-Identifier: MIT
/*
 * Concurrency: FIFO order across a pool with tasks freed right after
 * complete, early release (complete without wait), cancel, flush with
 * entries before and after it, timeouts racing with the turn, concurrent
 * adders and many sleepers, entries freed while their turn-giver is still
 * waking them.  Worker threads never call cmocka asserts: they record, and
 * the main thread checks.
 */
#include <dlfcn.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

/* ---- syscall(2) interposed: the futex backend's system calls ------------ */

/*
 * The futex backend reaches the kernel through syscall(SYS_futex, ...),
 * which this definition interposes: it records which thread made the last
 * FUTEX_WAIT and, while slow_wake is set, sleeps after each FUTEX_WAKE, as
 * a turn-giver preempted right after the wake-up would.  While late_wake is
 * set, it holds each FUTEX_WAIT until a FUTEX_WAKE has begun, and holds that
 * FUTEX_WAKE until the test has freed the entry (late_wake_freed): the
 * owner's wait then fails on the READY word, and the wake-up names freed
 * memory.  Otherwise it only forwards the call; it never dereferences the
 * futex address.
 */
static _Atomic bool slow_wake;
static _Atomic pid_t futex_waiter = -1;
static _Atomic bool late_wake, late_wake_begun, late_wake_freed, late_wake_hit;
static _Atomic unsigned long futex_wakes;

/* Poll @flag for up to 2 s: the late wake-up's hand-over, never a sleep. */
static bool await_flag(_Atomic bool *flag)
{
	uint64_t t0 = now_ns();

	while (!atomic_load(flag))
		if (now_ns() - t0 > 2000 * MS)
			return false;
		else
			sched_yield();
	return true;
}

long syscall(long n, ...)
{
	static long (*_Atomic real)(long, ...);
	long (*fwd)(long, ...) = atomic_load(&real);
	long a[6], ret;
	va_list ap;
	int i, err;

	va_start(ap, n);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (!fwd) {
		*(void **)&fwd = dlsym(RTLD_NEXT, "syscall");
		CHECK(fwd != NULL);
		atomic_store(&real, fwd);
	}
	if (n == SYS_futex && (a[1] & 127) == 0) {
		const struct timespec *rel = (const struct timespec *)a[3];

		atomic_store(&futex_waiter, gettid());
		/* A relative timeout is normalised and not zero. */
		CHECK(!rel || (rel->tv_nsec >= 0 && rel->tv_nsec < 1000000000L &&
			       rel->tv_sec >= 0 && (rel->tv_sec > 0 || rel->tv_nsec > 0)));
	}
	if (n == SYS_futex && atomic_load(&late_wake)) {
		if ((a[1] & 127) == 0) {
			await_flag(&late_wake_begun);
		} else if ((a[1] & 127) == 1) {
			atomic_store(&late_wake_begun, true);
			atomic_store(&late_wake_hit, await_flag(&late_wake_freed));
		}
	}
	if (n == SYS_futex && (a[1] & 127) == 1)
		atomic_fetch_add(&futex_wakes, 1);
	ret = fwd(n, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (n == SYS_futex && (a[1] & 127) == 1 && atomic_load(&slow_wake)) {
		err = errno;
		sleep_ns(3 * MS);
		errno = err;
	}
	return ret;
}

/*
 * clock_gettime(2) interposed: while coarse_clock is set, CLOCK_MONOTONIC
 * keeps whole seconds only, with 0 or 1 ns (first or second half of the
 * second) for the fraction, so that deadlines and the time left fall on
 * exact seconds: the futex backend's arithmetic of the time left meets
 * its edge cases (0 ns, a borrow, exactly one second) deterministically.
 */
static _Atomic bool coarse_clock;
static int (*_Atomic real_clock_gettime)(clockid_t, struct timespec *);

/*
 * While head is set, the first CLOCK_MONOTONIC reading by thread tid at or
 * after when (ns) completes head first: a timed waiter whose timeout has
 * just expired is given its turn as it reads the clock to find that out.
 */
static struct {
	struct compl_chain_entry *_Atomic head;
	_Atomic pid_t tid;
	uint64_t when;
} turn_at_deadline;

static int forward_clock_gettime(clockid_t id, struct timespec *ts)
{
	int (*fwd)(clockid_t, struct timespec *) = atomic_load(&real_clock_gettime);

	if (!fwd) {
		*(void **)&fwd = dlsym(RTLD_NEXT, "clock_gettime");
		CHECK(fwd != NULL);
		atomic_store(&real_clock_gettime, fwd);
	}
	return fwd(id, ts);
}

/*
 * While fake_ns is set in a thread, its CLOCK_MONOTONIC readings are
 * counted and return fake_ns, advanced by 1 us per reading: the spin
 * policy's polls (which read the clock every 16 polls) then take a fixed
 * number of readings.  At reading fake_hook_at, fake_hook_entry is
 * completed (with the real clock).
 */
static __thread uint64_t fake_ns;
static __thread int fake_calls, fake_hook_at;
static __thread struct compl_chain_entry *fake_hook_entry;

static int fake_clock_gettime(struct timespec *ts)
{
	fake_calls++;
	fake_ns += 1000;
	ts->tv_sec = (time_t)(fake_ns / 1000000000u);
	ts->tv_nsec = (long)(fake_ns % 1000000000u);
	if (fake_calls == fake_hook_at && fake_hook_entry) {
		struct compl_chain_entry *e = fake_hook_entry;
		uint64_t saved = fake_ns;

		fake_hook_entry = NULL;
		fake_ns = 0;
		compl_chain_complete(e);
		fake_ns = saved;
	}
	return 0;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	int ret;

	if (id == CLOCK_MONOTONIC && fake_ns)
		return fake_clock_gettime(ts);
	ret = forward_clock_gettime(id, ts);

	if (!ret && id == CLOCK_MONOTONIC && atomic_load(&coarse_clock))
		ts->tv_nsec = ts->tv_nsec >= 500000000L ? 1 : 0;
	if (!ret && id == CLOCK_MONOTONIC && turn_at_deadline.head &&
	    gettid() == atomic_load(&turn_at_deadline.tid) &&
	    (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec >= turn_at_deadline.when) {
		struct compl_chain_entry *head = turn_at_deadline.head;

		turn_at_deadline.head = NULL;
		compl_chain_complete(head);
	}
	return ret;
}

/* ---- An ordered pool: the core usage pattern ---------------------------- */

enum task_kind { WAIT_THEN_COMPLETE, EARLY_RELEASE, CANCEL, TIMED_WAIT };

struct task {
	struct compl_chain_entry entry;
	unsigned long id;
	enum task_kind kind;
	unsigned int work;
	struct work_node node;
};

struct pool {
	struct work_queue q;
	struct compl_chain chain;
	/* Written only inside the ordered step: the chain is their lock. */
	unsigned long *out;
	unsigned long nout;
	_Atomic unsigned long timeouts;
};

static struct task *pool_pop(struct pool *p)
{
	struct work_node *n = work_pop(&p->q);

	return n ? work_item(n, struct task, node) : NULL;
}

static void do_work(unsigned int work)
{
	volatile unsigned int sink = 0;
	unsigned int i;

	for (i = 0; i < work; i++)
		sink += i;
	(void)sink;
	if (work % 7 == 0)
		sched_yield();
}

static void *pool_worker(void *arg)
{
	struct pool *p = arg;
	struct task *t;

	while ((t = pool_pop(p))) {
		do_work(t->work);
		switch (t->kind) {
		case CANCEL:
			compl_chain_cancel(&t->entry);
			break;
		case EARLY_RELEASE:
			/* The seed's "namespace exists" path: release first. */
			compl_chain_complete(&t->entry);
			do_work(t->work);
			break;
		case TIMED_WAIT:
		case WAIT_THEN_COMPLETE:
			while (t->kind == TIMED_WAIT &&
			       compl_chain_wait_timeout(&t->entry, 20000) == ETIMEDOUT)
				atomic_fetch_add(&p->timeouts, 1);
			compl_chain_wait(&t->entry);
			p->out[p->nout++] = t->id;
			compl_chain_complete(&t->entry);
			break;
		}
		/* The seed's epilogue: complete what an early exit left. */
		CHECK(!compl_chain_pending(&t->entry));
		free(t);
	}
	return NULL;
}

static void run_pool(unsigned long ntasks, unsigned int nworkers, bool mixed)
{
	struct pool p = { .out = calloc(ntasks, sizeof(unsigned long)) };
	pthread_t tids[64];
	unsigned long i, expect = 0, nwaiters = 0;
	uint64_t rnd = 0x1234567 + ntasks + nworkers;

	CHECK(p.out != NULL && nworkers <= 64);
	work_init(&p.q);
	compl_chain_init(&p.chain);
	for (i = 0; i < nworkers; i++)
		tids[i] = start_thread(pool_worker, &p);
	for (i = 0; i < ntasks; i++) {
		struct task *t = xmalloc(sizeof(*t));
		uint64_t r = rnd_next(&rnd);

		t->id = i;
		t->work = (unsigned int)(r % 2000);
		t->kind = WAIT_THEN_COMPLETE;
		if (mixed) {
			switch ((r >> 20) % 8) {
			case 0: t->kind = CANCEL; break;
			case 1: case 2: t->kind = EARLY_RELEASE; break;
			case 3: t->kind = TIMED_WAIT; break;
			}
		}
		if (t->kind == WAIT_THEN_COMPLETE || t->kind == TIMED_WAIT)
			nwaiters++;
		compl_chain_add(&p.chain, &t->entry);
		work_push(&p.q, &t->node);
	}
	work_close(&p.q);
	for (i = 0; i < nworkers; i++)
		join_thread(tids[i]);

	assert_true(compl_chain_empty(&p.chain));
	assert_int_equal(p.nout, nwaiters);
	for (i = 0; i < p.nout; i++) {
		assert_true(p.out[i] >= expect);
		expect = p.out[i] + 1;
	}
	if (!mixed)
		for (i = 0; i < p.nout; i++)
			assert_int_equal(p.out[i], i);
	compl_chain_destroy(&p.chain);
	work_destroy(&p.q);
	free(p.out);
}

static void test_fifo_pool(void **state)
{
	(void)state;
	run_pool(test_scale(20000), 8, false);
	run_pool(test_scale(5000), 64, false);
}

static void test_fifo_pool_mixed(void **state)
{
	(void)state;
	run_pool(test_scale(20000), 8, true);
	run_pool(test_scale(5000), 32, true);
}

/* ---- complete() without wait blocks until the turn ---------------------- */

struct waiter {
	struct compl_chain_entry *entry;
	int op; /* 0 wait, 1 complete, 2 wait_timeout */
	uint64_t timeout;
	int ret;
	_Atomic bool done;
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;

	switch (w->op) {
	case 0: compl_chain_wait(w->entry); break;
	case 1: compl_chain_complete(w->entry); break;
	case 2: w->ret = compl_chain_wait_timeout(w->entry, w->timeout); break;
	}
	atomic_store(&w->done, true);
	return NULL;
}

static void test_complete_without_wait_blocks(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, c;
	struct waiter wb = { .entry = &b, .op = 1 };
	struct waiter wc = { .entry = &c, .op = 0 };
	pthread_t tb, tc;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	compl_chain_add(&chain, &c);
	tb = start_thread(waiter_fn, &wb);
	tc = start_thread(waiter_fn, &wc);
	sleep_ns(50 * MS);
	assert_false(atomic_load(&wb.done));
	assert_false(atomic_load(&wc.done));
	assert_true(compl_chain_pending(&b));
	compl_chain_complete(&a);
	join_thread(tb);
	join_thread(tc);
	assert_false(compl_chain_pending(&b));
	assert_true(compl_chain_try_wait(&c));
	compl_chain_complete(&c);
	compl_chain_destroy(&chain);
}

/* ---- cancel of the head wakes the sleeping next owner ------------------- */

static void test_cancel_head_wakes_next(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, c;
	struct waiter wc = { .entry = &c, .op = 0 };
	pthread_t tc;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	compl_chain_add(&chain, &c);
	tc = start_thread(waiter_fn, &wc);
	sleep_ns(20 * MS);
	compl_chain_cancel(&b); /* middle: c still waits for a */
	sleep_ns(20 * MS);
	assert_false(atomic_load(&wc.done));
	compl_chain_cancel(&a);
	join_thread(tc);
	compl_chain_complete(&c);
	compl_chain_destroy(&chain);
}

/* ---- flush with entries before and after it ---------------------------- */

struct flusher {
	struct compl_chain *chain;
	_Atomic bool done;
};

static void *flush_fn(void *arg)
{
	struct flusher *f = arg;

	compl_chain_flush(f->chain);
	atomic_store(&f->done, true);
	return NULL;
}

static void test_flush_before_and_after(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, after;
	struct flusher f = { .chain = &chain };
	pthread_t t;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	t = start_thread(flush_fn, &f);
	/* Wait until the flush's own entry is queued behind b. */
	while (atomic_load_explicit((struct compl_chain_entry *_Atomic *)&chain.tail,
				    memory_order_acquire) == &b)
		sched_yield();
	compl_chain_add(&chain, &after);
	sleep_ns(20 * MS);
	assert_false(atomic_load(&f.done));
	compl_chain_complete(&a);
	sleep_ns(20 * MS);
	assert_false(atomic_load(&f.done));
	compl_chain_complete(&b);
	/* Returns although "after" is still pending. */
	join_thread(t);
	assert_true(compl_chain_pending(&after));
	assert_true(compl_chain_try_wait(&after));
	compl_chain_complete(&after);
	compl_chain_destroy(&chain);
}

static void test_flush_with_pool(void **state)
{
	unsigned long n = test_scale(2000), i;
	struct pool p = { .out = calloc(n, sizeof(unsigned long)) };
	pthread_t tids[4];

	(void)state;
	CHECK(p.out != NULL);
	work_init(&p.q);
	compl_chain_init(&p.chain);
	for (i = 0; i < 4; i++)
		tids[i] = start_thread(pool_worker, &p);
	for (i = 0; i < n; i++) {
		struct task *t = xmalloc(sizeof(*t));

		t->id = i;
		t->work = (unsigned int)(i * 37 % 1000);
		t->kind = WAIT_THEN_COMPLETE;
		compl_chain_add(&p.chain, &t->entry);
		work_push(&p.q, &t->node);
	}
	compl_chain_flush(&p.chain);
	/* Everything added before the flush is done: all n outputs are in. */
	assert_int_equal(p.nout, n);
	assert_true(compl_chain_empty(&p.chain));
	work_close(&p.q);
	for (i = 0; i < 4; i++)
		join_thread(tids[i]);
	compl_chain_destroy(&p.chain);
	work_destroy(&p.q);
	free(p.out);
}

/* ---- timeouts ------------------------------------------------------------ */

/*
 * A one second timeout under the coarse clock, started early in a second:
 * the time left is exactly 1 s, then exactly 0 (the waiter wakes in the
 * same half second), and the wait lasts its second.  Then a timeout of
 * 1 s less 1 ns from 1 ns past a second: a deadline of exactly 1e9 ns,
 * to be carried into the seconds.  Then 1 s and 1 ns, which leaves 1 ns.
 */
static void test_timeout_exact_seconds(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry head, e;
	struct timespec t0, t1;
	uint64_t old_spin = cchain_set_spin_ns(0), waited;

	(void)state;
	compl_chain_add(&chain, &head);
	compl_chain_add(&chain, &e);
	do {
		sleep_ns(MS);
		forward_clock_gettime(CLOCK_MONOTONIC, &t0);
	} while (t0.tv_nsec > 100 * (long)MS);
	atomic_store(&coarse_clock, true);
	assert_int_equal(compl_chain_wait_timeout(&e, 1000 * MS), ETIMEDOUT);
	atomic_store(&coarse_clock, false);
	forward_clock_gettime(CLOCK_MONOTONIC, &t1);
	waited = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000 * MS + (uint64_t)t1.tv_nsec -
		 (uint64_t)t0.tv_nsec;
	assert_true(waited >= 800 * MS);
	/* Started in the second half: the deadline's fraction adds up to 1 s. */
	do {
		sleep_ns(MS);
		forward_clock_gettime(CLOCK_MONOTONIC, &t0);
	} while (t0.tv_nsec < 500 * (long)MS || t0.tv_nsec > 600 * (long)MS);
	atomic_store(&coarse_clock, true);
	assert_int_equal(compl_chain_wait_timeout(&e, 1000 * MS - 1), ETIMEDOUT);
	atomic_store(&coarse_clock, false);
	/*
	 * From early in a second, 1 s and 1 ns: after the first sleep 1 ns is
	 * left, and the wait ends only once the clock has reached the deadline.
	 * The futex backend only: the condvar backend sleeps until the real
	 * clock's deadline, which the coarse clock reads later.
	 */
	if (strcmp(cchain_wait_backend(), "futex") != 0)
		goto done;
	do {
		sleep_ns(MS);
		forward_clock_gettime(CLOCK_MONOTONIC, &t0);
	} while (t0.tv_nsec > 100 * (long)MS);
	atomic_store(&coarse_clock, true);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(compl_chain_wait_timeout(&e, 1000 * MS + 1), ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	atomic_store(&coarse_clock, false);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000000000L + t1.tv_nsec - t0.tv_nsec >=
		    1000000001L);
done:
	/*
	 * The timed-out waiter took its SLEEPING mark back, after a sleep and
	 * after a deadline passed before its first sleep: no FUTEX_WAKE.
	 */
	assert_int_equal(compl_chain_wait_timeout(&e, 1), ETIMEDOUT);
	waited = atomic_load(&futex_wakes);
	compl_chain_complete(&head);
	assert_int_equal(atomic_load(&futex_wakes), waited);
	compl_chain_complete(&e);
	compl_chain_destroy(&chain);
	cchain_set_spin_ns(old_spin);
}

/*
 * The turn arrives as the timed waiter reads the clock after its sleep
 * timed out: the turn wins, the wait returns 0.  The futex backend only:
 * the condvar backend reads no clock after its timed wait.
 */
static void test_turn_at_deadline(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry head, e;
	uint64_t old_spin = cchain_set_spin_ns(0);
	int i;

	(void)state;
	if (strcmp(cchain_wait_backend(), "futex") != 0) {
		cchain_set_spin_ns(old_spin);
		skip();
	}
	for (i = 0; i < 3; i++) {
		compl_chain_add(&chain, &head);
		compl_chain_add(&chain, &e);
		turn_at_deadline.when = now_ns() + 20 * MS;
		atomic_store(&turn_at_deadline.tid, gettid());
		atomic_store(&turn_at_deadline.head, &head);
		assert_int_equal(compl_chain_wait_timeout(&e, 20 * MS), 0);
		assert_null(atomic_load(&turn_at_deadline.head));
		atomic_store(&turn_at_deadline.tid, 0);
		compl_chain_complete(&e);
	}
	compl_chain_destroy(&chain);
	cchain_set_spin_ns(old_spin);
}

/*
 * The turn arrives after the waiter decided to wait and before its first
 * look at the turn word in the backend (no spin budget; the clock reading
 * that times the wait, with statistics on, gives the turn): the backend
 * finds the turn there, and complete() goes on to complete the entry.
 */
static void test_turn_before_sleep(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry head, e;
	uint64_t old_spin = cchain_set_spin_ns(0);
	int i;

	(void)state;
	assert_int_equal(compl_chain_stats_enable(&chain), 0);
	for (i = 0; i < 3; i++) {
		compl_chain_add(&chain, &head);
		compl_chain_add(&chain, &e);
		turn_at_deadline.when = 0;
		atomic_store(&turn_at_deadline.tid, gettid());
		atomic_store(&turn_at_deadline.head, &head);
		compl_chain_complete(&e);
		assert_null(atomic_load(&turn_at_deadline.head));
		atomic_store(&turn_at_deadline.tid, 0);
		assert_false(compl_chain_pending(&head));
		assert_false(compl_chain_pending(&e));
		assert_true(compl_chain_empty(&chain));
	}
	compl_chain_stats_disable(&chain);
	compl_chain_destroy(&chain);
	cchain_set_spin_ns(old_spin);
}

static void test_timeout_then_turn(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b;
	struct waiter wb = { .entry = &b, .op = 2, .timeout = 10000 * MS };
	pthread_t t;
	uint64_t t0;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	t0 = now_ns();
	t = start_thread(waiter_fn, &wb);
	sleep_ns(30 * MS);
	compl_chain_complete(&a);
	join_thread(t);
	assert_int_equal(wb.ret, 0);
	assert_true(now_ns() - t0 < 5000 * MS);
	compl_chain_complete(&b);
	compl_chain_destroy(&chain);
}

/*
 * The turn arrives while the timeout expires, over and over with varying
 * timing: the waiter must never come back with ETIMEDOUT after the turn was
 * given, and the turn must never be lost.
 */
struct racer {
	struct compl_chain_entry *entry;
	_Atomic bool *given;
	unsigned long lost;
	unsigned long timeouts;
};

static void *race_fn(void *arg)
{
	struct racer *r = arg;

	for (;;) {
		bool given = atomic_load(r->given);
		int ret = compl_chain_wait_timeout(r->entry, 1000 + r->timeouts % 50000);

		if (ret == 0)
			break;
		r->timeouts++;
		if (given)
			r->lost++; /* the turn was given before the call */
	}
	return NULL;
}

static void test_timeout_races_turn(void **state)
{
	unsigned long rounds = test_scale(500), i, timeouts = 0;
	uint64_t rnd = 99;

	(void)state;
	for (i = 0; i < rounds; i++) {
		struct compl_chain chain;
		struct compl_chain_entry a, b;
		_Atomic bool given = false;
		struct racer r = { .entry = &b, .given = &given };
		pthread_t t;

		compl_chain_init(&chain);
		compl_chain_add(&chain, &a);
		compl_chain_add(&chain, &b);
		t = start_thread(race_fn, &r);
		sleep_ns(rnd_next(&rnd) % 200000);
		compl_chain_complete(&a);
		atomic_store(&given, true);
		join_thread(t);
		assert_int_equal(r.lost, 0);
		assert_true(compl_chain_try_wait(&b));
		compl_chain_complete(&b);
		compl_chain_destroy(&chain);
		timeouts += r.timeouts;
	}
	/* The race must actually have been exercised. */
	assert_true(timeouts > 0);
}

/* ---- concurrent adders: each thread's adds keep their order ------------- */

#define ADDERS 4

struct adder {
	struct compl_chain *chain;
	unsigned int tid;
	unsigned long n;
	struct compl_chain_entry *entries; /* NULL: one task at a time */
	unsigned long *out; /* shared, written in turn */
	unsigned long *nout;
};

/* Add all n entries, then wait for and complete each in turn. */
static void add_all_then_complete(struct adder *a)
{
	unsigned long i;

	for (i = 0; i < a->n; i++)
		compl_chain_add(a->chain, &a->entries[i]);
	for (i = 0; i < a->n; i++) {
		compl_chain_wait(&a->entries[i]);
		a->out[(*a->nout)++] = (unsigned long)a->tid << 32 | i;
		compl_chain_complete(&a->entries[i]);
	}
}

/*
 * Add, wait, complete and free one task at a time: whenever the chain is
 * empty the add and the complete take no lock, otherwise they race with the
 * other threads' locked adds and completes.  Each task is freed right after
 * its complete returns (the sanitizers watch for late accesses).
 */
static void one_at_a_time(struct adder *a)
{
	unsigned long i;

	for (i = 0; i < a->n; i++) {
		struct compl_chain_entry *e = xmalloc(sizeof(*e));

		compl_chain_add(a->chain, e);
		compl_chain_wait(e);
		a->out[(*a->nout)++] = (unsigned long)a->tid << 32 | i;
		compl_chain_complete(e);
		free(e);
		if (i % 64 == 0)
			sched_yield();
	}
}

static void *adder_fn(void *arg)
{
	struct adder *a = arg;

	if (a->entries)
		add_all_then_complete(a);
	else
		one_at_a_time(a);
	return NULL;
}

/*
 * ADDERS threads, @n tasks each: the ordered step runs once per task, and
 * each thread's tasks take it in the order that thread added them.
 */
static void run_adders(unsigned long n, bool preadd)
{
	unsigned long nout = 0, i;
	unsigned long *out = calloc(ADDERS * n, sizeof(*out));
	unsigned long next[ADDERS] = { 0 };
	struct adder ad[ADDERS];
	pthread_t t[ADDERS];
	struct compl_chain chain;
	unsigned int k;

	CHECK(out != NULL);
	compl_chain_init(&chain);
	for (k = 0; k < ADDERS; k++) {
		ad[k] = (struct adder){ &chain, k, n,
					preadd ? xmalloc(n * sizeof(struct compl_chain_entry)) : NULL,
					out, &nout };
		t[k] = start_thread(adder_fn, &ad[k]);
	}
	for (k = 0; k < ADDERS; k++)
		join_thread(t[k]);
	assert_int_equal(nout, ADDERS * n);
	for (i = 0; i < nout; i++) {
		unsigned int tid = (unsigned int)(out[i] >> 32);

		assert_true(tid < ADDERS);
		assert_int_equal(out[i] & 0xffffffffu, next[tid]);
		next[tid]++;
	}
	for (k = 0; k < ADDERS; k++)
		free(ad[k].entries);
	free(out);
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
}

static void test_concurrent_adders(void **state)
{
	(void)state;
	run_adders(test_scale(5000), true);
}

/* ---- lock-free add and complete racing the locked paths ------------------ */

static void test_lockfree_races_locked(void **state)
{
	(void)state;
	run_adders(test_scale(20000), false);
}

/* compl_chain_dump() while the lock-free paths run: no entry freed under it. */
struct dumped {
	struct compl_chain *chain;
	_Atomic bool stop;
	_Atomic unsigned long cycles;
};

static void *dumped_fn(void *arg)
{
	struct dumped *d = arg;

	while (!atomic_load(&d->stop)) {
		struct compl_chain_entry *e = xmalloc(sizeof(*e));

		compl_chain_add(d->chain, e);
		compl_chain_complete(e);
		free(e);
		atomic_fetch_add(&d->cycles, 1);
	}
	return NULL;
}

static void test_dump_while_lockfree(void **state)
{
	struct compl_chain chain;
	struct dumped d = { .chain = &chain };
	FILE *null = fopen("/dev/null", "w");
	pthread_t t[2];
	int i;

	(void)state;
	assert_non_null(null);
	compl_chain_init(&chain);
	for (i = 0; i < 2; i++)
		t[i] = start_thread(dumped_fn, &d);
	/*
	 * Sleep, not sched_yield(): under valgrind's one-thread-at-a-time
	 * scheduler a yielding loop can keep the CPU from the threads it waits
	 * for (minutes in CI).
	 */
	while (atomic_load(&d.cycles) == 0)
		sleep_ns(MS / 50);
	for (i = 0; i < (int)test_scale(2000); i++)
		compl_chain_dump(&chain, null);
	atomic_store(&d.stop, true);
	for (i = 0; i < 2; i++)
		join_thread(t[i]);
	fclose(null);
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
}

/* ---- the entry is the caller's once it is no longer pending ------------- */

/*
 * The owner of the next entry sleeps for its turn; the turn-giver is slow
 * to return from waking it.  Meanwhile the woken owner completes, and the
 * entry is freed at once: by the owner when compl_chain_complete() returns,
 * or by a third thread as soon as compl_chain_pending() is false (or
 * overwritten by it, so that a late write shows without a sanitizer).
 * After either point the library must not touch the entry again.
 */
enum release { OWNER_FREES, MONITOR_FREES, MONITOR_POISONS };

#define POISON 0x5a

struct woken {
	struct compl_chain_entry *entry;
	enum release how;
	_Atomic pid_t owner;
};

static void *woken_owner(void *arg)
{
	struct woken *w = arg;

	atomic_store(&w->owner, gettid());
	compl_chain_wait(w->entry);
	compl_chain_complete(w->entry);
	if (w->how == OWNER_FREES)
		free(w->entry);
	return NULL;
}

static void *release_when_done(void *arg)
{
	struct woken *w = arg;

	while (compl_chain_pending(w->entry))
		sleep_ns(MS / 50); /* far within the 3 ms slow wake; see the dump test */
	if (w->how == MONITOR_FREES)
		free(w->entry);
	else
		memset(w->entry, POISON, sizeof(*w->entry));
	return NULL;
}

static void test_release_while_waking(void **state)
{
	bool futex = strcmp(cchain_wait_backend(), "futex") == 0;
	uint64_t spin = cchain_set_spin_ns(0); /* the owner sleeps at once */
	int round;

	(void)state;
	for (round = 0; round < 12; round++) {
		struct compl_chain_entry a, *b = xmalloc(sizeof(*b));
		struct woken w = { .entry = b, .how = (enum release)(round % 3) };
		struct compl_chain chain;
		pthread_t owner, monitor = 0;
		uint64_t t0 = now_ns();
		size_t i;

		compl_chain_init(&chain);
		compl_chain_add(&chain, &a);
		compl_chain_add(&chain, b);
		atomic_store(&futex_waiter, -1);
		owner = start_thread(woken_owner, &w);
		if (w.how != OWNER_FREES)
			monitor = start_thread(release_when_done, &w);
		if (futex) {
			/* The owner's FUTEX_WAIT: it sleeps, a FUTEX_WAKE is due. */
			while (atomic_load(&futex_waiter) != atomic_load(&w.owner)) {
				if (now_ns() - t0 > 2000 * MS)
					fail_msg("the owner never slept on its entry");
				sleep_ns(MS / 50);
			}
		} else {
			sleep_ns(5 * MS);
		}
		atomic_store(&slow_wake, true);
		compl_chain_complete(&a);
		atomic_store(&slow_wake, false);
		join_thread(owner);
		if (w.how != OWNER_FREES)
			join_thread(monitor);
		if (w.how == MONITOR_POISONS) {
			for (i = 0; i < sizeof(*b); i++)
				if (((unsigned char *)b)[i] != POISON)
					fail_msg("byte %zu of the entry was written after "
						 "compl_chain_pending() returned false", i);
			free(b);
		}
		assert_true(compl_chain_empty(&chain));
		compl_chain_destroy(&chain);
	}
	cchain_set_spin_ns(spin);
}

/*
 * The owner announces that it sleeps, but its turn comes before its
 * FUTEX_WAIT: the wait fails on the READY word, the owner completes and
 * frees the entry, and only then does the turn-giver's FUTEX_WAKE name the
 * entry's address.  The wake-up must neither fail nor touch the memory,
 * and memcheck's report on it is the one that valgrind/libcchain.supp
 * suppresses (the unit suite runs under memcheck with that file).
 */
static _Atomic pid_t late_owner = -1;

static void *free_after_turn(void *arg)
{
	struct compl_chain_entry *b = arg;

	atomic_store(&late_owner, gettid());
	compl_chain_wait(b);
	compl_chain_complete(b);
	free(b);
	atomic_store(&late_wake_freed, true);
	return NULL;
}

static void test_wake_names_freed_entry(void **state)
{
	bool futex = strcmp(cchain_wait_backend(), "futex") == 0;
	uint64_t spin = cchain_set_spin_ns(0); /* the owner sleeps at once */
	struct compl_chain_entry a, *b = xmalloc(sizeof(*b));
	struct compl_chain chain;
	uint64_t t0 = now_ns();
	pthread_t owner;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, b);
	atomic_store(&late_wake_begun, false);
	atomic_store(&late_wake_freed, false);
	atomic_store(&late_wake_hit, false);
	atomic_store(&late_owner, -1);
	atomic_store(&futex_waiter, -1);
	atomic_store(&late_wake, true);
	owner = start_thread(free_after_turn, b);
	if (futex) {
		/* The owner announced that it sleeps, and is held before its wait. */
		while (atomic_load(&late_owner) == -1 ||
		       atomic_load(&futex_waiter) != atomic_load(&late_owner))
			if (now_ns() - t0 > 2000 * MS)
				fail_msg("the owner never reached its FUTEX_WAIT");
			else
				sched_yield();
	} else {
		sleep_ns(5 * MS); /* no FUTEX_WAKE to hold */
	}
	compl_chain_complete(&a);
	join_thread(owner);
	atomic_store(&late_wake, false);
	if (futex)
		assert_true(atomic_load(&late_wake_hit)); /* the wake-up came after free() */
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
	cchain_set_spin_ns(spin);
}

/* ---- what the turn-giver wrote is visible once the turn is seen --------- */

/*
 * A giver thread writes a plain variable, then hands the turn on (complete
 * or cancel of the head); the main thread learns of the turn in one way
 * only (compl_chain_try_wait() true, compl_chain_wait_timeout() 0, or
 * compl_chain_empty() true) and reads the variable before it joins the
 * giver.  Nothing else orders the two accesses: under ThreadSanitizer a
 * call that does not acquire is reported as a data race, and anywhere a
 * read of an older value fails the test.
 */
enum observe { OBSERVE_TRY_WAIT, OBSERVE_WAIT_TIMEOUT, OBSERVE_EMPTY };

struct giver {
	struct compl_chain_entry *head;
	unsigned long *data;
	unsigned long value;
	bool cancel;
};

static void *give_turn(void *arg)
{
	struct giver *g = arg;

	*g->data = g->value;
	if (g->cancel)
		compl_chain_cancel(g->head);
	else
		compl_chain_complete(g->head);
	return NULL;
}

static void observe_handoffs(enum observe how, bool cancel)
{
	unsigned long rounds = test_scale(200), i, data = 0;

	for (i = 1; i <= rounds; i++) {
		struct compl_chain chain;
		struct compl_chain_entry a, b;
		struct giver g = { &a, &data, i, cancel };
		unsigned long seen;
		pthread_t t;

		compl_chain_init(&chain);
		compl_chain_add(&chain, &a);
		if (how != OBSERVE_EMPTY)
			compl_chain_add(&chain, &b);
		t = start_thread(give_turn, &g);
		switch (how) {
		case OBSERVE_TRY_WAIT:
			while (!compl_chain_try_wait(&b))
				sched_yield();
			break;
		case OBSERVE_WAIT_TIMEOUT:
			/* Polls and short sleeps, each returning ETIMEDOUT or 0. */
			while (compl_chain_wait_timeout(&b, i & 1 ? 0 : 100000) == ETIMEDOUT)
				;
			break;
		case OBSERVE_EMPTY:
			while (!compl_chain_empty(&chain))
				sched_yield();
			break;
		}
		seen = data;
		join_thread(t);
		assert_int_equal(seen, i);
		if (how != OBSERVE_EMPTY)
			compl_chain_complete(&b);
		compl_chain_destroy(&chain);
	}
}

static void test_try_wait_acquires(void **state)
{
	(void)state;
	observe_handoffs(OBSERVE_TRY_WAIT, false);
}

static void test_wait_timeout_acquires(void **state)
{
	(void)state;
	observe_handoffs(OBSERVE_WAIT_TIMEOUT, false);
}

static void test_empty_acquires(void **state)
{
	(void)state;
	observe_handoffs(OBSERVE_EMPTY, false);
	observe_handoffs(OBSERVE_EMPTY, true);
}

/* A cancel of the head releases towards the next owner, like a complete. */
static void test_cancel_releases(void **state)
{
	(void)state;
	observe_handoffs(OBSERVE_TRY_WAIT, true);
	observe_handoffs(OBSERVE_WAIT_TIMEOUT, true);
}

/* ---- many sleepers wake one at a time, in order ------------------------- */

#define SLEEPERS 64

struct sleeper {
	struct compl_chain_entry entry;
	unsigned int id;
	unsigned int *order;
	unsigned int *norder;
};

static void *sleeper_fn(void *arg)
{
	struct sleeper *s = arg;

	compl_chain_wait(&s->entry);
	s->order[(*s->norder)++] = s->id;
	compl_chain_complete(&s->entry);
	return NULL;
}

static void test_many_sleepers(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry gate;
	struct sleeper s[SLEEPERS];
	unsigned int order[SLEEPERS], norder = 0, i;
	pthread_t t[SLEEPERS];

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &gate);
	/* Start them in reverse so thread start order differs from chain order. */
	for (i = 0; i < SLEEPERS; i++) {
		s[i] = (struct sleeper){ .id = i, .order = order, .norder = &norder };
		compl_chain_add(&chain, &s[i].entry);
	}
	for (i = SLEEPERS; i-- > 0;)
		t[i] = start_thread(sleeper_fn, &s[i]);
	sleep_ns(50 * MS);
	compl_chain_complete(&gate);
	for (i = 0; i < SLEEPERS; i++)
		join_thread(t[i]);
	assert_int_equal(norder, SLEEPERS);
	for (i = 0; i < SLEEPERS; i++)
		assert_int_equal(order[i], i);
	compl_chain_destroy(&chain);
}

/*
 * The spin policy's count of waiting and spinning threads comes back to
 * where it was after each wait: a waiter on its own (with two CPUs) spins
 * in both phases, quiet and counted, every time, whether its wait was
 * refused (EDEADLK, from a deferred function of the chain, which spins
 * first) or its turn came while it spun.  Seen through the clock readings
 * of the polls, on a fake clock: a skipped phase reads the clock once.
 */
static DEFINE_COMPL_CHAIN(spin_chain);
static struct compl_chain_entry spin_later;
static int spin_refused;

static void spin_misuse(const char *func, const char *msg)
{
	(void)func;
	(void)msg;
	spin_refused++;
}

static void spin_refused_fn(struct compl_chain_entry *entry)
{
	(void)entry;
	compl_chain_wait(&spin_later);
}

/* The clock readings of a refused wait; -1 if it was not refused. */
static int refused_wait_readings(void)
{
	struct compl_chain_entry head, d;
	struct timespec now;
	int n, refused = spin_refused;

	compl_chain_add(&spin_chain, &head);
	compl_chain_add(&spin_chain, &d);
	compl_chain_add(&spin_chain, &spin_later);
	compl_chain_defer(&d, spin_refused_fn);
	forward_clock_gettime(CLOCK_MONOTONIC, &now);
	fake_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	fake_calls = 0;
	compl_chain_complete(&head);
	fake_ns = 0;
	n = fake_calls;
	compl_chain_complete(&spin_later);
	return spin_refused == refused + 1 ? n : -1;
}

struct spin_result {
	int first, later[3], turn_ret, turn_readings;
	int quiet_budget, one_sleeper, two_sleepers, one_cpu;
	bool skipped;
};

/* Threads asleep in compl_chain_wait(), on another chain: counted waiters. */
static DEFINE_COMPL_CHAIN(sleep_chain);

static void *sleeper(void *arg)
{
	struct compl_chain_entry *e = arg;

	compl_chain_wait(e);
	compl_chain_complete(e);
	return NULL;
}

static bool shown_sleeping(struct compl_chain_entry *e)
{
	char *buf = NULL, *line, want[64];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	bool ret;

	CHECK(f != NULL);
	compl_chain_dump(&sleep_chain, f);
	fclose(f);
	snprintf(want, sizeof(want), " entry %p: ", (void *)e);
	line = strstr(buf, want);
	ret = line && (strncmp(line + strlen(want), "futex word sleeping", 19) == 0 ||
		       strncmp(line + strlen(want), "waiting, owner sleeping", 23) == 0);
	free(buf);
	return ret;
}

static pthread_t start_sleeper(struct compl_chain_entry *e)
{
	pthread_t tid = start_thread(sleeper, e);
	int i;

	for (i = 0; i < 10000 && !shown_sleeping(e); i++)
		sleep_ns(MS);
	CHECK(shown_sleeping(e));
	return tid;
}

static void *spin_one_cpu_thread(void *arg)
{
	struct spin_result *r = arg;
	cpu_set_t allowed, one;
	int cpu;

	CHECK(sched_getaffinity(0, sizeof(allowed), &allowed) == 0);
	for (cpu = 0; !CPU_ISSET(cpu, &allowed); cpu++)
		;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	CHECK(sched_setaffinity(0, sizeof(one), &one) == 0);
	r->one_cpu = refused_wait_readings();
	return NULL;
}

static void *spin_balance_thread(void *arg)
{
	struct spin_result *r = arg;
	struct compl_chain_entry p, w;
	struct timespec now;
	cpu_set_t allowed, two;
	int cpu, n = 0, i;

	CHECK(sched_getaffinity(0, sizeof(allowed), &allowed) == 0);
	CPU_ZERO(&two);
	for (cpu = 0; cpu < CPU_SETSIZE && n < 2; cpu++) {
		if (CPU_ISSET(cpu, &allowed)) {
			CPU_SET(cpu, &two);
			n++;
		}
	}
	if (n < 2) {
		r->skipped = true;
		return NULL;
	}
	CHECK(sched_setaffinity(0, sizeof(two), &two) == 0);
	r->first = refused_wait_readings();
	/* Its turn comes while it spins: given from the poll's 2nd clock reading. */
	compl_chain_add(&spin_chain, &p);
	compl_chain_add(&spin_chain, &w);
	forward_clock_gettime(CLOCK_MONOTONIC, &now);
	fake_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	fake_calls = 0;
	fake_hook_entry = &p;
	fake_hook_at = 6;
	r->turn_ret = compl_chain_wait_timeout(&w, 1000 * MS);
	fake_ns = 0;
	fake_hook_entry = NULL;
	r->turn_readings = fake_calls;
	if (compl_chain_pending(&p))
		compl_chain_complete(&p);
	compl_chain_complete(&w);
	for (i = 0; i < 3; i++)
		r->later[i] = refused_wait_readings();
	/* A budget no longer than the quiet phase: no counted phase. */
	cchain_set_spin_ns(2000);
	r->quiet_budget = refused_wait_readings();
	cchain_set_spin_ns(10000);
	/* With waiters asleep: one leaves both phases, two as many as CPUs neither. */
	{
		struct compl_chain_entry sh, s1, s2;
		pthread_t t1, t2;

		compl_chain_add(&sleep_chain, &sh);
		compl_chain_add(&sleep_chain, &s1);
		compl_chain_add(&sleep_chain, &s2);
		t1 = start_sleeper(&s1);
		r->one_sleeper = refused_wait_readings();
		t2 = start_sleeper(&s2);
		r->two_sleepers = refused_wait_readings();
		compl_chain_complete(&sh);
		join_thread(t1);
		join_thread(t2);
	}
	CHECK(sched_setaffinity(0, sizeof(allowed), &allowed) == 0);
	/* A thread whose mask allows one CPU, in a thread of its own (fresh count). */
	join_thread(start_thread(spin_one_cpu_thread, r));
	return NULL;
}

static void test_spin_count_balanced(void **state)
{
	struct spin_result r = { 0 };
	cchain_misuse_fn old;
	uint64_t old_spin;
	int i;

	(void)state;
	old = cchain_set_misuse_handler(spin_misuse);
	old_spin = cchain_set_spin_ns(10000);
	join_thread(start_thread(spin_balance_thread, &r));
	cchain_set_spin_ns(old_spin);
	cchain_set_misuse_handler(old);
	if (r.skipped)
		skip();
	/*
	 * The deadline's reading, the quiet phase's 3 (2 us in 1 us steps),
	 * the counted phase's start; the turn is given at the 6th.
	 */
	assert_int_equal(r.turn_ret, 0);
	assert_int_equal(r.turn_readings, 6);
	/* Quiet: 1 + 2; counted: 1 + 8 (10 us less the quiet 2, in 1 us steps). */
	assert_int_equal(r.first, 12);
	for (i = 0; i < 3; i++)
		assert_int_equal(r.later[i], r.first);
	/* Quiet only: 1 + 2. */
	assert_int_equal(r.quiet_budget, 3);
	assert_int_equal(r.one_sleeper, r.first);
	/* Each phase reads the clock once and stops. */
	assert_int_equal(r.two_sleepers, 2);
	assert_int_equal(r.one_cpu, 2);
	assert_true(compl_chain_empty(&spin_chain));
	assert_true(compl_chain_empty(&sleep_chain));
}

/* ---- numbering: every number once, increasing in turn order -------------- */

#define SEQ_THREADS 4

struct seq_run {
	struct compl_chain chain;
	uint64_t last;              /* the latest number at a turn: turn-protected */
	_Atomic unsigned long bad;  /* turns whose number was not above the last */
	uint64_t *taken;            /* every number compl_chain_add_seq() returned */
	_Atomic unsigned long ntaken;
	unsigned long per_thread;
};

struct seq_item {
	struct compl_chain_entry entry;
	uint64_t num;
	struct seq_run *run;
};

/* The ordered step: numbers must rise from turn to turn. */
static void seq_turn(struct seq_run *r, uint64_t num)
{
	if (num <= r->last)
		atomic_fetch_add(&r->bad, 1);
	r->last = num;
}

static void seq_deferred(struct compl_chain_entry *entry)
{
	struct seq_item *it = (struct seq_item *)entry;

	seq_turn(it->run, it->num);
	free(it);
}

static void *seq_fn(void *arg)
{
	struct seq_run *r = arg;
	unsigned int seed = (unsigned int)(uintptr_t)&seed;
	unsigned long i;

	for (i = 0; i < r->per_thread; i++) {
		struct seq_item *it = xmalloc(sizeof(*it));

		it->run = r;
		it->num = compl_chain_add_seq(&r->chain, &it->entry);
		r->taken[atomic_fetch_add(&r->ntaken, 1)] = it->num;
		switch (rand_r(&seed) % 8) {
		case 0: /* often the last entry: the tail moves back */
			compl_chain_cancel(&it->entry);
			break;
		case 1: /* early release: lock-free when alone */
			compl_chain_complete(&it->entry);
			break;
		case 2: /* runs of deferred functions: busy words */
			compl_chain_defer(&it->entry, seq_deferred);
			continue;
		default:
			compl_chain_wait(&it->entry);
			seq_turn(r, it->num);
			compl_chain_complete(&it->entry);
			break;
		}
		free(it);
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_seq_concurrent(void **state)
{
	struct seq_run r = { .per_thread = test_scale(20000) };
	unsigned long total = SEQ_THREADS * r.per_thread, i;
	struct compl_chain_entry e;
	pthread_t t[SEQ_THREADS];
	int k;

	(void)state;
	compl_chain_init(&r.chain);
	r.taken = xmalloc(total * sizeof(*r.taken));
	for (k = 0; k < SEQ_THREADS; k++)
		t[k] = start_thread(seq_fn, &r);
	for (k = 0; k < SEQ_THREADS; k++)
		join_thread(t[k]);
	assert_int_equal(r.ntaken, total);
	assert_int_equal(r.bad, 0);
	qsort(r.taken, total, sizeof(*r.taken), cmp_u64);
	for (i = 0; i < total; i++)
		assert_int_equal(r.taken[i], i + 1); /* each number once, none skipped */
	assert_int_equal(compl_chain_add_seq(&r.chain, &e), total + 1);
	compl_chain_complete(&e);
	free(r.taken);
	compl_chain_destroy(&r.chain);
}

/*
 * The complete of the only entry reads the latest add's number, then swaps
 * the tail; an add behind it and that add's cancel can get in between and
 * leave the same tail.  The number the cancelled add took must not be
 * taken again (chain->seq_floor): every number is seen once.
 */
struct seq_race {
	struct compl_chain chain;
	_Atomic unsigned char *seen; /* by number */
	uint64_t max;                /* numbers 1..max may be taken */
	uint64_t deadline;
	_Atomic unsigned long dups, out_of_range;
};

struct seq_racer {
	struct seq_race *race;
	bool cancel; /* add and cancel; otherwise add and complete */
};

static void *seq_race_fn(void *arg)
{
	struct seq_racer *me = arg;
	struct seq_race *r = me->race;
	struct compl_chain_entry e;
	uint64_t i;

	for (i = 0; i < r->max / 2 && (i % 1024 || now_ns() < r->deadline); i++) {
		uint64_t num = compl_chain_add_seq(&r->chain, &e);

		if (me->cancel)
			compl_chain_cancel(&e);
		else
			compl_chain_complete(&e);
		if (num < 1 || num > r->max)
			atomic_fetch_add(&r->out_of_range, 1);
		else if (atomic_exchange(&r->seen[num - 1], 1))
			atomic_fetch_add(&r->dups, 1);
	}
	return NULL;
}

static void test_seq_complete_races_cancel(void **state)
{
	struct seq_race r = { .max = 2 * test_scale(16000000) };
	struct seq_racer racers[2] = { { &r, false }, { &r, true } };
	pthread_t t[2];
	int k;

	(void)state;
	compl_chain_init(&r.chain);
	r.seen = xmalloc(r.max);
	memset((void *)r.seen, 0, r.max);
	r.deadline = now_ns() + 3000 * MS;
	for (k = 0; k < 2; k++)
		t[k] = start_thread(seq_race_fn, &racers[k]);
	for (k = 0; k < 2; k++)
		join_thread(t[k]);
	assert_int_equal(r.out_of_range, 0);
	assert_int_equal(r.dups, 0);
	free((void *)r.seen);
	compl_chain_destroy(&r.chain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_pool),
		cmocka_unit_test(test_spin_count_balanced),
		cmocka_unit_test(test_fifo_pool_mixed),
		cmocka_unit_test(test_complete_without_wait_blocks),
		cmocka_unit_test(test_cancel_head_wakes_next),
		cmocka_unit_test(test_flush_before_and_after),
		cmocka_unit_test(test_flush_with_pool),
		cmocka_unit_test(test_timeout_exact_seconds),
		cmocka_unit_test(test_turn_at_deadline),
		cmocka_unit_test(test_turn_before_sleep),
		cmocka_unit_test(test_timeout_then_turn),
		cmocka_unit_test(test_timeout_races_turn),
		cmocka_unit_test(test_concurrent_adders),
		cmocka_unit_test(test_lockfree_races_locked),
		cmocka_unit_test(test_seq_concurrent),
		cmocka_unit_test(test_seq_complete_races_cancel),
		cmocka_unit_test(test_dump_while_lockfree),
		cmocka_unit_test(test_release_while_waking),
		cmocka_unit_test(test_wake_names_freed_entry),
		cmocka_unit_test(test_many_sleepers),
		cmocka_unit_test(test_try_wait_acquires),
		cmocka_unit_test(test_wait_timeout_acquires),
		cmocka_unit_test(test_empty_acquires),
		cmocka_unit_test(test_cancel_releases),
	};

	return cmocka_run_group_tests_name("threads", tests, NULL, NULL);
}
