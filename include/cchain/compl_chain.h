/* SPDX-License-Identifier: MIT */
/*
 * Ordered completion chains: the kernel's compl_chain helper in userspace.
 *
 * Tasks run concurrently, but one step of each must happen in the order the
 * tasks were added to a chain.  Each task embeds a struct compl_chain_entry,
 * adds it to the chain when it is submitted, calls compl_chain_wait() before
 * its ordered step and compl_chain_complete() after it.
 *
 * Names and semantics follow the kernel helper exactly (compl_chain_init,
 * compl_chain_add, compl_chain_wait, compl_chain_complete,
 * compl_chain_pending, compl_chain_flush); everything else is a userspace
 * extension, prefixed by the kernel name where it extends a kernel object.
 *
 * Misuse (see cchain_set_misuse_handler()) is detected where it costs no
 * more than a predictable branch: an entry that is not pending, a NULL
 * pointer argument, and the other cases each function names.  Debug mode,
 * off by default, catches more at a cost: with the environment variable
 * CCHAIN_DEBUG set to 1 when the library first looks (its first chain
 * call), the library keeps a table of the pending entries of private
 * chains beside them, and reports re-adding a pending entry, and waiting
 * on, completing, cancelling, deferring or registering memory that is no
 * pending entry of the library (freed, never added, a copy, garbage) or an
 * entry overwritten while pending.  CCHAIN_DEBUG=0 or unset: off; any
 * other value is reported in one line on stderr, and debug mode stays off.
 */
#ifndef CCHAIN_COMPL_CHAIN_H
#define CCHAIN_COMPL_CHAIN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cchain/version.h>

