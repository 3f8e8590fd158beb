#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every promise of the public headers has a row in doc/promises.tsv, and
every row names a checker that exists.

The promises are read from the kernel-doc comments (/** ... */ whose first
line is "name() - summary", "struct name - summary", ...) of
include/cchain/*.h and kernel/include/linux/compl_chain.h:

- each "Context:", "Return:" and "Memory ordering:" section (the section runs
  to the next of them or to a blank line), kinds context, return, memory;
- outside those sections, each sentence containing "once it returns"
  (kind once) or the word "never", or beginning with "No", "Nobody" or
  "Nothing" (kind never).

A promise's id is HEADER:NAME:KIND, with :N (1, 2, ... in the order of the
comment) for the sentence kinds: HEADER is the header as included without
".h" (cchain/compl_chain, linux/compl_chain), NAME the comment's first name
without "()" ("struct x" is struct_x).  An id depends only on the comment it
is in.  Each promise also has a digest of its text (whitespace collapsed):
a row whose digest differs names a promise whose wording changed, which
needs its checkers looked at again.

doc/promises.md describes the registry's format and the checker syntax.
Fails (exit status 1, one line per problem) when a promise has no row, a row
names no promise, a digest differs, or a checker names a test, a model
marker or a file that does not exist.

Usage: check-promises.py [--root DIR] [--registry FILE] [--list | --summary]
"""
import argparse
import glob
import hashlib
import os
import re
import sys

SECTIONS = {"Context": "context", "Return": "return", "Memory ordering": "memory"}
SECTION_RE = re.compile(r"^(Context|Return|Memory ordering):\s")
HEAD_RE = re.compile(r"^(?:(struct|typedef|union|enum) )?(\w+)(?:\(\))?"
                     r"(?:, \w+(?:\(\))?)* - ")
# A sentence ends at . ! or ? followed by white space (not after "e.g.",
# "i.e." or "etc."), or at the end of its paragraph.
SENTENCE_END = re.compile(r"(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\betc\.)(?<=[.!?])\s+")
NEVER_RE = re.compile(r"\bnever\b", re.I)
NO_START_RE = re.compile(r"^(No|Nobody|Nothing)\b")
ONCE_RE = re.compile(r"\bonce it returns\b", re.I)
KINDS = ("context", "return", "memory", "once", "never")
CHECKER_KINDS = ("test", "meson", "model", "argued")
COLUMNS = ("id", "digest", "header", "name", "promise", "checkers", "note")


class Promise:
    def __init__(self, pid, header, name, kind, text):
        self.id = pid
        self.header = header
        self.name = name
        self.kind = kind
        self.text = " ".join(text.split())
        self.digest = hashlib.sha1(self.text.encode()).hexdigest()[:8]


def header_files(root):
    files = sorted(glob.glob(os.path.join(root, "include", "cchain", "*.h")))
    kernel = os.path.join(root, "kernel", "include", "linux", "compl_chain.h")
    if os.path.exists(kernel):
        files.append(kernel)
    return files


def header_name(root, path):
    rel = os.path.relpath(path, root)
    if rel.startswith(os.path.join("kernel", "include") + os.sep):
        rel = os.path.relpath(rel, os.path.join("kernel", "include"))
    elif rel.startswith("include" + os.sep):
        rel = os.path.relpath(rel, "include")
    return rel[:-2] if rel.endswith(".h") else rel


def blocks(text):
    """(name, lines) for each kernel-doc comment, leading " * " removed."""
    for m in re.finditer(r"/\*\*\n(.*?)\*/", text, re.S):
        lines = [re.sub(r"^\s*\* ?", "", l) for l in m.group(1).splitlines()]
        if not lines:
            continue
        first = lines[0]
        i = 1
        while first.endswith(",") and i < len(lines):  # a list of names
            first += " " + lines[i].strip()
            i += 1
        head = HEAD_RE.match(first)
        if not head:
            continue
        name = head.group(2)
        if head.group(1):
            name = head.group(1) + "_" + name
        yield name, lines[i:]


def split_block(lines):
    """The block's sections (kind, text) and its other paragraphs."""
    sections, paras = [], []
    cur_section, cur_para = None, []

    def flush_para():
        if cur_para:
            paras.append(" ".join(cur_para))
            cur_para.clear()

    for line in lines:
        s = line.strip()
        m = SECTION_RE.match(s)
        if m:
            flush_para()
            cur_section = [SECTIONS[m.group(1)], s[m.end():]]
            sections.append(cur_section)
        elif not s:
            cur_section = None
            flush_para()
        elif cur_section is not None:
            cur_section[1] += " " + s
        else:
            cur_para.append(s)
    flush_para()
    return sections, paras


def sentences(para):
    return [s for s in SENTENCE_END.split(para) if s.strip()]


