// SPDX-License-Identifier: MIT
/*
 * nvme_sim: compare the synchronous, fully asynchronous and chained NVMe
 * namespace scans on a simulated controller, and show which NSID gets
 * which /dev/nvme0nY.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

#define MAX_NSID 0xfffffffeu
#define MAX_NAMESPACES 100000u

static const char *const mode_names[NR_MODES] = { "sync", "async", "chain", "nsid" };
/* The seed's labels. */
static const char *const mode_labels[NR_MODES] = {
	"Synchronous namespace scan",
	"Fully async namespace scan",
	"Async namespace scan with dependency chain",
	"Async namespace scan, nodes named by NSID",
};

/*
 * Profiles: the seed's two testbeds, 100 namespaces over NVMe/TCP.  Only the
 * round trip differs; every other cost is the same host and controller.
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
struct profile {
	const char *name;
	const char *title;
	uint64_t rtt_ns;
	unsigned int namespaces;
	double seed_ms[NR_MODES];
};

static const struct profile profiles[] = {
	{ "tcp-150ms", "High latency NVMe/TCP, ~150ms ping", 150 * NS_PER_MS, 100,
	  { 32375, 2543, 2431, 0 } },
	{ "tcp-0.2ms", "Low latency NVMe/TCP, ~0.2ms ping", 200 * NS_PER_US, 100,
	  { 352, 248, 191, 0 } },
};

static void base_params(struct sim_params *p)
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

/* ---- command line ----------------------------------------------------------- */

static _Noreturn void die_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("nvme_sim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* "150ms", "200us", "1.5s", "20ns": false if malformed. */
static bool parse_duration(const char *s, uint64_t *out)
{
	static const struct { const char *unit; double ns; } units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 },
	};
	char *end;
	double v;
	size_t i;

	if (!isdigit((unsigned char)*s) && *s != '.')
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return false;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(end, units[i].unit)) {
			v *= units[i].ns;
			if (v > 1e18)
				return false;
			*out = (uint64_t)llround(v);
			return true;
		}
	}
	return false;
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (!isdigit((unsigned char)*s) && *s != '.')
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static uint32_t parse_nsid(const char *s, const char *what)
{
	uint64_t v;

	if (!parse_u64(s, 0, UINT64_MAX, &v) || v > MAX_NSID)
		die_usage("invalid NSID '%s' in %s (1..%u)", s, what, MAX_NSID);
	if (v == 0)
		die_usage("NSID 0 is not a valid namespace ID (in %s)", what);
	return (uint32_t)v;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* "1,2,5,100,333" or with ranges "1-64,100": sorted, without duplicates. */
static uint32_t *parse_nsid_list(const char *arg, size_t *count)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	uint32_t *v = NULL;
	size_t n = 0, cap = 0, i;

	if (!copy) {
		fputs("nvme_sim: out of memory\n", stderr);
		exit(1);
	}
	if (!*arg)
		die_usage("empty NSID list for --nsids");
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(tok, '-');
		uint32_t lo, hi, x;

		if (dash) {
			*dash = '\0';
			lo = parse_nsid(tok, "--nsids");
			hi = parse_nsid(dash + 1, "--nsids");
			if (hi < lo)
				die_usage("invalid NSID range '%s-%s' in --nsids", tok, dash + 1);
		} else {
			lo = hi = parse_nsid(tok, "--nsids");
		}
		for (x = lo;; x++) {
			if (n == MAX_NAMESPACES)
				die_usage("too many namespaces in --nsids (at most %u)",
					  MAX_NAMESPACES);
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				v = realloc(v, cap * sizeof(*v));
				if (!v) {
					fputs("nvme_sim: out of memory\n", stderr);
					exit(1);
				}
			}
			v[n++] = x;
			if (x == hi)
				break;
		}
	}
	if (!n)
		die_usage("empty NSID list for --nsids");
	qsort(v, n, sizeof(*v), cmp_u32);
	for (i = 1; i < n; i++)
		if (v[i] == v[i - 1])
			die_usage("duplicate NSID %u in --nsids", v[i]);
	free(copy);
	*count = n;
	return v;
}

