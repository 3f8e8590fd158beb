// SPDX-License-Identifier: MIT
/*
 * nvme_sim's command line: compare the synchronous, fully asynchronous,
 * chained and NSID-named namespace scans on a simulated controller, and
 * show which NSID gets which /dev/nvme0nY.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nvme_sim.h"

#define MAX_NSID 0xfffffffeu
#define MAX_NAMESPACES 100000u

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

static _Noreturn void die_oom(void)
{
	fputs("nvme_sim: out of memory\n", stderr);
	exit(1);
}

/*
 * User input as typed, for an error message: bytes that are not printable
 * ASCII are shown as \xNN, and long input is cut, so that binary garbage
 * never reaches the terminal raw.  Up to four results live at once.
 */
static const char *quote(const char *s)
{
	static char bufs[4][200];
	static unsigned int next;
	char *b = bufs[next++ % 4], *p = b;
	size_t n = 0;

	for (; *s && n < 60; s++, n++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c < 0x7f && c != '\\')
			*p++ = (char)c;
		else
			p += sprintf(p, "\\x%02x", c);
	}
	if (*s)
		p += sprintf(p, "...");
	*p = '\0';
	return b;
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

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Decimal, or hexadecimal with 0x, as nvme-cli takes them. */
static bool parse_nsid_value(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int base = 10;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		base = 16;
		if (!isxdigit((unsigned char)*s))
			return false;
	} else if (!isdigit((unsigned char)*s)) {
		return false;
	}
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static uint32_t parse_nsid(const char *s, const char *what)
{
	uint64_t v;

	if (!parse_nsid_value(s, &v) || v > MAX_NSID)
		die_usage("invalid NSID '%s' in %s (1..%u, decimal or 0x hex)", quote(s), what,
			  MAX_NSID);
	if (v == 0)
		die_usage("NSID 0 is not a valid namespace ID ('%s' in %s)", quote(s), what);
	return (uint32_t)v;
}

/*
 * Split a comma-separated list into its items; an empty item ("1,,2",
 * "1,", ",1") is an error, not skipped.  The items point into a copy.
 */
static char **split_list(const char *arg, const char *what, size_t *count)
{
	char *copy = strdup(arg), *p, **items;
	size_t n = 1, i = 0;

	if (!copy)
		die_oom();
	for (p = copy; *p; p++)
		n += *p == ',';
	items = calloc(n, sizeof(*items));
	if (!items)
		die_oom();
	for (p = copy;; p++) {
		items[i] = p;
		p += strcspn(p, ",");
		if (p == items[i])
			die_usage("empty item in %s '%s'", what, quote(arg));
		i++;
		if (!*p)
			break;
		*p = '\0';
	}
	*count = n;
	return items;
}

/* "1,2,5,100,333", "0x10", or with ranges "1-64,100": sorted, without duplicates. */
static uint32_t *parse_nsid_list(const char *arg, size_t *count)
{
	uint32_t *v = NULL;
	size_t n = 0, cap = 0, i, nr_items;
	char **items = split_list(arg, "--nsids", &nr_items);

	for (i = 0; i < nr_items; i++) {
		char typed[200], *tok = items[i], *dash = strchr(tok + 1, '-');
		uint32_t lo, hi, x;

		snprintf(typed, sizeof(typed), "%s", quote(tok));
		if (dash) {
			*dash = '\0';
			if (!parse_nsid_value(tok, &(uint64_t){ 0 }) ||
			    !parse_nsid_value(dash + 1, &(uint64_t){ 0 }))
				die_usage("invalid NSID range '%s' in --nsids", typed);
			lo = parse_nsid(tok, "--nsids");
			hi = parse_nsid(dash + 1, "--nsids");
			if (hi < lo)
				die_usage("invalid NSID range '%s' in --nsids (end before start)",
					  typed);
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
				if (!v)
					die_oom();
			}
			v[n++] = x;
			if (x == hi)
				break;
		}
	}
	qsort(v, n, sizeof(*v), cmp_u32);
	for (i = 1; i < n; i++)
		if (v[i] == v[i - 1])
			die_usage("duplicate NSID %u in --nsids", v[i]);
	free(items[0]);
	free(items);
	*count = n;
	return v;
}

