// SPDX-License-Identifier: MIT
/*
 * Real-time handoffs.  The owner of the next entry runs SCHED_FIFO at a
 * higher priority than the thread that hands it the turn (SCHED_FIFO too),
 * both on one CPU, and sleeps for its turn (no spinning).  When it is woken
 * it preempts the turn-giver at once, in the middle of the handoff; every
 * handoff must still complete: the woken owner must never need the
 * preempted giver to run again before it can complete its own entry.
 *
 * A watchdog thread at normal priority, on another CPU, fails the run if a
 * round of handoffs does not finish in time, and demotes the real-time
 * threads to SCHED_OTHER so that the process can exit.
 *
 * Exit status: 0 pass, 1 fail, 77 skip (SCHED_FIFO or CPU affinity refused,
 * or fewer than two CPUs to run on).
 */
#include <semaphore.h>
#include <stdatomic.h>

#include "util.h"

#define ROUNDS 5
#define HANDOFFS 20
#define ROUND_LIMIT_NS (2000 * MS)

static struct compl_chain chain;
static struct compl_chain_entry giver_entry, owner_entry[ROUNDS * HANDOFFS];
static sem_t start, go, done;
static _Atomic bool stop, failed, finished;
static _Atomic unsigned int handoffs;
static _Atomic uint64_t round_deadline; /* 0 between rounds */
static pthread_t owner_tid, giver_tid;
static int rt_cpu, wd_cpu;

static void sem_wait_intr(sem_t *s)
{
	while (sem_wait(s))
		CHECK(errno == EINTR);
}

/* High priority: sleeps for each turn, then completes at once. */
static void *owner_fn(void *arg)
{
	unsigned int i;

	(void)arg;
	for (i = 0;; i++) {
		sem_wait_intr(&go);
		if (atomic_load(&stop))
			break;
		compl_chain_wait(&owner_entry[i]);
		compl_chain_complete(&owner_entry[i]);
		atomic_fetch_add(&handoffs, 1);
		CHECK(sem_post(&done) == 0);
	}
	return NULL;
}

/*
 * Low priority: holds the turn, queues the owner's entry behind its own and
 * lets the owner go to sleep on it (the owner runs first whenever it can),
 * then completes, which wakes the owner.
 */
static void *giver_fn(void *arg)
{
	unsigned int r, h, i = 0;

	(void)arg;
	sem_wait_intr(&start);
	for (r = 0; r < ROUNDS && !atomic_load(&failed); r++) {
		atomic_store(&round_deadline, now_ns() + ROUND_LIMIT_NS);
		for (h = 0; h < HANDOFFS && !atomic_load(&failed); h++, i++) {
			compl_chain_add(&chain, &giver_entry);
			compl_chain_add(&chain, &owner_entry[i]);
			CHECK(sem_post(&go) == 0);
			compl_chain_complete(&giver_entry);
			sem_wait_intr(&done);
		}
		atomic_store(&round_deadline, 0);
	}
	atomic_store(&stop, true);
	CHECK(sem_post(&go) == 0);
	return NULL;
}

/* Best effort: the thread may have got going again and exited meanwhile. */
static void demote(pthread_t tid)
{
	struct sched_param p = { .sched_priority = 0 };

	pthread_setschedparam(tid, SCHED_OTHER, &p);
}

static void *watchdog_fn(void *arg)
{
	uint64_t deadline;

	(void)arg;
	while (!atomic_load(&finished)) {
		sleep_ns(10 * MS);
		deadline = atomic_load(&round_deadline);
		if (!deadline || now_ns() < deadline)
			continue;
		fprintf(stderr, "test_rt: FAIL: a round of %d handoffs did not finish "
			"within %llu ms (%u handoffs done): the woken owner keeps "
			"the CPU from the thread that handed it the turn\n",
			HANDOFFS, (unsigned long long)(ROUND_LIMIT_NS / MS),
			atomic_load(&handoffs));
		compl_chain_dump(&chain, stderr);
		atomic_store(&failed, true);
		atomic_store(&round_deadline, 0);
		demote(owner_tid);
		demote(giver_tid);
	}
	return NULL;
}

static int skip_run(const char *why, int err)
{
	if (err)
		printf("test_rt: skipped: %s: %s\n", why, strerror(err));
	else
		printf("test_rt: skipped: %s\n", why);
	return 77;
}

/* Create a thread on @cpu, SCHED_FIFO at @prio (0: SCHED_OTHER). */
static int start_on(pthread_t *tid, void *(*fn)(void *), int cpu, int prio)
{
	struct sched_param p = { .sched_priority = prio };
	pthread_attr_t attr;
	cpu_set_t set;
	int err;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	CHECK(pthread_attr_init(&attr) == 0);
	err = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	if (!err && prio) {
		err = pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
		if (!err)
			err = pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
		if (!err)
			err = pthread_attr_setschedparam(&attr, &p);
	}
	if (!err)
		err = pthread_create(tid, &attr, fn, NULL);
	pthread_attr_destroy(&attr);
	return err;
}

int main(void)
{
	int lo = sched_get_priority_min(SCHED_FIFO), cpu, n = 0, err;
	pthread_t wd;
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return skip_run("sched_getaffinity", errno);
	rt_cpu = wd_cpu = -1;
	for (cpu = 0; cpu < CPU_SETSIZE && n < 2; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		if (n++ == 0)
			rt_cpu = cpu;
		else
			wd_cpu = cpu;
	}
	if (n < 2)
		return skip_run("needs two CPUs (one for the watchdog)", 0);
	if (lo < 0)
		return skip_run("sched_get_priority_min(SCHED_FIFO)", errno);

	cchain_set_spin_ns(0); /* the owner sleeps for its turn */
	compl_chain_init(&chain);
	CHECK(sem_init(&start, 0, 0) == 0);
	CHECK(sem_init(&go, 0, 0) == 0);
	CHECK(sem_init(&done, 0, 0) == 0);

	err = start_on(&wd, watchdog_fn, wd_cpu, 0);
	if (err)
		return skip_run("watchdog thread on its own CPU", err);
	/* The owner first: it waits on its semaphore before the giver starts. */
	err = start_on(&owner_tid, owner_fn, rt_cpu, lo + 2);
	if (err) {
		atomic_store(&finished, true);
		join_thread(wd);
		return skip_run("SCHED_FIFO thread pinned to one CPU", err);
	}
	err = start_on(&giver_tid, giver_fn, rt_cpu, lo + 1);
	if (err) {
		atomic_store(&stop, true);
		CHECK(sem_post(&go) == 0);
		join_thread(owner_tid);
		atomic_store(&finished, true);
		join_thread(wd);
		return skip_run("second SCHED_FIFO thread", err);
	}
	CHECK(sem_post(&start) == 0); /* both thread ids are known now */
	join_thread(giver_tid);
	join_thread(owner_tid);
	atomic_store(&finished, true);
	join_thread(wd);

	if (atomic_load(&failed))
		return 1;
	CHECK(atomic_load(&handoffs) == ROUNDS * HANDOFFS);
	CHECK(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
	sem_destroy(&start);
	sem_destroy(&go);
	sem_destroy(&done);
	printf("test_rt (%s backend): %d handoffs to a higher-priority SCHED_FIFO "
	       "owner on CPU %d\n", cchain_wait_backend(), ROUNDS * HANDOFFS, rt_cpu);
	return 0;
}
