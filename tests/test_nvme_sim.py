#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""nvme_sim end to end: naming order, the seed's and the RFC's figures,
exact model time, the NSID naming mode, the command line, trace.

Usage: test_nvme_sim.py NVME_SIM [CASE...]
       test_nvme_sim.py NVME_SIM --slow     (100,000 namespaces per mode)
"""
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runner import run_tests  # noqa: E402

SIM = sys.argv[1]
SEED = {
    "tcp-0.2ms": {"sync": 352, "async": 248, "chain": 191},
    "tcp-150ms": {"sync": 32375, "async": 2543, "chain": 2431},
    # The RFC posting (linux-nvme, August 2025), another testbed.
    "rfc-0.2ms": {"sync": 335, "async": 156, "chain": 116},
    "rfc-100ms": {"sync": 31175, "async": 2563, "chain": 2599},
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


def nodes_in_nsid_order(r):
    """The whole device list, by node number, has increasing NSIDs."""
    devs = sorted(r["devices"], key=lambda d: int(d["node"][len("nvme0n"):]))
    nsids = [d["nsid"] for d in devs]
    return nsids == sorted(nsids)


def longest_in_order(nsids):
    """Length of the longest run of nodes, not necessarily adjacent, in NSID order."""
    tails = []
    for n in nsids:
        lo, hi = 0, len(tails)
        while lo < hi:
            mid = (lo + hi) // 2
            if tails[mid] < n:
                lo = mid + 1
            else:
                hi = mid
        tails[lo:lo + 1] = [n]
    return len(tails)


def best_in_order(nsids):
    """(length, nodes at their rank) of the best run in NSID order: the longest,
    and of those the one with the most i-th nodes holding the i-th NSID."""
    rank = {n: i for i, n in enumerate(sorted(nsids))}
    best = []
    for i, n in enumerate(nsids):
        prior = [best[j] for j in range(i) if nsids[j] < n]
        length, at_rank = max(prior, default=(0, 0))
        best.append((length + 1, at_rank + (rank[n] == i)))
    return max(best, default=(0, 0))


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
            # This scan allocated in NSID order, but NSIDs 41-44 took the
            # nodes freed by the detached ones: the whole list is not.
            assert not second["ordered"] and not nodes_in_nsid_order(second)
            assert second["allocations_in_order"] and second["inversions"] == 0


def test_async_inversions():
    r = by_mode(runs("--mode", "async", "--seed", "1"))["async"]
    assert r["inversions"] > 0 and not r["ordered"], r["inversions"]
    assert not r["allocations_in_order"]
    assert sorted(d["nsid"] for d in r["devices"]) == list(range(1, 101))


def test_ordered_is_the_whole_list():
    # The report's case: the chain's rescan allocates in NSID order, but the
    # new NSIDs 51-60 take the nodes freed by the detached ones, and
    # nvme0n28 is NSID 51.  That is not "in NSID order".
    args = ("--nsids", "1-50,1001-1050", "--mode", "chain", "--rescan")
    r = by_mode(runs(*args), "rescan")["chain"]
    assert {d["node"]: d["nsid"] for d in r["devices"]}["nvme0n28"] == 51
    assert not r["ordered"] and not nodes_in_nsid_order(r)
    assert r["allocations_in_order"] and r["inversions"] == 0
    nsids = [d["nsid"] for d in r["devices"]]
    assert r["nodes_out_of_order"] == len(nsids) - longest_in_order(nsids) == 10
    out = run(*args).stdout
    line = [x for x in out.splitlines()
            if x.startswith("Async namespace scan with dependency chain (rescan):")]
    assert len(line) == 1, out
    assert "in NSID order" not in line[0].replace("out of NSID order", ""), line[0]
    assert line[0].endswith("10 nodes out of NSID order (allocations in order)"), line[0]
    # The nodes listed are the new namespaces', which took the freed nodes.
    rows = [x.split() for x in out.splitlines() if x.startswith("/dev/nvme0n")]
    assert {int(r[2]) for r in rows} == set(range(51, 61)), rows
    assert ["/dev/nvme0n28", "/dev/ng0n28", "51"] in rows, rows
    # Every mode, every scan: "ordered" is the final numbering's.
    for args in (("--rescan", "--mode", "all"), ("--namespaces", "40", "--rescan", "--seed", "7"),
                 ("--nsids", "1-50,1001-1050", "--rescan"), ("--nsids", "1,2,5,100,333")):
        for r in runs(*args):
            nsids = [d["nsid"] for d in r["devices"]]
            assert r["ordered"] == nodes_in_nsid_order(r), (args, r["mode"], r["scan"])
            assert r["nodes_out_of_order"] == len(nsids) - longest_in_order(nsids), \
                (args, r["mode"], r["scan"])
            assert r["allocations_in_order"] == (r["inversions"] == 0), (args, r["mode"])


def test_nsid_mode_allocations():
    # Named by NSID: the list is in NSID order whatever order the heads were
    # allocated in, and the report says both.
    r = by_mode(runs("--mode", "nsid"))["nsid"]
    assert r["inversions"] > 0 and not r["allocations_in_order"], r["inversions"]
    assert r["ordered"] and nodes_in_nsid_order(r) and r["nodes_out_of_order"] == 0


def check_profile(profile, *extra, ratio_tol=None):
    rs = by_mode(runs("--profile", profile, *extra))
    for mode, seed in SEED[profile].items():
        ratio = rs[mode]["elapsed_ms"] / seed
        tol = 0.20 if (mode == "chain" and profile == "tcp-0.2ms") else 0.15
        print(f"{profile} {mode}: {rs[mode]['elapsed_ms']:.0f} ms, seed {seed} ms, x{ratio:.3f}")
        assert abs(ratio - 1) <= tol, (profile, mode, ratio)
        assert rs[mode]["seed_ms"] == seed, (profile, mode)
    cr = rs["chain"]["elapsed_ms"] / rs["async"]["elapsed_ms"]
    measured = SEED[profile]["chain"] / SEED[profile]["async"]
    print(f"{profile} chain/async: {cr:.3f} (measured {measured:.3f})")
    assert cr <= 1.05, (profile, cr)
    if ratio_tol is not None:
        assert abs(cr - measured) <= ratio_tol, (profile, cr, measured)
    return rs


def test_profile_fast():
    check_profile("tcp-0.2ms")


def test_profile_slow():
    check_profile("tcp-150ms", "--time-scale", "0.01")


def test_profile_rfc_fast():
    check_profile("rfc-0.2ms", ratio_tol=0.05)


def test_profile_rfc_slow():
    check_profile("rfc-100ms", ratio_tol=0.05)


def figures(rs):
    """Everything a run reports, but the pacing it was asked for."""
    return [(r["mode"], r["scan"], r["elapsed_ms"], r["inversions"], r["commands"],
             [(d["node"], d["nsid"]) for d in r["devices"]]) for r in rs]


def check_same(base, other, what):
    assert len(base) == len(other), what
    for b, o in zip(base, other):
        assert b[:2] == o[:2], what
        assert abs(o[2] / b[2] - 1) <= 0.005, (what, b[:3], o[:3])
        assert b[3:] == o[3:], (what, b[0], b[3:5], o[3:5])


def test_time_scale_exact():
    # The cases: the 0.2 ms profile at 0.1 moved async and chain by
    # up to 40 ms; the 150 ms profile at 0.001 doubled the chain's figure.
    base = figures(runs("--mode", "all", "--rescan"))
    for scale in ("1", "0.1", "0.01", "0.001"):
        check_same(base, figures(runs("--mode", "all", "--rescan", "--time-scale", scale)),
                   f"--time-scale {scale}")
    slow = figures(runs("--profile", "tcp-150ms"))
    check_same(slow, figures(runs("--profile", "tcp-150ms", "--time-scale", "0.001")),
               "tcp-150ms at 0.001")
    big = figures(runs("--namespaces", "2000", "--mode", "async"))
    check_same(big, figures(runs("--namespaces", "2000", "--mode", "async",
                                 "--time-scale", "0.001")), "2000 namespaces at 0.001")


def test_busy_host():
    """Every CPU busy with other work: the same figures to the byte."""
    quiet = figures(runs("--mode", "all", "--namespaces", "300"))
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(max(2, os.cpu_count() or 2))]
    try:
        time.sleep(0.2)
        for scale in ("0", "0.01"):
            busy = figures(runs("--mode", "all", "--namespaces", "300",
                                "--time-scale", scale))
            check_same(quiet, busy, f"busy host, --time-scale {scale}")
            assert busy == quiet
    finally:
        for h in hogs:
            h.kill()
            h.wait()


def test_time_scale_refused():
    for scale, culprit in (("0.0001", "cannot be honoured"), ("1e-9", "cannot be honoured"),
                           ("-1", "'-1'"), ("5000", "'5000'"), ("fast", "'fast'")):
        p = run("--time-scale", scale, expect=2)
        lines = p.stderr.splitlines()
        assert len(lines) == 1 and culprit in lines[0], (scale, p.stderr)
        assert p.stdout == ""


def test_paced_run_takes_model_time():
    # --time-scale 1 paces in real time: the sync scan's 351 ms of model time
    # take at least that long on the host.
    t0 = time.monotonic()
    r = by_mode(runs("--mode", "sync", "--time-scale", "1"))["sync"]
    assert time.monotonic() - t0 >= r["elapsed_ms"] / 1000 * 0.95


def test_nsid_mode():
    nsids = [1, 2, 5, 100, 333]
    rs = by_mode(runs("--nsids", "1,2,5,100,333", "--mode", "all"))
    assert set(rs) == {"sync", "async", "chain", "nsid"}
    r = rs["nsid"]
    assert [(d["node"], d["nsid"]) for d in r["devices"]] == \
        [(f"nvme0n{n}", n) for n in nsids]
    assert r["ordered"] and not r["contiguous"]
    assert rs["chain"]["contiguous"] and rs["sync"]["contiguous"]
    # Fully async: as fast as the async scan, faster than the chain at 150 ms.
    rs = by_mode(runs("--profile", "tcp-150ms", "--mode", "nsid", "--mode", "async",
                      "--mode", "chain"))
    assert rs["nsid"]["elapsed_ms"] == rs["async"]["elapsed_ms"]
    # Names stay across a rescan, and new ones are the NSIDs.
    rs = runs("--namespaces", "40", "--rescan", "--mode", "nsid")
    first, second = by_mode(rs)["nsid"], by_mode(rs, "rescan")["nsid"]
    for r in (first, second):
        assert all(d["node"] == f"nvme0n{d['nsid']}" for d in r["devices"])
    out = run("--nsids", "1,2,5", "--mode", "nsid", "--list").stdout
    assert "/dev/nvme0n5          /dev/ng0n5            5" in out
    assert "named by NSID, not contiguous" in out
    assert "Fully async scan, nodes named by NSID:" in run().stdout


def test_deterministic_output():
    a = run("--format", "json", "--namespaces", "200", "--rescan", "--seed", "3").stdout
    b = run("--format", "json", "--namespaces", "200", "--rescan", "--seed", "3").stdout
    assert a == b
    c = run("--format", "json", "--namespaces", "200", "--rescan", "--seed", "4").stdout
    assert a != c


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
    for flag in ("--list", "-v", "--verbose"):
        out = run("--profile", "tcp-0.2ms", "--mode", "all", flag).stdout
        for s in ("Node                  Generic               Namespace",
                  "/dev/nvme0n100        /dev/ng0n100",
                  "Synchronous namespace scan:", "Fully async namespace scan:",
                  "Async namespace scan with dependency chain:", "chain / async:",
                  "seed    352ms"):
            assert s in out, (flag, s)
        # Every node of every mode, after the summary.
        assert out.count("/dev/nvme0n100 ") == 4, flag
        assert out.index("chain / async:") < out.index("Node  "), flag


def test_default_output_summary_first():
    args = ("--profile", "tcp-0.2ms", "--mode", "all")
    out = run(*args).stdout
    lines = out.splitlines()
    rs = by_mode(runs(*args))
    # The summary first: the title, one line a mode, chain / async.
    assert lines[0].startswith("Low latency NVMe/TCP"), lines[:3]
    summary = lines[:lines.index(next(x for x in lines if x.startswith("chain / async:"))) + 1]
    assert not any(x.startswith("/dev/") or x.startswith("Node ") for x in summary), summary
    for mode, label in (("sync", "Synchronous namespace scan:"),
                        ("chain", "Async namespace scan with dependency chain:")):
        line = next(x for x in summary if x.startswith(label))
        assert line.endswith("   in NSID order"), line
    line = next(x for x in summary if x.startswith("Fully async namespace scan:"))
    assert line.endswith(f"   {rs['async']['nodes_out_of_order']} nodes out of NSID order "
                         f"({rs['async']['inversions']} allocation inversions)"), line
    # Then only the nodes out of NSID order: none of the ordered modes', the
    # fewest of the async scan's that leave the rest in NSID order.
    rows = [x.split() for x in lines if x.startswith("/dev/nvme0n")]
    assert out.count("Node                  Generic               Namespace") == 1, out
    assert "(--mode async), initial scan: " in out, out
    shown = {(r[0][len("/dev/"):], int(r[2])) for r in rows}
    devs = [(d["node"], d["nsid"]) for d in rs["async"]["devices"]]
    assert shown <= set(devs)
    assert len(shown) == rs["async"]["nodes_out_of_order"] > 0
    rest = [n for d, n in devs if d not in {s[0] for s in shown}]
    assert rest == sorted(rest)
    assert len(rest) == longest_in_order([n for _, n in devs])
    # Of the sets that small, one that leaves out the fewest nodes named as
    # NSID order would name them (nvme0n60 for NSID 60 is not listed).
    nsids = [n for _, n in devs]
    rank = {n: i for i, n in enumerate(sorted(nsids))}
    kept_at_rank = sum(rank[n] == i for i, (d, n) in enumerate(devs) if d not in
                       {s[0] for s in shown})
    assert (len(rest), kept_at_rank) == best_in_order(nsids), (len(rest), kept_at_rank)
    assert ("nvme0n60", 60) in devs and ("nvme0n60", 60) not in shown
    assert len(lines) < 100 + 20, len(lines)
    # Nothing out of order: no table at all.
    out = run("--mode", "chain").stdout
    assert "/dev/" not in out and "Node " not in out, out


def test_quoted_output_is_today_s():
    """The outputs the README and the guide quote are what nvme_sim prints
    (up to a last line "..." where a quote is cut)."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    for page in ("README.md", os.path.join("doc", "examples", "nvme_sim.md")):
        with open(os.path.join(root, page)) as f:
            quotes = re.findall(r"<!-- nvme_sim output: (.*?) -->\n```text\n(.*?)```", f.read(),
                                re.S)
        assert quotes, page
        for args, quoted in quotes:
            out = run(*args.split()).stdout.splitlines()
            lines = quoted.splitlines()
            if lines[-1] == "...":
                lines.pop()
                assert len(out) > len(lines), (page, args)
            else:
                assert len(out) == len(lines), (page, args)
            assert out[:len(lines)] == lines, (page, args)


