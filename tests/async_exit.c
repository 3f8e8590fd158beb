// SPDX-License-Identifier: MIT
/*
 * A program that uses the async layer and exits cleanly: run under
 * valgrind --leak-check=full --error-exitcode=1 by check-async-exit.sh.
 * With --no-shutdown it skips cchain_async_shutdown(), and the lingering
 * workers make valgrind fail (the check's control).
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cchain/async.h>

static _Atomic int sum;

static void add_fn(void *data, async_cookie_t cookie)
{
	(void)cookie;
	atomic_fetch_add(&sum, (int)(intptr_t)data);
}

int main(int argc, char **argv)
{
	ASYNC_DOMAIN_EXCLUSIVE(excl);
	bool shutdown = !(argc > 1 && !strcmp(argv[1], "--no-shutdown"));
	int round, i;

	/* Twice: the layer restarts after a shutdown. */
	for (round = 0; round < 2; round++) {
		atomic_store(&sum, 0);
		for (i = 1; i <= 100; i++)
			if (i % 2)
				async_schedule_domain(add_fn, (void *)(intptr_t)i, &excl);
			else
				async_schedule(add_fn, (void *)(intptr_t)i);
		async_synchronize_full_domain(&excl);
		async_synchronize_full();
		if (shutdown)
			cchain_async_shutdown();
		if (atomic_load(&sum) != 5050) {
			fprintf(stderr, "async_exit: sum %d, expected 5050\n", atomic_load(&sum));
			return 1;
		}
	}
	return 0;
}
