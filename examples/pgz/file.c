// SPDX-License-Identifier: MIT
/*
 * One operand, with the rules that keep a user's data:
 *
 * - Input and output that are the same file (device and inode, through any
 *   links) are refused before anything is written.
 * - A symlinked input is refused unless -f or -c, an input with other hard
 *   links unless -f or -c, a non-regular input unless it is only read (-c,
 *   -t, -l), as gzip does.
 * - A regular output file is written under a temporary name in the same
 *   directory (".pgz-XXXXXX", never the final name), given the input's
 *   mode, owner and times, synced, and renamed into place only when
 *   complete; without -f the rename does not replace a file that appeared
 *   meanwhile.  On an error, SIGINT, SIGTERM or SIGHUP the temporary file
 *   is removed; SIGKILL can leave only the temporary file.
 * - A character device, FIFO or socket as the output (also the process's
 *   own standard output, e.g. /dev/stdout) is written directly, never
 *   replaced.
 * - The input is removed only after its output was renamed into place.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pgz.h"

static char tmp_path[PATH_MAX];
static volatile sig_atomic_t have_tmp;

static void on_fatal_signal(int sig)
{
	if (have_tmp)
		unlink(tmp_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

void pgz_install_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa, old;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sigfillset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		/* A signal the caller ignores (nohup) stays ignored. */
		if (!sigaction(sigs[i], NULL, &old) && old.sa_handler == SIG_IGN)
			continue;
		sigaction(sigs[i], &sa, NULL);
	}
	/* A file size limit must fail the write, not kill us mid-file. */
	signal(SIGXFSZ, SIG_IGN);
}

struct out {
	const char *path;	/* final name; NULL: standard output */
	int fd;
	bool tmp;		/* fd is tmp_path, to be renamed to path */
	bool own_fd;		/* close fd when done */
};

