// SPDX-License-Identifier: GPL-2.0
/*
 * Ordered completion chains: a FIFO of entries under a spinlock.  The first
 * entry of the list holds the turn; only the turn holder leaves by
 * completing, any entry may leave by cancelling.  Each entry's turn is a
 * completion, completed with complete_all() so that a wait before the
 * complete does not consume it.
 *
 * Deferred entries carry a function instead of an owner that waits.  When
 * the turn reaches one, whoever passed the turn takes it off the list,
 * records itself as the chain's runner (the runner holds the turn), calls
 * the function without the lock, and goes on with the next entry, in a
 * loop, so that a run of deferred entries never recurses.  A deferred entry
 * stays pending until its function is about to be called.
 */
#include <linux/compl_chain.h>
#include <linux/bug.h>
#include <linux/errno.h>
#include <linux/export.h>
#include <linux/module.h>
#include <linux/sched.h>

/**
 * compl_chain_init() - initialise a completion chain at run time
 * @chain: the chain; its previous contents are ignored
 *
 * Context: Any context; the chain must not be in use.
 */
void compl_chain_init(struct compl_chain *chain)
{
	spin_lock_init(&chain->lock);
	INIT_LIST_HEAD(&chain->entries);
	chain->runner = NULL;
}
EXPORT_SYMBOL_GPL(compl_chain_init);

/* Does the first entry of the list hold the turn?  Lock held. */
static bool turn_is_free(struct compl_chain *chain)
{
	lockdep_assert_held(&chain->lock);
	return !chain->runner;
}

/**
 * compl_chain_add() - append an entry at the tail of a chain
 * @chain: the chain
 * @entry: the entry; may be uninitialised memory, must not be pending
 *
 * The entry's turn comes once every entry added before it has completed or
 * been cancelled; when the chain is empty it has its turn at once.  The
 * order in which adds take the chain's lock is the chain order.
 *
 * Context: Any context that may take a spinlock without disabling
 * interrupts (not hard or soft interrupt context).  Never sleeps.
 */
void compl_chain_add(struct compl_chain *chain, struct compl_chain_entry *entry)
{
	init_completion(&entry->prev_finished);
	entry->fn = NULL;
	WRITE_ONCE(entry->chain, chain);

	spin_lock(&chain->lock);
	if (unlikely(!chain->entries.next))
		INIT_LIST_HEAD(&chain->entries); /* COMPL_CHAIN_INIT() */
	if (list_empty(&chain->entries) && turn_is_free(chain))
		complete_all(&entry->prev_finished);
	list_add_tail(&entry->node, &chain->entries);
	spin_unlock(&chain->lock);
}
EXPORT_SYMBOL_GPL(compl_chain_add);

/*
 * Hand the turn to the first entry, which just became the head: wake its
 * owner, or run it and the deferred entries behind it.  Called with the
 * lock held and the turn free; returns with the lock released.
 */
static void hand_on(struct compl_chain *chain)
	__releases(&chain->lock)
{
	struct compl_chain_entry *next;
	compl_chain_fn fn;

	for (;;) {
		next = list_first_entry_or_null(&chain->entries,
						struct compl_chain_entry, node);
		if (!next || !next->fn)
			break;
		list_del(&next->node);
		fn = next->fn;
		chain->runner = current;
		spin_unlock(&chain->lock);
		/*
		 * The last access to @next, which @fn may free or re-add;
		 * pairs with compl_chain_pending().
		 */
		smp_store_release(&next->chain, NULL);
		fn(next);
		spin_lock(&chain->lock);
		chain->runner = NULL;
	}
	if (next)
		complete_all(&next->prev_finished);
	spin_unlock(&chain->lock);
}

/*
 * May @entry's owner call the function named @func on it?  It must be
 * pending and not handed to compl_chain_defer().
 */
static bool entry_ok(struct compl_chain_entry *entry)
{
	if (WARN_ON_ONCE(!READ_ONCE(entry->chain)))
		return false;
	return !WARN_ON_ONCE(READ_ONCE(entry->fn));
}

/*
 * Would waiting for @entry's turn wait for the caller itself?  That is so
 * in a deferred function of the entry's chain (its runner holds the turn)
 * when the turn has not come.
 */
static bool wait_is_deadlock(struct compl_chain_entry *entry)
{
	return READ_ONCE(entry->chain->runner) == current &&
	       WARN_ON_ONCE(!completion_done(&entry->prev_finished));
}

