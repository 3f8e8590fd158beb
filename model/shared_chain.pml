/* SPDX-License-Identifier: MIT */
/*
 * Promela model of shared chains (src/shared_chain.c): the list under a
 * lock word that names its holder, the intent record, the turn and its
 * report, the reaping of dead processes' entries; with processes killed at
 * any step, inside the critical section included, and while repairing
 * another's death.
 *
 * Process p owns entry p.  Death is a nondeterministic choice at every
 * DIE point (between any two stores the C code makes in that place), up
 * to MAXDEATH deaths in all.  The lock word is taken when free, or from a
 * holder seen dead, and the taker then repairs (shared_lock.pml checks the
 * word's own protocol).  A waiter sleeps until its turn comes;
 * its periodic check (every CCHAIN_SHARED_DETECT_MS in C) is modelled as
 * enabled whenever it would find something to do: the lock held by a dead
 * process, or the head owned by one.  So a stall is a state where a live
 * process can never go on: spin reports it as an invalid end state.
 *
 * Processes are told apart by identity: a process id (pidv[]) and a start
 * time (gen[]), as in C.  With REUSE, process 2 may start after process 0
 * died and be given its id (with a later start time): its entry then lies
 * behind the dead one's, whose owner has its id.  Process p adds entry p,
 * except with REUSE_ENTRY: process 2 may be given entry 0 once process 0
 * died, if that entry is not pending (its adder may have died holding the
 * lock in the middle of adding it).  An entry records the identity of the
 * process that last added it, written before the add takes the lock.
 *
 * Properties (assertions):
 *  FIFO       when a wait returns, no entry added before is still pending;
 *  ONE TURN   when a wait returns, no other live process holds the turn
 *             (took it and has not completed or cancelled since);
 *  OWNED      a live process's entry is never withdrawn, and its owner's
 *             complete or cancel finds it pending (not misuse);
 *  LIST       after every lock (and repair): the list from the head holds
 *             exactly the pending entries, linked both ways, tail last;
 *  REPORT     a report names a dead process that had seen its turn and
 *             died holding it, before its own complete logged the hand-over
 *             (owed[]); no death is reported twice; at the end every owed
 *             report was given, or is left to the next entry added (orphan);
 *  WITHDRAWN  when an owner is first told its turn came, its entry's
 *             withdrawn-entries report (count, lowest and highest sequence
 *             number) describes exactly the set of withdrawn entries it
 *             covers (ghost wset[]), none of which an earlier owner was
 *             told of; at the end every entry withdrawn with its dead owner
 *             was told to exactly one owner, or is left in the chain's slot
 *             for the next entry added, and not both;
 *  DONE       at the end no entry of a live process is pending;
 *  MUTEX      nobody else holds the lock while its holder releases it.
 */

#ifndef MAXDEATH
#define MAXDEATH 1
#endif

#ifndef REUSE
#define REUSE 0
#endif

#ifndef REUSE_ENTRY
#define REUSE_ENTRY 0
#endif

#define N 3
#define NIL 255

#define OP_NONE 0
#define OP_ADD 1
#define OP_UNLINK 2

byte head = NIL, tail = NIL;
byte nxt[N], prv[N];
byte seq[N];	/* sequence number; 0: not pending */
byte chainseq;
bool ready[N], seen[N], inh[N];
byte deadfrom[N];
bool orphan;
byte orphan_dead;

/*
 * Withdrawn-entries reports: count, lowest and highest sequence number.
 * Each entry's covers entries withdrawn before it; the chain's slot (o*)
 * those withdrawn behind the last entry, for the next entry added.
 */
byte wcnt[N], wfst[N], wlst[N];
byte ocnt, ofst, olst;

/* the intent record; iwd: the step stores the report i* into its target */
byte iop, ie, iprev, inext, iseq, idead;
bool iinh, iwd;
byte icnt, ifst, ilst;

/* the lock word: 0 free, else owner + 1 */
byte lockowner;

bool alive[N];
bool finished[N];
byte deaths;

/* identity: process id and start time (1: later, given a dead one's id) */
byte pidv[N];
bit gen[N];

/* an entry's owner, as its last add recorded it: identity, and (ghost) process */
byte epid[N];
bit egen[N];
byte eowner[N];

/* Is a process with id p and start time g alive?  (process_dead() in C) */
#define LIVE(p, g) \
	((alive[0] && pidv[0] == (p) && gen[0] == (g)) || \
	 (alive[1] && pidv[1] == (p) && gen[1] == (g)) || \
	 (alive[2] && pidv[2] == (p) && gen[2] == (g)))
