// SPDX-License-Identifier: MIT
/*
 * compl_chain_notify() and the notifier of <cchain/notify.h>: the function
 * runs at once when the turn is there, later in the turn-giver otherwise,
 * exactly once, and the entry keeps the turn; unnotify and cancel withdraw
 * it; misuse; registration racing the turn, many times; unnotify racing
 * the turn (false only once the function has returned); the notifier's
 * flag (no write while the loop is awake, one per arm); and a plain epoll
 * loop running the shared workload (notify-workload.h).
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util.h"
#include "misuse-recorder.h"
#include "notify-workload.h"

struct ntest {
	struct compl_chain_entry entry;
	atomic_int calls;
	pthread_t called_on;
	bool pending_in_fn, turn_in_fn;
};

static void nfn(struct compl_chain_entry *e)
{
	struct ntest *t = (struct ntest *)e;

	t->called_on = pthread_self();
	t->pending_in_fn = compl_chain_pending(e);
	atomic_fetch_add(&t->calls, 1);
}

static void test_entry_size(void **state)
{
	(void)state;
	assert_true(sizeof(struct compl_chain_entry) <= 32);
}

static void test_turn_there(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct ntest a = { 0 }, b = { 0 };

	(void)state;
	compl_chain_add(&chain, &a.entry);
	compl_chain_add(&chain, &b.entry);
	compl_chain_notify(&a.entry, nfn);
	assert_int_equal(atomic_load(&a.calls), 1);
	assert_true(pthread_equal(a.called_on, pthread_self()));
	assert_true(a.pending_in_fn);
	/* a keeps the turn until it completes. */
	assert_false(compl_chain_try_wait(&b.entry));
	compl_chain_complete(&a.entry);
	assert_true(compl_chain_try_wait(&b.entry));
	compl_chain_complete(&b.entry);
	compl_chain_destroy(&chain);
}

struct completer {
	struct compl_chain_entry *entry;
	pthread_t tid;
};

static void *complete_thread(void *arg)
{
	struct completer *c = arg;

	c->tid = pthread_self();
	compl_chain_complete(c->entry);
	return NULL;
}

static void test_turn_later(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct ntest a = { 0 }, b = { 0 }, c = { 0 };
	struct completer comp = { &a.entry, 0 };

	(void)state;
	compl_chain_add(&chain, &a.entry);
	compl_chain_add(&chain, &b.entry);
	compl_chain_add(&chain, &c.entry);
	compl_chain_notify(&b.entry, nfn);
	compl_chain_notify(&c.entry, nfn);
	assert_int_equal(atomic_load(&b.calls), 0);
	assert_true(compl_chain_pending(&b.entry));
	join_thread(start_thread(complete_thread, &comp));
	/* Called in the turn-giver, once; c still waits for b. */
	assert_int_equal(atomic_load(&b.calls), 1);
	assert_true(pthread_equal(b.called_on, comp.tid));
	assert_true(b.pending_in_fn);
	assert_int_equal(atomic_load(&c.calls), 0);
	compl_chain_complete(&b.entry);
	assert_int_equal(atomic_load(&c.calls), 1);
	assert_true(pthread_equal(c.called_on, pthread_self()));
	assert_int_equal(atomic_load(&b.calls), 1);
	compl_chain_complete(&c.entry);
	compl_chain_destroy(&chain);
}

static void test_withdraw(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct ntest a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };

	(void)state;
	compl_chain_add(&chain, &a.entry);
	compl_chain_add(&chain, &b.entry);
	compl_chain_add(&chain, &c.entry);
	compl_chain_add(&chain, &d.entry);
	compl_chain_notify(&b.entry, nfn);
	compl_chain_notify(&c.entry, nfn);
	compl_chain_notify(&d.entry, nfn);
	/* b withdrawn: a plain pending entry again; c cancelled outright. */
	assert_true(compl_chain_unnotify(&b.entry));
	compl_chain_cancel(&c.entry);
	assert_false(compl_chain_pending(&c.entry));
	compl_chain_complete(&a.entry);
	assert_int_equal(atomic_load(&b.calls), 0);
	assert_true(compl_chain_try_wait(&b.entry));
	compl_chain_complete(&b.entry);
	assert_int_equal(atomic_load(&c.calls), 0);
	assert_int_equal(atomic_load(&d.calls), 1);
	/* After the call there is nothing to withdraw. */
	assert_false(compl_chain_unnotify(&d.entry));
	compl_chain_cancel(&d.entry);
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
}

