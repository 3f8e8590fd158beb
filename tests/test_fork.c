// SPDX-License-Identifier: MIT
/*
 * fork(), as doc/api.md's table "fork() and signal handlers" states it:
 * the child of a process with no other thread may use every function; the
 * child of a multi-threaded process may use the functions marked
 * signal-safe, even while another thread of the parent held the chain's
 * lock at the fork.  Each child runs under alarm(): a hang fails the test.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

/* The child's verdict: exited with status 0 in time. */
static void expect_child_ok(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("child killed by signal %d%s", WTERMSIG(status),
			 WTERMSIG(status) == SIGALRM ? " (it hung)" : "");
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static int deferred_ran;

static void deferred(struct compl_chain_entry *e)
{
	(void)e;
	deferred_ran++;
}

static int async_ran;

static void async_fn(void *data, async_cookie_t cookie)
{
	(void)cookie;
	*(int *)data = 1;
	async_ran = current_is_async();
}

/* Runs first: no thread has been started in this process yet. */
static void test_single_threaded_parent(void **state)
{
	static DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry e[3];
	pid_t pid;
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		compl_chain_add(&chain, &e[i]);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int x = 0;

		alarm(20);
		compl_chain_complete(&e[0]);
		compl_chain_wait(&e[1]);
		compl_chain_defer(&e[2], deferred);
		CHECK(deferred_ran == 0);
		compl_chain_complete(&e[1]);
		CHECK(deferred_ran == 1);
		compl_chain_flush(&chain);
		CHECK(compl_chain_empty(&chain));
		compl_chain_destroy(&chain);
		async_schedule(async_fn, &x);
		async_synchronize_full();
		CHECK(x == 1 && async_ran);
		_exit(0);
	}
	expect_child_ok(pid);
	/* The parent's copy is untouched by the child. */
	assert_true(compl_chain_pending(&e[0]) && compl_chain_pending(&e[2]));
	for (i = 0; i < 3; i++)
		compl_chain_complete(&e[i]);
	compl_chain_destroy(&chain);
}

struct holder {
	struct compl_chain *chain;
	int fd_locked[2], fd_release[2];
};

/* Holds the chain's internal lock (a private member) across the fork. */
static void *hold_lock(void *arg)
{
	struct holder *h = arg;
	char c = 0;

	CHECK(pthread_mutex_lock(&h->chain->lock) == 0);
	CHECK(write(h->fd_locked[1], &c, 1) == 1);
	CHECK(read(h->fd_release[0], &c, 1) == 1);
	CHECK(pthread_mutex_unlock(&h->chain->lock) == 0);
	return NULL;
}

static void ignore_misuse(const char *func, const char *msg)
{
	(void)func;
	(void)msg;
}

static void test_multi_threaded_parent(void **state)
{
	static DEFINE_COMPL_CHAIN(chain);
	struct compl_chain_entry e[2];
	struct holder h = { .chain = &chain };
	pthread_t tid;
	pid_t pid;
	char c = 0;

	(void)state;
	compl_chain_add(&chain, &e[0]);
	compl_chain_add(&chain, &e[1]);
	assert_int_equal(pipe(h.fd_locked), 0);
	assert_int_equal(pipe(h.fd_release), 0);
	tid = start_thread(hold_lock, &h);
	assert_int_equal(read(h.fd_locked[0], &c, 1), 1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The functions doc/api.md marks safe here; the lock stays held. */
		alarm(20);
		CHECK(compl_chain_pending(&e[0]) && compl_chain_pending(&e[1]));
		CHECK(!compl_chain_empty(&chain));
		CHECK(compl_chain_try_wait(&e[0]));
		CHECK(!compl_chain_try_wait(&e[1]));
		CHECK(cchain_set_misuse_handler(ignore_misuse) != NULL);
		CHECK(cchain_version() == CCHAIN_VERSION_HEX);
		CHECK(strcmp(cchain_version_string(), CCHAIN_VERSION_STRING) == 0);
		CHECK(strcmp(cchain_wait_backend(), EXPECTED_BACKEND) == 0);
		_exit(0);
	}
	expect_child_ok(pid);
	assert_int_equal(write(h.fd_release[1], &c, 1), 1);
	join_thread(tid);
	compl_chain_complete(&e[0]);
	compl_chain_complete(&e[1]);
	compl_chain_destroy(&chain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_threaded_parent),
		cmocka_unit_test(test_multi_threaded_parent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
