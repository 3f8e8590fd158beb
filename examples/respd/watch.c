// SPDX-License-Identifier: MIT
/*
 * A chained hash table of watched keys, each with the list of its
 * watchers; each watcher has the list of its entries.  An entry is one
 * (watcher, key) pair, on both lists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watch.h"

struct watch_entry {
	struct watcher *w;
	struct watch_key *k;
	struct watch_entry *key_next; /* the key's watchers */
	struct watch_entry *w_next;   /* the watcher's keys */
};

struct watch_key {
	struct watch_key *next;
	struct watch_entry *watchers;
	size_t klen;
	char key[];
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p) {
		perror("respd: watch");
		abort();
	}
	return p;
}

void watch_init(struct watch_table *t)
{
	t->nslots = 64;
	t->nkeys = 0;
	t->slots = calloc(t->nslots, sizeof(*t->slots));
	if (!t->slots)
		abort();
}

void watch_free(struct watch_table *t)
{
	free(t->slots);
	t->slots = NULL;
}

static struct watch_key **find(struct watch_table *t, const char *key, size_t klen)
{
	struct watch_key **pp = &t->slots[hash_bytes(key, klen) & (t->nslots - 1)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->klen == klen && !memcmp((*pp)->key, key, klen))
			break;
	return pp;
}

static void grow(struct watch_table *t)
{
	size_t n = t->nslots * 2, i;
	struct watch_key **slots = calloc(n, sizeof(*slots));

	if (!slots)
		abort();
	for (i = 0; i < t->nslots; i++) {
		struct watch_key *k = t->slots[i], *next;

		for (; k; k = next) {
			size_t s = hash_bytes(k->key, k->klen) & (n - 1);

			next = k->next;
			k->next = slots[s];
			slots[s] = k;
		}
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = n;
}

void watch_add(struct watch_table *t, struct watcher *w, const char *key, size_t klen)
{
	struct watch_entry *e;
	struct watch_key **pp, *k;

	for (e = w->entries; e; e = e->w_next)
		if (e->k->klen == klen && !memcmp(e->k->key, key, klen))
			return;
	pp = find(t, key, klen);
	k = *pp;
	if (!k) {
		k = xmalloc(sizeof(*k) + klen);
		k->next = NULL;
		k->watchers = NULL;
		k->klen = klen;
		memcpy(k->key, key, klen);
		*pp = k;
		if (++t->nkeys > t->nslots)
			grow(t);
	}
	e = xmalloc(sizeof(*e));
	e->w = w;
	e->k = k;
	e->key_next = k->watchers;
	k->watchers = e;
	e->w_next = w->entries;
	w->entries = e;
}

void watch_clear(struct watch_table *t, struct watcher *w)
{
	struct watch_entry *e, *next;

	for (e = w->entries; e; e = next) {
		struct watch_key *k = e->k;
		struct watch_entry **ep = &k->watchers;

		next = e->w_next;
		while (*ep != e)
			ep = &(*ep)->key_next;
		*ep = e->key_next;
		if (!k->watchers) {
			struct watch_key **kp = find(t, k->key, k->klen);

			*kp = k->next;
			t->nkeys--;
			free(k);
		}
		free(e);
	}
	w->entries = NULL;
	w->dirty = false;
}

void watch_touch(struct watch_table *t, const char *key, size_t klen)
{
	struct watch_key *k;
	struct watch_entry *e;

	if (!t->nkeys)
		return;
	k = *find(t, key, klen);
	for (e = k ? k->watchers : NULL; e; e = e->key_next)
		e->w->dirty = true;
}

void watch_touch_if(struct watch_table *t,
		    bool (*exists)(void *arg, const char *key, size_t klen), void *arg)
{
	size_t i;

	for (i = 0; t->nkeys && i < t->nslots; i++) {
		struct watch_key *k;

		for (k = t->slots[i]; k; k = k->next) {
			struct watch_entry *e;

			if (!exists(arg, k->key, k->klen))
				continue;
			for (e = k->watchers; e; e = e->key_next)
				e->w->dirty = true;
		}
	}
}

void watch_each(struct watcher *w, void (*fn)(void *arg, const char *key, size_t klen),
		void *arg)
{
	struct watch_entry *e;

	for (e = w->entries; e; e = e->w_next)
		fn(arg, e->k->key, e->k->klen);
}
