#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Generate the manual pages from their one source of truth.

Section 3: one page per kernel-doc comment in include/cchain/*.h, for
functions, function-like and object-like macros, structs, unions, enums and
typedefs.  A
comment may name several identifiers ("A(), B() - summary"): the first gets
the page, the others link pages (".so man3/A.3") to it; the page of a header's
main type (HEADER_PAGES) also carries the header's overview comment.
Section 7: cchain(7), the overview and example from README.md, the API,
how it works and the guarantees from doc/api.md, every header's overview
comment, and the guide's pages on shared chains, event loops,
observability and integrating (GUIDE); its SEE ALSO names every page.
Each page is written as markdown and turned into roff by pandoc (Debian
package pandoc).

Usage: gen-man.py --outdir DIR --version V --readme README.md --api doc/api.md
                  --guide doc/PAGE.md... --symbols exports.txt HEADER...
       gen-man.py --list HEADER...      (the file names it would write)
       gen-man.py --outdir DIR --version V --tool PROGRAM
                                        (PROGRAM.1 from its --help or -h)
Fails if an exported symbol has no kernel-doc comment, if a comment has no
description (a paragraph besides its arguments, Context, Return and Memory
ordering), if a section cchain(7) takes is missing, or if a table in
cchain(7) cannot fit 80 columns.
Section 1: PROGRAM.1 for an installed example program, from its --help.
"""
import argparse
import os
import re
import subprocess
import sys

# The width of code in a SYNOPSIS: 80 columns less the code's indent (14).
CODE_WIDTH = 66
# The width of a table in cchain(7): 80 columns less the text's indent (7).
TABLE_WIDTH = 70

HEAD_RE = re.compile(
    r"(?:(?P<kind>struct|typedef|union|enum) )?"
    r"(?P<names>\w+(?:\(\))?(?:, \w+(?:\(\))?)*) - (?P<summary>.*)")


class Item:
    """One kernel-doc comment and the declaration that follows it."""

    def __init__(self, kind, names, summary, args, body, decl, header):
        self.kind = kind          # function, macro, struct (also union, enum), typedef
        self.names = names        # the first one gets the page
        self.summary = summary
        self.args = args
        self.body = body
        self.decl = decl
        self.header = header


# The page of each header's main type, which also shows the header's overview.
HEADER_PAGES = {"cchain/compl_chain.h": "compl_chain", "cchain/shared.h": "compl_chain_shared",
                "cchain/notify.h": "compl_notifier", "cchain/async.h": "async_domain"}

# The guide's pages in cchain(7), in this order, with the "## " sections
# left out (an example program's, whose tables need more than 80 columns).
GUIDE = {"shared-chains.md": {"Example: a pre-fork pool (`examples/prefork`)"},
         "event-loops.md": set(), "observability.md": set(), "integrating.md": set()}


def header_overview(path):
    """A header's overview: its first comment that is not kernel-doc, as
    markdown (paragraphs, "- " lists, tab-indented code); None for a
    one-line comment (a generated file's, an umbrella header's)."""
    text = open(path, encoding="utf-8").read()
    for m in re.finditer(r"^/\*(?!\*)(.*?)\*/", text, re.S | re.M):
        body = m.group(1)
        if "SPDX-License-Identifier" in body:
            continue
        if "\n" not in body.strip():
            return None
        lines = [re.sub(r"^ \* ?", "", l) for l in body.strip("\n").splitlines()]
        paras = re.split(r"\n\s*\n", "\n".join(lines).strip())
        out = []
        for para in paras:
            if all(l.startswith("\t") for l in para.splitlines()):
                out.append("\n".join("    " + l[1:].expandtabs(4) for l in para.splitlines()))
            else:
                out.append(inline(para))
        return "\n\n".join(out) + "\n"
    return None


