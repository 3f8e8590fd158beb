// SPDX-License-Identifier: MIT
/*
 * prefork's command line: options, input and output, the summary.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cchain/cchain.h>

#include "prefork.h"

static void usage(FILE *f)
{
	fputs("Usage: prefork [OPTION]... -o OUTPUT [INPUT]\n"
	      "Process the lines of INPUT (standard input if absent or -) in a pool of\n"
	      "worker processes, and write them to OUTPUT in input order: for each line,\n"
	      "its number, its FNV-1a hash and the line, separated by tabs.  Workers\n"
	      "that die are restarted; no line is lost or written twice.\n"
	      "\n"
	      "  -o, --output=FILE      the output file (created or truncated; required)\n"
	      "  -w, --workers=N        worker processes, 1 to 64 (default: online CPUs)\n"
	      "      --work-us=US       CPU time each line costs, in microseconds (default 0)\n"
	      "      --kill-every=MS    drill: SIGKILL a random worker every MS milliseconds\n"
	      "      --seed=N           seed of the drill's choices (default 1)\n"
	      "  -q, --quiet            no summary on standard error\n"
	      "  -h, --help             show this help and exit\n"
	      "  -V, --version          show the version and exit\n"
	      "\n"
	      "SIGINT, SIGTERM or SIGHUP stops the job: OUTPUT then holds the first lines,\n"
	      "whole, and prefork dies of the signal.\n"
	      "\n"
	      "Exit status: 0 on success, 1 on failure, 2 for bad usage.\n",
	      f);
}

static void bad_usage(const char *fmt, const char *arg)
{
	fputs("prefork: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nTry 'prefork --help' for more information.\n", stderr);
	exit(2);
}

/*
 * A bad option: named as written if long (without any "=value"), else as
 * the one letter getopt stopped at (optopt), which may be inside a cluster.
 */
static void option_error(const char *fmt, const char *arg)
{
	char name[64];

	if (strncmp(arg, "--", 2))
		snprintf(name, sizeof(name), "-%c", optopt);
	else
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg, "="), arg);
	bad_usage(fmt, name);
}

/* A decimal number in [@min, @max], or a bad-usage exit naming --@opt. */
static unsigned long number(const char *s, const char *opt, unsigned long min,
			    unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || *s == '-' || *s == '+' || v < min || v > max) {
		char msg[96];

		snprintf(msg, sizeof(msg), "invalid --%s value '%%s' (%lu to %lu)", opt, min, max);
		bad_usage(msg, s);
	}
	return v;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGINT: return "SIGINT";
	case SIGTERM: return "SIGTERM";
	case SIGHUP: return "SIGHUP";
	default: return "a signal";
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "workers", required_argument, NULL, 'w' },
		{ "work-us", required_argument, NULL, 'u' },
		{ "kill-every", required_argument, NULL, 'k' },
		{ "seed", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct pf_options o = { 0, 0, 1 };
	const char *output = NULL, *input = "-";
	unsigned long work_us = 0;
	struct pf_result res;
	struct pf_region *r;
	struct stat ist, ost;
	bool quiet = false;
	int c, in, out, ret;
	long ncpu;
	double t0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:w:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'w':
			o.workers = (unsigned int)number(optarg, "workers", 1, PF_MAX_WORKERS);
			break;
		case 'u':
			work_us = number(optarg, "work-us", 0, 10000000);
			break;
		case 'k':
			o.kill_every_ms = (unsigned int)number(optarg, "kill-every", 1, 3600000);
			break;
		case 's':
			o.seed = number(optarg, "seed", 0, ULONG_MAX);
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("prefork (libcchain) %s\n", CCHAIN_VERSION_STRING);
			return 0;
		case ':':
			option_error("option '%s' requires an argument", argv[optind - 1]);
			break;
		default:
			if (!strncmp(argv[optind - 1], "--", 2) && optopt)
				option_error("option '%s' doesn't allow an argument",
					     argv[optind - 1]);
			option_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		input = argv[optind++];
	if (optind < argc)
		bad_usage("extra operand '%s'", argv[optind]);
	if (!output)
		bad_usage("%sno output file: give one with -o FILE", "");
	if (!o.workers) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		o.workers = ncpu < 1 ? 1 : ncpu > PF_MAX_WORKERS ? PF_MAX_WORKERS : (unsigned int)ncpu;
	}

	in = strcmp(input, "-") ? open(input, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	if (in < 0 || fstat(in, &ist)) {
		fprintf(stderr, "prefork: %s: %s\n", input, strerror(errno));
		return 1;
	}
	if (!strcmp(input, "-"))
		input = "standard input";
	r = pf_region_load(in, input);
	if (in != STDIN_FILENO)
		close(in);
	if (!r)
		return 1;
	r->work_ns = work_us * 1000u;

	/* Non-blocking: a FIFO must not hang the open; truncated once known regular. */
	out = open(output, O_WRONLY | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0666);
	if (out < 0 && errno != ENXIO) {
		fprintf(stderr, "prefork: %s: %s\n", output, strerror(errno));
		return 1;
	}
	/* The workers write at offsets and cut the file back: a regular file only. */
	if (out < 0 || fstat(out, &ost) || !S_ISREG(ost.st_mode)) {
		fprintf(stderr, "prefork: %s: not a regular file\n", output);
		return 1;
	}
	/* Through any name or link: truncating it would lose the input. */
	if (same_file(&ist, &ost)) {
		fprintf(stderr, "prefork: %s: input and output are the same file\n", input);
		return 1;
	}
	if (ftruncate(out, 0)) {
		fprintf(stderr, "prefork: %s: %s\n", output, strerror(errno));
		return 1;
	}
	if (compl_chain_shared_init(&r->chain)) {
		fprintf(stderr, "prefork: cannot set up the shared chain\n");
		return 1;
	}

	t0 = now_s();
	ret = pf_supervise(r, out, &o, &res);
	t0 = now_s() - t0;
	if (!ret && atomic_load(&r->written) != r->nrec) {
		fprintf(stderr, "prefork: %llu of %llu records written\n",
			(unsigned long long)atomic_load(&r->written), (unsigned long long)r->nrec);
		ret = 1;
	}
	if (close(out)) {
		fprintf(stderr, "prefork: %s: %s\n", output, strerror(errno));
		ret = 1;
	}
	if (res.signal) {
		if (!quiet)
			fprintf(stderr, "prefork: stopped by %s: %llu of %llu records written\n",
				signal_name(res.signal), (unsigned long long)atomic_load(&r->written),
				(unsigned long long)r->nrec);
		/* Its default action, as if it had not been caught. */
		signal(res.signal, SIG_DFL);
		raise(res.signal);
	}
	if (!quiet)
		fprintf(stderr,
			"prefork: %llu records, %u workers, %.3f s (%.0f records/s); "
			"%lu killed, %lu restarted, %llu inherited turns, %llu takers "
			"reported withdrawn, %llu records written for dead takers\n",
			(unsigned long long)r->nrec, o.workers, t0, t0 > 0 ? (double)r->nrec / t0 : 0,
			res.kills, res.restarts,
			(unsigned long long)atomic_load(&r->inherited),
			(unsigned long long)atomic_load(&r->withdrawn),
			(unsigned long long)atomic_load(&r->rewritten));
	compl_chain_shared_destroy(&r->chain);
	pf_region_free(r);
	return ret;
}
