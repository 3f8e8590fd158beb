// SPDX-License-Identifier: MIT
/*
 * Decompression with zlib's inflate, member after member, as gzip does it:
 * every member's CRC-32 and length are checked; after a member, end of
 * input or zero padding up to the end is fine, another member is
 * inflated, anything else is trailing garbage (a warning).  Inflate cannot
 * split a deflate stream, but it need not wait for the output: a second
 * thread checksums and writes the buffers inflate fills (two, used in
 * turn, so the order is the inflate order).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "pgz.h"

#define IN_CAP (128 * 1024)
#define OUT_CAP (256 * 1024)

void gz_in_init(struct gz_in *in, int fd)
{
	memset(in, 0, sizeof(*in));
	in->fd = fd;
	in->cap = IN_CAP;
	in->buf = xmalloc(in->cap);
}

void gz_in_free(struct gz_in *in)
{
	free(in->buf);
	in->buf = NULL;
}

bool gz_in_fill(struct gz_in *in)
{
	ssize_t r;

	if (in->pos < in->len)
		return true;
	if (in->eof || in->err)
		return false;
	do
		r = read(in->fd, in->buf, in->cap);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		in->err = errno;
		return false;
	}
	in->pos = 0;
	in->len = (size_t)r;
	if (!r)
		in->eof = true;
	return r > 0;
}

int gz_in_byte(struct gz_in *in)
{
	if (!gz_in_fill(in))
		return -1;
	in->consumed++;
	return in->buf[in->pos++];
}

static int read_failed(struct gz_in *in, const char *name)
{
	pgz_error("%s: %s", name, strerror(in->err));
	return PGZ_ERROR;
}

static int header_failed(struct gz_in *in, const char *name, int ret, const char *why)
{
	if (ret == GZ_HDR_READ)
		return read_failed(in, name);
	if (ret == GZ_HDR_EOF) {
		pgz_data_error(name, "unexpected end of file");
	} else {
		/* gzip words these as "name: why" on one line. */
		pgz_error("%s: %s", name, why);
	}
	return PGZ_ERROR;
}

int pgz_inflate_start(struct gz_in *in, const char *name, struct gz_header *h)
{
	char why[80];
	int b0, b1, ret;

	memset(h, 0, sizeof(*h));
	b0 = gz_in_byte(in);
	b1 = b0 < 0 ? -1 : gz_in_byte(in);
	if (in->err)
		return read_failed(in, name);
	if (b0 >= 0 && b1 >= 0 && (b0 != 0x1f || b1 != 0x8b))
		return PGZ_NOT_GZIP;
	if (b1 < 0) {
		pgz_data_error(name, "unexpected end of file");
		return PGZ_ERROR;
	}
	ret = gz_header_parse(in, h, why, sizeof(why));
	return ret ? header_failed(in, name, ret, why) : PGZ_OK;
}

/*
 * The output stage.  The inflating thread fills buf[cur] and hands it over
 * (full[cur]); the sink thread drains buf[0], buf[1], buf[0]... in that
 * order, so that if full[j] is clear no buffer after it is full.  crc and
 * total are the sink's, read by the inflating thread only after a drain.
 */
struct sink {
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned char *buf[2];
	size_t len[2];
	bool full[2], stop;
	int fd;			/* -1: checksum only (-t) */
	uLong crc;		/* of the current member */
	uint64_t total;		/* bytes of the current member */
	int err;		/* errno of the first failed write */
};

static void *sink_thread(void *arg)
{
	struct sink *s = arg;
	unsigned int j = 0;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		uLong crc;
		int err;

		while (!s->full[j] && !s->stop)
			pthread_cond_wait(&s->cond, &s->lock);
		if (!s->full[j])
			break;
		crc = s->crc;
		err = s->err;
		pthread_mutex_unlock(&s->lock);

		crc = crc32(crc, s->buf[j], (uInt)s->len[j]);
		if (!err && s->fd >= 0 && !write_all(s->fd, s->buf[j], s->len[j]))
			err = errno;

		pthread_mutex_lock(&s->lock);
		s->crc = crc;
		s->total += s->len[j];
		s->err = err;
		s->full[j] = false;
		pthread_cond_broadcast(&s->cond);
		j ^= 1;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void sink_start(struct sink *s, int fd)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->crc = crc32(0L, Z_NULL, 0);
	s->buf[0] = xmalloc(OUT_CAP);
	s->buf[1] = xmalloc(OUT_CAP);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if ((errno = pthread_create(&s->tid, NULL, sink_thread, s))) {
		pgz_error("cannot start a thread: %s", strerror(errno));
		exit(PGZ_ERROR);
	}
}

