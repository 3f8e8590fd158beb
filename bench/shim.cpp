// SPDX-License-Identifier: MIT
// Registers the C benchmark bodies of bench.c with Google Benchmark.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench.h"

struct bench_ctx {
	benchmark::State *st;
};

extern "C" {
bool bench_running(struct bench_ctx *c) { return c->st->KeepRunning(); }
long bench_arg(struct bench_ctx *c, int i) { return (long)c->st->range(i); }
void bench_manual_time(struct bench_ctx *c, double s) { c->st->SetIterationTime(s); }
void bench_items(struct bench_ctx *c, int64_t n) { c->st->SetItemsProcessed(n); }
void bench_counter(struct bench_ctx *c, const char *name, double v)
{
	c->st->counters[name] = benchmark::Counter(v);
}
void bench_error(struct bench_ctx *c, const char *msg) { c->st->SkipWithError(msg); }
}

static int register_all()
{
	int n;
	const struct bench_def *defs = bench_defs(&n);

	for (int i = 0; i < n; i++) {
		const struct bench_def *d = &defs[i];
		auto *b = benchmark::RegisterBenchmark(d->name, [d](benchmark::State &st) {
			struct bench_ctx c = { &st };
			d->fn(&c);
		});
		for (int a = 0; a < d->nargsets; a++) {
			std::vector<int64_t> args;
			for (int k = 0; k < d->nargs; k++)
				args.push_back(d->args[a][k]);
			b->Args(args);
		}
		b->MeasureProcessCPUTime();
		if (d->manual_time)
			b->UseManualTime();
		else
			b->UseRealTime();
		b->Unit(benchmark::kNanosecond);
	}
	return n;
}

static int registered = register_all();

BENCHMARK_MAIN();
