#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""examples/respd against clients from Debian's packages: redis-cli
(interactive on a pseudo-terminal, and --pipe), redis-benchmark (-P 16, many
connections) and python3-redis pipelines of thousands of mixed commands with
random DEBUG SLEEPs on many connections at once, each reply checked against
the request; python3-redis transactions (its default pipeline, WATCH retry
loops against other connections).  Replies byte for byte against Debian's
redis-server: commands, transactions, stray bytes, protocol errors, AUTH
with and without a password, protected mode's refusal (from 127.0.0.2, and
from a non-loopback address in a network namespace the test makes, with a
veth pair; skipped where namespaces cannot be made).  Expiry (lazy and
active), INFO's sections, CLIENT names, KEYS and SCAN, partial requests,
disconnects mid-pipeline, the bulk length limit, the command line and the
clean stop on SIGINT/SIGTERM.

Usage: test_respd.py RESPD [CASE...]
Exit status 77 (skipped) when a client package is missing.
"""
import fnmatch
import os
import pty
import random
import re
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
from respd_client import exchange  # noqa: E402
from runner import Skip, run_tests  # noqa: E402

RESPD = os.path.abspath(sys.argv[1])
CLIENT_PY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "respd_client.py")
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


STARTED = []  # every server process: the last ones standing are killed at the end


def kill_servers():
    for p in STARTED:
        if p.poll() is None:
            p.kill()
            p.wait()


class Server:
    """A respd (or redis-server) process on a free port."""

    def __init__(self, extra=(), threads=4, argv=None):
        self.port = free_port()
        if argv is None:
            argv = [RESPD, "--port", str(self.port), "--threads", str(threads), *extra]
        else:
            argv = [a.replace("PORT", str(self.port)) for a in argv]
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        STARTED.append(self.p)
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
    return exchange("127.0.0.1", port, data, timeout, shut)


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


# ---- command line -------------------------------------------------------------

def test_cli():
    p = subprocess.run([RESPD, "--help"], capture_output=True, text=True)
    for opt in ("--port", "--threads", "--bind", "--requirepass", "--protected-mode"):
        assert p.returncode == 0 and opt in p.stdout, (opt, p)
    p = subprocess.run([RESPD, "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("respd "), p
    for bad in (["--port", "0"], ["--port", "abc"], ["--threads", "0"], ["--bogus"], ["x"],
                ["--protected-mode", "maybe"], ["--protected-mode"], ["--bind"],
                ["--bind", "localhost"], ["--bind", "127.0.0.1", "10.0.0.300"],
                ["--bind", *[f"127.0.0.{i}" for i in range(1, 18)]], ["--requirepass"],
                ["--bind", "127.0.0.1", "x", "--port", "1"]):
        p = subprocess.run([RESPD, *bad], capture_output=True, text=True)
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith("respd"), (bad, p)
    # A port in use: one line, non-zero.
    srv = Server()
    try:
        p = subprocess.run([RESPD, "--port", str(srv.port)], capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 1 and "cannot listen on 127.0.0.1" in p.stderr, p
    finally:
        code, err = srv.stop()
    # The start line names the addresses: 127.0.0.1 (and ::1 where IPv6 is).
    assert code == 0 and f"listening on port {srv.port} (127.0.0.1" in err, err


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
    resp("DEBUG", "BOGUS"), resp("DEBUG", "SLEEP"),
    resp("NOSUCH"), resp("nosuch", "a", "b"), resp("nosuch", "a\r\nb"),
    resp("nosuch", "y" * 200, "z"), resp("SELECT", "0"),
    b"PING\r\n", b"ECHO \"a b\"\r\n", b"SET 'x y' \"1\\t2\"\r\n", b"GET 'x y'\r\n", b"\r\n",
    b"*0\r\n", b"*-1\r\n", resp("GET", "x y"),
    resp("CONFIG", "GET", "save"), resp("CONFIG", "GET", "appendonly"),
    # Strings.
    resp("APPEND", "ap", "ab"), resp("APPEND", "ap", "cd"), resp("GET", "ap"),
    resp("STRLEN", "ap"), resp("STRLEN", "nokey"), resp("APPEND", "ap"), resp("STRLEN"),
    resp("DECR", "dc"), resp("DECRBY", "dc", "5"), resp("DECRBY", "dc", "-9223372036854775808"),
    resp("DECRBY", "dc", "x"), resp("TYPE", "ap"), resp("TYPE", "nokey"),
    resp("MSET", "m1", "a", "m2", "b"), resp("MGET", "m1", "m2", "m3"),
    # SET's options: a unit may come again, the last wins; KEEPTTL; EXAT, PXAT.
    resp("SET", "k", "v", "EX", "10", "EX", "20"), resp("TTL", "k"),
    resp("SET", "k", "v", "PX", "5000", "KEEPTTL"), resp("SET", "k", "v", "KEEPTTL", "EX", "10"),
    resp("SET", "k", "v2", "KEEPTTL"), resp("TTL", "k"), resp("SET", "k", "v3"), resp("TTL", "k"),
    resp("SET", "k", "v", "EXAT", "1"), resp("GET", "k"), resp("EXISTS", "k"),
    resp("SET", "k", "v", "PXAT", "99999999999999"), resp("GET", "k"),
    resp("SET", "k", "v", "EX", "9223372036854775807"),
    resp("SET", "k", "v", "PX", "9223372036854775807"), resp("SET", "k", "v", "EXAT", "0"),
    resp("SET", "k", "v", "XX", "GET"), resp("SET", "nx", "v", "NX", "GET"),
    resp("SET", "k", "v", "KEEPTTL", "KEEPTTL"), resp("SET", "k", "v", "EX", "10", "KEEPTTL"),
    # The TTL commands.
    resp("SET", "e", "1"), resp("TTL", "e"), resp("PTTL", "e"), resp("TTL", "nokey"),
    resp("PTTL", "nokey"), resp("EXPIRE", "e", "100"), resp("TTL", "e"),
    resp("EXPIRE", "e", "50", "NX"), resp("EXPIRE", "e", "50", "XX"), resp("TTL", "e"),
    resp("EXPIRE", "e", "40", "GT"), resp("EXPIRE", "e", "60", "GT"),
    resp("EXPIRE", "e", "70", "LT"), resp("EXPIRE", "e", "30", "LT"), resp("TTL", "e"),
    resp("EXPIRE", "e", "1", "NX", "XX"), resp("EXPIRE", "e", "1", "GT", "LT"),
    resp("EXPIRE", "e", "1", "NX", "GT"), resp("EXPIRE", "e", "1", "BOGUS"),
    resp("EXPIRE", "e", "1", "nx\r\n"), resp("EXPIRE", "e", "x"),
    resp("EXPIRE", "e", "9223372036854775807"), resp("EXPIRE", "e", "-9223372036854775808"),
    resp("PEXPIRE", "e", "9223372036854775807"), resp("EXPIRE", "nokey", "10"),
    resp("PERSIST", "e"), resp("PERSIST", "e"), resp("TTL", "e"), resp("PERSIST", "nokey"),
    resp("EXPIRE", "e", "10", "XX"), resp("EXPIRE", "e", "10", "GT"),
    resp("PEXPIRE", "e", "100000"), resp("TTL", "e"), resp("EXPIREAT", "e", "1"),
    resp("EXISTS", "e"), resp("SET", "e", "1"), resp("EXPIRE", "e", "-5"), resp("GET", "e"),
    resp("SET", "e", "1"), resp("PEXPIREAT", "e", "1"), resp("TTL", "e"),
    resp("SET", "e", "1", "EX", "100"), resp("INCR", "e"), resp("APPEND", "e", "0"),
    resp("TTL", "e"), resp("MSET", "e", "1"), resp("TTL", "e"),
    resp("EXPIRE", "e"), resp("TTL"), resp("PERSIST"), resp("PEXPIREAT", "e"),
    # KEYS and SCAN on a keyspace of one key (the order of more keys is the hash's).
    resp("FLUSHALL"), resp("KEYS", "*"), resp("SCAN", "0"), resp("SET", "only", "1"),
    resp("KEYS", "*"), resp("KEYS", "o?ly"), resp("KEYS", "x*"), resp("KEYS", "[a-o]nly"),
    resp("KEYS", "[^o]nly"), resp("KEYS", "\\only"), resp("SCAN", "0"),
    resp("SCAN", "0", "MATCH", "on*"), resp("SCAN", "0", "MATCH", "x*", "COUNT", "100"),
    resp("SCAN", "0", "TYPE", "string"), resp("SCAN", "0", "TYPE", "hash"),
    resp("SCAN", "0", "count", "10", "match", "*"), resp("SCAN", "x"), resp("SCAN", " 0"),
    resp("SCAN", "+0"), resp("SCAN", ""), resp("SCAN", "0", "COUNT", "0"),
    resp("SCAN", "0", "COUNT", "x"), resp("SCAN", "0", "MATCH"), resp("SCAN", "0", "BOGUS", "1"),
    resp("KEYS"), resp("SCAN"), resp("DBSIZE"), resp("SET", "gone", "1", "PXAT", "1"),
    resp("KEYS", "*"), resp("SCAN", "0"), resp("INFO", "bogus"),
    # CLIENT and its names.
    resp("CLIENT", "GETNAME"), resp("CLIENT", "SETNAME", "my-name"), resp("CLIENT", "GETNAME"),
    resp("CLIENT", "SETNAME", "a b"), resp("CLIENT", "SETNAME", "a\nb"),
    resp("CLIENT", "SETNAME", "caf\xc3\xa9"), resp("CLIENT", "GETNAME"),
    resp("CLIENT", "SETNAME", ""), resp("CLIENT", "GETNAME"), resp("CLIENT", "SETNAME"),
    resp("CLIENT", "GETNAME", "x"), resp("CLIENT", "FOO"), resp("CLIENT", "foo\r\nbar"),
    resp("CLIENT"), resp("CLIENT", "LIST", "BOGUS"), resp("CLIENT", "LIST", "TYPE", "bogus"),
    resp("CLIENT", "LIST", "TYPE", "master"), resp("CLIENT", "LIST", "ID", "x"),
    resp("CLIENT", "LIST", "ID", "999999"), resp("CONFIG"), resp("CONFIG", "GET"),
    resp("CONFIG", "BOGUS"),
    # AUTH and HELLO with no password set.
    resp("AUTH", "x"), resp("AUTH", "default", "x"), resp("AUTH", "bob", "x"),
    resp("AUTH", "a", "b", "c"), resp("AUTH"), resp("HELLO", "4"), resp("HELLO", "x"),
    resp("HELLO", "2", "BOGUS"), resp("HELLO", "2", "AUTH", "default"),
    resp("HELLO", "2", "AUTH", "bob", "x"), resp("HELLO", "2", "SETNAME", "a b"),
    # Transactions.
    resp("MULTI"), resp("SET", "t", "1"), resp("INCR", "t"), resp("GET", "t"), resp("EXEC"),
    resp("MULTI"), resp("MULTI"), resp("SET", "t", "1"), resp("EXEC"),
    resp("EXEC"), resp("DISCARD"), resp("MULTI", "x"), resp("EXEC", "x"), resp("WATCH"),
    resp("UNWATCH", "x"),
    resp("MULTI"), resp("WATCH", "t"), resp("EXEC"),
    resp("MULTI"), resp("SET", "t"), resp("SET", "t", "2"), resp("EXEC"), resp("GET", "t"),
    resp("MULTI"), resp("NOSUCH", "t"), resp("EXEC"),
    resp("MULTI"), resp("INCR", "s"), resp("SET", "s", "x"), resp("INCR", "s"), resp("GET", "s"),
    resp("EXEC"),
    resp("MULTI"), resp("SET", "q", "1"), resp("DISCARD"), resp("GET", "q"), resp("DISCARD"),
    resp("MULTI"), resp("EXEC"),
    resp("MULTI"), resp("CLIENT", "FOO"), resp("EXEC"),
    resp("MULTI"), resp("CLIENT", "SETNAME"), resp("EXEC"),
    resp("MULTI"), resp("CLIENT"), resp("EXEC"),
    resp("MULTI"), resp("SET", "k", "v", "BOGUS"), resp("EXEC"),
    resp("MULTI"), resp("EXEC", "extra"), resp("MULTI"), resp("DISCARD", "extra"), resp("EXEC"),
    resp("MULTI"), resp("SELECT", "0"), resp("DEBUG", "SLEEP", "0.01"),
    resp("AUTH", "x"), resp("CLIENT", "SETNAME", "in-multi"), resp("EXEC"),
    resp("CLIENT", "GETNAME"),
    resp("WATCH", "w"), resp("SET", "w", "1"), resp("MULTI"), resp("GET", "w"), resp("EXEC"),
    resp("WATCH", "w2"), resp("MULTI"), resp("GET", "w2"), resp("EXEC"),
    resp("WATCH", "w3"), resp("UNWATCH"), resp("SET", "w3", "1"), resp("MULTI"),
    resp("GET", "w3"), resp("EXEC"),
    resp("SET", "w4", "1"), resp("WATCH", "w4"), resp("SET", "w4", "1", "NX"), resp("MULTI"),
    resp("GET", "w4"), resp("EXEC"),
    resp("WATCH", "w5"), resp("DEL", "w5"), resp("MULTI"), resp("GET", "w5"), resp("EXEC"),
    resp("SET", "w6", "1"), resp("WATCH", "w6"), resp("FLUSHALL"), resp("MULTI"),
    resp("GET", "w6"), resp("EXEC"),
    resp("WATCH", "w7"), resp("FLUSHALL"), resp("MULTI"), resp("GET", "w7"), resp("EXEC"),
    # DEBUG SLEEP runs while respd reads on: a wide margin.
    resp("SET", "w8", "1", "PX", "100"), resp("WATCH", "w8"), resp("DEBUG", "SLEEP", "0.5"),
    resp("MULTI"), resp("GET", "w8"), resp("EXEC"),
    resp("SET", "w9", "1"), resp("WATCH", "w9"), resp("EXPIRE", "w9", "100"), resp("MULTI"),
    resp("GET", "w9"), resp("EXEC"),
    resp("SET", "w10", "1"), resp("WATCH", "w10"), resp("PERSIST", "w10"), resp("MULTI"),
    resp("GET", "w10"), resp("EXEC"),
    resp("SET", "w11", "1"), resp("WATCH", "w11"), resp("APPEND", "w11", "x"), resp("MULTI"),
    resp("EXEC"),
    resp("WATCH", "w12"), resp("MULTI"), resp("SET", "w12", "x"), resp("EXEC"), resp("MULTI"),
    resp("GET", "w12"), resp("EXEC"),
    resp("WATCH", "w13", "w13", "w14"), resp("WATCH", "w14"), resp("INCR", "w14"),
    resp("MULTI"), resp("EXEC"), resp("MULTI"), resp("EXEC"),
    resp("MULTI"), resp("PING"), b"ECHO inline\r\n", resp("QUIT"),
]

# Each on its own connection: bytes before, inside or instead of a request.
JUNK = [
    b"\x0b\r\n" + resp("PING"), b"\x0c\r\n" + resp("PING"), b"\t \x0b\x0c\r\n" + resp("PING"),
    b"\x00\r\n" + resp("PING"), b"PI\x00NG\r\n" + resp("PING"), b"PING\x00x\r\n",
    b"\r\x00\n" + resp("PING"), b"\x00" * 10 + b"\r\n" + resp("PING"),
    b"*1\x00\r\n$4\r\nPING\r\n", b"*1\r\n$4\x00\r\nPING\r\n", b"*1\r\nfoo",
    b"\x00" + b"x" * 70000 + b"\r\n", b"*1\r\n\r\n",
    b"ECHO \"\\x41\\x4g\\x\"\r\n", b"ECHO a\"b c\"\r\n", b"ECHO \"a\"\x0bb\r\n",
    b"ECHO 'a'\x0cb\r\n", b"ECHO a'b'c\r\n", b"ECHO a\x0bb\r\n", b"ECHO ''\r\n",
    b"ECHO \"\"x\r\n", b"ECHO \"\\q\\'\"\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\n\r\n", resp("post", "x"), b"Host: x\r\n",
]

PROTO_ERRORS = [
    b"*1\r\n$abc\r\n", b"*1\r\n$-1\r\n", b"*1\r\n$536870913\r\n", b"*x\r\n", b"*1\r\nfoo\r\n",
    b"*2\r\n$3\r\nGET\r\n:1\r\n", b"SET \"unbalanced\r\n", b"*3000000000\r\n",
    resp("SET", "a", "1") + b"*1\r\n$-5\r\n" + resp("GET", "a"),
]


def compare(what, data, ours, theirs, timeout=5.0):
    a = raw(ours.port, data, timeout=timeout)
    b = raw(theirs.port, data, timeout=timeout)
    i = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
    assert a == b, (f"{what}: {data[:80]!r}: first difference at byte {i}:\n"
                    f" respd: {a[max(0, i - 80):i + 80]!r}\n"
                    f" redis: {b[max(0, i - 80):i + 80]!r}")


def test_replies_as_redis_server():
    ours, theirs = Server(), redis_server()
    try:
        compare("commands", b"".join(COMPARED), ours, theirs)
        for data in PROTO_ERRORS:
            compare("protocol errors", data, ours, theirs)
        # A line that holds a NUL byte has no end for Redis: nothing comes
        # back, and nothing after it runs (a short wait shows it).
        for data in JUNK:
            compare("junk", data, ours, theirs, timeout=1.0)
    finally:
        ours.stop()
        theirs.stop()


# ---- transactions ------------------------------------------------------------------

def test_redis_py_transactions():
    srv = Server()
    try:
        r = srv.client()
        # redis-py's default pipeline is MULTI ... EXEC.
        p = r.pipeline()
        p.set("a", "1").incr("a").get("a").execute_command("DEBUG", "SLEEP", "0.01")
        assert p.execute() == [True, 2, b"2", b"OK"]
        # An error inside EXEC is that command's reply; one while queueing aborts.
        p = r.pipeline()
        p.set("s", "x").incr("s").get("s")
        assert [type(x) if isinstance(x, Exception) else x
                for x in p.execute(raise_on_error=False)] == [True, redis.ResponseError, b"x"]
        p = r.pipeline()
        p.set("s", "y").execute_command("NOSUCH")
        with raises(redis.ResponseError, "unknown command 'NOSUCH'"):
            p.execute()
        assert r.get("s") == b"x"
        # WATCH: a change from another connection makes EXEC return nil, and
        # r.transaction() tries again.
        other = srv.client()
        r.set("balance", 100)
        calls = []

        def pay(pipe):
            calls.append(1)
            balance = int(pipe.get("balance"))
            if len(calls) == 1:
                other.incrby("balance", 50)  # between WATCH and EXEC
            pipe.multi()
            pipe.set("balance", balance - 30)

        assert r.transaction(pay, "balance") == [True]
        assert len(calls) == 2 and int(r.get("balance")) == 120
        with r.pipeline() as pipe:
            pipe.watch("balance")
            other.set("balance", 0)
            pipe.multi()
            pipe.set("balance", 1)
            with raises(redis.WatchError, ""):
                pipe.execute()
        assert int(r.get("balance")) == 0
    finally:
        code, err = srv.stop()
    assert code == 0, err


def test_watch_retry_loop():
    """Threads add to one counter with WATCH/GET/MULTI/SET/EXEC, retrying on
    a nil EXEC: no increment is lost, and some retried."""
    srv = Server()
    try:
        nthreads, n = 8, int(150 * SCALE)
        retries = [0] * nthreads
        errors = []

        def worker(i):
            try:
                c = srv.client()
                with c.pipeline() as pipe:
                    done = 0
                    while done < n:
                        try:
                            pipe.watch("counter")
                            v = int(pipe.get("counter") or 0)
                            pipe.multi()
                            pipe.set("counter", v + 1)
                            pipe.execute()
                            done += 1
                        except redis.WatchError:
                            retries[i] += 1
            except Exception as e:  # noqa: BLE001 - reported by the main thread
                errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(nthreads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[:3]
        assert int(srv.client().get("counter")) == nthreads * n
        assert sum(retries) > 0, "no transaction ever conflicted: the test tested nothing"
    finally:
        code, err = srv.stop()
    assert code == 0, err


def test_transaction_is_one_unit():
    """A transaction's commands run together: another connection never sees
    the state between two of them, even with a DEBUG SLEEP queued between."""
    srv = Server()
    try:
        r = srv.client()
        r.set("k", "before")
        seen = []
        stop = threading.Event()

        def watcher():
            c = srv.client()
            try:
                while not stop.is_set():
                    seen.append(c.get("k"))
            except redis.RedisError as e:
                seen.append(repr(e))

        def wait_for(what):
            deadline = time.time() + 60
            while what not in seen:
                assert time.time() < deadline, (what, set(seen))
                time.sleep(0.01)

        t = threading.Thread(target=watcher)
        t.start()
        wait_for(b"before")
        p = r.pipeline()
        p.set("k", "halfway").execute_command("DEBUG", "SLEEP", "0.3").set("k", "after")
        during = len(seen)
        assert p.execute() == [True, b"OK", True]
        during = len(seen) - during
        wait_for(b"after")
        stop.set()
        t.join()
        assert b"halfway" not in seen and set(seen) == {b"before", b"after"}, set(seen)
        assert during >= 3, f"{during} reads while the transaction ran: the test tested nothing"
    finally:
        srv.stop()


# ---- expiry, INFO, CLIENT, KEYS and SCAN --------------------------------------------

def test_expiry():
    for srv in (Server(), redis_server()):
        try:
            r = srv.client()
            r.set("forever", "1")
            r.set("ttl", "1", ex=100)
            assert 99000 < r.pttl("ttl") <= 100000 and r.ttl("ttl") == 100
            p = r.pipeline(transaction=False)
            for i in range(300):
                p.set(f"short{i}", "x", px=1000)
            p.execute()
            info = r.info("keyspace")["db0"]
            assert info["keys"] == 302 and info["expires"] == 301, info
            # Lazy: a read of an expired key does not find it.
            r.set("lazy", "1", px=50)
            time.sleep(0.2)
            assert r.get("lazy") is None and r.ttl("lazy") == -2 and r.exists("lazy") == 0
            # Active: the others go without being read (DBSIZE counts keys
            # not yet deleted, as Redis's).
            deadline = time.time() + 10
            while r.dbsize() > 2:
                assert time.time() < deadline, f"{r.dbsize()} keys left: no active expiry"
                time.sleep(0.1)
            assert r.info("stats")["expired_keys"] == 301
            info = r.info("keyspace")["db0"]
            assert info["keys"] == 2 and info["expires"] == 1, info
            assert r.ttl("forever") == -1 and r.get("forever") == b"1"
        finally:
            code, _ = srv.stop()
            assert code == 0


def bulk_text(reply):
    """The text of a bulk string reply, checked whole."""
    head, _, rest = reply.partition(b"\r\n")
    assert head.startswith(b"$") and len(rest) == int(head[1:]) + 2 and rest.endswith(b"\r\n"), \
        reply[:200]
    return rest[:-2].decode()


def info_sections(text):
    """INFO's text: [(section, [(field, value)])] in order."""
    out = []
    for line in text.split("\r\n"):
        if line.startswith("# "):
            out.append((line[2:], []))
        elif line:
            k, _, v = line.partition(":")
            out[-1][1].append((k, v))
    return out


