/* SPDX-License-Identifier: MIT */
/*
 * Promela model of the bounded window's design (issue: bounded ordering
 * windows), before its C code: a limit W on a private chain's pending
 * entries, set per chain; a windowed add waits while W entries are pending
 * (blocking), fails with EAGAIN (try) or gives up at a deadline (timed);
 * an event loop that must never block registers with the chain to be told,
 * through its notifier, when room appears.  model/README.md ("The bounded
 * window") gives the design and the C code it will map to.
 *
 * Design, as modelled:
 *   - A chain with a window takes its lock on every path (the lock-free add
 *     to an empty chain and complete of the only entry are off for it):
 *     count, the number of pending entries, is read and written with the
 *     lock held only.  An entry counts from its add until it stops being
 *     pending: its complete or cancel, or, for a deferred entry, the call
 *     of its function (an entry taken off in a run stays pending, and
 *     counted, until then).
 *   - A windowed add, lock held: room (count < W) -> add; none -> try:
 *     EAGAIN; else register as a room waiter (waiters++), read the room
 *     word (a generation), unlock, sleep on the word unless it moved
 *     (futex), relock, waiters--, look again.  A timed add whose deadline
 *     passed takes room that is there when it looks again (room handed to
 *     it is never dropped), and gives up (ETIMEDOUT) only when there is
 *     none.
 *   - Whoever makes an entry stop being pending, lock held: count--; if
 *     waiters: bump the word and wake one sleeper after unlocking; if a
 *     room watch is registered: take it off and push it to its notifier.
 *   - A room watch (the event loop's): lock held, room now -> pushed at
 *     once; else kept in the chain's one watch slot.
 *   - A plain compl_chain_add (and a flush's entry) counts but never waits:
 *     only windowed adds keep the limit.
 *   - The low-water mark L (compl_chain_set_window_low(); by default W-1):
 *     the window closes when an add makes W entries pending, and reopens
 *     when a leave brings the count down to L.  A windowed add (and a room
 *     watch) looks for an open window, not for count < W; a leave wakes
 *     room waiters only with the window open: one, or all of them when it
 *     has just reopened with L < W-1.  With L = W-1 the window is closed
 *     exactly while W entries are pending: the design above.
 *
 * Verified (spin -a; pan -m...; model/check-window.sh):
 *   - WINDOW: a windowed add takes effect only with fewer than W entries
 *     pending (pending as compl_chain_pending() would answer: listed, or
 *     taken off in a run with the function not yet called); with windowed
 *     adds only, never more than W entries are pending;
 *   - COUNT: the chain's count is the number of pending entries whenever
 *     the lock is free;
 *   - EAGAIN and ETIMEDOUT only when W entries were pending when the adder
 *     last looked, with the lock held, or, with a low-water mark, when the
 *     window had not yet drained to it since it was last full;
 *   - DRAIN: once W entries were pending, no windowed add takes effect
 *     until a leave has brought them down to L (a ghost kept from the
 *     pending entries, apart from the chain's own state);
 *   - FIFO: an entry's turn comes (its wait returns, its function runs)
 *     only once every entry added before it has left;
 *   - no lost wake-up: no reachable end state leaves an adder asleep, or
 *     the event loop waiting on its notifier, while the chain drains
 *     (spin's invalid end state); in the end every round of every adder
 *     added its entry, or gave up at its deadline.
 *
 * Mutants (-DBUG_...), each a protective step removed; check-window.sh
 * makes sure each is caught:
 *   BUG_NO_ROOM_WAKE        a leaver does not wake a room waiter
 *   BUG_SLEEP_NO_GEN        a waiter sleeps without comparing the room word
 *   BUG_TIMEOUT_DROPS_ROOM  a timed add past its deadline gives up without
 *                           looking again (room handed to it is lost)
 *   BUG_COUNT_AT_TAKEOFF    a run's entry leaves the count when taken off,
 *                           not when its function is called
 *   BUG_WATCH_NO_RECHECK    a room watch is kept without looking for room
 *   BUG_WATCH_NOT_FIRED     a leaver does not fire the room watch
 *   BUG_ADD_NO_CLOSE        an add that makes W pending leaves the window
 *                           open
 *   BUG_REOPEN_EARLY        the window reopens as soon as fewer than W are
 *                           pending, whatever the mark
 *   BUG_WAKE_ONLY_REOPEN    a leave wakes waiters only when it reopens the
 *                           window
 */

