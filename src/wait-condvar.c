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
