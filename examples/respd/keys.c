// SPDX-License-Identifier: MIT
/*
 * String and key commands: GET SET APPEND STRLEN INCR(BY) DECR(BY) MGET
 * MSET DEL EXISTS TYPE, the TTL commands, KEYS SCAN DBSIZE FLUSHALL.
 * Reply formats and error texts as Redis 7's; patterns are matched with
 * fnmatch(3).
 */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

static void cmd_get(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	struct kv *e = keyspace_read(&x->st->ks, argv[1].p, argv[1].len);

	(void)argc;
	if (e)
		reply_bulk(x->out, e->val, e->vlen);
	else
		reply_nil(x->out);
}

/* Redis's SET options (parseExtendedStringArgumentsOrReply()). */
enum {
	SET_NX = 1, SET_XX = 2, SET_GET = 4, SET_KEEPTTL = 8,
	SET_EX = 16, SET_PX = 32, SET_EXAT = 64, SET_PXAT = 128,
};

static void cmd_set(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	const unsigned int ttl_opts = SET_KEEPTTL | SET_EX | SET_PX | SET_EXAT | SET_PXAT;
	static const struct { const char *name; unsigned int flag; } units[] = {
		{ "EX", SET_EX }, { "PX", SET_PX }, { "EXAT", SET_EXAT }, { "PXAT", SET_PXAT },
	};
	struct keyspace *ks = &x->st->ks;
	const struct arg *when = NULL;
	unsigned int flags = 0;
	int64_t expire = 0;
	struct kv *e;
	size_t i, u;

	for (i = 3; i < argc; i++) {
		const struct arg *a = &argv[i];
		bool next = i + 1 < argc;

		if (argeq(a, "NX") && !(flags & SET_XX)) {
			flags |= SET_NX;
			continue;
		}
		if (argeq(a, "XX") && !(flags & SET_NX)) {
			flags |= SET_XX;
			continue;
		}
		if (argeq(a, "GET")) {
			flags |= SET_GET;
			continue;
		}
		if (argeq(a, "KEEPTTL") && !(flags & ttl_opts & ~SET_KEEPTTL)) {
			flags |= SET_KEEPTTL;
			continue;
		}
		/* A unit may come again (the last wins), not after another one. */
		for (u = 0; u < 4; u++)
			if (argeq(a, units[u].name) && next &&
			    !(flags & ttl_opts & ~units[u].flag))
				break;
		if (u == 4) {
			reply_error(x->out, ERR_SYNTAX);
			return;
		}
		flags |= units[u].flag;
		when = &argv[++i];
	}
	if (when) {
		long long ms;
		int64_t now = keyspace_now_ms();

		if (!arg_ll(when, &ms)) {
			reply_error(x->out, ERR_INT);
			return;
		}
		if (ms <= 0 || ((flags & (SET_EX | SET_EXAT)) && ms > LLONG_MAX / 1000)) {
			reply_error(x->out, "ERR invalid expire time in 'set' command");
			return;
		}
		if (flags & (SET_EX | SET_EXAT))
			ms *= 1000;
		if (flags & (SET_EX | SET_PX)) {
			if (ms > LLONG_MAX - now) {
				reply_error(x->out, "ERR invalid expire time in 'set' command");
				return;
			}
			ms += now;
		}
		expire = ms;
	}
	if (flags & SET_GET) {
		e = keyspace_read(ks, argv[1].p, argv[1].len);
		if (e)
			reply_bulk(x->out, e->val, e->vlen);
		else
			reply_nil(x->out);
	}
	e = keyspace_get(ks, argv[1].p, argv[1].len);
	if (((flags & SET_NX) && e) || ((flags & SET_XX) && !e)) {
		if (!(flags & SET_GET))
			reply_nil(x->out);
		return;
	}
	if ((flags & SET_KEEPTTL) && e)
		expire = e->expire_ms;
	keyspace_set(ks, argv[1].p, argv[1].len, argv[2].p, argv[2].len, expire);
	if (!(flags & SET_GET))
		reply_simple(x->out, "OK");
}

