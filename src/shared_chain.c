// SPDX-License-Identifier: MIT
/*
 * Shared chains: a FIFO of entries in shared memory, under one lock word,
 * linked by offsets from the chain.  Every change to the list is made with
 * the lock held; an owner learns that its turn came from its entry's state
 * word, lock-free, and sleeps on it with a shared futex.
 *
 * The lock word names its holder: process id (bits 0-30), WAITERS (bit 31:
 * somebody sleeps on the low half, a shared futex) and the low 32 bits of
 * the holder's start time (bits 32-63), so that a process id reused by
 * another process is told apart.  Taken with one compare-and-swap from 0,
 * released with one exchange.  A process that finds it held sleeps on the
 * low half, 1 ms first, then at most CCHAIN_SHARED_DETECT_MS at a time;
 * between sleeps it checks whether the holder died, and if so takes the
 * lock over with a compare-and-swap from the very word it found (so two
 * processes never both take over one dead holder's lock) and finishes the
 * dead holder's step, as below.  The threads of one process are one
 * holder: a thread never takes the lock over from its own process.
 *
 * State word (struct compl_chain_shared_entry.state):
 *
 *   SLEEPING  the owner sleeps on the word (or is about to)
 *   READY     the turn has come (set once, with the lock held)
 *   SEEN      the owner was told that its turn came (set by the owner)
 *   INHERIT   the turn came from a dead process that had seen its turn,
 *             not reported yet (cleared by the owner as it reports it)
 *
 * Death of a participant.  Every change to the list is one step, described
 * by the intent record in the chain before its first store to the list and
 * cleared after its last; each step is idempotent, so a process that gets
 * the lock over from a dead holder redoes the dead holder's step, from the
 * record, before anything else.  The turn-giver sets READY on a linked
 * entry with a compare-and-swap from a state without READY, so a redo never
 * gives a turn twice (nor reports an inheritance twice); an add gives the
 * turn to its own entry, which nobody else writes, with a store.  Once
 * READY is set only the owner writes the state word, with stores.  Entries
 * of dead processes are withdrawn (unlinked as if cancelled) by whoever takes the lock after noticing that
 * the owner of the head died: waiters check it every CCHAIN_SHARED_DETECT_MS,
 * and so does a process that repairs a dead holder's step.
 *
 * The stores of a step are atomic, and a compiler barrier keeps them in
 * program order: a process killed between two of them has made exactly the
 * first ones visible: the kernel's exit path, which a process that takes
 * the lock over has seen completed (through /proc), orders everything the
 * dead process stored before.
 *
 * The flush generation (chain->gen) is written by lock holders only; a
 * flusher that is about to sleep sets its bit 0 with the lock held.
 *
 * Withdrawn-entries reports.  Each entry carries the report of the entries
 * withdrawn before it (written by lock holders only, before the turn is
 * given: its owner reads it once it saw READY); the chain's slot carries
 * those withdrawn behind the last entry, for the next add.  An entry that
 * leaves passes its own report on, unless its owner saw its turn, and adds
 * itself when it leaves with its dead owner.  The target's new report is
 * computed into the intent record and stored from there, so that a redo
 * stores the same values again.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/futex.h>
#include <sys/syscall.h>

#include <urcu/arch.h>

#include <cchain/shared.h>

#include "cchain-internal.h"

#define ST_SLEEPING 1u
#define ST_READY 2u
#define ST_SEEN 4u
#define ST_INHERIT 8u

#define CHAIN_MAGIC 0x63636873u /* "cchs" */

enum intent_op {
	OP_NONE = 0,
	OP_ADD,    /* link .entry after .prev, as the tail */
	OP_UNLINK, /* unlink .entry from between .prev and .next; pass the turn */
};

typedef struct compl_chain_shared chain_t;
typedef struct compl_chain_shared_entry entry_t;
typedef struct compl_chain_shared_report report_t;

/* Keep the stores of a step in program order (see above). */
#define step_barrier() atomic_signal_fence(memory_order_seq_cst)

static entry_t *at(chain_t *chain, int64_t off)
{
	return off ? (entry_t *)((char *)chain + off) : NULL;
}

/* @e's offset from @chain; @e is an entry, never NULL (0 would mean none). */
static int64_t off_of(chain_t *chain, entry_t *e)
{
	return (int64_t)((char *)e - (char *)chain);
}

/* ---- who we are, and whether others are alive ----------------------------- */

struct identity {
	pid_t pid;
	uint64_t start;
};

/* Written under self_lock, read once self_valid is seen true (acquire). */
static struct identity self;
static _Atomic bool self_valid;
static pthread_mutex_t self_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

/* fork(): the child is another process; it reads its identity anew. */
static void self_prepare(void)
{
	pthread_mutex_lock(&self_lock);
}

static void self_parent(void)
{
	pthread_mutex_unlock(&self_lock);
}

static void self_forget(void)
{
	atomic_store_explicit(&self_valid, false, memory_order_relaxed);
	pthread_mutex_unlock(&self_lock);
}

