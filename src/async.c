// SPDX-License-Identifier: MIT
/*
 * Kernel-style async calls on a pthread pool.
 *
 * One mutex guards everything: the cookie counter, the pending lists (one
 * per domain, sorted by cookie since cookies are handed out in list order;
 * and one across registered domains), and the FIFO work queue.  Workers are
 * created when a call finds no idle worker, up to max_active, and exit after
 * IDLE_EXPIRE_S idle seconds.  Synchronisers sleep on one condition
 * variable, broadcast only when a call finishes while somebody synchronises
 * (like the kernel's async_done wait queue).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include <urcu/list.h>

#include <cchain/async.h>

#include "cchain-internal.h"
#include "probes.h"

#define MAX_WORK 32768
#define IDLE_EXPIRE_S 5

struct async_entry {
	struct async_entry *dom_prev, *dom_next;
	struct cds_list_head global; /* on global_pending if registered */
	struct cds_list_head work;   /* on work_queue until a worker picks it */
	async_cookie_t cookie;
	async_func_t func;
	void *data;
	struct async_domain *domain;
};

static pthread_mutex_t async_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t async_done = PTHREAD_COND_INITIALIZER;
static pthread_cond_t work_cond;
static pthread_once_t work_cond_once = PTHREAD_ONCE_INIT;
static CDS_LIST_HEAD(global_pending);
static CDS_LIST_HEAD(work_queue);
static async_cookie_t next_cookie = 1;
static unsigned int max_active = 512;
static unsigned int nthreads, nidle, nwakeups, nrunning, nsyncers, entry_count;
static unsigned int nstoppers; /* threads in cchain_async_shutdown() */
static pthread_t last_exited;
static bool have_last_exited;
static _Thread_local bool in_async;
static struct async_domain async_dfl_domain = { NULL, NULL, 1 };

static void lock(void)
{
	CC_MUTEX_LOCK(&async_lock);
}

static void unlock(void)
{
	CC_MUTEX_UNLOCK(&async_lock);
}

static void work_cond_init(void)
{
	pthread_condattr_t attr;
	int err;

	if ((err = pthread_condattr_init(&attr)) ||
	    (err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) ||
	    (err = pthread_cond_init(&work_cond, &attr)))
		CC_DIE("pthread_cond_init", err);
	pthread_condattr_destroy(&attr);
}

static async_cookie_t lowest_in_progress(const struct async_domain *domain)
{
	if (domain)
		return domain->first ? domain->first->cookie : ASYNC_COOKIE_MAX;
	if (cds_list_empty(&global_pending))
		return ASYNC_COOKIE_MAX;
	return cds_list_entry(global_pending.next, struct async_entry, global)->cookie;
}

/* Run @e's function unlocked, then retire it.  Lock held on entry and exit. */
static void run_entry(struct async_entry *e)
{
	struct async_domain *d = e->domain;

	unlock();
	in_async = true;
	CC_PROBE(async_run, e->cookie, e->func, e->data);
	e->func(e->data, e->cookie);
	CC_PROBE(async_run_end, e->cookie);
	in_async = false;
	lock();

	if (e->dom_prev)
		e->dom_prev->dom_next = e->dom_next;
	else
		d->first = e->dom_next;
	if (e->dom_next)
		e->dom_next->dom_prev = e->dom_prev;
	else
		d->last = e->dom_prev;
	cds_list_del(&e->global);
	entry_count--;
	if (nsyncers) {
		int err = pthread_cond_broadcast(&async_done);

		if (err)
			CC_DIE("pthread_cond_broadcast", err);
	}
	free(e);
}

static void *worker(void *arg)
{
	struct timespec deadline;
	pthread_t prev;
	bool join_prev;
	int err;

	(void)arg;
	lock();
	for (;;) {
		if (!cds_list_empty(&work_queue) && nrunning < max_active) {
			struct async_entry *e =
				cds_list_entry(work_queue.next, struct async_entry, work);

			cds_list_del(&e->work);
			nrunning++;
			run_entry(e);
			nrunning--;
			continue;
		}
		/* Idle: wait for a wake-up token, or expire. */
		nidle++;
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += IDLE_EXPIRE_S;
		err = 0;
		while (!nwakeups && !nstoppers && err != ETIMEDOUT) {
			err = pthread_cond_timedwait(&work_cond, &async_lock, &deadline);
			if (err && err != ETIMEDOUT)
				CC_DIE("pthread_cond_timedwait", err);
		}
		if (nwakeups) {
			nwakeups--; /* the waker already took us off nidle */
			continue;
		}
		nidle--;
		/* Stopping: any queued call waits for the limit, and a running worker takes it. */
		if (cds_list_empty(&work_queue) || nstoppers)
			break;
	}
	nthreads--;
	join_prev = have_last_exited;
	prev = last_exited;
	last_exited = pthread_self();
	have_last_exited = true;
	if (nstoppers && !nthreads && (err = pthread_cond_broadcast(&async_done)))
		CC_DIE("pthread_cond_broadcast", err);
	unlock();
	if (join_prev && (err = pthread_join(prev, NULL)))
		CC_DIE("pthread_join", err);
	return NULL;
}

