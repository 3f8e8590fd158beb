/* SPDX-License-Identifier: MIT */
/*
 * Turn notification for event loops, on top of compl_chain_notify().
 *
 * One notifier per event loop: one pollable file descriptor (an eventfd)
 * however many entries, of however many chains, it watches.  The owner
 * registers an entry with compl_notifier_watch(); when the entry's turn
 * comes it is queued on the notifier and, if the loop sleeps, the file
 * descriptor becomes readable.  The loop takes the ready entries with
 * compl_notifier_take(), runs their ordered steps and completes them.
 *
 * The loop, in outline (epoll; libuv and io_uring alike):
 *
 *	for (;;) {
 *		while ((ne = compl_notifier_take(n)))
 *			ordered_step(ne), compl_chain_complete(&ne->entry);
 *		if (!compl_notifier_arm(n))
 *			continue;        // entries became ready
 *		epoll_wait(...); // the fd is one of the sources
 *		compl_notifier_disarm(n);
 *		if (the fd was reported readable)
 *			compl_notifier_ack(n);
 *		... other events ...
 *	}
 *
 * Guarantees: no lost wake-up (an entry that becomes ready after
 * compl_notifier_arm() returned true makes the fd readable; one that was
 * ready before makes it return false); at most one write to the fd per
 * call of compl_notifier_arm() (an entry that becomes ready as arm returns
 * false may still make it: the fd is then readable at the next poll), and
 * none while the loop is awake (not armed); no system call when the turn has come before the registration
 * and the loop is awake.  Entries are taken in the order their turns came,
 * which for the entries of one chain is the chain order.
 */
#ifndef CCHAIN_NOTIFY_H
#define CCHAIN_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include <cchain/compl_chain.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * struct compl_notifier - an event loop's notifier (opaque)
 *
 * Created by compl_notifier_create() and used by one event loop: it queues
 * the watched entries whose turn has come, in turn order, and owns the
 * eventfd that wakes the loop.  Its members are private to the library.
 */
struct compl_notifier;

/**
 * struct compl_notify_entry - a chain entry that a notifier watches
 * @entry: the chain entry: add it with compl_chain_add(), complete it
 *         with compl_chain_complete()
 *
 * Embedded by the caller in its per-task structure (container_of() from
 * the result of compl_notifier_take()).  Members other than @entry are
 * private to the library.
 */
struct compl_notify_entry {
	struct compl_chain_entry entry;
	struct compl_notifier *notifier;
	struct compl_notify_entry *next;
};

/**
 * compl_notifier_create() - create a notifier and its file descriptor
 *
 * One notifier serves one event loop, whatever the number of entries and
 * chains it watches: entries whose turn comes are queued on it, and its
 * eventfd (compl_notifier_fd()) tells a sleeping loop to take them.
 *
 * Context: any thread; allocates.
 * Return: the notifier, or NULL with errno set (ENOMEM, or eventfd()'s
 * error: EMFILE, ENFILE, ...).
 */
CCHAIN_API struct compl_notifier *compl_notifier_create(void);

/**
 * compl_notifier_destroy() - close the file descriptor and free the notifier
 * @n: the notifier
 *
 * A notifier with ready entries not yet taken is reported as misuse and
 * left untouched.
 *
 * Context: the loop's thread; no watched entry may be pending (with its
 * registration), and every call that may have given one its turn (the
 * complete, cancel or compl_notifier_watch() of the watched chains'
 * entries) has returned.
 */
CCHAIN_API void compl_notifier_destroy(struct compl_notifier *n);

/**
 * compl_notifier_fd() - the pollable file descriptor
 * @n: the notifier
 *
 * Non-blocking eventfd, close-on-exec; readable (EPOLLIN, POLLIN) once an
 * entry became ready while the loop was armed.  Poll it for reading only;
 * consume it with compl_notifier_ack(), never close it.
 *
 * Return: the file descriptor; -1 for a NULL @n (reported as misuse).
 */
CCHAIN_API int compl_notifier_fd(const struct compl_notifier *n);

/**
 * compl_notifier_watch() - be told through @n when the entry's turn comes
 * @n: the notifier
 * @ne: an entry whose @ne->entry is pending (compl_chain_add())
 *
 * compl_chain_notify() with a function that queues @ne on @n and, if the
 * loop is armed, writes the file descriptor once.  When the turn has come
 * already, @ne is queued at once, in the caller.  From the call until
 * compl_notifier_take() returns @ne, the owner may only withdraw it with
 * compl_notifier_cancel().
 *
 * Context: the entry's owner; any thread.  Never sleeps (it may wait
 * briefly for the chain's internal lock, and write the fd once).
 */
CCHAIN_API void compl_notifier_watch(struct compl_notifier *n,
				     struct compl_notify_entry *ne);

