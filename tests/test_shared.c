// SPDX-License-Identifier: MIT
/*
 * Shared chains (src/shared_chain.c) across processes: every operation,
 * with peers that inherit the region across fork() and with peers that map
 * it themselves, at another address, after exec() (the memfd passed over a
 * UNIX socket); the death of a participant at the instants that matter;
 * the reuse of a dead participant's process id (planted, and for real in a
 * pid namespace of the test's own); and what fork() does to a private
 * chain with a pending entry.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/mount.h>
#include <sys/resource.h>

#include <cchain/cchain.h>

#include "util.h"
#include "misuse-recorder.h"
#include "shared-region.h"

#define NPEERS 4
#define ORDER_ITERS 200

struct region {
	struct compl_chain_shared chain;
	struct compl_chain_shared_entry e[16];
	_Atomic uint32_t step;
	_Atomic uint32_t nlog;
	_Atomic int errors;
	_Atomic int peer_misuse;
	_Atomic uintptr_t peer_base;
	uint64_t log[NPEERS * ORDER_ITERS + 16];
	uint64_t data; /* plain: written in a turn, read in the next */
	pid_t dead_pid; /* test_pid_reuse: the killed process, its start time */
	uint64_t dead_start;
	uint64_t reuse_start;
	char reason[256]; /* why a test skipped */
	struct compl_chain_shared other; /* a second chain in the same mapping */
};

static const char *self_exe;
static struct region *R;
static int region_fd;
static enum sr_mode mode;

enum role {
	ROLE_ORDER,
	ROLE_SEMANTICS,
	ROLE_CANCEL_MIDDLE,
	ROLE_FLUSHED,
	ROLE_MISUSE,
	ROLE_HOLD_SEEN,
	ROLE_WAIT_BEHIND,
	ROLE_HOLD_UNSEEN,
	ROLE_CHURN,
	ROLE_LEADER_EXITS,
	ROLE_HOLD_A_WHILE,
	ROLE_TAKE_ORPHAN,
};

#define PEER_CHECK(cond)                                                              \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "%s:%d: [peer %d] check failed: %s\n", __FILE__, \
				__LINE__, (int)getpid(), #cond);                      \
			atomic_fetch_add(&r->errors, 1);                              \
		}                                                                     \
	} while (0)

static void peer_misuse(const char *func, const char *msg)
{
	(void)func;
	(void)msg;
	atomic_fetch_add(&R->peer_misuse, 1);
}

/* ROLE_LEADER_EXITS: the thread that outlives the main thread. */
static void *late_completer(void *arg)
{
	struct region *r = arg;
	struct compl_chain_shared_entry *e = &r->e[1];

	sr_sleep_us(200000); /* ten detection periods */
	PEER_CHECK(compl_chain_shared_wait(e) == 0);
	r->data = 9;
	PEER_CHECK(compl_chain_shared_complete(e) == 0);
	/* _exit: the main thread's stack is gone, a leak checker would see its memory lost. */
	_exit(atomic_load(&r->errors) ? 1 : 0);
}

/* Each peer's part of a scenario; @arg is the peer's index. */
static void run_role(void *region, int role, long arg)
{
	struct region *r = region;
	struct compl_chain_shared_entry *e = &r->e[arg];
	uint64_t seed = (uint64_t)getpid() * 2654435761u, seq, t0;
	int i, rc;

	R = r;
	atomic_store(&r->peer_base, (uintptr_t)region);
	switch (role) {
	case ROLE_ORDER:
		/* Add, work a random while, take the turn: the log follows seq. */
		for (i = 0; i < ORDER_ITERS; i++) {
			seq = compl_chain_shared_add(&r->chain, e);
			PEER_CHECK(seq > 0);
			sr_sleep_us(rnd_next(&seed) % 200);
			PEER_CHECK(compl_chain_shared_wait(e) == 0);
			/* The previous holder's plain write is visible (acquire). */
			if (r->nlog)
				PEER_CHECK(r->data == r->log[r->nlog - 1]);
			r->data = seq;
			r->log[atomic_fetch_add(&r->nlog, 1)] = seq;
			PEER_CHECK(compl_chain_shared_complete(e) == 0);
			PEER_CHECK(!compl_chain_shared_pending(e));
		}
		break;
	case ROLE_SEMANTICS:
		sr_await(&r->step, 1); /* the parent holds the turn with e[0] */
		PEER_CHECK(compl_chain_shared_add(&r->chain, e) == 2);
		PEER_CHECK(compl_chain_shared_pending(e));
		PEER_CHECK(!compl_chain_shared_empty(&r->chain));
		PEER_CHECK(compl_chain_shared_try_wait(e) == EBUSY);
		PEER_CHECK(compl_chain_shared_wait_timeout(e, 0) == ETIMEDOUT);
		t0 = sr_now_ns();
		PEER_CHECK(compl_chain_shared_wait_timeout(e, 30 * MS) == ETIMEDOUT);
		PEER_CHECK(sr_now_ns() - t0 >= 30 * MS);
		atomic_store(&r->step, 2);
		PEER_CHECK(compl_chain_shared_wait(e) == 0);
		PEER_CHECK(r->data == 42);
		PEER_CHECK(compl_chain_shared_try_wait(e) == 0);
		PEER_CHECK(compl_chain_shared_wait_timeout(e, 0) == 0);
		PEER_CHECK(compl_chain_shared_complete(e) == 0);
		PEER_CHECK(!compl_chain_shared_pending(e));
		PEER_CHECK(compl_chain_shared_empty(&r->chain));
		break;
	case ROLE_CANCEL_MIDDLE:
		sr_await(&r->step, 1);
		compl_chain_shared_add(&r->chain, e);
		atomic_store(&r->step, 2);
		sr_await(&r->step, 3); /* the parent added behind us */
		PEER_CHECK(compl_chain_shared_cancel(e) == 0);
		PEER_CHECK(!compl_chain_shared_pending(e));
		atomic_store(&r->step, 4);
		break;
	case ROLE_FLUSHED:
		compl_chain_shared_add(&r->chain, e);
		atomic_store(&r->step, 1);
		sr_sleep_us(50000);
		r->data = 7;
		PEER_CHECK(compl_chain_shared_complete(e) == 0);
		break;
	case ROLE_MISUSE:
		/* e[0] is the parent's pending entry, e[1] was never added. */
		cchain_set_misuse_handler(peer_misuse);
		PEER_CHECK(compl_chain_shared_complete(&r->e[0]) == EINVAL);
		PEER_CHECK(compl_chain_shared_cancel(&r->e[0]) == EINVAL);
		PEER_CHECK(compl_chain_shared_wait(&r->e[0]) == EINVAL);
		PEER_CHECK(compl_chain_shared_try_wait(&r->e[0]) == EINVAL);
		PEER_CHECK(compl_chain_shared_wait(&r->e[1]) == EINVAL);
		PEER_CHECK(compl_chain_shared_add(&r->chain, &r->e[0]) == 0);
		PEER_CHECK(compl_chain_shared_pending(&r->e[0]));
		break;
	case ROLE_HOLD_SEEN:
		/* Takes the turn, is told so, and is killed while holding it. */
		compl_chain_shared_add(&r->chain, e);
		PEER_CHECK(compl_chain_shared_wait(e) == 0);
		atomic_store(&r->step, 1);
		for (;;)
			pause();
	case ROLE_WAIT_BEHIND:
		compl_chain_shared_add(&r->chain, e);
		atomic_store(&r->step, 2);
		rc = compl_chain_shared_wait(e);
		PEER_CHECK(!"the peer is killed before its turn");
		(void)rc;
		break;
	case ROLE_HOLD_UNSEEN:
		/* Gets the turn (the chain is empty) but never looks. */
		compl_chain_shared_add(&r->chain, e);
		atomic_store(&r->step, 1);
		for (;;)
			pause();
	case ROLE_LEADER_EXITS: {
		/* The main thread leaves; the process lives on in another. */
		pthread_t t;

		compl_chain_shared_add(&r->chain, e);
		PEER_CHECK(pthread_create(&t, NULL, late_completer, r) == 0);
		atomic_store(&r->step, 1);
		pthread_exit(NULL);
	}
	case ROLE_HOLD_A_WHILE:
		/* Takes the turn, holds it 200 ms (ten detection periods), passes it on. */
		compl_chain_shared_add(&r->chain, e);
		PEER_CHECK(compl_chain_shared_wait(e) == 0);
		atomic_store(&r->step, 1);
		sr_sleep_us(200000);
		PEER_CHECK(compl_chain_shared_complete(e) == 0);
		break;
	case ROLE_TAKE_ORPHAN:
		/*
		 * Takes the orphaned turn and hands it back, over and over: each
		 * add inherits the turn with its report, and each cancel, the
		 * report untaken, orphans them again.  Until killed.
		 */
		for (;;) {
			PEER_CHECK(compl_chain_shared_add(&r->chain, e) != 0);
			PEER_CHECK(compl_chain_shared_cancel(e) == 0);
			atomic_store(&r->step, 1);
		}
	case ROLE_CHURN:
		/* Every call, back to back, until killed. */
		for (i = 0;; i++) {
			compl_chain_shared_add(&r->chain, &r->e[4]);
			compl_chain_shared_add(&r->chain, &r->e[5]);
			if (i & 1)
				compl_chain_shared_cancel(&r->e[5]);
			compl_chain_shared_complete(&r->e[4]);
			if (!(i & 1))
				compl_chain_shared_complete(&r->e[5]);
			atomic_store(&r->step, 1);
		}
	}
	exit(atomic_load(&r->errors) ? 1 : 0);
}

static pid_t spawn(int role, long arg)
{
	return sr_spawn(mode, self_exe, R, region_fd, sizeof(*R), run_role, role, arg);
}

static int setup_region(void **state)
{
	mode = (enum sr_mode)(uintptr_t)*state;
	memset(R, 0, sizeof(*R));
	assert_int_equal(compl_chain_shared_init(&R->chain), 0);
	return setup_recorder(state);
}

static int teardown_region(void **state)
{
	assert_int_equal(atomic_load(&R->errors), 0);
	if (mode == SR_MAPPED && atomic_load(&R->peer_base))
		assert_true(atomic_load(&R->peer_base) != (uintptr_t)R);
	assert_int_equal(compl_chain_shared_destroy(&R->chain), 0);
	return restore_default(state);
}

/* Four processes, 200 turns each: turns follow the sequence numbers. */
static void test_order(void **state)
{
	pid_t pid[NPEERS];
	uint32_t i, n;

	(void)state;
	for (i = 0; i < NPEERS; i++)
		pid[i] = spawn(ROLE_ORDER, i);
	for (i = 0; i < NPEERS; i++)
		assert_int_equal(sr_reap(pid[i]), 0);
	n = atomic_load(&R->nlog);
	assert_int_equal(n, NPEERS * ORDER_ITERS);
	for (i = 0; i < n; i++)
		assert_int_equal(R->log[i], i + 1);
	assert_true(compl_chain_shared_empty(&R->chain));
}

/* try_wait, wait_timeout, pending, empty and the handover, between two processes. */
static void test_semantics(void **state)
{
	struct compl_chain_shared_entry *a = &R->e[0];
	pid_t pid;

	(void)state;
	assert_true(compl_chain_shared_empty(&R->chain));
	assert_false(compl_chain_shared_pending(a));
	assert_int_equal(compl_chain_shared_add(&R->chain, a), 1);
	assert_int_equal(compl_chain_shared_try_wait(a), 0);
	pid = spawn(ROLE_SEMANTICS, 1);
	atomic_store(&R->step, 1);
	sr_await(&R->step, 2);
	sr_sleep_us(20000); /* let the peer fall asleep */
	R->data = 42;
	assert_int_equal(compl_chain_shared_complete(a), 0);
	assert_int_equal(sr_reap(pid), 0);
	assert_true(compl_chain_shared_empty(&R->chain));
}

/* A peer cancels its entry between two of ours: our second keeps its place. */
static void test_cancel_middle(void **state)
{
	struct compl_chain_shared_entry *a = &R->e[0], *c = &R->e[2];
	pid_t pid;

	(void)state;
	compl_chain_shared_add(&R->chain, a);
	pid = spawn(ROLE_CANCEL_MIDDLE, 1);
	atomic_store(&R->step, 1);
	sr_await(&R->step, 2);
	assert_int_equal(compl_chain_shared_add(&R->chain, c), 3);
	atomic_store(&R->step, 3);
	sr_await(&R->step, 4);
	assert_int_equal(compl_chain_shared_try_wait(c), EBUSY);
	assert_int_equal(compl_chain_shared_complete(a), 0);
	assert_int_equal(compl_chain_shared_try_wait(c), 0);
	assert_int_equal(compl_chain_shared_complete(c), 0);
	assert_int_equal(sr_reap(pid), 0);
}

/* flush waits for a peer's entry, and sees what its owner did. */
static void test_flush(void **state)
{
	uint64_t t0;
	pid_t pid;

	(void)state;
	compl_chain_shared_flush(&R->chain); /* empty: returns at once */
	pid = spawn(ROLE_FLUSHED, 1);
	sr_await(&R->step, 1);
	t0 = now_ns();
	compl_chain_shared_flush(&R->chain);
	assert_true(now_ns() - t0 >= 30 * MS);
	assert_int_equal(R->data, 7);
	assert_true(compl_chain_shared_empty(&R->chain));
	assert_int_equal(sr_reap(pid), 0);
}

/* Another process's entry, and never-added ones, are misuse. */
static void test_misuse(void **state)
{
	pid_t pid;

	(void)state;
	compl_chain_shared_add(&R->chain, &R->e[0]);
	pid = spawn(ROLE_MISUSE, 1);
	assert_int_equal(sr_reap(pid), 0);
	assert_int_equal(atomic_load(&R->peer_misuse), 6);
	assert_int_equal(compl_chain_shared_add(&R->chain, &R->e[0]), 0);
	assert_int_equal(misuse_count, 1);
	/* A live process's entry: destroy refuses, the chain stays usable. */
	assert_int_equal(compl_chain_shared_destroy(&R->chain), EBUSY);
	assert_int_equal(misuse_count, 2);
	assert_int_equal(compl_chain_shared_complete(&R->e[0]), 0);
	assert_int_equal(compl_chain_shared_complete(&R->e[0]), EINVAL);
	assert_int_equal(misuse_count, 3);
}

