/* SPDX-License-Identifier: MIT */
/*
 * Promela model of libcchain's futex backend: compl_chain_add, _wait,
 * _complete, _cancel, _wait_timeout and _flush (src/compl_chain.c) over the
 * per-entry futex state word (src/wait-futex.c).  model/README.md maps every
 * statement to the C code, line by line.
 *
 * Verified (spin -a, pan -m...; see model/check.sh):
 *   - FIFO: an owner's turn comes, and an entry leaves by completing, only
 *     when every entry added before it has completed or been cancelled;
 *   - no lost wake-up: no reachable state in which some owner sleeps for
 *     ever (spin's "invalid end state");
 *   - memory: nobody touches an entry after its complete or cancel returned
 *     and the owner freed it (each owner frees its entry at once, and may
 *     add it again: entry reuse); a turn-giver still waking an owner never
 *     writes over a deferred function.
 *
 * Configurations (-D...): see the init process at the end.  Mutants
 * (-DBUG_...) re-introduce a known mistake; check.sh makes sure each one
 * is caught.
 */

#ifndef NE
#define NE 4            /* entries (one per owner process) */
#endif
#define NSEQ 12         /* add sequence numbers: NE x rounds */

#define WAITING  0
#define SLEEPING 1
#define READY    2
#define WAKING   3

/* The owner's turn has come (WAKING: the turn-giver is still waking it). */
#define TURN(e) (state[e] == READY || state[e] == WAKING)

/* What an owner does with its entry after adding it. */
#define K_WAIT_COMPLETE 0 /* wait, ordered step, complete */
#define K_EARLY         1 /* complete without wait (the seed's early release; also flush) */
#define K_CANCEL        2 /* cancel without waiting (a task that failed) */
#define K_TIMED         3 /* wait_timeout until the turn comes, then complete */
#define K_DEFER         4 /* compl_chain_defer: a function runs in the turn */

/* ---- shared state ---------------------------------------------------------- */

bit lock;                 /* chain->lock (pthread mutex) */
byte queue[NE];           /* the chain, head first: entry ids */
byte qlen;

byte state[NE];           /* entry->wake.state: the futex word */
bool inchain[NE];         /* entry->chain != NULL (compl_chain_pending) */
bool parked[NE];          /* a thread sleeps in FUTEX_WAIT on the word */
bool freed[NE];           /* the owner (or its deferred function) freed it */
bool deferred[NE];        /* entry->chain carries the DEFERRED tag */
bit busy;                 /* chain->busy: a deferred function holds the turn */

/* chain->tail, the word the lock-free add and complete swing with CAS. */
#define T_EMPTY NE              /* NULL: empty, the turn is free */
#define T_BUSY  (NE + 1)        /* CC_BUSY: empty, a deferred function runs */
byte tailw = T_EMPTY;

/* Ghost state for the properties. */
byte seq[NE];             /* add order of the entry's current round */
byte nseq;
bool gone[NSEQ];          /* that add's entry completed or was cancelled */
bool ran[NE];             /* the entry's deferred function ran */

/* Every entry added before @e (in this round) has left the chain. */
#define PREDECESSORS_GONE(e)                                          \
	skip; /* a jump may not land inside a d_step */               \
	d_step {                                                      \
		i = 0;                                                \
		do                                                    \
		:: i < seq[e] -> assert(gone[i]); i++                 \
		:: else -> break                                      \
		od;                                                   \
		i = 0                                                 \
	}

/* The same check as a plain sequence, for use inside a d_step. */
#define PREDECESSORS_GONE_D(e)                                        \
	i = 0;                                                        \
	do                                                            \
	:: i < seq[e] -> assert(gone[i]); i++                         \
	:: else -> break                                              \
	od;                                                           \
	i = 0

/* ---- futex ------------------------------------------------------------------ */

/*
 * FUTEX_WAIT(word, val): sleeps only if the word still holds @val
 * (atomically with the check), else returns at once (EAGAIN).  A sleeper
 * either is woken by FUTEX_WAKE or returns spuriously (EINTR from a signal,
 * a timeout): both are choices the model explores.  A sleeper that is
 * never woken blocks for ever: spin reports the state as invalid.
 */
inline futex_wait(e, val)
{
	atomic {
		assert(!freed[e]);
		if
		:: state[e] == val -> parked[e] = true
		:: else -> skip
		fi
	};
	if
	:: parked[e] -> (!parked[e])          /* woken */
	:: parked[e] -> parked[e] = false     /* EINTR, timeout, spurious */
	:: !parked[e] -> skip                 /* EAGAIN */
	fi
}

