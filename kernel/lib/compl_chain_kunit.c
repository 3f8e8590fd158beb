// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for ordered completion chains.
 *
 * They check the promises that libcchain's userspace suites check
 * (tests/test_compl_chain.c, tests/test_defer.c, tests/test_threads.c),
 * case by case; the table that maps each case here to the userspace test
 * of the same promise is in kernel/README.md of libcchain.  Threads are
 * kthreads; they never call KUnit assertions: they record, and the test
 * thread checks.  Misuse cases trigger WARN_ON_ONCE() splats in the log by
 * design; what they check is that the call does nothing.
 */
#include <kunit/test.h>
#include <linux/async.h>
#include <linux/compl_chain.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/wait.h>

/* ---- Helpers ------------------------------------------------------------ */

static u64 rnd_next(u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A kthread that runs fn(arg) once; cc_join() waits for it. */
struct cc_thread {
	struct task_struct *task;
	struct completion done;
	int (*fn)(void *arg);
	void *arg;
};

static int cc_thread_main(void *data)
{
	struct cc_thread *t = data;

	t->fn(t->arg);
	complete_all(&t->done); /* waited for by cc_join() and others */
	return 0;
}

static struct cc_thread *cc_start(struct kunit *test, int (*fn)(void *),
				  void *arg)
{
	struct cc_thread *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, t);
	init_completion(&t->done);
	t->fn = fn;
	t->arg = arg;
	t->task = kthread_create(cc_thread_main, t, "compl_chain_kunit");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t->task));
	get_task_struct(t->task);
	wake_up_process(t->task);
	return t;
}

/* Waits up to 60 s; a thread that hangs there is reported and left. */
static bool cc_join(struct kunit *test, struct cc_thread *t)
{
	if (!wait_for_completion_timeout(&t->done, 60 * HZ)) {
		KUNIT_FAIL(test, "a thread hangs");
		return false;
	}
	kthread_stop(t->task);
	put_task_struct(t->task);
	return true;
}

static bool cc_finished(struct cc_thread *t)
{
	return completion_done(&t->done);
}

/* A FIFO of work items for a pool of kthreads. */
struct cc_queue {
	spinlock_t lock; /* protects items and closed */
	struct list_head items;
	bool closed;
	wait_queue_head_t wq;
};

static void queue_init(struct cc_queue *q)
{
	spin_lock_init(&q->lock);
	INIT_LIST_HEAD(&q->items);
	q->closed = false;
	init_waitqueue_head(&q->wq);
}

static void queue_push(struct cc_queue *q, struct list_head *item)
{
	spin_lock(&q->lock);
	list_add_tail(item, &q->items);
	spin_unlock(&q->lock);
	wake_up(&q->wq);
}

static void queue_close(struct cc_queue *q)
{
	spin_lock(&q->lock);
	q->closed = true;
	spin_unlock(&q->lock);
	wake_up_all(&q->wq);
}

/* True once there is an item (in *@item) or the queue is closed (NULL). */
static bool queue_try_pop(struct cc_queue *q, struct list_head **item)
{
	bool ret;

	spin_lock(&q->lock);
	*item = NULL;
	if (!list_empty(&q->items)) {
		*item = q->items.next;
		list_del(*item);
	}
	ret = *item || q->closed;
	spin_unlock(&q->lock);
	return ret;
}

static struct list_head *queue_pop(struct cc_queue *q)
{
	struct list_head *item;

	wait_event(q->wq, queue_try_pop(q, &item));
	return item;
}

static void do_work(unsigned int work)
{
	unsigned int i, sink = 0;

	for (i = 0; i < work; i++)
		WRITE_ONCE(sink, sink + i);
	if (work % 7 == 0)
		cond_resched();
}

/* ---- Single-threaded semantics (tests/test_compl_chain.c) ---------------- */

static DEFINE_COMPL_CHAIN(static_chain);

static void compl_chain_test_static_init(struct kunit *test)
{
	struct compl_chain_entry a, b;

	compl_chain_add(&static_chain, &a);
	compl_chain_add(&static_chain, &b);
	KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&a));
	KUNIT_EXPECT_FALSE(test, compl_chain_try_wait(&b));
	compl_chain_complete(&a);
	compl_chain_complete(&b);
	KUNIT_EXPECT_TRUE(test, list_empty(&static_chain.entries));
}

/*
 * Unlike userspace, not on the stack: lockdep keys a statically initialised
 * lock by its address, which must be static.
 */
static void compl_chain_test_local_define(struct kunit *test)
{
	static DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry a;

	compl_chain_add(&chain, &a);
	compl_chain_wait(&a);
	compl_chain_complete(&a);
	KUNIT_EXPECT_FALSE(test, compl_chain_pending(&a));
}

static void compl_chain_test_head_ready_and_handoff(struct kunit *test)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, c;

	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	KUNIT_EXPECT_TRUE(test, compl_chain_pending(&a));
	KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&a));
	compl_chain_add(&chain, &b);
	compl_chain_add(&chain, &c);
	KUNIT_EXPECT_FALSE(test, compl_chain_try_wait(&b));
	KUNIT_EXPECT_FALSE(test, compl_chain_try_wait(&c));
	compl_chain_wait(&a); /* the head returns at once */
	compl_chain_complete(&a);
	KUNIT_EXPECT_FALSE(test, compl_chain_pending(&a));
	KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&b));
	KUNIT_EXPECT_FALSE(test, compl_chain_try_wait(&c));
	compl_chain_complete(&b);
	KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&c));
	KUNIT_EXPECT_TRUE(test, compl_chain_pending(&c));
	compl_chain_complete(&c);
	KUNIT_EXPECT_FALSE(test, compl_chain_pending(&c));
}

static void compl_chain_test_add_uninitialised(struct kunit *test)
{
	struct compl_chain chain;
	struct compl_chain_entry *e1 = kmalloc(sizeof(*e1), GFP_KERNEL);
	struct compl_chain_entry *e2 = kmalloc(sizeof(*e2), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, e1);
	KUNIT_ASSERT_NOT_NULL(test, e2);
	/* Garbage pointers that must never be followed. */
	memset(e1, 0xa5, sizeof(*e1));
	memset(e2, 0x5a, sizeof(*e2));
	compl_chain_init(&chain);
	compl_chain_add(&chain, e1);
	compl_chain_add(&chain, e2);
	KUNIT_EXPECT_TRUE(test, compl_chain_pending(e1));
	KUNIT_EXPECT_TRUE(test, compl_chain_pending(e2));
	compl_chain_complete(e1);
	kfree(e1);
	KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(e2));
	compl_chain_complete(e2);
	kfree(e2);
	KUNIT_EXPECT_TRUE(test, list_empty(&chain.entries));
}

static void compl_chain_test_zero_entry_not_pending(struct kunit *test)
{
	struct compl_chain_entry e;

	memset(&e, 0, sizeof(e));
	KUNIT_EXPECT_FALSE(test, compl_chain_pending(&e));
}

static void compl_chain_test_entry_reuse(struct kunit *test)
{
	struct compl_chain c1, c2;
	struct compl_chain_entry e, other;
	int i;

	compl_chain_init(&c1);
	compl_chain_init(&c2);
	for (i = 0; i < 1000; i++) {
		struct compl_chain *c = (i & 1) ? &c2 : &c1;

		compl_chain_add(c, &e);
		compl_chain_add(c, &other);
		KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&e));
		if (i % 3 == 0)
			compl_chain_cancel(&e);
		else
			compl_chain_complete(&e);
		KUNIT_EXPECT_FALSE(test, compl_chain_pending(&e));
		KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&other));
		compl_chain_complete(&other);
		KUNIT_EXPECT_TRUE(test, list_empty(&c->entries));
	}
}

