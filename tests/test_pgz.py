#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pgz against the real gzip: every output passes `gzip -t` and `gzip -dc`
restores the input byte for byte; bad input fails cleanly; no operation
loses a user's data (same file, links, special outputs, errors, signals).
The command line's agreement with gzip and pigz is test_pgz_compat.py's.

Usage: test_pgz.py PGZ [CASE...]
"""
import hashlib
import os
import random
import resource
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runner import run_tests  # noqa: E402
import time

PGZ = os.path.abspath(sys.argv[1])
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


def test_level_forms():
    """Digits written together are one level, as in pigz: -10 is level 10,
    refused (pgz has 0..9; pigz's 11 is zopfli), never -1 then -0."""
    data = text(200000, 8)
    src = write("lv", data)
    d = fresh("levels")
    for args, run in [(["-10"], "10"), (["-99"], "99"), (["-12"], "12"), (["-100"], "100"),
                      (["-c10"], "10"), (["-k1", "-20"], "20"), ([src, "-10"], "10"),
                      (["-0111"], "0111"), (["-11"], "11"), (["-011"], "011")]:
        out = os.path.join(d, "out.gz")
        p = pgz(*args, "-o", out, src, expect=1)
        want = f"pgz: invalid compression level '{run}' (0..9"
        want += "; pigz's 11, zopfli, is not supported)" if int(run) == 11 else ")"
        assert one_line_error(p) == want, (args, p.stderr)
        assert listing(d) == [] and open(src, "rb").read() == data, (args, listing(d))
    # Accepted forms give the same bytes as the single digit they mean.
    ref = {n: pgz("-c", "-n", f"-{n}", src).stdout for n in "0169"}
    assert len(set(ref.values())) == 4, "levels 0, 1, 6 and 9 should differ on this input"
    for args, level in [(["-01"], "1"), (["-09"], "9"), (["-00"], "0"), (["--fast"], "1"),
                        (["--best"], "9"), (["-1", "-0"], "0"), (["-9c1"], "1"),
                        (["-1c0"], "0"), (["-c9k", "-p2"], "9"), (["-p", "10", "-1"], "1"),
                        (["-kp", "3", "-9"], "9"), (["-S", ".10", "-1"], "1"), ([], "6")]:
        got = pgz("-c", "-n", *args, src).stdout
        assert got == ref[level], (args, level)
    # An operand that looks like a level after "--" is a file name.
    p = pgz("-c", "--", "-10", expect=1)
    assert one_line_error(p) == "pgz: -10: No such file or directory", p.stderr


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
    p = pgz(src + ".gz", expect=0)             # leaves .gz input alone, as gzip
    assert b"already has .gz suffix -- unchanged" in p.stderr
    src = write("f", data)
    p = pgz(src, expect=2)                     # f.gz exists: a warning, as gzip
    assert b"already exists;\tnot overwritten" in p.stderr and os.path.exists(src)
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


def usage_error(p):
    """gzip's usage error: the message, then where to find help."""
    lines = p.stderr.decode().splitlines()
    assert len(lines) == 2 and lines[0].startswith("pgz: "), p.stderr
    assert lines[1] == "Try `pgz --help' for more information.", p.stderr
    return lines[0]


def test_bad_input():
    src = write("h", text(100000, 12))
    for args, culprit in (
        (["-p", "0", src], "'0'"), (["-b", "8", src], "'8'"), (["-x", src], "'x'"),
        (["-p"], "'p'"), (["-c", "-o", path("z.gz"), src], "excludes"),
        (["-o", path("z.gz"), src, src], "extra"), (["--bogus"], "'--bogus'"),
    ):
        p = pgz(*args, expect=1)
        assert culprit in usage_error(p), (args, p.stderr)
    p = pgz(path("missing"), expect=1)
    assert "missing" in one_line_error(p)
    assert not os.path.exists(path("missing.gz"))
    for out in ("/nonexistent/dir/x.gz", src + "/x.gz"):
        p = pgz("-k", "-o", out, src, expect=1)
        assert out in one_line_error(p)
    p = pgz(TMP, expect=2)                       # a directory: a warning
    assert "is a directory -- ignored" in one_line_error(p)
    assert os.path.exists(src) and not leftovers()


def test_no_truncated_output():
    data = text(8 * 1024 * 1024, 13)
    src = write("big", data)
    out = path("limited.gz")

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (200 * 1024, 200 * 1024))

    p = pgz("-k", "-p", "2", "-o", out, src, expect=1, preexec_fn=limit)
    # gzip's form for write errors: an empty line first.
    assert p.stderr.decode() == f"\npgz: {out}: File too large\n", p.stderr
    assert not os.path.exists(out) and not leftovers(), os.listdir(TMP)
    assert os.path.exists(src)
    # The same for decompression.
    gz = write("limited-src.gz", subprocess.run(["gzip", "-c", src], capture_output=True,
                                                check=True).stdout)
    p = pgz("-d", "-k", "-o", out, gz, expect=1, preexec_fn=limit)
    assert p.stderr.decode() == f"\npgz: {out}: File too large\n", p.stderr
    assert not os.path.exists(out) and not leftovers() and os.path.exists(gz)
    os.unlink(gz)
    # Killed half way: the temporary file goes too.
    proc = subprocess.Popen([PGZ, "-k", "-9", "-p", "1", "-b", "32", "-o", out, src],
                            stderr=subprocess.PIPE)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    if proc.returncode != 0:  # it may have finished first on a fast machine
        assert not os.path.exists(out) and not leftovers(), os.listdir(TMP)


