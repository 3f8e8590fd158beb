// SPDX-License-Identifier: MIT
/*
 * The supervisor: forks the workers, one per slot, and restarts a slot's
 * worker when it dies (after compl_chain_shared_reap(), which withdraws
 * the dead worker's entry, so that the new worker may reuse it), until a
 * worker exits having seen every record written.  With a drill interval,
 * it also SIGKILLs a random worker at that interval.
 *
 * It waits for its events with sigwaitinfo(): SIGCHLD and the stop signals
 * stay blocked in it, so a stop signal is never missed between a check and
 * a sleep, and no handler runs in it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/wait.h>

#include "prefork.h"

static pid_t start_worker(struct pf_region *r, unsigned int slot, int out)
{
	pid_t self = getpid(), pid = fork();

	if (pid == 0)
		pf_worker(r, slot, out, self);
	if (pid < 0)
		perror("prefork: fork");
	return pid;
}

/*
 * On failure or a stop signal: no worker outlives the supervisor, none is
 * left in the chain, and the output ends at the commit point (a worker
 * killed in its turn may have written part of a record past it).
 */
static int stop_all(struct pf_region *r, int out, pid_t *pid, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (pid[i] > 0)
			kill(pid[i], SIGKILL);
	for (i = 0; i < n; i++)
		if (pid[i] > 0)
			while (waitpid(pid[i], NULL, 0) < 0 && errno == EINTR)
				;
	compl_chain_shared_reap(&r->chain);
	if (ftruncate(out, (off_t)pf_committed(r, atomic_load(&r->written))))
		perror("prefork: cutting the output back");
	return 1;
}

static uint64_t next_rand(unsigned long *s)
{
	*s = *s * 6364136223846793005u + 1442695040888963407u;
	return *s >> 33;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * The next signal of @set, waiting until CLOCK_MONOTONIC @deadline_ns at
 * most (0: no limit).  Return: the signal, 0 when the time ran out, -1 on
 * an error (errno set).
 */
static int next_signal(const sigset_t *set, uint64_t deadline_ns)
{
	for (;;) {
		uint64_t now = deadline_ns ? mono_ns() : 0, rel;
		struct timespec ts;
		int sig;

		if (deadline_ns) {
			rel = deadline_ns > now ? deadline_ns - now : 0;
			ts.tv_sec = (time_t)(rel / 1000000000u);
			ts.tv_nsec = (long)(rel % 1000000000u);
			sig = sigtimedwait(set, NULL, &ts);
		} else {
			sig = sigwaitinfo(set, NULL);
		}
		if (sig >= 0)
			return sig;
		if (errno == EAGAIN)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/*
 * The drill: SIGKILL a random worker and reap it.  Return: its pid, or 0
 * if there was none to kill, with its status in *@status.
 */
static pid_t drill(pid_t *pid, unsigned int n, unsigned long *seed, int *status,
		   struct pf_result *res)
{
	unsigned int i = (unsigned int)(next_rand(seed) % n);
	pid_t p = 0;

	if (pid[i] > 0 && !kill(pid[i], SIGKILL)) {
		p = waitpid(pid[i], status, 0); /* now, so it is killed once */
		/* Not if it had exited already (a zombie takes signals too). */
		res->kills += p > 0 && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL;
	}
	return p > 0 ? p : 0;
}

static int supervise(struct pf_region *r, int out, const struct pf_options *o,
		     struct pf_result *res, const sigset_t *events)
{
	pid_t pid[PF_MAX_WORKERS];
	unsigned long seed = o->seed;
	uint64_t every_ns = (uint64_t)o->kill_every_ms * 1000000u, next_kill;
	unsigned int i, live = 0;
	bool done = false;
	int status;

	for (i = 0; i < o->workers; i++)
		pid[i] = 0;
	for (i = 0; i < o->workers; i++) {
		pid[i] = start_worker(r, i, out);
		if (pid[i] < 0)
			return stop_all(r, out, pid, o->workers);
		live++;
	}
	next_kill = mono_ns() + every_ns;
	while (live) {
		bool drilling = o->kill_every_ms && !done;
		int sig = next_signal(events, drilling ? next_kill : 0);
		pid_t p = 0;

		if (sig < 0) {
			perror("prefork: sigwaitinfo");
			return stop_all(r, out, pid, o->workers);
		}
		if (sig > 0 && sig != SIGCHLD) {
			res->signal = sig;
			return stop_all(r, out, pid, o->workers);
		}
		if (!sig && drilling) {
			p = drill(pid, o->workers, &seed, &status, res);
			next_kill = mono_ns() + every_ns;
		}
		if (!p)
			p = waitpid(-1, &status, WNOHANG);
		if (p < 0) {
			perror("prefork: waitpid");
			return stop_all(r, out, pid, o->workers);
		}
		for (; p > 0; p = waitpid(-1, &status, WNOHANG)) {
			for (i = 0; i < o->workers && pid[i] != p; i++)
				;
			if (i == o->workers)
				continue;
			pid[i] = 0;
			live--;
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
				done = true; /* it saw every record written */
				continue;
			}
			if (WIFEXITED(status)) /* the worker said why */
				return stop_all(r, out, pid, o->workers);
			/* Killed: withdraw its entry, then give the slot a new worker. */
			compl_chain_shared_reap(&r->chain);
			if (done)
				continue;
			pid[i] = start_worker(r, i, out);
			if (pid[i] < 0)
				return stop_all(r, out, pid, o->workers);
			res->restarts++;
			live++;
		}
	}
	return 0;
}

int pf_supervise(struct pf_region *r, int out, const struct pf_options *o,
		 struct pf_result *res)
{
	struct sigaction old;
	sigset_t events, mask;
	size_t i;
	int ret;

	memset(res, 0, sizeof(*res));
	signal(SIGCHLD, SIG_DFL); /* ignored, it would reap the workers for us */
	sigemptyset(&events);
	sigaddset(&events, SIGCHLD);
	for (i = 0; i < PF_NSTOP; i++) {
		/* A signal the user ignores (nohup) stays ignored. */
		if (!sigaction(pf_stop_signals[i], NULL, &old) && old.sa_handler == SIG_IGN)
			continue;
		sigaddset(&events, pf_stop_signals[i]);
	}
	/* Blocked before the forks: the workers unblock their own. */
	sigprocmask(SIG_BLOCK, &events, &mask);
	ret = supervise(r, out, o, res, &events);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	return ret;
}
