// SPDX-License-Identifier: MIT
/*
 * The uncontended path of a shared chain makes no system call: between two
 * getppid() markers, every operation that does not have to sleep, and
 * compl_chain_shared_init(), on a chain in a shared mapping, after a flush
 * that had to sleep (a flusher that was woken leaves nothing that costs a
 * later call a system call); check-syscalls.sh runs it under strace.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <sys/mman.h>
#include <sys/wait.h>

#include <cchain/cchain.h>

struct region {
	struct compl_chain_shared chain, other;
	struct compl_chain_shared_entry a, b;
};

int main(void)
{
	struct region *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned long bad = 0;
	struct compl_chain_shared_report report;
	pid_t flusher;
	int i, st;

	if (r == MAP_FAILED || compl_chain_shared_init(&r->chain))
		return 1;
	/* Warm up: lazy binding, and the process's identity (read once). */
	compl_chain_shared_add(&r->chain, &r->a);
	compl_chain_shared_complete(&r->a);
	/*
	 * A flush that sleeps (in a child) until our entry completes; bit 0
	 * of the chain's flush generation (src/shared_chain.c) tells that it
	 * announced its sleep.
	 */
	compl_chain_shared_add(&r->chain, &r->a);
	flusher = fork();
	if (flusher < 0)
		return 1;
	if (flusher == 0) {
		compl_chain_shared_flush(&r->chain);
		_exit(0);
	}
	for (i = 0; !(__atomic_load_n(&r->chain.gen, __ATOMIC_ACQUIRE) & 1); i++) {
		if (i == 50000) {
			fprintf(stderr, "uncontended_shared: the flusher never announced its sleep\n");
			return 1;
		}
		usleep(100);
	}
	usleep(2000); /* from announced to asleep */
	compl_chain_shared_complete(&r->a);
	if (waitpid(flusher, &st, 0) != flusher || !WIFEXITED(st) || WEXITSTATUS(st))
		return 1;

	getppid();
	for (i = 0; i < 100000; i++) {
		compl_chain_shared_add(&r->chain, &r->a);
		compl_chain_shared_add(&r->chain, &r->b);
		bad += compl_chain_shared_try_wait(&r->a) != 0;
		bad += compl_chain_shared_try_wait(&r->b) != EBUSY;
		bad += !compl_chain_shared_pending(&r->b);
		bad += compl_chain_shared_empty(&r->chain);
		bad += compl_chain_shared_wait(&r->a) != 0;
		bad += compl_chain_shared_wait_timeout(&r->a, 1000) != 0;
		bad += compl_chain_shared_withdrawn(&r->a, &report) != 0 || report.count;
		bad += compl_chain_shared_withdrawn(&r->b, &report) != EBUSY;
		if (i & 1)
			bad += compl_chain_shared_complete(&r->a) != 0;
		else
			bad += compl_chain_shared_cancel(&r->a) != 0;
		bad += compl_chain_shared_wait(&r->b) != 0;
		bad += compl_chain_shared_complete(&r->b) != 0;
		compl_chain_shared_flush(&r->chain);
		bad += compl_chain_shared_init(&r->other) != 0;
	}
	getppid();

	if (compl_chain_shared_destroy(&r->chain) || bad) {
		fprintf(stderr, "uncontended_shared: %lu wrong results\n", bad);
		return 1;
	}
	return 0;
}