#ifdef __cplusplus
extern "C" {
#endif

struct compl_chain;

/**
 * struct compl_chain_entry - one task's place in a completion chain
 *
 * Embedded by the caller in its per-task structure; the library never
 * allocates.  compl_chain_add() writes every member, so the entry may live in
 * uninitialised memory before it is added.  A zero-filled entry is a valid
 * entry that was never added (compl_chain_pending() is false for it).
 *
 * Once compl_chain_pending() is false for the entry, the library never
 * reads or writes it again (except compl_chain_dump() when it cannot take
 * the chain's lock: see there).  One thing may still name its address: with
 * the futex wait backend, the thread that handed the entry its turn may
 * issue FUTEX_WAKE on it after its owner completed and freed it.  The
 * kernel reads no memory for that; a thread that happens to sleep on a
 * futex at the same address by then wakes spuriously, which every futex
 * waiter must tolerate (glibc's primitives do).
 *
 * All members are private to the library.
 */
struct compl_chain_entry {
	struct compl_chain *chain;
	struct compl_chain_entry *next;
	struct compl_chain_entry *prev;
	union {
		uint32_t state;
		void *waiter;
		void (*deferred)(struct compl_chain_entry *entry);
	} wake;
};

/**
 * struct compl_chain - a FIFO of entries whose owners take turns
 *
 * Initialise with compl_chain_init(), COMPL_CHAIN_INIT() or
 * DEFINE_COMPL_CHAIN(); release with compl_chain_destroy() once it is empty.
 * All members are private to the library.
 *
 * A chain is private to its process.  After fork() the child has a copy of
 * it, independent of the parent's: the entries pending at the fork are
 * pending in the copy (those of the parent's other threads never complete
 * there), and what the child does with its copy does not affect the
 * parent's chain.  A copy whose lock another thread held at the fork stays
 * locked.  To order across processes, see <cchain/shared.h>.
 */
struct compl_chain {
	pthread_mutex_t lock;
	struct compl_chain_entry *head;
	struct compl_chain_entry *tail;
	unsigned int busy; /* a deferred function holds the turn */
	unsigned int window; /* 0: no window */
	unsigned int count; /* pending entries */
	unsigned int room_waiters;
	unsigned int room; /* a futex word */
	struct compl_chain_entry *room_watch;
	uint64_t seq_floor; /* least next number */
	unsigned int room_low; /* low-water mark + 1; 0: none */
	unsigned int room_closed; /* full: not yet at the mark */
};

/**
 * COMPL_CHAIN_INIT() - static initialiser for a struct compl_chain
 * @name: the chain being initialised (unused; kept for the kernel's signature)
 *
 * Expands to an initialiser for an empty chain, for a chain embedded in a
 * structure defined at compile time: `struct foo f = { .chain =
 * COMPL_CHAIN_INIT(f.chain) };`.  Equivalent to compl_chain_init().
 */
#define COMPL_CHAIN_INIT(name) { PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 0, 0, 0, 0, 0, NULL, 0, 0, 0 }

/**
 * DEFINE_COMPL_CHAIN() - define and initialise a struct compl_chain
 * @name: name of the variable; `static DEFINE_COMPL_CHAIN(x);` works.
 *
 * Defines a struct compl_chain named @name, empty and ready for
 * compl_chain_add(), initialised with COMPL_CHAIN_INIT().
 */
#define DEFINE_COMPL_CHAIN(name) struct compl_chain name = COMPL_CHAIN_INIT(name)

/**
 * compl_chain_init() - initialise a completion chain at run time
 * @chain: the chain; its previous contents are ignored.
 *
 * Makes @chain an empty chain, as COMPL_CHAIN_INIT() does at compile time;
 * also after compl_chain_destroy().
 *
 * Context: any thread; the chain must not be in use.
 */
CCHAIN_API void compl_chain_init(struct compl_chain *chain);

/**
 * compl_chain_add() - append an entry at the tail of a chain
 * @chain: the chain
 * @entry: the entry; may be uninitialised memory, must not be pending
 *
 * The entry's turn comes once every entry added before it has completed or
 * been cancelled; when the chain was empty it has its turn at once.  Each add
 * takes effect atomically (a compare-and-swap on the chain's tail): the order
 * in which concurrent adds take effect is the chain order.  An add to an
 * empty chain takes no lock.
 *
 * Context: any thread, concurrently with any other chain call.  Never sleeps
 * for a turn (it may briefly wait for the chain's internal lock).
 * Memory ordering: none beyond the chain's own consistency.
 */
CCHAIN_API void compl_chain_add(struct compl_chain *chain,
				struct compl_chain_entry *entry);

/**
 * compl_chain_add_seq() - compl_chain_add(), returning the entry's number
 * @chain: the chain
 * @entry: as for compl_chain_add()
 *
 * Adds exactly as compl_chain_add() does, lock-free into an empty chain
 * included, and returns the number the add gave @entry.  Every add to a
 * chain takes a number, whichever call makes it (compl_chain_add(), the
 * windowed adds, and the entry compl_chain_flush() adds for itself): the
 * first add after the chain's initialisation takes 1, and each later add
 * one more than the add that took effect just before it, so numbers follow
 * the chain order.  A number is never taken twice, a cancelled entry's
 * included: the numbers of the entries that get their turn may skip those
 * of entries cancelled, flushes and adds made by the other calls.  The
 * entry does not keep its number (it stays 32 bytes): keep the returned
 * number with the task.
 *
 * Numbers need 64-bit pointers: they are kept in pointer-sized words.
 * Where pointers are 32-bit, every number is 0.  On 64-bit platforms the
 * first 2^61 adds of a chain are numbered so (more than 70 years of a
 * billion adds a second).
 *
 * Context: as compl_chain_add().
 * Return: the entry's number; 0 for a NULL @chain or @entry, or an add
 * refused as misuse.
 */
CCHAIN_API uint64_t compl_chain_add_seq(struct compl_chain *chain,
					struct compl_chain_entry *entry);

/**
 * compl_chain_wait() - wait until the entry's turn has come
 * @entry: a pending entry
 *
 * Blocks until every entry added before @entry has completed (or been
 * cancelled); returns at once for the head of the chain.  Uninterruptible
 * and without timeout, as in the kernel; see compl_chain_wait_timeout().
 * A non-pending entry is reported as misuse and the call does nothing; so
 * is a wait that could only deadlock: from a deferred function of the same
 * chain (which holds the turn), on an entry whose turn has not come.
 *
 * Context: the entry's owner; may sleep.  At most one thread may be inside a
 * call on the same entry at any time.
 * Memory ordering: acquire.  Everything the owners of earlier entries did
 * before their compl_chain_complete() (or compl_chain_cancel() of the head)
 * happens before this call returns.
 */
CCHAIN_API void compl_chain_wait(struct compl_chain_entry *entry);

/**
 * compl_chain_complete() - finish an entry and hand the turn to the next
 * @entry: a pending entry
 *
 * First waits exactly like compl_chain_wait(), so entries always leave the
 * chain in FIFO order even when the caller did not wait before; then removes
 * the entry and wakes the owner of the next entry if it sleeps.  Once it
 * returns the library holds no reference to @entry: the caller may free or
 * re-add it at once.  A non-pending entry (double complete, complete after
 * cancel, a never-added entry) is reported as misuse and the call does
 * nothing, and so is a complete that could only deadlock, as for
 * compl_chain_wait().
 *
 * When the entries that follow were handed to compl_chain_defer(), their
 * functions run in the caller before this returns, one run after another
 * for as long as the next entry is deferred (see compl_chain_defer()).
 *
 * Context: the entry's owner; may sleep until the entry's turn.
 * Memory ordering: release towards the next entry's owner, and acquire like
 * compl_chain_wait().
 */
CCHAIN_API void compl_chain_complete(struct compl_chain_entry *entry);

/**
 * compl_chain_pending() - is the entry in a chain?
 * @entry: an entry that was added, completed, or zero-filled
 *
 * Tells whether @entry is in a chain, without locking and without
 * reporting misuse (but for a NULL @entry): it may be called on any entry
 * that was added, is zero-filled, or has left its chain.
 *
 * Context: any thread; lock-free, never sleeps.
 * Return: true from compl_chain_add() until compl_chain_complete() or
 * compl_chain_cancel() has finished with the entry, or, for an entry handed
 * to compl_chain_defer(), until its function is about to be called; false
 * otherwise, and for a NULL @entry (reported as misuse).
 * Memory ordering: acquire; once it returns false, on any thread, the
 * library never reads or writes the entry again: it may be freed at once.
 */
CCHAIN_API bool compl_chain_pending(const struct compl_chain_entry *entry);

/**
 * compl_chain_flush() - wait for every entry added before this call
 * @chain: the chain
 *
 * Adds an internal entry and completes it: returns once every entry that
 * was added before the call has completed or been cancelled.  Entries added
 * after it wait for the flush as for any other entry.
 *
 * Context: any thread; may sleep.  Must not be called by the owner of a
 * pending entry of the same chain that has not completed (it would wait
 * for itself).  Called from a deferred function of the same chain (which
 * holds the turn the flush would wait for), it is reported as misuse and
 * does nothing.
 * Memory ordering: acquire, like compl_chain_wait().
 */
CCHAIN_API void compl_chain_flush(struct compl_chain *chain);

/* Userspace extensions. */

/**
 * compl_chain_destroy() - release the chain's resources
 * @chain: an empty chain
 *
 * A chain that still has entries, or whose deferred function is running
 * (a call from inside it), is reported as misuse and left untouched.  After
 * a successful destroy the chain may be initialised again.
 *
 * Context: any thread; no other call on the chain may run concurrently
 * (every call that added, completed, cancelled or deferred an entry has
 * returned: compl_chain_empty() returning true is not enough).
 */
CCHAIN_API void compl_chain_destroy(struct compl_chain *chain);

/**
 * compl_chain_try_wait() - has the entry's turn come?
 * @entry: a pending entry
 *
 * compl_chain_wait() without the waiting: for a caller that polls, or
 * that has other work to do while earlier entries are still in the chain.
 *
 * Context: the entry's owner; lock-free, never sleeps.
 * Return: true iff every entry added before @entry has completed (or been
 * cancelled); false otherwise, and for a non-pending or NULL entry
 * (reported as misuse).
 * Memory ordering: acquire when it returns true.
 */
CCHAIN_API bool compl_chain_try_wait(struct compl_chain_entry *entry);

/**
 * compl_chain_wait_timeout() - wait for the entry's turn, with a time limit
 * @entry: a pending entry
 * @timeout_ns: relative timeout in nanoseconds (CLOCK_MONOTONIC); 0 polls
 *
 * Like compl_chain_wait() but gives up after @timeout_ns.  On timeout the
 * entry stays pending, in its place.  A turn that arrives as the time runs
 * out is never lost: the call then returns 0.  Signals do not interrupt it.
 *
 * Context: the entry's owner; may sleep.
 * Return: 0 when the turn has come, ETIMEDOUT when it has not, EINVAL for a
 * non-pending or NULL entry, or for a timeout so long that it means none in a wait
 * that could only deadlock (see compl_chain_wait()); both are reported as
 * misuse.
 * Memory ordering: acquire when it returns 0.
 */
CCHAIN_API int compl_chain_wait_timeout(struct compl_chain_entry *entry,
					uint64_t timeout_ns);

/**
 * compl_chain_cancel() - withdraw an entry without waiting for its turn
 * @entry: a pending entry
 *
 * Removes @entry at once, wherever it is in the chain; if it was the head,
 * the turn passes to the next entry.  For a task that failed before its
 * ordered step.  Afterwards the library holds no reference to @entry.  A
 * non-pending entry is reported as misuse and the call does nothing.  When
 * the turn passes to deferred entries, their functions run in the caller
 * before this returns, as for compl_chain_complete().
 *
 * An entry registered with compl_chain_notify() may be cancelled before or
 * after its function is called: if not yet, it never is.
 *
 * Context: the entry's owner; never sleeps for a turn.
 * Memory ordering: release towards the next entry's owner when @entry was
 * the head; none otherwise.
 */
CCHAIN_API void compl_chain_cancel(struct compl_chain_entry *entry);

/**
 * compl_chain_empty() - does the chain have no entries?
 * @chain: the chain
 *
 * Agrees with compl_chain_pending(): when no entry of @chain is pending it
 * returns true, also while a deferred function of @chain runs (its entry
 * is no longer pending) and while compl_chain_dump() walks the chain; it
 * returns false while an entry is pending, including deferred entries
 * waiting to run.  Two windows are exceptions, each closed before the call
 * that opened it goes on: an entry whose complete or cancel is returning may
 * still be pending for a moment after it left the chain (true while it is),
 * and a deferred entry that stopped being pending is still counted until
 * its function is called (false while nothing is pending).  True does not
 * mean that no call on @chain is running: the thread that ran the last
 * deferred function, or completed the last entry, may still be returning;
 * compl_chain_destroy() needs every call on the chain to have returned.
 *
 * Context: any thread; lock-free, never sleeps.  The answer may be stale by
 * the time the caller looks at it if other threads add entries.
 * Return: true if no entry is in @chain; false for a NULL @chain (reported
 * as misuse).
 * Memory ordering: acquire; when it returns true, everything done before
 * the last complete or cancel is visible.
 */
CCHAIN_API bool compl_chain_empty(struct compl_chain *chain);

/**
 * compl_chain_defer() - run a function in the entry's turn, without waiting
 * @entry: a pending entry
 * @fn: called as fn(@entry) exactly once, when every entry added before
 *      @entry has completed
 *
 * The ordered step as a continuation: if the turn has come, @fn runs at
 * once in the caller; otherwise the call returns at once and @fn runs later
 * in the thread that completes (or cancels) the last predecessor, which
 * then goes on with any deferred entries behind it, one after another (no
 * recursion, whatever the length of the run).  Entries after @entry get
 * their turn when @fn returns.  From the call on, the entry belongs to the
 * library: waiting on, completing or cancelling it is misuse.  It stays
 * pending until @fn is about to be called; when @fn runs it is no longer
 * pending and @fn may free or re-add it.  @fn must not wait for a later
 * entry of the same chain, nor flush it (it would wait for itself: both
 * are reported as misuse); it may add entries, complete earlier-added
 * entries of other chains, or defer.
 *
 * Context: the entry's owner.  Never waits for a turn, but when the turn
 * has come the caller runs @fn and the deferred functions that follow, one
 * run after another for as long as the next entry is deferred: the time
 * this takes is not bounded by the library.  It may also wait briefly for
 * the chain's internal lock.
 * Memory ordering: @fn runs after everything the owners of earlier entries
 * did before completing (acquire); what @fn did happens before the next
 * entry's turn (release).
 */
CCHAIN_API void compl_chain_defer(struct compl_chain_entry *entry,
				  void (*fn)(struct compl_chain_entry *entry));

/**
 * compl_chain_notify() - be told when the entry's turn comes, keeping it
 * @entry: a pending entry
 * @fn: called as fn(@entry) exactly once, when every entry added before
 *      @entry has completed or been cancelled
 *
 * The turn as an event, for owners that run the ordered step later on a
 * thread of their own (an event loop): if the turn has come, @fn runs at
 * once in the caller, without a lock or a system call; otherwise the call
 * returns at once and @fn runs in the thread that hands over the turn,
 * with the chain's internal lock held.  Unlike compl_chain_defer(), the
 * entry keeps the turn once @fn has run: later entries wait until its
 * owner calls compl_chain_complete() (or compl_chain_cancel()), from any
 * thread.  No turn is lost when the registration races with it: the turn
 * is given, and the registration checks it, with the lock held.
 *
 * Between the call and @fn, the owner may only withdraw the entry:
 * compl_chain_unnotify() or compl_chain_cancel() (after either, @fn is not
 * called and not running); waiting on, completing, deferring or registering
 * it again is misuse (reported when detected; racing @fn it may go
 * unnoticed).  When @fn is called the entry is pending and holds the turn.
 *
 * @fn must be short and must not call into the library for @entry's chain
 * (it may run with that chain's lock held); it typically hands @entry to
 * the owner's thread, which may complete and free it at once: @fn's hand-off
 * must be its last access to @entry.  See <cchain/notify.h> for a ready-made
 * @fn that wakes an event loop through one file descriptor.
 *
 * Context: the entry's owner.  Never sleeps (it may wait briefly for the
 * chain's internal lock).
 * Memory ordering: @fn runs after everything the owners of earlier entries
 * did before completing (acquire).
 */
CCHAIN_API void compl_chain_notify(struct compl_chain_entry *entry,
				   void (*fn)(struct compl_chain_entry *entry));

/**
 * compl_chain_unnotify() - withdraw a compl_chain_notify() registration
 * @entry: a pending entry
 *
 * Takes back the function registered on @entry, racing safely with the
 * turn: either the registration is withdrawn before the turn comes, or the
 * function has already been called and returned (when another thread is
 * calling it, this waits for the call to return).  Event loops use it
 * before they cancel or free an entry they watch.
 *
 * Context: the entry's owner; never sleeps (it may wait briefly for the
 * chain's internal lock, which the turn-giver holds while it calls the
 * function).
 * Return: true if the registration was withdrawn before the turn came: the
 * function will not be called and the entry is pending as after
 * compl_chain_add(); false if the function has been called (it has
 * returned) or the entry was not registered.  A non-pending or NULL entry
 * is reported as misuse (false).
 */
CCHAIN_API bool compl_chain_unnotify(struct compl_chain_entry *entry);

/**
 * compl_chain_set_window() - bound the number of pending entries
 * @chain: the chain
 * @limit: the most entries that may be pending at once when only the
 *         windowed adds below are used; 0 removes the bound
 *
 * A bounded window is backpressure for producers that would otherwise run
 * arbitrarily far ahead of the ordered step (compl_chain_defer() does not
 * wait): compl_chain_window_add() and its variants add only while fewer
 * than @limit entries are pending, counting every entry from its add until
 * it stops being pending (its complete or cancel; a deferred entry's
 * function being called).  With only windowed adds, never more than
 * @limit entries are pending at once.  The kernel-style calls keep their meaning:
 * compl_chain_add() and compl_chain_flush() count their entries but never
 * wait, so they may take the count past @limit.
 *
 * A chain with a window takes its internal lock on every add and complete
 * (the lock-free add to an empty chain and complete of the only entry are
 * off for it).  Changing a window's limit takes effect at once: the window
 * is full if at least @limit entries are pending, else not (a drain to a
 * low-water mark in progress ends), so a larger limit gives waiting adders
 * room.  A low-water mark set with compl_chain_set_window_low() is kept and
 * applies again from the next add that fills the window.
 *
 * Context: any thread.  Turning a window on (from 0) or off (to 0) needs an
 * empty chain and no other call on it running, as compl_chain_init() does;
 * changing a nonzero limit to another may race with any call.
 * Return: 0; EBUSY if the window would be turned on or off while entries
 * are pending (nothing changes); EINVAL for a NULL @chain (reported as
 * misuse).
 */
CCHAIN_API int compl_chain_set_window(struct compl_chain *chain, unsigned int limit);

/**
 * compl_chain_window() - the chain's window
 * @chain: the chain
 *
 * The limit on pending entries that the windowed adds keep, as last set.
 *
 * Context: any thread; lock-free.
 * Return: the limit set with compl_chain_set_window(); 0 when the chain has
 * no window, or for a NULL @chain (reported as misuse).
 */
CCHAIN_API unsigned int compl_chain_window(struct compl_chain *chain);

/**
 * compl_chain_set_window_low() - reopen a full window only once it drained
 * @chain: the chain
 * @low: the low-water mark: the most entries pending when a full window
 *       reopens; UINT_MAX, or any value not below the limit, for none
 *
 * By default a window is full exactly while its limit's number of entries
 * are pending: each entry that leaves a full window makes room for one
 * add, and wakes one waiting adder.  With a mark below the limit the
 * window has hysteresis: it becomes full when an add makes the limit's
 * number of entries pending, and stays full until the pending entries
 * have fallen to @low.  While it is full the windowed adds wait, fail
 * with EAGAIN or time out, and the room watch is not called; when it
 * reopens, every adder waiting for room is woken at once and the room
 * watch is called.  The thread that runs the ordered step then typically
 * wakes adders once per limit - @low entries instead of once per entry, and
 * the adders sleep and wake that much less.
 *
 * An adder that waits for room while an entry it has yet to complete is
 * pending should not use a mark: the drain it waits for may need that
 * entry to leave, and it would wait for ever.
 *
 * Context: any thread; may race with any call.  The chain needs no window
 * yet: the mark applies to any limit set later.
 * Return: 0; EINVAL for a NULL @chain (reported as misuse).
 */
CCHAIN_API int compl_chain_set_window_low(struct compl_chain *chain, unsigned int low);

/**
 * compl_chain_window_low() - the low-water mark in force
 * @chain: the chain
 *
 * The number of pending entries at or below which a full window reopens,
 * for the limit now set.
 *
 * Context: any thread; takes the chain's internal lock briefly.
 * Return: the pending entries at or below which a full window reopens:
 * the mark set with compl_chain_set_window_low() if it is below the limit,
 * else the limit minus one; 0 when the chain has no window, or for a NULL
 * @chain (reported as misuse).
 */
CCHAIN_API unsigned int compl_chain_window_low(struct compl_chain *chain);

/**
 * compl_chain_window_add() - add an entry once the window has room
 * @chain: the chain
 * @entry: as for compl_chain_add()
 *
 * compl_chain_add(), after waiting until fewer entries than the window's
 * limit are pending (with a low-water mark, until a full window has
 * drained to it); at once on a chain without a window.  Adders that find
 * the window full sleep until an entry leaves; room that appears wakes one
 * of them (no thundering herd; a window that reopens at its low-water mark
 * wakes them all), and an adder never misses room that appears while it
 * goes to sleep.  Among adders that wait, room goes to whichever
 * takes the lock first: no FIFO among waiting adders is promised, only the
 * chain order of the adds once made.
 *
 * Waiting in a deferred function of the same chain could only deadlock
 * (the function holds the turn that entries need to leave): such a call,
 * made while the window is full (with a low-water mark, also while it
 * drains), is reported as misuse and adds without waiting.
 *
 * Context: any thread; may sleep (not for a turn: for room).
 * Memory ordering: none beyond the chain's own consistency.
 */
CCHAIN_API void compl_chain_window_add(struct compl_chain *chain,
				       struct compl_chain_entry *entry);

/**
 * compl_chain_window_try_add() - add an entry if the window has room now
 * @chain: the chain
 * @entry: as for compl_chain_add()
 *
 * Never sleeps: for event loops, which learn when room appears from
 * compl_chain_window_notify() or compl_notifier_watch_room().
 *
 * Context: any thread; never sleeps (it may wait briefly for the chain's
 * internal lock).
 * Return: 0 if @entry was added; EAGAIN if the window was full (the limit's
 * number of entries pending, or with a low-water mark not yet drained to
 * it, looked at with the lock held): @entry is untouched; EINVAL for a NULL argument, or in debug mode (CCHAIN_DEBUG=1)
 * for an entry that is pending already (reported as misuse).
 */
CCHAIN_API int compl_chain_window_try_add(struct compl_chain *chain,
					  struct compl_chain_entry *entry);

/**
 * compl_chain_window_add_timeout() - add an entry once the window has room,
 * or give up
 * @chain: the chain
 * @entry: as for compl_chain_add()
 * @timeout_ns: the longest wait for room, in nanoseconds (CLOCK_MONOTONIC);
 *              0 makes it compl_chain_window_try_add()
 *
 * As compl_chain_window_add(), but gives up at the deadline.  An adder that
 * was woken for room and then passes its deadline still takes the room if it
 * is there when it looks again: room handed to it is never dropped, and it
 * gives up only when the window is full.
 *
 * Context: any thread; may sleep for up to @timeout_ns (and for the chain's
 * internal lock).
 * Return: 0 if @entry was added; ETIMEDOUT if the window was full at the
 * deadline: @entry is untouched; EINVAL for a NULL argument, or in debug
 * mode for an entry that is pending already (reported as misuse).
 */
CCHAIN_API int compl_chain_window_add_timeout(struct compl_chain *chain,
					      struct compl_chain_entry *entry,
					      uint64_t timeout_ns);

/**
 * compl_chain_window_notify() - be told once when the window has room
 * @chain: the chain
 * @watch: an entry that is not pending (it is not added to @chain: it
 *         only carries the registration)
 * @fn: called as fn(@watch) exactly once, when the window is not full
 *      (fewer entries than its limit pending, and a low-water mark, if set,
 *      reached since it was last full)
 *
 * The room of the window as an event, for an event loop that must not
 * block: after compl_chain_window_try_add() failed with EAGAIN, the loop
 * registers, and adds again when told.  If there is room now (or no window),
 * @fn runs at once in the caller.  Otherwise the registration is kept in the
 * chain's one watch slot, and @fn runs in the thread that makes room, with
 * the chain's internal lock held: it must be short and must not call into
 * the library for @chain.  No room is missed by a registration racing with
 * it: room is made, and the registration looks for it, with the lock held.
 * Being told is not a reservation: another adder may take the room first,
 * and the loop's add may find the window full again (register again then).
 *
 * Context: any thread; never sleeps (it may wait briefly for the chain's
 * internal lock).
 * Return: 0 if @fn was called or the registration kept; EBUSY if the slot
 * holds another entry's registration (nothing is done); EINVAL for a NULL
 * argument (reported as misuse).
 */
CCHAIN_API int compl_chain_window_notify(struct compl_chain *chain,
					 struct compl_chain_entry *watch,
					 void (*fn)(struct compl_chain_entry *watch));

/**
 * compl_chain_window_unnotify() - withdraw a compl_chain_window_notify()
 * registration
 * @chain: the chain
 * @watch: the entry registered
 *
 * Racing safely with room being made: either the registration is withdrawn
 * before its function is called, or the function has been called and has
 * returned (this waits for a call in progress).  Event loops use it before
 * they free @watch or the chain.
 *
 * Context: any thread; never sleeps (it may wait briefly for the chain's
 * internal lock).
 * Return: true if the registration was withdrawn: its function will not be
 * called; false if it had been called, or @watch was not registered with
 * @chain (or an argument is NULL, reported as misuse).
 */
CCHAIN_API bool compl_chain_window_unnotify(struct compl_chain *chain,
					    struct compl_chain_entry *watch);

/**
 * cchain_set_spin_ns() - how long a waiter spins before it sleeps
 * @ns: the spin budget in nanoseconds; 0 never spins; above 10000000
 *      (10 ms), 10000000
 *
 * A waiter whose turn has not come polls for up to @ns before it sleeps,
 * so that a handoff between two running threads costs a cache-line
 * transfer instead of a sleep and a wake-up.  The CPUs that count are
 * those of the waiter's own affinity mask (sched_getaffinity(), which
 * taskset, cpusets and container CPU sets restrict), read by the waiting
 * thread at most 100 ms before its wait: a change of the mask takes effect
 * within 100 ms.  No waiter whose mask allows a single CPU spins: the
 * thread that is to hand it the turn may well share that CPU and could not
 * run until the spin ended (a turn-giver pinned to another CPU then costs a
 * wake-up instead).  Nor does a waiter spin while as many other threads
 * wait as it has CPUs; the first 2 us of the budget are polled without
 * counting in as a spinner, the rest only while fewer threads spin than
 * the waiter has CPUs less one, so that spinners do not keep the CPU that
 * the thread they wait for needs for longer than that.  A CPU time quota
 * (cgroup cpu.max) is not an affinity and is not taken into account.
 * Shared chains (<cchain/shared.h>) follow the same rule for their own
 * spin.  The default is 20000 (20 us), or the value of the environment
 * variable CCHAIN_SPIN_NS when the library first needs it.
 * CCHAIN_SPIN_NS must be plain decimal digits (no sign,
 * space, exponent or base prefix) worth at most 10000000 (10 ms); any other
 * value, the empty string included, is reported in one line on stderr and
 * the default is used.  This function caps @ns to the same 10 ms, with no
 * report: a longer spin would only burn CPU time.
 *
 * Context: any thread; takes effect for waits that start afterwards.
 * Return: the previous budget, as it was set (after the cap): at most
 * 10000000.
 */
CCHAIN_API uint64_t cchain_set_spin_ns(uint64_t ns);

/**
 * compl_chain_dump() - print the chain's state, for debugging
 * @chain: the chain
 * @out: where to print
 *
 * One line for the chain (head, tail, number of entries), then one per
 * entry in chain order with its wait state and, for an entry whose owner
 * sleeps in a wait, that owner's thread id (as gettid() returns it; what
 * `ps -L`, /proc/PID/task and gdb's "info threads" show).  The fast path
 * never pays for it: the id is recorded only by an owner about to sleep,
 * and an owner that spins, or has not begun to wait, is not named.  With
 * the condvar backend the thread is named only when the dump holds the lock.
 * For watchdogs and debuggers:
 * if the chain's lock cannot be taken within 100 ms (a thread died or hangs
 * holding it), the list is printed without it and says so; entries may then
 * leave, and be freed, while they are printed, so that fallback is for a
 * process that hangs, not for one at work, and it prints at most the first
 * 1000 entries.  While the list is printed with
 * the lock, the lock-free add and complete wait for it.
 *
 * Context: any thread; may sleep briefly.
 */
CCHAIN_API void compl_chain_dump(struct compl_chain *chain, FILE *out);

/**
 * struct compl_chain_stats - a chain's counters, from compl_chain_get_stats()
 * @entries: entries pending now (including deferred entries taken off to run)
 * @max_entries: the most entries pending at once since statistics were on
 * @adds: compl_chain_add() calls (compl_chain_flush() adds one too)
 * @completes: compl_chain_complete() calls that completed an entry
 * @cancels: compl_chain_cancel() calls that cancelled an entry
 * @deferred_runs: deferred functions run, or taken off to run at once
 * @waits: waits whose turn had not come when they began (waits that found
 *         the turn there, and compl_chain_try_wait(), are not counted)
 * @waits_slept: those of them that blocked, rather than get the turn while
 *               spinning
 * @wait_ns_total: their total duration, in nanoseconds
 * @wait_ns_max: the longest of them, in nanoseconds
 * @head_age_ns: how long the turn has been where it is: since the current
 *               head got it, or since the deferred run that holds it
 *               started; 0 when the chain is empty
 * @head_age_exact: false when the head got the turn by a lock-free add to
 *                  an empty chain, which reads no clock: @head_age_ns then
 *                  counts from the first moment the library saw that head
 *                  (an add behind it, a deferred run, a statistics read),
 *                  a lower bound
 *
 * A snapshot of one chain's activity, filled in by compl_chain_get_stats()
 * for a chain whose statistics were switched on with
 * compl_chain_stats_enable().  Counts start when that call is made.  Read
 * while the chain is at work, a snapshot may count an operation in flight
 * on one side only (in @completes but still in @entries, say); read at rest
 * it is exact.
 */
struct compl_chain_stats {
	uint64_t entries;
	uint64_t max_entries;
	uint64_t adds;
	uint64_t completes;
	uint64_t cancels;
	uint64_t deferred_runs;
	uint64_t waits;
	uint64_t waits_slept;
	uint64_t wait_ns_total;
	uint64_t wait_ns_max;
	uint64_t head_age_ns;
	bool head_age_exact;
};

/**
 * compl_chain_stats_enable() - start counting a chain's statistics
 * @chain: an initialised chain, which no other thread uses during the call
 *
 * Statistics are kept outside struct compl_chain, in a table of up to 64
 * chains.  While no chain has them on, they cost one load and a branch in
 * the operations that count (a lock-free add counts nothing).  While any
 * chain has them on, those operations, on any chain, look their chain up in
 * that table, and a chain with them on counts, with no atomic
 * read-modify-write and no clock on the uncontended path.
 * Enabling a chain that has them on keeps its counts.
 *
 * Context: any thread, while no other thread uses @chain.
 * Return: 0, ENOSPC when 64 chains have statistics on, or EINVAL for a
 * NULL @chain (reported as misuse).
 */
CCHAIN_API int compl_chain_stats_enable(struct compl_chain *chain);

/**
 * compl_chain_stats_disable() - stop counting, and drop the counts
 * @chain: the chain; nothing happens if its statistics are off
 *
 * compl_chain_destroy() does this too.  A chain that is freed without
 * either keeps its slot (and a later chain at the same address would
 * inherit its counts).
 *
 * Context: any thread, while no other thread uses @chain.
 */
CCHAIN_API void compl_chain_stats_disable(struct compl_chain *chain);

/**
 * compl_chain_get_stats() - read a chain's statistics
 * @chain: the chain
 * @stats: filled in on success
 *
 * The counters are read with the chain's lock held, while lock-free adds
 * and completes, and waits, go on: in a chain at work, a snapshot may count
 * an operation in flight on one side only (@entries and @max_entries off
 * by the operations in flight); at rest it is exact.
 *
 * Context: any thread, concurrently with any other chain call; takes the
 * chain's lock.
 * Return: 0, ENOENT if the chain's statistics are off, or EINVAL if @chain
 * or @stats is NULL (reported as misuse).
 */
CCHAIN_API int compl_chain_get_stats(struct compl_chain *chain,
				     struct compl_chain_stats *stats);

/**
 * typedef cchain_misuse_fn - misuse report callback
 * @func: name of the public function that detected the misuse
 * @msg: one-line description of the problem
 *
 * When the handler returns, the offending call does nothing and returns
 * (with EINVAL or false where it returns a value, or what its Return: line
 * names); the chain stays consistent.  A NULL pointer given to any public
 * function of the library for an argument that its header does not say
 * may be NULL is misuse too, reported with @msg "<argument> is NULL".
 */
typedef void (*cchain_misuse_fn)(const char *func, const char *msg);

/**
 * cchain_set_misuse_handler() - install a misuse handler
 * @fn: the new handler, or NULL for the default one
 *
 * The default handler prints "libcchain: <func>: <msg>" on one line to
 * stderr and aborts.  The handler is process-wide.
 *
 * Context: any thread; lock-free.
 * Return: the previous handler (the default handler's address if none was
 * set), so that it can be restored later.
 */
CCHAIN_API cchain_misuse_fn cchain_set_misuse_handler(cchain_misuse_fn fn);

/**
 * cchain_wait_backend() - name of the wait backend the library was built with
 *
 * The futex backend sleeps on a futex in the entry (Linux); the condvar
 * backend on a pthread condition variable of the sleeping owner.  Chosen
 * when the library is built (meson option wait_backend).
 *
 * Context: any thread; never sleeps.
 * Return: "futex" or "condvar".
 */
CCHAIN_API const char *cchain_wait_backend(void);

#ifdef __cplusplus
}
#endif

#endif /* CCHAIN_COMPL_CHAIN_H */
