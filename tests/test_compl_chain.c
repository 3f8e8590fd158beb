// SPDX-License-Identifier: MIT
/*
 * Single-threaded semantics of every public function, static
 * initialisation, entry reuse, timeouts, misuse reports and what
 * compl_chain_empty() says while the chain is dumped.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"
#include "misuse-recorder.h"

static DEFINE_COMPL_CHAIN(static_chain);

#define assert_misuse(func)                             \
	do {                                            \
		assert_int_equal(misuse_count, 1);      \
		assert_string_equal(misuse_func, func); \
		misuse_count = 0;                       \
	} while (0)

static void test_static_init(void **state)
{
	struct compl_chain_entry a, b;

	(void)state;
	assert_true(compl_chain_empty(&static_chain));
	compl_chain_add(&static_chain, &a);
	compl_chain_add(&static_chain, &b);
	assert_false(compl_chain_empty(&static_chain));
	assert_true(compl_chain_try_wait(&a));
	assert_false(compl_chain_try_wait(&b));
	compl_chain_complete(&a);
	compl_chain_complete(&b);
	assert_true(compl_chain_empty(&static_chain));
}

static void test_local_define(void **state)
{
	DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry a;

	(void)state;
	compl_chain_add(&chain, &a);
	compl_chain_wait(&a);
	compl_chain_complete(&a);
	compl_chain_destroy(&chain);
}

static void test_head_ready_and_handoff(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, c;

	(void)state;
	compl_chain_init(&chain);
	assert_true(compl_chain_empty(&chain));
	compl_chain_add(&chain, &a);
	assert_true(compl_chain_pending(&a));
	assert_true(compl_chain_try_wait(&a));
	compl_chain_add(&chain, &b);
	compl_chain_add(&chain, &c);
	assert_false(compl_chain_try_wait(&b));
	assert_false(compl_chain_try_wait(&c));
	compl_chain_wait(&a); /* the head returns at once */
	compl_chain_complete(&a);
	assert_false(compl_chain_pending(&a));
	assert_true(compl_chain_try_wait(&b));
	assert_false(compl_chain_try_wait(&c));
	compl_chain_complete(&b);
	assert_true(compl_chain_try_wait(&c));
	assert_true(compl_chain_pending(&c));
	assert_false(compl_chain_empty(&chain));
	compl_chain_complete(&c);
	assert_false(compl_chain_pending(&c));
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
}

static void test_add_uninitialised_entry(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry *e1 = xmalloc(sizeof(*e1));
	struct compl_chain_entry *e2 = xmalloc(sizeof(*e2));

	(void)state;
	/* e1 is fresh malloc memory (valgrind checks no read of it before a
	 * write); e2 holds garbage pointers that must never be followed. */
	memset(e2, 0xa5, sizeof(*e2));
	compl_chain_init(&chain);
	compl_chain_add(&chain, e1);
	compl_chain_add(&chain, e2);
	assert_true(compl_chain_pending(e1));
	assert_true(compl_chain_pending(e2));
	compl_chain_complete(e1);
	free(e1);
	assert_true(compl_chain_try_wait(e2));
	compl_chain_complete(e2);
	free(e2);
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
}

static void test_zero_entry_not_pending(void **state)
{
	struct compl_chain_entry e;

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_false(compl_chain_pending(&e));
}

static void test_entry_size(void **state)
{
	(void)state;
	if (sizeof(void *) == 8)
		assert_true(sizeof(struct compl_chain_entry) <= 32);
}

static void test_entry_reuse(void **state)
{
	struct compl_chain c1, c2;
	struct compl_chain_entry e, other;
	int i;

	(void)state;
	compl_chain_init(&c1);
	compl_chain_init(&c2);
	for (i = 0; i < 1000; i++) {
		struct compl_chain *c = (i & 1) ? &c2 : &c1;

		compl_chain_add(c, &e);
		compl_chain_add(c, &other);
		assert_true(compl_chain_try_wait(&e));
		if (i % 3 == 0)
			compl_chain_cancel(&e);
		else
			compl_chain_complete(&e);
		assert_false(compl_chain_pending(&e));
		assert_true(compl_chain_try_wait(&other));
		compl_chain_complete(&other);
		assert_true(compl_chain_empty(c));
	}
	compl_chain_destroy(&c1);
	compl_chain_destroy(&c2);
}

static void test_cancel_middle(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, c;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	compl_chain_add(&chain, &c);
	compl_chain_cancel(&b);
	assert_false(compl_chain_pending(&b));
	assert_true(compl_chain_try_wait(&a)); /* the head keeps its turn */
	assert_false(compl_chain_try_wait(&c));
	compl_chain_complete(&a);
	assert_true(compl_chain_try_wait(&c));
	compl_chain_complete(&c);
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
}

static void test_cancel_head_and_tail(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, c, d;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	compl_chain_add(&chain, &c);
	compl_chain_cancel(&c); /* tail */
	compl_chain_add(&chain, &d); /* appended after b, not after c */
	compl_chain_cancel(&a); /* head: the turn passes to b */
	assert_true(compl_chain_try_wait(&b));
	assert_false(compl_chain_try_wait(&d));
	compl_chain_cancel(&b);
	assert_true(compl_chain_try_wait(&d));
	compl_chain_cancel(&d); /* the only entry */
	assert_true(compl_chain_empty(&chain));
	compl_chain_add(&chain, &a);
	assert_true(compl_chain_try_wait(&a));
	compl_chain_complete(&a);
	compl_chain_destroy(&chain);
}

static void test_flush_empty(void **state)
{
	struct compl_chain chain;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_flush(&chain);
	assert_true(compl_chain_empty(&chain));
	compl_chain_flush(&static_chain);
	compl_chain_destroy(&chain);
}

