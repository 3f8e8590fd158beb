// SPDX-License-Identifier: MIT
/*
 * The public headers compile as C++ (no _Atomic, no designated
 * initialisers in the macros, extern "C" linkage) and work from C++.
 */
#include <cchain/cchain.h>

#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

static DEFINE_COMPL_CHAIN(chain);

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c)) {                                                   \
			std::fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c); \
			std::exit(1);                                         \
		}                                                             \
	} while (0)

int main()
{
	const int n = 16;
	std::vector<compl_chain_entry> entries(n);
	std::vector<int> order;
	std::vector<std::thread> threads;

	for (auto &e : entries)
		compl_chain_add(&chain, &e);
	for (int i = n - 1; i >= 0; i--)
		threads.emplace_back([&, i] {
			compl_chain_wait(&entries[i]);
			order.push_back(i);
			compl_chain_complete(&entries[i]);
		});
	for (auto &t : threads)
		t.join();
	CHECK(static_cast<int>(order.size()) == n);
	for (int i = 0; i < n; i++)
		CHECK(order[i] == i);
	CHECK(compl_chain_empty(&chain));
	CHECK(cchain_version() == CCHAIN_VERSION_HEX);

	compl_chain local;
	compl_chain_init(&local);
	compl_chain_flush(&local);
	compl_chain_destroy(&local);
	std::printf("C++: %d entries in order\n", n);
	return 0;
}
