/* SPDX-License-Identifier: MIT */
/*
 * The server: one epoll loop owns the sockets and the keyspace; a worker
 * pool does the work that touches no shared state (DEBUG SLEEP).  Every
 * request of a connection gets an entry in the connection's completion
 * chain, in request order, and a notifier (one eventfd for the loop) tells
 * the loop when an entry's turn has come: the loop then applies the
 * command to the keyspace, appends the reply and completes the entry.  So
 * keyspace effects and replies follow each connection's request order while
 * slow requests overlap, and one connection's slow request stalls no other.
 */
#ifndef RESPD_SERVER_H
#define RESPD_SERVER_H

#include <stdint.h>

struct server_config {
	uint16_t port;
	unsigned int threads;
	long long max_bulk;   /* proto-max-bulk-len */
};

struct server_stats {
	unsigned long long connections, commands;
};

struct server;

/*
 * Bind and listen on 127.0.0.1 and every address (0.0.0.0) at @cfg->port,
 * start the workers.  Return: the server, or NULL after printing why.
 */
struct server *server_open(const struct server_config *cfg);

/*
 * Serve until @stop_fd (a signalfd) becomes readable, then finish the
 * requests in flight, close every connection and free the server.
 * Return: 0, or 1 after printing why the loop failed.
 */
int server_run(struct server *srv, int stop_fd, struct server_stats *stats);

#endif /* RESPD_SERVER_H */