def test_cpus():
    """--cpus C: the scan's CPU work shares C CPUs.  With one CPU no mode
    scans faster than the CPU work of all its namespaces done back to back;
    with as many CPUs as there is work (0, the seed's profiles) the fully
    async scan does; the chain still names in NSID order on one CPU."""
    n = 100
    for profile in ("tcp-0.2ms", "tcp-150ms"):
        free = runs("--profile", profile)
        one = runs("--profile", profile, "--cpus", "1")
        two = runs("--profile", profile, "--cpus", "2")
        cpu_ms = json.loads(run("--format", "json", "--profile", profile)
                            .stdout)["params"]["ns_cpu_ms"]
        assert json.loads(run("--format", "json", "--cpus", "1").stdout)[
            "params"]["cpus"] == 1
        free, one, two = by_mode(free), by_mode(one), by_mode(two)
        for mode in ("sync", "async", "chain"):
            assert one[mode]["elapsed_ms"] >= n * cpu_ms, (profile, mode, one[mode])
            assert one[mode]["elapsed_ms"] >= two[mode]["elapsed_ms"] >= \
                free[mode]["elapsed_ms"], (profile, mode)
        # The synchronous scan runs one thing at a time: CPUs do not matter.
        assert one["sync"]["elapsed_ms"] == free["sync"]["elapsed_ms"], profile
        check_in_order(one["chain"], range(1, n + 1))
    doc = json.loads(run("--format", "json", "--profile", "tcp-0.2ms").stdout)
    free = by_mode(doc["runs"])
    assert free["async"]["elapsed_ms"] < n * doc["params"]["ns_cpu_ms"], free["async"]


