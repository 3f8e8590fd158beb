// SPDX-License-Identifier: MIT
/*
 * The compression pipeline.
 *
 * The main thread reads the input in blocks.  For each block it allocates
 * a job, keeps the last 32 KiB of the previous block as the job's
 * dictionary, adds the job's chain entry (so chain order is input order)
 * and queues it.  Workers deflate blocks in parallel, each as a raw deflate
 * piece that ends on a byte boundary (a sync flush; the last one finishes
 * the stream), primed with the dictionary so compression does not suffer
 * from the split, and compute the block's CRC-32.  The ordered step (write
 * the piece, fold the CRC in with crc32_combine(), free the job) is handed
 * to compl_chain_defer(): a worker never waits for its block's turn, it
 * takes the next block at once, and the step runs in whichever worker
 * completes the block before it.  Writing needs no lock, the chain orders
 * it.  A worker that waited for its turn instead sat idle whenever a later
 * block finished first, which cost up to a quarter of pigz's speed on two
 * CPUs at normal priority (pigz's compressing threads never wait either:
 * a writer thread of its own does the ordered step).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cchain/cchain.h>

#include "pgz.h"

#define DICT (32 * 1024)

struct job {
	struct compl_chain_entry entry;
	struct job *next;
	unsigned char *buf;   /* allocation: DICT bytes of room, then the block */
	unsigned char *in;    /* the dictionary (dict bytes) followed by the block */
	size_t dict, len;
	bool last;
	unsigned char *out;
	size_t out_len, out_cap;
	uLong crc;
};

static struct {
	struct compl_chain chain;
	pthread_mutex_t lock;
	pthread_cond_t more, room;
	struct job *first, **last;
	unsigned int queued_or_running, max_in_flight;
	bool closing;

	/* Written only in the ordered step. */
	int out_fd;
	uLong crc;
	uint64_t total;
	int write_errno;
	uint64_t out_bytes;
} g;

/* Deflate one block into job->out as a raw deflate piece. */
static void deflate_job(z_stream *z, struct job *job)
{
	int ret;

	if (deflateReset(z) != Z_OK)
		abort();
	if (job->dict && deflateSetDictionary(z, job->in, (uInt)job->dict) != Z_OK)
		abort();
	z->next_in = job->in + job->dict;
	z->avail_in = (uInt)job->len;
	z->next_out = job->out;
	z->avail_out = (uInt)job->out_cap;
	ret = deflate(z, job->last ? Z_FINISH : Z_SYNC_FLUSH);
	if ((job->last && ret != Z_STREAM_END) || (!job->last && ret != Z_OK) ||
	    z->avail_in != 0) {
		/* Cannot happen: deflateBound() plus the flush marker always fits. */
		pgz_error("deflate failed (%d)", ret);
		abort();
	}
	job->out_len = job->out_cap - z->avail_out;
	job->crc = crc32(crc32(0L, Z_NULL, 0), job->in + job->dict, (uInt)job->len);
}

static struct job *take_job(void)
{
	struct job *job;

	pthread_mutex_lock(&g.lock);
	while (!g.first && !g.closing)
		pthread_cond_wait(&g.more, &g.lock);
	job = g.first;
	if (job) {
		g.first = job->next;
		if (!g.first)
			g.last = &g.first;
	}
	pthread_mutex_unlock(&g.lock);
	return job;
}

/*
 * The ordered step, run by compl_chain_defer() in the block's turn: every
 * earlier block has been written.  Runs in a worker, never concurrently
 * with another block's step, and may free the job.
 */
static void write_job(struct compl_chain_entry *entry)
{
	struct job *job = (struct job *)((char *)entry - offsetof(struct job, entry));

	if (!g.write_errno) {
		if (write_all(g.out_fd, job->out, job->out_len)) {
			g.crc = crc32_combine(g.crc, job->crc, (z_off_t)job->len);
			g.total += job->len;
			g.out_bytes += job->out_len;
		} else {
			g.write_errno = errno;
		}
	}
	free(job->buf);
	free(job->out);
	free(job);
	pthread_mutex_lock(&g.lock);
	g.queued_or_running--;
	pthread_cond_signal(&g.room);
	pthread_mutex_unlock(&g.lock);
}

static void *worker(void *arg)
{
	z_stream z;
	struct job *job;

	(void)arg;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, opt.level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		pgz_error("cannot initialise zlib");
		exit(PGZ_ERROR);
	}
	while ((job = take_job())) {
		deflate_job(&z, job);
		/* From here on the job belongs to the chain: write_job() frees it. */
		compl_chain_defer(&job->entry, write_job);
	}
	deflateEnd(&z);
	return NULL;
}

