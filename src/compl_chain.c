// SPDX-License-Identifier: MIT
/*
 * The chain itself: a FIFO of entries under a mutex, as in the kernel.  The
 * head is the entry whose turn it is; only the head leaves by completing,
 * any entry may leave by cancelling.  How owners sleep until their entry
 * becomes the head is the wait backend's business.
 */
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "cchain-internal.h"

void cchain__lock(struct compl_chain *chain)
{
	int err = pthread_mutex_lock(&chain->lock);

	if (err)
		CC_DIE("pthread_mutex_lock", err);
}

void cchain__unlock(struct compl_chain *chain)
{
	int err = pthread_mutex_unlock(&chain->lock);

	if (err)
		CC_DIE("pthread_mutex_unlock", err);
}

void compl_chain_init(struct compl_chain *chain)
{
	int err = pthread_mutex_init(&chain->lock, NULL);

	if (err)
		CC_DIE("pthread_mutex_init", err);
	cc_store_relaxed(&chain->head, NULL);
	cc_store_relaxed(&chain->tail, NULL);
}

void compl_chain_destroy(struct compl_chain *chain)
{
	int err;

	cchain__lock(chain);
	if (chain->head) {
		cchain__unlock(chain);
		cchain__misuse(__func__, "chain is not empty");
		return;
	}
	cchain__unlock(chain);
	err = pthread_mutex_destroy(&chain->lock);
	if (err)
		CC_DIE("pthread_mutex_destroy", err);
}

void compl_chain_add(struct compl_chain *chain, struct compl_chain_entry *entry)
{
	struct compl_chain_entry *tail;

	/* Every member is written before it is read: @entry may be garbage. */
	entry->next = NULL;
	cchain__lock(chain);
	tail = chain->tail;
	entry->prev = tail;
	cchain__wake_init(entry, tail == NULL);
	cc_store_release(&entry->chain, chain);
	if (tail)
		tail->next = entry;
	else
		cc_store_release(&chain->head, entry);
	cc_store_relaxed(&chain->tail, entry);
	cchain__unlock(chain);
}

/*
 * Unlink @entry (lock held) and, if it was the head, give the turn to the
 * new head.  Clearing the back pointer is the last access to @entry: from
 * then on its owner may free it.
 */
static void unlink_entry(struct compl_chain *chain, struct compl_chain_entry *entry)
{
	struct compl_chain_entry *next = entry->next;
	struct compl_chain_entry *prev = entry->prev;

	if (next)
		next->prev = prev;
	else
		cc_store_relaxed(&chain->tail, prev);
	if (prev) {
		prev->next = next;
	} else {
		cc_store_release(&chain->head, next);
		if (next)
			cchain__wake_turn(chain, next);
	}
	cc_store_release(&entry->chain, NULL);
}

/* The entry's chain, or NULL after reporting misuse on behalf of @func. */
static struct compl_chain *pending_chain(const struct compl_chain_entry *entry,
					 const char *func)
{
	struct compl_chain *chain = cc_load_acquire(&entry->chain);

	if (!chain)
		cchain__misuse(func, "entry is not pending (never added, "
				     "already completed or cancelled)");
	return chain;
}

void compl_chain_wait(struct compl_chain_entry *entry)
{
	struct compl_chain *chain = pending_chain(entry, __func__);

	if (chain)
		cchain__await_turn(chain, entry, NULL);
}

void compl_chain_complete(struct compl_chain_entry *entry)
{
	struct compl_chain *chain = pending_chain(entry, __func__);

	if (!chain)
		return;
	cchain__await_turn(chain, entry, NULL);
	cchain__lock(chain);
	unlink_entry(chain, entry);
	cchain__unlock(chain);
}

void compl_chain_cancel(struct compl_chain_entry *entry)
{
	struct compl_chain *chain = pending_chain(entry, __func__);

	if (!chain)
		return;
	cchain__lock(chain);
	unlink_entry(chain, entry);
	cchain__unlock(chain);
}

bool compl_chain_pending(const struct compl_chain_entry *entry)
{
	return cc_load_acquire(&entry->chain) != NULL;
}

void compl_chain_flush(struct compl_chain *chain)
{
	struct compl_chain_entry barrier;

	compl_chain_add(chain, &barrier);
	compl_chain_complete(&barrier);
}

bool compl_chain_try_wait(struct compl_chain_entry *entry)
{
	struct compl_chain *chain = pending_chain(entry, __func__);

	return chain && cchain__turn_ready(chain, entry);
}

int compl_chain_wait_timeout(struct compl_chain_entry *entry, uint64_t timeout_ns)
{
	struct compl_chain *chain = pending_chain(entry, __func__);
	struct timespec deadline;
	uint64_t sec;

	if (!chain)
		return EINVAL;
	if (cchain__turn_ready(chain, entry))
		return 0;
	if (timeout_ns == 0)
		return ETIMEDOUT;
	if (clock_gettime(CLOCK_MONOTONIC, &deadline))
		CC_DIE("clock_gettime", errno);
	sec = timeout_ns / 1000000000u;
	deadline.tv_nsec += (long)(timeout_ns % 1000000000u);
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_nsec -= 1000000000L;
		sec++;
	}
	/* Saturate: a timeout of centuries means "no timeout". */
	if (sec > (uint64_t)(INT64_MAX - deadline.tv_sec))
		return cchain__await_turn(chain, entry, NULL);
	deadline.tv_sec += (time_t)sec;
	return cchain__await_turn(chain, entry, &deadline);
}

bool compl_chain_empty(struct compl_chain *chain)
{
	return cc_load_acquire(&chain->head) == NULL;
}