static void test_misuse(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct ntest a = { 0 }, b = { 0 }, never = { 0 };

	(void)state;
	compl_chain_add(&chain, &a.entry);
	compl_chain_add(&chain, &b.entry);
	compl_chain_notify(&b.entry, nfn);
	compl_chain_wait(&b.entry);
	assert_int_equal(misuse_count, 1);
	assert_string_equal(misuse_func, "compl_chain_wait");
	assert_non_null(strstr(misuse_msg, "compl_chain_notify"));
	compl_chain_complete(&b.entry);
	compl_chain_notify(&b.entry, nfn);
	assert_int_equal(compl_chain_wait_timeout(&b.entry, 1000), EINVAL);
	assert_false(compl_chain_try_wait(&b.entry));
	assert_int_equal(misuse_count, 5);
	compl_chain_notify(&a.entry, NULL);
	assert_int_equal(misuse_count, 6);
	compl_chain_notify(&never.entry, nfn);
	assert_false(compl_chain_unnotify(&never.entry));
	assert_int_equal(misuse_count, 8);
	compl_chain_destroy(&chain); /* not empty */
	assert_int_equal(misuse_count, 9);
	assert_int_equal(atomic_load(&b.calls), 0);
	compl_chain_complete(&a.entry);
	assert_int_equal(atomic_load(&b.calls), 1);
	compl_chain_complete(&b.entry);
	assert_int_equal(atomic_load(&never.calls), 0);
	compl_chain_destroy(&chain);
	assert_int_equal(misuse_count, 9);
}

/* A notifier with a ready entry not taken is not destroyed. */
static void test_notifier_misuse(void **state)
{
	struct compl_notifier *n = compl_notifier_create();
	DEFINE_COMPL_CHAIN(chain);
	struct compl_notify_entry a;

	(void)state;
	assert_non_null(n);
	compl_chain_add(&chain, &a.entry);
	compl_notifier_watch(n, &a);
	compl_notifier_destroy(n);
	assert_int_equal(misuse_count, 1);
	assert_string_equal(misuse_func, "compl_notifier_destroy");
	/* Reported, and left alone: its descriptor is still open. */
	assert_int_not_equal(fcntl(compl_notifier_fd(n), F_GETFD), -1);
	assert_ptr_equal(compl_notifier_take(n), &a);
	compl_chain_complete(&a.entry);
	compl_notifier_destroy(n);
	compl_chain_destroy(&chain);
	assert_int_equal(misuse_count, 1);
}

/* The descriptor: 0 is a valid one, destroy closes it, failure is reported. */
static void test_notifier_fd_lifetime(void **state)
{
	struct compl_notifier *n;
	struct rlimit old, lim;
	int fd, saved, lowest;

	(void)state;
	n = compl_notifier_create();
	assert_non_null(n);
	fd = compl_notifier_fd(n);
	compl_notifier_destroy(n);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);

	/* With descriptor 0 free, the eventfd gets it. */
	saved = fcntl(0, F_GETFD) == -1 ? -1 : fcntl(0, F_DUPFD_CLOEXEC, 3);
	close(0);
	n = compl_notifier_create();
	fd = n ? compl_notifier_fd(n) : -1;
	if (n)
		compl_notifier_destroy(n);
	if (saved >= 0) {
		dup2(saved, 0);
		close(saved);
	}
	assert_non_null(n);
	assert_int_equal(fd, 0);

	/* No descriptor left: NULL, errno from eventfd. */
	n = compl_notifier_create();
	assert_non_null(n);
	lowest = compl_notifier_fd(n);
	compl_notifier_destroy(n);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)lowest;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
	errno = 0;
	n = compl_notifier_create();
	fd = errno;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_null(n);
	assert_int_equal(fd, EMFILE);
}

