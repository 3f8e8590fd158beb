// SPDX-License-Identifier: MIT
/* Timed mutexes and the simulated controller; model state, touched by the turn holder only. */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

void *sim_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p) {
		fputs("nvme_sim: out of memory\n", stderr);
		exit(1);
	}
	return p;
}

/* ---- FIFO hand-over: the wait queues of the mutex and of the CPUs ---------- */

/* The caller queues at the tail and sleeps until sim_handover() wakes it. */
static void sim_wait_fifo(struct sim_thread **head, struct sim_thread **tail)
{
	struct sim_thread *me = sim_self();

	me->next = NULL;
	if (*tail)
		(*tail)->next = me;
	else
		*head = me;
	*tail = me;
	sim_block_begin();
	sim_block_end();
}

/* Wake the thread at the head, if any, and return it. */
static struct sim_thread *sim_handover(struct sim_thread **head, struct sim_thread **tail)
{
	struct sim_thread *next = *head;

	if (next) {
		*head = next->next;
		if (!*head)
			*tail = NULL;
		sim_wake(next);
	}
	return next;
}

/*
 * A count of @limit units (the CPUs, the admin queue's places), handed over
 * FIFO: a unit given back goes to the first waiter, if any.
 */
static void units_take(unsigned int *used, unsigned int limit,
		       struct sim_thread **head, struct sim_thread **tail)
{
	if (!*head && *used < limit)
		(*used)++;
	else /* handed one by units_give() */
		sim_wait_fifo(head, tail);
}

static void units_give(unsigned int *used, struct sim_thread **head, struct sim_thread **tail)
{
	if (!sim_handover(head, tail))
		(*used)--;
}

/* ---- timed mutex ----------------------------------------------------------- */

void sim_mutex_init(struct sim_mutex *m, uint64_t contention_ns)
{
	memset(m, 0, sizeof(*m));
	m->contention_ns = contention_ns;
}

void sim_mutex_lock(struct sim_mutex *m)
{
	struct sim_thread *me = sim_self();

	if (!m->owner) {
		m->owner = me;
		return;
	}
	m->contended++;
	sim_wait_fifo(&m->wait_head, &m->wait_tail);
	/*
	 * Handed over by the unlocker: we slept, got woken, and pull the
	 * lock's and the data's cache lines over.
	 */
	sim_advance(m->contention_ns);
}

void sim_mutex_unlock(struct sim_mutex *m)
{
	m->owner = sim_handover(&m->wait_head, &m->wait_tail);
}

void sim_mutex_destroy(struct sim_mutex *m)
{
	(void)m;
}

/* ---- the host's CPUs ------------------------------------------------------------ */

void sim_cpus_init(struct sim_cpus *c, unsigned int nr)
{
	memset(c, 0, sizeof(*c));
	c->nr = nr;
}

void sim_cpu_run(struct sim_cpus *c, uint64_t ns)
{
	struct sim_thread *me;

	if (!ns)
		return;
	if (!c->nr) {
		sim_advance(ns);
		return;
	}
	me = sim_self();
	if (!me->cpu_held) {
		units_take(&c->busy, c->nr, &c->wait_head, &c->wait_tail);
		me->cpu_held = true;
	}
	sim_advance(ns);
}

void sim_cpu_yield(struct sim_cpus *c)
{
	struct sim_thread *me = sim_self();

	if (!me->cpu_held)
		return;
	me->cpu_held = false;
	units_give(&c->busy, &c->wait_head, &c->wait_tail);
}

/* ---- the controller ---------------------------------------------------------- */

void sim_target_init(struct sim_target *t, const struct sim_params *p,
		     const uint32_t *nsids, size_t nr_ns)
{
	memset(t, 0, sizeof(*t));
	t->p = p;
	t->tag_free_at = sim_xcalloc(p->qdepth, sizeof(*t->tag_free_at));
	sim_target_set_namespaces(t, nsids, nr_ns);
	t->generation = 0;
}

void sim_target_set_namespaces(struct sim_target *t, const uint32_t *nsids, size_t nr_ns)
{
	free(t->nsids);
	t->nsids = sim_xcalloc(nr_ns, sizeof(*nsids));
	memcpy(t->nsids, nsids, nr_ns * sizeof(*nsids));
	t->nr_ns = nr_ns;
	t->generation++;
}

void sim_target_destroy(struct sim_target *t)
{
	free(t->nsids);
	free(t->tag_free_at);
}

void sim_target_begin_scan(struct sim_target *t, bool after_connect)
{
	const struct sim_params *p = t->p;
	uint64_t setup = (uint64_t)(p->connect_rtts * (double)p->rtt_ns);

	memset(t->tag_free_at, 0, p->qdepth * sizeof(*t->tag_free_at));
	t->places_used = 0;
	t->place_wait_head = t->place_wait_tail = NULL;
	if (!p->qdepth_late || !after_connect)
		t->late_at = 0;
	else
		t->late_at = p->fabrics_idle_ns > setup ? p->fabrics_idle_ns - setup : 0;
}

/* ---- the admin queue's places (p->places) ------------------------------------ */

static unsigned int places_now(const struct sim_target *t)
{
	const struct sim_params *p = t->p;

	return p->qdepth_late && sim_now() >= t->late_at ? p->qdepth_late : p->qdepth;
}

