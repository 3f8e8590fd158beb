/* SPDX-License-Identifier: MIT */
/*
 * The keyspace: binary-safe string keys and values with optional expiry
 * (milliseconds, CLOCK_REALTIME like Redis).  Expiry is lazy (a read of an
 * expired key deletes it) and active (keyspace_expire_cycle(), which the
 * event loop runs 10 times a second).  Every write, deletion and expiry
 * touches the key's watchers.  Single-threaded: only the event loop touches
 * it, in each connection's request order.
 */
#ifndef RESPD_KEYSPACE_H
#define RESPD_KEYSPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "watch.h"

struct kv {
	struct kv *next;          /* hash chain */
	struct kv *eprev, *enext; /* the keys with a TTL, while expire_ms != 0 */
	int64_t expire_ms;        /* 0: none */
	size_t klen, vlen;
	char *val;
	char key[];
};

struct keyspace {
	struct kv **slots;
	size_t nslots, count, nexpiring;
	struct kv *ehead, *etail;   /* the keys with a TTL, in sweep order */
	long long avg_ttl;          /* ms: a running estimate, as Redis's */
	unsigned long long expired; /* keys deleted because they expired */
	unsigned long long hits, misses; /* keyspace_read() */
	struct watch_table watched;
};

void keyspace_init(struct keyspace *ks);
void keyspace_free(struct keyspace *ks);
int64_t keyspace_now_ms(void);

/* Redis's keyIsExpired(): past its time, not at it. */
static inline bool kv_expired(const struct kv *e, int64_t now_ms)
{
	return e->expire_ms && now_ms > e->expire_ms;
}

/* The live entry for the key, or NULL (an expired one is deleted). */
struct kv *keyspace_get(struct keyspace *ks, const char *key, size_t klen);
/* keyspace_get() for a command that reads: counts a hit or a miss. */
struct kv *keyspace_read(struct keyspace *ks, const char *key, size_t klen);
/* Set the value (copied); the expiry is replaced by @expire_ms (0: none). */
void keyspace_set(struct keyspace *ks, const char *key, size_t klen, const char *val,
		  size_t vlen, int64_t expire_ms);
/* Append to a live entry's value; its expiry stays. */
void keyspace_append(struct keyspace *ks, struct kv *e, const char *val, size_t vlen);
/* Replace a live entry's expiry (0: none). */
void keyspace_set_expire(struct keyspace *ks, struct kv *e, int64_t expire_ms);
/* Return: 1 if a live key was deleted, else 0. */
int keyspace_del(struct keyspace *ks, const char *key, size_t klen);
/* Keys held, as Redis's DBSIZE: expired keys not yet deleted count. */
size_t keyspace_size(const struct keyspace *ks);
void keyspace_flush(struct keyspace *ks);

/*
 * One step of a scan, as Redis's dictScan(): call @fn for each entry (live
 * or expired) of the slot @cursor names and return the next cursor, 0 when
 * the scan is over.  A key present from the first step to the last is seen
 * at least once, however the table grows in between.  @fn must not change
 * the keyspace.
 */
unsigned long keyspace_scan(struct keyspace *ks, unsigned long cursor,
			    void (*fn)(void *arg, const struct kv *e), void *arg);

/*
 * Active expiry, as Redis's: sample the keys with a TTL in turn, 20 at a
 * time, deleting the expired ones, while more than 1 in 10 of a round had
 * expired and for at most @budget_ms.
 */
void keyspace_expire_cycle(struct keyspace *ks, int64_t budget_ms);

#endif /* RESPD_KEYSPACE_H */
