/* SPDX-License-Identifier: MIT */
/*
 * Private interface of libcchain: atomics on the public structs' plain
 * members, error reporting, and the wait backend (wait-futex.c or
 * wait-condvar.c, picked by the meson option wait_backend).
 */
#ifndef CCHAIN_INTERNAL_H
#define CCHAIN_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cchain/compl_chain.h>

/*
 * The public structs keep plain members so that the headers stay C++-clean;
 * every access that can race goes through C11 atomics on the same object,
 * which TSan instruments (liburcu's uatomic is inline assembly it cannot see).
 */
#define CC_ATOMIC(p) ((_Atomic __typeof__(*(p)) *)(p))
#define cc_load_relaxed(p) atomic_load_explicit(CC_ATOMIC(p), memory_order_relaxed)
#define cc_load_acquire(p) atomic_load_explicit(CC_ATOMIC(p), memory_order_acquire)
#define cc_store_relaxed(p, v) \
	atomic_store_explicit(CC_ATOMIC(p), (v), memory_order_relaxed)
#define cc_store_release(p, v) \
	atomic_store_explicit(CC_ATOMIC(p), (v), memory_order_release)

/*
 * Valgrind's DRD sees pthread primitives but not C11 atomics.  Builds with
 * -Dvalgrind_annotations=true tell it where the library's atomics order
 * memory (happens-before on the entry whose turn is handed over) and which
 * variables are atomics (not races).  Elsewhere these are no-ops.
 */
#ifdef CCHAIN_VALGRIND
#include <valgrind/drd.h>
#define cc_happens_before(p) ANNOTATE_HAPPENS_BEFORE(p)
#define cc_happens_after(p) ANNOTATE_HAPPENS_AFTER(p)
#define cc_atomic_var(p) ANNOTATE_BENIGN_RACE_SIZED((p), sizeof(*(p)), "C11 atomic")
#else
#define cc_happens_before(p) ((void)(p))
#define cc_happens_after(p) ((void)(p))
#define cc_atomic_var(p) ((void)(p))
#endif

/* A pthread or futex call that cannot fail did: abort with its location. */
_Noreturn void cchain__die(const char *file, int line, const char *func,
			   const char *what, int err);
#define CC_DIE(what, err) cchain__die(__FILE__, __LINE__, __func__, (what), (err))

/* Lock or unlock an internal mutex, which cannot fail: abort if it does. */
#define CC_MUTEX_LOCK(m)                                                                   \
	do {                                                                               \
		int cc_err_ = pthread_mutex_lock(m);                                       \
		if (cc_err_)                                                               \
			CC_DIE("pthread_mutex_lock", cc_err_);                             \
	} while (0)
#define CC_MUTEX_UNLOCK(m)                                                                 \
	do {                                                                               \
		int cc_err_ = pthread_mutex_unlock(m);                                     \
		if (cc_err_)                                                               \
			CC_DIE("pthread_mutex_unlock", cc_err_);                           \
	} while (0)

/* Report misuse detected in public function @func through the handler. */
void cchain__misuse(const char *func, const char *msg);

/*
 * A pointer argument that must not be NULL is: report it on behalf of @func
 * (@name is the parameter's name, a string literal) and evaluate to true.
 * One predictable branch on the fast path.
 */
#define CC_NULL_ARG(p, name, func)                                        \
	(__builtin_expect((p) == NULL, 0) ?                               \
		 (cchain__misuse((func), name " is NULL"), true) : false)

/*
 * Debug mode (CCHAIN_DEBUG=1, src/debug.c): a side table of the pending
 * entries of private chains, which catches re-adding a pending entry and
 * operating on an entry the library does not know (freed, foreign,
 * garbage).  cchain__debug is CC_DEBUG_OFF, CC_DEBUG_ON, or CC_DEBUG_UNREAD
 * until the first call that looks reads the environment.
 */
#define CC_DEBUG_OFF 0u
#define CC_DEBUG_ON 1u
#define CC_DEBUG_UNREAD 2u
extern _Atomic unsigned int cchain__debug;

/* Read CCHAIN_DEBUG (once per process).  Return: whether debug mode is on. */
bool cchain__debug_init(void);

/* Is debug mode on?  Off: one relaxed load and a predictable branch. */
static inline bool cc_debug(void)
{
	unsigned int d = atomic_load_explicit(&cchain__debug, memory_order_relaxed);

	if (__builtin_expect(d == CC_DEBUG_OFF, 1))
		return false;
	return d == CC_DEBUG_ON || cchain__debug_init();
}

/*
 * Debug mode: @entry is about to be added to @chain.  Return: true (it is
 * recorded), or false after reporting misuse if it is pending already.
 */
bool cchain__debug_add(struct compl_chain *chain, struct compl_chain_entry *entry,
		       const char *func);

/*
 * Debug mode: @entry is passed to @func.  Return: true if it is pending in
 * the table with its back pointer intact, or not pending and zeroed as the
 * library leaves it (the caller reports that); false after reporting misuse
 * (not an entry of the library, freed, or overwritten while pending).
 */
bool cchain__debug_check(const struct compl_chain_entry *entry, const char *func);

