// SPDX-License-Identifier: MIT
/*
 * Testbed profiles: published measurements of the patch, and the model
 * parameters that reproduce them.  Every profile scans 100 namespaces over
 * NVMe/TCP.
 */
#include <string.h>

#include "nvme_sim.h"

const char *const mode_names[NR_MODES] = { "sync", "async", "chain", "nsid" };
/* The seed's labels, and one for the alternative naming. */
const char *const mode_labels[NR_MODES] = {
	"Synchronous namespace scan",
	"Fully async namespace scan",
	"Async namespace scan with dependency chain",
	"Fully async scan, nodes named by NSID",
};

/*
 * The seed's testbed (the patch's posting, /work/shared/seeds/000_*).
 * Only the round trip differs between its two profiles.
 *
 * - Two Identify round trips per namespace, one before the ordered step
 *   and one after it: the seed's synchronous scan took 32375 ms for 100
 *   namespaces at ~150 ms, i.e. 2 x 150 ms + ~3 ms of CPU each.
 * - 13 admin commands in flight: the admin queue has 32 entries (28 usable
 *   over fabrics), but the seed's fully async scan (2543 ms for 200
 *   commands at 150 ms) implies about 13 outstanding on its connection.
 * - CPU per namespace, measured at ~0.2 ms where the network is cheap: the
 *   synchronous scan's 352 ms are 100 x (2 x 0.23 ms + 3.05 ms).  Of those,
 *   0.7 ms allocate the namespace and its disk (parallel), 1.85 ms set up
 *   the namespace head under the subsystem lock (the chained step), 0.5 ms
 *   register the disk under the disk lock.
 * - A contended acquisition of those kernel mutexes costs 0.6 ms more
 *   (sleeping, wake-up, cache-line transfers): the fully async scan piles
 *   100 tasks onto the subsystem lock at once, the chain feeds it one task
 *   at a time.  This is why the chained scan beats the fully async one at
 *   0.2 ms (191 vs 248 ms).
 */
static void seed_testbed(struct sim_params *p)
{
	memset(p, 0, sizeof(*p));
	p->svc_ns = 30 * NS_PER_US;
	p->jitter_pct = 5.0;
	p->qdepth = 13;
	p->cmds_before = 1;
	p->cmds_after = 1;
	p->alloc_ns = 700 * NS_PER_US;
	p->head_ns = 1850 * NS_PER_US;
	p->disk_ns = 500 * NS_PER_US;
	p->contention_ns = 600 * NS_PER_US;
	p->validate_ns = 100 * NS_PER_US;
	p->remove_ns = 300 * NS_PER_US;
	p->seed = 1;
}

static void seed_150ms(struct sim_params *p)
{
	seed_testbed(p);
	p->rtt_ns = 150 * NS_PER_MS;
}

static void seed_02ms(struct sim_params *p)
{
	seed_testbed(p);
	p->rtt_ns = 200 * NS_PER_US;
}

/*
 * The RFC posting's testbed (linux-nvme, August 2025): another host and
 * target, same 100 namespaces.  What differs from the seed's testbed (the
 * rest, the 30 us of controller time, 13 commands in flight, 5 % jitter,
 * validation and removal costs, are the seed's):
 *
 * - Three Identify round trips per namespace instead of two (two before
 *   the ordered step: the NS descriptor list and the command-set
 *   independent Identify, both issued by the kernels of that time; one
 *   after).  The synchronous scan at ~100 ms took 31175 ms, 312 ms per
 *   namespace: three round trips, not two (two would be 206 ms).
 * - A round trip of 103 ms for "~100 ms ping": ping reports the ICMP echo,
 *   an admin command also crosses the target's TCP stack and nvmet's work
 *   queue on both ways; 31175 ms / 100 / 3, less the CPU, is 103 ms.
 * - The same 13 admin commands in flight: the fully async scan's 300
 *   commands took 2563 ms, about 300 / 13 rounds of 103 ms plus the
 *   Identify list; the queue and connection limits are the same driver's.
 * - Less CPU per namespace, a faster host: at ~0.2 ms the synchronous
 *   scan took 335 ms, 100 x (3 x 0.23 ms + 2.66 ms).  The chained scan's
 *   116 ms is about 100 namespace-head set-ups back to back, so the head
 *   takes 1.1 ms under the subsystem lock (1.85 ms on the seed's host);
 *   allocation 0.95 ms and disk registration 0.61 ms make up the rest.
 * - A contended acquisition costs 0.4 ms instead of 0.6 ms: the fully async
 *   scan's 156 ms is 100 x (1.1 + 0.4 ms) plus the commands around them,
 *   and a faster host wakes and migrates a waiter faster.
 */
