// SPDX-License-Identifier: MIT
/*
 * The bounded window (compl_chain_set_window()): a limit on a private
 * chain's pending entries, kept by the windowed adds.  model/window.pml
 * models this design and model/README.md ("The bounded window") maps its
 * statements to the code here and in src/compl_chain.c.
 *
 * Everything below runs with the chain's lock held, except the sleep:
 *
 *   - A chain with a window takes its lock on every path (compl_chain.c
 *     skips the lock-free add and complete for it), so chain->count, its
 *     pending entries, is read and written with the lock held only.  An
 *     entry counts from its add until it stops being pending: its
 *     complete or cancel, or its deferred function's call (an entry taken
 *     off in a run stays counted until then).
 *   - Full (room_closed): set by the add that makes count reach the
 *     limit (cchain__window_enter()), cleared by the leave that brings
 *     count down to the low-water mark, by default the limit minus one
 *     (then full exactly while count >= limit).  Setting the limit sets
 *     it to count >= limit.
 *   - A windowed add: room (not full): add.  None: the try form
 *     fails; the others register as room waiters, read the room word,
 *     unlock, sleep on the word unless it moved, lock and look again.  A
 *     timed add that passed its deadline takes the room that is there
 *     when it looks again, and gives up only when there is none.
 *   - A leaver (cchain__window_leave()): count--, maybe reopening; if the
 *     window is not full and adders wait, bump the room word and wake one
 *     after unlocking (all of them if it just reopened below limit - 1);
 *     if a room watch is kept and there is room, take it off and call its
 *     function.
 *   - A room watch: room now, its function is called at once; else it is
 *     kept in the chain's one slot.
 *
 * The room word is a futex's (or its condvar emulation's: the wait
 * backend's cchain__word_wait()): bumped with the lock held, read by a
 * waiter with the lock held before it sleeps, so a bump between the read
 * and the sleep makes the sleep return at once.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <time.h>

#include "cchain-internal.h"

/* Room for one more windowed add?  Lock held. */
static bool has_room(const struct compl_chain *chain)
{
	return !cc_load_relaxed(&chain->window) || !chain->room_closed;
}

/* The low-water mark in force for @limit (nonzero; lock held). */
static unsigned int low_mark(const struct compl_chain *chain, unsigned int limit)
{
	unsigned int set = chain->room_low; /* the mark + 1; 0: none */

	return set && set - 1 < limit ? set - 1 : limit - 1;
}

void cchain__window_enter(struct compl_chain *chain)
{
	if (++chain->count >= cc_load_relaxed(&chain->window))
		chain->room_closed = 1;
}

/*
 * If the room watch is kept and there is room, take it off and call its
 * function: the last access to the watch, which the function may free.
 * Lock held.
 */
static void fire_watch(struct compl_chain *chain)
{
	struct compl_chain_entry *watch = chain->room_watch;

	if (watch && has_room(chain)) {
		chain->room_watch = NULL;
		watch->wake.deferred(watch);
	}
}

/*
 * Room may have appeared (lock held); @all: wake every waiter.  Return: the
 * room waiters to wake (CC_ROOM_ONE, CC_ROOM_ALL), or 0.
 */
static unsigned int make_room(struct compl_chain *chain, bool all)
{
	unsigned int wake = 0;

	if (!chain->room_closed && chain->room_waiters) {
		cc_store_relaxed(&chain->room, chain->room + 1);
		wake = all ? CC_ROOM_ALL : CC_ROOM_ONE;
	}
	fire_watch(chain);
	return wake;
}

unsigned int cchain__window_leave(struct compl_chain *chain)
{
	unsigned int limit = cc_load_relaxed(&chain->window), low;
	bool reopened = false;

	chain->count--;
	if (chain->room_closed) {
		low = low_mark(chain, limit);
		if (chain->count <= low) {
			chain->room_closed = 0;
			/* Room for several: let every waiter look. */
			reopened = low < limit - 1;
		}
	}
	return make_room(chain, reopened);
}

void cchain__window_wake(struct compl_chain *chain, unsigned int room)
{
	cchain__word_wake(&chain->room, room & CC_ROOM_ALL);
}

int compl_chain_set_window(struct compl_chain *chain, unsigned int limit)
{
	unsigned int wake;

	if (CC_NULL_ARG(chain, "chain", __func__))
		return EINVAL;
	cchain__lock(chain);
	/*
	 * On or off only with the chain empty: the count (0 while the chain
	 * has no window) starts and ends with no entry pending.
	 */
	if (!cc_load_relaxed(&chain->window) != !limit && !cchain__tail_free(chain)) {
		cchain__unlock(chain);
		return EBUSY;
	}
	cc_store_relaxed(&chain->window, limit);
	chain->room_closed = limit && chain->count >= limit;
	/* A larger window may have room for every waiter: each looks again. */
	wake = make_room(chain, true);
	cchain__unlock(chain);
	if (wake)
		cchain__window_wake(chain, wake);
	return 0;
}