/**
 * compl_chain_wait() - wait until the entry's turn has come
 * @entry: a pending entry
 *
 * Sleeps until every entry added before @entry has completed (or been
 * cancelled); returns at once for the head of the chain.  Uninterruptible
 * and without timeout; see compl_chain_wait_timeout() and
 * compl_chain_wait_killable().  Everything the owners of earlier entries
 * did before their compl_chain_complete() happens before this returns.
 *
 * Context: Process context, may sleep; the entry's owner only.  Misuse
 * (a non-pending or deferred entry, or a wait from a deferred function of
 * the same chain on an entry whose turn has not come, which could only
 * deadlock) triggers a warning and returns at once.
 */
void compl_chain_wait(struct compl_chain_entry *entry)
{
	might_sleep();
	if (!entry_ok(entry) || wait_is_deadlock(entry))
		return;
	wait_for_completion(&entry->prev_finished);
}
EXPORT_SYMBOL_GPL(compl_chain_wait);

/**
 * compl_chain_try_wait() - has the entry's turn come?
 * @entry: a pending entry
 *
 * Context: Any context; never sleeps; the entry's owner only.
 * Return: true iff every entry added before @entry has completed or been
 * cancelled (with the ordering of compl_chain_wait()); false otherwise, and
 * for a non-pending or deferred entry, which triggers a warning.
 */
bool compl_chain_try_wait(struct compl_chain_entry *entry)
{
	if (!entry_ok(entry))
		return false;
	return completion_done(&entry->prev_finished);
}
EXPORT_SYMBOL_GPL(compl_chain_try_wait);

/**
 * compl_chain_wait_timeout() - wait for the entry's turn, with a time limit
 * @entry: a pending entry
 * @timeout: timeout in jiffies; 0 polls, MAX_SCHEDULE_TIMEOUT waits forever
 *
 * Like compl_chain_wait(), but gives up after @timeout.  On timeout the
 * entry stays pending, in its place.  A turn that arrives as the time runs
 * out is not lost: the call then returns 0.
 *
 * Context: Process context, may sleep (not with @timeout 0); the entry's
 * owner only.
 * Return: 0 when the turn has come; -ETIMEDOUT when it has not; -EINVAL,
 * with a warning, for a non-pending or deferred entry, or for an endless
 * wait that could only deadlock (see compl_chain_wait()).
 */
int compl_chain_wait_timeout(struct compl_chain_entry *entry,
			     unsigned long timeout)
{
	if (!entry_ok(entry))
		return -EINVAL;
	if (!timeout)
		return completion_done(&entry->prev_finished) ? 0 : -ETIMEDOUT;
	might_sleep();
	if (timeout == MAX_SCHEDULE_TIMEOUT && wait_is_deadlock(entry))
		return -EINVAL;
	if (!wait_for_completion_timeout(&entry->prev_finished, timeout))
		return -ETIMEDOUT;
	return 0;
}
EXPORT_SYMBOL_GPL(compl_chain_wait_timeout);

/**
 * compl_chain_wait_killable() - wait for the entry's turn, killably
 * @entry: a pending entry
 *
 * Like compl_chain_wait(), but a fatal signal ends the wait.  The entry then
 * stays pending, in its place: the caller still completes or cancels it.  A
 * turn that arrives together with the signal is not lost: the call then
 * returns 0.
 *
 * Context: Process context, may sleep; the entry's owner only.
 * Return: 0 when the turn has come; -EINTR when a fatal signal is pending;
 * -EINVAL, with a warning, for a non-pending or deferred entry, or for a
 * wait that could only deadlock (see compl_chain_wait()).
 */
int compl_chain_wait_killable(struct compl_chain_entry *entry)
{
	might_sleep();
	if (!entry_ok(entry) || wait_is_deadlock(entry))
		return -EINVAL;
	if (wait_for_completion_killable(&entry->prev_finished))
		return -EINTR;
	return 0;
}
EXPORT_SYMBOL_GPL(compl_chain_wait_killable);

/**
 * compl_chain_complete() - finish an entry and hand the turn to the next
 * @entry: a pending entry
 *
 * First waits exactly like compl_chain_wait(), so that entries leave the
 * chain in FIFO order even when the caller did not wait before (the early
 * release of a task that needs no ordered step); then removes the entry and
 * wakes the owner of the next entry.  When the entries that follow were
 * handed to compl_chain_defer(), their functions run in the caller before
 * this returns, one after another, for as long as the next entry is
 * deferred.  Once it returns the chain holds no reference to @entry: it may
 * be freed or added again at once.  Everything the caller did before this
 * call happens before the next entry's turn.
 *
 * Context: Process context, may sleep; the entry's owner only.  Misuse (a
 * non-pending entry: double complete, complete after cancel, a never-added
 * entry; a deferred entry; a complete that could only deadlock, see
 * compl_chain_wait()) triggers a warning and returns at once.
 */
