/* SPDX-License-Identifier: MIT */
/*
 * The keyspace: binary-safe string keys and values with optional expiry
 * (milliseconds, CLOCK_REALTIME like Redis).  Single-threaded: only the
 * event loop touches it, in each connection's request order.
 */
#ifndef RESPD_KEYSPACE_H
#define RESPD_KEYSPACE_H

#include <stddef.h>
#include <stdint.h>

struct kv {
	struct kv *next;
	int64_t expire_ms; /* 0: none */
	size_t klen, vlen;
	char *val;
	char key[];
};

struct keyspace {
	struct kv **slots;
	size_t nslots, count, nexpiring;
};

void keyspace_init(struct keyspace *ks);
void keyspace_free(struct keyspace *ks);
int64_t keyspace_now_ms(void);

/* The live entry for the key, or NULL (an expired one is deleted). */
struct kv *keyspace_get(struct keyspace *ks, const char *key, size_t klen);
/* Set the value (copied); the expiry is replaced by @expire_ms (0: none). */
void keyspace_set(struct keyspace *ks, const char *key, size_t klen, const char *val,
		  size_t vlen, int64_t expire_ms);
/* Return: 1 if a live key was deleted, else 0. */
int keyspace_del(struct keyspace *ks, const char *key, size_t klen);
/* Live keys (expired ones are purged first when any key has a TTL). */
size_t keyspace_size(struct keyspace *ks);
void keyspace_flush(struct keyspace *ks);

#endif /* RESPD_KEYSPACE_H */
