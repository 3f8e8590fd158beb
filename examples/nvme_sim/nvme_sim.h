/* SPDX-License-Identifier: MIT */
/*
 * nvme_sim's program level: testbed profiles (profile.c), the command line
 * and the runs (main.c), how a run's naming compares with NSID order
 * (order.c), and what is printed or written (output.c).
 */
#ifndef NVME_SIM_NVME_SIM_H
#define NVME_SIM_NVME_SIM_H

#include "sim.h"

extern const char *const mode_names[NR_MODES];
extern const char *const mode_labels[NR_MODES];

/* A published measurement, and the model parameters that reproduce it. */
struct profile {
	const char *name;
	const char *title;
	const char *source; /* where the figures were published */
	unsigned int namespaces;
	double seed_ms[NR_MODES]; /* 0: not measured */
	void (*params)(struct sim_params *p);
};

extern const struct profile profiles[];
extern const size_t nr_profiles;
const struct profile *profile_find(const char *name);

struct options {
	const struct profile *profile;
	bool mode[NR_MODES];
	bool custom; /* parameters differ from the profile's testbed */
	uint32_t *nsids;
	size_t nr_ns;
	double time_scale;
	bool rescan;
	bool json;
	bool list; /* text: every node of every run, not only those out of NSID order */
	const char *trace_path;
	const char *output_path;
	struct sim_params p;
};

struct run {
	enum scan_mode mode;
	const char *scan; /* "initial" or "rescan" */
	size_t namespaces;
	double elapsed_ms;
	/* This scan's head allocations: pairs out of NSID order. */
	unsigned long inversions;
	bool allocations_in_order; /* no inversions */
	/* The whole device list, by node number, after this scan: */
	bool ordered;              /* node numbers increase with NSIDs */
	bool contiguous;           /* nodes are nvme0n1..nvme0n<count> */
	unsigned long commands;
	struct nvme_device *devices; /* by node number */
	size_t nr_devices;
	bool *out_of_order;        /* per device: see mark_out_of_order() */
	size_t nr_out_of_order;    /* 0 if and only if @ordered */
};

/* Pairs of @order[0..n) in the opposite order of their values, in O(n log n). */
unsigned long count_inversions(const uint32_t *order, size_t n);
/*
 * @dev[0..n), sorted by node number: set @out[i] for the devices out of
 * NSID order, the fewest without which the others' NSIDs increase with
 * their node numbers.  Of the sets that small, the one that leaves out the
 * fewest devices at their rank (the i-th device with the i-th smallest
 * NSID, named as a scan in NSID order would name it), then the one that
 * keeps the lowest NSIDs; the same set for the same list.  O(n log n).
 * Return: how many are set.
 */
size_t mark_out_of_order(const struct nvme_device *dev, size_t n, bool *out);

/* What --rescan changed. */
struct rescan_change {
	uint32_t *detached, *attached;
	size_t nr_detached, nr_attached;
};

/* Text or JSON report of @runs into @f. */
void print_report(FILE *f, const struct options *o, const struct run *runs, size_t nr,
		  const struct rescan_change *change);
/*
 * Write @path as a whole or not at all: into a temporary file beside it,
 * renamed over it when complete, with SIGINT, SIGTERM and SIGHUP held off
 * meanwhile; an interrupted run never leaves a truncated file behind.
 * Return: 0, or -1 with errno set (the temporary file is removed).
 */
int write_file_atomic(const char *path, int (*fill)(FILE *f, void *arg), void *arg);
/* Can @path be created (its directory exists and is writable)? */
bool path_writable(const char *path);

#endif /* NVME_SIM_NVME_SIM_H */
