// SPDX-License-Identifier: MIT
/* What nvme_sim prints: the comparison, the device tables, JSON; atomic files. */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nvme_sim.h"

static bool show_seed(const struct options *o)
{
	return !o->custom;
}

static bool has_seed(const struct options *o, const struct run *r)
{
	return show_seed(o) && !strcmp(r->scan, "initial") && o->profile->seed_ms[r->mode] > 0;
}

static const char *plural(size_t n)
{
	return n == 1 ? "" : "s";
}

/* The run's device table: every node, or (@all false) those out of NSID order. */
static void print_devices(FILE *f, const struct run *r, bool all)
{
	char node[32], gen[32];
	size_t i;

	fprintf(f, "%s (--mode %s), %s:", mode_labels[r->mode], mode_names[r->mode],
		strcmp(r->scan, "rescan") ? "initial scan" : "rescan");
	if (all)
		fputs("\n\n", f);
	else
		fprintf(f, " %zu of %zu node%s out of NSID order\n(the fewest without which "
			   "the rest are in NSID order; --list shows every node):\n\n",
			r->nr_out_of_order, r->nr_devices, plural(r->nr_devices));
	fprintf(f, "%-21s %-21s %s\n", "Node", "Generic", "Namespace");
	fprintf(f, "--------------------- --------------------- ----------\n");
	for (i = 0; i < r->nr_devices; i++) {
		if (!all && !r->out_of_order[i])
			continue;
		snprintf(node, sizeof(node), "/dev/nvme0n%u", r->devices[i].instance);
		snprintf(gen, sizeof(gen), "/dev/ng0n%u", r->devices[i].instance);
		fprintf(f, "%-21s %-21s %u\n", node, gen, r->devices[i].nsid);
	}
}

/* "3,7-9,12": runs of consecutive NSIDs as ranges. */
static void print_nsid_ranges(FILE *f, const uint32_t *v, size_t n)
{
	size_t i = 0, j;

	if (!n)
		fputs("none", f);
	while (i < n) {
		for (j = i; j + 1 < n && v[j + 1] == v[j] + 1; j++)
			;
		fprintf(f, "%s%" PRIu32, i ? "," : "", v[i]);
		if (j > i)
			fprintf(f, "-%" PRIu32, v[j]);
		i = j + 1;
	}
}

/*
 * The naming after the run: of the whole device list (in NSID order, or how
 * many nodes are out of it), and of this scan's head allocations.
 */
static void print_naming(FILE *f, const struct run *r)
{
	if (r->mode == MODE_NSID) {
		fprintf(f, "   named by NSID%s\n", r->contiguous ? "" : ", not contiguous");
		return;
	}
	if (r->ordered)
		fputs("   in NSID order", f);
	else
		fprintf(f, "   %zu node%s out of NSID order", r->nr_out_of_order,
			plural(r->nr_out_of_order));
	if (r->inversions)
		fprintf(f, " (%lu allocation inversion%s)\n", r->inversions,
			plural(r->inversions));
	else if (!r->ordered)
		fputs(" (allocations in order)\n", f);
	else
		fputc('\n', f);
}

static void print_text(FILE *f, const struct options *o, const struct run *runs, size_t nr,
		       const struct rescan_change *change)
{
	const struct run *async = NULL, *chain = NULL;
	size_t i;

	if (show_seed(o))
		fprintf(f, "%s, %zu namespaces (profile %s)\n\n", o->profile->title, o->nr_ns,
			o->profile->name);
	else
		fprintf(f, "Custom scenario: rtt %.3f ms, %zu namespaces, qdepth %u, jitter %g%%\n\n",
			o->p.rtt_ns / 1e6, o->nr_ns, o->p.qdepth, o->p.jitter_pct);
	if (change) {
		fputs("Rescan: detached NSIDs ", f);
		print_nsid_ranges(f, change->detached, change->nr_detached);
		fputs("; attached NSIDs ", f);
		print_nsid_ranges(f, change->attached, change->nr_attached);
		fputs("\n\n", f);
	}
	for (i = 0; i < nr; i++) {
		const struct run *r = &runs[i];
		char label[96];

		snprintf(label, sizeof(label), "%s%s:", mode_labels[r->mode],
			 strcmp(r->scan, "rescan") ? "" : " (rescan)");
		fprintf(f, "%-53s %8.0fms", label, r->elapsed_ms);
		if (has_seed(o, r))
			fprintf(f, "   seed %6.0fms  x%.2f", o->profile->seed_ms[r->mode],
				r->elapsed_ms / o->profile->seed_ms[r->mode]);
		print_naming(f, r);
		if (!strcmp(r->scan, "initial")) {
			if (r->mode == MODE_ASYNC)
				async = r;
			if (r->mode == MODE_CHAIN)
				chain = r;
		}
	}
	if (async && chain) {
		fprintf(f, "\nchain / async: %.2f", chain->elapsed_ms / async->elapsed_ms);
		if (show_seed(o))
			fprintf(f, "   (seed %.2f)", o->profile->seed_ms[MODE_CHAIN] /
						  o->profile->seed_ms[MODE_ASYNC]);
		fprintf(f, "\n");
	}
	for (i = 0; i < nr; i++) {
		if (o->list || runs[i].nr_out_of_order) {
			fputc('\n', f);
			print_devices(f, &runs[i], o->list);
		}
	}
}

