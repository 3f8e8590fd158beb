/* SPDX-License-Identifier: MIT */
/*
 * Completion chains shared between processes, robust to the death of any
 * participant.
 *
 * A struct compl_chain_shared and its entries live in memory shared by
 * several processes: inherited across fork(), or mapped by unrelated
 * processes, at different addresses, from memfd_create() or shm_open() (the
 * descriptor passed over a UNIX socket, say).  The entries must lie in the
 * same mapping as the chain: links are offsets from the chain, never
 * pointers, so each process may map the region wherever it likes.
 *
 * The operations are those of a private chain (include/cchain/compl_chain.h)
 * with the same ordering: an entry's turn comes once every entry added
 * before it has completed or been cancelled.  What differs:
 *
 * - An entry belongs to the process that added it.  Only that process may
 *   wait on, complete or cancel it (any of its threads, one at a time).
 * - When a process dies (SIGKILL at any instant, inside a library call or
 *   not), its entries are withdrawn as if cancelled, and the chain goes on
 *   in FIFO order.  A dead process is noticed by the processes that wait for
 *   a turn, within CCHAIN_SHARED_DETECT_MS (plus scheduling delays), or by
 *   compl_chain_shared_reap().  A process that dies while holding the
 *   chain's internal lock leaves a write-ahead record of what it was doing;
 *   the next process to take the lock finishes that step.
 * - If the dead process had been told that its turn came (a wait returned
 *   it), the owner of the next live entry to get the turn is told once, by
 *   EOWNERDEAD from the call that reports its turn, as a robust mutex
 *   reports it; so that it can repair what the dead process left half-done.
 *   Nobody else is told.  When the turn dies with no successor, the next
 *   entry added inherits it.
 * - The entries withdrawn with a dead process are reported too, once each,
 *   to the next owner told that its turn came (or, behind the last entry,
 *   to the next entry added): compl_chain_shared_withdrawn() gives their
 *   count, lowest and highest sequence number and dead processes, so that
 *   the application can fill the gaps they leave in its records.
 * - Processes are told apart by process id and start time (from
 *   /proc/PID/stat), which the library reads once per process, and again in
 *   a child after fork() (a pthread_atfork() handler), never by process id
 *   alone: an entry belongs to the process that added it, and the process
 *   that was given a dead process's id is another process (its entries stay
 *   pending while the dead one's are withdrawn, and the dead one's entries
 *   are not its own).  Two processes with one id that started within the
 *   same clock tick (a privileged process may choose a new process's id)
 *   are not told apart.  A child made with a
 *   raw clone() system call, which runs no such handler, must not use
 *   shared chains.  All participants must be in one pid namespace and one
 *   time namespace.  A process whose main thread called pthread_exit() while
 *   its other threads run is alive.  Where a participant's /proc/PID/stat
 *   cannot be read (no /proc, hidepid, another user), it counts as alive as
 *   long as the kernel knows its id (kill(pid, 0)): a live process is never
 *   taken for dead, but such a process that died is noticed only once it
 *   has been waited for.
 * - There are no deferred entries and no dump.
 *
 * - A process must not call execve() while it has pending entries, or while
 *   another of its threads is inside a call on a shared chain: to the other
 *   participants it stays the same, live process.
 *
 * The chain's lock is one word that names the process holding it (process
 * id and the low 32 bits of its start time, in clock ticks: 497 days at
 * 100 Hz); a process that waits for it checks the holder after
 * 1 ms, then every CCHAIN_SHARED_DETECT_MS, and takes the lock over from a
 * dead one.  No call holds the lock across a cancellation point, and none
 * is one, except through a misuse report (the default handler writes to
 * standard error).
 * The uncontended path (add, try_wait, wait whose turn has come, complete
 * with nobody asleep, cancel, pending, empty) makes no system call: the lock
 * is taken with one compare-and-swap and released with one exchange.
 */
#ifndef CCHAIN_SHARED_H
#define CCHAIN_SHARED_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <cchain/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * CCHAIN_SHARED_DETECT_MS - how often a waiter checks the turn's owner
 *
 * A process waiting for its turn in a shared chain checks, every this many
 * milliseconds, whether the process that holds the turn (or owns the entry
 * ahead of it) is still alive; a dead owner's entries are then withdrawn.
 * It bounds how long the death of a participant can stall the chain.
 */
#define CCHAIN_SHARED_DETECT_MS 20

/**
 * CCHAIN_SHARED_REPORT_PIDS - dead processes a withdrawn-entries report names
 *
 * The size of struct compl_chain_shared_report's @pids: a report names at
 * most this many of the dead processes, and says when there were more.
 */
#define CCHAIN_SHARED_REPORT_PIDS 4

