// SPDX-License-Identifier: MIT
/*
 * The chain itself: a FIFO of entries under a mutex, as in the kernel.  The
 * head is the entry whose turn it is; only the head leaves by completing,
 * any entry may leave by cancelling.  How owners sleep until their entry
 * becomes the head is the wait backend's business.
 *
 * One word is also touched without the lock: chain->tail.  An add to an
 * empty chain swings it from NULL to the new entry, and the complete of the
 * only entry swings it back, each with one compare-and-swap and no lock:
 * the uncontended cycle costs two atomic operations.  Everything else takes
 * the lock, and moves the tail only in ways these two cannot race with:
 * while the tail is an entry, the one lock-free move left is that entry's
 * own complete, once it holds the turn, so a locked add swings the tail with
 * compare-and-swap before it links the old tail, and an unlink publishes a
 * new tail only after its last write to that entry.  Values of chain->tail:
 *
 *   free        empty, and nobody holds the turn: a lock-free add may come
 *   busy        empty, but a deferred function holds the turn
 *   an entry    the last entry
 *
 * plus CC_PIN, a tag bit set while compl_chain_dump() walks the chain with
 * the lock held: the lock-free paths, whose compare-and-swap then fails,
 * fall back to the lock.
 *
 * Numbers (compl_chain_add_seq): a free or busy word carries the number of
 * the next add, so the compare-and-swap that adds to an empty chain also
 * claims its number, and on 64-bit targets a free word never repeats (no
 * ABA; where pointers are 32-bit, numbers are 0 and not kept).  While the
 * tail is an entry, its ->next, which no successor has filled, holds a tag:
 * the number of the latest add (written by that add before it publishes
 * the entry, or by the unlink of a last entry into its predecessor); an
 * add behind it takes that plus one, with the lock held.  The complete of
 * the only entry reads the tag without the lock, and may read it stale when
 * an add and the cancel of that add got in between (the tail is the same
 * entry again): chain->seq_floor, written by that cancel before the tail's
 * release, keeps the number, and an add from a free word takes the larger.
 *
 * chain->head is written with the lock held, and by the lock-free paths
 * while they own the whole chain: an add stores its entry once the tail is
 * its own; a complete clears the head before it swings the tail (and puts
 * it back if a locked add got in first).
 *
 * Deferred entries (compl_chain_defer) carry a function instead of a
 * waiter, and a tag in the low bit of their back pointer.  When one becomes
 * the head, whoever passed the turn takes it off the list, with the
 * deferred entries that follow it (a run), marks the chain busy (a deferred
 * function holds the turn) and runs them; then passes the turn on, in a
 * loop, so a run of deferred entries never recurses.  An entry of a run
 * stays pending, and chain->busy counts it, until its function is called:
 * clearing its back pointer is the library's last access to it.
 *
 * Entries registered with compl_chain_notify() carry a function too, and
 * CC_NOTIFY in their back pointer.  Whoever gives such an entry its turn
 * (always with the lock held, see notify_turn()) marks it ready, clears the
 * tag and calls the function, still holding the lock: a cancel or an
 * unnotify, which take the lock (an unnotify that finds the tag cleared
 * too), either withdraw the entry before the call or find the call
 * returned.  The entry stays in the chain and holds the turn until its
 * owner completes it.
 *
 * chain->busy: 0 while the turn is free or held by an owner; otherwise 1
 * plus the number of entries taken off in the current run whose functions
 * have not been called yet.  Written with the lock held, except for the
 * runner's decrements.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu/arch.h>

#include "cchain-internal.h"
#include "probes.h"
#include "stats.h"

/* Set by the wait backend when a waiter blocks (for wait_end, statistics). */
static __thread bool wait_slept;

/* The wait backend, in this translation unit so that its fast paths inline. */
#include CCHAIN_WAIT_BACKEND

/* ---- statistics hooks (stats.h): no-ops unless the chain's are on ------------ */

static uint64_t mono_ns(void);

/* @head holds the turn from now (@exact) or from before now (not @exact); lock held. */
static void stats_record_turn(struct cc_stats *st, const struct compl_chain_entry *head,
			      bool exact)
{
	st->turn_head = head;
	st->turn_gen = cc_stats_gen(st);
	st->turn_since = mono_ns();
	st->turn_exact = exact;
}

/* @head holds the turn; if it got it untimed (lock-free), from now on.  Lock held. */
static void stats_seen(struct cc_stats *st, const struct compl_chain_entry *head)
{
	if (head != st->turn_head || cc_stats_gen(st) != st->turn_gen)
		stats_record_turn(st, head, false);
}

/* The turn passes to @head, with the lock held: timed. */
static inline void stats_turn(struct compl_chain *chain, const struct compl_chain_entry *head)
{
	struct cc_stats *st = cc_stats_of(chain);

	if (st)
		stats_record_turn(st, head, true);
}

/*
 * @entry was added with the lock held, @first in an empty list; @got_turn
 * if the chain was free.  See cc_stats for len.
 */
static __attribute__((noinline, cold)) void stats_count_locked_add(struct compl_chain *chain,
								   struct compl_chain_entry *entry,
								   bool got_turn, bool first)
{
	struct cc_stats *st = cc_stats_of(chain);
	struct compl_chain_entry *head;
	unsigned int busy;
	uint64_t n;

	if (!st)
		return;
	st->len = first ? 1 : (st->len ? st->len : 1) + 1;
	busy = cc_load_relaxed(&chain->busy);
	n = st->len + (busy > 1 ? busy - 1 : 0);
	if (n > st->max_entries)
		st->max_entries = n;
	head = cc_load_relaxed(&chain->head);
	if (got_turn)
		stats_record_turn(st, entry, true);
	else if (head && !busy)
		stats_seen(st, head);
}

static inline void stats_locked_add(struct compl_chain *chain, struct compl_chain_entry *entry,
				    bool got_turn, bool first)
{
	if (__builtin_expect(atomic_load_explicit(&cchain__stats_on, memory_order_relaxed), 0))
		stats_count_locked_add(chain, entry, got_turn, first);
}

/* The turn's holder completes its entry: the uncontended path's one hook. */
static __attribute__((noinline, cold)) void stats_count_complete(struct compl_chain *chain)
{
	struct cc_stats *st = cc_stats_of(chain);

	if (st)
		cc_stats_bump(&st->completes);
}

