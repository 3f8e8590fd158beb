# SPDX-License-Identifier: MIT
"""kernel/bench/run's output: the markdown table, CSV, JSON and the chart."""
import csv
import json
import os
import sys

# The seed's table (the patch's posting): 100 namespaces, scan times in ms.
SEED = {("75ms", "sync"): 32375, ("75ms", "async"): 2543, ("75ms", "chain"): 2431,
        ("0.1ms", "sync"): 352, ("0.1ms", "async"): 248, ("0.1ms", "chain"): 191}


def fmt(ms):
    if ms is None:
        return "-"
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.1f}"


def order_text(row):
    n, k = row["reps"], row["in_order"]
    if n == 0:
        return "no scans"
    if k == n:
        return f"in order {k}/{n}"
    return f"shuffled {n - k}/{n}"


def table(doc):
    out = [f"Linux 6.12 in User Mode Linux (one CPU) on {doc['cpu']}, "
           f"{doc['nproc']} CPUs, {doc['host']}, {doc['date']}; "
           f"{doc['reps']} scans per row after a warm-up scan"
           + (f"; added to every boot: {' '.join(doc['append'])}" if doc.get("append") else "")
           + ".", ""]
    if doc["nvme"]:
        out += ["| N | delay per direction | ping RTT (ms) | multipath | mode | median (ms) "
                "| min-max (ms) | warm-up (ms) | names | seed (ms) |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for r in doc["nvme"]:
            ping = f"{r['ping_ms'][1]:.2f}" if r["ping_ms"] else "-"
            seed = SEED.get((r["delay"], r["mode"])) if r["namespaces"] == 100 else None
            out.append(f"| {r['namespaces']} | {r['delay']} | {ping} | "
                       f"{'on' if r['multipath'] else 'off'} | {r['mode']} | "
                       f"{fmt(r['median_ms'])} | {fmt(r['min_ms'])}-{fmt(r['max_ms'])} | "
                       f"{fmt(r['warmup_ms'])} | {order_text(r)} | {seed or '-'} |")
    if doc["scsi"]:
        out += ([""] if out[-1] else []) + ["| hosts x LUNs | delay per command (us) | mode | median (ms) "
                "| min-max (ms) | warm-up (ms) | devices |",
                "|---|---|---|---|---|---|---|"]
        for r in doc["scsi"]:
            out.append(f"| {r['hosts']} x {r['luns']} | {r['delay_us']} | {r['mode']} | "
                       f"{fmt(r['median_ms'])} | {fmt(r['min_ms'])}-{fmt(r['max_ms'])} | "
                       f"{fmt(r['warmup_ms'])} | {order_text(r)} |")
    return "\n".join(out)


def write_csv(path, rows, keys):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(keys + ["rep", "ms", "in_order", "warmup"])
        for r in rows:
            for s in r["scans"]:
                w.writerow([r[k] for k in keys] +
                           [s["scan"], s["us"] / 1000 if s["us"] is not None else "",
                            int(s["in_order"]), int(s["warmup"])])


def chart(doc, path):
    """Median scan time against the delay, one line per mode (log axes)."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                    "examples", "nvme_sim"))
    import chart as simchart  # the project's styles for the three modes
    plt = simchart.pyplot("run")
    plt.rcParams["svg.hashsalt"] = "cchain-bench"
    fig, ax = plt.subplots(figsize=(8, 5))
    rows = [r for r in doc["nvme"] if r["multipath"] and r["median_ms"]]
    sizes = sorted({r["namespaces"] for r in rows})
    for mode in ("sync", "async", "chain"):
        for n in sizes:
            pts = sorted((r["ping_ms"][1] if r["ping_ms"] else 0, r["median_ms"])
                         for r in rows if r["mode"] == mode and r["namespaces"] == n)
            if not pts:
                continue
            style, marker, size, width, hollow = simchart.STYLES[mode]
            label = simchart.LABELS[mode] + (f", N={n}" if len(sizes) > 1 else "")
            ax.plot([p[0] for p in pts], [p[1] for p in pts], linestyle=style,
                    linewidth=width, marker=marker, markersize=size,
                    markerfacecolor="none" if hollow else simchart.COLORS[mode],
                    color=simchart.COLORS[mode], gid=f"series-{mode}-{n}", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("round trip measured by ping in User Mode Linux (ms)")
    ax.set_ylabel("scan time, nvme_scan_work()'s own timing (ms)")
    ax.set_title(f"{', '.join(map(str, doc['namespaces']))} namespaces, Linux 6.12 UML, "
                 f"NVMe/TCP loopback\n"
                 f"median of {doc['reps']} scans; {doc['cpu']}", fontsize="medium")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, metadata={"Date": None})
    plt.close(fig)


def write_json(doc, out):
    """OUT/results.json, replaced whole (a reader never sees half of it)."""
    tmp = os.path.join(out, "results.json.tmp")
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, os.path.join(out, "results.json"))


def write_all(doc, out):
    write_json(doc, out)
    if doc["nvme"]:
        write_csv(os.path.join(out, "nvme.csv"), doc["nvme"],
                  ["namespaces", "delay", "mode", "multipath"])
    if doc["scsi"]:
        write_csv(os.path.join(out, "scsi.csv"), doc["scsi"],
                  ["hosts", "luns", "delay_us", "mode"])
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(table(doc) + "\n")
    if doc["nvme"]:
        chart(doc, os.path.join(out, "chart.svg"))


if __name__ == "__main__":
    # report.py DIR: the table, CSV and chart again from DIR/results.json.
    if len(sys.argv) != 2:
        sys.exit("usage: report.py RESULTS_DIR")
    with open(os.path.join(sys.argv[1], "results.json")) as f:
        write_all(json.load(f), sys.argv[1])
    with open(os.path.join(sys.argv[1], "table.md")) as f:
        print(f.read(), end="")
