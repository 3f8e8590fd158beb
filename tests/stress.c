// SPDX-License-Identifier: MIT
/*
 * Stress and soak: many threads share one chain.  Each repeatedly allocates
 * a task, adds it, works for a random time, then waits and runs the ordered
 * step, defers it, releases early, cancels, waits with timeouts, or
 * flushes, and frees (or at once reuses) the task.  The ordered step checks
 * FIFO order.  A watchdog dumps the chain and fails the run if no entry
 * completes for --stall-timeout seconds.
 *
 * With --monitor the owners never free their tasks: they hand each one,
 * once completed, cancelled or deferred, to a monitor thread, which frees
 * it as soon as compl_chain_pending() is false for it.  The library must
 * not touch an entry after that point (the sanitizers watch).  Deferred
 * functions then never touch their task: the monitor may free it while
 * they run; they learn the task's ticket from a FIFO of deferrals instead.
 *
 * stress [--threads N] [--iterations K | --seconds S] [--stall-timeout S]
 *        [--seed S] [--monitor] [--inject-hang]
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cchain/cchain.h>

#ifdef CCHAIN_VALGRIND
#include <valgrind/drd.h>
#endif

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "stress: %s:%d: check failed: %s\n",   \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

struct task {
	struct compl_chain_entry entry;
	uint64_t ticket;
	struct task *handed_next; /* on the monitor's lists */
};

static DEFINE_COMPL_CHAIN(chain);
static pthread_mutex_t submit_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t next_ticket;

/* Touched only inside the ordered step: the chain orders these. */
static uint64_t last_ordered;
static bool any_ordered;

static uint64_t iterations;
static double seconds;
static bool inject_hang, monitor_mode;
static _Atomic bool stop, monitor_stop;
static _Atomic uint64_t claimed, progress;
static _Atomic uint64_t n_ordered, n_early, n_cancel, n_timed, n_timeouts, n_flush, n_defer;
static _Atomic uint64_t n_freed;

/* Tasks handed to the monitor, not yet looked at (--monitor). */
static pthread_mutex_t handed_lock = PTHREAD_MUTEX_INITIALIZER;
static struct task *handed;

/*
 * The deferred tasks whose function has not run yet, in ticket order
 * (--monitor): appended at submission, under submit_lock; each deferred
 * function takes the first, which must be its own.
 */
struct deferral {
	struct deferral *next;
	const struct compl_chain_entry *entry;
	uint64_t ticket;
};

static pthread_mutex_t deferral_lock = PTHREAD_MUTEX_INITIALIZER;
static struct deferral *deferrals, **deferrals_tail = &deferrals;

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void work(uint64_t *seed)
{
	uint64_t r = rnd(seed);
	volatile unsigned int sink = 0;
	unsigned int i;

	switch (r % 16) {
	case 0: {
		struct timespec ts = { 0, (long)(r >> 8) % 100000 };

		nanosleep(&ts, NULL);
		break;
	}
	case 1:
		sched_yield();
		break;
	default:
		for (i = 0; i < (r >> 8) % 2000; i++)
			sink += i;
		(void)sink;
	}
}

static void ordered_step(uint64_t ticket)
{
	CHECK(!any_ordered || ticket > last_ordered);
	last_ordered = ticket;
	any_ordered = true;
	atomic_fetch_add(&n_ordered, 1);
}

/* The ordered step as a continuation; runs in whichever thread has the turn. */
static void deferred_step(struct compl_chain_entry *e)
{
	struct task *t = (struct task *)e;

	CHECK(!compl_chain_pending(e));
	ordered_step(t->ticket);
	atomic_fetch_add(&n_defer, 1);
	free(t);
	atomic_fetch_add(&progress, 1);
}

/* Submission of a task that will be deferred (--monitor); submit_lock held. */
static void note_deferral(struct task *t)
{
	struct deferral *d = malloc(sizeof(*d));

	CHECK(d != NULL);
	d->next = NULL;
	d->entry = &t->entry;
	d->ticket = t->ticket;
	pthread_mutex_lock(&deferral_lock);
	*deferrals_tail = d;
	deferrals_tail = &d->next;
	pthread_mutex_unlock(&deferral_lock);
}

/*
 * deferred_step() for --monitor: @e may be freed already, never touched.
 * It works a while in the turn, as the ordered steps of blocking owners do
 * outside it, so that a run of deferred entries takes long enough for the
 * monitor to look at the later ones while it goes on.
 */
static void deferred_step_untouched(struct compl_chain_entry *e)
{
	struct deferral *d;
	uint64_t seed;

	pthread_mutex_lock(&deferral_lock);
	d = deferrals;
	CHECK(d != NULL);
	deferrals = d->next;
	if (!deferrals)
		deferrals_tail = &deferrals;
	pthread_mutex_unlock(&deferral_lock);
	CHECK(d->entry == e);
	ordered_step(d->ticket);
	seed = d->ticket * 0x9e3779b97f4a7c15u + 1;
	work(&seed);
	atomic_fetch_add(&n_defer, 1);
	free(d);
	atomic_fetch_add(&progress, 1);
}

