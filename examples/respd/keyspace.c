// SPDX-License-Identifier: MIT
/* A chained hash table (FNV-1a), doubled when it is full; lazy expiry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keyspace.h"

static void *xalloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		perror("respd: keyspace");
		abort();
	}
	return p;
}

void keyspace_init(struct keyspace *ks)
{
	ks->nslots = 1024;
	ks->slots = calloc(ks->nslots, sizeof(*ks->slots));
	if (!ks->slots)
		abort();
	ks->count = ks->nexpiring = 0;
}

int64_t keyspace_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	while (n--)
		h = (h ^ (unsigned char)*p++) * 1099511628211ull;
	return h;
}

static void kv_free(struct keyspace *ks, struct kv *e)
{
	if (e->expire_ms)
		ks->nexpiring--;
	ks->count--;
	free(e->val);
	free(e);
}

static void grow(struct keyspace *ks)
{
	size_t n = ks->nslots * 2, i;
	struct kv **slots = calloc(n, sizeof(*slots));

	if (!slots)
		abort();
	for (i = 0; i < ks->nslots; i++) {
		struct kv *e = ks->slots[i], *next;

		for (; e; e = next) {
			size_t s = hash(e->key, e->klen) & (n - 1);

			next = e->next;
			e->next = slots[s];
			slots[s] = e;
		}
	}
	free(ks->slots);
	ks->slots = slots;
	ks->nslots = n;
}

static struct kv **find(struct keyspace *ks, const char *key, size_t klen)
{
	struct kv **pp = &ks->slots[hash(key, klen) & (ks->nslots - 1)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->klen == klen && !memcmp((*pp)->key, key, klen))
			return pp;
	return pp;
}

struct kv *keyspace_get(struct keyspace *ks, const char *key, size_t klen)
{
	struct kv **pp = find(ks, key, klen), *e = *pp;

	if (e && e->expire_ms && e->expire_ms <= keyspace_now_ms()) {
		*pp = e->next;
		kv_free(ks, e);
		return NULL;
	}
	return e;
}

void keyspace_set(struct keyspace *ks, const char *key, size_t klen, const char *val,
		  size_t vlen, int64_t expire_ms)
{
	struct kv **pp = find(ks, key, klen), *e = *pp;

	if (!e) {
		e = xalloc(NULL, sizeof(*e) + klen);
		memcpy(e->key, key, klen);
		e->klen = klen;
		e->val = NULL;
		e->expire_ms = 0;
		e->next = NULL;
		*pp = e;
		ks->count++;
	}
	if (e->expire_ms)
		ks->nexpiring--;
	e->expire_ms = expire_ms;
	if (expire_ms)
		ks->nexpiring++;
	e->val = xalloc(e->val, vlen ? vlen : 1);
	memcpy(e->val, val, vlen);
	e->vlen = vlen;
	if (ks->count > ks->nslots)
		grow(ks);
}

int keyspace_del(struct keyspace *ks, const char *key, size_t klen)
{
	struct kv **pp = find(ks, key, klen), *e = *pp;
	int live;

	if (!e)
		return 0;
	live = !e->expire_ms || e->expire_ms > keyspace_now_ms();
	*pp = e->next;
	kv_free(ks, e);
	return live;
}

size_t keyspace_size(struct keyspace *ks)
{
	int64_t now;
	size_t i;

	if (!ks->nexpiring)
		return ks->count;
	now = keyspace_now_ms();
	for (i = 0; i < ks->nslots; i++) {
		struct kv **pp = &ks->slots[i];

		while (*pp) {
			struct kv *e = *pp;

			if (e->expire_ms && e->expire_ms <= now) {
				*pp = e->next;
				kv_free(ks, e);
			} else {
				pp = &e->next;
			}
		}
	}
	return ks->count;
}

void keyspace_flush(struct keyspace *ks)
{
	size_t i;

	for (i = 0; i < ks->nslots; i++) {
		struct kv *e = ks->slots[i], *next;

		for (; e; e = next) {
			next = e->next;
			kv_free(ks, e);
		}
		ks->slots[i] = NULL;
	}
}

void keyspace_free(struct keyspace *ks)
{
	keyspace_flush(ks);
	free(ks->slots);
	ks->slots = NULL;
}
