#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""scripts/check-promises.py on small trees of its own: a registry that
matches passes; a promise without a row, a stale row, a changed promise and
each kind of checker naming something that does not exist fail, one line
per problem; ids do not move with unrelated edits; README's quote of the
counts must be today's.

Usage: test_check_promises.py CHECK_PROMISES_PY [CASE...]
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runner import run_tests  # noqa: E402

SCRIPT = sys.argv[1]

HEADER = """\
/* SPDX-License-Identifier: MIT */
/*
 * A file comment is not kernel-doc: it never counts.
 */

/**
 * struct thing - a thing
 * @x: a member
 *
 * A zero-filled thing is never used.
 */
struct thing {
	int x;
};

/**
 * foo() - do foo
 * @a: an argument; 0 never fails
 *
 * Does foo.  Once it returns the thing is free.  It never sleeps
 * for long.  No lock is taken.
 *
 * Context: any thread; never sleeps.
 * Return: 0, or EINVAL.
 * Memory ordering: acquire.
 */
int foo(int a);

/**
 * bar(), baz() - two names
 *
 * Nothing here but a promise: bar never fails.
 *
 * Context: the owner.
 */
void bar(void);
"""

KERNEL_HEADER = """\
/**
 * kfoo() - kernel foo
 *
 * Context: any context.
 */
"""

CMOCKA = """\
static void test_listed(void **state)
{
}

static void test_unlisted(void **state)
{
}

#define BOTH(fn) cmocka_unit_test(fn), cmocka_unit_test(fn)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listed),
		BOTH(test_wrapped),
	};
	return 0;
}

static void test_wrapped(void **state)
{
}
"""

KUNIT = """\
static void kcase(struct kunit *test)
{
}

static void kunlisted(struct kunit *test)
{
}

static struct kunit_case cases[] = {
	KUNIT_CASE(kcase),
	{}
};
"""

PYTEST = """\
def helper():
    pass


def test_ok():
    pass
"""

MESON = """\
foreach name, timeout : {'x': 60}
  exe = executable('test_' + name, 'test_@0@.c'.format(name))
endforeach
test('whole', exe)
test('py', python3, args: [files('test_y.py')])
"""

MODEL = """\
/* a marker: once */
assert(ok);
assert(dup);
assert(dup);
"""