/**
 * struct compl_chain_shared_report - entries withdrawn before an entry's turn
 * @count: how many entries were withdrawn with their dead owners
 * @first: the lowest sequence number among them (0 when @count is 0)
 * @last: the highest (0 when @count is 0)
 * @npids: how many process ids @pids holds
 * @more_pids: nonzero when their owners had more process ids than @pids holds
 * @pids: the process ids of their owners, each id once (dead processes
 * that had one id are named once), in no particular order; the slots past
 * @npids hold 0
 *
 * Filled by compl_chain_shared_withdrawn().  When no entry between @first
 * and @last was cancelled, completed or is pending, the entries withdrawn
 * are exactly @first to @last (then @count is @last - @first + 1).
 */
struct compl_chain_shared_report {
	uint64_t count;
	uint64_t first;
	uint64_t last;
	uint32_t npids;
	uint32_t more_pids;
	int32_t pids[CCHAIN_SHARED_REPORT_PIDS];
};

/**
 * struct compl_chain_shared_entry - one task's place in a shared chain
 *
 * Lives in the same shared mapping as its chain.  A zero-filled entry is a
 * valid entry that was never added.  compl_chain_shared_add() writes every
 * member.  All members are private to the library.
 */
struct compl_chain_shared_entry {
	int64_t chain;  /* chain - entry, in bytes (last add) */
	uint64_t seq;   /* sequence number; 0: not pending */
	int64_t next;   /* offsets from the chain; 0: none */
	int64_t prev;
	uint64_t start; /* owner's start time, ticks since boot */
	int32_t pid;    /* owner */
	uint32_t state; /* futex: turn, sleeping, seen, inherited */
	int32_t dead;   /* dead process whose turn it inherited */
	uint32_t pad;
	struct compl_chain_shared_report withdrawn; /* before it */
};

/**
 * struct compl_chain_shared_intent - the step a shared chain's lock holder takes
 *
 * Written in the chain before the lock holder's first store to the list and
 * cleared after its last: a process that takes the lock from a dead holder
 * finishes the step.  All members are private to the library.
 */
struct compl_chain_shared_intent {
	uint32_t op;
	uint32_t inherit;
	int32_t dead;
	uint32_t withdrawn; /* the step stores .report */
	int64_t entry;
	int64_t prev;
	int64_t next;
	uint64_t seq;
	struct compl_chain_shared_report report;
};

/**
 * struct compl_chain_shared - a FIFO of entries shared between processes
 *
 * Placed in shared memory and initialised by one process with
 * compl_chain_shared_init() before any other process uses it.  All members
 * are private to the library.
 */
struct compl_chain_shared {
	uint64_t lock;   /* holder (pid, start time); 0: free */
	uint32_t magic;
	uint32_t gen;    /* flush's futex: bumped as entries leave */
	int64_t head;    /* offsets from the chain; 0: none */
	int64_t tail;
	uint64_t seq;    /* sequence number of the last entry added */
	uint32_t orphan; /* the turn's owner died with no successor */
	int32_t orphan_dead;
	struct compl_chain_shared_intent intent;
	/* withdrawn behind the tail */
	struct compl_chain_shared_report withdrawn;
};

/**
 * compl_chain_shared_init() - initialise a shared chain
 * @chain: the chain, in memory shared with the other participants
 *
 * Makes the chain empty and its lock free.  The memory may be inherited
 * across fork() or mapped by other processes at other addresses; every
 * entry used with the chain must lie in the same mapping.
 *
 * Context: one process, before any other uses the chain.  Never sleeps,
 * makes no system call.
 * Return: 0, or EINVAL if @chain is NULL or not aligned for its type
 * (reported as misuse).
 */
CCHAIN_API int compl_chain_shared_init(struct compl_chain_shared *chain);

/**
 * compl_chain_shared_destroy() - retire a shared chain
 * @chain: an empty chain
 *
 * Entries of dead processes are withdrawn first.  A chain that still has
 * entries of live processes is reported as misuse and left untouched.
 *
 * Context: one process; no other call on the chain may run concurrently.
 * Return: 0, EBUSY when entries remain, or EINVAL for a NULL @chain (both
 * reported as misuse).
 */
CCHAIN_API int compl_chain_shared_destroy(struct compl_chain_shared *chain);

/**
 * compl_chain_shared_add() - append an entry at the tail of a shared chain
 * @chain: the chain
 * @entry: the entry, in the chain's mapping; must not be pending
 *
 * The entry belongs to the calling process from now on.  Adds take effect
 * one at a time under the chain's lock; the order in which they do is the
 * chain order, and the sequence number returned numbers them.
 *
 * Context: any thread of any participant.  Never sleeps for a turn; may
 * briefly wait for the chain's lock (and finish a dead holder's step).
 * Return: the entry's sequence number: 1 for the first entry added after
 * compl_chain_shared_init(), then one more for each add; 0 for a pending
 * @entry, or a NULL @chain or @entry (reported as misuse).
 */
