/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Ordered completion chains.
 *
 * Tasks run concurrently, but one step of each must happen in the order the
 * tasks were added to a chain.  Each task embeds a struct compl_chain_entry,
 * adds it to the chain when it is submitted, calls compl_chain_wait() before
 * its ordered step and compl_chain_complete() after it.
 *
 * Besides the core calls (compl_chain_init(), compl_chain_add(),
 * compl_chain_wait(), compl_chain_complete(), compl_chain_pending(),
 * compl_chain_flush()) a task that failed before its ordered step may
 * withdraw with compl_chain_cancel(), an owner may poll with
 * compl_chain_try_wait() or wait with a timeout or killably, and an owner
 * that must not block may hand its ordered step over as a function with
 * compl_chain_defer().
 *
 * Misuse (waiting on, completing or cancelling an entry that is not in a
 * chain, or a call that could only wait for itself) triggers a
 * WARN_ON_ONCE() and the call returns without doing anything.
 */
#ifndef _LINUX_COMPL_CHAIN_H
#define _LINUX_COMPL_CHAIN_H

#include <linux/completion.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/types.h>

struct compl_chain_entry;
struct task_struct;

/**
 * typedef compl_chain_fn - an ordered step handed to compl_chain_defer()
 * @entry: the entry it was deferred with; no longer in the chain
 */
typedef void (*compl_chain_fn)(struct compl_chain_entry *entry);

/**
 * struct compl_chain - a FIFO of entries whose owners take turns
 * @lock: protects @entries, @runner and each entry's @node and @fn
 * @entries: entries in the order they were added; the first one holds the
 *	turn unless @runner is set.  Both pointers are NULL in a chain that
 *	DEFINE_COMPL_CHAIN() initialised, until its first compl_chain_add()
 * @runner: the task running a deferred function of this chain, which then
 *	holds the turn; NULL otherwise
 *
 * Initialise with compl_chain_init(), COMPL_CHAIN_INIT() or
 * DEFINE_COMPL_CHAIN().  No destructor: a chain with no entries holds no
 * resources.
 */
struct compl_chain {
	spinlock_t lock; /* see @lock above */
	struct list_head entries;
	struct task_struct *runner;
};

/**
 * struct compl_chain_entry - one task's place in a completion chain
 * @chain: the chain the entry is in; NULL when it is not pending
 * @node: link in the chain's @entries
 * @prev_finished: completed (with complete_all()) when the entry's turn comes
 * @fn: the deferred function, or NULL for an entry with an owner that waits
 *
 * Embedded by the caller in its per-task structure.  compl_chain_add()
 * writes every member, so the entry may be uninitialised memory before it
 * is added; a zero-filled entry is an entry that was never added.
 */
struct compl_chain_entry {
	struct compl_chain *chain;
	struct list_head node;
	struct completion prev_finished;
	compl_chain_fn fn;
};

#define __COMPL_CHAIN_INITIALIZER(entries_init) {		\
	.lock = __SPIN_LOCK_UNLOCKED(compl_chain.lock),			\
	.entries = entries_init,					\
	.runner = NULL,							\
}

/**
 * COMPL_CHAIN_INIT() - static initialiser for a struct compl_chain
 * @name: the chain being initialised
 *
 * For chains of static storage duration only, like __SPIN_LOCK_UNLOCKED():
 * initialise a chain on the stack or in allocated memory with
 * compl_chain_init().
 */
#define COMPL_CHAIN_INIT(name) \
	__COMPL_CHAIN_INITIALIZER(LIST_HEAD_INIT(name.entries))

/**
 * DEFINE_COMPL_CHAIN() - define and initialise a struct compl_chain
 * @name: name of the variable
 *
 * For chains of static storage duration: ``static DEFINE_COMPL_CHAIN(x);``,
 * also inside a function; see COMPL_CHAIN_INIT().
 */
#define DEFINE_COMPL_CHAIN(name) \
	struct compl_chain name = __COMPL_CHAIN_INITIALIZER({ })

void compl_chain_init(struct compl_chain *chain);
void compl_chain_add(struct compl_chain *chain,
		     struct compl_chain_entry *entry);
void compl_chain_wait(struct compl_chain_entry *entry);
void compl_chain_complete(struct compl_chain_entry *entry);
void compl_chain_flush(struct compl_chain *chain);

bool compl_chain_try_wait(struct compl_chain_entry *entry);
int compl_chain_wait_timeout(struct compl_chain_entry *entry,
			     unsigned long timeout);
int compl_chain_wait_killable(struct compl_chain_entry *entry);
void compl_chain_cancel(struct compl_chain_entry *entry);
void compl_chain_defer(struct compl_chain_entry *entry, compl_chain_fn fn);

/**
 * compl_chain_pending() - is the entry in a chain?
 * @entry: an entry that was added, completed, cancelled or zero-filled
 *
 * Context: Any context; lock-free, never sleeps.
 * Return: true from compl_chain_add() until compl_chain_complete() or
 * compl_chain_cancel() has finished with the entry or, for an entry handed
 * to compl_chain_defer(), until its function is about to be called; false
 * otherwise.  Implies an acquire barrier: once it returns false the chain
 * never reads or writes the entry again, and it may be freed.
 */
static inline bool compl_chain_pending(const struct compl_chain_entry *entry)
{
	/* Pairs with the release that ends every access to @entry. */
	return smp_load_acquire(&entry->chain);
}

#endif /* _LINUX_COMPL_CHAIN_H */