/*
 * Killed while it holds a turn it was told of: our next entry inherits it,
 * is told once, with the dead process's id, within the detection time.
 * The dead process stays a zombie meanwhile (not waited for).
 */
static void test_dead_holder(void **state)
{
	struct compl_chain_shared_entry *c = &R->e[2];
	uint64_t t0, dt;
	pid_t pid;

	(void)state;
	pid = spawn(ROLE_HOLD_SEEN, 1);
	sr_await(&R->step, 1);
	compl_chain_shared_add(&R->chain, c);
	assert_int_equal(compl_chain_shared_try_wait(c), EBUSY);
	t0 = now_ns();
	kill(pid, SIGKILL);
	assert_int_equal(compl_chain_shared_wait(c), EOWNERDEAD);
	dt = now_ns() - t0;
	assert_int_equal(compl_chain_shared_inherited_from(c), pid);
	assert_false(compl_chain_shared_pending(&R->e[1]));
	assert_int_equal(compl_chain_shared_wait(c), 0);
	assert_int_equal(compl_chain_shared_try_wait(c), 0);
	assert_int_equal(compl_chain_shared_complete(c), 0);
	assert_int_equal(sr_reap(pid), 128 + SIGKILL);
	printf("# dead holder detected after %.1f ms\n", (double)dt / 1e6);
	assert_true(dt < 1000 * MS); /* 20 ms plus scheduling: loose on a shared machine */
}

/* Killed while it waits in the middle: withdrawn, nobody told. */
static void test_dead_waiter(void **state)
{
	struct compl_chain_shared_entry *a = &R->e[0], *c = &R->e[2];
	pid_t pid;

	(void)state;
	compl_chain_shared_add(&R->chain, a);
	pid = spawn(ROLE_WAIT_BEHIND, 1);
	sr_await(&R->step, 2);
	assert_int_equal(compl_chain_shared_add(&R->chain, c), 3);
	sr_sleep_us(10000);
	kill(pid, SIGKILL);
	assert_int_equal(sr_reap(pid), 128 + SIGKILL);
	assert_int_equal(compl_chain_shared_complete(a), 0); /* the turn goes to the dead */
	assert_int_equal(compl_chain_shared_wait(c), 0);
	assert_int_equal(compl_chain_shared_inherited_from(c), 0);
	assert_false(compl_chain_shared_pending(&R->e[1]));
	assert_int_equal(compl_chain_shared_complete(c), 0);
}

/* Killed holding a turn it never looked at: the next owner is not told. */
static void test_dead_unseen(void **state)
{
	struct compl_chain_shared_entry *c = &R->e[2];
	pid_t pid;

	(void)state;
	pid = spawn(ROLE_HOLD_UNSEEN, 1);
	sr_await(&R->step, 1);
	compl_chain_shared_add(&R->chain, c);
	kill(pid, SIGKILL);
	assert_int_equal(compl_chain_shared_wait(c), 0);
	assert_int_equal(compl_chain_shared_complete(c), 0);
	assert_int_equal(sr_reap(pid), 128 + SIGKILL);
}

/* The only entry is a dead process's: destroy withdraws it and succeeds. */
static void test_destroy_dead(void **state)
{
	pid_t pid;

	(void)state;
	pid = spawn(ROLE_HOLD_UNSEEN, 1);
	sr_await(&R->step, 1);
	kill(pid, SIGKILL);
	assert_int_equal(sr_reap(pid), 128 + SIGKILL);
	assert_false(compl_chain_shared_empty(&R->chain));
	assert_int_equal(compl_chain_shared_destroy(&R->chain), 0);
	assert_int_equal(misuse_count, 0);
	assert_int_equal(compl_chain_shared_init(&R->chain), 0);
}

/*
 * Killed holding a seen turn with nobody behind: a supervisor's reap
 * withdraws it, and the next entry added inherits the turn.
 */
static void test_dead_orphan(void **state)
{
	struct compl_chain_shared_entry *c = &R->e[2];
	pid_t pid;

	(void)state;
	pid = spawn(ROLE_HOLD_SEEN, 1);
	sr_await(&R->step, 1);
	kill(pid, SIGKILL);
	assert_int_equal(sr_reap(pid), 128 + SIGKILL);
	assert_false(compl_chain_shared_empty(&R->chain));
	assert_int_equal(compl_chain_shared_reap(&R->chain), 1);
	assert_int_equal(compl_chain_shared_reap(&R->chain), 0);
	assert_true(compl_chain_shared_empty(&R->chain));
	compl_chain_shared_add(&R->chain, c);
	assert_int_equal(compl_chain_shared_try_wait(c), EOWNERDEAD);
	assert_int_equal(compl_chain_shared_inherited_from(c), pid);
	assert_int_equal(compl_chain_shared_complete(c), 0);
	compl_chain_shared_add(&R->chain, c);
	assert_int_equal(compl_chain_shared_inherited_from(c), 0); /* added anew: inherits none */
	assert_int_equal(compl_chain_shared_complete(c), 0); /* told once only */
}

/*
 * Our entry inherited the turn of a process killed while it held it (told
 * of it), and is cancelled before the report is taken: the report passes on
 * with the turn, to our next entry.
 */
static void test_cancel_passes_report(void **state)
{
	struct compl_chain_shared_entry *c = &R->e[2], *d = &R->e[3];
	pid_t pid;

	(void)state;
	pid = spawn(ROLE_HOLD_SEEN, 1);
	sr_await(&R->step, 1);
	compl_chain_shared_add(&R->chain, c);
	compl_chain_shared_add(&R->chain, d);
	kill(pid, SIGKILL);
	assert_int_equal(sr_reap(pid), 128 + SIGKILL);
	assert_int_equal(compl_chain_shared_reap(&R->chain), 1);
	assert_int_equal(compl_chain_shared_cancel(c), 0);
	assert_false(compl_chain_shared_pending(c));
	assert_int_equal(compl_chain_shared_try_wait(d), EOWNERDEAD);
	assert_int_equal(compl_chain_shared_inherited_from(d), pid);
	assert_int_equal(compl_chain_shared_try_wait(d), 0); /* told once */
	assert_int_equal(compl_chain_shared_complete(d), 0);
}

/*
 * A process whose main thread called pthread_exit() while another thread
 * goes on is alive, though /proc shows its leader as a zombie: its entry
 * keeps the turn until that thread completes it.  (MAPPED: see below.)
 */
static void test_leader_exited(void **state)
{
	struct compl_chain_shared_entry *c = &R->e[2];
	pid_t pid;

	(void)state;
	pid = spawn(ROLE_LEADER_EXITS, 1);
	sr_await(&R->step, 1);
	assert_int_equal(compl_chain_shared_add(&R->chain, c), 2);
	assert_int_equal(compl_chain_shared_wait(c), 0);
	assert_int_equal(R->data, 9); /* the peer's turn came first */
	assert_int_equal(compl_chain_shared_inherited_from(c), 0);
	assert_int_equal(compl_chain_shared_complete(c), 0);
	assert_int_equal(sr_reap(pid), 0);
}

/* test_cancel_waiter's thread: waits behind the peer, then completes. */
static _Atomic int cancel_waiter_rc = -1;

static void *cancel_waiter(void *arg)
{
	struct compl_chain_shared_entry *b = arg;

	compl_chain_shared_add(&R->chain, b);
	atomic_store(&cancel_waiter_rc, compl_chain_shared_wait(b));
	compl_chain_shared_complete(b);
	for (;;)
		pthread_testcancel();
	return NULL;
}

/*
 * pthread_cancel() of a thread that waits for its turn behind another
 * process: no call on a shared chain is a cancellation point, so the
 * thread is not cancelled inside the library (where it may hold the
 * chain's lock, which its own process would never take over).
 */
static void test_cancel_waiter(void **state)
{
	struct compl_chain_shared_entry *b = &R->e[2], *c = &R->e[3];
	pthread_t t;
	void *ret;
	pid_t pid;

	(void)state;
	alarm(30); /* a lock left held would hang the calls below */
	atomic_store(&cancel_waiter_rc, -1);
	pid = spawn(ROLE_HOLD_A_WHILE, 1);
	sr_await(&R->step, 1);
	assert_int_equal(pthread_create(&t, NULL, cancel_waiter, b), 0);
	sr_sleep_us(50000); /* its waits check the turn's owner every 20 ms */
	assert_int_equal(pthread_cancel(t), 0);
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_true(ret == PTHREAD_CANCELED);
	assert_int_equal(atomic_load(&cancel_waiter_rc), 0);
	assert_false(compl_chain_shared_pending(b));
	compl_chain_shared_add(&R->chain, c);
	assert_int_equal(compl_chain_shared_wait_timeout(c, 5000 * MS), 0);
	assert_int_equal(compl_chain_shared_complete(c), 0);
	assert_int_equal(sr_reap(pid), 0);
	alarm(0);
}

/* This process's start time, from /proc/self/stat (field 22). */
static uint64_t my_start_time(void)
{
	char buf[1024], *p;
	unsigned long long st = 0;
	FILE *f = fopen("/proc/self/stat", "r");
	int i;

	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	p = strrchr(buf, ')') + 2;
	for (i = 3; i < 22; i++)
		p = strchr(p, ' ') + 1;
	assert_int_equal(sscanf(p, "%llu", &st), 1);
	return st;
}

/*
 * A dead process whose id this process got (pid reuse) left the chain's
 * lock held, and an entry: both are the dead's, not ours, and are taken
 * over and withdrawn.
 */
static void test_reused_pid(void **state)
{
	struct compl_chain_shared_entry *a = &R->e[0];
	uint64_t other = my_start_time() + 1;

	(void)state;
	alarm(30);
	compl_chain_shared_add(&R->chain, a);
	a->start = other; /* as if added by the earlier process with our id */
	R->chain.lock = (uint64_t)(uint32_t)getpid() | ((other & 0xffffffffu) << 32);
	assert_int_equal(compl_chain_shared_reap(&R->chain), 1);
	assert_false(compl_chain_shared_pending(a));
	assert_true(compl_chain_shared_empty(&R->chain));
	assert_true(R->chain.lock == 0);
	alarm(0);
}

/*
 * The entry of a dead process whose id this process got, then an entry of
 * ours (the process that now has the id): the dead's entry is withdrawn,
 * and ours keeps its place, and the turn (with the report, the dead process
 * had seen its turn); an entry added next waits for it, and our complete is
 * no misuse.
 */
static void test_reused_pid_live(void **state)
{
	struct compl_chain_shared_entry *a = &R->e[0], *b = &R->e[1], *c = &R->e[2];

	(void)state;
	alarm(30);
	assert_int_equal(compl_chain_shared_add(&R->chain, a), 1);
	assert_int_equal(compl_chain_shared_try_wait(a), 0); /* seen */
	a->start = my_start_time() + 1; /* as if added by the earlier process with our id */
	assert_int_equal(compl_chain_shared_add(&R->chain, b), 2);
	assert_int_equal(compl_chain_shared_try_wait(b), EBUSY);
	assert_int_equal(compl_chain_shared_reap(&R->chain), 1);
	assert_false(compl_chain_shared_pending(a));
	assert_true(compl_chain_shared_pending(b));
	assert_int_equal(compl_chain_shared_add(&R->chain, c), 3);
	assert_int_equal(compl_chain_shared_try_wait(c), EBUSY); /* one turn holder */
	assert_int_equal(compl_chain_shared_try_wait(b), EOWNERDEAD);
	assert_int_equal(compl_chain_shared_inherited_from(b), getpid());
	assert_int_equal(compl_chain_shared_complete(b), 0);
	assert_int_equal(misuse_count, 0);
	assert_int_equal(compl_chain_shared_try_wait(c), 0);
	assert_int_equal(compl_chain_shared_complete(c), 0);
	assert_true(compl_chain_shared_empty(&R->chain));
	alarm(0);
}

/*
 * An entry of a dead process whose id this process got is another
 * process's entry: every call of its owner's on it is misuse, and changes
 * nothing; a reap withdraws it.
 */
static void test_reused_pid_foreign(void **state)
{
	struct compl_chain_shared_entry *a = &R->e[0];

	(void)state;
	alarm(30);
	compl_chain_shared_add(&R->chain, a);
	a->start = my_start_time() + 1; /* as if added by the earlier process with our id */
	assert_int_equal(compl_chain_shared_try_wait(a), EINVAL);
	assert_int_equal(compl_chain_shared_wait_timeout(a, 0), EINVAL);
	assert_int_equal(compl_chain_shared_wait(a), EINVAL);
	assert_int_equal(compl_chain_shared_complete(a), EINVAL);
	assert_int_equal(compl_chain_shared_cancel(a), EINVAL);
	assert_int_equal(misuse_count, 5);
	assert_string_equal(misuse_msg, "entry belongs to another process");
	assert_true(compl_chain_shared_pending(a));
	assert_int_equal(compl_chain_shared_reap(&R->chain), 1);
	assert_false(compl_chain_shared_pending(a));
	assert_true(compl_chain_shared_empty(&R->chain));
	alarm(0);
}

/* The id of a process that has exited and been waited for: it names no process. */
static pid_t reaped_pid(void)
{
	pid_t dead = fork();

	assert_true(dead >= 0);
	if (dead == 0)
		_exit(0);
	assert_int_equal(sr_reap(dead), 0);
	return dead;
}

/* An entry's offset from the chain, as the chain's links and intent record hold it. */
static int64_t chain_off(const struct compl_chain_shared_entry *e)
{
	return (const char *)e - (const char *)&R->chain;
}

/*
 * What a process killed in the middle of adding @e leaves, before @e became
 * pending: its identity in @e, the lock, and the intent of an add after
 * @prev (NULL: as the head, inheriting the orphaned turn if @inherit).
 */
static void plant_dead_add(struct compl_chain_shared_entry *e,
			   struct compl_chain_shared_entry *prev, bool inherit)
{
	struct compl_chain_shared_intent *in = &R->chain.intent;
	pid_t dead = reaped_pid();

	e->pid = dead;
	e->start = 0;
	in->entry = chain_off(e);
	in->prev = prev ? chain_off(prev) : 0;
	in->next = 0;
	in->inherit = inherit;
	in->dead = inherit ? R->chain.orphan_dead : 0;
	in->seq = R->chain.seq + 1;
	in->op = 1; /* OP_ADD */
	R->chain.lock = (uint32_t)dead;
}

