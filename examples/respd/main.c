// SPDX-License-Identifier: MIT
/*
 * respd: a RESP2 (Redis protocol) server whose connections pipeline
 * requests that are served concurrently and answered in request order,
 * through one completion chain per connection and a notifier per event
 * loop.  Command line, signals and the start/stop log lines.  Safe by
 * default as redis-server: loopback addresses only, and a protected mode
 * that refuses other clients while no password is set.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cchain/version.h>

#include "resp.h"
#include "server.h"

#define RESPD_DEFAULT_PORT 6379

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: respd [--port N] [--bind ADDR...] [--requirepass PASS]\n"
		"             [--protected-mode yes|no] [--threads N] [--proto-max-bulk-len BYTES]\n"
		"A Redis-protocol (RESP2) server: pipelined requests run concurrently,\n"
		"replies and keyspace effects follow each connection's request order.\n"
		"\n"
		"  -p, --port N                 TCP port to listen on (default %d)\n"
		"      --bind ADDR...           IPv4 or IPv6 addresses to listen on, up to %d;\n"
		"                               '*': every IPv4 one, '::*': every IPv6 one\n"
		"                               (default 127.0.0.1 ::1)\n"
		"      --requirepass PASS       clients must AUTH with PASS (default: no password)\n"
		"      --protected-mode yes|no  while no password is set, refuse clients other\n"
		"                               than 127.0.0.1 and ::1 (default yes)\n"
		"  -t, --threads N              worker threads (default: online CPUs)\n"
		"      --proto-max-bulk-len B   longest bulk string accepted (default %lld)\n"
		"  -h, --help                   show this help and exit\n"
		"  -V, --version                show the version and exit\n",
		RESPD_DEFAULT_PORT, SERVER_MAX_BIND, RESP_DEFAULT_MAX_BULK);
}

/* A whole decimal number in [@min, @max], or exit with a one-line error. */
static long long number(const char *opt, const char *s, long long min, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "respd: %s: '%s' is not a number from %lld to %lld\n", opt, s,
			min, max);
		exit(2);
	}
	return v;
}

/* Add @addr to --bind's list, or exit with a one-line error. */
static void bind_address(struct server_config *cfg, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (!server_parse_addr(addr, cfg->port, &ss, &len)) {
		fprintf(stderr, "respd: --bind: '%s' is not an IPv4 or IPv6 address\n", addr);
		exit(2);
	}
	if (cfg->nbind == SERVER_MAX_BIND) {
		fprintf(stderr, "respd: --bind: more than %d addresses\n", SERVER_MAX_BIND);
		exit(2);
	}
	cfg->bind[cfg->nbind++] = addr;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "proto-max-bulk-len", required_argument, NULL, 'B' },
		{ "bind", required_argument, NULL, 'b' },
		{ "requirepass", required_argument, NULL, 'a' },
		{ "protected-mode", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct server_config cfg = { .port = RESPD_DEFAULT_PORT,
				     .threads = ncpu > 0 ? (unsigned int)ncpu : 1,
				     .max_bulk = RESP_DEFAULT_MAX_BULK,
				     .protected_mode = true };
	struct server_stats stats = { 0, 0 };
	struct server *srv;
	sigset_t stop;
	int c, sfd, status;

	opterr = 0; /* our own one-line messages */
	/* '+': no reordering, so that --bind may take the arguments after its own. */
	while ((c = getopt_long(argc, argv, "+:p:t:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			cfg.port = (uint16_t)number("--port", optarg, 1, 65535);
			break;
		case 't':
			cfg.threads = (unsigned int)number("--threads", optarg, 1, 1024);
			break;
		case 'B':
			cfg.max_bulk = number("--proto-max-bulk-len", optarg, 1, LLONG_MAX / 2);
			break;
		case 'b':
			cfg.nbind = 0;
			bind_address(&cfg, optarg);
			while (optind < argc && argv[optind][0] != '-')
				bind_address(&cfg, argv[optind++]);
			break;
		case 'a':
			cfg.requirepass = optarg;
			break;
		case 'P':
			if (strcmp(optarg, "yes") && strcmp(optarg, "no")) {
				fprintf(stderr, "respd: --protected-mode: '%s' is not yes or no\n",
					optarg);
				return 2;
			}
			cfg.protected_mode = !strcmp(optarg, "yes");
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("respd (libcchain) %s\n", cchain_version_string());
			return 0;
		case ':':
			fprintf(stderr, "respd: option '%s' needs a value (try 'respd --help')\n",
				argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "respd: unknown option '%s' (try 'respd --help')\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "respd: unexpected argument '%s' (try 'respd --help')\n",
			argv[optind]);
		return 2;
	}
	/* Before any thread starts: every thread blocks them, the loop reads them. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		perror("respd: signalfd");
		return 1;
	}
	srv = server_open(&cfg);
	if (!srv)
		return 1;
	fprintf(stderr, "respd: pid %ld listening on port %u (%s) with %u worker threads\n",
		(long)getpid(), cfg.port, server_addresses(srv), cfg.threads);
	status = server_run(srv, sfd, &stats);
	fprintf(stderr, "respd: stopped%s after %llu connections and %llu commands\n",
		status ? " on an error" : "", stats.connections, stats.commands);
	close(sfd);
	return status;
}
