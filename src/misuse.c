// SPDX-License-Identifier: MIT
/* Misuse reports, fatal errors and version information. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cchain-internal.h"

static void default_misuse(const char *func, const char *msg)
{
	fprintf(stderr, "libcchain: %s: %s\n", func, msg);
	abort();
}

static _Atomic(cchain_misuse_fn) misuse_handler = default_misuse;

cchain_misuse_fn cchain_set_misuse_handler(cchain_misuse_fn fn)
{
	return atomic_exchange(&misuse_handler, fn ? fn : default_misuse);
}

void cchain__misuse(const char *func, const char *msg)
{
	atomic_load(&misuse_handler)(func, msg);
}

void cchain__die(const char *file, int line, const char *func, const char *what,
		 int err)
{
	fprintf(stderr, "libcchain: fatal: %s failed: %s (%s:%d, %s)\n", what,
		strerror(err), file, line, func);
	abort();
}

unsigned int cchain_version(void)
{
	return CCHAIN_VERSION_HEX;
}

const char *cchain_version_string(void)
{
	return CCHAIN_VERSION_STRING;
}
