// SPDX-License-Identifier: MIT
/*
 * Kill storm: worker processes append records to one file, in chain order,
 * through a shared chain, while a supervisor SIGKILLs a random worker at
 * random instants (thousands of times a minute) and starts a new one in
 * its place; half the workers use the region inherited across fork(), the
 * other half map it themselves after exec() (the memfd passed over a UNIX
 * socket).  A watchdog fails the run if no record is committed for
 * --stall-timeout seconds.
 *
 * A worker that gets its turn writes its record in two halves at the
 * committed length, then moves the committed length on.  It repairs the
 * file (cuts it back to the committed length) only when the chain tells it
 * that it inherited the turn from a dead process, so a report that is
 * missed leaves a half-written record behind, and the check fails.
 *
 * Checked at the end: every line of the file is a whole record; the
 * records are strictly increasing (no duplicate); every task whose
 * compl_chain_shared_complete() returned has its record there; a turn left
 * by a worker killed while it held it (it had marked the turn taken) was
 * reported to the next owner; every report names a killed worker, and no
 * death is reported twice.  A report's slot whose reporter was killed
 * before it finished recording it is counted apart, not checked.
 *
 * Withdrawn entries: every owner records, by its sequence number, the
 * withdrawn-entries report it is given with its turn.  No worker cancels,
 * so each report covers exactly the numbers between the last task that
 * completed and its own (count = last - first + 1, last = own - 1): tasks
 * whose owners were killed, before their turn or holding it.  Checked: no
 * number is covered by two reports; no completed task's number is covered;
 * every number that was neither completed, nor told its turn, nor covered,
 * lies just below an owner killed after being told its turn and before
 * recording what it was told (counted apart; at most two such owners in a
 * run: that window is about a microsecond, a kill comes every 10 ms or
 * so, so about one run in 10^4 has one, while to this check an owner
 * killed waiting looks the same, and a library that lost the reports of
 * those would show hundreds); the first
 * dead process each report names was killed.
 *
 * Usage: kill_storm [--workers N] [--seconds S] [--kill-interval-ms MS]
 *                   [--stall-timeout S] [--output FILE]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cchain/shared.h>

#include "shared-region.h"

#define MAX_WORKERS 32
#define SLOT_ENTRIES 4
#define MAX_SEQ (1u << 24)
#define MAX_REPORTS 65536
#define MAX_KILLS 65536
#define RECORD_LEN 21 /* "%020llu\n" */

/* A report as recorded: @by is stored last; 0: the reporter was killed first. */
struct report {
	int32_t dead;
	_Atomic int32_t by;
	uint64_t when;
};

/* The withdrawn-entries report given to task @seq, as recorded by its owner. */
struct wd_rec {
	uint32_t count;
	uint32_t first;
	uint32_t last;
	int32_t pid; /* the first dead owner named */
	_Atomic uint32_t state; /* WD_ADDED, then WD_TOLD (stored last) */
};

#define WD_ADDED 1u
#define WD_TOLD 2u

struct kill_rec {
	int32_t pid;
	uint32_t pad;
	uint64_t when;
};

struct storm {
	struct compl_chain_shared chain;
	struct compl_chain_shared_entry e[MAX_WORKERS][SLOT_ENTRIES];
	int out_fd;
	_Atomic uint32_t stop;
	/* The file, and the turn's bookkeeping: written by the turn's holder. */
	_Atomic uint64_t committed_bytes;
	_Atomic uint64_t committed_seq;
	_Atomic uint32_t in_turn;
	_Atomic int32_t turn_pid;
	_Atomic uint32_t missed;    /* turns taken from a dead holder, unreported */
	_Atomic uint32_t errors;
	_Atomic uint32_t nreports;
	_Atomic uint32_t nkills;
	_Atomic uint64_t completed;
	struct report reports[MAX_REPORTS];
	struct kill_rec kills[MAX_KILLS];
	_Atomic uint64_t done[MAX_SEQ / 64]; /* tasks whose complete returned */
	struct wd_rec wd[MAX_SEQ];
};

/* Record what task @seq was told of withdrawn entries, once its turn came. */
static void record_withdrawn(struct storm *s, struct compl_chain_shared_entry *e, uint64_t seq)
{
	struct compl_chain_shared_report r;
	struct wd_rec *w = &s->wd[seq];

	if (compl_chain_shared_withdrawn(e, &r) != 0) {
		atomic_fetch_add(&s->errors, 1);
		return;
	}
	w->count = (uint32_t)r.count;
	w->first = (uint32_t)r.first;
	w->last = (uint32_t)r.last;
	w->pid = r.npids ? r.pids[0] : 0;
	atomic_store(&w->state, WD_TOLD);
}

