// SPDX-License-Identifier: MIT
/* Model clock, timed mutexes, the trace recorder and the simulated controller. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* ---- model clock ---------------------------------------------------------- */

static uint64_t real_t0;
static double time_scale = 1.0;
static unsigned int clock_gen;
static _Thread_local uint64_t now_ns;
static _Thread_local unsigned int now_gen;

static uint64_t real_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void sim_clock_start(double scale, unsigned int generation)
{
	time_scale = scale;
	clock_gen = generation;
	real_t0 = real_now();
	now_ns = 0;
	now_gen = generation;
}

/* Threads of the async pool outlive a run: reset their clock on a new one. */
static void clock_check(void)
{
	if (now_gen != clock_gen) {
		now_gen = clock_gen;
		now_ns = 0;
	}
}

double sim_elapsed_model_ms(void)
{
	return (double)(real_now() - real_t0) / time_scale / 1e6;
}

uint64_t sim_now(void)
{
	clock_check();
	return now_ns;
}

/* Sleep in real time until this thread's model time. */
static void pace(void)
{
	uint64_t t = real_t0 + (uint64_t)((double)now_ns * time_scale);
	struct timespec ts = { (time_t)(t / 1000000000u), (long)(t % 1000000000u) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

void sim_advance(uint64_t ns)
{
	clock_check();
	now_ns += ns;
	pace();
}

void sim_sync_to(uint64_t t)
{
	clock_check();
	if (t > now_ns) {
		now_ns = t;
		pace();
	}
}

void sim_task_start(uint64_t t)
{
	sim_sync_to(t);
}

/* ---- timed mutex ----------------------------------------------------------- */

void sim_mutex_init(struct sim_mutex *m, uint64_t contention_ns)
{
	pthread_mutex_init(&m->lock, NULL);
	m->free_at = 0;
	m->contention_ns = contention_ns;
	m->contended = 0;
}

void sim_mutex_lock(struct sim_mutex *m)
{
	uint64_t arrival = sim_now();

	pthread_mutex_lock(&m->lock);
	if (arrival < m->free_at) {
		/*
		 * Somebody held it when we arrived: we sleep, get woken, and
		 * pull the lock's and the data's cache lines over.
		 */
		m->contended++;
		sim_sync_to(m->free_at);
		sim_advance(m->contention_ns);
	}
}

void sim_mutex_unlock(struct sim_mutex *m)
{
	m->free_at = sim_now();
	pthread_mutex_unlock(&m->lock);
}

void sim_mutex_destroy(struct sim_mutex *m)
{
	pthread_mutex_destroy(&m->lock);
}

/* ---- trace -------------------------------------------------------------- */

struct trace_ev {
	char name[72];
	const char *cat;
	uint64_t start, end;
	unsigned int pid, tid;
};

static struct {
	pthread_mutex_t lock;
	bool on;
	struct trace_ev *ev;
	size_t n, cap;
	char (*runs)[32];
	unsigned int nr_runs;
	unsigned int next_tid;
} tr = { .lock = PTHREAD_MUTEX_INITIALIZER };

static _Thread_local unsigned int trace_tid, trace_tid_run;

void trace_enable(bool on)
{
	tr.on = on;
}

void trace_begin_run(const char *name)
{
	if (!tr.on)
		return;
	pthread_mutex_lock(&tr.lock);
	tr.runs = realloc(tr.runs, (tr.nr_runs + 1) * sizeof(*tr.runs));
	if (!tr.runs) {
		fputs("nvme_sim: out of memory\n", stderr);
		exit(1);
	}
	snprintf(tr.runs[tr.nr_runs++], sizeof(*tr.runs), "%s", name);
	tr.next_tid = 0;
	pthread_mutex_unlock(&tr.lock);
}

void trace_event(const char *cat, uint64_t start, uint64_t end, const char *fmt, ...)
{
	struct trace_ev *e;
	va_list ap;

	if (!tr.on)
		return;
	pthread_mutex_lock(&tr.lock);
	if (trace_tid_run != tr.nr_runs) {
		trace_tid_run = tr.nr_runs;
		trace_tid = ++tr.next_tid;
	}
	if (tr.n == tr.cap) {
		tr.cap = tr.cap ? tr.cap * 2 : 1024;
		tr.ev = realloc(tr.ev, tr.cap * sizeof(*tr.ev));
		if (!tr.ev) {
			fputs("nvme_sim: out of memory\n", stderr);
			exit(1);
		}
	}
	e = &tr.ev[tr.n++];
	e->cat = cat;
	e->start = start;
	e->end = end;
	e->pid = tr.nr_runs;
	e->tid = trace_tid;
	va_start(ap, fmt);
	vsnprintf(e->name, sizeof(e->name), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&tr.lock);
}

int trace_write(FILE *f)
{
	unsigned int r, t, max_tid;
	size_t i;

	fputs("{\"displayTimeUnit\": \"ms\", \"traceEvents\": [\n", f);
	for (r = 1; r <= tr.nr_runs; r++) {
		fprintf(f, "{\"ph\": \"M\", \"name\": \"process_name\", \"pid\": %u, "
			   "\"tid\": 0, \"args\": {\"name\": \"%s\"}},\n",
			r, tr.runs[r - 1]);
		max_tid = 0;
		for (i = 0; i < tr.n; i++)
			if (tr.ev[i].pid == r && tr.ev[i].tid > max_tid)
				max_tid = tr.ev[i].tid;
		for (t = 1; t <= max_tid; t++)
			if (t == 1)
				fprintf(f, "{\"ph\": \"M\", \"name\": \"thread_name\", "
					   "\"pid\": %u, \"tid\": 1, \"args\": {\"name\": "
					   "\"scan\"}},\n", r);
			else
				fprintf(f, "{\"ph\": \"M\", \"name\": \"thread_name\", "
					   "\"pid\": %u, \"tid\": %u, \"args\": {\"name\": "
					   "\"worker %u\"}},\n", r, t, t - 1);
	}
	for (i = 0; i < tr.n; i++) {
		const struct trace_ev *e = &tr.ev[i];

		fprintf(f, "{\"ph\": \"X\", \"name\": \"%s\", \"cat\": \"%s\", "
			   "\"pid\": %u, \"tid\": %u, \"ts\": %.3f, \"dur\": %.3f}%s\n",
			e->name, e->cat, e->pid, e->tid, e->start / 1e3,
			(e->end - e->start) / 1e3, i + 1 < tr.n ? "," : "");
	}
	fputs("]}\n", f);
	return ferror(f) ? -1 : 0;
}

void trace_free(void)
{
	free(tr.ev);
	free(tr.runs);
	tr.ev = NULL;
	tr.runs = NULL;
	tr.n = tr.cap = 0;
	tr.nr_runs = 0;
}

/* ---- the controller ---------------------------------------------------------- */

void sim_target_init(struct sim_target *t, const struct sim_params *p,
		     const uint32_t *nsids, size_t nr_ns)
{
	memset(t, 0, sizeof(*t));
	t->p = p;
	pthread_mutex_init(&t->lock, NULL);
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
	pthread_mutex_destroy(&t->lock);
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
	size_t i, n = 0;

	for (i = 0; i < t->nr_ns && n < max; i++)
		if (t->nsids[i] > after)
			out[n++] = t->nsids[i];
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
	case NVME_ID_CNS_CS_INDEP: return "Identify CS-indep NS (CNS 08h)";
	}
	return "Identify";
}

bool sim_identify(struct sim_target *t, enum nvme_cns cns, uint32_t nsid)
{
	uint64_t lat = command_latency(t, cns, nsid), start, end;
	unsigned int i, best = 0;
	bool ok;

	/* The admin queue: the command takes the tag that frees up first. */
	pthread_mutex_lock(&t->lock);
	for (i = 1; i < t->p->qdepth; i++)
		if (t->tag_free_at[i] < t->tag_free_at[best])
			best = i;
	start = sim_now();
	if (t->tag_free_at[best] > start)
		start = t->tag_free_at[best];
	end = start + lat;
	t->tag_free_at[best] = end;
	t->commands++;
	ok = cns == NVME_ID_CNS_CTRL || cns == NVME_ID_CNS_NS_ACTIVE_LIST ||
	     target_has(t, nsid);
	pthread_mutex_unlock(&t->lock);

	trace_event("identify", start, end, "%s nsid %u", cns_name(cns), nsid);
	sim_sync_to(end);
	return ok;
}
