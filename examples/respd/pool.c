// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>

#include "pool.h"

static void *worker(void *arg)
{
	struct pool *p = arg;

	for (;;) {
		struct pool_job *job;

		pthread_mutex_lock(&p->lock);
		while (!p->first && !p->stopping)
			pthread_cond_wait(&p->more, &p->lock);
		job = p->first;
		if (job) {
			p->first = job->next;
			if (!p->first)
				p->last = &p->first;
		}
		pthread_mutex_unlock(&p->lock);
		if (!job)
			return NULL;
		job->run(job);
	}
}

int pool_start(struct pool *p, unsigned int nthreads)
{
	unsigned int i;
	int err;

	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->more, NULL);
	p->first = NULL;
	p->last = &p->first;
	p->stopping = false;
	p->threads = calloc(nthreads, sizeof(*p->threads));
	if (!p->threads)
		return ENOMEM;
	for (i = 0; i < nthreads; i++) {
		err = pthread_create(&p->threads[i], NULL, worker, p);
		if (err) {
			p->nthreads = i;
			pool_stop(p);
			return err;
		}
	}
	p->nthreads = nthreads;
	return 0;
}

void pool_submit(struct pool *p, struct pool_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&p->lock);
	*p->last = job;
	p->last = &job->next;
	pthread_cond_signal(&p->more);
	pthread_mutex_unlock(&p->lock);
}

void pool_stop(struct pool *p)
{
	unsigned int i;

	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->more);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->more);
}
