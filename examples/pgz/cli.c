// SPDX-License-Identifier: MIT
/*
 * pgz's command line: gzip's options and exit statuses, pigz's -p and -b,
 * pigz's levels, and -o.  Invoked as "unpgz" it decompresses.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cchain/version.h>

#include "pgz.h"

struct pgz_options opt;
const char *progname = "pgz";
int exit_status = PGZ_OK;

static void vmessage(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", progname);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void pgz_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	exit_status = PGZ_ERROR;
}

void pgz_warn(const char *fmt, ...)
{
	va_list ap;

	if (opt.verbose >= 0) {
		va_start(ap, fmt);
		vmessage(fmt, ap);
		va_end(ap);
	}
	if (exit_status == PGZ_OK)
		exit_status = PGZ_WARNING;
}

void pgz_data_error(const char *name, const char *what)
{
	fprintf(stderr, "\n%s: %s: %s\n", progname, name, what);
	exit_status = PGZ_ERROR;
}

void pgz_print_ratio(FILE *f, int64_t num, uint64_t den)
{
	/* Printed as a double: gzip shows a tiny loss as -0.0%. */
	fprintf(f, "%5.1f%%", den ? 100.0 * (double)num / (double)den : 0.0);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		pgz_error("out of memory");
		exit(PGZ_ERROR);
	}
	return p;
}

bool write_all(int fd, const void *buf, size_t n)
{
	const unsigned char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static void usage(void)
{
	printf("Usage: %s [OPTION]... [FILE]...\n"
	       "Compress or uncompress FILEs (by default, compress FILES in-place),\n"
	       "deflating blocks in parallel and writing them in order.\n"
	       "\n"
	       "  -c, --stdout       write on standard output, keep original files unchanged\n"
	       "  -d, --decompress   decompress\n"
	       "  -f, --force        force overwrite of output file and compress links\n"
	       "  -h, --help         give this help\n"
	       "  -k, --keep         keep (don't delete) input files\n"
	       "  -l, --list         list compressed file contents\n"
	       "  -n, --no-name      do not save or restore the original name and timestamp\n"
	       "  -N, --name         save or restore the original name and timestamp\n"
	       "  -q, --quiet        suppress all warnings\n"
	       "  -r, --recursive    operate recursively on directories\n"
	       "  -S, --suffix=SUF   use suffix SUF on compressed files\n"
	       "  -t, --test         test compressed file integrity\n"
	       "  -v, --verbose      verbose mode\n"
	       "  -V, --version      display version number\n"
	       "  -0 .. -9           compression level, -0 stores (default 6); digits together\n"
	       "                     are one number, as in pigz: -10 is 10, which is refused\n"
	       "      --fast         compress faster (-1)\n"
	       "      --best         compress better (-9)\n"
	       "  -p, --processes=N  compression threads (default: online CPUs)\n"
	       "  -b, --blocksize=K  block size in KiB, 32..262144 (default 128)\n"
	       "  -o, --output=OUT   write to OUT (one FILE; '-' is standard output)\n"
	       "\n"
	       "With no FILE, or when FILE is -, read standard input.\n",
	       progname);
}

static void try_help(void)
{
	fprintf(stderr, "Try `%s --help' for more information.\n", progname);
	exit(PGZ_ERROR);
}

static unsigned long parse_num(const char *s, const char *what, unsigned long min,
			       unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		pgz_error("invalid %s '%s' (%lu..%lu)", what, s, min, max);
		try_help();
	}
	return v;
}

static const char optstring[] = ":cdfhklnNqrS:tvV0123456789p:b:o:";

/*
 * Where the short option getopt_long() last returned is: argv[at_arg][at_pos].
 * getopt_long() keeps its place in a cluster ("-c9k") to itself; follow()
 * tracks it.  A cluster ends at its last letter or at a letter that takes
 * an argument; the next one is the first option at or after the optind of
 * before the call (glibc passes over the operands, permuting them later).
 */
static int at_arg, at_pos;
static bool in_cluster;

static void follow(int argc, char **argv, int before, bool long_option, int c)
{
	const char *o = strchr(optstring, c);

	if (long_option) {
		in_cluster = false;
		return;
	}
	if (in_cluster) {
		at_pos++;
	} else {
		for (at_arg = before; at_arg < argc; at_arg++)
			if (argv[at_arg][0] == '-' && argv[at_arg][1])
				break;
		at_pos = 1;
	}
	in_cluster = at_arg < argc && argv[at_arg][at_pos + 1] && !(o && o[1] == ':');
}

/*
 * The level that the digit at argv[at_arg][at_pos] starts, or -1 if it
 * continues a run of digits.  A run of digits is one level, as in pigz
 * ("-10" is 10, not -1 then -0); pgz has 0..9 (pigz's 11 is zopfli), and
 * refuses the others with one line.
 */
