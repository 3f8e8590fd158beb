#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Mixed pipelined load for respd and redis-server: CONNS connections each
keep one pipeline of DEPTH requests in flight for SECONDS; requests are
SET and GET of fixed-size values, and one in EVERY (0: none) is
`DEBUG SLEEP 0.001`.  With --multi each pipeline is one transaction:
MULTI, the DEPTH requests, EXEC.  Prints requests per second (MULTI and
EXEC not counted).  Every reply is counted by its known size, so a wrong
reply shows up as a stall or an error.

Usage: load.py PORT [--conns 50] [--depth 16] [--every 50] [--seconds 5] [--multi]
"""
import argparse
import selectors
import socket
import sys
import time


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--depth", type=int, default=16)
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--multi", action="store_true")
    o = ap.parse_args()

    # One batch per connection: DEPTH requests, the same mix every time.
    reqs = []
    for i in range(o.depth * 50):
        if o.every and i % o.every == o.every - 1:
            reqs.append(resp(b"DEBUG", b"SLEEP", b"0.001"))
        elif i % 2:
            reqs.append(resp(b"SET", b"key:%03d" % (i % 100), b"xxx"))
        else:
            reqs.append(resp(b"GET", b"key:%03d" % (i % 100)))
    batches = []
    for b in range(50):
        chunk = reqs[b * o.depth:(b + 1) * o.depth]
        size = sum(5 if r.startswith(b"*3\r\n$5\r\nDEBUG") or r.startswith(b"*3\r\n$3\r\nSET")
                   else 9 for r in chunk)
        data = b"".join(chunk)
        if o.multi:
            # +OK, +QUEUED for each, then EXEC's array of the replies.
            data = resp(b"MULTI") + data + resp(b"EXEC")
            size += 5 + 9 * len(chunk) + len(b"*%d\r\n" % len(chunk))
        batches.append((data, size))
    setup = socket.create_connection(("127.0.0.1", o.port))
    setup.sendall(b"".join(resp(b"SET", b"key:%03d" % k, b"xxx") for k in range(100)))
    got = 0
    while got < 500:
        got += len(setup.recv(65536))
    setup.close()

    sel = selectors.DefaultSelector()
    state = {}
    for c in range(o.conns):
        s = socket.create_connection(("127.0.0.1", o.port))
        s.setblocking(False)
        state[s] = [c % 50, 0]  # batch index, reply bytes still due
        sel.register(s, selectors.EVENT_READ)
    done = 0
    start = time.monotonic()
    end = start + o.seconds
    for s, st in state.items():
        data, st[1] = batches[st[0]]
        s.sendall(data)
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            st = state[s]
            n = len(s.recv(1 << 20))
            if n == 0:
                sys.exit("load.py: server closed a connection")
            st[1] -= n
            if st[1] < 0:
                sys.exit("load.py: unexpected reply bytes")
            if st[1] == 0:
                done += o.depth
                st[0] = (st[0] + 1) % 50
                data, st[1] = batches[st[0]]
                s.sendall(data)
    elapsed = time.monotonic() - start
    print(f"{done / elapsed:.0f}")


main()