/*
 * arm() with entries still taken returns false (the loop must not sleep on
 * them); after disarm() a turn writes nothing (the loop is awake).
 */
static void test_notifier_arm_disarm(void **state)
{
	struct compl_notifier *n = compl_notifier_create();
	DEFINE_COMPL_CHAIN(c1);
	DEFINE_COMPL_CHAIN(c2);
	struct compl_notify_entry x, y, z;

	(void)state;
	assert_non_null(n);
	compl_chain_add(&c1, &x.entry);
	compl_chain_add(&c2, &y.entry);
	compl_notifier_watch(n, &x);
	compl_notifier_watch(n, &y);
	assert_ptr_equal(compl_notifier_take(n), &x); /* y stays taken */
	assert_false(compl_notifier_arm(n));
	assert_ptr_equal(compl_notifier_take(n), &y);
	assert_null(compl_notifier_take(n));
	compl_chain_add(&c1, &z.entry);
	compl_notifier_watch(n, &z);
	assert_true(compl_notifier_arm(n));
	compl_notifier_disarm(n);
	compl_chain_complete(&x.entry); /* z's turn, pushed while awake */
	assert_int_equal(compl_notifier_ack(n), 0);
	assert_ptr_equal(compl_notifier_take(n), &z);
	compl_chain_complete(&z.entry);
	compl_chain_complete(&y.entry);
	compl_chain_destroy(&c1);
	compl_chain_destroy(&c2);
	compl_notifier_destroy(n);
}

/* A counter the loop let fill up is readable already: no error, no abort. */
static void test_notifier_counter_full(void **state)
{
	struct compl_notifier *n = compl_notifier_create();
	DEFINE_COMPL_CHAIN(chain);
	struct compl_notify_entry a, b;
	uint64_t full = UINT64_MAX - 1;

	(void)state;
	assert_non_null(n);
	compl_chain_add(&chain, &a.entry);
	compl_chain_add(&chain, &b.entry);
	compl_notifier_watch(n, &a);
	compl_notifier_watch(n, &b);
	assert_ptr_equal(compl_notifier_take(n), &a);
	assert_true(compl_notifier_arm(n));
	assert_int_equal(write(compl_notifier_fd(n), &full, sizeof(full)), sizeof(full));
	compl_chain_complete(&a.entry); /* b's turn: its write finds the counter full */
	assert_int_equal(compl_notifier_ack(n), full);
	assert_int_equal(compl_notifier_ack(n), 0);
	assert_ptr_equal(compl_notifier_take(n), &b);
	compl_chain_complete(&b.entry);
	compl_chain_destroy(&chain);
	compl_notifier_destroy(n);
}

/*
 * Registration racing the turn: one thread completes the head while the
 * owner of the next entry registers, many times over, with and without a
 * cancel racing the call as well.  The function runs exactly once when the
 * entry was not withdrawn, never when it was.
 */
struct race {
	struct compl_chain chain;
	struct compl_chain_entry head;
	struct ntest next;
	atomic_int go, ready;
	int spin;
	bool withdrawn;
};

static void *race_registrar(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(&r->go))
		;
	compl_chain_notify(&r->next.entry, nfn);
	return NULL;
}

static void test_registration_races_turn(void **state)
{
	unsigned long i, rounds = test_scale(5000);
	uint64_t rnd = 7;
	struct race r;

	(void)state;
	for (i = 0; i < rounds; i++) {
		pthread_t tid;
		int spin = (int)(rnd_next(&rnd) % 64);

		memset(&r, 0, sizeof(r));
		compl_chain_init(&r.chain);
		compl_chain_add(&r.chain, &r.head);
		compl_chain_add(&r.chain, &r.next.entry);
		tid = start_thread(race_registrar, &r);
		atomic_store(&r.go, 1);
		while (spin--)
			__asm__ volatile("" ::: "memory");
		compl_chain_complete(&r.head);
		join_thread(tid);
		CHECK(atomic_load(&r.next.calls) == 1);
		CHECK(compl_chain_try_wait(&r.next.entry));
		if (i & 1) {
			compl_chain_complete(&r.next.entry);
		} else {
			CHECK(!compl_chain_unnotify(&r.next.entry));
			compl_chain_cancel(&r.next.entry);
		}
		compl_chain_destroy(&r.chain);
	}
}

