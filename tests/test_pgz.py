#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pgz against the real gzip: every output passes `gzip -t` and `gzip -dc`
restores the input byte for byte; bad input fails cleanly.

Usage: test_pgz.py PGZ [CASE...]
"""
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runner import run_tests  # noqa: E402
import time

PGZ = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="pgz-test-")


def path(name):
    return os.path.join(TMP, name)


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data)
    return path(name)


def pgz(*args, expect=0, **kw):
    p = subprocess.run([PGZ, *args], capture_output=True, timeout=600, **kw)
    if p.returncode != expect:
        raise AssertionError(f"pgz {' '.join(args)}: exit {p.returncode}, expected "
                             f"{expect}: {p.stderr.decode(errors='replace')}")
    return p


def check_gz(gz, original):
    subprocess.run(["gzip", "-t", gz], check=True)
    out = subprocess.run(["gzip", "-dc", gz], check=True, capture_output=True).stdout
    assert out == original, f"{gz}: gzip -dc gives {len(out)} bytes, want {len(original)}"


def roundtrip(data, *args):
    src = write("in", data)
    p = pgz("-c", *args, src)
    gz = write("out.gz", p.stdout)
    check_gz(gz, data)
    return len(p.stdout)


def text(n, seed=1):
    rnd = random.Random(seed)
    words = [bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 9)))
             for _ in range(2000)]
    out = bytearray()
    while len(out) < n:
        out += rnd.choice(words) + (b"\n" if rnd.random() < 0.1 else b" ")
    return bytes(out[:n])


def test_sizes():
    block = 32 * 1024
    cases = {
        "empty": b"",
        "one byte": b"x",
        "one block": text(block),
        "exact multiple": text(4 * block, 2),
        "multiple plus one": text(4 * block + 1, 3),
        "multiple minus one": text(4 * block - 1, 4),
        "smaller than the dictionary": text(1000, 5),
        "incompressible": os.urandom(3 * 1024 * 1024 + 17),
    }
    for name, data in cases.items():
        for args in (["-b", "32", "-p", "1"], ["-b", "32", "-p", "3"], ["-p", "2"]):
            try:
                roundtrip(data, *args)
            except AssertionError as e:
                raise AssertionError(f"{name} {args}: {e}") from e


def test_levels_and_threads():
    data = text(2 * 1024 * 1024, 7)
    sizes = {}
    for level in ("-1", "-6", "-9"):
        for threads in ("1", "2", "8"):
            sizes[(level, threads)] = roundtrip(data, level, "-p", threads, "-b", "64")
        # Output does not depend on the thread count.
        assert len({sizes[(level, t)] for t in ("1", "2", "8")}) == 1, sizes
    assert sizes[("-9", "1")] <= sizes[("-6", "1")] < sizes[("-1", "1")], sizes


def test_big():
    # 100+ MiB: text with incompressible stretches.
    chunk = text(4 * 1024 * 1024, 9)
    data = b"".join(chunk if i % 5 else os.urandom(1024 * 1024) for i in range(30))
    assert len(data) > 100 * 1024 * 1024
    n = roundtrip(data, "-p", "2")
    assert n < len(data)


def test_file_modes():
    data = text(300000, 11)
    src = write("f", data)
    pgz(src)                                   # f -> f.gz, f removed
    assert not os.path.exists(src)
    check_gz(src + ".gz", data)
    p = pgz(src + ".gz", expect=1)             # refuses .gz input by name
    assert b"already has the .gz suffix" in p.stderr
    src = write("f", data)
    p = pgz(src, expect=1)                     # f.gz exists
    assert b"already exists" in p.stderr and os.path.exists(src)
    pgz("-f", "-k", src)                       # overwrite, keep input
    assert os.path.exists(src)
    check_gz(src + ".gz", data)
    pgz("-o", path("named.gz"), src)
    check_gz(path("named.gz"), data)
    assert not os.path.exists(src)
    with open(path("stdin.gz"), "wb") as out:  # stdin to stdout
        subprocess.run([PGZ, "-p", "2"], input=data, stdout=out, check=True)
    check_gz(path("stdin.gz"), data)
    p = subprocess.run([PGZ, "-"], input=data, capture_output=True, check=True)
    check_gz(write("dash.gz", p.stdout), data)
    # Mode bits follow the input, as with gzip.
    src = write("g", data)
    os.chmod(src, 0o640)
    pgz("-k", src)
    assert os.stat(src + ".gz").st_mode & 0o777 == 0o640
    os.chmod(src, 0o644)


def leftovers():
    return [n for n in os.listdir(TMP) if ".pgz-" in n]


def one_line_error(p):
    lines = p.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pgz: "), p.stderr
    return lines[0]


def test_bad_input():
    src = write("h", text(100000, 12))
    for args, culprit in (
        (["-p", "0", src], "'0'"), (["-b", "8", src], "'8'"), (["-x", src], "-x"),
        (["-p"], "-p"), (["-c", "-o", path("z.gz"), src], "exclude"),
        ([src, src], "extra"),
    ):
        p = pgz(*args, expect=2)
        assert culprit in one_line_error(p), (args, p.stderr)
    p = pgz(path("missing"), expect=1)
    assert "missing" in one_line_error(p)
    assert not os.path.exists(path("missing.gz"))
    for out in ("/nonexistent/dir/x.gz", src + "/x.gz"):
        p = pgz("-k", "-o", out, src, expect=1)
        assert out in one_line_error(p)
    p = pgz(TMP, expect=1)                       # a directory
    assert "not a regular file" in one_line_error(p)
    assert os.path.exists(src) and not leftovers()


def test_no_truncated_output():
    data = text(8 * 1024 * 1024, 13)
    src = write("big", data)
    out = path("limited.gz")

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (200 * 1024, 200 * 1024))

    p = pgz("-k", "-p", "2", "-o", out, src, expect=1, preexec_fn=limit)
    assert "limited.gz" in one_line_error(p)
    assert not os.path.exists(out) and not leftovers(), os.listdir(TMP)
    assert os.path.exists(src)
    # Killed half way: the temporary file goes too.
    proc = subprocess.Popen([PGZ, "-k", "-9", "-p", "1", "-b", "32", "-o", out, src],
                            stderr=subprocess.PIPE)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    if proc.returncode != 0:  # it may have finished first on a fast machine
        assert not os.path.exists(out) and not leftovers(), os.listdir(TMP)


if __name__ == "__main__":
    sys.exit(run_tests(globals(), sys.argv[2:], cleanup=lambda: subprocess.run(["rm", "-rf", TMP], check=False)))
