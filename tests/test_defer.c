// SPDX-License-Identifier: MIT
/*
 * compl_chain_defer: ordered continuations.  Order, exactly once, freeing
 * in the function, long runs without recursion, mixes with blocking
 * waiters, cancel and early release, what pending and empty say while a
 * run goes on, misuse (including calls from inside a function that could
 * only wait for the function itself).
 */
#include <stdatomic.h>

#include "util.h"
#include "misuse-recorder.h"

struct dtask {
	struct compl_chain_entry entry;
	unsigned long id;
	_Atomic int runs;
	pthread_t ran_on;
	bool pending_in_fn;
	struct dlog *log;
	bool free_me;
};

/* Written only from inside the turn: the chain orders it. */
struct dlog {
	unsigned long *ids;
	unsigned long n, cap;
	struct compl_chain *chain;
	bool empty_in_fn;
};

static void log_id(struct dlog *log, unsigned long id)
{
	CHECK(log->n < log->cap);
	log->ids[log->n++] = id;
}

static void dfn(struct compl_chain_entry *e)
{
	struct dtask *t = (struct dtask *)e;

	atomic_fetch_add(&t->runs, 1);
	t->ran_on = pthread_self();
	t->pending_in_fn = compl_chain_pending(e);
	if (t->log->chain)
		t->log->empty_in_fn |= compl_chain_empty(t->log->chain);
	log_id(t->log, t->id);
	if (t->free_me)
		free(t);
}

static struct dlog *new_log(unsigned long cap)
{
	struct dlog *log = calloc(1, sizeof(*log));

	CHECK(log != NULL);
	log->ids = calloc(cap, sizeof(unsigned long));
	CHECK(log->ids != NULL);
	log->cap = cap;
	return log;
}

static void free_log(struct dlog *log)
{
	free(log->ids);
	free(log);
}

static void test_head_runs_at_once(void **state)
{
	struct compl_chain chain;
	struct dlog *log = new_log(4);
	struct dtask t = { .id = 7, .log = log }, u = { .id = 8, .log = log };

	(void)state;
	compl_chain_init(&chain);
	log->chain = &chain;
	compl_chain_add(&chain, &t.entry);
	compl_chain_add(&chain, &u.entry);
	compl_chain_defer(&t.entry, dfn);
	/* Ran in the caller, before returning; no longer pending inside. */
	assert_int_equal(atomic_load(&t.runs), 1);
	assert_true(pthread_equal(t.ran_on, pthread_self()));
	assert_false(t.pending_in_fn);
	/* While it ran, the chain still held u: not empty. */
	assert_false(log->empty_in_fn);
	assert_true(compl_chain_try_wait(&u.entry));
	compl_chain_complete(&u.entry);
	assert_int_equal(log->n, 1);
	compl_chain_destroy(&chain);
	free_log(log);
}

static void test_runs_in_completer(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry gate, after;
	struct dlog *log = new_log(4);
	struct dtask a = { .id = 1, .log = log }, b = { .id = 2, .log = log };

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &gate);
	compl_chain_add(&chain, &a.entry);
	compl_chain_add(&chain, &b.entry);
	compl_chain_add(&chain, &after);
	compl_chain_defer(&b.entry, dfn); /* out of order: b before a */
	compl_chain_defer(&a.entry, dfn);
	assert_int_equal(atomic_load(&a.runs) + atomic_load(&b.runs), 0);
	assert_true(compl_chain_pending(&a.entry));
	assert_false(compl_chain_try_wait(&after));
	compl_chain_complete(&gate); /* runs a, then b, here */
	assert_int_equal(atomic_load(&a.runs), 1);
	assert_int_equal(atomic_load(&b.runs), 1);
	assert_int_equal(log->n, 2);
	assert_int_equal(log->ids[0], 1);
	assert_int_equal(log->ids[1], 2);
	assert_true(pthread_equal(a.ran_on, pthread_self()));
	assert_true(compl_chain_try_wait(&after));
	compl_chain_complete(&after);
	compl_chain_destroy(&chain);
	free_log(log);
}