#ifndef W
#define W 1             /* the window */
#endif
#define NE 4            /* entries: one per adder, each added ROUNDS times */
#ifndef ROUNDS
#define ROUNDS 2
#endif
#define NSEQ 12         /* adds in all (NE x ROUNDS, and room to spare) */
#ifndef L
#define L (W - 1)       /* the low-water mark (the default: none) */
#endif

/* How an adder adds, and what it does once its entry is in. */
#define A_BLOCK 0       /* windowed add that waits for room */
#define A_TIMED 1       /* windowed add with a deadline (may pass at any time) */
#define A_LOOP  2       /* an event loop: try, else watch for room, retry */
#define A_PLAIN 3       /* compl_chain_add: counts, never waits */

#define O_COMPLETE 0    /* wait for the turn, then complete */
#define O_CANCEL   1    /* cancel, whenever */
#define O_DEFER    2    /* compl_chain_defer: the function runs in the turn */

bit lock;
byte count;             /* the chain's count of pending entries */
byte queue[NE];         /* the list, head first */
byte qlen;
byte waiters;           /* adders registered as room waiters */
byte gen;               /* the room word (a futex generation) */
bool parked[NE];        /* an adder sleeps on the room word */
bool watch;             /* the chain's room-watch slot holds the loop's entry */
bool busy;              /* chain->busy: a deferred function holds the turn */
byte events;            /* the loop's notifier: pushed room events, not taken */
bool closed;            /* the window is closed (full, not yet drained to L) */

/* Ghost state. */
bool pending[NE];       /* compl_chain_pending() */
bool inrun[NE];         /* a deferred entry taken off, its function not yet called */
bool isdeferred[NE];
byte npending;          /* entries with pending[] true */
byte seq[NE];           /* the entry's add order in its round */
byte nseq;
bool gone[NSEQ];        /* that add's entry has left */
byte added;             /* adds done, all adders together */
byte timeouts;          /* timed adds that gave up */
bool windowed_only = true;
bool drain;             /* W were pending, not since brought down to L */

#define LOCK   atomic { lock == 0 -> lock = 1 }
/* @e's turn (given once its predecessors left; compl_chain.pml has how). */
#define TURN(e) (qlen > 0 && queue[0] == e && !busy)
#define UNLOCK assert(count == npending); lock = 0

/* Every entry added before @e (in its round) has left. */
#define PREDECESSORS_GONE(e)                                  \
	d_step {                                              \
		i = 0;                                        \
		do                                            \
		:: i < seq[e] -> assert(gone[i]); i++          \
		:: else -> break                              \
		od                                            \
	}

/*
 * Room appeared (lock held): wake one room waiter (sets @wake: FUTEX_WAKE
 * is due after unlocking) and fire the room watch.
 */
#ifndef BUG_WATCH_NOT_FIRED
#define FIRE_WATCH                                            \
	if                                                    \
	:: watch && !closed -> watch = false; events++        \
	:: else -> skip                                       \
	fi
#else
#define FIRE_WATCH skip
#endif
#ifndef BUG_REOPEN_EARLY
#define REOPENS (closed && count <= L)
#else
#define REOPENS (closed && count < W)
#endif
/* Reopened below W-1: room for several, all waiters woken (performance:
 * waking one would do, as each leave with the window open wakes one). */
#define WAKES_ALL (L < W - 1)
/*
 * @wake: 0 none, 1 one waiter, 2 all of them (several leaves under one
 * lock hold keep the most).  BUG_WAKE_ONLY_REOPEN: a
 * leave with the window already open wakes nobody.
 */
