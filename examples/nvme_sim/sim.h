/* SPDX-License-Identifier: MIT */
/*
 * nvme_sim: the NVMe host's namespace scan (core.c) running on libcchain,
 * against a simulated controller.
 *
 * Time is model time, kept by a deterministic virtual-time scheduler
 * (sched.c): a discrete-event scheduler over real threads.  The scan thread
 * and every async task run on real threads (the scan calls the real
 * compl_chain and async layer), but exactly one of them, the holder of the
 * turn, runs model code at any moment.  The model clock moves only when the
 * turn holder gives up the turn and no simulated thread is runnable: then
 * the clock jumps to the earliest sleeper's wake-up time.  Ties are broken
 * by the order in which threads went to sleep or became runnable, which
 * depends only on the model.  So every figure depends only on the command
 * line and --seed, never on the host's speed, load or core count, nor on
 * --time-scale, which only paces the run in real time (0: unpaced).
 */
#ifndef NVME_SIM_H
#define NVME_SIM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>

#include <cchain/cchain.h>

#define NS_PER_US 1000ull
#define NS_PER_MS 1000000ull

/* MODE_NSID: fully async, each node named after its NSID (nvme0n<NSID>). */
enum scan_mode { MODE_SYNC, MODE_ASYNC, MODE_CHAIN, MODE_NSID, NR_MODES };

/* What a namespace scan costs; see the profiles in main.c. */
struct sim_params {
	uint64_t rtt_ns;        /* network round trip of one admin command */
	uint64_t svc_ns;        /* controller's processing of one command */
	double jitter_pct;      /* +- uniform, per command, reproducible */
	unsigned int qdepth;    /* admin commands in flight at most */
	/*
	 * Places on the admin queue (false: @qdepth tags, each command takes
	 * the one that frees up first).  True: the kernel's fair share of a
	 * tag set that two request queues use (the admin queue and the
	 * fabrics queue of NVMe over fabrics).  At most @qdepth tasks have a
	 * command in flight; a task whose command completes issues its next
	 * one before a waiting task gets in (it runs first, woken by its
	 * completion), so a task keeps its place until it sleeps for
	 * something else (its chain turn, a contended mutex) or ends.
	 * @fabrics_idle_ns after the Connect command, which comes
	 * @connect_rtts round trips before the scan starts, the fabrics
	 * queue's timer finds it idle and the share becomes @qdepth_late
	 * (blk-mq's tag idling; 0: @qdepth throughout).
	 */
	bool places;
	unsigned int qdepth_late;
	uint64_t fabrics_idle_ns;
	double connect_rtts;
	unsigned int cmds_scan;   /* Identify commands that start every scan */
	unsigned int cmds_before; /* Identify commands before the ordered step */
	unsigned int cmds_after;  /* ... and after it (nvme_update_ns_info) */
	uint64_t alloc_ns;      /* nvme_alloc_ns: ns and gendisk allocation */
	uint64_t head_ns;       /* nvme_init_ns_head under the subsystem lock */
	/* ... and more per namespace head already in the subsystem (its list walks) */
	uint64_t head_walk_ns;
	uint64_t disk_ns;       /* device_add_disk under the disk lock */
	/*
	 * The partition scan of a new namespace's disk, deferred to a work item
	 * (multipath's nvme_partition_scan_work on nvme_wq): half its CPU, one
	 * read round trip on an I/O queue (not the admin queue's places), the
	 * other half.  The scan does not wait for it; it only takes CPU from
	 * the scan.  0: none (the published testbeds' figures leave it out).
	 */
	uint64_t part_scan_ns;
	uint64_t contention_ns; /* extra per contended acquisition of those locks */
	uint64_t validate_ns;   /* nvme_validate_ns of a known namespace */
	uint64_t remove_ns;     /* nvme_ns_remove */
	/*
	 * The host's CPUs.  0: CPU work never waits for a CPU (the published
	 * testbeds: many CPUs, CPU never the bottleneck).  Otherwise every CPU
	 * cost above, and @cmd_cpu_ns per command, runs on one of @cpus CPUs.
	 */
	unsigned int cpus;
	uint64_t cmd_cpu_ns;    /* CPU per admin command: host, network, target */
	/*
	 * ... and more per command (and per partition read) where the link
	 * delays packets: netem holds each one for a timer to release, and
	 * the timer's interrupt costs CPU (User Mode Linux: a host signal).
	 */
	uint64_t net_cpu_ns;
	uint64_t wake_ns;       /* CPU to sleep in and wake from a chain wait */
	uint64_t seed;
	/* Per-NSID round trips (--ns-latency, --latency-file), sorted by NSID. */
	struct ns_latency { uint32_t nsid; uint64_t rtt_ns; } *ns_lat;
	size_t n_ns_lat;
};

/* Host CPU spent on a new namespace: allocation, head set-up, disk. */
static inline uint64_t sim_ns_cpu(const struct sim_params *p)
{
	return p->alloc_ns + p->head_ns + p->disk_ns;
}