def uml(n, rtt_ms, *extra, modes=("async",)):
    args = ["--profile", "uml-loopback", "--namespaces", str(n), "--rtt", f"{rtt_ms}ms",
            "--jitter", "0", *extra]
    for m in modes:
        args += ["--mode", m]
    return by_mode(runs(*args))


def test_admin_places():
    """uml-loopback's admin queue: 14 places while the fabrics queue shares
    the tag set, kept by a task from one command to the next, so the tasks
    go in waves of 14, three round trips each, after the scan's two (the
    controller's limits, the list).  The kernel at 150 ms: 8.0 round trips
    for 20 namespaces, 26.3 for 100, 5.0 for 1 and 5."""
    rtt = 150.0
    for n, rounds in ((1, 5), (5, 5), (14, 5), (15, 8), (20, 8), (100, 26)):
        got = uml(n, rtt)["async"]["elapsed_ms"] / rtt
        # The CPU adds well under a tenth of a round trip at this N.
        assert rounds <= got < rounds + 0.1, (n, got, rounds)


def test_admin_share_grows():
    """5 s after the Connect command (4 round trips before the scan starts)
    the fabrics queue is idle and the share is 28: at 150 ms, 9 waves of 14
    fit before (2 + 27 round trips: 4.35 s < 4.4 s), the remaining 374 of 500
    namespaces go 28 at a time (14 waves of 3): 71 round trips, where 14
    places alone would take 2 + 3 x 36 = 110."""
    got = uml(500, 150.0)["async"]["elapsed_ms"] / 150.0
    assert 71 <= got < 72, got
    # A rescan comes long after the Connect: 28 places from the start.
    r = by_mode(runs("--profile", "uml-loopback", "--namespaces", "100", "--rtt", "150ms",
                     "--jitter", "0", "--mode", "async", "--rescan"), scan="rescan")
    assert r["async"]["elapsed_ms"] < 2 * 150 + 3 * 4 * 150 + 100, r["async"]["elapsed_ms"]