def declaration(rest, kind, names):
    """The declaration text after a comment, as written in the header."""
    if kind == "struct":
        m = re.match(r"((?:struct|union|enum) \w+ \{.*?\n\};|(?:struct|union|enum) \w+;)",
                     rest, re.S)
        return m.group(1) if m else None
    if kind == "macro":
        # Every #define that follows (one per name), continuations joined.
        lines = []
        for line in re.finditer(r"^#define (?:[^\n]*\\\n)*[^\n]*", rest, re.M):
            if not any(re.match(rf"#define {n}\b", line.group(0)) for n in names):
                break
            lines.append(re.sub(r"\s*\\\n\s*", " ", line.group(0)))
            if len(lines) == len(names):
                break
        return "\n".join(lines) or None
    m = re.match(r"([^;{]*;)", rest, re.S)
    return m.group(1) if m else None


def parse_header(path):
    """Yield an Item for each kernel-doc comment of a header."""
    text = open(path, encoding="utf-8").read()
    header = "cchain/" + os.path.basename(path)
    if header.endswith(".in"):
        header = header[:-3]
    for m in re.finditer(r"/\*\*\n(.*?)\*/\n", text, re.S):
        lines = [re.sub(r"^ \* ?", "", l) for l in m.group(1).splitlines()]
        while lines[0].endswith(",") and len(lines) > 1:  # a list of names
            lines[0:2] = [lines[0] + " " + lines[1].strip()]
        head = HEAD_RE.match(lines[0])
        if not head:
            continue
        names = [n.replace("()", "") for n in head.group("names").split(", ")]
        rest = text[m.end():]
        kind = head.group("kind")
        if kind in ("union", "enum"):
            kind = "struct"
        if kind is None:
            kind = "macro" if re.match(r"(?:#if.*\n)?#define", rest) else "function"
        args, i = [], 1
        while i < len(lines) and lines[i].startswith("@"):
            a = re.match(r"@(\w+): (.*)", lines[i])
            args.append([a.group(1), a.group(2)])
            i += 1
            while i < len(lines) and lines[i].startswith("  ") and lines[i].strip():
                args[-1][1] += " " + lines[i].strip()
                i += 1
        body = "\n".join(lines[i:]).strip()
        decl = declaration(rest, kind, names)
        if decl is None:
            sys.exit(f"gen-man.py: {path}: no declaration after the comment for {names[0]}")
        yield Item(kind, names, head.group("summary"), args, body, decl, header)


def wrap_call(text, width=CODE_WIDTH, macro=False):
    """A one-line prototype, broken after commas to fit width; a macro
    definition, broken at spaces with backslash continuations."""
    if len(text) <= width:
        return text
    # A function breaks after its opening parenthesis too (a long name with
    # one long argument has no comma to break at).
    if macro:
        words = text.split(" ")
    else:
        head, paren, args = text.partition("(")
        words = re.split(r"(?<=,) ", args)
        if len(head) + 1 + len(words[0]) > width:
            words.insert(0, head + paren)
        else:
            words[0] = head + paren + words[0]
    tail = " \\" if macro else ""
    out, line = [], ""
    for w in words:
        sep = "" if line.endswith("(") else " "
        if line and len(line) + len(sep) + len(w) + len(tail) > width:
            out.append(line + tail)
            line = "        " + w
        else:
            line = line + sep + w if line else w
    out.append(line)
    return "\n".join(out)


def synopsis(item):
    if item.kind == "struct":
        return item.decl.expandtabs(4)
    if item.kind == "macro":
        return "\n".join(wrap_call(l, macro=True) for l in item.decl.splitlines())
    proto = " ".join(item.decl.split())
    proto = re.sub(r"^CCHAIN_API ", "", proto)
    return wrap_call(proto)


def md_escape(s):
    return re.sub(r"([*_<>\[\]\\])", r"\\\1", s)