static void test_wait_timeout(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b;
	uint64_t t0, dt;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	assert_int_equal(compl_chain_wait_timeout(&a, 0), 0);
	assert_int_equal(compl_chain_wait_timeout(&a, UINT64_MAX), 0);
	assert_int_equal(compl_chain_wait_timeout(&b, 0), ETIMEDOUT);
	t0 = now_ns();
	assert_int_equal(compl_chain_wait_timeout(&b, 30 * MS), ETIMEDOUT);
	dt = now_ns() - t0;
	assert_true(dt >= 30 * MS);
	/* Nanoseconds that carry into the deadline's seconds are not lost. */
	t0 = now_ns();
	assert_int_equal(compl_chain_wait_timeout(&b, 999999999), ETIMEDOUT);
	assert_true(now_ns() - t0 >= 999999999);
	/* It no longer sleeps: the dump says so (the turn-giver wakes no one). */
	{
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		assert_non_null(f);
		compl_chain_dump(&chain, f);
		fclose(f);
		assert_non_null(strstr(buf, strcmp(cchain_wait_backend(), "futex") == 0 ?
						"futex word waiting" :
						"waiting, owner not sleeping"));
		free(buf);
	}
	/* Still pending, still in its place: a second timeout, then the turn. */
	assert_true(compl_chain_pending(&b));
	assert_int_equal(compl_chain_wait_timeout(&b, 1 * MS), ETIMEDOUT);
	compl_chain_complete(&a);
	assert_int_equal(compl_chain_wait_timeout(&b, 1 * MS), 0);
	assert_int_equal(compl_chain_wait_timeout(&b, UINT64_MAX), 0);
	compl_chain_complete(&b);
	compl_chain_destroy(&chain);
}

static void test_misuse_never_added(void **state)
{
	struct compl_chain_entry e;

	(void)state;
	memset(&e, 0, sizeof(e));
	compl_chain_wait(&e);
	assert_misuse("compl_chain_wait");
	assert_string_equal(misuse_msg, "entry is not pending (never added, "
					"already completed or cancelled)");
	compl_chain_complete(&e);
	assert_misuse("compl_chain_complete");
	compl_chain_cancel(&e);
	assert_misuse("compl_chain_cancel");
	assert_false(compl_chain_try_wait(&e));
	assert_misuse("compl_chain_try_wait");
	assert_int_equal(compl_chain_wait_timeout(&e, 1000), EINVAL);
	assert_misuse("compl_chain_wait_timeout");
	assert_false(compl_chain_pending(&e));
}

static void test_misuse_double_complete(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, c;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	compl_chain_add(&chain, &c);
	compl_chain_complete(&a);
	compl_chain_complete(&a);
	assert_misuse("compl_chain_complete");
	compl_chain_cancel(&a);
	assert_misuse("compl_chain_cancel");
	compl_chain_wait(&a);
	assert_misuse("compl_chain_wait");
	/* The chain is untouched: b has the turn, c waits behind it. */
	assert_true(compl_chain_try_wait(&b));
	assert_false(compl_chain_try_wait(&c));
	compl_chain_cancel(&b);
	compl_chain_complete(&b);
	assert_misuse("compl_chain_complete");
	assert_true(compl_chain_try_wait(&c));
	compl_chain_complete(&c);
	assert_true(compl_chain_empty(&chain));
	assert_int_equal(misuse_count, 0);
	compl_chain_destroy(&chain);
	assert_int_equal(misuse_count, 0);
}

static void test_misuse_destroy_nonempty(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	compl_chain_destroy(&chain);
	assert_misuse("compl_chain_destroy");
	assert_string_equal(misuse_msg, "chain is not empty");
	/* Left untouched and usable. */
	assert_false(compl_chain_empty(&chain));
	assert_true(compl_chain_try_wait(&a));
	compl_chain_complete(&a);
	compl_chain_complete(&b);
	compl_chain_destroy(&chain);
	assert_int_equal(misuse_count, 0);
	/* Destroyed chains can be initialised again. */
	compl_chain_init(&chain);
	compl_chain_flush(&chain);
	compl_chain_destroy(&chain);
}

/* Every function of <cchain/compl_chain.h> given NULL: misuse, and its documented return. */
static void test_null_arguments(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_init(NULL);
	assert_null_misuse("compl_chain_init", "chain");
	compl_chain_add(NULL, &a);
	assert_null_misuse("compl_chain_add", "chain");
	compl_chain_add(&chain, NULL);
	assert_null_misuse("compl_chain_add", "entry");
	assert_true(compl_chain_empty(&chain)); /* nothing was added */
	compl_chain_wait(NULL);
	assert_null_misuse("compl_chain_wait", "entry");
	compl_chain_complete(NULL);
	assert_null_misuse("compl_chain_complete", "entry");
	assert_false(compl_chain_pending(NULL));
	assert_null_misuse("compl_chain_pending", "entry");
	compl_chain_flush(NULL);
	assert_null_misuse("compl_chain_flush", "chain");
	compl_chain_destroy(NULL);
	assert_null_misuse("compl_chain_destroy", "chain");
	assert_false(compl_chain_try_wait(NULL));
	assert_null_misuse("compl_chain_try_wait", "entry");
	assert_int_equal(compl_chain_wait_timeout(NULL, 0), EINVAL);
	assert_null_misuse("compl_chain_wait_timeout", "entry");
	assert_int_equal(compl_chain_wait_timeout(NULL, 1000), EINVAL);
	assert_null_misuse("compl_chain_wait_timeout", "entry");
	compl_chain_cancel(NULL);
	assert_null_misuse("compl_chain_cancel", "entry");
	assert_false(compl_chain_empty(NULL));
	assert_null_misuse("compl_chain_empty", "chain");
	compl_chain_dump(NULL, stderr);
	assert_null_misuse("compl_chain_dump", "chain");
	compl_chain_dump(&chain, NULL);
	assert_null_misuse("compl_chain_dump", "out");
	/* The chain still works. */
	compl_chain_add(&chain, &a);
	compl_chain_complete(&a);
	compl_chain_destroy(&chain);
	assert_int_equal(misuse_count, 0);
}