def test_info():
    ours, theirs = Server(), redis_server()
    try:
        clients = [ours.client() for _ in range(3)]
        for c in clients:
            c.ping()  # connected
        clients[0].set("a", "1")
        clients[0].set("b", "1", ex=100)
        clients[0].get("a")
        clients[0].get("nokey")
        theirs.client().set("a", "1")
        for args in ((), ("server",), ("clients",), ("stats",), ("keyspace",), ("all",),
                     ("keyspace", "server"), ("default",), ("STATS", "nosuch")):
            a = info_sections(bulk_text(raw(ours.port, resp("INFO", *args))))
            b = dict(info_sections(bulk_text(raw(theirs.port, resp("INFO", *args)))))
            names = [n for n, _ in a]
            assert names and all(n in b for n in names), (args, names, list(b))
            # Redis's section order.
            assert names == [n for n in b if n in names], (args, names)
            for section, fields in a:
                theirs_fields = dict(b[section])
                for k, v in fields:
                    if section == "Keyspace":
                        assert re.fullmatch(r"keys=\d+,expires=\d+,avg_ttl=\d+", v), (k, v)
                        continue
                    assert k in theirs_fields, (section, k)
                    pattern = r"-?\d+" if re.fullmatch(r"-?\d+", theirs_fields[k]) else r".+"
                    assert re.fullmatch(pattern, v), (section, k, v, theirs_fields[k])
        info = clients[2].info()
        assert info["connected_clients"] == 3 and info["tcp_port"] == ours.port, info
        assert info["keyspace_hits"] == 1 and info["keyspace_misses"] == 1, info
        assert info["db0"]["keys"] == 2 and info["db0"]["expires"] == 1
        assert info["process_id"] == ours.p.pid and info["redis_mode"] == "standalone"
        assert raw(ours.port, resp("INFO", "nosuch")) == b"$0\r\n\r\n"
    finally:
        ours.stop()
        theirs.stop()