static void compl_chain_test_cancel_middle(struct kunit *test)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, c;

	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	compl_chain_add(&chain, &c);
	compl_chain_cancel(&b);
	KUNIT_EXPECT_FALSE(test, compl_chain_pending(&b));
	KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&a));
	KUNIT_EXPECT_FALSE(test, compl_chain_try_wait(&c));
	compl_chain_complete(&a);
	KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&c));
	compl_chain_complete(&c);
	KUNIT_EXPECT_TRUE(test, list_empty(&chain.entries));
}

static void compl_chain_test_cancel_head_and_tail(struct kunit *test)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, c, d;

	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	compl_chain_add(&chain, &c);
	compl_chain_cancel(&c); /* tail */
	compl_chain_add(&chain, &d); /* appended after b, not after c */
	compl_chain_cancel(&a); /* head: the turn passes to b */
	KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&b));
	KUNIT_EXPECT_FALSE(test, compl_chain_try_wait(&d));
	compl_chain_cancel(&b);
	KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&d));
	compl_chain_cancel(&d); /* the only entry */
	KUNIT_EXPECT_TRUE(test, list_empty(&chain.entries));
	compl_chain_add(&chain, &a);
	KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&a));
	compl_chain_complete(&a);
}

static void compl_chain_test_flush_empty(struct kunit *test)
{
	struct compl_chain chain;

	compl_chain_init(&chain);
	compl_chain_flush(&chain);
	KUNIT_EXPECT_TRUE(test, list_empty(&chain.entries));
	compl_chain_flush(&static_chain);
}

static void compl_chain_test_wait_timeout(struct kunit *test)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b;
	unsigned long tmo = msecs_to_jiffies(30);
	ktime_t t0;

	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	KUNIT_EXPECT_EQ(test, compl_chain_wait_timeout(&a, 0), 0);
	KUNIT_EXPECT_EQ(test, compl_chain_wait_timeout(&a, MAX_SCHEDULE_TIMEOUT), 0);
	KUNIT_EXPECT_EQ(test, compl_chain_wait_timeout(&b, 0), -ETIMEDOUT);
	t0 = ktime_get();
	KUNIT_EXPECT_EQ(test, compl_chain_wait_timeout(&b, tmo), -ETIMEDOUT);
	/* A jiffies timeout may end at the first tick of its last jiffy. */
	KUNIT_EXPECT_GE(test, ktime_to_ns(ktime_sub(ktime_get(), t0)),
			(s64)(tmo - 1) * TICK_NSEC);
	/* Still pending, still in its place: a second timeout, then the turn. */
	KUNIT_EXPECT_TRUE(test, compl_chain_pending(&b));
	KUNIT_EXPECT_EQ(test, compl_chain_wait_timeout(&b, 1), -ETIMEDOUT);
	compl_chain_complete(&a);
	KUNIT_EXPECT_EQ(test, compl_chain_wait_timeout(&b, 1), 0);
	KUNIT_EXPECT_EQ(test, compl_chain_wait_timeout(&b, MAX_SCHEDULE_TIMEOUT), 0);
	compl_chain_complete(&b);
}

static void nop_fn(struct compl_chain_entry *entry)
{
}

static void compl_chain_test_misuse_never_added(struct kunit *test)
{
	struct compl_chain_entry e;

	memset(&e, 0, sizeof(e));
	compl_chain_wait(&e);
	compl_chain_complete(&e);
	compl_chain_cancel(&e);
	compl_chain_defer(&e, nop_fn);
	KUNIT_EXPECT_FALSE(test, compl_chain_try_wait(&e));
	KUNIT_EXPECT_EQ(test, compl_chain_wait_timeout(&e, 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, compl_chain_wait_killable(&e), -EINVAL);
	KUNIT_EXPECT_FALSE(test, compl_chain_pending(&e));
	KUNIT_EXPECT_PTR_EQ(test, e.chain, NULL);
	KUNIT_EXPECT_PTR_EQ(test, e.fn, NULL);
}

static void compl_chain_test_misuse_double_complete(struct kunit *test)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, c;

	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	compl_chain_add(&chain, &c);
	compl_chain_complete(&a);
	compl_chain_complete(&a);
	compl_chain_cancel(&a);
	compl_chain_wait(&a);
	/* The chain is untouched: b has the turn, c waits behind it. */
	KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&b));
	KUNIT_EXPECT_FALSE(test, compl_chain_try_wait(&c));
	compl_chain_cancel(&b);
	compl_chain_complete(&b);
	KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&c));
	compl_chain_complete(&c);
	KUNIT_EXPECT_TRUE(test, list_empty(&chain.entries));
}

/* ---- Deferred functions (tests/test_defer.c) ---------------------------- */

/* Written only from inside the turn: the chain orders it. */
struct dlog {
	unsigned long *ids;
	unsigned long n, cap;
	unsigned long overflow;
};

struct dtask {
	struct compl_chain_entry entry;
	unsigned long id;
	int runs;
	struct task_struct *ran_on;
	bool pending_in_fn;
	struct dlog *log;
	bool free_me;
};

static void log_id(struct dlog *log, unsigned long id)
{
	if (log->n < log->cap)
		log->ids[log->n++] = id;
	else
		log->overflow++;
}

static void dfn(struct compl_chain_entry *e)
{
	struct dtask *t = container_of(e, struct dtask, entry);

	t->runs++;
	t->ran_on = current;
	t->pending_in_fn = compl_chain_pending(e);
	log_id(t->log, t->id);
	if (t->free_me)
		kfree(t);
}

static struct dlog *new_log(struct kunit *test, unsigned long cap)
{
	struct dlog *log = kunit_kzalloc(test, sizeof(*log), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, log);
	log->ids = kvcalloc(cap, sizeof(*log->ids), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, log->ids);
	log->cap = cap;
	return log;
}

static void free_log(struct dlog *log)
{
	kvfree(log->ids);
}

static void compl_chain_test_defer_head_runs_at_once(struct kunit *test)
{
	struct compl_chain chain;
	struct dlog *log = new_log(test, 4);
	struct dtask t = { .id = 7, .log = log }, u = { .id = 8, .log = log };

	compl_chain_init(&chain);
	compl_chain_add(&chain, &t.entry);
	compl_chain_add(&chain, &u.entry);
	compl_chain_defer(&t.entry, dfn);
	/* Ran in the caller, before returning; no longer pending inside. */
	KUNIT_EXPECT_EQ(test, t.runs, 1);
	KUNIT_EXPECT_PTR_EQ(test, t.ran_on, current);
	KUNIT_EXPECT_FALSE(test, t.pending_in_fn);
	KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&u.entry));
	compl_chain_complete(&u.entry);
	KUNIT_EXPECT_EQ(test, log->n, 1UL);
	free_log(log);
}

