// SPDX-License-Identifier: MIT
/*
 * Per-chain statistics: switching them on and off, and reading them.  The
 * hooks that count are in compl_chain.c, with the table in stats.h.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "stats.h"

_Atomic unsigned int cchain__stats_on;
const struct compl_chain *_Atomic cchain__stats_keys[CC_STATS_SLOTS];
struct cc_stats cchain__stats_records[CC_STATS_SLOTS];

/* Serialises the writers of the table. */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static void table_lock_take(void)
{
	CC_MUTEX_LOCK(&table_lock);
}

static void table_lock_drop(void)
{
	CC_MUTEX_UNLOCK(&table_lock);
}

/* @chain's slot, or -1, probing from slot @first on (linear probing). */
static int find_slot(const struct compl_chain *chain, unsigned int first)
{
	unsigned int i, n;

	for (i = first, n = 0; n < CC_STATS_SLOTS; i = (i + 1) % CC_STATS_SLOTS, n++) {
		const struct compl_chain *key =
			atomic_load_explicit(&cchain__stats_keys[i], memory_order_acquire);

		if (key == chain)
			return (int)i;
		if (!key)
			return -1;
	}
	return -1;
}

struct cc_stats *cchain__stats_probe(const struct compl_chain *chain, unsigned int first)
{
	int i = find_slot(chain, first);

	return i < 0 ? NULL : &cchain__stats_records[i];
}

int compl_chain_stats_enable(struct compl_chain *chain)
{
	unsigned int i, n;

	if (CC_NULL_ARG(chain, "chain", __func__))
		return EINVAL;
	table_lock_take();
	if (find_slot(chain, cc_stats_hash(chain)) >= 0) {
		table_lock_drop();
		return 0;
	}
	for (i = cc_stats_hash(chain), n = 0; n < CC_STATS_SLOTS;
	     i = (i + 1) % CC_STATS_SLOTS, n++) {
		const struct compl_chain *key = atomic_load(&cchain__stats_keys[i]);

		if (!key || key == CC_STATS_GONE)
			break;
	}
	if (n == CC_STATS_SLOTS) {
		table_lock_drop();
		return ENOSPC;
	}
	/* Nobody uses the record of a free slot. */
	memset(&cchain__stats_records[i], 0, sizeof(cchain__stats_records[i]));
	atomic_store_explicit(&cchain__stats_keys[i], chain, memory_order_release);
	atomic_fetch_add(&cchain__stats_on, 1u);
	table_lock_drop();
	return 0;
}

void cchain__stats_forget(const struct compl_chain *chain)
{
	int i;

	table_lock_take();
	i = find_slot(chain, cc_stats_hash(chain));
	if (i >= 0) {
		atomic_store(&cchain__stats_keys[i], CC_STATS_GONE);
		atomic_fetch_sub(&cchain__stats_on, 1u);
	}
	table_lock_drop();
}

void compl_chain_stats_disable(struct compl_chain *chain)
{
	if (CC_NULL_ARG(chain, "chain", __func__))
		return;
	cchain__stats_forget(chain);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		CC_DIE("clock_gettime", errno);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int compl_chain_get_stats(struct compl_chain *chain, struct compl_chain_stats *out)
{
	struct cc_stats *st;
	const struct compl_chain_entry *head;
	uint64_t now, listed;
	unsigned int busy;

	if (CC_NULL_ARG(chain, "chain", __func__) || CC_NULL_ARG(out, "stats", __func__))
		return EINVAL;
	st = cc_stats_of(chain);
	if (!st)
		return ENOENT;
	memset(out, 0, sizeof(*out));
	cchain__lock(chain);
	head = cc_load_acquire(&chain->head);
	busy = cc_load_relaxed(&chain->busy);
	out->completes = cc_load_relaxed(&st->completes);
	out->cancels = st->cancels;
	out->deferred_runs = st->deferred_runs;
	/* Entries taken off for a deferred run stay pending until they run. */
	listed = head ? (st->len ? st->len : 1) : 0;
	out->entries = listed + (busy > 1 ? busy - 1 : 0);
	out->adds = out->completes + out->cancels + out->deferred_runs + listed;
	out->max_entries = st->max_entries;
	if (out->max_entries < out->entries)
		out->max_entries = st->max_entries = out->entries;
	/* A lock-free add fills an empty chain: one entry at least, uncounted. */
	if (out->max_entries < 1 && out->adds)
		out->max_entries = st->max_entries = 1;
	out->waits = atomic_load_explicit(&st->waits, memory_order_relaxed);
	out->waits_slept = atomic_load_explicit(&st->waits_slept, memory_order_relaxed);
	out->wait_ns_total = atomic_load_explicit(&st->wait_ns_total, memory_order_relaxed);
	out->wait_ns_max = atomic_load_explicit(&st->wait_ns_max, memory_order_relaxed);
	if (head || busy) {
		now = now_ns();
		if (!busy && (head != st->turn_head || cc_stats_gen(st) != st->turn_gen)) {
			/* The head got the turn untimed (a lock-free add): from now on. */
			st->turn_head = head;
			st->turn_gen = cc_stats_gen(st);
			st->turn_since = now;
			st->turn_exact = false;
		}
		out->head_age_ns = now - st->turn_since;
		out->head_age_exact = st->turn_exact;
	}
	cchain__unlock(chain);
	return 0;
}
