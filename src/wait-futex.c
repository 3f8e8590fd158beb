// SPDX-License-Identifier: MIT
/*
 * Futex wait backend: one 32-bit state word per entry.
 *
 *   WAITING  -> the entry's turn has not come, nobody sleeps on it
 *   SLEEPING -> the turn has not come and the owner sleeps (or is about to)
 *   READY    -> the turn has come (final until the entry leaves the chain)
 *
 * The owner announces that it sleeps by moving WAITING to SLEEPING.  The
 * turn-giver, with the chain's lock held, exchanges READY in: its last
 * access to the entry.  Only if the old value was SLEEPING does it call
 * FUTEX_WAKE on the word's address, after releasing the lock (so the woken
 * owner never finds the lock taken).  Nobody makes a system call unless
 * somebody sleeps, and nobody ever waits for a turn-giver to finish waking.
 *
 * By the time FUTEX_WAKE is made, the owner may have seen READY, completed
 * and freed the entry, and the memory may hold something else.  The kernel
 * does not read or write the word for a private FUTEX_WAKE: it only looks
 * for threads sleeping on the address.  Any such thread is a spurious
 * wake-up, which every futex waiter must tolerate (the state word, not the
 * wake-up, is the truth); our own waiters recheck their word.  valgrind's
 * memcheck reports the freed address as a system call parameter:
 * valgrind/libcchain.supp suppresses that one report.
 *
 * Where the wake member is wider than the word (64-bit pointers), its other
 * half holds the thread id of the owner that announced its sleep, written
 * by that owner before it announces (release): compl_chain_dump() names the
 * thread of an entry whose word reads SLEEPING.  Only a sleeping owner pays
 * for it (one gettid() before it sleeps); nothing else reads or clears it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <urcu/futex.h>

/* Entries are private to the process: private futexes skip the page lookup. */
#ifndef FUTEX_PRIVATE_FLAG
#define FUTEX_PRIVATE_FLAG 128
#endif

#include "cchain-internal.h"

enum {
	CC_WAITING = 0,
	CC_SLEEPING = 1,
	CC_READY = 2,
};

static int32_t *futex_word(struct compl_chain_entry *entry)
{
	return (int32_t *)&entry->wake.state;
}

#if UINTPTR_MAX > 0xffffffffu
#define CC_SLEEPER_TID 1
/* The half of the wake member beside the futex word (which, as every union member, starts it). */
static uint32_t *sleeper_tid(struct compl_chain_entry *entry)
{
	return (uint32_t *)((char *)&entry->wake + sizeof(uint32_t));
}
#else
#define CC_SLEEPER_TID 0
#endif

const char *cchain_wait_backend(void)
{
	return "futex";
}

void cchain__wake_init(struct compl_chain_entry *entry, bool ready)
{
	cc_store_relaxed(&entry->wake.state, ready ? CC_READY : CC_WAITING);
}

struct compl_chain_entry *cchain__wake_turn(struct compl_chain_entry *head)
{
	uint32_t old;

	cc_happens_before(head);
	old = atomic_exchange_explicit(CC_ATOMIC(&head->wake.state), CC_READY,
				       memory_order_acq_rel); /* last access to @head */
	return old == CC_SLEEPING ? head : NULL;
}

void cchain__wake_finish(struct compl_chain_entry *head)
{
	/* @head may be freed by now: its address is named, never dereferenced. */
	if (futex_noasync(futex_word(head), FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL, NULL, 0) < 0 &&
	    errno != EFAULT)
		CC_DIE("futex(FUTEX_WAKE)", errno);
}

void cchain__wake_describe(struct compl_chain_entry *entry, bool locked, char *buf, size_t len)
{
	static const char *const names[] = { "waiting", "sleeping", "ready" };
	uint32_t s = cc_load_acquire(&entry->wake.state);

	(void)locked; /* the entry is read alike with the lock or without */
#if CC_SLEEPER_TID
	if (s == CC_SLEEPING) {
		snprintf(buf, len, "futex word sleeping (owner thread %u)",
			 (unsigned int)cc_load_relaxed(sleeper_tid(entry)));
		return;
	}
#endif
	if (s < 3)
		snprintf(buf, len, "futex word %s", names[s]);
	else
		snprintf(buf, len, "futex word CORRUPT (%u)", (unsigned int)s);
}