#define LIVE_PID(p) \
	((alive[0] && pidv[0] == (p)) || (alive[1] && pidv[1] == (p)) || \
	 (alive[2] && pidv[2] == (p)))

/* owner_dead(): the owner of entry e, by the identity the entry records */
#define OWNER_DEAD(e) (!LIVE(epid[e], egen[e]))

/* holder_dead(): the lock word names its holder k by identity */
#ifdef BUG_LOCK_PID_ONLY
#define HOLDER_DEAD(k) (!LIVE_PID(pidv[k]))
#else
#define HOLDER_DEAD(k) (!LIVE(pidv[k], gen[k]))
#endif

/* reap's caches: is entry e's owner the process (p, g) checked before? */
#ifdef BUG_REAP_PID_ONLY
#define SAME(p, g, e) ((p) == epid[e])
#else
#define SAME(p, g, e) ((p) == epid[e] && (g) == egen[e])
#endif

/* ghosts */
bool owed[N];	/* died holding a turn it had seen, hand-over not logged */
byte told[N];	/* reports naming this process */
bool holds[N];	/* took the turn, has not completed or cancelled since */
/* sequence numbers (bit s) covered: by each report, the slot's, the intent's */
byte wset[N], oset, iset;
byte wd_all;	/* withdrawn with their dead owner */
byte wd_told;	/* told to an owner */

#define BIT(s) (1 << (s))
#define POP(x) (((x) & 1) + (((x) >> 1) & 1) + (((x) >> 2) & 1) + (((x) >> 3) & 1) + \
		(((x) >> 4) & 1) + (((x) >> 5) & 1) + (((x) >> 6) & 1) + (((x) >> 7) & 1))

/* Death of process me (adding entry en), here: the kernel marks its lock owner-dead. */
#define DIE \
	if \
	:: deaths < MAXDEATH -> \
		atomic { \
			deaths++; \
			alive[me] = false; \
			if \
			:: seen[en] && seq[en] != 0 && !(iop == OP_UNLINK && ie == en && lockowner == me + 1) -> \
				owed[me] = true \
			:: else \
			fi; \
			if \
			:: seen[en] && inh[en] -> owed[deadfrom[en]] = false /* the report reached it */ \
			:: else \
			fi \
		}; \
		goto dead \
	:: true \
	fi

inline give_turn(e, inhv, dv)
{
#ifdef BUG_NO_CAS_TURN
	/* overwrites a turn already given: a redo reports twice */
	ready[e] = true;
	if
	:: inhv -> inh[e] = true; deadfrom[e] = dv
	:: else
	fi
#else
	/* one compare-and-swap on the state word (e->dead is written before it) */
	atomic {
		if
		:: !ready[e] ->
			ready[e] = true;
			if
			:: inhv -> inh[e] = true; deadfrom[e] = dv
			:: else
			fi
		:: else
		fi
	}
#endif
}

/* add gives its own entry the turn: nobody else writes its state, a store */
inline give_own_turn(e, inhv, dv)
{
	atomic {
		ready[e] = true;
		inh[e] = inhv;
		if
		:: inhv -> deadfrom[e] = dv
		:: else
		fi
	}
}

inline set_intent(op, e, p, n, inhv, dv, s)
{
	ie = e; iprev = p; inext = n; iinh = inhv; idead = dv; iseq = s;
	DIE;
	iop = op;
	DIE
}

inline clear_intent()
{
	DIE;
	iop = OP_NONE;
	DIE
}

/*
 * The entry's report, from the intent: the chain's slot (iwd), else none;
 * written before the entry is pending, the slot emptied after.
 */
inline do_add(e, p, inhv, dv, s)
{
	if
	:: iwd -> wcnt[e] = icnt; wfst[e] = ifst; wlst[e] = ilst; wset[e] = iset
	:: else -> wcnt[e] = 0; wset[e] = 0
	fi;
	prv[e] = p; nxt[e] = NIL; seq[e] = s;
	DIE;
	if
	:: p != NIL -> nxt[p] = e; DIE
	:: else
	fi;
	tail = e;
	chainseq = s;
#ifndef BUG_WD_ADD_KEEPS
	if
	:: iwd -> ocnt = 0; oset = 0
	:: else
	fi;
#endif
	DIE;
	if
	:: p == NIL ->
		orphan = false;
		give_own_turn(e, inhv, dv);
		DIE;
		head = e
	:: else
	fi
}

