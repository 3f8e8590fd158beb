#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Generate the manual pages from their one source of truth.

Section 3: one page per public function, from the kernel-doc comment above
its prototype in include/cchain/*.h.  Section 7: cchain(7), the overview and
guarantees, from README.md.  Each page is written as markdown and turned into
roff by pandoc (Debian package pandoc).

Usage: gen-man.py --outdir DIR --version V --readme README.md
                  --symbols exports.txt HEADER...
Fails if an exported symbol has no kernel-doc comment.
"""
import argparse
import os
import re
import subprocess
import sys

def parse_header(path):
    """Yield (name, summary, args, body, prototype) for each documented function."""
    text = open(path, encoding="utf-8").read()
    for m in re.finditer(r"/\*\*\n(.*?)\*/\n(.*?;)", text, re.S):
        lines = [re.sub(r"^ \* ?", "", l) for l in m.group(1).splitlines()]
        head = re.match(r"(\w+)\(\) - (.*)", lines[0])
        if not head:
            continue  # structs, macros, typedefs
        name, summary = head.groups()
        proto = " ".join(m.group(2).split())
        proto = re.sub(r"^CCHAIN_API ", "", proto)
        if "(" not in proto or name not in proto:
            continue
        args, body, i = [], [], 1
        while i < len(lines) and lines[i].startswith("@"):
            a = re.match(r"@(\w+): (.*)", lines[i])
            args.append([a.group(1), a.group(2)])
            i += 1
            while i < len(lines) and lines[i].startswith("  ") and lines[i].strip():
                args[-1][1] += " " + lines[i].strip()
                i += 1
        body = "\n".join(lines[i:]).strip()
        yield name, summary, args, body, proto


def md_escape(s):
    return s.replace("*", r"\*").replace("_", r"\_")


def inline(s):
    """kernel-doc markup to markdown: @arg, func(), %CONST."""
    s = md_escape(s)
    s = re.sub(r"@(\w+)", lambda m: "*" + m.group(1) + "*", s)
    s = re.sub(r"\b(\w+)\\_(\w+(?:\\_\w+)*)\(\)", lambda m: "**" + m.group(0).replace("()", "") + "**()", s)
    return s


SECTIONS = {"Context": "CONTEXT", "Return": "RETURN VALUE", "Memory ordering": "MEMORY ORDERING"}


def page_markdown(name, summary, args, body, proto, header, version, see_also):
    paras = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
    desc, extra = [], {}
    for p in paras:
        # A paragraph may hold several "Label: text" blocks (Context, Memory ordering).
        parts = re.split(r"^(Context|Return|Memory ordering): ", p, flags=re.M)
        if parts[0].strip():
            desc.append(" ".join(parts[0].split()))
        for label, text in zip(parts[1::2], parts[2::2]):
            extra.setdefault(SECTIONS[label], []).append(" ".join(text.split()))
    out = [
        f"% {name.upper()}(3) libcchain {version} | libcchain manual",
        "",
        "# NAME",
        "",
        f"{md_escape(name)} - {inline(summary)}",
        "",
        "# SYNOPSIS",
        "",
        f"**#include <{header}>**",
        "",
        "```",
        proto,
        "```",
        "",
        "Link with *-lcchain* (`pkg-config --cflags --libs libcchain`).",
        "",
    ]
    if args:
        out += ["# ARGUMENTS", ""]
        for a, d in args:
            out += [f"*{a}*", f":   {inline(d)}", ""]
    out += ["# DESCRIPTION", ""]
    out += [inline(d) + "\n" for d in desc] or ["See SYNOPSIS.", ""]
    for sec in ("RETURN VALUE", "CONTEXT", "MEMORY ORDERING"):
        if sec in extra:
            out += [f"# {sec}", ""] + [inline(t) + "\n" for t in extra[sec]]
    out += ["# SEE ALSO", "", ", ".join(f"**{md_escape(s)}**({sec})" for s, sec in see_also), ""]
    return "\n".join(out)


def readme_overview(readme, version):
    """cchain(7): the README's introduction, example, API and guarantees."""
    text = open(readme, encoding="utf-8").read()
    sections = re.split(r"^## ", text, flags=re.M)
    intro = sections[0].split("\n", 1)[1]
    keep = {"Example", "API", "Guarantees", "How it works"}
    body = [intro]
    for s in sections[1:]:
        title = s.split("\n", 1)[0].strip()
        if title in keep:
            # One level up: ## -> #, ### -> ##.
            s = re.sub(r"^### ", "## ", s, flags=re.M)
            body.append("# " + s)
    md = [f"% CCHAIN(7) libcchain {version} | libcchain manual", "", "# NAME", "",
          "cchain - libcchain, ordered async completion chains", "", "# DESCRIPTION", ""]
    md += body
    md += ["", "# SEE ALSO", "",
           "**compl\\_chain\\_add**(3), **compl\\_chain\\_wait**(3), **compl\\_chain\\_complete**(3), "
           "**async\\_schedule\\_domain**(3), **pkg-config**(1)", ""]
    return "\n".join(md)


def pandoc(md, out_path):
    subprocess.run(["pandoc", "-s", "-f", "markdown", "-t", "man", "-o", out_path],
                   input=md.encode(), check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--readme", required=True)
    ap.add_argument("--symbols", required=True)
    ap.add_argument("headers", nargs="+")
    o = ap.parse_args()

    symbols = [l.strip() for l in open(o.symbols) if l.strip() and not l.startswith("#")]
    docs = {}
    for h in o.headers:
        for name, *rest in parse_header(h):
            docs[name] = (rest, "cchain/" + os.path.basename(h))
    missing = [s for s in symbols if s not in docs]
    if missing:
        sys.exit("gen-man.py: no kernel-doc comment for: " + ", ".join(missing))
    os.makedirs(o.outdir, exist_ok=True)
    for s in symbols:
        (summary, args, body, proto), header = docs[s]
        # The functions declared next to it, in the same header.
        related = sorted(x for x in symbols if x != s and docs[x][1] == header)
        see = [("cchain", 7)] + [(x, 3) for x in related]
        pandoc(page_markdown(s, summary, args, body, proto, header, o.version, see),
               os.path.join(o.outdir, s + ".3"))
    pandoc(readme_overview(o.readme, o.version), os.path.join(o.outdir, "cchain.7"))


if __name__ == "__main__":
    main()
