/* SPDX-License-Identifier: MIT */
/*
 * The workload every event-loop test of the notifier runs, whatever the
 * loop (epoll, libuv, io_uring): the loop thread adds tasks to several
 * chains and hands them to worker threads, which work for a random time and
 * then register the entry with compl_notifier_watch() (racing the turn,
 * which the loop's completes hand over).  The loop takes the ready entries,
 * checks that each chain's come out in chain order, completes them, and
 * now and then cancels a registered task it has not taken yet.
 *
 * The loop drives it with nwork_drain() before it arms the notifier, and
 * counts its calls of compl_notifier_arm() (also those that return false,
 * as the header's bound is per call) and the writes compl_notifier_ack()
 * consumed: at the end nwork_check() wants every task delivered or
 * cancelled, exactly once, and no more writes than arms.
 */
#ifndef CCHAIN_TESTS_NOTIFY_WORKLOAD_H
#define CCHAIN_TESTS_NOTIFY_WORKLOAD_H

#include <stdatomic.h>

#include <cchain/notify.h>

#include "util.h"

#define NW_CHAINS 4
#define NW_WORKERS 4
#define NW_WINDOW 64 /* tasks in flight */

enum { NW_QUEUED, NW_DELIVERED, NW_CANCELLED };

struct ntask {
	struct compl_notify_entry ne;
	struct work_node node;
	struct nwork *w;
	unsigned int chain;
	unsigned long seq;
	unsigned int delay_us;
	atomic_bool watched;
	int fate; /* loop thread only */
};

struct nwork {
	struct compl_notifier *n;
	struct compl_chain chains[NW_CHAINS];
	unsigned long next_seq[NW_CHAINS], last_seq[NW_CHAINS];
	struct ntask *tasks;
	unsigned long ntasks, submitted, finished, cancelled;
	unsigned long arms, writes;
	struct work_queue q;
	pthread_t workers[NW_WORKERS];
	uint64_t rnd;
};

static void *nw_worker(void *arg)
{
	struct nwork *w = arg;
	struct work_node *node;

	while ((node = work_pop(&w->q))) {
		struct ntask *t = work_item(node, struct ntask, node);

		if (t->delay_us)
			sleep_ns(t->delay_us * 1000ull);
		compl_notifier_watch(w->n, &t->ne);
		atomic_store_explicit(&t->watched, true, memory_order_release);
	}
	return NULL;
}

static void nw_submit(struct nwork *w)
{
	while (w->submitted < w->ntasks && w->submitted - w->finished < NW_WINDOW) {
		struct ntask *t = &w->tasks[w->submitted++];
		uint64_t r = rnd_next(&w->rnd);

		t->w = w;
		t->chain = (unsigned int)(r % NW_CHAINS);
		t->seq = w->next_seq[t->chain]++;
		/* Mostly at once (the turn is often there), sometimes later. */
		t->delay_us = (r >> 8) % 4 == 0 ? (unsigned int)((r >> 16) % 200) : 0;
		atomic_init(&t->watched, false);
		t->fate = NW_QUEUED;
		compl_chain_add(&w->chains[t->chain], &t->ne.entry);
		work_push(&w->q, &t->node);
	}
}

static void nwork_init(struct nwork *w, unsigned long ntasks, uint64_t seed)
{
	int i;

	memset(w, 0, sizeof(*w));
	w->n = compl_notifier_create();
	CHECK(w->n != NULL);
	for (i = 0; i < NW_CHAINS; i++)
		compl_chain_init(&w->chains[i]);
	w->tasks = calloc(ntasks, sizeof(*w->tasks));
	CHECK(w->tasks != NULL);
	w->ntasks = ntasks;
	w->rnd = seed;
	work_init(&w->q);
	for (i = 0; i < NW_WORKERS; i++)
		w->workers[i] = start_thread(nw_worker, w);
	nw_submit(w);
}

/* A registered task that the loop has not taken: cancel it if we still can. */
static void nw_maybe_cancel(struct nwork *w)
{
	struct ntask *t;

	if (w->finished >= w->submitted || rnd_next(&w->rnd) % 8)
		return;
	t = &w->tasks[w->finished + rnd_next(&w->rnd) % (w->submitted - w->finished)];
	if (t->fate != NW_QUEUED || !atomic_load_explicit(&t->watched, memory_order_acquire))
		return;
	if (compl_notifier_cancel(&t->ne)) {
		t->fate = NW_CANCELLED;
		w->cancelled++;
		w->finished++;
	}
}

/* Take and complete every ready entry; submit more.  Loop thread. */
static void nwork_drain(struct nwork *w)
{
	struct compl_notify_entry *ne;

	while ((ne = compl_notifier_take(w->n))) {
		struct ntask *t = (struct ntask *)ne;

		CHECK(t->fate == NW_QUEUED);
		/* Chain order; cancelled tasks leave gaps. */
		CHECK(t->seq + 1 > w->last_seq[t->chain]);
		w->last_seq[t->chain] = t->seq + 1;
		CHECK(compl_chain_try_wait(&ne->entry)); /* it holds the turn */
		t->fate = NW_DELIVERED;
		compl_chain_complete(&ne->entry);
		w->finished++;
		nw_maybe_cancel(w);
	}
	nw_submit(w);
}

static bool nwork_done(const struct nwork *w)
{
	return w->finished == w->ntasks;
}

/* Every task delivered or cancelled once; no more writes than arms. */
static void nwork_finish(struct nwork *w, const char *loop)
{
	unsigned long i, delivered = 0;
	int c;

	work_close(&w->q);
	for (c = 0; c < NW_WORKERS; c++)
		join_thread(w->workers[c]);
	work_destroy(&w->q);
	for (i = 0; i < w->ntasks; i++) {
		CHECK(w->tasks[i].fate != NW_QUEUED);
		CHECK(!compl_chain_pending(&w->tasks[i].ne.entry));
		delivered += w->tasks[i].fate == NW_DELIVERED;
	}
	CHECK(delivered + w->cancelled == w->ntasks);
	printf("%s: %lu tasks on %d chains (%lu cancelled), %lu arms, %lu eventfd writes\n",
	       loop, w->ntasks, NW_CHAINS, w->cancelled, w->arms, w->writes);
	CHECK(w->writes <= w->arms);
	for (c = 0; c < NW_CHAINS; c++) {
		CHECK(compl_chain_empty(&w->chains[c]));
		compl_chain_destroy(&w->chains[c]);
	}
	compl_notifier_destroy(w->n);
	free(w->tasks);
}

#endif /* CCHAIN_TESTS_NOTIFY_WORKLOAD_H */
