// SPDX-License-Identifier: MIT
/*
 * Transactions: MULTI EXEC DISCARD WATCH UNWATCH, with Redis 7's replies.
 * In MULTI the dispatch queues each command (+QUEUED); EXEC runs them all
 * within its own ordered step on the event loop, so no other command of any
 * connection runs between them.  WATCH marks the client dirty when a
 * watched key is written, deleted or expires (keyspace.c touches it), and
 * EXEC then replies a null array.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

struct queued {
	const struct command *cmd;
	size_t argc;
	struct arg *argv;
};

void multi_queue(struct cmd_ctx *x, const struct command *cmd, const struct arg *argv,
		 size_t argc)
{
	struct client *cl = x->cl;
	struct queued *q;
	struct arg *copy;

	if (cl->nqueued == cl->qcap) {
		cl->qcap = cl->qcap ? cl->qcap * 2 : 8;
		cl->queue = realloc(cl->queue, cl->qcap * sizeof(*cl->queue));
		if (!cl->queue)
			abort();
	}
	q = args_dup(sizeof(*q), argv, argc, &copy);
	q->argv = copy;
	q->cmd = cmd;
	q->argc = argc;
	cl->queue[cl->nqueued++] = q;
	reply_simple(x->out, "QUEUED");
}

void multi_discard(struct store *st, struct client *cl)
{
	size_t i;

	for (i = 0; i < cl->nqueued; i++)
		free(cl->queue[i]);
	free(cl->queue);
	cl->queue = NULL;
	cl->nqueued = cl->qcap = 0;
	cl->multi = cl->multi_error = false;
	watch_clear(&st->ks.watched, &cl->watch);
}

void multi_abort(struct cmd_ctx *x, const char *msg)
{
	multi_discard(x->st, x->cl);
	reply_errf(x->out, "-EXECABORT Transaction discarded because of: %s",
		   msg[0] == '-' ? msg + 1 : msg);
}

static void cmd_multi(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	(void)argv;
	(void)argc;
	if (x->cl->multi) {
		reply_error(x->out, "ERR MULTI calls can not be nested");
		return;
	}
	x->cl->multi = true;
	reply_simple(x->out, "OK");
}

static void cmd_discard(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	(void)argv;
	(void)argc;
	if (!x->cl->multi) {
		reply_error(x->out, "ERR DISCARD without MULTI");
		return;
	}
	multi_discard(x->st, x->cl);
	reply_simple(x->out, "OK");
}

/* A watched key that expired since WATCH counts as written (Redis 7). */
static void expire_watched(void *arg, const char *key, size_t klen)
{
	keyspace_get(arg, key, klen);
}

static void cmd_exec(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	struct client *cl = x->cl;
	struct queued **queue;
	size_t i, n;

	(void)argv;
	(void)argc;
	if (!cl->multi) {
		reply_error(x->out, "ERR EXEC without MULTI");
		return;
	}
	watch_each(&cl->watch, expire_watched, &x->st->ks);
	if (cl->multi_error || cl->watch.dirty) {
		if (cl->multi_error)
			reply_error(x->out, "EXECABORT Transaction discarded because of previous "
					    "errors.");
		else
			reply_nil_array(x->out);
		multi_discard(x->st, cl);
		return;
	}
	watch_clear(&x->st->ks.watched, &cl->watch);
	/* The queue is the client's until the end: a queued command sees the
	 * client out of MULTI, as in Redis. */
	queue = cl->queue;
	n = cl->nqueued;
	cl->queue = NULL;
	cl->nqueued = cl->qcap = 0;
	cl->multi = false;
	reply_array(x->out, (long long)n);
	for (i = 0; i < n; i++) {
		x->st->stats.commands++;
		queue[i]->cmd->fn(x, queue[i]->argv, queue[i]->argc);
		free(queue[i]);
	}
	free(queue);
}

static void cmd_watch(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	size_t i;

	if (x->cl->multi) {
		reply_error(x->out, "ERR WATCH inside MULTI is not allowed");
		return;
	}
	for (i = 1; i < argc; i++) {
		/* An expired key goes first: its deletion is no change to us. */
		keyspace_get(&x->st->ks, argv[i].p, argv[i].len);
		watch_add(&x->st->ks.watched, &x->cl->watch, argv[i].p, argv[i].len);
	}
	reply_simple(x->out, "OK");
}

static void cmd_unwatch(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	(void)argv;
	(void)argc;
	watch_clear(&x->st->ks.watched, &x->cl->watch);
	reply_simple(x->out, "OK");
}

static const struct command multi_commands[] = {
	{ "multi", 1, cmd_multi, F_NOQUEUE, NULL },
	{ "exec", 1, cmd_exec, F_NOQUEUE | F_EXEC, NULL },
	{ "discard", 1, cmd_discard, F_NOQUEUE, NULL },
	{ "watch", -2, cmd_watch, F_NOQUEUE, NULL },
	{ "unwatch", 1, cmd_unwatch, 0, NULL },
};

const struct command_table multi_table = {
	multi_commands, sizeof(multi_commands) / sizeof(multi_commands[0])
};