static void never_called(struct compl_chain_entry *entry)
{
	(void)entry;
	fail_msg("a function was called for a garbage entry");
}

/*
 * An entry filled with garbage (as freed or uninitialised memory may be) is
 * reported as not pending or corrupt, by every call that takes an entry:
 * not as an entry handed to compl_chain_defer, nor as registered with
 * compl_chain_notify (0xa5 has the deferred tag bit, 0xa6 the notify one).
 */
static void test_garbage_entry(void **state)
{
	static const unsigned char fills[] = { 0xa5, 0xa6, 0xa7, 0xff };
	struct compl_chain_entry e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fills); i++) {
		memset(&e, fills[i], sizeof(e));
		compl_chain_wait(&e);
		assert_misuse("compl_chain_wait");
		/* No claim about a deferral or a registration. */
		assert_null(strstr(misuse_msg, "compl_chain_defer"));
		assert_null(strstr(misuse_msg, "compl_chain_notify"));
		if (sizeof(void *) == 8)
			assert_string_equal(misuse_msg, "entry is not pending, or is corrupt "
					    "(its back pointer is no chain's address; "
					    "CCHAIN_DEBUG=1 tells which)");
		compl_chain_complete(&e);
		assert_misuse("compl_chain_complete");
		assert_null(strstr(misuse_msg, "compl_chain_defer"));
		compl_chain_cancel(&e);
		assert_misuse("compl_chain_cancel");
		assert_null(strstr(misuse_msg, "compl_chain_defer"));
		assert_false(compl_chain_try_wait(&e));
		assert_misuse("compl_chain_try_wait");
		assert_int_equal(compl_chain_wait_timeout(&e, 1000), EINVAL);
		assert_misuse("compl_chain_wait_timeout");
		assert_null(strstr(misuse_msg, "compl_chain_defer"));
		assert_false(compl_chain_unnotify(&e));
		assert_misuse("compl_chain_unnotify");
		assert_null(strstr(misuse_msg, "compl_chain_notify"));
		compl_chain_defer(&e, never_called);
		assert_misuse("compl_chain_defer");
		assert_null(strstr(misuse_msg, "compl_chain_defer"));
		compl_chain_notify(&e, never_called);
		assert_misuse("compl_chain_notify");
		assert_null(strstr(misuse_msg, "compl_chain_notify"));
	}
}

/*
 * Back pointers that no entry of the library holds, each reported as
 * corrupt, not as a deferral or a registration: a bit between the tags and
 * the chain's alignment, both tags at once, a tag with a bit in 48-55.
 */
static void test_implausible_back_pointers(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry e;
	uintptr_t bad[3], odd;
	size_t i, n = 0;

	(void)state;
	odd = (_Alignof(struct compl_chain) - 1) & ~(uintptr_t)3;
	if (odd)
		bad[n++] = (uintptr_t)&chain | odd;
	bad[n++] = (uintptr_t)&chain | 3;
	if (sizeof(void *) == 8)
		bad[n++] = (uintptr_t)&chain | 1 | (uintptr_t)1 << (sizeof(void *) == 8 ? 48 : 0);
	for (i = 0; i < n; i++) {
		memset(&e, 0, sizeof(e));
		e.chain = (struct compl_chain *)bad[i];
		compl_chain_wait(&e);
		assert_misuse("compl_chain_wait");
		assert_string_equal(misuse_msg, "entry is not pending, or is corrupt "
				    "(its back pointer is no chain's address; "
				    "CCHAIN_DEBUG=1 tells which)");
	}
}

static void other_handler(const char *func, const char *msg)
{
	(void)func;
	(void)msg;
}

static void test_set_handler_returns_old(void **state)
{
	cchain_misuse_fn dflt;

	(void)state;
	/* The fixture installed record_misuse. */
	assert_ptr_equal(cchain_set_misuse_handler(other_handler), record_misuse);
	assert_ptr_equal(cchain_set_misuse_handler(NULL), other_handler);
	dflt = cchain_set_misuse_handler(record_misuse);
	assert_non_null(dflt);
	assert_ptr_not_equal(dflt, record_misuse);
	assert_ptr_not_equal(dflt, other_handler);
	/* Restoring what was returned restores the default. */
	assert_ptr_equal(cchain_set_misuse_handler(dflt), record_misuse);
	assert_ptr_equal(cchain_set_misuse_handler(NULL), dflt);
}

/* Run @fn in a child with the default handler; return its stderr. */
static int run_child_misuse(void (*fn)(void), char *err, size_t errlen)
{
	int pfd[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], STDERR_FILENO);
		cchain_set_misuse_handler(NULL);
		fn();
		_exit(0);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], err + got, errlen - 1 - (size_t)got)) > 0)
		got += n;
	err[got] = '\0';
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void double_complete(void)
{
	struct compl_chain chain;
	struct compl_chain_entry a;

	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_complete(&a);
	compl_chain_complete(&a);
}

static void destroy_nonempty(void)
{
	struct compl_chain chain;
	struct compl_chain_entry a;

	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_destroy(&chain);
}