inline futex_wake(e)
{
	atomic {
		assert(!freed[e]);                /* names live memory only */
		parked[e] = false
	}
}

/* ---- wait-futex.c ----------------------------------------------------------- */

/*
 * cchain__wake_turn(): @h became the head.  Lock held.  An owner that
 * sleeps is left in wk, to be woken once the lock is released.
 */
inline wake_turn(h)
{
	atomic {                                   /* CAS loop */
		assert(!freed[h]);
		old = state[h];
#ifdef BUG_NO_WAKING
		state[h] = READY                   /* no "still waking" mark */
#else
		state[h] = (old == SLEEPING -> WAKING : READY)
#endif
	};
	wk = (old == SLEEPING -> h : NE);
	old = 0
}

/* cchain__wake_finish(): lock not held. */
inline wake_finish()
{
	if
	:: wk < NE ->
		futex_wake(wk);
#ifndef BUG_NO_WAKING
		atomic {                           /* store_release(READY) */
			assert(!freed[wk] && !deferred[wk]);
			state[wk] = READY
		};
#endif
		wk = NE
	:: else -> skip
	fi
}

/* cchain__settle(): the owner waits out a turn-giver still waking it. */
inline settle(e)
{
#ifndef BUG_NO_SETTLE
	(state[e] != WAKING)
#else
	skip
#endif
}

/*
 * cchain__await_turn(): leaves ret = 0 (the turn has come) or 1 (ETIMEDOUT);
 * @timed lets the deadline pass wherever the C code checks it.  (No labels:
 * inlines are expanded several times in one process.)
 */
#define UNDECIDED 2
#define DEADLINE  3

#ifdef BUG_NO_SLEEP_MARK
#define SLEEP_ON WAITING        /* sleeps without announcing it */
#else
#define SLEEP_ON SLEEPING
#endif

inline await_turn(e, timed)
{
	ret = UNDECIDED;
	if                                          /* the polling phase */
	:: TURN(e) -> ret = 0
	:: else -> skip
	fi;
	do
	:: ret != UNDECIDED -> break
	:: else ->
		atomic {                           /* CAS WAITING -> SLEEPING */
			cur = state[e];
			if
#ifndef BUG_NO_SLEEP_MARK
			:: cur == WAITING -> state[e] = SLEEPING
#endif
			:: else -> skip
			fi
		};
		if
		:: cur == READY || cur == WAKING -> ret = 0
		:: else ->
			if
			:: timed -> ret = DEADLINE  /* time_left() says no */
			:: true ->
				futex_wait(e, SLEEP_ON);
				if
				:: TURN(e) -> ret = 0
				:: else -> skip
				fi
			fi
		fi
	od;
	if
	:: ret == DEADLINE ->
		atomic {                           /* CAS SLEEPING -> WAITING */
			cur = state[e];
			if
			:: cur == SLEEPING -> state[e] = WAITING
			:: else -> skip
			fi
		};
		if
		:: cur == READY || cur == WAKING -> ret = 0 /* the turn came meanwhile */
		:: else -> ret = 1
		fi
	:: else -> skip
	fi;
	cur = 0
}

/* ---- compl_chain.c ------------------------------------------------------------ */

inline lock_chain()
{
	atomic { lock == 0 -> lock = 1 }
}

inline unlock_chain()
{
	lock = 0
}

/*
 * compl_chain_add(): @e may be garbage; every member is written.  Into an
 * empty chain with one CAS and no lock; otherwise add_locked(): with the
 * lock, a CAS loop on the tail (which a lock-free complete may empty
 * meanwhile), then the link from the old tail.
 */
inline add(e)
{
	d_step {
		freed[e] = false;                  /* the owner (re)uses its memory */
		parked[e] = false;
		deferred[e] = false;
		state[e] = READY;                  /* cchain__wake_init(entry, true) */
		inchain[e] = true                  /* published by the CAS */
	};
	atomic {                                   /* CAS(tail, NULL -> e) */
		if
		:: tailw == T_EMPTY ->
			assert(qlen == 0 && !busy);
			tailw = e;
			queue[0] = e;
			qlen = 1;
			seq[e] = nseq;
			nseq++;
			ok = true
		:: else -> ok = false
		fi
	};
	if
	:: ok -> skip                              /* the head store: see README */
	:: else ->
		lock_chain();
		t = tailw;
#ifdef BUG_LINK_BEFORE_CAS
		if                                 /* prev->next = entry, too early */
		:: t < NE -> assert(!freed[t])
		:: else -> skip
		fi;
#endif
		do
		:: atomic {                        /* CAS(tail, t -> e) */
			if
			:: tailw == t ->
				tailw = e;
				state[e] = (t == T_EMPTY -> READY : WAITING);
				seq[e] = nseq;
				nseq++;
				ok = true
			:: else ->
				t = tailw;
				ok = false
			fi
		   };
		   if
		   :: ok -> break
		   :: else -> skip
		   fi
		od;
		skip;                              /* a jump may not land in a d_step */
		d_step {                           /* prev->next = entry, or the head */
			assert(t >= NE || !freed[t]);
			queue[qlen] = e;
			qlen++
		};
		unlock_chain()
	fi;
	t = 0;
	ok = false
}