/* Debug mode: @entry leaves the library (before its back pointer is cleared). */
void cchain__debug_forget(const struct compl_chain_entry *entry);

void cchain__lock(struct compl_chain *chain);
void cchain__unlock(struct compl_chain *chain);

/*
 * Wait backend.  The chain's lock protects the list; the backend owns the
 * entry's wake member and decides how a waiter sleeps.
 */

/* Set up @entry's wake state; @ready if its turn has come.  Before @entry is published. */
void cchain__wake_init(struct compl_chain_entry *entry, bool ready);

/*
 * @head has just become the head of its chain: give it its turn, as the
 * last access to @head (its owner may then complete it, without the lock,
 * and free it).  Lock held.
 * Return: @head if its owner sleeps and must be woken with
 * cchain__wake_finish() once the lock is released, else NULL.
 */
struct compl_chain_entry *cchain__wake_turn(struct compl_chain_entry *head);

/*
 * Wake the owner of @head (returned by cchain__wake_turn()); lock not held.
 * @head may have been completed and freed meanwhile: it is named, never
 * dereferenced (a wake-up that finds another sleeper there is spurious).
 */
void cchain__wake_finish(struct compl_chain_entry *head);

/* Has @entry's turn come?  Lock-free, acquire when true. */
bool cchain__turn_ready(struct compl_chain_entry *entry);

/*
 * Block until @entry's turn has come or the CLOCK_MONOTONIC time @deadline
 * (NULL: none) has passed.  Lock not held.  Return: 0 or ETIMEDOUT.
 */
int cchain__await_turn(struct compl_chain *chain, struct compl_chain_entry *entry,
		       const struct timespec *deadline);

/*
 * Sleep while *@word holds @val, until woken, a spurious wake-up or the
 * CLOCK_MONOTONIC time @deadline (NULL: none).  Lock not held.  Return: 0,
 * or ETIMEDOUT once the deadline has passed.  A futex's contract, for the
 * bounded window's room word (src/window.c).
 */
int cchain__word_wait(unsigned int *word, unsigned int val, const struct timespec *deadline);

/* Wake one sleeper of @word at least (@all: every one), if any; lock not held. */
void cchain__word_wake(unsigned int *word, bool all);

/*
 * The chain core, for the bounded window (src/window.c).
 *
 * cchain__entry_init: write every member of @entry that an add reads, for
 * @chain, with its turn not come (@entry may be garbage before).
 * cchain__add_locked: append @entry, which cchain__entry_init() prepared
 * (lock held); counts it if the chain has a window.  Return: its number.
 * cchain__runs_deferred_of: this thread is inside a deferred function of
 * @chain (it holds the turn).
 * cchain__tail_free: no entry is listed and no deferred function holds the
 * turn (lock held, or a racy answer).
 */
void cchain__entry_init(struct compl_chain *chain, struct compl_chain_entry *entry);

/*
 * Set *@deadline to the CLOCK_MONOTONIC time @ns from now.  Return: false
 * (and *@deadline unusable) if that is centuries away: no deadline.
 */
bool cchain__deadline_after(uint64_t ns, struct timespec *deadline);
uint64_t cchain__add_locked(struct compl_chain *chain, struct compl_chain_entry *entry);
bool cchain__runs_deferred_of(const struct compl_chain *chain);
bool cchain__tail_free(struct compl_chain *chain);

/*
 * The bounded window (src/window.c), for the chain core.
 *
 * cchain__window_enter: an entry of @chain, which has a window, was added
 * (lock held): it joins the count, and the add that fills the window
 * closes it.
 * cchain__window_leave: an entry of @chain, which has a window, has
 * stopped being pending (lock held): it leaves the count and room may
 * appear.  Calls the room watch's function, if one is kept and there is
 * room.  Return: the room waiters to wake with cchain__window_wake() once
 * the lock is released (CC_ROOM_ONE or CC_ROOM_ALL), or 0.
 */
#define CC_ROOM_ONE 1u
#define CC_ROOM_ALL 2u
void cchain__window_enter(struct compl_chain *chain);
unsigned int cchain__window_leave(struct compl_chain *chain);
void cchain__window_wake(struct compl_chain *chain, unsigned int room);

/*
 * The number of CPUs the calling thread may run on: the CPUs of its affinity
 * mask (sched_getaffinity(); the CPUs online if it cannot be read), as read
 * by this thread at most 100 ms before @now (CLOCK_MONOTONIC, in ns).  A
 * system call only when that read is older: never on a fast path.  Spinning
 * decisions use it: a waiter whose mask allows one CPU does not spin (see
 * cchain_set_spin_ns() for the rule).
 */
unsigned int cchain__cpus(uint64_t now);

/*
 * Describe @entry's wait state in @buf, for compl_chain_dump(), with the
 * sleeping owner's thread id where the backend kept it; @locked: the chain's
 * lock is held (without it, read nothing but the entry itself).
 */
void cchain__wake_describe(struct compl_chain_entry *entry, bool locked, char *buf, size_t len);

#endif /* CCHAIN_INTERNAL_H */