void compl_chain_complete(struct compl_chain_entry *entry)
{
	struct compl_chain *chain;

	might_sleep();
	if (!entry_ok(entry) || wait_is_deadlock(entry))
		return;
	wait_for_completion(&entry->prev_finished);
	chain = entry->chain;

	spin_lock(&chain->lock);
	list_del(&entry->node);
	/* The last access to @entry; pairs with compl_chain_pending(). */
	smp_store_release(&entry->chain, NULL);
	hand_on(chain);
}
EXPORT_SYMBOL_GPL(compl_chain_complete);

/**
 * compl_chain_cancel() - withdraw an entry without waiting for its turn
 * @entry: a pending entry
 *
 * Removes @entry at once, wherever it is in the chain; if it held the turn,
 * the turn passes to the next entry, whose deferred function, and those of
 * the deferred entries behind it, then run in the caller before this
 * returns, as for compl_chain_complete().  For a task that failed before
 * its ordered step.  Once it returns the chain holds no reference to
 * @entry.
 *
 * Context: Process context; never waits for a turn, but the deferred
 * functions it may run decide whether it sleeps.  The entry's owner only.
 * Misuse (a non-pending or deferred entry) triggers a warning and returns
 * at once.
 */
void compl_chain_cancel(struct compl_chain_entry *entry)
{
	struct compl_chain *chain;
	bool head;

	if (!entry_ok(entry))
		return;
	chain = entry->chain;

	spin_lock(&chain->lock);
	head = turn_is_free(chain) &&
	       list_first_entry(&chain->entries, struct compl_chain_entry,
				node) == entry;
	list_del(&entry->node);
	/* The last access to @entry; pairs with compl_chain_pending(). */
	smp_store_release(&entry->chain, NULL);
	if (head)
		hand_on(chain);
	else
		spin_unlock(&chain->lock);
}
EXPORT_SYMBOL_GPL(compl_chain_cancel);

/**
 * compl_chain_defer() - run a function in the entry's turn, without waiting
 * @entry: a pending entry
 * @fn: called as fn(@entry) exactly once, in the entry's turn
 *
 * The ordered step as a continuation.  If the turn has come, @fn runs at
 * once in the caller; otherwise the call returns at once and @fn runs later
 * in the context of the call that passes the turn to @entry: the
 * compl_chain_complete() or compl_chain_cancel() of its last predecessor,
 * which then goes on with the deferred entries behind it, one after
 * another, without recursion.  Entries after @entry get their turn when @fn
 * returns.  From this call on the entry belongs to the chain: waiting on,
 * completing or cancelling it is misuse.  It stays pending until @fn is
 * about to be called; @fn may free it or add it again.  @fn is called
 * without the chain's lock; it may add entries and defer them, but must not
 * wait for a later entry of the same chain nor flush it (it would wait for
 * itself; both trigger a warning and return at once).
 *
 * Context: Process context; the entry's owner.  Never waits for a turn, but
 * when the turn has come the caller runs @fn and the deferred functions
 * that follow.  @fn may sleep only if every caller that may pass the turn
 * to it (complete, cancel, defer) may sleep.
 */
void compl_chain_defer(struct compl_chain_entry *entry, compl_chain_fn fn)
{
	struct compl_chain *chain;
	bool head;

	if (WARN_ON_ONCE(!fn) || !entry_ok(entry))
		return;
	chain = entry->chain;

	spin_lock(&chain->lock);
	entry->fn = fn;
	head = turn_is_free(chain) &&
	       list_first_entry(&chain->entries, struct compl_chain_entry,
				node) == entry;
	if (head)
		hand_on(chain);
	else
		spin_unlock(&chain->lock);
}
EXPORT_SYMBOL_GPL(compl_chain_defer);

/**
 * compl_chain_flush() - wait for every entry added before this call
 * @chain: the chain
 *
 * Adds an entry of its own and completes it: returns once every entry that
 * was added before the call has completed or been cancelled.  Entries added
 * after it wait for the flush as for any other entry.
 *
 * Context: Process context, may sleep.  Must not be called by the owner of
 * a pending entry of the same chain that has not completed (it would wait
 * for itself).  From a deferred function of the same chain it triggers a
 * warning and returns at once.
 */
void compl_chain_flush(struct compl_chain *chain)
{
	struct compl_chain_entry entry;

	might_sleep();
	if (WARN_ON_ONCE(READ_ONCE(chain->runner) == current))
		return;
	compl_chain_add(chain, &entry);
	compl_chain_complete(&entry);
}
EXPORT_SYMBOL_GPL(compl_chain_flush);

MODULE_DESCRIPTION("Ordered completion chains");
MODULE_LICENSE("GPL");
