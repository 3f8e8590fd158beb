/* SPDX-License-Identifier: MIT */
/*
 * Promela model of libcchain's protocol: compl_chain_add, _wait,
 * _complete, _cancel, _wait_timeout, _flush, _defer and _dump
 * (src/compl_chain.c) over either wait backend: the per-entry futex state
 * word (src/wait-futex.c, the default) or, with -DCONDVAR, the chain's
 * mutex and a condition variable on the sleeper's stack
 * (src/wait-condvar.c).  model/README.md maps every statement to the C
 * code, line by line.
 *
 * Verified (spin -a, pan -m...; see model/check.sh):
 *   - FIFO: an owner's turn comes, a deferred function runs, and an entry
 *     leaves by completing, only when every entry added before it has
 *     completed, been cancelled or run its deferred function;
 *   - exactly once: every deferred function runs once;
 *   - no lost wake-up: no reachable state in which some owner sleeps for
 *     ever (spin's "invalid end state");
 *   - memory: an entry is freed the instant compl_chain_pending() would
 *     return false for it (a monitor thread that frees at once), and the
 *     library never touches it after that (the owner may add it again:
 *     entry reuse); a condition variable is signalled only while its
 *     sleeper's stack frame exists;
 *   - compl_chain_empty() never answers true while an entry stays in the
 *     chain throughout the call;
 *   - notification: a registered entry's function runs once, while the
 *     entry is pending, after its predecessors, never after a withdrawal;
 *     compl_chain_unnotify() returns true only if the function has not been
 *     called, false only once it has been called and has returned.
 *
 * Configurations (-DCONFIG_...): see the init process at the end.  Mutants
 * (-DBUG_...) re-introduce a known mistake; check.sh makes sure each one
 * is caught.
 */

#ifndef NE
#define NE 4            /* entries (one per owner process) */
#endif
#define NSEQ 12         /* add sequence numbers: NE x rounds */
#ifndef RUN_MAX
#define RUN_MAX 2       /* CC_RUN_MAX (64 in C): small, so that runs are cut */
#endif

/*
 * The entry's wake word.  Futex: the state word.  Condvar: NULL (WAITING),
 * the sleeper's parker (SLEEPING) or the turn token (READY).
 */
#define WAITING  0
#define SLEEPING 1
#define READY    2

#define TURN(e) (state[e] == READY)

/* What an owner does with its entry after adding it. */
#define K_WAIT_COMPLETE 0 /* wait, ordered step, complete */
#define K_EARLY         1 /* complete without wait (the seed's early release; also flush) */
#define K_CANCEL        2 /* cancel without waiting (a task that failed) */
#define K_TIMED         3 /* wait_timeout until the turn comes, then complete */
#define K_DEFER         4 /* compl_chain_defer: a function runs in the turn */
#define K_DEFER_READD   5 /* defer; the function adds the entry again and defers it */
#define K_TIMED_CANCEL  6 /* one wait_timeout; complete if the turn came, else cancel */
#define K_WAIT_DEFER    7 /* wait (sleeping), then defer: runs at once */
#define K_NOTIFY        8 /* compl_notifier_watch: the loop completes or cancels it */
#define K_NOTIFY_CANCEL 9 /* compl_chain_notify, then, racing the turn, compl_chain_cancel,
			     or compl_chain_unnotify and cancel or complete */

/* ---- shared state ---------------------------------------------------------- */

bit lock;                 /* chain->lock (pthread mutex) */
byte queue[NE];           /* the chain's list, head first: entry ids */
byte qlen;

byte state[NE];           /* entry->wake */
bool inchain[NE];         /* entry->chain != NULL (compl_chain_pending) */
bool parked[NE];          /* a thread sleeps on the entry (futex or condvar) */
bool freed[NE];           /* freed: the monitor frees once pending is false */
bool deferred[NE];        /* entry->chain carries the DEFERRED tag */
bool inwait[NE];          /* condvar: the sleeper's parker (stack frame) exists */
byte busy;                /* chain->busy: 0, or 1 + run entries not yet released */
bool pinned;              /* CC_PIN: compl_chain_dump() walks the chain */
bool notify[NE];          /* entry->chain carries the NOTIFY tag */

/* The notifier (src/notify.c): ready entries in push order, the flag, the fd. */
byte nq[NE];              /* pushed entries (the LIFO, reversed by the loop) */
byte nqlen;
bool armed;               /* the loop sleeps, or is about to */
byte efd;                 /* the eventfd's counter */
bool watched[NE];         /* compl_notifier_watch() returned */
byte nnotify;             /* K_NOTIFY owners: entries the loop must see off */

