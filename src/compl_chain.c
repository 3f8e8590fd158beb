// SPDX-License-Identifier: MIT
/*
 * The chain itself: a FIFO of entries under a mutex, as in the kernel.  The
 * head is the entry whose turn it is; only the head leaves by completing,
 * any entry may leave by cancelling.  How owners sleep until their entry
 * becomes the head is the wait backend's business.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
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
	cc_atomic_var(&entry->chain);
	cc_atomic_var(&entry->wake.state);
	cc_atomic_var(&chain->head);
	cc_atomic_var(&chain->tail);
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
		if (next)
			cc_happens_before(next);
		else
			cc_happens_before(&chain->head);
		cc_store_release(&chain->head, next);
		if (next)
			cchain__wake_turn(chain, next);
	}
	cc_happens_before(entry);
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

/* The turn of @entry has come: what its predecessors did is visible. */
static void got_turn(struct compl_chain_entry *entry)
{
	cc_happens_after(entry);
}

void compl_chain_wait(struct compl_chain_entry *entry)
{
	struct compl_chain *chain = pending_chain(entry, __func__);

	if (chain) {
		cchain__await_turn(chain, entry, NULL);
		got_turn(entry);
	}
}

void compl_chain_complete(struct compl_chain_entry *entry)
{
	struct compl_chain *chain = pending_chain(entry, __func__);

	if (!chain)
		return;
	cchain__await_turn(chain, entry, NULL);
	got_turn(entry);
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
	if (cc_load_acquire(&entry->chain))
		return true;
	cc_happens_after(entry);
	return false;
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

	if (!chain || !cchain__turn_ready(chain, entry))
		return false;
	got_turn(entry);
	return true;
}

int compl_chain_wait_timeout(struct compl_chain_entry *entry, uint64_t timeout_ns)
{
	struct compl_chain *chain = pending_chain(entry, __func__);
	struct timespec deadline;
	uint64_t sec;

	if (!chain)
		return EINVAL;
	if (cchain__turn_ready(chain, entry)) {
		got_turn(entry);
		return 0;
	}
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
	if (sec > (uint64_t)(INT64_MAX - deadline.tv_sec)) {
		cchain__await_turn(chain, entry, NULL);
		got_turn(entry);
		return 0;
	}
	deadline.tv_sec += (time_t)sec;
	if (cchain__await_turn(chain, entry, &deadline))
		return ETIMEDOUT;
	got_turn(entry);
	return 0;
}

bool compl_chain_empty(struct compl_chain *chain)
{
	if (cc_load_acquire(&chain->head))
		return false;
	cc_happens_after(&chain->head);
	return true;
}

void compl_chain_dump(struct compl_chain *chain, FILE *out)
{
	struct compl_chain_entry *e;
	struct timespec pause = { 0, 1000000 };
	bool locked = false;
	unsigned long n = 0;
	char state[64];
	int i;

	for (i = 0; i < 100 && !locked; i++) {
		locked = pthread_mutex_trylock(&chain->lock) == 0;
		if (!locked)
			nanosleep(&pause, NULL);
	}
	for (e = cc_load_relaxed(&chain->head); e; e = e->next)
		n++;
	fprintf(out, "compl_chain %p: %lu entries, head %p, tail %p%s\n", (void *)chain, n,
		(void *)cc_load_relaxed(&chain->head), (void *)cc_load_relaxed(&chain->tail),
		locked ? "" : " (lock held elsewhere: read without it)");
	n = 0;
	for (e = cc_load_relaxed(&chain->head); e; e = e->next) {
		cchain__wake_describe(chain, e, state, sizeof(state));
		fprintf(out, "  #%lu entry %p: %s%s\n", n++, (void *)e, state,
			cc_load_relaxed(&e->chain) == chain ? "" : ", BAD back pointer");
	}
	if (locked)
		cchain__unlock(chain);
}