#ifndef BUG_WAKE_ONLY_REOPEN
#define OPEN_WAKES(wake) :: !closed && waiters > 0 -> gen++; wake = (wake == 2 -> 2 : 1)
#else
#define OPEN_WAKES(wake)
#endif
#define ROOM(wake)                                            \
	if                                                    \
	:: REOPENS -> closed = false;                         \
		if                                            \
		:: waiters > 0 && WAKES_ALL -> gen++; wake = 2 \
		:: waiters > 0 && !WAKES_ALL -> gen++; wake = (wake == 2 -> 2 : 1) \
		:: else -> skip                               \
		fi                                            \
	OPEN_WAKES(wake)                                      \
	:: else -> skip                                       \
	fi;                                                   \
	FIRE_WATCH

/* @e stops being pending (lock held): it leaves the count, room appears. */
#define LEAVE(e, wake)                                        \
	d_step {                                              \
		pending[e] = false;                           \
		npending--;                                   \
		gone[seq[e]] = true;                          \
		count--;                                      \
		if                                            \
		:: npending <= L -> drain = false             \
		:: else -> skip                               \
		fi                                            \
	}                                                     \
	ROOM(wake)

/* FUTEX_WAKE of one sleeper, or all, on the room word (lock not held). */
#define WAKE_ONE(wake)                                        \
	if                                                    \
	:: wake == 2 ->                                       \
		d_step {                                      \
			parked[0] = false; parked[1] = false; \
			parked[2] = false; parked[3] = false  \
		}                                             \
	:: wake == 1 ->                                       \
		atomic {                                      \
			if                                    \
			:: parked[0] -> parked[0] = false     \
			:: parked[1] -> parked[1] = false     \
			:: parked[2] -> parked[2] = false     \
			:: parked[3] -> parked[3] = false     \
			:: else -> skip                       \
			fi                                    \
		}                                             \
	:: else -> skip                                       \
	fi

#ifdef BUG_NO_ROOM_WAKE
#undef WAKE_ONE
#define WAKE_ONE(wake) skip
#endif

/* An add that makes W pending closes the window (lock held). */
#ifndef BUG_ADD_NO_CLOSE
#define CLOSE                                                 \
	if                                                    \
	:: count >= W -> closed = true                        \
	:: else -> skip                                       \
	fi
#else
#define CLOSE skip
#endif

/* Link @e at the tail (lock held); a windowed add asserts the window. */
#define ADD(e, windowed)                                      \
	d_step {                                              \
		assert(!windowed || count < W);               \
		assert(!windowed || !drain);                  \
		seq[e] = nseq; nseq++;                        \
		queue[qlen] = e; qlen++;                      \
		pending[e] = true; npending++;                \
		count++;                                      \
		CLOSE;                                        \
		if                                            \
		:: npending >= W -> drain = true              \
		:: else -> skip                               \
		fi;                                           \
		added++;                                      \
		assert(!windowed_only || npending <= W);      \
	}

/* Take @e off the list (lock held), wherever it is. */
#define UNLINK(e)                                             \
	d_step {                                              \
		i = 0;                                        \
		do                                            \
		:: queue[i] == e -> break                     \
		:: else -> i++                                \
		od;                                           \
		do                                            \
		:: i + 1 < qlen -> queue[i] = queue[i + 1]; i++ \
		:: else -> break                              \
		od;                                           \
		qlen--;                                       \
		queue[qlen] = 0;                              \
	}

/*
 * The head is taken care of after a leave (lock held): a deferred head is
 * taken off and its function called here, by whoever passed the turn, with
 * the lock dropped around the call as in C (a run of one: runs are
 * compl_chain.pml's); the count drops when the function is called.
 */
