// SPDX-License-Identifier: MIT
/*
 * A worker: take a record by adding an entry to the chain, process it
 * while earlier records are still being processed, then, in its turn,
 * write it at the end of the output.
 *
 * Contract with the other workers (all of it happens in a turn, so one
 * worker at a time, in record order): the output holds exactly records
 * 0 .. written-1, the last one ending at end_off[written - 1].  Writing
 * record k: pwrite() it there, set end_off[k], then written = k + 1 (the
 * commit point).  A worker that dies before the commit point leaves at
 * most a partial record past it: the next owner of the turn is told so by
 * EOWNERDEAD and cuts the file back.  Records whose takers died before
 * writing them are written by the next owner of the turn, before its own:
 * the commit point says which records are missing (a report of withdrawn
 * takers is told once, and its owner may die before acting on it), the
 * chain's report of withdrawn entries says who died, and must cover the
 * taker of the record just before the worker's own when that one is
 * missing (checked: the worker exits with an error otherwise).
 *
 * Stopped (SIGINT, SIGTERM, SIGHUP, or the supervisor's death) while it
 * holds the turn, a worker dies only once the turn is over, so that the
 * output ends at the commit point even with no supervisor left to cut it
 * back.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/prctl.h>

#include "prefork.h"

/* Record @k's text and length (without its newline). */
static const char *record(struct pf_region *r, uint64_t k, size_t *len)
{
	uint64_t a = pf_rec_off(r)[k], b = pf_rec_off(r)[k + 1];

	*len = (size_t)(b - a - 1);
	return pf_text(r) + a;
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * The processing: FNV-1a over the record, repeated until the record has
 * cost work_ns of CPU time.  Output line: number, hash, the record.
 * Return: a malloc()ed line; its length in *@n.
 */
static char *process(struct pf_region *r, uint64_t k, size_t *n)
{
	uint64_t h = 14695981039346656037u, start = cpu_ns(), i;
	size_t len;
	const char *text = record(r, k, &len);
	char *line = malloc(len + 48);

	if (!line) {
		perror("prefork: worker");
		exit(1);
	}
	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)text[i]) * 1099511628211u;
	if (r->work_ns) {
		uint64_t x = h;

		while (cpu_ns() - start < r->work_ns)
			for (i = 0; i < 64; i++)
				x = (x ^ i) * 1099511628211u;
		__asm__ volatile("" : : "r"(x));
	}
	*n = (size_t)sprintf(line, "%" PRIu64 "\t%016" PRIx64 "\t", k + 1, h);
	memcpy(line + *n, text, len);
	*n += len;
	line[(*n)++] = '\n';
	return line;
}

/* Write record @k, the next one due (turn held). */
static void write_record(struct pf_region *r, int out, uint64_t k, const char *line, size_t n)
{
	uint64_t off = pf_committed(r, k);
	size_t done = 0;
	ssize_t w;

	while (done < n) {
		w = pwrite(out, line + done, n - done, (off_t)(off + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			perror("prefork: writing the output");
			exit(1);
		}
		done += (size_t)w;
	}
	pf_end_off(r)[k] = off + n;
	atomic_store_explicit(&r->written, k + 1, memory_order_relaxed); /* commit */
}

static volatile sig_atomic_t in_turn; /* the worker holds the turn */
static volatile sig_atomic_t deferred; /* the stop signal that came during it */

/* Die of @sig with its default action. */
static void die_of(int sig)
{
	signal(sig, SIG_DFL);
	raise(sig);
}

static void on_stop(int sig)
{
	if (in_turn)
		deferred = sig;
	else
		die_of(sig); /* delivered once this returns: it is blocked meanwhile */
}

static void set_in_turn(bool held)
{
	atomic_signal_fence(memory_order_seq_cst);
	in_turn = held;
	atomic_signal_fence(memory_order_seq_cst);
	if (!held && deferred)
		die_of(deferred);
}

/* Tie the worker's life to the supervisor's, and take its stop signals. */
static void watch(pid_t supervisor)
{
	struct sigaction sa, old;
	sigset_t set;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&set);
	for (i = 0; i < PF_NSTOP; i++)
		sigaddset(&set, pf_stop_signals[i]);
	sa.sa_mask = set;
	for (i = 0; i < PF_NSTOP; i++) {
		/* A signal the user ignores (nohup) stays ignored; SIGTERM is the death signal. */
		if (pf_stop_signals[i] != SIGTERM && !sigaction(pf_stop_signals[i], NULL, &old) &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaction(pf_stop_signals[i], &sa, NULL);
	}
	/*
	 * SIGTERM, not SIGKILL, when the supervisor dies: no one is left to cut
	 * the output back to the commit point, so a worker that holds the turn
	 * must finish its records first (on_stop defers SIGTERM to the end of
	 * the turn); SIGKILL could stop it in the middle of a pwrite() and leave
	 * part of a record at the end of the output.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM)) {
		perror("prefork: worker: prctl(PR_SET_PDEATHSIG)");
		exit(1);
	}
	/* The supervisor may have died before the prctl(): no signal would come. */
	if (getppid() != supervisor)
		_exit(1);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

void pf_worker(struct pf_region *r, unsigned int slot, int out, pid_t supervisor)
{
	struct compl_chain_shared_entry *e = &r->entry[slot];
	struct compl_chain_shared_report gone;
	uint64_t k, w;
	size_t n = 0;
	char *line;
	int rc;

	watch(supervisor);
	for (;;) {
		k = compl_chain_shared_add(&r->chain, e); /* take record k - 1 */
		if (!k--) {
			fprintf(stderr, "prefork: worker %u: its entry is still in the chain\n", slot);
			exit(1);
		}
		line = k < r->nrec ? process(r, k, &n) : NULL;
		rc = compl_chain_shared_wait(e);
		set_in_turn(true);
		if (rc && rc != EOWNERDEAD) {
			fprintf(stderr, "prefork: worker %u: waiting for the turn: %s\n", slot,
				strerror(rc));
			exit(1);
		}
		w = atomic_load_explicit(&r->written, memory_order_relaxed);
		if (rc == EOWNERDEAD) {
			/* The dead owner may have left part of a record past the commit point. */
			atomic_fetch_add(&r->inherited, 1);
			if (ftruncate(out, (off_t)pf_committed(r, w))) {
				perror("prefork: cutting the output back");
				exit(1);
			}
		}
		/* Who died before the turn came: record k - 1's taker, if it is missing. */
		rc = compl_chain_shared_withdrawn(e, &gone);
		if (rc) {
			fprintf(stderr, "prefork: worker %u: the report of withdrawn takers: %s\n",
				slot, strerror(rc));
			exit(1);
		}
		if (w < k && k <= r->nrec && (!gone.count || gone.last != k)) {
			fprintf(stderr,
				"prefork: worker %u: record %" PRIu64 " is missing, but its taker "
				"was not reported withdrawn\n",
				slot, k);
			exit(1);
		}
		atomic_fetch_add(&r->withdrawn, gone.count);
		/* Records of takers that died before writing them. */
		for (; w < k && w < r->nrec; w++) {
			size_t m;
			char *other = process(r, w, &m);

			write_record(r, out, w, other, m);
			free(other);
			atomic_fetch_add(&r->rewritten, 1);
		}
		if (line)
			write_record(r, out, k, line, n);
		free(line);
		compl_chain_shared_complete(e);
		set_in_turn(false);
		if (k >= r->nrec)
			exit(0); /* every record was taken, and those before are written */
	}
}