static void self_register(void)
{
	pthread_atfork(self_prepare, self_parent, self_forget);
}

/*
 * Read the state letter, number of threads and start time of process @pid.
 * Raw system calls: open(), read() and close() are cancellation points,
 * and this runs with the chain's lock held.
 * Return: 0, or an error number (the file could not be read or parsed).
 */
static int proc_stat(pid_t pid, char *state, long *threads, uint64_t *start)
{
	char path[64], buf[1024], *p;
	unsigned long long st;
	long n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
	syscall(SYS_close, fd);
	if (n <= 0)
		return n < 0 ? errno : EIO;
	buf[n] = '\0';
	/* pid (comm) state ppid ... starttime is field 22; comm may hold spaces. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return EIO;
	p += 2;
	*state = *p;
	for (i = 3; i < 22; i++) {
		p = strchr(p, ' ');
		if (!p)
			return EIO;
		p++;
		if (i == 19 && sscanf(p, "%ld", threads) != 1) /* field 20: num_threads */
			return EIO;
	}
	if (sscanf(p, "%llu", &st) != 1)
		return EIO;
	*start = st;
	return 0;
}

static const struct identity *whoami_slow(void);

/* This process's identity; reads /proc once per process. */
static inline const struct identity *whoami(void)
{
	if (__builtin_expect(atomic_load_explicit(&self_valid, memory_order_acquire), 1))
		return &self;
	return whoami_slow();
}

static __attribute__((noinline)) const struct identity *whoami_slow(void)
{
	long threads;
	char st;

	pthread_once(&self_once, self_register);
	pthread_mutex_lock(&self_lock);
	if (!atomic_load_explicit(&self_valid, memory_order_relaxed)) {
		self.pid = getpid();
		if (proc_stat(self.pid, &st, &threads, &self.start))
			self.start = 0; /* no /proc: process ids alone */
		atomic_store_explicit(&self_valid, true, memory_order_release);
	}
	pthread_mutex_unlock(&self_lock);
	return &self;
}

/*
 * A start time as kept: whole (@low32 false), or its low 32 bits, never 0
 * for a known start time (0 means unknown).
 */
static uint64_t start_key(uint64_t start, bool low32)
{
	if (!low32)
		return start;
	return (uint32_t)start ? (uint32_t)start : start != 0;
}

/*
 * Has process @pid, started at @start (as start_key(.., @low32) keeps it;
 * 0: unknown), died, or been reaped and its id reused?  A zombie thread
 * group leader whose other threads still run (its main thread called
 * pthread_exit()) is alive.  Without a readable /proc/PID/stat (no /proc,
 * hidepid, another user's process), a process that the kernel still knows
 * (kill(pid, 0)) counts as alive: zombies until they are waited for, and
 * a reused id, are then not told apart; a live process is never taken for
 * dead.
 */
static bool process_dead(pid_t pid, uint64_t start, bool low32)
{
	const struct identity *me = whoami();
	uint64_t now;
	long threads = 0;
	char st;

	if (pid == me->pid) /* us, or a dead process whose id we got */
		return start && me->start && start_key(me->start, low32) != start;
	if (proc_stat(pid, &st, &threads, &now))
		return kill(pid, 0) && errno == ESRCH;
	if (start && start_key(now, low32) != start)
		return true;
	return (st == 'Z' || st == 'X' || st == 'x') && threads <= 1;
}

/* The process that added @e: its id and start time. */
static inline struct identity owner_of(const entry_t *e)
{
	struct identity id = { cc_load_relaxed(&e->pid), cc_load_relaxed(&e->start) };

	return id;
}

/* Are @a and @b one process?  Never by process id alone: ids are reused. */
static inline bool same_process(const struct identity *a, const struct identity *b)
{
	return a->pid == b->pid && a->start == b->start;
}

/* Has the process that added @e died (or been reaped and its id reused)? */
static bool owner_dead(const entry_t *e)
{
	struct identity id = owner_of(e);

	return process_dead(id.pid, id.start, false);
}

/* ---- futexes (shared: the word may be mapped at different addresses) ------ */

static void futex_wake_all(void *word, int n)
{
	if (syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0) < 0 && errno != EFAULT)
		CC_DIE("futex(FUTEX_WAKE)", errno);
}

/* Sleep while *@word == @val, for at most @ns. */
static void futex_sleep(void *word, uint32_t val, uint64_t ns)
{
	struct timespec rel = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };

	if (syscall(SYS_futex, word, FUTEX_WAIT, val, &rel, NULL, 0) < 0 && errno != EAGAIN &&
	    errno != EINTR && errno != ETIMEDOUT)
		CC_DIE("futex(FUTEX_WAIT)", errno);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- withdrawn-entries reports (see the top of the file) ------------------ */

/*
 * Reports are rare (an entry withdrawn with its dead owner): their helpers
 * stay off the hot paths' code.
 */
#define REPORT_FN __attribute__((cold, noinline))