static struct storm *S;

/* A worker: take tasks until told to stop.  @slot, @gen: which entry. */
static void worker(void *region, int slot, long gen)
{
	struct storm *s = region;
	struct compl_chain_shared_entry *e = &s->e[slot][gen % SLOT_ENTRIES];
	uint64_t seed = ((uint64_t)getpid() << 20) ^ sr_now_ns();
	pid_t me = getpid();

	for (;;) {
		char rec[RECORD_LEN + 1];
		uint64_t seq, off, spin;
		int rc;

		if (atomic_load(&s->stop))
			exit(0);
		seq = compl_chain_shared_add(&s->chain, e);
		if (seq == 0 || seq >= MAX_SEQ) {
			atomic_fetch_add(&s->errors, seq == 0);
			atomic_store(&s->stop, 1);
			compl_chain_shared_cancel(e);
			exit(0);
		}
		atomic_store(&s->wd[seq].state, WD_ADDED);
		/* The task's work, concurrent with the other workers'. */
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		spin = sr_now_ns() + (seed >> 33) % 50000;
		while (sr_now_ns() < spin)
			;
		rc = compl_chain_shared_wait(e);
		if (rc == EOWNERDEAD) {
			uint32_t i = atomic_fetch_add(&s->nreports, 1);

			if (i < MAX_REPORTS) {
				s->reports[i].dead = compl_chain_shared_inherited_from(e);
				s->reports[i].when = sr_now_ns();
				atomic_store(&s->reports[i].by, me);
			}
			/* The repair: cut off what the dead holder half wrote. */
			if (ftruncate(s->out_fd, (off_t)atomic_load(&s->committed_bytes)))
				atomic_fetch_add(&s->errors, 1);
		} else if (rc != 0) {
			atomic_fetch_add(&s->errors, 1);
		} else if (atomic_load(&s->in_turn)) {
			atomic_fetch_add(&s->missed, 1);
		}
		record_withdrawn(s, e, seq);
		atomic_store(&s->turn_pid, me);
		atomic_store(&s->in_turn, 1);
		off = atomic_load(&s->committed_bytes);
		snprintf(rec, sizeof(rec), "%020llu\n", (unsigned long long)seq);
		if (pwrite(s->out_fd, rec, 10, (off_t)off) != 10)
			atomic_fetch_add(&s->errors, 1);
		/* Half a record on disk: a death here needs the repair. */
		spin = sr_now_ns() + (seed >> 40) % 20000;
		while (sr_now_ns() < spin)
			;
		if (pwrite(s->out_fd, rec + 10, RECORD_LEN - 10, (off_t)off + 10) !=
		    RECORD_LEN - 10)
			atomic_fetch_add(&s->errors, 1);
		atomic_store(&s->committed_bytes, off + RECORD_LEN);
		atomic_store(&s->committed_seq, seq);
		atomic_store(&s->in_turn, 0);
		if (compl_chain_shared_complete(e) != 0)
			atomic_fetch_add(&s->errors, 1);
		atomic_fetch_or(&s->done[seq / 64], (uint64_t)1 << (seq % 64));
		atomic_fetch_add(&s->completed, 1);
	}
}

static void run_worker(void *region, int slot, long gen)
{
	worker(region, slot, gen);
}

static void usage(void)
{
	fprintf(stderr, "usage: kill_storm [--workers N] [--seconds S] [--kill-interval-ms MS] "
			"[--stall-timeout S] [--output FILE]\n");
	exit(2);
}

