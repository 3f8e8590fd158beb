// SPDX-License-Identifier: MIT
/*
 * pgz: parallel gzip with ordered output on a completion chain.
 *
 * The main thread reads the input in blocks.  For each block it allocates
 * a job, keeps the last 32 KiB of the previous block as the job's
 * dictionary, adds the job's chain entry (so chain order is input order)
 * and queues it.  Workers deflate blocks in parallel, each as a raw deflate
 * piece that ends on a byte boundary (a sync flush; the last one finishes
 * the stream), primed with the dictionary so compression does not suffer
 * from the split, and compute the block's CRC-32.  Then a worker waits for
 * its block's turn, writes the piece, folds the CRC in with crc32_combine()
 * and completes the entry: writing needs no lock, the chain orders it.
 *
 * Output goes to a temporary file next to the destination, renamed into
 * place only when everything was written: a failure never leaves a
 * truncated file behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cchain/cchain.h>

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
	int level;
	size_t block;
	unsigned int threads;

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
} g;

/* Temporary output, removed if we die before renaming it into place. */
static char tmp_path[PATH_MAX];
static volatile sig_atomic_t have_tmp;

static void on_fatal_signal(int sig)
{
	if (have_tmp)
		unlink(tmp_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		fputs("pgz: out of memory\n", stderr);
		exit(1);
	}
	return p;
}