static void compl_chain_test_defer_runs_in_completer(struct kunit *test)
{
	struct compl_chain chain;
	struct compl_chain_entry gate, after;
	struct dlog *log = new_log(test, 4);
	struct dtask a = { .id = 1, .log = log }, b = { .id = 2, .log = log };

	compl_chain_init(&chain);
	compl_chain_add(&chain, &gate);
	compl_chain_add(&chain, &a.entry);
	compl_chain_add(&chain, &b.entry);
	compl_chain_add(&chain, &after);
	compl_chain_defer(&b.entry, dfn); /* out of order: b before a */
	compl_chain_defer(&a.entry, dfn);
	KUNIT_EXPECT_EQ(test, a.runs + b.runs, 0);
	KUNIT_EXPECT_TRUE(test, compl_chain_pending(&a.entry));
	KUNIT_EXPECT_FALSE(test, compl_chain_try_wait(&after));
	compl_chain_complete(&gate); /* runs a, then b, here */
	KUNIT_EXPECT_EQ(test, a.runs, 1);
	KUNIT_EXPECT_EQ(test, b.runs, 1);
	KUNIT_ASSERT_EQ(test, log->n, 2UL);
	KUNIT_EXPECT_EQ(test, log->ids[0], 1UL);
	KUNIT_EXPECT_EQ(test, log->ids[1], 2UL);
	KUNIT_EXPECT_PTR_EQ(test, a.ran_on, current);
	KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&after));
	compl_chain_complete(&after);
	free_log(log);
}

/*
 * 100000 deferred entries run by one complete, each freed in its function:
 * a recursive run would overflow the kernel stack long before the end.
 */
static void compl_chain_test_defer_deep_run(struct kunit *test)
{
	const unsigned long n = 100000;
	struct compl_chain chain;
	struct compl_chain_entry gate;
	struct dlog *log = new_log(test, n);
	unsigned long i, misplaced = 0;

	compl_chain_init(&chain);
	compl_chain_add(&chain, &gate);
	for (i = 0; i < n; i++) {
		struct dtask *t = kzalloc(sizeof(*t), GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, t);
		t->id = i;
		t->log = log;
		t->free_me = true;
		compl_chain_add(&chain, &t->entry);
		compl_chain_defer(&t->entry, dfn);
	}
	KUNIT_EXPECT_EQ(test, log->n, 0UL);
	compl_chain_complete(&gate);
	KUNIT_EXPECT_EQ(test, log->n, n);
	for (i = 0; i < log->n; i++)
		misplaced += log->ids[i] != i;
	KUNIT_EXPECT_EQ(test, misplaced, 0UL);
	KUNIT_EXPECT_TRUE(test, list_empty(&chain.entries));
	free_log(log);
}

/* Deferred entries between blocking waiters on other threads. */
struct blocker {
	struct compl_chain_entry entry;
	unsigned long id;
	struct dlog *log;
};

static int blocker_fn(void *arg)
{
	struct blocker *b = arg;

	compl_chain_wait(&b->entry);
	log_id(b->log, b->id);
	compl_chain_complete(&b->entry);
	return 0;
}

static void compl_chain_test_defer_mixed_with_waiters(struct kunit *test)
{
	struct compl_chain chain;
	struct dlog *log = new_log(test, 8);
	struct blocker w1 = { .id = 1, .log = log }, w3 = { .id = 3, .log = log };
	struct dtask d2 = { .id = 2, .log = log }, d4 = { .id = 4, .log = log };
	struct compl_chain_entry gate;
	struct cc_thread *t1, *t3;
	unsigned long i;

	compl_chain_init(&chain);
	compl_chain_add(&chain, &gate);
	compl_chain_add(&chain, &w1.entry);
	compl_chain_add(&chain, &d2.entry);
	compl_chain_add(&chain, &w3.entry);
	compl_chain_add(&chain, &d4.entry);
	compl_chain_defer(&d4.entry, dfn);
	t1 = cc_start(test, blocker_fn, &w1);
	t3 = cc_start(test, blocker_fn, &w3);
	compl_chain_defer(&d2.entry, dfn);
	msleep(20);
	KUNIT_EXPECT_EQ(test, log->n, 0UL);
	compl_chain_complete(&gate);
	KUNIT_ASSERT_TRUE(test, cc_join(test, t1));
	KUNIT_ASSERT_TRUE(test, cc_join(test, t3));
	KUNIT_ASSERT_EQ(test, log->n, 4UL);
	for (i = 0; i < 4; i++)
		KUNIT_EXPECT_EQ(test, log->ids[i], i + 1);
	/* Each deferred function ran in the thread that completed before it. */
	KUNIT_EXPECT_PTR_EQ(test, d2.ran_on, t1->task);
	KUNIT_EXPECT_PTR_EQ(test, d4.ran_on, t3->task);
	KUNIT_EXPECT_TRUE(test, list_empty(&chain.entries));
	free_log(log);
}

static void compl_chain_test_defer_cancel_around(struct kunit *test)
{
	struct compl_chain chain;
	struct dlog *log = new_log(test, 8);
	struct dtask d1 = { .id = 1, .log = log }, d2 = { .id = 2, .log = log };
	struct compl_chain_entry gate, x, tail;

	compl_chain_init(&chain);
	compl_chain_add(&chain, &gate);
	compl_chain_add(&chain, &d1.entry);
	compl_chain_add(&chain, &x);
	compl_chain_add(&chain, &d2.entry);
	compl_chain_add(&chain, &tail);
	compl_chain_defer(&d1.entry, dfn);
	compl_chain_defer(&d2.entry, dfn);
	compl_chain_cancel(&x); /* middle: nothing runs */
	KUNIT_EXPECT_EQ(test, log->n, 0UL);
	compl_chain_cancel(&gate); /* head: the turn passes, d1 and d2 run here */
	KUNIT_ASSERT_EQ(test, log->n, 2UL);
	KUNIT_EXPECT_EQ(test, log->ids[0], 1UL);
	KUNIT_EXPECT_EQ(test, log->ids[1], 2UL);
	KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&tail));
	compl_chain_cancel(&tail);
	KUNIT_EXPECT_TRUE(test, list_empty(&chain.entries));
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
	struct again *a = container_of(e, struct again, entry);

	a->runs++;
	if (--a->left > 0) {
		compl_chain_add(a->chain, e);
		compl_chain_defer(e, again_fn);
	}
}

static void compl_chain_test_defer_fn_readds(struct kunit *test)
{
	struct compl_chain chain;
	struct again a = { .chain = &chain, .left = 1000 };

	compl_chain_init(&chain);
	compl_chain_add(&chain, &a.entry);
	compl_chain_defer(&a.entry, again_fn);
	/* Re-deferred from inside: queued, then run by the same loop. */
	KUNIT_EXPECT_EQ(test, a.runs, 1000);
	KUNIT_EXPECT_TRUE(test, list_empty(&chain.entries));
	compl_chain_flush(&chain);
}

/*
 * A deferred function holds the turn of an otherwise empty chain: an entry
 * added meanwhile (here from inside the function) waits for it to return.
 */
struct alone {
	struct compl_chain_entry entry, late;
	struct compl_chain *chain;
	bool late_ready_in_fn;
};

static void alone_fn(struct compl_chain_entry *e)
{
	struct alone *a = container_of(e, struct alone, entry);

	compl_chain_add(a->chain, &a->late);
	a->late_ready_in_fn = compl_chain_try_wait(&a->late);
}

static void compl_chain_test_defer_add_while_alone_fn_runs(struct kunit *test)
{
	struct compl_chain chain;
	struct alone a = { .chain = &chain };

	compl_chain_init(&chain);
	compl_chain_add(&chain, &a.entry);
	compl_chain_defer(&a.entry, alone_fn);
	KUNIT_EXPECT_FALSE(test, a.late_ready_in_fn);
	KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&a.late));
	compl_chain_complete(&a.late);
	/* And the chain is free again: the next add has its turn at once. */
	compl_chain_add(&chain, &a.late);
	KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&a.late));
	compl_chain_complete(&a.late);
}