/* Zeroed memory, or exit with a one-line error. */
void *sim_xcalloc(size_t n, size_t size);

/* ---- virtual-time scheduler (sched.c) ---- */

/**
 * struct sim_thread - a simulated thread: the scan, or one async task
 *
 * Contract of the scheduler:
 * - Only the turn holder runs model code and touches model state (the
 *   controller, the host's lists, sim_mutex, the chain bookkeeping of
 *   core.c); every sim_* call below except sim_clock_peek() and
 *   sim_task_start() must be made by the turn holder.  The turn is given
 *   up only inside sim_advance(), sim_sync_to(), sim_block_begin(),
 *   sim_tasks_wait_begin() and sim_task_end().
 * - A turn holder that blocks in a real primitive (compl_chain_wait(),
 *   async_synchronize_full_domain()) first calls sim_block_begin() (or
 *   sim_tasks_wait_begin()), and sim_block_end() when the primitive
 *   returns.  Whoever releases it calls sim_wake() before releasing it in
 *   reality and before giving up the turn, so that the model, not the
 *   host, decides when the woken thread runs.
 * - Runnable threads run in FIFO order of becoming runnable; sleepers wake
 *   in order of (wake-up time, order of going to sleep).
 * - Async tasks hold one of cchain_async_max_active() pool slots from
 *   submission to their end, like the library's workers; a task without
 *   a slot waits in FIFO order.  A run ends with no task left.  The host
 *   must let the async layer start that many worker threads (512): a
 *   task the library cannot start is reported by core.c and ends the
 *   process, as the model would otherwise wait for it forever.
 * - A run in which no simulated thread is runnable or sleeping while one
 *   is blocked is a model bug: the process aborts with a message.
 */
struct sim_thread {
	pthread_cond_t cond;
	struct sim_thread *next;
	uint64_t wake, seq;
	bool admin_place;       /* holds a place on the admin queue (sim.c) */
	bool cpu_held;          /* holds one of the host's CPUs (sim.c) */
	bool work;              /* a work item (sim_work_queue), not a task */
};

/* The caller becomes the run's first simulated thread, at model time 0. */
void sim_run_begin(double time_scale);
/* The first thread ends the run; every task has ended. */
void sim_run_end(void);
/* Model time now, in ns. */
uint64_t sim_now(void);
/* Model time now, from any thread (for progress lines). */
uint64_t sim_clock_peek(void);
struct sim_thread *sim_self(void);
/* Sleep @ns of model time (a CPU cost, or a command in flight). */
void sim_advance(uint64_t ns);
/* Sleep until model time @t (nothing if it has passed). */
void sim_sync_to(uint64_t t);
void sim_block_begin(void);
void sim_block_end(void);
/* @t, blocked by sim_block_begin(), is runnable again. */
void sim_wake(struct sim_thread *t);
/* A task is submitted to the async layer (by the turn holder). */
void sim_task_submit(struct sim_thread *t);
/* On the worker: wait for the task's first turn. */
void sim_task_start(struct sim_thread *t);
/* The task ends and gives up the turn for good. */
void sim_task_end(void);
unsigned long sim_tasks_outstanding(void);
/*
 * Before waiting for every task in reality: true if some are left, then
 * the caller gave up the turn and calls sim_block_end() after the wait.
 */
bool sim_tasks_wait_begin(void);
/*
 * A kernel work item that the scan queues and does not wait for (the
 * deferred partition scan on nvme_wq): runnable now, on a thread of its
 * own, without a pool slot; it calls sim_task_start() first and
 * sim_task_end() last, like a task.  Tasks, the scan and work items share
 * the CPUs.  Only the run waits for them: sim_works_wait(), by the first
 * thread, before sim_run_end().
 */
void sim_work_queue(struct sim_thread *t);
void sim_works_wait(void);

/* A kernel mutex that costs model time: FIFO hand-over, a price for contention. */
struct sim_mutex {
	struct sim_thread *owner;
	struct sim_thread *wait_head, *wait_tail;
	uint64_t contention_ns;
	unsigned long contended;
};

void sim_mutex_init(struct sim_mutex *m, uint64_t contention_ns);
void sim_mutex_lock(struct sim_mutex *m);
void sim_mutex_unlock(struct sim_mutex *m);
void sim_mutex_destroy(struct sim_mutex *m);

/*
 * The host's CPUs, as a kernel without preemption (CONFIG_PREEMPT_NONE, as
 * User Mode Linux's) runs them: a thread takes a CPU for its first CPU cost
 * after a sleep, first come first served, and keeps it until it sleeps
 * again (sim_cpu_yield(): before a command's round trip, a wait for its
 * chain turn or a contended mutex, and its end).  With @nr == 0 a cost is
 * only time: as many CPUs as there are threads.  Only the turn holder
 * calls these.
 */
struct sim_cpus {
	unsigned int nr, busy;
	struct sim_thread *wait_head, *wait_tail;
};