static void test_default_handler_aborts(void **state)
{
	char err[512];
	int status;

	(void)state;
	status = run_child_misuse(double_complete, err, sizeof(err));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_string_equal(err, "libcchain: compl_chain_complete: entry is not "
				 "pending (never added, already completed or "
				 "cancelled)\n");
	status = run_child_misuse(destroy_nonempty, err, sizeof(err));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_string_equal(err, "libcchain: compl_chain_destroy: chain is not empty\n");
}

static void test_dump(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, c;
	char *buf = NULL, *line2, *line3;
	size_t len = 0;
	FILE *f;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	compl_chain_add(&chain, &c);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	compl_chain_dump(&chain, f);
	fclose(f);
	assert_non_null(strstr(buf, ": 3 entries, head "));
	assert_null(strstr(buf, "lock held"));
	line2 = strchr(buf, '\n') + 1;
	line3 = strchr(line2, '\n') + 1;
	assert_true(strncmp(line2, "  #0 entry ", 11) == 0);
	assert_non_null(strstr(line2, "ready"));
	assert_true(strncmp(line3, "  #1 entry ", 11) == 0);
	assert_non_null(strstr(line3, "waiting"));
	assert_null(strstr(buf, "BAD"));
	free(buf);
	if (strcmp(cchain_wait_backend(), "futex") == 0) {
		/* A state word no path writes is shown as such, with its value. */
		b.wake.state = 3;
		f = open_memstream(&buf, &len);
		assert_non_null(f);
		compl_chain_dump(&chain, f);
		fclose(f);
		b.wake.state = 0;
		line2 = strchr(buf, '\n') + 1;
		line3 = strchr(line2, '\n') + 1;
		assert_non_null(strstr(line2, "futex word ready"));
		assert_true(strncmp(line3, "  #1 entry ", 11) == 0);
		assert_non_null(strstr(line3, "futex word CORRUPT (3)"));
		free(buf);
	}
	compl_chain_complete(&a);
	compl_chain_complete(&b);
	compl_chain_complete(&c);
	compl_chain_destroy(&chain);
}

/*
 * compl_chain_empty() tells the truth while compl_chain_dump() prints: the
 * dump's output stream asks it on every write (unbuffered, so the writes
 * happen inside the dump).
 */
struct dump_probe {
	struct compl_chain *chain;
	int writes, wrong;
	bool expect_empty;
};

static ssize_t probe_write(void *cookie, const char *buf, size_t len)
{
	struct dump_probe *p = cookie;

	(void)buf;
	p->writes++;
	if (compl_chain_empty(p->chain) != p->expect_empty)
		p->wrong++;
	return (ssize_t)len;
}

static void dump_probed(struct compl_chain *chain, bool expect_empty)
{
	struct dump_probe p = { .chain = chain, .expect_empty = expect_empty };
	cookie_io_functions_t io = { .write = probe_write };
	FILE *f = fopencookie(&p, "w", io);

	assert_non_null(f);
	setvbuf(f, NULL, _IONBF, 0);
	compl_chain_dump(chain, f);
	fclose(f);
	assert_true(p.writes > 0);
	if (p.wrong)
		fail_msg("compl_chain_empty() said %s in %d of %d writes of the dump",
			 expect_empty ? "not empty" : "empty", p.wrong, p.writes);
}

static void test_empty_during_dump(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a;

	(void)state;
	compl_chain_init(&chain);
	dump_probed(&chain, true);
	compl_chain_add(&chain, &a);
	dump_probed(&chain, false);
	compl_chain_complete(&a);
	dump_probed(&chain, true);
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
}

/*
 * The dump's pauses between attempts at the lock: counted, and not slept,
 * while dump_sleeps_counted is set in the calling thread.
 */
static __thread bool dump_sleeps_counted;
static __thread int dump_sleeps;

int nanosleep(const struct timespec *req, struct timespec *rem)
{
	static int (*fwd)(const struct timespec *, struct timespec *);

	if (dump_sleeps_counted) {
		dump_sleeps++;
		return 0;
	}
	if (!fwd)
		*(void **)&fwd = dlsym(RTLD_NEXT, "nanosleep");
	return fwd(req, rem);
}

/* Not inlined: gcc 12's -Wdangling-pointer then takes the stream's pointer to
 * this function's buf for one into the caller's frame. */
static __attribute__((noinline)) char *dump_str(struct compl_chain *chain)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	compl_chain_dump(chain, f);
	fclose(f);
	return buf;
}

/* The dump's first line, exactly; @extra before its newline. */
static void assert_dump_head(const char *buf, struct compl_chain *chain, unsigned long n,
			     void *head, void *tail, const char *extra)
{
	char want[256];

	snprintf(want, sizeof(want), "compl_chain %p: %lu entries, head %p, tail %p%s\n",
		 (void *)chain, n, head, tail, extra);
	if (strncmp(buf, want, strlen(want)) != 0)
		fail_msg("dump begins \"%.200s\", expected \"%s\"", buf, want);
}

/* Line @i of the dump (0 the chain's line) is entry #@k, @e, in state @st (NULL: any). */
static void assert_dump_entry(const char *buf, int i, unsigned long k,
			      struct compl_chain_entry *e, const char *st)
{
	const char *line = buf, *end;
	char want[128];