inline do_unlink(e, p, n, inhv, dv, s)
{
	if
	:: p != NIL -> nxt[p] = n
	:: else -> head = n
	fi;
	DIE;
	if
	:: n != NIL -> prv[n] = p
	:: else -> tail = p
	fi;
	DIE;
	/* the report moves to the successor, or to the slot: stored from the intent */
#ifndef BUG_WD_TURN_FIRST
	wd_store(n);
#endif
#ifndef BUG_RELEASE_AFTER_TURN
	if
	:: seq[e] == s -> seq[e] = 0
	:: else
	fi;
	DIE;
#endif
	if
	:: p == NIL && n != NIL -> give_turn(n, inhv, dv); DIE
	:: p == NIL && n == NIL && inhv ->
#ifndef BUG_NO_ORPHAN
		orphan_dead = dv;
		DIE;
		orphan = true;
#endif
		DIE
	:: else
	fi;
#ifdef BUG_RELEASE_AFTER_TURN
	if
	:: seq[e] == s -> seq[e] = 0
	:: else
	fi
#endif
#ifdef BUG_WD_TURN_FIRST
	wd_store(n)
#endif
}

/*
 * The report that leaves with entry e: its own, unless its owner was told
 * its turn came (then it was told), and e itself when it is withdrawn with
 * its dead owner (dself).  Merged with the target's, the successor's or the
 * slot's, into the intent.
 */
inline wd_merge(c, f, l, st)
{
	if
	:: c != 0 ->
		if
		:: icnt == 0 || f < ifst -> ifst = f
		:: else
		fi;
		if
		:: icnt == 0 || l > ilst -> ilst = l
		:: else
		fi;
		icnt = icnt + c;
		iset = iset | st
	:: else
	fi
}

inline wd_leaving(e, n, dself, s)
{
	icnt = 0; ifst = 0; ilst = 0; iset = 0;
#ifdef BUG_WD_PASS_SEEN
	wd_merge(wcnt[e], wfst[e], wlst[e], wset[e]);
#else
	if
	:: !seen[e] -> wd_merge(wcnt[e], wfst[e], wlst[e], wset[e])
	:: else
	fi;
#endif
#ifdef BUG_WD_CANCEL_DROPS
	if
	:: !dself -> icnt = 0; iset = 0
	:: else
	fi;
#endif
	if
	:: dself -> wd_merge(1, s, s, BIT(s)); wd_all = wd_all | BIT(s)
	:: else
	fi;
	iwd = icnt != 0;
#ifndef BUG_WD_DELTA
	if
	:: n != NIL -> wd_merge(wcnt[n], wfst[n], wlst[n], wset[n])
	:: else -> wd_merge(ocnt, ofst, olst, oset)
	fi
#endif
}

/* Store the intent's report into the step's target (successor n, or the slot). */
inline wd_store(n)
{
	if
	:: iwd ->
#ifdef BUG_WD_DELTA
		/* the leaving report merged into the target's as it is now: a redo merges twice */
		if
		:: n != NIL ->
			if
			:: wcnt[n] == 0 || ifst < wfst[n] -> wfst[n] = ifst
			:: else
			fi;
			if
			:: wcnt[n] == 0 || ilst > wlst[n] -> wlst[n] = ilst
			:: else
			fi;
			wcnt[n] = wcnt[n] + icnt; wset[n] = wset[n] | iset
		:: else ->
			if
			:: ocnt == 0 || ifst < ofst -> ofst = ifst
			:: else
			fi;
			if
			:: ocnt == 0 || ilst > olst -> olst = ilst
			:: else
			fi;
			ocnt = ocnt + icnt; oset = oset | iset
		fi;
#else
		if
		:: n != NIL -> wcnt[n] = icnt; wfst[n] = ifst; wlst[n] = ilst; wset[n] = iset
		:: else -> ocnt = icnt; ofst = ifst; olst = ilst; oset = iset
		fi;
#endif
		DIE
	:: else
	fi
}

inline unlink_entry(e, inhv, dv, dself)
{
	ue_p = prv[e]; ue_n = nxt[e]; ue_s = seq[e];
	wd_leaving(e, ue_n, dself, ue_s);
	set_intent(OP_UNLINK, e, ue_p, ue_n, inhv, dv, ue_s);
	do_unlink(e, ue_p, ue_n, inhv, dv, ue_s);
	clear_intent()
}

/*
 * An add is finished only if its entry holds the step's sequence number:
 * before that store the chain is untouched, and the entry, never pending,
 * may have been given to another process (REUSE_ENTRY).
 */
inline redo()
{
	if
#ifdef BUG_REDO_ADD_ALWAYS
	:: iop == OP_ADD -> do_add(ie, iprev, iinh, idead, iseq)
#else
	:: iop == OP_ADD && seq[ie] == iseq -> do_add(ie, iprev, iinh, idead, iseq)
	:: iop == OP_ADD && seq[ie] != iseq
#endif
	:: iop == OP_UNLINK -> do_unlink(ie, iprev, inext, iinh, idead, iseq)
	:: else
	fi;
	clear_intent()
}