/* chain->tail, the word the lock-free add and complete swing with CAS. */
#define T_EMPTY NE              /* a free word: empty, the turn is free */
#define T_BUSY  (NE + 1)        /* a busy word: empty, a deferred function runs */
byte tailw = T_EMPTY;
byte tnum = 1;            /* while tailw is T_EMPTY or T_BUSY: the number it
			     carries, the next add's (one word with tailw) */
byte num[NE];             /* while @e is the tail, its next field's tag: the
			     number of the chain's latest add */
byte floor;               /* chain->seq_floor: the next number is at least this
			     (written with the lock held) */

/*
 * Numbers are modelled with -DNUMBERS only (check.sh: the configurations
 * that exercise them); elsewhere the lock-free add and complete read the
 * tail in their CAS step, as the merged steps decide the same outcomes.
 */
#ifdef NUMBERS
#define NUM_D(s) s
#else
#define NUM_D(s) skip
#endif

/* The next number, from a free word's @tn and the floor. */
#define FREE_NUM(tn)  (tn > floor -> tn : floor)

/* Ghost state for the properties. */
byte seq[NE];             /* add order of the entry's current round */
byte nseq;
bool gone[NSEQ];          /* that add's entry completed, was cancelled or ran */
byte ran[NE];             /* deferred functions run for the entry (all rounds) */
byte deferrals[NE];       /* compl_chain_defer calls for the entry (all rounds) */
bool inrun[NE];           /* taken off in a run, its function not called yet */
byte readds[NE];          /* K_DEFER_READD: adds left for the function to make */
byte kinds[NE];
byte called[NE];          /* calls of the entry's notify function */
bool fnret[NE];           /* ... and the call returned (all rounds, as called[]) */
bool unnotified[NE];      /* compl_chain_unnotify() withdrew the registration */
byte arms, writes;        /* the loop's arms, the producers' eventfd writes */

/* Every entry added before @e (in this round) has left the chain. */
#define PREDECESSORS_GONE(e)                                          \
	skip; /* a jump may not land inside a d_step */               \
	d_step {                                                      \
		PREDECESSORS_GONE_D(e)                                \
	}

/* The same check as a plain sequence, for use inside a d_step. */
#define PREDECESSORS_GONE_D(e)                                        \
	i = 0;                                                        \
	do                                                            \
	:: i < seq[e] -> assert(gone[i]); i++                         \
	:: else -> break                                              \
	od;                                                           \
	i = 0

/*
 * The library's last access to @e: its back pointer is cleared (release),
 * compl_chain_pending() returns false from now on, and the monitor frees it.
 */
#define RELEASE_D(e)                                                  \
	inchain[e] = false;                                           \
	freed[e] = true

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

/*
 * FUTEX_WAKE(word) names an address; a private wake does not access the
 * memory.  The entry may have been freed, and added again with a new
 * sleeper: that sleeper wakes spuriously.
 */
inline futex_wake(e)
{
	parked[e] = false
}

/* ---- the wait backend ---------------------------------------------------------- */

/*
 * cchain__wake_turn(): @h became the head.  Lock held.  Its last access to
 * @h; an owner that sleeps on a futex is left in wk, to be woken once the
 * lock is released.
 */
inline wake_turn(h)
{
#ifdef CONDVAR
	atomic {                                   /* signal the parker, if any */
		assert(!freed[h]);
		if
		:: state[h] == SLEEPING ->
#ifdef BUG_CV_SIGNAL_UNLOCKED
			wk = h                     /* signalled after unlocking */
#else
			assert(inwait[h]);
			parked[h] = false
#endif
		:: else -> skip
		fi
	};
	atomic {                                   /* store_release(CC_TURN) */
		assert(!freed[h]);
		state[h] = READY
	}
#else
	atomic {                                   /* exchange(READY) */
		assert(!freed[h]);
		old = state[h];
#ifdef BUG_WAKE_BEFORE_READY
		state[h] = (old == SLEEPING -> SLEEPING : READY)
#else
		state[h] = READY
#endif
	};
	wk = (old == SLEEPING -> h : NE);
	old = 0
#endif
}