/* A million deferred entries run by one completion: iterative, freed in fn. */
static void test_deep_run(void **state)
{
	unsigned long n = test_scale(1000000), i;
	struct compl_chain chain;
	struct compl_chain_entry gate;
	struct dlog *log = new_log(n);

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &gate);
	for (i = 0; i < n; i++) {
		struct dtask *t = xmalloc(sizeof(*t));

		t->id = i;
		t->log = log;
		t->free_me = true;
		atomic_init(&t->runs, 0);
		compl_chain_add(&chain, &t->entry);
		compl_chain_defer(&t->entry, dfn);
	}
	assert_int_equal(log->n, 0);
	compl_chain_complete(&gate);
	assert_int_equal(log->n, n);
	for (i = 0; i < n; i++)
		if (log->ids[i] != i)
			fail_msg("deferred entry %lu ran at position %lu", log->ids[i], i);
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
	free_log(log);
}

/* Deferred entries between blocking waiters on other threads. */
struct blocker {
	struct compl_chain_entry entry;
	unsigned long id;
	struct dlog *log;
};

static void *blocker_fn(void *arg)
{
	struct blocker *b = arg;

	compl_chain_wait(&b->entry);
	log_id(b->log, b->id);
	compl_chain_complete(&b->entry);
	return NULL;
}

static void test_mixed_with_waiters(void **state)
{
	struct compl_chain chain;
	struct dlog *log = new_log(8);
	struct blocker w1 = { .id = 1, .log = log }, w3 = { .id = 3, .log = log };
	struct dtask d2 = { .id = 2, .log = log }, d4 = { .id = 4, .log = log };
	struct compl_chain_entry gate;
	pthread_t t1, t3;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &gate);
	compl_chain_add(&chain, &w1.entry);
	compl_chain_add(&chain, &d2.entry);
	compl_chain_add(&chain, &w3.entry);
	compl_chain_add(&chain, &d4.entry);
	compl_chain_defer(&d4.entry, dfn);
	t1 = start_thread(blocker_fn, &w1);
	t3 = start_thread(blocker_fn, &w3);
	compl_chain_defer(&d2.entry, dfn);
	sleep_ns(20 * MS);
	assert_int_equal(log->n, 0);
	compl_chain_complete(&gate);
	join_thread(t1);
	join_thread(t3);
	assert_int_equal(log->n, 4);
	for (unsigned long i = 0; i < 4; i++)
		assert_int_equal(log->ids[i], i + 1);
	/* Each deferred function ran in the thread that completed its predecessor. */
	assert_true(pthread_equal(d2.ran_on, t1));
	assert_true(pthread_equal(d4.ran_on, t3));
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
	free_log(log);
}

static void test_cancel_around_deferred(void **state)
{
	struct compl_chain chain;
	struct dlog *log = new_log(8);
	struct dtask d1 = { .id = 1, .log = log }, d2 = { .id = 2, .log = log };
	struct compl_chain_entry gate, x, tail;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &gate);
	compl_chain_add(&chain, &d1.entry);
	compl_chain_add(&chain, &x);
	compl_chain_add(&chain, &d2.entry);
	compl_chain_add(&chain, &tail);
	compl_chain_defer(&d1.entry, dfn);
	compl_chain_defer(&d2.entry, dfn);
	compl_chain_cancel(&x);    /* middle: nothing runs */
	assert_int_equal(log->n, 0);
	compl_chain_cancel(&gate); /* head: the turn passes, d1 and d2 run here */
	assert_int_equal(log->n, 2);
	assert_int_equal(log->ids[0], 1);
	assert_int_equal(log->ids[1], 2);
	assert_true(compl_chain_try_wait(&tail));
	compl_chain_cancel(&tail);
	compl_chain_destroy(&chain);
	free_log(log);
}

/* A deferred function that re-adds and re-defers its own entry. */
struct again {
	struct compl_chain_entry entry;
	struct compl_chain *chain;
	int left;
	int runs;
};

static void again_fn(struct compl_chain_entry *e)
{
	struct again *a = (struct again *)e;

	a->runs++;
	if (--a->left > 0) {
		compl_chain_add(a->chain, e);
		compl_chain_defer(e, again_fn);
	}
}

static void test_fn_readds(void **state)
{
	struct compl_chain chain;
	struct again a = { .chain = &chain, .left = 1000 };

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &a.entry);
	compl_chain_defer(&a.entry, again_fn);
	/* Re-deferred from inside: queued, then run by the same loop. */
	assert_int_equal(a.runs, 1000);
	assert_true(compl_chain_empty(&chain));
	compl_chain_flush(&chain);
	compl_chain_destroy(&chain);
}