/* Each entry of a run stays pending until its own function is called. */
#define RUN_LEN 100

struct runner {
	struct compl_chain_entry entry;
	struct runner *later; /* the next entry of the run; NULL for the last */
	int runs;
	bool self_pending, later_pending;
};

static void runner_fn(struct compl_chain_entry *e)
{
	struct runner *r = container_of(e, struct runner, entry);

	r->runs++;
	r->self_pending = compl_chain_pending(e);
	r->later_pending = r->later && compl_chain_pending(&r->later->entry);
}

static void compl_chain_test_defer_run_stays_pending(struct kunit *test)
{
	struct runner *r = kunit_kcalloc(test, RUN_LEN, sizeof(*r), GFP_KERNEL);
	struct compl_chain_entry gate;
	struct compl_chain chain;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, r);
	compl_chain_init(&chain);
	compl_chain_add(&chain, &gate);
	for (i = 0; i < RUN_LEN; i++) {
		r[i].later = i + 1 < RUN_LEN ? &r[i + 1] : NULL;
		compl_chain_add(&chain, &r[i].entry);
		compl_chain_defer(&r[i].entry, runner_fn);
	}
	compl_chain_complete(&gate);
	for (i = 0; i < RUN_LEN; i++) {
		KUNIT_EXPECT_EQ(test, r[i].runs, 1);
		KUNIT_EXPECT_FALSE(test, r[i].self_pending);
		if (i + 1 < RUN_LEN)
			KUNIT_EXPECT_TRUE_MSG(test, r[i].later_pending,
					      "entry #%d was not pending while #%d's function ran",
					      i + 1, i);
	}
	KUNIT_EXPECT_TRUE(test, list_empty(&chain.entries));
}

/*
 * Once compl_chain_pending() is false the entry is the caller's again: a
 * thread frees a deferred entry the moment it stops being pending, while
 * the function of the deferred entry before it runs.
 */
struct freer {
	struct compl_chain_entry *entry;
	bool freed;
};

static int freer_fn(void *arg)
{
	struct freer *f = arg;

	while (compl_chain_pending(f->entry))
		usleep_range(50, 100);
	kfree(f->entry);
	/* Pairs with first_fn(): the free happens before it sees the flag. */
	smp_store_release(&f->freed, true);
	return 0;
}

struct first {
	struct compl_chain_entry entry;
	struct freer *freer;
	bool freed_in_fn;
};

/* Gives the freer time to act if the entry after it looks done already. */
static void first_fn(struct compl_chain_entry *e)
{
	struct first *f = container_of(e, struct first, entry);
	unsigned long until = jiffies + msecs_to_jiffies(100);

	/* Pairs with freer_fn(). */
	while (!smp_load_acquire(&f->freer->freed) &&
	       time_before(jiffies, until))
		usleep_range(100, 200);
	/* Pairs with freer_fn(). */
	f->freed_in_fn = smp_load_acquire(&f->freer->freed);
}

static int second_runs;

static void second_fn(struct compl_chain_entry *e)
{
	second_runs++; /* @e may be freed already */
}

static void compl_chain_test_defer_free_once_not_pending(struct kunit *test)
{
	struct compl_chain chain;
	struct compl_chain_entry gate, *second;
	struct freer fr = { };
	struct first first = { .freer = &fr };
	struct cc_thread *t;

	second = kmalloc(sizeof(*second), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, second);
	fr.entry = second;
	second_runs = 0;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &gate);
	compl_chain_add(&chain, &first.entry);
	compl_chain_add(&chain, second);
	compl_chain_defer(&first.entry, first_fn);
	compl_chain_defer(second, second_fn);
	t = cc_start(test, freer_fn, &fr);
	compl_chain_complete(&gate); /* runs first_fn, then second_fn, here */
	KUNIT_ASSERT_TRUE(test, cc_join(test, t));
	KUNIT_EXPECT_FALSE(test, first.freed_in_fn);
	KUNIT_EXPECT_EQ(test, second_runs, 1);
	KUNIT_EXPECT_TRUE(test, list_empty(&chain.entries));
}

/* A pool where tasks defer, wait, release early or cancel at random. */
struct ppool {
	struct cc_queue q;
	struct compl_chain chain;
	unsigned long *out, nout, last_id;
	bool any;
	unsigned long disorder;
	atomic_long_t deferred_runs;
};

struct ptask {
	struct compl_chain_entry entry;
	unsigned long id;
	int kind;
	struct ppool *pool;
	struct list_head node;
};

static void ordered(struct ppool *p, unsigned long id)
{
	if (p->any && id <= p->last_id)
		p->disorder++;
	p->any = true;
	p->last_id = id;
	p->out[p->nout++] = id;
}

static void pfn(struct compl_chain_entry *e)
{
	struct ptask *t = container_of(e, struct ptask, entry);

	ordered(t->pool, t->id);
	atomic_long_inc(&t->pool->deferred_runs);
	kfree(t);
}

static int pworker(void *arg)
{
	struct ppool *p = arg;
	struct list_head *n;

	while ((n = queue_pop(&p->q))) {
		struct ptask *t = list_entry(n, struct ptask, node);

		switch (t->kind) {
		case 0:
		case 1:
		case 2:
			compl_chain_defer(&t->entry, pfn);
			continue; /* t belongs to the chain now */
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
		kfree(t);
	}
	return 0;
}

static void compl_chain_test_defer_pool_mix(struct kunit *test)
{
	const unsigned long n = 5000;
	unsigned long i, ndefer = 0, nordered = 0;
	struct ppool *p = kunit_kzalloc(test, sizeof(*p), GFP_KERNEL);
	struct cc_thread *tids[8];
	u64 rnd = 42;

	KUNIT_ASSERT_NOT_NULL(test, p);
	p->out = kunit_kcalloc(test, n, sizeof(*p->out), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p->out);
	queue_init(&p->q);
	compl_chain_init(&p->chain);
	for (i = 0; i < ARRAY_SIZE(tids); i++)
		tids[i] = cc_start(test, pworker, p);
	for (i = 0; i < n; i++) {
		struct ptask *t = kmalloc(sizeof(*t), GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, t);
		t->id = i;
		t->kind = rnd_next(&rnd) % 6;
		t->pool = p;
		ndefer += t->kind <= 2;
		nordered += t->kind <= 3;
		compl_chain_add(&p->chain, &t->entry);
		queue_push(&p->q, &t->node);
	}
	compl_chain_flush(&p->chain);
	queue_close(&p->q);
	for (i = 0; i < ARRAY_SIZE(tids); i++)
		KUNIT_ASSERT_TRUE(test, cc_join(test, tids[i]));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&p->deferred_runs), (long)ndefer);
	KUNIT_EXPECT_EQ(test, p->nout, nordered);
	KUNIT_EXPECT_EQ(test, p->disorder, 0UL);
	KUNIT_EXPECT_TRUE(test, list_empty(&p->chain.entries));
}

