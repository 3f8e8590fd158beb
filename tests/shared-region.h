/* SPDX-License-Identifier: MIT */
/*
 * Helpers for tests that run participants in several processes: a region
 * of shared memory (memfd), and peers that use it either through the
 * mapping they inherit across fork(), or through their own mapping, at
 * another address, of the memfd received over a UNIX socket after exec().
 */
#ifndef CCHAIN_TESTS_SHARED_REGION_H
#define CCHAIN_TESTS_SHARED_REGION_H

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

/* Aborts with a message; usable in any process. */
#define SR_CHECK(cond)                                                         \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: [pid %d] check failed: %s\n",  \
				__FILE__, __LINE__, (int)getpid(), #cond);     \
			abort();                                               \
		}                                                              \
	} while (0)

static inline uint64_t sr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void sr_sleep_us(unsigned long us)
{
	struct timespec ts = { (time_t)(us / 1000000u), (long)(us % 1000000u) * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* A new memfd of @size bytes, mapped shared; its descriptor in *@fd. */
static inline void *sr_create(size_t size, int *fd)
{
	void *p;

	*fd = memfd_create("cchain-test", 0);
	SR_CHECK(*fd >= 0);
	SR_CHECK(ftruncate(*fd, (off_t)size) == 0);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	SR_CHECK(p != MAP_FAILED);
	return p;
}

/* Send descriptor @fd over the UNIX socket @sock. */
static inline void sr_send_fd(int sock, int fd)
{
	char byte = 'f', cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { 0 };
	struct cmsghdr *c;

	memset(cbuf, 0, sizeof(cbuf));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	SR_CHECK(sendmsg(sock, &msg, 0) == 1);
}

/* Receive a descriptor over the UNIX socket @sock. */
static inline int sr_recv_fd(int sock)
{
	char byte, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = { 0 };
	struct cmsghdr *c;
	int fd;

	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	SR_CHECK(recvmsg(sock, &msg, 0) == 1);
	c = CMSG_FIRSTHDR(&msg);
	SR_CHECK(c && c->cmsg_type == SCM_RIGHTS);
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/*
 * Map the region received over @sock at an address other than @avoid: a
 * spacer mapping first takes the address the kernel would hand out.
 */
static inline void *sr_map_received(int sock, size_t size, const void *avoid)
{
	int fd = sr_recv_fd(sock);
	void *spacer = mmap(NULL, size + 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	SR_CHECK(spacer != MAP_FAILED && p != MAP_FAILED);
	SR_CHECK(p != avoid);
	close(fd);
	return p;
}

/* How a peer reaches the region. */
enum sr_mode {
	SR_FORK,   /* the mapping inherited across fork() */
	SR_MAPPED, /* exec(), then its own mapping of the memfd, fd over a socket */
};

/*
 * Start a peer process that runs role @role with argument @arg on the
 * region.  SR_FORK: the child calls @run(region, role, arg) and exits 0.
 * SR_MAPPED: the child execs @self with "--peer ROLE ARG SOCK ADDR" and
 * the program's main calls sr_peer_main(), which maps the memfd and calls
 * @run the same way.
 */
static inline pid_t sr_spawn(enum sr_mode mode, const char *self, void *region, int fd,
			     size_t size, void (*run)(void *region, int role, long arg),
			     int role, long arg)
{
	int sv[2] = { -1, -1 };
	pid_t pid;

	if (mode == SR_MAPPED)
		SR_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	pid = fork();
	SR_CHECK(pid >= 0);
	if (pid == 0) {
		char a[4][32];

		if (mode == SR_FORK) {
			run(region, role, arg);
			_exit(0);
		}
		close(sv[0]);
		snprintf(a[0], 32, "%d", role);
		snprintf(a[1], 32, "%ld", arg);
		snprintf(a[2], 32, "%d", sv[1]);
		snprintf(a[3], 32, "%lx", (unsigned long)(uintptr_t)region);
		execl(self, self, "--peer", a[0], a[1], a[2], a[3], (char *)NULL);
		_exit(127);
	}
	if (mode == SR_MAPPED) {
		close(sv[1]);
		sr_send_fd(sv[0], fd);
		close(sv[0]);
	}
	(void)size;
	return pid;
}

/* In a peer started with "--peer ROLE ARG SOCK ADDR": map and run. */
static inline int sr_peer_main(char **argv, size_t size,
			       void (*run)(void *region, int role, long arg))
{
	void *avoid = (void *)(uintptr_t)strtoul(argv[5], NULL, 16);
	void *region = sr_map_received(atoi(argv[4]), size, avoid);

	run(region, atoi(argv[2]), atol(argv[3]));
	return 0;
}

/*
 * The path of the running program, for exec(): read once, so that it also
 * names the program under valgrind, which answers for /proc/self/exe.
 */
static inline const char *sr_self_exe(void)
{
	static char path[4096];
	ssize_t n;

	if (!path[0]) {
		n = readlink("/proc/self/exe", path, sizeof(path) - 1);
		SR_CHECK(n > 0);
		path[n] = '\0';
	}
	return path;
}

/* Wait for @pid; return its exit status, or 128 + signal. */
static inline int sr_reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		SR_CHECK(errno == EINTR);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Poll until *@word >= @want, for at most 10 s. */
static inline void sr_await(_Atomic uint32_t *word, uint32_t want)
{
	uint64_t end = sr_now_ns() + 10000000000ull;

	while (atomic_load(word) < want) {
		SR_CHECK(sr_now_ns() < end);
		sr_sleep_us(200);
	}
}

#endif /* CCHAIN_TESTS_SHARED_REGION_H */