inline run_deferred(wake)
{
	do
	:: qlen > 0 && isdeferred[queue[0]] ->
		r = queue[0];
		busy = true;
		UNLINK(r);
		inrun[r] = true;
#ifdef BUG_COUNT_AT_TAKEOFF
		count--;
		ROOM(wake);
#endif
		UNLOCK;
		WAKE_ONE(wake);
		wake = 0;
		LOCK;
		PREDECESSORS_GONE(r);
		inrun[r] = false;
		isdeferred[r] = false;
#ifdef BUG_COUNT_AT_TAKEOFF
		d_step {
			pending[r] = false;
			npending--;
			gone[seq[r]] = true
		}
#else
		LEAVE(r, wake);
#endif
		busy = false
	:: else -> break
	od
}

/* A windowed add of @e; @how: A_BLOCK or A_TIMED.  Sets @ok. */
inline windowed_add(e, how, ok)
{
	LOCK;
	do
	:: !closed -> ADD(e, true); ok = true; break
	:: else ->
		waiters++;
		g = gen;
		UNLOCK;
		/* FUTEX_WAIT on the room word, unless it moved; spurious returns. */
		atomic {
#ifndef BUG_SLEEP_NO_GEN
			if
			:: gen == g -> parked[e] = true
			:: else -> skip
			fi
#else
			parked[e] = true
#endif
		}
		if
		:: !parked[e] -> skip
		:: how == A_TIMED -> parked[e] = false; late = true /* the deadline passes */
		fi;
		LOCK;
		waiters--;
#ifdef BUG_TIMEOUT_DROPS_ROOM
		if
		:: late -> ok = false; break
		:: else -> skip
		fi;
#endif
		if
		:: late && closed -> assert(count >= W || drain); ok = false; break
		:: else -> skip
		fi
	od;
	UNLOCK
}

/* An adder: ROUNDS times, add its entry one way and see it off another. */
proctype adder(byte e; byte how; byte own)
{
	byte i, r, g, rounds;
	bool ok, late;
	byte wake;

	do
	:: rounds < ROUNDS ->
		ok = false;
		late = false;
		wake = 0;
		if
		:: how == A_PLAIN -> LOCK; ADD(e, false); UNLOCK; ok = true
		:: else -> windowed_add(e, how, ok)
		fi;
		if
		:: !ok -> timeouts++; goto next /* ETIMEDOUT: this round adds nothing */
		:: else -> skip
		fi;
		if
		:: own == O_COMPLETE ->
			/* The turn: first in the list (the wait's mechanics are compl_chain.pml's). */
			TURN(e);
			PREDECESSORS_GONE(e);
			LOCK;
			LEAVE(e, wake);
			UNLINK(e);
			run_deferred(wake);
			UNLOCK;
			WAKE_ONE(wake)
		:: own == O_CANCEL ->
			LOCK;
			r = queue[0];
			LEAVE(e, wake);
			UNLINK(e);
			if
			:: r == e && !busy -> run_deferred(wake) /* it held the turn */
			:: else -> skip
			fi;
			UNLOCK;
			WAKE_ONE(wake)
		:: own == O_DEFER ->
			LOCK;
			if
			:: TURN(e) -> /* the turn has come: the function runs at once */
				PREDECESSORS_GONE(e);
				LEAVE(e, wake);
				UNLINK(e);
				run_deferred(wake)
			:: else -> isdeferred[e] = true
			fi;
			UNLOCK;
			WAKE_ONE(wake);
			/* Its next add waits until the library let go of it. */
			(!pending[e])
		fi;
next:		rounds++
	:: rounds == ROUNDS -> break
	od
}

/*
 * An event loop: it never blocks on the chain.  It tries; on EAGAIN it
 * registers the room watch and sleeps on its notifier (only there); on an
 * event it tries again.  Its entries are seen off by cancels (its own).
 */