/*
 * A deferred function holds the turn of an otherwise empty chain: an entry
 * added meanwhile (here from inside the function) must wait for it to
 * return, although the chain's list is empty.
 */
struct alone {
	struct compl_chain_entry entry, late;
	struct compl_chain *chain;
	bool late_ready_in_fn, empty_in_fn;
};

static void alone_fn(struct compl_chain_entry *e)
{
	struct alone *a = (struct alone *)e;

	a->empty_in_fn = compl_chain_empty(a->chain);
	compl_chain_add(a->chain, &a->late);
	a->late_ready_in_fn = compl_chain_try_wait(&a->late);
}

static void test_add_while_alone_fn_runs(void **state)
{
	struct compl_chain chain;
	struct alone a = { .chain = &chain };

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &a.entry);
	compl_chain_defer(&a.entry, alone_fn);
	/* No entry is pending while the function runs: the chain is empty. */
	assert_true(a.empty_in_fn);
	assert_false(a.late_ready_in_fn);
	assert_true(compl_chain_try_wait(&a.late));
	compl_chain_complete(&a.late);
	assert_true(compl_chain_empty(&chain));
	/* And the chain is free again: the next add has its turn at once. */
	compl_chain_add(&chain, &a.late);
	assert_true(compl_chain_try_wait(&a.late));
	compl_chain_complete(&a.late);
	compl_chain_destroy(&chain);
}

/*
 * A run of deferred entries that get the turn from one complete: each stays
 * pending until its own function is called, so while an earlier function
 * runs the chain is not empty; inside the function of the last pending
 * entry it is.
 */
#define RUN_LEN 100

struct runner {
	struct compl_chain_entry entry;
	struct compl_chain *chain;
	struct runner *later; /* the next entry of the run; NULL for the last */
	int runs;
	bool self_pending, later_pending, empty;
};

static void runner_fn(struct compl_chain_entry *e)
{
	struct runner *r = (struct runner *)e;

	r->runs++;
	r->self_pending = compl_chain_pending(e);
	r->later_pending = r->later && compl_chain_pending(&r->later->entry);
	r->empty = compl_chain_empty(r->chain);
}

static void test_run_stays_pending(void **state)
{
	struct runner *r = calloc(RUN_LEN, sizeof(*r));
	struct compl_chain_entry gate;
	struct compl_chain chain;
	int i;

	(void)state;
	CHECK(r != NULL);
	compl_chain_init(&chain);
	compl_chain_add(&chain, &gate);
	for (i = 0; i < RUN_LEN; i++) {
		r[i].chain = &chain;
		r[i].later = i + 1 < RUN_LEN ? &r[i + 1] : NULL;
		compl_chain_add(&chain, &r[i].entry);
		compl_chain_defer(&r[i].entry, runner_fn);
	}
	compl_chain_complete(&gate);
	for (i = 0; i < RUN_LEN; i++) {
		assert_int_equal(r[i].runs, 1);
		assert_false(r[i].self_pending);
		if (i + 1 < RUN_LEN && !r[i].later_pending)
			fail_msg("deferred entry #%d was not pending while #%d's "
				 "function ran", i + 1, i);
		if (i + 1 < RUN_LEN && r[i].empty)
			fail_msg("chain empty while #%d's function ran, with "
				 "later deferred entries still pending", i);
	}
	if (!r[RUN_LEN - 1].empty)
		fail_msg("chain not empty in the function of the last pending entry");
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
	free(r);
}

/*
 * Once compl_chain_pending() is false the entry is the caller's again: a
 * third thread frees a deferred entry the moment it stops being pending,
 * while the function of the deferred entry before it runs.  The freed
 * entry's own function must not touch it either.
 */
struct freer {
	struct compl_chain_entry *entry;
	_Atomic bool freed;
};

static void *freer_fn(void *arg)
{
	struct freer *f = arg;

	while (compl_chain_pending(f->entry))
		sched_yield();
	free(f->entry);
	atomic_store(&f->freed, true);
	return NULL;
}

struct first {
	struct compl_chain_entry entry;
	struct freer *freer;
	bool freed_in_fn;
};

/* Gives the freer time to act if the entry after it looks done already. */
static void first_fn(struct compl_chain_entry *e)
{
	struct first *f = (struct first *)e;
	uint64_t until = now_ns() + 100 * MS;

	while (!atomic_load(&f->freer->freed) && now_ns() < until)
		sched_yield();
	f->freed_in_fn = atomic_load(&f->freer->freed);
}

