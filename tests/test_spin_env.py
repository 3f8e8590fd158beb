#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""CCHAIN_SPIN_NS: plain decimal nanoseconds up to 10 ms are taken; anything
else is reported once on stderr and the default (20000) is used.

Usage: test_spin_env.py SPIN_ENV [CASE...]
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runner import run_tests  # noqa: E402

PROG = sys.argv[1]
DEFAULT = 20000
CAP = 10000000


def budget(value):
    """Run the program with CCHAIN_SPIN_NS=value (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k != "CCHAIN_SPIN_NS"}
    if value is not None:
        env["CCHAIN_SPIN_NS"] = value
    p = subprocess.run([PROG], env=env, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"exit {p.returncode} for {value!r}\n{p.stderr}")
    return int(p.stdout), p.stderr


def expect_taken(value, ns):
    got, err = budget(value)
    if got != ns or err:
        raise AssertionError(f"{value!r}: budget {got}, stderr {err!r}; expected {ns}, silence")


def expect_rejected(value):
    got, err = budget(value)
    lines = err.splitlines()
    if got != DEFAULT:
        raise AssertionError(f"{value!r}: budget {got}, expected the default {DEFAULT}")
    if len(lines) != 1 or "CCHAIN_SPIN_NS" not in lines[0] or "ignored" not in lines[0]:
        raise AssertionError(f"{value!r}: expected one report on stderr, got {err!r}")


def test_unset():
    expect_taken(None, DEFAULT)


def test_plain_decimal():
    for value, ns in [("0", 0), ("1500", 1500), ("0001500", 1500), ("9", 9), ("9999999", 9999999),
                      (str(CAP), CAP)]:
        expect_taken(value, ns)


def test_negative():
    expect_rejected("-1")


def test_not_a_number():
    for value in ["abc", "12abc", "0x10", "+5", " 5", "5 ", "1.5"]:
        expect_rejected(value)


def test_exponent():
    expect_rejected("1e3")


def test_empty():
    expect_rejected("")


def test_above_cap():
    expect_rejected(str(CAP + 1))


def test_report_shortens_long_values():
    """The report quotes up to 40 characters, and marks a value cut there."""
    for value, shown in [("9" * 40, '"' + "9" * 40 + '"'), ("9" * 41, '"' + "9" * 40 + '..."'),
                         ("x", '"x"')]:
        expect_rejected(value)
        _, err = budget(value)
        if shown not in err:
            raise AssertionError(f"{value!r}: expected {shown} in {err!r}")


def test_overflow():
    expect_rejected("18446744073709551616")
    expect_rejected("9" * 40)


if __name__ == "__main__":
    sys.exit(run_tests(globals(), sys.argv[2:]))