/* Read a report in shared memory (lock held, or by its owner after SEEN). */
static REPORT_FN void report_load(report_t *dst, const report_t *src)
{
	unsigned int i;

	memset(dst, 0, sizeof(*dst));
	dst->count = cc_load_relaxed(&src->count);
	if (!dst->count)
		return;
	dst->first = cc_load_relaxed(&src->first);
	dst->last = cc_load_relaxed(&src->last);
	dst->npids = cc_load_relaxed(&src->npids);
	dst->more_pids = cc_load_relaxed(&src->more_pids);
	if (dst->npids > CCHAIN_SHARED_REPORT_PIDS)
		dst->npids = CCHAIN_SHARED_REPORT_PIDS;
	for (i = 0; i < dst->npids; i++)
		dst->pids[i] = cc_load_relaxed(&src->pids[i]);
}

/* Write a report into shared memory (lock held). */
static REPORT_FN void report_store(report_t *dst, const report_t *src)
{
	unsigned int i;

	cc_store_relaxed(&dst->first, src->first);
	cc_store_relaxed(&dst->last, src->last);
	cc_store_relaxed(&dst->npids, src->npids);
	cc_store_relaxed(&dst->more_pids, src->more_pids);
	for (i = 0; i < src->npids; i++)
		cc_store_relaxed(&dst->pids[i], src->pids[i]);
	cc_store_relaxed(&dst->count, src->count);
}

static REPORT_FN void report_add_pid(report_t *r, int32_t pid)
{
	unsigned int i;

	for (i = 0; i < r->npids; i++)
		if (r->pids[i] == pid)
			return;
	if (r->npids < CCHAIN_SHARED_REPORT_PIDS)
		r->pids[r->npids++] = pid;
	else
		r->more_pids = 1;
}

/* Add the entries @src counts (at least one) to @dst. */
static REPORT_FN void report_merge(report_t *dst, const report_t *src)
{
	unsigned int i;

	if (!dst->count || src->first < dst->first)
		dst->first = src->first;
	if (!dst->count || src->last > dst->last)
		dst->last = src->last;
	dst->count += src->count;
	for (i = 0; i < src->npids; i++)
		report_add_pid(dst, src->pids[i]);
	if (src->more_pids)
		dst->more_pids = 1;
}

/* ---- the steps, each redone from the intent record after a death ---------- */

/*
 * Give @e the turn (lock held), unless it has it.  @inherit: it comes from
 * the dead process @dead, which had seen its turn.  Return: whether its
 * owner sleeps and must be woken once the lock is released.
 */
static bool give_turn(entry_t *e, bool inherit, pid_t dead)
{
	_Atomic uint32_t *state = CC_ATOMIC(&e->state);
	uint32_t old = atomic_load_explicit(state, memory_order_relaxed), want;

	if (inherit)
		cc_store_relaxed(&e->dead, (int32_t)dead);
	do {
		if (old & ST_READY)
			return false;
		want = old | ST_READY | (inherit ? ST_INHERIT : 0);
	} while (!atomic_compare_exchange_weak_explicit(state, &old, want, memory_order_acq_rel,
							memory_order_relaxed));
	return old & ST_SLEEPING;
}

/*
 * Record the step about to be taken.  @report: the report the step stores
 * (into its entry, for an add; into the successor or the chain's slot, for
 * an unlink), or NULL for none.
 */
static inline void set_intent(chain_t *chain, uint32_t op, entry_t *e, int64_t prev,
			      int64_t next, bool inherit, pid_t dead, uint64_t seq,
			      const report_t *report)
{
	struct compl_chain_shared_intent *in = &chain->intent;

	if (report)
		report_store(&in->report, report);
	cc_store_relaxed(&in->withdrawn, (uint32_t)(report != NULL));
	cc_store_relaxed(&in->entry, off_of(chain, e));
	cc_store_relaxed(&in->prev, prev);
	cc_store_relaxed(&in->next, next);
	cc_store_relaxed(&in->inherit, (uint32_t)inherit);
	cc_store_relaxed(&in->dead, (int32_t)dead);
	cc_store_relaxed(&in->seq, seq);
	step_barrier();
	cc_store_relaxed(&in->op, op);
	step_barrier();
}

static inline void clear_intent(chain_t *chain)
{
	step_barrier();
	cc_store_relaxed(&chain->intent.op, (uint32_t)OP_NONE);
	step_barrier();
}

/*
 * OP_ADD: link @e after @prev (lock held).  @e's state word was zeroed by
 * its owner, the adder, before the lock was taken, and nobody else writes
 * it: the turn is given with a store (redone, the same store).  @e's
 * sequence number is stored before the first store to the chain: redo()
 * tells from it whether the chain was touched.  @e's report is the chain's
 * slot, from the intent (the slot is emptied after), or none.
 */