static void add_ns_latency(struct sim_params *p, size_t *cap, uint32_t nsid, uint64_t rtt)
{
	size_t i;

	for (i = 0; i < p->n_ns_lat; i++) {
		if (p->ns_lat[i].nsid == nsid) {
			p->ns_lat[i].rtt_ns = rtt; /* the last one given wins */
			return;
		}
	}
	if (p->n_ns_lat == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		p->ns_lat = realloc(p->ns_lat, *cap * sizeof(*p->ns_lat));
		if (!p->ns_lat) {
			fputs("nvme_sim: out of memory\n", stderr);
			exit(1);
		}
	}
	p->ns_lat[p->n_ns_lat].nsid = nsid;
	p->ns_lat[p->n_ns_lat++].rtt_ns = rtt;
}

/* "7=500ms,9=2ms" */
static void parse_ns_latency(struct sim_params *p, size_t *cap, const char *arg)
{
	char *copy = strdup(arg), *tok, *save = NULL;

	if (!copy) {
		fputs("nvme_sim: out of memory\n", stderr);
		exit(1);
	}
	if (!*arg)
		die_usage("empty list for --ns-latency (expected NSID=DURATION,...)");
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		uint64_t rtt;
		uint32_t nsid;

		if (!eq)
			die_usage("invalid entry '%s' in --ns-latency (expected NSID=DURATION)", tok);
		*eq = '\0';
		nsid = parse_nsid(tok, "--ns-latency");
		if (!parse_duration(eq + 1, &rtt))
			die_usage("invalid duration '%s' for NSID %u in --ns-latency "
				  "(use a unit: ns, us, ms, s)", eq + 1, nsid);
		add_ns_latency(p, cap, nsid, rtt);
	}
	free(copy);
}

/* CSV "nsid,latency" per line; an optional header line; '#' comments. */
static void read_latency_file(struct sim_params *p, size_t *cap, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	unsigned int lineno = 0;

	if (!f)
		die_usage("cannot read latency file '%s': %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *s = line, *comma, *lat, *e;
		uint64_t rtt, v;

		lineno++;
		s[strcspn(s, "\r\n")] = '\0';
		while (isspace((unsigned char)*s))
			s++;
		if (!*s || *s == '#')
			continue;
		comma = strchr(s, ',');
		if (!comma)
			die_usage("%s:%u: expected 'nsid,latency', got '%s'", path, lineno, s);
		*comma = '\0';
		lat = comma + 1;
		while (isspace((unsigned char)*lat))
			lat++;
		for (e = lat + strlen(lat); e > lat && isspace((unsigned char)e[-1]);)
			*--e = '\0';
		for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]);)
			*--e = '\0';
		if (lineno == 1 && !isdigit((unsigned char)*s))
			continue; /* header */
		if (!parse_u64(s, 0, UINT64_MAX, &v) || v > MAX_NSID)
			die_usage("%s:%u: invalid NSID '%s'", path, lineno, s);
		if (v == 0)
			die_usage("%s:%u: NSID 0 is not a valid namespace ID", path, lineno);
		if (!parse_duration(lat, &rtt))
			die_usage("%s:%u: invalid duration '%s' (use a unit: ns, us, ms, s)",
				  path, lineno, lat);
		add_ns_latency(p, cap, (uint32_t)v, rtt);
	}
	if (ferror(f))
		die_usage("cannot read latency file '%s': %s", path, strerror(errno));
	fclose(f);
}

static int cmp_lat(const void *a, const void *b)
{
	const struct ns_latency *x = a, *y = b;

	return (x->nsid > y->nsid) - (x->nsid < y->nsid);
}