/*
 * Withdraw the dead's entries.  The owners already checked are remembered
 * (in C up to 8 of each; one of each here, the chain holds 3 entries): the
 * last found dead (r_gp, r_gg) and the last found alive (r_lp, r_lg).
 */
inline reap()
{
	r_e = head;
	r_gp = NIL; r_lp = NIL;
	do
	:: r_e == NIL -> break
	:: else ->
		r_n = nxt[r_e];
		if
		:: r_lp != NIL && SAME(r_lp, r_lg, r_e) -> r_dead = false
		:: r_gp != NIL && SAME(r_gp, r_gg, r_e) -> r_dead = true
		:: else ->
			r_dead = OWNER_DEAD(r_e);
			if
			:: r_dead -> r_gp = epid[r_e]; r_gg = egen[r_e]
			:: else -> r_lp = epid[r_e]; r_lg = egen[r_e]
			fi
		fi;
		if
		:: r_dead ->
			assert(!alive[eowner[r_e]]); /* OWNED */
#ifdef BUG_NO_SEEN
			r_inh = prv[r_e] == NIL;
#else
			r_inh = prv[r_e] == NIL && (seen[r_e] || inh[r_e]);
#endif
			if
			:: inh[r_e] && !seen[r_e] -> r_dv = deadfrom[r_e]
			:: else -> r_dv = eowner[r_e]
			fi;
			unlink_entry(r_e, r_inh, r_dv, true)
		:: else
		fi;
		r_e = r_n
	od
}

/* LIST: the list holds exactly the pending entries (lock held, no intent). */
inline check_list()
{
	assert(iop == OP_NONE);
	c_e = head; c_p = NIL; c_n = 0;
	do
	:: c_e == NIL -> break
	:: else ->
		assert(seq[c_e] != 0 && prv[c_e] == c_p);
		c_n++;
		assert(c_n <= N);
		c_p = c_e;
		c_e = nxt[c_e]
	od;
	assert(tail == c_p);
	c_k = 0;
	do
	:: c_k < N -> if :: seq[c_k] != 0 -> c_n-- :: else fi; c_k++
	:: else -> break
	od;
	assert(c_n == 0)
}

/*
 * The lock word, abstracted: taken from free, or from a holder seen dead
 * (then the taker repairs).  shared_lock.pml checks the lock word itself:
 * one taker per death, and no wake-up lost.
 */
inline lock()
{
	atomic {
		(lockowner == 0 || HOLDER_DEAD(lockowner - 1)) ->
		eod = lockowner != 0;
		lockowner = me + 1
	};
	if
	:: eod ->
#ifdef BUG_NO_REDO
		iop = OP_NONE; /* the dead holder's step dropped, not finished */
#else
		redo();
#endif
		reap()
	:: else
	fi;
	check_list()
}

/* MUTEX: nobody took the lock over from a live holder. */
inline unlock()
{
	assert(lockowner == me + 1);
	lockowner = 0
}

/* The turn has come: mark it seen and take the report, in one store. */
inline took_turn()
{
	k = 0;
	do
	:: k < N ->
		assert(seq[k] == 0 || seq[k] >= seq[en] || k == en);
		assert(k == me || !holds[k] || !alive[k]); /* ONE TURN */
		k++
	:: else -> break
	od;
	atomic {
		/* WITHDRAWN: told once, exactly what its report covers */
		if
		:: !seen[en] ->
			assert(wcnt[en] == POP(wset[en]));
			assert((wset[en] & ~wd_all) == 0 && (wset[en] & wd_told) == 0);
			if
			:: wcnt[en] != 0 ->
				assert((wset[en] & BIT(wfst[en])) != 0 && (wset[en] & BIT(wlst[en])) != 0);
				assert((wset[en] & (BIT(wfst[en]) - 1)) == 0);
				assert((wset[en] >> wlst[en]) == 1)
			:: else
			fi;
			wd_told = wd_told | wset[en]
		:: else
		fi;
		seen[en] = true;
		holds[me] = true;
		if
		:: inh[en] ->
			assert(owed[deadfrom[en]]);
			assert(told[deadfrom[en]] == 0);
			told[deadfrom[en]]++;
			owed[deadfrom[en]] = false;
			inh[en] = false
		:: else
		fi
	}
}

inline check_turn()
{
	lock();
	if
	:: head != NIL && OWNER_DEAD(head) -> reap()
	:: else
	fi;
	unlock()
}

