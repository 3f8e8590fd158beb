/* SPDX-License-Identifier: MIT */
/*
 * Shared by the command files: commands.c (dispatch, connection commands),
 * keys.c (strings and keys), multi.c (transactions), clients.c (CLIENT and
 * the client registry), info.c (INFO).  Each file has its own table.
 */
#ifndef RESPD_CMD_H
#define RESPD_CMD_H

#include "commands.h"

#define ERR_INT "ERR value is not an integer or out of range"
#define ERR_SYNTAX "ERR syntax error"

/* One command's call. */
struct cmd_ctx {
	struct store *st;
	struct client *cl;
	struct buf *out;
	enum client_end end;
};

typedef void (*handler_fn)(struct cmd_ctx *x, const struct arg *argv, size_t argc);

enum {
	F_NOAUTH = 1,  /* allowed before AUTH */
	F_NOQUEUE = 2, /* runs at once in MULTI */
	F_EXEC = 4,    /* EXEC: a refused EXEC aborts the transaction */
};

struct command {
	const char *name; /* Redis's full name, lower case: "client|setname" */
	int arity;        /* Redis's: exact if positive, at least -arity if negative */
	handler_fn fn;
	unsigned int flags;
	const struct command *subs; /* a container's subcommands, up to a NULL name */
};

struct command_table {
	const struct command *v;
	size_t n;
};

extern const struct command_table keys_table, multi_table, clients_table, info_table;

bool argeq(const struct arg *a, const char *s);
/* Redis's string2ll: the whole argument, no spaces, no '+', no leading 0. */
bool arg_ll(const struct arg *a, long long *out);

/* An error as Redis's addReplyError(): @msg's own code after a '-', else ERR. */
void reply_err(struct buf *out, const char *msg);
/*
 * An error as Redis's addReplyErrorFormat(): line breaks at the ends of the
 * text are trimmed, those inside become spaces (client data may hold them).
 */
void reply_errf(struct buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* multi.c, for the dispatch and the client registry. */
void multi_queue(struct cmd_ctx *x, const struct command *cmd, const struct arg *argv,
		 size_t argc);
/* A refused EXEC: the transaction is discarded, @msg (reply_err's form) says why. */
void multi_abort(struct cmd_ctx *x, const char *msg);
/* Leave MULTI, free the queue, unwatch. */
void multi_discard(struct store *st, struct client *cl);

/* clients.c, for HELLO: Redis's clientSetNameOrReply(). Return: false if refused. */
bool client_set_name(struct client *cl, const struct arg *name, struct buf *out);

#endif /* RESPD_CMD_H */
