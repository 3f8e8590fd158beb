#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""nvme_sim end to end: naming order, the seed's figures, bad input, trace.

Usage: test_nvme_sim.py NVME_SIM [CASE...]
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runner import run_tests  # noqa: E402

SIM = sys.argv[1]
SEED = {
    "tcp-0.2ms": {"sync": 352, "async": 248, "chain": 191},
    "tcp-150ms": {"sync": 32375, "async": 2543, "chain": 2431},
}


def run(*args, expect=0):
    p = subprocess.run([SIM, *args], capture_output=True, text=True, timeout=600)
    if p.returncode != expect:
        raise AssertionError(f"nvme_sim {' '.join(args)}: exit {p.returncode}, "
                             f"expected {expect}\n{p.stderr}")
    return p


def runs(*args):
    return json.loads(run("--format", "json", *args).stdout)["runs"]


def by_mode(rs, scan="initial"):
    return {r["mode"]: r for r in rs if r["scan"] == scan}


def check_in_order(r, nsids):
    """Instance k (nvme0nk) names the k-th smallest NSID."""
    assert r["ordered"] and r["inversions"] == 0, r["mode"]
    got = [(d["node"], d["nsid"]) for d in r["devices"]]
    want = [(f"nvme0n{i + 1}", n) for i, n in enumerate(sorted(nsids))]
    assert got == want, f"{r['mode']}: {got[:8]}... != {want[:8]}..."


def test_dense_in_order():
    rs = by_mode(runs("--namespaces", "100"))
    for mode in ("sync", "chain"):
        check_in_order(rs[mode], range(1, 101))
        assert rs[mode]["namespaces"] == 100


def test_sparse_in_order():
    nsids = [1, 2, 5, 100, 333]
    rs = by_mode(runs("--nsids", "1,2,5,100,333"))
    for mode in ("sync", "chain"):
        check_in_order(rs[mode], nsids)
    rs = by_mode(runs("--nsids", "3-40,77,1000-1019", "--mode", "chain"))
    check_in_order(rs["chain"], list(range(3, 41)) + [77] + list(range(1000, 1020)))


def test_rescan():
    rs = runs("--namespaces", "40", "--rescan", "--seed", "7")
    for mode in ("sync", "async", "chain"):
        first = by_mode(rs)[mode]
        second = by_mode(rs, "rescan")[mode]
        before = {d["nsid"]: d["node"] for d in first["devices"]}
        after = {d["nsid"]: d["node"] for d in second["devices"]}
        removed = set(before) - set(after)
        added = set(after) - set(before)
        # A tenth detached, as many new ones attached (the lowest free NSIDs).
        assert len(removed) == 4 and len(added) == 4, (mode, removed, added)
        assert added == {41, 42, 43, 44}, (mode, added)
        # Namespaces that stayed keep their names (validated, not re-added).
        for nsid in set(before) & set(after):
            assert before[nsid] == after[nsid], (mode, nsid)
        # No two namespaces share a node.
        assert len(set(after.values())) == len(after)
        if mode != "async":
            check_in_order(first, range(1, 41))
            # New namespaces are named in NSID order.
            new = sorted(added)
            nodes = [int(after[n].split("n")[-1]) for n in new]
            assert nodes == sorted(nodes), (mode, new, nodes)
            assert second["ordered"]


def test_async_inversions():
    r = by_mode(runs("--mode", "async", "--seed", "1"))["async"]
    assert r["inversions"] > 0 and not r["ordered"], r["inversions"]
    assert sorted(d["nsid"] for d in r["devices"]) == list(range(1, 101))


def check_profile(profile, *extra):
    rs = by_mode(runs("--profile", profile, *extra))
    for mode, seed in SEED[profile].items():
        ratio = rs[mode]["elapsed_ms"] / seed
        tol = 0.20 if (mode == "chain" and profile == "tcp-0.2ms") else 0.15
        print(f"{profile} {mode}: {rs[mode]['elapsed_ms']:.0f} ms, seed {seed} ms, x{ratio:.3f}")
        assert abs(ratio - 1) <= tol, (profile, mode, ratio)
    cr = rs["chain"]["elapsed_ms"] / rs["async"]["elapsed_ms"]
    print(f"{profile} chain/async: {cr:.3f}")
    assert cr <= 1.05, (profile, cr)
    return rs