	for (; i > 0; i--) {
		line = strchr(line, '\n');
		assert_non_null(line);
		line++;
	}
	end = strchr(line, '\n');
	assert_non_null(end);
	snprintf(want, sizeof(want), "  #%lu entry %p: ", k, (void *)e);
	if (strncmp(line, want, strlen(want)) != 0)
		fail_msg("dump line \"%.*s\", expected \"%s...\"", (int)(end - line), line, want);
	line += strlen(want);
	if (st) {
		if ((size_t)(end - line) != strlen(st) || strncmp(line, st, strlen(st)) != 0)
			fail_msg("entry %p shown \"%.*s\", expected \"%s\"", (void *)e,
				 (int)(end - line), line, st);
	} else {
		char *shown = strndup(line, (size_t)(end - line));

		assert_non_null(shown);
		assert_true(*shown);
		assert_null(strstr(shown, "BAD"));
		assert_null(strstr(shown, "deferred"));
		assert_null(strstr(shown, "notify registered"));
		free(shown);
	}
}

static int count_lines(const char *buf)
{
	int n = 0;

	for (; *buf; buf++)
		n += *buf == '\n';
	return n;
}

static void deferred_nop(struct compl_chain_entry *e)
{
	(void)e;
}

static void notified_nop(struct compl_chain_entry *e)
{
	(void)e;
}

/*
 * Every line of the dump, with the lock and without it (the lock held by
 * the caller: the dump tries it 100 times, pausing between tries), each
 * entry state the chain itself keeps, and the bound on the walk without
 * the lock.
 */
static void test_dump_exact(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, c, d, *many;
	const unsigned long nmany = 1001;
	unsigned long k;
	char *buf, want[64];
	int i;

	(void)state;
	compl_chain_init(&chain);
	buf = dump_str(&chain);
	assert_dump_head(buf, &chain, 0, NULL, NULL, "");
	assert_int_equal(count_lines(buf), 1);
	free(buf);

	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &d);
	compl_chain_add(&chain, &b);
	compl_chain_add(&chain, &c);
	compl_chain_defer(&d, deferred_nop);
	compl_chain_notify(&b, notified_nop);
	for (i = 0; i < 2; i++) {
		if (i) {
			pthread_mutex_lock(&chain.lock);
			dump_sleeps = 0;
			dump_sleeps_counted = true;
		}
		buf = dump_str(&chain);
		if (i) {
			dump_sleeps_counted = false;
			pthread_mutex_unlock(&chain.lock);
			assert_int_equal(dump_sleeps, 100);
		}
		assert_dump_head(buf, &chain, 4, &a, &c,
				 i ? " (lock held elsewhere: read without it)" : "");
		assert_dump_entry(buf, 1, 0, &a, NULL);
		assert_dump_entry(buf, 2, 1, &d, "deferred");
		assert_dump_entry(buf, 3, 2, &b, "notify registered");
		assert_dump_entry(buf, 4, 3, &c, NULL);
		assert_int_equal(count_lines(buf), 5);
		free(buf);
	}
	assert_true(compl_chain_unnotify(&b));
	compl_chain_complete(&a);
	compl_chain_complete(&b);
	compl_chain_complete(&c);
	assert_true(compl_chain_empty(&chain));

	/* Without the lock, at most 1000 entries are printed. */
	many = calloc(nmany, sizeof(*many));
	assert_non_null(many);
	for (k = 0; k < nmany; k++)
		compl_chain_add(&chain, &many[k]);
	for (i = 0; i < 2; i++) {
		if (i)
			pthread_mutex_lock(&chain.lock);
		buf = dump_str(&chain);
		if (i)
			pthread_mutex_unlock(&chain.lock);
		assert_dump_head(buf, &chain, i ? 1000 : nmany, &many[0], &many[nmany - 1],
				 i ? " (lock held elsewhere: read without it)" : "");
		for (k = 0; k < (i ? 1000 : nmany); k++)
			assert_dump_entry(buf, (int)k + 1, k, &many[k], NULL);
		if (i) {
			snprintf(want, sizeof(want), "\n  (walk stopped after 1000 entries)\n");
			assert_true(strlen(buf) > strlen(want));
			assert_string_equal(buf + strlen(buf) - strlen(want), want);
			assert_int_equal(count_lines(buf), 1002);
		} else {
			assert_int_equal(count_lines(buf), (int)nmany + 1);
		}
		free(buf);
	}
	for (k = 0; k < nmany; k++)
		compl_chain_complete(&many[k]);
	free(many);

	/*
	 * A tail without a head: what a lock-free add or complete leaves for
	 * an instant.  Planted, as no test can stop one there.
	 */
	chain.tail = &a;
	buf = dump_str(&chain);
	chain.tail = NULL;
	assert_dump_head(buf, &chain, 0, NULL, &a, ", a lock-free add or complete in progress");
	assert_int_equal(count_lines(buf), 1);
	free(buf);
	compl_chain_destroy(&chain);
}

/* A deferred function holds the turn: the dump says so, and how many follow. */
static struct compl_chain dump_busy_chain;
static char *dump_busy_out[2];
static int dump_busy_calls;

static void deferred_dump(struct compl_chain_entry *e)
{
	(void)e;
	dump_busy_out[dump_busy_calls++] = dump_str(&dump_busy_chain);
}

static void test_dump_busy(void **state)
{
	struct compl_chain *chain = &dump_busy_chain;
	struct compl_chain_entry a, d1, d2;
	int i;

	(void)state;
	compl_chain_init(chain);
	compl_chain_add(chain, &a);
	compl_chain_add(chain, &d1);
	compl_chain_add(chain, &d2);
	compl_chain_defer(&d1, deferred_dump);
	compl_chain_defer(&d2, deferred_dump);
	compl_chain_complete(&a);
	assert_int_equal(dump_busy_calls, 2);
	for (i = 0; i < 2; i++) {
		assert_dump_head(dump_busy_out[i], chain, 0, NULL, NULL,
				 i ? ", a deferred function holds the turn (0 more to run)" :
				     ", a deferred function holds the turn (1 more to run)");
		assert_int_equal(count_lines(dump_busy_out[i]), 1);
		free(dump_busy_out[i]);
	}
	assert_true(compl_chain_empty(chain));
	compl_chain_destroy(chain);
}

