/* SPDX-License-Identifier: MIT */
/*
 * Promela model of a shared chain's lock word (src/shared_chain.c: lock(),
 * lock_slow(), unlock()), with processes killed at any step.
 *
 * The word: the holder (0: free, else process + 1) and WAITERS.  Taken by
 * a compare-and-swap from free (with WAITERS if the taker has slept: others
 * may sleep too), or, after a holder is seen dead, by a compare-and-swap
 * from the very word seen.  A process that finds it held by a live process
 * sets WAITERS (compare-and-swap) and sleeps on it: FUTEX_WAIT, which
 * sleeps only while the word still holds what it saw.  Release: one
 * exchange; if the old word had WAITERS, wake one sleeper.
 *
 * Sleepers time out every CCHAIN_SHARED_DETECT_MS in C.  Here a timeout is
 * enabled only once a process has died (the holder, or a sleeper that a
 * wake-up went to): before any death, a lost wake-up is a stall, which spin
 * reports as an invalid end state.
 *
 * Properties:
 *  MUTEX      no process takes the lock while a live process holds it; a
 *             holder still holds it when it releases it;
 *  PROGRESS   no live process waits for ever (invalid end state).
 */

#ifndef MAXDEATH
#define MAXDEATH 1
#endif
#ifndef ROUNDS
#define ROUNDS 2
#endif

#define N 3
#define NIL 255

byte holder;	/* 0: free, else process + 1 */
bool waiters;	/* WAITERS */
bool asleep[N];	/* queued on the futex */
bool alive[N];
byte deaths;
byte incs = NIL;	/* ghost: who is in the critical section */

#define DIE \
	if \
	:: deaths < MAXDEATH -> \
		atomic { deaths++; alive[me] = false }; \
		goto dead \
	:: true \
	fi

proctype proc(byte me)
{
	byte seen, r;
	bool slept, w;

	for (r : 1 .. ROUNDS) {
		slept = false;
		do
		:: atomic {	/* compare-and-swap from free */
			holder == 0 ->
			holder = me + 1;
#ifdef BUG_TAKE_NO_WAITERS
			waiters = false;
#else
			waiters = slept;
#endif
			break
		   }
		:: holder != 0 && !alive[holder - 1] ->
#ifdef BUG_STEAL_STORE
			/* the holder checked dead, then the word stored */
			holder = me + 1;
			waiters = true;
			break
#else
			atomic {	/* compare-and-swap from the word seen dead */
				if
				:: holder != 0 && !alive[holder - 1] ->
					holder = me + 1;
					waiters = true;
					break
				:: else
				fi
			}
#endif
		:: atomic {	/* held by the live: set WAITERS */
			holder != 0 && alive[holder - 1] ->
			seen = holder;
#ifndef BUG_WAIT_NO_BIT
			waiters = true
#else
			skip	/* sleeps on the word as seen, WAITERS or not */
#endif
		   };
			DIE;
			atomic {	/* FUTEX_WAIT(seen | WAITERS) */
				if
#ifndef BUG_WAIT_NO_BIT
				:: holder == seen && waiters -> asleep[me] = true
#else
				:: holder == seen -> asleep[me] = true
#endif
				:: else
				fi
			};
			slept = true;
			DIE;	/* asleep: a wake-up may go to the dead */
			if
			:: !asleep[me]
			:: asleep[me] && deaths > 0 -> asleep[me] = false	/* timeout */
			fi
		od;

		/* MUTEX: nobody live is inside */
		assert(incs == NIL || !alive[incs]);
		incs = me;
		DIE;
		assert(holder == me + 1);
		incs = NIL;

#ifdef BUG_UNLOCK_STORE
		/* WAITERS read, then the word stored: a sleeper between is lost */
		w = waiters;
		atomic { holder = 0; waiters = false };
#else
		atomic { w = waiters; holder = 0; waiters = false };	/* exchange */
#endif
		DIE;
		if
		:: w ->
			atomic {	/* FUTEX_WAKE, one */
				if
				:: asleep[0] -> asleep[0] = false
				:: asleep[1] -> asleep[1] = false
				:: asleep[2] -> asleep[2] = false
				:: else
				fi
			}
		:: else
		fi
	}
dead:
	skip
}

init {
	atomic {
		alive[0] = true; alive[1] = true; alive[2] = true;
		run proc(0);
		run proc(1);
		run proc(2)
	}
}