def test_client_names():
    ours, theirs = Server(), redis_server()
    try:
        a, b = ours.client(), ours.client()
        assert a.client_getname() is None
        assert a.client_setname("worker-1") and a.client_getname() == "worker-1"
        b.client_setname("worker-2")
        ids = {a.client_id(): "worker-1", b.client_id(): "worker-2"}
        listed = {c["id"]: c["name"] for c in a.client_list()}
        assert {int(k): v for k, v in listed.items() if int(k) in ids} == ids, listed
        line = a.execute_command("CLIENT", "LIST").decode().splitlines()[-1]
        assert "name=worker-2 " in line and "cmd=client|id" in line, line
        assert a.execute_command("CLIENT", "INFO").decode().startswith(f"id={a.client_id()} ")
        # Fields in Redis's order.
        ref = theirs.client().execute_command("CLIENT", "LIST").decode().split()
        ref_keys = [f.split("=")[0] for f in ref]
        keys = [f.split("=")[0] for f in line.split()]
        assert keys == [k for k in ref_keys if k in keys], (keys, ref_keys)
        # MULTI shows in the flags and the queue length.
        b_id = b.client_id()
        b.execute_command("MULTI")
        b.execute_command("PING")
        mine = [c for c in a.client_list() if int(c["id"]) == b_id][0]
        assert mine["flags"] == "x" and mine["multi"] == "1", mine
        b.execute_command("DISCARD")
        # HELLO SETNAME names too; a closed client leaves the list.
        reply = raw(ours.port, resp("HELLO", "2", "SETNAME", "hello-name") +
                    resp("CLIENT", "GETNAME"))
        assert reply.endswith(b"\r\n$10\r\nhello-name\r\n"), reply
        deadline = time.time() + 10
        while any(x["name"] == "hello-name" for x in a.client_list()):
            assert time.time() < deadline
            time.sleep(0.05)
    finally:
        ours.stop()
        theirs.stop()


