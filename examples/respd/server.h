/* SPDX-License-Identifier: MIT */
/*
 * The server: one epoll loop owns the sockets and the store; a worker
 * pool does the work that touches no shared state (DEBUG SLEEP).  Every
 * request of a connection gets an entry in the connection's completion
 * chain, in request order, and a notifier (one eventfd for the loop) tells
 * the loop when an entry's turn has come: the loop then applies the
 * command to the store, appends the reply and completes the entry.  So
 * keyspace effects and replies follow each connection's request order while
 * slow requests overlap, and one connection's slow request stalls no other.
 * Commands of different connections never run at the same time: the loop
 * runs one at a time, which makes an EXEC's queued commands one unit.
 */
#ifndef RESPD_SERVER_H
#define RESPD_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define SERVER_MAX_BIND 16

struct server_config {
	uint16_t port;
	unsigned int threads;
	long long max_bulk;          /* proto-max-bulk-len */
	const char *bind[SERVER_MAX_BIND];
	unsigned int nbind;          /* 0: 127.0.0.1, and ::1 if the machine has it */
	const char *requirepass;     /* NULL or "": no password */
	bool protected_mode;         /* no password: only 127.0.0.1 and ::1 may connect */
};

struct server_stats {
	unsigned long long connections, commands;
};

struct server;

/*
 * An address for --bind: IPv4 or IPv6 numeric, or Redis's "*" (every IPv4
 * address) and "::*" (every IPv6 address).  Return: true if @text is one.
 */
bool server_parse_addr(const char *text, uint16_t port, struct sockaddr_storage *ss,
		       socklen_t *len);

/*
 * Bind and listen on each address of @cfg at @cfg->port, start the workers.
 * Return: the server, or NULL after printing why.
 */
struct server *server_open(const struct server_config *cfg);

/* The addresses listened on, as "127.0.0.1, ::1". */
const char *server_addresses(const struct server *srv);

/*
 * Serve until @stop_fd (a signalfd) becomes readable, then finish the
 * requests in flight, close every connection and free the server.
 * Return: 0, or 1 after printing why the loop failed.
 */
int server_run(struct server *srv, int stop_fd, struct server_stats *stats);

#endif /* RESPD_SERVER_H */
