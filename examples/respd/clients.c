// SPDX-License-Identifier: MIT
/* The client registry and CLIENT: ID GETNAME SETNAME LIST INFO SETINFO. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

void client_attach(struct store *st, struct client *cl, unsigned long long id, int fd,
		   const char *addr, const char *laddr)
{
	memset(cl, 0, sizeof(*cl));
	cl->id = id;
	cl->fd = fd;
	snprintf(cl->addr, sizeof(cl->addr), "%s", addr);
	snprintf(cl->laddr, sizeof(cl->laddr), "%s", laddr);
	cl->ctime_ms = cl->last_ms = keyspace_now_ms();
	cl->authed = !st->requirepass;
	cl->next = st->clients;
	if (cl->next)
		cl->next->prev = cl;
	st->clients = cl;
	st->nclients++;
	st->stats.connections++;
}

void client_detach(struct store *st, struct client *cl)
{
	multi_discard(st, cl);
	free(cl->name);
	cl->name = NULL;
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		st->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	st->nclients--;
}

bool client_needs_auth(const struct store *st, const struct client *cl)
{
	return st->requirepass && !cl->authed;
}

bool client_set_name(struct client *cl, const struct arg *name, struct buf *out)
{
	size_t i;

	/* Printable, no spaces: CLIENT LIST splits on spaces. */
	for (i = 0; i < name->len; i++) {
		if (name->p[i] < '!' || name->p[i] > '~') {
			reply_error(out, "ERR Client names cannot contain spaces, newlines or special "
					 "characters.");
			return false;
		}
	}
	free(cl->name);
	cl->name = name->len ? strndup(name->p, name->len) : NULL;
	if (name->len && !cl->name)
		abort();
	return true;
}

/* One line of CLIENT LIST: Redis's fields that mean something here, in its order. */
static void info_line(struct buf *b, const struct client *cl, int64_t now)
{
	char head[256], tail[256], flags[4], *f = flags;
	int n;

	if (cl->multi)
		*f++ = 'x';
	if (cl->watch.dirty)
		*f++ = 'd';
	if (f == flags)
		*f++ = 'N';
	*f = '\0';
	n = snprintf(head, sizeof(head), "id=%llu addr=%s laddr=%s fd=%d name=", cl->id,
		     cl->addr, cl->laddr, cl->fd);
	buf_add(b, head, (size_t)n);
	if (cl->name)
		buf_add(b, cl->name, strlen(cl->name));
	n = snprintf(tail, sizeof(tail),
		     " age=%lld idle=%lld flags=%s db=0 sub=0 psub=0 ssub=0 multi=%lld cmd=%s "
		     "user=default redir=-1 resp=2\n",
		     (long long)(now - cl->ctime_ms) / 1000, (long long)(now - cl->last_ms) / 1000,
		     flags, cl->multi ? (long long)cl->nqueued : -1LL,
		     cl->lastcmd ? cl->lastcmd : "NULL");
	buf_add(b, tail, (size_t)n);
}

static void cmd_client_id(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	(void)argv;
	(void)argc;
	reply_int(x->out, (long long)x->cl->id);
}

static void cmd_client_getname(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	(void)argv;
	(void)argc;
	if (x->cl->name)
		reply_bulk(x->out, x->cl->name, strlen(x->cl->name));
	else
		reply_nil(x->out);
}

static void cmd_client_setname(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	(void)argc;
	if (client_set_name(x->cl, &argv[2], x->out))
		reply_simple(x->out, "OK");
}

static void cmd_client_list(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	int64_t now = keyspace_now_ms();
	struct buf b = { 0 };
	const struct client *cl;
	size_t i;

	if (argc == 4 && argeq(&argv[2], "TYPE")) {
		static const char *const types[] = { "normal", "master", "replica", "slave",
						     "pubsub" };

		for (i = 0; i < 5 && !argeq(&argv[3], types[i]); i++)
			;
		if (i == 5) {
			reply_errf(x->out, "Unknown client type '%.*s'", (int)argv[3].len,
				   argv[3].p);
			return;
		}
		for (cl = x->st->clients; i == 0 && cl; cl = cl->next)
			info_line(&b, cl, now);
	} else if (argc > 3 && argeq(&argv[2], "ID")) {
		for (i = 3; i < argc; i++) {
			long long id;

			if (!arg_ll(&argv[i], &id)) {
				reply_error(x->out, "ERR Invalid client ID");
				buf_free(&b);
				return;
			}
			for (cl = x->st->clients; cl; cl = cl->next)
				if (cl->id == (unsigned long long)id)
					info_line(&b, cl, now);
		}
	} else if (argc != 2) {
		reply_error(x->out, ERR_SYNTAX);
		return;
	} else {
		/* Oldest first, as Redis. */
		for (cl = x->st->clients; cl && cl->next; cl = cl->next)
			;
		for (; cl; cl = cl->prev)
			info_line(&b, cl, now);
	}
	reply_bulk(x->out, b.p ? b.p : "", b.len);
	buf_free(&b);
}

static void cmd_client_info(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	struct buf b = { 0 };

	(void)argv;
	(void)argc;
	info_line(&b, x->cl, keyspace_now_ms());
	reply_bulk(x->out, b.p, b.len);
	buf_free(&b);
}

static void cmd_client_setinfo(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	(void)argv;
	(void)argc;
	/* Newer clients send their library's name and version: taken, not kept. */
	reply_simple(x->out, "OK");
}

static const struct command client_subs[] = {
	{ "client|id", 2, cmd_client_id, 0, NULL },
	{ "client|getname", 2, cmd_client_getname, 0, NULL },
	{ "client|setname", 3, cmd_client_setname, 0, NULL },
	{ "client|list", -2, cmd_client_list, 0, NULL },
	{ "client|info", 2, cmd_client_info, 0, NULL },
	{ "client|setinfo", 4, cmd_client_setinfo, 0, NULL },
	{ NULL, 0, NULL, 0, NULL },
};

static const struct command clients_commands[] = {
	{ "client", -2, NULL, 0, client_subs },
};

const struct command_table clients_table = {
	clients_commands, sizeof(clients_commands) / sizeof(clients_commands[0])
};
