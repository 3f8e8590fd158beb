// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: single-threaded operation sequences on one chain,
 * checked step by step against a reference model (an array in chain order).
 *
 * Each input byte is one operation: the high nibble picks it, the low three
 * bits pick one of NE entries.  Deferred functions log the order they run
 * in, which must be the model's.  Only sequences that cannot block a single
 * thread are generated (complete and wait act on the head; flush on an empty
 * chain); everything else, including misuse, is fair game.  Every
 * observable (pending, try_wait, wait_timeout's result, empty, the misuse
 * reports) is compared with the model after each step.
 *
 * Built with -fsanitize=fuzzer for fuzzing, or with FUZZ_REPLAY for a plain
 * program that replays corpus files (meson test).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cchain/cchain.h>

#define NE 8

static struct compl_chain chain;
static struct compl_chain_entry ent[NE];

/* The reference model. */
static int q[NE], qlen;
static bool pending[NE], deferred[NE];
/* Deferred functions: the order the model expects and the order they ran. */
static int expect_log[1 << 13], nexpect, ran_log[1 << 13], nran;

static int misuse_count;
static const char *misuse_func;

static void on_misuse(const char *func, const char *msg)
{
	(void)msg;
	misuse_count++;
	misuse_func = func;
}

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "fuzz_chain: %s:%d: %s\n", __FILE__, \
				__LINE__, #cond);                           \
			abort();                                            \
		}                                                           \
	} while (0)

/* The call just made must have reported exactly one misuse, from @func. */
static void expect_misuse(const char *func)
{
	CHECK(misuse_count == 1);
	CHECK(strcmp(misuse_func, func) == 0);
	misuse_count = 0;
}

static void model_remove(int e)
{
	int i, j;

	for (i = 0; i < qlen && q[i] != e; i++)
		;
	CHECK(i < qlen);
	for (j = i; j + 1 < qlen; j++)
		q[j] = q[j + 1];
	qlen--;
	pending[e] = false;
}

/* Deferred entries at the head run, in order, as soon as they get the turn. */
static void model_run_deferred(void)
{
	while (qlen && deferred[q[0]]) {
		int e = q[0];

		deferred[e] = false;
		model_remove(e);
		expect_log[nexpect++] = e;
	}
}

static void deferred_fn(struct compl_chain_entry *entry)
{
	int e = (int)(entry - ent);

	CHECK(e >= 0 && e < NE);
	CHECK(!compl_chain_pending(entry));
	ran_log[nran++] = e;
}

static void check_all(void)
{
	int i;

	CHECK(misuse_count == 0);
	CHECK(nran == nexpect);
	for (i = 0; i < nran; i++)
		CHECK(ran_log[i] == expect_log[i]);
	CHECK(compl_chain_empty(&chain) == (qlen == 0));
	for (i = 0; i < NE; i++) {
		CHECK(compl_chain_pending(&ent[i]) == pending[i]);
		if (pending[i] && !deferred[i])
			CHECK(compl_chain_try_wait(&ent[i]) == (q[0] == i));
	}
}

static void one_op(uint8_t b)
{
	int e = b & 7, op = b >> 4;

	switch (op) {
	case 0: case 1: case 2: /* add */
		if (pending[e])
			break; /* re-adding a pending entry is undefined */
		if (b & 8) /* the entry's memory is garbage, as a fresh malloc may be */
			memset(&ent[e], 0xa5 ^ b, sizeof(ent[e]));
		compl_chain_add(&chain, &ent[e]);
		q[qlen++] = e;
		pending[e] = true;
		break;
	case 3: case 4: /* complete the head, or misuse */
		if (pending[e] && !deferred[e] && q[0] != e)
			e = q[0]; /* complete of a non-head would block us */
		compl_chain_complete(&ent[e]);
		if (pending[e] && !deferred[e]) {
			model_remove(e);
			model_run_deferred();
		} else {
			expect_misuse("compl_chain_complete");
		}
		break;
	case 5: case 6: /* cancel anywhere, or misuse */
		compl_chain_cancel(&ent[e]);
		if (pending[e] && !deferred[e]) {
			model_remove(e);
			model_run_deferred();
		} else {
			expect_misuse("compl_chain_cancel");
		}
		break;
	case 7: /* wait: the head returns at once */
		if (pending[e] && !deferred[e] && q[0] != e)
			break;
		compl_chain_wait(&ent[e]);
		if (!pending[e] || deferred[e])
			expect_misuse("compl_chain_wait");
		break;
	case 8: case 9: { /* wait_timeout, polling or a microsecond */
		int r = compl_chain_wait_timeout(&ent[e], op == 8 ? 0 : 1000);

		if (!pending[e] || deferred[e]) {
			CHECK(r == EINVAL);
			expect_misuse("compl_chain_wait_timeout");
		} else {
			CHECK(r == (q[0] == e ? 0 : ETIMEDOUT));
		}
		break;
	}
	case 10: /* try_wait */
		CHECK(compl_chain_try_wait(&ent[e]) ==
		      (pending[e] && !deferred[e] && q[0] == e));
		if (!pending[e] || deferred[e])
			expect_misuse("compl_chain_try_wait");
		break;
	case 14: /* defer: runs now at the head, later behind others */
		compl_chain_defer(&ent[e], deferred_fn);
		if (pending[e] && !deferred[e]) {
			deferred[e] = true;
			model_run_deferred();
		} else {
			expect_misuse("compl_chain_defer");
		}
		break;
	case 11: /* flush: only on an empty chain, or it would block */
		if (qlen == 0)
			compl_chain_flush(&chain);
		break;
	case 12: /* destroy: misuse unless empty; then usable again */
		compl_chain_destroy(&chain);
		if (qlen)
			expect_misuse("compl_chain_destroy");
		else
			compl_chain_init(&chain);
		break;
	case 13: /* a zero-filled entry is never pending */
		if (!pending[e])
			memset(&ent[e], 0, sizeof(ent[e]));
		break;
	default: /* 15: observe only */
		break;
	}
	check_all();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t i;

	cchain_set_misuse_handler(on_misuse);
	compl_chain_init(&chain);
	memset(ent, 0, sizeof(ent));
	memset(pending, 0, sizeof(pending));
	memset(deferred, 0, sizeof(deferred));
	qlen = nexpect = nran = 0;
	misuse_count = 0;
	for (i = 0; i < size && i < 4096; i++)
		one_op(data[i]);
	/* Drain in chain order; the chain must end empty and destroyable. */
	while (qlen) {
		int e = q[0];

		CHECK(compl_chain_try_wait(&ent[e]));
		compl_chain_complete(&ent[e]);
		model_remove(e);
		model_run_deferred();
		check_all();
	}
	compl_chain_destroy(&chain);
	CHECK(misuse_count == 0);
	return 0;
}

#ifdef FUZZ_REPLAY
/* Replay corpus files given on the command line (meson test). */
int main(int argc, char **argv)
{
	static uint8_t buf[1 << 16];
	int i, n = 0;

	for (i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		size_t len;

		if (!f) {
			perror(argv[i]);
			return 1;
		}
		len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, len);
		n++;
	}
	printf("%d inputs replayed\n", n);
	return n ? 0 : 1;
}
#endif
