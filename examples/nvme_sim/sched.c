// SPDX-License-Identifier: MIT
/*
 * The virtual-time scheduler: a discrete-event scheduler over real threads.
 * The contract is in sim.h; this file keeps the turn, the run queue, the
 * sleepers' heap and the model of the async pool's slots.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

static struct {
	pthread_mutex_t lock;
	/* The simulated thread that may run; NULL between runs. */
	struct sim_thread *turn;
	/* Runnable threads in the order they became runnable. */
	struct sim_thread *ready_head, *ready_tail;
	/* Submitted tasks waiting for an async pool slot, FIFO like the pool. */
	struct sim_thread *pend_head, *pend_tail;
	/* Sleepers, a binary min-heap on (wake, seq). */
	struct sim_thread **heap;
	size_t nr_heap, heap_cap;
	uint64_t seq;
	unsigned long blocked;
	/* Tasks submitted and not ended; of those, holding a pool slot. */
	unsigned long outstanding, active, max_active;
	struct sim_thread *tasks_waiter;
	/* Work items queued and not ended (sim_work_queue()). */
	unsigned long works;
	struct sim_thread *works_waiter;
	double time_scale;
	uint64_t real_t0;
	struct sim_thread first;
} s = { .lock = PTHREAD_MUTEX_INITIALIZER };

static _Atomic uint64_t clock_ns;
static _Thread_local struct sim_thread *self;

static _Noreturn void sched_die(const char *what)
{
	fprintf(stderr, "nvme_sim: scheduler: %s\n", what);
	abort();
}

static uint64_t real_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void thread_init(struct sim_thread *t)
{
	memset(t, 0, sizeof(*t));
	if (pthread_cond_init(&t->cond, NULL))
		sched_die("pthread_cond_init failed");
}

static void thread_destroy(struct sim_thread *t)
{
	pthread_cond_destroy(&t->cond);
}

/* ---- queues (lock held) ---------------------------------------------------- */

static void fifo_push(struct sim_thread **head, struct sim_thread **tail, struct sim_thread *t)
{
	t->next = NULL;
	if (*tail)
		(*tail)->next = t;
	else
		*head = t;
	*tail = t;
}

static struct sim_thread *fifo_pop(struct sim_thread **head, struct sim_thread **tail)
{
	struct sim_thread *t = *head;

	if (t) {
		*head = t->next;
		if (!*head)
			*tail = NULL;
	}
	return t;
}

static bool before(const struct sim_thread *a, const struct sim_thread *b)
{
	return a->wake < b->wake || (a->wake == b->wake && a->seq < b->seq);
}

static void heap_push(struct sim_thread *t)
{
	size_t i;

	if (s.nr_heap == s.heap_cap) {
		s.heap_cap = s.heap_cap ? 2 * s.heap_cap : 256;
		s.heap = realloc(s.heap, s.heap_cap * sizeof(*s.heap));
		if (!s.heap)
			sched_die("out of memory");
	}
	t->seq = s.seq++;
	for (i = s.nr_heap++; i && before(t, s.heap[(i - 1) / 2]); i = (i - 1) / 2)
		s.heap[i] = s.heap[(i - 1) / 2];
	s.heap[i] = t;
}

static struct sim_thread *heap_pop(void)
{
	struct sim_thread *top = s.heap[0], *last = s.heap[--s.nr_heap];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < s.nr_heap) {
		if (c + 1 < s.nr_heap && before(s.heap[c + 1], s.heap[c]))
			c++;
		if (!before(s.heap[c], last))
			break;
		s.heap[i] = s.heap[c];
		i = c;
	}
	s.heap[i] = last;
	return top;
}

/* Real time catches up with the model, when pacing. */
static void pace(uint64_t t)
{
	uint64_t r = s.real_t0 + (uint64_t)((double)t * s.time_scale);
	struct timespec ts = { (time_t)(r / 1000000000u), (long)(r % 1000000000u) };

	pthread_mutex_unlock(&s.lock);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
	pthread_mutex_lock(&s.lock);
}

/*
 * The caller gives up the turn: hand it to the first runnable thread, or
 * else move the clock to the earliest sleeper's wake-up time.
 */
static void dispatch(void)
{
	struct sim_thread *t = fifo_pop(&s.ready_head, &s.ready_tail);

	if (!t && s.nr_heap) {
		t = heap_pop();
		if (t->wake > atomic_load(&clock_ns)) {
			if (s.time_scale > 0)
				pace(t->wake);
			atomic_store(&clock_ns, t->wake);
		}
	}
	if (!t && (s.blocked || s.outstanding || s.works))
		sched_die("every simulated thread waits and none will wake it (model deadlock)");
	s.turn = t;
	if (t && pthread_cond_signal(&t->cond))
		sched_die("pthread_cond_signal failed");
}

static void wait_turn(struct sim_thread *t)
{
	while (s.turn != t)
		if (pthread_cond_wait(&t->cond, &s.lock))
			sched_die("pthread_cond_wait failed");
}