bool cchain__turn_ready(struct compl_chain_entry *entry)
{
	return cc_load_acquire(&entry->wake.state) == CC_READY;
}

/* Time left until @deadline in @rel; false when it has passed. */
static bool time_left(const struct timespec *deadline, struct timespec *rel)
{
	struct timespec now;

	if (clock_gettime(CLOCK_MONOTONIC, &now))
		CC_DIE("clock_gettime", errno);
	rel->tv_sec = deadline->tv_sec - now.tv_sec;
	rel->tv_nsec = deadline->tv_nsec - now.tv_nsec;
	if (rel->tv_nsec < 0) {
		rel->tv_nsec += 1000000000L;
		rel->tv_sec--;
	}
	return rel->tv_sec > 0 || (rel->tv_sec == 0 && rel->tv_nsec > 0);
}

int cchain__await_turn(struct compl_chain *chain, struct compl_chain_entry *entry,
		       const struct timespec *deadline)
{
	_Atomic uint32_t *state = CC_ATOMIC(&entry->wake.state);
	struct timespec rel;
	uint32_t cur;

	/* The caller checked the word, and spun on it within its budget. */
	(void)chain;
#if CC_SLEEPER_TID
	cc_store_relaxed(sleeper_tid(entry), (uint32_t)gettid());
#endif
	for (;;) {
		cur = CC_WAITING;
		/* Release: the thread id is seen by whoever sees SLEEPING (dump). */
		if (!atomic_compare_exchange_strong_explicit(
			    state, &cur, CC_SLEEPING, memory_order_acq_rel,
			    memory_order_acquire) &&
		    cur == CC_READY)
			return 0;
		if (deadline && !time_left(deadline, &rel))
			break;
		/* EINTR and spurious wake-ups: the state word is the truth. */
		wait_slept = true;
		if (futex_noasync(futex_word(entry), FUTEX_WAIT | FUTEX_PRIVATE_FLAG,
				  CC_SLEEPING,
				  deadline ? &rel : NULL, NULL, 0) < 0 &&
		    errno != EAGAIN && errno != EINTR && errno != ETIMEDOUT)
			CC_DIE("futex(FUTEX_WAIT)", errno);
		if (cchain__turn_ready(entry))
			return 0;
	}
	/*
	 * Timed out.  Take back the SLEEPING mark so that the next turn-giver
	 * skips FUTEX_WAKE; if the turn arrived meanwhile, the exchange fails
	 * on READY and the turn is ours.
	 */
	cur = CC_SLEEPING;
	if (!atomic_compare_exchange_strong_explicit(state, &cur, CC_WAITING,
						     memory_order_acquire,
						     memory_order_acquire) &&
	    cur == CC_READY)
		return 0;
	return ETIMEDOUT;
}

/*
 * A bounded window's room word (src/window.c): a futex on the word itself.
 * Spurious returns are the caller's to tolerate: it looks again.
 */
int cchain__word_wait(unsigned int *word, unsigned int val, const struct timespec *deadline)
{
	struct timespec rel;

	if (deadline && !time_left(deadline, &rel))
		return ETIMEDOUT;
	if (futex_noasync((int32_t *)word, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, (int32_t)val,
			  deadline ? &rel : NULL, NULL, 0) < 0) {
		if (errno == ETIMEDOUT)
			return ETIMEDOUT;
		if (errno != EAGAIN && errno != EINTR)
			CC_DIE("futex(FUTEX_WAIT)", errno);
	}
	return 0;
}

void cchain__word_wake(unsigned int *word, bool all)
{
	if (futex_noasync((int32_t *)word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, all ? INT32_MAX : 1,
			  NULL, NULL, 0) < 0)
		CC_DIE("futex(FUTEX_WAKE)", errno);
}