/* The owner is done with @t (--monitor): the monitor frees it. */
static void hand_over(struct task *t)
{
	pthread_mutex_lock(&handed_lock);
	t->handed_next = handed;
	handed = t;
	pthread_mutex_unlock(&handed_lock);
}

/* Free the tasks of *@list that are no longer pending; return how many. */
static unsigned long free_done(struct task **list)
{
	unsigned long n = 0;
	struct task *t;

	while ((t = *list)) {
		if (compl_chain_pending(&t->entry)) {
			list = &t->handed_next;
			continue;
		}
		*list = t->handed_next;
		free(t);
		n++;
	}
	return n;
}

/*
 * Frees each handed-over task as soon as compl_chain_pending() is false for
 * it; returns once told to stop and every task is freed.
 */
static void *monitor(void *arg)
{
	struct task *held = NULL, *fresh, *t;
	unsigned long n;
	bool last;

	(void)arg;
	do {
		last = atomic_load(&monitor_stop);
		pthread_mutex_lock(&handed_lock);
		fresh = handed;
		handed = NULL;
		pthread_mutex_unlock(&handed_lock);
		n = free_done(&fresh);
		while ((t = fresh)) {
			fresh = t->handed_next;
			t->handed_next = held;
			held = t;
		}
		n += free_done(&held);
		atomic_fetch_add(&n_freed, n);
		if (!n)
			sched_yield();
	} while (!last || held);
	return NULL;
}

