# SPDX-License-Identifier: MIT
"""The end-to-end scripts' test runner: runs their test_* functions (or
those named on the command line), prints one line each and the closing
"N passed, N failed" line (", N skipped" after it when a test raised Skip),
and returns the exit status: 1 if one failed, 77 if all were skipped."""


class Skip(Exception):
    """A test that cannot run here; the message says why.  Not a pass."""


def run_tests(namespace, names, cleanup=None):
    tests = {k[5:]: v for k, v in namespace.items() if k.startswith("test_")}
    passed = failed = skipped = 0
    for name in names or list(tests):
        try:
            tests[name]()
            print(f"ok {name}")
            passed += 1
        except Skip as e:
            print(f"SKIP {name}: {e}")
            skipped += 1
        except Exception as e:  # noqa: BLE001 - report every failure
            print(f"FAIL {name}: {e!r}")
            failed += 1
    if cleanup:
        cleanup()
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    if failed:
        return 1
    return 77 if skipped and not passed else 0