static inline void do_add(chain_t *chain, entry_t *e, int64_t prev, bool inherit,
			  pid_t dead, uint64_t seq)
{
	int64_t off = off_of(chain, e);
	bool withdrawn = cc_load_relaxed(&chain->intent.withdrawn);

	if (withdrawn) {
		report_t r;

		report_load(&r, &chain->intent.report);
		report_store(&e->withdrawn, &r);
	} else {
		cc_store_relaxed(&e->withdrawn.count, (uint64_t)0);
	}
	cc_store_relaxed(&e->chain, -off);
	cc_store_relaxed(&e->prev, prev);
	cc_store_relaxed(&e->next, (int64_t)0);
	cc_store_release(&e->seq, seq); /* pending from here on */
	step_barrier();
	if (prev)
		cc_store_relaxed(&at(chain, prev)->next, off);
	cc_store_relaxed(&chain->tail, off);
	cc_store_relaxed(&chain->seq, seq);
	if (withdrawn)
		cc_store_relaxed(&chain->withdrawn.count, (uint64_t)0);
	if (!prev) {
		cc_store_relaxed(&chain->orphan, 0u);
		if (inherit)
			cc_store_relaxed(&e->dead, (int32_t)dead);
		cc_store_relaxed(&e->state, ST_READY | (inherit ? ST_INHERIT : 0u));
		cc_store_release(&chain->head, off);
	}
}

/*
 * The head left (lock held): move the flush generation on, waking the
 * flushers if one announced, with the lock held, that it sleeps (bit 0).
 * Every write of the word is made with the lock held.  A flusher that died
 * asleep costs one needless wake-up.
 */
static void head_moved(chain_t *chain)
{
	uint32_t old = cc_load_relaxed(&chain->gen);

	cc_store_release(&chain->gen, (old + 2) & ~1u);
	if (old & 1)
		futex_wake_all(&chain->gen, INT_MAX);
}

/*
 * OP_UNLINK: take @e out from between @prev and @next (lock held); if it was
 * the head, pass the turn to @next, or, if the chain empties and @inherit,
 * leave it to the next entry added.  Clearing @e's sequence number (it is
 * no longer pending) is the last access to @e: redone (@redo), it writes
 * only an entry that still holds @seq; first done, @e holds @seq, and only
 * lock holders write it.
 * Return: the entry whose owner must be woken once the lock is released.
 */
static inline entry_t *do_unlink(chain_t *chain, entry_t *e, int64_t prev, int64_t next,
				 bool inherit, pid_t dead, uint64_t seq, bool redo)
{
	entry_t *n = at(chain, next), *wake = NULL;
	uint64_t held = seq;

	if (prev)
		cc_store_relaxed(&at(chain, prev)->next, next);
	else
		cc_store_release(&chain->head, next);
	if (n)
		cc_store_relaxed(&n->prev, prev);
	else
		cc_store_relaxed(&chain->tail, prev);
	/* The report moves on, before the turn: the successor's or the slot's. */
	if (cc_load_relaxed(&chain->intent.withdrawn)) {
		report_t r;

		report_load(&r, &chain->intent.report);
		report_store(n ? &n->withdrawn : &chain->withdrawn, &r);
	}
	step_barrier();
	/*
	 * Not pending from here on, before the turn passes (so a successor's
	 * turn never sees it pending): the last access to @e.
	 */
	if (redo)
		atomic_compare_exchange_strong_explicit(CC_ATOMIC(&e->seq), &held, (uint64_t)0,
							memory_order_release, memory_order_relaxed);
	else
		cc_store_release(&e->seq, (uint64_t)0);
	step_barrier();
	if (!prev) {
		if (n && give_turn(n, inherit, dead))
			wake = n;
		if (!n && inherit) {
			cc_store_relaxed(&chain->orphan_dead, (int32_t)dead);
			cc_store_relaxed(&chain->orphan, 1u);
		}
		head_moved(chain);
	}
	return wake;
}

/*
 * The report that leaves with @e (lock held; see unlink_entry()), merged
 * into the target's, @next's or the slot's, in *@target.  @s: @e's state.
 * Return: @target.
 */
static REPORT_FN const report_t *wd_leaving(chain_t *chain, entry_t *e, int64_t next, uint64_t seq,
				  uint32_t s, bool withdrawn, report_t *target)
{
	entry_t *n = at(chain, next);
	report_t leaving;

	memset(&leaving, 0, sizeof(leaving));
	if (!(s & ST_SEEN))
		report_load(&leaving, &e->withdrawn);
	if (withdrawn) {
		report_t one = { .count = 1, .first = seq, .last = seq, .npids = 1,
				  .pids = { cc_load_relaxed(&e->pid) } };

		report_merge(&leaving, &one);
	}
	report_load(target, n ? &n->withdrawn : &chain->withdrawn);
	report_merge(target, &leaving);
	return target;
}

/*
 * Unlink @e with an intent record (lock held); @withdrawn: with its dead
 * owner.  The report that leaves with @e (its own unless its owner saw its
 * turn, and @e itself if @withdrawn) is merged into the target's; when
 * nothing leaves, as on the uncontended cycle, no report is touched.
 * Return: as do_unlink().
 */