inline await_turn()
{
	do
	:: ready[en] -> took_turn(); break
#ifndef BUG_NO_CHECK
	:: !ready[en] && ((lockowner != 0 && HOLDER_DEAD(lockowner - 1)) ||
			  (head != NIL && OWNER_DEAD(head))) ->
		check_turn()
#endif
	od
}

inline add()
{
	atomic {
		ready[en] = false; seen[en] = false; inh[en] = false;
		epid[en] = pidv[me]; egen[en] = gen[me]; eowner[en] = me
	};
	lock();
	a_t = tail;
	a_s = chainseq + 1;
	a_inh = tail == NIL && orphan;
	if
	:: a_inh -> a_dv = orphan_dead
	:: else -> a_dv = 0
	fi;
	/* the slot's report goes to the entry (in the intent) */
	iwd = ocnt != 0; icnt = ocnt; ifst = ofst; ilst = olst; iset = oset;
#ifdef BUG_INTENT_AFTER
	do_add(en, a_t, a_inh, a_dv, a_s);
	set_intent(OP_ADD, en, a_t, NIL, a_inh, a_dv, a_s);
#else
	set_intent(OP_ADD, en, a_t, NIL, a_inh, a_dv, a_s);
	do_add(en, a_t, a_inh, a_dv, a_s);
#endif
	clear_intent();
	unlock()
}

/*
 * OWNED: owned_chain() finds the entry pending (else: misuse, EINVAL), and
 * it is still pending when unlinked.
 */
inline complete()
{
	assert(seq[en] != 0);
	await_turn();
	lock();
	assert(seq[en] != 0);
	holds[me] = false;
	unlink_entry(en, false, 0, false);
	unlock()
}

inline cancel()
{
	assert(seq[en] != 0);
	lock();
	assert(seq[en] != 0);
	holds[me] = false;
	unlink_entry(en, inh[en] && prv[en] == NIL, deadfrom[en], false);
	unlock()
}

#define LOCALS \
	byte ue_p, ue_n, ue_s, r_e, r_n, r_dv, r_gp, r_lp, c_e, c_p, c_n, c_k, k, a_t, a_s, a_dv; \
	byte en = me; \
	bool r_inh, r_dead, eod, a_inh; \
	bit r_gg, r_lg

/* kind 0: add, wait, complete; 1: add, complete; 2: add, cancel */
proctype owner(byte me; byte kind)
{
	LOCALS;

	/* REUSE: process 2 may start once process 0 died, and get its id */
	if
	:: REUSE && me == 2 && !alive[0] -> atomic { pidv[me] = pidv[0]; gen[me] = 1 }
	:: true
	fi;
	/* REUSE_ENTRY: process 2 may be given entry 0, not pending, once process 0 died */
	if
	:: REUSE_ENTRY && me == 2 && !alive[0] && seq[0] == 0 -> en = 0
	:: true
	fi;
	add();
	DIE;
	if
	:: kind == 0 -> await_turn(); DIE; complete()
	:: kind == 1 -> complete()
	:: kind == 2 -> cancel()
	fi;
	finished[me] = true;
dead:
	skip
}

/* After everyone: withdraw the dead, and check what is left. */
proctype checker()
{
	byte me = N - 1; /* never dies: deaths are all spent or it has no DIE */
	LOCALS;
	byte d;

	(finished[0] || !alive[0]) && (finished[1] || !alive[1]) && (finished[2] || !alive[2]);
	atomic {
		(lockowner == 0 || HOLDER_DEAD(lockowner - 1)) ->
		eod = lockowner != 0;
		lockowner = N + 1
	};
	deaths = MAXDEATH; /* the checker is not killed */
	if
	:: eod -> redo()
	:: else
	fi;
	reap();
	check_list();
	assert(head == NIL);
	d = 0;
	do
	:: d < N ->
		assert(!owed[d] || (orphan && orphan_dead == d));
		assert(told[d] <= 1);
		d++
	:: else -> break
	od;
	/* WITHDRAWN: each told once, or left in the slot */
	assert((wd_told & oset) == 0 && (wd_told | oset) == wd_all);
	assert(ocnt == POP(oset));
dead:
	skip
}

init {
	atomic {
		alive[0] = true; alive[1] = true; alive[2] = true;
		pidv[0] = 0; pidv[1] = 1; pidv[2] = 2;
		epid[0] = 0; epid[1] = 1; epid[2] = 2;
		eowner[0] = 0; eowner[1] = 1; eowner[2] = 2;
		run owner(0, KIND0);
		run owner(1, KIND1);
		run owner(2, KIND2);
		run checker()
	}
}