def extract(root):
    """Every promise of the headers under root, in header order."""
    promises = []
    for path in header_files(root):
        header = header_name(root, path)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for name, lines in blocks(text):
            sections, paras = split_block(lines)
            base = f"{header}:{name}"
            seen = {}
            for kind, body in sections:
                seen[kind] = seen.get(kind, 0) + 1
                pid = f"{base}:{kind}" + (f":{seen[kind]}" if seen[kind] > 1 else "")
                promises.append(Promise(pid, header, name, kind, body))
            for para in paras:
                for sent in sentences(para):
                    if ONCE_RE.search(sent):
                        kind = "once"
                    elif NEVER_RE.search(sent) or NO_START_RE.match(sent):
                        kind = "never"
                    else:
                        continue
                    seen[kind] = seen.get(kind, 0) + 1
                    promises.append(Promise(f"{base}:{kind}:{seen[kind]}", header,
                                            name, kind, sent))
    return promises


class Row:
    def __init__(self, lineno, fields):
        self.lineno = lineno
        fields = fields + [""] * (len(COLUMNS) - len(fields))
        (self.id, self.digest, self.header, self.name, self.promise,
         checkers, self.note) = [f.strip() for f in fields[:len(COLUMNS)]]
        self.checkers = [c.strip() for c in checkers.split(" | ")] if checkers.strip() else []
        self.extra = fields[len(COLUMNS):]