static void cmd_append(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	struct keyspace *ks = &x->st->ks;
	struct kv *e = keyspace_get(ks, argv[1].p, argv[1].len);

	(void)argc;
	if (!e) {
		keyspace_set(ks, argv[1].p, argv[1].len, argv[2].p, argv[2].len, 0);
		reply_int(x->out, (long long)argv[2].len);
		return;
	}
	if ((long long)(e->vlen + argv[2].len) > x->st->max_bulk) {
		reply_error(x->out, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
		return;
	}
	keyspace_append(ks, e, argv[2].p, argv[2].len);
	reply_int(x->out, (long long)e->vlen);
}

static void cmd_strlen(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	struct kv *e = keyspace_read(&x->st->ks, argv[1].p, argv[1].len);

	(void)argc;
	reply_int(x->out, e ? (long long)e->vlen : 0);
}

static void incr_by(struct cmd_ctx *x, const struct arg *key, long long by)
{
	struct kv *e = keyspace_get(&x->st->ks, key->p, key->len);
	long long v = 0;
	char tmp[32];
	int n;

	if (e) {
		struct arg val = { e->val, e->vlen };

		if (!arg_ll(&val, &v)) {
			reply_error(x->out, ERR_INT);
			return;
		}
	}
	if ((by < 0 && v < 0 && by < LLONG_MIN - v) || (by > 0 && v > 0 && by > LLONG_MAX - v)) {
		reply_error(x->out, "ERR increment or decrement would overflow");
		return;
	}
	v += by;
	n = snprintf(tmp, sizeof(tmp), "%lld", v);
	keyspace_set(&x->st->ks, key->p, key->len, tmp, (size_t)n, e ? e->expire_ms : 0);
	reply_int(x->out, v);
}

static void cmd_incr(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	(void)argc;
	incr_by(x, &argv[1], 1);
}

static void cmd_decr(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	(void)argc;
	incr_by(x, &argv[1], -1);
}

static void cmd_incrby(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	long long by;

	(void)argc;
	if (!arg_ll(&argv[2], &by))
		reply_error(x->out, ERR_INT);
	else
		incr_by(x, &argv[1], by);
}

static void cmd_decrby(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	long long by;

	(void)argc;
	if (!arg_ll(&argv[2], &by))
		reply_error(x->out, ERR_INT);
	else if (by == LLONG_MIN)
		reply_error(x->out, "ERR decrement would overflow");
	else
		incr_by(x, &argv[1], -by);
}

static void cmd_mget(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	size_t i;

	reply_array(x->out, (long long)argc - 1);
	for (i = 1; i < argc; i++)
		cmd_get(x, &argv[i - 1], 2);
}

static void cmd_mset(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	size_t i;

	if (argc % 2 == 0) {
		reply_error(x->out, "ERR wrong number of arguments for 'mset' command");
		return;
	}
	for (i = 1; i < argc; i += 2)
		keyspace_set(&x->st->ks, argv[i].p, argv[i].len, argv[i + 1].p, argv[i + 1].len, 0);
	reply_simple(x->out, "OK");
}

static void cmd_del(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	long long n = 0;
	size_t i;

	for (i = 1; i < argc; i++)
		n += keyspace_del(&x->st->ks, argv[i].p, argv[i].len);
	reply_int(x->out, n);
}

static void cmd_exists(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	long long n = 0;
	size_t i;

	for (i = 1; i < argc; i++)
		n += keyspace_read(&x->st->ks, argv[i].p, argv[i].len) != NULL;
	reply_int(x->out, n);
}

static void cmd_type(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	(void)argc;
	reply_simple(x->out, keyspace_read(&x->st->ks, argv[1].p, argv[1].len) ? "string"
										: "none");
}

/* ---- expiry ------------------------------------------------------------------- */

/* Redis's expireGenericCommand(): @base_ms is added, @unit_ms multiplies. */
static void expire_generic(struct cmd_ctx *x, const struct arg *argv, size_t argc,
			   const char *name, int64_t base_ms, long long unit_ms)
{
	enum { NX = 1, XX = 2, GT = 4, LT = 8 };
	unsigned int flags = 0;
	long long when;
	int64_t cur;
	struct kv *e;
	size_t i;

	for (i = 3; i < argc; i++) {
		if (argeq(&argv[i], "NX")) {
			flags |= NX;
		} else if (argeq(&argv[i], "XX")) {
			flags |= XX;
		} else if (argeq(&argv[i], "GT")) {
			flags |= GT;
		} else if (argeq(&argv[i], "LT")) {
			flags |= LT;
		} else {
			reply_errf(x->out, "Unsupported option %.*s", (int)argv[i].len, argv[i].p);
			return;
		}
	}
	if ((flags & NX) && (flags & (XX | GT | LT))) {
		reply_error(x->out, "ERR NX and XX, GT or LT options at the same time are not "
				    "compatible");
		return;
	}
	if ((flags & GT) && (flags & LT)) {
		reply_error(x->out, "ERR GT and LT options at the same time are not compatible");
		return;
	}
	if (!arg_ll(&argv[2], &when)) {
		reply_error(x->out, ERR_INT);
		return;
	}
	if ((unit_ms == 1000 && (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000)) ||
	    when * unit_ms > LLONG_MAX - base_ms) {
		reply_errf(x->out, "invalid expire time in '%s' command", name);
		return;
	}
	when = when * unit_ms + base_ms;
	e = keyspace_get(&x->st->ks, argv[1].p, argv[1].len);
	if (!e) {
		reply_int(x->out, 0);
		return;
	}
	cur = e->expire_ms ? e->expire_ms : -1;
	if (((flags & NX) && cur != -1) || ((flags & XX) && cur == -1) ||
	    ((flags & GT) && (cur == -1 || when <= cur)) ||
	    ((flags & LT) && cur != -1 && when >= cur)) {
		reply_int(x->out, 0);
		return;
	}
	if (when <= keyspace_now_ms())
		keyspace_del(&x->st->ks, argv[1].p, argv[1].len);
	else
		keyspace_set_expire(&x->st->ks, e, when);
	reply_int(x->out, 1);
}

static void cmd_expire(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	expire_generic(x, argv, argc, "expire", keyspace_now_ms(), 1000);
}

static void cmd_pexpire(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	expire_generic(x, argv, argc, "pexpire", keyspace_now_ms(), 1);
}

static void cmd_expireat(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	expire_generic(x, argv, argc, "expireat", 0, 1000);
}

static void cmd_pexpireat(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	expire_generic(x, argv, argc, "pexpireat", 0, 1);
}

static void ttl_generic(struct cmd_ctx *x, const struct arg *key, bool ms)
{
	struct kv *e = keyspace_read(&x->st->ks, key->p, key->len);
	long long ttl;

	if (!e) {
		reply_int(x->out, -2);
		return;
	}
	if (!e->expire_ms) {
		reply_int(x->out, -1);
		return;
	}
	ttl = e->expire_ms - keyspace_now_ms();
	if (ttl < 0)
		ttl = 0;
	reply_int(x->out, ms ? ttl : (ttl + 500) / 1000);
}

static void cmd_ttl(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	(void)argc;
	ttl_generic(x, &argv[1], false);
}

static void cmd_pttl(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	(void)argc;
	ttl_generic(x, &argv[1], true);
}

static void cmd_persist(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	struct kv *e = keyspace_get(&x->st->ks, argv[1].p, argv[1].len);

	(void)argc;
	if (e && e->expire_ms) {
		keyspace_set_expire(&x->st->ks, e, 0);
		reply_int(x->out, 1);
	} else {
		reply_int(x->out, 0);
	}
}

/* ---- the whole keyspace ----------------------------------------------------------- */

/*
 * A glob as Redis's: "*" matches all; otherwise fnmatch(3) on NUL-terminated
 * copies, so a key or a pattern holding a NUL byte matches only "*".
 */
struct glob {
	bool all;
	char *pat; /* NULL: matches nothing */
	struct buf scratch;
};

static void glob_init(struct glob *g, const struct arg *pat)
{
	g->all = pat->len == 1 && pat->p[0] == '*';
	g->pat = NULL;
	memset(&g->scratch, 0, sizeof(g->scratch));
	if (!g->all && !memchr(pat->p, '\0', pat->len)) {
		g->pat = strndup(pat->p, pat->len);
		if (!g->pat)
			abort();
	}
}

static bool glob_match(struct glob *g, const char *key, size_t klen)
{
	if (g->all)
		return true;
	if (!g->pat || memchr(key, '\0', klen))
		return false;
	g->scratch.len = 0;
	buf_add(&g->scratch, key, klen);
	buf_add(&g->scratch, "", 1);
	return fnmatch(g->pat, g->scratch.p, 0) == 0;
}

static void glob_free(struct glob *g)
{
	free(g->pat);
	buf_free(&g->scratch);
}

struct keys_walk {
	struct glob glob;
	int64_t now;
	struct buf reply;
	long long n;
};

static void keys_one(void *arg, const struct kv *e)
{
	struct keys_walk *w = arg;

	if (!kv_expired(e, w->now) && glob_match(&w->glob, e->key, e->klen)) {
		reply_bulk(&w->reply, e->key, e->klen);
		w->n++;
	}
}

static void cmd_keys(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	struct keys_walk w = { .now = keyspace_now_ms() };
	unsigned long cursor = 0;

	(void)argc;
	glob_init(&w.glob, &argv[1]);
	do
		cursor = keyspace_scan(&x->st->ks, cursor, keys_one, &w);
	while (cursor);
	reply_array(x->out, w.n);
	buf_add(x->out, w.reply.p, w.reply.len);
	buf_free(&w.reply);
	glob_free(&w.glob);
}

/* Keys a scan step saw, each as its length then its bytes. */
struct scan_batch {
	struct buf keys;
	long n;
};

static void scan_one(void *arg, const struct kv *e)
{
	struct scan_batch *b = arg;

	buf_add(&b->keys, &e->klen, sizeof(e->klen));
	buf_add(&b->keys, e->key, e->klen);
	b->n++;
}

/* Redis's parseScanCursorOrReply(): strtoul(), no leading blank. */
static bool scan_cursor(const struct arg *a, unsigned long *cursor)
{
	char *s = strndup(a->p, a->len), *end;
	bool ok;

	if (!s)
		abort();
	errno = 0;
	*cursor = strtoul(s, &end, 10);
	ok = !(s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r')) && *end == '\0' && errno != ERANGE;
	free(s);
	return ok;
}

static void cmd_scan(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	struct scan_batch b = { { 0 }, 0 };
	const struct arg *type = NULL, *pat = NULL;
	unsigned long cursor;
	long long count = 10, maxiter, n = 0;
	struct buf reply = { 0 };
	struct glob glob;
	char tmp[32];
	size_t i, off;
	int k;

	if (!scan_cursor(&argv[1], &cursor)) {
		reply_error(x->out, "ERR invalid cursor");
		return;
	}
	for (i = 2; i < argc; i += 2) {
		bool two = i + 1 < argc;

		if (argeq(&argv[i], "COUNT") && two) {
			if (!arg_ll(&argv[i + 1], &count)) {
				reply_error(x->out, ERR_INT);
				return;
			}
			if (count < 1) {
				reply_error(x->out, ERR_SYNTAX);
				return;
			}
		} else if (argeq(&argv[i], "MATCH") && two) {
			pat = &argv[i + 1];
		} else if (argeq(&argv[i], "TYPE") && two) {
			type = &argv[i + 1];
		} else {
			reply_error(x->out, ERR_SYNTAX);
			return;
		}
	}
	maxiter = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
	do
		cursor = keyspace_scan(&x->st->ks, cursor, scan_one, &b);
	while (cursor && maxiter-- && b.n < count);
	/* Then filter, as Redis: the pattern, the type, expiry (deleting). */
	if (pat)
		glob_init(&glob, pat);
	for (off = 0; off < b.keys.len;) {
		size_t klen;
		const char *key;

		memcpy(&klen, b.keys.p + off, sizeof(klen));
		key = b.keys.p + off + sizeof(klen);
		off += sizeof(klen) + klen;
		if (pat && !glob_match(&glob, key, klen))
			continue;
		if (type && !argeq(type, "string"))
			continue;
		if (!keyspace_get(&x->st->ks, key, klen))
			continue;
		reply_bulk(&reply, key, klen);
		n++;
	}
	reply_array(x->out, 2);
	k = snprintf(tmp, sizeof(tmp), "%lu", cursor);
	reply_bulk(x->out, tmp, (size_t)k);
	reply_array(x->out, n);
	buf_add(x->out, reply.p, reply.len);
	buf_free(&reply);
	buf_free(&b.keys);
	if (pat)
		glob_free(&glob);
}

static void cmd_dbsize(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	(void)argv;
	(void)argc;
	reply_int(x->out, (long long)keyspace_size(&x->st->ks));
}

static void cmd_flushall(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	if (argc > 2 || (argc == 2 && !argeq(&argv[1], "ASYNC") && !argeq(&argv[1], "SYNC"))) {
		reply_error(x->out, ERR_SYNTAX);
		return;
	}
	keyspace_flush(&x->st->ks);
	reply_simple(x->out, "OK");
}

static const struct command keys_commands[] = {
	{ "get", 2, cmd_get, 0, NULL },
	{ "set", -3, cmd_set, 0, NULL },
	{ "incr", 2, cmd_incr, 0, NULL },
	{ "mget", -2, cmd_mget, 0, NULL },
	{ "mset", -3, cmd_mset, 0, NULL },
	{ "del", -2, cmd_del, 0, NULL },
	{ "exists", -2, cmd_exists, 0, NULL },
	{ "incrby", 3, cmd_incrby, 0, NULL },
	{ "decr", 2, cmd_decr, 0, NULL },
	{ "decrby", 3, cmd_decrby, 0, NULL },
	{ "append", 3, cmd_append, 0, NULL },
	{ "strlen", 2, cmd_strlen, 0, NULL },
	{ "type", 2, cmd_type, 0, NULL },
	{ "expire", -3, cmd_expire, 0, NULL },
	{ "pexpire", -3, cmd_pexpire, 0, NULL },
	{ "expireat", -3, cmd_expireat, 0, NULL },
	{ "pexpireat", -3, cmd_pexpireat, 0, NULL },
	{ "ttl", 2, cmd_ttl, 0, NULL },
	{ "pttl", 2, cmd_pttl, 0, NULL },
	{ "persist", 2, cmd_persist, 0, NULL },
	{ "keys", 2, cmd_keys, 0, NULL },
	{ "scan", -2, cmd_scan, 0, NULL },
	{ "dbsize", 1, cmd_dbsize, 0, NULL },
	{ "flushall", -1, cmd_flushall, 0, NULL },
};

const struct command_table keys_table = {
	keys_commands, sizeof(keys_commands) / sizeof(keys_commands[0])
};
