#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""examples/prefork end to end: every line once, in input order, with
workers killed at random instants; stopped by a signal or by the death of
the supervisor, no worker left and the output a prefix of whole lines; the
command line and its errors.

Usage: test_prefork.py PREFORK [CASE...]
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runner import run_tests  # noqa: E402

PREFORK = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="prefork-test-")


def expected(lines):
    out = []
    for i, line in enumerate(lines):
        h = 14695981039346656037
        for c in line:
            h = ((h ^ c) * 1099511628211) & (2**64 - 1)
        out.append(b"%d\t%016x\t" % (i + 1, h) + line + b"\n")
    return b"".join(out)


def run(*args, stdin=None, expect=0):
    p = subprocess.run([PREFORK, *args], input=stdin, capture_output=True, timeout=300)
    if p.returncode != expect:
        raise AssertionError(f"prefork {' '.join(args)}: exit {p.returncode}, expected "
                             f"{expect}\n{p.stderr.decode(errors='replace')}")
    return p


def write_input(name, lines, final_newline=True):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(b"\n".join(lines) + (b"\n" if final_newline and lines else b""))
    return path


def check(lines, *args, final_newline=True):
    inp = write_input("in", lines, final_newline)
    out = os.path.join(TMP, "out")
    p = run("-o", out, *args, inp)
    with open(out, "rb") as f:
        got = f.read()
    assert got == expected(lines), f"output differs ({len(got)} bytes)"
    return p.stderr.decode()


def test_in_order():
    lines = [b"record %d %s" % (i, b"x" * (i % 37)) for i in range(30000)]
    for w in ("1", "2", "5"):
        check(lines, "-w", w, "-q")


def test_edges():
    check([], "-w", "3")
    check([b"only"], "-w", "3", final_newline=False)
    check([b"", b"", b"a\tb", b""], "-w", "2")
    lines = [b"x" * 100000, b"y"]
    check(lines, "-w", "2")


def test_stdin():
    lines = [b"%d" % i for i in range(1000)]
    out = os.path.join(TMP, "out-stdin")
    run("-o", out, "-w", "3", "-q", stdin=b"\n".join(lines) + b"\n")
    with open(out, "rb") as f:
        assert f.read() == expected(lines)


def test_drill():
    """Workers SIGKILLed every few milliseconds: nothing lost, nothing twice."""
    lines = [b"line %d" % i for i in range(6000)]
    err = check(lines, "-w", "4", "--work-us", "100", "--kill-every", "3", "--seed", "7")
    m = re.search(r"(\d+) killed, (\d+) restarted", err)
    assert m and int(m.group(1)) > 20, err
    print(err.strip())


def test_usage_errors():
    inp = write_input("u", [b"a"])
    for args, msg in [
        (["-w", "0", "-o", "x"], b"invalid --workers value '0'"),
        (["-w", "65", "-o", "x"], b"invalid --workers value '65'"),
        (["-w", "2x", "-o", "x"], b"invalid --workers value '2x'"),
        (["--kill-every", "-1", "-o", "x"], b"invalid --kill-every value '-1'"),
        (["--bogus"], b"unknown option '--bogus'"),
        (["-qz", "-o", "x"], b"unknown option '-z'"),
        (["--quiet=1", "-o", "x"], b"option '--quiet' doesn't allow an argument"),
        (["-o", "x", "-qw"], b"option '-w' requires an argument"),
        (["--workers"], b"option '--workers' requires an argument"),
        (["-o"], b"option '-o' requires an argument"),
        ([inp], b"no output file"),
        (["-o", "x", inp, inp], b"extra operand"),
    ]:
        p = run(*args, expect=2)
        first = p.stderr.splitlines()[0]
        assert msg in first, (args, p.stderr)
        assert first.startswith(b"prefork: "), p.stderr


def test_file_errors():
    p = run("-o", os.path.join(TMP, "o"), os.path.join(TMP, "missing"), expect=1)
    assert p.stderr.splitlines() == [b"prefork: " + os.path.join(TMP, "missing").encode() +
                                     b": No such file or directory"], p.stderr
    p = run("-o", "/dev/null", write_input("n", [b"a"]), expect=1)
    assert b"not a regular file" in p.stderr, p.stderr
    fifo = os.path.join(TMP, "fifo")
    os.mkfifo(fifo)
    p = run("-o", fifo, write_input("n", [b"a"]), expect=1)  # no reader: must not hang
    assert b"not a regular file" in p.stderr, p.stderr
    p = run("-o", os.path.join(TMP, "no", "such", "dir"), write_input("n", [b"a"]), expect=1)
    assert b"No such file or directory" in p.stderr, p.stderr


