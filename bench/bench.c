// SPDX-License-Identifier: MIT
/*
 * Benchmark bodies and the baselines they are measured against, all in
 * one binary so that every ratio comes from one run.
 *
 * Orderings, behind one small interface:
 *   cchain       libcchain (spinning with its default budget)
 *   cchain_nospin  libcchain with cchain_set_spin_ns(0): always sleeps
 *   kport        a literal userspace port of the kernel helper: a mutex and
 *                a list per chain, a mutex+condvar "completion" per entry
 *   ticket       the usual hand-written ticket counter, one condvar, broadcast
 *   none         no ordering at all (the ceiling)
 * Floors: an uncontended pthread mutex lock+unlock pair (two atomic
 * read-modify-writes, the least an add+wait+complete cycle needs: the
 * uncontended floor), a raw futex ping-pong (FUTEX_WAIT / FUTEX_WAKE on one
 * word: the blocking floor) and a spin ping-pong of one flag (the hardware
 * floor), both ping-pongs on two threads started and timed like the relay's.
 *
 * Scenarios: uncontended add+wait+complete; a relay of N threads, each
 * adding, waiting, working W us and completing; a pool of P workers taking
 * tasks in order, working (CPU- or sleep-bound) and committing in order,
 * blocking or with compl_chain_defer; a pool mixing early release and
 * cancel; a log writer, producers ahead of one ordered write, with an
 * unbounded chain, a bounded window or blocking waits.  Multi-threaded runs
 * time themselves (their workers read the clocks) and report per-operation
 * CPU time and voluntary context switches.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cchain/cchain.h>

#include "bench.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * CPU-bound work is a fixed amount of computation, calibrated once at start
 * (the fastest of several timed runs): spinning until a wall-clock deadline
 * would let a preempted thread's "work" finish while it does not run, and
 * make an oversubscribed pool look faster than its CPUs allow.
 */
static uint64_t loops_per_ms;

static uint64_t spin_loops(uint64_t n)
{
	uint64_t x = n;

	while (n--) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		__asm__ volatile("" : "+r"(x)); /* keep every iteration */
	}
	return x;
}

__attribute__((constructor)) static void calibrate(void)
{
	const uint64_t n = 2000000;
	uint64_t best = UINT64_MAX;
	int i;

	for (i = 0; i < 7; i++) {
		uint64_t t0 = now_ns(), dt;

		spin_loops(n);
		dt = now_ns() - t0;
		if (dt < best)
			best = dt;
	}
	loops_per_ms = best ? n * 1000000u / best : n;
}

/*
 * Every program that orders work with a chain runs more than one thread,
 * and glibc (2.34 and later) takes shortcuts while a process has only ever
 * had one: pthread_mutex_lock and unlock then use plain loads and stores,
 * not atomic read-modify-writes.  Start (and join) one thread before any
 * benchmark runs, so that the mutex pair, the kernel port and the ticket
 * baseline pay for the atomics they pay for in such a program, also in a run
 * of the uncontended benchmarks alone.
 */
static void *no_op_thread(void *arg)
{
	return arg;
}

__attribute__((constructor)) static void go_multi_threaded(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, no_op_thread, NULL) || pthread_join(t, NULL))
		abort();
}

static void busy_us(unsigned int us)
{
	spin_loops(us * loops_per_ms / 1000);
}

static void sleep_us(unsigned int us)
{
	struct timespec ts = { 0, (long)us * 1000 };

	if (us)
		nanosleep(&ts, NULL);
}

static void die(const char *what)
{
	perror(what);
	abort();
}

/* ---- orderings ---------------------------------------------------------------- */

struct ordering {
	const char *name;
	void *(*chain_new)(void);
	void (*chain_free)(void *chain);
	void *(*entry_new)(void);
	void (*add)(void *chain, void *entry);
	void (*wait)(void *entry);
	void (*complete)(void *entry);
};

static void *xcalloc(size_t n)
{
	void *p = calloc(1, n);

	if (!p)
		die("calloc");
	return p;
}

/* libcchain */
static void *cc_chain_new(void)
{
	struct compl_chain *c = xcalloc(sizeof(*c));

	compl_chain_init(c);
	return c;
}
static void cc_chain_free(void *c)
{
	compl_chain_destroy(c);
	free(c);
}
static void *cc_entry_new(void) { return xcalloc(sizeof(struct compl_chain_entry)); }
static void cc_add(void *c, void *e) { compl_chain_add(c, e); }
/* The numbered add; the number is kept, as a program would keep it. */
static volatile uint64_t cc_last_seq;
static void cc_add_seq(void *c, void *e) { cc_last_seq = compl_chain_add_seq(c, e); }
static void cc_wait(void *e) { compl_chain_wait(e); }
static void cc_complete(void *e) { compl_chain_complete(e); }

/* The kernel helper, ported literally. */
struct completion {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int done;
};

static void init_completion(struct completion *x)
{
	pthread_mutex_init(&x->lock, NULL);
	pthread_cond_init(&x->cond, NULL);
	x->done = 0;
}

static void complete(struct completion *x)
{
	pthread_mutex_lock(&x->lock);
	x->done++;
	pthread_cond_signal(&x->cond);
	pthread_mutex_unlock(&x->lock);
}

static void wait_for_completion(struct completion *x)
{
	pthread_mutex_lock(&x->lock);
	while (!x->done)
		pthread_cond_wait(&x->cond, &x->lock);
	pthread_mutex_unlock(&x->lock);
}

struct kp_entry;
struct kp_chain {
	pthread_mutex_t lock;
	struct kp_entry *first, *last;
};
struct kp_entry {
	struct kp_chain *chain;
	struct kp_entry *next, *prev;
	struct completion prev_finished;
};