/*
 * The dump names the thread of an owner that sleeps in a wait (its
 * gettid()), and only while it sleeps: the line of the entry a thread
 * waits on shows that thread's id, then no longer once it has the turn.
 */
struct dump_sleeper {
	struct compl_chain_entry *e;
	atomic_long tid;
};

static void *dump_sleeper_wait(void *arg)
{
	struct dump_sleeper *d = arg;

	atomic_store(&d->tid, (long)gettid());
	compl_chain_wait(d->e);
	return NULL;
}

static bool dump_says_sleeping(struct compl_chain *chain)
{
	char *buf = dump_str(chain);
	/* "futex word sleeping (...)", or the condvar backend's "owner sleeping (...)" */
	bool sleeping = strstr(buf, "owner thread") != NULL;

	free(buf);
	return sleeping;
}

static void test_dump_names_sleeper(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b;
	struct dump_sleeper d = { &b, 0 };
	char want[64], *buf, *after, *line0, *line1;
	uint64_t deadline = now_ns() + 10000 * MS;
	pthread_t t;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	t = start_thread(dump_sleeper_wait, &d);
	/* Wait until the waiter has spun out and sleeps (the dump says so). */
	while (!dump_says_sleeping(&chain) && now_ns() < deadline)
		sleep_ns(MS);
	buf = dump_str(&chain);
	line1 = strstr(buf, "  #1 entry ");
	assert_non_null(line1);
	snprintf(want, sizeof(want), "owner thread %ld", atomic_load(&d.tid));
	assert_non_null(strstr(line1, want));
	/* The head's owner is not waiting: no thread is named for it. */
	line0 = strstr(buf, "  #0 entry ");
	assert_non_null(line0);
	line1[-1] = '\0';
	assert_null(strstr(line0, "owner thread"));
	free(buf);
	compl_chain_complete(&a);
	join_thread(t);
	/* It has the turn: no longer named. */
	after = dump_str(&chain);
	assert_non_null(strstr(after, "  #0 entry "));
	assert_null(strstr(after, "owner thread"));
	free(after);
	compl_chain_complete(&b);
	compl_chain_destroy(&chain);
}

/*
 * While the dump walks the chain with the lock, a lock-free complete
 * (the last entry's) waits for it: it must not take an entry off.
 */
struct dump_pin {
	struct compl_chain *chain;
	struct compl_chain_entry *e;
	pthread_t thread;
	atomic_int done;
	int writes;
	bool done_during_dump;
};

static void *pin_complete(void *arg)
{
	struct dump_pin *p = arg;

	compl_chain_complete(p->e);
	atomic_store(&p->done, 1);
	return NULL;
}

static ssize_t pin_write(void *cookie, const char *buf, size_t len)
{
	struct dump_pin *p = cookie;
	struct timespec pause = { 0, 2 * 1000 * 1000 };
	int i;

	(void)buf;
	if (p->writes++ == 0) {
		CHECK(pthread_create(&p->thread, NULL, pin_complete, p) == 0);
		for (i = 0; i < 25 && !atomic_load(&p->done); i++)
			nanosleep(&pause, NULL);
	}
	if (atomic_load(&p->done))
		p->done_during_dump = true;
	return (ssize_t)len;
}

static void test_dump_pins_tail(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a;
	struct dump_pin p = { .chain = &chain, .e = &a };
	cookie_io_functions_t io = { .write = pin_write };
	FILE *f;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	f = fopencookie(&p, "w", io);
	assert_non_null(f);
	setvbuf(f, NULL, _IONBF, 0);
	compl_chain_dump(&chain, f);
	fclose(f);
	pthread_join(p.thread, NULL);
	assert_true(atomic_load(&p.done));
	assert_false(p.done_during_dump);
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
}

/*
 * A dump while another one holds the lock (here from its output stream):
 * it reads the tail without the lock, pinned by the first, and shows it
 * as it is.
 */
struct dump_nested {
	struct compl_chain *chain;
	char *inner;
};

static ssize_t nested_write(void *cookie, const char *buf, size_t len)
{
	struct dump_nested *p = cookie;

	(void)buf;
	if (!p->inner) {
		dump_sleeps_counted = true;
		p->inner = dump_str(p->chain);
		dump_sleeps_counted = false;
	}
	return (ssize_t)len;
}

static void test_dump_in_dump(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b;
	struct dump_nested p = { .chain = &chain };
	cookie_io_functions_t io = { .write = nested_write };
	FILE *f;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	f = fopencookie(&p, "w", io);
	assert_non_null(f);
	setvbuf(f, NULL, _IONBF, 0);
	compl_chain_dump(&chain, f);
	fclose(f);
	assert_non_null(p.inner);
	assert_dump_head(p.inner, &chain, 2, &a, &b, " (lock held elsewhere: read without it)");
	free(p.inner);
	compl_chain_complete(&a);
	compl_chain_complete(&b);
	compl_chain_destroy(&chain);
}

/*
 * compl_chain_destroy() releases the chain's mutex (a checker such as
 * helgrind would otherwise see it live): counted here, by address.
 */
static __thread const pthread_mutex_t *destroyed_watch;
static __thread int destroyed_count;

int pthread_mutex_destroy(pthread_mutex_t *m)
{
	static int (*fwd)(pthread_mutex_t *);

	if (m == destroyed_watch)
		destroyed_count++;
	if (!fwd)
		*(void **)&fwd = dlsym(RTLD_NEXT, "pthread_mutex_destroy");
	return fwd(m);
}