def test_keys_and_scan():
    ours, theirs = Server(), redis_server()
    try:
        names = [f"key:{i}" for i in range(1000)] + ["other", "k[1]", "x?y"]
        for srv in (ours, theirs):
            r = srv.client()
            r.mset({k: "v" for k in names})
            for pattern in ("*", "key:1*", "key:?", "key:[12]?", "key:[^0-8]*", "k\\[1]", "x\\?y",
                            "nomatch*"):
                want = sorted(k for k in names if fnmatch.fnmatchcase(k, pattern.replace(
                    "[^", "[!").replace("\\[", "[[]").replace("\\?", "[?]")))
                assert sorted(x.decode() for x in r.keys(pattern)) == want, pattern
                got = [x.decode() for x in r.scan_iter(match=pattern, count=7)]
                assert sorted(set(got)) == want, pattern
        # A key present from the scan's start to its end is returned, however
        # the keyspace grows in between.
        r = ours.client()
        seen, cursor, added = set(), 0, 0
        while True:
            cursor, keys = r.scan(cursor, count=10)
            seen.update(k.decode() for k in keys)
            if added < 8000:  # the table doubles three times, then the scan ends
                r.mset({f"new:{added + i}": "v" for i in range(200)})
                added += 200
            if cursor == 0:
                break
        assert set(names) <= seen, sorted(set(names) - seen)[:5]
        assert r.dbsize() == len(names) + added
    finally:
        ours.stop()
        theirs.stop()