/* cchain__wake_finish(): lock not held. */
inline wake_finish()
{
	if
	:: wk < NE ->
#ifdef CONDVAR
		assert(inwait[wk]);                /* BUG_CV_SIGNAL_UNLOCKED only */
		parked[wk] = false;
#else
		futex_wake(wk);
#if defined(BUG_WAKE_BEFORE_READY) || defined(BUG_TOUCH_AFTER_TURN)
		atomic {                           /* a store after the wake-up */
			assert(!freed[wk]);
			state[wk] = READY
		};
#endif
#endif
		wk = NE
	:: else -> skip
	fi
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

#ifdef CONDVAR
inline await_turn(e, timed)
{
	ret = UNDECIDED;
	if                                          /* polling, then the first check */
	:: TURN(e) -> ret = 0
	:: else -> skip
	fi;
	if
	:: ret == UNDECIDED ->
		inwait[e] = true;                  /* parker_init() */
		lock_chain();
		do
#ifndef BUG_CV_UNLOCKED_CHECK
		:: TURN(e) -> ret = 0; break      /* while (!turn_ready) */
		:: else ->
#else
		:: true ->
#endif
			atomic {                   /* store the parker, cond_wait */
				assert(!freed[e]);
				state[e] = SLEEPING;
				parked[e] = true;
				lock = 0
			};
			if
			:: parked[e] -> (!parked[e])       /* signalled */
			:: parked[e] -> parked[e] = false  /* spurious */
			:: !parked[e] -> skip              /* signalled already */
			:: timed -> parked[e] = false; ret = DEADLINE
			fi;
			lock_chain();
			if
			:: ret == DEADLINE ->
				if
				:: TURN(e) -> ret = 0
				:: else ->
#ifndef BUG_CV_TIMEOUT_KEEPS_PARKER
					state[e] = WAITING;
#endif
					ret = 1
				fi;
				break
#ifdef BUG_CV_UNLOCKED_CHECK
			:: ret == UNDECIDED && TURN(e) -> ret = 0; break
#endif
			:: else -> skip
			fi
		od;
		unlock_chain();
		inwait[e] = false                  /* pthread_cond_destroy, return */
	:: else -> skip
	fi
}
#else
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
			assert(!freed[e]);
			cur = state[e];
			if
#ifndef BUG_NO_SLEEP_MARK
			:: cur == WAITING -> state[e] = SLEEPING
#endif
			:: else -> skip
			fi
		};
		if
		:: cur == READY -> ret = 0
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
		:: cur == READY -> ret = 0         /* the turn came meanwhile */
		:: else -> ret = 1
		fi
	:: else -> skip
	fi;
	cur = 0
}
#endif

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
#ifdef NUMBERS
	atomic {                                   /* load_acquire(tail): free? */
		ok = (tailw == T_EMPTY && !pinned);
		t = tnum;                          /* the word, with its number */
		tn = tnum
	};
	if
	:: ok ->
#ifdef BUG_NUM_ADD_IGNORES_FLOOR
		tn = tn;
#else
		tn = FREE_NUM(tn);                 /* load(seq_floor), after the tail */
#endif
#ifndef BUG_NUM_AFTER_CAS
		num[e] = tn;                       /* entry->next = tag, before the CAS */
#endif
		atomic {                           /* CAS(tail, free(tn) -> e) */
			if
#ifdef BUG_NUM_ABA
			:: tailw == T_EMPTY && !pinned ->
#else
			:: tailw == T_EMPTY && tnum == t && !pinned ->
#endif
				assert(qlen == 0 && !busy);
				tailw = e;
				queue[0] = e;
				qlen = 1;
				seq[e] = nseq;
				nseq++
			:: else -> ok = false
			fi
		}
	:: else -> skip
	fi;
#ifdef BUG_NUM_AFTER_CAS
	if
	:: ok -> num[e] = tn
	:: else -> skip
	fi;
#endif
#else
	atomic {                                   /* the load and the CAS as one */
		if
		:: tailw == T_EMPTY && !pinned ->
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
#endif
	if
	:: ok -> skip                              /* the head store: see README */
	:: else ->
		lock_chain();
#ifdef NUMBERS
		atomic {
			t = tailw;
			tn = tnum
		};
#else
		t = tailw;
#endif
#ifdef BUG_LINK_BEFORE_CAS
		if                                 /* prev->next = entry, too early */
		:: t < NE -> assert(!freed[t])
		:: else -> skip
		fi;
#endif
		do
		:: atomic {                        /* CAS(tail, t -> e) */
			if
#ifdef NUMBERS
			:: tailw == t && (t < NE || tnum == tn) ->
#else
			:: tailw == t ->
#endif
				tailw = e;
				state[e] = (t == T_EMPTY -> READY : WAITING);
				seq[e] = nseq;
				nseq++;
				ok = true
			:: else ->
				t = tailw;
				NUM_D(tn = tnum);
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
			NUM_D(tn = (t < NE -> num[t] + 1 : FREE_NUM(tn)));
			NUM_D(num[e] = tn);        /* entry->next = tag */
			queue[qlen] = e;
			qlen++
		};
		unlock_chain()
	fi;
#ifdef NUMBERS
	assert(tn == seq[e] + 1);                  /* numbered in add order */
	tn = 0;
#endif
	t = 0;
	ok = false
}