/*
 * An entry whose adder died holding the lock before the entry became
 * pending is not pending: its owner's supervisor may give it to another
 * process (pending() promises that the library does not touch it again).
 * The new owner's add takes the lock over; the dead add had changed nothing
 * in the chain and is dropped: the entry is linked once, behind the entry
 * ahead, with the next sequence number.  (Redone, the dead add linked the
 * entry, and the new owner's add linked it again, after itself.)
 */
static void test_dead_adder_entry_reused(void **state)
{
	struct compl_chain_shared_entry *a = &R->e[0], *b = &R->e[1], *c = &R->e[2];

	(void)state;
	alarm(30);
	assert_int_equal(compl_chain_shared_add(&R->chain, a), 1);
	plant_dead_add(b, a, false);
	assert_false(compl_chain_shared_pending(b));
	assert_int_equal(compl_chain_shared_add(&R->chain, b), 2);
	assert_int_equal(compl_chain_shared_add(&R->chain, c), 3);
	assert_int_equal(compl_chain_shared_try_wait(b), EBUSY);
	assert_int_equal(compl_chain_shared_complete(a), 0);
	assert_int_equal(compl_chain_shared_try_wait(c), EBUSY);
	assert_int_equal(compl_chain_shared_try_wait(b), 0);
	assert_int_equal(compl_chain_shared_complete(b), 0);
	assert_int_equal(compl_chain_shared_complete(c), 0);
	assert_true(compl_chain_shared_empty(&R->chain));
	assert_false(compl_chain_shared_pending(b));
	assert_int_equal(misuse_count, 0);
	alarm(0);
}

/*
 * The same, where the dead add would have taken an orphaned turn (its
 * holder died with no successor): dropped, it leaves the turn and its
 * report to the entry's new owner, whose add comes next.
 */
static void test_dead_adder_orphan(void **state)
{
	struct compl_chain_shared_entry *a = &R->e[0], *b = &R->e[1];

	(void)state;
	alarm(30);
	assert_int_equal(compl_chain_shared_add(&R->chain, a), 1);
	assert_int_equal(compl_chain_shared_try_wait(a), 0); /* seen */
	a->start = my_start_time() + 1; /* its owner died (an earlier process with our id) */
	assert_int_equal(compl_chain_shared_reap(&R->chain), 1);
	assert_true(compl_chain_shared_empty(&R->chain));
	plant_dead_add(b, NULL, true);
	assert_int_equal(compl_chain_shared_add(&R->chain, b), 2);
	assert_int_equal(compl_chain_shared_try_wait(b), EOWNERDEAD);
	assert_int_equal(compl_chain_shared_inherited_from(b), getpid());
	assert_int_equal(compl_chain_shared_complete(b), 0);
	assert_true(compl_chain_shared_empty(&R->chain));
	assert_int_equal(misuse_count, 0);
	alarm(0);
}

/*
 * More dead owners than a reap caches (8): ten dead processes with our id
 * (start times of their own), then an entry of ours, then an entry of the
 * first dead one again (cached), then ours, then an entry of the ninth dead
 * one again (not cached: checked anew): the twelve dead entries are
 * withdrawn, ours stay, in order.  Under AddressSanitizer, a cache read or
 * written past its end shows here.
 */
static void test_many_dead_owners(void **state)
{
	struct compl_chain_shared_entry *e = R->e;
	uint64_t mine = my_start_time();
	int i;

	(void)state;
	alarm(30);
	for (i = 0; i < 14; i++)
		assert_int_equal(compl_chain_shared_add(&R->chain, &e[i]), i + 1);
	for (i = 0; i < 10; i++)
		e[i].start = mine + 1 + (uint64_t)i; /* as if added by earlier processes with our id */
	e[11].start = mine + 1;
	e[13].start = mine + 9;
	assert_int_equal(compl_chain_shared_reap(&R->chain), 12);
	for (i = 0; i < 14; i++)
		assert_int_equal(compl_chain_shared_pending(&e[i]), i == 10 || i == 12);
	assert_int_equal(compl_chain_shared_try_wait(&e[12]), EBUSY);
	assert_int_equal(compl_chain_shared_try_wait(&e[10]), 0);
	assert_int_equal(compl_chain_shared_complete(&e[10]), 0);
	assert_int_equal(compl_chain_shared_try_wait(&e[12]), 0);
	assert_int_equal(compl_chain_shared_complete(&e[12]), 0);
	assert_true(compl_chain_shared_empty(&R->chain));
	assert_int_equal(misuse_count, 0);
	alarm(0);
}

/* The intent record's operations (src/shared_chain.c). */
#define INTENT_ADD 1u
#define INTENT_UNLINK 2u

/* @e's withdrawn-entries report, which must be available. */
static struct compl_chain_shared_report report_of(const struct compl_chain_shared_entry *e)
{
	struct compl_chain_shared_report r;

	memset(&r, 0xa5, sizeof(r));
	assert_int_equal(compl_chain_shared_withdrawn(e, &r), 0);
	return r;
}

static void assert_report(const struct compl_chain_shared_entry *e, uint64_t count,
			  uint64_t first, uint64_t last)
{
	struct compl_chain_shared_report r = report_of(e);

	assert_int_equal(r.count, count);
	assert_int_equal(r.first, first);
	assert_int_equal(r.last, last);
	if (!count)
		assert_int_equal(r.npids, 0);
}

/*
 * Entries withdrawn with their dead owners are reported once, to the next
 * owner told its turn: their count, lowest and highest number, and owners;
 * before the turn the report is not available.  Entries withdrawn behind
 * the last one go to the next entry added.
 */
static void test_withdrawn_report(void **state)
{
	struct compl_chain_shared_entry *e = R->e;
	struct compl_chain_shared_report r;
	uint64_t mine = my_start_time();
	int i;

	(void)state;
	for (i = 0; i < 14; i++)
		assert_int_equal(compl_chain_shared_add(&R->chain, &e[i]), i + 1);
	for (i = 0; i < 10; i++)
		e[i].start = mine + 1 + (uint64_t)i; /* earlier processes with our id: dead */
	e[11].start = mine + 1;
	e[13].start = mine + 9;
	assert_int_equal(compl_chain_shared_withdrawn(&e[10], &r), EBUSY);
	assert_int_equal(compl_chain_shared_reap(&R->chain), 12);
	assert_int_equal(compl_chain_shared_withdrawn(&e[10], &r), EBUSY); /* not told yet */
	assert_int_equal(compl_chain_shared_try_wait(&e[10]), 0);
	r = report_of(&e[10]);
	assert_int_equal(r.count, 10);
	assert_int_equal(r.first, 1);
	assert_int_equal(r.last, 10);
	assert_int_equal(r.npids, 1);
	assert_int_equal(r.pids[0], getpid());
	assert_int_equal(r.more_pids, 0);
	assert_int_equal(compl_chain_shared_complete(&e[10]), 0);
	assert_int_equal(compl_chain_shared_wait(&e[12]), 0);
	assert_report(&e[12], 1, 12, 12);
	assert_int_equal(compl_chain_shared_complete(&e[12]), 0);
	assert_true(compl_chain_shared_empty(&R->chain));
	/* Number 14 was withdrawn behind the last entry: the next add is told. */
	assert_int_equal(compl_chain_shared_add(&R->chain, &e[0]), 15);
	assert_int_equal(compl_chain_shared_try_wait(&e[0]), 0);
	assert_report(&e[0], 1, 14, 14);
	assert_int_equal(compl_chain_shared_complete(&e[0]), 0);
	assert_int_equal(compl_chain_shared_add(&R->chain, &e[0]), 16);
	assert_int_equal(compl_chain_shared_try_wait(&e[0]), 0);
	assert_report(&e[0], 0, 0, 0); /* told once */
	assert_int_equal(compl_chain_shared_complete(&e[0]), 0);
	assert_int_equal(misuse_count, 0);
}

/*
 * A report passes on with an entry cancelled before its owner was told its
 * turn; not with one whose owner was told, nor past one completed.
 */
static void test_withdrawn_passes_on(void **state)
{
	struct compl_chain_shared_entry *e = R->e;
	uint64_t mine = my_start_time();
	int i;

	(void)state;
	/* 1 live, 2 dead, 3 cancelled unseen, 4 dead, 5 told. */
	for (i = 0; i < 5; i++)
		assert_int_equal(compl_chain_shared_add(&R->chain, &e[i]), i + 1);
	e[1].start = mine + 1;
	e[3].start = mine + 2;
	assert_int_equal(compl_chain_shared_reap(&R->chain), 2);
	assert_int_equal(compl_chain_shared_cancel(&e[2]), 0);
	assert_int_equal(compl_chain_shared_complete(&e[0]), 0);
	assert_int_equal(compl_chain_shared_try_wait(&e[4]), 0);
	assert_report(&e[4], 2, 2, 4);
	/* 6 behind 5, which was told and is cancelled: 6 is told nothing. */
	assert_int_equal(compl_chain_shared_add(&R->chain, &e[5]), 6);
	assert_int_equal(compl_chain_shared_cancel(&e[4]), 0);
	assert_int_equal(compl_chain_shared_try_wait(&e[5]), 0);
	assert_report(&e[5], 0, 0, 0);
	/* 7 dead behind 6; 8 behind: complete of 6 passes nothing, 8 is told of 7. */
	assert_int_equal(compl_chain_shared_add(&R->chain, &e[6]), 7);
	assert_int_equal(compl_chain_shared_add(&R->chain, &e[7]), 8);
	e[6].start = mine + 3;
	assert_int_equal(compl_chain_shared_reap(&R->chain), 1);
	assert_int_equal(compl_chain_shared_complete(&e[5]), 0);
	assert_int_equal(compl_chain_shared_try_wait(&e[7]), 0);
	assert_report(&e[7], 1, 7, 7);
	assert_int_equal(compl_chain_shared_complete(&e[7]), 0);
	/* 9 dead, 10 told of it and completed, 11 dead, 12: told of 11 only. */
	for (i = 8; i < 12; i++)
		assert_int_equal(compl_chain_shared_add(&R->chain, &e[i]), i + 1);
	e[8].start = mine + 4;
	e[10].start = mine + 5;
	assert_int_equal(compl_chain_shared_reap(&R->chain), 2);
	assert_int_equal(compl_chain_shared_try_wait(&e[9]), 0);
	assert_report(&e[9], 1, 9, 9);
	assert_int_equal(compl_chain_shared_complete(&e[9]), 0);
	assert_int_equal(compl_chain_shared_try_wait(&e[11]), 0);
	assert_report(&e[11], 1, 11, 11);
	assert_int_equal(compl_chain_shared_complete(&e[11]), 0);
	assert_int_equal(misuse_count, 0);
}

/*
 * An owner told its turn that dies before completing: its entry, withdrawn,
 * is reported to the next owner (with the turn, EOWNERDEAD), but not what
 * it was told itself.
 */
static void test_withdrawn_told_then_dead(void **state)
{
	struct compl_chain_shared_entry *e = R->e;
	uint64_t mine = my_start_time();
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		assert_int_equal(compl_chain_shared_add(&R->chain, &e[i]), i + 1);
	e[0].start = mine + 1;
	assert_int_equal(compl_chain_shared_reap(&R->chain), 1);
	assert_int_equal(compl_chain_shared_try_wait(&e[1]), 0);
	assert_report(&e[1], 1, 1, 1);
	e[1].start = mine + 2; /* told, then dead */
	assert_int_equal(compl_chain_shared_reap(&R->chain), 1);
	assert_int_equal(compl_chain_shared_try_wait(&e[2]), EOWNERDEAD);
	assert_report(&e[2], 1, 2, 2);
	assert_int_equal(compl_chain_shared_complete(&e[2]), 0);
	assert_int_equal(misuse_count, 0);
}

/*
 * A lock holder that died after an unlink stored the report it moves, and
 * before it cleared the step: the next locker redoes the step, which stores
 * the same report again (it is not merged twice).
 */
static void test_withdrawn_redo(void **state)
{
	struct compl_chain_shared_entry *a = &R->e[0], *b = &R->e[1];
	uint64_t mine = my_start_time();

	(void)state;
	alarm(30);
	assert_int_equal(compl_chain_shared_add(&R->chain, a), 1);
	assert_int_equal(compl_chain_shared_add(&R->chain, b), 2);
	a->start = mine + 1;
	assert_int_equal(compl_chain_shared_reap(&R->chain), 1);
	/* The withdrawal's step as a dead holder would have left it. */
	assert_int_equal(R->chain.intent.entry, chain_off(a));
	assert_int_equal(R->chain.intent.withdrawn, 1);
	R->chain.intent.op = INTENT_UNLINK;
	R->chain.lock = (uint32_t)reaped_pid();
	assert_int_equal(compl_chain_shared_reap(&R->chain), 0);
	assert_int_equal(compl_chain_shared_try_wait(b), 0);
	assert_report(b, 1, 1, 1);
	assert_int_equal(compl_chain_shared_complete(b), 0);
	assert_true(compl_chain_shared_empty(&R->chain));
	assert_int_equal(misuse_count, 0);
	alarm(0);
}

/* More dead owners than a report names: the first four, and more_pids. */
static void test_withdrawn_many_pids(void **state)
{
	struct compl_chain_shared_entry *e = R->e;
	pid_t dead[6];
	int i;

	(void)state;
	for (i = 0; i < 6; i++)
		dead[i] = reaped_pid();
	for (i = 0; i < 7; i++)
		assert_int_equal(compl_chain_shared_add(&R->chain, &e[i]), i + 1);
	for (i = 0; i < 6; i++) {
		e[i].pid = dead[i];
		e[i].start = 0; /* unknown: judged by the id alone */
	}
	assert_int_equal(compl_chain_shared_reap(&R->chain), 6);
	assert_int_equal(compl_chain_shared_wait(&e[6]), 0);
	{
		struct compl_chain_shared_report r = report_of(&e[6]);

		assert_int_equal(r.count, 6);
		assert_int_equal(r.first, 1);
		assert_int_equal(r.last, 6);
		assert_int_equal(r.npids, CCHAIN_SHARED_REPORT_PIDS);
		for (i = 0; i < CCHAIN_SHARED_REPORT_PIDS; i++)
			assert_int_equal(r.pids[i], dead[i]);
		assert_int_not_equal(r.more_pids, 0);
	}
	assert_int_equal(compl_chain_shared_complete(&e[6]), 0);
	/* e[6] again, told of one death: the slots past npids are 0, not stale. */
	assert_int_equal(compl_chain_shared_add(&R->chain, &e[0]), 8);
	assert_int_equal(compl_chain_shared_add(&R->chain, &e[6]), 9);
	e[0].pid = dead[5];
	e[0].start = 0;
	assert_int_equal(compl_chain_shared_reap(&R->chain), 1);
	assert_int_equal(compl_chain_shared_wait(&e[6]), 0);
	{
		struct compl_chain_shared_report r = report_of(&e[6]);

		assert_int_equal(r.count, 1);
		assert_int_equal(r.first, 8);
		assert_int_equal(r.npids, 1);
		assert_int_equal(r.pids[0], dead[5]);
		for (i = 1; i < CCHAIN_SHARED_REPORT_PIDS; i++)
			assert_int_equal(r.pids[i], 0);
		assert_int_equal(r.more_pids, 0);
	}
	/* A report corrupted in the shared mapping never overruns the caller's. */
	e[6].withdrawn.npids = 1000;
	{
		struct compl_chain_shared_report r[2];

		memset(r, 0x5a, sizeof(r));
		assert_int_equal(compl_chain_shared_withdrawn(&e[6], &r[0]), 0);
		assert_true(r[0].npids <= CCHAIN_SHARED_REPORT_PIDS);
		assert_int_equal(r[1].count, 0x5a5a5a5a5a5a5a5aull);
	}
	assert_int_equal(compl_chain_shared_complete(&e[6]), 0);
	assert_int_equal(misuse_count, 0);
}


