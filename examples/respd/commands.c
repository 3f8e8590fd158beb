// SPDX-License-Identifier: MIT
/*
 * The dispatch, as Redis's processCommand(): existence, arity and
 * authentication checks, queueing in MULTI; and the connection commands.
 * Error texts as Redis 7 prints them.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd.h"

bool argeq(const struct arg *a, const char *s)
{
	return a->len == strlen(s) && !strncasecmp(a->p, s, a->len);
}

bool arg_ll(const struct arg *a, long long *out)
{
	char tmp[32], *end;

	if (a->len == 0 || a->len >= sizeof(tmp))
		return false;
	memcpy(tmp, a->p, a->len);
	tmp[a->len] = '\0';
	if (!((tmp[0] >= '0' && tmp[0] <= '9') || tmp[0] == '-'))
		return false;
	if ((tmp[0] == '0' && a->len > 1) || (tmp[0] == '-' && (a->len == 1 || tmp[1] == '0')))
		return false;
	errno = 0;
	*out = strtoll(tmp, &end, 10);
	return !errno && *end == '\0';
}

void reply_err(struct buf *out, const char *msg)
{
	if (msg[0] == '-') {
		reply_error(out, msg + 1);
	} else {
		buf_add(out, "-ERR ", 5);
		buf_add(out, msg, strlen(msg));
		buf_add(out, "\r\n", 2);
	}
}

/* printf into a new string; @trim: drop line breaks at the ends; then the
 * others become spaces. */