/* Read up to @n bytes; 0 at end of input; -1 on error. */
static ssize_t read_full(int fd, unsigned char *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int pgz_compress(int in_fd, int out_fd, const unsigned char *header, size_t header_len,
		 struct pgz_count *c, const char **what)
{
	unsigned char trailer[GZ_TRAILER];
	pthread_t *tids = xmalloc(opt.threads * sizeof(*tids));
	unsigned char *cur, *next;
	ssize_t n, m;
	unsigned int i;
	int err = 0;
	size_t dict = 0;
	unsigned char prev_tail[DICT];

	g.out_fd = out_fd;
	g.crc = crc32(0L, Z_NULL, 0);
	g.total = 0;
	g.out_bytes = 0;
	g.write_errno = 0;
	g.closing = false;
	g.first = NULL;
	g.queued_or_running = 0;
	if (!write_all(out_fd, header, header_len)) {
		free(tids);
		*what = "write";
		return errno;
	}

	compl_chain_init(&g.chain);
	pthread_mutex_init(&g.lock, NULL);
	pthread_cond_init(&g.more, NULL);
	pthread_cond_init(&g.room, NULL);
	g.last = &g.first;
	g.max_in_flight = 2 * opt.threads + 2;
	for (i = 0; i < opt.threads; i++) {
		if ((errno = pthread_create(&tids[i], NULL, worker, NULL))) {
			pgz_error("cannot start a thread: %s", strerror(errno));
			exit(PGZ_ERROR);
		}
	}

	/*
	 * Read one block ahead so that we know which block is the last:
	 * it is the one that finishes the deflate stream.
	 */
	cur = xmalloc(DICT + opt.block);
	n = read_full(in_fd, cur + DICT, opt.block);
	for (;;) {
		struct job *job;
		bool last;

		if (n < 0) {
			err = errno;
			*what = "read";
			free(cur);
			break;
		}
		next = NULL;
		m = 0;
		if ((size_t)n == opt.block) {
			next = xmalloc(DICT + opt.block);
			m = read_full(in_fd, next + DICT, opt.block);
			if (m < 0) {
				err = errno;
				*what = "read";
				free(next);
				free(cur);
				break;
			}
		}
		if (m == 0) {
			free(next); /* the input ended on a block boundary */
			next = NULL;
		}
		job = xmalloc(sizeof(*job));
		/* The dictionary goes just before the block, in the same buffer. */
		job->buf = cur;
		job->dict = dict;
		job->in = cur + DICT - dict;
		memcpy(job->in, prev_tail, dict);
		job->len = (size_t)n;
		job->last = last = m == 0;
		job->out_cap = deflateBound(NULL, (uLong)n) + 16;
		job->out = xmalloc(job->out_cap);
		dict = job->len < DICT ? job->len : DICT;
		memcpy(prev_tail, job->in + job->dict + job->len - dict, dict);

		pthread_mutex_lock(&g.lock);
		while (g.queued_or_running >= g.max_in_flight)
			pthread_cond_wait(&g.room, &g.lock);
		g.queued_or_running++;
		compl_chain_add(&g.chain, &job->entry);
		job->next = NULL;
		*g.last = job;
		g.last = &job->next;
		pthread_cond_signal(&g.more);
		pthread_mutex_unlock(&g.lock);
		/* From here on a worker owns the job, and may have freed it. */
		if (last)
			break;
		cur = next;
		n = m;
	}

	pthread_mutex_lock(&g.lock);
	g.closing = true;
	pthread_cond_broadcast(&g.more);
	pthread_mutex_unlock(&g.lock);
	for (i = 0; i < opt.threads; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	compl_chain_destroy(&g.chain);
	pthread_mutex_destroy(&g.lock);
	pthread_cond_destroy(&g.more);
	pthread_cond_destroy(&g.room);
	c->in = g.total;
	c->out = header_len + g.out_bytes + GZ_TRAILER;
	c->header = header_len + GZ_TRAILER;
	if (err)
		return err;
	if (g.write_errno) {
		*what = "write";
		return g.write_errno;
	}
	put_le32(trailer, (uint32_t)g.crc);
	put_le32(trailer + 4, (uint32_t)g.total);
	if (!write_all(out_fd, trailer, sizeof(trailer))) {
		*what = "write";
		return errno;
	}
	return 0;
}