/*
 * A process that died holding the chain's lock between two steps (in a
 * reap's reads of /proc, say) left no step to finish: the next locker takes
 * the lock over and changes nothing.  Our entry, which inherited an
 * orphaned turn and was told so, is not told again (the add that it last
 * finished, redone, would give it the turn and the report anew).
 */
static void test_dead_holder_between_steps(void **state)
{
	struct compl_chain_shared_entry *a = &R->e[0], *b = &R->e[1];

	(void)state;
	alarm(30);
	assert_int_equal(compl_chain_shared_add(&R->chain, a), 1);
	assert_int_equal(compl_chain_shared_try_wait(a), 0); /* seen */
	a->start = my_start_time() + 1; /* its owner died (an earlier process with our id) */
	assert_int_equal(compl_chain_shared_reap(&R->chain), 1);
	assert_int_equal(compl_chain_shared_add(&R->chain, b), 2);
	assert_int_equal(compl_chain_shared_try_wait(b), EOWNERDEAD);
	R->chain.lock = (uint32_t)reaped_pid();
	assert_int_equal(compl_chain_shared_reap(&R->chain), 0);
	assert_true(R->chain.lock == 0);
	assert_int_equal(compl_chain_shared_try_wait(b), 0); /* told once */
	assert_int_equal(compl_chain_shared_inherited_from(b), getpid());
	assert_int_equal(compl_chain_shared_complete(b), 0);
	assert_true(compl_chain_shared_empty(&R->chain));
	assert_int_equal(misuse_count, 0);
	alarm(0);
}

/*
 * What a process killed in the middle of completing @a, the head (its
 * entry, seen as such from now on), leaves: the intent, and the links, up
 * to the store that ends @a's pendency; @next: the entry behind @a, or NULL.
 */
static void plant_dead_complete(struct compl_chain_shared_entry *a,
				struct compl_chain_shared_entry *next)
{
	struct compl_chain_shared_intent *in = &R->chain.intent;
	pid_t dead = reaped_pid();

	a->pid = dead;
	a->start = 0;
	in->entry = chain_off(a);
	in->prev = 0;
	in->next = next ? chain_off(next) : 0;
	in->inherit = 0;
	in->dead = 0;
	in->seq = a->seq;
	in->op = INTENT_UNLINK;
	R->chain.head = next ? chain_off(next) : 0;
	if (next)
		next->prev = 0;
	else
		R->chain.tail = 0;
	R->chain.lock = (uint32_t)dead;
}

/*
 * A process killed in the middle of completing its entry, after the step's
 * stores to the chain and before the one that ends the entry's pendency:
 * the next locker finishes the step, the entry is no longer pending, and
 * the entry behind it has the turn (not withdrawn: its owner lives).  The
 * next locker is a reap, or (@by_waiter) nobody reaps and the owner of the
 * entry behind, waiting for its turn, finds at its check of the turn's
 * owner (20 ms into its wait) the lock held by a dead process, takes it
 * over and finishes the step, which gives it the turn.
 */
static void dead_completer_mid_step(bool by_waiter)
{
	struct compl_chain_shared_entry *a = &R->e[0], *c = &R->e[2];

	alarm(30);
	assert_int_equal(compl_chain_shared_add(&R->chain, a), 1);
	assert_int_equal(compl_chain_shared_add(&R->chain, c), 2);
	plant_dead_complete(a, c);
	if (by_waiter) {
		assert_int_equal(compl_chain_shared_wait_timeout(c, 5000 * MS), 0);
	} else {
		assert_true(compl_chain_shared_pending(a));
		assert_int_equal(compl_chain_shared_try_wait(c), EBUSY);
		assert_int_equal(compl_chain_shared_reap(&R->chain), 0); /* finished, not counted */
		assert_int_equal(compl_chain_shared_try_wait(c), 0);
	}
	assert_false(compl_chain_shared_pending(a));
	assert_int_equal(compl_chain_shared_complete(c), 0);
	assert_true(compl_chain_shared_empty(&R->chain));
	assert_int_equal(misuse_count, 0);
	alarm(0);
}

static void test_dead_completer_mid_step(void **state)
{
	(void)state;
	dead_completer_mid_step(false);
}

static void test_dead_completer_waiter_finishes(void **state)
{
	(void)state;
	dead_completer_mid_step(true);
}

/*
 * A process killed at the end of its complete, after the step's last store
 * and before it cleared the intent record: the next locker redoes the whole
 * step from the record, which changes nothing (the entry behind keeps the
 * turn, pending; the chain goes on).  The record is the one our complete
 * wrote; only the lock and the unfinished mark are planted.
 */
static void test_dead_completer_after_step(void **state)
{
	struct compl_chain_shared_entry *a = &R->e[0], *b = &R->e[1], *c = &R->e[2];
	struct compl_chain_shared_entry *d = &R->e[3];

	(void)state;
	alarm(30);
	assert_int_equal(compl_chain_shared_add(&R->chain, a), 1);
	assert_int_equal(compl_chain_shared_add(&R->chain, b), 2);
	assert_int_equal(compl_chain_shared_add(&R->chain, c), 3);
	assert_int_equal(compl_chain_shared_complete(a), 0);
	assert_int_equal(compl_chain_shared_complete(b), 0);
	R->chain.intent.op = INTENT_UNLINK;
	R->chain.lock = (uint32_t)reaped_pid();
	assert_int_equal(compl_chain_shared_reap(&R->chain), 0);
	assert_true(compl_chain_shared_pending(c));
	assert_int_equal(compl_chain_shared_try_wait(c), 0);
	assert_int_equal(compl_chain_shared_add(&R->chain, d), 4);
	assert_int_equal(compl_chain_shared_try_wait(d), EBUSY);
	assert_int_equal(compl_chain_shared_complete(c), 0);
	assert_int_equal(compl_chain_shared_try_wait(d), 0);
	assert_int_equal(compl_chain_shared_complete(d), 0);
	assert_true(compl_chain_shared_empty(&R->chain));
	assert_int_equal(misuse_count, 0);
	alarm(0);
}

/*
 * The same, where the dead process's entry was the last: destroy finishes
 * the step before it withdraws the dead's entries (the entry is no longer
 * pending) and succeeds.
 */
static void test_destroy_finishes_dead_step(void **state)
{
	struct compl_chain_shared_entry *a = &R->e[0];

	(void)state;
	alarm(30);
	assert_int_equal(compl_chain_shared_add(&R->chain, a), 1);
	plant_dead_complete(a, NULL);
	assert_true(compl_chain_shared_pending(a));
	assert_int_equal(compl_chain_shared_destroy(&R->chain), 0);
	assert_false(compl_chain_shared_pending(a));
	assert_int_equal(misuse_count, 0);
	assert_int_equal(compl_chain_shared_init(&R->chain), 0);
	alarm(0);
}

/*
 * An entry that left a chain (pending() returned false) may be used again
 * at once, here added to another chain of the same mapping; a process that
 * later dies holding the first chain's lock must not touch it there:
 * - killed in the middle of completing the entry, after it stopped being
 *   pending and before the step ended: the next locker finishes the step,
 *   and leaves the entry, pending in the other chain under another
 *   sequence number, alone (a compare-and-swap from the number it had);
 * - killed between two steps, after that repair: nothing is redone, and
 *   the entry, pending in the other chain under the very number it had in
 *   the first, stays pending;
 * - the same after a complete that ended.
 */
static void test_entry_readded_elsewhere(void **state)
{
	struct compl_chain_shared_entry *a = &R->e[0], *b = &R->e[1];

	(void)state;
	alarm(30);
	assert_int_equal(compl_chain_shared_init(&R->other), 0);
	assert_int_equal(compl_chain_shared_add(&R->chain, a), 1);
	assert_int_equal(compl_chain_shared_complete(a), 0);
	assert_int_equal(compl_chain_shared_add(&R->chain, b), 2);
	/* The complete of b, its step's record left, as by a process killed before it ended. */
	assert_int_equal(compl_chain_shared_complete(b), 0);
	R->chain.intent.op = INTENT_UNLINK;
	R->chain.lock = (uint32_t)reaped_pid();
	assert_false(compl_chain_shared_pending(b));
	assert_int_equal(compl_chain_shared_add(&R->other, b), 1);
	assert_int_equal(compl_chain_shared_reap(&R->chain), 0);
	assert_true(compl_chain_shared_empty(&R->chain));
	assert_true(compl_chain_shared_pending(b));
	assert_int_equal(compl_chain_shared_complete(b), 0);

	/* Number 2 in the other chain too; a holder of the first dies between steps. */
	assert_int_equal(compl_chain_shared_add(&R->other, b), 2);
	R->chain.lock = (uint32_t)reaped_pid();
	assert_int_equal(compl_chain_shared_reap(&R->chain), 0);
	assert_true(compl_chain_shared_pending(b));
	assert_int_equal(compl_chain_shared_complete(b), 0);

	/* Number 3 in both, after a complete that ended. */
	assert_int_equal(compl_chain_shared_add(&R->chain, b), 3);
	assert_int_equal(compl_chain_shared_complete(b), 0);
	assert_int_equal(compl_chain_shared_add(&R->other, b), 3);
	R->chain.lock = (uint32_t)reaped_pid();
	assert_int_equal(compl_chain_shared_reap(&R->chain), 0);
	assert_true(compl_chain_shared_pending(b));
	assert_int_equal(compl_chain_shared_try_wait(b), 0);
	assert_int_equal(compl_chain_shared_complete(b), 0);
	assert_true(compl_chain_shared_empty(&R->chain));
	assert_true(compl_chain_shared_empty(&R->other));
	assert_int_equal(compl_chain_shared_destroy(&R->other), 0);
	assert_int_equal(misuse_count, 0);
	alarm(0);
}

/*
 * Stop @pid (a peer that loops over a step of @e's) where @at holds, then
 * kill it there.  Return: the number of times it was stopped.
 */
static int kill_where(pid_t pid, const struct compl_chain_shared_entry *e,
		      bool (*at)(pid_t, const struct compl_chain_shared_entry *))
{
	int tries, st;

	for (tries = 0;; tries++) {
		assert_true(tries < 200000);
		assert_int_equal(kill(pid, SIGSTOP), 0);
		assert_int_equal(waitpid(pid, &st, WUNTRACED), pid);
		assert_true(WIFSTOPPED(st));
		if (at(pid, e))
			break;
		assert_int_equal(kill(pid, SIGCONT), 0);
		sr_sleep_us((unsigned long)tries % 50);
	}
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(sr_reap(pid), 128 + SIGKILL);
	return tries + 1;
}

/* Is @pid, stopped, inside the step that adds @e, past the store that made @e pending? */
static bool in_add_step(pid_t pid, const struct compl_chain_shared_entry *e)
{
	const struct compl_chain_shared_intent *in = &R->chain.intent;

	return (pid_t)(__atomic_load_n(&R->chain.lock, __ATOMIC_SEQ_CST) & 0x7fffffff) == pid &&
	       __atomic_load_n(&in->op, __ATOMIC_SEQ_CST) == INTENT_ADD &&
	       __atomic_load_n(&in->entry, __ATOMIC_SEQ_CST) == chain_off(e) &&
	       __atomic_load_n(&e->seq, __ATOMIC_SEQ_CST) != 0 &&
	       __atomic_load_n(&e->seq, __ATOMIC_SEQ_CST) ==
		       __atomic_load_n(&in->seq, __ATOMIC_SEQ_CST);
}

/*
 * A process killed in the middle of an add that takes an orphaned turn
 * (that of a process killed after it had been told of its turn, with no
 * entry behind): the next locker finishes the add, with the turn and its
 * report and the first dead process's id, then withdraws the adder's entry,
 * which orphans them again; our entry, added then, is told, naming the
 * first dead process.  The adder (ROLE_TAKE_ORPHAN) is stopped where the
 * step has begun, its entry pending, and killed there.
 */
static void test_dead_adder_takes_orphan(void **state)
{
	struct compl_chain_shared_entry *c = &R->e[2], *e = &R->e[3];
	pid_t first, adder;
	uint64_t seq;
	int tries;

	(void)state;
	alarm(60);
	first = spawn(ROLE_HOLD_SEEN, 1);
	sr_await(&R->step, 1);
	kill(first, SIGKILL);
	assert_int_equal(sr_reap(first), 128 + SIGKILL);
	assert_int_equal(compl_chain_shared_reap(&R->chain), 1); /* the turn is orphaned */
	atomic_store(&R->step, 0);
	adder = spawn(ROLE_TAKE_ORPHAN, 3);
	sr_await(&R->step, 1);
	tries = kill_where(adder, e, in_add_step);
	seq = e->seq;
	assert_int_equal(compl_chain_shared_add(&R->chain, c), seq + 1);
	assert_false(compl_chain_shared_pending(e));
	assert_int_equal(compl_chain_shared_try_wait(c), EOWNERDEAD);
	assert_int_equal(compl_chain_shared_inherited_from(c), first);
	assert_int_equal(compl_chain_shared_complete(c), 0);
	assert_true(compl_chain_shared_empty(&R->chain));
	printf("# stopped inside the add after %d tries\n", tries);
	alarm(0);
}

