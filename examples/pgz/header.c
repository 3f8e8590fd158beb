// SPDX-License-Identifier: MIT
/* The gzip member header and trailer fields (RFC 1952). */
#include <stdlib.h>
#include <string.h>

#include "pgz.h"

enum { FTEXT = 1, FHCRC = 2, FEXTRA = 4, FNAME = 8, FCOMMENT = 16 };

void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

uint32_t get_le32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

unsigned char *gz_header_build(const char *name, uint32_t mtime, int level, size_t *len)
{
	size_t nl = name ? strlen(name) + 1 : 0;
	unsigned char *h = xmalloc(GZ_HEADER_MIN + nl);

	h[0] = 0x1f;
	h[1] = 0x8b;
	h[2] = 8;
	h[3] = name ? FNAME : 0;
	put_le32(h + 4, mtime);
	/* XFL as gzip sets it: 2 for the slowest level, 4 for the fastest. */
	h[8] = level == 9 ? 2 : level == 1 ? 4 : 0;
	h[9] = 3; /* Unix */
	if (name)
		memcpy(h + GZ_HEADER_MIN, name, nl);
	*len = GZ_HEADER_MIN + nl;
	return h;
}

/* A NUL-terminated field; kept in *@keep if @keep is not NULL. */
static int skip_string(struct gz_in *in, struct gz_header *h, char **keep)
{
	size_t n = 0, cap = 64;
	char *s = keep ? xmalloc(cap) : NULL;
	int c;

	while ((c = gz_in_byte(in)) > 0) {
		h->len++;
		if (s) {
			if (n + 1 == cap)
				s = realloc(s, cap *= 2);
			if (!s)
				exit(PGZ_ERROR);
			s[n++] = (char)c;
		}
	}
	if (c < 0) {
		free(s);
		return in->err ? GZ_HDR_READ : GZ_HDR_EOF;
	}
	h->len++;
	if (s) {
		s[n] = 0;
		*keep = s;
	}
	return GZ_HDR_OK;
}

int gz_header_parse(struct gz_in *in, struct gz_header *h, char *why, size_t whylen)
{
	unsigned char b[8];
	int i, c, ret;

	memset(h, 0, sizeof(*h));
	h->len = 2;
	for (i = 0; i < 8; i++) {
		if ((c = gz_in_byte(in)) < 0)
			return in->err ? GZ_HDR_READ : GZ_HDR_EOF;
		b[i] = (unsigned char)c;
	}
	h->len += 8;
	h->method = b[0];
	h->mtime = get_le32(b + 2);
	if (b[0] != 8) {
		snprintf(why, whylen, "unknown method %d -- not supported", b[0]);
		return GZ_HDR_BAD;
	}
	if (b[1] & 0xe0) {
		snprintf(why, whylen, "has flags 0x%x -- not supported", b[1]);
		return GZ_HDR_BAD;
	}
	if (b[1] & FEXTRA) {
		int lo = gz_in_byte(in), hi = lo < 0 ? -1 : gz_in_byte(in);
		unsigned int n;

		if (hi < 0)
			return in->err ? GZ_HDR_READ : GZ_HDR_EOF;
		h->len += 2;
		for (n = (unsigned int)(lo | hi << 8); n; n--, h->len++)
			if (gz_in_byte(in) < 0)
				return in->err ? GZ_HDR_READ : GZ_HDR_EOF;
	}
	if ((b[1] & FNAME) && (ret = skip_string(in, h, &h->name)))
		return ret;
	if ((b[1] & FCOMMENT) && (ret = skip_string(in, h, NULL)))
		return ret;
	if (b[1] & FHCRC) {
		for (i = 0; i < 2; i++, h->len++)
			if (gz_in_byte(in) < 0)
				return in->err ? GZ_HDR_READ : GZ_HDR_EOF;
	}
	return GZ_HDR_OK;
}
