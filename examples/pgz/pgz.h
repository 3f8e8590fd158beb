/* SPDX-License-Identifier: MIT */
/*
 * pgz: parallel gzip with ordered output on a completion chain.
 *
 * cli.c        options, messages, exit status, the operand loop
 * file.c       one operand: what to read, where to write, and the rules
 *              that keep a user's data (same-file, links, temporary output)
 * compress.c   the parallel deflate pipeline, ordered by a completion chain
 * decompress.c zlib inflate of gzip members, --test and --list
 * header.c     the gzip member header (RFC 1952)
 */
#ifndef PGZ_H
#define PGZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* gzip's exit statuses: a warning never hides an error. */
enum { PGZ_OK = 0, PGZ_ERROR = 1, PGZ_WARNING = 2 };

struct pgz_options {
	int level;		/* 0..9 */
	size_t block;		/* bytes per compressed block */
	unsigned int threads;
	bool decompress, to_stdout, force, keep, list, test, recursive;
	bool save_name;		/* -N/-n when compressing (default on) */
	bool restore_name;	/* -N when decompressing (default off) */
	int verbose;		/* -1 with -q */
	const char *suffix;	/* -S, default ".gz" */
	const char *out_path;	/* -o (pgz's own), "-" is standard output */
};

extern struct pgz_options opt;
extern const char *progname;
extern int exit_status;

/* "progname: " + message + newline on stderr; exit status 1. */
void pgz_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same unless -q; exit status 2 unless an error came first. */
void pgz_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* gzip's "\nprogname: name: message" for a damaged compressed input. */
void pgz_data_error(const char *name, const char *what);
void *xmalloc(size_t n);
bool write_all(int fd, const void *p, size_t n);
/* gzip's ratio: 100 * @num / @den, as "%5.1f%%". */
void pgz_print_ratio(FILE *f, int64_t num, uint64_t den);

/* file.c */
void pgz_operand(const char *path);
void pgz_stdin(void);
void pgz_install_signals(void);

/* header.c */
#define GZ_HEADER_MIN 10
#define GZ_TRAILER 8
/*
 * gz_header_build() - a member header into a new buffer.
 * @name: stored as FNAME (NUL-terminated, no directory), or NULL
 * @mtime: seconds, 0 for none
 * Return: the buffer (free it), its length in @len.
 */
unsigned char *gz_header_build(const char *name, uint32_t mtime, int level, size_t *len);
void put_le32(unsigned char *p, uint32_t v);
uint32_t get_le32(const unsigned char *p);

struct gz_in;
struct gz_header {
	uint32_t mtime;
	char *name;		/* FNAME, or NULL; free it */
	size_t len;		/* header bytes, magic included */
	int method;
};
enum { GZ_HDR_OK = 0, GZ_HDR_EOF, GZ_HDR_READ, GZ_HDR_BAD };
/* Parse after the two magic bytes were consumed.  Return GZ_HDR_*. */
int gz_header_parse(struct gz_in *in, struct gz_header *h, char *why, size_t whylen);

/* decompress.c: a buffered reader */
struct gz_in {
	int fd;
	unsigned char *buf;
	size_t pos, len, cap;
	bool eof;
	int err;		/* errno of a failed read */
	uint64_t consumed;	/* bytes handed out, for the ratio */
};
void gz_in_init(struct gz_in *in, int fd);
void gz_in_free(struct gz_in *in);
/* Next byte, -1 at end of input or on a read error (see in->err). */
int gz_in_byte(struct gz_in *in);
/* Refill when empty; false at end of input or on error. */
bool gz_in_fill(struct gz_in *in);

struct pgz_count {
	uint64_t in, out;	/* bytes read, written */
	uint64_t header;	/* header + trailer bytes of the first member */
};

/*
 * Decompression in two steps, so that -N can name the output after the
 * first header: pgz_inflate_start() reads and checks the magic and first
 * header; then pgz_inflate_rest() inflates every member into @out_fd (-1:
 * only test), named @out_name in messages.  Both print gzip's message themselves.  Return: PGZ_OK,
 * PGZ_ERROR, PGZ_WARNING (trailing garbage), or for start() also
 * PGZ_NOT_GZIP when the input is not gzip data (nothing printed).
 */
#define PGZ_NOT_GZIP 3
int pgz_inflate_start(struct gz_in *in, const char *name, struct gz_header *h);
int pgz_inflate_rest(struct gz_in *in, const char *name, int out_fd, const char *out_name,
		     struct pgz_count *c);
/* -l for one input; the totals line at the end of the run. */
void pgz_list(int fd, const char *name, const char *out_name);
void pgz_list_totals(void);

/* compress.c */
/*
 * pgz_compress() - one gzip member from @in_fd to @out_fd.
 * Return: 0, or an errno value with *@what "read" or "write".
 */
int pgz_compress(int in_fd, int out_fd, const unsigned char *header, size_t header_len,
		 struct pgz_count *c, const char **what);

#endif
