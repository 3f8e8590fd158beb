// SPDX-License-Identifier: MIT
/*
 * RESP2 parsing and reply formatting.  The parser is stateless: it parses
 * the first request of the unconsumed input again each time more bytes
 * arrive, which costs one pass over the header lines (bulk bodies are
 * skipped by their length), and never allocates for data not received:
 * a 512 MB bulk length costs nothing until the bytes come.  Error texts
 * are Redis 7's.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		perror("respd: realloc");
		abort();
	}
	return p;
}

void buf_reserve(struct buf *b, size_t extra)
{
	if (b->cap - b->len >= extra)
		return;
	while (b->cap - b->len < extra)
		b->cap = b->cap ? b->cap * 2 : 4096;
	b->p = xrealloc(b->p, b->cap);
}

void buf_add(struct buf *b, const void *data, size_t len)
{
	if (!len)
		return; /* an empty buffer's data may be NULL */
	buf_reserve(b, len);
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

void buf_consume(struct buf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	/* Give back what a huge request made us take. */
	if (b->cap > (1u << 20) && b->len < b->cap / 4) {
		b->cap = b->len > 4096 ? b->len : 4096;
		b->p = xrealloc(b->p, b->cap);
	}
}

void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void args_free(struct args *a)
{
	free(a->v);
	free(a->inline_copy);
	memset(a, 0, sizeof(*a));
}

static void args_push(struct args *a, const char *p, size_t len)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 8;
		a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	a->v[a->n].p = p;
	a->v[a->n].len = len;
	a->n++;
}

/* A decimal in [@p, @end) as Redis's string2ll: strict, no spaces. */
static bool parse_ll(const char *p, const char *end, long long *out)
{
	char tmp[32], *e;
	size_t n = (size_t)(end - p);

	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	if (tmp[0] == '+' || (tmp[0] == '0' && n > 1) || (tmp[0] == '-' && (n == 1 || tmp[1] == '0')))
		return false;
	errno = 0;
	*out = strtoll(tmp, &e, 10);
	return !errno && *e == '\0' && (tmp[0] == '-' || (tmp[0] >= '0' && tmp[0] <= '9'));
}

void *args_dup(size_t head, const struct arg *argv, size_t argc, struct arg **copy)
{
	size_t i, bytes = 0;
	char *block, *p;

	for (i = 0; i < argc; i++)
		bytes += argv[i].len;
	block = xrealloc(NULL, head + argc * sizeof(struct arg) + bytes + 1);
	*copy = (struct arg *)(block + head);
	p = (char *)&(*copy)[argc];
	for (i = 0; i < argc; i++) {
		memcpy(p, argv[i].p, argv[i].len);
		(*copy)[i].p = p;
		(*copy)[i].len = argv[i].len;
		p += argv[i].len;
	}
	return block;
}

/* isspace() in the C locale, which Redis's inline splitter uses. */
static bool is_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Split an inline request into arguments as Redis's sdssplitargs(): blanks
 * (isspace) between arguments; an argument ends at a space, tab, CR or LF;
 * a quote anywhere in it opens a quoted part; "..." knows \xHH and the C
 * escapes, '...' knows \'; a closing quote must be followed by a blank or
 * the end.  @p[0..@len) holds no NUL byte.  Return: false on bad quotes.
 */
static bool split_inline(const char *p, size_t len, struct args *a)
{
	char *o = xrealloc(a->inline_copy, len + 1);
	const char *end = p + len;

	a->inline_copy = o;
	for (;;) {
		bool inq = false, insq = false, done = false;
		char *start;

		while (p < end && is_space(*p))
			p++;
		if (p == end)
			return true;
		start = o;
		while (!done) {
			char c = p < end ? *p : '\0';

			if (inq) {
				if (c == '\\' && end - p >= 4 && p[1] == 'x' && hex_value(p[2]) >= 0 &&
				    hex_value(p[3]) >= 0) {
					*o++ = (char)(hex_value(p[2]) * 16 + hex_value(p[3]));
					p += 3;
				} else if (c == '\\' && p + 1 < end) {
					p++;
					switch (*p) {
					case 'n': *o++ = '\n'; break;
					case 'r': *o++ = '\r'; break;
					case 't': *o++ = '\t'; break;
					case 'b': *o++ = '\b'; break;
					case 'a': *o++ = '\a'; break;
					default: *o++ = *p; break;
					}
				} else if (c == '"') {
					if (p + 1 < end && !is_space(p[1]))
						return false;
					done = true;
				} else if (p == end) {
					return false; /* unterminated */
				} else {
					*o++ = c;
				}
			} else if (insq) {
				if (c == '\\' && p + 1 < end && p[1] == '\'') {
					p++;
					*o++ = '\'';
				} else if (c == '\'') {
					if (p + 1 < end && !is_space(p[1]))
						return false;
					done = true;
				} else if (p == end) {
					return false;
				} else {
					*o++ = c;
				}
			} else {
				switch (c) {
				case ' ': case '\n': case '\r': case '\t': case '\0':
					done = true;
					break;
				case '"':
					inq = true;
					break;
				case '\'':
					insq = true;
					break;
				default:
					*o++ = c;
					break;
				}
			}
			if (p < end)
				p++;
		}
		/* Pointers into inline_copy: it is not reallocated from here on. */
		args_push(a, start, (size_t)(o - start));
	}
}