/* Everything handed over is written; then the thread ends. */
static void sink_stop(struct sink *s)
{
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->tid, NULL);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s->buf[0]);
	free(s->buf[1]);
}

/* Buffer @i once the sink is done with it; NULL after a write error. */
static unsigned char *sink_get(struct sink *s, unsigned int i)
{
	int err;

	pthread_mutex_lock(&s->lock);
	while (s->full[i])
		pthread_cond_wait(&s->cond, &s->lock);
	err = s->err;
	pthread_mutex_unlock(&s->lock);
	return err ? NULL : s->buf[i];
}

static void sink_put(struct sink *s, unsigned int i, size_t n)
{
	pthread_mutex_lock(&s->lock);
	s->len[i] = n;
	s->full[i] = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Wait until all handed over is written; take the member's CRC and length. */
static int sink_member_end(struct sink *s, uLong *crc, uint64_t *len)
{
	int err;

	pthread_mutex_lock(&s->lock);
	while (s->full[0] || s->full[1])
		pthread_cond_wait(&s->cond, &s->lock);
	*crc = s->crc;
	*len = s->total;
	s->crc = crc32(0L, Z_NULL, 0);
	s->total = 0;
	err = s->err;
	pthread_mutex_unlock(&s->lock);
	return err;
}

static int write_failed(const char *out_name, int err)
{
	pgz_data_error(out_name, strerror(err));
	return PGZ_ERROR;
}

/* One member's deflate data and trailer; the header was read. */
static int inflate_member(struct gz_in *in, const char *name, const char *out_name, z_stream *z,
			  struct sink *s, unsigned int *cur, struct pgz_count *c)
{
	uLong crc;
	uint64_t len;
	unsigned char t[GZ_TRAILER];
	int ret, i, b, err;

	if (inflateReset(z) != Z_OK)
		abort();
	do {
		if (!gz_in_fill(in)) {
			if (in->err)
				return read_failed(in, name);
			pgz_data_error(name, "unexpected end of file");
			return PGZ_ERROR;
		}
		z->next_in = in->buf + in->pos;
		z->avail_in = (uInt)(in->len - in->pos);
		do {
			unsigned char *out = sink_get(s, *cur);
			size_t n;

			if (!out)
				return write_failed(out_name, sink_member_end(s, &crc, &len));
			z->next_out = out;
			z->avail_out = OUT_CAP;
			ret = inflate(z, Z_NO_FLUSH);
			if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR) {
				pgz_data_error(name, "invalid compressed data--format violated");
				return PGZ_ERROR;
			}
			n = OUT_CAP - z->avail_out;
			if (n) {
				sink_put(s, *cur, n);
				*cur ^= 1;
			}
		} while (z->avail_out == 0 && ret != Z_STREAM_END);
		in->consumed += (in->len - in->pos) - z->avail_in;
		in->pos = in->len - z->avail_in;
	} while (ret != Z_STREAM_END);
	if ((err = sink_member_end(s, &crc, &len)))
		return write_failed(out_name, err);
	c->out += len;
	for (i = 0; i < GZ_TRAILER; i++) {
		if ((b = gz_in_byte(in)) < 0) {
			if (in->err)
				return read_failed(in, name);
			pgz_data_error(name, "unexpected end of file");
			return PGZ_ERROR;
		}
		t[i] = (unsigned char)b;
	}
	if (get_le32(t) != (uint32_t)crc) {
		pgz_data_error(name, "invalid compressed data--crc error");
		return PGZ_ERROR;
	}
	if (get_le32(t + 4) != (uint32_t)len) {
		pgz_data_error(name, "invalid compressed data--length error");
		return PGZ_ERROR;
	}
	return PGZ_OK;
}

/*
 * What follows a member: PGZ_OK with *@more set for another member (its
 * header read), PGZ_OK at the end, PGZ_WARNING for trailing garbage.
 */
static int next_member(struct gz_in *in, const char *name, bool *more)
{
	struct gz_header h;
	char why[80];
	int b0, b1, ret;

	*more = false;
	b0 = gz_in_byte(in);
	if (b0 < 0)
		return in->err ? read_failed(in, name) : PGZ_OK;
	if (b0 == 0) {
		/* Zero padding (tape blocks) up to the end is silently fine. */
		while ((b0 = gz_in_byte(in)) == 0)
			;
		if (b0 < 0)
			return in->err ? read_failed(in, name) : PGZ_OK;
		goto garbage;
	}
	b1 = gz_in_byte(in);
	if (b1 < 0) {
		if (in->err)
			return read_failed(in, name);
		pgz_data_error(name, "unexpected end of file");
		return PGZ_ERROR;
	}
	if (b0 != 0x1f || b1 != 0x8b)
		goto garbage;
	ret = gz_header_parse(in, &h, why, sizeof(why));
	free(h.name);
	if (ret)
		return header_failed(in, name, ret, why);
	*more = true;
	return PGZ_OK;
garbage:
	if (opt.verbose >= 0)
		fprintf(stderr, "\n%s: %s: decompression OK, trailing garbage ignored\n", progname,
			name);
	if (exit_status == PGZ_OK)
		exit_status = PGZ_WARNING;
	return PGZ_WARNING;
}

