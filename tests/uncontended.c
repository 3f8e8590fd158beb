// SPDX-License-Identifier: MIT
/*
 * The uncontended path makes no system call.  Between two getppid() markers
 * this program runs every chain operation that does not have to sleep;
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
	}
	getppid();

	compl_chain_destroy(&chain);
	if (bad) {
		fprintf(stderr, "uncontended: %lu wrong results\n", bad);
		return 1;
	}
	return 0;
}
