// SPDX-License-Identifier: MIT
/*
 * The supervisor: forks the workers, one per slot, and restarts a slot's
 * worker when it dies (after compl_chain_shared_reap(), which withdraws
 * the dead worker's entry, so that the new worker may reuse it), until a
 * worker exits having seen every record written.  With a drill interval,
 * it also SIGKILLs a random worker at that interval.
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
	pid_t pid = fork();

	if (pid == 0)
		pf_worker(r, slot, out);
	if (pid < 0)
		perror("prefork: fork");
	return pid;
}

/* On failure: no worker outlives the supervisor, and none is left in the chain. */
static int stop_all(struct pf_region *r, pid_t *pid, unsigned int n)
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
	return 1;
}

static uint64_t next_rand(unsigned long *s)
{
	*s = *s * 6364136223846793005u + 1442695040888963407u;
	return *s >> 33;
}

int pf_supervise(struct pf_region *r, int out, const struct pf_options *o,
		 struct pf_result *res)
{
	pid_t pid[PF_MAX_WORKERS];
	unsigned long seed = o->seed;
	unsigned int i, live = 0;
	bool done = false;
	int status;

	memset(res, 0, sizeof(*res));
	for (i = 0; i < o->workers; i++)
		pid[i] = 0;
	for (i = 0; i < o->workers; i++) {
		pid[i] = start_worker(r, i, out);
		if (pid[i] < 0)
			return stop_all(r, pid, o->workers);
		live++;
	}
	while (live) {
		pid_t p;

		if (o->kill_every_ms && !done) {
			struct timespec ts = { (time_t)(o->kill_every_ms / 1000),
					       (long)(o->kill_every_ms % 1000) * 1000000 };

			nanosleep(&ts, NULL);
			i = (unsigned int)(next_rand(&seed) % o->workers);
			p = 0;
			if (pid[i] > 0 && !kill(pid[i], SIGKILL)) {
				p = waitpid(pid[i], &status, 0); /* now, so it is killed once */
				/* Not if it had exited already (a zombie takes signals too). */
				res->kills += p > 0 && WIFSIGNALED(status) &&
					      WTERMSIG(status) == SIGKILL;
			}
			if (p <= 0)
				p = waitpid(-1, &status, WNOHANG);
		} else {
			p = waitpid(-1, &status, 0);
		}
		if (p < 0 && errno != EINTR) {
			perror("prefork: waitpid");
			return stop_all(r, pid, o->workers);
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
				return stop_all(r, pid, o->workers);
			/* Killed: withdraw its entry, then give the slot a new worker. */
			compl_chain_shared_reap(&r->chain);
			if (done)
				continue;
			pid[i] = start_worker(r, i, out);
			if (pid[i] < 0)
				return stop_all(r, pid, o->workers);
			res->restarts++;
			live++;
		}
	}
	return 0;
}