/* A cancel racing the turn: the function runs once or never, never after. */
static void *race_canceller(void *arg)
{
	struct race *r = arg;

	atomic_store(&r->ready, 1);
	while (!atomic_load(&r->go))
		;
	while (r->spin--)
		__asm__ volatile("" ::: "memory");
	r->withdrawn = compl_chain_unnotify(&r->next.entry);
	if (r->withdrawn)
		compl_chain_cancel(&r->next.entry);
	return NULL;
}

static void test_cancel_races_turn(void **state)
{
	unsigned long i, rounds = test_scale(5000), withdrawn = 0;
	uint64_t rnd = 11;
	struct race r;

	(void)state;
	for (i = 0; i < rounds; i++) {
		pthread_t tid;
		int spin = (int)(rnd_next(&rnd) % 64);

		memset(&r, 0, sizeof(r));
		compl_chain_init(&r.chain);
		compl_chain_add(&r.chain, &r.head);
		compl_chain_add(&r.chain, &r.next.entry);
		compl_chain_notify(&r.next.entry, nfn);
		r.spin = (int)(rnd_next(&rnd) % 2048);
		spin = (int)(rnd_next(&rnd) % 2048);
		tid = start_thread(race_canceller, &r);
		while (!atomic_load(&r.ready))
			;
		atomic_store(&r.go, 1);
		while (spin--)
			__asm__ volatile("" ::: "memory");
		compl_chain_complete(&r.head);
		join_thread(tid);
		if (r.withdrawn) {
			withdrawn++;
			CHECK(atomic_load(&r.next.calls) == 0);
			CHECK(!compl_chain_pending(&r.next.entry));
		} else {
			CHECK(atomic_load(&r.next.calls) == 1);
			compl_chain_complete(&r.next.entry);
		}
		CHECK(compl_chain_empty(&r.chain));
		compl_chain_destroy(&r.chain);
	}
	printf("cancel won %lu of %lu races\n", withdrawn, rounds);
}

/*
 * unnotify racing the turn: false promises that the function has been
 * called and has returned.  The function dawdles for a few microseconds
 * between two records kept outside the entry; the owner, on a thread of
 * its own, checks them as soon as unnotify says false, then completes the
 * entry and frees it (under ASan, anything that touches it afterwards is
 * reported).  Even rounds call unnotify once the function has started in
 * the turn-giver: the window itself.  Odd rounds withdraw and register
 * again, at random moments, until unnotify says false.  At most 2 s.
 */
struct fn_record {
	atomic_int entered, returned;
	pthread_t on;		/* the thread that called the function */
};

struct slow_entry {
	struct compl_chain_entry entry;
	struct fn_record *rec;
};

static void slow_fn(struct compl_chain_entry *e)
{
	struct fn_record *rec = ((struct slow_entry *)e)->rec; /* the last access to @e */
	uint64_t until = now_ns() + 5000;

	rec->on = pthread_self();
	atomic_fetch_add(&rec->entered, 1);
	while (now_ns() < until)
		;
	atomic_fetch_add(&rec->returned, 1);
}

struct unnotify_race {
	struct slow_entry *next;
	struct fn_record rec;
	atomic_int go, ready;
	bool in_fn;		/* unnotify once the function has started */
	bool in_giver;		/* the function ran in the turn-giver */
	uint64_t rnd;
	unsigned long withdrawals;
};