static void *kp_chain_new(void)
{
	struct kp_chain *c = xcalloc(sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	return c;
}
static void kp_chain_free(void *c) { free(c); }
static void *kp_entry_new(void) { return xcalloc(sizeof(struct kp_entry)); }

static void kp_add(void *chain, void *entry)
{
	struct kp_chain *c = chain;
	struct kp_entry *e = entry;

	e->chain = c;
	e->next = NULL;
	init_completion(&e->prev_finished);
	pthread_mutex_lock(&c->lock);
	e->prev = c->last;
	if (c->last)
		c->last->next = e;
	else
		c->first = e;
	c->last = e;
	if (c->first == e)
		complete(&e->prev_finished);
	pthread_mutex_unlock(&c->lock);
}

static void kp_wait(void *entry)
{
	wait_for_completion(&((struct kp_entry *)entry)->prev_finished);
}

static void kp_complete(void *entry)
{
	struct kp_entry *e = entry;
	struct kp_chain *c = e->chain;

	kp_wait(e);
	pthread_mutex_lock(&c->lock);
	c->first = e->next;
	if (e->next)
		e->next->prev = NULL;
	else
		c->last = NULL;
	if (c->first)
		complete(&c->first->prev_finished);
	e->chain = NULL;
	pthread_mutex_unlock(&c->lock);
}

/* Ticket counter, one condvar, broadcast. */
struct tk_chain {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned long next, serving;
};
struct tk_entry {
	struct tk_chain *chain;
	unsigned long ticket;
};

static void *tk_chain_new(void)
{
	struct tk_chain *c = xcalloc(sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	return c;
}
static void tk_chain_free(void *c) { free(c); }
static void *tk_entry_new(void) { return xcalloc(sizeof(struct tk_entry)); }

static void tk_add(void *chain, void *entry)
{
	struct tk_chain *c = chain;
	struct tk_entry *e = entry;

	pthread_mutex_lock(&c->lock);
	e->chain = c;
	e->ticket = c->next++;
	pthread_mutex_unlock(&c->lock);
}

/* Lock @e's chain and wait, with it held, until @e's ticket is served. */
static struct tk_chain *tk_lock_turn(struct tk_entry *e)
{
	struct tk_chain *c = e->chain;

	pthread_mutex_lock(&c->lock);
	while (c->serving != e->ticket)
		pthread_cond_wait(&c->cond, &c->lock);
	return c;
}

static void tk_wait(void *entry)
{
	pthread_mutex_unlock(&tk_lock_turn(entry)->lock);
}

static void tk_complete(void *entry)
{
	struct tk_chain *c = tk_lock_turn(entry);

	c->serving++;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* No ordering: the ceiling. */
static void *no_chain_new(void) { return xcalloc(1); }
static void no_chain_free(void *c) { free(c); }
static void *no_entry_new(void) { return xcalloc(1); }
static void no_add(void *c, void *e) { (void)c; (void)e; }
static void no_op(void *e) { (void)e; }

enum { O_CCHAIN, O_CCHAIN_NOSPIN, O_KPORT, O_TICKET, O_NONE, NR_ORDERINGS };

static const struct ordering orderings[NR_ORDERINGS] = {
	{ "cchain", cc_chain_new, cc_chain_free, cc_entry_new, cc_add, cc_wait, cc_complete },
	{ "cchain_nospin", cc_chain_new, cc_chain_free, cc_entry_new, cc_add, cc_wait,
	  cc_complete },
	{ "kport", kp_chain_new, kp_chain_free, kp_entry_new, kp_add, kp_wait, kp_complete },
	{ "ticket", tk_chain_new, tk_chain_free, tk_entry_new, tk_add, tk_wait, tk_complete },
	{ "none", no_chain_new, no_chain_free, no_entry_new, no_add, no_op, no_op },
};

/* cchain_nospin turns spinning off for the run. */
static uint64_t saved_spin;

static void ordering_begin(int o)
{
	if (o == O_CCHAIN_NOSPIN)
		saved_spin = cchain_set_spin_ns(0);
}

static void ordering_end(int o)
{
	if (o == O_CCHAIN_NOSPIN)
		cchain_set_spin_ns(saved_spin);
}

/* ---- measuring ------------------------------------------------------------------ */

/* The time, and the process's CPU time and voluntary context switches. */
struct usage {
	uint64_t wall, cpu, vcsw;
};

static struct usage usage_now(void)
{
	struct rusage ru;
	struct usage u;

	getrusage(RUSAGE_SELF, &ru);
	u.wall = now_ns();
	u.cpu = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
		(uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
	u.vcsw = (uint64_t)ru.ru_nvcsw;
	return u;
}

/*
 * The CPUs this process may run on, and pinning a worker to one of them.
 * Runs of no more threads than CPUs pin their workers, one to a CPU: left
 * to the scheduler, threads started for an iteration of a few hundred
 * microseconds often share a CPU for all of it (the load balancer has not
 * run yet), and a spinning handoff then waits for a time slice.
 */
static cpu_set_t allowed_cpus;
static unsigned int nr_allowed_cpus;

__attribute__((constructor)) static void find_cpus(void)
{
	if (sched_getaffinity(0, sizeof(allowed_cpus), &allowed_cpus))
		die("sched_getaffinity");
	nr_allowed_cpus = (unsigned int)CPU_COUNT(&allowed_cpus);
}

/* Pin the calling thread to the @i-th allowed CPU (modulo their number). */
static void pin_to_cpu(unsigned int i)
{
	unsigned int cpu, k = 0;
	cpu_set_t one;
	int err;

	i %= nr_allowed_cpus;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &allowed_cpus) || k++ != i)
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		err = pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
		if (err) {
			errno = err;
			die("pthread_setaffinity_np");
		}
		return;
	}
}

/* Totals over the iterations of one benchmark run. */
struct totals {
	uint64_t wall, cpu, vcsw, ops;
};

/*
 * An iteration of a multi-threaded run is timed by its workers, not by the
 * thread that starts them: with as many busy workers as CPUs, that thread
 * may get a CPU back only once the work is done, too late to read the
 * clock when it starts.  Each worker reads its clocks after the start
 * barrier and before the end barrier; the iteration lasts from the earliest
 * start to the latest end, and its CPU time and voluntary context switches
 * are the workers' own.
 */
struct span {
	_Atomic uint64_t start, end; /* wall clock: earliest start, latest end */
	_Atomic uint64_t cpu, vcsw;  /* sums over the workers */
};

/* The calling thread's CPU time and voluntary context switches, and the time. */
struct thread_usage {
	uint64_t wall, cpu, vcsw;
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t thread_vcsw(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return (uint64_t)ru.ru_nvcsw;
}

static void span_reset(struct span *s)
{
	atomic_store(&s->start, UINT64_MAX);
	atomic_store(&s->end, 0);
	atomic_store(&s->cpu, 0);
	atomic_store(&s->vcsw, 0);
}

/* A worker starts (after the start barrier): the wall clock last. */
static struct thread_usage span_begin(void)
{
	struct thread_usage u;

	u.vcsw = thread_vcsw();
	u.cpu = thread_cpu_ns();
	u.wall = now_ns();
	return u;
}

/* The iteration lasted at least until @wall. */
static void span_extend(struct span *s, uint64_t wall)
{
	uint64_t x = atomic_load(&s->end);

	while (wall > x && !atomic_compare_exchange_weak(&s->end, &x, wall))
		;
}

/* A worker that began with @u is done (before the end barrier): the wall clock first. */
static void span_end(struct span *s, struct thread_usage u)
{
	uint64_t wall = now_ns(), cpu = thread_cpu_ns(), vcsw = thread_vcsw();
	uint64_t x = atomic_load(&s->start);

	while (u.wall < x && !atomic_compare_exchange_weak(&s->start, &x, u.wall))
		;
	span_extend(s, wall);
	atomic_fetch_add(&s->cpu, cpu - u.cpu);
	atomic_fetch_add(&s->vcsw, vcsw - u.vcsw);
}

/* One iteration of @ops operations, timed by its workers in @s. */
static void report(struct bench_ctx *c, struct totals *t, struct span *s, uint64_t ops)
{
	uint64_t wall = atomic_load(&s->end) - atomic_load(&s->start);

	bench_manual_time(c, (double)wall / 1e9);
	t->wall += wall;
	t->cpu += atomic_load(&s->cpu);
	t->vcsw += atomic_load(&s->vcsw);
	t->ops += ops;
}

/* Per-operation figures of the whole run. */
static void report_totals(struct bench_ctx *c, const struct totals *t)
{
	if (!t->ops)
		return;
	bench_items(c, (int64_t)t->ops);
	bench_counter(c, "ns_per_op", (double)t->wall / (double)t->ops);
	bench_counter(c, "cpu_ns_per_op", (double)t->cpu / (double)t->ops);
	bench_counter(c, "vcsw_per_op", (double)t->vcsw / (double)t->ops);
}

/* ---- scenario: uncontended ------------------------------------------------------ */

/*
 * Cycles per round trip of the benchmark loop: calling into the C++ shim
 * costs a few nanoseconds, as much as the cycle being measured, so it is
 * paid once per batch, not once per cycle.
 */
#define UNCONTENDED_BATCH 16

/*
 * Inlined with a constant @ord, so that the calls through the ordering
 * table become direct calls (libcchain's through its PLT, as in a program
 * using it): the cycle is measured, not the table.
 */
static inline __attribute__((always_inline)) void
uncontended_loop(struct bench_ctx *c, const struct ordering *ord, void *chain, void *e,
		 int64_t *n)
{
	int i;

	while (bench_running(c)) {
		for (i = 0; i < UNCONTENDED_BATCH; i++) {
			ord->add(chain, e);
			ord->wait(e);
			ord->complete(e);
		}
		*n += UNCONTENDED_BATCH;
	}
}

/* Per cycle: wall and CPU time of the whole run over its cycles. */
static void uncontended_report(struct bench_ctx *c, struct usage a, struct usage b, int64_t n)
{
	struct totals t = { b.wall - a.wall, b.cpu - a.cpu, b.vcsw - a.vcsw, (uint64_t)n };

	report_totals(c, &t);
}

/* libcchain with compl_chain_add_seq() for its adds (uncontended/0/2). */
static const struct ordering cc_numbered = {
	"cchain_seq", cc_chain_new, cc_chain_free, cc_entry_new, cc_add_seq, cc_wait, cc_complete
};

/*
 * Arguments: the ordering; for libcchain, 1 to switch the chain's
 * statistics on, 2 to number the adds (compl_chain_add_seq).
 */
static void uncontended(struct bench_ctx *c)
{
	int o = (int)bench_arg(c, 0);
	const struct ordering *ord = &orderings[o];
	void *chain = ord->chain_new(), *e = ord->entry_new();
	struct usage a, b;
	int64_t n = 0;

	if (bench_arg(c, 1) == 1 && (o != O_CCHAIN || compl_chain_stats_enable(chain)))
		die("uncontended: statistics need libcchain and a free slot");
	if (bench_arg(c, 1) == 2 && o != O_CCHAIN)
		die("uncontended: numbered adds need libcchain");

	ordering_begin(o);
	a = usage_now();
	switch (o) {
	case O_CCHAIN:
		if (bench_arg(c, 1) == 2)
			uncontended_loop(c, &cc_numbered, chain, e, &n);
		else
			uncontended_loop(c, &orderings[O_CCHAIN], chain, e, &n);
		break;
	case O_KPORT:
		uncontended_loop(c, &orderings[O_KPORT], chain, e, &n);
		break;
	case O_TICKET:
		uncontended_loop(c, &orderings[O_TICKET], chain, e, &n);
		break;
	case O_NONE:
		uncontended_loop(c, &orderings[O_NONE], chain, e, &n);
		break;
	default:
		uncontended_loop(c, ord, chain, e, &n);
		break;
	}
	b = usage_now();
	ordering_end(o);
	uncontended_report(c, a, b, n);
	ord->chain_free(chain);
	free(e);
}

/*
 * The uncontended floor: a lock+unlock pair of a default pthread mutex, the
 * kind a chain embeds, called directly.  Both halves are atomic
 * read-modify-writes (glibc: a locked compare-and-swap, then an exchange;
 * plain stores only in a process that never started a thread, hence
 * go_multi_threaded()), as an add+wait+complete cycle must have at least
 * an add and a complete that each publish with one.
 */
static void uncontended_mutex(struct bench_ctx *c)
{
	pthread_mutex_t *m = xcalloc(sizeof(*m));
	struct usage a, b;
	int64_t n = 0;
	int i, err = pthread_mutex_init(m, NULL);

	if (err) {
		errno = err;
		die("pthread_mutex_init");
	}
	a = usage_now();
	while (bench_running(c)) {
		for (i = 0; i < UNCONTENDED_BATCH; i++) {
			pthread_mutex_lock(m);
			pthread_mutex_unlock(m);
		}
		n += UNCONTENDED_BATCH;
	}
	b = usage_now();
	uncontended_report(c, a, b, n);
	pthread_mutex_destroy(m);
	free(m);
}

/*
 * The same cycle on a shared chain (<cchain/shared.h>) in a MAP_SHARED
 * mapping: what robustness across processes costs when nobody waits.
 */
static void uncontended_shared(struct bench_ctx *c)
{
	struct {
		struct compl_chain_shared chain;
		struct compl_chain_shared_entry e;
	} *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct usage a, b;
	int64_t n = 0;
	int i;

	if (r == MAP_FAILED)
		die("mmap");
	if (compl_chain_shared_init(&r->chain))
		die("compl_chain_shared_init");
	a = usage_now();
	while (bench_running(c)) {
		for (i = 0; i < UNCONTENDED_BATCH; i++) {
			compl_chain_shared_add(&r->chain, &r->e);
			compl_chain_shared_wait(&r->e);
			compl_chain_shared_complete(&r->e);
		}
		n += UNCONTENDED_BATCH;
	}
	b = usage_now();
	uncontended_report(c, a, b, n);
	compl_chain_shared_destroy(&r->chain);
	munmap(r, sizeof(*r));
}

/* ---- scenario: relay ---------------------------------------------------------- */

struct relay {
	const struct ordering *ord;
	void *chain;
	unsigned int work_us;
	unsigned long per_thread;
	void **entries; /* two per thread, used in turn */
	bool pin;       /* one CPU per thread */
	pthread_barrier_t start, end;
	struct span span;
};

struct relay_arg {
	struct relay *r;
	unsigned int index;
};

/*
 * Strict round robin: the owner of entry k adds its entry k + N while it
 * holds the turn, so the chain always holds k, k+1, ..., k+N: every
 * completion hands the turn to another thread.
 */
static void *relay_thread(void *arg)
{
	struct relay_arg *ra = arg;
	struct relay *r = ra->r;
	void **e = &r->entries[2 * ra->index];
	struct thread_usage u;
	unsigned long j;

	if (r->pin)
		pin_to_cpu(ra->index);
	pthread_barrier_wait(&r->start);
	u = span_begin();
	for (j = 0; j < r->per_thread; j++) {
		r->ord->wait(e[j & 1]);
		busy_us(r->work_us);
		if (j + 1 < r->per_thread)
			r->ord->add(r->chain, e[(j + 1) & 1]);
		r->ord->complete(e[j & 1]);
	}
	span_end(&r->span, u);
	pthread_barrier_wait(&r->end);
	return NULL;
}

#define RELAY_HANDOFFS 4000ul

static void relay(struct bench_ctx *c)
{
	int o = (int)bench_arg(c, 0);
	unsigned int n = (unsigned int)bench_arg(c, 1) / 1000;
	unsigned int work = (unsigned int)bench_arg(c, 1) % 1000;
	struct relay r = { .ord = &orderings[o], .work_us = work, .pin = n <= nr_allowed_cpus };
	pthread_t *t = xcalloc(n * sizeof(*t));
	struct relay_arg *ra = xcalloc(n * sizeof(*ra));
	unsigned long total = work >= 100 ? RELAY_HANDOFFS / 8 : RELAY_HANDOFFS;
	struct totals tot = { 0 };
	unsigned int i;

	r.per_thread = (total + n - 1) / n;
	r.entries = xcalloc(2 * n * sizeof(void *));
	for (i = 0; i < 2 * n; i++)
		r.entries[i] = r.ord->entry_new();
	ordering_begin(o);
	while (bench_running(c)) {
		r.chain = r.ord->chain_new();
		for (i = 0; i < n; i++)
			r.ord->add(r.chain, r.entries[2 * i]);
		pthread_barrier_init(&r.start, NULL, n + 1);
		pthread_barrier_init(&r.end, NULL, n + 1);
		span_reset(&r.span);
		for (i = 0; i < n; i++) {
			ra[i].r = &r;
			ra[i].index = i;
			if (pthread_create(&t[i], NULL, relay_thread, &ra[i]))
				die("pthread_create");
		}
		pthread_barrier_wait(&r.start);
		pthread_barrier_wait(&r.end);
		for (i = 0; i < n; i++)
			pthread_join(t[i], NULL);
		report(c, &tot, &r.span, r.per_thread * n);
		pthread_barrier_destroy(&r.start);
		pthread_barrier_destroy(&r.end);
		r.ord->chain_free(r.chain);
	}
	ordering_end(o);
	report_totals(c, &tot);
	for (i = 0; i < 2 * n; i++)
		free(r.entries[i]);
	free(r.entries);
	free(ra);
	free(t);
}

/* ---- scenario: relay on a shared chain, threads or processes ------------------ */

/*
 * The two-member relay (W = 0) on a shared chain in a MAP_SHARED mapping,
 * between two threads of one process or two processes (fork()): what a
 * handoff between processes costs against one between threads.  Everything
 * the members touch lives in the mapping, the timing span and the barriers
 * (process-shared) included; processes are pinned and timed as threads are.
 */
struct relay_shared {
	struct compl_chain_shared chain;
	struct compl_chain_shared_entry e[4];
	pthread_barrier_t added, start, end;
	struct span span;
	unsigned long per_member;
	bool pin;
};

struct relay_shared_arg {
	struct relay_shared *r;
	unsigned int index;
};

static void relay_shared_member(struct relay_shared *r, unsigned int me)
{
	struct compl_chain_shared_entry *e = &r->e[2 * me];
	struct thread_usage u;
	unsigned long j;

	if (r->pin)
		pin_to_cpu(me);
	/* An entry belongs to its adder: each member adds its first, in turn. */
	if (me == 0)
		compl_chain_shared_add(&r->chain, &e[0]);
	pthread_barrier_wait(&r->added);
	if (me == 1)
		compl_chain_shared_add(&r->chain, &e[0]);
	pthread_barrier_wait(&r->start);
	u = span_begin();
	for (j = 0; j < r->per_member; j++) {
		compl_chain_shared_wait(&e[j & 1]);
		if (j + 1 < r->per_member)
			compl_chain_shared_add(&r->chain, &e[(j + 1) & 1]);
		compl_chain_shared_complete(&e[j & 1]);
	}
	span_end(&r->span, u);
	pthread_barrier_wait(&r->end);
}

static void *relay_shared_thread(void *arg)
{
	struct relay_shared_arg *a = arg;

	relay_shared_member(a->r, a->index);
	return NULL;
}

static void relay_shared(struct bench_ctx *c)
{
	bool processes = bench_arg(c, 0) != 0;
	struct relay_shared *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct relay_shared_arg ra[2];
	pthread_barrierattr_t ba;
	struct totals tot = { 0 };
	pthread_t t[2];
	pid_t pid[2];
	unsigned int i;
	int status;

	if (r == MAP_FAILED)
		die("mmap");
	r->per_member = RELAY_HANDOFFS / 2;
	r->pin = nr_allowed_cpus >= 2;
	pthread_barrierattr_init(&ba);
	pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
	while (bench_running(c)) {
		if (compl_chain_shared_init(&r->chain))
			die("compl_chain_shared_init");
		pthread_barrier_init(&r->added, &ba, 2);
		pthread_barrier_init(&r->start, &ba, 3);
		pthread_barrier_init(&r->end, &ba, 3);
		span_reset(&r->span);
		for (i = 0; i < 2; i++) {
			ra[i].r = r;
			ra[i].index = i;
			if (!processes) {
				if (pthread_create(&t[i], NULL, relay_shared_thread, &ra[i]))
					die("pthread_create");
				continue;
			}
			pid[i] = fork();
			if (pid[i] < 0)
				die("fork");
			if (!pid[i]) {
				relay_shared_member(r, i);
				_exit(0);
			}
		}
		pthread_barrier_wait(&r->start);
		pthread_barrier_wait(&r->end);
		for (i = 0; i < 2; i++) {
			if (!processes)
				pthread_join(t[i], NULL);
			else if (waitpid(pid[i], &status, 0) != pid[i] || status)
				die("relay_shared member");
		}
		report(c, &tot, &r->span, r->per_member * 2);
		pthread_barrier_destroy(&r->added);
		pthread_barrier_destroy(&r->start);
		pthread_barrier_destroy(&r->end);
		if (compl_chain_shared_destroy(&r->chain))
			die("compl_chain_shared_destroy");
	}
	pthread_barrierattr_destroy(&ba);
	report_totals(c, &tot);
	munmap(r, sizeof(*r));
}

/* ---- floors: ping-pong ----------------------------------------------------------- */

struct pingpong {
	_Atomic uint32_t word; /* whose turn: 0 or 1 */
	unsigned long rounds;
	bool spin;
	pthread_barrier_t start, end;
	struct span span;
};

struct pingpong_arg {
	struct pingpong *p;
	uint32_t me;
};

static void futex_wait_word(_Atomic uint32_t *w, uint32_t val)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_word(_Atomic uint32_t *w)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void pingpong_side(struct pingpong *p, uint32_t me)
{
	unsigned long i;

	for (i = 0; i < p->rounds; i++) {
		uint32_t v;

		while ((v = atomic_load_explicit(&p->word, memory_order_acquire)) != me) {
			if (!p->spin)
				futex_wait_word(&p->word, v);
		}
		atomic_store_explicit(&p->word, !me, memory_order_release);
		if (!p->spin)
			futex_wake_word(&p->word);
	}
}

static void *pingpong_thread(void *arg)
{
	struct pingpong_arg *pa = arg;
	struct thread_usage u;

	if (nr_allowed_cpus >= 2)
		pin_to_cpu(pa->me); /* as the relay's two threads */
	pthread_barrier_wait(&pa->p->start);
	u = span_begin();
	pingpong_side(pa->p, pa->me);
	span_end(&pa->p->span, u);
	pthread_barrier_wait(&pa->p->end);
	return NULL;
}

/*
 * Two threads, started, pinned and timed exactly as the relay's (N = 2),
 * over as many handoffs per iteration (so that starting and joining the
 * threads weighs the same on every handoff), so that the ratio compares the
 * handoff mechanisms and nothing else.  Arg 0: 0 futex, 1 spin.
 */
static void pingpong(struct bench_ctx *c)
{
	struct pingpong p = { .rounds = RELAY_HANDOFFS / 2, .spin = bench_arg(c, 0) != 0 };
	struct pingpong_arg pa[2] = { { &p, 0 }, { &p, 1 } };
	struct totals tot = { 0 };

	while (bench_running(c)) {
		pthread_t t[2];
		int i;

		atomic_store(&p.word, 0);
		pthread_barrier_init(&p.start, NULL, 3);
		pthread_barrier_init(&p.end, NULL, 3);
		span_reset(&p.span);
		for (i = 0; i < 2; i++)
			if (pthread_create(&t[i], NULL, pingpong_thread, &pa[i]))
				die("pthread_create");
		pthread_barrier_wait(&p.start);
		pthread_barrier_wait(&p.end);
		for (i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		report(c, &tot, &p.span, 2 * p.rounds); /* two handoffs per round */
		pthread_barrier_destroy(&p.start);
		pthread_barrier_destroy(&p.end);
	}
	report_totals(c, &tot);
}

/* ---- scenario: a worker pool with an ordered commit ------------------------------ */

enum { POOL_BLOCKING, POOL_DEFER, POOL_MIX };

struct pool_task {
	struct compl_chain_entry entry; /* first: compl_chain_defer hands it back */
	void *oentry;                   /* for the other orderings */
	unsigned int work_us;
	unsigned long id;
};

struct pool {
	const struct ordering *ord;
	void *chain;
	struct pool_task *tasks;
	unsigned long ntasks;
	_Atomic unsigned long next;
	unsigned long committed; /* in the ordered step */
	_Atomic unsigned long unordered_commits;
	bool sleep_bound;
	int mode;
	pthread_barrier_t start, end;
	struct span span;
};

static struct pool *the_pool;

static void commit_deferred(struct compl_chain_entry *e)
{
	(void)e;
	the_pool->committed++;
}

static void *pool_thread(void *arg)
{
	struct pool *p = arg;
	struct thread_usage u;
	unsigned long i;

	pthread_barrier_wait(&p->start);
	u = span_begin();
	while ((i = atomic_fetch_add(&p->next, 1)) < p->ntasks) {
		struct pool_task *t = &p->tasks[i];

		if (p->sleep_bound)
			sleep_us(t->work_us);
		else
			busy_us(t->work_us);
		if (p->ord == &orderings[O_NONE]) {
			atomic_fetch_add_explicit(&p->unordered_commits, 1, memory_order_relaxed);
		} else if (p->mode == POOL_DEFER) {
			compl_chain_defer(&t->entry, commit_deferred);
		} else if (p->mode == POOL_MIX && t->id % 5 == 1) {
			compl_chain_cancel(&t->entry);
		} else if (p->mode == POOL_MIX && t->id % 5 == 2) {
			compl_chain_complete(&t->entry); /* early release */
		} else {
			p->ord->wait(t->oentry);
			p->committed++;
			p->ord->complete(t->oentry);
		}
	}
	span_end(&p->span, u);
	pthread_barrier_wait(&p->end);
	return NULL;
}

static void pool_run(struct bench_ctx *c, int o, int mode)
{
	unsigned int workers = (unsigned int)bench_arg(c, 1) / 10;
	bool sleep_bound = bench_arg(c, 1) % 10;
	struct pool p = { .ord = &orderings[o], .mode = mode, .sleep_bound = sleep_bound };
	pthread_t *t = xcalloc(workers * sizeof(*t));
	unsigned long i, seed = 12345;
	struct totals tot = { 0 };
	unsigned int k;

	/* CPU-bound: 0..20 us of work per task; sleep-bound: 0..100 us asleep. */
	p.ntasks = sleep_bound ? 4000 : 10000;
	if (o == O_TICKET && workers > 8)
		p.ntasks /= 10; /* every commit wakes every worker: keep it bearable */
	p.tasks = xcalloc(p.ntasks * sizeof(*p.tasks));
	for (i = 0; i < p.ntasks; i++) {
		seed = seed * 6364136223846793005u + 1442695040888963407u;
		p.tasks[i].work_us = (unsigned int)((seed >> 33) % (sleep_bound ? 101 : 21));
		p.tasks[i].id = i;
		p.tasks[i].oentry = o == O_CCHAIN || o == O_CCHAIN_NOSPIN ?
					    (void *)&p.tasks[i].entry : p.ord->entry_new();
	}
	the_pool = &p;
	ordering_begin(o);
	while (bench_running(c)) {
		p.chain = p.ord->chain_new();
		/* Tasks are submitted in order; workers take them in order. */
		for (i = 0; i < p.ntasks; i++)
			p.ord->add(p.chain, p.tasks[i].oentry);
		atomic_store(&p.next, 0);
		p.committed = 0;
		pthread_barrier_init(&p.start, NULL, workers + 1);
		pthread_barrier_init(&p.end, NULL, workers + 1);
		span_reset(&p.span);
		for (k = 0; k < workers; k++)
			if (pthread_create(&t[k], NULL, pool_thread, &p))
				die("pthread_create");
		pthread_barrier_wait(&p.start);
		pthread_barrier_wait(&p.end);
		/*
		 * A deferred commit runs within some worker's call, before that
		 * worker is done; should one still run (or wait), it counts.
		 */
		if ((o == O_CCHAIN || o == O_CCHAIN_NOSPIN) && !compl_chain_empty(p.chain)) {
			compl_chain_flush(p.chain);
			span_extend(&p.span, now_ns());
		}
		for (k = 0; k < workers; k++)
			pthread_join(t[k], NULL);
		report(c, &tot, &p.span, p.ntasks);
		if (mode != POOL_MIX && o != O_NONE && p.committed != p.ntasks)
			bench_error(c, "lost commits");
		p.ord->chain_free(p.chain);
	}
	ordering_end(o);
	report_totals(c, &tot);
	if (o != O_CCHAIN && o != O_CCHAIN_NOSPIN)
		for (i = 0; i < p.ntasks; i++)
			free(p.tasks[i].oentry);
	free(p.tasks);
	free(t);
}

static void pool(struct bench_ctx *c)
{
	pool_run(c, (int)bench_arg(c, 0), POOL_BLOCKING);
}

static void pool_defer(struct bench_ctx *c)
{
	pool_run(c, O_CCHAIN, POOL_DEFER);
	(void)bench_arg(c, 0);
}

static void pool_mix(struct bench_ctx *c)
{
	pool_run(c, O_CCHAIN, POOL_MIX);
	(void)bench_arg(c, 0);
}

/* ---- scenario: a log writer: producers, one ordered writer -------------------- */

/*
 * The log writer of the bounded-window report: LOG_PRODUCERS threads each
 * take a record's place in the log (the add), produce the record (a
 * malloc'd buffer of 64..4096 bytes, a formatted header line and filler,
 * and 0..LOG_WORK_MAX_US us of calibrated CPU work: sizes and work from a
 * deterministic generator per producer), and hand the ordered write to the
 * chain: a checksum of the record, framed, written with pwrite(2) to a file
 * under $TMPDIR (default /tmp; a circular log of LOG_FILE_BYTES, emptied
 * every iteration), then the buffer freed.  There is no writer thread:
 * whoever holds the turn writes, as compl_chain_defer() runs it.
 *
 * The producers are faster than the ordered step: producing a record costs
 * less CPU than writing one (a system call), and the thread that runs the
 * writes is one of eight CPU-bound threads sharing the CPUs fairly.  An
 * unbounded chain then queues every record the writer has not reached, each
 * holding its buffer; a window makes the producers wait instead.
 *
 * Arg 0, the mode: LOG_UNBOUNDED (compl_chain_add + compl_chain_defer),
 * LOG_WINDOW (compl_chain_set_window(LOG_WINDOW_LIMIT), compl_chain_window_add
 * + compl_chain_defer), LOG_BLOCKING (add, produce, compl_chain_wait, write,
 * complete: the reference), LOG_WINDOW_LOW (as LOG_WINDOW, with the
 * low-water mark LOG_WINDOW_LOW_MARK: a full window reopens once half of it
 * has drained, waking the producers together).  Arg 1: records per
 * iteration.
 *
 * Counters besides the timing: rss_peak_mb, the most the resident set grew
 * above its size at the start of an iteration (the kernel's peak, VmHWM,
 * reset through /proc/self/clear_refs before each iteration; where that is
 * refused, VmRSS sampled every millisecond), after malloc_trim() gave back
 * what the previous iteration freed; max_pending, the most records added and
 * not yet written, as the producers and the writer count them (a record
 * counts until its write starts, so one more than the chain's own count may
 * show: the record whose write is starting, and an add the window allowed
 * as it left).
 */
enum { LOG_UNBOUNDED, LOG_WINDOW, LOG_BLOCKING, LOG_WINDOW_LOW };

#define LOG_PRODUCERS 8
#define LOG_WINDOW_LIMIT 64
#define LOG_WINDOW_LOW_MARK 32
#define LOG_FILE_BYTES (64ul << 20)
#define LOG_WORK_MAX_US 5

/* What is written: a frame header, then the record's bytes. */
struct log_frame {
	uint32_t len;      /* bytes of data */
	uint32_t producer;
	uint64_t seq;      /* the producer's own count */
	uint64_t sum;      /* of the data, computed by the writer */
};

struct log_record {
	struct compl_chain_entry entry; /* first: compl_chain_defer hands it back */
	struct log_frame frame;
	char data[];                    /* right after the frame: one pwrite */
};

struct logwriter {
	struct compl_chain chain;
	int mode;
	int fd;
	unsigned long per_producer;
	/* The writer's state: touched in the ordered step only. */
	uint64_t off;
	unsigned long written;
	uint64_t next_seq[LOG_PRODUCERS];
	bool out_of_order, write_failed;
	_Atomic long pending, max_pending;
	pthread_barrier_t ready, start, end;
	struct span span;
};

static struct logwriter *the_log;

static uint64_t log_rand(uint64_t *seed)
{
	*seed = *seed * 6364136223846793005u + 1442695040888963407u;
	return *seed ^ (*seed >> 29);
}

static uint64_t log_checksum(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15u, w;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdu;
		h ^= h >> 32;
	}
	for (; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3u;
	return h;
}

/* The ordered step: check the order, checksum, write. */
static void log_write(struct logwriter *lw, struct log_record *r)
{
	size_t n = sizeof(r->frame) + r->frame.len;

	atomic_fetch_sub_explicit(&lw->pending, 1, memory_order_relaxed);
	if (r->frame.seq != lw->next_seq[r->frame.producer]++)
		lw->out_of_order = true;
	r->frame.sum = log_checksum(r->data, r->frame.len);
	if (lw->off + n > LOG_FILE_BYTES)
		lw->off = 0; /* a circular log */
	if (pwrite(lw->fd, &r->frame, n, (off_t)lw->off) != (ssize_t)n)
		lw->write_failed = true;
	lw->off += n;
	lw->written++;
}

static void log_write_deferred(struct compl_chain_entry *e)
{
	struct log_record *r = (struct log_record *)e;

	log_write(the_log, r);
	free(r);
}

/* Produce record @seq of @producer: a header line, then printable filler. */
static void log_format(struct log_record *r, unsigned int producer, uint64_t seq,
		       uint64_t *seed)
{
	uint32_t i, len = r->frame.len;
	int h;

	h = snprintf(r->data, len, "%llu producer %u record %llu:",
		     (unsigned long long)now_ns(), producer, (unsigned long long)seq);
	i = h < 0 ? 0 : (uint32_t)h < len ? (uint32_t)h : len;
	for (; i + 8 <= len; i += 8) {
		uint64_t x = (log_rand(seed) & 0x3f3f3f3f3f3f3f3fu) + 0x2020202020202020u;

		memcpy(r->data + i, &x, 8);
	}
	for (; i < len; i++)
		r->data[i] = '.';
	r->data[len - 1] = '\n';
}

struct log_producer {
	struct logwriter *lw;
	unsigned int index;
};

static void *log_producer_thread(void *arg)
{
	struct log_producer *a = arg;
	struct logwriter *lw = a->lw;
	uint64_t seed = 0x9e3779b97f4a7c15u * (a->index + 1), j;
	struct thread_usage u;

	pthread_barrier_wait(&lw->ready);
	pthread_barrier_wait(&lw->start);
	u = span_begin();
	for (j = 0; j < lw->per_producer; j++) {
		uint64_t x = log_rand(&seed);
		uint32_t len = 64 + (uint32_t)(x % (4096 - 64 + 1));
		unsigned int work_us = (unsigned int)((x >> 40) % (LOG_WORK_MAX_US + 1));
		struct log_record *r = malloc(sizeof(*r) + len);
		long p, m;

		if (!r)
			die("malloc");
		r->frame.len = len;
		r->frame.producer = a->index;
		r->frame.seq = j;
		/* The record's place in the log. */
		if (lw->mode == LOG_WINDOW || lw->mode == LOG_WINDOW_LOW)
			compl_chain_window_add(&lw->chain, &r->entry);
		else
			compl_chain_add(&lw->chain, &r->entry);
		p = atomic_fetch_add_explicit(&lw->pending, 1, memory_order_relaxed) + 1;
		m = atomic_load_explicit(&lw->max_pending, memory_order_relaxed);
		while (p > m && !atomic_compare_exchange_weak(&lw->max_pending, &m, p))
			;
		/* Produce it. */
		busy_us(work_us);
		log_format(r, a->index, j, &seed);
		/* Write it in its turn. */
		if (lw->mode == LOG_BLOCKING) {
			compl_chain_wait(&r->entry);
			log_write(lw, r);
			compl_chain_complete(&r->entry);
			free(r);
		} else {
			compl_chain_defer(&r->entry, log_write_deferred);
		}
	}
	span_end(&lw->span, u);
	pthread_barrier_wait(&lw->end);
	return NULL;
}

/* A VmRSS or VmHWM line of /proc/self/status, in kB; -1 if missing. */
static long proc_status_kb(const char *key)
{
	char line[256];
	size_t k = strlen(key);
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, k) && line[k] == ':') {
			kb = strtol(line + k + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

/* Reset the kernel's peak resident set (VmHWM) to the current one. */
static bool reset_peak_rss(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	bool ok = fd >= 0 && write(fd, "5", 1) == 1;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* Where resetting VmHWM is refused: sample VmRSS until told to stop. */
struct rss_sampler {
	_Atomic bool stop;
	long max_kb;
};

static void *rss_sampler_thread(void *arg)
{
	struct rss_sampler *s = arg;

	while (!atomic_load(&s->stop)) {
		long kb = proc_status_kb("VmRSS");

		if (kb > s->max_kb)
			s->max_kb = kb;
		sleep_us(1000);
	}
	return NULL;
}

static void logwriter(struct bench_ctx *c)
{
	struct logwriter lw = { .mode = (int)bench_arg(c, 0) };
	unsigned long records = (unsigned long)bench_arg(c, 1);
	struct log_producer pa[LOG_PRODUCERS];
	pthread_t t[LOG_PRODUCERS], st;
	const char *dir = getenv("TMPDIR");
	char path[4096];
	long peak_kb = 0;
	struct totals tot = { 0 };
	unsigned int k;

	snprintf(path, sizeof(path), "%s/cchain-bench-log.XXXXXX", dir && *dir ? dir : "/tmp");
	lw.fd = mkstemp(path);
	if (lw.fd < 0)
		die(path);
	unlink(path);
	lw.per_producer = records / LOG_PRODUCERS;
	records = lw.per_producer * LOG_PRODUCERS;
	the_log = &lw;
	while (bench_running(c)) {
		struct rss_sampler sampler = { .stop = false };
		bool sampling;
		long base_kb, top_kb;

		compl_chain_init(&lw.chain);
		if ((lw.mode == LOG_WINDOW || lw.mode == LOG_WINDOW_LOW) &&
		    compl_chain_set_window(&lw.chain, LOG_WINDOW_LIMIT))
			die("compl_chain_set_window");
		if (lw.mode == LOG_WINDOW_LOW &&
		    compl_chain_set_window_low(&lw.chain, LOG_WINDOW_LOW_MARK))
			die("compl_chain_set_window_low");
		if (ftruncate(lw.fd, 0))
			die("ftruncate");
		lw.off = 0;
		lw.written = 0;
		memset(lw.next_seq, 0, sizeof(lw.next_seq));
		atomic_store(&lw.pending, 0);
		atomic_store(&lw.max_pending, 0);
		pthread_barrier_init(&lw.ready, NULL, LOG_PRODUCERS + 1);
		pthread_barrier_init(&lw.start, NULL, LOG_PRODUCERS + 1);
		pthread_barrier_init(&lw.end, NULL, LOG_PRODUCERS + 1);
		span_reset(&lw.span);
		for (k = 0; k < LOG_PRODUCERS; k++) {
			pa[k].lw = &lw;
			pa[k].index = k;
			if (pthread_create(&t[k], NULL, log_producer_thread, &pa[k]))
				die("pthread_create");
		}
		/* The threads exist; what the last iteration freed goes back. */
		pthread_barrier_wait(&lw.ready);
		malloc_trim(0);
		sampling = !reset_peak_rss();
		base_kb = proc_status_kb("VmRSS");
		if (sampling) {
			sampler.max_kb = base_kb;
			if (pthread_create(&st, NULL, rss_sampler_thread, &sampler))
				die("pthread_create");
		}
		pthread_barrier_wait(&lw.start);
		pthread_barrier_wait(&lw.end);
		/* A write still running (or waiting) counts, as in the pool. */
		if (!compl_chain_empty(&lw.chain)) {
			compl_chain_flush(&lw.chain);
			span_extend(&lw.span, now_ns());
		}
		for (k = 0; k < LOG_PRODUCERS; k++)
			pthread_join(t[k], NULL);
		if (sampling) {
			atomic_store(&sampler.stop, true);
			pthread_join(st, NULL);
			top_kb = sampler.max_kb;
		} else {
			top_kb = proc_status_kb("VmHWM");
		}
		if (top_kb - base_kb > peak_kb)
			peak_kb = top_kb - base_kb;
		report(c, &tot, &lw.span, records);
		if (lw.written != records)
			bench_error(c, "lost records");
		else if (lw.out_of_order)
			bench_error(c, "records written out of order");
		else if (lw.write_failed)
			bench_error(c, "pwrite failed");
		pthread_barrier_destroy(&lw.ready);
		pthread_barrier_destroy(&lw.start);
		pthread_barrier_destroy(&lw.end);
		compl_chain_destroy(&lw.chain);
	}
	report_totals(c, &tot);
	bench_counter(c, "rss_peak_mb", (double)peak_kb / 1024.0);
	bench_counter(c, "max_pending", (double)atomic_load(&lw.max_pending));
	close(lw.fd);
}

/* ---- the table ------------------------------------------------------------------ */

#define ALL_ORDERINGS(x) { O_CCHAIN, x }, { O_CCHAIN_NOSPIN, x }, { O_KPORT, x }, \
	{ O_TICKET, x }, { O_NONE, x }

/* O_NONE: what the benchmark loop itself costs per cycle. */
static const long uncontended_args[][2] = {
	{ O_CCHAIN, 0 }, { O_KPORT, 0 }, { O_TICKET, 0 }, { O_NONE, 0 }, { O_CCHAIN, 1 },
	{ O_CCHAIN, 2 },
};
/* (ordering, N * 1000 + W) */
static const long relay_args[][2] = {
	ALL_ORDERINGS(2000), ALL_ORDERINGS(2001), ALL_ORDERINGS(2010), ALL_ORDERINGS(2100),
	{ O_CCHAIN, 8000 }, { O_CCHAIN_NOSPIN, 8000 }, { O_TICKET, 8000 }, { O_KPORT, 8000 },
	{ O_CCHAIN, 32000 }, { O_CCHAIN_NOSPIN, 32000 }, { O_TICKET, 32000 }, { O_KPORT, 32000 },
	{ O_CCHAIN, 128000 }, { O_CCHAIN_NOSPIN, 128000 }, { O_TICKET, 128000 },
	{ O_KPORT, 128000 },
	{ O_CCHAIN, 8010 }, { O_CCHAIN, 32010 }, { O_CCHAIN, 128010 },
	{ O_CCHAIN, 8100 }, { O_CCHAIN, 32100 }, { O_CCHAIN, 128100 },
};
static const long pingpong_args[][2] = { { 0, 0 }, { 1, 0 } };
/* 0: two threads, 1: two processes */
static const long relay_shared_args[][2] = { { 0 }, { 1 } };
/* (ordering, workers * 10 + sleep_bound) */
static const long pool_args[][2] = {
	{ O_CCHAIN, 40 }, { O_KPORT, 40 }, { O_TICKET, 40 }, { O_NONE, 40 },
	{ O_CCHAIN, 640 }, { O_KPORT, 640 }, { O_TICKET, 640 }, { O_NONE, 640 },
	{ O_CCHAIN, 41 }, { O_KPORT, 41 }, { O_TICKET, 41 }, { O_NONE, 41 },
	{ O_CCHAIN, 641 }, { O_KPORT, 641 }, { O_TICKET, 641 }, { O_NONE, 641 },
};
static const long pool_defer_args[][2] = { { 0, 40 }, { 0, 640 }, { 0, 41 }, { 0, 641 } };
/*
 * (mode, records).  The blocking reference runs at the shorter length only:
 * it holds one record per producer whatever the length, and a million
 * records of it would add a quarter of a minute to every round.
 */
static const long logwriter_args[][2] = {
	{ LOG_UNBOUNDED, 100000 }, { LOG_WINDOW, 100000 }, { LOG_BLOCKING, 100000 },
	{ LOG_UNBOUNDED, 1000000 }, { LOG_WINDOW, 1000000 },
	{ LOG_WINDOW_LOW, 100000 }, { LOG_WINDOW_LOW, 1000000 },
};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const struct bench_def defs[] = {
	{ "uncontended", uncontended, false, 2, uncontended_args, COUNT(uncontended_args) },
	{ "uncontended_mutex", uncontended_mutex, false, 0, NULL, 0 },
	{ "uncontended_shared", uncontended_shared, false, 0, NULL, 0 },
	{ "relay", relay, true, 2, relay_args, COUNT(relay_args) },
	{ "relay_shared", relay_shared, true, 1, relay_shared_args, COUNT(relay_shared_args) },
	{ "pingpong", pingpong, true, 2, pingpong_args, COUNT(pingpong_args) },
	{ "pool", pool, true, 2, pool_args, COUNT(pool_args) },
	{ "pool_defer", pool_defer, true, 2, pool_defer_args, COUNT(pool_defer_args) },
	{ "pool_mix", pool_mix, true, 2, pool_defer_args, COUNT(pool_defer_args) },
	{ "logwriter", logwriter, true, 2, logwriter_args, COUNT(logwriter_args) },
};

const struct bench_def *bench_defs(int *n)
{
	*n = COUNT(defs);
	return defs;
}
