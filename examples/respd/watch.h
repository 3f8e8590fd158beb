/* SPDX-License-Identifier: MIT */
/*
 * WATCH: which clients watch which keys.  A write to a watched key marks
 * every client watching it dirty, so that its EXEC fails (Redis's
 * check-and-set).  Single-threaded: only the event loop touches it.
 */
#ifndef RESPD_WATCH_H
#define RESPD_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct watch_entry;
struct watch_key;

/* One client's side: the keys it watches and whether one was written. */
struct watcher {
	struct watch_entry *entries;
	bool dirty;
};

struct watch_table {
	struct watch_key **slots;
	size_t nslots, nkeys;
};

/* FNV-1a, the hash of the keyspace and of this table. */
static inline uint64_t hash_bytes(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	while (n--)
		h = (h ^ (unsigned char)*p++) * 1099511628211ull;
	return h;
}

void watch_init(struct watch_table *t);
/* Every watcher must have been cleared. */
void watch_free(struct watch_table *t);
/* @w watches the key (once, however often it is added). */
void watch_add(struct watch_table *t, struct watcher *w, const char *key, size_t klen);
/* @w watches nothing and is clean (UNWATCH, EXEC, DISCARD, disconnect). */
void watch_clear(struct watch_table *t, struct watcher *w);
/* The key was written: its watchers are dirty.  Cheap when none watch. */
void watch_touch(struct watch_table *t, const char *key, size_t klen);
/* Touch every watched key for which @exists(@arg, key) is true (a flush). */
void watch_touch_if(struct watch_table *t,
		    bool (*exists)(void *arg, const char *key, size_t klen), void *arg);
/* Call @fn for each key @w watches; @fn may touch keys. */
void watch_each(struct watcher *w, void (*fn)(void *arg, const char *key, size_t klen),
		void *arg);

#endif /* RESPD_WATCH_H */
