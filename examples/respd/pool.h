/* SPDX-License-Identifier: MIT */
/* A fixed pool of worker threads running jobs in submission order. */
#ifndef RESPD_POOL_H
#define RESPD_POOL_H

#include <pthread.h>
#include <stdbool.h>

struct pool_job {
	struct pool_job *next;
	void (*run)(struct pool_job *job);
};

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct pool_job *first, **last;
	bool stopping;
	unsigned int nthreads;
	pthread_t *threads;
};

/* Return: 0, or an errno value (the pool is not started). */
int pool_start(struct pool *p, unsigned int nthreads);
/* Any thread. */
void pool_submit(struct pool *p, struct pool_job *job);
/* Runs the jobs left, then joins the threads. */
void pool_stop(struct pool *p);

#endif /* RESPD_POOL_H */