/*
 * The new tail when @e, last, leaves: its predecessor, or a free word
 * (busy if a run holds the turn) carrying the number after @e's.
 */
#ifdef BUG_NUM_DETACH_FREE_KEEPS
#define DETACH_FREE(e) skip
#else
#define DETACH_FREE(e) tnum = num[e] + 1
#endif
#ifdef BUG_NUM_NO_FLOOR
#define DETACH_FLOOR(e) skip
#else
#define DETACH_FLOOR(e) floor = num[e] + 1
#endif
#ifndef NUMBERS
#define DETACH_TAIL(e) tailw = (pv < NE -> pv : (busy -> T_BUSY : T_EMPTY))
#else
#define DETACH_TAIL(e)                                                \
	if                                                            \
	:: pv < NE ->                                                 \
		DETACH_FLOOR(e);           /* a number given, then withdrawn */ \
		tailw = pv                 /* release */              \
	:: else ->                                                    \
		atomic {                                              \
			DETACH_FREE(e);                               \
			tailw = (busy -> T_BUSY : T_EMPTY)            \
		}                                                     \
	fi
#endif

/*
 * detach(): lock held; takes @e off the list, leaving it pending; sets
 * washead, and nx to the next entry.  The writes to the neighbours come
 * first; if @e was last, the new tail is published after them: a new last
 * entry that holds the turn may then complete lock-free, and be freed, at
 * once.
 */
inline detach(e)
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
		if                                 /* completed or cancelled now */
		:: !deferred[e] -> gone[seq[e]] = true
		:: else -> skip
		fi;
		i = 0
	};
#ifdef BUG_TAIL_BEFORE_LINK
	if
	:: nx == NE -> DETACH_TAIL(e)
	:: else -> skip
	fi;
#endif
	if                                         /* prev->next = next */
#if defined(NUMBERS) && !defined(BUG_NUM_DETACH_KEEPS)
	:: pv < NE ->
		assert(!freed[pv]);
		if                                 /* ... or the latest add's tag */
		:: nx == NE -> num[pv] = num[e]
		:: else -> skip
		fi
#else
	:: pv < NE -> assert(!freed[pv])
#endif
	:: else -> skip
	fi;
#ifndef BUG_TAIL_BEFORE_LINK
	if                                         /* the new tail, last */
	:: nx == NE -> DETACH_TAIL(e)
	:: else -> skip
	fi;
#endif
	pv = 0
}

/* unlink_entry(): detach(), then release the entry for good. */
inline unlink(e)
{
#ifdef BUG_RELEASE_BEFORE_UNLINK
	d_step { RELEASE_D(e) };
#endif
	detach(e);
#ifndef BUG_RELEASE_BEFORE_UNLINK
	d_step { RELEASE_D(e) }
#endif
}

/*
 * take_run(): lock held, the turn free, @first a deferred head: mark the
 * chain busy, take @first off with the deferred entries that follow it (up
 * to RUN_MAX in all) into batch[]; they stay pending, counted in busy.
 */
inline take_run(first)
{
#if !defined(BUG_BUSY_AFTER_DETACH) && !defined(BUG_NO_BUSY)
	busy = 2;
#endif
	detach(first);
#ifdef BUG_BUSY_AFTER_DETACH
	busy = 2;
#endif
	inrun[first] = true;
	batch[0] = first;
	nrun = 1;
	do
	:: nrun < RUN_MAX && qlen > 0 && deferred[queue[0]] ->
		x = queue[0];
#ifndef BUG_NO_BUSY
		busy = nrun + 2;
#endif
		detach(x);
		inrun[x] = true;
		batch[nrun] = x;
		nrun++
	:: else -> break
	od;
#ifdef BUG_RELEASE_RUN_EARLY
	k = 0;
	do                                         /* released when taken off */
	:: k < nrun -> x = batch[k]; d_step { RELEASE_D(x) }; k++
	:: else -> break
	od;
	k = 0;
#endif
	x = 0
}