static _Atomic int second_runs;

static void second_fn(struct compl_chain_entry *e)
{
	(void)e; /* may be freed already */
	atomic_fetch_add(&second_runs, 1);
}

static void test_free_once_not_pending(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry gate, *second = xmalloc(sizeof(*second));
	struct freer fr = { .entry = second };
	struct first first = { .freer = &fr };
	pthread_t tid;

	(void)state;
	atomic_store(&second_runs, 0);
	compl_chain_init(&chain);
	compl_chain_add(&chain, &gate);
	compl_chain_add(&chain, &first.entry);
	compl_chain_add(&chain, second);
	compl_chain_defer(&first.entry, first_fn);
	compl_chain_defer(second, second_fn);
	tid = start_thread(freer_fn, &fr);
	compl_chain_complete(&gate); /* runs first_fn, then second_fn, here */
	join_thread(tid);
	assert_false(first.freed_in_fn);
	assert_int_equal(atomic_load(&second_runs), 1);
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
}

/* A pool where tasks defer, wait, release early or cancel at random. */
struct ptask {
	struct compl_chain_entry entry;
	unsigned long id;
	int kind;
	struct ppool *pool;
	struct work_node node;
};

struct ppool {
	struct work_queue q;
	struct compl_chain chain;
	unsigned long *out, nout, last_id;
	bool any;
	_Atomic unsigned long deferred_runs;
};

static void ordered(struct ppool *p, unsigned long id)
{
	CHECK(!p->any || id > p->last_id);
	p->any = true;
	p->last_id = id;
	p->out[p->nout++] = id;
}

static void pfn(struct compl_chain_entry *e)
{
	struct ptask *t = (struct ptask *)e;

	ordered(t->pool, t->id);
	atomic_fetch_add(&t->pool->deferred_runs, 1);
	free(t);
}

static void *pworker(void *arg)
{
	struct ppool *p = arg;
	struct work_node *n;

	while ((n = work_pop(&p->q))) {
		struct ptask *t = work_item(n, struct ptask, node);

		switch (t->kind) {
		case 0: case 1: case 2:
			compl_chain_defer(&t->entry, pfn);
			continue; /* t belongs to the library now */
		case 3:
			compl_chain_wait(&t->entry);
			ordered(p, t->id);
			compl_chain_complete(&t->entry);
			break;
		case 4:
			compl_chain_complete(&t->entry);
			break;
		default:
			compl_chain_cancel(&t->entry);
		}
		free(t);
	}
	return NULL;
}

static void test_pool_mix(void **state)
{
	unsigned long n = test_scale(50000), i, ndefer = 0, nordered = 0;
	struct ppool p = { .out = calloc(n, sizeof(unsigned long)) };
	pthread_t tids[8];
	uint64_t rnd = 42;

	(void)state;
	CHECK(p.out != NULL);
	work_init(&p.q);
	compl_chain_init(&p.chain);
	for (i = 0; i < 8; i++)
		tids[i] = start_thread(pworker, &p);
	for (i = 0; i < n; i++) {
		struct ptask *t = xmalloc(sizeof(*t));

		t->id = i;
		t->kind = (int)(rnd_next(&rnd) % 6);
		t->pool = &p;
		ndefer += t->kind <= 2;
		nordered += t->kind <= 3;
		compl_chain_add(&p.chain, &t->entry);
		work_push(&p.q, &t->node);
	}
	compl_chain_flush(&p.chain);
	work_close(&p.q);
	for (i = 0; i < 8; i++)
		join_thread(tids[i]);
	assert_int_equal(atomic_load(&p.deferred_runs), ndefer);
	assert_int_equal(p.nout, nordered);
	assert_true(compl_chain_empty(&p.chain));
	compl_chain_destroy(&p.chain);
	work_destroy(&p.q);
	free(p.out);
}

static void nop(struct compl_chain_entry *e)
{
	(void)e;
}

