#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""examples/respd against clients from Debian's packages: redis-cli
(interactive on a pseudo-terminal, and --pipe), redis-benchmark (-P 16, many
connections) and python3-redis pipelines of thousands of mixed commands with
random DEBUG SLEEPs on many connections at once, each reply checked against
the request.  Replies byte for byte against Debian's redis-server, protocol
errors, partial requests, disconnects mid-pipeline, the bulk length limit,
the command line and the clean stop on SIGINT/SIGTERM.

Usage: test_respd.py RESPD [CASE...]
Exit status 77 (skipped) when a client package is missing.
"""
import os
import pty
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

try:
    import redis
except ImportError:
    # meson may have found another python3 than Debian's, which has the module.
    if os.path.exists("/usr/bin/python3") and sys.executable != "/usr/bin/python3":
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    print("python3-redis is required for this test (scripts/deps.sh installs it)")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runner import run_tests  # noqa: E402

RESPD = os.path.abspath(sys.argv[1])
SCALE = float(os.environ.get("RESPD_TEST_SCALE", "1"))
for tool in ("redis-cli", "redis-benchmark", "redis-server"):
    if not shutil.which(tool):
        print(f"{tool} is required for this test (scripts/deps.sh installs it)")
        sys.exit(77)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """A respd (or redis-server) process on a free port."""

    def __init__(self, extra=(), threads=4, argv=None):
        self.port = free_port()
        if argv is None:
            argv = [RESPD, "--port", str(self.port), "--threads", str(threads), *extra]
        else:
            argv = [a.replace("PORT", str(self.port)) for a in argv]
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.p.poll() is not None or time.time() > deadline:
                    raise AssertionError(f"server did not start: {self.p.stderr.read()!r}")
                time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM):
        self.p.send_signal(sig)
        out, err = self.p.communicate(timeout=60)
        return self.p.returncode, err.decode()

    def client(self, **kw):
        return redis.Redis(port=self.port, **kw)


def redis_server():
    return Server(argv=["redis-server", "--port", "PORT", "--save", "", "--appendonly", "no",
                        "--bind", "127.0.0.1", "--enable-debug-command", "yes"])


def raw(port, data, timeout=5.0, shut=True):
    """Send @data, read until the server closes or @timeout passes."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    s.settimeout(timeout)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except socket.timeout:
        pass
    s.close()
    return out


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


# ---- command line -------------------------------------------------------------