void sim_cpus_init(struct sim_cpus *c, unsigned int nr);
/* Spend @ns of CPU time, on the CPU the thread holds or the next free one. */
void sim_cpu_run(struct sim_cpus *c, uint64_t ns);
/* The thread goes to sleep: its CPU, if it holds one, goes to the next thread. */
void sim_cpu_yield(struct sim_cpus *c);

/* ---- trace (trace.c): Chrome Trace Event Format ---- */

void trace_enable(bool on);
void trace_begin_run(const char *name);
/* A complete event on the calling thread's track, in model time. */
void trace_event(const char *cat, uint64_t start, uint64_t end, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int trace_write(FILE *f);
void trace_free(void);

/* ---- the simulated controller (sim.c) ---- */

enum nvme_cns {
	NVME_ID_CNS_NS = 0x00,
	NVME_ID_CNS_CTRL = 0x01,
	NVME_ID_CNS_NS_ACTIVE_LIST = 0x02,
	NVME_ID_CNS_NS_DESC_LIST = 0x03,
	NVME_ID_CNS_CS_NS = 0x05,
	NVME_ID_CNS_CS_CTRL = 0x06,
	NVME_ID_CNS_CS_INDEP = 0x08,
};

struct sim_target {
	const struct sim_params *p;
	uint32_t *nsids; /* active namespaces, sorted */
	size_t nr_ns;
	unsigned int generation; /* changes with attach/detach: new jitter */
	uint64_t *tag_free_at; /* one per admin tag, a min-heap */
	unsigned long commands;
	/* With p->places: places taken, tasks waiting for one, FIFO. */
	unsigned int places_used;
	struct sim_thread *place_wait_head, *place_wait_tail;
	uint64_t late_at; /* model time from which p->qdepth_late applies */
};

void sim_target_init(struct sim_target *t, const struct sim_params *p,
		     const uint32_t *nsids, size_t nr_ns);
void sim_target_set_namespaces(struct sim_target *t, const uint32_t *nsids, size_t nr_ns);
void sim_target_destroy(struct sim_target *t);
/*
 * A scan begins (model time 0): every tag and place is free.  @after_connect:
 * the controller has just connected (the first scan), so the fabrics queue
 * still has its share of the admin tags for a while.
 */
void sim_target_begin_scan(struct sim_target *t, bool after_connect);
/*
 * The calling thread is about to sleep for something other than a command,
 * or to end: it gives up its place on the admin queue, if it has one.
 */
void sim_target_leave(struct sim_target *t);
/*
 * Execute one Identify command for @nsid on the admin queue and advance the
 * caller's clock to its completion.  Return: true if the namespace is active
 * (or, for CNS_CTRL and the active list, always).
 */
bool sim_identify(struct sim_target *t, enum nvme_cns cns, uint32_t nsid);
/*
 * One read on an I/O queue, which is deep enough never to make it wait:
 * the round trip and the controller's time, asleep.
 */
void sim_io_read(struct sim_target *t);
/* The highest active NSID (Identify Controller's NN). */
uint32_t sim_target_nn(struct sim_target *t);
/* Active NSIDs greater than @after, at most @max, into @out. */
size_t sim_target_list(struct sim_target *t, uint32_t after, uint32_t *out, size_t max);

/* ---- the host (core.c) ---- */

struct nvme_ns;

struct nvme_ctrl {
	int instance;
	enum scan_mode mode;
	struct sim_target *target;
	const struct sim_params *p;
	struct compl_chain scan_chain;
	/* The model's view of the chain: entries completed, waiters by place. */
	size_t chain_done, chain_cap;
	struct sim_thread **chain_waiter;
	/* Registered namespaces, by the position of their NSID in @universe. */
	const uint32_t *universe;
	size_t nr_universe;
	struct nvme_ns **ns_table;
	size_t nr_heads; /* the subsystem's namespace heads */
	struct sim_mutex subsys_lock;
	struct sim_mutex disk_lock;
	struct sim_cpus cpus;
	/* Instance numbers (the Y of nvme0nY), lowest free first. */
	unsigned int ida_next;
	unsigned int *free_ids;
	size_t nr_free;
	/* NSIDs in the order their heads were allocated during this scan. */
	uint32_t *alloc_order;
	size_t nr_alloc, alloc_cap;
	_Atomic unsigned long scanned;
};

struct nvme_device {
	unsigned int instance;
	uint32_t nsid;
};

/*
 * @universe: every NSID the controller will ever report, sorted (the
 * model's index of namespaces; it must outlive the controller).
 */
void nvme_ctrl_init(struct nvme_ctrl *ctrl, struct sim_target *target,
		    const struct sim_params *p, enum scan_mode mode,
		    const uint32_t *universe, size_t nr_universe);
void nvme_ctrl_destroy(struct nvme_ctrl *ctrl);
/* One scan in the controller's mode, the kernel's nvme_scan_work(). */
void nvme_scan_work(struct nvme_ctrl *ctrl);
/* The registered namespaces, by instance. */
size_t nvme_ctrl_devices(struct nvme_ctrl *ctrl, struct nvme_device *out, size_t max);

#endif /* NVME_SIM_H */