/* Start time of process @pid (field 22 of /proc/PID/stat), or 0.  Any process. */
static uint64_t proc_start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p || !(p = strrchr(buf, ')')))
		return 0;
	p++;
	for (i = 3; i < 22 && p; i++)
		p = strchr(p + 1, ' ');
	return p && sscanf(p, "%llu", &st) == 1 ? st : 0;
}

#define NS_SKIP 77

/* Record why the test cannot run here.  Return: NS_SKIP. */
static int ns_skip(struct region *r, const char *what, int err)
{
	snprintf(r->reason, sizeof(r->reason), "%s: %s", what, strerror(err));
	return NS_SKIP;
}

/* test_pid_reuse: the first process; takes the turn, is told so, and is killed. */
static void ns_victim(struct region *r)
{
	struct compl_chain_shared_entry *e = &r->e[1];

	PEER_CHECK(compl_chain_shared_add(&r->chain, e) == 1);
	PEER_CHECK(compl_chain_shared_wait(e) == 0);
	r->dead_pid = getpid();
	r->dead_start = proc_start_time(getpid());
	atomic_store(&r->step, 1);
	for (;;)
		pause();
}

/*
 * test_pid_reuse: the process given the dead one's id.  Its entry, behind
 * the dead's, inherits the turn (with the report) when its wait withdraws
 * the dead's entry, and keeps it until its complete.
 */
static void ns_reuser(struct region *r)
{
	struct compl_chain_shared_entry *e = &r->e[2];
	uint64_t start = proc_start_time(getpid());

	R = r;
	r->reuse_start = start;
	cchain_set_misuse_handler(peer_misuse);
	PEER_CHECK(getpid() == r->dead_pid);
	PEER_CHECK(start && start != r->dead_start);
	PEER_CHECK(compl_chain_shared_add(&r->chain, e) == 2);
	PEER_CHECK(compl_chain_shared_wait_timeout(e, 5000 * MS) == EOWNERDEAD);
	PEER_CHECK(compl_chain_shared_inherited_from(e) == r->dead_pid);
	PEER_CHECK(!compl_chain_shared_pending(&r->e[1]));
	PEER_CHECK(compl_chain_shared_pending(e));
	atomic_store(&r->step, 2);
	sr_await(&r->step, 3); /* an entry was added behind ours */
	PEER_CHECK(compl_chain_shared_try_wait(e) == 0);
	PEER_CHECK(compl_chain_shared_complete(e) == 0);
	PEER_CHECK(atomic_load(&r->peer_misuse) == 0);
	_exit(atomic_load(&r->errors) ? 1 : 0);
}

/* test_pid_reuse: process 1 of a new pid namespace, with its own /proc. */
static int ns_init(struct region *r)
{
	struct compl_chain_shared_entry *c = &r->e[3];
	char buf[32];
	pid_t victim, reuser;
	ssize_t n;
	int fd;

	if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL))
		return ns_skip(r, "mount(\"/\", MS_REC | MS_PRIVATE)", errno);
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		return ns_skip(r, "mount(\"proc\", \"/proc\")", errno);
	/* The pid given next is set through ns_last_pid: write back its value. */
	fd = open("/proc/sys/kernel/ns_last_pid", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return ns_skip(r, "open(/proc/sys/kernel/ns_last_pid)", errno);
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		return ns_skip(r, "write(/proc/sys/kernel/ns_last_pid)", n < 0 ? errno : EIO);

	victim = fork();
	SR_CHECK(victim >= 0);
	if (victim == 0)
		ns_victim(r);
	sr_await(&r->step, 1);
	SR_CHECK(kill(victim, SIGKILL) == 0);
	SR_CHECK(sr_reap(victim) == 128 + SIGKILL);
	/* Start times count clock ticks: the next process starts a few later. */
	sr_sleep_us(50000);
	n = snprintf(buf, sizeof(buf), "%d", (int)victim - 1);
	SR_CHECK(pwrite(fd, buf, (size_t)n, 0) == n);
	close(fd);
	reuser = fork();
	SR_CHECK(reuser >= 0);
	if (reuser == 0)
		ns_reuser(r);
	SR_CHECK(reuser == victim);

	sr_await(&r->step, 2); /* its wait withdrew the dead's entry */
	PEER_CHECK(compl_chain_shared_add(&r->chain, c) == 3);
	PEER_CHECK(compl_chain_shared_try_wait(c) == EBUSY); /* one turn holder */
	atomic_store(&r->step, 3);
	PEER_CHECK(compl_chain_shared_wait_timeout(c, 5000 * MS) == 0);
	PEER_CHECK(compl_chain_shared_complete(c) == 0);
	PEER_CHECK(sr_reap(reuser) == 0);
	PEER_CHECK(compl_chain_shared_empty(&r->chain));
	return atomic_load(&r->errors) ? 1 : 0;
}

/* test_pid_reuse: a new pid namespace (as unshare -p -f --mount-proc). */
static int ns_enter(struct region *r)
{
	pid_t init;

	if (unshare(CLONE_NEWPID | CLONE_NEWNS))
		return ns_skip(r, "unshare(CLONE_NEWPID | CLONE_NEWNS)", errno);
	init = fork();
	SR_CHECK(init >= 0);
	if (init == 0)
		_exit(ns_init(r));
	return sr_reap(init);
}

/*
 * Real pid reuse, in a pid namespace of our own: a process adds an entry,
 * takes the turn and is killed; the next process, given its id (through
 * ns_last_pid), adds an entry behind the dead one's and waits.  Its wait
 * withdraws the dead's entry and gives it the turn: its entry stays, an
 * entry added next waits for it (one turn holder), and its complete is no
 * misuse.  Skipped, with the reason, where the namespace or ns_last_pid is
 * refused.
 */
static void test_pid_reuse(void **state)
{
	pid_t pid;
	int rc;

	(void)state;
	alarm(60);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(ns_enter(R));
	rc = sr_reap(pid);
	alarm(0);
	if (rc == NS_SKIP) {
		printf("# skipped: %s\n", R->reason);
		skip();
	}
	assert_int_equal(rc, 0);
	printf("# pid %d reused: start time %llu, then %llu (clock ticks)\n", (int)R->dead_pid,
	       (unsigned long long)R->dead_start, (unsigned long long)R->reuse_start);
	assert_true(compl_chain_shared_empty(&R->chain));
}

/*
 * test_hidden_proc: a participant whose /proc is hidden (an empty tmpfs over
 * /proc, in a mount namespace of its own) reads no start time, although it
 * was forked from a process that knew its own; @other_user: it then runs
 * as another user (nobody), to whom kill(pid, 0) of ours answers EPERM.
 * It adds an entry behind ours, and waits for its turn.
 */
static int hidden_child(struct region *r, bool other_user)
{
	struct compl_chain_shared_entry *e = &r->e[1];

	if (unshare(CLONE_NEWNS))
		return ns_skip(r, "unshare(CLONE_NEWNS)", errno);
	if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL))
		return ns_skip(r, "mount(\"/\", MS_REC | MS_PRIVATE)", errno);
	if (mount("none", "/proc", "tmpfs", 0, NULL))
		return ns_skip(r, "mount(\"tmpfs\", \"/proc\")", errno);
	if (other_user && (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
			   setresuid(65534, 65534, 65534)))
		return ns_skip(r, "setresuid(nobody)", errno);
	PEER_CHECK(access("/proc/self/stat", F_OK) != 0);
	if (other_user)
		PEER_CHECK(kill(getppid(), 0) != 0 && errno == EPERM);
	PEER_CHECK(compl_chain_shared_add(&r->chain, e) == 2);
	atomic_store(&r->step, 1);
	/* Its checks of our entry, every tick, find us alive by kill(pid, 0). */
	PEER_CHECK(compl_chain_shared_wait_timeout(e, 5000 * MS) == 0);
	PEER_CHECK(compl_chain_shared_complete(e) == 0);
	return atomic_load(&r->errors) ? 1 : 0;
}

/* test_hidden_proc and test_hidden_proc_other_user. */
static void hidden_participant(bool other_user)
{
	struct compl_chain_shared_entry *a = &R->e[0];
	pid_t pid;
	int rc;

	alarm(30);
	assert_int_equal(compl_chain_shared_add(&R->chain, a), 1); /* our identity is read */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(hidden_child(R, other_user));
	while (atomic_load(&R->step) < 1 && waitpid(pid, &rc, WNOHANG) == 0)
		sr_sleep_us(1000);
	if (atomic_load(&R->step) < 1) {
		assert_true(WIFEXITED(rc));
		assert_int_equal(compl_chain_shared_complete(a), 0);
		alarm(0);
		if (WEXITSTATUS(rc) == NS_SKIP) {
			printf("# skipped: %s\n", R->reason);
			skip();
		}
		fail_msg("the child exited with %d before adding its entry", WEXITSTATUS(rc));
	}
	assert_int_equal(compl_chain_shared_reap(&R->chain), 0);
	assert_true(compl_chain_shared_pending(&R->e[1]));
	sr_sleep_us(100000); /* five of its checks of our entry */
	assert_true(compl_chain_shared_pending(a));
	assert_int_equal(compl_chain_shared_complete(a), 0);
	assert_int_equal(sr_reap(pid), 0);
	assert_true(compl_chain_shared_empty(&R->chain));
	alarm(0);
}

/*
 * A participant that cannot read /proc/PID/stat is told apart by process
 * id alone, as shared.h says: although we read its start time, its live
 * entry is not taken for a dead process's (a start time it could not read
 * must not be one it inherited across fork()); it gets its turn after ours,
 * and its checks of our entry, meanwhile, find us alive (and leave us be).
 * Skipped, with the reason, where the mount namespace is refused.
 */
static void test_hidden_proc(void **state)
{
	(void)state;
	hidden_participant(false);
}

/*
 * The same, where the participant runs as another user: kill(pid, 0) of
 * ours fails with EPERM, which means that we live.  Skipped, with the
 * reason, where the mount namespace or the change of user is refused.
 */
static void test_hidden_proc_other_user(void **state)
{
	(void)state;
	hidden_participant(true);
}

/* test_stopped_holder: adds and completes until told to stop; @hide: /proc hidden. */
static int holder_churn(struct region *r, bool hide)
{
	struct compl_chain_shared_entry *e = &r->e[1];

	if (hide && unshare(CLONE_NEWNS))
		return ns_skip(r, "unshare(CLONE_NEWNS)", errno);
	if (hide && mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL))
		return ns_skip(r, "mount(\"/\", MS_REC | MS_PRIVATE)", errno);
	if (hide && mount("none", "/proc", "tmpfs", 0, NULL))
		return ns_skip(r, "mount(\"tmpfs\", \"/proc\")", errno);
	atomic_store(&r->step, 1);
	while (atomic_load(&r->step) < 2) {
		PEER_CHECK(compl_chain_shared_add(&r->chain, e) != 0);
		PEER_CHECK(compl_chain_shared_complete(e) == 0);
	}
	return atomic_load(&r->errors) ? 1 : 0;
}

/* CPU time of the calling thread, in ns. */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Voluntary context switches of the calling thread: its sleeps. */
static long thread_sleeps(void)
{
	struct rusage ru;

	CHECK(getrusage(RUSAGE_THREAD, &ru) == 0);
	return ru.ru_nvcsw;
}

/* The CPU time that reaper() spent in its reap, the times it slept; when the last one ended. */
static _Atomic uint64_t reaper_cpu_ns, reaper_done_at;
static _Atomic long reaper_sleeps;

static void *reaper(void *arg)
{
	_Atomic int *done = arg;
	uint64_t cpu = thread_cpu_ns();
	long sleeps = thread_sleeps();

	uint64_t at, was;

	atomic_store(done, (int)compl_chain_shared_reap(&R->chain) + 1);
	at = now_ns();
	was = atomic_load(&reaper_done_at);
	while (was < at && !atomic_compare_exchange_weak(&reaper_done_at, &was, at))
		;
	atomic_store(&reaper_cpu_ns, thread_cpu_ns() - cpu);
	atomic_store(&reaper_sleeps, thread_sleeps() - sleeps);
	return NULL;
}

/* Stop @pid (holder_churn()) where it holds the chain's lock.  Return: the tries it took. */
static int stop_holding_lock(pid_t pid)
{
	int tries, st;

	for (tries = 0;; tries++) {
		assert_true(tries < 100000);
		assert_int_equal(kill(pid, SIGSTOP), 0);
		assert_int_equal(waitpid(pid, &st, WUNTRACED), pid);
		assert_true(WIFSTOPPED(st));
		if ((pid_t)(__atomic_load_n(&R->chain.lock, __ATOMIC_SEQ_CST) & 0x7fffffff) == pid)
			return tries + 1;
		assert_int_equal(kill(pid, SIGCONT), 0);
		sr_sleep_us((unsigned long)tries % 50);
	}
}

/*
 * A participant stopped while it holds the chain's lock is alive: a reap
 * waits for the lock, asleep between its checks of the holder (1 ms into
 * the wait, then every tick: its thread spends less than half of the
 * 100 ms on a CPU, and wakes fewer than 50 times), and never takes it
 * over; once the holder goes on, the reap gets the lock and withdraws
 * nothing.  @hide: the participant cannot read
 * /proc (test_hidden_holder, skipped, with the reason, where the mount
 * namespace is refused).
 */
static void stopped_holder(bool hide)
{
	_Atomic int done = 0;
	pthread_t t;
	pid_t pid;
	int rc, tries, taken;

	alarm(60);
	compl_chain_shared_reap(&R->chain); /* our identity is read */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(holder_churn(R, hide));
	while (atomic_load(&R->step) < 1 && waitpid(pid, &rc, WNOHANG) == 0)
		sr_sleep_us(1000);
	if (atomic_load(&R->step) < 1) {
		alarm(0);
		assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == NS_SKIP);
		printf("# skipped: %s\n", R->reason);
		skip();
	}
	tries = stop_holding_lock(pid);
	assert_int_equal(pthread_create(&t, NULL, reaper, &done), 0);
	sr_sleep_us(100000); /* the holder is checked at 1 ms, 21 ms, 41 ms ... */
	taken = atomic_load(&done); /* nonzero: the lock was taken over */
	assert_int_equal(kill(pid, SIGCONT), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	atomic_store(&R->step, 2);
	rc = sr_reap(pid);
	assert_int_equal(taken, 0);
	assert_int_equal(atomic_load(&done), 1); /* the reap withdrew nothing */
	assert_int_equal(rc, 0);
	assert_true(compl_chain_shared_empty(&R->chain));
	printf("# stopped holding the lock after %d tries; the waiter used %.1f ms of CPU, "
	       "slept %ld times\n",
	       tries, (double)atomic_load(&reaper_cpu_ns) / 1e6, atomic_load(&reaper_sleeps));
	assert_true(atomic_load(&reaper_cpu_ns) < 50 * MS);
	assert_true(atomic_load(&reaper_sleeps) < 50);
	alarm(0);
}