static void compl_chain_test_defer_misuse(struct kunit *test)
{
	struct compl_chain chain;
	struct compl_chain_entry gate, never;
	struct dlog *log = new_log(test, 4);
	struct dtask d = { .id = 1, .log = log };

	memset(&never, 0, sizeof(never));
	compl_chain_init(&chain);
	compl_chain_add(&chain, &gate);
	compl_chain_add(&chain, &d.entry);
	compl_chain_defer(&d.entry, NULL); /* ignored: d is still an owner's */
	KUNIT_EXPECT_FALSE(test, compl_chain_try_wait(&d.entry));
	compl_chain_defer(&d.entry, dfn);
	/* The entry belongs to the chain now: each of these does nothing. */
	compl_chain_defer(&d.entry, dfn);
	compl_chain_wait(&d.entry);
	compl_chain_complete(&d.entry);
	compl_chain_cancel(&d.entry);
	KUNIT_EXPECT_FALSE(test, compl_chain_try_wait(&d.entry));
	KUNIT_EXPECT_EQ(test, compl_chain_wait_timeout(&d.entry, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, compl_chain_wait_killable(&d.entry), -EINVAL);
	KUNIT_EXPECT_TRUE(test, compl_chain_pending(&d.entry));
	KUNIT_EXPECT_EQ(test, d.runs, 0);
	compl_chain_defer(&never, nop_fn);
	KUNIT_EXPECT_FALSE(test, compl_chain_pending(&never));
	compl_chain_complete(&gate);
	KUNIT_EXPECT_EQ(test, d.runs, 1);
	KUNIT_EXPECT_FALSE(test, compl_chain_pending(&d.entry));
	KUNIT_EXPECT_TRUE(test, list_empty(&chain.entries));
	free_log(log);
}

/*
 * From inside a deferred function of chain C, anything that waits for a
 * later turn of C would wait for the function itself: compl_chain_flush(C),
 * and waiting for or completing a later entry of C.  Each warns and does
 * nothing; the chain goes on as if it had not been called.
 */
enum reentry { FLUSH_SAME, WAIT_LATER, COMPLETE_LATER, WAIT_KILLABLE_LATER,
	       WAIT_FOREVER_LATER, NR_REENTRY };

static const char *const reentry_name[] = {
	[FLUSH_SAME] = "compl_chain_flush",
	[WAIT_LATER] = "compl_chain_wait",
	[COMPLETE_LATER] = "compl_chain_complete",
	[WAIT_KILLABLE_LATER] = "compl_chain_wait_killable",
	[WAIT_FOREVER_LATER] = "compl_chain_wait_timeout",
};

/* On the heap: a thread that hangs in it is left behind with it. */
struct reentrant {
	struct compl_chain_entry entry, gate, later;
	struct compl_chain chain;
	enum reentry op;
	bool via_gate; /* run by the gate's complete, not by the defer */
	int ret;
	bool later_pending_in_fn;
};

static void reentrant_fn(struct compl_chain_entry *e)
{
	struct reentrant *r = container_of(e, struct reentrant, entry);

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
	case WAIT_KILLABLE_LATER:
		r->ret = compl_chain_wait_killable(&r->later);
		break;
	case WAIT_FOREVER_LATER:
		r->ret = compl_chain_wait_timeout(&r->later,
						  MAX_SCHEDULE_TIMEOUT);
		break;
	default:
		break;
	}
	r->later_pending_in_fn = compl_chain_pending(&r->later);
}

static int reentrant_body(void *arg)
{
	struct reentrant *r = arg;

	if (r->via_gate)
		compl_chain_add(&r->chain, &r->gate);
	compl_chain_add(&r->chain, &r->entry);
	compl_chain_add(&r->chain, &r->later);
	compl_chain_defer(&r->entry, reentrant_fn);
	if (r->via_gate)
		compl_chain_complete(&r->gate);
	return 0;
}

static void compl_chain_test_defer_reentry_is_misuse(struct kunit *test)
{
	enum reentry op;
	int via_gate;

	for (op = FLUSH_SAME; op < NR_REENTRY; op++) {
		for (via_gate = 0; via_gate < 2; via_gate++) {
			struct reentrant *r = kzalloc(sizeof(*r), GFP_KERNEL);
			struct cc_thread *t;

			KUNIT_ASSERT_NOT_NULL(test, r);
			r->op = op;
			r->via_gate = via_gate;
			compl_chain_init(&r->chain);
			t = cc_start(test, reentrant_body, r);
			if (!wait_for_completion_timeout(&t->done, 2 * HZ)) {
				/* Left to the hung thread. */
				KUNIT_FAIL(test, "%s from a deferred function run by %s hangs",
					   reentry_name[op],
					   via_gate ? "a complete" : "the defer");
				continue;
			}
			KUNIT_EXPECT_TRUE(test, cc_join(test, t));
			if (op == WAIT_KILLABLE_LATER || op == WAIT_FOREVER_LATER)
				KUNIT_EXPECT_EQ(test, r->ret, -EINVAL);
			KUNIT_EXPECT_TRUE_MSG(test, r->later_pending_in_fn, "%s",
					      reentry_name[op]);
			/* Nothing happened: the later entry's turn comes next. */
			KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&r->later));
			compl_chain_complete(&r->later);
			KUNIT_EXPECT_TRUE(test, list_empty(&r->chain.entries));
			kfree(r);
		}
	}
}

/* ---- Concurrency (tests/test_threads.c) --------------------------------- */

enum task_kind { WAIT_THEN_COMPLETE, EARLY_RELEASE, CANCEL, TIMED_WAIT,
		 EARLY_EXIT };

struct task {
	struct compl_chain_entry entry;
	unsigned long id;
	enum task_kind kind;
	unsigned int work;
	struct list_head node;
	struct pool *pool;
};

struct pool {
	struct cc_queue q;
	struct compl_chain chain;
	/* Written only inside the ordered step: the chain is their lock. */
	unsigned long *out;
	unsigned long nout;
	atomic_long_t timeouts;
	atomic_long_t still_pending;
};

/*
 * One task, as NVMe's scan runs it: the body, then the epilogue that
 * completes what an early exit left pending, then the task is freed.
 */
static void run_task(struct task *t)
{
	struct pool *p = t->pool;

	do_work(t->work);
	switch (t->kind) {
	case CANCEL:
		compl_chain_cancel(&t->entry);
		break;
	case EARLY_RELEASE:
		/* NVMe's "namespace exists" path: release first. */
		compl_chain_complete(&t->entry);
		do_work(t->work);
		break;
	case EARLY_EXIT:
		break;
	case TIMED_WAIT:
		while (compl_chain_wait_timeout(&t->entry, 1) == -ETIMEDOUT)
			atomic_long_inc(&p->timeouts);
		fallthrough;
	case WAIT_THEN_COMPLETE:
		compl_chain_wait(&t->entry);
		p->out[p->nout++] = t->id;
		compl_chain_complete(&t->entry);
		break;
	}
	if (compl_chain_pending(&t->entry))
		compl_chain_complete(&t->entry);
	if (compl_chain_pending(&t->entry))
		atomic_long_inc(&p->still_pending);
	kfree(t);
}

static int pool_worker(void *arg)
{
	struct pool *p = arg;
	struct list_head *n;

	while ((n = queue_pop(&p->q)))
		run_task(list_entry(n, struct task, node));
	return 0;
}

static void async_task(void *data, async_cookie_t cookie)
{
	run_task(data);
}

enum pool_mode { POOL_PLAIN, POOL_MIXED, POOL_ASYNC };

static ASYNC_DOMAIN_EXCLUSIVE(cc_async_domain);