def group(pgid):
    """The live (not zombie) processes of process group @pgid."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        # After the command: state, ppid, pgrp.
        if int(fields[2]) == pgid and fields[0] != b"Z":
            pids.append(int(d))
    return pids


def default_signals():
    """In the child: the signals the tests send back to their defaults (a
    runner started under nohup or in the background passes some on ignored,
    and prefork then rightly keeps them ignored)."""
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_DFL)


class LongJob:
    """prefork in a process group of its own, on a job that takes minutes,
    stopped in the middle; what is left of its group is killed on exit."""
    LINES = [b"long job %d" % i for i in range(200000)]

    def __init__(self, workers=3):
        self.inp = write_input("long", self.LINES)
        self.out = os.path.join(TMP, "long-out")
        self.proc = subprocess.Popen(
            [PREFORK, "-o", self.out, "-w", str(workers), "--work-us", "1000", self.inp],
            stderr=subprocess.PIPE, start_new_session=True, preexec_fn=default_signals)
        self.workers = workers

    def __enter__(self):
        # Under way: every worker forked and some output written.
        for _ in range(2000):
            assert self.proc.poll() is None, self.proc.stderr.read()
            if len(group(self.proc.pid)) == 1 + self.workers and os.path.exists(self.out) \
                    and os.path.getsize(self.out) > 0:
                return self
            time.sleep(0.005)
        raise AssertionError("prefork did not start writing in 10 s")

    def __exit__(self, *exc):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc.stderr.close()

    def stopped_at_a_line(self):
        """The output: the first lines of the job, whole, and not all of them.
        Return: how many."""
        with open(self.out, "rb") as f:
            got = f.read()
        want = expected(self.LINES)
        assert want.startswith(got) and got.endswith(b"\n"), \
            f"not a prefix of whole lines: {len(got)} bytes ending {got[-40:]!r}"
        assert len(got) < len(want), "the job ran to its end"
        return got.count(b"\n")


def test_supervisor_killed():
    """The supervisor SIGKILLed: every worker stops within a bound (they do
    not run on as orphans), and the output ends at a whole line."""
    with LongJob() as job:
        job.proc.kill()
        job.proc.wait()
        for _ in range(500):
            left = group(job.proc.pid)
            if not left:
                break
            time.sleep(0.01)
        assert not left, f"workers {left} still running 5 s after the supervisor died"
        job.stopped_at_a_line()


def test_signals():
    """SIGINT, SIGTERM and SIGHUP, to the supervisor alone or to the whole
    process group: prefork dies of the signal, no worker outlives it, the
    output ends at a whole line, and one line says how far it got."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        for whom in ("supervisor", "group"):
            with LongJob() as job:
                if whom == "supervisor":
                    job.proc.send_signal(sig)
                else:
                    os.killpg(job.proc.pid, sig)
                job.proc.wait(timeout=60)
                left = group(job.proc.pid)
                assert job.proc.returncode == -sig, (sig.name, whom, job.proc.returncode,
                                                     job.proc.stderr.read())
                assert not left, f"{sig.name} to the {whom}: workers {left} outlived prefork"
                n = job.stopped_at_a_line()
                err = job.proc.stderr.read().decode()
                assert err == f"prefork: stopped by {sig.name}: {n} of {len(job.LINES)} " \
                              "records written\n", (sig.name, whom, err)


def test_same_file():
    """-o naming the input, by its name, a hard link, a symlink, or as
    standard input: refused with one line, the input untouched."""
    lines = [b"keep %d" % i for i in range(1000)]
    inp = write_input("same", lines)
    with open(inp, "rb") as f:
        data = f.read()
    hard, sym = os.path.join(TMP, "same-hard"), os.path.join(TMP, "same-sym")
    for p in (hard, sym):
        if os.path.lexists(p):
            os.unlink(p)
    os.link(inp, hard)
    os.symlink(inp, sym)
    for out in (inp, hard, sym, os.path.join(TMP, ".", "same")):
        p = run("-o", out, inp, expect=1)
        assert p.stderr.splitlines() == [b"prefork: " + inp.encode() +
                                         b": input and output are the same file"], p.stderr
        with open(inp, "rb") as f:
            assert f.read() == data, out
    with open(inp, "rb") as f:
        p = subprocess.run([PREFORK, "-o", hard], stdin=f, capture_output=True, timeout=60)
    assert p.returncode == 1 and p.stderr.splitlines() == [
        b"prefork: standard input: input and output are the same file"], p
    with open(inp, "rb") as f:
        assert f.read() == data


def test_help_version():
    assert run("--help").stdout.startswith(b"Usage: prefork")
    assert re.match(rb"prefork \(libcchain\) \d+\.\d+\.\d+", run("--version").stdout)


if __name__ == "__main__":
    sys.exit(run_tests(globals(), sys.argv[2:]))