static void *race_unnotifier(void *arg)
{
	struct unnotify_race *r = arg;
	struct slow_entry *s = r->next;

	atomic_store(&r->ready, 1);
	while (!atomic_load(&r->go))
		sched_yield();
	if (r->in_fn) {
		while (!atomic_load(&r->rec.entered))
			__asm__ volatile("" ::: "memory");
		CHECK(!compl_chain_unnotify(&s->entry));
	} else {
		for (;;) {
			int spin = (int)(rnd_next(&r->rnd) % 1024);

			while (spin--)
				__asm__ volatile("" ::: "memory");
			if (!compl_chain_unnotify(&s->entry))
				break;
			r->withdrawals++;
			compl_chain_notify(&s->entry, slow_fn);
		}
	}
	/* False: the function has been called and has returned. */
	CHECK(atomic_load(&r->rec.entered) == 1);
	CHECK(atomic_load(&r->rec.returned) == 1);
	r->in_giver = !pthread_equal(r->rec.on, pthread_self());
	compl_chain_complete(&s->entry);
	free(s);
	return NULL;
}

static void test_unnotify_races_turn(void **state)
{
	unsigned long i, rounds = test_scale(4000), withdrawals = 0, in_giver = 0;
	uint64_t rnd = 13, start = now_ns();
	struct unnotify_race r;

	(void)state;
	for (i = 0; i < rounds && now_ns() - start < 2000 * MS; i++) {
		DEFINE_COMPL_CHAIN(chain);
		struct compl_chain_entry head;
		pthread_t tid;
		int spin = (int)(rnd_next(&rnd) % 2048);

		memset(&r, 0, sizeof(r));
		r.in_fn = !(i & 1);
		r.rnd = rnd_next(&rnd) | 1;
		r.next = xmalloc(sizeof(*r.next));
		r.next->rec = &r.rec;
		compl_chain_add(&chain, &head);
		compl_chain_add(&chain, &r.next->entry);
		compl_chain_notify(&r.next->entry, slow_fn);
		tid = start_thread(race_unnotifier, &r);
		while (!atomic_load(&r.ready))
			sched_yield();
		atomic_store(&r.go, 1);
		while (!r.in_fn && spin--)
			__asm__ volatile("" ::: "memory");
		compl_chain_complete(&head);
		join_thread(tid);
		withdrawals += r.withdrawals;
		in_giver += !r.in_fn && r.in_giver;
		CHECK(compl_chain_empty(&chain));
		compl_chain_destroy(&chain);
	}
	/* Odd rounds race unnotify with the function when the turn-giver calls it. */
	printf("%lu rounds in %llu ms; odd rounds: %lu withdrawals, the function "
	       "called by the turn-giver in %lu of %lu\n", i,
	       (unsigned long long)((now_ns() - start) / MS), withdrawals, in_giver, i / 2);
}

/* The notifier's flag: no write while the loop is awake; one per arm. */
static void test_notifier_flag(void **state)
{
	struct compl_notifier *n = compl_notifier_create();
	DEFINE_COMPL_CHAIN(chain);
	struct compl_notify_entry a, b, c;
	struct completer comp = { &a.entry, 0 };

	(void)state;
	assert_non_null(n);
	assert_true(compl_notifier_fd(n) >= 0);
	assert_null(compl_notifier_take(n));
	compl_chain_add(&chain, &a.entry);
	compl_chain_add(&chain, &b.entry);
	compl_chain_add(&chain, &c.entry);
	/* Awake: the turn of a is there, b's comes later; no write either way. */
	compl_notifier_watch(n, &a);
	compl_notifier_watch(n, &b);
	compl_notifier_watch(n, &c);
	assert_false(compl_notifier_arm(n)); /* a is ready */
	assert_ptr_equal(compl_notifier_take(n), &a);
	assert_null(compl_notifier_take(n));
	join_thread(start_thread(complete_thread, &comp));
	assert_int_equal(compl_notifier_ack(n), 0);
	assert_ptr_equal(compl_notifier_take(n), &b);
	/* Armed: b's complete hands c the turn and writes once. */
	assert_true(compl_notifier_arm(n));
	comp.entry = &b.entry;
	join_thread(start_thread(complete_thread, &comp));
	compl_notifier_disarm(n);
	assert_int_equal(compl_notifier_ack(n), 1);
	assert_ptr_equal(compl_notifier_take(n), &c);
	assert_null(compl_notifier_take(n));
	compl_chain_complete(&c.entry);
	compl_chain_destroy(&chain);
	compl_notifier_destroy(n);
}