static void test_misuse(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry gate, d, never;

	(void)state;
	cchain_set_misuse_handler(record_misuse);
	memset(&never, 0, sizeof(never));
	compl_chain_init(&chain);
	compl_chain_add(&chain, &gate);
	compl_chain_add(&chain, &d);
	compl_chain_defer(&d, NULL);
	assert_int_equal(misuse_count, 1);
	assert_string_equal(misuse_msg, "no function to defer");
	compl_chain_defer(&d, nop);
	compl_chain_defer(&d, nop);
	compl_chain_wait(&d);
	compl_chain_complete(&d);
	compl_chain_cancel(&d);
	assert_false(compl_chain_try_wait(&d));
	assert_int_equal(compl_chain_wait_timeout(&d, 0), EINVAL);
	assert_int_equal(misuse_count, 7);
	assert_string_equal(misuse_msg, "entry was handed to compl_chain_defer");
	assert_true(compl_chain_pending(&d));
	compl_chain_defer(&never, nop);
	assert_int_equal(misuse_count, 8);
	compl_chain_complete(&gate);
	assert_false(compl_chain_pending(&d));
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
	assert_int_equal(misuse_count, 8);
	cchain_set_misuse_handler(NULL);
}

/*
 * compl_chain_empty() is true inside the last deferred function (nothing is
 * pending), but the chain is still in use by the call that runs it:
 * destroying it from there is reported as misuse and leaves it usable.
 */
struct destroyer {
	struct compl_chain_entry entry;
	struct compl_chain *chain;
	bool empty_in_fn;
	int misuse_in_fn;
};

static void destroy_fn(struct compl_chain_entry *e)
{
	struct destroyer *d = (struct destroyer *)e;

	d->empty_in_fn = compl_chain_empty(d->chain);
	compl_chain_destroy(d->chain);
	d->misuse_in_fn = misuse_count;
}

static void test_destroy_in_fn_is_misuse(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry gate;
	struct destroyer d = { .chain = &chain };

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &gate);
	compl_chain_add(&chain, &d.entry);
	compl_chain_defer(&d.entry, destroy_fn);
	compl_chain_complete(&gate);
	assert_true(d.empty_in_fn);
	assert_int_equal(d.misuse_in_fn, 1);
	assert_string_equal(misuse_func, "compl_chain_destroy");
	assert_string_equal(misuse_msg, "a deferred function of the chain is running");
	/* Untouched: still usable, then destroyed for real. */
	compl_chain_add(&chain, &gate);
	assert_true(compl_chain_try_wait(&gate));
	compl_chain_complete(&gate);
	compl_chain_destroy(&chain);
	assert_int_equal(misuse_count, 1);
}

/*
 * From inside a deferred function of chain C, anything that waits for a
 * later turn of C would wait for the function itself: compl_chain_flush(C),
 * and compl_chain_wait() or compl_chain_complete() on a later entry of C.
 * Each is reported as misuse and returns without doing anything; the chain
 * goes on as if it had not been called.
 */
enum reentry { FLUSH_SAME, WAIT_LATER, COMPLETE_LATER };

static const char *const reentry_func[] = {
	[FLUSH_SAME] = "compl_chain_flush",
	[WAIT_LATER] = "compl_chain_wait",
	[COMPLETE_LATER] = "compl_chain_complete",
};

/* On the heap: a thread that hangs in it is left behind. */
struct reentrant {
	struct compl_chain_entry entry, gate, later;
	struct compl_chain chain;
	enum reentry op;
	bool via_gate; /* run by the gate's complete, not by the defer */
	int misuse_in_fn;
	bool later_pending_in_fn;
};

static void reentrant_fn(struct compl_chain_entry *e)
{
	struct reentrant *r = (struct reentrant *)e;

	switch (r->op) {
	case FLUSH_SAME:
		compl_chain_flush(&r->chain);
		break;
	case WAIT_LATER:
		compl_chain_wait(&r->later);
		break;
	case COMPLETE_LATER:
		compl_chain_complete(&r->later);
		break;
	}
	r->misuse_in_fn = misuse_count;
	r->later_pending_in_fn = compl_chain_pending(&r->later);
}

static void reentrant_body(void *arg)
{
	struct reentrant *r = arg;

	if (r->via_gate)
		compl_chain_add(&r->chain, &r->gate);
	compl_chain_add(&r->chain, &r->entry);
	compl_chain_add(&r->chain, &r->later);
	compl_chain_defer(&r->entry, reentrant_fn);
	if (r->via_gate)
		compl_chain_complete(&r->gate);
}