def fresh(name):
    """An empty directory of its own under TMP."""
    d = path(name)
    subprocess.run(["rm", "-rf", d], check=True)
    os.mkdir(d)
    return d


def listing(d):
    return sorted(os.listdir(d))


def test_same_file():
    # Output and input the same file, by name, hard link or symlink: refused
    # before anything is written, with or without -f and -k.
    d = fresh("same")
    data = text(200000, 21)
    src = os.path.join(d, "y.txt")
    with open(src, "wb") as f:
        f.write(data)
    os.link(src, os.path.join(d, "hard"))
    os.symlink("y.txt", os.path.join(d, "soft"))
    for out in ("y.txt", "hard", "soft", "./y.txt"):
        for extra in ([], ["-k"]):
            p = pgz("-f", *extra, "-o", os.path.join(d, out), src, expect=1)
            assert "same file" in one_line_error(p), p.stderr
            with open(src, "rb") as f:
                assert f.read() == data, (out, extra)
    assert listing(d) == ["hard", "soft", "y.txt"], listing(d)
    # -c onto the input itself (appending): refused, input unchanged.
    with open(src, "ab") as f:
        p = subprocess.run([PGZ, "-c", src], stdout=f, stderr=subprocess.PIPE)
    assert p.returncode == 1 and b"same file" in p.stderr, p
    with open(src, "rb") as f:
        assert f.read() == data
    # Decompressing onto the compressed input (-N name = its own name).
    gz = os.path.join(d, "z.gz")
    pgz("-f", "-k", "-o", gz, src)
    os.rename(gz, os.path.join(d, "y.txt.gz"))
    gz = os.path.join(d, "y.txt.gz")
    p = pgz("-d", "-f", "-o", gz, gz, expect=1)
    assert "same file" in one_line_error(p)
    check_gz(gz, data)


def test_special_outputs():
    d = fresh("special")
    data = text(300000, 22)
    src = os.path.join(d, "in")
    with open(src, "wb") as f:
        f.write(data)
    # A symlink to /proc/self/fd/1, and /dev/stdout: the data reaches stdout
    # and the link stays a link.
    link = os.path.join(d, "out-link")
    os.symlink("/proc/self/fd/1", link)
    for target in (link, "/dev/stdout"):
        before = os.lstat(target)
        p = pgz("-f", "-k", "-o", target, src)
        check_gz(write("special.gz", p.stdout), data)
        after = os.lstat(target)
        assert stat.S_ISLNK(after.st_mode) and after.st_ino == before.st_ino, target
    # A FIFO stays a FIFO, and its reader gets the stream.
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    got_fifo = []
    # A blocking open: gzip's own reader opens without waiting for a writer.
    reader = threading.Thread(target=lambda: got_fifo.append(open(fifo, "rb").read()))
    reader.start()
    pgz("-k", "-o", fifo, src)
    reader.join(timeout=60)
    check_gz(write("fifo.gz", got_fifo[0]), data)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    # A listening Unix socket gets the stream through a connection.
    sock_path = os.path.join(d, "sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(1)
    got = bytearray()

    def serve():
        conn, _ = srv.accept()
        while True:
            b = conn.recv(65536)
            if not b:
                break
            got.extend(b)
        conn.close()
    t = threading.Thread(target=serve)
    t.start()
    pgz("-k", "-o", sock_path, src)
    t.join(timeout=60)
    srv.close()
    check_gz(write("sock.gz", bytes(got)), data)
    assert stat.S_ISSOCK(os.lstat(sock_path).st_mode)
    # A character device: /dev/null stays the device.
    pgz("-k", "-o", "/dev/null", src)
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)
    assert sorted(listing(d)) == ["fifo", "in", "out-link", "sock"], listing(d)


