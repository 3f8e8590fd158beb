// SPDX-License-Identifier: MIT
/*
 * The uncontended path makes no system call.  Between two getppid() markers
 * this program runs every chain operation that does not have to sleep,
 * and the notifier's path for an awake loop (registration when the turn is
 * there, a turn handed to a registered entry, take, arm and disarm);
 * check-syscalls.sh runs it under strace and fails on any system call seen
 * between the markers.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <cchain/cchain.h>

int main(void)
{
	static DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry a, b;
	struct compl_notify_entry c, d;
	struct compl_notifier *n = compl_notifier_create();
	unsigned long bad = 0;
	int i;

	compl_chain_add(&chain, &a); /* warm up lazy binding and the like */
	compl_chain_complete(&a);

	getppid();
	for (i = 0; i < 100000; i++) {
		compl_chain_add(&chain, &a);
		compl_chain_add(&chain, &b);
		bad += !compl_chain_try_wait(&a);
		bad += compl_chain_try_wait(&b);
		bad += !compl_chain_pending(&b);
		bad += compl_chain_empty(&chain);
		compl_chain_wait(&a);
		bad += compl_chain_wait_timeout(&a, 1000) != 0;
		if (i & 1) {
			compl_chain_complete(&a);
		} else {
			compl_chain_cancel(&a);
		}
		/* b's turn was handed over with nobody asleep: no wake needed. */
		compl_chain_wait(&b);
		compl_chain_complete(&b);
		compl_chain_flush(&chain);

		/* Nothing ready: the loop may sleep; it wakes with nothing. */
		bad += !compl_notifier_arm(n);
		compl_notifier_disarm(n);

		/* The loop is awake (not armed): no write, whoever gives the turn. */
		compl_chain_add(&chain, &c.entry);
		compl_chain_add(&chain, &d.entry);
		compl_notifier_watch(n, &c);
		compl_notifier_watch(n, &d);
		bad += compl_notifier_arm(n); /* c is ready: do not sleep */
		compl_notifier_disarm(n);
		bad += compl_notifier_take(n) != &c;
		bad += compl_notifier_take(n) != NULL;
		compl_chain_complete(&c.entry);
		bad += compl_notifier_take(n) != &d;
		compl_chain_complete(&d.entry);
	}
	getppid();

	compl_notifier_destroy(n);

	compl_chain_destroy(&chain);
	if (bad) {
		fprintf(stderr, "uncontended: %lu wrong results\n", bad);
		return 1;
	}
	return 0;
}
