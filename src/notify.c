// SPDX-License-Identifier: MIT
/*
 * Turn notification for event loops (<cchain/notify.h>).
 *
 * Ready entries: producers (the threads that give the turn, or register an
 * entry whose turn has come) push onto a lock-free LIFO with one
 * compare-and-swap; the single consumer takes the whole LIFO with one
 * exchange and reverses it into its private FIFO.  Entries therefore come
 * out in push order; pushes of one chain happen in turn order (each under
 * that chain's lock, or by the owner of the head).  Nothing is ever popped
 * from the shared LIFO one by one, so there is no ABA.
 *
 * Sleep/wake flag (armed): the consumer stores 1 and then looks at the
 * LIFO; a producer pushes and then looks at the flag.  Both are sequentially
 * consistent, so at least one of them sees the other (Dekker): either the
 * consumer finds the entry and does not sleep, or the producer finds the
 * flag.  A producer that finds it takes it with an exchange: only the one
 * that turns it from 1 to 0 writes the eventfd, so there is one write per
 * arming at most, and none while the flag is 0 (the loop is awake).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cchain/notify.h>

#include "cchain-internal.h"

struct compl_notifier {
	_Atomic(struct compl_notify_entry *) ready; /* LIFO, pushed by any thread */
	atomic_int armed;                          /* the loop sleeps, or is about to */
	int fd;
	struct compl_notify_entry *taken;          /* the consumer's FIFO */
};

struct compl_notifier *compl_notifier_create(void)
{
	struct compl_notifier *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (n->fd < 0) {
		int err = errno;

		free(n);
		errno = err;
		return NULL;
	}
	atomic_init(&n->ready, NULL);
	atomic_init(&n->armed, 0);
	return n;
}

void compl_notifier_destroy(struct compl_notifier *n)
{
	if (CC_NULL_ARG(n, "n", __func__))
		return;
	if (n->taken || atomic_load_explicit(&n->ready, memory_order_acquire)) {
		cchain__misuse(__func__, "ready entries were not taken");
		return;
	}
	close(n->fd);
	free(n);
}

int compl_notifier_fd(const struct compl_notifier *n)
{
	if (CC_NULL_ARG(n, "n", __func__))
		return -1;
	return n->fd;
}

static void wake_loop(struct compl_notifier *n)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is full of unread writes, the fd is readable. */
	if (write(n->fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		CC_DIE("write(eventfd)", errno);
}

/* The turn of @entry has come: queue it; wake the loop if it is armed. */
static void notify_ready(struct compl_chain_entry *entry)
{
	struct compl_notify_entry *ne = (struct compl_notify_entry *)entry;
	struct compl_notifier *n = ne->notifier;
	struct compl_notify_entry *top = atomic_load_explicit(&n->ready, memory_order_relaxed);

	/* The push is the last access to @ne: the loop may complete and free it. */
	do
		ne->next = top;
	while (!atomic_compare_exchange_weak_explicit(&n->ready, &top, ne,
						      memory_order_seq_cst,
						      memory_order_relaxed));
	if (atomic_load_explicit(&n->armed, memory_order_seq_cst) &&
	    atomic_exchange_explicit(&n->armed, 0, memory_order_relaxed))
		wake_loop(n);
}

void compl_notifier_watch(struct compl_notifier *n, struct compl_notify_entry *ne)
{
	if (CC_NULL_ARG(n, "n", __func__) || CC_NULL_ARG(ne, "ne", __func__))
		return;
	ne->notifier = n;
	compl_chain_notify(&ne->entry, notify_ready);
}

int compl_notifier_watch_room(struct compl_notifier *n, struct compl_chain *chain,
			      struct compl_notify_entry *ne)
{
	if (CC_NULL_ARG(n, "n", __func__) || CC_NULL_ARG(ne, "ne", __func__))
		return EINVAL;
	ne->notifier = n;
	return compl_chain_window_notify(chain, &ne->entry, notify_ready);
}

bool compl_notifier_unwatch_room(struct compl_chain *chain, struct compl_notify_entry *ne)
{
	if (CC_NULL_ARG(ne, "ne", __func__))
		return false;
	return compl_chain_window_unnotify(chain, &ne->entry);
}

bool compl_notifier_cancel(struct compl_notify_entry *ne)
{
	if (CC_NULL_ARG(ne, "ne", __func__))
		return false;
	if (!compl_chain_unnotify(&ne->entry))
		return false;
	compl_chain_cancel(&ne->entry);
	return true;
}

struct compl_notify_entry *compl_notifier_take(struct compl_notifier *n)
{
	struct compl_notify_entry *ne, *lifo, *next;

	if (CC_NULL_ARG(n, "n", __func__))
		return NULL;
	ne = n->taken;
	if (!ne) {
		if (!atomic_load_explicit(&n->ready, memory_order_relaxed))
			return NULL;
		lifo = atomic_exchange_explicit(&n->ready, NULL, memory_order_acquire);
		/* Reverse: the oldest push first. */
		while (lifo) {
			next = lifo->next;
			lifo->next = ne;
			ne = lifo;
			lifo = next;
		}
	}
	n->taken = ne->next;
	return ne;
}

bool compl_notifier_arm(struct compl_notifier *n)
{
	if (CC_NULL_ARG(n, "n", __func__))
		return false;
	if (n->taken)
		return false;
	atomic_store_explicit(&n->armed, 1, memory_order_seq_cst);
	if (!atomic_load_explicit(&n->ready, memory_order_seq_cst))
		return true;
	/* Ready already: a producer that took the flag meanwhile writes the fd. */
	atomic_store_explicit(&n->armed, 0, memory_order_relaxed);
	return false;
}

void compl_notifier_disarm(struct compl_notifier *n)
{
	if (CC_NULL_ARG(n, "n", __func__))
		return;
	atomic_store_explicit(&n->armed, 0, memory_order_relaxed);
}

uint64_t compl_notifier_ack(struct compl_notifier *n)
{
	uint64_t count;

	if (CC_NULL_ARG(n, "n", __func__))
		return 0;
	if (read(n->fd, &count, sizeof(count)) != sizeof(count)) {
		if (errno != EAGAIN)
			CC_DIE("read(eventfd)", errno);
		return 0;
	}
	return count;
}