static inline void stats_complete(struct compl_chain *chain)
{
	if (__builtin_expect(atomic_load_explicit(&cchain__stats_on, memory_order_relaxed), 0))
		stats_count_complete(chain);
}

/* An entry leaves the list with the lock held (complete or cancel). */
static inline void stats_leave(struct compl_chain *chain)
{
	struct cc_stats *st = cc_stats_of(chain);

	if (st && st->len)
		st->len--;
}

/* @entry is cancelled; lock held. */
static inline void stats_cancel(struct compl_chain *chain, struct compl_chain_entry *entry)
{
	struct cc_stats *st = cc_stats_of(chain);

	if (!st)
		return;
	st->cancels++;
	if (cc_load_relaxed(&chain->head) == entry)
		st->head_cancels++;
}

/* A run of @n deferred entries, @first first, takes the turn; lock held. */
static inline void stats_deferred(struct compl_chain *chain, struct compl_chain_entry *first,
				  unsigned int n)
{
	struct cc_stats *st = cc_stats_of(chain);

	if (!st)
		return;
	st->deferred_runs += n;
	st->len = st->len > n ? st->len - n : 0;
	stats_seen(st, first);
}

/* A wait whose turn had not come ended after @ns. */
static void stats_wait(struct cc_stats *st, uint64_t ns, bool slept)
{
	uint64_t max = atomic_load_explicit(&st->wait_ns_max, memory_order_relaxed);

	atomic_fetch_add_explicit(&st->waits, 1, memory_order_relaxed);
	if (slept)
		atomic_fetch_add_explicit(&st->waits_slept, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st->wait_ns_total, ns, memory_order_relaxed);
	while (ns > max && !atomic_compare_exchange_weak_explicit(&st->wait_ns_max, &max, ns,
								  memory_order_relaxed,
								  memory_order_relaxed))
		;
}

#define CC_DEFERRED ((uintptr_t)1)
#define CC_NOTIFY ((uintptr_t)2)

/*
 * The low bits of a back pointer that are neither tag: a chain is aligned
 * at least as its pthread_mutex_t, so they are clear unless the entry is
 * garbage (misuse reports tell the two apart).
 */
#define CC_BACK_ODD ((uintptr_t)(_Alignof(struct compl_chain) - 1) & ~(CC_DEFERRED | CC_NOTIFY))
_Static_assert(_Alignof(struct compl_chain) >= 4, "the back pointer's tags need two bits");

/*
 * The tail word.  An entry (aligned to 4) has bits 0 and 1 clear, but for
 * CC_PIN.  A free word has bit 0 set (CC_FREE), bit 2 if busy (CC_BUSY),
 * and the next number less one from bit 3 up; NULL, as initialised, is the
 * free word of number 1.
 */
#define CC_FREE ((uintptr_t)1)
#define CC_PIN ((uintptr_t)2)
#define CC_BUSY ((uintptr_t)4)
#define CC_NUM_SHIFT 3
#define CC_NUMBERED (UINTPTR_MAX > UINT32_MAX)
_Static_assert(_Alignof(struct compl_chain_entry) >= 4, "the tail word needs two bits");

static bool tail_is_entry(const struct compl_chain_entry *tail)
{
	uintptr_t w = (uintptr_t)tail & ~CC_PIN;

	return w && !(w & CC_FREE);
}

/* Free and unpinned: a lock-free add may claim it. */
static bool tail_is_free(const struct compl_chain_entry *tail)
{
	uintptr_t w = (uintptr_t)tail;

	return !w || (w & (CC_FREE | CC_PIN | CC_BUSY)) == CC_FREE;
}

static bool tail_is_busy(const struct compl_chain_entry *tail)
{
	return ((uintptr_t)tail & (CC_FREE | CC_BUSY)) == (CC_FREE | CC_BUSY);
}

/* The number a free or busy word carries. */
static uint64_t tail_num(const struct compl_chain_entry *tail)
{
	return CC_NUMBERED ? (uint64_t)((uintptr_t)tail >> CC_NUM_SHIFT) + 1 : 0;
}

static struct compl_chain_entry *free_word(uint64_t num, bool busy)
{
	uintptr_t n = CC_NUMBERED ? (uintptr_t)(num - 1) << CC_NUM_SHIFT : 0;

	return (struct compl_chain_entry *)(n | CC_FREE | (busy ? CC_BUSY : 0));
}

/*
 * An entry's ->next while it is the tail: the number of the chain's latest
 * add, tagged in bit 0 (entries are aligned to 4, so a pointer has it clear).
 */
static struct compl_chain_entry *num_tag(uint64_t num)
{
	return (struct compl_chain_entry *)(((uintptr_t)num << 1) | 1);
}

static bool is_num_tag(const struct compl_chain_entry *next)
{
	return (uintptr_t)next & 1;
}

static uint64_t tag_num(const struct compl_chain_entry *next)
{
	return (uintptr_t)next >> 1;
}

/* The entry after @entry, if any (its ->next may be a number's tag). */
static struct compl_chain_entry *next_of(const struct compl_chain_entry *entry)
{
	struct compl_chain_entry *next = cc_load_relaxed(&entry->next);

	return is_num_tag(next) ? NULL : next;
}

/* The next add's number, from a free word's @num and the floor a cancel left. */
static uint64_t next_num(const struct compl_chain *chain, uint64_t num)
{
	uint64_t floor = cc_load_relaxed(&chain->seq_floor);

	return CC_NUMBERED && floor > num ? floor : num;
}

bool cchain__tail_free(struct compl_chain *chain)
{
	return tail_is_free(cc_load_relaxed(&chain->tail));
}

static struct compl_chain_entry *unpinned(struct compl_chain_entry *tail)
{
	return (struct compl_chain_entry *)((uintptr_t)tail & ~CC_PIN);
}

