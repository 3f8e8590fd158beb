/* SPDX-License-Identifier: MIT */
/*
 * The commands respd knows, with Redis 7's reply formats and error texts.
 * A command has two parts: work that touches no shared state, which a
 * worker thread may do in any order (command_work(): DEBUG SLEEP), and its
 * effect on the keyspace and its reply (command_execute()), which the event
 * loop runs in each connection's request order.
 */
#ifndef RESPD_COMMANDS_H
#define RESPD_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

#include "keyspace.h"
#include "resp.h"

struct command_ctx {
	struct keyspace *ks;
	long long max_bulk;   /* proto-max-bulk-len, for CONFIG GET */
	unsigned long long client_id;
};

/*
 * The time a worker must spend on the request before its ordered step, in
 * nanoseconds (DEBUG SLEEP), or 0: no work off the loop.
 */
unsigned long long command_work_ns(const struct arg *argv, size_t argc);

/* Apply the command and append its reply to @out.  Return: true to close (QUIT). */
bool command_execute(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
		     struct buf *out);

#endif /* RESPD_COMMANDS_H */