static void *worker(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 0x9e3779b97f4a7c15u + 1;
	struct task slot; /* reused at once, every other round */
	uint64_t round = 0;

	for (;; round++) {
		struct task *t;
		uint64_t kind;

		if (atomic_load(&stop))
			break;
		if (iterations && atomic_fetch_add(&claimed, 1) >= iterations)
			break;
		kind = rnd(&seed) % 100;
		/*
		 * A deferred task outlives this round: never the reused slot;
		 * nor a task the monitor frees.
		 */
		t = (round & 1) || kind >= 90 || monitor_mode ? malloc(sizeof(*t)) : &slot;
		CHECK(t != NULL);
		pthread_mutex_lock(&submit_lock);
		t->ticket = next_ticket++;
		if (monitor_mode && kind >= 90)
			note_deferral(t);
		compl_chain_add(&chain, &t->entry);
		pthread_mutex_unlock(&submit_lock);

		if (inject_hang && t->ticket == 100) {
			/* A task that never completes: the watchdog must notice. */
			for (;;)
				pause();
		}
		work(&seed);
		if (kind >= 90) {
			if (!monitor_mode) {
				compl_chain_defer(&t->entry, deferred_step);
				continue; /* the library owns it now; never blocks */
			}
			compl_chain_defer(&t->entry, deferred_step_untouched);
			hand_over(t);
			continue;
		}
		if (kind < 50) {
			compl_chain_wait(&t->entry);
			ordered_step(t->ticket);
			compl_chain_complete(&t->entry);
		} else if (kind < 62) {
			/* Release early: complete waits for the turn itself. */
			compl_chain_complete(&t->entry);
			atomic_fetch_add(&n_early, 1);
		} else if (kind < 72) {
			compl_chain_cancel(&t->entry);
			atomic_fetch_add(&n_cancel, 1);
		} else if (kind < 84) {
			while (compl_chain_wait_timeout(&t->entry, rnd(&seed) % 50000) == ETIMEDOUT) {
				CHECK(compl_chain_pending(&t->entry));
				atomic_fetch_add(&n_timeouts, 1);
			}
			ordered_step(t->ticket);
			compl_chain_complete(&t->entry);
			atomic_fetch_add(&n_timed, 1);
		} else {
			compl_chain_wait(&t->entry);
			ordered_step(t->ticket);
			compl_chain_complete(&t->entry);
			/* Everything added before this point leaves before we go on. */
			compl_chain_flush(&chain);
			atomic_fetch_add(&n_flush, 1);
		}
		CHECK(!compl_chain_pending(&t->entry));
		if (monitor_mode)
			hand_over(t);
		else if (t != &slot)
			free(t);
		atomic_fetch_add(&progress, 1);
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double stall_timeout = 5;

static void *watchdog(void *arg)
{
	uint64_t last = atomic_load(&progress), cur;
	double since = now_s(), start = since;
	struct timespec tick = { 0, 100 * 1000000L };

	(void)arg;
	while (!atomic_load(&stop)) {
		nanosleep(&tick, NULL);
		cur = atomic_load(&progress);
		if (cur != last) {
			last = cur;
			since = now_s();
		} else if (now_s() - since >= stall_timeout) {
			fprintf(stderr, "stress: no entry completed for %.0f s (after %llu tasks); "
				"chain state:\n", stall_timeout, (unsigned long long)cur);
			compl_chain_dump(&chain, stderr);
			fflush(stderr);
			_exit(3);
		}
		if (seconds > 0 && now_s() - start >= seconds)
			atomic_store(&stop, true);
	}
	return NULL;
}

static void usage(FILE *f)
{
	fputs("usage: stress [--threads N] [--iterations K | --seconds S]\n"
	      "              [--stall-timeout S] [--seed S] [--monitor] [--inject-hang]\n", f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "iterations", required_argument, NULL, 'i' },
		{ "seconds", required_argument, NULL, 's' },
		{ "stall-timeout", required_argument, NULL, 'w' },
		{ "seed", required_argument, NULL, 'r' },
		{ "monitor", no_argument, NULL, 'm' },
		{ "inject-hang", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long nthreads = 16, seedbase = 1, i;
	pthread_t *tids, wd, mon;
	double t0;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		errno = 0;
		switch (c) {
		case 't': nthreads = strtoul(optarg, &end, 10); break;
		case 'i': iterations = strtoull(optarg, &end, 10); break;
		case 's': seconds = strtod(optarg, &end); break;
		case 'w': stall_timeout = strtod(optarg, &end); break;
		case 'r': seedbase = strtoul(optarg, &end, 10); break;
		case 'm': monitor_mode = true; continue;
		case 'H': inject_hang = true; continue;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (errno || *end || end == optarg) {
			fprintf(stderr, "stress: invalid value '%s' for --%s\n", optarg,
				argv[optind - 1] + 2);
			return 2;
		}
	}
	if (!nthreads || nthreads > 1024 || (!iterations && seconds <= 0) || stall_timeout <= 0) {
		fputs("stress: need 1..1024 threads, and --iterations or --seconds\n", stderr);
		return 2;
	}

#ifdef CCHAIN_VALGRIND
	/* The test's own C11 atomics, which DRD cannot see as such. */
	DRD_IGNORE_VAR(stop);
	DRD_IGNORE_VAR(claimed);
	DRD_IGNORE_VAR(progress);
	DRD_IGNORE_VAR(n_ordered);
	DRD_IGNORE_VAR(n_early);
	DRD_IGNORE_VAR(n_cancel);
	DRD_IGNORE_VAR(n_timed);
	DRD_IGNORE_VAR(n_timeouts);
	DRD_IGNORE_VAR(n_flush);
	DRD_IGNORE_VAR(n_defer);
	DRD_IGNORE_VAR(n_freed);
	DRD_IGNORE_VAR(monitor_stop);
#endif
	tids = calloc(nthreads, sizeof(*tids));
	CHECK(tids != NULL);
	t0 = now_s();
	CHECK(pthread_create(&wd, NULL, watchdog, NULL) == 0);
	if (monitor_mode)
		CHECK(pthread_create(&mon, NULL, monitor, NULL) == 0);
	for (i = 0; i < nthreads; i++)
		CHECK(pthread_create(&tids[i], NULL, worker, (void *)(uintptr_t)(seedbase + i)) == 0);
	for (i = 0; i < nthreads; i++)
		CHECK(pthread_join(tids[i], NULL) == 0);
	atomic_store(&stop, true);
	CHECK(pthread_join(wd, NULL) == 0);
	if (monitor_mode) {
		atomic_store(&monitor_stop, true);
		CHECK(pthread_join(mon, NULL) == 0);
		CHECK(atomic_load(&n_freed) == next_ticket);
		CHECK(deferrals == NULL);
	}

	CHECK(compl_chain_empty(&chain));
	CHECK(atomic_load(&progress) == next_ticket);
	CHECK(atomic_load(&n_ordered) == next_ticket - n_early - n_cancel);
	printf("stress (%s backend): %llu tasks on %lu threads in %.1f s: %llu ordered "
	       "steps in FIFO order (%llu of them deferred), %llu early releases, %llu "
	       "cancels, %llu timed waits (%llu timeouts), %llu flushes%s\n",
	       cchain_wait_backend(), (unsigned long long)next_ticket, nthreads,
	       now_s() - t0, (unsigned long long)n_ordered, (unsigned long long)n_defer,
	       (unsigned long long)n_early, (unsigned long long)n_cancel,
	       (unsigned long long)n_timed, (unsigned long long)n_timeouts,
	       (unsigned long long)n_flush,
	       monitor_mode ? "; each task freed by the monitor once no longer pending" : "");
	compl_chain_destroy(&chain);
	free(tids);
	return 0;
}