# ---- safe by default: addresses, password, protected mode ----------------------------

AUTH_COMPARED = [
    resp("PING"), resp("GET", "k"), resp("nosuch", "a"), resp("GET"), resp("AUTH", "x"),
    resp("AUTH", "default", "x"), resp("AUTH", "bob", "sekret"), resp("AUTH", "a", "b", "c"),
    resp("HELLO"), resp("HELLO", "2", "AUTH", "default", "bad"), resp("HELLO", "2", "SETNAME", "x"),
    resp("MULTI"), resp("EXEC"), resp("DISCARD"), resp("WATCH", "a"), resp("CLIENT", "GETNAME"),
    resp("INFO"), resp("SET", "a", "1"), b"PING\r\n", b"AUTH x\r\n",
    resp("AUTH", "sekret"), resp("PING"), resp("AUTH", "default", "sekret"),
    resp("AUTH", "x"), resp("PING"), resp("MULTI"), resp("AUTH", "bad"), resp("SET", "a", "1"),
    resp("EXEC"), resp("GET", "a"), resp("ECHO", "y" * 20000),
    resp(*["ECHO"] * 11), resp("QUIT"),
]

AUTH_SEPARATE = [
    b"*11\r\n", b"*10\r\n", b"*1\r\n$16385\r\n", b"*1\r\n$16384\r\n",
    resp("AUTH", "sekret") + b"*11\r\n$4\r\nECHO\r\n" + b"$1\r\nx\r\n" * 10,
    resp("AUTH", "sekret") + resp("ECHO", "z" * 20000),
    resp("AUTH", "default", "sekret") + resp("CLIENT", "SETNAME", "n") + resp("CLIENT", "GETNAME"),
    resp("HELLO", "2", "AUTH", "default", "sekret", "SETNAME", "a b") + resp("PING"),
    resp("AUTH", "wrong") + b"*11\r\n",
    b"AUTH sekret\r\n" + resp("ECHO", "z" * 20000),
]