static void usage(FILE *f)
{
	fputs("usage: nvme_sim [--profile P] [--mode sync|async|chain|all] [--namespaces N]\n"
	      "                [--nsids LIST] [--rtt T] [--jitter PCT] [--ns-latency LIST]\n"
	      "                [--latency-file F] [--qdepth Q] [--time-scale X] [--rescan]\n"
	      "                [--seed S] [--format text|json] [--trace FILE] [--help]\n"
	      "\n"
	      "Simulates the NVMe host's namespace scan (synchronous, fully async, and\n"
	      "async with a completion chain) against a controller with the given\n"
	      "latencies, and shows which NSID became which /dev/nvme0nY.\n"
	      "\n"
	      "  --profile P        tcp-0.2ms (default) or tcp-150ms: the seed's testbeds\n"
	      "  --mode M           sync, async, chain, or all (default)\n"
	      "  --namespaces N     namespaces 1..N (default: the profile's 100)\n"
	      "  --nsids LIST       sparse NSIDs instead, e.g. 1,2,5,100,333 or 1-64,100\n"
	      "  --rtt T            round trip of one admin command, e.g. 150ms, 200us\n"
	      "  --jitter PCT       +- uniform jitter per command, in percent (default 5)\n"
	      "  --ns-latency LIST  per-NSID round trips, e.g. 7=500ms,9=2ms\n"
	      "  --latency-file F   per-NSID round trips from CSV lines 'nsid,latency'\n"
	      "  --qdepth Q         admin commands in flight at most (default 13)\n"
	      "  --time-scale X     pace the run: X s of real time per s of model time\n"
	      "                     (0.001..1000; default 0, unpaced); figures are\n"
	      "                     model time and do not depend on it\n"
	      "  --rescan           scan, detach some namespaces, attach new ones, scan again\n"
	      "  --seed S           seed of the jitter and of the rescan's changes (default 1)\n"
	      "  --format F         text (default) or json\n"
	      "  --trace FILE       write a Chrome trace (Perfetto, chrome://tracing)\n"
	      "Durations need a unit: ns, us, ms or s.  Reported times are model time.\n",
	      f);
}

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
	FILE *trace;
	struct sim_params p;
};

