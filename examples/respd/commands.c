// SPDX-License-Identifier: MIT
/* Command table and implementations; error texts as Redis 7 prints them. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands.h"

#define ERR_INT "ERR value is not an integer or out of range"
#define ERR_SYNTAX "ERR syntax error"

static bool argeq(const struct arg *a, const char *s)
{
	return a->len == strlen(s) && !strncasecmp(a->p, s, a->len);
}

/* Redis's string2ll: the whole argument, no spaces, no '+', no leading 0. */
static bool arg_ll(const struct arg *a, long long *out)
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

/* An error whose text includes client data: no newlines, as Redis. */
static void reply_error_fmt(struct buf *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void reply_error_fmt(struct buf *out, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (i = 0; msg[i]; i++)
		if (msg[i] == '\r' || msg[i] == '\n')
			msg[i] = ' ';
	reply_error(out, msg);
}

typedef bool (*handler_fn)(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
			   struct buf *out);

struct command {
	const char *name;
	int arity; /* Redis's: exact if positive, at least -arity if negative */
	handler_fn fn;
};

static bool cmd_ping(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
		     struct buf *out)
{
	(void)ctx;
	if (argc > 2)
		reply_error(out, "ERR wrong number of arguments for 'ping' command");
	else if (argc == 2)
		reply_bulk(out, argv[1].p, argv[1].len);
	else
		reply_simple(out, "PONG");
	return false;
}

static bool cmd_echo(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
		     struct buf *out)
{
	(void)ctx;
	(void)argc;
	reply_bulk(out, argv[1].p, argv[1].len);
	return false;
}

static bool cmd_get(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
		    struct buf *out)
{
	struct kv *e = keyspace_get(ctx->ks, argv[1].p, argv[1].len);

	(void)argc;
	if (e)
		reply_bulk(out, e->val, e->vlen);
	else
		reply_nil(out);
	return false;
}

static bool cmd_set(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
		    struct buf *out)
{
	bool nx = false, xx = false, get = false, keepttl = false;
	int unit = 0; /* 1000: EX, 1: PX */
	long long ttl = 0;
	int64_t expire = 0;
	struct kv *e;
	size_t i;

	for (i = 3; i < argc; i++) {
		const struct arg *a = &argv[i];
		bool has_next = i + 1 < argc;

		if (argeq(a, "NX") && !xx) {
			nx = true;
		} else if (argeq(a, "XX") && !nx) {
			xx = true;
		} else if (argeq(a, "GET")) {
			get = true;
		} else if (argeq(a, "KEEPTTL") && !unit) {
			keepttl = true;
		} else if ((argeq(a, "EX") || argeq(a, "PX")) && !unit && !keepttl && has_next) {
			unit = argeq(a, "EX") ? 1000 : 1;
			i++;
			if (!arg_ll(&argv[i], &ttl)) {
				reply_error(out, ERR_INT);
				return false;
			}
		} else {
			reply_error(out, ERR_SYNTAX);
			return false;
		}
	}
	if (unit) {
		if (ttl <= 0 || (unit == 1000 && ttl > LLONG_MAX / 1000) ||
		    ttl * unit > LLONG_MAX - keyspace_now_ms()) {
			reply_error(out, "ERR invalid expire time in 'set' command");
			return false;
		}
		expire = keyspace_now_ms() + ttl * unit;
	}
	e = keyspace_get(ctx->ks, argv[1].p, argv[1].len);
	if (get) {
		if (e)
			reply_bulk(out, e->val, e->vlen);
		else
			reply_nil(out);
	}
	if ((nx && e) || (xx && !e)) {
		if (!get)
			reply_nil(out);
		return false;
	}
	if (keepttl && e)
		expire = e->expire_ms;
	keyspace_set(ctx->ks, argv[1].p, argv[1].len, argv[2].p, argv[2].len, expire);
	if (!get)
		reply_simple(out, "OK");
	return false;
}

static bool cmd_del(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
		    struct buf *out)
{
	long long n = 0;
	size_t i;

	for (i = 1; i < argc; i++)
		n += keyspace_del(ctx->ks, argv[i].p, argv[i].len);
	reply_int(out, n);
	return false;
}

static bool cmd_exists(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
		       struct buf *out)
{
	long long n = 0;
	size_t i;

	for (i = 1; i < argc; i++)
		n += keyspace_get(ctx->ks, argv[i].p, argv[i].len) != NULL;
	reply_int(out, n);
	return false;
}

static void incr_by(const struct command_ctx *ctx, const struct arg *key, long long by,
		    struct buf *out)
{
	struct kv *e = keyspace_get(ctx->ks, key->p, key->len);
	long long v = 0;
	char tmp[32];
	int n;

	if (e) {
		struct arg val = { e->val, e->vlen };

		if (!arg_ll(&val, &v)) {
			reply_error(out, ERR_INT);
			return;
		}
	}
	if ((by < 0 && v < 0 && by < LLONG_MIN - v) || (by > 0 && v > 0 && by > LLONG_MAX - v)) {
		reply_error(out, "ERR increment or decrement would overflow");
		return;
	}
	v += by;
	n = snprintf(tmp, sizeof(tmp), "%lld", v);
	keyspace_set(ctx->ks, key->p, key->len, tmp, (size_t)n, e ? e->expire_ms : 0);
	reply_int(out, v);
}

static bool cmd_incr(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
		     struct buf *out)
{
	(void)argc;
	incr_by(ctx, &argv[1], 1, out);
	return false;
}

static bool cmd_incrby(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
		       struct buf *out)
{
	long long by;

	(void)argc;
	if (!arg_ll(&argv[2], &by))
		reply_error(out, ERR_INT);
	else
		incr_by(ctx, &argv[1], by, out);
	return false;
}

static bool cmd_mget(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
		     struct buf *out)
{
	size_t i;

	reply_array(out, (long long)argc - 1);
	for (i = 1; i < argc; i++)
		cmd_get(ctx, &argv[i - 1], 2, out);
	return false;
}

static bool cmd_mset(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
		     struct buf *out)
{
	size_t i;

	if (argc % 2 == 0) {
		reply_error(out, "ERR wrong number of arguments for 'mset' command");
		return false;
	}
	for (i = 1; i < argc; i += 2)
		keyspace_set(ctx->ks, argv[i].p, argv[i].len, argv[i + 1].p, argv[i + 1].len, 0);
	reply_simple(out, "OK");
	return false;
}

static bool cmd_dbsize(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
		       struct buf *out)
{
	(void)argv;
	(void)argc;
	reply_int(out, (long long)keyspace_size(ctx->ks));
	return false;
}

static bool cmd_flushall(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
			 struct buf *out)
{
	if (argc > 2 || (argc == 2 && !argeq(&argv[1], "ASYNC") && !argeq(&argv[1], "SYNC"))) {
		reply_error(out, ERR_SYNTAX);
		return false;
	}
	keyspace_flush(ctx->ks);
	reply_simple(out, "OK");
	return false;
}

static bool cmd_debug(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
		      struct buf *out)
{
	(void)ctx;
	/* The sleep itself happened on a worker (command_work_ns()). */
	if (argeq(&argv[1], "SLEEP") && argc == 3)
		reply_simple(out, "OK");
	else
		reply_error_fmt(out, "ERR unknown subcommand '%.*s'. Try DEBUG HELP.",
				(int)(argv[1].len < 128 ? argv[1].len : 128), argv[1].p);
	return false;
}

static bool cmd_command(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
			struct buf *out)
{
	(void)ctx;
	/* redis-cli asks for COMMAND DOCS on start: no docs, it falls back. */
	if (argc >= 2 && argeq(&argv[1], "COUNT"))
		reply_int(out, 0);
	else
		reply_array(out, 0);
	return false;
}

static bool cmd_config(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
		       struct buf *out)
{
	char tmp[32];
	size_t i, n = 0;
	struct buf pairs = { 0 };

	if (!argeq(&argv[1], "GET") || argc < 3) {
		reply_error_fmt(out, "ERR unknown subcommand or wrong number of arguments for "
				     "'%.*s'. Try CONFIG HELP.", (int)argv[1].len, argv[1].p);
		return false;
	}
	/* What redis-benchmark asks for on start, and the limit respd enforces. */
	for (i = 2; i < argc; i++) {
		if (argeq(&argv[i], "save")) {
			reply_bulk(&pairs, "save", 4);
			reply_bulk(&pairs, "", 0);
		} else if (argeq(&argv[i], "appendonly")) {
			reply_bulk(&pairs, "appendonly", 10);
			reply_bulk(&pairs, "no", 2);
		} else if (argeq(&argv[i], "proto-max-bulk-len")) {
			int k = snprintf(tmp, sizeof(tmp), "%lld", ctx->max_bulk);

			reply_bulk(&pairs, "proto-max-bulk-len", 18);
			reply_bulk(&pairs, tmp, (size_t)k);
		} else {
			continue;
		}
		n += 2;
	}
	reply_array(out, (long long)n);
	buf_add(out, pairs.p, pairs.len);
	buf_free(&pairs);
	return false;
}

static bool cmd_client(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
		       struct buf *out)
{
	if (argeq(&argv[1], "SETINFO") && argc == 4)
		reply_simple(out, "OK");
	else if (argeq(&argv[1], "SETNAME") && argc == 3)
		reply_simple(out, "OK");
	else if (argeq(&argv[1], "GETNAME") && argc == 2)
		reply_nil(out);
	else if (argeq(&argv[1], "ID") && argc == 2)
		reply_int(out, (long long)ctx->client_id);
	else
		reply_error_fmt(out, "ERR unknown subcommand '%.*s'. Try CLIENT HELP.",
				(int)argv[1].len, argv[1].p);
	return false;
}

static bool cmd_hello(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
		      struct buf *out)
{
	long long ver = 2;

	if (argc >= 2 && !arg_ll(&argv[1], &ver)) {
		reply_error(out, "ERR Protocol version is not an integer or out of range");
		return false;
	}
	if (ver != 2) {
		reply_error(out, "NOPROTO unsupported protocol version");
		return false;
	}
	reply_array(out, 14);
	reply_bulk(out, "server", 6);
	reply_bulk(out, "redis", 5);
	reply_bulk(out, "version", 7);
	reply_bulk(out, "7.0.0", 5);
	reply_bulk(out, "proto", 5);
	reply_int(out, 2);
	reply_bulk(out, "id", 2);
	reply_int(out, (long long)ctx->client_id);
	reply_bulk(out, "mode", 4);
	reply_bulk(out, "standalone", 10);
	reply_bulk(out, "role", 4);
	reply_bulk(out, "master", 6);
	reply_bulk(out, "modules", 7);
	reply_array(out, 0);
	return false;
}

static bool cmd_select(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
		       struct buf *out)
{
	long long db;

	(void)ctx;
	(void)argc;
	if (!arg_ll(&argv[1], &db))
		reply_error(out, ERR_INT);
	else if (db != 0)
		reply_error(out, "ERR DB index is out of range");
	else
		reply_simple(out, "OK");
	return false;
}

static bool cmd_quit(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
		     struct buf *out)
{
	(void)ctx;
	(void)argv;
	(void)argc;
	reply_simple(out, "OK");
	return true;
}

static const struct command commands[] = {
	{ "ping", -1, cmd_ping },	{ "echo", 2, cmd_echo },
	{ "get", 2, cmd_get },		{ "set", -3, cmd_set },
	{ "del", -2, cmd_del },		{ "exists", -2, cmd_exists },
	{ "incr", 2, cmd_incr },	{ "incrby", 3, cmd_incrby },
	{ "mget", -2, cmd_mget },	{ "mset", -3, cmd_mset },
	{ "dbsize", 1, cmd_dbsize },	{ "flushall", -1, cmd_flushall },
	{ "debug", -2, cmd_debug },	{ "command", -1, cmd_command },
	{ "config", -2, cmd_config },	{ "client", -2, cmd_client },
	{ "hello", -1, cmd_hello },	{ "select", 2, cmd_select },
	{ "quit", -1, cmd_quit },
};

static const struct command *lookup(const struct arg *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (argeq(name, commands[i].name))
			return &commands[i];
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

bool command_execute(const struct command_ctx *ctx, const struct arg *argv, size_t argc,
		     struct buf *out)
{
	const struct command *cmd = lookup(&argv[0]);

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
		reply_error_fmt(out, "ERR unknown command '%.*s', with args beginning with: %s",
				(int)(argv[0].len < 128 ? argv[0].len : 128), argv[0].p, args);
		return false;
	}
	if ((cmd->arity > 0 && argc != (size_t)cmd->arity) ||
	    (cmd->arity < 0 && argc < (size_t)-cmd->arity)) {
		reply_error_fmt(out, "ERR wrong number of arguments for '%s' command", cmd->name);
		return false;
	}
	return cmd->fn(ctx, argv, argc, out);
}