static bool cas_tail(struct compl_chain *chain, struct compl_chain_entry **expect,
		     struct compl_chain_entry *desired)
{
	return atomic_compare_exchange_strong_explicit(CC_ATOMIC(&chain->tail), expect, desired,
						       memory_order_acq_rel,
						       memory_order_relaxed);
}

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
	int err;

	if (CC_NULL_ARG(chain, "chain", __func__))
		return;
	err = pthread_mutex_init(&chain->lock, NULL);
	if (err)
		CC_DIE("pthread_mutex_init", err);
	cc_store_relaxed(&chain->head, NULL);
	cc_store_relaxed(&chain->tail, NULL);
	cc_store_relaxed(&chain->seq_floor, (uint64_t)0);
	cc_store_relaxed(&chain->busy, 0u);
	cc_store_relaxed(&chain->window, 0u);
	chain->count = 0;
	chain->room_waiters = 0;
	cc_store_relaxed(&chain->room, 0u);
	chain->room_watch = NULL;
	chain->room_low = 0;
	chain->room_closed = 0;
}

void compl_chain_destroy(struct compl_chain *chain)
{
	int err;

	struct compl_chain_entry *tail;

	if (CC_NULL_ARG(chain, "chain", __func__))
		return;
	cchain__lock(chain);
	tail = cc_load_relaxed(&chain->tail);
	if (!tail_is_free(tail)) {
		cchain__unlock(chain);
		cchain__misuse(__func__, tail_is_busy(tail) ? "a deferred function of the chain "
							      "is running" :
							      "chain is not empty");
		return;
	}
	cchain__unlock(chain);
	if (atomic_load_explicit(&cchain__stats_on, memory_order_relaxed))
		cchain__stats_forget(chain);
	err = pthread_mutex_destroy(&chain->lock);
	if (err)
		CC_DIE("pthread_mutex_destroy", err);
}

/*
 * Append @entry (lock held); the tail may move meanwhile, lock-free.  Out
 * of line: compl_chain_add()'s lock-free path stays lean.
 */
static __attribute__((noinline)) uint64_t add_locked(struct compl_chain *chain,
						      struct compl_chain_entry *entry)
{
	struct compl_chain_entry *tail = cc_load_relaxed(&chain->tail), *prev;
	uint64_t num;
	bool got_turn; /* the chain was free */

	do {
		got_turn = tail_is_free(tail);
		prev = tail_is_entry(tail) ? tail : NULL;
		entry->prev = prev;
		cchain__wake_init(entry, got_turn);
	} while (!cas_tail(chain, &tail, entry));
	CC_PROBE(add, chain, entry, got_turn);
	if (got_turn)
		CC_PROBE(turn, chain, entry);
	stats_locked_add(chain, entry, got_turn, prev == NULL);
	if (cc_load_relaxed(&chain->window))
		cchain__window_enter(chain);
	/* The tail now, but it cannot leave lock-free before we unlock. */
	if (prev) {
		/* No longer the tail: @prev now leaves only under the lock. */
		num = tag_num(cc_load_relaxed(&prev->next)) + 1;
		cc_store_relaxed(&prev->next, entry);
	} else {
		num = next_num(chain, tail_num(tail));
		cc_happens_after(&chain->tail);
		cc_store_release(&chain->head, entry);
	}
	cc_store_relaxed(&entry->next, num_tag(num));
	return num;
}

uint64_t cchain__add_locked(struct compl_chain *chain, struct compl_chain_entry *entry)
{
	cchain__entry_init(chain, entry);
	return add_locked(chain, entry);
}

void cchain__entry_init(struct compl_chain *chain, struct compl_chain_entry *entry)
{
	/* Every member is written before it is read: @entry may be garbage. */
	entry->next = NULL;
	entry->prev = NULL;
	cc_atomic_var(&entry->next);
	cc_atomic_var(&entry->chain);
	cc_atomic_var(&entry->wake);
	cc_atomic_var(&chain->head);
	cc_atomic_var(&chain->tail);
	cc_atomic_var(&chain->busy);
	cc_store_relaxed(&entry->chain, chain);
	cchain__wake_init(entry, true);
}

/* compl_chain_add(), for @func.  Return: the number; 0 if refused (misuse reported). */
static inline __attribute__((always_inline)) uint64_t
add(struct compl_chain *chain, struct compl_chain_entry *entry, const char *func)
{
	struct compl_chain_entry *tail;
	uint64_t num;

	if (CC_NULL_ARG(chain, "chain", func) || CC_NULL_ARG(entry, "entry", func))
		return 0;
	if (cc_debug() && !cchain__debug_add(chain, entry, func))
		return 0;
	cchain__entry_init(chain, entry);
	/*
	 * Read first: a compare-and-swap that fails costs as much as one that
	 * succeeds.  A chain with a window counts its adds, with the lock.
	 * Acquire: the floor a cancel left is seen with the word after it.
	 */
	tail = cc_load_acquire(&chain->tail);
	if (tail_is_free(tail) && !cc_load_relaxed(&chain->window)) {
		/* The tag goes before the swap publishes the entry to later adds. */
		num = next_num(chain, tail_num(tail));
		cc_store_relaxed(&entry->next, num_tag(num));
		if (cas_tail(chain, &tail, entry)) {
			/* Lock-free: the chain was empty, the turn is ours. */
			cc_happens_after(&chain->tail);
			cc_store_release(&chain->head, entry);
			CC_PROBE(add, chain, entry, 1);
			CC_PROBE(turn, chain, entry);
			return num;
		}
	}
	cchain__lock(chain);
	num = add_locked(chain, entry);
	cchain__unlock(chain);
	return num;
}

void compl_chain_add(struct compl_chain *chain, struct compl_chain_entry *entry)
{
	add(chain, entry, __func__);
}

uint64_t compl_chain_add_seq(struct compl_chain *chain, struct compl_chain_entry *entry)
{
	uint64_t num = add(chain, entry, __func__);

	return CC_NUMBERED ? num : 0;
}

static bool is_deferred(const struct compl_chain_entry *entry)
{
	return (uintptr_t)cc_load_relaxed(&entry->chain) & CC_DEFERRED;
}

/* @entry leaves the library: its last access, after which it may be freed. */
static void release_entry(struct compl_chain_entry *entry)
{
	if (cc_debug())
		cchain__debug_forget(entry);
	cc_happens_before(entry);
	cc_store_release(&entry->chain, NULL);
}

/*
 * Take @entry off the list (lock held), leaving it pending and its ->next
 * alone.  Return: whether it was the head.
 */