/*
 * What the turn-giver wrote before its complete is visible where the turn
 * is learnt: in the registered function, whichever thread runs it (the
 * registration races the complete, so it runs in either), and in the loop
 * that takes the entry from a notifier.  The reads come before any join:
 * under ThreadSanitizer a missing acquire is reported as a data race, and
 * anywhere a read of an older value fails.
 */
struct visible {
	struct compl_notify_entry ne;
	const unsigned long *data;
	unsigned long seen;
	pthread_t ran_on;
};

static void read_data_fn(struct compl_chain_entry *e)
{
	struct visible *v = (struct visible *)e;

	v->seen = *v->data;
	v->ran_on = pthread_self();
}

struct data_giver {
	struct compl_chain_entry *head;
	unsigned long *data;
	unsigned long value;
	atomic_int ready, go;
	int spin;
};

static void *write_then_complete(void *arg)
{
	struct data_giver *g = arg;

	atomic_store(&g->ready, 1);
	while (!atomic_load(&g->go))
		;
	while (g->spin--)
		__asm__ volatile("" ::: "memory");
	*g->data = g->value;
	compl_chain_complete(g->head);
	return NULL;
}

static void test_notify_fn_acquires(void **state)
{
	unsigned long i, rounds = test_scale(2000), data = 0, in_caller = 0;
	uint64_t rnd = 5;

	(void)state;
	for (i = 1; i <= rounds; i++) {
		DEFINE_COMPL_CHAIN(chain);
		struct compl_chain_entry head;
		struct visible v = { .data = &data };
		struct data_giver g = { .head = &head, .data = &data, .value = i,
					.spin = (int)(rnd_next(&rnd) % 1024) };
		int spin = (int)(rnd_next(&rnd) % 4096);
		pthread_t t;

		compl_chain_add(&chain, &head);
		compl_chain_add(&chain, &v.ne.entry);
		t = start_thread(write_then_complete, &g);
		while (!atomic_load(&g.ready))
			;
		atomic_store(&g.go, 1);
		while (spin--)
			__asm__ volatile("" ::: "memory");
		compl_chain_notify(&v.ne.entry, read_data_fn);
		join_thread(t);
		in_caller += pthread_equal(v.ran_on, pthread_self()) != 0;
		assert_int_equal(v.seen, i);
		compl_chain_complete(&v.ne.entry);
		compl_chain_destroy(&chain);
	}
	printf("the function ran in the registering thread in %lu of %lu rounds\n",
	       in_caller, rounds);
}

static void test_take_acquires(void **state)
{
	unsigned long i, rounds = test_scale(200), data = 0;
	struct compl_notifier *n = compl_notifier_create();

	(void)state;
	assert_non_null(n);
	for (i = 1; i <= rounds; i++) {
		DEFINE_COMPL_CHAIN(chain);
		struct compl_chain_entry head;
		struct compl_notify_entry ne, *got;
		struct data_giver g = { .head = &head, .data = &data, .value = i, .go = 1 };
		unsigned long seen;
		pthread_t t;

		compl_chain_add(&chain, &head);
		compl_chain_add(&chain, &ne.entry);
		compl_notifier_watch(n, &ne);
		t = start_thread(write_then_complete, &g);
		while (!(got = compl_notifier_take(n)))
			sched_yield();
		seen = data;
		join_thread(t);
		assert_ptr_equal(got, &ne);
		assert_int_equal(seen, i);
		compl_chain_complete(&ne.entry);
		compl_chain_destroy(&chain);
	}
	compl_notifier_destroy(n);
}

/*
 * compl_notifier_create() when no file descriptor is left: NULL, errno
 * EMFILE (eventfd()'s), nothing leaked (the sanitizers' leak checkers and
 * valgrind watch); and a notifier again once the limit is restored.
 */
static void test_create_fails_with_errno(void **state)
{
	struct rlimit old, low;
	struct compl_notifier *n;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	close(fd); /* the lowest free descriptor */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)fd;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	errno = 0;
	n = compl_notifier_create();
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_null(n);
	assert_int_equal(errno, EMFILE);
	n = compl_notifier_create();
	assert_non_null(n);
	compl_notifier_destroy(n);
}

