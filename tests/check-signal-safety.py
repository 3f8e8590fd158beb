#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Usage: check-signal-safety.py LIBRARY API_MD

The table of doc/api.md's section "fork() and signal handlers" against the
library's machine code:
- every function the library exports has a row;
- a function marked "yes" in a signal handler calls nothing: no PLT entry
  (no libc, no system call wrapper, no lock), and no function of the
  library but ones that obey the same rule; "yes, unless misuse" also
  allows the misuse reporter (cchain__misuse), which calls the handler,
  and "... or debug mode" the debug mode's table (cchain__debug_*), which
  runs only with CCHAIN_DEBUG=1.
"""
import os
import re
import subprocess
import sys

MISUSE = "cchain__misuse"
DEBUG = "cchain__debug_"


def table(doc):
    text = open(doc, encoding="utf-8").read()
    # The section runs to the next heading of its level or above, or to the end.
    m = re.search(r"^## fork\(\) and signal handlers\n(.*?)(?=^#{1,2} |\Z)", text, re.S | re.M)
    if not m:
        sys.exit(f"{doc} has no section 'fork() and signal handlers'")
    rows = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 3 or cells[0] == "Function" \
                or set(cells[0]) <= set("-: "):
            continue
        for name in re.findall(r"(\w+)\(\)", cells[0]):
            rows[name] = cells[1]
    return rows


def disassembly(lib):
    """{function: [call or jump targets outside the function]}"""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", lib], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    funcs, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if m:
            cur = m.group(1)
            funcs[cur] = []
            continue
        m = re.search(r"\t(?:call|jmp|j\w+)\s+(?:\S+ )?<([^>+]+)(\+0x[0-9a-f]+)?>", line)
        if cur and m and m.group(1) != cur:
            funcs[cur].append(m.group(1))
        elif cur and re.search(r"\t(call|jmp)\s+\*", line):
            funcs[cur].append("an indirect call")
    return funcs


def violations(funcs, name, allow_misuse, allow_debug, seen):
    if name in seen:
        return []
    seen.add(name)
    bad = []
    for t in funcs.get(name, []):
        if t == MISUSE and allow_misuse:
            continue
        if t.startswith(DEBUG) and allow_debug:
            continue
        if "@plt" in t or t not in funcs or t == MISUSE or t == "an indirect call":
            bad.append(f"{name} calls {t}")
        else:
            bad += violations(funcs, t, allow_misuse, allow_debug, seen)
    return bad


def main():
    lib, doc = sys.argv[1], sys.argv[2]
    where = os.path.basename(doc)
    rows = table(doc)
    exported = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                              stdout=subprocess.PIPE, text=True).stdout
    exported = [l.split()[2] for l in exported.splitlines()
                if len(l.split()) == 3 and l.split()[1] in "TDRBVWi"]
    funcs = disassembly(lib)
    status = 0
    for s in exported:
        if s not in rows:
            print(f"{where}: {s}() has no row in 'fork() and signal handlers'")
            status = 1
    safe = 0
    for name, verdict in sorted(rows.items()):
        if not verdict.startswith("yes"):
            continue
        if name not in funcs:
            print(f"{where} marks {name}() signal-safe, but the library has no such function")
            status = 1
            continue
        bad = violations(funcs, name, "unless misuse" in verdict, "debug mode" in verdict,
                         set())
        for b in bad:
            print(f"{where} marks {name}() signal-safe, but {b}")
            status = 1
        safe += 1
    if status == 0:
        print(f"{len(exported)} exported functions in the table; the {safe} "
              "marked signal-safe call nothing that is not")
    sys.exit(status)


if __name__ == "__main__":
    main()