static inline entry_t *unlink_entry(chain_t *chain, entry_t *e, bool inherit, pid_t dead,
				    bool withdrawn)
{
	int64_t prev = cc_load_relaxed(&e->prev), next = cc_load_relaxed(&e->next);
	uint64_t seq = cc_load_relaxed(&e->seq);
	uint32_t s = cc_load_relaxed(&e->state);
	const report_t *report = NULL;
	report_t target;
	entry_t *wake;

	if (withdrawn || (!(s & ST_SEEN) && cc_load_relaxed(&e->withdrawn.count)))
		report = wd_leaving(chain, e, next, seq, s, withdrawn, &target);
	set_intent(chain, OP_UNLINK, e, prev, next, inherit, dead, seq, report);
	wake = do_unlink(chain, e, prev, next, inherit, dead, seq, false);
	clear_intent(chain);
	return wake;
}

/* The lock's holder died: finish its step (lock held). */
static entry_t *redo(chain_t *chain)
{
	struct compl_chain_shared_intent *in = &chain->intent;
	uint32_t op = cc_load_relaxed(&in->op);
	entry_t *e = at(chain, cc_load_relaxed(&in->entry)), *wake = NULL;
	bool inherit = cc_load_relaxed(&in->inherit);
	pid_t dead = cc_load_relaxed(&in->dead);

	if (op == OP_ADD) {
		/*
		 * The adder died in add: its own entry, nobody sleeps on it.
		 * Until the entry holds the step's sequence number the add has
		 * changed nothing in the chain, and the entry, never pending,
		 * may already be another process's: the add is dropped.
		 */
		if (cc_load_relaxed(&e->seq) == cc_load_relaxed(&in->seq))
			do_add(chain, e, cc_load_relaxed(&in->prev), inherit, dead,
			       cc_load_relaxed(&in->seq));
	} else if (op == OP_UNLINK) {
		wake = do_unlink(chain, e, cc_load_relaxed(&in->prev), cc_load_relaxed(&in->next),
				 inherit, dead, cc_load_relaxed(&in->seq), true);
	}
	clear_intent(chain);
	return wake;
}

/*
 * Withdraw the entries of dead processes (lock held).  A dead head that had
 * seen its turn passes it on with a report; so does a dead head that had
 * inherited one and not reported it.  Owners already checked are
 * remembered by identity (id and start time): the process given a dead
 * one's id is another, live, process, whose entries stay.  Return: the
 * number withdrawn; in *@wake the owner to wake once the lock is released.
 */
static unsigned int reap_locked(chain_t *chain, entry_t **wake)
{
	entry_t *e = at(chain, cc_load_relaxed(&chain->head)), *next, *w;
	/* Zero-filled: an unused slot names process 0, which owns no entry. */
	struct identity live[8] = { { 0 } }, gone[8] = { { 0 } };
	unsigned int nlive = 0, ngone = 0, n = 0, i;

	for (; e; e = next) {
		struct identity id = owner_of(e);
		pid_t pid = id.pid;
		bool dead = false, known = false;

		next = at(chain, cc_load_relaxed(&e->next));
		for (i = 0; i < nlive && !known; i++)
			known = same_process(&live[i], &id);
		for (i = 0; i < ngone && !known; i++)
			known = dead = same_process(&gone[i], &id);
		if (!known) {
			dead = process_dead(id.pid, id.start, false);
			if (dead && ngone < 8)
				gone[ngone++] = id;
			else if (!dead && nlive < 8)
				live[nlive++] = id;
		}
		if (dead) {
			uint32_t s = cc_load_relaxed(&e->state);
			bool head = !cc_load_relaxed(&e->prev);
			bool inherit = head && (s & (ST_SEEN | ST_INHERIT));

			w = unlink_entry(chain, e, inherit,
					 s & ST_INHERIT && !(s & ST_SEEN) ? cc_load_relaxed(&e->dead) :
									    pid,
					 true);
			if (w)
				*wake = w;
			n++;
		}
	}
	return n;
}

/* ---- the lock word (see the top of the file) -------------------------------- */

#define LK_WAITERS 0x80000000u
#define LK_PID 0x7fffffffu

/* The half of the lock word that holds the process id and WAITERS: the futex. */
static uint32_t *lock_futex(chain_t *chain)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (uint32_t *)&chain->lock;
#else
	return (uint32_t *)&chain->lock + 1;
#endif
}

/* The lock word naming this process as holder. */
static inline uint64_t lock_word(void)
{
	const struct identity *me = whoami();

	return ((uint32_t)me->pid & LK_PID) | (start_key(me->start, true) << 32);
}

/* Is the holder named by lock word @w dead? */
static bool holder_dead(uint64_t w)
{
	return process_dead((pid_t)(w & LK_PID), w >> 32, true);
}

/*
 * The lock is held (by @cur): spin briefly, then sleep on it, checking the
 * holder 1 ms into the wait, then every CCHAIN_SHARED_DETECT_MS.  Return:
 * whether the lock was taken over from a dead holder.
 */