# The checkers of the rows of a matching registry, by id.
CHECKERS = {
    "cchain/x:struct_thing:never:1": "argued:a sentence about the caller's own use",
    "cchain/x:foo:context": "test:tests/test_x.c:test_listed | meson:whole",
    "cchain/x:foo:return": "test:tests/test_y.py:test_ok",
    "cchain/x:foo:memory": "model:model/m.pml:a marker: once",
    "cchain/x:foo:once:1": "test:tests/test_x.c:test_wrapped",
    "cchain/x:foo:never:1": "test:kernel/lib/compl_chain_kunit.c:kcase",
    "cchain/x:foo:never:2": "model:model/m.pml:assert(ok);",
    "cchain/x:foo:never:3": "meson:py",
    "cchain/x:bar:context": "test:tests/test_x.c:test_listed",
    "cchain/x:bar:never:1": "test:tests/test_x.c:test_listed",
    "linux/compl_chain:kfoo:context": "test:kernel/lib/compl_chain_kunit.c:kcase",
}


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def run(root, *args):
    p = subprocess.run([sys.executable, SCRIPT, "--root", root, *args],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def listing(root):
    rc, out, err = run(root, "--list")
    if rc != 0:
        raise AssertionError(f"--list failed: {err}")
    return [line.split("\t") for line in out.splitlines()]


def registry(root, checkers=None, drop=(), extra=()):
    """Rows for the tree's promises (digest, header and name as listed)."""
    checkers = dict(CHECKERS, **(checkers or {}))
    lines = ["# test registry", "# id\tdigest\theader\tname\tpromise\tcheckers\tnote"]
    for pid, digest, header, name, _text in listing(root):
        if pid in drop:
            continue
        lines.append("\t".join([pid, digest, header, name, "a promise",
                                checkers.get(pid, "argued:no row chosen in the test")]))
    lines.extend(extra)
    write(root, "doc/promises.tsv", "\n".join(lines) + "\n")


class Tree:
    def __enter__(self):
        self.root = tempfile.mkdtemp(prefix="check-promises-")
        write(self.root, "include/cchain/x.h", HEADER)
        write(self.root, "kernel/include/linux/compl_chain.h", KERNEL_HEADER)
        write(self.root, "tests/test_x.c", CMOCKA)
        write(self.root, "tests/test_y.py", PYTEST)
        write(self.root, "tests/meson.build", MESON)
        write(self.root, "kernel/lib/compl_chain_kunit.c", KUNIT)
        write(self.root, "model/m.pml", MODEL)
        return self.root

    def __exit__(self, *exc):
        shutil.rmtree(self.root)


def expect_fail(root, *phrases):
    """Exit status 1, one line per problem: one line naming each phrase."""
    rc, out, err = run(root)
    lines = out.splitlines()
    if rc != 1 or len(lines) != len(phrases):
        raise AssertionError(f"rc {rc}, expected 1 and {len(phrases)} line(s):\n{out}{err}")
    for phrase in phrases:
        if sum(phrase in line for line in lines) != 1:
            raise AssertionError(f"expected one line with {phrase!r}:\n{out}")


def test_extraction():
    with Tree() as root:
        ids = [row[0] for row in listing(root)]
        want = sorted(CHECKERS)
        if sorted(ids) != want:
            raise AssertionError(f"ids {ids}, expected {want}")
        texts = {row[0]: row[4] for row in listing(root)}
        checks = {
            "cchain/x:foo:context": "any thread; never sleeps.",
            "cchain/x:foo:return": "0, or EINVAL.",
            "cchain/x:foo:once:1": "Once it returns the thing is free.",
            "cchain/x:foo:never:1": "@a: an argument; 0 never fails",
            "cchain/x:foo:never:2": "It never sleeps for long.",
            "cchain/x:foo:never:3": "No lock is taken.",
            "cchain/x:bar:never:1": "Nothing here but a promise: bar never fails.",
        }
        for pid, text in checks.items():
            if texts[pid] != text:
                raise AssertionError(f"{pid}: {texts[pid]!r}, expected {text!r}")


def test_matching_registry_passes():
    with Tree() as root:
        registry(root)
        rc, out, err = run(root)
        if rc != 0 or "11 promises" not in out:
            raise AssertionError(f"rc {rc}:\n{out}{err}")


def test_summary():
    with Tree() as root:
        registry(root)
        rc, out, err = run(root, "--summary")
        want = ["promises: 11 (context 3, return 1, memory 1, once 1, never 5)",
                "checkers: 12 (test 7, meson 2, model 2, argued 1)",
                "promises argued only: 1"]
        if rc != 0 or out.splitlines() != want:
            raise AssertionError(f"rc {rc}:\n{out}{err}")


def test_promise_without_row():
    with Tree() as root:
        registry(root, drop=("cchain/x:foo:return",))
        expect_fail(root, "cchain/x:foo:return: no row")


def test_stale_row():
    with Tree() as root:
        registry(root, extra=["cchain/x:gone:return\t00000000\tcchain/x.h\tgone\tgone\t"
                              "test:tests/test_x.c:test_listed"])
        expect_fail(root, "no such promise in the headers (stale row)")


def test_changed_promise():
    with Tree() as root:
        registry(root)
        with open(os.path.join(root, "include/cchain/x.h"), encoding="utf-8") as f:
            text = f.read()
        write(root, "include/cchain/x.h", text.replace("0, or EINVAL.", "0, EINVAL or EBUSY."))
        expect_fail(root, "cchain/x:foo:return: the promise's text changed")


def test_missing_test_function():
    with Tree() as root:
        registry(root, {"cchain/x:foo:return": "test:tests/test_x.c:test_gone"})
        expect_fail(root, "no function test_gone defined in tests/test_x.c")


def test_unlisted_cmocka_test():
    with Tree() as root:
        registry(root, {"cchain/x:foo:return": "test:tests/test_x.c:test_unlisted"})
        expect_fail(root, "test_unlisted is not in the cmocka test list")


def test_missing_file():
    with Tree() as root:
        registry(root, {"cchain/x:foo:return": "test:tests/test_none.c:test_listed"})
        expect_fail(root, "no file tests/test_none.c")


def test_unlisted_kunit_case():
    with Tree() as root:
        registry(root, {"cchain/x:foo:return": "test:kernel/lib/compl_chain_kunit.c:kunlisted"})
        expect_fail(root, "kunlisted is not a listed KUnit case")


def test_python_test():
    with Tree() as root:
        registry(root, {"cchain/x:foo:return": "test:tests/test_y.py:test_gone",
                        "cchain/x:foo:memory": "test:tests/test_y.py:helper"})
        expect_fail(root, "no function test_gone defined", "only runs test_* functions")


def test_model_marker():
    with Tree() as root:
        registry(root, {"cchain/x:foo:return": "model:model/m.pml:assert(gone);",
                        "cchain/x:foo:memory": "model:model/m.pml:assert(dup);"})
        expect_fail(root, "marker found 0 times", "marker found 2 times")


def test_meson_test():
    with Tree() as root:
        registry(root, {"cchain/x:foo:return": "meson:gone"})
        expect_fail(root, "no meson test named 'gone'")


def test_checker_syntax():
    with Tree() as root:
        registry(root, {"cchain/x:foo:return": "argued:too short",
                        "cchain/x:foo:memory": "proof:somewhere"})
        expect_fail(root, "no argument given", "unknown checker kind")


def test_ids_stable_against_unrelated_edits():
    with Tree() as root:
        before = listing(root)
        with open(os.path.join(root, "include/cchain/x.h"), encoding="utf-8") as f:
            text = f.read()
        # A new comment before, and other text of foo's comment reworded.
        text = text.replace("/**\n * struct thing", "/**\n * first() - new\n *\n"
                            " * It never stops.\n *\n * Return: 1.\n */\nint first(void);\n\n"
                            "/**\n * struct thing", 1)
        text = text.replace("Does foo.", "Does foo, and more.")
        write(root, "include/cchain/x.h", text)
        after = {row[0]: row for row in listing(root)}
        for row in before:
            if after.get(row[0]) != row:
                raise AssertionError(f"{row[0]} changed: {row} -> {after.get(row[0])}")
        if len(after) != len(before) + 2:
            raise AssertionError(f"{len(after)} promises, expected {len(before) + 2}")


README = """\
Every promise has a row; `python3 scripts/check-promises.py --summary` prints,
today: {} promises (3 context, 1 return, 1 memory ordering, 1 "once it
returns", 5 "never"), 12 checkers (7 tests, 2 test programs, 2 model
assertions, 1 arguments), 1 promises with an argument only.
"""


def test_readme_counts():
    """README's quote of --summary passes when true, fails when stale."""
    with Tree() as root:
        registry(root)
        write(root, "README.md", README.format(11))
        rc, out, err = run(root)
        if rc != 0:
            raise AssertionError(f"rc {rc}:\n{out}{err}")
        write(root, "README.md", README.format(10))
        expect_fail(root, "README.md: counts [10, 3")
        write(root, "README.md", "See `check-promises.py --summary`.\n")
        expect_fail(root, "not in the expected form")


if __name__ == "__main__":
    sys.exit(run_tests(globals(), sys.argv[2:]))