/* test_unlock_wakes_lock_waiter's peer: reaps (the lock, and nothing else) until told to stop. */
static int reap_until_told(struct region *r)
{
	atomic_store(&r->step, 1);
	while (atomic_load(&r->step) < 2)
		compl_chain_shared_reap(&r->chain);
	return 0;
}

/*
 * A peer stopped while it holds the chain's lock, and two reaps (threads
 * of ours) that wait for the lock, asleep after their first check of the
 * holder (1 ms into the wait; the next comes 20 ms later): the peer goes
 * on (to its unlock and its exit), and its unlock wakes one of them, whose
 * unlock (it slept: others may sleep too) wakes the other.  Five rounds;
 * most must see both reaps end within 10 ms of the peer's going on.
 */
static void test_unlock_wakes_lock_waiter(void **state)
{
	_Atomic int done[2];
	int i, k, late = 0, bad = 0;
	pthread_t t[2];

	(void)state;
	alarm(60);
	compl_chain_shared_reap(&R->chain); /* our identity is read */
	for (i = 0; i < 5 && !bad; i++) {
		uint64_t t0;
		pid_t pid;

		atomic_store(&R->step, 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			_exit(reap_until_told(R));
		sr_await(&R->step, 1);
		stop_holding_lock(pid);
		atomic_store(&reaper_done_at, 0);
		for (k = 0; k < 2; k++) {
			atomic_store(&done[k], 0);
			assert_int_equal(pthread_create(&t[k], NULL, reaper, &done[k]), 0);
		}
		sr_sleep_us(5000);
		for (k = 0; k < 2; k++)
			bad += atomic_load(&done[k]) != 0; /* taken over from a live holder */
		atomic_store(&R->step, 2);
		t0 = now_ns();
		assert_int_equal(kill(pid, SIGCONT), 0);
		for (k = 0; k < 2; k++) {
			assert_int_equal(pthread_join(t[k], NULL), 0);
			bad += atomic_load(&done[k]) != 1; /* the reap withdrew nothing */
		}
		if (atomic_load(&reaper_done_at) > t0 + 10 * MS)
			late++;
		assert_int_equal(sr_reap(pid), 0);
	}
	assert_int_equal(bad, 0);
	assert_in_range(late, 0, 2); /* rounds woken only by the check */
	alarm(0);
}

/* A participant whose start time we read, stopped holding the lock: never taken over. */
static void test_stopped_holder(void **state)
{
	(void)state;
	stopped_holder(false);
}

/* The same where the participant cannot read /proc (its lock word has no start time). */
static void test_hidden_holder(void **state)
{
	(void)state;
	stopped_holder(true);
}

/*
 * Killed at random instants inside every call, the chain's lock included:
 * each time, the chain serves our next entry within a bounded time.
 */
static void test_dead_anywhere(void **state)
{
	struct compl_chain_shared_entry *c = &R->e[2];
	uint64_t seed = 12345, worst = 0;
	unsigned int round, told = 0, rounds = (unsigned int)test_scale(300);
	pid_t pid;
	int rc;

	(void)state;
	for (round = 0; round < rounds; round++) {
		uint64_t t0;

		atomic_store(&R->step, 0);
		pid = spawn(ROLE_CHURN, 4);
		sr_await(&R->step, 1);
		sr_sleep_us(rnd_next(&seed) % 300);
		kill(pid, SIGKILL);
		t0 = now_ns();
		compl_chain_shared_add(&R->chain, c);
		rc = compl_chain_shared_wait_timeout(c, 5000 * MS);
		assert_true(rc == 0 || rc == EOWNERDEAD);
		told += rc == EOWNERDEAD;
		if (now_ns() - t0 > worst)
			worst = now_ns() - t0;
		assert_int_equal(compl_chain_shared_complete(c), 0);
		assert_int_equal(sr_reap(pid), 128 + SIGKILL);
		compl_chain_shared_reap(&R->chain);
		assert_true(compl_chain_shared_empty(&R->chain));
		assert_false(compl_chain_shared_pending(&R->e[4]));
		assert_false(compl_chain_shared_pending(&R->e[5]));
	}
	printf("# %u kills, %u inherited turns reported, slowest recovery %.1f ms\n", rounds,
	       told, (double)worst / 1e6);
}

/*
 * The turn arrives while a wait's timeout runs out, over and over with
 * varying timing (two threads of this process: an entry may be used by any
 * of its owner's threads, one at a time): the wait must never return
 * ETIMEDOUT when the turn was given before it began, and must return 0 once
 * the turn has come.
 */
struct shared_racer {
	struct compl_chain_shared_entry *entry;
	_Atomic bool *given;
	unsigned long lost, timeouts;
};

static void *shared_race_fn(void *arg)
{
	struct shared_racer *r = arg;

	for (;;) {
		bool given = atomic_load(r->given);
		int ret = compl_chain_shared_wait_timeout(r->entry, 1000 + r->timeouts % 50000);

		if (ret == 0)
			break;
		CHECK(ret == ETIMEDOUT);
		r->timeouts++;
		if (given)
			r->lost++; /* the turn was given before the call */
	}
	return NULL;
}

static void test_timeout_races_turn(void **state)
{
	struct compl_chain_shared_entry *a = &R->e[0], *b = &R->e[1];
	unsigned long rounds = test_scale(300), i, timeouts = 0;
	uint64_t rnd = 77;

	(void)state;
	for (i = 0; i < rounds; i++) {
		_Atomic bool given = false;
		struct shared_racer r = { .entry = b, .given = &given };
		pthread_t t;

		compl_chain_shared_add(&R->chain, a);
		compl_chain_shared_add(&R->chain, b);
		t = start_thread(shared_race_fn, &r);
		sleep_ns(rnd_next(&rnd) % 200000);
		assert_int_equal(compl_chain_shared_complete(a), 0);
		atomic_store(&given, true);
		join_thread(t);
		assert_int_equal(r.lost, 0);
		assert_int_equal(compl_chain_shared_try_wait(b), 0);
		assert_int_equal(compl_chain_shared_complete(b), 0);
		timeouts += r.timeouts;
	}
	/* The race must actually have been exercised. */
	assert_true(timeouts > 0);
}

/*
 * What the turn-giver wrote before its complete (or its cancel of the head)
 * is visible where the next owner learns of the turn: try_wait or
 * wait_timeout returning 0, empty() true, flush() returning.  Two threads
 * of this process, so that ThreadSanitizer sees both sides: the main thread
 * reads the plain variable before it joins the giver, and a missing acquire
 * or release is reported as a data race; anywhere, an older value fails.
 */
enum shared_observe { SOBS_TRY_WAIT, SOBS_WAIT_TIMEOUT, SOBS_EMPTY, SOBS_FLUSH };

struct shared_giver {
	struct compl_chain_shared_entry *head;
	uint64_t value;
	bool cancel;
};

static void *shared_give_turn(void *arg)
{
	struct shared_giver *g = arg;

	R->data = g->value;
	if (g->cancel)
		CHECK(compl_chain_shared_cancel(g->head) == 0);
	else
		CHECK(compl_chain_shared_complete(g->head) == 0);
	return NULL;
}

static void shared_observe(enum shared_observe how, bool cancel)
{
	struct compl_chain_shared_entry *a = &R->e[0], *b = &R->e[1];
	unsigned long rounds = test_scale(200), i;

	for (i = 1; i <= rounds; i++) {
		struct shared_giver g = { a, i, cancel };
		bool second = how == SOBS_TRY_WAIT || how == SOBS_WAIT_TIMEOUT;
		uint64_t seen;
		pthread_t t;

		compl_chain_shared_add(&R->chain, a);
		if (second)
			compl_chain_shared_add(&R->chain, b);
		t = start_thread(shared_give_turn, &g);
		switch (how) {
		case SOBS_TRY_WAIT:
			while (compl_chain_shared_try_wait(b) == EBUSY)
				sched_yield();
			break;
		case SOBS_WAIT_TIMEOUT:
			while (compl_chain_shared_wait_timeout(b, i & 1 ? 0 : 100000) == ETIMEDOUT)
				;
			break;
		case SOBS_EMPTY:
			while (!compl_chain_shared_empty(&R->chain))
				sched_yield();
			break;
		case SOBS_FLUSH:
			compl_chain_shared_flush(&R->chain);
			break;
		}
		seen = R->data;
		join_thread(t);
		assert_int_equal(seen, i);
		if (second)
			assert_int_equal(compl_chain_shared_complete(b), 0);
	}
}

static void test_shared_try_wait_acquires(void **state)
{
	(void)state;
	shared_observe(SOBS_TRY_WAIT, false);
}

static void test_shared_wait_timeout_acquires(void **state)
{
	(void)state;
	shared_observe(SOBS_WAIT_TIMEOUT, false);
}

static void test_shared_empty_acquires(void **state)
{
	(void)state;
	shared_observe(SOBS_EMPTY, false);
	shared_observe(SOBS_EMPTY, true);
}

static void test_shared_flush_acquires(void **state)
{
	(void)state;
	shared_observe(SOBS_FLUSH, false);
}

static void test_shared_cancel_releases(void **state)
{
	(void)state;
	shared_observe(SOBS_TRY_WAIT, true);
	shared_observe(SOBS_WAIT_TIMEOUT, true);
}

/* A chain that is not aligned for its type: misuse, EINVAL, nothing written. */
static void test_init_misaligned(void **state)
{
	static union {
		struct compl_chain_shared chain;
		unsigned char bytes[sizeof(struct compl_chain_shared) + 8];
	} buf;
	size_t i;

	(void)state;
	memset(buf.bytes, 0x5a, sizeof(buf.bytes));
	assert_int_equal(compl_chain_shared_init((struct compl_chain_shared *)(void *)(buf.bytes + 1)),
			 EINVAL);
	assert_int_equal(misuse_count, 1);
	assert_string_equal(misuse_func, "compl_chain_shared_init");
	for (i = 0; i < sizeof(buf.bytes); i++)
		assert_int_equal(buf.bytes[i], 0x5a);
	assert_int_equal(compl_chain_shared_init(&buf.chain), 0);
	assert_int_equal(misuse_count, 1);
	assert_true(compl_chain_shared_empty(&buf.chain));
}

/*
 * fork() of a process with a pending entry in a private chain: the child
 * has a copy of the chain, independent of the parent's.  What the child
 * does with its copy (here: complete the inherited entry) changes nothing
 * in the parent.
 */
static void test_private_fork(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b;
	pid_t pid;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int ok = compl_chain_try_wait(&a) && !compl_chain_try_wait(&b);

		compl_chain_complete(&a);
		ok = ok && !compl_chain_pending(&a) && compl_chain_try_wait(&b);
		compl_chain_complete(&b);
		ok = ok && compl_chain_empty(&chain);
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(sr_reap(pid), 0);
	assert_true(compl_chain_pending(&a));
	assert_false(compl_chain_try_wait(&b));
	assert_false(compl_chain_empty(&chain));
	compl_chain_complete(&a);
	assert_true(compl_chain_try_wait(&b));
	compl_chain_complete(&b);
	compl_chain_destroy(&chain);
}

/*
 * Two threads of one process: a wait with the longest timeout is a wait
 * without one, and the head's cancel wakes the sleeping owner of the next.
 */
static void *complete_later(void *arg)
{
	sleep_ns(30 * MS);
	CHECK(compl_chain_shared_complete(arg) == 0);
	return NULL;
}

static void *wait_then_complete(void *arg)
{
	CHECK(compl_chain_shared_wait(arg) == 0);
	CHECK(compl_chain_shared_complete(arg) == 0);
	return NULL;
}

static void test_threads_of_one_process(void **state)
{
	struct compl_chain_shared_entry *a = &R->e[0], *b = &R->e[1];
	pthread_t t;

	(void)state;
	compl_chain_shared_add(&R->chain, a);
	compl_chain_shared_add(&R->chain, b);
	t = start_thread(complete_later, a);
	assert_int_equal(compl_chain_shared_wait_timeout(b, UINT64_MAX), 0);
	join_thread(t);
	assert_int_equal(compl_chain_shared_complete(b), 0);

	compl_chain_shared_add(&R->chain, a);
	compl_chain_shared_add(&R->chain, b);
	t = start_thread(wait_then_complete, b);
	sleep_ns(30 * MS); /* b's owner sleeps */
	assert_int_equal(compl_chain_shared_cancel(a), 0);
	join_thread(t);
	assert_true(compl_chain_shared_empty(&R->chain));
}

/* The owner's futex word's SLEEPING bit (src/shared_chain.c): its owner sleeps. */
#define ENTRY_SLEEPING 1u

/* When the waiting thread of a wake-up test returned. */
static _Atomic uint64_t woken_at;

/* Wait (5 s at most) until @bit is set in *@word: a sleeper announced itself. */
static void await_bit(const uint32_t *word, uint32_t bit)
{
	uint64_t t0 = now_ns();

	while (!(__atomic_load_n(word, __ATOMIC_ACQUIRE) & bit)) {
		assert_true(now_ns() - t0 < 5000 * MS);
		sched_yield();
	}
}

/* What a round of a wake-up test hands over, and how (a give_*() function). */
struct handover {
	struct compl_chain_shared_entry *head, *next;
	pid_t holder;
	int round;
};

/*
 * One round of a wake-up test: thread @t sleeps (it announced so with @bit
 * in *@word; 2 ms more and it is asleep); @give, run from here, must wake
 * it; the thread notes in woken_at when it returned.  Return: whether that
 * was 10 ms after @give began or later (the thread woken by its own check,
 * every CCHAIN_SHARED_DETECT_MS, not by @give).
 */
static bool woken_late(pthread_t t, const uint32_t *word, uint32_t bit,
		       void (*give)(struct handover *), struct handover *h)
{
	uint64_t t0;

	await_bit(word, bit);
	sleep_ns(2 * MS); /* from announced to asleep */
	t0 = now_ns();
	give(h);
	join_thread(t);
	return atomic_load(&woken_at) > t0 + 10 * MS;
}

/* The head is completed, or (odd rounds) cancelled. */
static void give_by_unlink(struct handover *h)
{
	if (h->round & 1)
		assert_int_equal(compl_chain_shared_cancel(h->head), 0);
	else
		assert_int_equal(compl_chain_shared_complete(h->head), 0);
}


static void *wait_note_time(void *arg)
{
	CHECK(compl_chain_shared_wait(arg) == 0);
	atomic_store(&woken_at, now_ns());
	CHECK(compl_chain_shared_complete(arg) == 0);
	return NULL;
}

/*
 * The owner of the next entry sleeps; the head is completed or cancelled:
 * that owner is woken then, not at its next check of the turn's owner
 * (every CCHAIN_SHARED_DETECT_MS, 20 ms).  Nine rounds; most must see the
 * wake-up within 10 ms, a round's wait being cut short at its start.
 */
static void test_unlink_wakes_next(void **state)
{
	struct handover h = { .head = &R->e[0], .next = &R->e[1] };
	int late = 0;

	(void)state;
	alarm(30);
	for (h.round = 0; h.round < 9; h.round++) {
		compl_chain_shared_add(&R->chain, h.head);
		compl_chain_shared_add(&R->chain, h.next);
		atomic_store(&woken_at, 0);
		late += woken_late(start_thread(wait_note_time, h.next), &h.next->state,
				   ENTRY_SLEEPING, give_by_unlink, &h);
	}
	assert_true(compl_chain_shared_empty(&R->chain));
	assert_in_range(late, 0, 4); /* rounds woken only by the check */
	alarm(0);
}

/* test_turn_races_sleep_mark's owner: waits for its turn, round after round, from one CPU. */
struct sleep_marker {
	struct compl_chain_shared_entry *entry, *ahead;
	int cpu;
	_Atomic unsigned long go, done; /* the round begun, the round waited for */
	_Atomic int rc;
	_Atomic unsigned long early; /* waits that returned 0 while the entry ahead was pending */
};

static void *wait_from_one_cpu(void *arg)
{
	struct sleep_marker *m = arg;
	unsigned long round;
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(m->cpu, &one);
	CHECK(pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0);
	for (round = 1;; round++) {
		unsigned long go;
		int rc;

		while ((go = atomic_load(&m->go)) < round)
			;
		if (go == ULONG_MAX)
			return NULL;
		rc = compl_chain_shared_wait_timeout(m->entry, 1000 * MS);
		if (rc == 0 && compl_chain_shared_pending(m->ahead))
			atomic_fetch_add(&m->early, 1);
		atomic_store(&m->rc, rc);
		atomic_store(&m->done, round);
	}
}

/*
 * The turn is given just as its owner marks itself asleep, over and over:
 * the owner's thread, confined to one CPU (so that it does not spin), sets
 * the SLEEPING mark in its entry's state word at once as it waits, while
 * the head is completed from another CPU after a delay that follows the
 * race (longer when the turn came before the mark, shorter when after).
 * The turn must not be lost to the mark (which the turn-giver's
 * compare-and-swap then finds, and tries again with): the owner's wait
 * returns 0, never ETIMEDOUT after a second, and never before the entry
 * ahead has left.  Skipped where the calling thread may run on one CPU
 * only.
 */
static void test_turn_races_sleep_mark(void **state)
{
	struct compl_chain_shared_entry *a = &R->e[0], *b = &R->e[1];
	struct sleep_marker m = { .entry = b, .ahead = a };
	unsigned long rounds = test_scale(3000), i, delay = 0, marked = 0;
	cpu_set_t mask, giver;
	int cpus[2], n = 0, c, rc = 0;
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(mask), &mask), 0);
	for (c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &mask))
			cpus[n++] = c;
	if (n < 2) {
		printf("# skipped: one CPU only\n");
		skip();
	}
	CPU_ZERO(&giver);
	CPU_SET(cpus[1], &giver);
	assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof(giver), &giver), 0);
	alarm(120);
	if (rounds < 1000)
		rounds = 1000;
	m.cpu = cpus[0];
	t = start_thread(wait_from_one_cpu, &m);
	for (i = 1; i <= rounds && rc == 0; i++) {
		unsigned long d = delay;

		compl_chain_shared_add(&R->chain, a);
		compl_chain_shared_add(&R->chain, b);
		atomic_store(&m.go, i);
		while (d--)
			atomic_signal_fence(memory_order_seq_cst);
		rc = compl_chain_shared_complete(a);
		while (atomic_load(&m.done) < i)
			;
		if (!rc)
			rc = atomic_load(&m.rc);
		if (__atomic_load_n(&b->state, __ATOMIC_ACQUIRE) & ENTRY_SLEEPING) {
			marked++; /* the mark came first: give sooner */
			delay = delay > 16 ? delay - 16 : 0;
		} else {
			delay += 16;
		}
		if (!rc)
			rc = compl_chain_shared_complete(b);
	}
	atomic_store(&m.go, ULONG_MAX);
	join_thread(t);
	alarm(0);
	assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof(mask), &mask), 0);
	printf("# %lu rounds, the mark first in %lu, final delay %lu\n", i - 1, marked, delay);
	assert_int_equal(rc, 0);
	assert_int_equal(atomic_load(&m.early), 0);
}

