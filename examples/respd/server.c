// SPDX-License-Identifier: MIT
/*
 * The event loop.  Ownership: a connection and its buffers belong to the
 * loop thread; a request belongs to the worker that runs its job until it
 * calls compl_notifier_watch(), then to the chain until the notifier hands
 * it back to the loop.  A connection lives until it is closing and has no
 * request in flight.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cchain/compl_chain.h>
#include <cchain/notify.h>

#include "commands.h"
#include "pool.h"
#include "resp.h"
#include "server.h"

#define READ_CHUNK (64 * 1024)
#define MAX_INFLIGHT 4096                        /* per connection: stop parsing beyond */
#define OUT_PAUSE (16u << 20)                   /* unsent replies: stop parsing beyond */
#define QUERY_MAX (1024ll * 1024 * 1024)        /* client-query-buffer-limit */

struct conn {
	int fd;
	unsigned long long id;
	struct compl_chain chain;
	struct buf in, out;
	struct args args;
	unsigned long inflight;
	bool readable, writable;
	bool closing;      /* read no more */
	bool quit;         /* a QUIT or a protocol error replied: skip later requests */
	bool dead;         /* the socket failed: replies are dropped */
	bool dirty;
	struct conn *dirty_next;
	struct conn *prev, *next; /* every connection */
};

struct req {
	struct compl_notify_entry ne; /* first: the notifier's entry is the request */
	struct pool_job job;
	struct conn *c;
	struct server *srv;
	unsigned long long work_ns;
	char *proto_err;   /* a protocol error to reply instead of a command */
	size_t argc;
	struct arg argv[];
};

struct server {
	struct server_config cfg;
	int lfd, ep;
	struct compl_notifier *n;
	struct pool pool;
	struct keyspace ks;
	struct conn *conns, *dirty;
	unsigned long long next_id;
	struct server_stats stats;
	bool stopping;
};

static char tag_listen, tag_notify, tag_stop;

static void mark_dirty(struct server *srv, struct conn *c)
{
	if (!c->dirty) {
		c->dirty = true;
		c->dirty_next = srv->dirty;
		srv->dirty = c;
	}
}

/* A worker's job: the unordered work, then wait for the turn through the loop. */
static void run_job(struct pool_job *job)
{
	struct req *r = (struct req *)((char *)job - offsetof(struct req, job));
	struct timespec ts = { (time_t)(r->work_ns / 1000000000u),
			       (long)(r->work_ns % 1000000000u) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	compl_notifier_watch(r->srv->n, &r->ne);
}

static struct req *new_req(struct server *srv, struct conn *c, const struct arg *argv,
			   size_t argc)
{
	size_t i, bytes = 0;
	struct req *r;
	char *p;

	for (i = 0; i < argc; i++)
		bytes += argv[i].len;
	r = malloc(sizeof(*r) + argc * sizeof(struct arg) + bytes);
	if (!r) {
		perror("respd: malloc");
		abort();
	}
	r->c = c;
	r->srv = srv;
	r->work_ns = 0;
	r->proto_err = NULL;
	r->argc = argc;
	p = (char *)&r->argv[argc];
	for (i = 0; i < argc; i++) {
		memcpy(p, argv[i].p, argv[i].len);
		r->argv[i].p = p;
		r->argv[i].len = argv[i].len;
		p += argv[i].len;
	}
	return r;
}

/* Queue @r behind the connection's earlier requests. */
static void dispatch(struct server *srv, struct conn *c, struct req *r)
{
	compl_chain_add(&c->chain, &r->ne.entry);
	c->inflight++;
	if (r->argc)
		r->work_ns = command_work_ns(r->argv, r->argc);
	if (r->work_ns) {
		r->job.run = run_job;
		pool_submit(&srv->pool, &r->job);
	} else {
		compl_notifier_watch(srv->n, &r->ne);
	}
}

/* Parse what was read; read more while the socket has data. */
static void pump(struct server *srv, struct conn *c)
{
	for (;;) {
		size_t pos = 0;

		while (pos < c->in.len && !c->closing && c->inflight < MAX_INFLIGHT &&
		       c->out.len < OUT_PAUSE) {
			const char *err = NULL;
			size_t used = 0;
			enum resp_status st = resp_parse(c->in.p + pos, c->in.len - pos,
							 srv->cfg.max_bulk, &c->args, &used, &err);

			if (st == RESP_MORE)
				break;
			if (st == RESP_ERROR) {
				struct req *r = new_req(srv, c, NULL, 0);

				r->proto_err = strdup(err);
				if (!r->proto_err)
					abort();
				dispatch(srv, c, r);
				c->closing = true;
				break;
			}
			pos += used;
			if (st == RESP_OK)
				dispatch(srv, c, new_req(srv, c, c->args.v, c->args.n));
		}
		if (pos)
			buf_consume(&c->in, pos);
		if (c->closing || !c->readable || c->inflight >= MAX_INFLIGHT ||
		    c->out.len >= OUT_PAUSE)
			return;
		if ((long long)c->in.len > QUERY_MAX) {
			fprintf(stderr, "respd: client %llu: query buffer over 1 GB, closing\n",
				c->id);
			c->closing = c->dead = true;
			return;
		}
		buf_reserve(&c->in, READ_CHUNK);
		ssize_t n = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len);

		if (n > 0) {
			c->in.len += (size_t)n;
		} else if (n == 0) {
			c->readable = false;
			c->closing = true; /* what was read still runs */
		} else if (errno == EAGAIN) {
			c->readable = false;
		} else if (errno != EINTR) {
			c->readable = false;
			c->closing = c->dead = true;
		}
	}
}