/* Per-NSID latencies as given, with where each came from, for errors. */
struct lat_entry {
	uint32_t nsid;
	uint64_t rtt;
	size_t order;     /* given as the order-th entry */
	const char *file; /* NULL: --ns-latency */
	unsigned int line;
	char typed[24];
};

struct lat_list {
	struct lat_entry *v;
	size_t n, cap;
};

static void lat_add(struct lat_list *l, uint32_t nsid, uint64_t rtt, const char *typed,
		    const char *file, unsigned int line)
{
	struct lat_entry *e;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v)
			die_oom();
	}
	e = &l->v[l->n++];
	e->nsid = nsid;
	e->order = l->n - 1;
	e->rtt = rtt;
	e->file = file;
	e->line = line;
	snprintf(e->typed, sizeof(e->typed), "%s", quote(typed));
}

static const char *lat_where(const struct lat_entry *e)
{
	static char bufs[2][300];
	static unsigned int next;
	char *b = bufs[next++ % 2];

	if (e->file)
		snprintf(b, sizeof(bufs[0]), "%s:%u", quote(e->file), e->line);
	else
		snprintf(b, sizeof(bufs[0]), "--ns-latency");
	return b;
}

/* "7=500ms,9=2ms" */
static void parse_ns_latency(struct lat_list *l, const char *arg)
{
	size_t i, n;
	char **items = split_list(arg, "--ns-latency", &n);

	for (i = 0; i < n; i++) {
		char *tok = items[i], *eq = strchr(tok, '=');
		uint64_t rtt;
		uint32_t nsid;

		if (!eq)
			die_usage("invalid entry '%s' in --ns-latency (expected NSID=DURATION)",
				  quote(tok));
		*eq = '\0';
		nsid = parse_nsid(tok, "--ns-latency");
		if (!parse_duration(eq + 1, &rtt))
			die_usage("invalid duration '%s' for NSID %s in --ns-latency "
				  "(use a unit: ns, us, ms, s)", quote(eq + 1), quote(tok));
		lat_add(l, nsid, rtt, tok, NULL, 0);
	}
	free(items[0]);
	free(items);
}

/* CSV "nsid,latency" per line; an optional header line; '#' comments. */
static void read_latency_file(struct lat_list *l, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	unsigned int lineno = 0;

	if (!f)
		die_usage("cannot read latency file '%s': %s", quote(path), strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *s = line, *comma, *lat, *e;
		uint64_t rtt;
		uint32_t nsid;

		lineno++;
		if (!memchr(line, '\n', sizeof(line) - 1) && strlen(line) == sizeof(line) - 1)
			die_usage("%s:%u: line too long", quote(path), lineno);
		s[strcspn(s, "\r\n")] = '\0';
		while (isspace((unsigned char)*s))
			s++;
		if (!*s || *s == '#')
			continue;
		comma = strchr(s, ',');
		if (!comma)
			die_usage("%s:%u: expected 'nsid,latency', got '%s'", quote(path), lineno,
				  quote(s));
		*comma = '\0';
		lat = comma + 1;
		while (isspace((unsigned char)*lat))
			lat++;
		for (e = lat + strlen(lat); e > lat && isspace((unsigned char)e[-1]);)
			*--e = '\0';
		for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]);)
			*--e = '\0';
		if (lineno == 1 && isalpha((unsigned char)*s))
			continue; /* header */
		{
			char what[300];

			snprintf(what, sizeof(what), "%s:%u", quote(path), lineno);
			nsid = parse_nsid(s, what);
		}
		if (!parse_duration(lat, &rtt))
			die_usage("%s:%u: invalid duration '%s' (use a unit: ns, us, ms, s)",
				  quote(path), lineno, quote(lat));
		lat_add(l, nsid, rtt, s, path, lineno);
	}
	if (ferror(f))
		die_usage("cannot read latency file '%s': %s", quote(path), strerror(errno));
	fclose(f);
}

static int cmp_lat(const void *a, const void *b)
{
	const struct lat_entry *x = a, *y = b;

	if (x->nsid != y->nsid)
		return (x->nsid > y->nsid) - (x->nsid < y->nsid);
	/* The first given first, for the message. */
	return (x->order > y->order) - (x->order < y->order);
}