def test_cli():
    p = subprocess.run([RESPD, "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "--port" in p.stdout and "--threads" in p.stdout, p
    p = subprocess.run([RESPD, "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("respd "), p
    for bad in (["--port", "0"], ["--port", "abc"], ["--threads", "0"], ["--bogus"], ["x"]):
        p = subprocess.run([RESPD, *bad], capture_output=True, text=True)
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith("respd"), (bad, p)
    # A port in use: one line, non-zero.
    srv = Server()
    try:
        p = subprocess.run([RESPD, "--port", str(srv.port)], capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 1 and "cannot listen" in p.stderr, p
    finally:
        srv.stop()


def test_stop_signals():
    for sig in (signal.SIGINT, signal.SIGTERM):
        srv = Server()
        c = srv.client()
        c.set("k", "v")
        # A slow request in flight: the stop waits for it and answers it.  The
        # connection is up (PONG) before the request, which has 0.5 s to be
        # read before the signal.
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(resp("PING"))
        assert s.recv(100) == b"+PONG\r\n"
        s.sendall(resp("DEBUG", "SLEEP", "1"))
        time.sleep(0.5)
        code, err = srv.stop(sig)
        s.settimeout(10)
        reply = s.recv(100)
        s.close()
        lines = err.strip().splitlines()
        assert code == 0, (code, err)
        assert len(lines) == 2 and "listening on port" in lines[0] and "stopped" in lines[1], err
        assert reply == b"+OK\r\n", reply


# ---- clients nobody here wrote ---------------------------------------------------

def test_redis_cli_interactive():
    srv = Server()
    try:
        pid, fd = pty.fork()
        if pid == 0:
            os.environ["TERM"] = "dumb"  # linenoise without escape sequences
            os.execvp("redis-cli", ["redis-cli", "-p", str(srv.port)])
        out = b""

        def expect(what, timeout=20):
            nonlocal out
            deadline = time.time() + timeout
            while what not in out:
                r, _, _ = select.select([fd], [], [], max(0, deadline - time.time()))
                if not r:
                    raise AssertionError(f"redis-cli: {what!r} not seen in {out!r}")
                chunk = os.read(fd, 4096)
                if b"\x1b[6n" in chunk:
                    os.write(fd, b"\x1b[1;1R")  # the terminal's cursor position
                out += chunk

        expect(b"> ")
        for cmd, want in ((b"SET greeting hello", b"OK"), (b"GET greeting", b'"hello"'),
                          (b"INCR n", b"(integer) 1"), (b"INCRBY n 41", b"(integer) 42"),
                          (b"MGET greeting nokey", b"2) (nil)"),
                          (b"DEBUG SLEEP 0.01", b"OK"), (b"NOSUCH x", b"unknown command"),
                          (b"DBSIZE", b"(integer) 2")):
            out = b""
            os.write(fd, cmd + b"\r")
            expect(want)
        os.write(fd, b"QUIT\r")
        os.waitpid(pid, 0)
        os.close(fd)
    finally:
        code, err = srv.stop()
    assert code == 0, err


def test_redis_cli_pipe():
    srv = Server()
    try:
        n = int(20000 * SCALE)
        data = b"".join(resp("SET", f"k{i}", f"v{i}") + resp("INCR", "counter") +
                        (resp("DEBUG", "SLEEP", "0.001") if i % 500 == 0 else b"")
                        for i in range(n))
        p = subprocess.run(["redis-cli", "-p", str(srv.port), "--pipe"], input=data,
                           capture_output=True, timeout=300)
        text = p.stdout.decode()
        want = 2 * n + len(range(0, n, 500))
        assert p.returncode == 0 and f"errors: 0, replies: {want}" in text, text
        c = srv.client()
        assert int(c.get("counter")) == n
        assert c.dbsize() == n + 1
        assert c.get(f"k{n - 1}") == f"v{n - 1}".encode()
    finally:
        srv.stop()


def test_redis_benchmark():
    srv = Server()
    try:
        for extra in (["-P", "16", "-c", "50"], ["-c", "200"], ["-P", "4", "-c", "300"]):
            p = subprocess.run(["redis-benchmark", "-p", str(srv.port), "-t", "set,get,incr,ping",
                                "-n", str(int(20000 * SCALE)), "--csv", *extra],
                               capture_output=True, timeout=600, text=True)
            rows = [l for l in p.stdout.splitlines() if l.startswith('"') and "rps" not in l]
            assert p.returncode == 0 and len(rows) >= 4, (extra, p.stdout, p.stderr)
            for row in rows:
                assert float(row.split(",")[1].strip('"')) > 0, row
        # The counter saw every INCR of the three runs, in some order.
        assert int(srv.client().get("counter:__rand_int__")) == 3 * int(20000 * SCALE)
    finally:
        code, err = srv.stop()
    assert code == 0, err


def connection_workload(port, cid, n, seed, shared_incrs, errors):
    """Thousands of mixed commands in one pipeline; every reply checked."""
    rnd = random.Random(seed)
    c = redis.Redis(port=port)
    model = {}
    expect = []
    pipe = c.pipeline(transaction=False)
    mine = [f"c{cid}:k{i}" for i in range(20)]
    for _ in range(n):
        op = rnd.randrange(100)
        k = rnd.choice(mine)
        if op < 2:
            pipe.execute_command("DEBUG", "SLEEP", rnd.choice(("0", "0.001", "0.003")))
            expect.append(b"OK")
        elif op < 25:
            v = str(rnd.randrange(1000))
            mode = rnd.randrange(4)
            if mode == 0:
                pipe.execute_command("SET", k, v)
                model[k] = v.encode()
                expect.append(b"OK")
            elif mode == 1:
                pipe.execute_command("SET", k, v, "NX")
                if k in model:
                    expect.append(None)
                else:
                    model[k] = v.encode()
                    expect.append(b"OK")
            elif mode == 2:
                pipe.execute_command("SET", k, v, "XX")
                if k in model:
                    model[k] = v.encode()
                    expect.append(b"OK")
                else:
                    expect.append(None)
            else:
                pipe.execute_command("SET", k, v, "EX", "1000")
                model[k] = v.encode()
                expect.append(b"OK")
        elif op < 45:
            pipe.execute_command("GET", k)
            expect.append(model.get(k))
        elif op < 60:
            by = rnd.randrange(-5, 6)
            cur = model.get(k, b"0")
            try:
                val = int(cur)
            except ValueError:
                val = None
            pipe.execute_command("INCRBY", k, by)
            if val is None:
                expect.append(redis.ResponseError)
            else:
                model[k] = str(val + by).encode()
                expect.append(val + by)
        elif op < 68:
            pipe.execute_command("DEL", k)
            expect.append(1 if model.pop(k, None) is not None else 0)
        elif op < 74:
            ks = rnd.sample(mine, 3)
            pipe.execute_command("EXISTS", *ks)
            expect.append(sum(1 for x in ks if x in model))
        elif op < 80:
            ks = rnd.sample(mine, 3)
            pipe.execute_command("MGET", *ks)
            expect.append([model.get(x) for x in ks])
        elif op < 85:
            ks = rnd.sample(mine, 2)
            pipe.execute_command("MSET", ks[0], "a", ks[1], "b")
            model[ks[0]] = b"a"
            model[ks[1]] = b"b"
            expect.append(b"OK")
        elif op < 90:
            pipe.execute_command("INCR", "shared")
            shared_incrs[cid] += 1
            expect.append(int)
        elif op < 94:
            msg = "x" * rnd.randrange(0, 3000)
            pipe.execute_command("ECHO", msg)
            expect.append(msg.encode())
        elif op < 97:
            pipe.execute_command("PING")
            expect.append(True)
        else:
            pipe.execute_command("NOSUCHCMD", k)
            expect.append(redis.ResponseError)
    got = pipe.execute(raise_on_error=False)
    assert len(got) == len(expect)
    for i, (g, e) in enumerate(zip(got, expect)):
        ok = (isinstance(g, redis.ResponseError) if e is redis.ResponseError else
              isinstance(g, int) if e is int else
              g in (b"OK", True) if e == b"OK" else g == e)
        if not ok:
            errors.append(f"connection {cid}, reply {i}: got {g!r}, expected {e!r}")
            return
    # The connection reads its own writes after the pipeline too.
    for k in mine:
        if c.get(k) != model.get(k):
            errors.append(f"connection {cid}: {k} is {c.get(k)!r}, expected {model.get(k)!r}")
            return
    c.close()


def test_python_pipelines():
    srv = Server()
    try:
        nconn, n = 16, int(4000 * SCALE)
        shared = [0] * nconn
        errors = []
        threads = [threading.Thread(target=connection_workload,
                                    args=(srv.port, i, n, 1000 + i, shared, errors))
                   for i in range(nconn)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[:5]
        assert int(srv.client().get("shared")) == sum(shared)
    finally:
        code, err = srv.stop()
    assert code == 0, err


def test_slow_request_stalls_nobody_else():
    srv = Server()
    try:
        slow = srv.client()
        t = threading.Thread(target=lambda: slow.execute_command("DEBUG", "SLEEP", "5"))
        t.start()
        time.sleep(0.2)
        fast = srv.client()
        for i in range(20):
            fast.set("x", i)
        # Served while the sleep goes on (not a timing bound: sanitizers are slow).
        assert t.is_alive(), "20 SETs on another connection waited for DEBUG SLEEP 5"
        t.join()
    finally:
        srv.stop()


# ---- byte for byte against redis-server --------------------------------------------

COMPARED = [
    resp("PING"), resp("PING", "hi"), resp("PING", "a", "b"), resp("ECHO", "x"), resp("ECHO"),
    resp("SET", "k", "v"), resp("GET", "k"), resp("GET", "nokey"), resp("GET"),
    resp("SET", "k", "v2", "NX"), resp("SET", "k", "v3", "XX"), resp("SET", "n", "1", "XX"),
    resp("SET", "k", "v", "EX", "0"), resp("SET", "k", "v", "EX", "-1"),
    resp("SET", "k", "v", "EX", "abc"), resp("SET", "k", "v", "PX", "100000"),
    resp("SET", "k", "v", "NX", "XX"), resp("SET", "k", "v", "EX", "10", "PX", "10"),
    resp("SET", "k", "v", "BOGUS"), resp("SET", "k", "v", "EX"), resp("SET", "k"),
    resp("SET", "k", "old", "GET"), resp("SET", "k", "new", "NX", "GET"),
    resp("INCR", "k"), resp("INCR", "c"), resp("INCRBY", "c", "10"), resp("INCRBY", "c", "x"),
    resp("INCRBY", "c", "-9223372036854775808"), resp("SET", "big", "9223372036854775807"),
    resp("INCR", "big"), resp("SET", "sp", " 1"), resp("INCR", "sp"),
    resp("DEL", "k", "k", "nokey"), resp("EXISTS", "c", "c", "nokey"), resp("DEL"),
    resp("MSET", "a", "1", "b", "2"), resp("MSET", "a", "1", "b"), resp("MGET", "a", "b", "z"),
    resp("DBSIZE"), resp("DBSIZE", "x"), resp("FLUSHALL", "bogus"), resp("FLUSHALL"),
    resp("DBSIZE"), resp("DEBUG", "SLEEP", "0"), resp("DEBUG", "SLEEP", "0.01"),
    resp("NOSUCH"), resp("nosuch", "a", "b"), resp("nosuch", "a\r\nb"),
    resp("nosuch", "y" * 200, "z"), resp("SELECT", "0"),
    b"PING\r\n", b"ECHO \"a b\"\r\n", b"SET 'x y' \"1\\t2\"\r\n", b"GET 'x y'\r\n", b"\r\n",
    b"*0\r\n", b"*-1\r\n", resp("GET", "x y"),
    resp("CONFIG", "GET", "save"), resp("CONFIG", "GET", "appendonly"),
]

PROTO_ERRORS = [
    b"*1\r\n$abc\r\n", b"*1\r\n$-1\r\n", b"*1\r\n$536870913\r\n", b"*x\r\n", b"*1\r\nfoo\r\n",
    b"*2\r\n$3\r\nGET\r\n:1\r\n", b"SET \"unbalanced\r\n", b"*3000000000\r\n",
    resp("SET", "a", "1") + b"*1\r\n$-5\r\n" + resp("GET", "a"),
]


def test_replies_as_redis_server():
    ours, theirs = Server(), redis_server()
    try:
        for what in ("commands", "protocol errors"):
            cases = [b"".join(COMPARED)] if what == "commands" else PROTO_ERRORS
            for data in cases:
                a = raw(ours.port, data)
                b = raw(theirs.port, data)
                i = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]),
                         min(len(a), len(b)))
                assert a == b, (f"{what}: {data[:80]!r}: first difference at byte {i}:\n"
                                f" respd: {a[max(0, i - 80):i + 80]!r}\n"
                                f" redis: {b[max(0, i - 80):i + 80]!r}")
    finally:
        ours.stop()
        theirs.stop()


# ---- hostile or careless clients -------------------------------------------------

def test_bad_clients():
    srv = Server()
    try:
        port = srv.port
        # Partial request, then silence: no reply, the server stays up.
        assert raw(port, b"*2\r\n$3\r\nGET\r\n$5\r\nab", timeout=0.5, shut=False) == b""
        # A 512 MB bulk length is accepted, and costs nothing until bytes come.
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\nxyz")
        time.sleep(0.2)
        s.close()
        # Disconnect mid-pipeline, with slow requests in flight.
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"".join(resp("DEBUG", "SLEEP", "0.01") + resp("INCR", "cut")
                               for _ in range(50)))
            s.close()
        # A client that never reads its replies while others go on.
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(resp("ECHO", "x" * 100000) * 50)
        c = srv.client()
        assert c.ping()
        s.close()
        # The counter is consistent: only whole INCRs, and the keyspace lives.
        time.sleep(0.5)
        assert c.get("k") is None
        assert 0 <= int(c.get("cut") or 0) <= 1000
        # Bulk limit from the command line.
        small = Server(["--proto-max-bulk-len", "10"])
        try:
            assert raw(small.port, resp("SET", "k", "x" * 11)) == \
                b"-ERR Protocol error: invalid bulk length\r\n"
            assert raw(small.port, resp("SET", "k", "x" * 10)) == b"+OK\r\n"
        finally:
            small.stop()
    finally:
        code, err = srv.stop()
    assert code == 0, err


if __name__ == "__main__":
    sys.exit(run_tests(globals(), sys.argv[2:]))