/* ---- runs -------------------------------------------------------------------- */

void sim_run_begin(double time_scale)
{
	pthread_mutex_lock(&s.lock);
	if (s.turn || s.nr_heap || s.ready_head || s.outstanding || s.works)
		sched_die("a run began before the previous one ended");
	thread_init(&s.first);
	s.time_scale = time_scale;
	s.real_t0 = real_now();
	s.seq = 0;
	s.max_active = cchain_async_max_active();
	atomic_store(&clock_ns, 0);
	s.turn = self = &s.first;
	pthread_mutex_unlock(&s.lock);
}

void sim_run_end(void)
{
	pthread_mutex_lock(&s.lock);
	if (s.turn != self || self != &s.first || s.ready_head || s.nr_heap || s.outstanding ||
	    s.works)
		sched_die("a run ended with simulated threads left");
	s.turn = NULL;
	self = NULL;
	pthread_mutex_unlock(&s.lock);
	thread_destroy(&s.first);
	free(s.heap);
	s.heap = NULL;
	s.nr_heap = s.heap_cap = 0;
}

uint64_t sim_now(void)
{
	return atomic_load(&clock_ns);
}

uint64_t sim_clock_peek(void)
{
	return atomic_load(&clock_ns);
}

struct sim_thread *sim_self(void)
{
	return self;
}

void sim_sync_to(uint64_t t)
{
	if (t <= atomic_load(&clock_ns))
		return;
	pthread_mutex_lock(&s.lock);
	self->wake = t;
	heap_push(self);
	dispatch();
	wait_turn(self);
	pthread_mutex_unlock(&s.lock);
}

void sim_advance(uint64_t ns)
{
	sim_sync_to(atomic_load(&clock_ns) + ns);
}

/* ---- blocking on real primitives ---------------------------------------------- */

void sim_block_begin(void)
{
	pthread_mutex_lock(&s.lock);
	s.blocked++;
	dispatch();
	pthread_mutex_unlock(&s.lock);
}

void sim_block_end(void)
{
	pthread_mutex_lock(&s.lock);
	wait_turn(self);
	pthread_mutex_unlock(&s.lock);
}

void sim_wake(struct sim_thread *t)
{
	pthread_mutex_lock(&s.lock);
	s.blocked--;
	fifo_push(&s.ready_head, &s.ready_tail, t);
	pthread_mutex_unlock(&s.lock);
}

/* ---- async tasks ---------------------------------------------------------------- */

unsigned long sim_tasks_outstanding(void)
{
	return s.outstanding;
}

void sim_task_submit(struct sim_thread *t)
{
	thread_init(t);
	pthread_mutex_lock(&s.lock);
	s.outstanding++;
	if (s.active < s.max_active) {
		s.active++;
		fifo_push(&s.ready_head, &s.ready_tail, t);
	} else {
		fifo_push(&s.pend_head, &s.pend_tail, t);
	}
	pthread_mutex_unlock(&s.lock);
}

void sim_task_start(struct sim_thread *t)
{
	pthread_mutex_lock(&s.lock);
	self = t;
	wait_turn(t);
	pthread_mutex_unlock(&s.lock);
}

/* The thread waiting for the last task (or work item) to end, if any, runs. */
static void wake_waiter(struct sim_thread **waiter)
{
	if (!*waiter)
		return;
	s.blocked--;
	fifo_push(&s.ready_head, &s.ready_tail, *waiter);
	*waiter = NULL;
}

void sim_task_end(void)
{
	struct sim_thread *t;

	pthread_mutex_lock(&s.lock);
	if (self->work) {
		if (!--s.works)
			wake_waiter(&s.works_waiter);
	} else {
		s.outstanding--;
		s.active--;
		if ((t = fifo_pop(&s.pend_head, &s.pend_tail))) {
			s.active++;
			fifo_push(&s.ready_head, &s.ready_tail, t);
		}
		if (!s.outstanding)
			wake_waiter(&s.tasks_waiter);
	}
	dispatch();
	pthread_mutex_unlock(&s.lock);
	thread_destroy(self);
	self = NULL;
}

bool sim_tasks_wait_begin(void)
{
	bool wait;

	pthread_mutex_lock(&s.lock);
	wait = s.outstanding > 0;
	if (wait) {
		s.tasks_waiter = self;
		s.blocked++;
		dispatch();
	}
	pthread_mutex_unlock(&s.lock);
	return wait;
}

/* ---- kernel work items outside the scan's domain ------------------------------ */

void sim_work_queue(struct sim_thread *t)
{
	thread_init(t);
	t->work = true;
	pthread_mutex_lock(&s.lock);
	s.works++;
	fifo_push(&s.ready_head, &s.ready_tail, t);
	pthread_mutex_unlock(&s.lock);
}

void sim_works_wait(void)
{
	pthread_mutex_lock(&s.lock);
	if (s.works) {
		s.works_waiter = self;
		s.blocked++;
		dispatch();
		wait_turn(self);
	}
	pthread_mutex_unlock(&s.lock);
}
