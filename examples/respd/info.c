// SPDX-License-Identifier: MIT
/*
 * INFO [section ...]: the server, clients, stats and keyspace sections, in
 * Redis 7's format, with those of Redis's fields that respd has a value
 * for.  "default", "all", "everything" or no section: all four.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cmd.h"

enum { S_SERVER = 1, S_CLIENTS = 2, S_STATS = 4, S_KEYSPACE = 8, S_ALL = 15 };

static void line(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(tmp))
		n = (int)sizeof(tmp) - 1;
	buf_add(b, tmp, (size_t)n);
	buf_add(b, "\r\n", 2);
}

static void section_server(struct buf *b, const struct store *st)
{
	long long up = (keyspace_now_ms() - st->start_ms) / 1000;
	struct utsname u;

	if (uname(&u))
		memset(&u, 0, sizeof(u));
	line(b, "# Server");
	line(b, "redis_version:%s", RESPD_REDIS_VERSION);
	line(b, "redis_mode:standalone");
	line(b, "os:%s %s %s", u.sysname, u.release, u.machine);
	line(b, "arch_bits:%d", (int)sizeof(long) * 8);
	line(b, "multiplexing_api:epoll");
	line(b, "process_id:%ld", (long)getpid());
	line(b, "tcp_port:%u", st->port);
	line(b, "uptime_in_seconds:%lld", up);
	line(b, "uptime_in_days:%lld", up / 86400);
	line(b, "hz:10");
	line(b, "configured_hz:10");
}

static void section_clients(struct buf *b, const struct store *st)
{
	line(b, "# Clients");
	line(b, "connected_clients:%zu", st->nclients);
	line(b, "blocked_clients:0");
	line(b, "tracking_clients:0");
}

static void section_stats(struct buf *b, const struct store *st)
{
	line(b, "# Stats");
	line(b, "total_connections_received:%llu", st->stats.connections);
	line(b, "total_commands_processed:%llu", st->stats.commands);
	line(b, "rejected_connections:%llu", st->stats.rejected);
	line(b, "expired_keys:%llu", st->ks.expired);
	line(b, "evicted_keys:0");
	line(b, "keyspace_hits:%llu", st->ks.hits);
	line(b, "keyspace_misses:%llu", st->ks.misses);
	line(b, "pubsub_channels:0");
	line(b, "pubsub_patterns:0");
}

static void section_keyspace(struct buf *b, const struct store *st)
{
	line(b, "# Keyspace");
	if (st->ks.count)
		line(b, "db0:keys=%zu,expires=%zu,avg_ttl=%lld", st->ks.count, st->ks.nexpiring,
		     st->ks.avg_ttl);
}

static void cmd_info(struct cmd_ctx *x, const struct arg *argv, size_t argc)
{
	static const struct {
		const char *name;
		unsigned int bit;
		void (*fn)(struct buf *b, const struct store *st);
	} sections[] = {
		{ "server", S_SERVER, section_server },
		{ "clients", S_CLIENTS, section_clients },
		{ "stats", S_STATS, section_stats },
		{ "keyspace", S_KEYSPACE, section_keyspace },
	};
	unsigned int want = argc == 1 ? S_ALL : 0;
	struct buf b = { 0 };
	size_t i, j, n = 0;

	for (i = 1; i < argc; i++) {
		if (argeq(&argv[i], "default") || argeq(&argv[i], "all") ||
		    argeq(&argv[i], "everything"))
			want = S_ALL;
		for (j = 0; j < 4; j++)
			if (argeq(&argv[i], sections[j].name))
				want |= sections[j].bit;
	}
	for (j = 0; j < 4; j++) {
		if (!(want & sections[j].bit))
			continue;
		if (n++)
			buf_add(&b, "\r\n", 2);
		sections[j].fn(&b, x->st);
	}
	reply_bulk(x->out, b.p ? b.p : "", b.len);
	buf_free(&b);
}

static const struct command info_commands[] = {
	{ "info", -1, cmd_info, 0, NULL },
};

const struct command_table info_table = {
	info_commands, sizeof(info_commands) / sizeof(info_commands[0])
};