static struct task *new_task(struct kunit *test, struct pool *p,
			     unsigned long id, u64 r, bool mixed)
{
	struct task *t = kmalloc(sizeof(*t), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, t);
	t->id = id;
	t->pool = p;
	t->work = r % 2000;
	t->kind = WAIT_THEN_COMPLETE;
	if (mixed) {
		switch ((r >> 20) % 8) {
		case 0:
			t->kind = CANCEL;
			break;
		case 1:
		case 2:
			t->kind = EARLY_RELEASE;
			break;
		case 3:
			t->kind = TIMED_WAIT;
			break;
		case 4:
			t->kind = EARLY_EXIT;
			break;
		}
	}
	return t;
}

static void run_pool(struct kunit *test, unsigned long ntasks,
		     unsigned int nworkers, enum pool_mode mode)
{
	struct pool *p = kunit_kzalloc(test, sizeof(*p), GFP_KERNEL);
	struct cc_thread **tids;
	unsigned long i, expect = 0, nwaiters = 0, disorder = 0;
	u64 rnd = 0x1234567 + ntasks + nworkers;

	KUNIT_ASSERT_NOT_NULL(test, p);
	p->out = kunit_kcalloc(test, ntasks, sizeof(*p->out), GFP_KERNEL);
	tids = kunit_kcalloc(test, nworkers, sizeof(*tids), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p->out);
	KUNIT_ASSERT_NOT_NULL(test, tids);
	queue_init(&p->q);
	compl_chain_init(&p->chain);
	for (i = 0; mode != POOL_ASYNC && i < nworkers; i++)
		tids[i] = cc_start(test, pool_worker, p);
	for (i = 0; i < ntasks; i++) {
		struct task *t = new_task(test, p, i, rnd_next(&rnd),
					  mode != POOL_PLAIN);

		if (t->kind == WAIT_THEN_COMPLETE || t->kind == TIMED_WAIT)
			nwaiters++;
		compl_chain_add(&p->chain, &t->entry);
		if (mode == POOL_ASYNC)
			async_schedule_domain(async_task, t, &cc_async_domain);
		else
			queue_push(&p->q, &t->node);
	}
	if (mode == POOL_ASYNC)
		async_synchronize_full_domain(&cc_async_domain);
	queue_close(&p->q);
	for (i = 0; mode != POOL_ASYNC && i < nworkers; i++)
		KUNIT_ASSERT_TRUE(test, cc_join(test, tids[i]));

	KUNIT_EXPECT_TRUE(test, list_empty(&p->chain.entries));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&p->still_pending), 0L);
	KUNIT_ASSERT_EQ(test, p->nout, nwaiters);
	for (i = 0; i < p->nout; i++) {
		disorder += p->out[i] < expect;
		expect = p->out[i] + 1;
		if (mode == POOL_PLAIN)
			disorder += p->out[i] != i;
	}
	KUNIT_EXPECT_EQ(test, disorder, 0UL);
}

static void compl_chain_test_fifo_pool(struct kunit *test)
{
	run_pool(test, 5000, 8, POOL_PLAIN);
	run_pool(test, 2000, 64, POOL_PLAIN);
}

static void compl_chain_test_fifo_pool_mixed(struct kunit *test)
{
	run_pool(test, 5000, 8, POOL_MIXED);
	run_pool(test, 2000, 32, POOL_MIXED);
}

/* The NVMe scan's shape: one kmalloc'd task per item, on async workers. */
static void compl_chain_test_async_scan(struct kunit *test)
{
	run_pool(test, 2000, 0, POOL_ASYNC);
}

/* complete() without wait blocks until the turn; so does wait(). */
struct waiter {
	struct compl_chain_entry *entry;
	int op; /* 0 wait, 1 complete, 2 wait_timeout, 3 wait_killable */
	unsigned long timeout;
	int ret;
	bool armed; /* op 3: SIGKILL is no longer ignored */
	bool try_after, pending_after;
};

static int waiter_fn(void *arg)
{
	struct waiter *w = arg;

	switch (w->op) {
	case 0:
		compl_chain_wait(w->entry);
		break;
	case 1:
		compl_chain_complete(w->entry);
		break;
	case 2:
		w->ret = compl_chain_wait_timeout(w->entry, w->timeout);
		break;
	case 3:
		allow_signal(SIGKILL);
		/* Pairs with compl_chain_test_wait_killable(). */
		smp_store_release(&w->armed, true);
		w->ret = compl_chain_wait_killable(w->entry);
		w->pending_after = compl_chain_pending(w->entry);
		w->try_after = compl_chain_try_wait(w->entry);
		break;
	}
	return 0;
}

static void compl_chain_test_complete_without_wait_blocks(struct kunit *test)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, c;
	struct waiter wb = { .entry = &b, .op = 1 };
	struct waiter wc = { .entry = &c, .op = 0 };
	struct cc_thread *tb, *tc;

	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	compl_chain_add(&chain, &c);
	tb = cc_start(test, waiter_fn, &wb);
	tc = cc_start(test, waiter_fn, &wc);
	msleep(50);
	KUNIT_EXPECT_FALSE(test, cc_finished(tb));
	KUNIT_EXPECT_FALSE(test, cc_finished(tc));
	KUNIT_EXPECT_TRUE(test, compl_chain_pending(&b));
	compl_chain_complete(&a);
	KUNIT_ASSERT_TRUE(test, cc_join(test, tb));
	KUNIT_ASSERT_TRUE(test, cc_join(test, tc));
	KUNIT_EXPECT_FALSE(test, compl_chain_pending(&b));
	KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&c));
	compl_chain_complete(&c);
}

static void compl_chain_test_cancel_head_wakes_next(struct kunit *test)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, c;
	struct waiter wc = { .entry = &c, .op = 0 };
	struct cc_thread *tc;

	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	compl_chain_add(&chain, &c);
	tc = cc_start(test, waiter_fn, &wc);
	msleep(20);
	compl_chain_cancel(&b); /* middle: c still waits for a */
	msleep(20);
	KUNIT_EXPECT_FALSE(test, cc_finished(tc));
	compl_chain_cancel(&a);
	KUNIT_ASSERT_TRUE(test, cc_join(test, tc));
	compl_chain_complete(&c);
	KUNIT_EXPECT_TRUE(test, list_empty(&chain.entries));
}

static int flush_fn(void *arg)
{
	compl_chain_flush(arg);
	return 0;
}

static bool chain_tail_is(struct compl_chain *chain,
			  struct compl_chain_entry *entry)
{
	bool ret;

	spin_lock(&chain->lock);
	ret = list_last_entry(&chain->entries, struct compl_chain_entry,
			      node) == entry;
	spin_unlock(&chain->lock);
	return ret;
}

static void compl_chain_test_flush_before_and_after(struct kunit *test)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, after;
	struct cc_thread *t;

	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	t = cc_start(test, flush_fn, &chain);
	/* Wait until the flush's own entry is queued behind b. */
	while (chain_tail_is(&chain, &b))
		usleep_range(100, 200);
	compl_chain_add(&chain, &after);
	msleep(20);
	KUNIT_EXPECT_FALSE(test, cc_finished(t));
	compl_chain_complete(&a);
	msleep(20);
	KUNIT_EXPECT_FALSE(test, cc_finished(t));
	compl_chain_complete(&b);
	/* Returns although "after" is still pending. */
	KUNIT_ASSERT_TRUE(test, cc_join(test, t));
	KUNIT_EXPECT_TRUE(test, compl_chain_pending(&after));
	KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&after));
	compl_chain_complete(&after);
}

