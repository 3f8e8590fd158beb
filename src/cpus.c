// SPDX-License-Identifier: MIT
/*
 * How many CPUs a waiter may run on, for the decision to spin before it
 * sleeps (src/compl_chain.c, src/shared_chain.c): the calling thread's
 * affinity mask, which taskset, sched_setaffinity(), cpusets and container
 * CPU sets restrict, re-read at most every CC_CPUS_REREAD_NS per thread.
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "cchain-internal.h"

/*
 * A mask change (taskset -p, a cpuset's cpus written) is seen within this
 * of a thread's next wait; a thread that waits without cease reads its mask
 * at most ten times a second, one system call each time.
 */
#define CC_CPUS_REREAD_NS 100000000u

/* The kernel's masks hold at most NR_CPUS bits, 8192 on any architecture today. */
#define CC_MASK_BYTES_STACK (8192 / 8)
/* Beyond that, larger buffers up to this are tried (heap). */
#define CC_MASK_BYTES_MAX ((size_t)1 << 20)

/* Bytes a mask read needs, learnt once a read found CC_MASK_BYTES_STACK short. */
static _Atomic size_t mask_bytes;

/* The calling thread's count, and the time after which it is read again. */
static __thread unsigned int thread_cpus;
static __thread uint64_t thread_cpus_until;

/* The CPUs online, read once: the count when no mask can be read. */
static unsigned int online_cpus(void)
{
	static _Atomic unsigned int online;
	unsigned int n = atomic_load_explicit(&online, memory_order_relaxed);
	long v;

	if (!n) {
		v = sysconf(_SC_NPROCESSORS_ONLN);
		n = v > 0 ? (unsigned int)v : 1;
		atomic_store_explicit(&online, n, memory_order_relaxed);
	}
	return n;
}

/* CPUs in the calling thread's affinity mask; 0 if it cannot be read. */
static unsigned int mask_cpus(void)
{
	size_t bytes = atomic_load_explicit(&mask_bytes, memory_order_relaxed);
	unsigned long stack[CC_MASK_BYTES_STACK / sizeof(unsigned long)];
	cpu_set_t *set;
	unsigned int n;

	if (!bytes) {
		if (!sched_getaffinity(0, sizeof(stack), (cpu_set_t *)stack))
			return (unsigned int)CPU_COUNT_S(sizeof(stack), (cpu_set_t *)stack);
		if (errno != EINVAL)
			return 0;
		bytes = sizeof(stack) * 2;
	}
	/* EINVAL: the kernel's mask is larger than the buffer. */
	for (; bytes <= CC_MASK_BYTES_MAX; bytes *= 2) {
		set = malloc(bytes);
		if (!set)
			return 0;
		if (!sched_getaffinity(0, bytes, set)) {
			n = (unsigned int)CPU_COUNT_S(bytes, set);
			free(set);
			atomic_store_explicit(&mask_bytes, bytes, memory_order_relaxed);
			return n;
		}
		free(set);
		if (errno != EINVAL)
			return 0;
	}
	return 0;
}

unsigned int cchain__cpus(uint64_t now)
{
	unsigned int n;
	int saved;

	if (thread_cpus && now < thread_cpus_until)
		return thread_cpus;
	saved = errno;
	n = mask_cpus();
	errno = saved;
	thread_cpus = n ? n : online_cpus();
	thread_cpus_until = now + CC_CPUS_REREAD_NS;
	return thread_cpus;
}
