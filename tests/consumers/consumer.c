// SPDX-License-Identifier: MIT
/* A program outside the project, built with only pkg-config's flags. */
#include <pthread.h>
#include <stdio.h>

#include <cchain/cchain.h>

#define N 8

static DEFINE_COMPL_CHAIN(chain);
static struct compl_chain_entry entries[N];
static int order[N], norder;

static void *task(void *arg)
{
	struct compl_chain_entry *e = arg;

	compl_chain_wait(e);
	order[norder++] = (int)(e - entries);
	compl_chain_complete(e);
	return NULL;
}

int main(void)
{
	pthread_t t[N];
	int i;

	for (i = 0; i < N; i++)
		compl_chain_add(&chain, &entries[i]);
	for (i = N - 1; i >= 0; i--)
		pthread_create(&t[i], NULL, task, &entries[i]);
	for (i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < N; i++) {
		if (order[i] != i) {
			fprintf(stderr, "consumer: out of order at %d\n", i);
			return 1;
		}
	}
	printf("consumer: libcchain %s, %d tasks in order\n", cchain_version_string(), N);
	return 0;
}