static void rfc_testbed(struct sim_params *p)
{
	seed_testbed(p);
	p->cmds_before = 2;
	p->cmds_after = 1;
	p->alloc_ns = 950 * NS_PER_US;
	p->head_ns = 1100 * NS_PER_US;
	p->disk_ns = 610 * NS_PER_US;
	p->contention_ns = 400 * NS_PER_US;
}

static void rfc_100ms(struct sim_params *p)
{
	rfc_testbed(p);
	p->rtt_ns = 103 * NS_PER_MS;
}

static void rfc_02ms(struct sim_params *p)
{
	rfc_testbed(p);
	p->rtt_ns = 200 * NS_PER_US;
}

/*
 * Linux 6.12 in User Mode Linux on this project's 2-CPU test machine
 * (kernel/bench/run), against nvmet on 127.0.0.1: what differs from a
 * testbed with a real network and CPUs to spare.  Measured, not fitted,
 * except where it says so (kernel/bench/results/sweep, doc/kernel.md).
 *
 * - One CPU: UML is uniprocessor and has no preemption; host, network
 *   stack, nvmet and null_blk all run on it (--cpus 1: a thread keeps the
 *   CPU until it sleeps).
 * - Every scan starts with two round trips: nvme_init_non_mdts_limits'
 *   Identify CS Controller, then the active namespace list.  Three Identify
 *   round trips per namespace: the NS descriptor list and the command-set
 *   independent Identify before the ordered step, Identify Namespace after
 *   it.  The kernel at 150 ms: 5.0 round trips for 1 and for 5 namespaces.
 * - The round trip is what ping measures in the same boot, not 2 x the
 *   netem delay (kernel/bench/compare passes each point's).
 * - 14 places on the admin queue, then 28 (sampled with kernel/uml/scan.py
 *   --inflight: the host never has more than 14 Identify commands written
 *   and unacknowledged, then 28 from ~4.4 s into a long scan).  The admin
 *   tag set has 30 tags, 2 reserved (Connect, Keep Alive); blk-mq shares
 *   a tag set fairly between its active request queues (hctx_may_queue),
 *   here the admin queue and the fabrics queue that sent Connect: 14 each.
 *   The fabrics queue's timeout timer, armed by Connect and capped at
 *   BLK_MAX_TIMEOUT (5 s), finds it idle and makes it inactive: 28.  The
 *   scan starts ~4 round trips after Connect (the property reads and
 *   writes that enable the controller, Identify Controller).
 * - A task keeps its place: a task whose command completes is woken by it
 *   and issues its next one before a waiter for a tag runs, so the tasks
 *   go in waves, 3 round trips each.  20 namespaces take 2 + 2 x 3 = 8
 *   round trips (the kernel: 8.0), 100 take 2 + 8 x 3 = 26 (26.3).  (The
 *   seed's 2543 ms fit the same rule: 1 + 8 x 2 round trips of 150 ms is
 *   2550 ms.  Its profiles keep their calibrated 13 commands in flight.)
 * - The partition scan of each new disk: multipath defers it to a work item
 *   (nvme_partition_scan_work on nvme_wq) that reads the partition table
 *   over an I/O queue while the scan goes on.  The scan does not wait for
 *   it, but it takes the one CPU: a kernel built without it (an experiment
 *   patch that does not queue the work) scans 500 namespaces fully async
 *   in 112, 180 and 393 ms at 0, 0.1 and 1 ms per direction, against 168,
 *   300 and 551 ms with it (AMD EPYC, 2026-12-07).
 * - netem's delay costs CPU: each delayed packet waits for a timer, whose
 *   interrupt is a host signal in UML.  A ping flood with 14 in flight
 *   inside UML takes 0.29 ms of CPU per ping without the qdisc and 0.46 to
 *   0.51 ms with 1 or 0.1 ms of delay (/proc/stat; kernel/bench/experiments
 *   run netem-cpu).  --net-cpu charges it
 *   per command and per partition read; kernel/bench/compare passes 0s
 *   where the point has no delay (no qdisc).
 * - CPU, fitted on the sweep (kernel/bench/results/sweep and sweep-cpu, AMD
 *   EPYC: the most points within 15 % and in the order the measurement
 *   resolves, then the smallest squared error): 22 us per new namespace
 *   (allocation, head, disk), 1.06 us more per head already in the
 *   subsystem (nvme_init_ns_head walks the subsystem's heads twice under
 *   its lock: nvme_find_ns_head, nvme_subsys_check_duplicate_ids), 9 us
 *   per command, 50 us more per command where netem delays it, 0.1 ms per
 *   partition scan, 0.3 ms when a chained task sleeps for its turn and is
 *   woken.  The two mechanisms above are measured; their costs, like the
 *   rest, are fitted.
 */