def test_head_walk():
    """--head-walk T: each new head costs T more per head already there (the
    subsystem list's walks), so the synchronous scan of N namespaces takes
    T x N(N-1)/2 longer, exactly."""
    n = 100
    base = uml(n, 0.5, "--head-walk", "0us", modes=("sync",))["sync"]["elapsed_ms"]
    walk = uml(n, 0.5, "--head-walk", "10us", modes=("sync",))["sync"]["elapsed_ms"]
    assert abs((walk - base) - 0.010 * n * (n - 1) / 2) < 1e-6, (base, walk)


def test_partition_scan():
    """--part-scan T: each new disk queues a partition scan, a work item of
    T CPU around one read, that the scan does not wait for and that takes
    the CPU from it.  Where the round trips leave the CPU idle (sync, 150
    ms) the scan's time does not change; where the one CPU is the limit
    (async, 10 us) each scan of N namespaces takes about N x T longer.
    Every new disk gets one, and JSON names T."""
    n, t_ms = 50, 1.0
    for m, rtt in (("sync", 150.0), ("async", 0.01)):
        base = uml(n, rtt, "--part-scan", "0us", modes=(m,))[m]["elapsed_ms"]
        part = uml(n, rtt, "--part-scan", f"{t_ms}ms", modes=(m,))[m]["elapsed_ms"]
        if m == "sync":
            assert abs(part - base) < t_ms, (m, base, part)
        else:
            assert 0.8 * n * t_ms <= part - base <= n * t_ms + 1, (m, base, part)
    with tempfile.TemporaryDirectory() as d:
        trace = os.path.join(d, "trace.json")
        doc = json.loads(run("--profile", "uml-loopback", "--namespaces", str(n), "--mode",
                             "chain", "--part-scan", f"{t_ms}ms", "--trace", trace,
                             "--format", "json").stdout)
        assert doc["params"]["part_scan_ms"] == t_ms, doc["params"]
        with open(trace) as f:
            events = json.load(f)["traceEvents"]
        scans = [e for e in events if e.get("cat") == "partitions"]
        assert len(scans) == n, len(scans)
        assert all(e["dur"] >= t_ms * 1000 for e in scans)


