// SPDX-License-Identifier: MIT
/*
 * The input, read whole, split into lines (records) and copied into a
 * MAP_SHARED mapping that the workers inherit.  Records are lines without
 * their newline; a last line without one is a record too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/mman.h>

#include "prefork.h"

/* Read all of @fd.  Return: a malloc()ed buffer, or NULL with errno set. */
static char *slurp(int fd, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap), *p;
	ssize_t k;

	if (!buf)
		return NULL;
	for (;;) {
		if (n == cap) {
			p = realloc(buf, cap *= 2);
			if (!p)
				goto fail;
			buf = p;
		}
		k = read(fd, buf + n, cap - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			goto fail;
		if (k == 0)
			break;
		n += (size_t)k;
	}
	*len = n;
	return buf;
fail:
	k = errno;
	free(buf);
	errno = (int)k;
	return NULL;
}

struct pf_region *pf_region_load(int fd, const char *name)
{
	struct pf_region *r;
	uint64_t nrec = 0, i, k;
	size_t len, size;
	char *buf = slurp(fd, &len);

	if (!buf) {
		fprintf(stderr, "prefork: %s: %s\n", name, strerror(errno));
		return NULL;
	}
	for (i = 0; i < len; i++)
		nrec += buf[i] == '\n';
	if (len && buf[len - 1] != '\n')
		nrec++;
	size = sizeof(*r) + (2 * nrec + 1) * sizeof(uint64_t) + len;
	r = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED) {
		fprintf(stderr, "prefork: %s: %s\n", name, strerror(errno));
		free(buf);
		return NULL;
	}
	r->nrec = nrec;
	r->size = size;
	memcpy((char *)pf_text(r), buf, len);
	/* rec_off[k]: start of record k; rec_off[nrec]: one past the last one's newline. */
	for (i = 0, k = 0; k < nrec; k++) {
		pf_rec_off(r)[k] = i;
		while (i < len && buf[i] != '\n')
			i++;
		i++;
	}
	pf_rec_off(r)[nrec] = i;
	free(buf);
	return r;
}

void pf_region_free(struct pf_region *r)
{
	munmap(r, r->size);
}