static bool nsid_in(const uint32_t *v, size_t n, uint32_t nsid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (v[mid] == nsid)
			return true;
		if (v[mid] < nsid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/*
 * Per-NSID latencies into the model's sorted table.  A duplicate is an
 * error, as in --nsids, and so is an NSID that no scan will see.
 */
static void finish_latencies(struct sim_params *p, struct lat_list *l, const uint32_t *scanned,
			     size_t nr_scanned)
{
	size_t i;

	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), cmp_lat);
	for (i = 0; i < l->n; i++) {
		if (i && l->v[i].nsid == l->v[i - 1].nsid)
			die_usage("duplicate NSID '%s' in %s (already given as '%s' in %s)",
				  l->v[i].typed, lat_where(&l->v[i]), l->v[i - 1].typed,
				  lat_where(&l->v[i - 1]));
		if (!nsid_in(scanned, nr_scanned, l->v[i].nsid))
			die_usage("latency for NSID '%s' in %s, which is not scanned "
				  "(see --namespaces, --nsids)", l->v[i].typed, lat_where(&l->v[i]));
	}
	p->ns_lat = sim_xcalloc(l->n, sizeof(*p->ns_lat));
	for (i = 0; i < l->n; i++) {
		p->ns_lat[i].nsid = l->v[i].nsid;
		p->ns_lat[i].rtt_ns = l->v[i].rtt;
	}
	p->n_ns_lat = l->n;
	free(l->v);
}

static void usage(FILE *f)
{
	fputs("usage: nvme_sim [-h] [--version] [--profile P] [--mode M]... [--namespaces N]\n"
	      "                [--nsids LIST] [--rtt T] [--jitter PCT] [--ns-latency LIST]\n"
	      "                [--latency-file F] [--qdepth Q] [--ns-cpu T] [--cpus C]\n"
	      "                [--cmd-cpu T] [--head-walk T] [--wake T] [--svc T]\n"
	      "                [--part-scan T] [--net-cpu T]\n"
	      "                [--time-scale X]\n"
	      "                [--rescan] [--seed S] [--format text|json] [-v|--list]\n"
	      "                [--output FILE] [--trace FILE]\n"
	      "\n"
	      "Simulates the NVMe host's namespace scan (synchronous, fully async,\n"
	      "async with a completion chain, and fully async with nodes named by\n"
	      "NSID) against a controller with the given latencies, and shows which\n"
	      "NSID became which /dev/nvme0nY.  Times are model time: they depend only\n"
	      "on the command line, not on the host.  The report gives each scan's time\n"
	      "and naming first, then the nodes out of NSID order: the fewest without\n"
	      "which every other node's number increases with its NSID.\n"
	      "\n"
	      "  -h, --help         this help\n"
	      "      --version      the program's and libcchain's version\n"
	      "  --profile P        tcp-0.2ms (default), tcp-150ms: the patch's testbed;\n"
	      "                     rfc-0.2ms, rfc-100ms: the RFC posting's testbed;\n"
	      "                     uml-loopback: Linux 6.12 in User Mode Linux, one CPU\n"
	      "                     (kernel/bench/run)\n"
	      "  --mode M           sync, async, chain, nsid, or all (default); may be\n"
	      "                     repeated: --mode sync --mode chain\n"
	      "  --namespaces N     namespaces 1..N (default: the profile's 100; at most\n"
	      "                     100000)\n"
	      "  --nsids LIST       sparse NSIDs instead, e.g. 1,2,5,100,333, 1-64,100, 0x10\n"
	      "  --rtt T            round trip of one admin command, e.g. 150ms, 200us\n"
	      "  --jitter PCT       +- uniform jitter per command, in percent (default 5)\n"
	      "  --ns-latency LIST  per-NSID round trips, e.g. 7=500ms,9=2ms\n"
	      "  --latency-file F   per-NSID round trips from CSV lines 'nsid,latency'\n"
	      "                     (each NSID once, and only NSIDs that are scanned)\n"
	      "  --qdepth Q         admin commands in flight at most (default: the\n"
	      "                     profile's, 13 on the published testbeds; uml-loopback:\n"
	      "                     tasks with a command in flight, 14, then 28)\n"
	      "  --ns-cpu T         host CPU per new namespace (default 3.05ms: allocation,\n"
	      "                     head set-up, disk registration, split as in the\n"
	      "                     profile)\n"
	      "  --cmd-cpu T        host CPU per admin command (with --cpus; default: the\n"
	      "                     profile's)\n"
	      "  --head-walk T      host CPU per namespace head already in the subsystem,\n"
	      "                     added to each new head's set-up (the list walks;\n"
	      "                     default: the profile's)\n"
	      "  --svc T            time a command spends beyond the round trip (the\n"
	      "                     controller's work; default: the profile's)\n"
	      "  --wake T           host CPU for a chained task to sleep for its turn and\n"
	      "                     be woken (with --cpus; default: the profile's)\n"
	      "  --part-scan T      host CPU of the partition scan that each new\n"
	      "                     namespace's disk queues (with one read round trip;\n"
	      "                     the scan does not wait for it; 0s: none; default:\n"
	      "                     the profile's)\n"
	      "  --net-cpu T        host CPU per command and per partition read where\n"
	      "                     the link delays packets (netem's timers; with\n"
	      "                     --cpus; 0s: no delaying qdisc; default: the\n"
	      "                     profile's)\n"
	      "  --cpus C           host CPUs the scan's CPU work shares, first come\n"
	      "                     first served (default: the profile's; 0: as many\n"
	      "                     as there is work, as on the published testbeds)\n"
	      "  --time-scale X     pace the run: X s of real time per s of model time\n"
	      "                     (0.001..1000; default 0, unpaced); figures are\n"
	      "                     model time and do not depend on it\n"
	      "  --rescan           scan, detach some namespaces, attach new ones, scan again\n"
	      "  --seed S           seed of the jitter and of the rescan's changes (default 1)\n"
	      "  --format F         text (default) or json\n"
	      "  -v, --list         text: every node of every scan, not only those out\n"
	      "                     of NSID order (--verbose is the same; JSON always\n"
	      "                     lists every node)\n"
	      "  --output FILE      write the report to FILE instead of stdout\n"
	      "  --trace FILE       write a Chrome trace (Perfetto, chrome://tracing)\n"
	      "Durations need a unit: ns, us, ms or s.  Files are written whole or not at\n"
	      "all (an interrupted run leaves no truncated file).\n",
	      f);
}

