"""A small test runner for the MicroPython unix port.

Runs the same plain `test_*` functions that pytest collects on CPython:

    micropython tests/mp_runner.py tests/shared            # every test_*.py below the folder
    micropython tests/mp_runner.py tests/shared/test_x.py  # one module
    micropython tests/mp_runner.py -v tests/shared         # tracebacks for failures

Prints one line per failure, ends with `N passed, N failed, N skipped`, and exits 1 when
anything failed (or nothing ran). Test modules signal a skip by raising `support.Skip`.
"""

import gc
import os
import sys

# Repo root = the folder above this file, so `token_spec` and `firmware` import as on CPython.
_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
_ROOT = _HERE + "/.."
for _p in (_ROOT, _HERE + "/shared"):
    if _p not in sys.path:
        sys.path.insert(0, _p)


def _is_dir(path):
    try:
        return os.stat(path)[0] & 0x4000 != 0
    except OSError:
        return False


def _find(path, out):
    if not _is_dir(path):
        out.append(path)
        return
    names = sorted(entry[0] for entry in os.ilistdir(path))
    for name in names:
        full = path.rstrip("/") + "/" + name
        if _is_dir(full):
            if name != "__pycache__":
                _find(full, out)
        elif name.startswith("test_") and name.endswith(".py"):
            out.append(full)


def _load(path):
    folder, _, filename = path.rpartition("/")
    name = filename[:-3]
    folder = folder or "."
    sys.path.insert(0, folder)
    try:
        if name in sys.modules:
            del sys.modules[name]
        return __import__(name)
    finally:
        sys.path.pop(0)


def _describe(exc):
    text = str(exc)
    return type(exc).__name__ + (": " + text if text else "")


def run(paths, verbose=False):
    import support

    files = []
    for p in paths:
        _find(p, files)
    passed = failed = skipped = 0
    print("implementation: " + sys.implementation.name)
    for path in files:
        try:
            module = _load(path)
        except Exception as exc:  # a module that does not import is one failure
            failed += 1
            print("FAIL " + path + " (import): " + _describe(exc))
            if verbose:
                sys.print_exception(exc)
            continue
        for name in sorted(dir(module)):
            func = getattr(module, name)
            if not name.startswith("test_") or not callable(func):
                continue
            try:
                func()
                passed += 1
            except support.Skip:
                skipped += 1
            except Exception as exc:
                failed += 1
                print("FAIL " + path + "::" + name + ": " + _describe(exc))
                if verbose:
                    sys.print_exception(exc)
        # Drop the finished module (its vectors and fixtures) so one heap holds the whole run
        # without fragmenting: a later file's large allocation must not fail for an earlier's.
        sys.modules.pop(path.rpartition("/")[2][:-3], None)
        module = func = None
        gc.collect()
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return failed == 0 and passed > 0


def main():
    args = sys.argv[1:]
    verbose = "-v" in args
    paths = [a for a in args if a != "-v"] or [_HERE + "/shared"]
    sys.exit(0 if run(paths, verbose) else 1)


main()
