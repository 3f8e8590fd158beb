#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every relative link of the tracked markdown files leads somewhere.

For each file `git ls-files '*.md'` lists (under --root, by default the
repository this script is in; a tree that is not a git checkout is walked
instead, skipping directories whose name starts with "." or "build"), every
link outside code blocks and code spans is read: inline links and images
[text](target), reference definitions [label]: target, and HTML href="..."
and src="...".  Targets starting with http:, https: or mailto: are skipped.
Any other target must exist, relative to the linking file's directory (or
to the root, for a target starting with "/"), and its #anchor, if any, must
be an anchor of the target markdown file (of the linking file itself for a
bare "#anchor"): a heading's GitHub slug (its text lowercased, every
character but letters, digits, "-", "_" and spaces removed, each space made
a "-"; the second heading with the same slug gets "-1", the third "-2", ...)
or an explicit <a name="..."> or <a id="...">.  Anchors into files that are
not markdown are not checked.

Prints `FILE:LINE: dead link TARGET` for each dead link and exits 1;
otherwise prints one summary line and exits 0.

Usage: check-links.py [--root DIR]
"""
import argparse
import os
import re
import subprocess
import sys
from urllib.parse import unquote

SKIP = ("http:", "https:", "mailto:")
FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ATX_RE = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT_RE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
LIST_RE = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])[ \t]")
CODE_SPAN_RE = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")
# [text](target "title"), also images; the text may hold one level of [...].
INLINE_RE = re.compile(r"\[(?:[^\[\]\\]|\\.|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^()\s]+)"
                       r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
REFDEF_RE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HTML_RE = re.compile(r"""\b(?:href|src)\s*=\s*("[^"]*"|'[^']*')""", re.I)
ANCHOR_RE = re.compile(r"""<a\s[^>]*?\b(?:name|id)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", re.I)


def markdown_files(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "*.md"], check=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
        return sorted(f for f in out.decode().split("\0") if f)
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, dirs, names in os.walk(root):
            dirs[:] = [x for x in dirs if not x.startswith((".", "build"))]
            files += [os.path.relpath(os.path.join(d, n), root)
                      for n in names if n.endswith(".md")]
        return sorted(files)


def prose_lines(text):
    """(line number, line) for each line outside code blocks, code spans
    replaced by a placeholder of the same kind of text."""
    fence = None
    in_list = False
    prev_blank = True
    in_indented = False
    for n, line in enumerate(text.split("\n"), 1):
        m = FENCE_RE.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                    and not line.strip().strip(fence[0]):
                fence = None
            continue
        if m:
            fence = m.group(1)
            continue
        blank = not line.strip()
        indented = line.startswith(("    ", "\t"))
        if blank:
            prev_blank = True
            continue
        if indented and (in_indented or (prev_blank and not in_list)):
            in_indented = True
            prev_blank = False
            continue
        in_indented = False
        if not indented:
            in_list = bool(LIST_RE.match(line)) or (in_list and not prev_blank)
        prev_blank = False
        yield n, CODE_SPAN_RE.sub(lambda c: "x" * len(c.group(2)), line)


def heading_text(raw):
    """The text GitHub renders for a heading's markdown."""
    t = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", raw)     # links, images: their text
    t = re.sub(r"<[^>]+>", "", t)                           # HTML tags
    t = t.replace("`", "").replace("*", "")
    return t.strip()


def slug(text):
    s = re.sub(r"[^\w\- ]", "", text.lower())
    return s.replace(" ", "-")


def anchors(text):
    """Every anchor of a markdown text: heading slugs and <a name/id>."""
    found = set()
    counts = {}
    prev = None
    fence = None
    for line in text.split("\n"):
        m = FENCE_RE.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                    and not line.strip().strip(fence[0]):
                fence = None
            prev = None
            continue
        if m:
            fence = m.group(1)
            prev = None
            continue
        title = None
        h = ATX_RE.match(line)
        if h:
            title = h.group(2) or ""
        elif prev is not None and SETEXT_RE.match(line):
            title = prev
        if title is not None:
            base = slug(heading_text(title))
            n = counts.get(base, 0)
            counts[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
            prev = None
        else:
            stripped = line.strip()
            prev = stripped if stripped and not line.startswith(("    ", "\t")) \
                and not stripped.startswith(("|", ">", "<", "-", "*", "+", "#")) \
                and not LIST_RE.match(line) else None
        for a in ANCHOR_RE.findall(line):
            found.add(a.strip("\"'"))
    return found


def links(text):
    """(line number, target) for each link of a markdown text."""
    for n, line in prose_lines(text):
        for m in INLINE_RE.finditer(line):
            yield n, m.group(1)
        m = REFDEF_RE.match(line)
        if m:
            yield n, m.group(1)
        for m in HTML_RE.finditer(line):
            yield n, m.group(1)[1:-1]


def main():
    ap = argparse.ArgumentParser(description="Check the relative links of the markdown files.")
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   os.pardir))
    root = os.path.abspath(ap.parse_args().root)
    cache = {}

    def anchors_of(path):
        if path not in cache:
            with open(path, encoding="utf-8") as f:
                cache[path] = anchors(f.read())
        return cache[path]

    files = markdown_files(root)
    dead = total = 0
    for rel in files:
        path = os.path.join(root, rel)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for n, target in links(text):
            target = target.strip("<>")
            if not target or target.lower().startswith(SKIP):
                continue
            total += 1
            file_part, _, anchor = target.partition("#")
            file_part = unquote(file_part)
            if not file_part:
                dest = path
            elif file_part.startswith("/"):
                dest = os.path.join(root, file_part.lstrip("/"))
            else:
                dest = os.path.join(os.path.dirname(path), file_part)
            ok = os.path.exists(dest)
            if ok and anchor and dest.endswith(".md") and os.path.isfile(dest):
                ok = unquote(anchor) in anchors_of(dest)
            if not ok:
                print(f"{rel}:{n}: dead link {target}")
                dead += 1
    if dead:
        sys.exit(1)
    print(f"{total} relative links in {len(files)} markdown files, every target and anchor found")


if __name__ == "__main__":
    main()