static void test_reentry_is_misuse(void **state)
{
	char hung[512] = "";
	enum reentry op;
	int via_gate;

	(void)state;
	for (op = FLUSH_SAME; op <= COMPLETE_LATER; op++) {
		for (via_gate = 0; via_gate < 2; via_gate++) {
			struct reentrant *r = calloc(1, sizeof(*r));

			CHECK(r != NULL);
			r->op = op;
			r->via_gate = via_gate;
			compl_chain_init(&r->chain);
			misuse_count = 0;
			if (!run_bounded(reentrant_body, r, 1000 * MS)) {
				/* Left to the hung thread. */
				snprintf(hung + strlen(hung), sizeof(hung) - strlen(hung),
					 "%s%s (function run by %s)", *hung ? ", " : "",
					 reentry_func[op], via_gate ? "a complete" : "the defer");
				continue;
			}
			assert_int_equal(r->misuse_in_fn, 1);
			assert_string_equal(misuse_func, reentry_func[op]);
			assert_true(r->later_pending_in_fn);
			/* Nothing happened: the later entry's turn comes next. */
			assert_true(compl_chain_try_wait(&r->later));
			compl_chain_complete(&r->later);
			assert_true(compl_chain_empty(&r->chain));
			compl_chain_destroy(&r->chain);
			assert_int_equal(misuse_count, 1);
			free(r);
		}
	}
	if (*hung)
		fail_msg("hang instead of a misuse report, from inside a deferred "
			 "function of the same chain: %s", hung);
}

static void test_spin_knob(void **state)
{
	uint64_t old;

	(void)state;
	old = cchain_set_spin_ns(0);
	assert_int_equal(cchain_set_spin_ns(5000), 0);
	assert_int_equal(cchain_set_spin_ns(old), 5000);
}

/*
 * Budgets above 10 ms, the most CCHAIN_SPIN_NS may ask for, are capped to
 * it: a 5 s budget makes a waiter whose turn does not come spin 10 ms, not
 * 5 s, past a timeout of 20 ms (where it may spin at all: two CPUs).
 */
static void test_spin_cap(void **state)
{
	const uint64_t cap = 10 * MS;
	struct compl_chain chain;
	struct compl_chain_entry a, b;
	uint64_t old, t0, took;

	(void)state;
	compl_chain_init(&chain);
	old = cchain_set_spin_ns(5000 * MS);
	assert_true(old <= cap);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	t0 = now_ns();
	assert_int_equal(compl_chain_wait_timeout(&b, 20 * MS), ETIMEDOUT);
	took = now_ns() - t0;
	compl_chain_complete(&a);
	compl_chain_complete(&b);
	compl_chain_destroy(&chain);
	assert_int_equal(cchain_set_spin_ns(cap), cap);
	assert_int_equal(cchain_set_spin_ns(cap + 1), cap);
	assert_int_equal(cchain_set_spin_ns(UINT64_MAX), cap);
	assert_int_equal(cchain_set_spin_ns(old), cap);
	/* 20 ms, the spin's 10 ms on top at most, and room for a slow host. */
	assert_true(took < 1000 * MS);
}

/* compl_chain_defer() given NULL for its entry: misuse, nothing runs. */
static void test_null_entry(void **state)
{
	(void)state;
	compl_chain_defer(NULL, nop);
	assert_null_misuse("compl_chain_defer", "entry");
	compl_chain_defer(NULL, NULL);
	assert_null_misuse("compl_chain_defer", "entry");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_runs_at_once),
		cmocka_unit_test(test_runs_in_completer),
		cmocka_unit_test(test_deep_run),
		cmocka_unit_test(test_mixed_with_waiters),
		cmocka_unit_test(test_cancel_around_deferred),
		cmocka_unit_test(test_fn_readds),
		cmocka_unit_test(test_add_while_alone_fn_runs),
		cmocka_unit_test(test_run_stays_pending),
		cmocka_unit_test(test_free_once_not_pending),
		cmocka_unit_test(test_pool_mix),
		cmocka_unit_test(test_misuse),
		cmocka_unit_test_setup_teardown(test_destroy_in_fn_is_misuse, setup_recorder,
						restore_default),
		cmocka_unit_test_setup_teardown(test_null_entry, setup_recorder, restore_default),
		cmocka_unit_test_setup_teardown(test_reentry_is_misuse, setup_recorder,
						restore_default),
		cmocka_unit_test(test_spin_knob),
		cmocka_unit_test(test_spin_cap),
	};

	return cmocka_run_group_tests_name("defer", tests, NULL, NULL);
}
