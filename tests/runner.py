# SPDX-License-Identifier: MIT
"""The end-to-end scripts' test runner: runs their test_* functions (or
those named on the command line), prints one line each and the closing
"N passed, N failed" line, and returns the exit status."""


def run_tests(namespace, names, cleanup=None):
    tests = {k[5:]: v for k, v in namespace.items() if k.startswith("test_")}
    passed = failed = 0
    for name in names or list(tests):
        try:
            tests[name]()
            print(f"ok {name}")
            passed += 1
        except Exception as e:  # noqa: BLE001 - report every failure
            print(f"FAIL {name}: {e!r}")
            failed += 1
    if cleanup:
        cleanup()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
