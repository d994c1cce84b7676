"""Build MicroPython interpreters from the pinned source: mpy-cross, then the unix port.

`make firmware` runs these steps; make's dependencies decide which are stale, so a second
`make firmware` with nothing changed runs none of them:

    python -m host_tools.build.interpreter unpack TARBALL DEST      # -> DEST/micropython-1.28.0
    python -m host_tools.build.interpreter mpy-cross SRC
    python -m host_tools.build.interpreter unix SRC MANIFEST OUT    # 32-bit, MANIFEST frozen in

The unix port is built like an ESP32 image as far as the unix port allows: 32-bit
(`MICROPY_FORCE_32BIT=1`, Debian's gcc-multilib, installed here with apt-get when missing, as
the PostgreSQL test fixture installs its server), FFI and btree off, TLS on axTLS (`cryptolib.aes`
exists only with SSL), and the modules of MANIFEST frozen in (firmware/manifest.py: the meter;
host_tools/build/asyncio_manifest.py: asyncio only, like the PyPI interpreter).
"""

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

MP_VERSION = "1.28.0"
MP_TAG = "v" + MP_VERSION
MP_REPO = "https://github.com/micropython/micropython"
MP_COMMIT = "e0e9fbb"  # the tag's commit (shared/micropython/README.md)
# The version the banner and sys.version show. Without it MicroPython's build asks git, and the
# unpacked tree sits inside prepay's checkout: it would report prepay's commit.
VERSION_ENV = {"MICROPY_GIT_TAG": MP_TAG, "MICROPY_GIT_HASH": MP_COMMIT}
# Debian package that lets gcc build -m32 binaries.
MULTILIB = "gcc-multilib"
# Flags that make the unix port look like a board build (see the module docstring).
PORT_FLAGS = (
    "VARIANT=standard",
    "MICROPY_FORCE_32BIT=1",
    "MICROPY_PY_FFI=0",
    "MICROPY_PY_BTREE=0",
    "MICROPY_SSL_MBEDTLS=0",
    "MICROPY_PY_SSL=1",
    "MICROPY_SSL_AXTLS=1",
)
JOBS = "-j%d" % min(os.cpu_count() or 1, 4)


class BuildError(Exception):
    """A build step failed; the message says what and what to do."""


def missing_source_message(tarball):
    """What to say when the source tarball is not where the build looks for it."""
    return (
        f"MicroPython source not found: {tarball}\n"
        f"  `make firmware` builds the 32-bit interpreter from MicroPython {MP_TAG}. Either put\n"
        f"  micropython-{MP_VERSION}-min.tar.gz in ../shared/micropython/ beside the checkout\n"
        f"  (elsewhere: make firmware SHARED=/path/to/shared), or build from a clone of the tag:\n"
        f"    git clone --depth 1 --branch {MP_TAG} {MP_REPO} /path/to/micropython\n"
        f"    git -C /path/to/micropython submodule update --init lib/axtls\n"
        f"    make firmware MP_SRC=/path/to/micropython"
    )


def unpack(tarball, dest):
    """Unpack the trimmed source tarball into dest; returns the source folder."""
    tarball, dest = Path(tarball), Path(dest)
    if not tarball.is_file():
        raise BuildError(missing_source_message(tarball))
    src = dest / f"micropython-{MP_VERSION}"
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball) as tar:
        top = {name.split("/", 1)[0] for name in tar.getnames()}
        if top != {src.name}:
            raise BuildError(f"{tarball}: expected one folder {src.name}/, found {sorted(top)}")
        # PEP 706 filter where this Python has it (3.11.4+ and distributions' backports).
        safe = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}
        tar.extractall(dest, **safe)
    (src / ".unpacked").touch()
    return src


def _run(cmd, env=None, **kwargs):
    print("+ " + " ".join(map(str, cmd)), flush=True)
    done = subprocess.run(cmd, env=env, **kwargs)
    if done.returncode != 0:
        raise BuildError(f"{cmd[0]} failed with status {done.returncode}: {' '.join(cmd)}")


def _can_build_32bit():
    """True if gcc links a -m32 program (what gcc-multilib provides)."""
    if not shutil.which("gcc"):
        return False
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "t.c")
        src.write_text("#include <stdio.h>\nint main(void) { return 0; }\n")
        cmd = ["gcc", "-m32", str(src), "-o", str(Path(tmp, "t"))]
        return subprocess.run(cmd, capture_output=True).returncode == 0


