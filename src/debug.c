// SPDX-License-Identifier: MIT
/*
 * Debug mode (CCHAIN_DEBUG=1): a table of the pending entries of private
 * chains, kept beside them, since struct compl_chain_entry's layout is ABI.
 *
 * An entry is recorded, with its chain, by compl_chain_add() before it is
 * linked, and dropped when it leaves the library, before its back pointer
 * is cleared (so that once compl_chain_pending() is false the entry may be
 * added again at once without a false report).  The calls that take an
 * entry look it up first: one that is not recorded but has a back pointer
 * was never added, or was freed and its memory reused; one that is recorded
 * with another back pointer was overwritten while pending.
 *
 * The table is open addressing with linear probing, keyed by the entry's
 * address, under its own mutex (taken with no other lock of the library
 * held, or inside a chain's lock: never the other way round).  It grows
 * when half full and is never freed.  Off, the library pays one relaxed
 * load and a predictable branch per check (cc_debug()).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cchain-internal.h"

/* The tag bits of a back pointer (CC_DEFERRED, CC_NOTIFY in compl_chain.c). */
#define BACK_TAGS ((uintptr_t)3)

_Atomic unsigned int cchain__debug = CC_DEBUG_UNREAD;

struct slot {
	const struct compl_chain_entry *entry; /* NULL: free */
	const struct compl_chain *chain;
};

static pthread_once_t debug_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot *table;
static size_t capacity, count; /* capacity: a power of two, or 0 */

static void table_lock_take(void)
{
	CC_MUTEX_LOCK(&table_lock);
}

static void table_lock_drop(void)
{
	CC_MUTEX_UNLOCK(&table_lock);
}

/* fork(): the child gets the table consistent, and its lock free. */
static void at_fork_prepare(void)
{
	table_lock_take();
}

static void at_fork_release(void)
{
	table_lock_drop();
}

static void read_env(void)
{
	const char *env = getenv("CCHAIN_DEBUG");
	unsigned int mode = CC_DEBUG_OFF;

	if (env && !strcmp(env, "1")) {
		mode = CC_DEBUG_ON;
		pthread_atfork(at_fork_prepare, at_fork_release, at_fork_release);
	} else if (env && strcmp(env, "0")) {
		fprintf(stderr, "libcchain: CCHAIN_DEBUG=\"%.40s%s\" ignored (0 or 1), "
				"debug mode off\n", env, strlen(env) > 40 ? "..." : "");
	}
	atomic_store_explicit(&cchain__debug, mode, memory_order_release);
}

bool cchain__debug_init(void)
{
	pthread_once(&debug_once, read_env);
	return atomic_load_explicit(&cchain__debug, memory_order_acquire) == CC_DEBUG_ON;
}

static size_t hash(const struct compl_chain_entry *entry)
{
	uint64_t h = (uint64_t)(uintptr_t)entry * 0x9e3779b97f4a7c15u;

	return (size_t)(h >> 32);
}

/* @entry's slot, or the free slot where it would go.  Lock held, capacity > 0. */
static size_t find(const struct compl_chain_entry *entry)
{
	size_t mask = capacity - 1, i;

	for (i = hash(entry) & mask; table[i].entry && table[i].entry != entry; i = (i + 1) & mask)
		;
	return i;
}

/* Double the table (or make the first one).  Lock held. */
static void grow(void)
{
	struct slot *old = table;
	size_t old_capacity = capacity, i;

	capacity = capacity ? capacity * 2 : 256;
	table = calloc(capacity, sizeof(*table));
	if (!table)
		CC_DIE("calloc (CCHAIN_DEBUG's table)", ENOMEM);
	for (i = 0; i < old_capacity; i++)
		if (old[i].entry)
			table[find(old[i].entry)] = old[i];
	free(old);
}

bool cchain__debug_add(struct compl_chain *chain, struct compl_chain_entry *entry,
		       const char *func)
{
	const struct compl_chain *added = NULL;
	char msg[200];
	size_t i;

	table_lock_take();
	if ((count + 1) * 2 > capacity)
		grow();
	i = find(entry);
	if (table[i].entry) {
		added = table[i].chain;
	} else {
		table[i].entry = entry;
		table[i].chain = chain;
		count++;
	}
	table_lock_drop();
	if (!added)
		return true;
	snprintf(msg, sizeof(msg), "entry is already pending (added to chain %p, not "
		 "completed or cancelled): re-adding it is undefined", (const void *)added);
	cchain__misuse(func, msg);
	return false;
}

bool cchain__debug_check(const struct compl_chain_entry *entry, const char *func)
{
	const struct compl_chain *chain = NULL;
	uintptr_t back;
	char msg[240];
	size_t i;

	table_lock_take();
	if (capacity) {
		i = find(entry);
		chain = table[i].chain;
	}
	back = (uintptr_t)cc_load_acquire(&entry->chain);
	table_lock_drop();
	if (chain && (back & ~BACK_TAGS) == (uintptr_t)chain)
		return true;
	if (!chain && !back)
		return true; /* not pending, as the library left it: the caller says so */
	if (chain)
		snprintf(msg, sizeof(msg), "entry was overwritten while pending (freed and "
			 "reused?): back pointer %#jx, added to chain %p",
			 (uintmax_t)back, (const void *)chain);
	else
		snprintf(msg, sizeof(msg), "not an entry of this library, or freed: no pending "
			 "entry at this address (back pointer %#jx)", (uintmax_t)back);
	cchain__misuse(func, msg);
	return false;
}

void cchain__debug_forget(const struct compl_chain_entry *entry)
{
	size_t mask, i, j, home;

	table_lock_take();
	i = capacity ? find(entry) : 0;
	if (!capacity || !table[i].entry) {
		table_lock_drop();
		return;
	}
	/* Backward-shift deletion: no tombstones. */
	mask = capacity - 1;
	for (j = (i + 1) & mask; table[j].entry; j = (j + 1) & mask) {
		home = hash(table[j].entry) & mask;
		/* Move j into the hole at i unless its home lies in (i, j]. */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			table[i] = table[j];
			i = j;
		}
	}
	table[i].entry = NULL;
	table[i].chain = NULL;
	count--;
	table_lock_drop();
}
