// SPDX-License-Identifier: MIT
/*
 * A wait that sleeps for about 50 ms behind a head, for check-usdt.sh to
 * observe through the probes: prints the chain's and the entries'
 * addresses first, so that the probes' arguments can be checked.
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include <cchain/cchain.h>

static DEFINE_COMPL_CHAIN(chain);
static struct compl_chain_entry first, second;

static void *waiter(void *arg)
{
	(void)arg;
	compl_chain_wait(&second);
	compl_chain_complete(&second);
	return NULL;
}

int main(void)
{
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	pthread_t tid;

	printf("chain=%p first=%p second=%p\n", (void *)&chain, (void *)&first,
	       (void *)&second);
	fflush(stdout);
	compl_chain_add(&chain, &first);
	compl_chain_add(&chain, &second);
	if (pthread_create(&tid, NULL, waiter, NULL))
		return 1;
	nanosleep(&pause, NULL);
	compl_chain_complete(&first);
	pthread_join(tid, NULL);
	return 0;
}