/*
 * Once the share has grown, waiters take the new places.  The model does
 * this at the first command event after the switch (the kernel wakes every
 * waiter at once): at most one round trip late.
 */
static void places_grow(struct sim_target *t)
{
	while (t->place_wait_head && t->places_used < places_now(t)) {
		t->places_used++;
		sim_handover(&t->place_wait_head, &t->place_wait_tail);
	}
}

static void place_take(struct sim_target *t)
{
	struct sim_thread *me = sim_self();

	if (me->admin_place)
		return;
	places_grow(t);
	units_take(&t->places_used, places_now(t), &t->place_wait_head, &t->place_wait_tail);
	me->admin_place = true;
}

void sim_target_leave(struct sim_target *t)
{
	struct sim_thread *me = sim_self();

	if (!me->admin_place)
		return;
	me->admin_place = false;
	units_give(&t->places_used, &t->place_wait_head, &t->place_wait_tail);
	places_grow(t);
}

static bool target_has(const struct sim_target *t, uint32_t nsid)
{
	size_t lo = 0, hi = t->nr_ns;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (t->nsids[mid] == nsid)
			return true;
		if (t->nsids[mid] < nsid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

uint32_t sim_target_nn(struct sim_target *t)
{
	return t->nr_ns ? t->nsids[t->nr_ns - 1] : 0;
}

size_t sim_target_list(struct sim_target *t, uint32_t after, uint32_t *out, size_t max)
{
	size_t lo = 0, hi = t->nr_ns, n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (t->nsids[mid] <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	n = t->nr_ns - lo < max ? t->nr_ns - lo : max;
	memcpy(out, t->nsids + lo, n * sizeof(*out));
	return n;
}

/* splitmix64: the jitter of a command depends only on what it is. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15u;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
	return x ^ (x >> 31);
}

static uint64_t command_latency(const struct sim_target *t, enum nvme_cns cns, uint32_t nsid)
{
	const struct sim_params *p = t->p;
	uint64_t rtt = p->rtt_ns;
	size_t lo = 0, hi = p->n_ns_lat;
	double u;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (p->ns_lat[mid].nsid == nsid) {
			rtt = p->ns_lat[mid].rtt_ns;
			break;
		}
		if (p->ns_lat[mid].nsid < nsid)
			lo = mid + 1;
		else
			hi = mid;
	}
	u = (double)(mix(p->seed ^ mix((uint64_t)nsid << 16 ^ (uint64_t)cns << 8 ^
				      t->generation)) >> 11) / (double)(1ull << 53);
	return (uint64_t)((double)rtt * (1.0 + p->jitter_pct / 100.0 * (2.0 * u - 1.0))) +
	       p->svc_ns;
}

static const char *cns_name(enum nvme_cns cns)
{
	switch (cns) {
	case NVME_ID_CNS_NS: return "Identify NS (CNS 00h)";
	case NVME_ID_CNS_CTRL: return "Identify Controller (CNS 01h)";
	case NVME_ID_CNS_NS_ACTIVE_LIST: return "Identify Active NS List (CNS 02h)";
	case NVME_ID_CNS_NS_DESC_LIST: return "Identify NS Descriptors (CNS 03h)";
	case NVME_ID_CNS_CS_NS: return "Identify CS NS (CNS 05h)";
	case NVME_ID_CNS_CS_CTRL: return "Identify CS Controller (CNS 06h)";
	case NVME_ID_CNS_CS_INDEP: return "Identify CS-indep NS (CNS 08h)";
	}
	return "Identify";
}

/*
 * The admin queue: a command takes the tag that frees up first.  The tags'
 * free times are a min-heap, so a deep queue costs log(qdepth) per command.
 */
static uint64_t take_tag(struct sim_target *t, uint64_t lat)
{
	uint64_t *h = t->tag_free_at, start = sim_now(), end, v;
	size_t q = t->p->qdepth, i = 0, c;

	if (h[0] > start)
		start = h[0];
	end = start + lat;
	v = end;
	while ((c = 2 * i + 1) < q) {
		if (c + 1 < q && h[c + 1] < h[c])
			c++;
		if (h[c] >= v)
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = v;
	t->commands++;
	return end;
}

bool sim_identify(struct sim_target *t, enum nvme_cns cns, uint32_t nsid)
{
	uint64_t lat = command_latency(t, cns, nsid), start = sim_now(), end;
	bool ok = cns == NVME_ID_CNS_CTRL || cns == NVME_ID_CNS_CS_CTRL ||
		  cns == NVME_ID_CNS_NS_ACTIVE_LIST ||
		  target_has(t, nsid);

	if (t->p->places) {
		place_take(t);
		start = sim_now();
		end = start + lat;
		t->commands++;
	} else {
		if (t->tag_free_at[0] > start)
			start = t->tag_free_at[0];
		end = take_tag(t, lat);
	}
	trace_event("identify", start, end, "%s nsid %u", cns_name(cns), nsid);
	sim_sync_to(end);
	if (t->p->places)
		places_grow(t);
	return ok;
}

void sim_io_read(struct sim_target *t)
{
	uint64_t start = sim_now(), end = start + t->p->rtt_ns + t->p->svc_ns;

	trace_event("io", start, end, "Read (I/O queue)");
	sim_sync_to(end);
}
