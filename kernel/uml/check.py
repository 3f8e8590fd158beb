#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Usage: check.py NAME RESULT.json

The smoke's verdict on one boot of kernel/uml/scan.py: init finished, the
kernel reported nothing, every scan (the warm-up too) found every device,
timed itself once and named the devices in order.  Prints one line per
scan and the failures; exits 1 on any.
"""
import json
import sys


def param(cmd, key, default=0):
    for arg in cmd:
        if arg.startswith(key + "="):
            return int(arg.split("=", 1)[1])
    return default


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[0])
    name, path = sys.argv[1:]
    try:
        res = json.load(open(path))
    except (OSError, ValueError) as e:
        print(f"{name}: no result ({e})")
        return 1
    cmd = res.get("command", [])
    scans = param(cmd, "cchain_scans", 3) + 1
    want = {"nvme": param(cmd, "cchain_nvme"),
            "scsi": param(cmd, "cchain_scsi_hosts") * param(cmd, "scsi_debug.max_luns")}
    bad = [f"error: {e}" for e in res.get("errors", [])]
    bad += [f"kernel report: {r}" for r in res.get("reports", [])]
    if not res.get("done"):
        bad.append("init did not finish")
    for kind, count in want.items():
        if not count:
            continue
        got = res.get(kind, [])
        if len(got) != scans:
            bad.append(f"{kind}: {len(got)} scans, expected {scans}")
        for s in got:
            order = "in order" if s["in_order"] else "OUT OF ORDER"
            us = s["us"] if s["us"] is not None else "?"
            print(f"{name}: {kind} scan {s['scan']}{' (warm-up)' if s['warmup'] else ''}: "
                  f"{s['count']} devices, {us} us, {order}")
            if s["count"] != count:
                bad.append(f"{kind} scan {s['scan']}: {s['count']} devices, expected {count}")
            if not s["in_order"]:
                bad.append(f"{kind} scan {s['scan']}: names out of order: {' '.join(s['names'])}")
            if s["timings"] < 1:
                bad.append(f"{kind} scan {s['scan']}: the kernel did not time it")
    if res.get("ping_ms"):
        print(f"{name}: ping min/avg/max {res['ping_ms']} ms")
    for b in bad:
        print(f"{name}: FAIL: {b}")
    print(f"{name}: {'FAILED' if bad else 'passed'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