static bool detach(struct compl_chain *chain, struct compl_chain_entry *entry)
{
	struct compl_chain_entry *next = next_of(entry);
	struct compl_chain_entry *prev = entry->prev;

	if (prev) {
		/* A new last entry takes the latest add's number from @entry. */
		cc_store_relaxed(&prev->next, next ? next : cc_load_relaxed(&entry->next));
	} else {
		cc_happens_before(next ? (void *)next : (void *)&chain->head);
		cc_store_release(&chain->head, next);
	}
	if (next) {
		next->prev = prev;
	} else {
		/*
		 * After the last write to @prev: as the tail, and the head, it
		 * may complete lock-free and be freed at once.
		 */
		if (!prev) {
			cc_happens_before(&chain->tail);
			cc_store_release(&chain->tail,
					 free_word(tag_num(cc_load_relaxed(&entry->next)) + 1,
						   cc_load_relaxed(&chain->busy)));
		} else {
			/* For a complete of @prev that read its tag before: see top. */
			cc_store_relaxed(&chain->seq_floor,
					 tag_num(cc_load_relaxed(&entry->next)) + 1);
			cc_store_release(&chain->tail, prev);
		}
	}
	return prev == NULL;
}

/* Take @entry off the list, for good (lock held).  Return: whether it was the head. */
static bool unlink_entry(struct compl_chain *chain, struct compl_chain_entry *entry)
{
	bool washead = detach(chain, entry);

	release_entry(entry);
	return washead;
}

/*
 * Complete @entry without the lock if it holds the turn and is the last
 * entry: swing the tail to the free word of the next number.  False if an
 * add got in first (or a dump
 * pinned the chain): the head is put back and the caller takes the lock.
 */
static bool leave_alone(struct compl_chain *chain, struct compl_chain_entry *entry)
{
	struct compl_chain_entry *expect = entry, *tag = cc_load_relaxed(&entry->next);

	/* A successor is linked: the swap would fail. */
	if (!is_num_tag(tag))
		return false;
	cc_store_relaxed(&chain->head, NULL);
	cc_happens_before(&chain->tail);
	if (!cas_tail(chain, &expect, free_word(tag_num(tag) + 1, false))) {
		cc_store_relaxed(&chain->head, entry);
		return false;
	}
	release_entry(entry);
	return true;
}

/* At most this many deferred functions run per round trip of the lock. */
#define CC_RUN_MAX 64

/*
 * @first is a deferred head and the turn is free (lock held): mark the chain
 * busy, take @first off with the deferred entries that follow it, up to
 * CC_RUN_MAX in all, and return the run, linked through ->next.  Its
 * entries stay pending until finish() calls their functions.
 */
static struct compl_chain_entry *take_run(struct compl_chain *chain,
					  struct compl_chain_entry *first)
{
	struct compl_chain_entry *last = first, *next;
	unsigned int n = 1;

	/*
	 * Busy first: detach() then publishes a busy word, not a free one, if the chain
	 * empties, and compl_chain_empty(), which reads busy after seeing
	 * a busy word, counts every entry taken off before it is released.
	 */
	cc_store_release(&chain->busy, 2u);
	detach(chain, first);
	while ((next = next_of(last)) && n < CC_RUN_MAX && is_deferred(next)) {
		cc_store_release(&chain->busy, n + 2);
		detach(chain, next);
		last = next;
		n++;
	}
	last->next = NULL;
	stats_deferred(chain, first, n);
	return first;
}

static bool is_notify(const struct compl_chain_entry *entry)
{
	return (uintptr_t)cc_load_relaxed(&entry->chain) & CC_NOTIFY;
}

/*
 * @head, registered with compl_chain_notify(), has just become the head
 * (lock held): give it its turn, untag it, and call its function, which
 * may hand the entry to a thread that completes and frees it at once: the
 * call is the last access to @head.
 */
static void notify_turn(struct compl_chain *chain, struct compl_chain_entry *head)
{
	void (*fn)(struct compl_chain_entry *) = cc_load_relaxed(&head->wake.deferred);

	cchain__wake_init(head, true);
	cc_happens_before(head);
	cc_store_release(&head->chain, chain); /* untagged: the turn is the owner's */
	fn(head);
}

/*
 * The head left, or a deferred function returned (lock held): give the
 * turn to the new head, unless a deferred function holds it.  A deferred
 * head is taken off the chain with the chain marked busy, and returned: the
 * caller runs it.  A head whose owner sleeps is left in *@wake: the caller
 * wakes it once the lock is released.
 */
static struct compl_chain_entry *pass_turn(struct compl_chain *chain,
					   struct compl_chain_entry *head,
					   struct compl_chain_entry **wake)
{
	if (!head || cc_load_relaxed(&chain->busy))
		return NULL;
	stats_turn(chain, head);
	if (!is_deferred(head)) {
		CC_PROBE(turn, chain, head);
		if (is_notify(head))
			notify_turn(chain, head);
		else
			*wake = cchain__wake_turn(head);
		return NULL;
	}
	return take_run(chain, head);
}

/* The chains whose deferred functions this thread runs, innermost first. */
struct run_frame {
	struct compl_chain *chain;
	struct run_frame *outer;
};

static __thread struct run_frame *running;

/* Is this thread inside a deferred function of @chain (it holds the turn)? */
static bool runs_deferred_of(const struct compl_chain *chain)
{
	const struct run_frame *f;

	for (f = running; f; f = f->outer)
		if (f->chain == chain)
			return true;
	return false;
}

bool cchain__runs_deferred_of(const struct compl_chain *chain)
{
	return runs_deferred_of(chain);
}

/*
 * A deferred entry of a run stops being pending, as its function is about
 * to be called (lock not held): with a window, it leaves the count then,
 * with the lock.
 */
static void release_run_entry(struct compl_chain *chain, struct compl_chain_entry *entry)
{
	unsigned int room;

	if (!cc_load_relaxed(&chain->window)) {
		release_entry(entry);
		return;
	}
	cchain__lock(chain);
	release_entry(entry);
	room = cchain__window_leave(chain);
	cchain__unlock(chain);
	if (room)
		cchain__window_wake(chain, room);
}