static bool write_all(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

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
		fprintf(stderr, "pgz: deflate failed (%d)\n", ret);
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

static void *worker(void *arg)
{
	z_stream z;
	struct job *job;

	(void)arg;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, g.level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		fputs("pgz: cannot initialise zlib\n", stderr);
		exit(1);
	}
	while ((job = take_job())) {
		deflate_job(&z, job);

		compl_chain_wait(&job->entry);
		/* The ordered step: blocks leave in input order. */
		if (!g.write_errno) {
			if (write_all(g.out_fd, job->out, job->out_len)) {
				g.crc = crc32_combine(g.crc, job->crc, (z_off_t)job->len);
				g.total += job->len;
			} else {
				g.write_errno = errno;
			}
		}
		compl_chain_complete(&job->entry);

		free(job->buf);
		free(job->out);
		free(job);
		pthread_mutex_lock(&g.lock);
		g.queued_or_running--;
		pthread_cond_signal(&g.room);
		pthread_mutex_unlock(&g.lock);
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

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/*
 * Compress @in_fd to @out_fd.  Return: 0, or an errno value with @what
 * naming the side that failed ("read" or "write").
 */
static int compress_stream(int in_fd, int out_fd, uint32_t mtime, const char **what)
{
	unsigned char header[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
	unsigned char trailer[8];
	pthread_t *tids = xmalloc(g.threads * sizeof(*tids));
	unsigned char *cur, *next;
	ssize_t n, m;
	unsigned int i;
	int err = 0;
	size_t dict = 0;
	unsigned char prev_tail[DICT];

	put_le32(header + 4, mtime);
	header[8] = g.level == 9 ? 2 : g.level == 1 ? 4 : 0;
	g.out_fd = out_fd;
	g.crc = crc32(0L, Z_NULL, 0);
	if (!write_all(out_fd, header, sizeof(header))) {
		*what = "write";
		return errno;
	}

	compl_chain_init(&g.chain);
	pthread_mutex_init(&g.lock, NULL);
	pthread_cond_init(&g.more, NULL);
	pthread_cond_init(&g.room, NULL);
	g.last = &g.first;
	g.max_in_flight = 2 * g.threads + 2;
	for (i = 0; i < g.threads; i++) {
		if ((errno = pthread_create(&tids[i], NULL, worker, NULL))) {
			fprintf(stderr, "pgz: cannot start a thread: %s\n", strerror(errno));
			exit(1);
		}
	}

	/*
	 * Read one block ahead so that we know which block is the last:
	 * it is the one that finishes the deflate stream.
	 */
	cur = xmalloc(DICT + g.block);
	n = read_full(in_fd, cur + DICT, g.block);
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
		if ((size_t)n == g.block) {
			next = xmalloc(DICT + g.block);
			m = read_full(in_fd, next + DICT, g.block);
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
	for (i = 0; i < g.threads; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	compl_chain_destroy(&g.chain);
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

static void usage(FILE *f)
{
	fputs("usage: pgz [-p THREADS] [-b BLOCKSIZE] [-1..-9] [-k] [-c] [-f] [-o OUT] [FILE]\n"
	      "Compresses FILE (or standard input) to the gzip format, deflating blocks\n"
	      "in parallel and writing them in order.\n"
	      "  -p N     compression threads (default: online CPUs)\n"
	      "  -b K     block size in KiB, 32..262144 (default 128)\n"
	      "  -1..-9   compression level (default 6)\n"
	      "  -k       keep FILE (default: remove it after success, as gzip does)\n"
	      "  -c       write to standard output\n"
	      "  -f       overwrite an existing output file\n"
	      "  -o OUT   write to OUT (default: FILE.gz)\n",
	      f);
}

static unsigned long parse_num(const char *s, const char *what, unsigned long min,
			       unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		fprintf(stderr, "pgz: invalid %s '%s' (%lu..%lu)\n", what, s, min, max);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	const char *in_path = NULL, *out_path = NULL, *what = "write";
	bool keep = false, to_stdout = false, force = false;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	static char gz_path[PATH_MAX];
	int c, in_fd = STDIN_FILENO, out_fd = STDOUT_FILENO, err;
	uint32_t mtime = 0;
	struct stat st;

	g.level = 6;
	g.block = 128 * 1024;
	g.threads = ncpu > 0 ? (unsigned int)ncpu : 1;
	opterr = 0;
	while ((c = getopt(argc, argv, ":p:b:123456789kcfo:h")) != -1) {
		switch (c) {
		case 'p': g.threads = (unsigned int)parse_num(optarg, "thread count", 1, 1024); break;
		case 'b': g.block = parse_num(optarg, "block size", 32, 262144) * 1024; break;
		case '1': case '2': case '3': case '4': case '5':
		case '6': case '7': case '8': case '9': g.level = c - '0'; break;
		case 'k': keep = true; break;
		case 'c': to_stdout = true; break;
		case 'f': force = true; break;
		case 'o': out_path = optarg; break;
		case 'h': usage(stdout); return 0;
		case ':':
			fprintf(stderr, "pgz: option -%c needs a value\n", optopt);
			return 2;
		default:
			fprintf(stderr, "pgz: unknown option -%c (see -h)\n", optopt);
			return 2;
		}
	}
	if (argc - optind > 1) {
		fprintf(stderr, "pgz: one input file at most ('%s' is extra)\n", argv[optind + 1]);
		return 2;
	}
	if (to_stdout && out_path) {
		fputs("pgz: -c and -o exclude each other\n", stderr);
		return 2;
	}
	if (optind < argc && strcmp(argv[optind], "-"))
		in_path = argv[optind];

	if (in_path) {
		size_t l = strlen(in_path);

		if ((in_fd = open(in_path, O_RDONLY)) < 0) {
			fprintf(stderr, "pgz: cannot open '%s': %s\n", in_path, strerror(errno));
			return 1;
		}
		if (fstat(in_fd, &st) || !S_ISREG(st.st_mode)) {
			fprintf(stderr, "pgz: '%s' is not a regular file\n", in_path);
			return 1;
		}
		mtime = (uint32_t)st.st_mtime;
		if (!to_stdout && !out_path) {
			if (l > 3 && !strcmp(in_path + l - 3, ".gz")) {
				fprintf(stderr, "pgz: '%s' already has the .gz suffix\n", in_path);
				return 1;
			}
			if (snprintf(gz_path, sizeof(gz_path), "%s.gz", in_path) >=
			    (int)sizeof(gz_path)) {
				fprintf(stderr, "pgz: path too long: '%s'\n", in_path);
				return 1;
			}
			out_path = gz_path;
		}
	} else if (!out_path) {
		to_stdout = true;
	}
	if (!out_path && isatty(STDOUT_FILENO)) {
		fputs("pgz: compressed data not written to a terminal (use -o or redirect)\n",
		      stderr);
		return 1;
	}

	if (out_path) {
		const char *slash = strrchr(out_path, '/');
		int dirlen = slash ? (int)(slash - out_path + 1) : 0;

		if (!force && access(out_path, F_OK) == 0) {
			fprintf(stderr, "pgz: '%s' already exists (use -f to overwrite)\n", out_path);
			return 1;
		}
		if (snprintf(tmp_path, sizeof(tmp_path), "%.*s.pgz-XXXXXX", dirlen, out_path) >=
		    (int)sizeof(tmp_path)) {
			fprintf(stderr, "pgz: output path too long: '%s'\n", out_path);
			return 1;
		}
		signal(SIGINT, on_fatal_signal);
		signal(SIGTERM, on_fatal_signal);
		signal(SIGHUP, on_fatal_signal);
		if ((out_fd = mkstemp(tmp_path)) < 0) {
			fprintf(stderr, "pgz: cannot write '%s': %s\n", out_path, strerror(errno));
			return 1;
		}
		have_tmp = 1;
	}
	/* A file size limit must fail the write, not kill us mid-file. */
	signal(SIGXFSZ, SIG_IGN);

	err = compress_stream(in_fd, out_fd, mtime, &what);
	if (!err && out_path) {
		if (fchmod(out_fd, in_path ? (st.st_mode & 07777) : 0644) ||
		    fsync(out_fd) || close(out_fd)) {
			err = errno;
			what = "write";
		} else if (rename(tmp_path, out_path)) {
			err = errno;
			what = "write";
		} else {
			have_tmp = 0;
		}
	}
	if (err) {
		if (have_tmp)
			unlink(tmp_path);
		if (!strcmp(what, "read"))
			fprintf(stderr, "pgz: cannot read '%s': %s\n", in_path ? in_path : "stdin",
				strerror(err));
		else
			fprintf(stderr, "pgz: cannot write '%s': %s\n",
				out_path ? out_path : "stdout", strerror(err));
		return 1;
	}
	if (in_path && !keep && !to_stdout && unlink(in_path)) {
		fprintf(stderr, "pgz: cannot remove '%s': %s\n", in_path, strerror(errno));
		return 1;
	}
	return 0;
}