static char *vformat(bool trim, const char *fmt, va_list ap)
{
	char *s, *p;
	int n = vasprintf(&s, fmt, ap);

	if (n < 0)
		abort();
	p = s;
	if (trim) {
		while (n && (s[n - 1] == '\r' || s[n - 1] == '\n'))
			s[--n] = '\0';
		while (*p == '\r' || *p == '\n')
			p++;
		memmove(s, p, strlen(p) + 1);
	}
	for (p = s; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	return s;
}

void reply_errf(struct buf *out, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = vformat(true, fmt, ap);
	va_end(ap);
	reply_err(out, s);
	free(s);
}

/*
 * Redis's rejectCommand(): the command is not run; in MULTI the
 * transaction will abort; a refused EXEC aborts it now.  Line breaks in
 * the text become spaces.
 */
static void reject(struct cmd_ctx *x, const struct command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reject(struct cmd_ctx *x, const struct command *cmd, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = vformat(false, fmt, ap);
	va_end(ap);
	if (x->cl->multi)
		x->cl->multi_error = true;
	if (cmd && (cmd->flags & F_EXEC))
		multi_abort(x, s);
	else
		reply_err(x->out, s);
	free(s);
}

/* ---- connection commands ------------------------------------------------------- */

static void cmd_ping(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	if (argc > 2)
		reply_error(x->out, "ERR wrong number of arguments for 'ping' command");
	else if (argc == 2)
		reply_bulk(x->out, argv[1].p, argv[1].len);
	else
		reply_simple(x->out, "PONG");
}

static void cmd_echo(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	(void)argc;
	reply_bulk(x->out, argv[1].p, argv[1].len);
}

/* Compare in a time that depends on the lengths only. */
static bool same_secret(const struct arg *a, const char *secret)
{
	size_t n = strlen(secret), i;
	unsigned char diff = a->len != n;

	for (i = 0; i < a->len; i++)
		diff |= (unsigned char)(a->p[i] ^ secret[n ? i % n : 0]);
	return !diff;
}

/* Redis's ACLAuthenticateUser() with the one user there is: "default". */
static bool authenticate(struct cmd_ctx *x, const struct arg *user, const struct arg *pass)
{
	if (user->len != 7 || memcmp(user->p, "default", 7))
		return false;
	if (x->st->requirepass && !same_secret(pass, x->st->requirepass))
		return false;
	x->cl->authed = true;
	return true;
}

#define ERR_WRONGPASS "WRONGPASS invalid username-password pair or user is disabled."

static void cmd_auth(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	static const struct arg deflt = { "default", 7 };

	if (argc > 3) {
		reply_error(x->out, ERR_SYNTAX);
		return;
	}
	if (argc == 2 && !x->st->requirepass) {
		reply_error(x->out, "ERR AUTH <password> called without any password configured "
				    "for the default user. Are you sure your configuration is "
				    "correct?");
		return;
	}
	if (authenticate(x, argc == 3 ? &argv[1] : &deflt, &argv[argc - 1]))
		reply_simple(x->out, "OK");
	else
		reply_error(x->out, ERR_WRONGPASS);
}

static void cmd_hello(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	const struct arg *user = NULL, *pass = NULL, *name = NULL;
	long long ver = 2;
	size_t j = 1;

	if (argc >= 2) {
		if (!arg_ll(&argv[1], &ver)) {
			reply_error(x->out, "ERR Protocol version is not an integer or out of range");
			return;
		}
		if (ver < 2 || ver > 3) {
			reply_error(x->out, "NOPROTO unsupported protocol version");
			return;
		}
		j = 2;
	}
	for (; j < argc; j++) {
		size_t more = argc - 1 - j;

		if (argeq(&argv[j], "AUTH") && more >= 2) {
			user = &argv[j + 1];
			pass = &argv[j + 2];
			j += 2;
		} else if (argeq(&argv[j], "SETNAME") && more >= 1) {
			name = &argv[++j];
		} else {
			reply_errf(x->out, "Syntax error in HELLO option '%.*s'", (int)argv[j].len,
				   argv[j].p);
			return;
		}
	}
	if (user && !authenticate(x, user, pass)) {
		reply_error(x->out, ERR_WRONGPASS);
		return;
	}
	if (client_needs_auth(x->st, x->cl)) {
		reply_error(x->out, "NOAUTH HELLO must be called with the client already "
				    "authenticated, otherwise the HELLO AUTH <user> <pass> option can "
				    "be used to authenticate the client and select the RESP protocol "
				    "version at the same time");
		return;
	}
	if (ver == 3) { /* respd speaks RESP2 only */
		reply_error(x->out, "NOPROTO unsupported protocol version");
		return;
	}
	if (name && !client_set_name(x->cl, name, x->out))
		return;
	reply_array(x->out, 14);
	reply_bulk(x->out, "server", 6);
	reply_bulk(x->out, "redis", 5);
	reply_bulk(x->out, "version", 7);
	reply_bulk(x->out, RESPD_REDIS_VERSION, strlen(RESPD_REDIS_VERSION));
	reply_bulk(x->out, "proto", 5);
	reply_int(x->out, 2);
	reply_bulk(x->out, "id", 2);
	reply_int(x->out, (long long)x->cl->id);
	reply_bulk(x->out, "mode", 4);
	reply_bulk(x->out, "standalone", 10);
	reply_bulk(x->out, "role", 4);
	reply_bulk(x->out, "master", 6);
	reply_bulk(x->out, "modules", 7);
	reply_array(x->out, 0);
}

static void cmd_select(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	long long db;

	(void)argc;
	if (!arg_ll(&argv[1], &db))
		reply_error(x->out, ERR_INT);
	else if (db != 0)
		reply_error(x->out, "ERR DB index is out of range");
	else
		reply_simple(x->out, "OK");
}

static void cmd_quit(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	(void)argv;
	(void)argc;
	reply_simple(x->out, "OK");
	x->end = CLIENT_CLOSE;
}

static void cmd_debug(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	/* The sleep itself happened on a worker (command_work_ns()). */
	if (argeq(&argv[1], "SLEEP") && argc == 3)
		reply_simple(x->out, "OK");
	else
		reply_errf(x->out, "unknown subcommand or wrong number of arguments for '%.*s'. "
				   "Try DEBUG HELP.", (int)(argv[1].len < 128 ? argv[1].len : 128),
			   argv[1].p);
}

static void cmd_command(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	(void)argv;
	(void)argc;
	/* redis-cli asks for COMMAND DOCS on start: no docs, it falls back. */
	reply_array(x->out, 0);
}

static void cmd_command_count(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	(void)argv;
	(void)argc;
	reply_int(x->out, 0);
}

static void cmd_config_get(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	char tmp[32];
	size_t i, n = 0;
	struct buf pairs = { 0 };

	/* What redis-benchmark asks for on start, and the limit respd enforces. */
	for (i = 2; i < argc; i++) {
		if (argeq(&argv[i], "save")) {
			reply_bulk(&pairs, "save", 4);
			reply_bulk(&pairs, "", 0);
		} else if (argeq(&argv[i], "appendonly")) {
			reply_bulk(&pairs, "appendonly", 10);
			reply_bulk(&pairs, "no", 2);
		} else if (argeq(&argv[i], "proto-max-bulk-len")) {
			int k = snprintf(tmp, sizeof(tmp), "%lld", x->st->max_bulk);

			reply_bulk(&pairs, "proto-max-bulk-len", 18);
			reply_bulk(&pairs, tmp, (size_t)k);
		} else {
			continue;
		}
		n += 2;
	}
	reply_array(x->out, (long long)n);
	buf_add(x->out, pairs.p, pairs.len);
	buf_free(&pairs);
}

static const struct command command_subs[] = {
	{ "command|count", 2, cmd_command_count, 0, NULL },
	{ "command|docs", -2, cmd_command, 0, NULL },
	{ "command|info", -2, cmd_command, 0, NULL },
	{ "command|list", -2, cmd_command, 0, NULL },
	{ NULL, 0, NULL, 0, NULL },
};

static const struct command config_subs[] = {
	{ "config|get", -3, cmd_config_get, 0, NULL },
	{ NULL, 0, NULL, 0, NULL },
};

static const struct command connection_commands[] = {
	{ "ping", -1, cmd_ping, 0, NULL },
	{ "echo", 2, cmd_echo, 0, NULL },
	{ "auth", -2, cmd_auth, F_NOAUTH, NULL },
	{ "hello", -1, cmd_hello, F_NOAUTH, NULL },
	{ "select", 2, cmd_select, 0, NULL },
	{ "quit", -1, cmd_quit, F_NOAUTH | F_NOQUEUE, NULL },
	{ "debug", -2, cmd_debug, 0, NULL },
	{ "command", -1, cmd_command, 0, command_subs },
	{ "config", -2, NULL, 0, config_subs },
};

static const struct command_table connection_table = {
	connection_commands, sizeof(connection_commands) / sizeof(connection_commands[0])
};

/* The tables in lookup order: the busiest commands first. */
static const struct command_table *const tables[] = {
	&keys_table, &connection_table, &multi_table, &clients_table, &info_table,
};

/* The container's name part of "client|setname". */
static bool name_is(const struct arg *a, const char *name)
{
	const char *bar = strchr(name, '|');
	size_t n = bar ? (size_t)(bar - name) : strlen(name);

	return a->len == n && !strncasecmp(a->p, name, n);
}

static const struct command *lookup(const struct arg *argv, size_t argc,
				    const struct command **container)
{
	const struct command *c, *s;
	size_t t, i;

	*container = NULL;
	for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (i = 0; i < tables[t]->n; i++) {
			c = &tables[t]->v[i];
			if (!name_is(&argv[0], c->name))
				continue;
			if (!c->subs || argc == 1)
				return c;
			*container = c;
			for (s = c->subs; s->name; s++)
				if (argeq(&argv[1], strchr(s->name, '|') + 1))
					return s;
			return NULL;
		}
	}
	return NULL;
}

unsigned long long command_work_ns(const struct arg *argv, size_t argc)
{
	char tmp[64];
	double s;

	if (argc != 3 || !argeq(&argv[0], "DEBUG") || !argeq(&argv[1], "SLEEP") ||
	    argv[2].len >= sizeof(tmp))
		return 0;
	memcpy(tmp, argv[2].p, argv[2].len);
	tmp[argv[2].len] = '\0';
	s = strtod(tmp, NULL); /* as Redis: not a number sleeps 0 s */
	if (!(s > 0) || s > 3600)
		return 0;
	return (unsigned long long)(s * 1e9);
}

/* In error texts an argument that holds a NUL byte ends there, as Redis's "%s". */
enum client_end command_execute(struct store *st, struct client *cl, const struct arg *argv,
				size_t argc, struct buf *out)
{
	struct cmd_ctx x = { st, cl, out, CLIENT_GO_ON };
	const struct command *cmd, *container;

	cl->last_ms = keyspace_now_ms();
	/* An HTTP request (a cross-protocol attack): close, as Redis. */
	if (argeq(&argv[0], "host:") || argeq(&argv[0], "post"))
		return CLIENT_DROP;
	cmd = lookup(argv, argc, &container);
	if (!cmd && container) {
		char upper[16];
		size_t i;

		for (i = 0; container->name[i] && i < sizeof(upper) - 1; i++)
			upper[i] = (char)toupper((unsigned char)container->name[i]);
		upper[i] = '\0';
		reject(&x, NULL, "unknown subcommand '%.*s'. Try %s HELP.",
		       (int)(argv[1].len < 128 ? argv[1].len : 128), argv[1].p, upper);
		return x.end;
	}
	if (!cmd) {
		char args[160] = "";
		size_t i, n = 0;

		for (i = 1; i < argc && n < 128; i++) {
			int k = snprintf(args + n, sizeof(args) - n, "'%.*s' ",
					 (int)(argv[i].len < 128 - n ? argv[i].len : 128 - n),
					 argv[i].p);

			n += k > 0 ? (size_t)k : 0;
			if (n >= sizeof(args))
				n = sizeof(args) - 1;
		}
		reject(&x, NULL, "unknown command '%.*s', with args beginning with: %s",
		       (int)(argv[0].len < 128 ? argv[0].len : 128), argv[0].p, args);
		return x.end;
	}
	cl->lastcmd = cmd->name;
	if ((cmd->arity > 0 && argc != (size_t)cmd->arity) ||
	    (cmd->arity < 0 && argc < (size_t)-cmd->arity)) {
		reject(&x, cmd, "wrong number of arguments for '%s' command", cmd->name);
		return x.end;
	}
	if (client_needs_auth(st, cl) && !(cmd->flags & F_NOAUTH)) {
		reject(&x, cmd, "-NOAUTH Authentication required.");
		return x.end;
	}
	if (cl->multi && !(cmd->flags & F_NOQUEUE)) {
		multi_queue(&x, cmd, argv, argc);
		return x.end;
	}
	st->stats.commands++;
	cmd->fn(&x, argv, argc);
	return x.end;
}

void store_init(struct store *st, const char *requirepass, long long max_bulk,
		unsigned int port)
{
	memset(st, 0, sizeof(*st));
	keyspace_init(&st->ks);
	st->requirepass = requirepass && *requirepass ? requirepass : NULL;
	st->max_bulk = max_bulk;
	st->port = port;
	st->start_ms = keyspace_now_ms();
}

void store_free(struct store *st)
{
	keyspace_free(&st->ks);
}