def test_auth_as_redis_server():
    ours = Server(["--requirepass", "sekret"])
    theirs = Server(argv=["redis-server", "--port", "PORT", "--save", "", "--appendonly", "no",
                          "--bind", "127.0.0.1", "--requirepass", "sekret"])
    try:
        compare("commands", b"".join(AUTH_COMPARED), ours, theirs)
        for data in AUTH_SEPARATE:
            compare("unauthenticated", data, ours, theirs)
        # python3-redis, as a program would use it.
        for c in (ours, theirs):
            with raises(redis.AuthenticationError, "Authentication required"):
                c.client().ping()
            with raises(redis.RedisError, "invalid username-password pair"):
                c.client(password="wrong").ping()
            assert c.client(password="sekret").ping()
            assert c.client(username="default", password="sekret").ping()
    finally:
        ours.stop()
        theirs.stop()


class raises:
    """with raises(E, text): the block must raise an E whose message holds text."""

    def __init__(self, exc, text):
        self.exc, self.text = exc, text

    def __enter__(self):
        return self

    def __exit__(self, typ, val, tb):
        assert typ is not None and issubclass(typ, self.exc) and self.text in str(val), \
            f"{self.exc.__name__} ({self.text}) not raised: {val!r}"
        return True


def test_protected_mode_on_loopback_aliases():
    """Redis lets in 127.0.0.1 and ::1 only: 127.0.0.2 (loopback too) is refused."""
    ours, theirs = Server(), redis_server()
    try:
        got = [exchange("127.0.0.1", srv.port, shut=False, src="127.0.0.2")
               for srv in (ours, theirs)]
        assert got[0] == got[1] and got[0].startswith(b"-DENIED Redis is running in protected"), got
        info = ours.client().info("stats")
        assert info["rejected_connections"] == 1, info
        open_ = Server(["--protected-mode", "no"])
        auth = Server(["--requirepass", "pw"])
        try:
            assert raw(open_.port, resp("PING")) == b"+PONG\r\n"
            for srv, want in ((open_, b"+PONG\r\n"),
                              (auth, b"-NOAUTH Authentication required.\r\n")):
                assert exchange("127.0.0.1", srv.port, resp("PING"), src="127.0.0.2") == want
        finally:
            open_.stop()
            auth.stop()
    finally:
        ours.stop()
        theirs.stop()