def test_nonregular_input():
    # A pipe given by name (what <(cmd) passes) is read with -c, as by gzip.
    data = text(500000, 23)
    r, w = os.pipe()
    proc = subprocess.Popen([PGZ, "-c", f"/dev/fd/{r}"], pass_fds=(r,),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(r)
    with os.fdopen(w, "wb") as f:
        f.write(data)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    check_gz(write("pipe.gz", out), data)


def test_links_refused():
    d = fresh("links")
    data = text(100000, 24)
    src = os.path.join(d, "target")
    with open(src, "wb") as f:
        f.write(data)
    os.symlink("target", os.path.join(d, "sym"))
    p = pgz(os.path.join(d, "sym"), expect=1)          # as gzip: ELOOP, an error
    assert "Too many levels of symbolic links" in one_line_error(p)
    assert listing(d) == ["sym", "target"]
    os.link(src, os.path.join(d, "hard"))
    for extra in ([], ["-k"]):
        p = pgz(*extra, src, expect=2)                   # as gzip: a warning
        assert "has 1 other link -- file ignored" in one_line_error(p)
    assert listing(d) == ["hard", "sym", "target"]
    # -f compresses them; -c reads them without removing anything.
    out = pgz("-c", os.path.join(d, "sym")).stdout
    check_gz(write("sym.gz", out), data)
    pgz("-f", src)
    assert listing(d) == ["hard", "sym", "target.gz"]
    with open(os.path.join(d, "hard"), "rb") as f:
        assert f.read() == data


def test_header_and_attributes():
    d = fresh("attrs")
    data = text(100000, 25)
    src = os.path.join(d, "name.txt")
    with open(src, "wb") as f:
        f.write(data)
    os.chmod(src, 0o604)
    os.utime(src, (1500000000, 1577934245))
    pgz("-k", src)
    gz = src + ".gz"
    with open(gz, "rb") as f:
        head = f.read(10 + len("name.txt") + 1)
    assert head[3] == 8, head               # FNAME
    assert int.from_bytes(head[4:8], "little") == 1577934245
    assert head[10:] == b"name.txt\0"
    st = os.stat(gz)
    assert st.st_mtime == 1577934245 and st.st_mode & 0o7777 == 0o604, st
    # -n: neither name nor time in the header; the file keeps the mtime.
    pgz("-f", "-k", "-n", src)
    with open(gz, "rb") as f:
        head = f.read(10)
    assert head[3] == 0 and head[4:8] == b"\0\0\0\0", head
    assert os.stat(gz).st_mtime == 1577934245
    # Decompression restores mode and mtime from the .gz (gzip's default).
    os.unlink(src)
    pgz("-d", gz)
    st = os.stat(src)
    assert st.st_mtime == 1577934245 and st.st_mode & 0o7777 == 0o604, st
    with open(src, "rb") as f:
        assert f.read() == data


def test_dash_output_and_unpgz():
    # -o - is standard output, not a file named "-".
    d = fresh("dash")
    data = text(100000, 28)
    src = os.path.join(d, "f")
    with open(src, "wb") as f:
        f.write(data)
    p = pgz("-k", "-o", "-", src, cwd=d)
    check_gz(write("dash-o.gz", p.stdout), data)
    assert listing(d) == ["f"], listing(d)
    # Invoked as unpgz, it decompresses (and -c writes to stdout).
    unpgz = os.path.join(d, "unpgz")
    os.symlink(os.path.abspath(PGZ), unpgz)
    gz = os.path.join(d, "g.gz")
    with open(gz, "wb") as f:
        f.write(p.stdout)
    q = subprocess.run([unpgz, gz], capture_output=True, timeout=60)
    assert q.returncode == 0 and q.stderr == b"", q
    with open(os.path.join(d, "g"), "rb") as f:
        assert f.read() == data
    assert listing(d) == ["f", "g", "unpgz"], listing(d)
    q = subprocess.run([unpgz, "-c", "-"], input=p.stdout, capture_output=True, timeout=60)
    assert q.returncode == 0 and q.stdout == data, q.stderr


def big_input(name):
    src = path(name)
    if not os.path.exists(src):
        with open(src, "wb") as f:
            chunk = text(2 * 1024 * 1024, 26)
            for i in range(12):
                f.write(chunk if i % 3 else os.urandom(1024 * 1024))
    with open(src, "rb") as f:
        return src, hashlib.sha256(f.read()).hexdigest()


def digest(p):
    with open(p, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def started_writing(d, proc):
    # Wait until the output has grown, so the signal lands mid-run.
    for _ in range(2000):
        if proc.poll() is not None:
            return False
        if any(n.startswith(".pgz-") and os.path.getsize(os.path.join(d, n)) > 0
               for n in os.listdir(d)):
            return True
        time.sleep(0.005)
    return False


def default_signals():
    """In the child: the signals the test sends back to their defaults.  A
    runner started under nohup, or in the background by a shell, passes
    SIGHUP or SIGINT on ignored, and pgz then rightly keeps them ignored,
    as gzip does."""
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_DFL)


def signal_mid_run(sig, mode):
    """One run of pgz signalled once its output has grown.  Return: False if
    the run had ended, its output whole, when the signal came (the output
    can grow late on a loaded machine): the caller tries again."""
    d = fresh("sig")
    src, want = big_input("sig-input")
    if mode == "compress":
        target = os.path.join(d, "data")
        subprocess.run(["cp", "-p", src, target], check=True)
        args, final = ["-9", "-p", "1", "-b", "32", target], target + ".gz"
    else:
        target = os.path.join(d, "data.gz")
        if not os.path.exists(src + ".gz"):
            # A second member of 256 MiB of zeros keeps inflate busy
            # long enough for the signal, at little cost to build.
            with open(src + ".gz", "wb") as f:
                subprocess.run(["gzip", "-1", "-c", src], stdout=f, check=True)
                z = zlib.compressobj(1, zlib.DEFLATED, 31)
                zeros = bytes(1024 * 1024)
                for _ in range(256):
                    f.write(z.compress(zeros))
                f.write(z.flush())
        subprocess.run(["cp", "-p", src + ".gz", target], check=True)
        want = digest(target)
        args, final = ["-d", target], target[:-3]
    proc = subprocess.Popen([PGZ, *args], stderr=subprocess.PIPE,
                            preexec_fn=default_signals)
    if not started_writing(d, proc):
        proc.wait()
        raise AssertionError(f"{sig.name} {mode}: finished before the signal")
    proc.send_signal(sig)
    proc.wait(timeout=60)
    if proc.returncode == 0:
        assert os.path.exists(final) and listing(d) == [os.path.basename(final)], \
            (sig, mode, listing(d))
        return False
    assert proc.returncode == -sig, (sig, mode, proc.returncode)
    left = listing(d)
    assert os.path.basename(target) in left and digest(target) == want, (sig, left)
    assert not os.path.exists(final), (sig, mode, left)
    others = [n for n in left if n != os.path.basename(target)]
    if sig == signal.SIGKILL:
        assert all(n.startswith(".pgz-") for n in others), left
    else:
        assert others == [], (sig, mode, left)
    return True


def test_signals_mid_run():
    for sig, mode in ((signal.SIGINT, "compress"), (signal.SIGTERM, "compress"),
                      (signal.SIGHUP, "compress"), (signal.SIGKILL, "compress"),
                      (signal.SIGINT, "decompress"), (signal.SIGTERM, "decompress"),
                      (signal.SIGKILL, "decompress")):
        if not any(signal_mid_run(sig, mode) for _ in range(3)):
            raise AssertionError(f"{sig.name} {mode}: the run ended before the signal, "
                                 "three times")


def test_decompress_errors_keep_input():
    d = fresh("derr")
    data = text(300000, 27)
    gz = os.path.join(d, "c.gz")
    with open(gz, "wb") as f:
        f.write(pgz("-c", write("c-src", data)).stdout)
    raw = open(gz, "rb").read()
    cases = {
        "crc": raw[:-8] + bytes([raw[-8] ^ 1]) + raw[-7:],
        "length": raw[:-1] + bytes([raw[-1] ^ 1]),
        "truncated": raw[:len(raw) // 2],
        "corrupt": raw[:20] + bytes(b ^ 0x55 for b in raw[20:60]) + raw[60:],
    }
    for what, blob in cases.items():
        with open(gz, "wb") as f:
            f.write(blob)
        p = pgz("-d", gz, expect=1)
        assert listing(d) == ["c.gz"], (what, listing(d))
        assert open(gz, "rb").read() == blob
        pgz("-t", gz, expect=1)


if __name__ == "__main__":
    sys.exit(run_tests(globals(), sys.argv[2:], cleanup=lambda: subprocess.run(["rm", "-rf", TMP], check=False)))
