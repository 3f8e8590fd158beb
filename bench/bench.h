/* SPDX-License-Identifier: MIT */
/*
 * The C side of the benchmark suite.  Bodies are C; shim.cpp registers them
 * with Google Benchmark and hands them a struct bench_ctx.
 */
#ifndef CCHAIN_BENCH_H
#define CCHAIN_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bench_ctx;

/* Implemented by shim.cpp on top of benchmark::State. */
bool bench_running(struct bench_ctx *c);
long bench_arg(struct bench_ctx *c, int i);
void bench_manual_time(struct bench_ctx *c, double seconds);
void bench_items(struct bench_ctx *c, int64_t items);
void bench_counter(struct bench_ctx *c, const char *name, double value);
void bench_error(struct bench_ctx *c, const char *msg);

struct bench_def {
	const char *name;
	void (*fn)(struct bench_ctx *c);
	bool manual_time;    /* the body times itself (multi-threaded runs) */
	int nargs;
	const long (*args)[2];
	int nargsets;
};

/* Implemented by bench.c: the table of benchmarks. */
const struct bench_def *bench_defs(int *n);

#ifdef __cplusplus
}
#endif

#endif