/* A call was queued: wake an idle worker or start one.  Lock held. */
static bool kick_worker(void)
{
	pthread_t tid;
	int err;

	if (nidle) {
		nidle--;
		nwakeups++;
		if ((err = pthread_cond_signal(&work_cond)))
			CC_DIE("pthread_cond_signal", err);
		return true;
	}
	if (nthreads >= max_active)
		return true; /* a running worker will pick it up */
	err = pthread_create(&tid, NULL, worker, NULL);
	if (err)
		return nthreads > 0;
	nthreads++;
	return true;
}

async_cookie_t async_schedule_domain(async_func_t func, void *data,
				     struct async_domain *domain)
{
	struct async_entry *e = NULL;
	async_cookie_t cookie;

	if (CC_NULL_ARG(func, "func", __func__) || CC_NULL_ARG(domain, "domain", __func__))
		return 0;
	pthread_once(&work_cond_once, work_cond_init);
	lock();
	if (entry_count < MAX_WORK)
		e = malloc(sizeof(*e));
	if (!e) {
		/* Out of memory or too much pending work: run it here. */
		cookie = next_cookie++;
		unlock();
		CC_PROBE(async_schedule, cookie, func, data, domain, 0);
		CC_PROBE(async_run, cookie, func, data);
		func(data, cookie);
		CC_PROBE(async_run_end, cookie);
		return cookie;
	}
	cookie = e->cookie = next_cookie++;
	e->func = func;
	e->data = data;
	e->domain = domain;
	e->dom_next = NULL;
	e->dom_prev = domain->last;
	if (domain->last)
		domain->last->dom_next = e;
	else
		domain->first = e;
	domain->last = e;
	if (domain->registered)
		cds_list_add_tail(&e->global, &global_pending);
	else
		CDS_INIT_LIST_HEAD(&e->global);
	cds_list_add_tail(&e->work, &work_queue);
	entry_count++;
	CC_PROBE(async_schedule, cookie, func, data, domain, 1);
	if (!kick_worker()) {
		/* No worker could be started and none exists: run it here. */
		cds_list_del(&e->work);
		run_entry(e);
	}
	unlock();
	return cookie;
}

async_cookie_t async_schedule(async_func_t func, void *data)
{
	if (CC_NULL_ARG(func, "func", __func__))
		return 0;
	return async_schedule_domain(func, data, &async_dfl_domain);
}

void async_synchronize_cookie_domain(async_cookie_t cookie, struct async_domain *domain)
{
	int err;

	lock();
	nsyncers++;
	while (lowest_in_progress(domain) < cookie)
		if ((err = pthread_cond_wait(&async_done, &async_lock)))
			CC_DIE("pthread_cond_wait", err);
	nsyncers--;
	unlock();
}

void async_synchronize_full_domain(struct async_domain *domain)
{
	async_synchronize_cookie_domain(ASYNC_COOKIE_MAX, domain);
}

void async_synchronize_cookie(async_cookie_t cookie)
{
	async_synchronize_cookie_domain(cookie, &async_dfl_domain);
}

void async_synchronize_full(void)
{
	async_synchronize_cookie_domain(ASYNC_COOKIE_MAX, NULL);
}

void async_unregister_domain(struct async_domain *domain)
{
	if (CC_NULL_ARG(domain, "domain", __func__))
		return;
	lock();
	if (domain->first) {
		unlock();
		cchain__misuse(__func__, "domain has pending calls");
		return;
	}
	domain->registered = 0;
	unlock();
}

void cchain_async_shutdown(void)
{
	pthread_t last;
	bool join_last;
	int err;

	if (in_async) {
		cchain__misuse(__func__, "called from an async function (it would wait for itself)");
		return;
	}
	pthread_once(&work_cond_once, work_cond_init);
	lock();
	nsyncers++;
	while (entry_count)
		if ((err = pthread_cond_wait(&async_done, &async_lock)))
			CC_DIE("pthread_cond_wait", err);
	nsyncers--;
	nstoppers++;
	if ((err = pthread_cond_broadcast(&work_cond)))
		CC_DIE("pthread_cond_broadcast", err);
	while (nthreads)
		if ((err = pthread_cond_wait(&async_done, &async_lock)))
			CC_DIE("pthread_cond_wait", err);
	nstoppers--;
	join_last = have_last_exited;
	last = last_exited;
	have_last_exited = false;
	unlock();
	if (join_last && (err = pthread_join(last, NULL)))
		CC_DIE("pthread_join", err);
}

bool current_is_async(void)
{
	return in_async;
}

int cchain_async_set_max_active(unsigned int n)
{
	struct cds_list_head *pos;

	if (n == 0)
		return EINVAL;
	pthread_once(&work_cond_once, work_cond_init);
	lock();
	max_active = n;
	/* A raised limit lets queued calls start now; spare wake-ups are harmless. */
	cds_list_for_each(pos, &work_queue)
		if (!kick_worker())
			break;
	unlock();
	return 0;
}

unsigned int cchain_async_max_active(void)
{
	unsigned int n;

	lock();
	n = max_active;
	unlock();
	return n;
}
