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
 *   - A windowed add: room (count < window): add.  None: the try form
 *     fails; the others register as room waiters, read the room word,
 *     unlock, sleep on the word unless it moved, lock and look again.  A
 *     timed add that passed its deadline takes the room that is there
 *     when it looks again, and gives up only when there is none.
 *   - A leaver (cchain__window_leave()): count--; if adders wait, bump the
 *     room word and wake one after unlocking; if a room watch is kept and
 *     there is room, take it off and call its function.
 *   - A room watch: room now, its function is called at once; else it is
 *     kept in the chain's one slot.
 *
 * The room word is a futex's (or its condvar emulation's: the wait
 * backend's cchain__word_wait()): bumped with the lock held, read by a
 * waiter with the lock held before it sleeps, so a bump between the read
 * and the sleep makes the sleep return at once.
 */
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "cchain-internal.h"

/* Room for one more windowed add?  Lock held. */
static bool has_room(const struct compl_chain *chain)
{
	unsigned int limit = cc_load_relaxed(&chain->window);

	return !limit || chain->count < limit;
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

/* Room appeared (lock held).  Return: a room waiter must be woken. */
static bool make_room(struct compl_chain *chain)
{
	bool wake = false;

	if (chain->room_waiters) {
		cc_store_relaxed(&chain->room, chain->room + 1);
		wake = true;
	}
	fire_watch(chain);
	return wake;
}

bool cchain__window_leave(struct compl_chain *chain)
{
	chain->count--;
	return make_room(chain);
}

void cchain__window_wake(struct compl_chain *chain)
{
	cchain__word_wake(&chain->room, false);
}

int compl_chain_set_window(struct compl_chain *chain, unsigned int limit)
{
	bool wake;

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
	/* A larger window may have room for every waiter: each looks again. */
	wake = make_room(chain);
	cchain__unlock(chain);
	if (wake)
		cchain__word_wake(&chain->room, true);
	return 0;
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