static void flush(struct conn *c)
{
	size_t off = 0;

	if (c->dead) {
		c->out.len = 0;
		return;
	}
	while (off < c->out.len && c->writable && !c->dead) {
		ssize_t n = send(c->fd, c->out.p + off, c->out.len - off, MSG_NOSIGNAL);

		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && errno == EAGAIN)
			c->writable = false;
		else if (n < 0 && errno != EINTR)
			c->dead = c->closing = true; /* EPIPE, ECONNRESET: replies dropped */
	}
	if (c->dead)
		c->out.len = 0;
	else if (off)
		buf_consume(&c->out, off);
}

static void free_conn(struct server *srv, struct conn *c)
{
	close(c->fd);
	compl_chain_destroy(&c->chain);
	buf_free(&c->in);
	buf_free(&c->out);
	args_free(&c->args);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
}

/* After the loop touched @c: send, read on, or let it go. */
static void settle(struct server *srv, struct conn *c)
{
	flush(c);
	if (!c->closing)
		pump(srv, c);
	flush(c);
	if (c->closing && !c->inflight && (!c->out.len || srv->stopping))
		free_conn(srv, c);
}

/* The ordered step of every request whose turn has come. */
static void drain(struct server *srv)
{
	struct compl_notify_entry *ne;

	while ((ne = compl_notifier_take(srv->n))) {
		struct req *r = (struct req *)ne;
		struct conn *c = r->c;

		if (c->quit) {
			/* Redis reads nothing after QUIT or a protocol error. */
		} else if (r->proto_err) {
			reply_error(&c->out, r->proto_err);
			c->quit = true;
		} else {
			struct command_ctx ctx = { &srv->ks, srv->cfg.max_bulk, c->id };

			srv->stats.commands++;
			if (command_execute(&ctx, r->argv, r->argc, &c->out))
				c->quit = c->closing = true;
		}
		compl_chain_complete(&ne->entry);
		free(r->proto_err);
		free(r);
		c->inflight--;
		mark_dirty(srv, c);
	}
	while (srv->dirty) {
		struct conn *c = srv->dirty;

		srv->dirty = c->dirty_next;
		c->dirty = false;
		settle(srv, c);
	}
}