def inline(s):
    """kernel-doc markup to markdown: @arg, func(), %CONST, `code`."""
    parts = re.split(r"(`[^`]*`)", s)
    out = []
    for p in parts:
        if p.startswith("`"):
            out.append(p)
            continue
        p = md_escape(p)
        p = re.sub(r"@(\w+)", lambda m: "*" + m.group(1) + "*", p)
        p = re.sub(r"%(\w+)", lambda m: "**" + m.group(1) + "**", p)
        p = re.sub(r"\b([A-Za-z]\w*)\(\)", lambda m: "**" + m.group(1) + "**()", p)
        out.append(p)
    return "".join(out)


SECTIONS = {"Context": "CONTEXT", "Return": "RETURN VALUE",
            "Memory ordering": "MEMORY ORDERING"}


def page_markdown(item, version, see_also, overview=None):
    name = item.names[0]
    paras = [p.strip() for p in re.split(r"\n\s*\n", item.body) if p.strip()]
    desc, extra = [], {}
    for p in paras:
        # A paragraph may hold several "Label: text" blocks (Context, Memory ordering).
        parts = re.split(r"^(Context|Return|Memory ordering): ", p, flags=re.M)
        if parts[0].strip():
            desc.append(" ".join(parts[0].split()))
        for label, text in zip(parts[1::2], parts[2::2]):
            extra.setdefault(SECTIONS[label], []).append(" ".join(text.split()))
    if not desc:
        sys.exit(f"gen-man.py: the kernel-doc comment of {name} has no "
                 "description (a paragraph after the arguments)")
    title = ", ".join(md_escape(n) for n in item.names)
    out = [
        f"% {name.upper()}(3) libcchain {version} | libcchain manual",
        "",
        "# NAME",
        "",
        f"{title} - {inline(item.summary)}",
        "",
        "# SYNOPSIS",
        "",
        f"**#include <{item.header}>**",
        "",
        "```",
        synopsis(item),
        "```",
        "",
    ]
    if item.kind == "function":
        out += ["Link with *-lcchain* (`pkg-config --cflags --libs libcchain`).", ""]
    if item.args:
        out += ["# MEMBERS" if item.kind == "struct" else "# ARGUMENTS", ""]
        for a, d in item.args:
            out += [f"*{a}*", f":   {inline(d)}", ""]
    out += ["# DESCRIPTION", ""] + [inline(d) + "\n" for d in desc]
    for sec in ("RETURN VALUE", "CONTEXT", "MEMORY ORDERING"):
        if sec in extra:
            out += [f"# {sec}", ""] + [inline(t) + "\n" for t in extra[sec]]
    if overview:
        out += [f"# OVERVIEW OF <{item.header}>", "", overview]
    out += ["# SEE ALSO", "",
            ", ".join(f"**{md_escape(s)}**({sec})" for s, sec in see_also), ""]
    return "\n".join(out)


def md_sections(path, keep):
    """The "## " sections of a markdown file named in keep, one level up,
    in the file's order, with links reduced to their text; and the text
    before the first section, without the title line."""
    text = open(path, encoding="utf-8").read()
    sections = re.split(r"^## ", text, flags=re.M)
    found = []
    for s in sections[1:]:
        title = s.split("\n", 1)[0].strip()
        if title in keep:
            # One level up: ## -> #, ### -> ##.
            s = re.sub(r"^### ", "## ", s, flags=re.M)
            found.append((title, "# " + s))
    missing = sorted(set(keep) - {t for t, _ in found})
    if missing:
        sys.exit(f"gen-man.py: {path} has no section " + ", ".join(missing))
    intro = sections[0].split("\n", 1)[1]
    return unlink(intro), [unlink(s) for _, s in found]


def unlink(s):
    """Markdown links reduced to their text."""
    return re.sub(r"\[([^\]]+)\]\([^)\s]+\)", r"\1", s)