static void parse_args(int argc, char **argv, struct options *o)
{
	enum { O_PROFILE = 256, O_MODE, O_NAMESPACES, O_NSIDS, O_RTT, O_JITTER,
	       O_NS_LAT, O_LAT_FILE, O_QDEPTH, O_SCALE, O_RESCAN, O_SEED, O_FORMAT,
	       O_TRACE, O_HELP };
	static const struct option opts[] = {
		{ "profile", required_argument, NULL, O_PROFILE },
		{ "mode", required_argument, NULL, O_MODE },
		{ "namespaces", required_argument, NULL, O_NAMESPACES },
		{ "nsids", required_argument, NULL, O_NSIDS },
		{ "rtt", required_argument, NULL, O_RTT },
		{ "jitter", required_argument, NULL, O_JITTER },
		{ "ns-latency", required_argument, NULL, O_NS_LAT },
		{ "latency-file", required_argument, NULL, O_LAT_FILE },
		{ "qdepth", required_argument, NULL, O_QDEPTH },
		{ "time-scale", required_argument, NULL, O_SCALE },
		{ "rescan", no_argument, NULL, O_RESCAN },
		{ "seed", required_argument, NULL, O_SEED },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "trace", required_argument, NULL, O_TRACE },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v, namespaces = 0, rtt = 0;
	bool have_rtt = false;
	size_t lat_cap = 0, i;
	int c;

	memset(o, 0, sizeof(*o));
	base_params(&o->p);
	o->profile = &profiles[1];
	o->time_scale = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case O_PROFILE:
			for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
				if (!strcmp(optarg, profiles[i].name))
					break;
			if (i == sizeof(profiles) / sizeof(profiles[0]))
				die_usage("unknown profile '%s' (tcp-150ms or tcp-0.2ms)", optarg);
			o->profile = &profiles[i];
			break;
		case O_MODE:
			for (i = 0; i < NR_MODES && strcmp(optarg, mode_names[i]); i++)
				;
			if (i < NR_MODES)
				o->mode[i] = true;
			else if (!strcmp(optarg, "all"))
				o->mode[MODE_SYNC] = o->mode[MODE_ASYNC] = o->mode[MODE_CHAIN] = true;
			else
				die_usage("unknown mode '%s' (sync, async, chain or all)", optarg);
			break;
		case O_NAMESPACES:
			if (!parse_u64(optarg, 1, MAX_NAMESPACES, &namespaces))
				die_usage("invalid --namespaces '%s' (1..%u)", optarg, MAX_NAMESPACES);
			o->custom = true;
			break;
		case O_NSIDS:
			free(o->nsids);
			o->nsids = parse_nsid_list(optarg, &o->nr_ns);
			o->custom = true;
			break;
		case O_RTT:
			if (!parse_duration(optarg, &rtt))
				die_usage("invalid duration '%s' for --rtt (use a unit: ns, us, ms, s)",
					  optarg);
			have_rtt = true;
			o->custom = true;
			break;
		case O_JITTER:
			if (!parse_double(optarg, 0, 100, &o->p.jitter_pct))
				die_usage("invalid --jitter '%s' (a percentage, 0..100)", optarg);
			o->custom = true;
			break;
		case O_NS_LAT:
			parse_ns_latency(&o->p, &lat_cap, optarg);
			o->custom = true;
			break;
		case O_LAT_FILE:
			read_latency_file(&o->p, &lat_cap, optarg);
			o->custom = true;
			break;
		case O_QDEPTH:
			if (!parse_u64(optarg, 1, 65535, &v))
				die_usage("invalid --qdepth '%s' (1..65535)", optarg);
			o->p.qdepth = (unsigned int)v;
			o->custom = true;
			break;
		case O_SCALE:
			/*
			 * Figures are model time whatever the scale; pacing
			 * finer than a microsecond of real time per model
			 * millisecond is below what the host's timers can
			 * honour, so such scales are refused, not faked.
			 */
			if (!parse_double(optarg, 0, 1000, &o->time_scale))
				die_usage("invalid --time-scale '%s' (0 for unpaced, or "
					  "0.001..1000)", optarg);
			if (o->time_scale > 0 && o->time_scale < 0.001)
				die_usage("--time-scale '%s' cannot be honoured: pacing below "
					  "0.001 is finer than the host's timers (use 0 for "
					  "unpaced runs)", optarg);
			break;
		case O_RESCAN:
			o->rescan = true;
			break;
		case O_SEED:
			if (!parse_u64(optarg, 0, UINT64_MAX, &o->p.seed))
				die_usage("invalid --seed '%s' (a non-negative integer)", optarg);
			break;
		case O_FORMAT:
			if (!strcmp(optarg, "json"))
				o->json = true;
			else if (strcmp(optarg, "text"))
				die_usage("unknown format '%s' (text or json)", optarg);
			break;
		case O_TRACE:
			o->trace_path = optarg;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		case ':':
			die_usage("option '%s' needs a value", argv[optind - 1]);
		default:
			die_usage("unknown option '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument '%s' (see --help)", argv[optind]);
	if (namespaces && o->nsids)
		die_usage("--namespaces and --nsids exclude each other");
	if (!o->mode[MODE_SYNC] && !o->mode[MODE_ASYNC] && !o->mode[MODE_CHAIN])
		o->mode[MODE_SYNC] = o->mode[MODE_ASYNC] = o->mode[MODE_CHAIN] = true;
	o->p.rtt_ns = have_rtt ? rtt : o->profile->rtt_ns;
	if (!o->nsids) {
		o->nr_ns = namespaces ? namespaces : o->profile->namespaces;
		o->nsids = sim_xcalloc(o->nr_ns, sizeof(*o->nsids));
		for (i = 0; i < o->nr_ns; i++)
			o->nsids[i] = (uint32_t)(i + 1);
	}
	if (o->p.n_ns_lat)
		qsort(o->p.ns_lat, o->p.n_ns_lat, sizeof(*o->p.ns_lat), cmp_lat);
	if (o->trace_path && !(o->trace = fopen(o->trace_path, "w")))
		die_usage("cannot write trace file '%s': %s", o->trace_path, strerror(errno));
}

/* ---- runs -------------------------------------------------------------------- */

struct run {
	enum scan_mode mode;
	const char *scan; /* "initial" or "rescan" */
	size_t namespaces;
	double elapsed_ms;
	unsigned long inversions;
	unsigned long commands;
	struct nvme_device *devices;
	size_t nr_devices;
};