int compl_chain_set_window_low(struct compl_chain *chain, unsigned int low)
{
	unsigned int limit, wake = 0;

	if (CC_NULL_ARG(chain, "chain", __func__))
		return EINVAL;
	cchain__lock(chain);
	chain->room_low = low == UINT_MAX ? 0 : low + 1;
	/* A higher mark may reopen a full window at once. */
	limit = cc_load_relaxed(&chain->window);
	if (limit && chain->room_closed && chain->count <= low_mark(chain, limit)) {
		chain->room_closed = 0;
		wake = make_room(chain, true);
	}
	cchain__unlock(chain);
	if (wake)
		cchain__window_wake(chain, wake);
	return 0;
}

unsigned int compl_chain_window_low(struct compl_chain *chain)
{
	unsigned int limit, low;

	if (CC_NULL_ARG(chain, "chain", __func__))
		return 0;
	cchain__lock(chain);
	limit = cc_load_relaxed(&chain->window);
	low = limit ? low_mark(chain, limit) : 0;
	cchain__unlock(chain);
	return low;
}

unsigned int compl_chain_window(struct compl_chain *chain)
{
	if (CC_NULL_ARG(chain, "chain", __func__))
		return 0;
	return cc_load_relaxed(&chain->window);
}

/*
 * Add @entry once the window has room.  @wait: sleep for room (else
 * EAGAIN); @deadline: give up then (ETIMEDOUT), NULL: never.
 */
static int window_add(struct compl_chain *chain, struct compl_chain_entry *entry, bool wait,
		      const struct timespec *deadline, const char *func)
{
	bool timed_out = false;
	unsigned int seen;
	int ret = 0;

	cchain__lock(chain);
	while (!has_room(chain)) {
		if (!wait) {
			ret = EAGAIN;
			break;
		}
		if (timed_out) {
			ret = ETIMEDOUT;
			break;
		}
		if (!deadline && cchain__runs_deferred_of(chain)) {
			cchain__misuse(func, "would wait for room in a deferred function of the "
					     "same chain (it holds the turn): added without waiting");
			break;
		}
		chain->room_waiters++;
		seen = chain->room;
		cchain__unlock(chain);
		timed_out = cchain__word_wait(&chain->room, seen, deadline) == ETIMEDOUT;
		cchain__lock(chain);
		chain->room_waiters--;
	}
	if (!ret) {
		if (cc_debug() && !cchain__debug_add(chain, entry, func))
			ret = EINVAL;
		else
			cchain__add_locked(chain, entry);
	}
	cchain__unlock(chain);
	return ret;
}

void compl_chain_window_add(struct compl_chain *chain, struct compl_chain_entry *entry)
{
	if (CC_NULL_ARG(chain, "chain", __func__) || CC_NULL_ARG(entry, "entry", __func__))
		return;
	window_add(chain, entry, true, NULL, __func__);
}

int compl_chain_window_try_add(struct compl_chain *chain, struct compl_chain_entry *entry)
{
	if (CC_NULL_ARG(chain, "chain", __func__) || CC_NULL_ARG(entry, "entry", __func__))
		return EINVAL;
	return window_add(chain, entry, false, NULL, __func__);
}

int compl_chain_window_add_timeout(struct compl_chain *chain, struct compl_chain_entry *entry,
				   uint64_t timeout_ns)
{
	struct timespec deadline;

	if (CC_NULL_ARG(chain, "chain", __func__) || CC_NULL_ARG(entry, "entry", __func__))
		return EINVAL;
	if (!timeout_ns)
		return window_add(chain, entry, false, NULL, __func__);
	/* Saturate: a timeout of centuries means "no timeout". */
	if (!cchain__deadline_after(timeout_ns, &deadline))
		return window_add(chain, entry, true, NULL, __func__);
	return window_add(chain, entry, true, &deadline, __func__);
}

int compl_chain_window_notify(struct compl_chain *chain, struct compl_chain_entry *watch,
			      void (*fn)(struct compl_chain_entry *watch))
{
	if (CC_NULL_ARG(chain, "chain", __func__) || CC_NULL_ARG(watch, "watch", __func__) ||
	    CC_NULL_ARG(fn, "fn", __func__))
		return EINVAL;
	cchain__lock(chain);
	if (chain->room_watch && chain->room_watch != watch) {
		cchain__unlock(chain);
		return EBUSY;
	}
	/* Room is made with the lock held: this look cannot miss it. */
	if (has_room(chain)) {
		/* Not @watch: a watch is kept only while there is no room. */
		cchain__unlock(chain);
		fn(watch);
		return 0;
	}
	watch->wake.deferred = fn;
	chain->room_watch = watch;
	cchain__unlock(chain);
	return 0;
}

bool compl_chain_window_unnotify(struct compl_chain *chain, struct compl_chain_entry *watch)
{
	bool withdrawn;

	if (CC_NULL_ARG(chain, "chain", __func__) || CC_NULL_ARG(watch, "watch", __func__))
		return false;
	/* The function is called with the lock held: once we hold it, it has returned. */
	cchain__lock(chain);
	withdrawn = chain->room_watch == watch;
	if (withdrawn)
		chain->room_watch = NULL;
	cchain__unlock(chain);
	return withdrawn;
}
