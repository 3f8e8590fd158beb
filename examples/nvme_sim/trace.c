// SPDX-License-Identifier: MIT
/*
 * The trace recorder: Chrome Trace Event Format, in model time.  Events are
 * recorded by the turn holder (see sim.h), so their order depends only on
 * the model; tracks are numbered by the order in which threads first record.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

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