/* The workload on a plain epoll loop. */
static void test_epoll_loop(void **state)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct nwork w;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	(void)state;
	CHECK(ep >= 0);
	nwork_init(&w, test_scale(100000), 42);
	ev.data.fd = compl_notifier_fd(w.n);
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev) == 0);
	while (!nwork_done(&w)) {
		struct epoll_event got;
		int k;

		nwork_drain(&w);
		if (nwork_done(&w))
			continue;
		w.arms++; /* every call: one that returns false may still see a write */
		if (!compl_notifier_arm(w.n))
			continue;
		/* A lost wake-up would hang here: 10 s is an eternity. */
		k = epoll_wait(ep, &got, 1, 10000);
		compl_notifier_disarm(w.n);
		CHECK(k == 1 || (k < 0 && errno == EINTR));
		if (k == 1)
			w.writes += compl_notifier_ack(w.n);
	}
	nwork_finish(&w, "epoll");
	close(ep);
}

/* Every function of <cchain/notify.h>, and notify/unnotify, given NULL. */
static void test_null_arguments(void **state)
{
	struct compl_notifier *n = compl_notifier_create();
	struct compl_notify_entry ne = { 0 };

	(void)state;
	assert_non_null(n);
	compl_chain_notify(NULL, nfn);
	assert_null_misuse("compl_chain_notify", "entry");
	assert_false(compl_chain_unnotify(NULL));
	assert_null_misuse("compl_chain_unnotify", "entry");
	compl_notifier_destroy(NULL);
	assert_null_misuse("compl_notifier_destroy", "n");
	assert_int_equal(compl_notifier_fd(NULL), -1);
	assert_null_misuse("compl_notifier_fd", "n");
	compl_notifier_watch(NULL, &ne);
	assert_null_misuse("compl_notifier_watch", "n");
	assert_null(ne.notifier); /* untouched */
	compl_notifier_watch(n, NULL);
	assert_null_misuse("compl_notifier_watch", "ne");
	assert_false(compl_notifier_cancel(NULL));
	assert_null_misuse("compl_notifier_cancel", "ne");
	assert_null(compl_notifier_take(NULL));
	assert_null_misuse("compl_notifier_take", "n");
	assert_false(compl_notifier_arm(NULL));
	assert_null_misuse("compl_notifier_arm", "n");
	compl_notifier_disarm(NULL);
	assert_null_misuse("compl_notifier_disarm", "n");
	assert_int_equal(compl_notifier_ack(NULL), 0);
	assert_null_misuse("compl_notifier_ack", "n");
	/* The notifier was not touched: nothing ready, and it goes away cleanly. */
	assert_null(compl_notifier_take(n));
	assert_true(compl_notifier_arm(n));
	compl_notifier_disarm(n);
	compl_notifier_destroy(n);
	assert_int_equal(misuse_count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_size),
		cmocka_unit_test(test_turn_there),
		cmocka_unit_test(test_turn_later),
		cmocka_unit_test(test_withdraw),
		cmocka_unit_test_setup_teardown(test_misuse, setup_recorder, restore_default),
		cmocka_unit_test_setup_teardown(test_notifier_misuse, setup_recorder,
						restore_default),
		cmocka_unit_test_setup_teardown(test_null_arguments, setup_recorder,
						restore_default),
		cmocka_unit_test(test_registration_races_turn),
		cmocka_unit_test(test_cancel_races_turn),
		cmocka_unit_test(test_unnotify_races_turn),
		cmocka_unit_test(test_notifier_flag),
		cmocka_unit_test(test_notifier_arm_disarm),
		cmocka_unit_test(test_notifier_fd_lifetime),
		cmocka_unit_test(test_notifier_counter_full),
		cmocka_unit_test(test_epoll_loop),
		cmocka_unit_test(test_notify_fn_acquires),
		cmocka_unit_test(test_take_acquires),
		cmocka_unit_test(test_create_fails_with_errno),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