def test_profile_fast():
    check_profile("tcp-0.2ms")


def test_profile_slow():
    check_profile("tcp-150ms", "--time-scale", "0.01")


def test_time_scale_reports_model_time():
    a = by_mode(runs("--mode", "chain", "--time-scale", "1"))["chain"]["elapsed_ms"]
    b = by_mode(runs("--mode", "chain", "--time-scale", "0.25"))["chain"]["elapsed_ms"]
    assert abs(a / b - 1) < 0.05, (a, b)


def test_per_nsid_latency():
    # One slow namespace holds the chain: everything after it waits.
    rs = by_mode(runs("--namespaces", "10", "--ns-latency", "4=50ms", "--jitter", "0"))
    assert rs["chain"]["elapsed_ms"] > 50
    check_in_order(rs["chain"], range(1, 11))
    # Fully async: the slow one is named last.
    assert rs["async"]["devices"][-1]["nsid"] == 4
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.write("nsid,latency\n# comment\n4, 50ms\n")
    try:
        rs2 = by_mode(runs("--namespaces", "10", "--latency-file", f.name, "--jitter", "0"))
        assert rs2["async"]["devices"][-1]["nsid"] == 4
        assert abs(rs2["chain"]["elapsed_ms"] - rs["chain"]["elapsed_ms"]) < 1
    finally:
        os.unlink(f.name)


def test_text_output():
    out = run("--profile", "tcp-0.2ms", "--mode", "all").stdout
    for s in ("Node                  Generic               Namespace",
              "/dev/nvme0n100        /dev/ng0n100",
              "Synchronous namespace scan:", "Fully async namespace scan:",
              "Async namespace scan with dependency chain:", "chain / async:",
              "seed    352ms"):
        assert s in out, s


def test_bad_input():
    fd, bad_csv = tempfile.mkstemp(suffix=".csv")
    os.write(fd, b"nsid,latency\n3,fast\n")
    os.close(fd)
    cases = [
        (["--bogus"], "--bogus"),
        (["--rtt", "150"], "'150'"),
        (["--rtt", "15parsecs"], "15parsecs"),
        (["--nsids", "1,0,3"], "NSID 0"),
        (["--nsids", "1,x"], "'x'"),
        (["--ns-latency", "7=5"], "'5'"),
        (["--latency-file", "/nonexistent/lat.csv"], "/nonexistent/lat.csv"),
        (["--latency-file", bad_csv], "'fast'"),
        (["--mode", "fast"], "'fast'"),
        (["--profile", "rdma"], "'rdma'"),
        (["--qdepth", "0"], "'0'"),
        (["--time-scale", "-1"], "'-1'"),
        (["--format", "xml"], "'xml'"),
        (["--trace", "/nonexistent/dir/t.json"], "/nonexistent/dir/t.json"),
        (["stray"], "'stray'"),
    ]
    try:
        for args, culprit in cases:
            p = run(*args, expect=2)
            lines = p.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("nvme_sim: "), (args, p.stderr)
            assert culprit in lines[0], (args, lines[0])
            assert p.stdout == "", args
    finally:
        os.unlink(bad_csv)


def test_trace():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "trace.json")
        run("--namespaces", "20", "--trace", path)
        with open(path) as f:
            trace = json.load(f)
    ev = trace["traceEvents"]
    xs = [e for e in ev if e["ph"] == "X"]
    assert xs and all(e["ts"] >= 0 and e["dur"] >= 0 for e in xs)
    assert {"identify", "chain", "register"} <= {e["cat"] for e in xs}
    names = {e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "process_name"}
    assert names == {"sync scan (initial)", "async scan (initial)", "chain scan (initial)",
                     "nsid scan (initial)"}
    # Worker threads each get their own track.
    chain_pid = [e["pid"] for e in ev if e.get("args", {}).get("name") == "chain scan (initial)"][0]
    assert len({e["tid"] for e in xs if e["pid"] == chain_pid}) > 2


if __name__ == "__main__":
    sys.exit(run_tests(globals(), sys.argv[2:]))