static void parse_args(int argc, char **argv, struct options *o, struct lat_list *lat_out)
{
	enum { O_PROFILE = 256, O_MODE, O_NAMESPACES, O_NSIDS, O_RTT, O_JITTER,
	       O_NS_LAT, O_LAT_FILE, O_QDEPTH, O_SCALE, O_RESCAN, O_SEED, O_FORMAT,
	       O_TRACE, O_OUTPUT, O_VERSION, O_NS_CPU, O_LIST, O_CPUS, O_CMD_CPU, O_HEAD_WALK, O_WAKE, O_SVC,
	       O_PART_SCAN, O_NET_CPU };
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
		{ "ns-cpu", required_argument, NULL, O_NS_CPU },
		{ "cpus", required_argument, NULL, O_CPUS },
		{ "cmd-cpu", required_argument, NULL, O_CMD_CPU },
		{ "head-walk", required_argument, NULL, O_HEAD_WALK },
		{ "wake", required_argument, NULL, O_WAKE },
		{ "svc", required_argument, NULL, O_SVC },
		{ "part-scan", required_argument, NULL, O_PART_SCAN },
		{ "net-cpu", required_argument, NULL, O_NET_CPU },
		{ "time-scale", required_argument, NULL, O_SCALE },
		{ "rescan", no_argument, NULL, O_RESCAN },
		{ "seed", required_argument, NULL, O_SEED },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "trace", required_argument, NULL, O_TRACE },
		{ "output", required_argument, NULL, O_OUTPUT },
		{ "list", no_argument, NULL, O_LIST },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct sim_params given = { 0 };
	bool have_rtt = false, have_jitter = false, have_qdepth = false, have_seed = false;
	bool have_cpu = false, have_cpus = false;
	uint64_t ns_cpu = 0;
	/* --cmd-cpu ... --net-cpu: indexed by option - O_CMD_CPU. */
	uint64_t cost[6] = { 0 };
	bool have_cost[6] = { false };
	uint64_t v, namespaces = 0;
	struct lat_list lat = { 0 };
	size_t i;
	int c, li = 0;

	memset(o, 0, sizeof(*o));
	o->profile = profile_find("tcp-0.2ms");
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", opts, &li)) != -1) {
		switch (c) {
		case O_PROFILE:
			o->profile = profile_find(optarg);
			if (!o->profile)
				die_usage("unknown profile '%s' (tcp-0.2ms, tcp-150ms, rfc-0.2ms, "
					  "rfc-100ms or uml-loopback)", quote(optarg));
			break;
		case O_MODE:
			for (i = 0; i < NR_MODES && strcmp(optarg, mode_names[i]); i++)
				;
			if (i < NR_MODES)
				o->mode[i] = true;
			else if (!strcmp(optarg, "all"))
				for (i = 0; i < NR_MODES; i++)
					o->mode[i] = true;
			else
				die_usage("unknown mode '%s' (sync, async, chain, nsid or all)",
					  quote(optarg));
			break;
		case O_NAMESPACES:
			if (!parse_u64(optarg, 1, MAX_NAMESPACES, &namespaces))
				die_usage("invalid --namespaces '%s' (1..%u)", quote(optarg),
					  MAX_NAMESPACES);
			o->custom = true;
			break;
		case O_NSIDS:
			free(o->nsids);
			if (!*optarg)
				die_usage("empty NSID list for --nsids");
			o->nsids = parse_nsid_list(optarg, &o->nr_ns);
			o->custom = true;
			break;
		case O_RTT:
			if (!parse_duration(optarg, &given.rtt_ns))
				die_usage("invalid duration '%s' for --rtt (use a unit: ns, us, ms, s)",
					  quote(optarg));
			have_rtt = true;
			o->custom = true;
			break;
		case O_JITTER:
			if (!parse_double(optarg, 0, 100, &given.jitter_pct))
				die_usage("invalid --jitter '%s' (a percentage, 0..100)", quote(optarg));
			have_jitter = true;
			o->custom = true;
			break;
		case O_NS_LAT:
			if (!*optarg)
				die_usage("empty list for --ns-latency (expected NSID=DURATION,...)");
			parse_ns_latency(&lat, optarg);
			o->custom = true;
			break;
		case O_LAT_FILE:
			read_latency_file(&lat, optarg);
			o->custom = true;
			break;
		case O_QDEPTH:
			if (!parse_u64(optarg, 1, 65535, &v))
				die_usage("invalid --qdepth '%s' (1..65535)", quote(optarg));
			given.qdepth = (unsigned int)v;
			have_qdepth = true;
			o->custom = true;
			break;
		case O_CPUS:
			if (!parse_u64(optarg, 0, 1024, &v))
				die_usage("invalid --cpus '%s' (0..1024)", quote(optarg));
			given.cpus = (unsigned int)v;
			have_cpus = true;
			o->custom = true;
			break;
		case O_CMD_CPU:
		case O_HEAD_WALK:
		case O_WAKE:
		case O_SVC:
		case O_PART_SCAN:
		case O_NET_CPU:
			if (!parse_duration(optarg, &cost[c - O_CMD_CPU]) ||
			    cost[c - O_CMD_CPU] > 10 * NS_PER_MS * 1000)
				die_usage("invalid duration '%s' for --%s (use a unit: ns, us, "
					  "ms, s; at most 10s)", quote(optarg),
					  opts[li].name);
			have_cost[c - O_CMD_CPU] = true;
			o->custom = true;
			break;
		case O_NS_CPU:
			if (!parse_duration(optarg, &ns_cpu) || ns_cpu > 10 * NS_PER_MS * 1000)
				die_usage("invalid duration '%s' for --ns-cpu (use a unit: ns, us, "
					  "ms, s; at most 10s)", quote(optarg));
			have_cpu = true;
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
					  "0.001..1000)", quote(optarg));
			if (o->time_scale > 0 && o->time_scale < 0.001)
				die_usage("--time-scale '%s' cannot be honoured: pacing below "
					  "0.001 is finer than the host's timers (use 0 for "
					  "unpaced runs)", quote(optarg));
			break;
		case O_RESCAN:
			o->rescan = true;
			break;
		case O_SEED:
			if (!parse_u64(optarg, 0, UINT64_MAX, &given.seed))
				die_usage("invalid --seed '%s' (a non-negative integer)", quote(optarg));
			have_seed = true;
			break;
		case O_FORMAT:
			if (!strcmp(optarg, "json"))
				o->json = true;
			else if (strcmp(optarg, "text"))
				die_usage("unknown format '%s' (text or json)", quote(optarg));
			break;
		case O_TRACE:
			o->trace_path = optarg;
			break;
		case O_OUTPUT:
			o->output_path = optarg;
			break;
		case O_LIST:
		case 'v':
			o->list = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case O_VERSION:
			printf("nvme_sim (libcchain) %s\n", CCHAIN_VERSION_STRING);
			exit(0);
		case ':':
			die_usage("option '%s' needs a value", quote(argv[optind - 1]));
		default:
			die_usage("unknown option '%s' (see --help)", quote(argv[optind - 1]));
		}
	}
	if (optind < argc)
		die_usage("unexpected argument '%s' (see --help)", quote(argv[optind]));
	if (namespaces && o->nsids)
		die_usage("--namespaces and --nsids exclude each other");
	for (i = 0; i < NR_MODES && !o->mode[i]; i++)
		;
	if (i == NR_MODES)
		for (i = 0; i < NR_MODES; i++)
			o->mode[i] = true;
	o->profile->params(&o->p);
	if (have_rtt)
		o->p.rtt_ns = given.rtt_ns;
	if (have_jitter)
		o->p.jitter_pct = given.jitter_pct;
	if (have_qdepth)
		o->p.qdepth = given.qdepth;
	if (have_seed)
		o->p.seed = given.seed;
	if (have_cpus)
		o->p.cpus = given.cpus;
	{
		uint64_t *field[6] = { &o->p.cmd_cpu_ns, &o->p.head_walk_ns, &o->p.wake_ns,
				       &o->p.svc_ns, &o->p.part_scan_ns, &o->p.net_cpu_ns };

		for (i = 0; i < 6; i++)
			if (have_cost[i])
				*field[i] = cost[i];
	}
	if (have_cpu) {
		/* The profile's split between allocation, head and disk, scaled. */
		double k = (double)ns_cpu / (double)sim_ns_cpu(&o->p);

		o->p.alloc_ns = (uint64_t)llround((double)o->p.alloc_ns * k);
		o->p.head_ns = (uint64_t)llround((double)o->p.head_ns * k);
		o->p.disk_ns = ns_cpu - o->p.alloc_ns - o->p.head_ns;
	}
	if (!o->nsids) {
		o->nr_ns = namespaces ? namespaces : o->profile->namespaces;
		o->nsids = sim_xcalloc(o->nr_ns, sizeof(*o->nsids));
		for (i = 0; i < o->nr_ns; i++)
			o->nsids[i] = (uint32_t)(i + 1);
	}
	*lat_out = lat;
	if (o->trace_path && !path_writable(o->trace_path))
		die_usage("cannot write trace file '%s': %s", quote(o->trace_path),
			  strerror(errno));
	if (o->output_path && !path_writable(o->output_path))
		die_usage("cannot write output file '%s': %s", quote(o->output_path),
			  strerror(errno));
}