/* test_lock_contention's threads: add and cancel an entry of their own, as fast as they can. */
struct contender {
	struct compl_chain_shared_entry *entry;
	unsigned long n;
	uint64_t *seqs;
	unsigned long bad;
};

static void *add_cancel(void *arg)
{
	struct contender *c = arg;
	unsigned long i;

	for (i = 0; i < c->n; i++) {
		c->seqs[i] = compl_chain_shared_add(&R->chain, c->entry);
		c->bad += compl_chain_shared_cancel(c->entry) != 0;
		c->bad += compl_chain_shared_pending(c->entry);
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Three threads take the chain's lock back to back (an add and a cancel
 * each time), so that it is taken, released and taken again while others
 * spin and sleep on it: one holder at a time, which every sequence number
 * handed out exactly once shows, and the chain ends empty.  Rounds of
 * 30000 adds a thread at least, for a second at least: on a busy machine
 * the threads seldom run at once.
 */
static void test_lock_contention(void **state)
{
	enum { NT = 3 };
	struct contender c[NT];
	unsigned long n = test_scale(100000), i, t, base = 0;
	uint64_t *all, t0 = now_ns();
	pthread_t tid[NT];

	(void)state;
	alarm(120);
	if (n < 30000) /* fewer meet too seldom on the lock */
		n = 30000;
	all = xmalloc(NT * n * sizeof(*all));
	do {
		for (t = 0; t < NT; t++) {
			c[t] = (struct contender){ &R->e[t], n, all + t * n, 0 };
			tid[t] = start_thread(add_cancel, &c[t]);
		}
		for (t = 0; t < NT; t++) {
			join_thread(tid[t]);
			assert_int_equal(c[t].bad, 0);
		}
		qsort(all, NT * n, sizeof(*all), cmp_u64);
		for (i = 0; i < NT * n; i++)
			if (all[i] != base + i + 1)
				fail_msg("sequence number %lu handed out as %llu", base + i + 1,
					 (unsigned long long)all[i]);
		base += NT * n;
	} while (now_ns() - t0 < 1000 * MS);
	free(all);
	assert_true(compl_chain_shared_empty(&R->chain));
	alarm(0);
}

/* Bit 0 of the chain's flush generation (src/shared_chain.c): a flusher sleeps. */
#define GEN_FLUSHER 1u

static void *flush_note_time(void *arg)
{
	(void)arg;
	compl_chain_shared_flush(&R->chain);
	atomic_store(&woken_at, now_ns());
	return NULL;
}

/*
 * A flusher sleeps behind the head; the head is completed or cancelled:
 * the flusher is woken then, not at its next check of the turn's owner
 * (every CCHAIN_SHARED_DETECT_MS, 20 ms).  Nine rounds; most must see the
 * flush return within 10 ms.
 */
static void test_flush_wakes_promptly(void **state)
{
	struct handover h = { .head = &R->e[0] };
	int late = 0;

	(void)state;
	alarm(30);
	for (h.round = 0; h.round < 9; h.round++) {
		compl_chain_shared_add(&R->chain, h.head);
		atomic_store(&woken_at, 0);
		late += woken_late(start_thread(flush_note_time, NULL), &R->chain.gen, GEN_FLUSHER,
				   give_by_unlink, &h);
	}
	assert_true(compl_chain_shared_empty(&R->chain));
	assert_in_range(late, 0, 4); /* rounds woken only by the check */
	alarm(0);
}

static _Atomic unsigned int signals_taken;

static void count_signal(int sig)
{
	(void)sig;
	atomic_fetch_add(&signals_taken, 1);
}

static void *flush_thread(void *arg)
{
	(void)arg;
	compl_chain_shared_flush(&R->chain);
	return NULL;
}

/*
 * Signals do not interrupt a wait (shared.h): a thread that sleeps for its
 * turn and one that sleeps in flush, sent a signal whose handler is
 * installed without SA_RESTART every millisecond (each interrupts the
 * sleep: EINTR), go on waiting, and return once the turn has come.
 */
static void test_signals_do_not_interrupt(void **state)
{
	struct compl_chain_shared_entry *a = &R->e[0], *b = &R->e[1];
	struct sigaction sa = { .sa_handler = count_signal }, old;
	pthread_t waiter, flusher;
	int i;

	(void)state;
	alarm(30);
	atomic_store(&signals_taken, 0);
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	compl_chain_shared_add(&R->chain, a);
	compl_chain_shared_add(&R->chain, b);
	waiter = start_thread(wait_then_complete, b);
	flusher = start_thread(flush_thread, NULL);
	for (i = 0; i < 50; i++) {
		sleep_ns(1 * MS);
		assert_int_equal(pthread_kill(waiter, SIGUSR1), 0);
		assert_int_equal(pthread_kill(flusher, SIGUSR1), 0);
	}
	sleep_ns(1 * MS);
	assert_true(compl_chain_shared_pending(b));
	assert_int_equal(compl_chain_shared_complete(a), 0);
	join_thread(waiter);
	join_thread(flusher);
	assert_true(atomic_load(&signals_taken) > 0); /* a signal sent twice at once counts once */
	assert_true(compl_chain_shared_empty(&R->chain));
	assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
	alarm(0);
}

/*
 * A supervisor's reap withdraws a dead process's entry, which held a turn
 * it had been told of: the owner of the next entry, asleep, is woken then
 * (with the report), not at its next check of the turn's owner (every
 * CCHAIN_SHARED_DETECT_MS, 20 ms).  Nine rounds; most must see the wake-up
 * within 10 ms.
 */
static void *wait_note_report(void *arg)
{
	CHECK(compl_chain_shared_wait(arg) == EOWNERDEAD);
	atomic_store(&woken_at, now_ns());
	CHECK(compl_chain_shared_complete(arg) == 0);
	return NULL;
}

/* A reap withdraws the entry of the holder, killed. */
static void give_by_reap(struct handover *h)
{
	(void)h;
	/* 0: the waiter's own check came first (a machine too busy to keep time). */
	assert_in_range(compl_chain_shared_reap(&R->chain), 0, 1);
}

static void test_reap_wakes_next(void **state)
{
	struct handover h = { .next = &R->e[2] };
	int late = 0;
	pthread_t t;

	(void)state;
	alarm(60);
	for (h.round = 0; h.round < 9; h.round++) {
		atomic_store(&R->step, 0);
		h.holder = spawn(ROLE_HOLD_SEEN, 1);
		sr_await(&R->step, 1);
		compl_chain_shared_add(&R->chain, h.next);
		atomic_store(&woken_at, 0);
		t = start_thread(wait_note_report, h.next);
		kill(h.holder, SIGKILL); /* noticed by the waiter at its check, 20 ms into its wait */
		assert_int_equal(sr_reap(h.holder), 128 + SIGKILL);
		late += woken_late(t, &h.next->state, ENTRY_SLEEPING, give_by_reap, &h);
	}
	assert_true(compl_chain_shared_empty(&R->chain));
	assert_in_range(late, 0, 4); /* rounds woken only by the check */
	alarm(0);
}

/*
 * A process killed in the middle of completing the head, before it handed
 * the turn on, while the owner of the next entry sleeps: the next locker
 * (a supervisor's reap) finishes the step, and wakes that owner then, not
 * at its next check of the turn's owner (every CCHAIN_SHARED_DETECT_MS,
 * 20 ms).  Nine rounds; most must see the wake-up within 10 ms.
 */
/* A reap finishes the complete of the head that its dead owner began. */
static void give_by_redo(struct handover *h)
{
	(void)h;
	/* 0: finished, not counted (or the waiter's own check came first). */
	assert_int_equal(compl_chain_shared_reap(&R->chain), 0);
}

static void test_redo_wakes_next(void **state)
{
	struct handover h = { .head = &R->e[0], .next = &R->e[1] };
	int late = 0;
	pthread_t t;

	(void)state;
	alarm(60);
	for (h.round = 0; h.round < 9; h.round++) {
		compl_chain_shared_add(&R->chain, h.head);
		compl_chain_shared_add(&R->chain, h.next);
		atomic_store(&woken_at, 0);
		/* Planted before the waiter starts (its lock is then ordered after it). */
		plant_dead_complete(h.head, h.next); /* found by the waiter at its check, 20 ms in */
		t = start_thread(wait_note_time, h.next);
		late += woken_late(t, &h.next->state, ENTRY_SLEEPING, give_by_redo, &h);
		assert_false(compl_chain_shared_pending(h.head));
	}
	assert_true(compl_chain_shared_empty(&R->chain));
	assert_in_range(late, 0, 4); /* rounds woken only by the check */
	alarm(0);
}

/* test_waiter_sleeps' waiter and flusher: the CPU time their calls took. */
static _Atomic uint64_t wait_cpu_ns, flush_cpu_ns;

static void *flush_note_cpu(void *arg)
{
	uint64_t cpu = thread_cpu_ns();

	(void)arg;
	compl_chain_shared_flush(&R->chain);
	atomic_store(&flush_cpu_ns, thread_cpu_ns() - cpu);
	return NULL;
}

static void *wait_note_cpu(void *arg)
{
	uint64_t cpu = thread_cpu_ns();

	CHECK(compl_chain_shared_wait(arg) == 0);
	atomic_store(&wait_cpu_ns, thread_cpu_ns() - cpu);
	CHECK(compl_chain_shared_complete(arg) == 0);
	return NULL;
}

/*
 * A wait for a turn that a live owner holds for 150 ms, and a flush behind
 * it, sleep between their checks of that owner (every
 * CCHAIN_SHARED_DETECT_MS): each spends less than a third of the time on a
 * CPU.
 */
static void test_waiter_sleeps(void **state)
{
	struct compl_chain_shared_entry *a = &R->e[0], *b = &R->e[1];
	pthread_t t, f;

	(void)state;
	alarm(30);
	compl_chain_shared_add(&R->chain, a);
	compl_chain_shared_add(&R->chain, b);
	t = start_thread(wait_note_cpu, b);
	f = start_thread(flush_note_cpu, NULL);
	sleep_ns(150 * MS);
	assert_int_equal(compl_chain_shared_complete(a), 0);
	join_thread(t);
	join_thread(f);
	printf("# the wait used %.1f ms of CPU, the flush %.1f ms\n",
	       (double)atomic_load(&wait_cpu_ns) / 1e6, (double)atomic_load(&flush_cpu_ns) / 1e6);
	assert_true(atomic_load(&wait_cpu_ns) < 50 * MS);
	assert_true(atomic_load(&flush_cpu_ns) < 50 * MS);
	assert_true(compl_chain_shared_empty(&R->chain));
	alarm(0);
}

/*
 * A flush behind the entry of a process killed while it held its turn,
 * which nobody else withdraws: the flusher's own checks of the turn's owner
 * (every CCHAIN_SHARED_DETECT_MS) withdraw it, and the flush returns.
 */
static void test_flush_behind_dead(void **state)
{
	uint64_t t0;
	pid_t pid;

	(void)state;
	alarm(30);
	pid = spawn(ROLE_HOLD_SEEN, 1);
	sr_await(&R->step, 1);
	kill(pid, SIGKILL);
	assert_int_equal(sr_reap(pid), 128 + SIGKILL);
	t0 = now_ns();
	compl_chain_shared_flush(&R->chain);
	printf("# flushed behind the dead after %.1f ms\n", (double)(now_ns() - t0) / 1e6);
	assert_false(compl_chain_shared_pending(&R->e[1]));
	assert_true(compl_chain_shared_empty(&R->chain));
	alarm(0);
}

/* test_flush_ignores_later_adds' churn: two entries, never both gone, until told to stop. */
static _Atomic bool churn_stop;

static void *churn_two(void *arg)
{
	struct compl_chain_shared_entry *x = arg, *y = x + 1;

	CHECK(compl_chain_shared_add(&R->chain, x) != 0);
	while (!atomic_load(&churn_stop)) {
		CHECK(compl_chain_shared_add(&R->chain, y) != 0);
		CHECK(compl_chain_shared_complete(x) == 0);
		CHECK(compl_chain_shared_add(&R->chain, x) != 0);
		CHECK(compl_chain_shared_complete(y) == 0);
	}
	CHECK(compl_chain_shared_complete(x) == 0);
	return NULL;
}

/*
 * A flush waits for the entries added before it, not for those added
 * after: with a thread that keeps two entries of its own in the chain
 * (each added anew as the other completes), a flush returns once the
 * entries there at its call have left.
 */
static void test_flush_ignores_later_adds(void **state)
{
	pthread_t t;

	(void)state;
	alarm(30);
	atomic_store(&churn_stop, false);
	t = start_thread(churn_two, &R->e[4]);
	sleep_ns(5 * MS);
	compl_chain_shared_flush(&R->chain);
	atomic_store(&churn_stop, true);
	join_thread(t);
	assert_true(compl_chain_shared_empty(&R->chain));
	alarm(0);
}

/* test_complete_waits_for_turn's complete: its result, -1 until it returns. */
static _Atomic int complete_rc;

static void *complete_note_rc(void *arg)
{
	atomic_store(&complete_rc, compl_chain_shared_complete(arg));
	return NULL;
}

/*
 * complete() of an entry whose turn has not come waits for it first: the
 * entry stays pending, in its place, until the entry ahead completes, and
 * the complete then returns 0.
 */
static void test_complete_waits_for_turn(void **state)
{
	struct compl_chain_shared_entry *a = &R->e[0], *b = &R->e[1];
	pthread_t t;

	(void)state;
	alarm(30);
	atomic_store(&complete_rc, -1);
	compl_chain_shared_add(&R->chain, a);
	compl_chain_shared_add(&R->chain, b);
	t = start_thread(complete_note_rc, b);
	sleep_ns(50 * MS); /* two checks of the turn's owner */
	assert_int_equal(atomic_load(&complete_rc), -1);
	assert_true(compl_chain_shared_pending(b));
	assert_int_equal(compl_chain_shared_complete(a), 0);
	join_thread(t);
	assert_int_equal(atomic_load(&complete_rc), 0);
	assert_false(compl_chain_shared_pending(b));
	assert_true(compl_chain_shared_empty(&R->chain));
	alarm(0);
}

/* Child of test_reap_closes_its_files: its failed checks, as its exit status. */
static int reap_with_stdin_closed(void)
{
	struct compl_chain_shared_entry *a = &R->e[0];
	pid_t parent = getppid();
	uint64_t start = proc_start_time(parent);
	int bad = 0, i;

	if (!start || close(0))
		return 100;
	for (i = 0; i < 4; i++) {
		compl_chain_shared_add(&R->chain, a);
		a->pid = parent; /* the live parent's entry, or (odd i) that of a dead one with its id */
		a->start = start + (uint64_t)(i & 1);
		errno = ENOENT;
		bad += compl_chain_shared_reap(&R->chain) != (i & 1);
		bad += fcntl(0, F_GETFD) != -1 || errno != EBADF;
		if (!(i & 1)) { /* withdraw the live one's as a dead one's */
			a->start = start + 1;
			bad += compl_chain_shared_reap(&R->chain) != 1;
		}
		bad += compl_chain_shared_pending(a);
	}
	return bad;
}

/*
 * The reads of /proc that tell a live owner from a dead one close what
 * they open, also when the file they get is descriptor 0 (stdin closed,
 * as in a daemon): in a child with stdin closed, reaps of an entry of its
 * live parent and of a dead process with the parent's id leave descriptor
 * 0 closed, and tell the two apart.
 */
static void test_reap_closes_its_files(void **state)
{
	pid_t pid;

	(void)state;
	alarm(30);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid)
		_exit(reap_with_stdin_closed());
	assert_int_equal(sr_reap(pid), 0);
	assert_true(compl_chain_shared_empty(&R->chain));
	alarm(0);
}