/*
 * The notifier's function (notify_ready()): push @e, its last access; then,
 * if the loop is armed, take the flag with an exchange and write the fd.
 */
inline notifier_push(e)
{
#ifdef BUG_NOTIFIER_CHECK_BEFORE_PUSH
	fl = armed;                                /* the flag read too early */
#endif
	d_step {                                   /* CAS onto the LIFO */
		assert(!freed[e]);
		nq[nqlen] = e;
		nqlen++
	};
#ifndef BUG_NOTIFIER_CHECK_BEFORE_PUSH
	fl = armed;                                /* load_seq_cst(armed) */
#endif
	if
	:: fl ->
#ifndef BUG_NOTIFIER_NO_EXCHANGE
		atomic { fl = armed; armed = false };  /* exchange(armed, 0) */
#endif
		if
		:: fl ->
			d_step {                   /* write(fd): one per arm */
				writes++;
				assert(writes <= arms);
				efd++
			}
		:: else -> skip
		fi
	:: else -> skip
	fi;
	fl = false
}

/*
 * The function registered with compl_chain_notify(): runs while @e is
 * pending, after its predecessors, once.  K_NOTIFY: the notifier's.
 */
inline notify_call(e)
{
	d_step {
		assert(!freed[e] && inchain[e] && !notify[e] && !unnotified[e]);
		PREDECESSORS_GONE_D(e);
		called[e]++;
		assert(called[e] == 1)
	};
	if
	:: kinds[e] == K_NOTIFY -> notifier_push(e)
	:: else -> skip
	fi;
	fnret[e] = true                            /* returns */
}

/*
 * notify_turn(): @h, registered, became the head (lock held): the turn,
 * untagged, then the function, still with the lock held.
 */
inline notify_turn(h)
{
	d_step {
		assert(!freed[h]);
		state[h] = READY;                  /* cchain__wake_init(head, true) */
		notify[h] = false                  /* store_release(chain) */
	};
#ifdef BUG_NOTIFY_FN_UNLOCKED
	nf = h                                     /* called once unlocked */
#else
	notify_call(h)
#endif
}

/*
 * compl_chain_notify(): at once if the turn is there (no lock); otherwise,
 * with the lock held, check again (turns are given with the lock held) and
 * tag the entry.
 */
inline notify_reg(e)
{
	assert(inchain[e] && !deferred[e] && !notify[e]);
	if
	:: TURN(e) -> notify_call(e)
	:: else ->
		lock_chain();
		if
#ifndef BUG_NOTIFY_UNLOCKED_CHECK
		:: TURN(e) -> unlock_chain(); notify_call(e)
#endif
		:: else ->
			assert(!freed[e]);         /* entry->wake.deferred = fn */
			notify[e] = true;
			unlock_chain()
		fi
	fi
}

/*
 * compl_chain_unnotify(): reads the tag without the lock.  Tagged: with the
 * lock held, withdrawn iff still tagged.  Untagged (the turn was given, or
 * the entry was never registered): not withdrawn, once the lock has been
 * held, which a turn-giver holds while it calls the function.  Leaves ok =
 * withdrawn, and asserts the promise of the header (the model calls it on
 * registered entries only): true, the function has not been called (and
 * notify_call() asserts that it never is); false, it has been called and
 * has returned.
 */
inline unnotify(e)
{
	assert(inchain[e] && !deferred[e]);
	if
	:: notify[e] ->                            /* load_acquire(chain): tagged */
		lock_chain();
#ifdef BUG_UNNOTIFY_NO_RECHECK
		ok = true;                         /* trusts the unlocked load */
#else
		ok = notify[e];                    /* is_notify(), lock held */
#endif
		if
		:: ok -> state[e] = WAITING; notify[e] = false
		:: else -> skip
		fi;
		unlock_chain()
	:: else ->                                 /* untagged: the early return */
		ok = false;
#ifndef BUG_UNNOTIFY_NO_SYNC
		lock_chain();                      /* waits for a call in progress */
		unlock_chain()
#else
		skip
#endif
	fi;
	d_step {
		if
		:: ok -> assert(called[e] == 0); unnotified[e] = true
		:: else -> assert(called[e] == 1 && fnret[e])
		fi
	}
}