/* Where strchr() would find @c in @p[0..@len): not past a NUL byte. */
static const char *find_before_nul(const char *p, size_t len, char c)
{
	const char *nul = memchr(p, '\0', len);

	return memchr(p, c, nul ? (size_t)(nul - p) : len);
}

static enum resp_status parse_inline(const char *in, size_t len, struct args *a,
				     size_t *used, const char **err)
{
	const char *nl = find_before_nul(in, len, '\n');
	size_t linelen;

	if (!nl) {
		if (len > RESP_INLINE_MAX) {
			*err = "ERR Protocol error: too big inline request";
			return RESP_ERROR;
		}
		return RESP_MORE;
	}
	linelen = (size_t)(nl - in);
	*used = linelen + 1;
	if (linelen && in[linelen - 1] == '\r')
		linelen--;
	if (!split_inline(in, linelen, a)) {
		*err = "ERR Protocol error: unbalanced quotes in request";
		return RESP_ERROR;
	}
	return a->n ? RESP_OK : RESP_EMPTY;
}

/* The line starting at @p: its end (at '\r'), or NULL if incomplete. */
static const char *line_end(const char *p, const char *end)
{
	const char *cr = find_before_nul(p, (size_t)(end - p), '\r');

	if (!cr || cr + 1 >= end)
		return NULL;
	return cr;
}

enum resp_status resp_parse(const char *in, size_t len, long long max_bulk, bool unauth,
			    struct args *a, size_t *used, const char **err)
{
	const char *p, *end, *le;
	long long count, blen, i;

	a->n = 0;
	if (len == 0)
		return RESP_MORE;
	p = in;
	end = in + len;
	if (in[0] != '*')
		return parse_inline(in, len, a, used, err);
	le = line_end(p, end);
	if (!le) {
		if (len > RESP_INLINE_MAX) {
			*err = "ERR Protocol error: too big mbulk count string";
			return RESP_ERROR;
		}
		return RESP_MORE;
	}
	if (!parse_ll(p + 1, le, &count) || count > INT_MAX) {
		*err = "ERR Protocol error: invalid multibulk length";
		return RESP_ERROR;
	}
	if (unauth && count > RESP_UNAUTH_MAX_ARGS) {
		*err = "ERR Protocol error: unauthenticated multibulk length";
		return RESP_ERROR;
	}
	p = le + 2;
	if (count <= 0) {
		*used = (size_t)(p - in);
		return RESP_EMPTY;
	}
	for (i = 0; i < count; i++) {
		if (p >= end)
			return RESP_MORE;
		le = line_end(p, end);
		if (!le) {
			if ((size_t)(end - p) > RESP_INLINE_MAX) {
				*err = "ERR Protocol error: too big bulk count string";
				return RESP_ERROR;
			}
			return RESP_MORE;
		}
		if (*p != '$') {
			static char msg[64];

			/* As Redis's error replies: no line breaks. */
			snprintf(msg, sizeof(msg), "ERR Protocol error: expected '$', got '%c'",
				 *p == '\r' || *p == '\n' ? ' ' : *p);
			*err = msg;
			return RESP_ERROR;
		}
		if (!parse_ll(p + 1, le, &blen) || blen < 0 || blen > max_bulk) {
			*err = "ERR Protocol error: invalid bulk length";
			return RESP_ERROR;
		}
		if (unauth && blen > RESP_UNAUTH_MAX_BULK) {
			*err = "ERR Protocol error: unauthenticated bulk length";
			return RESP_ERROR;
		}
		p = le + 2;
		if ((long long)(end - p) < blen + 2)
			return RESP_MORE;
		args_push(a, p, (size_t)blen);
		p += blen + 2; /* Redis does not check the trailing CRLF either */
	}
	*used = (size_t)(p - in);
	return RESP_OK;
}

void reply_simple(struct buf *b, const char *s)
{
	buf_add(b, "+", 1);
	buf_add(b, s, strlen(s));
	buf_add(b, "\r\n", 2);
}

void reply_error(struct buf *b, const char *s)
{
	buf_add(b, "-", 1);
	buf_add(b, s, strlen(s));
	buf_add(b, "\r\n", 2);
}

static void reply_prefixed(struct buf *b, char c, long long v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%c%lld\r\n", c, v);

	buf_add(b, tmp, (size_t)n);
}

void reply_int(struct buf *b, long long v)
{
	reply_prefixed(b, ':', v);
}

void reply_bulk(struct buf *b, const char *p, size_t len)
{
	reply_prefixed(b, '$', (long long)len);
	buf_add(b, p, len);
	buf_add(b, "\r\n", 2);
}

void reply_nil(struct buf *b)
{
	buf_add(b, "$-1\r\n", 5);
}

void reply_array(struct buf *b, long long n)
{
	reply_prefixed(b, '*', n);
}

void reply_nil_array(struct buf *b)
{
	buf_add(b, "*-1\r\n", 5);
}
