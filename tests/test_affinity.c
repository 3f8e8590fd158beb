// SPDX-License-Identifier: MIT
/*
 * Spinning under an affinity mask.  The test confines itself to one CPU
 * (as taskset, a cpuset or a container's CPU set would) and two threads
 * relay the turn of a chain: each completes its entry, which hands the turn
 * to the other, and then waits for its next one, which comes after the
 * other's.  The other thread is runnable on the same CPU, so a waiter that
 * spins keeps the CPU from the thread it waits for: no waiter may spin.
 *
 * Observables, at SCHED_OTHER: a spinning waiter burns CPU time for as long
 * as it spins, and a private chain's statistics count the waits that got the
 * turn while spinning (waits - waits_slept; on one CPU the turn can come
 * while spinning only once the scheduler preempts the spinner).  The CPU
 * time a waiter uses in its waits (median and mean) is compared with that
 * of the same relay on a private chain with no spin budget (waits that
 * sleep at once, measured in the same run), so that valgrind and the
 * sanitizers, which slow both, do not change the verdict.
 *
 * The mask can change while a thread runs (taskset -p, a cpuset written):
 * the repinned cases relay with every CPU first, then each thread confines
 * itself, sleeps past the 100 ms for which a thread trusts the count it
 * read, and relays on: its waits must not spin either.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "util.h"

#define HANDOFFS 400
/* A budget no handoff on one CPU could use up: spinning shows at once. */
#define BIG_BUDGET_NS (10 * MS)
/* Room for noise over twice the reference; a tenth of the shared chain's spin (20 us). */
#define SLACK_NS 2000u
#define RELAY_LIMIT_NS (60000 * MS)
/* Repinned cases: handoffs with every CPU, then the pause after confining. */
#define FREE_HANDOFFS 100
#define REPIN_PAUSE_NS (150 * MS)

enum kind { PRIVATE, SHARED };

struct relay {
	enum kind kind;
	struct compl_chain chain;
	struct compl_chain_entry e[2][2];
	struct shared_part {
		struct compl_chain_shared chain;
		struct compl_chain_shared_entry e[2][2];
	} *sh;
	/* -1, or the handoff before which each thread confines itself to @cpu. */
	int repin_at, cpu;
	/* Per thread: the CPU time of each wait that found no turn. */
	uint64_t cpu_ns[2][HANDOFFS];
	unsigned int waits[2];
};

/* The CPU time of a relay's waits on one CPU, in ns. */
struct cost {
	unsigned int waits;
	uint64_t mean, median, p90;
};

