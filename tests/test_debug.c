// SPDX-License-Identifier: MIT
/*
 * Debug mode (CCHAIN_DEBUG=1): re-adding a pending entry, and waiting on,
 * completing, cancelling, deferring or registering memory that is no
 * pending entry (freed and reused, a copy of an entry, garbage), are
 * reported precisely; correct programs see no report.
 *
 * Run with CCHAIN_DEBUG=1 in the environment (meson does); the program
 * checks that it is set.  A child run with CCHAIN_DEBUG unset checks that
 * debug mode is off by default.
 */
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"
#include "misuse-recorder.h"

#define assert_misuse_says(func, text)                          \
	do {                                                    \
		assert_int_equal(misuse_count, 1);              \
		assert_string_equal(misuse_func, (func));       \
		if (!strstr(misuse_msg, (text)))                \
			fail_msg("report \"%s\" lacks \"%s\"", \
				 misuse_msg, (text));           \
		misuse_count = 0;                               \
	} while (0)

#define NOT_OURS "not an entry of this library, or freed"

static void never_called(struct compl_chain_entry *entry)
{
	(void)entry;
	fail_msg("a function was called for an entry the library does not know");
}

static void test_env_set(void **state)
{
	const char *v = getenv("CCHAIN_DEBUG");

	(void)state;
	assert_non_null(v);
	assert_string_equal(v, "1");
}

/* Re-adding a pending entry is reported, and the chain is left as it was. */
static void test_readd_pending(void **state)
{
	struct compl_chain chain, other;
	struct compl_chain_entry a, b;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_init(&other);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	assert_int_equal(misuse_count, 0);
	compl_chain_add(&chain, &a); /* the head */
	assert_misuse_says("compl_chain_add", "entry is already pending");
	compl_chain_add(&other, &b); /* a waiting entry, another chain */
	assert_misuse_says("compl_chain_add", "entry is already pending");
	assert_true(compl_chain_empty(&other));
	assert_true(compl_chain_try_wait(&a));
	assert_false(compl_chain_try_wait(&b));
	compl_chain_complete(&a);
	assert_true(compl_chain_try_wait(&b));
	compl_chain_complete(&b);
	/* Once it has left, adding it again is fine, at once. */
	compl_chain_add(&chain, &a);
	compl_chain_complete(&a);
	assert_int_equal(misuse_count, 0);
	compl_chain_destroy(&chain);
	compl_chain_destroy(&other);
}

/* Every call that takes an entry, on memory that is no pending entry. */
static void every_call_reports(struct compl_chain_entry *e, const char *text)
{
	compl_chain_wait(e);
	assert_misuse_says("compl_chain_wait", text);
	compl_chain_complete(e);
	assert_misuse_says("compl_chain_complete", text);
	compl_chain_cancel(e);
	assert_misuse_says("compl_chain_cancel", text);
	assert_false(compl_chain_try_wait(e));
	assert_misuse_says("compl_chain_try_wait", text);
	assert_int_equal(compl_chain_wait_timeout(e, 1000), EINVAL);
	assert_misuse_says("compl_chain_wait_timeout", text);
	compl_chain_defer(e, never_called);
	assert_misuse_says("compl_chain_defer", text);
	compl_chain_notify(e, never_called);
	assert_misuse_says("compl_chain_notify", text);
	assert_false(compl_chain_unnotify(e));
	assert_misuse_says("compl_chain_unnotify", text);
}

/* Garbage, with and without a tag bit set: never "handed to compl_chain_defer". */
/* The windowed adds check as compl_chain_add() does, and add nothing. */
static void test_readd_pending_windowed(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b;

	(void)state;
	compl_chain_init(&chain);
	assert_int_equal(compl_chain_set_window(&chain, 4), 0);
	compl_chain_window_add(&chain, &a);
	assert_int_equal(compl_chain_window_try_add(&chain, &a), EINVAL);
	assert_misuse_says("compl_chain_window_try_add", "entry is already pending");
	assert_int_equal(compl_chain_window_add_timeout(&chain, &a, 1000), EINVAL);
	assert_misuse_says("compl_chain_window_add_timeout", "entry is already pending");
	compl_chain_window_add(&chain, &a);
	assert_misuse_says("compl_chain_window_add", "entry is already pending");
	/* Nothing was added or counted twice. */
	compl_chain_window_add(&chain, &b);
	compl_chain_complete(&a);
	compl_chain_complete(&b);
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
	assert_int_equal(misuse_count, 0);
}

