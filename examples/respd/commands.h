/* SPDX-License-Identifier: MIT */
/*
 * The commands respd knows, with Redis 7's reply formats and error texts.
 * A command has two parts: work that touches no shared state, which a
 * worker thread may do in any order (command_work_ns(): DEBUG SLEEP), and
 * its effect on the store and its reply (command_execute()), which the
 * event loop runs in each connection's request order, one command at a
 * time: a transaction's EXEC runs its queued commands in one such step.
 */
#ifndef RESPD_COMMANDS_H
#define RESPD_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keyspace.h"
#include "resp.h"
#include "watch.h"

/* The Redis version respd answers as (HELLO, INFO). */
#define RESPD_REDIS_VERSION "7.0.0"

struct store_stats {
	unsigned long long connections, commands, rejected;
};

struct client;

/* What the commands share: the keyspace, the clients, the settings. */
struct store {
	struct keyspace ks;
	struct client *clients; /* connected, newest first */
	size_t nclients;
	const char *requirepass; /* NULL: no password */
	long long max_bulk;      /* proto-max-bulk-len */
	unsigned int port;
	int64_t start_ms;
	struct store_stats stats;
};

struct queued;

/* A connection's state as the commands see it. */
struct client {
	unsigned long long id;
	int fd;
	char addr[64], laddr[64];  /* ip:port, [ip6]:port */
	int64_t ctime_ms, last_ms; /* connected, last command */
	char *name;                /* CLIENT SETNAME; NULL: none */
	const char *lastcmd;       /* for CLIENT LIST; NULL: none yet */
	bool authed;
	bool multi;        /* in MULTI: commands are queued */
	bool multi_error;  /* a command was refused while queueing: EXECABORT */
	struct queued **queue;
	size_t nqueued, qcap;
	struct watcher watch;
	struct client *prev, *next;
};

/* What the connection does after a command. */
enum client_end {
	CLIENT_GO_ON,
	CLIENT_CLOSE, /* after the reply (QUIT) */
	CLIENT_DROP,  /* now, dropping the replies not yet sent (a cross-protocol attack) */
};

void store_init(struct store *st, const char *requirepass, long long max_bulk,
		unsigned int port);
/* Every client must have been detached. */
void store_free(struct store *st);

/* Register a connection; @addr and @laddr as CLIENT LIST shows them. */
void client_attach(struct store *st, struct client *cl, unsigned long long id, int fd,
		   const char *addr, const char *laddr);
/* Unregister it: its watches and queued commands go. */
void client_detach(struct store *st, struct client *cl);
/* The client must AUTH before most commands. */
bool client_needs_auth(const struct store *st, const struct client *cl);

/*
 * The time a worker must spend on the request before its ordered step, in
 * nanoseconds (DEBUG SLEEP), or 0: no work off the loop.
 */
unsigned long long command_work_ns(const struct arg *argv, size_t argc);

/* Apply the command (@argc >= 1) and append its reply to @out. */
enum client_end command_execute(struct store *st, struct client *cl, const struct arg *argv,
				size_t argc, struct buf *out);

#endif /* RESPD_COMMANDS_H */
