// SPDX-License-Identifier: MIT
/*
 * The notifier in a libuv loop: a uv_poll_t watches its fd, a uv_prepare_t
 * takes the ready entries and arms the notifier just before libuv polls,
 * a uv_check_t disarms it after the poll.  Runs the shared workload
 * (notify-workload.h); a repeating timer fails the test if no task finished
 * for 10 s (a lost wake-up).
 */
#include <uv.h>

#include "util.h"
#include "notify-workload.h"

struct uvtest {
	struct nwork w;
	uv_loop_t loop;
	uv_poll_t poll;
	uv_prepare_t prepare;
	uv_check_t check;
	uv_timer_t guard;
	unsigned long seen;
	bool armed;
};

static void on_prepare(uv_prepare_t *h)
{
	struct uvtest *t = h->data;

	for (;;) {
		nwork_drain(&t->w);
		if (nwork_done(&t->w)) {
			uv_stop(&t->loop);
			return;
		}
		t->w.arms++; /* every call: one that returns false may still see a write */
		if (compl_notifier_arm(t->w.n)) {
			t->armed = true;
			return;
		}
	}
}

static void on_check(uv_check_t *h)
{
	struct uvtest *t = h->data;

	if (t->armed) {
		compl_notifier_disarm(t->w.n);
		t->armed = false;
	}
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct uvtest *t = h->data;

	CHECK(status == 0);
	if (events & UV_READABLE)
		t->w.writes += compl_notifier_ack(t->w.n);
}

static void on_guard(uv_timer_t *h)
{
	struct uvtest *t = h->data;

	/* No task finished for 10 s while the loop slept: a lost wake-up. */
	CHECK(t->w.finished != t->seen);
	t->seen = t->w.finished;
}

static void test_uv_loop(void **state)
{
	struct uvtest *t = calloc(1, sizeof(*t));

	(void)state;
	CHECK(t != NULL);
	CHECK(uv_loop_init(&t->loop) == 0);
	nwork_init(&t->w, test_scale(100000), 43);
	t->seen = ~0ul;
	t->poll.data = t->prepare.data = t->check.data = t->guard.data = t;
	CHECK(uv_poll_init(&t->loop, &t->poll, compl_notifier_fd(t->w.n)) == 0);
	CHECK(uv_poll_start(&t->poll, UV_READABLE, on_poll) == 0);
	CHECK(uv_prepare_init(&t->loop, &t->prepare) == 0);
	CHECK(uv_prepare_start(&t->prepare, on_prepare) == 0);
	CHECK(uv_check_init(&t->loop, &t->check) == 0);
	CHECK(uv_check_start(&t->check, on_check) == 0);
	CHECK(uv_timer_init(&t->loop, &t->guard) == 0);
	CHECK(uv_timer_start(&t->guard, on_guard, 10000, 10000) == 0);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	CHECK(nwork_done(&t->w));
	uv_close((uv_handle_t *)&t->poll, NULL);
	uv_close((uv_handle_t *)&t->prepare, NULL);
	uv_close((uv_handle_t *)&t->check, NULL);
	uv_close((uv_handle_t *)&t->guard, NULL);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&t->loop) == 0);
	nwork_finish(&t->w, "libuv");
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uv_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