def fold_output(md):
    """Lines of indented code blocks (a program's output, in the guide;
    commands are fenced) wider than CODE_WIDTH, folded at spaces, the rest
    indented by four: a man page is read in 80 columns."""
    out, fenced = [], False
    for line in md.split("\n"):
        if line.startswith("```"):
            fenced = not fenced
        if fenced or not line.startswith("    ") or len(line) - 4 <= CODE_WIDTH:
            out.append(line)
            continue
        text, first = line[4:], True
        while len(text) > (CODE_WIDTH if first else CODE_WIDTH - 4):
            width = CODE_WIDTH if first else CODE_WIDTH - 4
            cut = text.rfind(" ", 0, width + 1)
            if cut <= 0:
                break
            out.append("    " + ("" if first else "    ") + text[:cut])
            text, first = text[cut + 1:], False
        out.append("    " + ("" if first else "    ") + text)
    return "\n".join(out)


def guide_page(path, leave_out):
    """A page of the guide as it is ("# " its title, "## " its sections),
    without the "## " sections named in leave_out and without links."""
    text = open(path, encoding="utf-8").read()
    parts = re.split(r"^(?=## )", text, flags=re.M)
    titles = [p.split("\n", 1)[0][3:].strip() for p in parts[1:]]
    missing = sorted(set(leave_out) - set(titles))
    if missing:
        sys.exit(f"gen-man.py: {path} has no section " + ", ".join(missing))
    kept = [parts[0]] + [p for p, t in zip(parts[1:], titles) if t not in leave_out]
    return fold_output(unlink("".join(kept)))


def readme_overview(readme, api, guide, overviews, see_also, version):
    """cchain(7): the README's introduction and example; doc/api.md's API,
    how it works, guarantees and fork() and signal handlers; each header's
    overview; the guide's pages (GUIDE); every other page in SEE ALSO."""
    intro, example = md_sections(readme, {"Example"})
    _, sections = md_sections(api, {"API", "How it works", "Guarantees",
                                    "fork() and signal handlers"})
    body = [intro] + example + sections
    body.append("# HEADERS\n")
    for header, text in overviews:
        body.append(f"## <{header}>\n\n{text}")
    by_name = {os.path.basename(g): g for g in guide}
    missing = sorted(set(GUIDE) - set(by_name))
    if missing:
        sys.exit("gen-man.py: --guide lacks " + ", ".join(missing))
    for name, leave_out in GUIDE.items():
        body.append(guide_page(by_name[name], leave_out))
    md = [f"% CCHAIN(7) libcchain {version} | libcchain manual", "", "# NAME", "",
          "cchain - libcchain, ordered async completion chains", "", "# DESCRIPTION", ""]
    md += body
    md += ["", "# SEE ALSO", "",
           ", ".join(f"**{md_escape(n)}**({sec})" for n, sec in see_also), ""]
    md = "\n".join(md)
    tables = []
    md = re.sub(r"^\|.*\|\n\|[-|: ]+\|\n(?:\|.*\|\n)+",
                lambda m: man_table(m.group(0), tables), md, flags=re.M)
    return md, tables


