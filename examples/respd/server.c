// SPDX-License-Identifier: MIT
/*
 * The event loop.  Ownership: a connection and its buffers belong to the
 * loop thread; a request belongs to the worker that runs its job until it
 * calls compl_notifier_watch(), then to the chain until the notifier hands
 * it back to the loop.  A connection lives until it is closing and has no
 * request in flight.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
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
#define EXPIRE_PERIOD_MS 100                    /* Redis's hz 10 */
#define EXPIRE_BUDGET_MS 25                     /* Redis's: 25% of the period at most */

/* Redis 7's words to a client its protected mode refuses. */
static const char denied[] =
	"-DENIED Redis is running in protected mode because protected mode is enabled and no "
	"password is set for the default user. In this mode connections are only accepted "
	"from the loopback interface. If you want to connect from external computers to Redis "
	"you may adopt one of the following solutions: 1) Just disable protected mode sending "
	"the command 'CONFIG SET protected-mode no' from the loopback interface by connecting "
	"to Redis from the same host the server is running, however MAKE SURE Redis is not "
	"publicly accessible from internet if you do so. Use CONFIG REWRITE to make this "
	"change permanent. 2) Alternatively you can just disable the protected mode by "
	"editing the Redis configuration file, and setting the protected mode option to 'no', "
	"and then restarting the server. 3) If you started the server manually just for "
	"testing, restart it with the '--protected-mode no' option. 4) Setup a an "
	"authentication password for the default user. NOTE: You only need to do one of the "
	"above things in order for the server to start accepting connections from the "
	"outside.\r\n";

/* What an epoll event's pointer leads to, besides the static tags. */
enum ev_kind { EV_LISTENER, EV_CONN };

struct listener {
	enum ev_kind kind; /* first */
	int fd;
};

struct conn {
	enum ev_kind kind; /* first */
	int fd;
	struct client cl;
	struct compl_chain chain;
	struct buf in, out;
	struct args args;
	unsigned long inflight;
	bool readable, writable;
	bool closing;      /* read no more */
	bool quit;         /* a QUIT or a protocol error replied: skip later requests */
	bool dead;         /* the socket failed or must close now: replies are dropped */
	bool dirty;
	struct conn *dirty_next;
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
	struct listener listeners[SERVER_MAX_BIND];
	unsigned int nlisteners;
	char addresses[SERVER_MAX_BIND * 48];
	int ep, timer_fd;
	struct compl_notifier *n;
	struct pool pool;
	struct store st;
	struct conn *dirty;
	unsigned long long next_id;
	bool stopping;
};

static char tag_notify, tag_stop, tag_timer;

static struct conn *conn_of(struct client *cl)
{
	return (struct conn *)((char *)cl - offsetof(struct conn, cl));
}

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
	struct arg *copy;
	struct req *r = args_dup(offsetof(struct req, argv), argv, argc, &copy);

	r->c = c;
	r->srv = srv;
	r->work_ns = 0;
	r->proto_err = NULL;
	r->argc = argc;
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

/*
 * Parse no further for now.  A client that must authenticate has one
 * request in flight at a time: the parser's limits for it (and the next
 * command's right to run) depend on what its AUTH did, as in Redis.
 */
static bool parse_paused(const struct server *srv, const struct conn *c)
{
	return c->closing || c->inflight >= MAX_INFLIGHT || c->out.len >= OUT_PAUSE ||
	       (c->inflight && client_needs_auth(&srv->st, &c->cl));
}