/* ---- runs -------------------------------------------------------------------- */

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

/* @a without @b, both sorted. */
static uint32_t *nsid_minus(const uint32_t *a, size_t na, const uint32_t *b, size_t nb,
			    size_t *count)
{
	uint32_t *d = sim_xcalloc(na, sizeof(*d));
	size_t i, j = 0, n = 0;

	for (i = 0; i < na; i++) {
		while (j < nb && b[j] < a[i])
			j++;
		if (j == nb || b[j] != a[i])
			d[n++] = a[i];
	}
	*count = n;
	return d;
}

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
		if (pr->stop || ++ticks < 4) /* only runs over a second */
			continue;
		fprintf(stderr, "\r%s scan: %lu/%zu namespaces, model time %.0f ms   ", pr->what,
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
	bool ticker = isatty(STDERR_FILENO);
	char name[48];
	unsigned long commands = target->commands;
	size_t i;

	snprintf(name, sizeof(name), "%s scan (%s)", mode_names[ctrl->mode], scan);
	trace_begin_run(name);
	sim_target_begin_scan(target, !strcmp(scan, "initial"));
	if (ticker && pthread_create(&tid, NULL, progress_fn, &pr))
		ticker = false;
	sim_run_begin(o->time_scale);
	nvme_scan_work(ctrl);
	r->elapsed_ms = sim_now() / 1e6;
	sim_works_wait(); /* the partition scans the scan left running */
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
	r->allocations_in_order = !r->inversions;
	r->devices = sim_xcalloc(max_ns, sizeof(*r->devices));
	r->nr_devices = nvme_ctrl_devices(ctrl, r->devices, max_ns);
	r->out_of_order = sim_xcalloc(r->nr_devices, sizeof(*r->out_of_order));
	r->nr_out_of_order = mark_out_of_order(r->devices, r->nr_devices, r->out_of_order);
	r->ordered = !r->nr_out_of_order;
	r->contiguous = true;
	for (i = 0; i < r->nr_devices; i++)
		if (r->devices[i].instance != i + 1)
			r->contiguous = false;
}