/*
 * Release the lock; wake @wake's owner, and a room waiter if @room; then
 * run the deferred functions of the run @entry, and of every run that gets
 * the turn after it, waking the owner that gets the turn after them.
 * Called with the lock held and @entry (if any) taken off the chain by
 * pass_turn() or take_run(); returns with the lock released.
 */
static void finish(struct compl_chain *chain, struct compl_chain_entry *entry,
		   struct compl_chain_entry *wake, unsigned int room)
{
	struct run_frame frame = { chain, running };

	for (;;) {
		void (*fn)(struct compl_chain_entry *);
		struct compl_chain_entry *head;

		cchain__unlock(chain);
		if (wake)
			cchain__wake_finish(wake);
		if (room)
			cchain__window_wake(chain, room);
		room = 0;
		if (!entry)
			return;
		running = &frame;
		do {
			struct compl_chain_entry *next = entry->next;

			fn = entry->wake.deferred;
			cc_happens_after(entry);
			release_run_entry(chain, entry); /* no longer pending: not touched again */
			atomic_fetch_sub_explicit(CC_ATOMIC(&chain->busy), 1u,
						  memory_order_release);
			CC_PROBE(defer_run, chain, entry, fn);
			fn(entry);
			entry = next;
		} while (entry);
		running = frame.outer;
		cchain__lock(chain);
		head = cc_load_relaxed(&chain->head);
		cc_happens_before(head ? (void *)head : (void *)&chain->head);
		cc_store_release(&chain->busy, 0u);
		wake = NULL;
		if (tail_is_busy(cc_load_relaxed(&chain->tail))) {
			/* Nothing was added meanwhile: the chain is free. */
			cc_happens_before(&chain->tail);
			cc_store_release(&chain->tail,
					 free_word(tail_num(cc_load_relaxed(&chain->tail)), false));
			entry = NULL;
		} else {
			entry = pass_turn(chain, head, &wake);
		}
	}
}

/* Remove @entry; if it was the head, pass the turn on.  Lock held, then released. */
static void leave(struct compl_chain *chain, struct compl_chain_entry *entry)
{
	struct compl_chain_entry *next = next_of(entry), *run = NULL, *wake = NULL;
	unsigned int room = 0;

	stats_leave(chain);
	/* Not chain->head: once the chain is empty, a lock-free add may fill it. */
	if (unlink_entry(chain, entry))
		run = pass_turn(chain, next, &wake);
	if (cc_load_relaxed(&chain->window))
		room = cchain__window_leave(chain);
	finish(chain, run, wake, room);
}

/*
 * Could @back be a tagged back pointer?  Its bits between the tags and the
 * chain's alignment are clear, it has one tag at most, and on 64-bit
 * systems bits 48-55 are clear, as in every user address unless the
 * program mapped memory above 256 TiB (the top byte may be a pointer tag).
 * For misuse reports only: a byte-filled entry fails it.
 */
static bool back_plausible(uintptr_t back)
{
	if ((back & CC_BACK_ODD) || (back & (CC_DEFERRED | CC_NOTIFY)) == (CC_DEFERRED | CC_NOTIFY))
		return false;
#if UINTPTR_MAX > 0xffffffffu
	if ((back >> 48) & 0xff)
		return false;
#endif
	return true;
}

/*
 * @entry, whose back pointer is @back, is not plainly pending: say why, for
 * @func.  Calls nothing but the misuse handler (try_wait is signal-safe).
 */
static __attribute__((noinline, cold)) void report_not_pending(uintptr_t back,
							       const char *func)
{
	if (!back) {
		cchain__misuse(func, "entry is not pending (never added, "
				     "already completed or cancelled)");
	} else if (!back_plausible(back)) {
		cchain__misuse(func, "entry is not pending, or is corrupt (its back pointer "
				     "is no chain's address; CCHAIN_DEBUG=1 tells which)");
	} else if (back & CC_DEFERRED) {
		cchain__misuse(func, "entry was handed to compl_chain_defer");
	} else {
		cchain__misuse(func, "entry awaits the call of its compl_chain_notify "
				     "function");
	}
}

/*
 * @entry is not NULL and, in debug mode, an entry the library knows.
 * Return: true, or false after reporting misuse on behalf of @func.
 */
static inline bool entry_ok(const struct compl_chain_entry *entry, const char *func)
{
	if (CC_NULL_ARG(entry, "entry", func))
		return false;
	return !cc_debug() || cchain__debug_check(entry, func);
}

/* The chain of @entry, a pending entry, or NULL after reporting misuse. */
static inline struct compl_chain *back_chain(const struct compl_chain_entry *entry,
					     const char *func)
{
	struct compl_chain *chain = cc_load_acquire(&entry->chain);

	if (__builtin_expect(chain && !((uintptr_t)chain & (CC_DEFERRED | CC_NOTIFY | CC_BACK_ODD)), 1))
		return chain;
	report_not_pending((uintptr_t)chain, func);
	return NULL;
}

/* The entry's chain, or NULL after reporting misuse on behalf of @func. */
static inline struct compl_chain *pending_chain(const struct compl_chain_entry *entry,
						const char *func)
{
	return entry_ok(entry, func) ? back_chain(entry, func) : NULL;
}

/* Does @back tag an entry registered with compl_chain_notify()? */
static bool is_registered(const struct compl_chain *back)
{
	return ((uintptr_t)back & (CC_DEFERRED | CC_NOTIFY | CC_BACK_ODD)) == CC_NOTIFY;
}

/* ---- spinning before sleeping ------------------------------------------------ */

/*
 * Whose CPUs count: the waiter's (cchain__cpus(), its affinity mask).  A
 * spin pays only while the thread that is to hand over the turn runs on
 * another CPU at the same time.  The waiter cannot know which thread that
 * will be, nor that thread's mask, but it knows its own.  If its own allows
 * one CPU, a turn-giver confined with it (the usual case: taskset, a cpuset
 * or a container CPU set confines the whole process) cannot run until the
 * spin ends: every handoff costs the whole budget, and under SCHED_FIFO the
 * giver is kept off the CPU all that time.  A giver pinned to another CPU
 * would make the spin pay, but sleeping costs that case one wake-up, a few
 * microseconds, where spinning in the other costs the budget: a waiter
 * whose mask allows one CPU never spins.  With more, its count bounds the
 * spinners (one CPU is left to the giver) and the waiters it spins among,
 * compared with the process-wide waiting word.
 */

