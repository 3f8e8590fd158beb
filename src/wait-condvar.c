// SPDX-License-Identifier: MIT
/*
 * Portable wait backend: the chain's mutex and one condition variable per
 * sleeping owner, living on that owner's stack.  The entry's wake member
 * holds NULL (the turn has not come, nobody sleeps), the sleeping owner's
 * parker (with its thread id, for compl_chain_dump()), or CC_TURN (the turn
 * has come; final until the entry leaves).
 * The turn-giver, with the lock held, signals the parker if there is one
 * (exactly that one, never a broadcast; the lock keeps the sleeper's stack
 * frame there), then stores CC_TURN: its last access to the entry, whose
 * owner may from then on complete it without the lock, and free it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cchain-internal.h"

struct parker {
	pthread_cond_t cond;
	pid_t tid; /* the sleeping owner's thread, for compl_chain_dump() */
};

const char *cchain_wait_backend(void)
{
	return "condvar";
}

static char turn_token;
#define CC_TURN ((void *)&turn_token)

void cchain__wake_init(struct compl_chain_entry *entry, bool ready)
{
	cc_store_relaxed(&entry->wake.waiter, ready ? CC_TURN : NULL);
}

struct compl_chain_entry *cchain__wake_turn(struct compl_chain_entry *head)
{
	struct parker *parker = cc_load_relaxed(&head->wake.waiter);
	int err;

	if (parker && parker != CC_TURN && (err = pthread_cond_signal(&parker->cond)))
		CC_DIE("pthread_cond_signal", err);
	cc_store_release(&head->wake.waiter, CC_TURN); /* last access to @head */
	return NULL; /* signalled with the lock held: nothing left to do */
}

void cchain__wake_finish(struct compl_chain_entry *head)
{
	(void)head;
}

bool cchain__turn_ready(struct compl_chain_entry *entry)
{
	return cc_load_acquire(&entry->wake.waiter) == CC_TURN;
}

void cchain__wake_describe(struct compl_chain_entry *entry, bool locked, char *buf, size_t len)
{
	struct parker *parker = cc_load_relaxed(&entry->wake.waiter);

	/* A parker lives on its sleeper's stack: read only with the lock held. */
	if (parker && parker != CC_TURN && locked)
		snprintf(buf, len, "waiting, owner sleeping (owner thread %ld)", (long)parker->tid);
	else
		snprintf(buf, len, "%s", parker == CC_TURN ? "ready" :
					 parker ? "waiting, owner sleeping" :
						  "waiting, owner not sleeping");
}

static void parker_init(struct parker *parker)
{
	pthread_condattr_t attr;
	int err;

	if ((err = pthread_condattr_init(&attr)))
		CC_DIE("pthread_condattr_init", err);
	if ((err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)))
		CC_DIE("pthread_condattr_setclock", err);
	if ((err = pthread_cond_init(&parker->cond, &attr)))
		CC_DIE("pthread_cond_init", err);
	pthread_condattr_destroy(&attr);
}

int cchain__await_turn(struct compl_chain *chain, struct compl_chain_entry *entry,
		       const struct timespec *deadline)
{
	struct parker parker;
	int ret = 0, err;

	if (cchain__turn_ready(entry))
		return 0;
	parker_init(&parker);
	parker.tid = gettid();
	cchain__lock(chain);
	while (!cchain__turn_ready(entry)) {
		cc_store_relaxed(&entry->wake.waiter, (void *)&parker);
		wait_slept = true;
		if (!deadline) {
			err = pthread_cond_wait(&parker.cond, &chain->lock);
		} else {
			err = pthread_cond_timedwait(&parker.cond, &chain->lock,
						     deadline);
			/* Recheck after a timeout: a turn given meanwhile wins. */
			if (err == ETIMEDOUT) {
				if (!cchain__turn_ready(entry)) {
					cc_store_relaxed(&entry->wake.waiter, NULL);
					ret = ETIMEDOUT;
				}
				break;
			}
		}
		if (err)
			CC_DIE("pthread_cond_wait", err);
	}
	cchain__unlock(chain);
	if ((err = pthread_cond_destroy(&parker.cond)))
		CC_DIE("pthread_cond_destroy", err);
	return ret;
}

/*
 * A bounded window's room word (src/window.c), as a futex would treat it:
 * sleepers of a word share one of a few condition variables (by address),
 * each with its own mutex; a waker takes that mutex before it broadcasts,
 * so a sleeper that saw the old value is in its wait, or sees the new one.
 * Waking every sleeper of the bucket is allowed: the caller looks again.
 */
#define CC_WORD_BUCKETS 64u

static struct word_bucket {
	pthread_mutex_t lock;
	pthread_cond_t cond;
} word_buckets[CC_WORD_BUCKETS];

static pthread_once_t word_once = PTHREAD_ONCE_INIT;

static void word_buckets_init(void)
{
	pthread_condattr_t attr;
	unsigned int i;
	int err;

	if ((err = pthread_condattr_init(&attr)))
		CC_DIE("pthread_condattr_init", err);
	if ((err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)))
		CC_DIE("pthread_condattr_setclock", err);
	for (i = 0; i < CC_WORD_BUCKETS; i++) {
		if ((err = pthread_mutex_init(&word_buckets[i].lock, NULL)))
			CC_DIE("pthread_mutex_init", err);
		if ((err = pthread_cond_init(&word_buckets[i].cond, &attr)))
			CC_DIE("pthread_cond_init", err);
	}
	pthread_condattr_destroy(&attr);
}

static struct word_bucket *word_bucket(unsigned int *word)
{
	int err = pthread_once(&word_once, word_buckets_init);

	if (err)
		CC_DIE("pthread_once", err);
	return &word_buckets[((uintptr_t)word >> 4) % CC_WORD_BUCKETS];
}

int cchain__word_wait(unsigned int *word, unsigned int val, const struct timespec *deadline)
{
	struct word_bucket *b = word_bucket(word);
	int err = 0;

	CC_MUTEX_LOCK(&b->lock);
	if (cc_load_relaxed(word) == val) {
		err = deadline ? pthread_cond_timedwait(&b->cond, &b->lock, deadline) :
				 pthread_cond_wait(&b->cond, &b->lock);
		if (err && err != ETIMEDOUT)
			CC_DIE("pthread_cond_wait", err);
	}
	CC_MUTEX_UNLOCK(&b->lock);
	return err;
}

void cchain__word_wake(unsigned int *word, bool all)
{
	struct word_bucket *b = word_bucket(word);
	int err;

	(void)all; /* a broadcast wakes every sleeper of the bucket anyway */
	CC_MUTEX_LOCK(&b->lock);
	err = pthread_cond_broadcast(&b->cond);
	CC_MUTEX_UNLOCK(&b->lock);
	if (err)
		CC_DIE("pthread_cond_broadcast", err);
}
