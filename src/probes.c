// SPDX-License-Identifier: MIT
/* The USDT probes' semaphores (see probes.h), in the section tracers expect. */
#include "probes.h"

#ifdef CCHAIN_USDT
#define CC_SEMAPHORE(name) \
	unsigned short cchain_##name##_semaphore __attribute__((section(".probes"), used))

CC_SEMAPHORE(add);
CC_SEMAPHORE(turn);
CC_SEMAPHORE(wait_begin);
CC_SEMAPHORE(wait_end);
CC_SEMAPHORE(complete);
CC_SEMAPHORE(cancel);
CC_SEMAPHORE(defer_run);
CC_SEMAPHORE(async_schedule);
CC_SEMAPHORE(async_run);
CC_SEMAPHORE(async_run_end);
#endif