static __attribute__((noinline)) bool lock_slow(chain_t *chain, uint64_t mine, uint64_t cur)
{
	_Atomic uint64_t *word = CC_ATOMIC(&chain->lock);
	uint64_t tick = (uint64_t)CCHAIN_SHARED_DETECT_MS * 1000000u, check = 0, now;
	uint64_t take = mine; /* WAITERS once this thread has slept: others may */
	int spins = 128;

	for (;;) {
		if (!cur) {
			if (atomic_compare_exchange_weak_explicit(word, &cur, take,
								  memory_order_acquire,
								  memory_order_relaxed))
				return false;
			continue;
		}
		if (spins > 0) {
			spins--;
			caa_cpu_relax();
			cur = atomic_load_explicit(word, memory_order_relaxed);
			continue;
		}
		/*
		 * The holder is checked 1 ms into the wait (a live one holds it
		 * for microseconds), then every tick.
		 */
		now = mono_ns();
		if (!check) {
			check = now + 1000000u;
		} else if (now >= check) {
			check = now + tick;
			if (holder_dead(cur)) {
				/* From the word seen dead: one taker per death. */
				if (atomic_compare_exchange_strong_explicit(word, &cur, mine | LK_WAITERS,
									    memory_order_acquire,
									    memory_order_relaxed))
					return true;
				continue;
			}
		}
		if (!(cur & LK_WAITERS) &&
		    !atomic_compare_exchange_weak_explicit(word, &cur, cur | LK_WAITERS,
							   memory_order_relaxed,
							   memory_order_relaxed))
			continue;
		take = mine | LK_WAITERS;
		futex_sleep(lock_futex(chain), (uint32_t)(cur | LK_WAITERS),
			    check > now ? check - now : 1);
		cur = atomic_load_explicit(word, memory_order_relaxed);
	}
}

/*
 * Take the chain's lock; if it was taken over from a dead holder, finish
 * the holder's step and withdraw the dead.  *@wake: an owner to wake once
 * the lock is released.  Return: the number of entries withdrawn.
 */
static inline unsigned int lock(chain_t *chain, entry_t **wake)
{
	uint64_t mine = lock_word(), cur = 0;

	if (__builtin_expect(atomic_compare_exchange_strong_explicit(CC_ATOMIC(&chain->lock), &cur,
								     mine, memory_order_acquire,
								     memory_order_relaxed),
			     1))
		return 0;
	if (lock_slow(chain, mine, cur)) {
		entry_t *w = redo(chain);

		if (w)
			*wake = w;
		return reap_locked(chain, wake);
	}
	return 0;
}

/* Release the lock, then wake @wake's owner (named, never dereferenced). */
static inline void unlock(chain_t *chain, entry_t *wake)
{
	uint64_t old = atomic_exchange_explicit(CC_ATOMIC(&chain->lock), (uint64_t)0,
						memory_order_release);

	if (old & LK_WAITERS)
		futex_wake_all(lock_futex(chain), 1);
	if (wake)
		futex_wake_all(&wake->state, 1);
}

/* ---- the operations -------------------------------------------------------- */

int compl_chain_shared_init(chain_t *chain)
{
	if (CC_NULL_ARG(chain, "chain", __func__))
		return EINVAL;
	if ((uintptr_t)chain % _Alignof(struct compl_chain_shared)) {
		cchain__misuse(__func__, "chain is not aligned for its type");
		return EINVAL;
	}
	memset(chain, 0, sizeof(*chain));
	atomic_store_explicit(CC_ATOMIC(&chain->magic), CHAIN_MAGIC, memory_order_release);
	return 0;
}

int compl_chain_shared_destroy(chain_t *chain)
{
	entry_t *wake = NULL;

	if (CC_NULL_ARG(chain, "chain", __func__))
		return EINVAL;
	lock(chain, &wake);
	reap_locked(chain, &wake);
	if (cc_load_relaxed(&chain->head)) {
		unlock(chain, wake);
		cchain__misuse(__func__, "chain has entries of live processes");
		return EBUSY;
	}
	unlock(chain, wake);
	cc_store_relaxed(&chain->magic, 0u);
	return 0;
}

uint64_t compl_chain_shared_add(chain_t *chain, entry_t *entry)
{
	const struct identity *me;
	const report_t *report = NULL;
	entry_t *wake = NULL;
	report_t slot;
	int64_t tail;
	uint64_t seq;
	bool inherit;
	pid_t dead;

	if (CC_NULL_ARG(chain, "chain", __func__) || CC_NULL_ARG(entry, "entry", __func__))
		return 0;
	me = whoami();
	if (cc_load_acquire(&entry->seq)) {
		cchain__misuse(__func__, "entry is already pending");
		return 0;
	}
	/* Not yet in the chain: nobody else reads these until it is linked. */
	cc_store_relaxed(&entry->pid, (int32_t)me->pid);
	cc_store_relaxed(&entry->start, me->start);
	cc_store_relaxed(&entry->dead, 0);
	cc_store_relaxed(&entry->state, 0u);
	lock(chain, &wake);
	tail = cc_load_relaxed(&chain->tail);
	seq = cc_load_relaxed(&chain->seq) + 1;
	inherit = !tail && cc_load_relaxed(&chain->orphan);
	dead = inherit ? cc_load_relaxed(&chain->orphan_dead) : 0;
	/* Withdrawn behind the last entry: the new entry's report. */
	if (cc_load_relaxed(&chain->withdrawn.count)) {
		report_load(&slot, &chain->withdrawn);
		report = &slot;
	}
	set_intent(chain, OP_ADD, entry, tail, 0, inherit, dead, seq, report);
	do_add(chain, entry, tail, inherit, dead, seq);
	clear_intent(chain);
	unlock(chain, wake);
	return seq;
}

