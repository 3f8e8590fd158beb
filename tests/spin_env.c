// SPDX-License-Identifier: MIT
/*
 * Prints the spin budget the library took from CCHAIN_SPIN_NS (the value
 * cchain_set_spin_ns() returns first), after setting it a few times, so
 * that test_spin_env.py sees each report at most once.
 */
#include <inttypes.h>
#include <stdio.h>

#include <cchain/cchain.h>

int main(void)
{
	uint64_t from_env = cchain_set_spin_ns(1);

	cchain_set_spin_ns(2);
	cchain_set_spin_ns(from_env);
	printf("%" PRIu64 "\n", from_env);
	return 0;
}