/* Merge sort of @v[0..n) through @tmp, counting pairs out of order. */
static unsigned long sort_count(uint32_t *v, uint32_t *tmp, size_t n)
{
	size_t mid = n / 2, i = 0, j = mid, k = 0;
	unsigned long inv;

	if (n < 2)
		return 0;
	inv = sort_count(v, tmp, mid) + sort_count(v + mid, tmp, n - mid);
	while (i < mid && j < n) {
		if (v[j] < v[i]) {
			inv += mid - i;
			tmp[k++] = v[j++];
		} else {
			tmp[k++] = v[i++];
		}
	}
	while (i < mid)
		tmp[k++] = v[i++];
	while (j < n)
		tmp[k++] = v[j++];
	memcpy(v, tmp, n * sizeof(*v));
	return inv;
}

/* Pairs allocated in the opposite order of their NSIDs, in O(n log n). */
static unsigned long count_inversions(const uint32_t *order, size_t n)
{
	uint32_t *v = sim_xcalloc(n, sizeof(*v)), *tmp = sim_xcalloc(n, sizeof(*tmp));
	unsigned long inv;

	memcpy(v, order, n * sizeof(*v));
	inv = sort_count(v, tmp, n);
	free(v);
	free(tmp);
	return inv;
}

/* The sorted union of two sorted NSID lists. */
static uint32_t *nsid_union(const uint32_t *a, size_t na, const uint32_t *b, size_t nb,
			    size_t *count)
{
	uint32_t *u = sim_xcalloc(na + nb, sizeof(*u));
	size_t i = 0, j = 0, n = 0;

	while (i < na || j < nb) {
		if (j == nb || (i < na && a[i] < b[j]))
			u[n++] = a[i++];
		else if (i == na || b[j] < a[i])
			u[n++] = b[j++];
		else
			u[n++] = a[i++], j++;
	}
	*count = n;
	return u;
}

/* Detach about a tenth of the namespaces and attach as many new NSIDs. */
static uint32_t *rescan_set(const struct options *o, size_t *count)
{
	size_t k = o->nr_ns / 10 ? o->nr_ns / 10 : 1, n = 0, i, added = 0;
	uint32_t *v = sim_xcalloc(o->nr_ns + k, sizeof(*v));
	bool *removed = sim_xcalloc(o->nr_ns, sizeof(bool));
	uint64_t x = o->p.seed * 0x9e3779b97f4a7c15u + 12345;
	size_t nremove = o->nr_ns > 1 ? k : 0, r = 0;
	uint32_t cand;

	while (r < nremove) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		i = (size_t)(x % o->nr_ns);
		if (!removed[i]) {
			removed[i] = true;
			r++;
		}
	}
	for (i = 0; i < o->nr_ns; i++)
		if (!removed[i])
			v[n++] = o->nsids[i];
	/* New NSIDs: the lowest ones never used, as an admin would create them. */
	for (cand = 1, i = 0; added < k && cand <= MAX_NSID; cand++) {
		while (i < o->nr_ns && o->nsids[i] < cand)
			i++;
		if (i < o->nr_ns && o->nsids[i] == cand)
			continue;
		v[n++] = cand;
		added++;
	}
	qsort(v, n, sizeof(*v), cmp_u32);
	free(removed);
	*count = n;
	return v;
}

struct progress {
	struct nvme_ctrl *ctrl;
	size_t total;
	const char *what;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
};

static void *progress_fn(void *arg)
{
	struct progress *pr = arg;
	struct timespec deadline;
	bool shown = false;
	uint64_t ticks = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	pthread_mutex_lock(&pr->lock);
	while (!pr->stop) {
		deadline.tv_nsec += 250 * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_nsec -= 1000000000L;
			deadline.tv_sec++;
		}
		pthread_cond_timedwait(&pr->cond, &pr->lock, &deadline);
		if (pr->stop || ++ticks < 8) /* only runs over 2 s */
			continue;
		fprintf(stderr, "\r%s: %lu/%zu namespaces, model time %.0f ms   ", pr->what,
			atomic_load(&pr->ctrl->scanned), pr->total, sim_clock_peek() / 1e6);
		shown = true;
	}
	pthread_mutex_unlock(&pr->lock);
	if (shown)
		fputs("\r\033[K", stderr);
	return NULL;
}

