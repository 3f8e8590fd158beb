// SPDX-License-Identifier: MIT
/*
 * A chained hash table (FNV-1a) of a power-of-two size, doubled when it
 * holds more keys than slots and reset to its first size by a flush, and a
 * list of the keys with a TTL that the active expiry walks round.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keyspace.h"

#define FIRST_SLOTS 4 /* as Redis's dict: a small keyspace scans in one step */
#define SAMPLE 20     /* keys with a TTL looked at per round of active expiry */

static void *xalloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		perror("respd: keyspace");
		abort();
	}
	return p;
}

static void new_table(struct keyspace *ks)
{
	ks->nslots = FIRST_SLOTS;
	ks->slots = calloc(ks->nslots, sizeof(*ks->slots));
	if (!ks->slots)
		abort();
}

void keyspace_init(struct keyspace *ks)
{
	memset(ks, 0, sizeof(*ks));
	new_table(ks);
	watch_init(&ks->watched);
}

int64_t keyspace_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void expiring_unlink(struct keyspace *ks, struct kv *e)
{
	if (e->eprev)
		e->eprev->enext = e->enext;
	else
		ks->ehead = e->enext;
	if (e->enext)
		e->enext->eprev = e->eprev;
	else
		ks->etail = e->eprev;
	e->eprev = e->enext = NULL;
	ks->nexpiring--;
}

static void expiring_append(struct keyspace *ks, struct kv *e)
{
	e->enext = NULL;
	e->eprev = ks->etail;
	if (ks->etail)
		ks->etail->enext = e;
	else
		ks->ehead = e;
	ks->etail = e;
	ks->nexpiring++;
}

static void set_expire(struct keyspace *ks, struct kv *e, int64_t expire_ms)
{
	if (e->expire_ms && !expire_ms)
		expiring_unlink(ks, e);
	else if (!e->expire_ms && expire_ms)
		expiring_append(ks, e);
	e->expire_ms = expire_ms;
}

/* Unlink *@pp from its chain and free it. */
static void kv_delete(struct keyspace *ks, struct kv **pp)
{
	struct kv *e = *pp;

	*pp = e->next;
	if (e->expire_ms)
		expiring_unlink(ks, e);
	ks->count--;
	watch_touch(&ks->watched, e->key, e->klen);
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
			size_t s = hash_bytes(e->key, e->klen) & (n - 1);

			next = e->next;
			e->next = slots[s];
			slots[s] = e;
		}
	}
	free(ks->slots);
	ks->slots = slots;
	ks->nslots = n;
}

static struct kv **find(const struct keyspace *ks, const char *key, size_t klen)
{
	struct kv **pp = &ks->slots[hash_bytes(key, klen) & (ks->nslots - 1)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->klen == klen && !memcmp((*pp)->key, key, klen))
			return pp;
	return pp;
}

struct kv *keyspace_get(struct keyspace *ks, const char *key, size_t klen)
{
	struct kv **pp = find(ks, key, klen), *e = *pp;

	if (e && kv_expired(e, keyspace_now_ms())) {
		kv_delete(ks, pp);
		ks->expired++;
		return NULL;
	}
	return e;
}

struct kv *keyspace_read(struct keyspace *ks, const char *key, size_t klen)
{
	struct kv *e = keyspace_get(ks, key, klen);

	if (e)
		ks->hits++;
	else
		ks->misses++;
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
		e->eprev = e->enext = NULL;
		e->next = NULL;
		*pp = e;
		ks->count++;
	}
	set_expire(ks, e, expire_ms);
	e->val = xalloc(e->val, vlen ? vlen : 1);
	memcpy(e->val, val, vlen);
	e->vlen = vlen;
	watch_touch(&ks->watched, key, klen);
	if (ks->count > ks->nslots)
		grow(ks);
}

void keyspace_append(struct keyspace *ks, struct kv *e, const char *val, size_t vlen)
{
	e->val = xalloc(e->val, (e->vlen + vlen) ? e->vlen + vlen : 1);
	memcpy(e->val + e->vlen, val, vlen);
	e->vlen += vlen;
	watch_touch(&ks->watched, e->key, e->klen);
}

void keyspace_set_expire(struct keyspace *ks, struct kv *e, int64_t expire_ms)
{
	set_expire(ks, e, expire_ms);
	watch_touch(&ks->watched, e->key, e->klen);
}

int keyspace_del(struct keyspace *ks, const char *key, size_t klen)
{
	struct kv **pp = find(ks, key, klen), *e = *pp;
	int live;

	if (!e)
		return 0;
	live = !kv_expired(e, keyspace_now_ms());
	if (!live)
		ks->expired++;
	kv_delete(ks, pp);
	return live;
}

size_t keyspace_size(const struct keyspace *ks)
{
	return ks->count;
}

static bool present(void *arg, const char *key, size_t klen)
{
	return *find(arg, key, klen) != NULL;
}

void keyspace_flush(struct keyspace *ks)
{
	size_t i;

	watch_touch_if(&ks->watched, present, ks);
	for (i = 0; i < ks->nslots; i++) {
		struct kv *e = ks->slots[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e->val);
			free(e);
		}
	}
	free(ks->slots);
	new_table(ks);
	ks->count = ks->nexpiring = 0;
	ks->ehead = ks->etail = NULL;
	ks->avg_ttl = 0;
}

void keyspace_free(struct keyspace *ks)
{
	keyspace_flush(ks);
	free(ks->slots);
	ks->slots = NULL;
	watch_free(&ks->watched);
}

static unsigned long reverse_bits(unsigned long v)
{
	unsigned long r = 0;
	unsigned int i;

	for (i = 0; i < sizeof(v) * 8; i++, v >>= 1)
		r = (r << 1) | (v & 1);
	return r;
}

unsigned long keyspace_scan(struct keyspace *ks, unsigned long cursor,
			    void (*fn)(void *arg, const struct kv *e), void *arg)
{
	unsigned long mask = ks->nslots - 1;
	const struct kv *e;

	for (e = ks->slots[cursor & mask]; e; e = e->next)
		fn(arg, e);
	/* Increment the bits above the mask, reversed: the slots a slot splits
	 * into when the table doubles come after it. */
	cursor |= ~mask;
	cursor = reverse_bits(cursor);
	cursor++;
	return reverse_bits(cursor);
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void keyspace_expire_cycle(struct keyspace *ks, int64_t budget_ms)
{
	int64_t deadline = monotonic_ms() + budget_ms;
	size_t round_expired, n;

	do {
		int64_t now = keyspace_now_ms();
		long long ttl_sum = 0, ttl_n = 0;
		size_t i;

		n = ks->nexpiring < SAMPLE ? ks->nexpiring : SAMPLE;
		round_expired = 0;
		for (i = 0; i < n; i++) {
			struct kv *e = ks->ehead;

			if (kv_expired(e, now)) {
				kv_delete(ks, find(ks, e->key, e->klen));
				ks->expired++;
				round_expired++;
				continue;
			}
			ttl_sum += e->expire_ms - now;
			ttl_n++;
			expiring_unlink(ks, e);
			expiring_append(ks, e);
		}
		if (ttl_n) {
			/* Redis's running average: 2% this round, 98% the past. */
			long long avg = ttl_sum / ttl_n;

			if (!ks->avg_ttl)
				ks->avg_ttl = avg;
			ks->avg_ttl = ks->avg_ttl / 50 * 49 + avg / 50;
		}
		if (!ks->nexpiring)
			ks->avg_ttl = 0;
	} while (round_expired * 10 > n && monotonic_ms() < deadline);
}