static void fail(const char *msg)
{
	fprintf(stderr, "kill_storm: FAIL: %s\n", msg);
	exit(1);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "workers", required_argument, NULL, 'w' },
		{ "seconds", required_argument, NULL, 's' },
		{ "kill-interval-ms", required_argument, NULL, 'k' },
		{ "stall-timeout", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int nworkers = 6, seconds = 60, interval_ms = 10, stall_s = 5;
	const char *output = NULL;
	char tmpl[] = "/tmp/kill-storm-XXXXXX";
	pid_t pid[MAX_WORKERS];
	unsigned int gen[MAX_WORKERS] = { 0 };
	uint64_t seed = 0x9e3779b97f4a7c15ull, end, last_seq = 0, last_progress;
	uint64_t *lat, nrec, i, prev, missing = 0;
	uint32_t nrep, nkill, nlat = 0, j, dup = 0, unknown = 0, unrecorded = 0, held = 0;
	uint64_t told = 0, wd_reported = 0, wd_bad = 0, wd_dup = 0, wd_lost_with_teller = 0;
	uint64_t wd_unreported = 0, wd_excused = 0, *done_copy;
	uint32_t k, nkill_all;
	struct compl_chain_shared_entry *fin;
	int fd, c, rc;
	struct stat st;
	char *buf;

	if (argc == 6 && !strcmp(argv[1], "--peer"))
		return sr_peer_main(argv, sizeof(*S), run_worker);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'w': nworkers = (unsigned int)atoi(optarg); break;
		case 's': seconds = (unsigned int)atoi(optarg); break;
		case 'k': interval_ms = (unsigned int)atoi(optarg); break;
		case 't': stall_s = (unsigned int)atoi(optarg); break;
		case 'o': output = optarg; break;
		default: usage();
		}
	}
	if (optind != argc || nworkers < 2 || nworkers > MAX_WORKERS || !seconds ||
	    !interval_ms || !stall_s)
		usage();
	/* The hard watchdog, should the supervisor itself hang. */
	alarm(seconds + 10 * stall_s + 60);

	S = sr_create(sizeof(*S), &fd);
	if (compl_chain_shared_init(&S->chain))
		fail("compl_chain_shared_init");
	if (output) {
		S->out_fd = open(output, O_RDWR | O_CREAT | O_TRUNC, 0644);
	} else {
		S->out_fd = mkstemp(tmpl);
		output = tmpl;
	}
	if (S->out_fd < 0)
		fail("cannot create the output file");
	for (j = 0; j < nworkers; j++)
		pid[j] = sr_spawn(j & 1 ? SR_MAPPED : SR_FORK, sr_self_exe(), S, fd,
				  sizeof(*S), run_worker, (int)j, 0);

	end = sr_now_ns() + (uint64_t)seconds * 1000000000u;
	last_progress = sr_now_ns();
	while (sr_now_ns() < end && !atomic_load(&S->stop)) {
		uint64_t now, seq;
		unsigned int w;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		sr_sleep_us((seed >> 33) % (2000u * interval_ms));
		w = (unsigned int)((seed >> 17) % nworkers);
		/* One kill in three aims at the turn's holder (within 2 ms). */
		if ((seed >> 45) % 3 == 0) {
			uint64_t until = sr_now_ns() + 2000000u;
			pid_t holder;

			while (!atomic_load(&S->in_turn) && sr_now_ns() < until)
				;
			holder = atomic_load(&S->turn_pid);

			for (j = 0; j < nworkers; j++)
				if (pid[j] == holder)
					w = j;
		}
		k = atomic_fetch_add(&S->nkills, 1);
		if (k >= MAX_KILLS)
			break;
		S->kills[k].pid = pid[w];
		S->kills[k].when = sr_now_ns();
		if (atomic_load(&S->in_turn) && atomic_load(&S->turn_pid) == pid[w])
			held++;
		kill(pid[w], SIGKILL);
		/* A new worker, on an entry of the slot that is not pending. */
		do {
			gen[w]++;
		} while (compl_chain_shared_pending(&S->e[w][gen[w] % SLOT_ENTRIES]) &&
			 gen[w] % SLOT_ENTRIES);
		if (compl_chain_shared_pending(&S->e[w][gen[w] % SLOT_ENTRIES])) {
			/* All four still held by the dead: withdraw them now. */
			while (waitpid(pid[w], NULL, 0) < 0 && errno == EINTR)
				;
			compl_chain_shared_reap(&S->chain);
		}
		pid[w] = sr_spawn(w & 1 ? SR_MAPPED : SR_FORK, sr_self_exe(), S, fd,
				  sizeof(*S), run_worker, (int)w, gen[w]);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		/* Watchdog. */
		now = sr_now_ns();
		seq = atomic_load(&S->committed_seq);
		if (seq != last_seq) {
			last_seq = seq;
			last_progress = now;
		} else if (now - last_progress > (uint64_t)stall_s * 1000000000u) {
			fprintf(stderr, "kill_storm: no record committed for %u s (last %llu)\n",
				stall_s, (unsigned long long)seq);
			atomic_store(&S->stop, 1);
			for (j = 0; j < nworkers; j++)
				kill(pid[j], SIGKILL);
			fail("stalled");
		}
	}
	atomic_store(&S->stop, 1);
	end = sr_now_ns() + (uint64_t)stall_s * 2000000000u;
	for (j = 0; j < nworkers; j++) {
		for (;;) {
			rc = waitpid(pid[j], &c, WNOHANG);
			if (rc == pid[j] || (rc < 0 && errno == ECHILD))
				break;
			if (sr_now_ns() > end) {
				kill(pid[j], SIGKILL);
				fail("a worker did not stop");
			}
			sr_sleep_us(1000);
		}
		if (rc == pid[j] && !(WIFEXITED(c) && WEXITSTATUS(c) == 0) &&
		    !(WIFSIGNALED(c) && WTERMSIG(c) == SIGKILL))
			fail("a worker failed");
	}
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;

	/* The supervisor takes the last turn, as any owner: repair if told. */
	compl_chain_shared_reap(&S->chain);
	fin = &S->e[0][0];
	while (compl_chain_shared_pending(fin))
		fin++;
	last_seq = compl_chain_shared_add(&S->chain, fin);
	if (!last_seq || last_seq >= MAX_SEQ)
		fail("the last add");
	rc = compl_chain_shared_wait(fin);
	record_withdrawn(S, fin, last_seq);
	if (rc == EOWNERDEAD) {
		j = atomic_fetch_add(&S->nreports, 1);
		S->reports[j].dead = compl_chain_shared_inherited_from(fin);
		S->reports[j].when = sr_now_ns();
		atomic_store(&S->reports[j].by, getpid());
		if (ftruncate(S->out_fd, (off_t)S->committed_bytes))
			fail("ftruncate");
	} else if (S->in_turn) {
		S->missed++;
	}
	compl_chain_shared_complete(fin);
	if (!compl_chain_shared_empty(&S->chain))
		fail("chain not empty at the end");

	/* The file. */
	if (fstat(S->out_fd, &st) || (uint64_t)st.st_size != S->committed_bytes ||
	    st.st_size % RECORD_LEN)
		fail("file length is not the committed length, in whole records");
	nrec = (uint64_t)st.st_size / RECORD_LEN;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf || pread(S->out_fd, buf, (size_t)st.st_size, 0) != st.st_size)
		fail("cannot read the output");
	/* The tasks whose complete returned, before the scan below clears them. */
	done_copy = malloc(sizeof(S->done));
	if (!done_copy)
		fail("out of memory");
	for (i = 0; i < MAX_SEQ / 64; i++)
		done_copy[i] = atomic_load(&S->done[i]);
	nkill_all = atomic_load(&S->nkills);
	if (nkill_all > MAX_KILLS)
		nkill_all = MAX_KILLS;
	prev = 0;
	for (i = 0; i < nrec; i++) {
		char *r = buf + i * RECORD_LEN, *endp;
		unsigned long long v;

		if (r[RECORD_LEN - 1] != '\n')
			fail("a record is not whole");
		r[RECORD_LEN - 1] = '\0';
		v = strtoull(r, &endp, 10);
		if (*endp || endp != r + RECORD_LEN - 1)
			fail("a record is garbled");
		if (v <= prev)
			fail("records are not strictly increasing");
		/* Clear the done bit: what stays set afterwards is missing. */
		if (v < MAX_SEQ)
			atomic_fetch_and(&S->done[v / 64], ~((uint64_t)1 << (v % 64)));
		prev = v;
	}
	for (i = 0; i < MAX_SEQ / 64; i++)
		missing += (uint64_t)__builtin_popcountll(S->done[i]);

	/*
	 * Withdrawn entries.  Scanning down from the last number: a run of
	 * numbers neither completed, told nor covered must end just below an
	 * owner killed between being told its turn and recording it (state
	 * WD_ADDED: it is itself covered by the next report).
	 */
	{
		uint8_t *cov = calloc(last_seq + 1, 1);
		uint64_t s, t;

		if (!cov)
			fail("out of memory");
		for (s = 1; s <= last_seq; s++) {
			struct wd_rec *w = &S->wd[s];

			if (atomic_load(&w->state) != WD_TOLD || !w->count)
				continue;
			told++;
			wd_reported += w->count;
			if (w->last != s - 1 || w->first < 1 ||
			    w->count != w->last - w->first + 1) {
				fprintf(stderr, "kill_storm: task %llu told of %u withdrawn, %u..%u\n",
					(unsigned long long)s, w->count, w->first, w->last);
				wd_bad++;
				continue;
			}
			for (k = 0; k < nkill_all && S->kills[k].pid != w->pid; k++)
				;
			if (k == nkill_all)
				wd_bad++; /* names a process never killed */
			for (t = w->first; t <= w->last; t++) {
				if (cov[t]++)
					wd_dup++;
				if (done_copy[t / 64] >> (t % 64) & 1)
					wd_bad++; /* completed, yet reported withdrawn */
			}
		}
		for (s = last_seq; s >= 1; s--) {
			if (cov[s] || atomic_load(&S->wd[s].state) == WD_TOLD ||
			    done_copy[s / 64] >> (s % 64) & 1)
				continue;
			/* An uncovered run: what lies above it? */
			t = s + 1;
			if (t <= last_seq && atomic_load(&S->wd[t].state) == WD_ADDED && cov[t]) {
				wd_excused++;
				while (s >= 1 && !cov[s] && atomic_load(&S->wd[s].state) != WD_TOLD &&
				       !(done_copy[s / 64] >> (s % 64) & 1)) {
					wd_lost_with_teller++;
					s--;
				}
				s++;
				continue;
			}
			fprintf(stderr, "kill_storm: task %llu was neither completed, told its turn "
					"nor reported withdrawn\n", (unsigned long long)s);
			wd_unreported++;
		}
		free(cov);
	}

	/* The reports: each names a killed worker, no death twice. */
	nrep = atomic_load(&S->nreports);
	nkill = atomic_load(&S->nkills);
	if (nrep > MAX_REPORTS || nkill > MAX_KILLS)
		fail("too many reports or kills for the tables");
	lat = calloc(nrep + 1, sizeof(*lat));
	{
		uint32_t *used = calloc(nkill + 1, sizeof(*used));

		for (j = 0; j < nrep; j++) {
			int64_t best = -1;

			/* Its reporter was killed before recording it: nothing to check. */
			if (!atomic_load(&S->reports[j].by)) {
				unrecorded++;
				continue;
			}

			/* The latest kill of that process id before the report. */
			for (k = 0; k < nkill; k++)
				if (S->kills[k].pid == S->reports[j].dead &&
				    S->kills[k].when <= S->reports[j].when)
					best = k;
			if (best < 0) {
				int64_t after = -1;

				for (k = 0; k < nkill && after < 0; k++)
					if (S->kills[k].pid == S->reports[j].dead)
						after = k;
				fprintf(stderr,
					"kill_storm: report %u by pid %d names pid %d, not killed "
					"before it (%s)\n",
					j, (int)S->reports[j].by, (int)S->reports[j].dead,
					after < 0 ? "never killed" : "killed only later");
				unknown++;
				continue;
			}
			if (used[best]++)
				dup++;
			lat[nlat++] = S->reports[j].when - S->kills[best].when;
		}
		free(used);
	}
	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	printf("kill_storm: %u workers, %u s, %u kills, %llu tasks completed, %llu records, "
	       "%u inherited turns reported\n",
	       nworkers, seconds, nkill, (unsigned long long)S->completed,
	       (unsigned long long)nrec, nrep);
	if (nlat)
		printf("kill_storm: kill to report: median %.1f ms, max %.1f ms\n",
		       (double)lat[nlat / 2] / 1e6, (double)lat[nlat - 1] / 1e6);
	printf("kill_storm: %u kills hit the turn's holder, %u reporters killed before "
	       "recording their report\n",
	       held, unrecorded);
	printf("kill_storm: missing %llu, missed reports %u, reports of the living %u, "
	       "duplicate reports %u, errors %u\n",
	       (unsigned long long)missing, S->missed, unknown, dup, S->errors);
	printf("kill_storm: withdrawn entries: %llu reported in %llu reports; %llu told to %llu "
	       "owners killed before recording it (at most 2); reported twice %llu, wrongly %llu, "
	       "never %llu\n",
	       (unsigned long long)wd_reported, (unsigned long long)told,
	       (unsigned long long)wd_lost_with_teller, (unsigned long long)wd_excused,
	       (unsigned long long)wd_dup,
	       (unsigned long long)wd_bad, (unsigned long long)wd_unreported);
	free(done_copy);
	free(lat);
	free(buf);
	if (!output[0] || strcmp(output, tmpl) == 0)
		unlink(tmpl);
	if (missing || S->missed || unknown || dup || S->errors || nkill < 100 || !nrep ||
	    wd_dup || wd_bad || wd_unreported || wd_excused > 2 || !wd_reported)
		fail("see above");
	printf("kill_storm: OK\n");
	return 0;
}