static void compl_chain_test_flush_with_pool(struct kunit *test)
{
	const unsigned long n = 2000;
	struct pool *p = kunit_kzalloc(test, sizeof(*p), GFP_KERNEL);
	struct cc_thread *tids[4];
	unsigned long i;

	KUNIT_ASSERT_NOT_NULL(test, p);
	p->out = kunit_kcalloc(test, n, sizeof(*p->out), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p->out);
	queue_init(&p->q);
	compl_chain_init(&p->chain);
	for (i = 0; i < ARRAY_SIZE(tids); i++)
		tids[i] = cc_start(test, pool_worker, p);
	for (i = 0; i < n; i++) {
		struct task *t = kmalloc(sizeof(*t), GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, t);
		t->id = i;
		t->pool = p;
		t->work = i * 37 % 1000;
		t->kind = WAIT_THEN_COMPLETE;
		compl_chain_add(&p->chain, &t->entry);
		queue_push(&p->q, &t->node);
	}
	compl_chain_flush(&p->chain);
	/* Everything added before the flush is done: all n outputs are in. */
	KUNIT_EXPECT_EQ(test, p->nout, n);
	KUNIT_EXPECT_TRUE(test, list_empty(&p->chain.entries));
	queue_close(&p->q);
	for (i = 0; i < ARRAY_SIZE(tids); i++)
		KUNIT_ASSERT_TRUE(test, cc_join(test, tids[i]));
}

static void compl_chain_test_timeout_then_turn(struct kunit *test)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b;
	struct waiter wb = { .entry = &b, .op = 2, .timeout = 100 * HZ };
	unsigned long t0 = jiffies;
	struct cc_thread *t;

	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	t = cc_start(test, waiter_fn, &wb);
	msleep(30);
	compl_chain_complete(&a);
	KUNIT_ASSERT_TRUE(test, cc_join(test, t));
	KUNIT_EXPECT_EQ(test, wb.ret, 0);
	KUNIT_EXPECT_TRUE(test, time_before(jiffies, t0 + 5 * HZ));
	compl_chain_complete(&b);
}

/*
 * The turn arrives while the timeout expires, over and over with varying
 * timing: the waiter must never come back with -ETIMEDOUT after the turn
 * was given, and the turn must never be lost.
 */
struct racer {
	struct compl_chain_entry *entry;
	bool *given;
	unsigned long lost;
	unsigned long timeouts;
};

static int race_fn(void *arg)
{
	struct racer *r = arg;

	for (;;) {
		/* Pairs with the release after the turn was given. */
		bool given = smp_load_acquire(r->given);
		int ret = compl_chain_wait_timeout(r->entry, 1 + r->timeouts % 2);

		if (!ret)
			break;
		r->timeouts++;
		if (given)
			r->lost++; /* the turn was given before the call */
	}
	return 0;
}

static void compl_chain_test_timeout_races_turn(struct kunit *test)
{
	unsigned long i, timeouts = 0;
	u64 rnd = 99;

	for (i = 0; i < 100; i++) {
		struct compl_chain chain;
		struct compl_chain_entry a, b;
		bool given = false;
		struct racer r = { .entry = &b, .given = &given };
		unsigned long us = rnd_next(&rnd) % (3 * jiffies_to_usecs(1));
		struct cc_thread *t;

		compl_chain_init(&chain);
		compl_chain_add(&chain, &a);
		compl_chain_add(&chain, &b);
		t = cc_start(test, race_fn, &r);
		usleep_range(us, us + 10);
		compl_chain_complete(&a);
		/* Pairs with race_fn(): the turn was given before. */
		smp_store_release(&given, true);
		KUNIT_ASSERT_TRUE(test, cc_join(test, t));
		KUNIT_EXPECT_EQ(test, r.lost, 0UL);
		KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&b));
		compl_chain_complete(&b);
		timeouts += r.timeouts;
	}
	/* The race must actually have been exercised. */
	KUNIT_EXPECT_GT(test, timeouts, 0UL);
}

/* Concurrent adders: each thread's adds keep their order. */
#define ADDERS 4U

struct adder {
	struct compl_chain *chain;
	unsigned int tid;
	unsigned long n;
	struct compl_chain_entry *entries; /* NULL: one task at a time */
	unsigned long *out; /* shared, written in turn */
	unsigned long *nout;
	unsigned long nomem;
};

static int adder_fn(void *arg)
{
	struct adder *a = arg;
	unsigned long i;

	if (a->entries) {
		for (i = 0; i < a->n; i++)
			compl_chain_add(a->chain, &a->entries[i]);
		for (i = 0; i < a->n; i++) {
			compl_chain_wait(&a->entries[i]);
			a->out[(*a->nout)++] = (unsigned long)a->tid << 32 | i;
			compl_chain_complete(&a->entries[i]);
		}
		return 0;
	}
	for (i = 0; i < a->n; i++) {
		struct compl_chain_entry *e = kmalloc(sizeof(*e), GFP_KERNEL);

		if (!e) {
			a->nomem++;
			return 0;
		}
		compl_chain_add(a->chain, e);
		compl_chain_wait(e);
		a->out[(*a->nout)++] = (unsigned long)a->tid << 32 | i;
		compl_chain_complete(e);
		kfree(e);
		if (i % 64 == 0)
			cond_resched();
	}
	return 0;
}

static void run_adders(struct kunit *test, unsigned long n, bool preadd)
{
	unsigned long nout = 0, i, disorder = 0, nomem = 0;
	unsigned long *out = kunit_kcalloc(test, ADDERS * n, sizeof(*out),
					   GFP_KERNEL);
	unsigned long next[ADDERS] = { 0 };
	struct adder ad[ADDERS];
	struct cc_thread *t[ADDERS];
	struct compl_chain chain;
	unsigned int k;

	KUNIT_ASSERT_NOT_NULL(test, out);
	compl_chain_init(&chain);
	for (k = 0; k < ADDERS; k++) {
		ad[k] = (struct adder){ .chain = &chain, .tid = k, .n = n,
					.out = out, .nout = &nout };
		if (preadd) {
			ad[k].entries = kunit_kcalloc(test, n, sizeof(*ad[k].entries),
						      GFP_KERNEL);
			KUNIT_ASSERT_NOT_NULL(test, ad[k].entries);
		}
		t[k] = cc_start(test, adder_fn, &ad[k]);
	}
	for (k = 0; k < ADDERS; k++) {
		KUNIT_ASSERT_TRUE(test, cc_join(test, t[k]));
		nomem += ad[k].nomem;
	}
	KUNIT_ASSERT_EQ(test, nomem, 0UL);
	KUNIT_ASSERT_EQ(test, nout, ADDERS * n);
	for (i = 0; i < nout; i++) {
		unsigned int tid = out[i] >> 32;

		KUNIT_ASSERT_LT(test, tid, ADDERS);
		disorder += (out[i] & 0xffffffffu) != next[tid];
		next[tid]++;
	}
	KUNIT_EXPECT_EQ(test, disorder, 0UL);
	KUNIT_EXPECT_TRUE(test, list_empty(&chain.entries));
}

static void compl_chain_test_concurrent_adders(struct kunit *test)
{
	run_adders(test, 2000, true);
	run_adders(test, 2000, false);
}

/* Many sleepers, started in reverse: woken one at a time, in chain order. */
#define SLEEPERS 32U

