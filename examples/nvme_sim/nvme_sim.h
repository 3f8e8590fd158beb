/* SPDX-License-Identifier: MIT */
/*
 * nvme_sim's program level: testbed profiles (profile.c), the command line
 * and the runs (main.c), and what is printed or written (output.c).
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
	const char *trace_path;
	const char *output_path;
	struct sim_params p;
};

struct run {
	enum scan_mode mode;
	const char *scan; /* "initial" or "rescan" */
	size_t namespaces;
	double elapsed_ms;
	unsigned long inversions; /* head allocations out of NSID order */
	bool ordered;             /* node numbers increase with NSIDs */
	bool contiguous;          /* nodes are nvme0n1..nvme0n<count> */
	unsigned long commands;
	struct nvme_device *devices;
	size_t nr_devices;
};

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