struct report {
	const struct options *o;
	const struct run *runs;
	size_t nr;
	const struct rescan_change *change;
};

static int fill_report(FILE *f, void *arg)
{
	const struct report *rep = arg;

	print_report(f, rep->o, rep->runs, rep->nr, rep->change);
	return ferror(f) ? -1 : 0;
}

static int fill_trace(FILE *f, void *arg)
{
	(void)arg;
	return trace_write(f);
}

int main(int argc, char **argv)
{
	struct options o;
	struct lat_list lat;
	struct run runs[2 * NR_MODES];
	struct rescan_change change = { 0 };
	struct report rep;
	size_t nr = 0, i, max_ns, nr_re = 0, nr_universe;
	uint32_t *re = NULL, *universe;
	int m, ret = 0;

	parse_args(argc, argv, &o, &lat);
	if (o.rescan)
		re = rescan_set(&o, &nr_re);
	max_ns = o.nr_ns + nr_re;
	universe = nsid_union(o.nsids, o.nr_ns, re, nr_re, &nr_universe);
	finish_latencies(&o.p, &lat, universe, nr_universe);
	trace_enable(o.trace_path != NULL);

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

	if (o.rescan) {
		change.detached = nsid_minus(o.nsids, o.nr_ns, re, nr_re, &change.nr_detached);
		change.attached = nsid_minus(re, nr_re, o.nsids, o.nr_ns, &change.nr_attached);
	}
	rep = (struct report){ &o, runs, nr, o.rescan ? &change : NULL };
	if (o.output_path) {
		if (write_file_atomic(o.output_path, fill_report, &rep)) {
			fprintf(stderr, "nvme_sim: cannot write output file '%s': %s\n",
				quote(o.output_path), strerror(errno));
			ret = 1;
		}
	} else {
		sigset_t set, old;

		/* The report leaves whole: an interrupt waits until it is out. */
		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGHUP);
		pthread_sigmask(SIG_BLOCK, &set, &old);
		print_report(stdout, &o, runs, nr, rep.change);
		if (fflush(stdout) || ferror(stdout)) {
			fprintf(stderr, "nvme_sim: cannot write output: %s\n", strerror(errno));
			ret = 1;
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (o.trace_path) {
		if (write_file_atomic(o.trace_path, fill_trace, NULL)) {
			fprintf(stderr, "nvme_sim: cannot write trace file '%s': %s\n",
				quote(o.trace_path), strerror(errno));
			ret = 1;
		}
		trace_free();
	}
	for (i = 0; i < nr; i++) {
		free(runs[i].devices);
		free(runs[i].out_of_order);
	}
	free(change.detached);
	free(change.attached);
	free(re);
	free(universe);
	free(o.nsids);
	free(o.p.ns_lat);
	return ret;
}
