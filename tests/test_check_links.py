#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""scripts/check-links.py on small trees of its own (git repositories, so
that the script lists their tracked markdown files): good links pass; a
link to a missing file and a link to a missing anchor fail, one line each
with the file and line; untracked files are not read; links in code and
external links are skipped; duplicate headings and explicit anchors count.

Usage: test_check_links.py CHECK_LINKS_PY [CASE...]
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runner import run_tests  # noqa: E402

SCRIPT = sys.argv[1]

README = """\
# Top

See the [guide](doc/guide.md), its [setup](doc/guide.md#set-up-the-tool)
and [second usage](doc/guide.md#usage-1), the [anchor](doc/guide.md#here),
[this page](#top-level-notes), a [directory](doc), a [source](src/a.c#L3),
[the web](https://example.com/missing.md) and [mail](mailto:x@example.com).

## Top-level notes

`[not a link](missing.md)` and

```sh
echo "[not a link either](missing.md)"
```

    [nor this](missing.md)
"""

GUIDE = """\
# The guide

Back to the [README](../README.md).

## Set up: the `tool`

## Usage

## Usage

<a name="here"></a>Text.
"""


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


class Tree:
    def __enter__(self):
        self.root = tempfile.mkdtemp(prefix="check-links-")
        write(self.root, "README.md", README)
        write(self.root, "doc/guide.md", GUIDE)
        write(self.root, "src/a.c", "int a;\n")
        self.git("-c", "init.defaultBranch=main", "init", "-q")
        self.add()
        return self

    def git(self, *args):
        subprocess.run(["git", "-C", self.root, *args], check=True,
                       stdout=subprocess.DEVNULL)

    def add(self):
        self.git("add", "-A")

    def append(self, rel, text, track=True):
        with open(os.path.join(self.root, rel), "a", encoding="utf-8") as f:
            f.write(text)
        if track:
            self.add()

    def run(self):
        p = subprocess.run([sys.executable, SCRIPT, "--root", self.root],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return p.returncode, p.stdout, p.stderr

    def __exit__(self, *exc):
        shutil.rmtree(self.root)


def expect_pass(tree):
    rc, out, err = tree.run()
    if rc != 0 or len(out.splitlines()) != 1:
        raise AssertionError(f"rc {rc}, expected 0 and one line:\n{out}{err}")
    return out


def expect_dead(tree, *lines):
    rc, out, err = tree.run()
    if rc != 1 or sorted(out.splitlines()) != sorted(lines):
        raise AssertionError(f"rc {rc}, expected 1 and {lines}:\n{out}{err}")


def test_good_links_pass():
    with Tree() as t:
        out = expect_pass(t)
        # Checked: guide, two anchors, the explicit anchor, this page, the
        # directory and the source; the guide's link back; not the rest.
        if not out.startswith("8 relative links in 2 markdown files"):
            raise AssertionError(out)


def test_dead_file_link_fails():
    with Tree() as t:
        t.append("doc/guide.md", "\nSee [the API](api.md).\n")
        expect_dead(t, "doc/guide.md:13: dead link api.md")


def test_dead_anchor_fails():
    with Tree() as t:
        t.append("README.md", "\n[Gone](doc/guide.md#usage-2) and [here](#nowhere).\n")
        expect_dead(t, "README.md:18: dead link doc/guide.md#usage-2",
                    "README.md:18: dead link #nowhere")


def test_every_dead_link_reported():
    with Tree() as t:
        t.append("README.md", "\n[a](a.md)\n\n[b]: b.md\n")
        t.append("doc/guide.md", '\n<img src="pic.png">\n')
        expect_dead(t, "README.md:18: dead link a.md", "README.md:20: dead link b.md",
                    "doc/guide.md:13: dead link pic.png")


def test_untracked_files_not_read():
    with Tree() as t:
        write(t.root, "notes.md", "[dead](nowhere.md)\n")
        expect_pass(t)
        t.add()
        expect_dead(t, "notes.md:1: dead link nowhere.md")


if __name__ == "__main__":
    sys.exit(run_tests(globals(), sys.argv[2:]))