/*
 * pass_turn(): lock held.  Gives the turn to @head (the next entry of the
 * one that left, not whatever is first by now: once the chain is empty, a
 * lock-free add may fill it) unless a deferred function holds it; a
 * deferred head is taken off with its run (take_run), left in batch[] for
 * the caller; a head sleeping on a futex is left in wk.
 */
inline pass_turn(head)
{
	nrun = 0;
	if
	:: head < NE && !busy ->
		h = head;
		if
		:: !deferred[h] && notify[h] -> notify_turn(h)
		:: !deferred[h] && !notify[h] -> wake_turn(h)
		:: else -> take_run(h)
		fi;
		h = 0
	:: else -> skip
	fi
}

/*
 * The deferred function of @x (K_DEFER_READD: adds @x again and defers it,
 * which only queues it: this run holds the turn).
 */
inline deferred_fn(x)
{
	d_step {
		PREDECESSORS_GONE_D(x);
		ran[x]++;
		assert(ran[x] <= deferrals[x]);
		gone[seq[x]] = true
	};
	if
	:: readds[x] > 0 ->
		readds[x]--;
		add(x);
		lock_chain();                      /* compl_chain_defer(): queued */
		assert(queue[0] != x || busy);
		deferrals[x]++;
		deferred[x] = true;
		unlock_chain()
	:: else -> skip
	fi
}

/*
 * finish(): lock held on entry, released on exit.  Unlocks, wakes wk, and
 * runs the deferred functions of batch[] in order, each released (no
 * longer pending, freed by the monitor) just before its function runs;
 * then relocks and passes the turn on, in a loop.
 */