static void accept_all(struct server *srv)
{
	for (;;) {
		int one = 1, fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET };
		struct conn *c;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				perror("respd: accept");
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->id = ++srv->next_id;
		compl_chain_init(&c->chain);
		c->next = srv->conns;
		if (c->next)
			c->next->prev = c;
		srv->conns = c;
		ev.data.ptr = c;
		if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, fd, &ev)) {
			perror("respd: epoll_ctl");
			free_conn(srv, c);
			continue;
		}
		srv->stats.connections++;
	}
}

static int add_fd(struct server *srv, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(srv->ep, EPOLL_CTL_ADD, fd, &ev);
}

struct server *server_open(const struct server_config *cfg)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(cfg->port),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };
	struct server *srv = calloc(1, sizeof(*srv));
	int one = 1, err;

	if (!srv) {
		perror("respd");
		return NULL;
	}
	srv->cfg = *cfg;
	srv->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->lfd < 0 || setsockopt(srv->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(srv->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(srv->lfd, 511)) {
		fprintf(stderr, "respd: cannot listen on port %u: %s\n", cfg->port,
			strerror(errno));
		goto fail;
	}
	srv->n = compl_notifier_create();
	srv->ep = epoll_create1(EPOLL_CLOEXEC);
	if (!srv->n || srv->ep < 0 || add_fd(srv, srv->lfd, &tag_listen) ||
	    add_fd(srv, compl_notifier_fd(srv->n), &tag_notify)) {
		fprintf(stderr, "respd: cannot set up the event loop: %s\n", strerror(errno));
		goto fail;
	}
	err = pool_start(&srv->pool, cfg->threads);
	if (err) {
		fprintf(stderr, "respd: cannot start %u threads: %s\n", cfg->threads,
			strerror(err));
		goto fail;
	}
	keyspace_init(&srv->ks);
	return srv;
fail:
	if (srv->lfd >= 0)
		close(srv->lfd);
	if (srv->ep > 0)
		close(srv->ep);
	if (srv->n)
		compl_notifier_destroy(srv->n);
	free(srv);
	return NULL;
}

static void begin_stop(struct server *srv)
{
	struct conn *c, *next;

	srv->stopping = true;
	close(srv->lfd);
	for (c = srv->conns; c; c = next) {
		next = c->next;
		c->closing = true;
		mark_dirty(srv, c);
	}
}

int server_run(struct server *srv, int stop_fd, struct server_stats *stats)
{
	struct epoll_event evs[256];
	int status = 0;

	if (add_fd(srv, stop_fd, &tag_stop)) {
		perror("respd: epoll_ctl");
		status = 1;
		begin_stop(srv);
	}
	while (!srv->stopping || srv->conns) {
		int i, k;

		drain(srv);
		if (srv->stopping && !srv->conns)
			break;
		if (!compl_notifier_arm(srv->n))
			continue;
		k = epoll_wait(srv->ep, evs, 256, -1);
		compl_notifier_disarm(srv->n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			perror("respd: epoll_wait");
			status = 1;
			begin_stop(srv);
			continue;
		}
		for (i = 0; i < k; i++) {
			void *tag = evs[i].data.ptr;
			struct conn *c = tag;

			if (tag == &tag_notify) {
				compl_notifier_ack(srv->n);
			} else if (tag == &tag_listen) {
				if (!srv->stopping)
					accept_all(srv);
			} else if (tag == &tag_stop) {
				struct signalfd_siginfo si;

				if (read(stop_fd, &si, sizeof(si)) == sizeof(si) && !srv->stopping)
					begin_stop(srv);
			} else {
				if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
					c->readable = true;
				if (evs[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
					c->writable = true;
				mark_dirty(srv, c);
			}
		}
	}
	pool_stop(&srv->pool);
	*stats = srv->stats;
	keyspace_free(&srv->ks);
	compl_notifier_destroy(srv->n);
	close(srv->ep);
	free(srv);
	return status;
}