/* Parse what was read; read more while the socket has data. */
static void pump(struct server *srv, struct conn *c)
{
	for (;;) {
		size_t pos = 0;

		while (pos < c->in.len && !parse_paused(srv, c)) {
			const char *err = NULL;
			size_t used = 0;
			enum resp_status st = resp_parse(c->in.p + pos, c->in.len - pos,
							 srv->cfg.max_bulk,
							 client_needs_auth(&srv->st, &c->cl),
							 &c->args, &used, &err);

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
		if (parse_paused(srv, c) || !c->readable)
			return;
		if ((long long)c->in.len > QUERY_MAX) {
			fprintf(stderr, "respd: client %llu: query buffer over 1 GB, closing\n",
				c->cl.id);
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
	client_detach(&srv->st, &c->cl);
	compl_chain_destroy(&c->chain);
	buf_free(&c->in);
	buf_free(&c->out);
	args_free(&c->args);
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
			switch (command_execute(&srv->st, &c->cl, r->argv, r->argc, &c->out)) {
			case CLIENT_GO_ON:
				break;
			case CLIENT_CLOSE:
				c->quit = c->closing = true;
				break;
			case CLIENT_DROP:
				c->quit = c->closing = c->dead = true;
				c->out.len = 0;
				break;
			}
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

/* "ip:port" or "[ip6]:port", as Redis's CLIENT LIST. */
static void format_addr(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(out, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(out, len, "%s:%u", ip, ntohs(s4->sin_port));
	}
}

/* Redis's protected mode lets in 127.0.0.1 and ::1, no other address. */
static bool loopback_peer(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
	return false;
}

static void accept_all(struct server *srv, struct listener *l)
{
	for (;;) {
		struct sockaddr_storage peer, local;
		socklen_t plen = sizeof(peer), llen = sizeof(local);
		int one = 1, fd = accept4(l->fd, (struct sockaddr *)&peer, &plen,
					  SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET };
		char addr[64], laddr[64];
		struct conn *c;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				perror("respd: accept");
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		if (srv->cfg.protected_mode && !srv->st.requirepass && !loopback_peer(&peer)) {
			/* A fresh socket's buffer takes it whole; a failure changes nothing. */
			if (send(fd, denied, sizeof(denied) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* the client went away */
			}
			close(fd);
			srv->st.stats.rejected++;
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		if (getsockname(fd, (struct sockaddr *)&local, &llen))
			memset(&local, 0, sizeof(local));
		format_addr(&peer, addr, sizeof(addr));
		format_addr(&local, laddr, sizeof(laddr));
		c->kind = EV_CONN;
		c->fd = fd;
		client_attach(&srv->st, &c->cl, ++srv->next_id, fd, addr, laddr);
		compl_chain_init(&c->chain);
		ev.data.ptr = c;
		if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, fd, &ev)) {
			perror("respd: epoll_ctl");
			free_conn(srv, c);
			continue;
		}
	}
}

static int add_fd(struct server *srv, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(srv->ep, EPOLL_CTL_ADD, fd, &ev);
}

bool server_parse_addr(const char *text, uint16_t port, struct sockaddr_storage *ss,
		       socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (!strcmp(text, "*") || inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return true;
	}
	if (!strcmp(text, "::*") || inet_pton(AF_INET6, text, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return true;
	}
	return false;
}

/* Return: 0, or an errno value. */
static int listen_on(struct server *srv, const char *text)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd, err;

	if (!server_parse_addr(text, srv->cfg.port, &ss, &len))
		return EINVAL;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	/* "::" is IPv6 only: "*" and "::*" may both be bound. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 511)) {
		err = errno;
		close(fd);
		return err;
	}
	srv->listeners[srv->nlisteners].kind = EV_LISTENER;
	srv->listeners[srv->nlisteners].fd = fd;
	srv->nlisteners++;
	if (srv->addresses[0])
		strcat(srv->addresses, ", ");
	strcat(srv->addresses, text);
	return 0;
}

struct server *server_open(const struct server_config *cfg)
{
	static const char *const loopback[] = { "127.0.0.1", "::1" };
	struct server *srv = calloc(1, sizeof(*srv));
	struct itimerspec period = { { 0, EXPIRE_PERIOD_MS * 1000000L },
				     { 0, EXPIRE_PERIOD_MS * 1000000L } };
	unsigned int i;
	int err;

	if (!srv) {
		perror("respd");
		return NULL;
	}
	srv->cfg = *cfg;
	srv->ep = srv->timer_fd = -1;
	for (i = 0; i < (cfg->nbind ? cfg->nbind : 2); i++) {
		const char *a = cfg->nbind ? cfg->bind[i] : loopback[i];

		err = listen_on(srv, a);
		/* The default ::1 is skipped on a machine without IPv6, as Redis's "-::1". */
		if (err && !cfg->nbind && i == 1 && (err == EADDRNOTAVAIL || err == EAFNOSUPPORT))
			continue;
		if (err) {
			fprintf(stderr, "respd: cannot listen on %s port %u: %s\n", a, cfg->port,
				strerror(err));
			goto fail;
		}
	}
	srv->n = compl_notifier_create();
	srv->ep = epoll_create1(EPOLL_CLOEXEC);
	srv->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!srv->n || srv->ep < 0 || srv->timer_fd < 0 ||
	    timerfd_settime(srv->timer_fd, 0, &period, NULL) ||
	    add_fd(srv, srv->timer_fd, &tag_timer) ||
	    add_fd(srv, compl_notifier_fd(srv->n), &tag_notify))
		goto fail_loop;
	for (i = 0; i < srv->nlisteners; i++)
		if (add_fd(srv, srv->listeners[i].fd, &srv->listeners[i]))
			goto fail_loop;
	err = pool_start(&srv->pool, cfg->threads);
	if (err) {
		fprintf(stderr, "respd: cannot start %u threads: %s\n", cfg->threads,
			strerror(err));
		goto fail;
	}
	store_init(&srv->st, cfg->requirepass, cfg->max_bulk, cfg->port);
	return srv;
fail_loop:
	fprintf(stderr, "respd: cannot set up the event loop: %s\n", strerror(errno));
fail:
	for (i = 0; i < srv->nlisteners; i++)
		close(srv->listeners[i].fd);
	if (srv->ep >= 0)
		close(srv->ep);
	if (srv->timer_fd >= 0)
		close(srv->timer_fd);
	if (srv->n)
		compl_notifier_destroy(srv->n);
	free(srv);
	return NULL;
}

const char *server_addresses(const struct server *srv)
{
	return srv->addresses;
}

static void begin_stop(struct server *srv)
{
	struct client *cl;
	unsigned int i;

	srv->stopping = true;
	for (i = 0; i < srv->nlisteners; i++)
		close(srv->listeners[i].fd);
	for (cl = srv->st.clients; cl; cl = cl->next) {
		struct conn *c = conn_of(cl);

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
	while (!srv->stopping || srv->st.clients) {
		int i, k;

		drain(srv);
		if (srv->stopping && !srv->st.clients)
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
			} else if (tag == &tag_timer) {
				uint64_t ticks;

				if (read(srv->timer_fd, &ticks, sizeof(ticks)) == sizeof(ticks))
					keyspace_expire_cycle(&srv->st.ks, EXPIRE_BUDGET_MS);
			} else if (tag == &tag_stop) {
				struct signalfd_siginfo si;

				if (read(stop_fd, &si, sizeof(si)) == sizeof(si) && !srv->stopping)
					begin_stop(srv);
			} else if (*(enum ev_kind *)tag == EV_LISTENER) {
				if (!srv->stopping)
					accept_all(srv, tag);
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
	stats->connections = srv->st.stats.connections;
	stats->commands = srv->st.stats.commands;
	store_free(&srv->st);
	compl_notifier_destroy(srv->n);
	close(srv->timer_fd);
	close(srv->ep);
	free(srv);
	return status;
}