static void test_destroy_releases_lock(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_complete(&a);
	destroyed_watch = &chain.lock;
	destroyed_count = 0;
	compl_chain_destroy(&chain);
	destroyed_watch = NULL;
	assert_int_equal(destroyed_count, 1);
}

/*
 * A run of deferred entries is at most 64 long: the 65th and later stay
 * listed while the first runs, as the dump from its function shows.
 */
static DEFINE_COMPL_CHAIN(long_run_chain);
static struct compl_chain_entry long_run[66];
static char *long_run_dump;

static void long_run_fn(struct compl_chain_entry *e)
{
	if (e == &long_run[0])
		long_run_dump = dump_str(&long_run_chain);
}

static void test_dump_long_run(void **state)
{
	struct compl_chain_entry head;
	int i;

	(void)state;
	compl_chain_add(&long_run_chain, &head);
	for (i = 0; i < 66; i++)
		compl_chain_add(&long_run_chain, &long_run[i]);
	for (i = 0; i < 66; i++)
		compl_chain_defer(&long_run[i], long_run_fn);
	compl_chain_complete(&head);
	assert_non_null(long_run_dump);
	assert_dump_head(long_run_dump, &long_run_chain, 2, &long_run[64], &long_run[65],
			 ", a deferred function holds the turn (63 more to run)");
	assert_dump_entry(long_run_dump, 1, 0, &long_run[64], "deferred");
	assert_dump_entry(long_run_dump, 2, 1, &long_run[65], "deferred");
	assert_int_equal(count_lines(long_run_dump), 3);
	free(long_run_dump);
	assert_true(compl_chain_empty(&long_run_chain));
	compl_chain_destroy(&long_run_chain);
}

/*
 * A registration withdrawn before the turn leaves the entry waiting, as
 * after compl_chain_add(); a registered entry cancelled is unlinked and its
 * function never runs.
 */
static int notified_calls;

static void notified_count(struct compl_chain_entry *e)
{
	(void)e;
	notified_calls++;
}

static void test_notify_withdrawn(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, c, d;

	(void)state;
	notified_calls = 0;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	compl_chain_add(&chain, &c);
	compl_chain_add(&chain, &d);
	compl_chain_notify(&b, notified_count);
	compl_chain_notify(&c, notified_count);
	assert_true(compl_chain_unnotify(&b));
	assert_true(compl_chain_pending(&b));
	assert_false(compl_chain_try_wait(&b));
	assert_int_equal(compl_chain_wait_timeout(&b, 0), ETIMEDOUT);
	compl_chain_cancel(&c);
	assert_false(compl_chain_pending(&c));
	compl_chain_complete(&a);
	assert_true(compl_chain_try_wait(&b));
	assert_false(compl_chain_try_wait(&d));
	compl_chain_complete(&b);
	assert_true(compl_chain_try_wait(&d));
	compl_chain_complete(&d);
	assert_true(compl_chain_empty(&chain));
	/* The registered entry is the tail: the chain's tail moves back. */
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	compl_chain_notify(&b, notified_count);
	compl_chain_cancel(&b);
	assert_false(compl_chain_pending(&b));
	compl_chain_add(&chain, &c);
	compl_chain_complete(&a);
	assert_true(compl_chain_try_wait(&c));
	compl_chain_complete(&c);
	assert_int_equal(notified_calls, 0);
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
}

static void test_version_and_backend(void **state)
{
	char buf[32];

	(void)state;
	assert_int_equal(cchain_version(), CCHAIN_VERSION_HEX);
	assert_string_equal(cchain_version_string(), CCHAIN_VERSION_STRING);
	snprintf(buf, sizeof(buf), "%d.%d.%d", CCHAIN_VERSION_MAJOR,
		 CCHAIN_VERSION_MINOR, CCHAIN_VERSION_PATCH);
	assert_string_equal(buf, CCHAIN_VERSION_STRING);
	assert_string_equal(cchain_wait_backend(), EXPECTED_BACKEND);
}

/* ---- numbering (compl_chain_add_seq) -------------------------------------- */

static void test_seq_in_add_order(void **state)
{
	DEFINE_COMPL_CHAIN(fresh);
	struct compl_chain chain;
	struct compl_chain_entry a, b, c, d;

	(void)state;
	assert_int_equal(compl_chain_add_seq(&fresh, &a), 1); /* static initialiser */
	compl_chain_complete(&a);
	compl_chain_init(&chain);
	assert_int_equal(compl_chain_add_seq(&chain, &a), 1); /* lock-free */
	assert_int_equal(compl_chain_add_seq(&chain, &b), 2); /* behind a */
	compl_chain_add(&chain, &c);                          /* plain adds count */
	assert_int_equal(compl_chain_add_seq(&chain, &d), 4);
	compl_chain_complete(&a);
	compl_chain_complete(&b);
	compl_chain_complete(&c);
	compl_chain_complete(&d);                             /* lock-free, alone */
	assert_int_equal(compl_chain_add_seq(&chain, &a), 5);
	compl_chain_complete(&a);
	compl_chain_destroy(&chain);
	compl_chain_init(&chain);                             /* starts again */
	assert_int_equal(compl_chain_add_seq(&chain, &a), 1);
	compl_chain_complete(&a);
	compl_chain_destroy(&chain);
}