def test_cpu_until_sleep():
    """On one CPU a task keeps the CPU from one cost to the next until it
    sleeps (no preemption), so a chained task that finds its turn there
    never sleeps for it: at 150 ms the chain and the fully async scan of
    20 namespaces both take 8 round trips."""
    r = uml(20, 150.0, modes=("async", "chain"))
    for m in ("async", "chain"):
        assert 8 <= r[m]["elapsed_ms"] / 150.0 < 8.1, (m, r[m]["elapsed_ms"])


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
        (["--cpus", "-1"], "'-1'"),
        (["--cpus", "two"], "'two'"),
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


def one_line_error(args, culprit):
    p = run(*args, expect=2)
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("nvme_sim: "), (args, p.stderr)
    assert culprit in lines[0], (args, lines[0])
    assert p.stdout == "", args
    return lines[0]


def test_help_and_version():
    for flag in ("-h", "--help"):
        out = run(flag).stdout
        assert out.startswith("usage: nvme_sim"), flag
        assert "may be\n                     repeated" in out or "may be repeated" in out
        for word in ("--mode M", "nsid", "--version", "rfc-100ms", "0x10", "-v, --list",
                     "--verbose"):
            assert word in out, word
    out = run("--version").stdout
    assert out.startswith("nvme_sim (libcchain) ") and out.count("\n") == 1, out