static void uml_loopback(struct sim_params *p)
{
	seed_testbed(p);
	p->cpus = 1;
	p->rtt_ns = 360 * NS_PER_US;
	p->svc_ns = 0;
	p->cmds_scan = 1;
	p->cmds_before = 2;
	p->cmds_after = 1;
	p->qdepth = 14;
	p->places = true;
	p->qdepth_late = 28;
	p->fabrics_idle_ns = 5000 * NS_PER_MS;
	p->connect_rtts = 4;
	p->cmd_cpu_ns = 9 * NS_PER_US;
	p->net_cpu_ns = 50 * NS_PER_US;
	p->alloc_ns = 8 * NS_PER_US;
	p->head_ns = 7 * NS_PER_US;
	p->head_walk_ns = 1060;
	p->disk_ns = 7 * NS_PER_US;
	p->part_scan_ns = 100 * NS_PER_US;
	p->contention_ns = 20 * NS_PER_US;
	p->wake_ns = 300 * NS_PER_US;
	p->validate_ns = 50 * NS_PER_US;
	p->remove_ns = 100 * NS_PER_US;
}

const struct profile profiles[] = {
	{ "tcp-150ms", "High latency NVMe/TCP, ~150ms ping", "the patch (seed)", 100,
	  { 32375, 2543, 2431, 0 }, seed_150ms },
	{ "tcp-0.2ms", "Low latency NVMe/TCP, ~0.2ms ping", "the patch (seed)", 100,
	  { 352, 248, 191, 0 }, seed_02ms },
	{ "rfc-100ms", "RFC testbed, NVMe/TCP, ~100ms ping", "RFC, linux-nvme, August 2025", 100,
	  { 31175, 2563, 2599, 0 }, rfc_100ms },
	{ "rfc-0.2ms", "RFC testbed, NVMe/TCP, ~0.2ms ping", "RFC, linux-nvme, August 2025", 100,
	  { 335, 156, 116, 0 }, rfc_02ms },
	{ "uml-loopback", "Linux 6.12 in UML, NVMe/TCP on loopback, 0.1ms netem delay",
	  "kernel/bench/run, Intel Xeon, 2026-12-06", 100, { 166, 42.6, 50.7, 0 }, uml_loopback },
};

const size_t nr_profiles = sizeof(profiles) / sizeof(profiles[0]);

const struct profile *profile_find(const char *name)
{
	size_t i;

	for (i = 0; i < nr_profiles; i++)
		if (!strcmp(name, profiles[i].name))
			return &profiles[i];
	return NULL;
}