/*
 * unlink_entry(): lock held; sets washead, and nx to the next entry.  The
 * writes to the neighbours come first; if @e was last, the new tail is
 * published after them: a new last entry that holds the turn may then
 * complete lock-free, and be freed, at once.  A completed or cancelled
 * entry is gone now; a deferred one only when its function returns.
 */
inline unlink(e)
{
	d_step {
		assert(!freed[e]);
		i = 0;
		do
		:: queue[i] == e -> break
		:: else -> i++
		od;
		washead = (i == 0);
		pv = (i > 0 -> queue[i - 1] : NE);
		nx = (i + 1 < qlen -> queue[i + 1] : NE);
		assert(nx == NE || !freed[nx]);     /* next->prev = prev */
		do
		:: i + 1 < qlen -> queue[i] = queue[i + 1]; i++
		:: else -> break
		od;
		qlen--;
		queue[qlen] = 0;
		if
		:: !deferred[e] -> gone[seq[e]] = true
		:: else -> skip
		fi;
		i = 0
	};
#ifdef BUG_TAIL_BEFORE_LINK
	if
	:: nx == NE -> tailw = (pv < NE -> pv : (busy -> T_BUSY : T_EMPTY))
	:: else -> skip
	fi;
#endif
	if                                         /* prev->next = next */
	:: pv < NE -> assert(!freed[pv])
	:: else -> skip
	fi;
#ifndef BUG_TAIL_BEFORE_LINK
	if                                         /* the new tail, last */
	:: nx == NE -> tailw = (pv < NE -> pv : (busy -> T_BUSY : T_EMPTY))
	:: else -> skip
	fi;
#endif
	pv = 0;
	inchain[e] = false                         /* store_release(chain, NULL) */
}

/*
 * take_run(): lock held, chain busy, @first (deferred) taken off: take off
 * the deferred entries that now lead the chain too, into batch[].
 */
inline take_run(first)
{
	batch[0] = first;
	nrun = 1;
	do
	:: qlen > 0 && deferred[queue[0]] ->
		x = queue[0];
		unlink(x);
		batch[nrun] = x;
		nrun++
	:: else -> break
	od;
	x = 0
}

/*
 * pass_turn(): lock held.  Gives the turn to @head (the next entry of the
 * one that left, not whatever is first by now: once the chain is empty, a
 * lock-free add may fill it) unless a deferred
 * function holds it; a deferred head is taken off, the chain marked busy,
 * and left in batch[] for the caller with the deferred entries that follow it
 * (take_run); a sleeping head is left in wk.
 */
inline pass_turn(head)
{
	nrun = 0;
	if
	:: head < NE && !busy ->
		h = head;
		if
		:: !deferred[h] -> wake_turn(h)
		:: else ->
#ifndef BUG_NO_BUSY
			busy = 1;
#endif
			unlink(h);
			take_run(h)
		fi;
		h = 0
	:: else -> skip
	fi
}

/*
 * finish(): lock held on entry, released on exit.  Unlocks, wakes wk, and
 * runs the deferred functions of batch[] in order (each checks the order,
 * runs once, and frees its entry), then relocks and passes the turn on, in
 * a loop.
 */
inline finish()
{
	do
	:: true ->
		unlock_chain();
		wake_finish();
		if
		:: nrun == 0 -> break
		:: else ->
			k = 0;
			do
			:: k < nrun ->
				x = batch[k];
				assert(!freed[x]);  /* reads ->next, ->wake.deferred */
				d_step {            /* fn(entry) */
					PREDECESSORS_GONE_D(x);
					assert(!ran[x]);
					ran[x] = true;
					gone[seq[x]] = true;
					freed[x] = true
				};
				k++
			:: else -> break
			od;
			k = 0;
			x = 0;
			lock_chain();
			busy = 0;
			assert(tailw != T_EMPTY);  /* no lock-free add while busy */
			if
			:: tailw == T_BUSY ->      /* nothing added meanwhile */
				tailw = T_EMPTY;
				nrun = 0
			:: else ->
				pass_turn(queue[0])
			fi
		fi
	od
}