/**
 * compl_notifier_cancel() - withdraw a watched entry from its chain
 * @ne: an entry passed to compl_notifier_watch()
 *
 * Withdraws the registration and cancels the entry if its turn has not
 * come, racing safely with the turn; otherwise leaves it to the loop,
 * which will take it.
 *
 * Context: the entry's owner; never sleeps for a turn.
 * Return: true if the turn had not come: @ne was cancelled
 * (compl_chain_cancel()) and will never be returned by
 * compl_notifier_take(); false if it had: @ne is queued (the function
 * that queues it has returned) and holds the turn; take it and complete
 * or cancel it then.  False for a NULL @ne (reported as misuse).
 */
CCHAIN_API bool compl_notifier_cancel(struct compl_notify_entry *ne);

/**
 * compl_notifier_watch_room() - be told through @n when a window has room
 * @n: the notifier
 * @chain: a chain (with a window: compl_chain_set_window())
 * @ne: an entry that is not pending; it only carries the registration
 *
 * compl_chain_window_notify() with a function that queues @ne on @n and,
 * if the loop is armed, writes the file descriptor once: the loop, which
 * must not block, tries its add with compl_chain_window_try_add(), and on
 * EAGAIN watches for room.  compl_notifier_take() then returns @ne (when
 * there is room now, at once): it holds no turn and is not completed; the
 * loop tries its add again, and may find the window full again (room is
 * told, not reserved): it watches again.
 *
 * Context: the loop's thread (or any); never sleeps (it may wait briefly for
 * the chain's internal lock, and write the fd once).
 * Return: 0; EBUSY if @chain's watch slot holds another entry; EINVAL for a
 * NULL argument (reported as misuse).
 */
CCHAIN_API int compl_notifier_watch_room(struct compl_notifier *n, struct compl_chain *chain,
					 struct compl_notify_entry *ne);

/**
 * compl_notifier_unwatch_room() - withdraw a compl_notifier_watch_room()
 * @chain: the chain
 * @ne: the entry registered
 *
 * compl_chain_window_unnotify() for @ne's registration: racing safely with
 * room being made, either withdraws it before @ne is queued, or finds @ne
 * queued (this waits for a push in progress).  Use it before freeing @ne.
 *
 * Context: any thread; never sleeps (it may wait briefly for the chain's
 * internal lock).
 * Return: true if withdrawn before room appeared: compl_notifier_take()
 * will not return @ne for it; false if @ne has been queued (take it), or
 * was not registered.
 */
CCHAIN_API bool compl_notifier_unwatch_room(struct compl_chain *chain,
					    struct compl_notify_entry *ne);

/**
 * compl_notifier_take() - the next entry whose turn has come
 * @n: the notifier
 *
 * Entries come out in the order their turns came, each once, without a
 * scan of the watched entries.  The caller then owns the entry, which holds
 * the turn: it runs the ordered step and calls compl_chain_complete().
 *
 * Context: the loop's thread only (one consumer); lock-free, never sleeps,
 * no system call.
 * Return: the entry, or NULL if none is ready or @n is NULL (reported as
 * misuse).
 * Memory ordering: acquire; what the owners of the entry's predecessors
 * did before completing is visible.
 */
CCHAIN_API struct compl_notify_entry *compl_notifier_take(struct compl_notifier *n);

/**
 * compl_notifier_arm() - the loop is about to sleep
 * @n: the notifier
 *
 * Called by the loop just before it polls: from then on the first entry
 * whose turn comes writes the file descriptor, once.  Pair it with
 * compl_notifier_disarm() when the loop wakes.
 *
 * Context: the loop's thread; lock-free, no system call.
 * Return: true if no entry is ready: the loop may sleep, and the first
 * entry to become ready from now on makes the fd readable (one write).
 * False if entries are ready: take them, do not sleep; false for a NULL @n
 * too (reported as misuse).
 */
CCHAIN_API bool compl_notifier_arm(struct compl_notifier *n);

/**
 * compl_notifier_disarm() - the loop is awake, whatever woke it
 * @n: the notifier
 *
 * From now on, entries that become ready are queued without a write until
 * the next compl_notifier_arm().  A write made by an entry that became ready
 * just before stays pending on the fd: compl_notifier_ack() consumes it.
 *
 * Context: the loop's thread; lock-free, no system call.
 */
CCHAIN_API void compl_notifier_disarm(struct compl_notifier *n);

/**
 * compl_notifier_ack() - consume the fd's readiness
 * @n: the notifier
 *
 * Call it when the fd was reported readable (one read(2)).
 *
 * Context: the loop's thread.
 * Return: the number of writes consumed (0 if none was pending, or for a
 * NULL @n, reported as misuse).
 */
CCHAIN_API uint64_t compl_notifier_ack(struct compl_notifier *n);

#ifdef __cplusplus
}
#endif

#endif /* CCHAIN_NOTIFY_H */