int pgz_inflate_rest(struct gz_in *in, const char *name, int out_fd, const char *out_name,
		     struct pgz_count *c)
{
	struct sink s;
	unsigned int cur = 0;
	z_stream z;
	bool more = true;
	int ret = PGZ_OK;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, -15) != Z_OK) {
		pgz_error("cannot initialise zlib");
		exit(PGZ_ERROR);
	}
	sink_start(&s, out_fd);
	while (more) {
		ret = inflate_member(in, name, out_name, &z, &s, &cur, c);
		if (ret)
			break;
		ret = next_member(in, name, &more);
	}
	sink_stop(&s);
	inflateEnd(&z);
	c->in = in->consumed;
	return ret;
}

static uint64_t total_in, total_out, last_header;
static unsigned int listed;

static void list_header_line(void)
{
	if (opt.verbose > 0)
		fputs("method  crc     date  time  ", stdout);
	if (opt.verbose >= 0)
		puts("         compressed        uncompressed  ratio uncompressed_name");
}

void pgz_list(int fd, const char *name, const char *out_name)
{
	struct gz_in in;
	struct gz_header h;
	struct stat st;
	unsigned char t[GZ_TRAILER];
	uint64_t size = 0;
	int ret;

	gz_in_init(&in, fd);
	ret = pgz_inflate_start(&in, name, &h);
	if (ret == PGZ_NOT_GZIP) {
		pgz_data_error(name, "not in gzip format");
		ret = PGZ_ERROR;
	}
	if (ret) {
		free(h.name);
		gz_in_free(&in);
		return;
	}
	/* The trailer at the end: pread on a file, read through otherwise. */
	if (fstat(fd, &st))
		memset(&st, 0, sizeof(st));
	if (S_ISREG(st.st_mode) && st.st_size >= (off_t)(h.len + GZ_TRAILER) &&
	    pread(fd, t, GZ_TRAILER, st.st_size - GZ_TRAILER) == GZ_TRAILER) {
		size = (uint64_t)st.st_size;
	} else {
		size_t have = 0;

		size = in.consumed;
		while (gz_in_fill(&in)) {
			size_t n = in.len - in.pos;
			size_t k = n < GZ_TRAILER ? n : GZ_TRAILER;

			if (have + k > GZ_TRAILER) {
				size_t drop = have + k - GZ_TRAILER;

				memmove(t, t + drop, have - drop);
				have -= drop;
			}
			memcpy(t + have, in.buf + in.len - k, k);
			have += k;
			size += n;
			in.pos = in.len;
		}
		if (in.err || have < GZ_TRAILER) {
			if (in.err)
				read_failed(&in, name);
			else
				pgz_data_error(name, "unexpected end of file");
			free(h.name);
			gz_in_free(&in);
			return;
		}
	}
	if (!listed++)
		list_header_line();
	if (opt.verbose > 0) {
		/* As gzip: the file's time, the stored one with -N. */
		time_t mt = opt.restore_name && h.mtime ? (time_t)h.mtime : st.st_mtime;
		struct tm *tm = localtime(&mt);
		char date[32];

		strftime(date, sizeof(date), "%b %e %H:%M", tm);
		printf("defla %08x %s ", (unsigned int)get_le32(t), date);
	}
	{
		uint64_t isize = get_le32(t + 4);

		printf("%19llu %19llu ", (unsigned long long)size, (unsigned long long)isize);
		pgz_print_ratio(stdout, (int64_t)isize - (int64_t)(size - (h.len + GZ_TRAILER)), isize);
		printf(" %s\n", opt.restore_name && h.name ? h.name : out_name);
		last_header = h.len + GZ_TRAILER;
		total_in += size;
		total_out += isize;
	}
	free(h.name);
	gz_in_free(&in);
}

void pgz_list_totals(void)
{
	if (listed < 2 || opt.verbose < 0)
		return;
	if (opt.verbose > 0)
		fputs("                            ", stdout);
	printf("%19llu %19llu ", (unsigned long long)total_in, (unsigned long long)total_out);
	/* gzip counts the last file's header bytes out of the totals. */
	pgz_print_ratio(stdout, (int64_t)total_out - (int64_t)(total_in - last_header), total_out);
	puts(" (totals)");
}