def test_modes_repeat():
    rs = by_mode(runs("--mode", "sync", "--mode", "chain"))
    assert set(rs) == {"sync", "chain"}


def test_hex_nsids():
    rs = by_mode(runs("--nsids", "0x10,0x11-0x13,20", "--mode", "chain"))
    check_in_order(rs["chain"], [16, 17, 18, 19, 20])
    rs = by_mode(runs("--nsids", "0x10", "--ns-latency", "0x10=5ms", "--mode", "chain",
                      "--jitter", "0"))
    assert rs["chain"]["elapsed_ms"] > 10


def test_list_errors():
    # Culprits quoted as typed: '-1' used to be reported as ''.
    one_line_error(["--nsids", "-1"], "'-1'")
    one_line_error(["--nsids", "1,,2"], "'1,,2'")
    one_line_error(["--nsids", "1,2,"], "empty item")
    one_line_error(["--nsids", ",1"], "empty item")
    one_line_error(["--ns-latency", "1=1ms,,2=1ms"], "empty item")
    one_line_error(["--nsids", "5-x"], "'5-x'")
    one_line_error(["--nsids", "0xg"], "'0xg'")
    one_line_error(["--nsids", "1,0x1"], "duplicate NSID 1")


def test_latency_duplicates_and_unscanned():
    one_line_error(["--ns-latency", "7=1ms,0x7=2ms"], "duplicate NSID '0x7'")
    one_line_error(["--ns-latency", "7=1ms", "--ns-latency", "7=2ms"], "duplicate NSID '7'")
    one_line_error(["--namespaces", "10", "--ns-latency", "11=1ms"], "NSID '11'")
    with tempfile.TemporaryDirectory() as d:
        dup = os.path.join(d, "dup.csv")
        with open(dup, "w") as f:
            f.write("nsid,latency\n3,1ms\n4,1ms\n3,2ms\n")
        line = one_line_error(["--latency-file", dup], "duplicate NSID '3'")
        assert "dup.csv:4" in line and "dup.csv:2" in line, line
        cross = os.path.join(d, "cross.csv")
        with open(cross, "w") as f:
            f.write("5,1ms\n")
        one_line_error(["--ns-latency", "5=3ms", "--latency-file", cross], "duplicate NSID '5'")
        unscanned = os.path.join(d, "unscanned.csv")
        with open(unscanned, "w") as f:
            f.write("1,1ms\n101,1ms\n")
        one_line_error(["--latency-file", unscanned], "unscanned.csv:2")
        # NSIDs attached by the rescan are scanned too.
        ok = os.path.join(d, "ok.csv")
        with open(ok, "w") as f:
            f.write("41,1ms\n")
        run("--namespaces", "40", "--rescan", "--latency-file", ok)


