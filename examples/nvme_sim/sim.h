/* SPDX-License-Identifier: MIT */
/*
 * nvme_sim: the NVMe host's namespace scan (core.c) running on libcchain,
 * against a simulated controller.
 *
 * Time is model time.  Every thread carries its own model clock; waiting
 * for a command, holding a lock for some CPU work, or being handed the
 * chain's turn moves it forward, and dependencies between threads carry
 * clocks along (a lock's release time, the chain's handover time, the end
 * of the last async task).  Threads also sleep in real time until their
 * model time (scaled by --time-scale), so that they meet in roughly the
 * order the model says; but no figure is read off the host's clock, which
 * makes results independent of the host's speed and core count.
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

enum scan_mode { MODE_SYNC, MODE_ASYNC, MODE_CHAIN, NR_MODES };

/* What a namespace scan costs; see the profiles in main.c. */
struct sim_params {
	uint64_t rtt_ns;        /* network round trip of one admin command */
	uint64_t svc_ns;        /* controller's processing of one command */
	double jitter_pct;      /* +- uniform, per command, reproducible */
	unsigned int qdepth;    /* admin commands in flight at most */
	unsigned int cmds_before; /* Identify commands before the ordered step */
	unsigned int cmds_after;  /* ... and after it (nvme_update_ns_info) */
	uint64_t alloc_ns;      /* nvme_alloc_ns: ns and gendisk allocation */
	uint64_t head_ns;       /* nvme_init_ns_head under the subsystem lock */
	uint64_t disk_ns;       /* device_add_disk under the disk lock */
	uint64_t contention_ns; /* extra per contended acquisition of those locks */
	uint64_t validate_ns;   /* nvme_validate_ns of a known namespace */
	uint64_t remove_ns;     /* nvme_ns_remove */
	uint64_t seed;
	/* Per-NSID round trips (--ns-latency, --latency-file), sorted by NSID. */
	struct ns_latency { uint32_t nsid; uint64_t rtt_ns; } *ns_lat;
	size_t n_ns_lat;
};

/* Zeroed memory, or exit with a one-line error. */
void *sim_xcalloc(size_t n, size_t size);

/* ---- model clock (sim.c) ---- */

void sim_clock_start(double time_scale, unsigned int generation);
uint64_t sim_now(void);
/* Real time since the start of the run, in model milliseconds (for progress). */
double sim_elapsed_model_ms(void);
void sim_advance(uint64_t ns);
void sim_sync_to(uint64_t t);
/* An async task starts: its clock is the later of @t and its worker's. */
void sim_task_start(uint64_t t);

/* A kernel mutex that costs model time, with a price for contention. */
struct sim_mutex {
	pthread_mutex_t lock;
	uint64_t free_at;
	uint64_t contention_ns;
	unsigned long contended;
};

void sim_mutex_init(struct sim_mutex *m, uint64_t contention_ns);
void sim_mutex_lock(struct sim_mutex *m);
void sim_mutex_unlock(struct sim_mutex *m);
void sim_mutex_destroy(struct sim_mutex *m);

/* ---- trace (sim.c): Chrome Trace Event Format ---- */

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
	NVME_ID_CNS_CS_INDEP = 0x08,
};

struct sim_target {
	const struct sim_params *p;
	uint32_t *nsids; /* active namespaces, sorted */
	size_t nr_ns;
	unsigned int generation; /* changes with attach/detach: new jitter */
	pthread_mutex_t lock;
	uint64_t *tag_free_at; /* one per admin tag */
	unsigned long commands;
};

void sim_target_init(struct sim_target *t, const struct sim_params *p,
		     const uint32_t *nsids, size_t nr_ns);
void sim_target_set_namespaces(struct sim_target *t, const uint32_t *nsids, size_t nr_ns);
void sim_target_destroy(struct sim_target *t);
/*
 * Execute one Identify command for @nsid on the admin queue and advance the
 * caller's clock to its completion.  Return: true if the namespace is active
 * (or, for CNS_CTRL and the active list, always).
 */
bool sim_identify(struct sim_target *t, enum nvme_cns cns, uint32_t nsid);
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
	/* Model time at which the chain's turn was last handed on. */
	uint64_t chain_time;
	_Atomic uint64_t scan_end;
	pthread_mutex_t namespaces_lock;
	struct nvme_ns *namespaces; /* sorted by NSID */
	struct sim_mutex subsys_lock;
	struct sim_mutex disk_lock;
	/* Instance numbers (the Y of nvme0nY), lowest free first. */
	bool *instance_used;
	size_t nr_instances;
	/* NSIDs in the order their heads were allocated during this scan. */
	uint32_t *alloc_order;
	size_t nr_alloc, alloc_cap;
	_Atomic unsigned long scanned;
};

struct nvme_device {
	unsigned int instance;
	uint32_t nsid;
};

void nvme_ctrl_init(struct nvme_ctrl *ctrl, struct sim_target *target,
		    const struct sim_params *p, enum scan_mode mode, size_t max_ns);
void nvme_ctrl_destroy(struct nvme_ctrl *ctrl);
/* One scan in the controller's mode, the kernel's nvme_scan_work(). */
void nvme_scan_work(struct nvme_ctrl *ctrl);
/* The registered namespaces, by instance. */
size_t nvme_ctrl_devices(struct nvme_ctrl *ctrl, struct nvme_device *out, size_t max);

#endif /* NVME_SIM_H */