static void test_readd_pending_numbered(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b;

	(void)state;
	compl_chain_init(&chain);
	assert_int_equal(compl_chain_add_seq(&chain, &a), 1);
	assert_int_equal(compl_chain_add_seq(&chain, &a), 0); /* refused: no number */
	assert_misuse_says("compl_chain_add_seq", "entry is already pending");
	assert_int_equal(compl_chain_add_seq(&chain, &b), 2); /* none was taken */
	compl_chain_complete(&a);
	compl_chain_complete(&b);
	compl_chain_destroy(&chain);
	assert_int_equal(misuse_count, 0);
}

static void test_garbage(void **state)
{
	static const unsigned char fills[] = { 0xa5, 0xa6, 0x01, 0x40 };
	struct compl_chain_entry e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fills); i++) {
		memset(&e, fills[i], sizeof(e));
		every_call_reports(&e, NOT_OURS);
	}
}

/*
 * A completed entry whose memory was reused (as after free() and malloc()):
 * its back pointer holds whatever was written there.  A live chain's
 * address is the worst case, a pointer that looks right.
 */
static void test_freed_and_reused(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry *e = xmalloc(sizeof(*e));

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, e);
	compl_chain_complete(e);
	/* Still zeroed as the library left it: the usual report. */
	compl_chain_complete(e);
	assert_misuse_says("compl_chain_complete", "entry is not pending");
	memset(e, 0x5a, sizeof(*e));
	every_call_reports(e, NOT_OURS);
	memset(e, 0, sizeof(*e));
	e->chain = &chain;
	every_call_reports(e, NOT_OURS);
	free(e);
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
}

/*
 * A copy of a pending entry (a foreign entry: the library never added it)
 * looks pending, and without debug mode a complete of it would corrupt the
 * chain.
 */
static void test_foreign_copy(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, copy;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	memcpy(&copy, &a, sizeof(a));
	every_call_reports(&copy, NOT_OURS);
	memcpy(&copy, &b, sizeof(b));
	every_call_reports(&copy, NOT_OURS);
	compl_chain_complete(&a);
	compl_chain_complete(&b);
	assert_true(compl_chain_empty(&chain));
	compl_chain_destroy(&chain);
}

/* A pending entry whose memory was overwritten (freed while pending, say). */
static void test_overwritten_while_pending(void **state)
{
	struct compl_chain chain, other;
	struct compl_chain_entry a, b, saved;

	(void)state;
	compl_chain_init(&chain);
	compl_chain_init(&other);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	memcpy(&saved, &b, sizeof(b));
	memset(&b, 0xa5, sizeof(b));
	every_call_reports(&b, "entry was overwritten while pending");
	b.chain = &other; /* a plausible back pointer, to the wrong chain */
	every_call_reports(&b, "entry was overwritten while pending");
	memcpy(&b, &saved, sizeof(b));
	compl_chain_complete(&a);
	compl_chain_complete(&b);
	assert_int_equal(misuse_count, 0);
	compl_chain_destroy(&chain);
	compl_chain_destroy(&other);
}

static atomic_int runs;

static void count_run(struct compl_chain_entry *entry)
{
	(void)entry;
	atomic_fetch_add(&runs, 1);
}

static struct compl_chain readd_chain;
static struct compl_chain_entry readd_entry;

/* A deferred function may add its own entry again: it has left the library. */
static void readd_run(struct compl_chain_entry *entry)
{
	atomic_fetch_add(&runs, 1);
	if (atomic_load(&runs) < 3) {
		compl_chain_add(&readd_chain, entry);
		compl_chain_defer(entry, readd_run);
	}
}

static void notified(struct compl_chain_entry *entry)
{
	(void)entry;
	atomic_fetch_add(&runs, 1);
}

/* Correct use of every call reports nothing. */
static void test_correct_use_is_quiet(void **state)
{
	struct compl_chain chain;
	struct compl_chain_entry a, b, c, d;

	(void)state;
	atomic_store(&runs, 0);
	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	compl_chain_add(&chain, &c);
	compl_chain_add(&chain, &d);
	compl_chain_defer(&b, count_run);
	compl_chain_notify(&c, notified);
	assert_true(compl_chain_unnotify(&c));
	compl_chain_notify(&c, notified);
	compl_chain_cancel(&d);
	assert_int_equal(compl_chain_wait_timeout(&a, 0), 0);
	compl_chain_complete(&a); /* runs b's function, then notifies c */
	assert_int_equal(atomic_load(&runs), 2);
	compl_chain_wait(&c);
	compl_chain_complete(&c);
	compl_chain_flush(&chain);
	compl_chain_destroy(&chain);

	atomic_store(&runs, 0);
	compl_chain_init(&readd_chain);
	compl_chain_add(&readd_chain, &readd_entry);
	compl_chain_defer(&readd_entry, readd_run);
	assert_int_equal(atomic_load(&runs), 3);
	assert_true(compl_chain_empty(&readd_chain));
	compl_chain_destroy(&readd_chain);
	assert_int_equal(misuse_count, 0);
}

