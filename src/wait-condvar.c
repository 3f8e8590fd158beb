// SPDX-License-Identifier: MIT
/*
 * Portable wait backend: the chain's mutex and one condition variable per
 * sleeping owner, living on that owner's stack.  An entry's turn has come
 * when it is the head of the chain.  A sleeping owner publishes its
 * condition variable in the entry; the turn-giver signals exactly that one
 * (never a broadcast), with the lock held so the waiter's stack frame is
 * still there.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "cchain-internal.h"

struct parker {
	pthread_cond_t cond;
};

const char *cchain_wait_backend(void)
{
	return "condvar";
}

void cchain__wake_init(struct compl_chain_entry *entry, bool ready)
{
	(void)ready;
	entry->wake.waiter = NULL;
}

struct compl_chain_entry *cchain__wake_turn(struct compl_chain *chain,
					    struct compl_chain_entry *head)
{
	struct parker *parker = head->wake.waiter;
	int err;

	(void)chain;
	if (parker && (err = pthread_cond_signal(&parker->cond)))
		CC_DIE("pthread_cond_signal", err);
	return NULL; /* signalled with the lock held: nothing left to do */
}

void cchain__wake_finish(struct compl_chain_entry *head)
{
	(void)head;
}

/* The woken owner retook the lock before leaving its wait: nothing in flight. */
void cchain__settle(struct compl_chain_entry *entry)
{
	(void)entry;
}

/* The head's turn has come unless a deferred function holds it. */
static bool is_turn(struct compl_chain *chain, struct compl_chain_entry *entry)
{
	return cc_load_acquire(&chain->head) == entry && !cc_load_acquire(&chain->busy);
}

bool cchain__turn_ready(struct compl_chain *chain, struct compl_chain_entry *entry)
{
	return is_turn(chain, entry);
}

void cchain__wake_describe(struct compl_chain *chain, struct compl_chain_entry *entry,
			   char *buf, size_t len)
{
	snprintf(buf, len, "%s, %s", is_turn(chain, entry) ? "ready" : "waiting",
		 entry->wake.waiter ? "owner sleeping" : "owner not sleeping");
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

	if (cchain__turn_ready(chain, entry))
		return 0;
	parker_init(&parker);
	cchain__lock(chain);
	entry->wake.waiter = &parker;
	while (!is_turn(chain, entry)) {
		if (!deadline) {
			err = pthread_cond_wait(&parker.cond, &chain->lock);
		} else {
			err = pthread_cond_timedwait(&parker.cond, &chain->lock,
						     deadline);
			/* Recheck after a timeout: a turn given meanwhile wins. */
			if (err == ETIMEDOUT) {
				if (!is_turn(chain, entry))
					ret = ETIMEDOUT;
				break;
			}
		}
		if (err)
			CC_DIE("pthread_cond_wait", err);
	}
	entry->wake.waiter = NULL;
	cchain__unlock(chain);
	if ((err = pthread_cond_destroy(&parker.cond)))
		CC_DIE("pthread_cond_destroy", err);
	return ret;
}