CCHAIN_API uint64_t compl_chain_shared_add(struct compl_chain_shared *chain,
					   struct compl_chain_shared_entry *entry);

/**
 * compl_chain_shared_wait() - wait until the entry's turn has come
 * @entry: a pending entry of the calling process
 *
 * Blocks until every entry added before @entry has completed, been
 * cancelled or been withdrawn with its dead process.  Before it sleeps it
 * polls for up to 20 us, unless the calling thread's affinity mask allows
 * a single CPU (the rule of cchain_set_spin_ns(), whose budget does not
 * apply here).  While it sleeps it checks, every CCHAIN_SHARED_DETECT_MS,
 * whether the owner of the turn has died, and withdraws the dead process's
 * entries if so.
 *
 * Context: the entry's owner; may sleep.  Signals do not interrupt it.
 * Return: 0 when the turn has come; EOWNERDEAD when it has come from a dead
 * process that had been told its turn had come (reported once: later calls
 * return 0); EINVAL for an entry that is NULL, not pending or belongs to
 * another process (reported as misuse).
 * Memory ordering: acquire.  Everything the owners of earlier entries did
 * before their complete (or cancel of the head) happens before this returns.
 */
CCHAIN_API int compl_chain_shared_wait(struct compl_chain_shared_entry *entry);

/**
 * compl_chain_shared_try_wait() - has the entry's turn come?
 * @entry: a pending entry of the calling process
 *
 * Reports whether the entry holds the turn, without blocking; a turn
 * inherited from a dead process is reported here as by
 * compl_chain_shared_wait(), once.
 *
 * Context: the entry's owner; lock-free, never sleeps.
 * Return: 0 or EOWNERDEAD as compl_chain_shared_wait(), EBUSY when the turn
 * has not come, EINVAL as compl_chain_shared_wait().
 * Memory ordering: acquire when the turn has come.
 */
CCHAIN_API int compl_chain_shared_try_wait(struct compl_chain_shared_entry *entry);

/**
 * compl_chain_shared_wait_timeout() - wait for the turn, with a time limit
 * @entry: a pending entry of the calling process
 * @timeout_ns: relative timeout in nanoseconds (CLOCK_MONOTONIC); 0 polls
 *
 * Like compl_chain_shared_wait(), but gives up after @timeout_ns; the entry
 * then stays pending, in its place.  A turn that arrives as the time runs
 * out is never lost.
 *
 * Context: the entry's owner; may sleep.
 * Return: 0, EOWNERDEAD or EINVAL as compl_chain_shared_wait(), or
 * ETIMEDOUT.
 * Memory ordering: acquire when the turn has come.
 */
CCHAIN_API int compl_chain_shared_wait_timeout(struct compl_chain_shared_entry *entry,
					       uint64_t timeout_ns);

/**
 * compl_chain_shared_complete() - finish an entry and hand the turn on
 * @entry: a pending entry of the calling process
 *
 * First waits like compl_chain_shared_wait(); then removes the entry and
 * gives the turn to the next entry, waking its owner if it sleeps.  Once it
 * returns, the library holds no reference to @entry.
 *
 * Context: the entry's owner; may sleep until the entry's turn.
 * Return: 0; EOWNERDEAD if the turn came from a dead process and no earlier
 * call reported it; EINVAL as compl_chain_shared_wait() (nothing done).
 * Memory ordering: release towards the next entry's owner, and acquire like
 * compl_chain_shared_wait().
 */
CCHAIN_API int compl_chain_shared_complete(struct compl_chain_shared_entry *entry);

/**
 * compl_chain_shared_cancel() - withdraw an entry without waiting for its turn
 * @entry: a pending entry of the calling process
 *
 * Removes @entry wherever it is; if it was the head the turn passes on.  If
 * @entry held a turn inherited from a dead process that was never reported,
 * the report passes on with the turn.
 *
 * Context: the entry's owner; never sleeps for a turn.
 * Return: 0, or EINVAL as compl_chain_shared_wait() (nothing done).
 * Memory ordering: release towards the next entry's owner when @entry was
 * the head.
 */
CCHAIN_API int compl_chain_shared_cancel(struct compl_chain_shared_entry *entry);