class Netns:
    """A network namespace of its own, with a veth pair inside it: 192.0.2.1
    and 192.0.2.2 (TEST-NET-1) are its non-loopback addresses.  No traffic
    leaves it."""

    SERVER, CLIENT = "192.0.2.1", "192.0.2.2"

    def __init__(self):
        self.name = f"respd-test-{os.getpid()}"
        self.procs = []
        if not shutil.which("ip"):
            raise Skip("no ip command (iproute2)")
        p = subprocess.run(["ip", "netns", "add", self.name], capture_output=True, text=True)
        if p.returncode:
            raise Skip(f"cannot create a network namespace: {p.stderr.strip()}")
        try:
            for cmd in (["link", "set", "lo", "up"],
                        ["link", "add", "rd0", "type", "veth", "peer", "name", "rd1"],
                        ["addr", "add", self.SERVER + "/24", "dev", "rd0"],
                        ["addr", "add", self.CLIENT + "/24", "dev", "rd1"],
                        ["link", "set", "rd0", "up"], ["link", "set", "rd1", "up"]):
                p = subprocess.run(["ip", "-n", self.name, *cmd], capture_output=True, text=True)
                if p.returncode:
                    raise Skip(f"ip {' '.join(cmd)}: {p.stderr.strip()}")
            # The addresses are usable once duplicate address detection is done.
            deadline = time.time() + 10
            while "tentative" in subprocess.run(["ip", "-n", self.name, "addr"],
                                                capture_output=True, text=True).stdout:
                assert time.time() < deadline, "addresses still tentative"
                time.sleep(0.1)
        except BaseException:
            self.close()
            raise

    def client(self, host, port, data=b"", src=""):
        """respd_client.py inside the namespace: the reply, or "REFUSED"."""
        p = subprocess.run(["ip", "netns", "exec", self.name, "/usr/bin/python3", CLIENT_PY,
                            host, str(port), data.hex(), src],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        out = p.stdout.strip()
        return out if out == "REFUSED" else bytes.fromhex(out)

    def server(self, argv, port, ready_host="127.0.0.1"):
        p = subprocess.Popen(["ip", "netns", "exec", self.name, *argv],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.procs.append(p)
        deadline = time.time() + 30
        while self.client(ready_host, port) == "REFUSED":
            assert p.poll() is None and time.time() < deadline, p.stderr.read()
            time.sleep(0.1)
        return p

    def close(self):
        for p in self.procs:
            p.terminate()
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


def test_non_loopback_clients():
    ns = Netns()
    try:
        redis_argv = ["redis-server", "--save", "", "--appendonly", "no"]
        ping = resp("PING")
        # Default addresses: 127.0.0.1 and ::1, not the namespace's own.
        ns.server([RESPD, "--port", "7001", "--threads", "1"], 7001)
        assert ns.client(ns.SERVER, 7001, ping) == "REFUSED"
        assert ns.client("127.0.0.1", 7001, ping) == b"+PONG\r\n"
        assert ns.client("::1", 7001, ping) == b"+PONG\r\n"
        # Bound to it, no password: protected mode refuses, with Redis's words.
        for extra, want in (([], None), (["--protected-mode", "no"], b"+PONG\r\n"),
                            (["--requirepass", "sekret"],
                             b"-NOAUTH Authentication required.\r\n+OK\r\n+PONG\r\n")):
            bind = ["--bind", ns.SERVER, "127.0.0.1", *extra]
            ns.server([RESPD, "--port", "7002", "--threads", "1", *bind], 7002)
            ns.server([*redis_argv, "--port", "7003", *bind], 7003)
            data = ping + resp("AUTH", "sekret") + ping if "--requirepass" in extra else ping
            # A refused client sends nothing: it reads the whole refusal.
            sent = b"" if want is None else data
            ours = ns.client(ns.SERVER, 7002, sent, src=ns.CLIENT)
            theirs = ns.client(ns.SERVER, 7003, sent, src=ns.CLIENT)
            assert ours == theirs, (extra, ours, theirs)
            if want is None:
                assert ours.startswith(b"-DENIED Redis is running in protected mode"), ours
                assert ns.client("127.0.0.1", 7002, ping) == b"+PONG\r\n"
                stats = ns.client("127.0.0.1", 7002, resp("INFO", "stats"))
                assert b"rejected_connections:1\r\n" in stats, stats
            else:
                assert ours == want, (extra, ours)
            for p in ns.procs[1:]:
                p.terminate()
                p.wait(timeout=60)
            del ns.procs[1:]
        # Every IPv4 address ('*'): still protected.
        ns.server([RESPD, "--port", "7004", "--threads", "1", "--bind", "*"], 7004)
        assert ns.client(ns.SERVER, 7004, src=ns.CLIENT).startswith(b"-DENIED")
        assert ns.client("::1", 7004, ping) == "REFUSED"
    finally:
        ns.close()


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
    sys.exit(run_tests(globals(), sys.argv[2:], cleanup=kill_servers))