#define SPIN_NS_DEFAULT 20000u
#define SPIN_NS_UNSET UINT64_MAX

static _Atomic uint64_t spin_ns = SPIN_NS_UNSET;

/*
 * Threads in wait_turn_slow() (high half) and those of them spinning (low
 * half), in one word so that a wait whose spin succeeds costs two atomic
 * operations on it, not four.
 */
#define CC_WAITER ((uint64_t)1 << 32)
#define CC_SPINNER ((uint64_t)1)
static _Atomic uint64_t waiting;
static pthread_once_t spin_once = PTHREAD_ONCE_INIT;

/*
 * The longest spin budget: 10 ms, longer than any useful spin.  CCHAIN_SPIN_NS
 * above it is refused; cchain_set_spin_ns() caps a larger @ns to it.
 */
#define SPIN_NS_MAX 10000000u

/*
 * CCHAIN_SPIN_NS, if set: plain decimal digits, at most SPIN_NS_MAX.
 * Anything else is reported on stderr (once: spin_init runs once) and the
 * default is kept.
 */
static uint64_t spin_ns_from_env(const char *env)
{
	uint64_t v = 0;
	const char *p;

	if (!env)
		return SPIN_NS_DEFAULT;
	for (p = env; *p >= '0' && *p <= '9' && v <= SPIN_NS_MAX; p++)
		v = v * 10 + (uint64_t)(*p - '0');
	if (*env && !*p && v <= SPIN_NS_MAX)
		return v;
	fprintf(stderr, "libcchain: CCHAIN_SPIN_NS=\"%.40s%s\" ignored, using %u ns\n",
		env, strlen(env) > 40 ? "..." : "", SPIN_NS_DEFAULT);
	return SPIN_NS_DEFAULT;
}

static void spin_init(void)
{
	uint64_t unset = SPIN_NS_UNSET, v = spin_ns_from_env(getenv("CCHAIN_SPIN_NS"));

	atomic_compare_exchange_strong(&spin_ns, &unset, v);
}