/*
 * The entry's chain, or NULL after reporting misuse on behalf of @func:
 * the entry is not pending, or another process (by id and start time: an
 * earlier process with our id included) added it.
 */
static inline chain_t *owned_chain(const entry_t *entry, const char *func)
{
	struct identity owner;
	int64_t delta;

	if (CC_NULL_ARG(entry, "entry", func))
		return NULL;
	if (!cc_load_acquire(&entry->seq)) {
		cchain__misuse(func, "entry is not pending (never added, already completed, "
				     "cancelled, or withdrawn with its dead owner)");
		return NULL;
	}
	owner = owner_of(entry);
	if (!same_process(&owner, whoami())) {
		cchain__misuse(func, "entry belongs to another process");
		return NULL;
	}
	delta = cc_load_relaxed(&entry->chain);
	return (chain_t *)((char *)entry + delta);
}

/*
 * The turn has come (state @s has READY): mark it seen and report an
 * inheritance once.  Return: 0 or EOWNERDEAD.
 */
static inline int took_turn(entry_t *e, uint32_t s)
{
	if (s & ST_SEEN)
		return 0;
	/*
	 * Only the owner writes the word once READY is set: a store suffices.
	 * Release: another thread of the owner that sees SEEN (acquire) reads
	 * the report as this one, which acquired READY, may.
	 */
	cc_store_release(&e->state, (s | ST_SEEN) & ~ST_INHERIT);
	return s & ST_INHERIT ? EOWNERDEAD : 0;
}

/*
 * Spin for up to 20 us before sleeping when another CPU may hand the turn
 * over: never when the waiter's affinity mask allows one CPU (the rule and
 * its reason: src/compl_chain.c, "spinning before sleeping").
 */
static bool spin_for(const uint32_t *word, uint32_t mask)
{
	uint64_t start = mono_ns();
	int i;

	if (cchain__cpus(start) < 2)
		return false;
	do {
		for (i = 0; i < 64; i++) {
			if (atomic_load_explicit(CC_ATOMIC(word), memory_order_acquire) & mask)
				return true;
			caa_cpu_relax();
		}
	} while (mono_ns() - start < 20000);
	return false;
}

/*
 * Is the turn stuck with a dead process?  Take the lock (which finishes a
 * dead holder's step) and withdraw the dead if the head's owner died.
 */
static void check_turn(chain_t *chain)
{
	entry_t *wake = NULL, *head;

	lock(chain, &wake);
	head = at(chain, cc_load_relaxed(&chain->head));
	if (head && owner_dead(head))
		reap_locked(chain, &wake);
	unlock(chain, wake);
}

/* await_turn() once the turn was seen not to have come. */
static int await_turn_slow(chain_t *chain, entry_t *e, uint64_t deadline)
{
	_Atomic uint32_t *state = CC_ATOMIC(&e->state);
	uint64_t now, tick = (uint64_t)CCHAIN_SHARED_DETECT_MS * 1000000u, next_check;
	uint32_t s;

	if (spin_for(&e->state, ST_READY))
		return took_turn(e, atomic_load_explicit(state, memory_order_acquire));
	now = mono_ns();
	next_check = now + tick;
	for (;;) {
		uint64_t until = next_check;

		s = atomic_fetch_or_explicit(state, ST_SLEEPING, memory_order_acquire);
		if (s & ST_READY)
			return took_turn(e, s);
		if (deadline && deadline < until)
			until = deadline;
		if (until > now)
			futex_sleep(&e->state, s | ST_SLEEPING, until - now);
		s = atomic_load_explicit(state, memory_order_acquire);
		if (s & ST_READY)
			return took_turn(e, s);
		now = mono_ns();
		if (deadline && now >= deadline)
			break;
		if (now >= next_check) {
			check_turn(chain);
			now = mono_ns();
			next_check = now + tick;
		}
	}
	/* The SLEEPING mark stays: at worst, one needless FUTEX_WAKE later. */
	s = atomic_load_explicit(state, memory_order_acquire);
	return s & ST_READY ? took_turn(e, s) : ETIMEDOUT;
}

/* Wait for @e's turn until @deadline (0: none).  Return: 0, EOWNERDEAD or ETIMEDOUT. */
static inline int await_turn(chain_t *chain, entry_t *e, uint64_t deadline)
{
	uint32_t s = cc_load_acquire(&e->state);

	if (s & ST_READY)
		return took_turn(e, s);
	return await_turn_slow(chain, e, deadline);
}