def ensure_multilib():
    """Install gcc-multilib with apt-get if gcc cannot build 32-bit programs yet."""
    if _can_build_32bit():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BuildError(
            f"gcc cannot build 32-bit programs: install {MULTILIB} "
            f"(sudo apt-get install {MULTILIB}); this build needs root to do it itself"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # Another build or test fixture may be installing its own packages: wait for its lock.
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=600"]
    install = [*apt, "install", "-y", "--no-install-recommends", MULTILIB]
    print(f"installing {MULTILIB} (gcc -m32 for MICROPY_FORCE_32BIT)", flush=True)
    # The package lists may be missing or stale: update them only if the install fails.
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        _run([*apt, "update"], env=env, stdout=subprocess.DEVNULL)
        _run(install, env=env, stdout=subprocess.DEVNULL)
    if not _can_build_32bit():
        raise BuildError(f"{MULTILIB} is installed but gcc -m32 still fails")


def build_mpy_cross(src):
    """Build the source tree's own mpy-cross (it compiles what the port freezes)."""
    _run(["make", "-C", str(Path(src, "mpy-cross")), JOBS], env=dict(os.environ, **VERSION_ENV))


def build_unix(src, manifest, out):
    """Build the 32-bit unix port with `manifest` frozen in and copy it to `out`.

    Each output gets its own BUILD folder (named after it), so the interpreters are
    incremental side by side.
    """
    src, out = Path(src).resolve(), Path(out).resolve()
    manifest = Path(manifest).resolve()
    if not manifest.is_file():
        raise BuildError(f"{manifest}: no such manifest")
    ensure_multilib()
    # Freezing checks that MPY_LIB_DIR/README.md exists even when the manifest takes nothing
    # from micropython-lib (which the trimmed source leaves out): give it an empty one.
    lib_stub = src / "build-prepay-mpy-lib"
    lib_stub.mkdir(exist_ok=True)
    (lib_stub / "README.md").write_text("micropython-lib is not used by prepay's manifests\n")
    port = src / "ports" / "unix"
    build = "build-" + out.name
    cmd = ["make", "-C", str(port), JOBS, *PORT_FLAGS, "BUILD=" + build]
    cmd += ["FROZEN_MANIFEST=" + str(manifest), "MPY_LIB_DIR=" + str(lib_stub)]
    _run(cmd, env=dict(os.environ, **VERSION_ENV))
    tmp = out.with_name(out.name + ".tmp")
    shutil.copy2(port / build / "micropython", tmp)
    os.replace(tmp, out)
    os.utime(out)  # newer than every input, so make sees it up to date
    print(f"built {out}", flush=True)


def has_frozen_firmware(micropython):
    """True if `micropython` has the meter frozen in (imports firmware.main from .frozen only).

    Raises BuildError if the interpreter does not run at all.
    """
    probe = (
        "import sys\nsys.path[:] = ['.frozen']\n"
        "try:\n import firmware.main\n print('frozen: yes')\n"
        "except ImportError:\n print('frozen: no')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MICROPYPATH"}
    try:
        done = subprocess.run(
            [str(micropython), "-c", probe], capture_output=True, env=env, cwd="/", timeout=30
        )
    except OSError as exc:
        raise BuildError(f"cannot run {micropython}: {exc.strerror}") from None
    out = done.stdout.decode(errors="replace").strip()
    if done.returncode != 0 or out not in ("frozen: yes", "frozen: no"):
        tail = (out or done.stderr.decode(errors="replace").strip()).splitlines()[-1:]
        said = f"said {tail[0]!r}" if tail else "printed nothing"
        raise BuildError(
            f"{micropython} is not a working MicroPython interpreter "
            f"(a probe import {said}, exit status {done.returncode})"
        )
    return out == "frozen: yes"


def newer_sources(micropython, roots):
    """Meter sources changed after `micropython` was built (its frozen copy is older)."""
    from host_tools.build.mpy import source_files

    built = os.stat(micropython).st_mtime
    return [src for src in source_files(roots) if src.stat().st_mtime > built]


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    steps = {
        "unpack": (2, unpack),
        "mpy-cross": (1, build_mpy_cross),
        "unix": (3, build_unix),
        "missing": (1, lambda tarball: print(missing_source_message(tarball), file=sys.stderr)),
    }
    if not args or args[0] not in steps or len(args) - 1 != steps[args[0]][0]:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print(
            "usage: see `python -m host_tools.build.interpreter` in the Makefile", file=sys.stderr
        )
        return 2
    try:
        steps[args[0]][1](*args[1:])
    except BuildError as exc:
        print(f"make firmware: {exc}", file=sys.stderr)
        return 1
    return 1 if args[0] == "missing" else 0


if __name__ == "__main__":
    sys.exit(main())