inline finish()
{
	do
	:: true ->
		unlock_chain();
		wake_finish();
#ifdef BUG_NOTIFY_FN_UNLOCKED
		if
		:: nf < NE -> notify_call(nf); nf = NE
		:: else -> skip
		fi;
#endif
		if
		:: nrun == 0 -> break
		:: else ->
			k = 0;
			do
			:: k < nrun ->
				x = batch[k];
				assert(!freed[x]);  /* reads ->next, ->wake.deferred */
#ifdef BUG_BUSY_DEC_BEFORE_RELEASE
				busy--;
#endif
				d_step {            /* release_entry(), busy-- */
					inrun[x] = false;
					RELEASE_D(x);
#if !defined(BUG_BUSY_DEC_BEFORE_RELEASE) && !defined(BUG_NO_BUSY)
					busy--
#else
					skip
#endif
				};
				deferred_fn(x);
				k++
			:: else -> break
			od;
			k = 0;
			x = 0;
			lock_chain();
#ifndef BUG_NO_BUSY
			assert(busy == 1);
#endif
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
	nx = NE;
	unlink(e);
	nrun = 0;
	wk = NE;
	if
	:: washead ->
#ifdef BUG_PASS_TO_FIRST
		nx = (qlen > 0 -> queue[0] : NE);
		pass_turn(nx)
#else
		pass_turn(nx)
#endif
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
#ifdef BUG_RELEASE_BEFORE_CAS
	d_step { RELEASE_D(e) };
#endif
#ifdef NUMBERS
	atomic {                                   /* load(entry->next): a tag? */
		ok = (qlen > 0 && queue[qlen - 1] == e);
		tn = num[e]
	};
	if
	:: ok ->
		atomic {                           /* CAS(tail, e -> free(tag + 1)) */
			if
			:: tailw == e && !pinned -> /* alone: leave without the lock */
				assert(qlen == 1 && queue[0] == e && !busy);
				PREDECESSORS_GONE_D(e);
				tailw = T_EMPTY;
#ifndef BUG_NUM_COMPLETE_KEEPS
				tnum = tn + 1;
#endif
				qlen = 0;
				queue[0] = 0;
				gone[seq[e]] = true
			:: else -> ok = false
			fi
		}
	:: else -> skip
	fi;
	tn = 0;
#else
	atomic {                                   /* the read and the CAS as one */
		if
		:: tailw == e && !pinned ->        /* alone: leave without the lock */
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
#endif
	if
	:: ok ->
		ok = false;
#ifndef BUG_RELEASE_BEFORE_CAS
		d_step { RELEASE_D(e) }            /* store_release(chain, NULL) */
#endif
	:: else ->
		lock_chain();
		assert(queue[0] == e && !busy);    /* FIFO: only the head leaves */
		PREDECESSORS_GONE(e);
		leave(e)
	fi
}

inline cancel(e)
{
	assert(inchain[e]);
	lock_chain();
	notify[e] = false;                         /* a registered entry: withdrawn */
	leave(e)
}

/* compl_chain_defer(): runs at once if the turn has come, else queues. */
inline defer(e)
{
	assert(inchain[e] && !deferred[e]);
	lock_chain();
	deferrals[e]++;
	assert(!freed[e]);                         /* entry->wake.deferred = fn */
	if
	:: qlen > 0 && queue[0] == e && !busy ->
		deferred[e] = true;
		take_run(e);
		wk = NE;
		finish()
	:: else ->
		deferred[e] = true;                /* store_release(chain | DEFERRED) */
		unlock_chain()
	fi
}

/* ---- owners, the dump, an empty() observer ------------------------------------ */

#define OWNER_LOCALS                                                  \
	byte i, h, old, cur, ret, wk = NE, nf = NE, t, tn, pv, nx, x, k, nrun; \
	byte batch[RUN_MAX];                                          \
	bool washead, ok, fl

proctype owner(byte e; byte kind; byte rounds)
{
	OWNER_LOCALS;

	kinds[e] = kind;
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
		:: kind == K_DEFER || kind == K_DEFER_READD ->
			if
			:: kind == K_DEFER_READD -> readds[e] = 1
			:: else -> skip
			fi;
			defer(e)
		:: kind == K_WAIT_DEFER ->
			await_turn(e, false);
			PREDECESSORS_GONE(e);
			defer(e)                           /* runs at once */
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
		:: kind == K_NOTIFY ->
			notify_reg(e);                     /* compl_notifier_watch() */
			watched[e] = true                  /* the loop completes it */
		:: kind == K_NOTIFY_CANCEL ->
			notify_reg(e);
			if
			:: cancel(e)                       /* the function ran, or never will */
			:: unnotify(e);
			   if
			   :: ok -> cancel(e)              /* withdrawn: never called */
			   :: else -> complete(e)          /* called: complete, freed at once */
			   fi;
			   ok = false
			fi
		:: kind == K_TIMED_CANCEL ->
			await_turn(e, true);
			if
			:: ret == 0 ->
				PREDECESSORS_GONE(e);
				complete(e)
			:: else ->
				assert(inchain[e]);
				cancel(e)
			fi
		fi;
		rounds--
	:: else -> break
	od
}

/*
 * The event loop: takes the ready entries (nq, in push order) and completes
 * them; may cancel a watched entry it has not taken (compl_notifier_cancel:
 * unnotify, then cancel if withdrawn); arms, sleeps until the fd is
 * readable, disarms and consumes the fd.  A notification that is lost
 * leaves it asleep for ever: an invalid end state.
 */
proctype loop()
{
	OWNER_LOCALS;
	byte e, ndone, ntaken, c;

	do
	:: ndone == nnotify -> break
	:: else ->
		do
		:: ntaken < nqlen ->               /* compl_notifier_take() */
			e = nq[ntaken];
			ntaken++;
			assert(!freed[e] && inchain[e]);
			PREDECESSORS_GONE(e);      /* the ordered step */
			complete(e);
			ndone++
		:: else -> break
		od;
		c = 0;
		do                                 /* perhaps cancel a watched entry */
		:: c < NE && kinds[c] == K_NOTIFY && watched[c] && inchain[c] ->
			unnotify(c);
			if
			:: ok -> cancel(c); ndone++
			:: else -> skip            /* queued: taken later */
			fi;
			ok = false;
			break
		:: c < NE -> c++
		:: true -> break
		od;
		c = 0;
		if
		:: ndone == nnotify -> skip
		:: else ->
			d_step { armed = true; arms++ };  /* compl_notifier_arm() */
			if
#ifndef BUG_NOTIFIER_NO_RECHECK
			:: ntaken < nqlen -> armed = false
#endif
			:: else ->
				efd > 0;           /* epoll_wait() */
				armed = false;     /* compl_notifier_disarm() */
				efd = 0            /* compl_notifier_ack() */
			fi
		fi
	od
}

/*
 * compl_chain_dump() with the lock taken: pins the tail, walks the list
 * (reading each entry's next pointer and wake word), unpins.
 */
proctype dumper()
{
	byte i, x;

	lock_chain();
#ifndef BUG_NO_PIN
	pinned = true;
#endif
	do
	:: i < qlen -> x = queue[i]; assert(!freed[x]); i++
	:: else -> break
	od;
	pinned = false;
	unlock_chain()
}

/*
 * compl_chain_empty(), called while the owners run: when it answers true,
 * no entry was in the chain (listed, or taken off in a run and not yet
 * released) from the start of the call to its end.
 */
proctype observer()
{
	bool listed0[NE], answer;
	byte i, t, b, seq0[NE];

	d_step {
		i = 0;
		do
		:: i < NE ->
			listed0[i] = inrun[i];
			seq0[i] = seq[i];
			i++
		:: else -> break
		od;
		i = 0;
		do
		:: i < qlen -> listed0[queue[i]] = true; i++
		:: else -> break
		od;
		i = 0
	};
	t = tailw;                                 /* load_acquire(tail), unpinned */
	if
	:: t == T_BUSY -> b = busy                 /* load_acquire(busy) */
	:: else -> skip
	fi;
#ifdef BUG_EMPTY_IGNORES_RUN
	answer = (t == T_EMPTY || t == T_BUSY);
#else
	answer = (t == T_EMPTY || (t == T_BUSY && b <= 1));
#endif
	d_step {
		i = 0;
		do
		:: i < qlen ->
			assert(!answer || !listed0[queue[i]] || seq0[queue[i]] != seq[queue[i]]);
			i++
		:: else -> break
		od;
		i = 0;
		do
		:: i < NE ->
			assert(!answer || !listed0[i] || !inrun[i] || seq0[i] != seq[i]);
			i++
		:: else -> break
		od;
		i = 0
	}
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
#elif defined(CONFIG_READD)
		/*
		 * A function that adds its entry again and defers it, runs cut
		 * at RUN_MAX, an owner that sleeps and then defers, a timeout
		 * followed by cancel.
		 */
		run owner(0, K_DEFER_READD, 1);
		run owner(1, K_DEFER, 1);
		run owner(2, K_WAIT_DEFER, 1);
		run owner(3, K_TIMED_CANCEL, 1);
#elif defined(CONFIG_RUNS)
		/* Runs longer than RUN_MAX behind a sleeper, and re-adds. */
		run owner(0, K_WAIT_COMPLETE, 1);
		run owner(1, K_DEFER, 1);
		run owner(2, K_DEFER_READD, 1);
		run owner(3, K_DEFER, 1);
#elif defined(CONFIG_DUMP)
		/* compl_chain_dump() among the lock-free paths and a run. */
		run owner(0, K_EARLY, 1);
		run owner(1, K_DEFER, 1);
		run owner(2, K_WAIT_COMPLETE, 1);
		run dumper();
#elif defined(CONFIG_EMPTY)
		/* compl_chain_empty() among the lock-free paths and runs. */
		run owner(0, K_EARLY, 1);
		run owner(1, K_DEFER, 1);
		run owner(2, K_DEFER, 1);
		run observer();
#elif defined(CONFIG_FLUSH)
		/* A flush (entry 3: add + complete) among waiters and a cancel. */
		run owner(0, K_WAIT_COMPLETE, 1);
		run owner(1, K_CANCEL, 1);
		run owner(2, K_WAIT_COMPLETE, 1);
		run owner(3, K_EARLY, 1);
#elif defined(CONFIG_NOTIFY)
		/*
		 * Registration racing the turn, an event loop that sleeps and
		 * may cancel, a registered entry withdrawn directly while its
		 * turn comes (a cancel, or an unnotify and then a cancel or a
		 * complete that frees it).
		 */
		nnotify = 1;
		run owner(0, K_WAIT_COMPLETE, 1);
		run owner(1, K_NOTIFY, 1);
		run owner(2, K_NOTIFY_CANCEL, 1);
		run loop();
#elif defined(CONFIG_NOTIFY2)
		/* Two producers for one sleeping loop, behind an early release. */
		nnotify = 2;
		run owner(0, K_EARLY, 1);
		run owner(1, K_NOTIFY, 1);
		run owner(2, K_NOTIFY, 1);
		run loop();
#elif defined(CONFIG_SLEEPERS)
		/* Owners that sleep and then cancel or defer, and reuse. */
		run owner(0, K_TIMED_CANCEL, 2);
		run owner(1, K_WAIT_DEFER, 1);
		run owner(2, K_WAIT_COMPLETE, 2);
#else
		/* Every kind of owner at once. */
		run owner(0, K_WAIT_COMPLETE, 1);
		run owner(1, K_EARLY, 1);
		run owner(2, K_CANCEL, 1);
		run owner(3, K_TIMED, 1);
#endif
	}
}