/* A cancelled entry's number is never taken again, wherever it was. */
static void test_seq_cancel_not_reused(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, c, d;

	(void)state;
	compl_chain_init(&chain);
	/* Alone: the chain empties with the cancel. */
	assert_int_equal(compl_chain_add_seq(&chain, &a), 1);
	compl_chain_cancel(&a);
	assert_int_equal(compl_chain_add_seq(&chain, &a), 2);
	/* Last behind another: the tail moves back, then a locked add. */
	assert_int_equal(compl_chain_add_seq(&chain, &b), 3);
	compl_chain_cancel(&b);
	assert_int_equal(compl_chain_add_seq(&chain, &c), 4);
	/* In the middle. */
	assert_int_equal(compl_chain_add_seq(&chain, &d), 5);
	compl_chain_cancel(&c);
	compl_chain_complete(&a);
	compl_chain_complete(&d);
	/* Last behind another, then the other completes lock-free, alone. */
	assert_int_equal(compl_chain_add_seq(&chain, &a), 6);
	assert_int_equal(compl_chain_add_seq(&chain, &b), 7);
	compl_chain_cancel(&b);
	compl_chain_complete(&a);
	assert_int_equal(compl_chain_add_seq(&chain, &a), 8);
	/* The head cancelled while last behind nobody, with a successor gone. */
	assert_int_equal(compl_chain_add_seq(&chain, &b), 9);
	compl_chain_cancel(&b);
	compl_chain_cancel(&a);
	assert_int_equal(compl_chain_add_seq(&chain, &a), 10);
	compl_chain_complete(&a);
	compl_chain_destroy(&chain);
}

static void seq_noop(struct compl_chain_entry *entry)
{
	(void)entry;
}

/* Flush, a run of deferred functions and the window all keep the count. */
static void test_seq_flush_defer_window(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, c;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_flush(&chain);                            /* its entry took 1 */
	assert_int_equal(compl_chain_add_seq(&chain, &a), 2);
	assert_int_equal(compl_chain_add_seq(&chain, &b), 3);
	compl_chain_defer(&b, seq_noop);
	compl_chain_complete(&a);                             /* runs b: busy, then free */
	assert_int_equal(compl_chain_add_seq(&chain, &a), 4);
	compl_chain_defer(&a, seq_noop);                      /* runs at once */
	assert_int_equal(compl_chain_add_seq(&chain, &a), 5);
	compl_chain_complete(&a);
	assert_int_equal(compl_chain_set_window(&chain, 1), 0);
	compl_chain_window_add(&chain, &a); /* takes 6 */
	assert_int_equal(compl_chain_window_try_add(&chain, &b), EAGAIN); /* takes none */
	assert_int_equal(compl_chain_add_seq(&chain, &c), 7);
	compl_chain_complete(&a);
	compl_chain_complete(&c);
	assert_int_equal(compl_chain_set_window(&chain, 0), 0);
	assert_int_equal(compl_chain_add_seq(&chain, &a), 8);
	compl_chain_complete(&a);
	compl_chain_destroy(&chain);
}

static void test_seq_null(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a;

	(void)state;
	compl_chain_init(&chain);
	assert_int_equal(compl_chain_add_seq(NULL, &a), 0);
	assert_null_misuse("compl_chain_add_seq", "chain");
	assert_int_equal(compl_chain_add_seq(&chain, NULL), 0);
	assert_null_misuse("compl_chain_add_seq", "entry");
	assert_true(compl_chain_empty(&chain));
	assert_int_equal(compl_chain_add_seq(&chain, &a), 1); /* nothing was taken */
	compl_chain_complete(&a);
	compl_chain_destroy(&chain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_static_init),
		cmocka_unit_test(test_local_define),
		cmocka_unit_test(test_head_ready_and_handoff),
		cmocka_unit_test(test_add_uninitialised_entry),
		cmocka_unit_test(test_zero_entry_not_pending),
		cmocka_unit_test(test_entry_size),
		cmocka_unit_test(test_entry_reuse),
		cmocka_unit_test(test_cancel_middle),
		cmocka_unit_test(test_cancel_head_and_tail),
		cmocka_unit_test(test_flush_empty),
		cmocka_unit_test(test_wait_timeout),
		cmocka_unit_test_setup_teardown(test_misuse_never_added, setup_recorder, restore_default),
		cmocka_unit_test_setup_teardown(test_misuse_double_complete, setup_recorder, restore_default),
		cmocka_unit_test_setup_teardown(test_misuse_destroy_nonempty, setup_recorder, restore_default),
		cmocka_unit_test_setup_teardown(test_set_handler_returns_old, setup_recorder, restore_default),
		cmocka_unit_test_setup_teardown(test_null_arguments, setup_recorder, restore_default),
		cmocka_unit_test_setup_teardown(test_garbage_entry, setup_recorder, restore_default),
		cmocka_unit_test_setup_teardown(test_implausible_back_pointers, setup_recorder,
						restore_default),
		cmocka_unit_test(test_default_handler_aborts),
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_empty_during_dump),
		cmocka_unit_test(test_dump_exact),
		cmocka_unit_test(test_dump_busy),
		cmocka_unit_test(test_dump_names_sleeper),
		cmocka_unit_test(test_dump_pins_tail),
		cmocka_unit_test(test_dump_in_dump),
		cmocka_unit_test(test_dump_long_run),
		cmocka_unit_test(test_destroy_releases_lock),
		cmocka_unit_test(test_notify_withdrawn),
		cmocka_unit_test(test_version_and_backend),
		cmocka_unit_test(test_seq_in_add_order),
		cmocka_unit_test(test_seq_cancel_not_reused),
		cmocka_unit_test(test_seq_flush_defer_window),
		cmocka_unit_test_setup_teardown(test_seq_null, setup_recorder, restore_default),
	};

	return cmocka_run_group_tests_name("compl_chain", tests, NULL, NULL);
}