/**
 * compl_chain_shared_pending() - is the entry in a chain?
 * @entry: an entry that was added, completed, or zero-filled
 *
 * Tells whether the entry is still in its chain: added and not yet
 * completed, cancelled or withdrawn with its dead owner.
 *
 * Context: any thread of any participant; lock-free, never sleeps.
 * Return: true from compl_chain_shared_add() until the entry was completed,
 * cancelled, or withdrawn with its dead owner; false for a NULL @entry
 * (reported as misuse).
 * Memory ordering: acquire; once it returns false the library does not
 * touch the entry again, with one exception: if the process that released
 * it dies at that instant, the next holder of the chain's lock writes zero
 * to its sequence number if that word still holds the value it had while
 * pending (a compare-and-swap).
 */
CCHAIN_API bool compl_chain_shared_pending(const struct compl_chain_shared_entry *entry);

/**
 * compl_chain_shared_flush() - wait for every entry added before this call
 * @chain: the chain
 *
 * Returns once every entry added before the call has completed, been
 * cancelled or been withdrawn with its dead process.  Unlike
 * compl_chain_flush(), it does not take a place in the chain: entries added
 * after it do not wait for it.  While it sleeps it checks the owner of the
 * turn as compl_chain_shared_wait() does.
 *
 * Context: any thread of any participant; may sleep.  Must not be called by
 * the owner of an earlier pending entry (it would wait for itself).
 * Memory ordering: acquire, like compl_chain_shared_wait().
 */
CCHAIN_API void compl_chain_shared_flush(struct compl_chain_shared *chain);

/**
 * compl_chain_shared_empty() - does the chain have no entries?
 * @chain: the chain
 *
 * Entries of a dead process count until they are withdrawn (by a waiter, or
 * by compl_chain_shared_reap()).
 *
 * Context: any thread of any participant; lock-free, never sleeps.
 * Return: true if no entry is in @chain; false for a NULL @chain (reported
 * as misuse).
 * Memory ordering: acquire; when it returns true, everything done before
 * the last complete or cancel is visible.
 */
CCHAIN_API bool compl_chain_shared_empty(struct compl_chain_shared *chain);

/**
 * compl_chain_shared_reap() - withdraw the entries of dead processes now
 * @chain: the chain
 *
 * For a supervisor that has just seen a participant die (waitpid()), or
 * before it reuses the entries of a dead process: afterwards no entry of a
 * process that was dead before the call is pending.  Turns and reports pass
 * on as when a waiter notices the death.
 *
 * Context: any thread of any participant; takes the chain's lock and reads
 * /proc for each distinct owner.
 * Return: the number of entries withdrawn, not counting one whose withdrawal
 * a process that died holding the lock had begun (this call finishes it);
 * 0 for a NULL @chain (reported as misuse).
 */
CCHAIN_API unsigned int compl_chain_shared_reap(struct compl_chain_shared *chain);

/**
 * compl_chain_shared_withdrawn() - what was withdrawn before the entry's turn
 * @entry: a pending entry of the calling process
 * @report: filled in
 *
 * Entries withdrawn with their dead owners are reported once each, to the
 * owner of the first entry after them in chain order whose owner is told
 * that its turn came (by compl_chain_shared_wait(), try_wait(),
 * wait_timeout() or complete()); when no entry follows them, to the next
 * entry added.  An entry cancelled, or withdrawn with its dead owner,
 * before its owner was told its turn came passes what it would have been
 * told on to the entry after it.  So of the entries added between the
 * last one whose owner was told its turn came and @entry, those that
 * @report does not count were cancelled by their live owners; @report also
 * counts that last one if its owner died before completing it.  complete()
 * tells the owner of its turn and then removes the entry: an owner that
 * wants the report waits for its turn first.
 *
 * Context: the entry's owner (any of its threads, one at a time), once a
 * call told it that its turn came; lock-free, never sleeps, no system call
 * unless it reports misuse.
 * Return: 0 (@report filled; count 0 when nothing was withdrawn); EBUSY
 * when the owner has not been told that its turn came; EINVAL for a NULL
 * @report, or an entry as compl_chain_shared_wait() refuses (reported as
 * misuse).
 * Memory ordering: acquire.
 */
CCHAIN_API int compl_chain_shared_withdrawn(const struct compl_chain_shared_entry *entry,
					    struct compl_chain_shared_report *report);

/**
 * compl_chain_shared_inherited_from() - which dead process left the turn
 * @entry: an entry whose wait, try_wait or complete returned EOWNERDEAD
 *
 * Names the process that held the turn before it died, so that the
 * application can repair what that process left half-done.
 *
 * Context: the entry's owner, while the entry is pending.
 * Return: the process id of the dead process whose turn @entry inherited,
 * or 0 if it inherited none (and for a NULL @entry, reported as misuse).
 */
CCHAIN_API pid_t compl_chain_shared_inherited_from(const struct compl_chain_shared_entry *entry);

#ifdef __cplusplus
}
#endif

#endif /* CCHAIN_SHARED_H */