struct runner {
	struct relay *r;
	int me;
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	CHECK(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Has thread @me's @k-th turn come?  Lock-free, no sleep. */
static bool turn_there(struct relay *r, int me, int k)
{
	switch (r->kind) {
	case PRIVATE:
		return compl_chain_try_wait(&r->e[me][k & 1]);
	default:
		return compl_chain_shared_try_wait(&r->sh->e[me][k & 1]) == 0;
	}
}

static void wait_turn(struct relay *r, int me, int k)
{
	switch (r->kind) {
	case PRIVATE:
		compl_chain_wait(&r->e[me][k & 1]);
		break;
	default:
		CHECK(compl_chain_shared_wait(&r->sh->e[me][k & 1]) == 0);
	}
}

/*
 * Hand the turn on after the @k-th: the next entry of this thread goes in
 * behind the other thread's pending one first (the chain order alternates
 * between the threads), then this one completes.
 */
static void pass_turn(struct relay *r, int me, int k)
{
	switch (r->kind) {
	case PRIVATE:
		if (k + 1 < HANDOFFS)
			compl_chain_add(&r->chain, &r->e[me][(k + 1) & 1]);
		compl_chain_complete(&r->e[me][k & 1]);
		break;
	default:
		if (k + 1 < HANDOFFS)
			CHECK(compl_chain_shared_add(&r->sh->chain, &r->sh->e[me][(k + 1) & 1]));
		CHECK(compl_chain_shared_complete(&r->sh->e[me][k & 1]) == 0);
	}
}

static void *relay_thread(void *arg)
{
	struct runner *run = arg;
	struct relay *r = run->r;
	int k, me = run->me;
	uint64_t t;

	for (k = 0; k < HANDOFFS; k++) {
		if (k == r->repin_at) {
			cpu_set_t one;

			CPU_ZERO(&one);
			CPU_SET(r->cpu, &one);
			CHECK(sched_setaffinity(0, sizeof(one), &one) == 0);
			sleep_ns(REPIN_PAUSE_NS);
		}
		if (turn_there(r, me, k)) {
			pass_turn(r, me, k);
			continue;
		}
		t = thread_cpu_ns();
		wait_turn(r, me, k);
		if (k > r->repin_at)
			r->cpu_ns[me][r->waits[me]++] = thread_cpu_ns() - t;
		pass_turn(r, me, k);
	}
	return NULL;
}

static void relay_body(void *arg)
{
	struct relay *r = arg;
	struct runner run[2] = { { r, 0 }, { r, 1 } };
	pthread_t tid[2];
	int i;

	/* Thread 0's first entry holds the turn, thread 1's is next. */
	switch (r->kind) {
	case PRIVATE:
		compl_chain_add(&r->chain, &r->e[0][0]);
		compl_chain_add(&r->chain, &r->e[1][0]);
		break;
	default:
		CHECK(compl_chain_shared_add(&r->sh->chain, &r->sh->e[0][0]) == 1);
		CHECK(compl_chain_shared_add(&r->sh->chain, &r->sh->e[1][0]) == 2);
	}
	for (i = 0; i < 2; i++)
		tid[i] = start_thread(relay_thread, &run[i]);
	for (i = 0; i < 2; i++)
		join_thread(tid[i]);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Run the relay of @kind confined to one CPU: from the start (@repin false:
 * the calling thread confines itself and so the relay's threads, and its
 * mask is restored afterwards) or from handoff FREE_HANDOFFS on (@repin:
 * each relay thread confines itself then).
 * Return: the CPU time of the waits on one CPU that found no turn.
 */
static struct cost run_relay(struct relay *r, enum kind kind, bool repin)
{
	static uint64_t all_ns[2 * HANDOFFS];
	unsigned int i, n, confined = repin ? HANDOFFS - FREE_HANDOFFS : HANDOFFS;
	struct cost c = { 0, 0, 0, 0 };
	cpu_set_t all, one;

	memset(r->cpu_ns, 0, sizeof(r->cpu_ns));
	memset(r->waits, 0, sizeof(r->waits));
	r->kind = kind;
	r->repin_at = repin ? FREE_HANDOFFS : -1;
	assert_int_equal(sched_getaffinity(0, sizeof(all), &all), 0);
	r->cpu = sched_getcpu();
	assert_true(r->cpu >= 0 && CPU_ISSET(r->cpu, &all));
	CPU_ZERO(&one);
	CPU_SET(r->cpu, &one);
	if (!repin)
		assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	if (!run_bounded(relay_body, r, RELAY_LIMIT_NS)) {
		fprintf(stderr, "relay of kind %d did not finish\n", (int)kind);
		abort();
	}
	if (!repin)
		assert_int_equal(sched_setaffinity(0, sizeof(all), &all), 0);
	n = 0;
	for (i = 0; i < r->waits[0]; i++)
		all_ns[n++] = r->cpu_ns[0][i];
	for (i = 0; i < r->waits[1]; i++)
		all_ns[n++] = r->cpu_ns[1][i];
	/* On one CPU most turns are not there yet when their owner looks. */
	assert_true(n >= confined / 2);
	qsort(all_ns, n, sizeof(all_ns[0]), cmp_u64);
	c.waits = n;
	for (i = 0; i < n; i++)
		c.mean += all_ns[i];
	c.mean /= n;
	c.median = all_ns[n / 2];
	c.p90 = all_ns[n * 9 / 10];
	return c;
}

/*
 * The private chain's relay with the spin budget @budget, statistics on if
 * @st (filled in).  Return: as run_relay().
 */
static struct cost private_relay(struct relay *r, uint64_t budget, bool repin,
				 struct compl_chain_stats *st)
{
	uint64_t old = cchain_set_spin_ns(budget);
	struct cost ns;

	compl_chain_init(&r->chain);
	if (st)
		assert_int_equal(compl_chain_stats_enable(&r->chain), 0);
	ns = run_relay(r, PRIVATE, repin);
	cchain_set_spin_ns(old);
	assert_true(compl_chain_empty(&r->chain));
	if (st) {
		assert_int_equal(compl_chain_get_stats(&r->chain, st), 0);
		compl_chain_stats_disable(&r->chain);
	}
	compl_chain_destroy(&r->chain);
	return ns;
}

/*
 * The limit on the CPU time of a wait, given that of a wait that sleeps at
 * once, @ref.  A factor, since valgrind and the sanitizers slow the
 * library's wait paths more than the reference's (up to 1.5 times as much
 * measured under memcheck), where a spin adds at least 20 us (shared
 * chain; the whole budget or a time slice on a private chain) to waits of
 * 4 to 9 us natively.
 */
static uint64_t limit(uint64_t ref)
{
	return 2 * ref + SLACK_NS;
}

static void print_cost(const char *what, const struct cost *c, const struct cost *ref)
{
	printf("%s: CPU time of the %u waits on one CPU: mean %llu ns, median %llu ns, "
	       "90th percentile %llu ns (waits that sleep at once: mean %llu, median %llu, "
	       "90th percentile %llu ns)\n", what, c->waits, (unsigned long long)c->mean,
	       (unsigned long long)c->median, (unsigned long long)c->p90,
	       (unsigned long long)ref->mean, (unsigned long long)ref->median,
	       (unsigned long long)ref->p90);
}

/* Most waits (median) and the waits taken together (mean) did not spin. */
static void check_cost(const struct cost *c, const struct cost *ref)
{
	assert_true(c->median <= limit(ref->median));
	assert_true(c->mean <= limit(ref->mean));
}

/*
 * A private chain: with a 10 ms budget a wait costs what it costs with none
 * (the reference, statistics on in both), and sleeps.
 */
static void check_private(bool repin)
{
	static struct relay r;
	struct compl_chain_stats ref_st, st;
	unsigned int confined = repin ? HANDOFFS - FREE_HANDOFFS : HANDOFFS;
	struct cost ns, ref;

	ref = private_relay(&r, 0, false, &ref_st);
	ns = private_relay(&r, BIG_BUDGET_NS, repin, &st);
	printf("private chain, %s, %llu ns spin budget: statistics: %llu waits, %llu slept, "
	       "mean %llu ns\n",
	       repin ? "threads confined to one CPU as they run" : "process on one CPU",
	       (unsigned long long)BIG_BUDGET_NS, (unsigned long long)st.waits,
	       (unsigned long long)st.waits_slept,
	       (unsigned long long)(st.waits ? st.wait_ns_total / st.waits : 0));
	print_cost(repin ? "private chain, threads confined to one CPU as they run" :
			   "private chain, process on one CPU", &ns, &ref);
	check_cost(&ns, &ref);
	if (repin)
		return; /* the statistics count the waits with every CPU too */
	assert_true(st.waits >= confined / 2);
	/* A wait that did not sleep got the turn while spinning (or in a preemption window). */
	assert_true(st.waits - st.waits_slept <= st.waits / 10);
}

/*
 * A shared chain, whose spin (20 us) no setting turns off: a wait costs what
 * a private chain's wait with no spin budget costs.
 */
static void check_shared(bool repin)
{
	static struct relay r;
	struct cost ns, ref;

	r.sh = mmap(NULL, sizeof(*r.sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		    -1, 0);
	assert_true(r.sh != MAP_FAILED);
	assert_int_equal(compl_chain_shared_init(&r.sh->chain), 0);
	ref = private_relay(&r, 0, false, NULL);
	ns = run_relay(&r, SHARED, repin);
	print_cost(repin ? "shared chain, threads confined to one CPU as they run" :
			   "shared chain, process on one CPU", &ns, &ref);
	check_cost(&ns, &ref);
	assert_true(compl_chain_shared_empty(&r.sh->chain));
	assert_int_equal(compl_chain_shared_destroy(&r.sh->chain), 0);
	munmap(r.sh, sizeof(*r.sh));
}

/* The repinned cases need two CPUs to start with to mean anything. */
static void note_cpus(void)
{
	cpu_set_t all;

	assert_int_equal(sched_getaffinity(0, sizeof(all), &all), 0);
	if (CPU_COUNT(&all) < 2)
		printf("one CPU allowed: the threads start confined, the mask does not change\n");
}

static void test_private_one_cpu(void **state)
{
	(void)state;
	check_private(false);
}

static void test_shared_one_cpu(void **state)
{
	(void)state;
	check_shared(false);
}

static void test_private_repinned(void **state)
{
	(void)state;
	note_cpus();
	check_private(true);
}

static void test_shared_repinned(void **state)
{
	(void)state;
	note_cpus();
	check_shared(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_private_one_cpu),
		cmocka_unit_test(test_shared_one_cpu),
		cmocka_unit_test(test_private_repinned),
		cmocka_unit_test(test_shared_repinned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