def test_binary_garbage_not_echoed():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "garbage.csv")
        with open(path, "wb") as f:
            f.write(b"nsid,latency\n3,\x1b[31m\xff\x00ms\n")
        p = subprocess.run([SIM, "--latency-file", path], capture_output=True)
        assert p.returncode == 2
        assert b"\x1b" not in p.stderr and b"\xff" not in p.stderr, p.stderr
        assert b"\\x1b" in p.stderr, p.stderr
        with open(path, "wb") as f:
            f.write(b"\x7fELF\x02\x01,\x01\x02\n")
        p = subprocess.run([SIM, "--latency-file", path], capture_output=True)
        assert p.returncode == 2 and len(p.stderr.splitlines()) == 1, p.stderr
        assert all(32 <= c < 127 for c in p.stderr.rstrip(b"\n")), p.stderr
    p = subprocess.run([SIM, "--nsids", "1,\x1b[2J"], capture_output=True)
    assert p.returncode == 2 and b"\x1b" not in p.stderr, p.stderr


def test_rescan_lists_changes():
    out = run("--namespaces", "40", "--rescan", "--seed", "7", "--mode", "chain").stdout
    line = [x for x in out.splitlines() if x.startswith("Rescan: detached NSIDs ")]
    assert len(line) == 1, out
    assert line[0].endswith("; attached NSIDs 41-44"), line[0]
    doc = json.loads(run("--namespaces", "40", "--rescan", "--seed", "7", "--mode", "chain",
                         "--format", "json").stdout)
    rs = doc["runs"]
    before = {d["nsid"] for d in by_mode(rs)["chain"]["devices"]}
    after = {d["nsid"] for d in by_mode(rs, "rescan")["chain"]["devices"]}
    assert doc["rescan"]["detached"] == sorted(before - after)
    assert doc["rescan"]["attached"] == sorted(after - before) == [41, 42, 43, 44]
    shown = ",".join(str(n) for n in doc["rescan"]["detached"])
    assert line[0] == f"Rescan: detached NSIDs {shown}; attached NSIDs 41-44", line[0]