static void do_scan(struct nvme_ctrl *ctrl, struct sim_target *target, const struct options *o,
		    struct run *r, const char *scan, size_t max_ns)
{
	struct progress pr = { .ctrl = ctrl, .total = target->nr_ns, .what = mode_names[ctrl->mode],
			       .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	pthread_t tid;
	bool ticker = isatty(STDERR_FILENO) && !o->json;
	char name[48];
	unsigned long commands = target->commands;

	snprintf(name, sizeof(name), "%s scan (%s)", mode_names[ctrl->mode], scan);
	trace_begin_run(name);
	memset(target->tag_free_at, 0, o->p.qdepth * sizeof(*target->tag_free_at));
	if (ticker && pthread_create(&tid, NULL, progress_fn, &pr))
		ticker = false;
	sim_run_begin(o->time_scale);
	nvme_scan_work(ctrl);
	r->elapsed_ms = sim_now() / 1e6;
	sim_run_end();
	if (ticker) {
		pthread_mutex_lock(&pr.lock);
		pr.stop = true;
		pthread_cond_signal(&pr.cond);
		pthread_mutex_unlock(&pr.lock);
		pthread_join(tid, NULL);
	}
	r->mode = ctrl->mode;
	r->scan = scan;
	r->namespaces = target->nr_ns;
	r->commands = target->commands - commands;
	r->inversions = count_inversions(ctrl->alloc_order, ctrl->nr_alloc);
	r->devices = sim_xcalloc(max_ns, sizeof(*r->devices));
	r->nr_devices = nvme_ctrl_devices(ctrl, r->devices, max_ns);
}

/* ---- output ------------------------------------------------------------------- */

static bool show_seed(const struct options *o)
{
	return !o->custom;
}

static void print_devices(const struct run *r)
{
	char node[32], gen[32];
	size_t i;

	printf("%s (--mode %s), %s:\n\n", mode_labels[r->mode], mode_names[r->mode],
	       strcmp(r->scan, "rescan") ? "initial scan" : "rescan");
	printf("%-21s %-21s %s\n", "Node", "Generic", "Namespace");
	printf("--------------------- --------------------- ----------\n");
	for (i = 0; i < r->nr_devices; i++) {
		snprintf(node, sizeof(node), "/dev/nvme0n%u", r->devices[i].instance);
		snprintf(gen, sizeof(gen), "/dev/ng0n%u", r->devices[i].instance);
		printf("%-21s %-21s %u\n", node, gen, r->devices[i].nsid);
	}
	printf("\n");
}

static void print_text(const struct options *o, const struct run *runs, size_t nr)
{
	const struct run *async = NULL, *chain = NULL;
	size_t i;

	for (i = 0; i < nr; i++)
		print_devices(&runs[i]);

	if (show_seed(o))
		printf("%s, %zu namespaces (profile %s)\n\n", o->profile->title, o->nr_ns,
		       o->profile->name);
	else
		printf("Custom scenario: rtt %.3f ms, %zu namespaces, qdepth %u, jitter %g%%\n\n",
		       o->p.rtt_ns / 1e6, o->nr_ns, o->p.qdepth, o->p.jitter_pct);
	for (i = 0; i < nr; i++) {
		const struct run *r = &runs[i];
		char label[96];

		snprintf(label, sizeof(label), "%s%s:", mode_labels[r->mode],
			 strcmp(r->scan, "rescan") ? "" : " (rescan)");
		printf("%-53s %8.0fms", label, r->elapsed_ms);
		if (show_seed(o) && !strcmp(r->scan, "initial"))
			printf("   seed %6.0fms  x%.2f", o->profile->seed_ms[r->mode],
			       r->elapsed_ms / o->profile->seed_ms[r->mode]);
		if (r->inversions)
			printf("   %lu inversions\n", r->inversions);
		else
			printf("   in NSID order\n");
		if (!strcmp(r->scan, "initial")) {
			if (r->mode == MODE_ASYNC)
				async = r;
			if (r->mode == MODE_CHAIN)
				chain = r;
		}
	}
	if (async && chain) {
		printf("\nchain / async: %.2f", chain->elapsed_ms / async->elapsed_ms);
		if (show_seed(o))
			printf("   (seed %.2f)", o->profile->seed_ms[MODE_CHAIN] /
						   o->profile->seed_ms[MODE_ASYNC]);
		printf("\n");
	}
}

static void print_json(const struct options *o, const struct run *runs, size_t nr)
{
	size_t i, j;

	printf("{\"profile\": ");
	if (show_seed(o))
		printf("\"%s\"", o->profile->name);
	else
		printf("null");
	printf(", \"base_profile\": \"%s\", \"time_scale\": %g,\n", o->profile->name,
	       o->time_scale);
	printf(" \"params\": {\"rtt_ms\": %.6f, \"jitter_pct\": %g, \"qdepth\": %u, "
	       "\"seed\": %" PRIu64 ", \"per_nsid_latencies\": %zu},\n",
	       o->p.rtt_ns / 1e6, o->p.jitter_pct, o->p.qdepth, o->p.seed, o->p.n_ns_lat);
	printf(" \"runs\": [\n");
	for (i = 0; i < nr; i++) {
		const struct run *r = &runs[i];

		printf("  {\"mode\": \"%s\", \"scan\": \"%s\", \"namespaces\": %zu, "
		       "\"elapsed_ms\": %.3f, ",
		       mode_names[r->mode], r->scan, r->namespaces, r->elapsed_ms);
		if (show_seed(o) && !strcmp(r->scan, "initial"))
			printf("\"seed_ms\": %.0f, ", o->profile->seed_ms[r->mode]);
		printf("\"ordered\": %s, \"inversions\": %lu, \"commands\": %lu,\n   \"devices\": [",
		       r->inversions ? "false" : "true", r->inversions, r->commands);
		for (j = 0; j < r->nr_devices; j++)
			printf("%s{\"node\": \"nvme0n%u\", \"nsid\": %u}", j ? ", " : "",
			       r->devices[j].instance, r->devices[j].nsid);
		printf("]}%s\n", i + 1 < nr ? "," : "");
	}
	printf(" ]}\n");
}

int main(int argc, char **argv)
{
	struct options o;
	struct run runs[2 * NR_MODES];
	size_t nr = 0, i, max_ns, nr_re = 0, nr_universe;
	uint32_t *re = NULL, *universe;
	int m, ret = 0;

	parse_args(argc, argv, &o);
	trace_enable(o.trace != NULL);
	if (o.rescan)
		re = rescan_set(&o, &nr_re);
	max_ns = o.nr_ns + nr_re;
	universe = nsid_union(o.nsids, o.nr_ns, re, nr_re, &nr_universe);

	for (m = 0; m < NR_MODES; m++) {
		struct sim_target target;
		struct nvme_ctrl ctrl;

		if (!o.mode[m])
			continue;
		sim_target_init(&target, &o.p, o.nsids, o.nr_ns);
		nvme_ctrl_init(&ctrl, &target, &o.p, (enum scan_mode)m, universe, nr_universe);
		do_scan(&ctrl, &target, &o, &runs[nr++], "initial", max_ns);
		if (o.rescan) {
			sim_target_set_namespaces(&target, re, nr_re);
			do_scan(&ctrl, &target, &o, &runs[nr++], "rescan", max_ns);
		}
		nvme_ctrl_destroy(&ctrl);
		sim_target_destroy(&target);
	}

	if (o.json)
		print_json(&o, runs, nr);
	else
		print_text(&o, runs, nr);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "nvme_sim: cannot write output: %s\n", strerror(errno));
		ret = 1;
	}
	if (o.trace) {
		if (trace_write(o.trace) || fclose(o.trace)) {
			fprintf(stderr, "nvme_sim: cannot write trace file '%s'\n", o.trace_path);
			ret = 1;
		}
		trace_free();
	}
	for (i = 0; i < nr; i++)
		free(runs[i].devices);
	free(re);
	free(universe);
	free(o.nsids);
	free(o.p.ns_lat);
	return ret;
}