static void print_u32_array(FILE *f, const uint32_t *v, size_t n)
{
	size_t i;

	fputc('[', f);
	for (i = 0; i < n; i++)
		fprintf(f, "%s%" PRIu32, i ? ", " : "", v[i]);
	fputc(']', f);
}

static void print_json(FILE *f, const struct options *o, const struct run *runs, size_t nr,
		       const struct rescan_change *change)
{
	size_t i, j;

	fprintf(f, "{\"profile\": ");
	if (show_seed(o))
		fprintf(f, "\"%s\"", o->profile->name);
	else
		fprintf(f, "null");
	fprintf(f, ", \"base_profile\": \"%s\", \"time_scale\": %g,\n", o->profile->name,
		o->time_scale);
	fprintf(f, " \"params\": {\"rtt_ms\": %.6f, \"jitter_pct\": %g, \"qdepth\": %u, "
		   "\"places\": %s, \"qdepth_late\": %u, \"late_after_connect_ms\": %.3f, "
		   "\"connect_rtts\": %g, \"cmds_scan\": %u, "
		   "\"ns_cpu_ms\": %.6f, \"head_walk_ms\": %.6f, \"cpus\": %u, \"cmd_cpu_ms\": %.6f, "
		   "\"wake_ms\": %.6f, \"part_scan_ms\": %.6f, \"net_cpu_ms\": %.6f, "
		   "\"seed\": %" PRIu64 ", "
		   "\"per_nsid_latencies\": %zu},\n",
		o->p.rtt_ns / 1e6, o->p.jitter_pct, o->p.qdepth, o->p.places ? "true" : "false",
		o->p.qdepth_late, o->p.fabrics_idle_ns / 1e6, o->p.connect_rtts, o->p.cmds_scan,
		sim_ns_cpu(&o->p) / 1e6, o->p.head_walk_ns / 1e6, o->p.cpus, o->p.cmd_cpu_ns / 1e6,
		o->p.wake_ns / 1e6, o->p.part_scan_ns / 1e6, o->p.net_cpu_ns / 1e6, o->p.seed,
		o->p.n_ns_lat);
	if (change) {
		fprintf(f, " \"rescan\": {\"detached\": ");
		print_u32_array(f, change->detached, change->nr_detached);
		fprintf(f, ", \"attached\": ");
		print_u32_array(f, change->attached, change->nr_attached);
		fprintf(f, "},\n");
	}
	fprintf(f, " \"runs\": [\n");
	for (i = 0; i < nr; i++) {
		const struct run *r = &runs[i];

		fprintf(f, "  {\"mode\": \"%s\", \"scan\": \"%s\", \"namespaces\": %zu, "
			   "\"elapsed_ms\": %.3f, ",
			mode_names[r->mode], r->scan, r->namespaces, r->elapsed_ms);
		if (has_seed(o, r))
			fprintf(f, "\"seed_ms\": %.0f, ", o->profile->seed_ms[r->mode]);
		fprintf(f, "\"ordered\": %s, \"nodes_out_of_order\": %zu, \"contiguous\": %s, "
			   "\"inversions\": %lu, \"allocations_in_order\": %s, \"commands\": %lu,"
			   "\n   \"devices\": [",
			r->ordered ? "true" : "false", r->nr_out_of_order,
			r->contiguous ? "true" : "false", r->inversions,
			r->allocations_in_order ? "true" : "false", r->commands);
		for (j = 0; j < r->nr_devices; j++)
			fprintf(f, "%s{\"node\": \"nvme0n%u\", \"nsid\": %u}", j ? ", " : "",
				r->devices[j].instance, r->devices[j].nsid);
		fprintf(f, "]}%s\n", i + 1 < nr ? "," : "");
	}
	fprintf(f, " ]}\n");
}

void print_report(FILE *f, const struct options *o, const struct run *runs, size_t nr,
		  const struct rescan_change *change)
{
	if (o->json)
		print_json(f, o, runs, nr, change);
	else
		print_text(f, o, runs, nr, change);
}

/* ---- files written whole or not at all ---------------------------------------- */

static void block_signals(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

int write_file_atomic(const char *path, int (*fill)(FILE *f, void *arg), void *arg)
{
	size_t len = strlen(path);
	char *tmp = malloc(len + 8);
	sigset_t old;
	FILE *f = NULL;
	int fd, err = 0;

	if (!tmp)
		return errno = ENOMEM, -1;
	memcpy(tmp, path, len);
	memcpy(tmp + len, ".XXXXXX", 8);
	block_signals(&old);
	fd = mkstemp(tmp);
	if (fd < 0) {
		err = errno;
		goto out;
	}
	f = fdopen(fd, "w");
	if (!f) {
		err = errno;
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (fill(f, arg) || fflush(f) || ferror(f))
		err = errno ? errno : EIO;
	if (fclose(f) && !err)
		err = errno;
	/* mkstemp() creates 0600: give the file the usual permissions. */
	if (!err) {
		mode_t mask = umask(0);

		umask(mask);
		chmod(tmp, 0666 & ~mask);
	}
	if (!err && rename(tmp, path))
		err = errno;
	if (err)
		unlink(tmp);
out:
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	free(tmp);
	if (err)
		return errno = err, -1;
	return 0;
}

bool path_writable(const char *path)
{
	char *copy = strdup(path);
	bool ok;

	if (!copy)
		return false;
	ok = access(dirname(copy), W_OK | X_OK) == 0;
	free(copy);
	return ok;
}
