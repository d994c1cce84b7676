"""MicroPython libraries the meter uses but this project does not write: fetched from PyPI.

Today one: micropython-lib's MQTT 3.1.1 client `umqtt.simple` (PyPI `micropython-umqtt.simple`,
pinned below by version and SHA-256). Its sdist has no setup.py, so `pip download` refuses it
(pip wants the metadata); we fetch the same file pip would, from the same PyPI URL, check its
hash and unpack only the module into `build/mplib/` (`umqtt/simple.py`), the layout `mip`
gives a board's `/lib`. firmware/manifest.py freezes it into the 32-bit interpreter (`make
firmware`); on other interpreters the simulator puts that folder on MICROPYPATH. `make compile` and
`prepay device deploy` compile it like the firmware, so the simulator, the tests and the board
run the same copy.

    python -m host_tools.build.mplib      # fetch if missing (the Makefile does this)
"""

import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

import host_tools

ROOT = Path(host_tools.__file__).resolve().parent.parent
LIB_DIR = ROOT / "build" / "mplib"

# name, version, sdist URL on PyPI, its SHA-256, the files to take (archive path -> lib path)
PACKAGES = (
    (
        "micropython-umqtt.simple",
        "1.3.4",
        "https://files.pythonhosted.org/packages/bd/cf/"
        "697e3418b2f44222b3e848078b1e33ee76aedca9b6c2430ca1b1aec1ce1d/"
        "micropython-umqtt.simple-1.3.4.tar.gz",
        "b6a2520239e3992c63a7de9370ee9b3d9d27819a90359c521f1c0f7ccab8d12f",
        {"micropython-umqtt.simple-1.3.4/umqtt/simple.py": "umqtt/simple.py"},
    ),
)


class LibraryError(RuntimeError):
    """A library could not be fetched or failed its hash check (the message says which)."""


def _fetch(name, version, url, sha256, files, lib_dir):
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            data = resp.read()
    except OSError as exc:
        raise LibraryError(f"cannot download {name}=={version} from PyPI: {exc}") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise LibraryError(f"{name}=={version}: SHA-256 does not match the pinned one")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member, target in files.items():
            out = lib_dir / target
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(tar.extractfile(member).read())


def ensure(lib_dir=LIB_DIR):
    """The library folder, fetching any package whose files are missing."""
    for name, version, url, sha256, files in PACKAGES:
        if not all((lib_dir / target).exists() for target in files.values()):
            _fetch(name, version, url, sha256, files, lib_dir)
    return lib_dir


if __name__ == "__main__":
    try:
        print(ensure())
    except LibraryError as exc:
        sys.exit(f"error: {exc}")
