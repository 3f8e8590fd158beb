#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Chart of a sweep (sweep.py's JSON): scan time against the swept
parameter, one line per mode, the testbed's measurements marked.

    chart.py sweep.json sweep.svg

Needs matplotlib: Debian's /usr/bin/python3 with python3-matplotlib
(apt-get install python3-matplotlib); another interpreter (a virtualenv,
pyenv) may lack it, and then the chart fails with one line.

Each mode has its own line style and marker, so that lines which coincide
(the fully async scan and the scan named by NSID take the same time) both
show; the title names the swept option and its values.  Each line is an
SVG group with id "series-MODE", each set of measurement markers
"seed-MODE", so that the file can be checked without a browser.
"""
import json
import os
import sys

COLORS = {"sync": "tab:gray", "async": "tab:red", "chain": "tab:blue", "nsid": "tab:green"}
LABELS = {"sync": "synchronous", "async": "fully async", "chain": "async + chain",
          "nsid": "fully async, named by NSID"}
# Line style, marker, marker size, line width, and whether the marker is
# hollow: a dashed line with open circles and a dotted one with crosses on
# top of it stay apart when they coincide.
STYLES = {"sync": ("-", "s", 4, 1.5, False), "async": ("--", "o", 8, 2.5, True),
          "chain": ("-.", "^", 5, 1.5, False), "nsid": (":", "x", 6, 1.5, False)}
OTHER_STYLE = ("-", ".", 4, 1.5, False)


def pyplot(prog):
    """matplotlib.pyplot on the Agg backend, or exit with one line naming
    the interpreter it needs."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        why = (str(e).splitlines() or [type(e).__name__])[0]
        sys.exit(f"{prog}: the chart needs matplotlib, which {sys.executable} cannot import "
                 f"({why}): run it with Debian's /usr/bin/python3 and python3-matplotlib "
                 f"installed (apt-get install python3-matplotlib)"
                 + (", or give --no-chart" if prog == "sweep.py" else ""))
    return plt


def values_text(doc):
    """The swept values as given: all of them, or the first and last of many."""
    vs = doc.get("values_as_given") or [f"{v:g}" for v in doc["values"]]
    if len(vs) <= 6:
        return ", ".join(vs)
    return f"{vs[0]} to {vs[-1]} ({len(vs)} values)"


def title(doc):
    extra = " ".join(doc.get("extra_args", []))
    return (f"nvme_sim: namespace scan time against {doc['label']}\n"
            f"swept --{doc['param']} {values_text(doc)}; profile {doc['profile']}"
            + (f", with {extra}" if extra else ""))


def figure(doc, prog="chart.py"):
    """The chart of @doc, a matplotlib figure (closed by render())."""
    plt = pyplot(prog)
    plt.rcParams["svg.hashsalt"] = "nvme_sim"  # the same series, the same file
    fig, ax = plt.subplots(figsize=(8, 5))
    xs = doc["values"]
    for mode, ys in doc["series"].items():
        style, marker, size, width, hollow = STYLES.get(mode, OTHER_STYLE)
        ax.plot(xs, ys, linestyle=style, linewidth=width, marker=marker, markersize=size,
                markerfacecolor="none" if hollow else COLORS.get(mode),
                color=COLORS.get(mode), gid=f"series-{mode}", label=LABELS.get(mode, mode))
    for mode in doc["series"]:
        pts = [p for p in doc["seed"] if p["mode"] == mode]
        if pts:
            ax.plot([p["value"] for p in pts], [p["ms"] for p in pts], linestyle="none",
                    marker="X", markersize=10, markeredgecolor="black",
                    color=COLORS.get(mode), gid=f"seed-{mode}",
                    label=f"measured ({LABELS.get(mode, mode)})")
    positive = all(x > 0 for x in xs)
    if positive and max(xs) / min(xs) >= 50:
        ax.set_xscale("log")
    ys_all = [y for ys in doc["series"].values() for y in ys] + [p["ms"] for p in doc["seed"]]
    if ys_all and min(ys_all) > 0 and max(ys_all) / min(ys_all) >= 50:
        ax.set_yscale("log")
    unit = f" ({doc['unit']})" if doc["unit"] else ""
    ax.set_xlabel(doc["label"] + unit)
    ax.set_ylabel("scan time, model time (ms)")
    ax.set_title(title(doc), fontsize="medium")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def render(doc, path, prog="chart.py"):
    """Write the chart of @doc to @path (SVG or PNG, by its ending) whole."""
    fig = figure(doc, prog)
    tmp = path + ".tmp"
    fig.savefig(tmp, format=os.path.splitext(path)[1][1:], metadata={"Date": None})
    pyplot(prog).close(fig)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: chart.py SWEEP.json CHART.svg|CHART.png")
    pyplot("chart.py")
    with open(sys.argv[1]) as f:
        render(json.load(f), sys.argv[2])


if __name__ == "__main__":
    main()
