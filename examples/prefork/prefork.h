/* SPDX-License-Identifier: MIT */
/*
 * prefork: a pre-fork pool of worker processes that take records (lines
 * of the input) in order, process them concurrently, and write them to one
 * output file in input order through a shared chain; a supervisor restarts
 * the workers that die.
 *
 * The chain is the queue: compl_chain_shared_add() hands out sequence
 * numbers 1, 2, 3... in chain order, and a worker whose add returned seq
 * takes record seq - 1.  The owner of the turn writes its record at the end
 * of what was committed.  Records whose takers died are written by the next
 * turn's owner, and a turn inherited from a process that died while
 * writing (EOWNERDEAD) first cuts the file back to what was committed.
 */
#ifndef PREFORK_H
#define PREFORK_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <cchain/shared.h>

#define PF_MAX_WORKERS 64

/* The signals that stop the job (unless ignored when prefork starts). */
static const int pf_stop_signals[] = { SIGINT, SIGTERM, SIGHUP };
#define PF_NSTOP (sizeof(pf_stop_signals) / sizeof(pf_stop_signals[0]))

/*
 * The shared region, inherited by the workers across fork(): this header,
 * then rec_off[nrec + 1] (where each record starts in text), end_off[nrec]
 * (where each record ends in the output) and the text of the input.
 */
struct pf_region {
	struct compl_chain_shared chain;
	struct compl_chain_shared_entry entry[PF_MAX_WORKERS]; /* one per worker slot */
	uint64_t nrec;
	uint64_t work_ns;          /* CPU time each record costs */
	_Atomic uint64_t written;  /* records written: the commit point */
	_Atomic uint64_t inherited; /* turns inherited from the dead (EOWNERDEAD) */
	_Atomic uint64_t rewritten; /* records written for a dead taker */
	_Atomic uint64_t withdrawn; /* takers reported withdrawn with their dead process */
	size_t size;               /* of the whole mapping */
};

static inline uint64_t *pf_rec_off(struct pf_region *r)
{
	return (uint64_t *)(r + 1);
}

static inline uint64_t *pf_end_off(struct pf_region *r)
{
	return pf_rec_off(r) + r->nrec + 1;
}

static inline const char *pf_text(struct pf_region *r)
{
	return (const char *)(pf_end_off(r) + r->nrec);
}

/* The output's length once records 0 .. @written - 1 are written: the commit point. */
static inline uint64_t pf_committed(struct pf_region *r, uint64_t written)
{
	return written ? pf_end_off(r)[written - 1] : 0;
}

/* region.c: the input, split into records, in a shared mapping. */
struct pf_region *pf_region_load(int fd, const char *name);
void pf_region_free(struct pf_region *r);

/*
 * worker.c: the worker in slot @slot, forked by the process @supervisor
 * with SIGINT, SIGTERM and SIGHUP blocked; never returns.  It dies when
 * @supervisor does, and any of those signals stops it, at once or, if it
 * holds the turn, once the turn is over: never in the middle of a record.
 */
void pf_worker(struct pf_region *r, unsigned int slot, int out, pid_t supervisor)
	__attribute__((noreturn));

/*
 * supervisor.c: run @workers workers until every record is written.
 * SIGINT, SIGTERM or SIGHUP (unless ignored) stops the job: the workers
 * are killed, the output is cut back to the commit point, and the signal
 * is returned in res->signal.  On any failure too, no worker outlives the
 * call and the output ends at the commit point.
 * Return: 0 when every record is written, else 1.
 */
struct pf_options {
	unsigned int workers;
	unsigned int kill_every_ms; /* 0: no drill */
	unsigned long seed;
};
struct pf_result {
	unsigned long restarts, kills;
	int signal; /* the signal that stopped the job, or 0 */
};
int pf_supervise(struct pf_region *r, int out, const struct pf_options *o,
		 struct pf_result *res);

#endif