def read_registry(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            rows.append(Row(lineno, line.split("\t")))
    return rows


class Checkers:
    """Resolves checkers against the tree under root, caching file reads."""

    def __init__(self, root):
        self.root = root
        self.cache = {}

    def read(self, rel):
        if rel not in self.cache:
            path = os.path.join(self.root, rel)
            try:
                with open(path, encoding="utf-8") as f:
                    self.cache[rel] = f.read()
            except OSError:
                self.cache[rel] = None
        return self.cache[rel]

    def registered_file(self, rel):
        """Whether tests/meson.build builds or runs the file."""
        meson = self.read("tests/meson.build") or ""
        base = os.path.basename(rel)
        if f"'{base}'" in meson:
            return True
        stem = re.match(r"test_(\w+)\.c$", base)
        # The cmocka programs built in a loop: 'name': timeout.
        return bool(stem and re.search(rf"'{stem.group(1)}'\s*:", meson))

    def problem(self, checker):
        """None if the checker resolves, else what is wrong with it."""
        kind, sep, rest = checker.partition(":")
        if not sep or kind not in CHECKER_KINDS:
            return f"unknown checker kind in {checker!r} (one of {', '.join(CHECKER_KINDS)})"
        if kind == "argued":
            return None if len(rest.split()) >= 3 else f"{checker!r}: no argument given"
        if kind == "meson":
            if not re.search(rf"\btest\('{re.escape(rest)}',", self.read("tests/meson.build") or ""):
                return f"{checker!r}: no meson test named {rest!r} in tests/meson.build"
            return None
        if kind == "model":
            # The marker is everything after the file name: it may hold ':'.
            m = re.match(r"(.+?\.pml):(.+)$", rest)
            path, what = m.groups() if m else ("", "")
        else:
            path, _, what = rest.rpartition(":")
        if not path or not what:
            return f"{checker!r}: expected {kind}:FILE:{'FUNCTION' if kind == 'test' else 'MARKER'}"
        text = self.read(path)
        if text is None:
            return f"{checker!r}: no file {path}"
        if kind == "model":
            if not path.endswith(".pml"):
                return f"{checker!r}: not a model (.pml)"
            n = text.count(what)
            if n != 1:
                return f"{checker!r}: marker found {n} times in {path} (must be once)"
            return None
        if not re.fullmatch(r"\w+", what):
            return f"{checker!r}: {what!r} is not a function name"
        if path.endswith(".py"):
            if not what.startswith("test_"):
                return f"{checker!r}: the runner only runs test_* functions"
            if not re.search(rf"^def {what}\(", text, re.M):
                return f"{checker!r}: no function {what} defined in {path}"
            if not self.registered_file(path):
                return f"{checker!r}: {path} is not run by tests/meson.build"
            return None
        if not path.endswith((".c", ".cpp")):
            return f"{checker!r}: unsupported test file type"
        if not re.search(rf"^(?:static\s+)?void\s+{what}\s*\(", text, re.M):
            return f"{checker!r}: no function {what} defined in {path}"
        if path == "kernel/lib/compl_chain_kunit.c":
            if not re.search(rf"\bKUNIT_CASE\w*\(\s*{what}\b", text):
                return f"{checker!r}: {what} is not a listed KUnit case"
            return None
        # The test list: a CMUnitTest array's initializer (its entries may
        # be wrapped in the file's own macros).
        lists = re.findall(r"struct CMUnitTest \w+\[\] = \{(.*?)\n\t*\};", text, re.S)
        if not any(re.search(rf"\b{what}\b", body) for body in lists):
            return f"{checker!r}: {what} is not in the cmocka test list of {path}"
        if not self.registered_file(path):
            return f"{checker!r}: {path} is not built by tests/meson.build"
        return None


def check(root, registry):
    problems = []
    promises = extract(root)
    by_id = {}
    for p in promises:
        if p.id in by_id:
            problems.append(f"{p.id}: two promises with this id (two comments of one name?)")
        by_id[p.id] = p
    try:
        rows = read_registry(registry)
    except OSError as e:
        return [f"{registry}: {e.strerror}"], promises, []
    rel = os.path.relpath(registry, root)
    seen = {}
    resolver = Checkers(root)
    for r in rows:
        where = f"{rel}:{r.lineno}"
        if r.id in seen:
            problems.append(f"{where}: {r.id}: second row (first at line {seen[r.id]})")
            continue
        seen[r.id] = r.lineno
        p = by_id.get(r.id)
        if p is None:
            problems.append(f"{where}: {r.id}: no such promise in the headers (stale row)")
            continue
        if r.digest != p.digest:
            problems.append(f"{where}: {r.id}: the promise's text changed (digest {p.digest}, "
                            f"row {r.digest or 'none'}): check its checkers, then update the "
                            f"digest: {p.text}")
        if r.header != p.header + ".h" or r.name != p.name:
            problems.append(f"{where}: {r.id}: header and name must be "
                            f"{p.header}.h and {p.name}")
        if not r.promise:
            problems.append(f"{where}: {r.id}: the promise column is empty")
        if r.extra:
            problems.append(f"{where}: {r.id}: {len(r.extra)} column(s) too many")
        if not r.checkers:
            problems.append(f"{where}: {r.id}: no checker")
        for c in r.checkers:
            err = resolver.problem(c)
            if err:
                problems.append(f"{where}: {r.id}: {err}")
    for p in promises:
        if p.id not in seen:
            problems.append(f"{p.id}: no row in {rel} (digest {p.digest}): {p.text}")
    return problems, promises, rows


def counts(promises, rows):
    """Promises by kind, checkers by kind, and rows argued only."""
    by_kind = {k: 0 for k in KINDS}
    for p in promises:
        by_kind[p.kind] += 1
    checkers = {k: 0 for k in CHECKER_KINDS}
    for r in rows:
        for c in r.checkers:
            k = c.partition(":")[0]
            if k in checkers:
                checkers[k] += 1
    only_argued = sum(1 for r in rows
                      if r.checkers and all(c.startswith("argued:") for c in r.checkers))
    return by_kind, checkers, only_argued


def summary(promises, rows):
    by_kind, checkers, only_argued = counts(promises, rows)
    out = [f"promises: {len(promises)} (" +
           ", ".join(f"{k} {by_kind[k]}" for k in KINDS) + ")",
           f"checkers: {sum(checkers.values())} (" +
           ", ".join(f"{k} {checkers[k]}" for k in CHECKER_KINDS) + ")",
           f"promises argued only: {only_argued}"]
    return "\n".join(out)


# README's sentence that quotes --summary (whitespace-insensitive).
README_COUNTS = re.compile(
    r"prints, today: (\d+) promises \((\d+) context, (\d+) return, (\d+) memory "
    r"ordering, (\d+) \"once it returns\", (\d+) \"never\"\), (\d+) checkers "
    r"\((\d+) tests, (\d+) test programs, (\d+) model assertions, (\d+) "
    r"arguments\), (\d+) promises with an argument only")


def readme_problems(root, promises, rows):
    """README.md, where it quotes --summary, must quote today's counts."""
    path = os.path.join(root, "README.md")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        text = " ".join(f.read().split())
    if "check-promises.py --summary" not in text:
        return []
    m = README_COUNTS.search(text)
    if not m:
        return ["README.md: the counts quoted from --summary are not in the expected form"]
    by_kind, checkers, only_argued = counts(promises, rows)
    want = [len(promises)] + [by_kind[k] for k in KINDS] + \
        [sum(checkers.values())] + [checkers[k] for k in CHECKER_KINDS] + [only_argued]
    got = [int(x) for x in m.groups()]
    if got != want:
        return [f"README.md: counts {got} quoted from --summary, today {want}"]
    return []


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   os.pardir))
    ap.add_argument("--registry", help="default: ROOT/doc/promises.tsv")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--list", action="store_true",
                   help="print the promises: id, digest, header, name, text")
    g.add_argument("--summary", action="store_true",
                   help="print the counts of promises and checkers")
    args = ap.parse_args()
    root = os.path.normpath(args.root)
    registry = args.registry or os.path.join(root, "doc", "promises.tsv")
    if args.list:
        for p in extract(root):
            print(f"{p.id}\t{p.digest}\t{p.header}.h\t{p.name}\t{p.text}")
        return 0
    problems, promises, rows = check(root, registry)
    problems += readme_problems(root, promises, rows)
    if args.summary:
        print(summary(promises, rows))
    for line in problems:
        print(line, file=sys.stderr if args.summary else sys.stdout)
    if not args.summary and not problems:
        print(f"{len(promises)} promises, each with a row; every checker found")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