int compl_chain_shared_wait(entry_t *entry)
{
	chain_t *chain = owned_chain(entry, __func__);

	return chain ? await_turn(chain, entry, 0) : EINVAL;
}

int compl_chain_shared_try_wait(entry_t *entry)
{
	uint32_t s;

	if (!owned_chain(entry, __func__))
		return EINVAL;
	s = cc_load_acquire(&entry->state);
	return s & ST_READY ? took_turn(entry, s) : EBUSY;
}

int compl_chain_shared_wait_timeout(entry_t *entry, uint64_t timeout_ns)
{
	chain_t *chain = owned_chain(entry, __func__);
	uint32_t s;
	uint64_t deadline;

	if (!chain)
		return EINVAL;
	s = cc_load_acquire(&entry->state);
	if (s & ST_READY)
		return took_turn(entry, s);
	if (!timeout_ns)
		return ETIMEDOUT;
	deadline = mono_ns();
	/* Saturate: a timeout of centuries means none. */
	deadline = timeout_ns > UINT64_MAX - deadline ? 0 : deadline + timeout_ns;
	return await_turn(chain, entry, deadline);
}

int compl_chain_shared_complete(entry_t *entry)
{
	chain_t *chain = owned_chain(entry, __func__);
	entry_t *wake = NULL, *w;
	int ret;

	if (!chain)
		return EINVAL;
	ret = await_turn(chain, entry, 0);
	lock(chain, &wake);
	w = unlink_entry(chain, entry, false, 0, false);
	unlock(chain, w ? w : wake);
	if (w && wake && wake != w)
		futex_wake_all(&wake->state, 1);
	return ret;
}

int compl_chain_shared_cancel(entry_t *entry)
{
	chain_t *chain = owned_chain(entry, __func__);
	entry_t *wake = NULL, *w;
	uint32_t s;

	if (!chain)
		return EINVAL;
	lock(chain, &wake);
	s = cc_load_relaxed(&entry->state);
	/* An inherited turn never reported passes on with its report. */
	w = unlink_entry(chain, entry, s & ST_INHERIT && !cc_load_relaxed(&entry->prev),
			 cc_load_relaxed(&entry->dead), false);
	unlock(chain, w ? w : wake);
	if (w && wake && wake != w)
		futex_wake_all(&wake->state, 1);
	return 0;
}

bool compl_chain_shared_pending(const entry_t *entry)
{
	if (CC_NULL_ARG(entry, "entry", __func__))
		return false;
	return cc_load_acquire(&entry->seq) != 0;
}

bool compl_chain_shared_empty(chain_t *chain)
{
	if (CC_NULL_ARG(chain, "chain", __func__))
		return false;
	return cc_load_acquire(&chain->head) == 0;
}

unsigned int compl_chain_shared_reap(chain_t *chain)
{
	entry_t *wake = NULL;
	unsigned int n;

	if (CC_NULL_ARG(chain, "chain", __func__))
		return 0;
	n = lock(chain, &wake);
	n += reap_locked(chain, &wake);
	unlock(chain, wake);
	return n;
}

int compl_chain_shared_withdrawn(const entry_t *entry, report_t *report)
{
	if (!owned_chain(entry, __func__) || CC_NULL_ARG(report, "report", __func__))
		return EINVAL;
	if (!(cc_load_acquire(&entry->state) & ST_SEEN))
		return EBUSY;
	report_load(report, &entry->withdrawn);
	return 0;
}

pid_t compl_chain_shared_inherited_from(const entry_t *entry)
{
	if (CC_NULL_ARG(entry, "entry", __func__))
		return 0;
	return cc_load_relaxed(&entry->dead);
}

/* Has every entry with a sequence number up to @seq left?  Lock held. */
static bool flushed(chain_t *chain, uint64_t seq)
{
	entry_t *head = at(chain, cc_load_relaxed(&chain->head));

	return !head || cc_load_relaxed(&head->seq) > seq;
}

void compl_chain_shared_flush(chain_t *chain)
{
	uint64_t tick = (uint64_t)CCHAIN_SHARED_DETECT_MS * 1000000u, start = mono_ns();
	uint64_t seq = 0;
	bool first = true;

	if (CC_NULL_ARG(chain, "chain", __func__))
		return;
	for (;;) {
		entry_t *wake = NULL, *head;
		uint32_t gen;

		lock(chain, &wake);
		if (first) {
			seq = cc_load_relaxed(&chain->seq);
		} else if (mono_ns() - start >= tick) {
			head = at(chain, cc_load_relaxed(&chain->head));
			if (head && owner_dead(head))
				reap_locked(chain, &wake);
			start = mono_ns();
		}
		first = false;
		if (flushed(chain, seq)) {
			unlock(chain, wake);
			return;
		}
		/* Announced with the lock held: the next head_moved() sees it. */
		gen = cc_load_relaxed(&chain->gen) | 1u;
		cc_store_relaxed(&chain->gen, gen);
		unlock(chain, wake);
		futex_sleep(&chain->gen, gen, tick);
	}
}