def man_table(table, widths):
    """A markdown table of cchain(7) for an 80-column terminal.

    The first column of the API tables holds full prototypes; on a man page
    it names the functions (each has its own page).  Column widths are
    chosen here from the cells' longest words and total lengths (pandoc
    would give every column the same share); fit_tables() writes them in.
    """
    rows = [[c.strip() for c in l.strip().strip("|").split("|")]
            for l in table.splitlines()]
    head, sep, body = rows[0], rows[1], rows[2:]
    if head[0] in ("Function", "Call", "Macro"):
        for r in body:
            names = re.findall(r"\b(\w+)\(", r[0])
            if names:
                r[0] = ", ".join(f"`{n}()`" for n in dict.fromkeys(names))
    cols = list(zip(head, *body))
    plain = [[re.sub(r"[`*\\]", "", c) for c in col] for col in cols]
    longest = [max(len(w) for c in col for w in c.split() or [""]) for col in plain]
    total = [sum(len(c) for c in col) for col in plain]
    avail = TABLE_WIDTH - 3 * (len(cols) - 1) - 1
    w = list(longest)
    spare = avail - sum(w)
    if spare < 0:
        sys.exit("gen-man.py: a table of cchain(7) cannot fit 80 columns: "
                 + " | ".join(head))
    # The rest goes to the columns whose text would not fit on one line,
    # in proportion to how much text they hold.
    need = [max(0, max(len(c) for c in col) - w[i]) for i, col in enumerate(plain)]
    weight = [t if n else 0 for t, n in zip(total, need)]
    for i in range(len(w)):
        if sum(weight):
            w[i] += min(need[i], spare * weight[i] // sum(weight))
    widths.append(w)
    lines = ["| " + " | ".join(r) + " |" for r in [head, sep] + body]
    return "\n".join(lines) + "\n"


def fit_tables(roff, widths):
    """Write the chosen column widths into pandoc's tbl formats."""
    fmts = list(re.finditer(r"(?<=^tab\(@\);\n)[lcr].*\.$", roff, re.M))
    if len(fmts) != len(widths):
        sys.exit("gen-man.py: pandoc's tables do not match the markdown's")
    for m, w in reversed(list(zip(fmts, widths))):
        specs = m.group(0)[:-1].split(" ")
        new = " ".join(re.sub(r"w\([\d.]+n\)", "", s) + f"w({n}n)"
                       for s, n in zip(specs, w)) + "."
        roff = roff[:m.start()] + new + roff[m.end():]
    # On a terminal, one long page: groff 1.22 warns about every table
    # text block that meets the end of its 66-line page, although man
    # renders the page continuously.
    return re.sub(r"^(\.TH .*)$", r"\1\n.if n .pl 1000i", roff, count=1, flags=re.M)


def no_hyphenation(roff):
    """Identifiers must not be split: no hyphenation, ragged right margin."""
    return re.sub(r"^\.hy$", ".nh\n.ad l", roff, flags=re.M)


def pandoc(md, out_path, widths=(), reader="markdown"):
    # --columns=1: every table gets explicit widths and wrapping cells.
    roff = subprocess.run(["pandoc", "-s", "--columns=1", "-f", reader, "-t", "man"],
                          input=md.encode(), check=True,
                          stdout=subprocess.PIPE).stdout.decode()
    if widths:
        roff = fit_tables(roff, widths)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(no_hyphenation(roff))


def tool_markdown(exe, version):
    """A section 1 page from a program's --help (or -h) text."""
    name = os.path.basename(exe)
    for flag in ("--help", "-h"):
        r = subprocess.run([exe, flag], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if r.returncode == 0 and r.stdout.lower().startswith("usage: "):
            break
    else:
        sys.exit(f"gen-man.py: {exe} prints no usage with --help or -h")
    lines = r.stdout.rstrip("\n").splitlines()
    usage = [lines[0][len("usage: "):]]
    i = 1
    while i < len(lines) and lines[i].startswith(" ") and not lines[i].lstrip().startswith("-"):
        usage[-1] += " " + lines[i].strip()
        i += 1
    desc, opts, notes = [], [], []
    for line in lines[i:]:
        # "-x, --long ARG", "-S, --suffix=SUF", "-0 .. -9", "    --fast"
        m = re.match(r"^ {2,}(-[^\s,]+(?: [A-Z]\S*)?(?:(?:, | \.\. )-\S+(?: [A-Z]\S*)?)*)"
                     r"\s{2,}(\S.*)$", line)
        if m:
            opts.append([m.group(1), m.group(2)])
        elif opts and re.match(r"^\s{4,}[^\s-]", line):
            opts[-1][1] += " " + line.strip()
        elif line.strip():
            (notes if opts else desc).append(line.strip())
    if not desc or not opts:
        sys.exit(f"gen-man.py: {exe} --help has no description or no options")
    text = " ".join(desc)
    summary = re.split(r"(?<=[a-z)])\. ", text)[0].rstrip(".")
    summary = summary[0].lower() + summary[1:]
    # Broken between options, never inside one: lines of a line block.
    words = re.findall(r"\[[^]]*\]|\S+", usage[0])
    syn, line = [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > CODE_WIDTH:
            syn.append(line)
            line = "    " + w
        else:
            line = line + " " + w if line else w
    syn.append(line)
    synopsis_line = "\n".join("| " + md_escape(l).replace(" ", "\\ ") for l in syn)
    synopsis_line = synopsis_line.replace(md_escape(name), f"**{md_escape(name)}**", 1)
    out = [f"% {name.upper()}(1) libcchain {version} | libcchain manual", "",
           "# NAME", "", f"{md_escape(name)} - {md_escape(summary)}", "",
           "# SYNOPSIS", "", synopsis_line, "",
           "# DESCRIPTION", "", md_escape(text), "", "# OPTIONS", ""]
    for o, d in opts:
        out += [f"**{md_escape(o)}**", f":   {md_escape(d)}", ""]
    if notes:
        out += ["# NOTES", "", md_escape(" ".join(notes)), ""]
    out += ["# SEE ALSO", "", "**cchain**(7)", ""]
    return "\n".join(out)


def collect(headers):
    pages = {}
    for h in headers:
        for item in parse_header(h):
            pages[item.names[0]] = item
    return pages


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--outdir")
    ap.add_argument("--version")
    ap.add_argument("--readme")
    ap.add_argument("--api")
    ap.add_argument("--guide", nargs="+", default=[], help="the guide's pages (GUIDE)")
    ap.add_argument("--symbols")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--tool", help="write PROGRAM.1 from the program's --help")
    ap.add_argument("headers", nargs="*")
    o = ap.parse_args()

    if o.tool:
        name = os.path.basename(o.tool)
        # No smart typography: "--help" must not become an en dash.
        pandoc(tool_markdown(o.tool, o.version), os.path.join(o.outdir, name + ".1"),
               reader="markdown-smart")
        return

    pages = collect(o.headers)
    if o.list:
        for item in pages.values():
            for n in item.names:
                print(n + ".3")
        print("cchain.7")
        return
    if not (o.outdir and o.version and o.readme and o.api and o.guide and o.symbols):
        ap.error("--outdir, --version, --readme, --api, --guide and --symbols are needed")
    documented = {n for item in pages.values() for n in item.names}
    symbols = [l.strip() for l in open(o.symbols) if l.strip() and not l.startswith("#")]
    missing = [s for s in symbols if s not in documented]
    if missing:
        sys.exit("gen-man.py: no kernel-doc comment for: " + ", ".join(missing))
    os.makedirs(o.outdir, exist_ok=True)
    overviews = {}
    for h in o.headers:
        item = next(parse_header(h), None)
        text = header_overview(h)
        if item and text:
            overviews[item.header] = text
    for header, page in HEADER_PAGES.items():
        if header in overviews and page not in pages:
            sys.exit(f"gen-man.py: {header}'s main page {page} is not documented")
    for name, item in pages.items():
        # The identifiers declared next to it, in the same header.
        related = sorted(n for n, x in pages.items()
                         if n != name and x.header == item.header)
        see = [("cchain", 7)] + [(x, 3) for x in related]
        overview = overviews.get(item.header) if HEADER_PAGES.get(item.header) == name else None
        pandoc(page_markdown(item, o.version, see, overview),
               os.path.join(o.outdir, name + ".3"))
        for link in item.names[1:]:
            with open(os.path.join(o.outdir, link + ".3"), "w") as f:
                f.write(f".so man3/{name}.3\n")
    see_all = [(n, 3) for n in pages] + [("pkg-config", 1)]
    md, widths = readme_overview(o.readme, o.api, o.guide, list(overviews.items()),
                                 see_all, o.version)
    pandoc(md, os.path.join(o.outdir, "cchain.7"), widths)


if __name__ == "__main__":
    main()
