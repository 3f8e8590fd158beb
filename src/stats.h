/* SPDX-License-Identifier: MIT */
/*
 * Per-chain statistics (compl_chain_stats_enable()), kept outside struct
 * compl_chain, whose layout is ABI: a table of up to CC_STATS_SLOTS records
 * keyed by the chain's address, open addressing, read without a lock.
 *
 * Cost: while no chain has statistics on, each hook is one relaxed load of
 * cchain__stats_on and a branch.  While some chain has them, each hook looks
 * its chain up (a hash, usually one slot).  The uncontended cycle has one
 * hook, in complete: a plain load-and-store increment, no read-modify-write
 * and no clock, as completes are serialised by the turn.  The lock-free
 * add is not counted at all: adds are derived (completes + cancels +
 * deferred runs + entries now).  Counters written with the chain's lock
 * held, or by concurrent waiters (atomic read-modify-writes), are on slower
 * paths.
 *
 * The table's keys are written with the table's own lock (stats.c); a
 * record is reused only after its chain's statistics are switched off,
 * which the caller does while nobody uses that chain, so a hook only ever
 * touches its own chain's record.
 */
#ifndef CCHAIN_STATS_H
#define CCHAIN_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "cchain-internal.h"

struct cc_stats {
	/* By the turn's holder, before it leaves: load and store, relaxed. */
	uint64_t completes;
	/* With the chain's lock held. */
	uint64_t cancels, head_cancels, deferred_runs, max_entries;
	/*
	 * Entries in the list, as the locked paths see it: lock-free adds and
	 * completes do not count.  A lock-free add only fills an empty chain,
	 * so its entry is the first one; an add under the lock to a non-empty
	 * list whose len is 0 counts that entry then.  A lock-free complete
	 * only empties a chain of one entry, leaving len at 1 or 0 for an
	 * empty list; the next add under the lock to an empty list resets it.
	 * So: an empty list (no head) holds 0 entries, else max(len, 1).
	 */
	uint64_t len;
	/*
	 * The last turn change the library timed: the head then, the turn
	 * generation (completes + head_cancels) then, and when.  exact is
	 * false when the time is only when the head was first seen.
	 */
	const struct compl_chain_entry *turn_head;
	uint64_t turn_gen, turn_since;
	bool turn_exact;
	/* Waits whose turn had not come, from concurrent waiters. */
	_Atomic uint64_t waits, waits_slept, wait_ns_total, wait_ns_max;
};

#define CC_STATS_SLOTS 64u
/* A key whose chain's statistics were switched off: probing goes on. */
#define CC_STATS_GONE ((const struct compl_chain *)1)

extern _Atomic unsigned int cchain__stats_on;
extern const struct compl_chain *_Atomic cchain__stats_keys[CC_STATS_SLOTS];
extern struct cc_stats cchain__stats_records[CC_STATS_SLOTS];

/* The first slot to try: chains are at least 64 bytes apart (as a rule). */
static inline unsigned int cc_stats_hash(const struct compl_chain *chain)
{
	return (unsigned int)((uintptr_t)chain / 64) % CC_STATS_SLOTS;
}

struct cc_stats *cchain__stats_probe(const struct compl_chain *chain, unsigned int first);

/* @chain's record if its statistics are on, else NULL. */
static inline struct cc_stats *cc_stats_of(const struct compl_chain *chain)
{
	unsigned int i;

	if (__builtin_expect(!atomic_load_explicit(&cchain__stats_on, memory_order_relaxed), 1))
		return NULL;
	i = cc_stats_hash(chain);
	if (__builtin_expect(atomic_load_explicit(&cchain__stats_keys[i],
						  memory_order_acquire) == chain, 1))
		return &cchain__stats_records[i];
	return cchain__stats_probe(chain, i);
}

/* Increment a counter that has one writer at a time. */
#define cc_stats_bump(p) cc_store_relaxed((p), cc_load_relaxed(p) + 1)

static inline uint64_t cc_stats_gen(struct cc_stats *st)
{
	return cc_load_relaxed(&st->completes) + st->head_cancels;
}

/* Switch @chain's statistics off, if on (compl_chain_destroy()). */
void cchain__stats_forget(const struct compl_chain *chain);

#endif /* CCHAIN_STATS_H */
