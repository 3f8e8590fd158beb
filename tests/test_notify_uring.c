// SPDX-License-Identifier: MIT
/*
 * The notifier in an io_uring loop: a POLL_ADD request on its fd, re-armed
 * after each completion; the loop arms the notifier, waits for a
 * completion (10 s: longer means a lost wake-up), disarms it.  Runs the
 * shared workload (notify-workload.h).  Exit status 77 (skipped) when the
 * kernel refuses io_uring (old kernel, seccomp, io_uring_disabled).
 */
#include <liburing.h>
#include <poll.h>

#include "util.h"
#include "notify-workload.h"

#define POLL_TAG 1

static void add_poll(struct io_uring *ring, int fd)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	CHECK(sqe != NULL);
	io_uring_prep_poll_add(sqe, fd, POLLIN);
	io_uring_sqe_set_data64(sqe, POLL_TAG);
	CHECK(io_uring_submit(ring) == 1);
}

static void test_uring_loop(void **state)
{
	struct __kernel_timespec limit = { 10, 0 };
	struct io_uring ring;
	struct nwork w;

	(void)state;
	CHECK(io_uring_queue_init(8, &ring, 0) == 0);
	nwork_init(&w, test_scale(100000), 44);
	add_poll(&ring, compl_notifier_fd(w.n));
	while (!nwork_done(&w)) {
		struct io_uring_cqe *cqe;
		int err;

		nwork_drain(&w);
		if (nwork_done(&w))
			continue;
		w.arms++; /* every call: one that returns false may still see a write */
		if (!compl_notifier_arm(w.n))
			continue;
		err = io_uring_wait_cqe_timeout(&ring, &cqe, &limit);
		compl_notifier_disarm(w.n);
		if (err == -EINTR)
			continue;
		CHECK(err == 0); /* -ETIME: a lost wake-up */
		CHECK(io_uring_cqe_get_data64(cqe) == POLL_TAG && cqe->res > 0);
		io_uring_cqe_seen(&ring, cqe);
		w.writes += compl_notifier_ack(w.n);
		add_poll(&ring, compl_notifier_fd(w.n));
	}
	io_uring_queue_exit(&ring);
	nwork_finish(&w, "io_uring");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uring_loop),
	};
	struct io_uring probe;
	int err = io_uring_queue_init(8, &probe, 0);

	if (err) {
		printf("io_uring_queue_init: %s: the kernel refuses io_uring, test skipped\n",
		       strerror(-err));
		return 77;
	}
	io_uring_queue_exit(&probe);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