/* gzip says this even with -q. */
static void already_exists(const char *path)
{
	fprintf(stderr, "%s: %s already exists;\tnot overwritten\n", progname, path);
	if (exit_status == PGZ_OK)
		exit_status = PGZ_WARNING;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static int connect_socket(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Standard output as the output; refused if it is the input itself. */
static int open_stdout(const struct stat *ist, const char *in_name, struct out *o)
{
	struct stat ost;

	if (ist && !fstat(STDOUT_FILENO, &ost) && S_ISREG(ost.st_mode) && same_file(ist, &ost)) {
		pgz_error("%s: input and output are the same file", in_name);
		return PGZ_ERROR;
	}
	o->path = NULL;
	o->fd = STDOUT_FILENO;
	o->tmp = o->own_fd = false;
	return PGZ_OK;
}

/*
 * Open @path for writing under the rules above.  @ist is the input (NULL
 * if none can clash).  Return: PGZ_OK, or the status after the message.
 */
static int open_output(const char *path, const struct stat *ist, const char *in_name,
		       struct out *o)
{
	struct stat ost, so;
	const char *slash;
	int dirlen;

	o->path = path;
	o->tmp = false;
	o->own_fd = true;
	if (!stat(path, &ost)) {
		if (ist && same_file(ist, &ost)) {
			pgz_error("%s: input and output are the same file", in_name);
			return PGZ_ERROR;
		}
		if (!fstat(STDOUT_FILENO, &so) && same_file(&so, &ost)) {
			/* /dev/stdout, /proc/self/fd/1 or a link to them. */
			o->fd = STDOUT_FILENO;
			o->own_fd = false;
			return PGZ_OK;
		}
		if (S_ISCHR(ost.st_mode) || S_ISFIFO(ost.st_mode) || S_ISSOCK(ost.st_mode)) {
			if (S_ISSOCK(ost.st_mode))
				o->fd = connect_socket(path);
			else
				o->fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
			if (o->fd < 0) {
				pgz_error("%s: %s", path, strerror(errno));
				return PGZ_ERROR;
			}
			return PGZ_OK;
		}
		if (!S_ISREG(ost.st_mode)) {
			pgz_error("%s: not a regular file, character device, FIFO or socket",
				  path);
			return PGZ_ERROR;
		}
	}
	if (!lstat(path, &ost) && !opt.force) {
		already_exists(path);
		return PGZ_WARNING;
	}
	slash = strrchr(path, '/');
	dirlen = slash ? (int)(slash - path + 1) : 0;
	if (snprintf(tmp_path, sizeof(tmp_path), "%.*s.pgz-XXXXXX", dirlen, path) >=
	    (int)sizeof(tmp_path)) {
		pgz_error("%s: %s", path, strerror(ENAMETOOLONG));
		return PGZ_ERROR;
	}
	/* have_tmp is set only once tmp_path holds a created file's name. */
	o->fd = mkostemp(tmp_path, O_CLOEXEC);
	if (o->fd < 0) {
		pgz_error("%s: %s", path, strerror(errno));
		return PGZ_ERROR;
	}
	have_tmp = 1;
	o->tmp = true;
	return PGZ_OK;
}

static mode_t umask_value(void)
{
	mode_t m = umask(0);

	umask(m);
	return m;
}

static void drop_tmp(void)
{
	if (have_tmp) {
		unlink(tmp_path);
		have_tmp = 0;
	}
}

/*
 * Finish the output: on success give a temporary file @ist's mode, owner
 * and times (@mtime replacing the modification time if not -1) and rename
 * it into place.  Return: PGZ_OK or the status after the message.
 */
static int close_output(struct out *o, bool ok, const struct stat *ist, time_t mtime)
{
	sigset_t all, old;
	int ret = PGZ_OK, e;
	bool failed_here = false;

	if (!o->tmp) {
		if (o->own_fd && close(o->fd) && ok) {
			pgz_error("%s: %s", o->path, strerror(errno));
			return PGZ_ERROR;
		}
		return ok ? PGZ_OK : PGZ_ERROR;
	}
	if (ok && ist) {
		struct timespec ts[2] = { ist->st_atim, ist->st_mtim };

		if (mtime != (time_t)-1) {
			ts[1].tv_sec = mtime;
			ts[1].tv_nsec = 0;
		}
		/* Owner first: chown clears set-id bits that fchmod then restores. */
		if (fchown(o->fd, ist->st_uid, ist->st_gid))
			(void)!fchown(o->fd, (uid_t)-1, ist->st_gid);
		if (fchmod(o->fd, ist->st_mode & 07777) || futimens(o->fd, ts))
			ok = false, failed_here = true;
	} else if (ok && fchmod(o->fd, 0666 & ~umask_value())) {
		ok = false, failed_here = true;
	}
	if (ok && fsync(o->fd))
		ok = false, failed_here = true;
	e = errno;
	if (close(o->fd) && ok)
		ok = false, failed_here = true, e = errno;
	errno = e;
	if (!ok) {
		/* Otherwise the caller has said what failed. */
		if (failed_here)
			pgz_error("%s: %s", o->path, strerror(errno));
		drop_tmp();
		return PGZ_ERROR;
	}
	/* No signal between the rename and forgetting the temporary name. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if (opt.force ? rename(tmp_path, o->path) :
			renameat2(AT_FDCWD, tmp_path, AT_FDCWD, o->path, RENAME_NOREPLACE)) {
		if (errno == EEXIST) {
			already_exists(o->path);
			ret = PGZ_WARNING;
		} else {
			pgz_error("%s: %s", o->path, strerror(errno));
			ret = PGZ_ERROR;
		}
		unlink(tmp_path);
	}
	have_tmp = 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}

static bool has_suffix(const char *path, const char *suf)
{
	size_t l = strlen(path), s = strlen(suf);
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return l > s && (size_t)(path + l - base) > s && !strcmp(path + l - s, suf);
}

static void verbose_ratio(const char *name, const struct pgz_count *c, bool compress,
			  const char *out)
{
	uint64_t raw = compress ? c->in : c->out, packed = compress ? c->out : c->in;

	if (opt.verbose <= 0)
		return;
	if (name)
		fprintf(stderr, "%s:\t", name);
	pgz_print_ratio(stderr, (int64_t)raw - (int64_t)(packed - c->header), raw);
	if (name)
		fprintf(stderr, " -- %s %s", opt.keep ? "created" : "replaced with",
			out ? out : "stdout");
	fputc('\n', stderr);
}

/*
 * Open an input operand.  Return: the descriptor, or -1 after the message
 * (or silently for what gzip skips silently).
 */
static int open_input(const char *path, struct stat *ist)
{
	bool writes = !opt.to_stdout && !opt.test && !opt.list;
	int fd;

	fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC | (writes && !opt.force ? O_NOFOLLOW : 0));
	if (fd < 0) {
		pgz_error("%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, ist)) {
		pgz_error("%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (S_ISDIR(ist->st_mode)) {
		pgz_warn("%s is a directory -- ignored", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(ist->st_mode) && writes) {
		pgz_warn("%s is not a directory or a regular file - ignored", path);
		close(fd);
		return -1;
	}
	if (S_ISREG(ist->st_mode) && ist->st_nlink > 1 && writes && !opt.force) {
		unsigned long n = (unsigned long)ist->st_nlink - 1;

		pgz_warn("%s has %lu other link%s -- file ignored", path, n, n > 1 ? "s" : "");
		close(fd);
		return -1;
	}
	return fd;
}

static void remove_input(const char *path, const struct out *o)
{
	if (opt.keep || opt.to_stdout || !o->tmp)
		return;
	if (unlink(path))
		pgz_error("%s: %s", path, strerror(errno));
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Compress @path (NULL: standard input). */
static void compress_one(const char *path)
{
	const char *name = path ? path : "stdin";
	const char *what = "write";
	char *out_path = NULL;
	unsigned char *header;
	size_t header_len;
	struct stat ist;
	struct pgz_count c = { 0 };
	struct out o;
	uint32_t mtime = 0;
	int fd = STDIN_FILENO, err, ret;
	bool to_stdout = opt.to_stdout || (!path && !opt.out_path);

	if (path && !opt.to_stdout && !opt.out_path && has_suffix(path, opt.suffix)) {
		if (opt.verbose > 0 || (!opt.recursive && opt.verbose >= 0))
			fprintf(stderr, "%s: %s already has %s suffix -- unchanged\n", progname, path,
				opt.suffix);
		return;
	}
	if (path) {
		if ((fd = open_input(path, &ist)) < 0)
			return;
	} else if (fstat(fd, &ist)) {
		pgz_error("stdin: %s", strerror(errno));
		return;
	}
	if (opt.save_name)
		mtime = path || S_ISREG(ist.st_mode) ? (uint32_t)ist.st_mtime : (uint32_t)time(NULL);
	header = gz_header_build(path && opt.save_name ? base_name(path) : NULL, mtime, opt.level,
				 &header_len);
	if (to_stdout) {
		/* As gzip: refused for standard input only. */
		if (!path && isatty(STDOUT_FILENO) && !opt.force) {
			pgz_error("compressed data not written to a terminal. "
				  "Use -f to force compression.\nFor help, type: %s -h", progname);
			goto out;
		}
		ret = open_stdout(&ist, name, &o);
	} else {
		if (opt.out_path) {
			out_path = strdup(opt.out_path);
		} else if (asprintf(&out_path, "%s%s", path, opt.suffix) < 0) {
			out_path = NULL;
		}
		if (!out_path) {
			pgz_error("out of memory");
			goto out;
		}
		ret = open_output(out_path, &ist, name, &o);
	}
	if (ret)
		goto out;
	err = pgz_compress(fd, o.fd, header, header_len, &c, &what);
	if (err && !strcmp(what, "read"))
		pgz_error("%s: %s", name, strerror(err));
	else if (err)
		pgz_data_error(o.path ? o.path : "stdout", strerror(err));
	ret = close_output(&o, !err, path || S_ISREG(ist.st_mode) ? &ist : NULL, (time_t)-1);
	if (err || ret)
		goto out;
	verbose_ratio(path, &c, true, o.path);
	if (path)
		remove_input(path, &o);
out:
	if (path)
		close(fd);
	free(header);
	free(out_path);
}

/* The decompressed file's name: the suffix off, or the stored name (-N). */
static char *decompressed_name(const char *path, const struct gz_header *h)
{
	size_t l = strlen(path), s = strlen(opt.suffix);
	char *r = NULL;

	if (opt.out_path)
		return strdup(opt.out_path);
	if (opt.restore_name && h->name && *base_name(h->name) && strcmp(base_name(h->name), ".") &&
	    strcmp(base_name(h->name), "..")) {
		int dirlen = (int)(base_name(path) - path);

		if (asprintf(&r, "%.*s%s", dirlen, path, base_name(h->name)) < 0)
			return NULL;
		return r;
	}
	if (has_suffix(path, opt.suffix))
		return strndup(path, l - s);
	if (has_suffix(path, ".tgz") && asprintf(&r, "%.*s.tar", (int)(l - 4), path) > 0)
		return r;
	return NULL;
}

/* -dcf on data that is not gzip: copied as it is, as gzip does. */
static int copy_through(struct gz_in *in, const char *name)
{
	/* The two bytes already taken are still in the buffer. */
	in->pos = 0;
	do {
		if (!write_all(STDOUT_FILENO, in->buf + in->pos, in->len - in->pos)) {
			pgz_error("stdout: %s", strerror(errno));
			return PGZ_ERROR;
		}
		in->pos = in->len;
	} while (gz_in_fill(in));
	if (in->err) {
		pgz_error("%s: %s", name, strerror(in->err));
		return PGZ_ERROR;
	}
	return PGZ_OK;
}

/* Decompress, test (-t) or list (-l) @path (NULL: standard input). */
static void decompress_one(const char *path)
{
	const char *name = path ? path : "stdin";
	char *alt = NULL, *out_path = NULL;
	struct gz_header h = { 0 };
	struct pgz_count c = { 0 };
	struct gz_in in;
	struct stat ist;
	struct out o;
	int fd = STDIN_FILENO, ret;
	bool to_stdout = opt.to_stdout || (!path && !opt.out_path);

	if (path && !opt.to_stdout && !opt.test && !opt.list && !opt.out_path &&
	    !has_suffix(path, opt.suffix) && !has_suffix(path, ".tgz")) {
		struct stat st;

		if (!lstat(path, &st) || errno != ENOENT) {
			if (opt.verbose > 0 || (!opt.recursive && opt.verbose >= 0))
				pgz_warn("%s: unknown suffix -- ignored", path);
			return;
		}
	}
	if (path && access(path, F_OK) && errno == ENOENT && !has_suffix(path, opt.suffix)) {
		/* gzip -d foo means foo.gz. */
		if (asprintf(&alt, "%s%s", path, opt.suffix) < 0)
			return;
		path = name = alt;
	}
	if (path) {
		if ((fd = open_input(path, &ist)) < 0)
			goto done;
	} else {
		if (isatty(STDIN_FILENO) && !opt.force) {
			pgz_error("compressed data not read from a terminal. "
				  "Use -f to force decompression.\nFor help, type: %s -h", progname);
			return;
		}
		if (fstat(fd, &ist)) {
			pgz_error("stdin: %s", strerror(errno));
			return;
		}
	}
	if (opt.list) {
		char *shown = path ? (has_suffix(path, opt.suffix) ?
				      strndup(path, strlen(path) - strlen(opt.suffix)) : strdup(path))
				   : strdup("stdout");

		pgz_list(fd, name, shown ? shown : name);
		free(shown);
		goto done;
	}
	gz_in_init(&in, fd);
	ret = pgz_inflate_start(&in, name, &h);
	if (ret == PGZ_NOT_GZIP) {
		if (opt.force && opt.to_stdout) {
			copy_through(&in, name);
			goto done_in;
		}
		pgz_data_error(name, "not in gzip format");
		goto done_in;
	}
	if (ret)
		goto done_in;
	c.header = h.len + GZ_TRAILER;
	if (opt.test) {
		o.fd = -1;
		o.tmp = o.own_fd = false;
		o.path = NULL;
	} else if (to_stdout) {
		if (open_stdout(&ist, name, &o))
			goto done_in;
	} else {
		out_path = decompressed_name(path, &h);
		if (!out_path) {
			pgz_error("%s: %s", path, strerror(ENOMEM));
			goto done_in;
		}
		if (open_output(out_path, &ist, name, &o))
			goto done_in;
	}
	ret = pgz_inflate_rest(&in, name, o.fd, o.path ? o.path : "stdout", &c);
	if (o.fd >= 0) {
		time_t mt = opt.restore_name && h.mtime ? (time_t)h.mtime : (time_t)-1;

		if (ret == PGZ_ERROR) {
			close_output(&o, false, NULL, -1);
			goto done_in;
		}
		if (close_output(&o, true, path || S_ISREG(ist.st_mode) ? &ist : NULL, mt))
			goto done_in;
	} else if (ret == PGZ_ERROR) {
		goto done_in;
	}
	if (opt.test) {
		if (opt.verbose > 0)
			fprintf(stderr, "%s:\t OK\n", name);
	} else {
		verbose_ratio(path, &c, false, o.path);
	}
	if (path && !opt.test)
		remove_input(path, &o);
done_in:
	gz_in_free(&in);
done:
	if (path && fd >= 0)
		close(fd);
	free(h.name);
	free(out_path);
	free(alt);
}

static void one(const char *path)
{
	if (opt.decompress)
		decompress_one(path);
	else
		compress_one(path);
}

void pgz_stdin(void)
{
	one(NULL);
}

static void recurse(const char *dir)
{
	struct dirent **list;
	int n, i;

	n = scandir(dir, &list, NULL, alphasort);
	if (n < 0) {
		pgz_error("%s: %s", dir, strerror(errno));
		return;
	}
	for (i = 0; i < n; i++) {
		const char *e = list[i]->d_name;
		char *p;

		if (strcmp(e, ".") && strcmp(e, "..")) {
			if (asprintf(&p, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
				     e) < 0) {
				pgz_error("out of memory");
			} else {
				pgz_operand(p);
				free(p);
			}
		}
		free(list[i]);
	}
	free(list);
}

void pgz_operand(const char *path)
{
	struct stat st;

	if (!lstat(path, &st) && S_ISDIR(st.st_mode)) {
		if (opt.recursive)
			recurse(path);
		else
			pgz_warn("%s is a directory -- ignored", path);
		return;
	}
	if (opt.recursive && !lstat(path, &st) && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
		return;
	if (opt.recursive && opt.decompress && !opt.test && !opt.list && !has_suffix(path, opt.suffix) &&
	    !has_suffix(path, ".tgz"))
		return;
	one(path);
}