static int level_here(char **argv)
{
	const char *arg = argv[at_arg], *run = arg + at_pos;
	size_t n = strspn(run, "0123456789"), i;
	unsigned long level = 0;

	if (at_pos > 1 && arg[at_pos - 1] >= '0' && arg[at_pos - 1] <= '9')
		return -1;
	for (i = 0; i < n; i++)
		if (level < 100) /* beyond, only that it is too big matters */
			level = level * 10 + (unsigned long)(run[i] - '0');
	if (level <= 9)
		return (int)level;
	if (level == 11)
		pgz_error("invalid compression level '%.*s' (0..9; pigz's 11, zopfli, is not "
			  "supported)", (int)n, run);
	else
		pgz_error("invalid compression level '%.*s' (0..9)", (int)n, run);
	exit(PGZ_ERROR);
}

static const struct option longopts[] = {
	{ "stdout", no_argument, NULL, 'c' },
	{ "to-stdout", no_argument, NULL, 'c' },
	{ "decompress", no_argument, NULL, 'd' },
	{ "uncompress", no_argument, NULL, 'd' },
	{ "force", no_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ "keep", no_argument, NULL, 'k' },
	{ "list", no_argument, NULL, 'l' },
	{ "no-name", no_argument, NULL, 'n' },
	{ "name", no_argument, NULL, 'N' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "silent", no_argument, NULL, 'q' },
	{ "recursive", no_argument, NULL, 'r' },
	{ "suffix", required_argument, NULL, 'S' },
	{ "test", no_argument, NULL, 't' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "fast", no_argument, NULL, '1' },
	{ "best", no_argument, NULL, '9' },
	{ "processes", required_argument, NULL, 'p' },
	{ "blocksize", required_argument, NULL, 'b' },
	{ "output", required_argument, NULL, 'o' },
	{ NULL, 0, NULL, 0 }
};

int main(int argc, char **argv)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	const char *base = strrchr(argv[0], '/');
	int c, i, before, longindex;

	base = base ? base + 1 : argv[0];
	if (!strcmp(base, "unpgz")) {
		progname = "unpgz";
		opt.decompress = true;
	}
	opt.level = 6;
	opt.block = 128 * 1024;
	opt.threads = ncpu > 0 ? (unsigned int)ncpu : 1;
	opt.save_name = true;
	opt.suffix = ".gz";
	opterr = 0;
	for (;;) {
		before = optind;
		longindex = -1;
		c = getopt_long(argc, argv, optstring, longopts, &longindex);
		if (c == -1)
			break;
		follow(argc, argv, before, longindex >= 0, c);
		switch (c) {
		case 'c': opt.to_stdout = true; break;
		case 'd': opt.decompress = true; break;
		case 'f': opt.force = true; break;
		case 'h': usage(); return PGZ_OK;
		case 'k': opt.keep = true; break;
		case 'l': opt.list = true; break;
		case 'n': opt.save_name = opt.restore_name = false; break;
		case 'N': opt.save_name = opt.restore_name = true; break;
		case 'q': opt.verbose = -1; break;
		case 'r': opt.recursive = true; break;
		case 'S':
			if (!*optarg || strchr(optarg, '/')) {
				pgz_error("invalid suffix '%s'", optarg);
				exit(PGZ_ERROR);
			}
			opt.suffix = optarg;
			break;
		case 't': opt.test = true; break;
		case 'v': opt.verbose = opt.verbose < 0 ? 1 : opt.verbose + 1; break;
		case 'V':
			printf("%s %s (libcchain)\n", progname, CCHAIN_VERSION_STRING);
			return PGZ_OK;
		case '0': case '1': case '2': case '3': case '4':
		case '5': case '6': case '7': case '8': case '9':
			i = longindex >= 0 ? c - '0' : level_here(argv); /* --fast, --best */
			if (i >= 0)
				opt.level = i;
			break;
		case 'p': opt.threads = (unsigned int)parse_num(optarg, "thread count", 1, 1024); break;
		case 'b': opt.block = parse_num(optarg, "block size", 32, 262144) * 1024; break;
		case 'o': opt.out_path = optarg; break;
		case ':':
			if (optopt)
				pgz_error("option requires an argument -- '%c'", optopt);
			else
				pgz_error("option '%s' requires an argument", argv[optind - 1]);
			try_help();
			break;
		default:
			if (optopt)
				pgz_error("invalid option -- '%c'", optopt);
			else
				pgz_error("unrecognized option '%s'", argv[optind - 1]);
			try_help();
		}
	}
	if (opt.list || opt.test)
		opt.decompress = true;
	if (opt.out_path) {
		if (opt.to_stdout || opt.list || opt.test) {
			pgz_error("-o excludes -c, -l and -t");
			try_help();
		}
		if (argc - optind > 1 || opt.recursive) {
			pgz_error("-o takes one input file, not several or -r ('%s' is extra)",
				  argc - optind > 1 ? argv[optind + 1] : "-r");
			try_help();
		}
		if (!strcmp(opt.out_path, "-")) {
			opt.out_path = NULL;
			opt.to_stdout = true;
		}
	}
	pgz_install_signals();
	if (optind == argc)
		pgz_stdin();
	for (i = optind; i < argc; i++) {
		if (!strcmp(argv[i], "-"))
			pgz_stdin();
		else
			pgz_operand(argv[i]);
	}
	if (opt.list)
		pgz_list_totals();
	if (fflush(stdout) || (opt.list && ferror(stdout))) {
		pgz_error("stdout: %s", strerror(errno));
	}
	return exit_status;
}
