/* SPDX-License-Identifier: MIT */
/*
 * RESP2, the Redis protocol: parsing requests (multibulk and inline) and
 * formatting replies into a growable buffer.
 */
#ifndef RESPD_RESP_H
#define RESPD_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer. */
struct buf {
	char *p;
	size_t len, cap;
};

void buf_reserve(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *data, size_t len);
void buf_consume(struct buf *b, size_t n);
void buf_free(struct buf *b);

/* One argument of a request: a slice of the parsed buffer. */
struct arg {
	const char *p;
	size_t len;
};

/* A request's arguments; the array grows as needed. */
struct args {
	struct arg *v;
	size_t n, cap;
	char *inline_copy; /* inline requests: unquoted arguments live here */
};

void args_free(struct args *a);

/*
 * One allocation holding @head bytes for the caller, then a copy of @argv
 * (the array and the bytes it points to); *@copy is set to the copied array.
 * @head must keep a struct arg aligned (an offsetof() or a sizeof()).
 */
void *args_dup(size_t head, const struct arg *argv, size_t argc, struct arg **copy);

/* Limits, as Redis's proto-max-bulk-len and its fixed inline/header limits. */
#define RESP_INLINE_MAX (64 * 1024)
#define RESP_DEFAULT_MAX_BULK (512ll * 1024 * 1024)
/* Redis's limits for a client that has not authenticated while it must. */
#define RESP_UNAUTH_MAX_ARGS 10
#define RESP_UNAUTH_MAX_BULK 16384

enum resp_status {
	RESP_MORE,  /* incomplete: read more and call again */
	RESP_OK,    /* one request in @a, *@used bytes consumed */
	RESP_EMPTY, /* bytes consumed, no request (empty line, *0, *-1) */
	RESP_ERROR, /* protocol error: reply *@err and close the connection */
};

/*
 * Parse the first request in @in[0..@len).  Arguments point into @in (or
 * into @a->inline_copy) until the caller consumes the bytes.  @unauth: the
 * client has yet to authenticate (smaller limits).  Lines are found as
 * Redis finds them, with strchr(): a line holding a NUL byte has no end, so
 * the request waits for more bytes until the inline limit makes it an error.
 */
enum resp_status resp_parse(const char *in, size_t len, long long max_bulk, bool unauth,
			    struct args *a, size_t *used, const char **err);

/* Reply formatting, byte for byte as Redis 7. */
void reply_simple(struct buf *b, const char *s);  /* +s */
void reply_error(struct buf *b, const char *s);   /* -s (s includes the code) */
void reply_int(struct buf *b, long long v);        /* :v */
void reply_bulk(struct buf *b, const char *p, size_t len);
void reply_nil(struct buf *b);                     /* $-1 */
void reply_array(struct buf *b, long long n);      /* *n */
void reply_nil_array(struct buf *b);               /* *-1 */

#endif /* RESPD_RESP_H */