#define THREADS 4
#define ROUNDS 20000

static struct compl_chain relay;

/* Entries on the stack, reused at once at the same address, by several threads. */
static void *relay_worker(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < ROUNDS; i++) {
		struct compl_chain_entry e;

		compl_chain_add(&relay, &e);
		if (i % 7 == 0)
			compl_chain_cancel(&e);
		else
			compl_chain_complete(&e);
	}
	return NULL;
}

static void test_threads_quiet(void **state)
{
	pthread_t tid[THREADS];
	int i;

	(void)state;
	compl_chain_init(&relay);
	for (i = 0; i < THREADS; i++)
		tid[i] = start_thread(relay_worker, NULL);
	for (i = 0; i < THREADS; i++)
		join_thread(tid[i]);
	assert_true(compl_chain_empty(&relay));
	compl_chain_destroy(&relay);
	assert_int_equal(misuse_count, 0);
}

/*
 * Debug mode is off unless asked for, and an unknown value is reported
 * and ignored: a re-add of a pending entry then goes unnoticed (it is
 * undefined; here the chain is thrown away).
 */
static void readd_undetected(void)
{
	static struct compl_chain chain;
	static struct compl_chain_entry a, b;

	compl_chain_init(&chain);
	compl_chain_add(&chain, &a);
	compl_chain_add(&chain, &b);
	compl_chain_add(&chain, &b); /* would abort with the default handler in debug mode */
}

/* This program again, with CCHAIN_DEBUG set to @value (NULL: unset), doing readd_undetected(). */
static int run_child(const char *value, char *err, size_t len)
{
	char self[4096];
	int pipefd[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	/* The path, not /proc/self/exe itself: under valgrind that is the tool. */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], 2);
		if (value)
			setenv("CCHAIN_DEBUG", value, 1);
		else
			unsetenv("CCHAIN_DEBUG");
		execl(self, "test_debug", "--readd", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], err + got, len - 1 - (size_t)got)) > 0)
		got += n;
	err[got] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void test_off_by_default(void **state)
{
	char err[512];
	int status;

	(void)state;
	/* The library has read the variable in this process: a new program reads it anew. */
	status = run_child(NULL, err, sizeof(err));
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_string_equal(err, "");
	status = run_child("0", err, sizeof(err));
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_string_equal(err, "");
	status = run_child("yes", err, sizeof(err));
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_string_equal(err, "libcchain: CCHAIN_DEBUG=\"yes\" ignored (0 or 1), "
				 "debug mode off\n");
	status = run_child("1", err, sizeof(err));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_non_null(strstr(err, "libcchain: compl_chain_add: entry is already pending"));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_set),
		cmocka_unit_test_setup_teardown(test_readd_pending, setup_recorder, restore_default),
		cmocka_unit_test_setup_teardown(test_readd_pending_windowed, setup_recorder,
						restore_default),
		cmocka_unit_test_setup_teardown(test_readd_pending_numbered, setup_recorder,
						restore_default),
		cmocka_unit_test_setup_teardown(test_garbage, setup_recorder, restore_default),
		cmocka_unit_test_setup_teardown(test_freed_and_reused, setup_recorder,
						restore_default),
		cmocka_unit_test_setup_teardown(test_foreign_copy, setup_recorder, restore_default),
		cmocka_unit_test_setup_teardown(test_overwritten_while_pending, setup_recorder,
						restore_default),
		cmocka_unit_test_setup_teardown(test_correct_use_is_quiet, setup_recorder,
						restore_default),
		cmocka_unit_test_setup_teardown(test_threads_quiet, setup_recorder,
						restore_default),
		cmocka_unit_test(test_off_by_default),
	};

	if (argc == 2 && !strcmp(argv[1], "--readd")) {
		readd_undetected();
		return 0;
	}
	return cmocka_run_group_tests_name("debug", tests, NULL, NULL);
}