/*
 * Exec'd peers only: a forked peer whose main thread exits leaves the test
 * runner's memory, reachable from that thread's stack alone, to the leak
 * checkers (valgrind, LeakSanitizer) of the peer.
 */
#define MAPPED(fn)                                                                             \
	cmocka_unit_test_prestate_setup_teardown(fn, setup_region, teardown_region,           \
						 (void *)(uintptr_t)SR_MAPPED)

#define FORKED(fn)                                                                             \
	cmocka_unit_test_prestate_setup_teardown(fn, setup_region, teardown_region,           \
						 (void *)(uintptr_t)SR_FORK)

#define BOTH(fn)                                                                               \
	cmocka_unit_test_prestate_setup_teardown(fn, setup_region, teardown_region,           \
						 (void *)(uintptr_t)SR_FORK),                 \
		cmocka_unit_test_prestate_setup_teardown(fn, setup_region, teardown_region,   \
							 (void *)(uintptr_t)SR_MAPPED)

/* Every function of <cchain/shared.h> given NULL: misuse, and its documented return. */
static void test_null_arguments(void **state)
{
	struct compl_chain_shared chain;
	struct compl_chain_shared_entry e;

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_int_equal(compl_chain_shared_init(&chain), 0);
	assert_int_equal(compl_chain_shared_init(NULL), EINVAL);
	assert_null_misuse("compl_chain_shared_init", "chain");
	assert_int_equal(compl_chain_shared_destroy(NULL), EINVAL);
	assert_null_misuse("compl_chain_shared_destroy", "chain");
	assert_int_equal(compl_chain_shared_add(NULL, &e), 0);
	assert_null_misuse("compl_chain_shared_add", "chain");
	assert_false(compl_chain_shared_pending(&e)); /* untouched */
	assert_int_equal(compl_chain_shared_add(&chain, NULL), 0);
	assert_null_misuse("compl_chain_shared_add", "entry");
	assert_true(compl_chain_shared_empty(&chain));
	assert_int_equal(compl_chain_shared_wait(NULL), EINVAL);
	assert_null_misuse("compl_chain_shared_wait", "entry");
	assert_int_equal(compl_chain_shared_try_wait(NULL), EINVAL);
	assert_null_misuse("compl_chain_shared_try_wait", "entry");
	assert_int_equal(compl_chain_shared_wait_timeout(NULL, 1000), EINVAL);
	assert_null_misuse("compl_chain_shared_wait_timeout", "entry");
	assert_int_equal(compl_chain_shared_complete(NULL), EINVAL);
	assert_null_misuse("compl_chain_shared_complete", "entry");
	assert_int_equal(compl_chain_shared_cancel(NULL), EINVAL);
	assert_null_misuse("compl_chain_shared_cancel", "entry");
	assert_false(compl_chain_shared_pending(NULL));
	assert_null_misuse("compl_chain_shared_pending", "entry");
	compl_chain_shared_flush(NULL);
	assert_null_misuse("compl_chain_shared_flush", "chain");
	assert_false(compl_chain_shared_empty(NULL));
	assert_null_misuse("compl_chain_shared_empty", "chain");
	assert_int_equal(compl_chain_shared_reap(NULL), 0);
	assert_null_misuse("compl_chain_shared_reap", "chain");
	assert_int_equal(compl_chain_shared_inherited_from(NULL), 0);
	assert_null_misuse("compl_chain_shared_inherited_from", "entry");
	{
		struct compl_chain_shared_report r;

		assert_int_equal(compl_chain_shared_withdrawn(NULL, &r), EINVAL);
		assert_null_misuse("compl_chain_shared_withdrawn", "entry");
		assert_int_equal(compl_chain_shared_add(&chain, &e), 1);
		assert_int_equal(compl_chain_shared_withdrawn(&e, NULL), EINVAL);
		assert_null_misuse("compl_chain_shared_withdrawn", "report");
		assert_int_equal(compl_chain_shared_complete(&e), 0);
		assert_int_equal(compl_chain_shared_withdrawn(&e, &r), EINVAL); /* not pending */
		assert_int_equal(misuse_count, 1);
		misuse_count = 0;
	}
	/* The chain still works. */
	assert_int_equal(compl_chain_shared_add(&chain, &e), 2);
	assert_int_equal(compl_chain_shared_complete(&e), 0);
	assert_int_equal(compl_chain_shared_destroy(&chain), 0);
	assert_int_equal(misuse_count, 0);
}

/* No peer process: threads of this one (the mode does not matter). */
#define IN_PROCESS(fn)                                                                         \
	cmocka_unit_test_prestate_setup_teardown(fn, setup_region, teardown_region,           \
						 (void *)(uintptr_t)SR_FORK)

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_order),	  BOTH(test_semantics),	  BOTH(test_cancel_middle),
		BOTH(test_flush),	  BOTH(test_misuse),	  BOTH(test_dead_holder),
		BOTH(test_dead_waiter),	  BOTH(test_dead_unseen), BOTH(test_dead_orphan),
		BOTH(test_cancel_passes_report),
		MAPPED(test_leader_exited), BOTH(test_cancel_waiter),
		BOTH(test_reused_pid),	  FORKED(test_reused_pid_live), FORKED(test_many_dead_owners),
		FORKED(test_withdrawn_report), FORKED(test_withdrawn_passes_on),
		FORKED(test_withdrawn_many_pids), FORKED(test_withdrawn_told_then_dead),
		FORKED(test_withdrawn_redo),
		FORKED(test_reused_pid_foreign), FORKED(test_pid_reuse),
		FORKED(test_dead_adder_entry_reused), FORKED(test_dead_adder_orphan),
		FORKED(test_dead_holder_between_steps), FORKED(test_dead_completer_mid_step),
		FORKED(test_dead_completer_waiter_finishes), FORKED(test_dead_completer_after_step),
		FORKED(test_destroy_finishes_dead_step),
		FORKED(test_entry_readded_elsewhere), BOTH(test_dead_adder_takes_orphan),
		FORKED(test_hidden_proc), FORKED(test_hidden_proc_other_user),
		FORKED(test_stopped_holder), FORKED(test_hidden_holder),
		FORKED(test_unlock_wakes_lock_waiter),
		BOTH(test_dead_anywhere),
		IN_PROCESS(test_timeout_races_turn),
		IN_PROCESS(test_shared_try_wait_acquires),
		IN_PROCESS(test_shared_wait_timeout_acquires),
		IN_PROCESS(test_shared_empty_acquires),
		IN_PROCESS(test_shared_flush_acquires),
		IN_PROCESS(test_shared_cancel_releases),
		cmocka_unit_test_setup_teardown(test_init_misaligned, setup_recorder, restore_default),
		MAPPED(test_threads_of_one_process), IN_PROCESS(test_unlink_wakes_next),
		IN_PROCESS(test_flush_wakes_promptly), IN_PROCESS(test_signals_do_not_interrupt),
		IN_PROCESS(test_turn_races_sleep_mark), FORKED(test_reap_wakes_next),
		FORKED(test_redo_wakes_next), IN_PROCESS(test_waiter_sleeps),
		BOTH(test_flush_behind_dead), IN_PROCESS(test_flush_ignores_later_adds),
		IN_PROCESS(test_complete_waits_for_turn),
		IN_PROCESS(test_lock_contention),
		IN_PROCESS(test_reap_closes_its_files), BOTH(test_destroy_dead),
		cmocka_unit_test(test_private_fork),
		cmocka_unit_test_setup_teardown(test_null_arguments, setup_recorder,
						restore_default),
	};

	if (argc == 6 && !strcmp(argv[1], "--peer"))
		return sr_peer_main(argv, sizeof(*R), run_role);
	self_exe = sr_self_exe();
	R = sr_create(sizeof(*R), &region_fd);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