/* leave(): lock held; unlink, pass the turn if it was the head, finish(). */
inline leave(e)
{
	unlink(e);
	nrun = 0;
	wk = NE;
	if
	:: washead -> pass_turn(nx)
	:: else -> skip
	fi;
	washead = false;
	finish()
}

inline complete(e)
{
	assert(inchain[e]);
#ifndef BUG_NO_WAIT_IN_COMPLETE
	await_turn(e, false);
#endif
	atomic {                                   /* CAS(tail, e -> NULL) */
		if
		:: tailw == e ->                   /* alone: leave without the lock */
			assert(qlen == 1 && queue[0] == e && !busy);
			PREDECESSORS_GONE_D(e);
			tailw = T_EMPTY;
			qlen = 0;
			queue[0] = 0;
			gone[seq[e]] = true;
			ok = true
		:: else -> ok = false
		fi
	};
	if
	:: ok ->
		ok = false;
		inchain[e] = false                 /* store_release(chain, NULL) */
	:: else ->
		lock_chain();
		assert(queue[0] == e && !busy);    /* FIFO: only the head leaves */
		PREDECESSORS_GONE(e);
		leave(e)
	fi;
	settle(e)
}

inline cancel(e)
{
	assert(inchain[e]);
	lock_chain();
	leave(e);
	settle(e)
}

/* compl_chain_defer(): runs at once if the turn has come, else queues. */
inline defer(e)
{
	assert(inchain[e] && !deferred[e]);
	settle(e);
	lock_chain();
	deferred[e] = true;                        /* fn overwrites the state word */
	if
	:: queue[0] == e && !busy ->
		busy = 1;
		unlink(e);
		take_run(e);
		wk = NE;
		finish()
	:: else ->
		unlock_chain()                     /* store_release(chain | DEFERRED) */
	fi
}

/* ---- owners ------------------------------------------------------------------- */

proctype owner(byte e; byte kind; byte rounds)
{
	byte i, h, old, cur, ret, wk = NE, t, pv, nx, x, k, nrun;
	byte batch[NE];
	bool washead, ok;

	do
	:: rounds > 0 ->
		add(e);
		if
		:: kind == K_WAIT_COMPLETE ->
			await_turn(e, false);
			PREDECESSORS_GONE(e);              /* the ordered step */
			complete(e)
		:: kind == K_EARLY ->
			complete(e)
		:: kind == K_CANCEL ->
			cancel(e)
		:: kind == K_DEFER ->
			defer(e)
		:: kind == K_TIMED ->
			do
			:: await_turn(e, true);
			   if
			   :: ret == 0 -> break
			   :: else -> assert(inchain[e])   /* still pending, in place */
			   fi
			od;
			PREDECESSORS_GONE(e);
			complete(e)
		fi;
		if
		:: kind != K_DEFER ->
			assert(!inchain[e]);
			freed[e] = true                    /* free(task) right after */
		:: else -> skip                            /* fn frees it, now or later */
		fi;
		rounds--
	:: else -> break
	od
}

init {
	atomic {
#if defined(CONFIG_REUSE)
		/* Three owners, each adding, completing, freeing and re-adding. */
		run owner(0, K_WAIT_COMPLETE, 2);
		run owner(1, K_WAIT_COMPLETE, 2);
		run owner(2, K_EARLY, 2);
#elif defined(CONFIG_DEFER)
		/* Deferred functions between a waiter, a cancel, an early release. */
		run owner(0, K_DEFER, 1);
		run owner(1, K_WAIT_COMPLETE, 1);
		run owner(2, K_DEFER, 1);
		run owner(3, K_CANCEL, 1);
#elif defined(CONFIG_DEFER2)
		run owner(0, K_EARLY, 1);
		run owner(1, K_DEFER, 1);
		run owner(2, K_TIMED, 1);
		run owner(3, K_DEFER, 1);
#elif defined(CONFIG_FLUSH)
		/* A flush (entry 3: add + complete) among waiters and a cancel. */
		run owner(0, K_WAIT_COMPLETE, 1);
		run owner(1, K_CANCEL, 1);
		run owner(2, K_WAIT_COMPLETE, 1);
		run owner(3, K_EARLY, 1);
#else
		/* Every kind of owner at once. */
		run owner(0, K_WAIT_COMPLETE, 1);
		run owner(1, K_EARLY, 1);
		run owner(2, K_CANCEL, 1);
		run owner(3, K_TIMED, 1);
#endif
	}
}