struct sleeper {
	struct compl_chain_entry entry;
	unsigned int id;
	unsigned int *order, *norder;
};

static int sleeper_fn(void *arg)
{
	struct sleeper *s = arg;

	compl_chain_wait(&s->entry);
	s->order[(*s->norder)++] = s->id;
	compl_chain_complete(&s->entry);
	return 0;
}

static void compl_chain_test_many_sleepers(struct kunit *test)
{
	struct sleeper *s = kunit_kcalloc(test, SLEEPERS, sizeof(*s), GFP_KERNEL);
	unsigned int *order = kunit_kcalloc(test, SLEEPERS, sizeof(*order),
					    GFP_KERNEL);
	struct cc_thread *t[SLEEPERS];
	struct compl_chain_entry gate;
	struct compl_chain chain;
	unsigned int norder = 0, i;

	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_ASSERT_NOT_NULL(test, order);
	compl_chain_init(&chain);
	compl_chain_add(&chain, &gate);
	for (i = 0; i < SLEEPERS; i++) {
		s[i].id = i;
		s[i].order = order;
		s[i].norder = &norder;
		compl_chain_add(&chain, &s[i].entry);
	}
	for (i = SLEEPERS; i-- > 0;)
		t[i] = cc_start(test, sleeper_fn, &s[i]);
	msleep(50);
	compl_chain_complete(&gate);
	for (i = 0; i < SLEEPERS; i++)
		KUNIT_ASSERT_TRUE(test, cc_join(test, t[i]));
	KUNIT_ASSERT_EQ(test, norder, SLEEPERS);
	for (i = 0; i < SLEEPERS; i++)
		KUNIT_EXPECT_EQ(test, order[i], i);
}

/* ---- Killable waits (kernel only) --------------------------------------- */

static void compl_chain_test_wait_killable(struct kunit *test)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b;
	struct waiter wb = { .entry = &b, .op = 3 };
	struct cc_thread *t;

	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	t = cc_start(test, waiter_fn, &wb);
	/* Pairs with waiter_fn(): a kthread ignores SIGKILL until then. */
	while (!smp_load_acquire(&wb.armed))
		usleep_range(100, 200);
	msleep(20);
	KUNIT_EXPECT_FALSE(test, cc_finished(t));
	send_sig(SIGKILL, t->task, 1);
	KUNIT_ASSERT_TRUE(test, cc_join(test, t));
	/* Killed: -EINTR, and b is still pending, still behind a. */
	KUNIT_EXPECT_EQ(test, wb.ret, -EINTR);
	KUNIT_EXPECT_TRUE(test, wb.pending_after);
	KUNIT_EXPECT_FALSE(test, wb.try_after);
	KUNIT_EXPECT_FALSE(test, compl_chain_try_wait(&b));
	compl_chain_complete(&a);
	KUNIT_EXPECT_TRUE(test, compl_chain_try_wait(&b));
	KUNIT_EXPECT_EQ(test, compl_chain_wait_killable(&b), 0);
	compl_chain_complete(&b);
}

/* A turn that is there when the fatal signal is: the turn wins. */
struct self_killer {
	struct compl_chain_entry *entry;
	int ret;
	bool killed;
};

static int self_kill_fn(void *arg)
{
	struct self_killer *k = arg;

	allow_signal(SIGKILL);
	send_sig(SIGKILL, current, 1);
	k->killed = fatal_signal_pending(current);
	k->ret = compl_chain_wait_killable(k->entry);
	return 0;
}

static void compl_chain_test_wait_killable_turn_wins(struct kunit *test)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b;
	struct waiter wb = { .entry = &b, .op = 3 };
	struct self_killer k = { .entry = &a };
	struct cc_thread *t;

	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	t = cc_start(test, self_kill_fn, &k);
	KUNIT_ASSERT_TRUE(test, cc_join(test, t));
	KUNIT_EXPECT_TRUE(test, k.killed);
	KUNIT_EXPECT_EQ(test, k.ret, 0);
	/* Without a signal, the killable wait ends with the turn. */
	t = cc_start(test, waiter_fn, &wb);
	msleep(20);
	KUNIT_EXPECT_FALSE(test, cc_finished(t));
	compl_chain_complete(&a);
	KUNIT_ASSERT_TRUE(test, cc_join(test, t));
	KUNIT_EXPECT_EQ(test, wb.ret, 0);
	KUNIT_EXPECT_TRUE(test, wb.try_after);
	compl_chain_complete(&b);
}

static struct kunit_case compl_chain_test_cases[] = {
	KUNIT_CASE(compl_chain_test_static_init),
	KUNIT_CASE(compl_chain_test_local_define),
	KUNIT_CASE(compl_chain_test_head_ready_and_handoff),
	KUNIT_CASE(compl_chain_test_add_uninitialised),
	KUNIT_CASE(compl_chain_test_zero_entry_not_pending),
	KUNIT_CASE(compl_chain_test_entry_reuse),
	KUNIT_CASE(compl_chain_test_cancel_middle),
	KUNIT_CASE(compl_chain_test_cancel_head_and_tail),
	KUNIT_CASE(compl_chain_test_flush_empty),
	KUNIT_CASE(compl_chain_test_wait_timeout),
	KUNIT_CASE(compl_chain_test_misuse_never_added),
	KUNIT_CASE(compl_chain_test_misuse_double_complete),
	KUNIT_CASE(compl_chain_test_defer_head_runs_at_once),
	KUNIT_CASE(compl_chain_test_defer_runs_in_completer),
	KUNIT_CASE(compl_chain_test_defer_deep_run),
	KUNIT_CASE(compl_chain_test_defer_mixed_with_waiters),
	KUNIT_CASE(compl_chain_test_defer_cancel_around),
	KUNIT_CASE(compl_chain_test_defer_fn_readds),
	KUNIT_CASE(compl_chain_test_defer_add_while_alone_fn_runs),
	KUNIT_CASE(compl_chain_test_defer_run_stays_pending),
	KUNIT_CASE(compl_chain_test_defer_free_once_not_pending),
	KUNIT_CASE(compl_chain_test_defer_pool_mix),
	KUNIT_CASE(compl_chain_test_defer_misuse),
	KUNIT_CASE(compl_chain_test_defer_reentry_is_misuse),
	KUNIT_CASE(compl_chain_test_fifo_pool),
	KUNIT_CASE(compl_chain_test_fifo_pool_mixed),
	KUNIT_CASE(compl_chain_test_async_scan),
	KUNIT_CASE(compl_chain_test_complete_without_wait_blocks),
	KUNIT_CASE(compl_chain_test_cancel_head_wakes_next),
	KUNIT_CASE(compl_chain_test_flush_before_and_after),
	KUNIT_CASE(compl_chain_test_flush_with_pool),
	KUNIT_CASE(compl_chain_test_timeout_then_turn),
	KUNIT_CASE(compl_chain_test_timeout_races_turn),
	KUNIT_CASE(compl_chain_test_concurrent_adders),
	KUNIT_CASE(compl_chain_test_many_sleepers),
	KUNIT_CASE(compl_chain_test_wait_killable),
	KUNIT_CASE(compl_chain_test_wait_killable_turn_wins),
	{}
};

static struct kunit_suite compl_chain_test_suite = {
	.name = "compl_chain",
	.test_cases = compl_chain_test_cases,
};

kunit_test_suite(compl_chain_test_suite);

MODULE_DESCRIPTION("KUnit tests for ordered completion chains");
MODULE_LICENSE("GPL");
