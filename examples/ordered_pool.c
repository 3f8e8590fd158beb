// SPDX-License-Identifier: MIT
/*
 * ordered_pool: a thread pool whose jobs run in parallel but publish their
 * results strictly in submission order.
 *
 * The submitter allocates each job, adds its chain entry (submission order
 * is chain order) and queues it.  A worker does the job's work, which takes
 * a random time, then waits for its turn, publishes, completes the entry
 * and frees the job at once.  Jobs that "fail" (--fail-every) cancel their
 * entry instead, without waiting.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cchain/cchain.h>

struct job {
	struct compl_chain_entry entry;
	unsigned long id;
	unsigned int work_us;
	struct job *next;
};

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct job *first, **last;
	bool closing;
	struct compl_chain chain;
	unsigned long published, cancelled, next_expected;
	bool ordered, quiet;
	unsigned long fail_every;
};

static void pool_push(struct pool *p, struct job *job)
{
	pthread_mutex_lock(&p->lock);
	job->next = NULL;
	*p->last = job;
	p->last = &job->next;
	pthread_cond_signal(&p->more);
	pthread_mutex_unlock(&p->lock);
}

static struct job *pool_pop(struct pool *p)
{
	struct job *job;

	pthread_mutex_lock(&p->lock);
	while (!p->first && !p->closing)
		pthread_cond_wait(&p->more, &p->lock);
	job = p->first;
	if (job) {
		p->first = job->next;
		if (!p->first)
			p->last = &p->first;
	}
	pthread_mutex_unlock(&p->lock);
	return job;
}

static void sleep_us(unsigned int us)
{
	struct timespec ts = { us / 1000000u, (long)(us % 1000000u) * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	struct job *job;

	while ((job = pool_pop(p))) {
		sleep_us(job->work_us);
		if (p->fail_every && (job->id + 1) % p->fail_every == 0) {
			compl_chain_cancel(&job->entry);
			free(job);
			continue;
		}
		compl_chain_wait(&job->entry);
		/* The ordered step: the chain serialises it, no lock needed. */
		if (job->id < p->next_expected)
			p->ordered = false;
		p->next_expected = job->id + 1;
		p->published++;
		if (!p->quiet)
			printf("job %4lu  work %6u us\n", job->id, job->work_us);
		compl_chain_complete(&job->entry);
		free(job);
	}
	return NULL;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool parse_ulong(const char *s, unsigned long min, unsigned long max,
			unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static void usage(FILE *f)
{
	fputs("usage: ordered_pool [--jobs N] [--workers W] [--max-work-us U]\n"
	      "                    [--fail-every K] [--seed S] [--quiet] [--help]\n"
	      "Runs N jobs of random duration (0..U us) on W threads and\n"
	      "publishes their results in submission order.\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "jobs", required_argument, NULL, 'n' },
		{ "workers", required_argument, NULL, 'w' },
		{ "max-work-us", required_argument, NULL, 'u' },
		{ "fail-every", required_argument, NULL, 'f' },
		{ "seed", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long jobs = 64, workers = 8, max_us = 20000, seed = 1, v;
	struct pool p = { .ordered = true };
	pthread_t *tids;
	double t0, elapsed;
	uint64_t rnd, total_us = 0;
	unsigned long i;
	int c, idx = 0;

	while ((c = getopt_long(argc, argv, "", opts, &idx)) != -1) {
		unsigned long *dst = NULL, min = 0, max = 0;

		switch (c) {
		case 'n': dst = &jobs; min = 1; max = 100000000; break;
		case 'w': dst = &workers; min = 1; max = 1024; break;
		case 'u': dst = &max_us; min = 0; max = 10000000; break;
		case 'f': dst = &p.fail_every; min = 0; max = 100000000; break;
		case 's': dst = &seed; min = 0; max = UINT32_MAX; break;
		case 'q': p.quiet = true; continue;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (!parse_ulong(optarg, min, max, &v)) {
			fprintf(stderr, "ordered_pool: invalid value '%s' for --%s (%lu..%lu)\n",
				optarg, opts[idx].name, min, max);
			return 2;
		}
		*dst = v;
	}
	if (optind < argc) {
		fprintf(stderr, "ordered_pool: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}

	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.more, NULL);
	p.last = &p.first;
	compl_chain_init(&p.chain);
	tids = calloc(workers, sizeof(*tids));
	if (!tids) {
		fputs("ordered_pool: out of memory\n", stderr);
		return 1;
	}
	t0 = now_ms();
	for (i = 0; i < workers; i++) {
		if ((errno = pthread_create(&tids[i], NULL, worker, &p))) {
			fprintf(stderr, "ordered_pool: pthread_create: %s\n", strerror(errno));
			return 1;
		}
	}
	rnd = seed * 0x9e3779b97f4a7c15u + 1;
	for (i = 0; i < jobs; i++) {
		struct job *job = malloc(sizeof(*job));

		if (!job) {
			fputs("ordered_pool: out of memory\n", stderr);
			return 1;
		}
		rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
		job->id = i;
		job->work_us = max_us ? (unsigned int)(rnd % (max_us + 1)) : 0;
		total_us += job->work_us;
		compl_chain_add(&p.chain, &job->entry);
		pool_push(&p, job);
	}
	pthread_mutex_lock(&p.lock);
	p.closing = true;
	pthread_cond_broadcast(&p.more);
	pthread_mutex_unlock(&p.lock);
	for (i = 0; i < workers; i++)
		pthread_join(tids[i], NULL);
	elapsed = now_ms() - t0;
	compl_chain_destroy(&p.chain);
	free(tids);

	printf("libcchain %s (%s backend): %lu jobs on %lu workers, %lu published, "
	       "%lu cancelled\n",
	       cchain_version_string(), cchain_wait_backend(), jobs, workers,
	       p.published, jobs - p.published);
	printf("elapsed %.1f ms, serial work %.1f ms, speed-up %.1fx, order %s\n",
	       elapsed, total_us / 1e3, elapsed > 0 ? total_us / 1e3 / elapsed : 0.0,
	       p.ordered ? "kept" : "BROKEN");
	return p.ordered ? 0 : 1;
}