proctype loop(byte e)
{
	byte i, r, rounds;
	byte wake;

	do
	:: rounds < ROUNDS ->
		wake = 0;
		LOCK;
		if
		:: !closed ->
			ADD(e, true);
			UNLOCK;
			/* The ordered step, later: it waits for the turn on the notifier. */
			TURN(e);
			PREDECESSORS_GONE(e);
			LOCK;
			LEAVE(e, wake);
			UNLINK(e);
			run_deferred(wake);
			UNLOCK;
			WAKE_ONE(wake);
			rounds++
		:: else ->
			assert(count >= W || drain); /* EAGAIN */
			UNLOCK;
			/* compl_chain_window_notify(): room now -> pushed at once. */
			LOCK;
#ifndef BUG_WATCH_NO_RECHECK
			if
			:: !closed -> events++
			:: else -> watch = true
			fi;
#else
			watch = true;
#endif
			UNLOCK;
			/* The notifier: sleep until an event is pushed, take it. */
			atomic { events > 0 -> events-- }
		fi
	:: rounds == ROUNDS -> break
	od
}

init
{
	byte n;

	atomic {
#if defined(CONFIG_BLOCK)
		/* W=1: two blocking adders (complete, cancel), a timed one (defer). */
		run adder(0, A_BLOCK, O_COMPLETE);
		run adder(1, A_BLOCK, O_CANCEL);
		run adder(2, A_TIMED, O_DEFER);
		n = 3
#elif defined(CONFIG_TIMED)
		/* Two timed adders racing a blocking one: a wake-up handed to a
		 * waiter whose deadline passes must not be lost. */
		run adder(0, A_TIMED, O_COMPLETE);
		run adder(1, A_TIMED, O_COMPLETE);
		run adder(2, A_BLOCK, O_COMPLETE);
		n = 3
#elif defined(CONFIG_LOOP)
		/* The event loop beside a blocking adder and a deferring one. */
		run loop(0);
		run adder(1, A_BLOCK, O_COMPLETE);
		run adder(2, A_BLOCK, O_DEFER);
		n = 3
#elif defined(CONFIG_DEFER)
		/* Deferred runs (W=2: a deferred entry waits behind another):
		 * entries stay counted until their functions. */
		run adder(0, A_BLOCK, O_DEFER);
		run adder(1, A_BLOCK, O_DEFER);
		run adder(2, A_TIMED, O_CANCEL);
		n = 3
#elif defined(CONFIG_LOW)
		/* A low-water mark (W=2, L=0): two entries pending, two adders
		 * (one timed) waiting for the window to drain, woken together. */
		run adder(0, A_BLOCK, O_COMPLETE);
		run adder(1, A_BLOCK, O_DEFER);
		run adder(2, A_BLOCK, O_COMPLETE);
		run adder(3, A_TIMED, O_CANCEL);
		n = 4
#elif defined(CONFIG_FOUR) || defined(CONFIG_DRAIN3)
		/* Two adders asleep on a full window (W=2), no mark: each leave
		 * wakes one, the one that reopens it or not. */
		run adder(0, A_BLOCK, O_COMPLETE);
		run adder(1, A_BLOCK, O_CANCEL);
		run adder(2, A_BLOCK, O_COMPLETE);
		run adder(3, A_BLOCK, O_DEFER);
		n = 4
#elif defined(CONFIG_LOWLOOP)
		/* The event loop's room watch with a low-water mark (W=2, L=0). */
		run loop(0);
		run adder(1, A_BLOCK, O_COMPLETE);
		run adder(2, A_BLOCK, O_COMPLETE);
		n = 3
#elif defined(CONFIG_PLAIN) || defined(CONFIG_PLAINLOW)
		/* A plain add counts and never waits (the window may overflow). */
		windowed_only = false;
		run adder(0, A_PLAIN, O_COMPLETE);
		run adder(1, A_BLOCK, O_CANCEL);
		run loop(2);
		n = 3
#else
#error "define one CONFIG_..."
#endif
	}
	/* Everybody is done: every round added its entry, and all left. */
	(_nr_pr == 1);
	assert(added + timeouts == n * ROUNDS);
	assert(count == 0 && npending == 0 && qlen == 0 && waiters == 0)
}