uint64_t cchain_set_spin_ns(uint64_t ns)
{
	uint64_t old;

	pthread_once(&spin_once, spin_init);
	old = atomic_exchange(&spin_ns, ns < SPIN_NS_MAX ? ns : SPIN_NS_MAX);
	return old;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Poll @entry's state word for up to @budget ns from @start (mono_ns()).
 * Return: true if the turn came.
 */
static bool poll_turn(struct compl_chain_entry *entry, uint64_t budget, uint64_t start)
{
	int i;

	do {
		for (i = 0; i < 16; i++) {
			if (cchain__turn_ready(entry))
				return true;
			caa_cpu_relax();
		}
	} while (mono_ns() - start < budget);
	return false;
}

/* The spin budget, in ns; 0: spinning is off. */
static uint64_t spin_budget(void)
{
	pthread_once(&spin_once, spin_init);
	return atomic_load_explicit(&spin_ns, memory_order_relaxed);
}

/*
 * First, a short poll that no other thread learns of, bounded by
 * CC_QUIET_SPIN_NS (or the budget, if smaller): a turn handed over within a
 * microsecond or two, as in a tight relay, then costs no write to a shared
 * word, whose cache line would otherwise travel between the waiters on
 * every handoff.  Skipped when the waiter's mask allows one CPU and while as
 * many other threads wait as it has CPUs.  Return: true if the turn came.
 */
#define CC_QUIET_SPIN_NS 2000u

static bool quiet_spin(struct compl_chain_entry *entry)
{
	uint64_t budget = spin_budget(), now;
	unsigned int cpus;

	if (!budget)
		return false;
	now = mono_ns();
	cpus = cchain__cpus(now);
	/*
	 * One CPU: the turn-giver cannot run while we poll.  As many threads
	 * sleeping or spinning as CPUs: the CPUs are wanted elsewhere.  A
	 * plain read, which stays in this CPU's cache while no one counts in.
	 */
	return cpus > 1 &&
	       (atomic_load_explicit(&waiting, memory_order_relaxed) >> 32) < cpus &&
	       poll_turn(entry, budget < CC_QUIET_SPIN_NS ? budget : CC_QUIET_SPIN_NS, now);
}

/*
 * Then poll for the rest of the spin budget, bounded by time (a PAUSE
 * costs anything from 10 to 140 cycles), unless enough threads spin already
 * or more threads wait than the waiter has CPUs (@before: the waiting word
 * before this thread counted itself in): then the threads ahead of us need
 * the CPUs more than we need a fast wake-up.  At most one CPU less than the
 * waiter's spin, so that one is left to the thread that is to hand over the
 * turn: none on one CPU.
 * Return: true if the turn came.
 */
static bool spin_for_turn(struct compl_chain_entry *entry, uint64_t before)
{
	uint64_t budget = spin_budget(), now;
	unsigned int cpus;

	if (budget <= CC_QUIET_SPIN_NS)
		return false;
	now = mono_ns();
	cpus = cchain__cpus(now);
	if ((before >> 32) + 1 > cpus || (uint32_t)before >= cpus - 1)
		return false;
	return poll_turn(entry, budget - CC_QUIET_SPIN_NS, now);
}

/* ---- waiting ------------------------------------------------------------------ */

/* The turn of @entry has come: what its predecessors did is visible. */
static void got_turn(struct compl_chain_entry *entry)
{
	cc_happens_after(entry);
}

/*
 * Block until @entry's turn; 0, or ETIMEDOUT if @deadline passed first, or
 * EDEADLK (reported as misuse on behalf of @func) if the caller runs a
 * deferred function of the same chain, which holds the turn: no deadline
 * could ever be met.
 */
static __attribute__((noinline)) int wait_turn_slow(struct compl_chain *chain,
						    struct compl_chain_entry *entry,
						    const struct timespec *deadline,
						    const char *func)
{
	uint64_t before;
	int ret = 0;

	if (quiet_spin(entry)) {
		got_turn(entry);
		return 0;
	}
	before = atomic_fetch_add_explicit(&waiting, CC_WAITER + CC_SPINNER,
					   memory_order_relaxed);

	if (spin_for_turn(entry, before)) {
		atomic_fetch_sub_explicit(&waiting, CC_WAITER + CC_SPINNER, memory_order_relaxed);
		got_turn(entry);
		return 0;
	}
	atomic_fetch_sub_explicit(&waiting, CC_SPINNER, memory_order_relaxed);
	if (!deadline && runs_deferred_of(chain)) {
		cchain__misuse(func, "would wait for a later entry from a deferred "
				     "function of the same chain");
		ret = EDEADLK;
	} else if (cchain__await_turn(chain, entry, deadline)) {
		ret = ETIMEDOUT;
	}
	atomic_fetch_sub_explicit(&waiting, CC_WAITER, memory_order_relaxed);
	if (!ret)
		got_turn(entry);
	return ret;
}

/* wait_turn_slow(), observed by the probes wait_begin and wait_end. */
static __attribute__((noinline)) int wait_turn_observed(struct compl_chain *chain,
							struct compl_chain_entry *entry,
							const struct timespec *deadline,
							const char *func)
{
	struct cc_stats *st = cc_stats_of(chain);
	bool timed = st || CC_PROBE_ENABLED(wait_end);
	uint64_t start = 0, ns = 0;
	int ret;

	CC_PROBE(wait_begin, chain, entry, cc_load_relaxed(&chain->head));
	if (timed)
		start = mono_ns();
	wait_slept = false;
	ret = wait_turn_slow(chain, entry, deadline, func);
	if (timed)
		ns = mono_ns() - start;
	CC_PROBE(wait_end, chain, entry, wait_slept ? 1 : 0, ns, ret);
	if (st)
		stats_wait(st, ns, wait_slept);
	return ret;
}

static inline int wait_turn(struct compl_chain *chain, struct compl_chain_entry *entry,
			    const struct timespec *deadline, const char *func)
{
	if (!cchain__turn_ready(entry))
		return wait_turn_observed(chain, entry, deadline, func);
	got_turn(entry);
	return 0;
}

void compl_chain_wait(struct compl_chain_entry *entry)
{
	struct compl_chain *chain = pending_chain(entry, __func__);

	if (chain)
		wait_turn(chain, entry, NULL, __func__);
}

void compl_chain_complete(struct compl_chain_entry *entry)
{
	struct compl_chain *chain = pending_chain(entry, __func__);

	if (!chain || wait_turn(chain, entry, NULL, __func__))
		return;
	CC_PROBE(complete, chain, entry);
	stats_complete(chain);
	if (cc_load_relaxed(&chain->tail) != entry || cc_load_relaxed(&chain->window) ||
	    !leave_alone(chain, entry)) {
		cchain__lock(chain);
		leave(chain, entry);
	}
}

void compl_chain_cancel(struct compl_chain_entry *entry)
{
	struct compl_chain *chain;

	if (!entry_ok(entry, __func__))
		return;
	chain = cc_load_acquire(&entry->chain);
	/* A registered entry may be withdrawn: its function is then never called. */
	if (is_registered(chain))
		chain = (struct compl_chain *)((uintptr_t)chain & ~CC_NOTIFY);
	else
		chain = back_chain(entry, __func__);

	if (!chain)
		return;
	CC_PROBE(cancel, chain, entry);
	cchain__lock(chain);
	stats_cancel(chain, entry);
	leave(chain, entry);
}

void compl_chain_defer(struct compl_chain_entry *entry,
		       void (*fn)(struct compl_chain_entry *entry))
{
	struct compl_chain *chain = pending_chain(entry, __func__);

	if (!chain)
		return;
	if (!fn) {
		cchain__misuse(__func__, "no function to defer");
		return;
	}
	cchain__lock(chain);
	entry->wake.deferred = fn;
	if (cc_load_relaxed(&chain->head) == entry && !cc_load_relaxed(&chain->busy)) {
		/* The turn has come: run it here, and whatever follows. */
		finish(chain, take_run(chain, entry), NULL, 0);
		return;
	}
	cc_store_release(&entry->chain,
			 (struct compl_chain *)((uintptr_t)chain | CC_DEFERRED));
	cchain__unlock(chain);
}

void compl_chain_notify(struct compl_chain_entry *entry,
			void (*fn)(struct compl_chain_entry *entry))
{
	struct compl_chain *chain = pending_chain(entry, __func__);

	if (!chain)
		return;
	if (!fn) {
		cchain__misuse(__func__, "no function to call");
		return;
	}
	/* The turn is final until the entry leaves: no lock to learn it. */
	if (cchain__turn_ready(entry)) {
		got_turn(entry);
		fn(entry);
		return;
	}
	cchain__lock(chain);
	/* Turns are given with the lock held: this check cannot miss one. */
	if (cchain__turn_ready(entry)) {
		cchain__unlock(chain);
		got_turn(entry);
		fn(entry);
		return;
	}
	cc_store_relaxed(&entry->wake.deferred, fn);
	cc_store_release(&entry->chain, (struct compl_chain *)((uintptr_t)chain | CC_NOTIFY));
	cchain__unlock(chain);
}

/*
 * Return once every call of a compl_chain_notify() function that a
 * turn-giver of @chain began before, by untagging its entry, has returned:
 * the turn-giver untags the entry and calls the function in one hold of
 * the lock.
 */
static void await_notify_calls(struct compl_chain *chain)
{
	cchain__lock(chain);
	cchain__unlock(chain);
}

bool compl_chain_unnotify(struct compl_chain_entry *entry)
{
	struct compl_chain *chain;
	bool withdrawn;

	if (!entry_ok(entry, __func__))
		return false;
	chain = cc_load_acquire(&entry->chain);
	if (!is_registered(chain)) {
		/* Not registered, or the turn was given: false once the call returned. */
		chain = back_chain(entry, __func__);
		if (chain)
			await_notify_calls(chain);
		return false;
	}
	chain = (struct compl_chain *)((uintptr_t)chain & ~CC_NOTIFY);
	cchain__lock(chain);
	withdrawn = is_notify(entry);
	if (withdrawn) {
		/* Still not its turn (turns are given with the lock held). */
		cchain__wake_init(entry, false);
		cc_store_release(&entry->chain, chain);
	}
	cchain__unlock(chain);
	return withdrawn;
}

bool compl_chain_pending(const struct compl_chain_entry *entry)
{
	if (CC_NULL_ARG(entry, "entry", __func__))
		return false;
	if (cc_load_acquire(&entry->chain))
		return true;
	cc_happens_after(entry);
	return false;
}

void compl_chain_flush(struct compl_chain *chain)
{
	struct compl_chain_entry barrier;

	if (CC_NULL_ARG(chain, "chain", __func__))
		return;
	if (runs_deferred_of(chain)) {
		cchain__misuse(__func__, "called from a deferred function of the same "
					 "chain (it would wait for itself)");
		return;
	}
	compl_chain_add(chain, &barrier);
	compl_chain_complete(&barrier);
}

bool compl_chain_try_wait(struct compl_chain_entry *entry)
{
	struct compl_chain *chain = pending_chain(entry, __func__);

	if (!chain || !cchain__turn_ready(entry))
		return false;
	got_turn(entry);
	return true;
}

bool cchain__deadline_after(uint64_t ns, struct timespec *deadline)
{
	uint64_t sec = ns / 1000000000u;

	if (clock_gettime(CLOCK_MONOTONIC, deadline))
		CC_DIE("clock_gettime", errno);
	deadline->tv_nsec += (long)(ns % 1000000000u);
	if (deadline->tv_nsec >= 1000000000L) {
		deadline->tv_nsec -= 1000000000L;
		sec++;
	}
	if (sec > (uint64_t)(INT64_MAX - deadline->tv_sec))
		return false;
	deadline->tv_sec += (time_t)sec;
	return true;
}

int compl_chain_wait_timeout(struct compl_chain_entry *entry, uint64_t timeout_ns)
{
	struct compl_chain *chain = pending_chain(entry, __func__);
	struct timespec deadline;

	if (!chain)
		return EINVAL;
	if (cchain__turn_ready(entry)) {
		got_turn(entry);
		return 0;
	}
	if (timeout_ns == 0)
		return ETIMEDOUT;
	/* Saturate: a timeout of centuries means "no timeout". */
	if (!cchain__deadline_after(timeout_ns, &deadline))
		return wait_turn(chain, entry, NULL, __func__) ? EINVAL : 0;
	return wait_turn(chain, entry, &deadline, __func__);
}

bool compl_chain_empty(struct compl_chain *chain)
{
	struct compl_chain_entry *tail;

	if (CC_NULL_ARG(chain, "chain", __func__))
		return false;
	tail = unpinned(cc_load_acquire(&chain->tail));
	/* A busy chain's taken-off entries are pending until their functions run. */
	if (!tail_is_free(tail) && (!tail_is_busy(tail) || cc_load_acquire(&chain->busy) > 1))
		return false;
	cc_happens_after(&chain->tail);
	return true;
}

/* Entries compl_chain_dump() prints at most when it reads without the lock. */
#define CC_DUMP_UNLOCKED_MAX 1000u

void compl_chain_dump(struct compl_chain *chain, FILE *out)
{
	struct compl_chain_entry *e, *head, *tail;
	struct timespec pause = { 0, 1000000 };
	unsigned int busy;
	bool locked = false;
	unsigned long n = 0;
	char state[64];
	int i;

	if (CC_NULL_ARG(chain, "chain", __func__) || CC_NULL_ARG(out, "out", __func__))
		return;
	for (i = 0; i < 100 && !locked; i++) {
		locked = pthread_mutex_trylock(&chain->lock) == 0;
		if (!locked)
			nanosleep(&pause, NULL);
	}
	/*
	 * Pin the tail: lock-free adds and completes fail over to the lock,
	 * so no entry can leave, and be freed, while we walk.
	 */
	if (locked)
		tail = (struct compl_chain_entry *)atomic_fetch_or_explicit(
			(_Atomic uintptr_t *)&chain->tail, CC_PIN, memory_order_acq_rel);
	else
		tail = cc_load_relaxed(&chain->tail);
	tail = unpinned(tail);
	busy = cc_load_relaxed(&chain->busy);
	head = cc_load_relaxed(&chain->head);
	/* Without the lock the list may change, even loop: walk a bounded part. */
	for (e = head; e && (locked || n < CC_DUMP_UNLOCKED_MAX); e = next_of(e))
		n++;
	fprintf(out, "compl_chain %p: %lu entries, head %p, tail %p", (void *)chain, n,
		(void *)head, tail_is_entry(tail) ? (void *)tail : NULL);
	if (busy)
		fprintf(out, ", a deferred function holds the turn (%u more to run)", busy - 1);
	if (!n && tail_is_entry(tail))
		fputs(", a lock-free add or complete in progress", out);
	fputs(locked ? "\n" : " (lock held elsewhere: read without it)\n", out);
	if (cc_load_relaxed(&chain->window))
		fprintf(out, "  window %u: %u pending, %u adders waiting for room, %s%s\n",
			cc_load_relaxed(&chain->window), chain->count, chain->room_waiters,
			chain->room_watch ? "a room watch registered" : "no room watch",
			chain->room_closed ? ", full" : "");
	n = 0;
	for (e = head; e && (locked || n < CC_DUMP_UNLOCKED_MAX); e = next_of(e)) {
		uintptr_t back = (uintptr_t)cc_load_relaxed(&e->chain);

		if (back & CC_DEFERRED)
			snprintf(state, sizeof(state), "deferred");
		else if (back & CC_NOTIFY)
			snprintf(state, sizeof(state), "notify registered");
		else
			cchain__wake_describe(e, locked, state, sizeof(state));
		fprintf(out, "  #%lu entry %p: %s%s\n", n++, (void *)e, state,
			(back & ~(CC_DEFERRED | CC_NOTIFY)) == (uintptr_t)chain ? "" : ", BAD back pointer");
	}
	if (!locked && e)
		fprintf(out, "  (walk stopped after %u entries)\n", CC_DUMP_UNLOCKED_MAX);
	if (locked) {
		atomic_fetch_and_explicit((_Atomic uintptr_t *)&chain->tail, ~CC_PIN,
					  memory_order_release);
		cchain__unlock(chain);
	}
}