def test_progress_on_terminal():
    # A paced run of about 1.4 s: a progress line on a terminal only.
    args = [SIM, "--mode", "sync", "--namespaces", "400", "--time-scale", "1"]
    master, slave = pty.openpty()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        r, _, _ = select.select([master], [], [], 10)
        if not r:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    p.wait(timeout=30)
    os.close(master)
    assert p.returncode == 0
    assert b"sync scan: " in seen and b"/400 namespaces" in seen, seen
    q = subprocess.run(args, capture_output=True)
    assert q.returncode == 0 and q.stderr == b"", q.stderr
    # Short runs stay quiet even on a terminal.
    master, slave = pty.openpty()
    p = subprocess.Popen([SIM, "--mode", "sync"], stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    p.wait(timeout=30)
    r, _, _ = select.select([master], [], [], 0.5)
    try:
        quiet = os.read(master, 4096) if r else b""
    except OSError:  # EIO: the terminal's other side is closed, nothing written
        quiet = b""
    os.close(master)
    assert b"namespaces" not in quiet, quiet


def test_interrupt_leaves_no_truncated_file():
    with tempfile.TemporaryDirectory() as d:
        trace = os.path.join(d, "trace.json")
        out = os.path.join(d, "out.json")
        for path in (trace, out):
            with open(path, "w") as f:
                f.write("previous\n")
        p = subprocess.Popen([SIM, "--mode", "sync", "--namespaces", "2000", "--time-scale",
                              "1", "--trace", trace, "--format", "json", "--output", out],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=30) == -signal.SIGINT
        for path in (trace, out):
            with open(path) as f:
                assert f.read() == "previous\n", path
        assert sorted(os.listdir(d)) == ["out.json", "trace.json"], os.listdir(d)
        # A run that ends writes both whole.
        run("--namespaces", "20", "--trace", trace, "--format", "json", "--output", out)
        with open(trace) as f:
            json.load(f)
        with open(out) as f:
            assert len(json.load(f)["runs"]) == 4
        assert sorted(os.listdir(d)) == ["out.json", "trace.json"], os.listdir(d)


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


def slow_scale_100k():
    """100,000 namespaces (98 Identify list pages) per mode within 60 s, memory
    reported by /usr/bin/time -v when present."""
    for mode in ("sync", "async", "chain", "nsid"):
        cmd = [SIM, "--namespaces", "100000", "--mode", mode, "--format", "json"]
        timed = os.path.exists("/usr/bin/time")
        if timed:
            cmd = ["/usr/bin/time", "-v"] + cmd
        t0 = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        wall = time.monotonic() - t0
        assert p.returncode == 0, p.stderr
        r = json.loads(p.stdout)["runs"][0]
        assert r["namespaces"] == 100000 and len(r["devices"]) == 100000
        assert r["commands"] >= 100000 * 2
        rss = [x for x in p.stderr.splitlines() if "Maximum resident" in x]
        print(f"{mode}: 100000 namespaces, {r['elapsed_ms']:.0f} ms model, {wall:.1f} s wall"
              + (f", {rss[0].split(':')[1].strip()} KiB max RSS" if rss else ""))
        assert wall < 60, (mode, wall)


def slow_linear():
    """No O(n^2) step: four times the namespaces cost well under 16 times the
    wall time (medians of three runs, sync and chain; quadratic would be 16)."""
    def wall(n, mode):
        ts = []
        for _ in range(3):
            t0 = time.monotonic()
            run("--namespaces", str(n), "--mode", mode, "--format", "json")
            ts.append(time.monotonic() - t0)
        return sorted(ts)[1]
    for mode in ("sync", "chain"):
        small, large = wall(20000, mode), wall(80000, mode)
        print(f"{mode}: 20000 in {small:.2f} s, 80000 in {large:.2f} s, x{large / small:.1f}")
        assert large / small < 10, (mode, small, large)


if __name__ == "__main__":
    if sys.argv[2:] == ["--slow"]:
        slow = {"test_" + k[5:]: v for k, v in globals().items() if k.startswith("slow_")}
        sys.exit(run_tests(slow, []))
    sys.exit(run_tests(globals(), sys.argv[2:]))
