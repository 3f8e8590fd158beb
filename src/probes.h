/* SPDX-License-Identifier: MIT */
/*
 * USDT probes (<sys/sdt.h>), provider "cchain".  Each probe is a NOP in the
 * code plus an ELF note that tracers (bpftrace, perf, gdb, SystemTap) read;
 * its arguments are values the code has at hand anyway.  Each probe also
 * has a semaphore that a tracer raises while it is attached: the library
 * reads a clock for wait_end only while somebody listens.  The probes and
 * their arguments are listed in doc/observability.md (USDT probes).  Without
 * <sys/sdt.h> (meson option usdt) they compile to nothing.
 */
#ifndef CCHAIN_PROBES_H
#define CCHAIN_PROBES_H

#ifdef CCHAIN_USDT
#define _SDT_HAS_SEMAPHORES 1
#define SDT_USE_VARIADIC 1
#include <sys/sdt.h>

#define CC_PROBE_SEMAPHORE(name) extern unsigned short cchain_##name##_semaphore
CC_PROBE_SEMAPHORE(add);
CC_PROBE_SEMAPHORE(turn);
CC_PROBE_SEMAPHORE(wait_begin);
CC_PROBE_SEMAPHORE(wait_end);
CC_PROBE_SEMAPHORE(complete);
CC_PROBE_SEMAPHORE(cancel);
CC_PROBE_SEMAPHORE(defer_run);
CC_PROBE_SEMAPHORE(async_schedule);
CC_PROBE_SEMAPHORE(async_run);
CC_PROBE_SEMAPHORE(async_run_end);

#define CC_PROBE(name, ...) STAP_PROBEV(cchain, name, __VA_ARGS__)
/* Is a tracer attached to the probe?  Only for work done just for it. */
#define CC_PROBE_ENABLED(name) \
	__builtin_expect(*(volatile unsigned short *)&cchain_##name##_semaphore != 0, 0)
#else
#define CC_PROBE(name, ...) do { } while (0)
#define CC_PROBE_ENABLED(name) 0
#endif

#endif /* CCHAIN_PROBES_H */
